"""ESM2 embeddings: safe loading, windowing, batching, caching (SCIENCE.md §5).

All tests use a tiny random ESM2 written in the official checkpoint layout
(:mod:`pocknet.embed.esm_tiny`), loaded through the same path as real weights.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
esm = pytest.importorskip("esm")

from pocknet.embed.cache import EmbeddingCache, embed_with_cache, prune_cache, sequence_key  # noqa: E402
from pocknet.embed.checkpoint import MODEL_URL, esm2_model_names, load_esm2, resolve_model_path  # noqa: E402
from pocknet.embed.config import EmbeddingConfig  # noqa: E402
from pocknet.embed.embedder import EsmEmbedder, window_spans  # noqa: E402
from pocknet.errors import ConfigError  # noqa: E402
from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint  # noqa: E402

NAME = "esm2_t2_tiny_test"
DIM = 32
LAYERS = 2
SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_esm2_checkpoint(tmp_path_factory.mktemp("esm") / f"{NAME}.pt", LAYERS, DIM, 4, seed=0)


def _config(path: Path, **kwargs) -> EmbeddingConfig:
    return EmbeddingConfig(model=str(path), device="cpu", **kwargs)


@pytest.fixture(scope="module")
def embedder(checkpoint: Path) -> EsmEmbedder:
    return EsmEmbedder(_config(checkpoint))


def _whole(emb: EsmEmbedder, sequences: list[str]) -> list[np.ndarray]:
    """Reference: each sequence whole in one padded batch (no windows, no budget)."""
    return emb._forward_tokens([emb._encode(s) for s in sequences])


@pytest.fixture
def count_forwards(monkeypatch: pytest.MonkeyPatch):
    """Patch an embedder so every forward pass is counted (returns the counter list)."""

    def patch(emb: EsmEmbedder) -> list[int]:
        calls: list[int] = []
        original = emb._forward_tokens

        def counted(items):
            calls.append(len(items))
            return original(items)

        monkeypatch.setattr(emb, "_forward_tokens", counted)
        return calls

    return patch


# --------------------------------------------------------------------------- checkpoint + loading


@pytest.mark.filterwarnings("ignore:Regression weights not found")
def test_tiny_checkpoint_has_official_layout_and_is_deterministic(checkpoint: Path, tmp_path: Path) -> None:
    data = torch.load(checkpoint, map_location="cpu", weights_only=False)
    assert set(data) == {"cfg", "model"}
    assert isinstance(data["cfg"]["model"], argparse.Namespace)
    assert data["cfg"]["model"].encoder_layers == LAYERS
    keys = list(data["model"])
    assert all(k.startswith(("encoder.sentence_encoder.", "encoder.lm_head.")) for k in keys)
    assert not any("contact_head" in k for k in keys)
    # fair-esm's own core loader recognises it as ESM2
    model, _ = esm.pretrained.load_model_and_alphabet_core(NAME, data, None)
    assert type(model).__name__ == "ESM2"

    again = torch.load(write_tiny_esm2_checkpoint(tmp_path / f"{NAME}.pt"), weights_only=False)
    other = torch.load(write_tiny_esm2_checkpoint(tmp_path / "esm2_other.pt", seed=1), weights_only=False)
    for key, tensor in data["model"].items():
        assert torch.equal(tensor, again["model"][key])
    assert not torch.equal(data["model"][keys[0]], other["model"][keys[0]])
    with pytest.raises(ValueError):
        write_tiny_esm2_checkpoint(tmp_path / "tiny.pt")


def test_load_via_local_path(embedder: EsmEmbedder, checkpoint: Path) -> None:
    assert embedder.name == NAME
    assert embedder.path == checkpoint
    assert (embedder.num_layers, embedder.layer, embedder.dim) == (LAYERS, LAYERS, DIM)
    assert str(embedder.device) == "cpu"


def test_load_via_name_in_torch_home(checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "esm2_t6_8M_UR50D"
    assert name in esm2_model_names() and "esm2_t36_3B_UR50D" in esm2_model_names()
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)  # restored after the test
    target = tmp_path / "torch" / "hub" / "checkpoints" / f"{name}.pt"
    target.parent.mkdir(parents=True)
    shutil.copy(checkpoint, target)
    assert resolve_model_path(name) == target

    emb = EsmEmbedder(EmbeddingConfig(model=name, device="cpu"))
    assert emb.name == name and emb.dim == DIM

    other = tmp_path / "elsewhere"
    torch.hub.set_dir(str(other))  # set_dir wins over TORCH_HOME, as in fair-esm
    with pytest.raises(ConfigError) as err:
        resolve_model_path(name)
    assert str(other / "checkpoints" / f"{name}.pt") in str(err.value)


def test_missing_model_names_expected_path_and_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    name = "esm2_t36_3B_UR50D"
    with pytest.raises(ConfigError) as err:
        EsmEmbedder(EmbeddingConfig(model=name, device="cpu"))
    message = str(err.value)
    assert str(tmp_path / "hub" / "checkpoints" / f"{name}.pt") in message
    assert MODEL_URL.format(name=name) in message
    assert not (tmp_path / "hub").exists()  # nothing downloaded or created


def test_unknown_name_and_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="esm2_t36_3B_UR50D"):
        resolve_model_path("esm3_huge")
    with pytest.raises(ConfigError, match="does not exist"):
        resolve_model_path(tmp_path / "nope.pt")
    with pytest.raises(ConfigError, match="directory"):
        resolve_model_path(tmp_path)
    with pytest.raises(ConfigError, match="none"):
        EsmEmbedder(EmbeddingConfig(model="none"))


def test_sha256_checked(checkpoint: Path) -> None:
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert EsmEmbedder(_config(checkpoint, sha256=digest.upper())).dim == DIM
    with pytest.raises(ConfigError) as err:
        EsmEmbedder(_config(checkpoint, sha256="0" * 64))
    assert str(checkpoint) in str(err.value) and digest in str(err.value)


def test_corrupt_file(checkpoint: Path, tmp_path: Path) -> None:
    truncated = tmp_path / f"{NAME}.pt"
    truncated.write_bytes(checkpoint.read_bytes()[:500])
    garbage = tmp_path / "esm2_garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all")
    for path in (truncated, garbage):
        with pytest.raises(ConfigError) as err:
            load_esm2(path)
        assert str(path) in str(err.value)


def test_rejects_non_esm2_and_unsafe_pickles(tmp_path: Path) -> None:
    esm1b = tmp_path / "esm1b_t33_650M_UR50S.pt"
    torch.save({"args": argparse.Namespace(arch="roberta_large"), "model": {"w": torch.zeros(1)}}, esm1b)
    with pytest.raises(ConfigError, match="not an ESM2 checkpoint.*roberta_large"):
        load_esm2(esm1b)

    unsafe = tmp_path / "esm2_unsafe.pt"
    torch.save({"cfg": {"model": datetime.date(2022, 1, 1)}, "model": {}}, unsafe)
    with pytest.raises(ConfigError, match="datetime.date"):
        load_esm2(unsafe)


def test_contact_regression_is_optional(checkpoint: Path, embedder: EsmEmbedder, tmp_path: Path) -> None:
    with_regression = write_tiny_esm2_checkpoint(tmp_path / f"{NAME}.pt", contact_regression=True)
    assert (tmp_path / f"{NAME}-contact-regression.pt").is_file()
    emb = EsmEmbedder(_config(with_regression))
    np.testing.assert_array_equal(emb.embed([SEQ])[0], embedder.embed([SEQ])[0])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA message")
def test_cuda_requested_without_cuda(checkpoint: Path) -> None:
    with pytest.raises(ConfigError, match="CUDA"):
        EsmEmbedder(EmbeddingConfig(model=str(checkpoint), device="cuda"))


# --------------------------------------------------------------------------- outputs


def test_shapes_dtypes_and_bos_eos_removed(embedder: EsmEmbedder) -> None:
    seqs = ["A", "ACDEFGHIKLMNPQRSTVWY", SEQ]
    out = embedder.embed(seqs)
    assert [o.shape for o in out] == [(len(s), DIM) for s in seqs]
    assert all(o.dtype == np.float32 and o.flags.c_contiguous and np.isfinite(o).all() for o in out)

    # against fair-esm's own tokenisation: drop exactly the first (BOS) and last (EOS) token
    _, _, tokens = embedder._alphabet.get_batch_converter()([("x", SEQ)])
    with torch.inference_mode():
        reps = embedder._model(tokens, repr_layers=[LAYERS])["representations"][LAYERS][0].numpy()
    assert reps.shape[0] == len(SEQ) + 2
    np.testing.assert_array_equal(out[2], reps[1:-1])


def test_nonstandard_letters_and_empty(embedder: EsmEmbedder) -> None:
    a, b = embedder.embed(["acdJ*-1", "ACDXXXX"])
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError):
        embedder.embed(["ACD", ""])
    with pytest.raises(TypeError):
        embedder.embed("ACD")
    assert embedder.embed([]) == []


def test_layer_selection(checkpoint: Path, embedder: EsmEmbedder) -> None:
    last = embedder.embed([SEQ])[0]
    explicit = EsmEmbedder(_config(checkpoint, layer=LAYERS))
    assert explicit.layer == LAYERS
    np.testing.assert_array_equal(explicit.embed([SEQ])[0], last)
    first = EsmEmbedder(_config(checkpoint, layer=1))
    assert first.layer == 1
    assert not np.allclose(first.embed([SEQ])[0], last)
    assert EsmEmbedder(_config(checkpoint, layer=-2)).layer == 1
    with pytest.raises(ConfigError, match="embedding.layer"):
        EsmEmbedder(_config(checkpoint, layer=LAYERS + 1))


def test_deterministic(embedder: EsmEmbedder) -> None:
    first = embedder.embed([SEQ, SEQ[:10]])
    second = embedder.embed([SEQ, SEQ[:10]])
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)


# --------------------------------------------------------------------------- windows and batches


def test_window_spans_edge_cases() -> None:
    assert window_spans(0, 10, 2) == []
    assert window_spans(1, 10, 2) == [(0, 1)]
    assert window_spans(10, 10, 2) == [(0, 10)]
    assert window_spans(11, 10, 2) == [(0, 10), (8, 11)]
    assert window_spans(40, 16, 4) == [(0, 16), (12, 28), (24, 40)]
    assert window_spans(6, 3, 0) == [(0, 3), (3, 6)]
    assert window_spans(5, 1, 0) == [(i, i + 1) for i in range(5)]
    for bad in ((10, 10, 10), (10, 10, -1), (10, 0, 0), (-1, 10, 2)):
        with pytest.raises(ValueError):
            window_spans(*bad)
    rng = np.random.default_rng(0)
    for _ in range(200):
        window = int(rng.integers(1, 30))
        overlap = int(rng.integers(0, window))
        length = int(rng.integers(1, 200))
        spans = window_spans(length, window, overlap)
        assert spans[0][0] == 0 and spans[-1][1] == length
        assert all(0 < b - a <= window for a, b in spans)
        assert all(b1 - a2 == overlap and a2 > a1 for (a1, b1), (a2, _) in zip(spans, spans[1:]))


def test_short_chain_windowed_equals_unwindowed(embedder: EsmEmbedder) -> None:
    whole = _whole(embedder, [SEQ])[0]
    windowed = embedder._embed_windowed([SEQ], window=len(SEQ) + 5, overlap=3, token_budget=10_000)[0]
    np.testing.assert_array_equal(windowed, whole)


def test_long_chain_overlap_is_mean_of_windows(embedder: EsmEmbedder) -> None:
    chain = SEQ[:40]
    out = embedder._embed_windowed([chain], window=16, overlap=4, token_budget=1_000)[0]
    assert out.shape == (40, DIM) and out.dtype == np.float32 and np.isfinite(out).all()
    w0, w1, w2 = (_whole(embedder, [chain[a:b]])[0] for a, b in [(0, 16), (12, 28), (24, 40)])
    tol = dict(rtol=0, atol=1e-5)  # windows ran padded in one batch
    np.testing.assert_allclose(out[:12], w0[:12], **tol)
    np.testing.assert_allclose(out[12:16], (w0[12:16] + w1[:4]) / 2, **tol)
    np.testing.assert_allclose(out[16:24], w1[4:12], **tol)
    np.testing.assert_allclose(out[24:28], (w1[12:16] + w2[:4]) / 2, **tol)
    np.testing.assert_allclose(out[28:], w2[4:], **tol)
    # one window per batch (budget below a window): no padding, exact mean
    alone = embedder._embed_windowed([chain], window=16, overlap=4, token_budget=3)[0]
    np.testing.assert_array_equal(alone[12:16], (w0[12:16] + w1[:4]) / np.float32(2))
    assert not np.allclose(out[12:16], w0[12:16])  # the average really mixes two windows


def test_token_budget_batching_matches_one_batch(embedder: EsmEmbedder, count_forwards) -> None:
    seqs = [SEQ, SEQ[:7], SEQ[5:50], "W", SEQ[::-1]]
    calls = count_forwards(embedder)
    one = embedder._embed_windowed(seqs, window=20, overlap=5, token_budget=100_000)
    assert len(calls) == 1
    calls.clear()
    many = embedder._embed_windowed(seqs, window=20, overlap=5, token_budget=30)
    assert len(calls) > 5 and max(calls) <= 30 // 3
    for x, y, s in zip(one, many, seqs):
        assert x.shape == (len(s), DIM)
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-5)


# --------------------------------------------------------------------------- cache


def test_cache_paths_and_bytes(embedder: EsmEmbedder, tmp_path: Path) -> None:
    cache = EmbeddingCache.for_embedder(tmp_path, embedder)
    key = sequence_key(NAME, LAYERS, SEQ)
    assert key == hashlib.sha256(f"{NAME}|{LAYERS}|{SEQ}".encode()).hexdigest()
    expected = tmp_path / NAME / f"layer{LAYERS}" / key[:2] / f"{key}.npy"
    assert cache.path_for(SEQ) == expected
    assert cache.get(SEQ) is None

    array = embedder.embed([SEQ])[0]
    assert cache.put(SEQ, array) == expected
    assert expected.is_file()
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    assert expected.read_bytes() == buffer.getvalue()
    assert [p.name for p in expected.parent.iterdir()] == [expected.name]  # no temp files left
    np.testing.assert_array_equal(cache.get(SEQ), array)

    expected.write_bytes(b"broken")  # unreadable entries count as missing
    assert cache.get(SEQ) is None
    with pytest.raises(ValueError):
        cache.put(SEQ, array[:-1])
    with pytest.raises(ValueError):
        EmbeddingCache(tmp_path, NAME, -1)


def test_prune_cache_keeps_exactly_the_referenced_files(tmp_path: Path) -> None:
    """The cache is a DVC output: its content must not depend on earlier runs (e.g. another model)."""
    kept_cache = EmbeddingCache(tmp_path, "esm_a", 1)
    other_cache = EmbeddingCache(tmp_path, "esm_b", 2)
    kept = kept_cache.put("ACD", np.zeros((3, 4), np.float32))
    stale = kept_cache.put("EFG", np.ones((3, 4), np.float32))
    other = other_cache.put("ACD", np.ones((3, 4), np.float32))
    assert prune_cache(tmp_path, keep=[kept]) == 2
    assert kept.is_file() and not stale.exists() and not other.exists()
    assert not (tmp_path / "esm_b").exists()  # emptied folders go too
    listing = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert listing == ["README.txt", str(kept.relative_to(tmp_path))]
    assert prune_cache(tmp_path, keep=()) == 1  # `none`: only the README, never an empty folder
    assert [p.name for p in tmp_path.iterdir()] == ["README.txt"]


def test_embed_with_cache_computes_only_missing(embedder: EsmEmbedder, tmp_path: Path, count_forwards) -> None:
    cache = EmbeddingCache(tmp_path, embedder.name, embedder.layer)
    seqs = [SEQ, SEQ[:12], SEQ, "GGGG"]
    calls = count_forwards(embedder)
    first = embed_with_cache(seqs, embedder, cache)
    assert sum(calls) == 3  # three unique sequences, one window each
    assert [a.shape[0] for a in first] == [len(s) for s in seqs]
    for s, a in zip(seqs, first):  # computed in one padded batch
        np.testing.assert_allclose(a, _whole(embedder, [s])[0], rtol=0, atol=1e-5)
    calls.clear()

    second = embed_with_cache(seqs, embedder, cache)
    assert calls == []
    for x, y in zip(first, second):
        np.testing.assert_array_equal(x, y)

    third = embed_with_cache(["MMMM", SEQ], embedder, cache)
    assert calls == [1]
    np.testing.assert_array_equal(third[1], first[0])

    with pytest.raises(ValueError):
        embed_with_cache(seqs, embedder, EmbeddingCache(tmp_path, embedder.name, 1))


# --------------------------------------------------------------------------- config


def test_config_from_params() -> None:
    assert EmbeddingConfig.from_params(None) == EmbeddingConfig()
    config = EmbeddingConfig.from_params({"model": "esm2_t33_650M_UR50D", "layer": 20, "window": 500})
    assert (config.model, config.layer, config.window, config.overlap) == ("esm2_t33_650M_UR50D", 20, 500, 256)
    with pytest.raises(ConfigError, match="windows"):
        EmbeddingConfig.from_params({"windows": 100})
    for bad in ({"overlap": 1022}, {"overlap": -1}, {"window": 0}, {"token_budget": 2}, {"layer": 1.5},
                {"sha256": "abc"}, {"model": ""}, {"model": None}):
        with pytest.raises(ConfigError):
            EmbeddingConfig.from_params(bad)


def test_none_config() -> None:
    assert EmbeddingConfig(model="none").is_none
    assert EmbeddingConfig(model=" None ").is_none
    assert EmbeddingConfig().is_none  # params.yaml's default: `dvc repro` runs anywhere
