"""Featurise → score → pockets for one structure: the path `pocknet predict` and inference share.

Scoring reuses the training batch builder (:class:`pocknet.trainset.arrays.PointDataset`)
on the same feature arrays the data_engineering stage writes, with residue
embeddings stored as float16 exactly as in the H5 file, so a protein scores
identically here and from its H5 rows (tested).

Predicted structures (AlphaFold, ESMFold: pLDDT in the B-factor column) are scored by the
bundled model trained without ``bfactor`` when the bundled default is in use and that model is
installed (:mod:`pocknet.predict.bundled`); it is loaded on the first predicted structure only.
"""

from __future__ import annotations

import enum
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from pocknet.predict.calibration import calibration_note, calibrators
from pocknet.featurize.descriptor_columns import BFACTOR_COLUMN
from pocknet.featurize.descriptors import DESCRIPTOR_NAMES, exposed_atoms
from pocknet.errors import ConfigError, PockNetError
from pocknet.featurize.features import FeaturizeConfig, ProteinFeatures, featurize
from pocknet.model.files import ModelBundle, load_model
from pocknet.predict.bundled import DEFAULT_MODEL, PREDICTED_MODEL, default_model_path, predicted_model_path
from pocknet.trainset.neighbours import nearest_residues
from pocknet.predict.pockets import PocketConfig, find_pockets
from pocknet.predict.pocket_rescoring import PocketRescorer, pocket_feature_names, rescore, rescorer_columns
from pocknet.predict.residues import residue_pocket_ranks, residue_scores, zscores
from pocknet.predict.prediction import Prediction
from pocknet.embed.residue_chains import protein_residue_embeddings
from pocknet.structure.reader import load_structure
from pocknet.trainset.arrays import ContextSpec, PointDataset, SplitArrays, context_spec, select_features, with_context

__all__ = ["BUNDLED", "DEFAULT_MODEL", "default_model_path", "Predictor", "features_batch_arrays"]

_SCORE_CHUNK = 65536
# Context models gather [chunk, context_k, ·] tensors: smaller chunks keep a 150 000-point complex
# within ~100 MB of activations (rows are scored independently, so chunking never changes a score).
_CONTEXT_CHUNK = 8192


class _Lookup(enum.Enum):
    BUNDLED = "bundled"


#: ``Predictor(predicted_model=...)`` default: ``$POCKNET_PREDICTED_MODEL``, else the bundled one.
BUNDLED = _Lookup.BUNDLED


def features_batch_arrays(
    features: ProteinFeatures,
    k: int,
    neighbour_distance: str,
    context: ContextSpec | None = None,
    feature_names: Sequence[str] | None = None,
) -> SplitArrays:
    """The per-point arrays training reads from the H5, built from one protein's features.

    With ``context`` (spatial-context models) the context points come from the same function as
    in training (:func:`pocknet.trainset.arrays.with_context`) on the same float32 coordinates;
    ``feature_names`` (the model's) picks the descriptor columns as training did
    (:func:`pocknet.trainset.arrays.select_features`).
    """
    if k > 0:
        neighbours, distances = nearest_residues(features, k, neighbour_distance)
    else:
        neighbours = np.zeros((features.n_points, 0), np.int64)
        distances = np.zeros((features.n_points, 0), np.float32)
    arrays = SplitArrays(
        tabular=select_features(features.descriptors.astype(np.float32), features.descriptor_names, feature_names),
        label=features.labels.astype(np.int8),
        protein=np.zeros(features.n_points, np.int32),
        residue=features.point_residue.astype(np.int64),
        neighbours=neighbours.astype(np.int64),
        neighbour_dist=distances.astype(np.float32),
    )
    return with_context(arrays, features.points, [0, features.n_points], context)


