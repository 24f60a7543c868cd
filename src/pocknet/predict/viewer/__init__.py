"""Pockets in 3D in any browser, offline: one self-contained HTML page per structure.

* :mod:`.inputs`: what a page shows (:class:`~.inputs.ViewerData`), from a prediction or a
  PockNet output folder;
* :mod:`.payload`: that data as the JSON block the page's script reads;
* :mod:`.page`: the page's HTML (and an index page), with :mod:`.assets` inlined: the
  vendored 3Dmol.js and the page's ``page.css`` and ``page.js``;
* :mod:`.command`: ``pocknet view``.

Offline by construction: the viewer library, 3Dmol.js (``predict/vendor/``, pinned, licence
beside it, ``vendor/vendor.sh`` re-vendors it from npm), is inlined, and the structure and
points travel as JSON inside the page, never fetched. 3Dmol's own code names RCSB/PubChem
addresses for its download helpers; the page never calls them (the browser test checks that
a page requests nothing but itself). Pages are deterministic: the same inputs give the same bytes.
"""

__all__: list[str] = []
