"""``pocknet`` command line."""

from __future__ import annotations

import logging
import sys

import click

from pocknet import __version__
from pocknet.errors import PockNetError
from pocknet.structure.kind import KIND_OPTIONS

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pocknet")
@click.option("-v", "--verbose", count=True, help="Log more: -v progress and timings, -vv debug.")
def cli(verbose: int) -> None:
    """PockNet: find ligand-binding pockets on protein structures."""
    # One plain line per record (as conf/logging.yml does for `kedro run`); warnings only by default.
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")


@cli.command("featurize")
@click.argument("structure", type=click.Path(dir_okay=False))
@click.option("--chains", default=None, help="Comma-separated chain ids (default: all).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write features to this .npz.")
def featurize_cmd(structure: str, chains: str | None, output: str | None) -> None:
    """Featurise one structure with the default settings and print a summary.

    The defaults are SCIENCE.md's values, the ones params.yaml's data_engineering block ships
    (a test keeps the two equal); the SAS points, 35 descriptors and labels are those the
    pipeline stores.
    """
    from pocknet.featurize.feature_files import save_features
    from pocknet.featurize.features import FeaturizeConfig, featurize_file
    from pocknet.predict.failures import failure_message

    try:  # any failure is one `error: <file>: <reason>` line, as in `pocknet predict`
        feats = featurize_file(
            structure, FeaturizeConfig(), chains=tuple(chains.split(",")) if chains else None
        )
    except Exception as exc:
        raise PockNetError(failure_message(exc, structure)) from exc
    relevant = [str(n) for n, r in zip(feats.ligand_names, feats.ligand_relevant) if r]
    click.echo(
        f"{feats.name}: {len(feats.residue_chain)} residues, {feats.n_points} SAS points, "
        f"{feats.n_positives} positive, relevant ligands: {', '.join(relevant) or 'none'}"
    )
    if output:
        try:
            save_features(feats, output)
        except OSError as exc:
            raise PockNetError(f"{structure}: cannot write features to {output}: {exc.strerror or exc}") from exc
        except Exception as exc:
            raise PockNetError(failure_message(exc, structure)) from exc
        click.echo(f"wrote {output}")


class _Number(click.ParamType):
    """A float in a range that is never NaN (``click.FloatRange`` lets ``nan`` through: it compares False)."""

    def __init__(self, low: float, high: float = float("inf"), *, low_open: bool = False, allow_inf: bool = False,
                 what: str = "a number") -> None:  # fmt: skip
        self.low, self.high, self.low_open, self.allow_inf, self.what = low, high, low_open, allow_inf, what
        self.name = what

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> float:
        import math

        try:
            number = float(value)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not {self.what}", param, ctx)
        if math.isnan(number) or (math.isinf(number) and not self.allow_inf):
            self.fail(f"{value!r} is not {self.what}", param, ctx)
        too_low = number <= self.low if self.low_open else number < self.low
        if too_low or number > self.high:
            self.fail(f"{value!r} is not {self.what}", param, ctx)
        return number


@cli.command("predict")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", default="pocknet_predictions", show_default=True,
              type=click.Path(file_okay=False), help="Output folder.")
@click.option("--model", default=None, help="Model file (default: the bundled tabular-only model).")
@click.option("--chains", default=None, help="Comma-separated chain ids to keep (default: all).")
@click.option("--threshold", type=_Number(0.0, 1.0, what="a probability in [0, 1]"), default=None,
              help="Points with probability >= this seed pockets, in [0, 1] (default: the model's pocket "
                   "seed threshold, chosen on validation). The model's second level, if any, still adds "
                   "pockets seeded below it.")
@click.option("--formats", default="csv,pdb,pml,cxc,json", show_default=True,
              help="Outputs to write, of csv, pdb, pml, cxc, html (the 3D page of `pocknet view`), json; or all.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True,
              help="Structures predicted in parallel (worker processes).")
@click.option("--timeout", type=_Number(0.0, low_open=True, allow_inf=True, what="a positive number of seconds"),
              default=600.0, show_default=True, help="Seconds allowed per structure.")
