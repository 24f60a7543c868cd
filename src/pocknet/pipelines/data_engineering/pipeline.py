from kedro.pipeline import Pipeline, node, pipeline

from pocknet.pipelines.data_engineering.nodes import featurize_datasets, summarize


def create_pipeline(**kwargs) -> Pipeline:
    return pipeline(
        [
            node(
                featurize_datasets,
                inputs="params:data_engineering",
                outputs=["protein_features", "featurization_log"],
                name="featurize_datasets",
            ),
            node(
                summarize,
                inputs="featurization_log",
                outputs=["featurization_summary", "featurization_failures"],
                name="summarize_featurization",
            ),
        ]
    )
