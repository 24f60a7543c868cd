"""Per-residue ESM2 embeddings: windowing, batching and the embedder (SCIENCE.md §5).

One vector per residue of each chain, from one layer of a fair-esm ESM2 model
(default ``esm2_t36_3B_UR50D``, 2560-d, last layer), with the BOS/EOS tokens
removed. Chains longer than ``window`` residues are split into windows that
overlap by ``overlap`` residues; residues covered by several windows get the
mean of their vectors (the original PockNet sent long chains whole, beyond
the 1022 residues ESM2 was trained on).

``torch`` is imported only when a model is loaded: the windowing helpers work
without it.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Sequence

import numpy as np

from pocknet.embed.checkpoint import load_esm2, resolve_model_path
from pocknet.embed.config import EmbeddingConfig
from pocknet.errors import ConfigError
from pocknet.progress import progress

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["window_spans", "EsmEmbedder"]

log = logging.getLogger(__name__)


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

    def __init__(self, config: EmbeddingConfig) -> None:
        import torch

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
