from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.h5_assembly.nodes import check_h5, make_splits, plan_h5


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                make_splits,
                inputs=["residue_chains", "params:h5_assembly"],
                outputs=["splits", "leakage_report", "external_homologues"],
                name="make_splits",
            ),
            node(
                plan_h5,
                inputs=[
                    "protein_features",
                    "splits",
                    "embedding_manifest",
                    "params:h5_assembly",
                    "params:embedding",
                    "params:data_engineering",
                ],
                outputs="training_set",
                name="assemble_h5",
            ),
            node(check_h5, inputs="training_set", outputs="training_set_summary", name="validate_h5"),
        ]
    )