@click.option("--max-memory", type=_Number(0.0, what="a number of GB >= 0"), default=4.0, show_default=True,
              help="GB each worker may allocate beyond the loaded model (0: no limit; CPU only).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="Run on a Dask cluster: a scheduler address (tcp://HOST:8786), a scheduler file (X.json) or "
                   "local:N (a LocalCluster of N worker processes); one task per structure, OUT/manifest.csv at "
                   "the end. -o may then be an fsspec URL (s3://bucket/run).")
@click.option("--resume", is_flag=True, help="Skip structures whose outputs in the output folder are complete.")
@click.option("--structure-kind", type=click.Choice(KIND_OPTIONS), default="auto",
              show_default=True,
              help="predicted: B-factors are pLDDT (AlphaFold, ESMFold), scored by the bundled model without the "
                   "bfactor descriptor; auto: the file's header decides (a file without one reads as experimental).")
def predict_cmd(inputs: tuple[str, ...], out_dir: str, model: str | None, chains: str | None,
                threshold: float | None, formats: str, device: str, workers: int, timeout: float,
                max_memory: float, scheduler: str | None, resume: bool, structure_kind: str) -> None:  # fmt: skip
    """Predict ligand-binding pockets.

    INPUTS are PDB/mmCIF files (gzipped or not), folders of them, or P2Rank .ds lists.
    Writes <name>_predictions.csv and <name>_residues.csv (P2Rank columns), a points PDB
    (B-factor = calibrated point probability, residue number = pocket rank), PyMOL .pml, ChimeraX .cxc and JSON.
    A structure's set is complete once its <name>.json (or, without JSON, <name>.done) exists.
    One line per structure is printed as it finishes; failures as `error: <file>: <reason>`.
    With --scheduler the structures run as Dask tasks (README, "Predict at scale (Dask)").
    """
    from contextlib import closing
    from pathlib import Path

    from pocknet.predict.formats import parse_formats
    from pocknet.predict.batch import Terminated, result_line, run_jobs
    from pocknet.predict.jobs import collect_inputs
    from pocknet.predict.output_folder import OutputFolder
    from pocknet.progress import ResultLines

    fmts = parse_formats(formats)
    if scheduler is not None:
        if click.get_current_context().get_parameter_source("workers") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("--workers is for local runs; with --scheduler the cluster's worker threads "
                                   "run structures in parallel (local:N: N worker processes)")  # fmt: skip
        _predict_on_cluster(inputs, out_dir, scheduler=scheduler, model=model, formats=fmts, device=device,
                            chains=chains.split(",") if chains else None, threshold=threshold, timeout=timeout,
                            max_memory=max_memory, resume=resume, structure_kind=structure_kind)  # fmt: skip
        return
    if "://" in out_dir:
        raise click.UsageError(f"-o {out_dir}: a URL needs --scheduler (the Dask workers upload to it)")
    if model is not None and not Path(model).is_file():  # cheap; the model itself is checked by the workers
        raise PockNetError(f"{model}: no such model file")
    with OutputFolder(out_dir):  # before any work: a bad -o costs nothing
        jobs = collect_inputs(inputs, chains.split(",") if chains else None)
        skipped = []
        if resume:
            from pocknet.predict.distributed import split_complete

            jobs, skipped = split_complete(jobs, out_dir, fmts)
            if skipped:
                click.echo(f"skipped {len(skipped)} structure(s) already complete in {out_dir}")
        done = failed = 0
        # The parent never loads the model (nor torch): the first worker's report is the fail-fast check.
        results = run_jobs(jobs, model=model, device=device, out_dir=Path(out_dir), formats=fmts,
                           threshold=threshold, workers=workers, timeout=timeout, max_memory=max_memory,
                           structure_kind=structure_kind)  # fmt: skip
        try:
            with closing(results), ResultLines(len(jobs), desc="predict", unit="structure") as lines:
                for result in results:
                    if result.ok:
                        done += 1
                        lines.finished(result_line(result, done + failed, len(jobs)))
                    else:
                        failed += 1
                        lines.finished(f"error: {result.error}", err=True)
        except (KeyboardInterrupt, Terminated) as exc:
            word = "terminated" if isinstance(exc, Terminated) else "interrupted"
            click.echo(f"{word}: {done + failed} of {len(jobs)} structures finished (outputs in {out_dir})", err=True)
            sys.exit(128 + exc.signum if isinstance(exc, Terminated) else 130)
    tail = f"; {len(skipped)} skipped (already complete)" if skipped else ""
    click.echo(f"wrote {done} structure(s) to {out_dir}; {failed} failed{tail}")
    if failed:
        sys.exit(1)


def _predict_on_cluster(inputs: tuple[str, ...], out_dir: str, **options: object) -> None:
    """`pocknet predict --scheduler`: the same lines as a local run, then the manifest's path."""
    from pocknet.predict.batch import Terminated
    from pocknet.predict.distributed import MANIFEST_NAME, predict_many

    try:
        manifest = predict_many(inputs, out_dir, progress=True, **options)  # type: ignore[arg-type]
    except (KeyboardInterrupt, Terminated) as exc:
        word = "terminated" if isinstance(exc, Terminated) else "interrupted"
        click.echo(f"{word}: complete sets are in {out_dir}; --resume continues the run", err=True)
        sys.exit(128 + exc.signum if isinstance(exc, Terminated) else 130)
    counts = manifest["status"].value_counts()
    done, failed, skipped = (int(counts.get(status, 0)) for status in ("ok", "failed", "skipped"))
    tail = f"; {skipped} skipped (already complete)" if skipped else ""
    click.echo(f"wrote {done} structure(s) to {out_dir}; {failed} failed{tail}")
    click.echo(f"manifest: {out_dir.rstrip('/')}/{MANIFEST_NAME}")
    if failed:
        sys.exit(1)


@cli.command("view")
@click.argument("target", type=click.Path())
@click.argument("prediction_dir", required=False, type=click.Path())
@click.option("-o", "--output", default=None, type=click.Path(),
              help="The page (STRUCTURE; default: PREDICTION_DIR/<name>.html, or <name>.html here), "
                   "or the folder for the pages (a prediction folder; default: that folder).")
@click.option("--model", default=None, help="Model file, when predicting first (no PREDICTION_DIR; default: the bundled model).")
def view_cmd(target: str, prediction_dir: str | None, output: str | None, model: str | None) -> None:
    """Pockets in 3D in any browser, offline: self-contained HTML pages.

    \b
    pocknet view STRUCTURE PREDICTION_DIR -o page.html   a structure `pocknet predict` wrote PREDICTION_DIR for
    pocknet view STRUCTURE -o page.html                  predicts it first (bundled model or --model)
    pocknet view PREDICTION_DIR                          a page per structure, and index.html linking them

    Open a page from disk in any browser (file://): nothing is fetched. Colours: README, "View pockets in a browser".
    """
    from pathlib import Path

    from pocknet.predict.viewer.command import view_folder, view_structure

    if Path(target).is_dir():
        if prediction_dir is not None:
            raise click.UsageError("a prediction folder comes alone: pocknet view PREDICTION_DIR [-o FOLDER]")
        index, results = view_folder(target, output)
        failed = [(name, error) for name, page, error in results if page is None]
        for name, error in failed:
            click.echo(f"error: {error}", err=True)
        click.echo(f"wrote {len(results) - len(failed)} page(s) and {index}; {len(failed)} failed")
        if failed:
            sys.exit(1)
        return
    page, data = view_structure(target, prediction_dir, output, model)
    click.echo(f"wrote {page} ({len(data.pockets)} pocket(s)); open it in any browser: {page.resolve().as_uri()}")


@cli.command("info")
@click.option("--model", default=None, help="Model file (default: the bundled model).")
def info_cmd(model: str | None) -> None:
    """Version, device and model."""
    import torch

    from pocknet.predict.predictor import Predictor

    predictor = Predictor(model)
    info = predictor.info()
    click.echo(f"pocknet {__version__}")
    click.echo(f"torch {torch.__version__}; CUDA available: {torch.cuda.is_available()}")
    click.echo(f"model: {info['path']}")
    second = info["pocket_second_seed_threshold"]
    click.echo(f"  embeddings: {info['embedding_model']}; point threshold {info['threshold']:.3f}, pocket seed threshold {info['pocket_seed_threshold']:.3f}"
               f" (second level {'none' if second is None else f'{second:.3f}'}; ranked by {info['pocket_rescorer'] or 'score'}); params {info['params_hash']}")
    click.echo("  validation: " + ", ".join(f"{k} {v:.3f}" for k, v in info["validation"].items() if v is not None))
    if model is None:
        click.echo(f"predicted structures: {info['predicted_model'] or 'the default model (no model without bfactor installed)'}")


@cli.group("report")
def report_group() -> None:
    """Reports over finished runs."""


@report_group.command("seeds")
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), help="DVC project.")
@click.option("-o", "--output", "out_dir", default="data/07_reporting/seeds", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--seed-param", default="training.seed", show_default=True)
@click.option("--all-commits", is_flag=True, help="Include experiments of every commit, not just HEAD.")
@click.option("--runs", "runs", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="Saved runs (`pocknet report save-run`) instead of `dvc exp show`; a folder of them also works.")
def report_seeds_cmd(repo: str, out_dir: str, seed_param: str, all_commits: bool, runs: tuple[str, ...]) -> None:
    """Mean ± 95 % CI (t-interval over seeds) of every metric of the DVC experiments (`dvc exp show`)."""
    from pathlib import Path

    from pocknet.evaluate.seeds import run_seed_report

    folders = [sub for run in runs for sub in ([Path(run)] if (Path(run) / "dvc.lock").is_file()
                                               else sorted(p for p in Path(run).iterdir() if p.is_dir()))]  # fmt: skip
    md, csv = run_seed_report(repo, out_dir, seed_param=seed_param, all_commits=all_commits, runs=folders)
    click.echo(md.read_text(encoding="utf-8"))
    click.echo(f"wrote {md} and {csv}")


@report_group.command("save-run")
@click.argument("dest", type=click.Path(file_okay=False))
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), help="DVC project.")
def report_save_run_cmd(dest: str, repo: str) -> None:
    """Keep the finished workspace run (dvc.lock, params, metrics, model) in DEST, for `report seeds --runs`."""
    from pocknet.evaluate.seed_runs import save_run

    click.echo(f"saved the run in {save_run(repo, dest)}")


