"""The reporting stage: evaluation sets, apo ligand transfer, report, seed sweeps, the study table."""
