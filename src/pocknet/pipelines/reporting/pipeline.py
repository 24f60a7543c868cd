from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.reporting.nodes import evaluate_predictions, render_report, write_example_pages


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                evaluate_predictions,
                inputs=["predictions", "protein_features", "splits", "final_model", "params:reporting",
                        "params:data_engineering", "external_homologues"],  # fmt: skip
                outputs=["evaluation_metrics", "evaluation_per_protein", "success_curves", "pr_curves"],
                name="evaluate_predictions",
            ),
            node(
                write_example_pages,  # 3D viewer pages of the best, median and worst protein per set
                inputs=["evaluation_per_protein", "protein_features", "params:reporting", "params:data_engineering"],
                outputs="evaluation_examples",
                name="write_example_pages",
            ),
            node(
                render_report,
                inputs=["evaluation_metrics", "success_curves", "pr_curves", "params:reporting", "final_model",
                        "evaluation_per_protein", "evaluation_examples"],  # fmt: skip
                outputs="evaluation_report",
                name="render_report",
            ),
        ]
    )