@report_group.command("study")
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), help="DVC project.")
@click.option("--all-commits", is_flag=True, help="Include experiments of every commit, not just HEAD.")
@click.option("--no-experiments", is_flag=True, help="Only the workspace (skips `dvc exp show`).")
def report_study_cmd(repo: str, all_commits: bool, no_experiments: bool) -> None:
    """The numbers that matter, one row per experiment: validation, then DCA success per evaluation set."""
    from pocknet.evaluate.study import run_study_report

    click.echo(run_study_report(repo, all_commits=all_commits, experiments=not no_experiments))


@cli.group("esm")
def esm_group() -> None:
    """ESM2 model files."""


@esm_group.command("tiny")
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--layers", default=2, show_default=True, help="Transformer layers.")
@click.option("--dim", default=32, show_default=True, help="Embedding width.")
@click.option("--seed", default=0, show_default=True)
def esm_tiny_cmd(path: str, layers: int, dim: int, seed: int) -> None:
    """Write a tiny random-weight ESM2 in the official checkpoint format (for tests and dry runs).

    Its embeddings are meaningless; it exercises the real loading and embedding code.
    """
    from pocknet.embed.esm_tiny import write_tiny_esm2_checkpoint

    out = write_tiny_esm2_checkpoint(path, num_layers=layers, embed_dim=dim, seed=seed)
    click.echo(f"wrote {out}")


