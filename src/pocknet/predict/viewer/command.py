"""``pocknet view``: write the page of one structure, or a page per structure of a folder and an index.

Pages are written atomically; a folder's structure whose files do not belong together is
listed with its error, and the others are still written.
"""

from __future__ import annotations

from pathlib import Path

from pocknet.atomic import atomic_write
from pocknet.errors import PockNetError
from pocknet.predict.viewer.inputs import (
    ViewerData,
    find_summary,
    folder_summaries,
    load_folder_prediction,
    plain_name,
    viewer_data_from_prediction,
)
from pocknet.predict.viewer.page import index_html, viewer_html

__all__ = ["view_folder", "view_structure"]


def _write_page(path: Path, text: str) -> Path:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as handle:
            handle.write(text)
    except OSError as exc:
        raise PockNetError(f"{path}: cannot write the page ({exc.strerror or exc})") from exc
    return path


def view_structure(
    structure: str | Path,
    prediction_dir: str | Path | None = None,
    output: str | Path | None = None,
    model: str | None = None,
) -> tuple[Path, ViewerData]:
    """The page of one structure: from its PockNet output folder, or predicted now.

    Parameters
    ----------
    structure
        A PDB/mmCIF file (gzipped or not), or the structure copy in an output folder.
    prediction_dir
        The folder ``pocknet predict`` wrote for it; without one, the structure is
        predicted first (``model``, default the bundled one) and nothing but the page is written.
    output
        The page; default ``<prediction_dir>/<name>.html``, or ``<name>.html`` here.

    Raises
    ------
    PockNetError
        A missing or unreadable file, a folder without a prediction of this structure (or
        with one of another file), files of different runs, a structure that cannot be predicted.
    """
    structure = Path(structure)
    if not structure.exists():
        raise PockNetError(f"{structure}: no such file")
    if structure.is_dir():
        raise PockNetError(f"{structure}: is a folder; a prediction folder comes alone: pocknet view {structure}")
    if prediction_dir is not None:
        summary = find_summary(structure, prediction_dir)
        data = load_folder_prediction(summary, structure)
        default = Path(prediction_dir) / f"{data.name}.html"
    else:
        from pocknet.predict.failures import failure_message
        from pocknet.predict.predictor import Predictor

        try:
            prediction = Predictor(model).predict_file(structure, name=plain_name(structure))
        except PockNetError:
            raise
        except Exception as exc:
            raise PockNetError(failure_message(exc, structure)) from exc
        data = viewer_data_from_prediction(prediction)
        default = Path(f"{data.name}.html")
    path = Path(output) if output is not None else default
    if path.is_dir():
        path = path / f"{data.name}.html"
    return _write_page(path, viewer_html(data)), data


def view_folder(folder: str | Path, output: str | Path | None = None) -> tuple[Path, list[tuple[str, Path | None, str]]]:
    """A page per structure of a PockNet output folder (searched recursively) and ``index.html``.

    Pages go to ``output`` (default: ``folder`` itself), each at its summary's place
    relative to ``folder``, as ``<name>.html``; the index links them all.

    Returns
    -------
    (index path, [(name, page or None, error message or "")])
        A structure whose page fails (missing file, files of different runs) is listed
        with its error, on the index too; the others are still written.

    Raises
    ------
    PockNetError
        When ``folder`` is missing or holds no PockNet prediction.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise PockNetError(f"{folder}: no such folder")
    summaries = folder_summaries(folder)
    if not summaries:
        raise PockNetError(f"{folder}: no PockNet predictions in it (no <name>.json summaries)")
    out = Path(output) if output is not None else folder
    results: list[tuple[str, Path | None, str]] = []
    entries = []
    for summary_path in summaries:
        rel = summary_path.parent.relative_to(folder)
        label = (rel / summary_path.name.removesuffix(".json")).as_posix()
        try:
            data = load_folder_prediction(summary_path)
            page = _write_page(out / rel / f"{data.name}.html", viewer_html(data, back_link=(_up(rel) + "index.html", "all structures")))
        except PockNetError as exc:
            results.append((label, None, str(exc)))
            entries.append({"name": label, "error": str(exc)})
            continue
        results.append((label, page, ""))
        top = data.pockets[0] if data.pockets else {}
        entries.append(
            {
                "href": (rel / page.name).as_posix(),
                "name": label,
                "pockets": len(data.pockets),
                "top_score": top.get("score"),
                "top_probability": top.get("probability"),
                "atoms": data.n_atoms or None,
            }
        )
    index = _write_page(out / "index.html", index_html(entries, title=f"PockNet predictions: {folder.name or folder}"))
    return index, results


def _up(rel: Path) -> str:
    return "../" * len(rel.parts)
