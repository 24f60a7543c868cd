from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.embedding.nodes import collect_chains, embed_chains


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(collect_chains, inputs="protein_features", outputs="residue_chains", name="collect_chains"),
            node(
                embed_chains,
                inputs=["residue_chains", "params:embedding"],
                outputs="embedding_manifest",
                name="embed_chains",
            ),
        ]
    )
