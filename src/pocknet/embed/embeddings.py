"""Per-residue ESM2 embeddings with fair-esm: loading, windowing, caching (SCIENCE.md §5).

One vector per residue of each chain, from one layer of a fair-esm ESM2 model
(default ``esm2_t36_3B_UR50D``, 2560-d, last layer), with the BOS/EOS tokens
removed. Chains longer than ``window`` residues are split into windows that
overlap by ``overlap`` residues; residues covered by several windows get the
mean of their vectors (the original PockNet sent long chains whole, beyond
the 1022 residues ESM2 was trained on).

Weights are never downloaded: :func:`resolve_model_path` finds a local file
(a path, or a fair-esm name in the torch hub cache) or raises a
:class:`~pocknet.errors.ConfigError` saying where to put it. Checkpoints are
read with ``torch.load(weights_only=True)`` and only ``argparse.Namespace``
allowed beyond tensors and containers, so a tampered file cannot run code;
the model is then built by fair-esm's own ``load_model_and_alphabet_core``.

Vectors are cached per sequence in a content-addressed store
(:class:`EmbeddingCache`), so re-running a pipeline or sharing chains across
datasets never recomputes an embedding.

``torch`` and ``esm`` are imported only when a model is loaded: the config,
cache and windowing helpers work without them.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import pickle
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

import numpy as np

from pocknet.atomic import atomic_write
from pocknet.config import dataclass_from_params
from pocknet.errors import ConfigError
from pocknet.progress import progress

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "MODEL_URL",
    "REGRESSION_URL",
    "SAFE_GLOBALS",
    "EmbeddingConfig",
    "esm2_model_names",
    "resolve_model_path",
    "load_esm2",
    "window_spans",
    "EsmEmbedder",
    "sequence_key",
    "EmbeddingCache",
    "embed_with_cache",
    "prune_cache",
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


# --------------------------------------------------------------------------- config


@dataclass(frozen=True)
class EmbeddingConfig:
    """The ``embedding`` block of params.yaml: which model, which layer, how to batch.

    Parameters
    ----------
    model
        A fair-esm ESM2 name (looked up in ``$TORCH_HOME/hub/checkpoints``), a path
        to a local ``.pt`` checkpoint, or ``"none"`` for no embeddings.
    layer
        Representation layer: ``-1`` (default) is the last layer; otherwise
        ``0..num_layers`` (0 = token embeddings), negative values count from the end.
    window
        Maximum residues per forward pass; ESM2 was trained on 1022 + BOS/EOS.
    overlap
        Residues shared by consecutive windows of a longer chain (``0 <= overlap < window``).
    token_budget
        Maximum tokens (padded, BOS/EOS included) per batch; bounds GPU memory.
        A window longer than the budget runs alone.
    device
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:N"``.
    half_precision
        Run in float16 on CUDA (ignored on CPU, where float16 is slow and inexact).
    sha256
        Expected SHA-256 of the weights file; checked before loading when set.
    """

    model: str = "esm2_t36_3B_UR50D"
    layer: int = -1
    window: int = 1022
    overlap: int = 256
    token_budget: int = 4096
    device: str = "auto"
    half_precision: bool = True
    sha256: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.model, Path):
            object.__setattr__(self, "model", str(self.model))
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigError(
                f"embedding.model must be an ESM2 name, a .pt path or 'none', got {self.model!r}"
            )
        for name in ("layer", "window", "overlap", "token_budget"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"embedding.{name} must be an integer, got {value!r}")
        if self.window < 1:
            raise ConfigError(f"embedding.window must be >= 1 residue, got {self.window}")
        if not 0 <= self.overlap < self.window:
            raise ConfigError(
                f"embedding.overlap must satisfy 0 <= overlap < window ({self.window}), got {self.overlap}"
            )
        if self.token_budget < 3:
            raise ConfigError(
                f"embedding.token_budget must be >= 3 (one residue + BOS/EOS), got {self.token_budget}"
            )
        if not isinstance(self.device, str) or not self.device.strip():
            raise ConfigError(f"embedding.device must be 'auto', 'cpu' or 'cuda[:N]', got {self.device!r}")
        if not isinstance(self.half_precision, bool):
            raise ConfigError(f"embedding.half_precision must be true or false, got {self.half_precision!r}")
        if self.sha256 is not None:
            digest = str(self.sha256).strip().lower()
            if not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise ConfigError(f"embedding.sha256 must be 64 hex digits or null, got {self.sha256!r}")
            object.__setattr__(self, "sha256", digest)

    @property
    def is_none(self) -> bool:
        """True when embeddings are switched off (``model: none``, any case)."""
        return self.model.strip().lower() == "none"

    @classmethod
    def from_params(cls, params: Mapping[str, Any] | None) -> "EmbeddingConfig":
        """Build from the ``embedding`` block of params.yaml; unknown keys are errors.

        Unknown keys are rejected rather than ignored because a misspelt key
        (``windows:``) would otherwise silently run with the default.
        """
        return dataclass_from_params(cls, params, "embedding")


# --------------------------------------------------------------------------- model files


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


# --------------------------------------------------------------------------- windows


def window_spans(length: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Half-open residue spans covering ``[0, length)``, at most ``window`` long.

    Consecutive spans overlap by exactly ``overlap`` residues (step
    ``window - overlap``); the last span may be shorter but always adds at least
    one new residue. A chain of at most ``window`` residues is one span.

    Raises
    ------
    ValueError
        ``length < 0``, ``window < 1`` or not ``0 <= overlap < window``.
    """
    if length < 0:
        raise ValueError(f"length must be >= 0, got {length}")
    if window < 1:
        raise ValueError(f"window must be >= 1, got {window}")
    if not 0 <= overlap < window:
        raise ValueError(f"overlap must satisfy 0 <= overlap < window ({window}), got {overlap}")
    if length == 0:
        return []
    step = window - overlap
    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        stop = min(start + window, length)
        spans.append((start, stop))
        if stop >= length:
            return spans
        start += step


