from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.swa.nodes import average_weights, finalize_model


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                average_weights,
                inputs=["training_history", "training_set", "params:swa", "params:training"],
                outputs=["swa_model", "swa_metrics"],
                name="average_weights",
            ),
            node(
                finalize_model,
                inputs=["trained_model", "swa_model", "protein_features", "splits", "params:pockets", "params:swa"],
                outputs=["final_model", "final_metrics", "calibration_reliability"],
                name="finalize_model",
            ),
        ]
    )
