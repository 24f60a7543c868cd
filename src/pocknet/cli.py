"""``pocknet`` command line."""

from __future__ import annotations

import sys

import click

from pocknet import __version__
from pocknet.errors import PockNetError

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pocknet")
def cli() -> None:
    """PockNet: find ligand-binding pockets on protein structures."""


@cli.command("featurize")
@click.argument("structure", type=click.Path(dir_okay=False))
@click.option("--chains", default=None, help="Comma-separated chain ids (default: all).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None, help="Write features to this .npz.")
def featurize_cmd(structure: str, chains: str | None, output: str | None) -> None:
    """Featurise one structure with the parameters in params.yaml defaults and print a summary."""
    from pocknet.feature_files import save_features
    from pocknet.features import FeaturizeConfig, featurize_file

    feats = featurize_file(
        structure, FeaturizeConfig(), chains=tuple(chains.split(",")) if chains else None
    )
    relevant = [str(n) for n, r in zip(feats.ligand_names, feats.ligand_relevant) if r]
    click.echo(
        f"{feats.name}: {len(feats.residue_chain)} residues, {feats.n_points} SAS points, "
        f"{feats.n_positives} positive, relevant ligands: {', '.join(relevant) or 'none'}"
    )
    if output:
        save_features(feats, output)
        click.echo(f"wrote {output}")


@cli.command("predict")
@click.argument("inputs", nargs=-1, required=True)
@click.option("-o", "--output", "out_dir", default="pocknet_predictions", show_default=True,
              type=click.Path(file_okay=False), help="Output folder.")
@click.option("--model", default=None, help="Model file (default: the bundled tabular-only model).")
@click.option("--chains", default=None, help="Comma-separated chain ids to keep (default: all).")
@click.option("--threshold", type=float, default=None, help="Point threshold (default: the model's, chosen on validation).")
@click.option("--formats", default="csv,pdb,pml,cxc,json", show_default=True, help="Outputs to write.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True)
@click.option("--workers", type=int, default=1, show_default=True, help="Structures predicted in parallel.")
@click.option("--timeout", type=float, default=600.0, show_default=True, help="Seconds allowed per structure.")
def predict_cmd(inputs: tuple[str, ...], out_dir: str, model: str | None, chains: str | None,
                threshold: float | None, formats: str, device: str, workers: int, timeout: float) -> None:  # fmt: skip
    """Predict ligand-binding pockets.

    INPUTS are PDB/mmCIF files (gzipped or not), folders of them, or P2Rank .ds lists.
    Writes <name>_predictions.csv and <name>_residues.csv (P2Rank columns), a points PDB
    (B-factor = probability, residue number = pocket rank), PyMOL .pml, ChimeraX .cxc and JSON.
    """
    from pathlib import Path

    from pocknet.outputs import parse_formats
    from pocknet.predict import Predictor
    from pocknet.predict_batch import collect_inputs, run_jobs
    from pocknet.progress import progress

    fmts = parse_formats(formats)
    Predictor(model, device=device)  # fail fast, in one line, on a bad model file
    jobs = collect_inputs(inputs, chains.split(",") if chains else None)
    results = run_jobs(jobs, model=model, device=device, out_dir=Path(out_dir), formats=fmts,
                       threshold=threshold, workers=workers, timeout=timeout)  # fmt: skip
    done, failed = [], []
    for result in progress(results, total=len(jobs), desc="predict", unit="structure"):
        (done if result.ok else failed).append(result)
    if done:
        click.echo(f"{'structure':32s} {'pockets':>7s} {'top score':>9s} {'top prob':>8s}  top centre")
        for r in sorted(done, key=lambda r: r.job.name):
            row = r.summary
            centre = row.get("top_center") or row.get("top_centre")
            centre_text = " ".join(f"{c:.1f}" for c in centre) if centre else "-"
            click.echo(f"{r.job.name[:32]:32s} {row['pockets']:7d} {row.get('top_score') or 0:9.2f} "
                       f"{row.get('top_probability') or float('nan'):8.2f}  {centre_text}")  # fmt: skip
        click.echo(f"wrote {len(done)} structure(s) to {out_dir}")
    for r in failed:
        click.echo(f"error: {r.error}", err=True)
    if failed:
        if len(jobs) > 1:
            click.echo(f"{len(failed)} of {len(jobs)} structure(s) failed", err=True)
        sys.exit(1)


@cli.command("info")
@click.option("--model", default=None, help="Model file (default: the bundled model).")
def info_cmd(model: str | None) -> None:
    """Version, device and model."""
    import torch

    from pocknet.predict import Predictor

    predictor = Predictor(model)
    info = predictor.info()
    click.echo(f"pocknet {__version__}")
    click.echo(f"torch {torch.__version__}; CUDA available: {torch.cuda.is_available()}")
    click.echo(f"model: {info['path']}")
    click.echo(f"  embeddings: {info['embedding_model']}; threshold {info['threshold']:.3f}; params {info['params_hash']}")
    click.echo("  validation: " + ", ".join(f"{k} {v:.3f}" for k, v in info["validation"].items() if v is not None))


@cli.group("report")
def report_group() -> None:
    """Reports over finished runs."""


@report_group.command("seeds")
@click.option("--repo", default=".", show_default=True, type=click.Path(file_okay=False), help="DVC project.")
@click.option("-o", "--output", "out_dir", default="data/07_reporting/seeds", show_default=True,
              type=click.Path(file_okay=False))
@click.option("--seed-param", default="training.seed", show_default=True)
@click.option("--all-commits", is_flag=True, help="Include experiments of every commit, not just HEAD.")
def report_seeds_cmd(repo: str, out_dir: str, seed_param: str, all_commits: bool) -> None:
    """Mean ± 95 % CI (t-interval over seeds) of every metric of the DVC experiments (`dvc exp show`)."""
    from pocknet.seeds import run_seed_report

    md, csv = run_seed_report(repo, out_dir, seed_param=seed_param, all_commits=all_commits)
    click.echo(md.read_text(encoding="utf-8"))
    click.echo(f"wrote {md} and {csv}")


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
    from pocknet.esm_tiny import write_tiny_esm2_checkpoint

    out = write_tiny_esm2_checkpoint(path, num_layers=layers, embed_dim=dim, seed=seed)
    click.echo(f"wrote {out}")


@cli.command("validate-h5")
@click.argument("path", type=click.Path(dir_okay=False))
def validate_h5_cmd(path: str) -> None:
    """Check every invariant of a training-set HDF5 file."""
    from pocknet.h5store import H5Reader, validate

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
