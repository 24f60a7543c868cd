from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.reporting.nodes import evaluate_predictions, render_report


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                evaluate_predictions,
                inputs=["predictions", "protein_features", "splits", "final_model", "params:reporting",
                        "params:data_engineering"],  # fmt: skip
                outputs=["evaluation_metrics", "evaluation_per_protein", "success_curves", "pr_curves"],
                name="evaluate_predictions",
            ),
            node(
                render_report,
                inputs=["evaluation_metrics", "success_curves", "pr_curves", "params:reporting", "final_model"],
                outputs="evaluation_report",
                name="render_report",
            ),
        ]
    )
