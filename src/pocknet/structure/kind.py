"""Experimental or predicted: what a structure file's header says about its B-factor column.

AlphaFold, ESMFold and ColabFold write their per-residue confidence (pLDDT, 0-100, high = good)
where the ``bfactor`` descriptor expects crystallographic B-factors (high = mobile), so a model
trained on crystal structures reads a predicted structure's B column backwards. This module
decides from the header facts the reader collects (:func:`pocknet.structure.reader.load_structure`)
which kind a file is, and says why; ``pocknet predict`` picks its model by the answer.

Rules, first match wins:

1. An experimental method (``EXPDTA`` / ``_exptl.method`` other than ``THEORETICAL MODEL``):
   experimental. Crystal structures phased with an AlphaFold model name AlphaFold in their
   remarks (``REMARK 200 STARTING MODEL: ALPHAFOLD``); the method keeps them experimental.
2. A title, keyword, software or remark naming a structure predictor (AlphaFold, ESMFold,
   ColabFold, OpenFold, RoseTTAFold): predicted (AlphaFold DB: ``TITLE ALPHAFOLD MONOMER V2.0
   PREDICTION FOR ...``; mmCIF: ``_software.name AlphaFold``).
3. ModelCIF categories (``_ma_*``): a computed model by definition, predicted.
4. ``THEORETICAL MODEL`` as the method: predicted.
5. A ``PARENT`` record (the CASP model format OpenFold writes, so ESMFold outputs start with
   ``PARENT N/A``): predicted.
6. Otherwise experimental; a headerless file cannot tell, so callers can force the kind
   (``--structure-kind``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pocknet.errors import ConfigError

__all__ = ["KIND_OPTIONS", "STRUCTURE_KINDS", "HeaderFacts", "detect_kind", "resolve_kind"]

STRUCTURE_KINDS: tuple[str, ...] = ("experimental", "predicted")
KIND_OPTIONS: tuple[str, ...] = ("auto", *STRUCTURE_KINDS)

_PREDICTOR = re.compile(r"alpha\s*fold|esm\s*fold|colab\s*fold|open\s*fold|rosetta\s*fold", re.IGNORECASE)
_THEORETICAL = "THEORETICAL MODEL"
_SHOWN = 80  # characters of a header line quoted in a note


@dataclass(frozen=True)
class HeaderFacts:
    """What the file says about itself (plain strings, so the rules are testable without gemmi)."""

    method: str = ""  # EXPDTA / _exptl.method, '' when absent
    texts: tuple[tuple[str, str], ...] = ()  # (where, text): TITLE, HEADER, KEYWDS, _software.name, REMARK
    modelcif: tuple[str, ...] = ()  # ModelCIF (_ma_*) categories present
    parent_record: bool = False  # a PDB PARENT record (CASP/OpenFold model format)


def _quoted(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def detect_kind(facts: HeaderFacts) -> tuple[str, str]:
    """``(kind, evidence)``: the kind by the rules above and, for a predicted one, why ('' else)."""
    methods = [m.strip().upper() for m in facts.method.replace(";", ",").split(",") if m.strip()]
    if any(m != _THEORETICAL for m in methods):
        return "experimental", ""
    for where, text in facts.texts:
        if _PREDICTOR.search(text):
            return "predicted", f"{where}: {_quoted(text)}"
    if facts.modelcif:
        shown = ", ".join(facts.modelcif[:3]) + (", ..." if len(facts.modelcif) > 3 else "")
        return "predicted", f"ModelCIF categories {shown}"
    if methods:
        return "predicted", f"method {_THEORETICAL}"
    if facts.parent_record:
        return "predicted", "PARENT record, as OpenFold and ESMFold write"
    return "experimental", ""


def resolve_kind(requested: str, detected: str, evidence: str) -> tuple[str, tuple[str, ...]]:
    """The kind to use and the notes that say why (none for a plain experimental structure).

    ``requested``: ``auto`` (the file decides), ``experimental`` or ``predicted``
    (``--structure-kind``; wins over the header, with a note when they disagree).
    """
    if requested not in KIND_OPTIONS:
        raise ConfigError(f"structure kind must be one of {', '.join(KIND_OPTIONS)}, got {requested!r}")
    kind = detected if requested == "auto" else requested
    if kind == "predicted":
        return kind, (f"predicted structure ({evidence or '--structure-kind predicted'})",)
    if detected == "predicted":  # forced experimental
        return kind, (
            f"read as experimental (--structure-kind experimental), though the file looks predicted ({evidence})",
        )
    return kind, ()
