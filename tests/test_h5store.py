import json
import pickle
import shutil

import h5py
import numpy as np
import pytest

from pocknet.errors import PockNetError
from pocknet.featurize.features import FeaturizeConfig, featurize_file
from pocknet.trainset import h5validate
from pocknet.trainset.h5reader import H5Reader
from pocknet.trainset.h5schema import H5FormatError
from pocknet.trainset.h5validate import validate
from pocknet.trainset.h5writer import H5Writer
from pocknet.trainset.neighbours import nearest_residues

K = 8
DIM = 6
NAMES = ("1a82a", "1aaxa", "1t7qa")
SPLITS = ("train", "val", "train")


def fake_embedding(protein: int, n_residues: int) -> np.ndarray:
    """Row r of protein p encodes (p, r) exactly in float16, so any gathered row can be decoded."""
    r = np.arange(n_residues)
    cols = [np.full(n_residues, protein + 1), r // 64, r % 64, (r * 7) % 31, np.ones(n_residues), -(r % 5)]
    return np.stack(cols, axis=1).astype(np.float32)


def decode(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return vectors[..., 0].astype(int) - 1, (vectors[..., 1] * 64 + vectors[..., 2]).astype(int)


@pytest.fixture(scope="module")
def proteins(p2rank_test):
    out = []
    for name in NAMES:
        f = featurize_file(p2rank_test / "liganated" / f"{name}.pdb", FeaturizeConfig())
        out.append((f, *nearest_residues(f, K, "min_atom")))
    return out


def write(path, proteins, *, dim=DIM, chunk_points=1000, compression="gzip"):
    with H5Writer(
        path,
        feature_names=proteins[0][0].descriptor_names,
        k=K,
        neighbour_distance="min_atom",
        embedding_model="fake" if dim else None,
        embedding_layer=7 if dim else None,
        embedding_dim=dim,
        params_json=json.dumps({"k": K}),
        chunk_points=chunk_points,
        compression=compression,
    ) as writer:
        for p, (f, n, d) in enumerate(proteins):
            emb = fake_embedding(p, len(f.residue_number)) if dim else None
            writer.add(f, split=SPLITS[p], neighbours=n, neighbour_dist=d, embeddings=emb)
    return path


@pytest.fixture(scope="module")
def h5file(proteins, tmp_path_factory):
    return write(tmp_path_factory.mktemp("h5") / "train.h5", proteins)


def test_layout_and_round_trip(h5file, proteins):
    validate(h5file)
    assert not list(h5file.parent.glob("*.tmp"))
    with H5Reader(h5file) as reader:
        n_points = sum(len(f.points) for f, _, _ in proteins)
        n_residues = sum(len(f.residue_number) for f, _, _ in proteins)
        assert (reader.n_points, reader.n_residues, reader.n_proteins) == (n_points, n_residues, 3)
        assert reader.k == K and reader.embedding_dim == DIM
        assert reader.feature_names == proteins[0][0].descriptor_names and len(reader.feature_names) == 35
        attrs = reader.attrs
        assert attrs["format"] == "pocknet-h5" and attrs["format_version"] == 1
        assert attrs["neighbour_distance"] == "min_atom" and attrs["embedding_model"] == "fake"
        assert attrs["embedding_layer"] == 7 and json.loads(attrs["params_json"]) == {"k": K}
        assert attrs["created_by"].startswith("pocknet ")
        table = reader.proteins()
        assert table["id"].tolist() == list(NAMES) and table["split"].tolist() == list(SPLITS)
        assert table["source_sha256"].tolist() == [f.source_sha256 for f, _, _ in proteins]
        np.testing.assert_array_equal(
            table["point_offset"], np.cumsum([0] + [len(f.points) for f, _, _ in proteins])
        )
        np.testing.assert_array_equal(
            table["residue_offset"], np.cumsum([0] + [len(f.residue_number) for f, _, _ in proteins])
        )
    with h5py.File(h5file, "r") as h5:
        pts = h5["points"]
        np.testing.assert_array_equal(
            pts["tabular"][:], np.concatenate([f.descriptors for f, _, _ in proteins])
        )
        np.testing.assert_array_equal(pts["label"][:], np.concatenate([f.labels for f, _, _ in proteins]))
        np.testing.assert_array_equal(pts["coords"][:], np.concatenate([f.points for f, _, _ in proteins]))
        np.testing.assert_array_equal(
            pts["ligand_distance"][:], np.concatenate([f.ligand_distance for f, _, _ in proteins])
        )
        np.testing.assert_array_equal(pts["neighbour_dist"][:], np.concatenate([d for _, _, d in proteins]))
        res = h5["residues"]
        assert res["chain"].dtype == np.dtype("S4") and res["name"].dtype == np.dtype("S3")
        assert res["chain"][0] == proteins[0][0].residue_chain[0].encode()
        np.testing.assert_array_equal(
            res["number"][:], np.concatenate([f.residue_number for f, _, _ in proteins])
        )
        assert pts["tabular"].maxshape == (None, 35) and pts["tabular"].chunks == (1000, 35)
        assert pts["tabular"].compression == "gzip"


def test_residue_and_neighbour_rows_reach_the_right_embeddings(h5file, proteins):
    """Global residue / neighbour rows must land on exactly the residues nearest_residues chose."""
    reader = H5Reader(h5file)
    offsets = reader.proteins()["point_offset"]
    rng = np.random.default_rng(0)
    idx = rng.integers(0, reader.n_points, 500)
    protein = np.searchsorted(offsets, idx, side="right") - 1
    local = idx - offsets[protein]
    want_centre = np.array([proteins[p][0].point_residue[i] for p, i in zip(protein, local)])
    want_neighbours = np.stack([proteins[p][1][i] for p, i in zip(protein, local)])
    # the reads training does: point columns by slice, the embedding table whole
    residue = reader.point_slice("residue", 0, reader.n_points)[idx]
    neighbours = reader.point_slice("neighbours", 0, reader.n_points)[idx]
    table = reader.residue_embeddings()
    assert table.dtype == np.float16 and table.shape == (reader.n_residues, DIM)
    table = table.astype(np.float32)
    got_p, got_r = decode(table[residue])
    np.testing.assert_array_equal(got_p, protein)
    np.testing.assert_array_equal(got_r, want_centre)
    got_p, got_r = decode(table[neighbours])
    np.testing.assert_array_equal(got_p, np.broadcast_to(protein[:, None], got_p.shape))
    np.testing.assert_array_equal(got_r, want_neighbours)


def test_padding_is_stored_as_pairs_at_the_end(tmp_path, proteins):
    f, n, d = proteins[0]
    n, d = n.copy(), d.copy()
    n[:5, -3:], d[:5, -3:] = -1, -1.0  # as if the protein had too few residues
    path = write(tmp_path / "pad.h5", [(f, n, d)])
    validate(path)
    reader = H5Reader(path)
    neighbours = reader.point_slice("neighbours", 0, 6)
    dist = reader.point_slice("neighbour_dist", 0, 6)
    assert (neighbours[:5, -3:] == -1).all() and (neighbours[5] >= 0).all()
    assert (dist[:5, -3:] == -1.0).all() and (dist[:5, :-3] >= 0).all()
    np.testing.assert_array_equal(neighbours[:5, :-3], n[:5, :-3])  # one protein: global rows == local


def test_reader_pickles_and_reopens(h5file):
    reader = H5Reader(h5file)
    before = reader.point_slice("tabular", 3990, 4010)  # across a chunk boundary
    clone = pickle.loads(pickle.dumps(reader))
    assert clone._h5 is None
    np.testing.assert_array_equal(clone.point_slice("tabular", 3990, 4010), before)
    reader._pid = -1  # as seen from a forked worker: the handle is reopened
    np.testing.assert_array_equal(reader.point_slice("tabular", 3993, 3994), before[3:4])
    reader.close()
    clone.close()


def test_output_is_byte_reproducible(tmp_path, proteins, h5file):
    again = write(tmp_path / "again.h5", proteins)
    assert again.read_bytes() == h5file.read_bytes()


def test_validate_lists_every_violation(tmp_path, h5file, monkeypatch):
    monkeypatch.setattr(h5validate, "_VALIDATE_ROWS", 500)  # many chunks: row numbers must still be global
    bad = tmp_path / "bad.h5"
    shutil.copy(h5file, bad)
    with h5py.File(bad, "r+") as h5:
        neighbours = h5["points/neighbours"]
        row = neighbours[1010]
        row[2] = h5["proteins/residue_offset"][1] + 3  # row 1010 is in protein 0; this is protein 1's
        neighbours[1010] = row
        tab = h5["points/tabular"]
        cell = tab[2020]
        cell[5] = np.nan
        tab[2020] = cell
        label = h5["points/label"]
        label[3030] = 2
    with pytest.raises(H5FormatError) as info:
        validate(bad)
    message = str(info.value)
    assert str(bad) in message
    assert "neighbours outside the point's own protein (or negative): 1 row(s), first at 1010" in message
    assert "tabular not finite: 1 row(s), first at 2020" in message
    assert "label not in {-1, 0, 1}" in message
    assert "residue outside" not in message


def test_validate_catches_offsets_and_padding(tmp_path, h5file):
    bad = tmp_path / "bad.h5"
    shutil.copy(h5file, bad)
    with h5py.File(bad, "r+") as h5:
        dist = h5["points/neighbour_dist"]
        row = dist[7]
        row[-1] = -1.0  # padding distance without padding index
        dist[7] = row
    with pytest.raises(H5FormatError, match=r"padding not paired as \(-1, -1.0\): 1 row\(s\), first at 7"):
        validate(bad)
    with h5py.File(bad, "r+") as h5:
        off = h5["proteins/point_offset"]
        off[-1] = off[-1] - 1
    with pytest.raises(H5FormatError, match="point_offset ends at"):
        validate(bad)


def test_unreadable_and_foreign_files(tmp_path, h5file):
    truncated = tmp_path / "truncated.h5"
    data = h5file.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as h5:
        h5["x"] = np.arange(3)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    newer = tmp_path / "newer.h5"
    shutil.copy(h5file, newer)
    with h5py.File(newer, "r+") as h5:
        h5.attrs["format_version"] = 2
    for path, match in (
        (truncated, "not a readable HDF5 file"),
        (foreign, "not a PockNet training file"),
        (text, "not a readable HDF5 file"),
        (newer, "format_version 2"),
        (tmp_path / "missing.h5", "no such file"),
    ):
        for call in (H5Reader, validate):
            with pytest.raises(H5FormatError, match=match) as info:
                call(path)
            assert str(path) in str(info.value)
            assert isinstance(info.value, PockNetError)


def test_embedding_free_file(tmp_path, proteins):
    path = write(tmp_path / "plain.h5", proteins[:2], dim=0, compression="lzf", chunk_points=4096)
    validate(path)
    reader = H5Reader(path)
    assert reader.embedding_dim == 0 and reader.attrs["embedding_model"] == "none"
    assert reader.point_slice("neighbours", 4990, 5010).shape == (20, K)
    with h5py.File(path, "r") as h5:
        assert "embedding" not in h5["residues"]


def test_writer_rejects_inconsistent_inputs(tmp_path, proteins):
    f, n, d = proteins[0]
    common = dict(
        feature_names=f.descriptor_names,
        k=K,
        neighbour_distance="ca",
        embedding_model="fake",
        embedding_layer=1,
        embedding_dim=DIM,
        params_json="{}",
    )
    path = tmp_path / "x.h5"
    with pytest.raises(ValueError, match="1a82a.*embeddings have shape"):
        with H5Writer(path, **common) as writer:
            writer.add(f, split="train", neighbours=n, neighbour_dist=d, embeddings=np.zeros((3, DIM)))
    with pytest.raises(ValueError, match="1a82a.*embeddings required"):
        with H5Writer(path, **common) as writer:
            writer.add(f, split="train", neighbours=n, neighbour_dist=d, embeddings=None)
    with pytest.raises(ValueError, match="1a82a.*neighbours has shape"):
        with H5Writer(path, **common) as writer:
            writer.add(f, split="train", neighbours=n[:, :2], neighbour_dist=d, embeddings=None)
    assert not path.exists() and not list(tmp_path.iterdir())


def _plain_header(f) -> dict:
    return dict(
        feature_names=f.descriptor_names,
        k=K,
        neighbour_distance="ca",
        embedding_model=None,
        embedding_layer=None,
        embedding_dim=0,
        params_json="{}",
    )


def test_failed_write_leaves_nothing_behind(tmp_path, proteins):
    f, n, d = proteins[0]
    path = tmp_path / "out.h5"
    with pytest.raises(RuntimeError):
        with H5Writer(path, **_plain_header(f)) as writer:
            writer.add(f, split="train", neighbours=n, neighbour_dist=d, embeddings=None)
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    # an existing file is left untouched by a failed rewrite
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with H5Writer(path, **_plain_header(f)):
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old" and list(tmp_path.iterdir()) == [path]
