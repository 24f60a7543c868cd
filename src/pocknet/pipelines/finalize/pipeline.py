from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.finalize.nodes import finalize_model


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                finalize_model,
                inputs=["trained_model", "swa_model", "protein_features", "splits", "params:pockets", "params:finalize"],
                outputs=["final_model", "final_metrics", "calibration_reliability"],
                name="finalize_model",
            ),
        ]
    )
