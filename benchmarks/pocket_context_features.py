"""Do per-pocket numbers about a pocket's surroundings help the pocket rescorer? Training CV first.

The shipped rescorer (:mod:`pocknet.predict.pocket_rescoring`) sees each pocket through its own
points: score, size, mean/max p, the pocket means of the descriptors. It does not see how buried
the pocket's centre is, where it lies in the protein, how its score compares with pockets nearby,
or whether it sits between chains. This study adds candidate groups of such numbers and asks
5-fold cross-validation on the *training* proteins (folds by sequence-cluster group, as
``benchmarks/pocket_rescoring.py`` protocol 2) which set gives the best DCA top-n of the held-out
proteins' re-ranked pockets, the shipped tree settings throughout.

Decision rule, fixed before the first run: the candidate with the best CV DCA top-n is chosen (the
shipped 44 features are a candidate too). If it is not the shipped set, it is fitted on every
training pocket and read on validation once, next to the shipped set; it replaces the shipped set
only if it beats it on validation DCA top-n (the finalize stage's own gate then still compares
with Σ p² order). No test or external set is read.

Usage: python benchmarks/pocket_context_features.py MODEL [--cache /tmp/pocket_context.pkl]
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pocket_rescoring import group_folds, outcomes, shipped_keys, split_ids
from validation_pockets import add_data_arguments, feature_loaders, raw_predictor

from pocknet.evaluate.stats import mcnemar
from pocknet.featurize.descriptor_columns import DESCRIPTOR_NAMES
from pocknet.featurize.features import relevant_ligand_atoms
from pocknet.predict.pocket_rescoring import POCKET_STRUCTURE_NAMES, pocket_feature_names, pocket_features
from pocknet.predict.predictor import Predictor
from pocknet.progress import progress
from pocknet.train.pocket_rescorer import RescorerSettings, fit_pocket_rescorer

CV_FOLDS = 5
# 30 near-uniform directions (Fibonacci sphere) for the ray buriedness of a pocket centre
_N_RAYS = 30


def _directions(n: int) -> np.ndarray:
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = np.pi * (1 + 5**0.5) * i
    r = np.sqrt(1 - z**2)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


RAYS = _directions(_N_RAYS)

GROUPS = {
    "buried": ("log_atoms_8", "log_atoms_12", "ray_buriedness"),
    "position": ("centroid_distance",),
    "shape": ("pocket_spread",),
    "neighbours": ("log_rank", "log_pockets", "nearest_pocket", "nearest_better_pocket"),
    "chains": POCKET_STRUCTURE_NAMES,  # chosen: now computed by pocket_features itself
    "surroundings": ("mean_p_near", "member_share_near"),
}
EXTRA_NAMES = tuple(n for group, names in GROUPS.items() if group != "chains" for n in names)


def context_features(pockets, features, probabilities: np.ndarray) -> np.ndarray:
    """[K, len(EXTRA_NAMES)] numbers about each pocket's surroundings (pure numpy + KD-trees)."""
    from scipy.spatial import cKDTree

    k = len(pockets)
    out = np.zeros((k, len(EXTRA_NAMES)))
    if k == 0:
        return out
    centres = np.stack([p.centre for p in pockets]).astype(np.float64)
    atoms = features.atom_coords.astype(np.float64)
    atom_tree = cKDTree(atoms)
    near8 = atom_tree.query_ball_point(centres, 8.0, return_length=True)
    near12 = atom_tree.query_ball_point(centres, 12.0, return_length=True)
    blocked = np.zeros(k)
    for i, neighbours in enumerate(atom_tree.query_ball_point(centres, 12.0)):
        v = atoms[neighbours] - centres[i]
        along = v @ RAYS.T  # [M, R]
        across2 = (v**2).sum(1)[:, None] - along**2
        blocked[i] = np.mean(((along > 0) & (across2 < 2.0**2)).any(axis=0))
    centroid = atoms.mean(0)
    gyration = np.sqrt(((atoms - centroid) ** 2).sum(1).mean())
    points = features.points.astype(np.float64)
    spread = np.array([np.sqrt(((points[p.point_indices] - points[p.point_indices].mean(0)) ** 2).sum(1).mean())
                       for p in pockets])  # fmt: skip
    scores = np.array([p.score for p in pockets])
    rank = np.empty(k)
    rank[np.argsort(-scores, kind="stable")] = np.arange(1, k + 1)
    d = np.linalg.norm(centres[:, None] - centres[None], axis=2)
    np.fill_diagonal(d, np.inf)
    nearest = np.minimum(d.min(1), 30.0)
    better = np.where(scores[None, :] > scores[:, None], d, np.inf)
    nearest_better = np.minimum(better.min(1), 30.0)
    point_tree = cKDTree(points)
    near_points = point_tree.query_ball_point(centres, 8.0)
    mean_p_near = np.array([probabilities[n].mean() if n else 0.0 for n in near_points])
    member_share = np.array([np.isin(n, p.point_indices).mean() if n else 0.0
                             for n, p in zip(near_points, pockets, strict=True)])  # fmt: skip
    columns = {
        "log_atoms_8": np.log1p(near8),
        "log_atoms_12": np.log1p(near12),
        "ray_buriedness": blocked,
        "centroid_distance": np.linalg.norm(centres - centroid, axis=1) / max(gyration, 1e-6),
        "pocket_spread": spread,
        "log_rank": np.log(rank),
        "log_pockets": np.full(k, np.log(k)),
        "nearest_pocket": nearest,
        "nearest_better_pocket": nearest_better,
        "mean_p_near": mean_p_near,
        "member_share_near": member_share,
    }
    return np.stack([columns[n] for n in EXTRA_NAMES], axis=1)


