"""The points PDB (``<name>_points.pdb``): our fixed-column writer vs gemmi's writer (issue #18, point 5).

For each p2rank-test structure, ``Predictor.predict_file`` (the bundled model) gives the SAS points,
their calibrated probabilities and pocket ranks. Both writers then turn them into PDB text on one
pinned core, best of ``--repeats`` runs each, per structure:

- ours: :func:`pocknet.predict.writers.points_pdb.points_pdb_text`;
- gemmi: one ``gemmi.Residue`` per point (the residue number is the point's pocket rank, so runs of
  points cannot share a residue), a ``gemmi.Atom`` in it, then ``Structure.make_pdb_string``.
  gemmi has no bulk constructor from arrays, so the structure is built point by point in Python.

Both texts are read back with :func:`pocknet.predict.writers.points_pdb.read_points_pdb`; the script
fails unless they hold the same points and ranks and probabilities within 0.01. It counts the
``HETATM`` records whose text differs: gemmi keeps B-factors in float32, so a probability such as
0.905 can print as 0.91 where ours (and the CSVs, from float64) print 0.90.

Usage: python benchmarks/points_pdb_writer.py [--datasets ../shared/datasets] [--repeats 3] [--limit 0]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[var] = "1"

import gemmi
import numpy as np

from pocknet.predict.predictor import Predictor
from pocknet.predict.writers.base import point_pocket_ranks
from pocknet.predict.writers.points_pdb import points_pdb_text, read_points_pdb
from pocknet.structure.datasets import scan_folder


def gemmi_points_pdb_text(points: np.ndarray, probabilities: np.ndarray, ranks: np.ndarray) -> str:
    """The same records through gemmi's writer (probabilities clipped as ours are)."""
    probs = np.clip(np.nan_to_num(probabilities, nan=0.0), 0.01, 0.99)
    structure = gemmi.Structure()
    model = gemmi.Model("1")
    chain = gemmi.Chain(" ")
    carbon = gemmi.Element("C")
    for (x, y, z), p, rank in zip(points.tolist(), probs.tolist(), ranks.tolist()):
        residue = gemmi.Residue()
        residue.name = "STP"
        residue.seqid = gemmi.SeqId(int(rank), " ")
        residue.het_flag = "H"
        atom = gemmi.Atom()
        atom.name = "C"
        atom.element = carbon
        atom.pos = gemmi.Position(x, y, z)
        atom.occ = 1.0
        atom.b_iso = p
        residue.add_atom(atom)
        chain.add_residue(residue)
    model.add_chain(chain)
    structure.add_model(model)
    return structure.make_pdb_string(gemmi.PdbWriteOptions(minimal=True))


def best_of(repeats: int, write, *args, **kwargs) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        write(*args, **kwargs)
        times.append(time.perf_counter() - start)
    return min(times)


def same_points(ours: str, theirs: str) -> bool:
    """Same coordinates and ranks, probabilities within one step of the F6.2 column."""
    with tempfile.TemporaryDirectory() as tmp:
        a, b = Path(tmp, "a.pdb"), Path(tmp, "b.pdb")
        a.write_text(ours)
        b.write_text(theirs)
        mine, other = read_points_pdb(a), read_points_pdb(b)
    columns = ["x", "y", "z", "pocket_rank"]
    return mine[columns].equals(other[columns]) and bool(
        np.all(np.abs(mine["probability"] - other["probability"]) <= 0.01 + 1e-9)
    )


def differing_records(ours: str, theirs: str) -> int:
    """``HETATM`` lines whose text differs (the two writers otherwise use the same columns)."""
    mine = [line for line in ours.splitlines() if line.startswith("HETATM")]
    other = [line for line in theirs.splitlines() if line.startswith("HETATM")]
    return sum(a != b for a, b in zip(mine, other)) + abs(len(mine) - len(other))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=0, help="structures (0: all of p2rank-test)")
    parser.add_argument(
        "--datasets", type=Path, default=Path(os.environ.get("POCKNET_DATASETS", "../shared/datasets"))
    )
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    files = [entry.path for entry in scan_folder(args.datasets / "p2rank-test").entries]
    files = files[: args.limit] if args.limit else files
    predictor = Predictor()
    rows = []
    for path in files:
        prediction = predictor.predict_file(path)
        points, probs = prediction.features.points, prediction.probabilities
        ranks = point_pocket_ranks(prediction)
        ours_text = points_pdb_text(points, probs, ranks, title=prediction.name)
        gemmi_text = gemmi_points_pdb_text(points, probs, ranks)
        if not same_points(ours_text, gemmi_text):
            print(f"{path.name}: the two writers disagree", file=sys.stderr)
            return 1
        differing = differing_records(ours_text, gemmi_text)
        ours = best_of(args.repeats, points_pdb_text, points, probs, ranks, title=prediction.name)
        theirs = best_of(args.repeats, gemmi_points_pdb_text, points, probs, ranks)
        rows.append((path.name, len(points), ours, theirs, differing))
        print(f"{path.name:24s} {len(points):7d} points  ours {ours * 1e3:7.1f} ms  gemmi {theirs * 1e3:7.1f} ms"
              f"  ({theirs / ours:.1f}x)  {differing} record(s) differ")  # fmt: skip
    print(f"\n{len(rows)} structures, {platform.processor() or platform.machine()}, one core")
    print(f"median points {statistics.median(r[1] for r in rows):.0f}; median ms ours "
          f"{statistics.median(r[2] for r in rows) * 1e3:.1f}, gemmi {statistics.median(r[3] for r in rows) * 1e3:.1f}; "
          f"median ratio {statistics.median(r[3] / r[2] for r in rows):.1f}x; "
          f"records that differ {sum(r[4] for r in rows)} of {sum(r[1] for r in rows)}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
