from pathlib import Path

import pytest

from pocknet.structure.datasets import open_dataset, read_ds, scan_folder
from pocknet.errors import DatasetError


def test_ds_with_header_params_comments_and_backslashes(p2rank_test):
    ds = read_ds(p2rank_test / "apoholo" / "zn_apoholo.ds")
    assert ds.name == "zn_apoholo" and len(ds.entries) == 5
    first = ds.entries[0]
    assert first.id == "zn_apoholo/holo/2yr2.cif.gz"
    assert first.path == p2rank_test / "apoholo" / "holo" / "2yr2.cif.gz" and first.path.is_file()
    assert first.chains == ("B",)
    assert first.columns["apo_protein"] == "apo\\3gf2A_to_2yr2B.cif.gz"
    assert first.columns["ligands"] == "ZN[group_id:B_1001]"


def test_plain_ds_and_params(datasets):
    ds = read_ds(datasets / "chen11" / "chen11.ds")
    assert len(ds.entries) == 251
    assert ds.params == {"LIGANDS_SEPARATED_BY_TER": "true"}
    assert all(e.path.is_file() for e in ds.entries)
    assert ds.entries[0].chains is None


def test_ds_errors(tmp_path):
    bad = tmp_path / "bad.ds"
    bad.write_text("HEADER: chains protein\nA x.pdb\n")
    with pytest.raises(DatasetError, match="bad.ds:1: HEADER must start with 'protein'"):
        read_ds(bad)
    empty = tmp_path / "empty.ds"
    empty.write_text("# nothing\nPARAM.X=1\n")
    with pytest.raises(DatasetError, match="no entries"):
        read_ds(empty)
    with pytest.raises(DatasetError, match="dataset not found"):
        open_dataset("absent", tmp_path)


def test_folder_scan_finds_pdb_and_mmcif(p2rank_test):
    ds = scan_folder(p2rank_test)
    ids = [e.id for e in ds.entries]
    assert "p2rank-test/1fbl.cif" in ids and "p2rank-test/1fbl.pdb" in ids
    assert "p2rank-test/apoholo/holo/1ef0.cif.gz" in ids
    assert not any(i.endswith(".ds") for i in ids)
    assert ids == sorted(ids)
    assert open_dataset("p2rank-test", p2rank_test.parent).entries == ds.entries
    assert open_dataset(str(Path("p2rank-test") / "basic.ds"), p2rank_test.parent).entries[0].id == "basic/2W83.pdb"
