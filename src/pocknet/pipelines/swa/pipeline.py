from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.swa.nodes import average_weights


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                average_weights,
                inputs=["training_history", "training_set", "params:swa", "params:training", "params:data_engineering"],
                outputs=["swa_model", "swa_metrics"],
                name="average_weights",
            ),
        ]
    )
