from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.finalize.nodes import choose_pocket_seed_threshold, finalize_model, fit_pocket_rescorer


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                choose_pocket_seed_threshold,
                inputs=["trained_model", "swa_model", "protein_features", "splits", "params:pockets"],
                outputs=["pocket_settings", "seed_thresholds"],
                name="choose_pocket_seed_threshold",
            ),
            node(
                fit_pocket_rescorer,
                inputs=["trained_model", "swa_model", "protein_features", "splits", "pocket_settings", "params:finalize"],
                outputs="pocket_rescoring",
                name="fit_pocket_rescorer",
            ),
            node(
                finalize_model,
                inputs=["trained_model", "swa_model", "protein_features", "splits", "pocket_settings", "params:finalize",
                        "pocket_rescoring"],
                outputs=["final_model", "final_metrics", "calibration_reliability"],
                name="finalize_model",
            ),
        ]
    )
