import numpy as np
import pytest

from pocknet.errors import PockNetError
from pocknet.featurize.feature_files import load_features, save_features


def test_round_trip_is_exact_and_byte_reproducible(tmp_path, features_1a82a):
    a, b = tmp_path / "a.npz", tmp_path / "b" / "a.npz"
    save_features(features_1a82a, a)
    save_features(features_1a82a, b)
    assert a.read_bytes() == b.read_bytes()
    back = load_features(a)
    for name, value in vars(features_1a82a).items():
        other = getattr(back, name)
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, other, err_msg=name)
            assert value.dtype == other.dtype, name
        else:
            assert value == other, name
    assert back.chain_sequences() == features_1a82a.chain_sequences()
    assert not list(tmp_path.glob("**/*.tmp"))


def test_unreadable_feature_file(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(PockNetError, match="bad.npz: unreadable feature file"):
        load_features(bad)
