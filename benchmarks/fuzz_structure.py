"""Fuzz the structure reader longer than CI does, and count the outcomes.

Runs the four mutation families of ``tests/test_structure_fuzz.py`` (byte
edits, line edits, odd values in PDB fields, odd values in mmCIF atom_site)
with random (not derandomised) examples. Each example ends as ``ok`` (loaded,
arrays finite and consistent), ``error`` (StructureError naming the file) or
``BUG <exception>``; bugs are counted, not raised, so one run shows them all,
with the first input of each kind kept under --keep.

Usage: python benchmarks/fuzz_structure.py [--examples 5000] [--seed 0] [--keep /tmp/fuzz-bugs]
"""

from __future__ import annotations

import argparse
import collections
import platform
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import test_structure_fuzz as fz


def reason_kind(message: str) -> str:
    """A StructureError message without line numbers, quoted values and details: its kind."""
    message = re.sub(r"^line \d+: ", "", message)
    message = re.sub(r"'[^']*'|\([^)]*\)|0x[0-9a-f]+|\d+", "_", message)
    return message[:90]


def run_family(name: str, test, examples: int, rng_seed: int) -> float:
    """Run one @given family for ``examples`` random examples; return seconds."""
    start = time.perf_counter()
    configured = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )(test)
    seed(rng_seed)(configured)()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=5000, help="examples per mutation family")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "pocknet-fuzz-bugs")
    args = parser.parse_args()

    seeds = fz.make_seeds()
    workdir = Path(tempfile.mkdtemp(prefix="pocknet-fuzz-"))
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)

    reasons: collections.Counter = collections.Counter()

    def record(family: str, path: Path) -> None:
        try:
            outcome = fz.check(path)
            if outcome != "ok":
                reasons[reason_kind(outcome)] += 1
                outcome = "error"
        except Exception as exc:  # noqa: BLE001 - a bug: count it, keep the first input of its kind
            outcome = f"BUG {type(exc).__name__}"
            if counts[family][outcome] == 0:
                args.keep.mkdir(parents=True, exist_ok=True)
                kept = args.keep / f"{family}-{type(exc).__name__}-{path.name}"
                shutil.copy(path, kept)
                print(f"  {family}: {outcome}: {str(exc)[:200]} (input kept: {kept})")
        counts[family][outcome] += 1

    fmt_all, fmt_pdb, fmt_cif = (
        st.sampled_from(fz.FORMATS),
        st.sampled_from(["pdb", "pdb.gz"]),
        st.sampled_from(["cif", "cif.gz"]),
    )
    pdb_places = st.lists(
        st.tuples(fz.fractions, st.sampled_from(sorted(fz.PDB_FIELDS)), fz.odd_bytes, st.booleans()),
        min_size=1,
        max_size=3,
    )
    cif_places = st.lists(
        st.tuples(fz.fractions, fz.fractions, fz.odd_bytes, st.sampled_from(["", "'", '"'])),
        min_size=1,
        max_size=3,
    )

    @given(fmt=fmt_all, edits=fz.byte_edits, in_gzip=st.booleans())
    def bytes_family(fmt, edits, in_gzip):
        if fmt.endswith(".gz") and in_gzip:
            path = fz.write(
                workdir, fmt, seeds.text(fmt), compressed_edit=lambda raw: fz.apply_byte_edits(raw, edits)
            )
        else:
            path = fz.write(workdir, fmt, fz.apply_byte_edits(seeds.text(fmt), edits))
        record("bytes", path)

    @given(fmt=fmt_all, edits=fz.line_edits)
    def lines_family(fmt, edits):
        record("lines", fz.write(workdir, fmt, fz.apply_line_edits(seeds.text(fmt), edits)))

    @given(fmt=fmt_pdb, places=pdb_places)
    def pdb_fields_family(fmt, places):
        text = seeds.pdb
        for row, field, value, right in places:
            text = fz.place_pdb_value(text, row, field, value, right)
        record("pdb_fields", fz.write(workdir, fmt, text))

    @given(fmt=fmt_cif, places=cif_places)
    def cif_values_family(fmt, places):
        text = seeds.cif
        for row, column, value, quote in places:
            text = fz.place_cif_value(text, row, column, value, quote)
        record("cif_values", fz.write(workdir, fmt, text))

    print(f"machine: {platform.processor() or platform.machine()}, python {platform.python_version()}")
    print(f"{args.examples} examples per family, seed {args.seed}")
    seconds = {}
    for name, family in [("bytes", bytes_family), ("lines", lines_family),
                         ("pdb_fields", pdb_fields_family), ("cif_values", cif_values_family)]:  # fmt: skip
        seconds[name] = run_family(name, family, args.examples, args.seed)
    shutil.rmtree(workdir, ignore_errors=True)

    print(f"\n{'family':<12} {'examples':>8} {'ok':>6} {'error':>6} {'bugs':>5} {'seconds':>8}")
    for name, counter in counts.items():
        bugs = sum(v for k, v in counter.items() if k.startswith("BUG"))
        total = sum(counter.values())
        print(
            f"{name:<12} {total:>8} {counter['ok']:>6} {counter['error']:>6} {bugs:>5} {seconds[name]:>8.1f}"
        )
    bug_kinds = collections.Counter()
    for counter in counts.values():
        bug_kinds.update({k: v for k, v in counter.items() if k.startswith("BUG")})
    print("bugs:", dict(bug_kinds) or "none")
    print("\nmost common StructureError reasons:")
    for reason, count in reasons.most_common(15):
        print(f"{count:>7}  {reason}")


if __name__ == "__main__":
    main()
