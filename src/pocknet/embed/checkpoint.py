"""ESM2 checkpoint files: finding them locally and loading them safely (SCIENCE.md §5).

Weights are never downloaded: :func:`resolve_model_path` finds a local file
(a path, or a fair-esm name in the torch hub cache) or raises a
:class:`~pocknet.errors.ConfigError` saying where to put it. Checkpoints are
read with ``torch.load(weights_only=True)`` and only ``argparse.Namespace``
allowed beyond tensors and containers, so a tampered file cannot run code;
the model is then built by fair-esm's own ``load_model_and_alphabet_core``.

``torch`` and ``esm`` are imported only inside the functions that need them.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import pickle
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from pocknet.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "MODEL_URL",
    "REGRESSION_URL",
    "SAFE_GLOBALS",
    "esm2_model_names",
    "resolve_model_path",
    "load_esm2",
]

log = logging.getLogger(__name__)

MODEL_URL = "https://dl.fbaipublicfiles.com/fair-esm/models/{name}.pt"
REGRESSION_URL = "https://dl.fbaipublicfiles.com/fair-esm/regression/{name}-contact-regression.pt"

#: Python classes an official fair-esm ESM2 checkpoint holds besides tensors and
#: plain containers: ``cfg["model"]`` is an ``argparse.Namespace``. Nothing else
#: is unpickled, so a checkpoint cannot execute code when it is loaded.
SAFE_GLOBALS: tuple[type, ...] = (argparse.Namespace,)

_ESM2_CFG_FIELDS = ("encoder_layers", "encoder_embed_dim", "encoder_attention_heads", "token_dropout")
_REGRESSION_SUFFIX = "-contact-regression.pt"



def esm2_model_names() -> tuple[str, ...]:
    """ESM2 model names that fair-esm knows (read from ``esm.pretrained``, not hard-coded)."""
    import esm.pretrained

    return tuple(
        sorted(
            name
            for name in dir(esm.pretrained)
            if re.fullmatch(r"esm2_t\d+_\w+", name) and callable(getattr(esm.pretrained, name))
        )
    )


def resolve_model_path(spec: str | Path) -> Path:
    """Turn ``embedding.model`` into an existing checkpoint file, without downloading.

    An existing path is used as is. A fair-esm ESM2 name maps to
    ``torch.hub.get_dir()/checkpoints/<name>.pt`` (where fair-esm itself caches
    downloads; ``TORCH_HOME`` moves it). When that file is missing the error says
    where to put it and which URL to fetch on a machine with network access:
    silent multi-GB downloads inside a pipeline are never wanted.

    Raises
    ------
    ConfigError
        ``"none"``, a missing file, a directory, or an unknown name.
    """
    text = str(spec).strip()
    if not text or text.lower() == "none":
        raise ConfigError("embedding.model is 'none': there is no ESM2 checkpoint to load")
    candidate = Path(text).expanduser()
    if candidate.is_file():
        return candidate
    if candidate.exists():
        raise ConfigError(f"embedding.model: {candidate} is a directory; point it at the .pt checkpoint file")
    names = esm2_model_names()
    if text in names:
        import torch

        target = Path(torch.hub.get_dir()) / "checkpoints" / f"{text}.pt"
        if target.is_file():
            return target
        raise ConfigError(
            f"embedding.model: ESM2 weights '{text}' not found at {target}. PockNet never downloads "
            f"weights. On a machine with network access fetch {MODEL_URL.format(name=text)} and copy it "
            f"to {target} (set TORCH_HOME to use another cache folder), or set embedding.model to the "
            f"file's path. The contact-regression file ({REGRESSION_URL.format(name=text)}) is optional."
        )
    if candidate.suffix == ".pt" or "/" in text or "\\" in text:
        raise ConfigError(f"embedding.model: checkpoint file {candidate} does not exist")
    raise ConfigError(
        f"embedding.model: unknown model {text!r}; use one of {', '.join(names)}, "
        f"a path to a local ESM2 .pt checkpoint, or 'none'"
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _safe_torch_load(path: Path, what: str) -> Any:
    """``torch.load(weights_only=True)`` allowing only :data:`SAFE_GLOBALS`; errors name the file."""
    import torch

    allowed = ", ".join(f"{cls.__module__}.{cls.__qualname__}" for cls in SAFE_GLOBALS)
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            return torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except pickle.UnpicklingError as exc:
        found = re.search(r"Unsupported global: GLOBAL (\S+)", str(exc))
        if found:
            raise ConfigError(
                f"{what} {path} contains a Python object ({found.group(1)}) that official fair-esm "
                f"ESM2 checkpoints do not; PockNet loads checkpoints with weights_only=True and allows "
                f"only {allowed}, so it will not unpickle it. Use an official ESM2 file."
            ) from None
        raise ConfigError(f"cannot read {what} {path}: {_first_line(exc)}; the file is corrupt, copy it again") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise ConfigError(
            f"cannot read {what} {path}: {_first_line(exc)}; the file is truncated or corrupt, copy it again"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."


def _esm2_model_cfg(data: Any, path: Path) -> argparse.Namespace:
    """Check that ``data`` has the ESM2 checkpoint layout; return ``cfg["model"]``.

    ESM2 files hold ``{"cfg": {"model": Namespace(encoder_layers=…)}, "model": {…}}``;
    ESM-1/1b/1v/MSA files hold ``{"args": Namespace(arch=…), "model": {…}}``.
    """
    if not isinstance(data, Mapping) or not isinstance(data.get("model"), Mapping):
        raise ConfigError(f"{path} is not a fair-esm checkpoint (expected a dict with 'model' weights)")
    cfg = data.get("cfg")
    model_cfg = cfg.get("model") if isinstance(cfg, Mapping) else None
    if model_cfg is None:
        arch = getattr(data.get("args"), "arch", None)
        raise ConfigError(
            f"{path} is not an ESM2 checkpoint (fair-esm architecture {arch!r}, e.g. ESM-1b/ESM-1v/MSA); "
            f"PockNet needs ESM2 weights such as esm2_t36_3B_UR50D.pt"
        )
    if isinstance(model_cfg, Mapping):  # a re-saved file with a plain dict: fair-esm needs attributes
        model_cfg = argparse.Namespace(**model_cfg)
        data["cfg"] = {**cfg, "model": model_cfg}
    missing = [name for name in _ESM2_CFG_FIELDS if not hasattr(model_cfg, name)]
    if missing:
        raise ConfigError(f"{path} is not an ESM2 checkpoint: cfg['model'] lacks {missing}")
    return model_cfg


def _load_regression(path: Path, model_cfg: argparse.Namespace) -> dict | None:
    """The optional contact-regression file beside the weights, or None.

    PockNet never predicts contacts, so a missing, unreadable or mismatched file
    only costs a log line; passing it merely lets fair-esm load strictly.
    """
    location = path.with_name(path.stem + _REGRESSION_SUFFIX)
    if not location.is_file():
        return None
    try:
        data = _safe_torch_load(location, "ESM contact-regression file")
        weight = data["model"]["contact_head.regression.weight"]
        expected = (1, int(model_cfg.encoder_layers) * int(model_cfg.encoder_attention_heads))
        if tuple(weight.shape) != expected or set(data["model"]) != {
            "contact_head.regression.weight",
            "contact_head.regression.bias",
        }:
            raise ConfigError(f"{location} does not match {path.name} (weight shape {tuple(weight.shape)})")
    except (ConfigError, KeyError, TypeError, AttributeError) as exc:
        log.warning("ignoring contact-regression file %s (not needed for embeddings): %s", location, exc)
        return None
    return {"model": dict(data["model"])}


def load_esm2(path: str | Path, sha256: str | None = None) -> tuple["torch.nn.Module", Any]:
    """Load an ESM2 checkpoint safely and build the model with fair-esm's own loader.

    fair-esm's ``torch.load`` calls fail on official files under torch >= 2.6
    (``weights_only=True`` by default) and would execute arbitrary pickles with
    ``weights_only=False``; here the file is read with ``weights_only=True`` and
    :data:`SAFE_GLOBALS`, then handed to ``esm.pretrained.load_model_and_alphabet_core``
    so the architecture and state-dict upgrade are exactly fair-esm's.

    Parameters
    ----------
    path
        The ``.pt`` weights file (official layout, see :mod:`pocknet.embed.esm_tiny`).
    sha256
        Expected SHA-256 of the file; verified before unpickling when given.

    Returns
    -------
    (model, alphabet)
        The ESM2 module on CPU in float32, and its ``esm.data.Alphabet``.

    Raises
    ------
    ConfigError
        Checksum mismatch, unreadable/corrupt file, disallowed pickle content,
        non-ESM2 checkpoint, or weights that do not match the stated architecture.
    """
    import esm.pretrained

    path = Path(path)
    if sha256 is not None:
        actual = _file_sha256(path)
        if actual != sha256.strip().lower():
            raise ConfigError(
                f"ESM checkpoint {path} has sha256 {actual}, but embedding.sha256 expects {sha256}; "
                f"the file is damaged or a different model: copy it again or fix embedding.sha256"
            )
    data = _safe_torch_load(path, "ESM checkpoint")
    model_cfg = _esm2_model_cfg(data, path)
    regression = _load_regression(path, model_cfg)
    # fair-esm dispatches on the name: ESM2 content under another file name still is ESM2.
    core_name = path.stem if path.stem.startswith("esm2") else f"esm2_{path.stem}"
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Regression weights not found")
        try:
            model, alphabet = esm.pretrained.load_model_and_alphabet_core(core_name, data, regression)
        except (RuntimeError, KeyError, AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"ESM checkpoint {path} does not match the ESM2 architecture its cfg describes: "
                f"{_first_line(exc)}"
            ) from exc
    return model, alphabet
