"""Kept seed runs (``benchmarks/seeds/``) re-finalized with the pocket rescorer, then evaluated.

A kept run holds its shipped-candidate model (``final_model.pt``) but not the training outputs
the finalize stage reads, so its DVC stages cannot re-run from the cache of another session. This
script repeats what the finalize → inference → reporting stages do after the candidate is picked,
with the same functions and the committed ``params.yaml``: the pocket rescorer on the training
proteins' pockets (kept if validation DCA top-n rises), calibration on validation, predictions for
the test and external sets, and the reporting stage's evaluator. The pocket seed thresholds stay
those each run's finalize stage chose on validation (in its model file). Nothing is chosen on a
test or external set.

Usage: python benchmarks/refinalize_seeds.py benchmarks/seeds/seed-13 [...] -o /tmp/refinalized
       (from the repository root, after ``dvc repro`` of the data stages: features, splits,
       external homologues)
       python benchmarks/refinalize_seeds.py --summary -o /tmp/refinalized
Writes ``OUT/<run>/metrics.json`` and prints one row per run; ``--summary`` prints the mean ±
95 % t-interval half width and the range of each headline number over the runs in ``OUT``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from validation_pockets import feature_loaders

from pocknet.evaluate.seeds import t_interval
from pocknet.featurize.descriptor_columns import DESCRIPTOR_NAMES
from pocknet.model.files import load_model
from pocknet.pipelines.reporting.nodes import evaluate_predictions
from pocknet.predict.inference import plan_predictions, write_predictions
from pocknet.train.finalize import FinalizeConfig, calibrate_bundle
from pocknet.train.pocket_rescorer import RescorerSettings, resolve_pocket_rescorer

SETS = ("bu48/holo", "bu48/apo", "coach420/structures", "coach420/structures (unseen)")
KEYS = ("dca_top_n", "dca_top_n2", "dca_success_at_1")


def refinalize(
    run: Path, params: dict, features: dict, splits: pd.DataFrame, homologues: pd.DataFrame
) -> dict:
    _, bundle = load_model(run / "data/05_models/final_model.pt", feature_names=DESCRIPTOR_NAMES)
    bundle = bundle.replace(calibration=None, pocket_rescorer=None)
    config = FinalizeConfig.from_params(params["finalize"])
    rescoring = resolve_pocket_rescorer(bundle, features, splits, config.pocket_rescoring,
                                        RescorerSettings.from_params(config.pocket_rescorer))  # fmt: skip
    final, _, _ = calibrate_bundle(
        {"selected": bundle}, features, splits, bundle.pockets, config, rescoring["rescorer"]
    )
    with tempfile.TemporaryDirectory() as tmp:
        write_predictions(
            plan_predictions(final, features, splits, params["reporting"]["splits"], "csv"), tmp
        )
        reporting = {**params["reporting"], "predictions_dir": tmp}
        metrics, *_ = evaluate_predictions(pd.read_csv(Path(tmp) / "pockets.csv"), features, splits, final, reporting,
                                           params["data_engineering"], homologues)  # fmt: skip
    return {"rescoring": rescoring["metrics"], "evaluation": metrics}


def summary(out: Path) -> None:
    """Markdown rows: metric | runs | mean ± 95 % half width | min – max (percent)."""
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*/metrics.json"))]
    rows = [("validation DCA top-n (as shipped)", [r["rescoring"]["val_dca_top_n_rescored" if r["rescoring"]["used"]
                                                     else "val_dca_top_n_score_order"] for r in results]),
            ("validation success@1 (as shipped)", [r["rescoring"]["val_dca_success_at_1_rescored" if r["rescoring"]["used"]
                                                     else "val_dca_success_at_1_score_order"] for r in results])]  # fmt: skip
    rows += [(f"{s} {k}", [r["evaluation"][s][k] for r in results]) for s in SETS for k in KEYS]
    print(f"rescorer kept in {sum(r['rescoring']['used'] for r in results)} of {len(results)} runs")
    for name, values in rows:
        mean, half = t_interval(values)
        print(
            f"| {name} | {len(values)} | {100 * mean:.1f} ± {100 * half:.1f} % | "
            f"{100 * min(values):.1f} – {100 * max(values):.1f} % |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path)
    parser.add_argument("-o", "--out", type=Path, required=True)
    parser.add_argument("--summary", action="store_true")
    args = parser.parse_args()
    if args.summary:
        summary(args.out)
        return 0
    params = yaml.safe_load(Path("params.yaml").read_text())
    splits = pd.read_csv("data/04_h5/splits.csv")
    homologues = pd.read_csv("data/04_h5/external_homologues.csv")
    root = Path("data/02_features/proteins")
    features = feature_loaders(root, [pid for pid in splits["protein"] if (root / f"{pid}.npz").is_file()])
    for run in args.runs:
        result = refinalize(run, params, features, splits, homologues)
        out = args.out / run.name
        out.mkdir(parents=True, exist_ok=True)
        (out / "metrics.json").write_text(json.dumps(result, indent=2, default=float))
        r, e = result["rescoring"], result["evaluation"]
        print(
            run.name,
            "rescorer used" if r["used"] else "rescorer not used",
            f"val top-n {r.get('val_dca_top_n_score_order', float('nan')):.4f} -> "
            f"{r.get('val_dca_top_n_rescored', float('nan')):.4f}",
            *(f"{s}: " + "/".join(f"{e[s][k]:.4f}" for k in KEYS) for s in SETS if s in e),
            sep=" | ",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