@dataclass(frozen=True)
class Example:
    protein: str
    features: np.ndarray  # [K, pocket_feature_names + EXTRA_NAMES]
    centres: np.ndarray
    ligands: list

    @property
    def hits(self) -> np.ndarray:
        from pocknet.predict.calibration import pocket_hits

        return pocket_hits(self.centres, self.ligands)


def collect(predictor: Predictor, loaders, ids: list[str], desc: str) -> list[Example]:
    out = []
    for pid in progress(ids, total=len(ids), desc=desc, unit="protein"):
        features = loaders[pid]()
        ligands = relevant_ligand_atoms(features)
        if not ligands:
            continue
        prediction = predictor.predict_features(features)
        pockets = prediction.pockets
        base = pocket_features(
            pockets,
            prediction.raw_probabilities,
            features.descriptors,
            features.descriptor_names,
            features.residue_chain,
        )
        extra = context_features(pockets, features, prediction.raw_probabilities)
        out.append(Example(pid, np.concatenate([base, extra], axis=1),
                           np.stack([p.centre for p in pockets]) if pockets else np.zeros((0, 3)), ligands))  # fmt: skip
    return out


def subset(examples: list[Example], columns: np.ndarray) -> list[Example]:
    return [Example(e.protein, e.features[:, columns], e.centres, e.ligands) for e in examples]


def fit(examples: list[Example], names):
    x = np.concatenate([e.features for e in examples])
    y = np.concatenate([e.hits for e in examples])
    return fit_pocket_rescorer(x, y, names, RescorerSettings()).logits


def keys(scorer, examples: list[Example]) -> list[np.ndarray]:
    return [scorer(e.features) if len(e.centres) else np.zeros(0) for e in examples]


def cv_top_n(train: list[Example], folds: np.ndarray, names) -> float:
    hits = []
    for k in range(CV_FOLDS):
        inside = [t for t, f in zip(train, folds, strict=True) if f != k]
        held = [t for t, f in zip(train, folds, strict=True) if f == k]
        hits.append(outcomes(held, keys(fit(inside, names), held))[0])
    return float(np.concatenate(hits).mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/pocket_context.pkl"))
    add_data_arguments(parser)
    args = parser.parse_args()
    if args.cache.exists():
        cached = pickle.loads(args.cache.read_bytes())
    else:
        bundle = raw_predictor(args.model).bundle.replace(pocket_rescorer=None)
        predictor = Predictor(bundle=bundle)
        cached = {}
        for split in ("train", "val"):
            ids = split_ids(args.splits, split)
            cached[split] = collect(predictor, feature_loaders(args.features, ids), ids, split)
        args.cache.write_bytes(pickle.dumps(cached))
    train, val = cached["train"], cached["val"]
    all_names = pocket_feature_names(DESCRIPTOR_NAMES) + EXTRA_NAMES
    base_names = tuple(n for n in pocket_feature_names(DESCRIPTOR_NAMES) if n not in POCKET_STRUCTURE_NAMES)
    candidates = {"shipped 44": base_names}
    for group, names in GROUPS.items():
        candidates[f"+{group}"] = base_names + names
    candidates["+all"] = base_names + tuple(n for names in GROUPS.values() for n in names)
    folds = group_folds(train, args.splits)
    cv = {"score order": float(outcomes(train, shipped_keys(train))[0].mean())}
    columns = {}
    for label, names in candidates.items():
        columns[label] = np.array([all_names.index(n) for n in names])
        cv[label] = cv_top_n(subset(train, columns[label]), folds, names)
        print(f"cv {label}: {cv[label]:.4f}", file=sys.stderr, flush=True)
    chosen = max(candidates, key=lambda c: cv[c])  # first best, in the order above
    report = {"train_proteins": len(train), "val_proteins": len(val), "cv_dca_top_n": cv, "chosen": chosen}
    if chosen != "shipped 44":
        base = outcomes(val, shipped_keys(val))
        rows = {}
        for label in ("shipped 44", chosen):
            scorer = fit(subset(train, columns[label]), candidates[label])
            rows[label] = outcomes(val, keys(scorer, subset(val, columns[label])))
        report["validation"] = {
            "score order": {"dca_top_n": float(base[0].mean()), "dca_top_n2": float(base[1].mean()),
                            "success_at_1": float(base[2].mean())},
            **{label: {"dca_top_n": float(got[0].mean()), "dca_top_n2": float(got[1].mean()),
                       "success_at_1": float(got[2].mean())} for label, got in rows.items()},
            "mcnemar_dca_top_n": mcnemar(rows["shipped 44"][0], rows[chosen][0], ("shipped 44", chosen)),
            "mcnemar_success_at_1": mcnemar(rows["shipped 44"][2], rows[chosen][2], ("shipped 44", chosen)),
        }  # fmt: skip
    print(json.dumps(report, indent=2, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
