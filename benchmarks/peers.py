"""Peer comparison: every method's pocket centres scored by OUR evaluator on the same structures.

Methods
  pocknet     in process, ``Predictor().predict_file`` with the shipped model (loaded once).
  p2rank      P2Rank's published predictions (``coach420/predictions/p2rank/<file>_predictions.csv``);
              only where such files exist (COACH420); no time.
  fpocket-rs  ``fpocket_rs.detect_pockets`` (Rust fpocket port, default parameters); centre of a pocket
              = mean of its alpha-sphere centres (``pocknet.evaluate.readers.alpha_sphere_centres``, the
              definition ``pocknet evaluate --format fpocket`` reads fpocket's files with); in its
              documented order (``rank``, "ranked by score").
  fpocket-rs-size  the same pockets re-ranked by alpha-sphere count. fpocket-rs 0.1.0's own ranking
              puts large, real pockets last (all its scores are negative); on CHEN11, the training
              set (``--sets chen11``), ordering by size was the best of score, reversed score, drug
              score and size, so this variant is chosen there, never on BU48 or COACH420.
  pocketnet   ``pocketnet.PocketPredictor().predict`` (five-model ensemble, default settings,
              at most 10 pockets); centre = ``Pocket.center`` by rank (``readers.pocketnet_centres``,
              as ``pocknet evaluate --format pocketnet`` reads its ``*_pockets.json``).

Peers run as subprocesses through ``--peers-python`` (a separate virtualenv), one structure per
process, with a per-structure timeout; a crash or timeout is a failure with no pockets (it still
counts in the denominator). Peers get a protein-only copy of each structure (model 1, ATOM records
plus MSE; no ligands, waters or other HETATM), so that a holo ligand cannot fill the pocket.
All methods are limited to one thread.

Ligands: ``pocknet.evaluate.targets.relevant_ligand_atoms``, what ``pocknet evaluate`` scores against:
holo sets use ``load_structure(path).relevant_ligands``; BU48 apo uses the holo partner's relevant
ligands superposed by ``transfer_ligands`` (``bu48/pairs.csv``). Structures without relevant
ligands are skipped by ``evaluate_proteins`` (counted in ``skipped_no_ligand``).

Times: ``median_seconds`` = median per-structure time of the prediction call alone (structure read →
ranked pockets; interpreter start and model loading excluded); ``median_wall_seconds`` (peers only) =
the whole subprocess, interpreter start, imports and weight loading included.

Usage:
  python benchmarks/peers.py [--datasets ../shared/datasets] [--sets bu48-holo,bu48-apo,coach420]
      [--methods pocknet,p2rank,fpocket-rs,pocketnet] [--limit N] [--limit-method pocketnet=60]
      [--peers-python /tmp/peers-venv/bin/python] [--out benchmarks/peers_results.csv]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np

SETS = ("bu48-holo", "bu48-apo", "coach420")
EXTRA_SETS = ("chen11",)  # training set: only to choose how a peer's output is read
METHODS = ("pocknet", "p2rank", "fpocket-rs", "fpocket-rs-size", "pocketnet")
# A variant re-reads the cached output of its base method in another pocket order.
VARIANTS = {"fpocket-rs-size": "fpocket-rs"}
PEERS = ("fpocket-rs", "pocketnet")
COLUMNS = (
    "set", "method", "n_structures", "n_proteins", "n_ligands", "n_skipped_no_ligand",
    "dca_top_n", "dca_top_n2", "dcc_top_n", "dca_success_at_1", "failures",
    "median_seconds", "median_wall_seconds",
)

# Runs inside the peers virtualenv (no pocknet there): python -c RUNNER <method> <pdb>; the last stdout
# line is JSON with the peer's raw pockets, turned into centres here by pocknet.evaluate.readers.
RUNNER = r"""
import json, os, sys, time
method, path = sys.argv[1], sys.argv[2]
if method == "fpocket-rs":
    import fpocket_rs
    t = time.perf_counter()
    result = fpocket_rs.detect_pockets(path)
    seconds = time.perf_counter() - t
    pockets = [p for p in sorted(result["pockets"], key=lambda p: p["rank"]) if p["alpha_spheres"]]
    raw = {"spheres": [[[float(s[0]), float(s[1]), float(s[2])] for s in p["alpha_spheres"]] for p in pockets]}
