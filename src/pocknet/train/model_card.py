"""Ship a trained model inside the package, with a model card written from its own metadata.

``python -m pocknet.train.model_card MODEL_FILE`` copies the file to
``src/pocknet/models/pocknet_default.pt`` and writes ``MODEL_CARD.md`` beside it;
``--predicted`` ships a model trained without ``bfactor.bfactor`` (``training.exclude_features``)
as ``pocknet_predicted.pt`` with ``MODEL_CARD_predicted.md``, the model ``pocknet predict``
uses for predicted structures (AlphaFold, ESMFold).
Every number in the card is read from the model file (validation metrics,
parameter hash, provenance), none is typed by hand.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
from pathlib import Path
from typing import Any, Mapping

from pocknet.atomic import atomic_path, atomic_write
from pocknet.errors import PockNetError
from pocknet.featurize.descriptor_columns import BFACTOR_COLUMN, DESCRIPTOR_NAMES
from pocknet.model.files import ModelBundle, load_model
from pocknet.predict.bundled import DEFAULT_MODEL, PREDICTED_MODEL
from pocknet.predict.pocket_config import PocketConfig

__all__ = ["render_model_card", "ship"]

PACKAGE_MODELS = Path(__file__).parents[1] / "models"


def _fmt(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _calibration_lines(bundle: ModelBundle) -> list[str]:
    """What each probability means, how it was calibrated on validation, and its ECE."""
    calibration = bundle.calibration or {}
    prov = bundle.provenance
    if "method" in calibration:  # older files: the pocket calibrator only
        return [
            (
                f"- Pocket probability: {calibration['method']} calibration on "
                f"{prov.get('calibration_pockets', 0)} validation pockets (DCA ≤ 4 Å); "
                "point and residue probabilities are not calibrated"
            ),
        ]
    if not calibration:
        return ["- Probabilities: not calibrated"]
    lines = [
        (
            "- Probabilities, calibrated on validation proteins only (ECE: 10 equal-width bins; "
            "in sample / cross-fitted, 5 folds by protein):"
        ),
    ]
    for level in ("point", "residue", "pocket"):
        stats = (calibration.get("ece") or {}).get(level) or {}
        target = (calibration.get("targets") or {}).get(level, "")
        if not calibration.get(level):
            lines.append(f"  - {level}: not calibrated (no validation data)")
            continue
        ece = "/".join("-" if stats.get(k) is None else f"{stats[k]:.3f}"
                       for k in ("ece_val_in_sample", "ece_val_cross_fitted"))  # fmt: skip
        lines.append(f"  - {level} ({target}): {calibration[level]['method']} on {stats.get('n', '?')} "
                     f"validation samples, ECE {ece}")  # fmt: skip
    return lines


def _context_note(cfg: Mapping[str, Any]) -> str:
    """The spatial-context branch in words (empty for the per-point model, as on older cards)."""
    if cfg.get("context", "none") == "none":
        return ""
    return (f"; spatial context {cfg['context']} ({cfg['context_k']} points within {cfg['context_radius']} Å, "
            f"stride {cfg['context_stride']}, {cfg['context_layers']} layers)")  # fmt: skip


def _features_line(bundle: ModelBundle) -> str:
    """How many descriptors the model reads and, when some were left out, which."""
    line = f"- Features: {len(bundle.feature_names)} P2Rank-style SAS-point descriptors"
    left_out = [name for name in DESCRIPTOR_NAMES if name not in bundle.feature_names]
    return line + (f" (excluded: {', '.join(left_out)})" if left_out else "")


def render_model_card(
    bundle: ModelBundle, sha256: str, size: int, training_data: str, file_name: str = DEFAULT_MODEL
) -> str:
    metrics = bundle.metrics
    prov = bundle.provenance
    cfg = bundle.model_config
    predicted = file_name == PREDICTED_MODEL
    use = ["`pocknet predict` scores AlphaFold/ESMFold models with it: their B-factor column holds pLDDT."]
    lines = [
        "# PockNet model for predicted structures" if predicted else "# PockNet default model",
        "",
        "Tabular-only PockNet (no ESM2 embeddings, so it runs without language-model weights), trained",
        "by this project's own pipeline (`dvc repro`: the finalize stage picks and calibrates it; committed `params.yaml`).",
        *(use if predicted else []),
        "",
        f"- File: `{file_name}` ({size / 1024:.0f} KiB), sha256 `{sha256}`",
        f"- Training data: {training_data}",
        f"- Selected on validation: `{prov.get('selected', prov.get('stage'))}` "
        f"(best-epoch vs SWA by validation PR-AUC); SWA epochs {prov.get('epochs', '-')}",
        f"- Parameters hash: `{bundle.params_hash}`",
        f"- Network: hidden {cfg['hidden']}, {cfg['tabular_layers']} tabular layers, norm {cfg['norm']}, "
        f"head {cfg['head_layers']} layers, dropout {cfg['dropout']}{_context_note(cfg)}",
        _features_line(bundle),
        f"- Point threshold (maximises validation {bundle.threshold_criterion.upper()}): {bundle.threshold:.4f}",
        _seed_threshold_line(bundle),
        _rescorer_line(bundle),
        *_calibration_lines(bundle),
        "",
        "## Validation metrics (points of the validation proteins; never the test sets)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    for key in ("pr_auc", "roc_auc", "iou", "f1", "precision", "recall", "pr_auc_protein_mean",
                "iou_protein_mean", "prevalence", "n_points", "n_proteins"):  # fmt: skip
        if key in metrics:
            lines.append(f"| {key} | {_fmt(metrics[key])} |")
    lines += [
        "",
        "Test-set (BU48) and external (COACH420) results are produced by the reporting stage, not here.",
        "",
    ]
    return "\n".join(lines)


def _seed_threshold_line(bundle: ModelBundle) -> str:
    config = PocketConfig.from_params(bundle.pockets)
    seed = config.seed_for(bundle.threshold)
    second = config.second_seed_for(seed)
    if not isinstance(config.seed_threshold, float):
        line = "- Pocket seed threshold: the point threshold"
    else:
        line = f"- Pocket seed threshold (maximises validation DCA top-n; points at or above it seed pockets): {seed:.4f}"
    if second is None:
        return line + "; no second level"
    order = "ranked with them by the pocket rescorer" if bundle.pocket_rescorer is not None else "ranked after them"
    return line + f"; second level {second:.4f} (its pockets that share no point with the first level's are {order})"


def _rescorer_line(bundle: ModelBundle) -> str:
    numbers = bundle.provenance.get("pocket_rescoring") or {}
    if bundle.pocket_rescorer is None:
        why = " (validation DCA top-n did not rise)" if numbers.get("train_pockets") else ""
        return f"- Pocket ranking: by score (Σ p²; level-1 pockets first){why}"
    line = (f"- Pocket ranking: a pocket rescorer ({numbers.get('trees', '?')} gradient-boosted trees over per-pocket "
            f"features, fitted on {numbers.get('train_pockets', '?')} pockets of the training proteins)")  # fmt: skip
    if "val_dca_top_n_rescored" in numbers:
        line += (f"; validation DCA top-n {numbers['val_dca_top_n_score_order']:.1%} by score → "
                 f"{numbers['val_dca_top_n_rescored']:.1%} rescored, success@1 "
                 f"{numbers['val_dca_success_at_1_score_order']:.1%} → {numbers['val_dca_success_at_1_rescored']:.1%}")
    return line


def ship(model_file: str | Path, training_data: str, dest: Path = PACKAGE_MODELS, predicted: bool = False) -> Path:
    """Copy the model into the package with its card; ``predicted``: as the predicted-structure model."""
    model_file = Path(model_file)
    _, bundle = load_model(model_file, feature_names=DESCRIPTOR_NAMES)
    if predicted and BFACTOR_COLUMN in bundle.feature_names:
        raise PockNetError(f"{model_file}: reads {BFACTOR_COLUMN}; train with training.exclude_features: [{BFACTOR_COLUMN}]")
    name = PREDICTED_MODEL if predicted else DEFAULT_MODEL
    target = dest / name
    with atomic_path(target) as tmp:
        shutil.copyfile(model_file, tmp)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    with atomic_write(dest / ("MODEL_CARD_predicted.md" if predicted else "MODEL_CARD.md")) as handle:
        handle.write(render_model_card(bundle, digest, target.stat().st_size, training_data, name))
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description="Ship a trained model as the package default.")
    parser.add_argument("model_file")
    parser.add_argument("--training-data", required=True,
                        help="the card's training-data line (the model file does not record its datasets)")
    parser.add_argument("--predicted", action="store_true",
                        help=f"ship as {PREDICTED_MODEL}, the model for predicted structures (no {BFACTOR_COLUMN})")
    args = parser.parse_args()
    print(f"wrote {ship(args.model_file, args.training_data, predicted=args.predicted)}")


if __name__ == "__main__":
    main()