def _plan_batches(lengths: Sequence[int], token_budget: int) -> list[list[int]]:
    """Group items (given longest first) so ``(max_len + 2) * count <= token_budget``."""
    batches: list[list[int]] = []
    current: list[int] = []
    current_max = 0
    for index, length in enumerate(lengths):
        new_max = max(current_max, length)
        if current and (new_max + 2) * (len(current) + 1) > token_budget:
            batches.append(current)
            current, new_max = [], length
        current.append(index)
        current_max = new_max
    if current:
        batches.append(current)
    return batches


# --------------------------------------------------------------------------- embedder


def _resolve_device(spec: str) -> "torch.device":
    import torch

    text = spec.strip().lower()
    if text == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except (RuntimeError, ValueError):
        raise ConfigError(f"embedding.device: unknown device {spec!r}; use auto, cpu or cuda[:N]") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"embedding.device is {spec!r} but CUDA is not available here; use auto or cpu")
    return device


class EsmEmbedder:
    """An ESM2 model loaded once, turning sequences into per-residue vectors.

    Parameters
    ----------
    config
        Which model/layer and how to window, batch and place it.

    Attributes
    ----------
    name : str
        Model name (file stem, e.g. ``esm2_t36_3B_UR50D``); part of cache keys.
    layer : int
        Absolute representation layer (``-1`` resolved to ``num_layers``).
    dim : int
        Embedding width (2560 for the 3B model).
    num_layers : int
        Transformer layers of the model.
    device : torch.device
        Where the model runs.
    """

    def __init__(self, config: EmbeddingConfig | None = None) -> None:
        import torch

        config = config if config is not None else EmbeddingConfig()
        if config.is_none:
            raise ConfigError("embedding.model is 'none': no ESM2 embedder to build (skip the embedding step)")
        self.config = config
        self.path = resolve_model_path(config.model)
        self.device = _resolve_device(config.device)
        model, alphabet = load_esm2(self.path, sha256=config.sha256)
        self.name: str = self.path.stem
        self.num_layers: int = int(model.num_layers)
        self.dim: int = int(model.embed_dim)
        self.layer: int = self._resolve_layer(config.layer)
        self.window, self.overlap, self.token_budget = config.window, config.overlap, config.token_budget
        half = config.half_precision and self.device.type == "cuda"
        self._dtype = torch.float16 if half else torch.float32
        self._model = model.eval().requires_grad_(False).to(device=self.device, dtype=self._dtype)
        self._alphabet = alphabet
        self._bos = int(alphabet.prepend_bos)
        self._eos = int(alphabet.append_eos)
        # Byte → token lookup: residue letters of the ESM alphabet map to themselves,
        # everything else (lower case is upper-cased first) to X.
        letters = [tok for tok in alphabet.standard_toks if len(tok) == 1 and tok.isalpha()]
        lookup = np.full(256, alphabet.get_idx("X"), dtype=np.int64)
        for letter in letters:
            lookup[ord(letter)] = alphabet.get_idx(letter)
        self._lookup = lookup
        log.info(
            "loaded %s from %s: %d layers, dim %d, layer %d, %s %s",
            self.name, self.path, self.num_layers, self.dim, self.layer, self.device, self._dtype,
        )

    def _resolve_layer(self, layer: int) -> int:
        n = self.num_layers
        if not -(n + 1) <= layer <= n:
            raise ConfigError(
                f"embedding.layer = {layer}, but {self.name} has layers 0..{n} "
                f"(0 = token embeddings, {n} = last; -1 = last)"
            )
        return layer % (n + 1)

    def _encode(self, sequence: str) -> np.ndarray:
        """Residue tokens (no BOS/EOS) of one sequence; unknown letters become X."""
        if not isinstance(sequence, str):
            raise TypeError(f"sequences must be str, got {type(sequence).__name__}")
        if not sequence:
            raise ValueError("cannot embed an empty sequence")
        raw = np.frombuffer(sequence.upper().encode("ascii", errors="replace"), dtype=np.uint8)
        return self._lookup[raw]

    def _forward_tokens(self, items: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One padded forward pass; returns float32 ``[len, dim]`` per item, BOS/EOS removed."""
        import torch

        width = max(len(t) for t in items) + self._bos + self._eos
        tokens = torch.full((len(items), width), self._alphabet.padding_idx, dtype=torch.long)
        for row, residues in enumerate(items):
            if self._bos:
                tokens[row, 0] = self._alphabet.cls_idx
            tokens[row, self._bos : self._bos + len(residues)] = torch.from_numpy(residues)
            if self._eos:
                tokens[row, self._bos + len(residues)] = self._alphabet.eos_idx
        oom = tuple(t for t in (getattr(torch, "OutOfMemoryError", None),) if t is not None)
        try:
            with torch.inference_mode():
                out = self._model(tokens.to(self.device), repr_layers=[self.layer])
        except oom as exc:
            raise ConfigError(
                f"out of memory embedding {len(items)} x {width} tokens with {self.name} on {self.device}; "
                f"lower embedding.token_budget (now {self.token_budget}) or embedding.window"
            ) from exc
        reps = out["representations"][self.layer].float().cpu().numpy()
        return [
            np.ascontiguousarray(reps[row, self._bos : self._bos + len(residues)], dtype=np.float32)
            for row, residues in enumerate(items)
        ]

    def _forward(self, sequences: Sequence[str]) -> list[np.ndarray]:
        """Embed each sequence whole in one batch (no windows, no budget); for checks."""
        return self._forward_tokens([self._encode(s) for s in sequences])

    def _embed_windowed(
        self, sequences: Sequence[str], window: int, overlap: int, token_budget: int
    ) -> list[np.ndarray]:
        """Window every sequence, batch all windows by length, average overlaps."""
        if isinstance(sequences, str):
            raise TypeError("embed() takes a sequence of sequences, not one string")
        encoded = [self._encode(s) for s in sequences]
        jobs = [(i, a, b) for i, t in enumerate(encoded) for a, b in window_spans(len(t), window, overlap)]
        # Longest first: least padding per batch, and an out-of-memory batch fails at once.
        jobs.sort(key=lambda job: (job[1] - job[2], job[0], job[1]))
        batches = _plan_batches([b - a for _, a, b in jobs], token_budget)
        pending = np.bincount([i for i, _, _ in jobs], minlength=len(encoded))
        sums: dict[int, np.ndarray] = {}
        counts: dict[int, np.ndarray] = {}
        results: list[np.ndarray | None] = [None] * len(encoded)
        ticks = progress(range(len(encoded)), total=len(encoded), desc=f"ESM2 {self.name}", unit="seq")
        try:
            for batch in batches:
                members = [jobs[k] for k in batch]
                vectors = self._forward_tokens([encoded[i][a:b] for i, a, b in members])
                for (i, a, b), vec in zip(members, vectors):
                    if a == 0 and b == len(encoded[i]):  # one window: nothing to average
                        results[i] = vec
                    else:
                        if i not in sums:
                            sums[i] = np.zeros((len(encoded[i]), self.dim), dtype=np.float32)
                            counts[i] = np.zeros(len(encoded[i]), dtype=np.float32)
                        sums[i][a:b] += vec
                        counts[i][a:b] += 1.0
                    pending[i] -= 1
                    if pending[i] == 0:
                        if i in sums:
                            results[i] = sums.pop(i) / counts.pop(i)[:, None]
                        next(ticks, None)
        finally:
            ticks.close()
        assert all(r is not None for r in results), "every sequence has at least one window"
        return results  # type: ignore[return-value]

    def embed(self, sequences: Sequence[str]) -> list[np.ndarray]:
        """Per-residue vectors of each sequence, float32 ``[len(seq), dim]``, in input order.

        Chains longer than ``window`` are windowed (overlaps averaged); all
        windows of all sequences are batched by ``token_budget``.

        Raises
        ------
        ValueError
            An empty sequence.
        """
        return self._embed_windowed(sequences, self.window, self.overlap, self.token_budget)


# --------------------------------------------------------------------------- cache


def sequence_key(model_name: str, layer: int, sequence: str) -> str:
    """Content address of one embedding: sha256 hex of ``"{model_name}|{layer}|{sequence}"``."""
    return hashlib.sha256(f"{model_name}|{layer}|{sequence}".encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Content-addressed store of per-sequence embeddings, one ``.npy`` file each.

    Files live at ``root/<model_name>/layer<layer>/<key[:2]>/<key>.npy`` with
    ``key = sequence_key(model_name, layer, sequence)``: identical chains in
    different structures or datasets share one file, and a different model or
    layer can never be read by mistake. Writes are atomic and byte-deterministic
    (``np.save`` of C-contiguous float32), so a cache can be a DVC output.

    Parameters
    ----------
    root
        Cache folder (created on first write).
    model_name
        :attr:`EsmEmbedder.name`.
    layer
        :attr:`EsmEmbedder.layer`, the absolute layer (not ``-1``).
    """

    def __init__(self, root: str | Path, model_name: str, layer: int) -> None:
        if not model_name or model_name in {".", ".."} or "/" in model_name or "\\" in model_name:
            raise ValueError(f"model_name must be a plain name, got {model_name!r}")
        if isinstance(layer, bool) or int(layer) != layer or layer < 0:
            raise ValueError(f"layer must be the absolute layer index (>= 0), got {layer!r}")
        self.root = Path(root)
        self.model_name = model_name
        self.layer = int(layer)
        self.directory = self.root / model_name / f"layer{self.layer}"

    @classmethod
    def for_embedder(cls, root: str | Path, embedder: EsmEmbedder) -> "EmbeddingCache":
        """The cache matching ``embedder``'s model name and layer."""
        return cls(root, embedder.name, embedder.layer)

    def path_for(self, sequence: str) -> Path:
        """Where the embedding of ``sequence`` is (or would be) stored."""
        key = sequence_key(self.model_name, self.layer, sequence)
        return self.directory / key[:2] / f"{key}.npy"

    def __contains__(self, sequence: object) -> bool:
        return isinstance(sequence, str) and self.path_for(sequence).is_file()

    def get(self, sequence: str) -> np.ndarray | None:
        """The cached float32 ``[len(sequence), dim]`` array, or None.

        An unreadable or wrongly shaped file (e.g. from an interrupted copy) is
        logged and treated as absent, so it is recomputed and overwritten.
        """
        path = self.path_for(sequence)
        if not path.is_file():
            return None
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:
            log.warning("ignoring unreadable embedding cache file %s (%s); recomputing", path, exc)
            return None
        if array.dtype != np.float32 or array.ndim != 2 or array.shape[0] != len(sequence):
            log.warning(
                "ignoring embedding cache file %s: %s %s for a %d-residue sequence; recomputing",
                path, array.dtype, array.shape, len(sequence),
            )
            return None
        return array

    def put(self, sequence: str, array: np.ndarray) -> Path:
        """Store ``array`` (``[len(sequence), dim]``) atomically; returns its path."""
        data = np.ascontiguousarray(array, dtype=np.float32)
        if data.ndim != 2 or data.shape[0] != len(sequence):
            raise ValueError(f"embedding shape {data.shape} does not match a {len(sequence)}-residue sequence")
        path = self.path_for(sequence)
        with atomic_write(path, "wb") as handle:
            np.save(handle, data, allow_pickle=False)
        return path


CACHE_README = """Per-sequence ESM2 embeddings (PockNet embedding stage): <model>/layer<L>/<key[:2]>/<key>.npy,
key = sha256("<model>|<layer>|<sequence>"). The stage keeps exactly the files its manifest
references (older ones stay in DVC's cache and come back through the run cache), so this
folder is a function of the stage's inputs and `dvc repro` from a clean clone reproduces it.
"""


def prune_cache(root: str | Path, keep: Iterable[Path]) -> int:
    """Make ``root`` hold exactly ``keep`` (plus a fixed README); returns the files removed.

    The cache is a DVC output: a file left over from another model or an earlier
    dataset would make its hash depend on history instead of on the stage's inputs.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    wanted = {Path(p).resolve() for p in keep}
    readme = root / "README.txt"
    removed = 0
    for path in sorted(root.rglob("*")):
        if path.is_file() and path != readme and path.resolve() not in wanted:
            path.unlink()
            removed += 1
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(folder.iterdir()):
            folder.rmdir()
    if not readme.is_file() or readme.read_text(encoding="utf-8") != CACHE_README:
        with atomic_write(readme) as handle:
            handle.write(CACHE_README)
    if removed:
        log.info("embedding cache: removed %d file(s) the manifest does not reference", removed)
    return removed


def embed_with_cache(
    sequences: Sequence[str], embedder: EsmEmbedder, cache: EmbeddingCache
) -> list[np.ndarray]:
    """Embeddings of ``sequences`` in input order, computing only uncached ones.

    Sequences are deduplicated before computing, so a homo-oligomer's chains
    cost one forward pass; repeated sequences share one returned array.

    Raises
    ------
    ValueError
        ``cache`` belongs to another model name or layer than ``embedder``.
    """
    if (cache.model_name, cache.layer) != (embedder.name, embedder.layer):
        raise ValueError(
            f"cache is for {cache.model_name} layer {cache.layer}, "
            f"embedder is {embedder.name} layer {embedder.layer}"
        )
    found: dict[str, np.ndarray] = {}
    missing: list[str] = []
    for sequence in dict.fromkeys(sequences):
        array = cache.get(sequence)
        if array is None:
            missing.append(sequence)
        else:
            found[sequence] = array
    unique = len(found) + len(missing)
    log.info(
        "embeddings %s layer %d: %d sequences (%d unique), %d cached, %d to compute",
        embedder.name, embedder.layer, len(sequences), unique, len(found), len(missing),
    )
    if missing:
        for sequence, array in zip(missing, embedder.embed(missing)):
            cache.put(sequence, array)
            found[sequence] = array
    return [found[s] for s in sequences]