elif method == "pocketnet":
    import logging
    logging.disable(logging.WARNING)
    import torch
    torch.set_num_threads(1)
    from pocketnet import PocketPredictor
    predictor = PocketPredictor("cpu")
    t = time.perf_counter()
    result = predictor.predict(path)
    seconds = time.perf_counter() - t
    raw = {"pockets": [{"rank": p.rank, "center": [float(v) for v in p.center]} for p in result.pockets]}
else:
    raise SystemExit("unknown method " + method)
print(json.dumps({**raw, "seconds": seconds}))
"""


def protein_only_pdb(src: Path, dst: Path) -> None:
    """Model 1, ATOM records and MSE HETATM only (what both peers treat as protein)."""
    out = []
    opener = gzip.open if src.suffix == ".gz" else open
    with opener(src, "rt") as handle:
        for line in handle:
            rec = line[:6]
            if rec == "ENDMDL":
                break
            if rec == "ATOM  " or (rec == "HETATM" and line[17:20] == "MSE") or rec.startswith("TER"):
                out.append(line if line.endswith("\n") else line + "\n")
    out.append("END\n")
    dst.write_text("".join(out))


def structures_of(datasets: Path, set_name: str) -> list[tuple[str, Path, Path | None]]:
    """(id, path, holo partner path or None) per structure of a set, in a fixed order."""
    if set_name == "bu48-holo":
        return [(p.stem, p, None) for p in sorted((datasets / "bu48" / "holo").glob("*.pdb"))]
    if set_name == "bu48-apo":
        with open(datasets / "bu48" / "pairs.csv") as handle:
            rows = list(csv.DictReader(handle))
        return [(r["apo"], datasets / "bu48" / r["apo_file"], datasets / "bu48" / r["holo_file"]) for r in rows]
    if set_name == "chen11":
        from pocknet.structure.datasets import read_ds

        return [(Path(e.id).name, e.path, None) for e in read_ds(datasets / "chen11" / "chen11.ds").entries]
    if set_name == "coach420":
        names = [line.split()[0] for line in (datasets / "coach420" / "coach420.ds").read_text().splitlines()
                 if line.strip() and not line.startswith(("#", "PARAM", "HEADER"))]
        return [(Path(n).name, datasets / "coach420" / n, None) for n in names]
    raise SystemExit(f"unknown set {set_name}; choose from {SETS + EXTRA_SETS}")


def ligands_of(path: Path, holo: Path | None) -> tuple[list[np.ndarray], str | None]:
    from pocknet.evaluate.targets import relevant_ligand_atoms

    try:
        return relevant_ligand_atoms(path, holo), None
    except Exception as exc:  # noqa: BLE001 - reported, the structure is evaluated with no ligands
        return [], f"{type(exc).__name__}: {exc}"


def run_peer(python: str, method: str, pdb: Path, timeout: float) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        proc = subprocess.run([python, "-c", RUNNER, method, str(pdb)], capture_output=True, text=True, check=False,
                              timeout=timeout, env={**os.environ, "CUDA_VISIBLE_DEVICES": ""})
    except subprocess.TimeoutExpired:
        return {"centres": [], "error": f"timeout after {timeout:.0f} s", "wall": time.perf_counter() - start}
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["(no stderr)"])[-1]
        return {"centres": [], "error": f"exit {proc.returncode}: {tail[:300]}", "wall": wall}
    try:
        data = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"centres": [], "error": f"unreadable output: {proc.stdout[-200:]!r}", "wall": wall}
    from pocknet.evaluate.readers import alpha_sphere_centres, pocketnet_centres

    if "spheres" in data:  # fpocket-rs: pockets with alpha spheres, in its order
        centres, sizes = alpha_sphere_centres(data["spheres"]), [len(s) for s in data["spheres"] if s]
    else:  # pocketnet
        centres, sizes = pocketnet_centres(data["pockets"]), None
    return {"centres": centres, "sizes": sizes, "seconds": data["seconds"], "wall": wall}


class PockNetRunner:
    def __init__(self) -> None:
        import torch

        from pocknet.predict.predictor import Predictor

        torch.set_num_threads(1)
        self.predictor = Predictor()

    def __call__(self, path: Path) -> dict[str, Any]:
        try:
            start = time.perf_counter()
            prediction = self.predictor.predict_file(path)
            seconds = time.perf_counter() - start
            return {"centres": [list(map(float, p.centre)) for p in prediction.pockets], "seconds": seconds}
        except Exception as exc:  # noqa: BLE001
            return {"centres": [], "error": f"{type(exc).__name__}: {exc}"}


def p2rank_centres(datasets: Path, path: Path) -> dict[str, Any]:
    from pocknet.evaluate.readers import Predictions

    centres = Predictions(datasets / "coach420" / "predictions" / "p2rank", "p2rank").centres(path)
    if centres is None:
        return {"centres": [], "error": f"no published prediction {path.name}_predictions.csv"}
    return {"centres": centres.tolist()}


def reordered(result: dict[str, Any], method: str) -> dict[str, Any]:
    """The view of a cached base-method result that ``method`` scores (a variant re-ranks it)."""
    if method not in VARIANTS or not result.get("centres"):
        return result
    order = np.argsort(-np.asarray(result["sizes"]), kind="stable")
    return {**result, "centres": [result["centres"][i] for i in order]}


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets")))
    parser.add_argument("--sets", default=",".join(SETS))
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--limit", type=int, default=None, help="first N structures per set")
    parser.add_argument("--limit-method", action="append", default=[],
                        help="METHOD=N or METHOD@SET=N: first N structures for that method (repeatable)")
    parser.add_argument("--peers-python", default="/tmp/peers-venv/bin/python")
    parser.add_argument("--timeout", type=float, default=120.0, help="per-structure timeout for peers (s)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/peers_results.csv"))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "pocknet-peers-cache",
                        help="per-structure results are kept here so an interrupted run resumes")
    args = parser.parse_args()

    sets = [s for s in args.sets.split(",") if s]
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in METHODS:
            raise SystemExit(f"unknown method {m}; choose from {METHODS}")
    limits: dict[str, int] = {}
    for item in args.limit_method:
        key, _, n = item.partition("=")
        limits[key] = int(n)
    args.cache.mkdir(parents=True, exist_ok=True)
    pocknet_runner: PockNetRunner | None = None

    from pocknet.metrics.pockets import evaluate_proteins

    rows: list[dict[str, Any]] = []
    failures: list[tuple[str, str, str, str]] = []
    ligand_notes: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for set_name in sets:
            try:
                structures = structures_of(args.datasets, set_name)
            except FileNotFoundError as exc:
                print(f"[{set_name}] missing: {exc}", file=sys.stderr)
                continue
            if args.limit is not None:
                structures = structures[: args.limit]
            ligands: dict[str, list[np.ndarray]] = {}
            for sid, path, holo in structures:
                ligands[sid], err = ligands_of(path, holo)
                if err:
                    ligand_notes.append(f"{set_name}/{sid}: ligands unavailable ({err})")
            for method in methods:
                n = limits.get(f"{method}@{set_name}", limits.get(method))
                subset = structures[:n] if n is not None else structures
                if not subset:
                    continue
                if method == "p2rank" and not (args.datasets / set_name / "predictions" / "p2rank").is_dir():
                    print(f"[{set_name}] p2rank: no published predictions for this set, skipped", file=sys.stderr)
                    continue
                base = VARIANTS.get(method, method)
                cache_file = args.cache / f"{set_name}__{base}__v2.json"
                cache: dict[str, Any] = json.loads(cache_file.read_text()) if cache_file.exists() else {}
                records, seconds, walls, n_fail = [], [], [], 0
                t_set = time.perf_counter()
                for i, (sid, path, _holo) in enumerate(subset):
                    result = cache.get(sid)
                    if result is None:
                        if method == "pocknet":
                            pocknet_runner = pocknet_runner or PockNetRunner()
                            result = pocknet_runner(path)
                        elif method == "p2rank":
                            result = p2rank_centres(args.datasets, path)
                        else:
                            pdb = Path(tmp) / f"{sid}.pdb"
                            protein_only_pdb(path, pdb)
                            result = run_peer(args.peers_python, base, pdb, args.timeout)
                        cache[sid] = result
                        cache_file.write_text(json.dumps(cache))
                    result = reordered(result, method)
                    if "error" in result:
                        n_fail += 1
                        failures.append((set_name, method, sid, result["error"]))
                    if "seconds" in result:
                        seconds.append(result["seconds"])
                    if "wall" in result:
                        walls.append(result["wall"])
                    centres = np.asarray(result["centres"], float).reshape(-1, 3)
                    records.append({"protein": sid, "centres": centres, "ligands": ligands[sid]})
                    if (i + 1) % 20 == 0:
                        print(f"[{set_name}] {method}: {i + 1}/{len(subset)} ({time.perf_counter() - t_set:.0f} s)",
                              file=sys.stderr, flush=True)
                m = evaluate_proteins(records)
                row = {
                    "set": set_name, "method": method, "n_structures": len(subset),
                    "n_proteins": m["n_proteins"], "n_ligands": m["n_ligands"],
                    "n_skipped_no_ligand": m["n_skipped_no_ligand"],
                    "dca_top_n": m["dca_top_n"], "dca_top_n2": m["dca_top_n2"], "dcc_top_n": m["dcc_top_n"],
                    "dca_success_at_1": m["dca_success_at_1"], "failures": n_fail,
                    "median_seconds": statistics.median(seconds) if seconds else float("nan"),
                    "median_wall_seconds": statistics.median(walls) if walls else float("nan"),
                }
                rows.append(row)
                print(f"[{set_name}] {method}: done, {len(subset)} structures, "
                      f"{time.perf_counter() - t_set:.0f} s", file=sys.stderr, flush=True)

    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: fmt(v) for k, v in row.items()})

    header = ("set", "method", "structures", "proteins", "ligands", "skipped (no lig.)", "DCA top-n",
              "DCA top-(n+2)", "DCC top-n", "DCA success@1", "failures", "median s", "median wall s")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for r in rows:
        pct = [f"{100 * r[k]:.1f}" if not math.isnan(r[k]) else "" for k in
               ("dca_top_n", "dca_top_n2", "dcc_top_n", "dca_success_at_1")]
        secs = [f"{r[k]:.2f}" if not math.isnan(r[k]) else "–" for k in ("median_seconds", "median_wall_seconds")]
        print(f"| {r['set']} | {r['method']} | {r['n_structures']} | {r['n_proteins']} | {r['n_ligands']} | "
              f"{r['n_skipped_no_ligand']} | " + " | ".join(pct) + f" | {r['failures']} | " + " | ".join(secs) + " |")
    if failures:
        print("\nFailures:")
        for set_name, method, sid, err in failures:
            print(f"- {set_name} {method} {sid}: {err}")
    if ligand_notes:
        print("\nLigand notes:")
        for note in ligand_notes:
            print(f"- {note}")


if __name__ == "__main__":
    main()
