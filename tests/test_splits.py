import pandas as pd
import pytest

from pocknet.errors import ConfigError
from pocknet.trainset.splits import SplitConfig, apply_leaks, assign_splits, find_leaks, pdb_entry, sequence_identity


@pytest.mark.parametrize(
    "name, entry",
    [
        ("chen11/a.001.001.001_1s69a.pdb", "1s69"),
        ("coach420/1a26A.pdb", "1a26"),
        ("bu48/holo/1IVD.pdb", "1ivd"),
        ("p2rank-test/2W83.cif.gz", "2w83"),
        ("zn_apoholo/apo/1i7xA_to_1i7wA.cif.gz", "1i7x"),
    ],
)
def test_pdb_entry(name, entry):
    assert pdb_entry(name) == entry


def test_validation_is_grouped_by_entry_and_seeded():
    ids = [f"chen11/x_{i}abc{c}.pdb" for i in range(1, 10) for c in "ab"] + ["bu48/1ivd.pdb", "coach420/1a26A.pdb"]
    cfg = SplitConfig(group_by="entry", validation_fraction=0.34, seed=7)
    splits = assign_splits(ids, cfg)
    assert splits.set_index("protein").loc["bu48/1ivd.pdb", "split"] == "test"
    assert splits.set_index("protein").loc["coach420/1a26A.pdb", "split"] == "external"
    per_entry = splits[splits["dataset"] == "chen11"].groupby("entry")["split"].nunique()
    assert (per_entry == 1).all()  # both chains of an entry on the same side
    val_entries = splits.loc[splits["split"] == "val", "entry"].nunique()
    assert val_entries == 4  # ceil(0.34 * 9)
    assert assign_splits(ids, cfg).equals(splits)
    assert not assign_splits(ids, SplitConfig(group_by="entry", validation_fraction=0.34, seed=8)).equals(splits)


def test_split_config_validation():
    with pytest.raises(ConfigError, match="unknown key"):
        SplitConfig.from_params({"validation": 0.2})
    with pytest.raises(ConfigError, match="validation_fraction"):
        SplitConfig.from_params({"validation_fraction": 1.5})
    assert SplitConfig.from_params({"test_datasets": ["BU48"]}).test_datasets == ("bu48",)


SEQ = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQFEVVHSLAKWKRQTLGQHDFSAGEGLYTHMKALRPDEDRLSPLHSVYVDQWDWERVMGDGERQFSTLKSTVEAIWAGIKATEAAVSEEFGLAPFLPDQIHFVHSQELLSRYPDLDAKGRERAIAKDLGAVFLVGIGGKLSDGHRHDVRAPDYDDWUAIGLNE"


def test_identity_and_leaks():
    other = "GSHMASNDLLTQVLQRLAEEAGVEHLSLAWLEGGSQNKVYRLSADGQELVVKRRPLEEGPLLEREAAVLRALAEAGLPAPRVLASHTLGDGRAFALLEALPGEPLS"
    assert sequence_identity(SEQ, SEQ) == 1.0
    assert sequence_identity(SEQ, other) < 0.3
    mutant = SEQ[:100] + "".join("A" if c != "A" else "G" for c in SEQ[100:130]) + SEQ[130:]
    assert 0.8 < sequence_identity(SEQ, mutant) < 1.0
    chains = pd.DataFrame(
        {
            "protein": ["chen11/1aaaA.pdb", "chen11/2bbbA.pdb", "bu48/3ccc.pdb"],
            "chain": ["A", "A", "A"],
            "sequence": [mutant, other, SEQ],
        }
    )
    cfg = SplitConfig(group_by="entry", cluster_method="biopython", validation_fraction=0.0)
    splits = assign_splits(chains["protein"].tolist(), cfg)
    leaks = find_leaks(chains, splits, cfg)
    assert leaks[["protein", "test_protein"]].values.tolist() == [["chen11/1aaaA.pdb", "bu48/3ccc.pdb"]]
    dropped = apply_leaks(splits, leaks, cfg)
    assert dropped.set_index("protein")["split"].to_dict() == {
        "chen11/1aaaA.pdb": "dropped",
        "chen11/2bbbA.pdb": "train",
        "bu48/3ccc.pdb": "test",
    }
    kept = apply_leaks(splits, leaks, SplitConfig(drop_leaks=False))
    assert kept.set_index("protein").loc["chen11/1aaaA.pdb", "split"] == "train"
    assert kept["leak"].sum() == 1
