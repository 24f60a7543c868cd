"""The files a page inlines, shipped as package data: the vendored 3Dmol.js and the page's CSS and code.

3Dmol.js lives in ``predict/vendor/`` (pinned, licence beside it, ``vendor/vendor.sh``
re-vendors it from npm). ``page.css`` and ``page.js`` sit beside this module; the script
reads the page's JSON block, draws with 3Dmol.js and exposes ``window.pocknetView``
(``viewer``, ``focus(rank)``, ``ready``) for tests and the console.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from pocknet.errors import PockNetError

__all__ = ["THREEDMOL_VERSION", "page_css", "page_js", "threedmol_js"]

_HERE = Path(__file__).parent
_VENDOR = _HERE.parent / "vendor"


@cache
def threedmol_js() -> str:
    """The vendored 3Dmol.js build, as inlined into every page."""
    path = _VENDOR / "3Dmol-min.js"
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:  # a broken install, not a user error; still one clear line
        raise PockNetError(f"{path}: the vendored 3Dmol.js is missing ({exc.strerror or exc}); reinstall pocknet") from exc


def _vendored_version() -> str:
    try:
        banner = (_VENDOR / "3Dmol-min.js.LICENSE.txt").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    match = re.search(r"3dmol v(\S+)", banner)
    return match.group(1) if match else "unknown"


#: Version of the vendored 3Dmol.js (from its banner).
THREEDMOL_VERSION = _vendored_version()


@cache
def _template(name: str) -> str:
    """A template file beside this module, without its surrounding blank space."""
    return (_HERE / name).read_text(encoding="utf-8").strip()


def page_css() -> str:
    """The page's style sheet (``page.css``)."""
    return _template("page.css")


def page_js() -> str:
    """The page's own code (``page.js``)."""
    return _template("page.js")
