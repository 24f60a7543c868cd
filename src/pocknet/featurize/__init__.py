"""The data_engineering stage: SAS points, P2Rank descriptors, labels, feature files."""
