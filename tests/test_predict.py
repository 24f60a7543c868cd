"""One forward path: `Predictor` scores equal the trained model's scores on the same H5 rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pocknet.embeddings import EmbeddingConfig, EsmEmbedder
from pocknet.esm_tiny import write_tiny_esm2_checkpoint
from pocknet.h5store import H5Reader
from pocknet.predict import Predictor
from pocknet.training import fit, validation_report
from pocknet.training import export_model
from pocknet.training_data import PointDataset, load_embeddings, load_split
from training_fixtures import PROTEINS, tiny_training_params, write_h5


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory):
    path = write_tiny_esm2_checkpoint(tmp_path_factory.mktemp("esm") / "esm2_t2_tiny.pt")
    embedder = EsmEmbedder(EmbeddingConfig(model=str(path)))
    return lambda sequence: embedder.embed([sequence])[0]


@pytest.mark.parametrize("fusion", [False, True], ids=["tabular", "fusion"])
def test_predict_scores_equal_h5_row_scores(tmp_path, p2rank_test, tiny_embedder, fusion):
    h5 = write_h5(tmp_path / "set.h5", p2rank_test, embed=tiny_embedder if fusion else None)
    module, _, data = fit(h5, tiny_training_params(tmp_path, max_epochs=1))
    report = validation_report(module.model, data, "iou")
    with H5Reader(h5) as reader:
        bundle = export_model(module, reader, report, {}, {"stage": "test"})
        rows = load_split(reader, "val")
        dataset = PointDataset(rows, load_embeddings(reader))
        module.model.eval()
        with torch.no_grad():
            h5_scores = torch.sigmoid(module.model(dataset.__getitems__(range(len(dataset))))).numpy()
    predictor = Predictor(bundle=bundle, embed=tiny_embedder if fusion else None)
    val_file = next(rel for rel, split in PROTEINS.items() if split == "val")
    prediction = predictor.predict_file(p2rank_test / val_file)
    assert prediction.probabilities.shape == h5_scores.shape
    np.testing.assert_allclose(prediction.probabilities, h5_scores, atol=1e-5)
    assert prediction.threshold == bundle["threshold"]