@cli.command("evaluate")
@click.argument("structures")
@click.argument("predictions")
@click.option("--format", "fmt", default="auto", show_default=True,
              type=click.Choice(["auto", "pocknet", "p2rank", "fpocket", "pocketnet", "csv"]),
              help="How PREDICTIONS is written (auto: from the files found).")
@click.option("--ds", default=None, type=click.Path(dir_okay=False), help="P2Rank .ds list of the structures to score.")
@click.option("--apo-pairs", default=None, type=click.Path(dir_okay=False),
              help="CSV apo_file,holo_file: score apo structures against the holo partner's superposed ligands.")
@click.option("--exclude-similar-to", default=None, type=click.Path(),
              help="FASTA or structures (folder/.ds): also report the subset with no chain this similar ('unseen').")
@click.option("--identity", type=_Number(0.0, 1.0, what="a fraction in [0, 1]"), default=0.3, show_default=True,
              help="Sequence identity threshold for --exclude-similar-to.")
@click.option("--compare", default=None, help="A second method's predictions, scored on the same ligands (McNemar).")
@click.option("--compare-format", default="auto", show_default=True,
              type=click.Choice(["auto", "pocknet", "p2rank", "fpocket", "pocketnet", "csv"]))
@click.option("--label", default=None, help="Name of the method in the report (default: its format).")
@click.option("--compare-label", default=None, help="Name of the compared method.")
@click.option("--cutoff", type=_Number(0.0, low_open=True, what="a positive distance in Å"), default=4.0,
              show_default=True, help="DCA/DCC distance cutoff (Å).")
