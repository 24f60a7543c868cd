"""vdW radii for the SAS, as P2Rank takes them from CDK (SCIENCE.md §2).

The other SAS geometry facts (probe radius, tessellation, merge distance) are
documented in ``docs/p2rank_features.md`` and set in :class:`pocknet.featurize.features.SurfaceConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import numpy as np

__all__ = ["CDK_VDW_RADII", "DEFAULT_VDW_RADIUS", "vdw_radii"]


#: vdW radii (Å) that CDK's ``NumericalSurface`` uses (``org.openscience.cdk.config.Elements``,
#: Blue Obelisk data). Co, Ni and Cu have no radius in CDK; current P2Rank
#: (``PatchedCdkNumericalSurface``) substitutes krypton, 2.02 Å.
CDK_VDW_RADII: Mapping[str, float] = MappingProxyType(
    {
        "H": 1.20, "C": 1.70, "N": 1.60, "O": 1.55, "F": 1.50, "P": 1.95, "S": 1.80,
        "CL": 1.80, "SE": 1.90, "BR": 1.90, "I": 2.10, "B": 1.80, "SI": 2.10, "AS": 2.05,
        "LI": 2.20, "NA": 2.40, "K": 2.80, "RB": 2.90, "CS": 3.00, "BE": 1.90, "MG": 2.20,
        "CA": 2.40, "SR": 2.55, "BA": 2.70, "AL": 2.10, "GA": 2.10, "V": 2.05, "CR": 2.05,
        "MN": 2.05, "FE": 2.05, "CO": 2.02, "NI": 2.02, "CU": 2.02, "ZN": 2.10, "MO": 2.10,
        "W": 2.10, "RU": 2.05, "PD": 2.05, "AG": 2.10, "CD": 2.20, "PT": 2.05, "AU": 2.10,
        "HG": 2.05, "PB": 2.30, "TL": 2.20, "SN": 2.25, "SB": 2.20, "TE": 2.10, "XE": 2.16,
        "KR": 2.02, "AR": 1.88, "GD": 2.38, "YB": 2.28, "U": 2.30,
    }
)  # fmt: skip

#: Radius of carbon, P2Rank's last-resort element when neither element nor atom name is known.
DEFAULT_VDW_RADIUS: float = 1.70


def vdw_radii(elements: np.ndarray, atom_names: np.ndarray | None = None) -> np.ndarray:
    """CDK vdW radii for atoms, with P2Rank's fallback for unknown elements.

    P2Rank (``utils/CdkUtils.bioJavaToCDKAtom``) passes the element to CDK; if CDK does not know
    it, the first letter of the atom name is tried, then carbon.

    Parameters
    ----------
    elements : numpy.ndarray
        ``[n]`` element symbols, any case (``'C'``, ``'SE'``).
    atom_names : numpy.ndarray, optional
        ``[n]`` atom names used for the fallback; without them unknown elements get carbon.

    Returns
    -------
    numpy.ndarray
        ``[n]`` float64 radii in Å (without the probe radius).
    """
    el = np.char.upper(np.char.strip(np.asarray(elements, dtype=str)))
    uniq, inv = np.unique(el, return_inverse=True)
    known = np.array([u in CDK_VDW_RADII for u in uniq], dtype=bool)
    r_uniq = np.array([CDK_VDW_RADII.get(u, DEFAULT_VDW_RADIUS) for u in uniq], dtype=np.float64)
    radii = r_uniq[inv.reshape(-1)]
    unknown = ~known[inv.reshape(-1)]
    if atom_names is not None and unknown.any():
        names = np.asarray(atom_names, dtype=str)[unknown].tolist()
        radii[unknown] = [CDK_VDW_RADII.get(s.strip().upper()[:1], DEFAULT_VDW_RADIUS) for s in names]
    return radii
