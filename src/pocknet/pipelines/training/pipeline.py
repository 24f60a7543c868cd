from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.training.nodes import train_model


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                train_model,
                inputs=["training_set", "params:training", "params:h5_assembly", "params:embedding",
                        "params:data_engineering"],
                outputs=["trained_model", "training_history", "training_metrics"],
                name="train_model",
            )
        ]
    )
