from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.inference.nodes import predict_splits


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                predict_splits,
                inputs=["final_model", "protein_features", "splits", "params:inference"],
                outputs="predictions",
                name="predict_splits",
            )
        ]
    )
