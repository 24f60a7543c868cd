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
