"""Structures in: file checks, PDB/mmCIF parsing (reader), records, ligand relevance, dataset lists."""