class Predictor:
    """A loaded model with everything needed to predict pockets on new structures.

    Parameters
    ----------
    model_path
        A PockNet model file; the bundled default when ``None``.
    device
        ``cpu`` or ``cuda``.
    embed
        For fusion models: ``sequence -> [L, D]`` embeddings; built from the
        model's recorded ESM2 name on first use when ``None``.
    predicted_model
        With the bundled default only (no ``model_path``, no ``bundle``): the model for predicted
        structures, loaded on first use; :data:`BUNDLED` looks it up
        (:func:`pocknet.predict.bundled.predicted_model_path`), ``None``: none (the default model
        scores them, with a note). A model the caller chose scores every structure.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        device: str = "cpu",
        embed: Callable[[str], np.ndarray] | None = None,
        bundle: ModelBundle | None = None,
        predicted_model: str | Path | None | _Lookup = BUNDLED,
    ) -> None:
        if bundle is not None:  # an in-memory bundle (pipeline stages)
            self.path = Path(model_path or "<in memory>")
            self.model, self.bundle = bundle.network(), bundle
        else:
            self.path = Path(model_path) if model_path else default_model_path()
            self.model, self.bundle = load_model(self.path, feature_names=DESCRIPTOR_NAMES)
        if device == "cuda" and not torch.cuda.is_available():
            raise ConfigError("--device cuda: no CUDA device is available")
        self.device = torch.device(device)
        self.model.to(self.device)
        try:  # settings recorded in the file: a malformed one must name the file, not end in a traceback
            self.featurize_config = FeaturizeConfig.from_params(self.bundle.featurize_config)
            self.pocket_config = PocketConfig.from_params(self.bundle.pockets)
            calibration = self.bundle.calibration
            # level → callable or None; old model files hold only the pocket calibrator
            self.calibrators = calibrators(calibration)
            self.calibrator = self.calibrators["pocket"]
            rescorer = self.bundle.pocket_rescorer
            self.rescorer = None if rescorer is None else PocketRescorer.from_dict(rescorer)
            if self.rescorer is not None:  # fail at load, not on every structure
                rescorer_columns(self.rescorer.feature_names, pocket_feature_names(DESCRIPTOR_NAMES))
            self._calibration_notes = tuple(n for n in [calibration_note(calibration)] if n)
        except PockNetError as exc:
            raise PockNetError(f"{self.path}: model settings: {exc}") from exc
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            raise PockNetError(f"{self.path}: not a PockNet model file (bad settings: {exc})") from exc
        self._embed = embed
        self.name = str(self.bundle.provenance.get("name", self.path.stem))
        self.switches = bundle is None and model_path is None
        if not self.switches:
            self.predicted_model_path: Path | None = None
        elif predicted_model is BUNDLED:
            self.predicted_model_path = predicted_model_path()
        else:
            self.predicted_model_path = Path(predicted_model) if predicted_model else None
        self._predicted: Predictor | None = None

    def for_kind(self, kind: str) -> tuple[Predictor, tuple[str, ...]]:
        """The predictor that scores a structure of ``kind``, and notes that say which and why."""
        if kind != "predicted":
            return self, ()
        if self.predicted_model_path is None:
            return self, self._predicted_notes(fallback=self.switches)
        if self._predicted is None:  # the first predicted structure loads it; batch workers otherwise never do
            self._predicted = Predictor(self.predicted_model_path, device=self.device.type, predicted_model=None)
        return self._predicted, self._predicted._predicted_notes(fallback=False)

    def _predicted_notes(self, fallback: bool) -> tuple[str, ...]:
        if BFACTOR_COLUMN not in self.bundle.feature_names:
            left_out = [n for n in DESCRIPTOR_NAMES if n not in self.bundle.feature_names]
            return (f"scored by model {self.name}, trained without {', '.join(left_out)}",)
        read = "the B-factor column (pLDDT in predicted structures) as crystallographic B-factors"
        if fallback:
            return (f"no model without {BFACTOR_COLUMN} is installed ({PREDICTED_MODEL}): the default model read {read}",)
        return (f"model {self.name} read {read}",)

    @property
    def uses_embeddings(self) -> bool:
        return self.bundle.embedding_model != "none"

    def load_embedder(self) -> None:
        """Build the ESM2 embedder now rather than on the first structure (fusion models only).

        A batch worker calls this before measuring its memory baseline, so the
        ESM2 weights count as part of the model, not against ``--max-memory``.
        """
        if self.uses_embeddings and self._embed is None:
            from pocknet.embed.config import EmbeddingConfig
            from pocknet.embed.embedder import EsmEmbedder

            embedder = EsmEmbedder(
                EmbeddingConfig(model=self.bundle.embedding_model, layer=self.bundle.embedding_layer)
            )
            self._embed = lambda sequence: embedder.embed([sequence])[0]

    def _embedding_table(self, features: ProteinFeatures) -> torch.Tensor | None:
        if not self.uses_embeddings:
            return None
        self.load_embedder()
        table = protein_residue_embeddings(features, self._embed)
        return torch.from_numpy(table.astype(np.float16))  # stored as float16 in the H5, too

    @torch.no_grad()
    def logits_and_scores(self, features: ProteinFeatures) -> tuple[np.ndarray, np.ndarray]:
        """(logits, point probabilities) of the network, both [P] float32.

        The probabilities are the model's own (the threshold's scale), not calibrated.
        """
        if features.n_points == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.float32)
        arrays = features_batch_arrays(features, self.bundle.k if self.uses_embeddings else 0,
                                       self.bundle.neighbour_distance, context_spec(self.model.config),
                                       self.bundle.feature_names)  # fmt: skip
        dataset = PointDataset(arrays, self._embedding_table(features))
        self.model.eval()
        logits, out = [], []
        chunk = _CONTEXT_CHUNK if self.model.uses_context else _SCORE_CHUNK
        for start in range(0, len(dataset), chunk):
            batch = dataset.__getitems__(range(start, min(start + chunk, len(dataset))))
            batch = {k: v.to(self.device) for k, v in batch.items()}
            z = self.model(batch)
            logits.append(z.float().cpu())
            out.append(torch.sigmoid(z).float().cpu())
        return torch.cat(logits).numpy(), torch.cat(out).numpy()

    def score(self, features: ProteinFeatures) -> np.ndarray:
        """Point probabilities of the network [P] float32 (uncalibrated: the threshold's scale)."""
        return self.logits_and_scores(features)[1]

    def predict_features(
        self,
        features: ProteinFeatures,
        threshold: float | None = None,
        name: str | None = None,
        scored: tuple[np.ndarray, np.ndarray] | None = None,
        structure_kind: str | None = None,
    ) -> Prediction:
        """Pockets and residue scores from the model probabilities; calibrated probabilities to read.

        ``threshold``: points at or above it seed pockets (default: the model's pocket seed
        threshold, :meth:`pocknet.predict.pockets.PocketConfig.seed_for`);
        ``scored``: the (logits, probabilities) of :meth:`logits_and_scores`, when already computed;
        ``structure_kind``: recorded in the prediction (None: unknown, as for stored features).
        """
        start = time.perf_counter()
        logits, probabilities = self.logits_and_scores(features) if scored is None else scored
        threshold = float(self.pocket_config.seed_for(self.bundle.threshold) if threshold is None else threshold)
        exposed = exposed_atoms(features.points, features.atom_coords, self.featurize_config.descriptors.exposed_distance)
        pockets = find_pockets(
            features.points, probabilities, threshold, features.atom_coords, features.atom_residue,
            exposed, self.pocket_config, calibrator=None if self.rescorer is not None else self.calibrator,
        )  # fmt: skip
        if self.rescorer is not None:  # its calibrator maps the rescorer's logits
            pockets = rescore(pockets, self.rescorer, probabilities, features.descriptors, features.descriptor_names,
                              features.residue_chain, self.calibrator)  # fmt: skip
        n_residues = len(features.residue_chain)
        score, best = residue_scores(
            features.points, probabilities, features.atom_coords, features.atom_residue, n_residues,
            radius=self.pocket_config.residue_score_radius,
        )  # fmt: skip
        point_calibrator, residue_calibrator = self.calibrators["point"], self.calibrators["residue"]
        return Prediction(
            name=name or features.name,
            features=features,
            probabilities=(
                probabilities if point_calibrator is None else point_calibrator(logits).astype(np.float32)
            ),
            threshold=threshold,
            pockets=pockets,
            residue_score=score,
            residue_zscore=zscores(score),
            residue_probability=best if residue_calibrator is None else residue_calibrator(score),
            residue_pocket=residue_pocket_ranks(pockets, n_residues),
            model_name=self.name,
            seconds=time.perf_counter() - start,
            notes=self._calibration_notes,
            model_probabilities=probabilities,
            structure_kind=structure_kind,
        )

    def predict_file(
        self,
        path: str | Path,
        chains: Sequence[str] | None = None,
        threshold: float | None = None,
        name: str | None = None,
        structure_kind: str = "auto",
    ) -> Prediction:
        """Featurise exactly as the data_engineering stage did for training, then predict.

        What the reader accepted but flagged (no END record, a CA-only model, a predicted
        structure) joins the prediction's notes, so the user sees it in the outputs.
        ``structure_kind``: auto (the file's header decides), experimental or predicted; it
        picks the model (:meth:`for_kind`).
        """
        start = time.perf_counter()
        selected = tuple(chains) if chains else None
        rules = self.featurize_config.ligands
        structure = load_structure(path, chains=selected, ligand_rules=rules, kind=structure_kind)
        chosen, kind_notes = self.for_kind(structure.kind)
        cfg = chosen.featurize_config
        if cfg.ligands != rules:  # the other model was featurised with other ligand rules
            structure = load_structure(path, chains=selected, ligand_rules=cfg.ligands, kind=structure_kind)
        prediction = chosen.predict_features(
            featurize(structure, cfg), threshold=threshold, name=name, structure_kind=structure.kind
        )
        object.__setattr__(prediction, "notes", prediction.notes + structure.notes + kind_notes)
        object.__setattr__(prediction, "seconds", time.perf_counter() - start)
        return prediction

    def info(self) -> dict[str, Any]:
        b = self.bundle
        return {
            "path": str(self.path),
            "embedding_model": b.embedding_model,
            "threshold": b.threshold,
            "pocket_seed_threshold": self.pocket_config.seed_for(b.threshold),
            "pocket_second_seed_threshold": self.pocket_config.second_seed_for(self.pocket_config.seed_for(b.threshold)),
            "pocket_rescorer": f"{self.rescorer.n_trees} trees" if self.rescorer is not None else None,
            "params_hash": b.params_hash[:12],
            "validation": {k: b.metrics.get(k) for k in ("pr_auc", "roc_auc", "iou")},
            "predicted_model": str(self.predicted_model_path) if self.predicted_model_path else None,
        }
