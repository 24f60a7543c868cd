"""Content-addressed cache of per-sequence embeddings (SCIENCE.md §5).

Vectors are cached per sequence (:class:`EmbeddingCache`), so re-running a
pipeline or sharing chains across datasets never recomputes an embedding.
Needs neither ``torch`` nor ``esm``.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

import numpy as np

from pocknet.atomic import atomic_write

if TYPE_CHECKING:  # pragma: no cover
    from pocknet.embed.embedder import EsmEmbedder

__all__ = ["sequence_key", "EmbeddingCache", "embed_with_cache", "prune_cache"]

log = logging.getLogger(__name__)


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