@click.option("-o", "--output", "out_dir", default="evaluation", show_default=True, type=click.Path(file_okay=False))
def evaluate_cmd(structures: str, predictions: str, fmt: str, ds: str | None, apo_pairs: str | None,
                 exclude_similar_to: str | None, identity: float, compare: str | None, compare_format: str,
                 label: str | None, compare_label: str | None, cutoff: float, out_dir: str) -> None:  # fmt: skip
    """Score any tool's ranked pockets with PockNet's evaluator (SCIENCE.md §8).

    STRUCTURES: a folder of structures, a .ds list or one file (their relevant ligands are the
    reference). PREDICTIONS: a folder of pocknet/P2Rank *_predictions.csv, fpocket *_out/ folders
    or pocketnet *_pockets.json, or one CSV with name,rank,x,y,z. Writes summary.json/.md (DCA/DCC
    top-n, top-(n+2), success@1/@3 with Wilson 95 % intervals), per_ligand.csv, structures.csv,
    missing.csv (structures without predictions: counted as misses) and report.html.
    """
    import shlex

    from pocknet.evaluate.command import run_evaluation
    from pocknet.evaluate.evaluate_page import summary_markdown

    summary = run_evaluation(
        structures, predictions, out_dir, fmt=fmt, ds=ds, apo_pairs=apo_pairs,
        exclude_similar_to=exclude_similar_to, identity=identity, compare=compare, compare_format=compare_format,
        labels=(label, compare_label), cutoff=cutoff, command=shlex.join(["pocknet", *sys.argv[1:]]),
    )  # fmt: skip
    click.echo(summary_markdown(summary))
    click.echo(f"wrote {out_dir}/summary.json, summary.md, per_ligand.csv, structures.csv, missing.csv, report.html"
               + (", paired.csv" if compare else ""))  # fmt: skip


@cli.command("validate-h5")
@click.argument("path", type=click.Path(dir_okay=False))
def validate_h5_cmd(path: str) -> None:
    """Check every invariant of a training-set HDF5 file."""
    from pocknet.trainset.h5reader import H5Reader
    from pocknet.trainset.h5validate import validate

    validate(path)
    with H5Reader(path) as reader:
        click.echo(
            f"{path}: valid; {reader.n_proteins} proteins, {reader.n_points} points, {reader.n_residues} residues, "
            f"embeddings: {reader.attrs['embedding_model']} ({reader.embedding_dim}-d)"
        )


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except PockNetError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
