"""A real headless Chromium, driven over the Chrome DevTools Protocol (tests only).

Debian's ``chromium`` package plus the small ``websocket-client`` package: no
chromedriver, no selenium. One :class:`Chromium` is one browser process with a
fresh profile in a temporary folder; it is closed (process and folder) by the
context manager.

Flags, and why:

* ``--headless --no-sandbox``: CI containers run as root, where the sandbox cannot start.
* ``--enable-unsafe-swiftshader --use-angle=swiftshader``: WebGL on the CPU (SwiftShader
  through ANGLE). Headless Chromium has no GPU; without these, WebGL contexts are refused
  and a 3D viewer's canvas stays blank. (``--disable-gpu`` must *not* be given: it turns
  WebGL off altogether.)
* ``--disable-background-networking --disable-component-update --disable-sync
  --no-first-run --disable-quic``: the browser itself fetches nothing on its own, so every
  request a test sees comes from the page.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--enable-unsafe-swiftshader",
    "--use-angle=swiftshader",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(RuntimeError):
    pass


class Chromium:
    """``with Chromium() as browser: browser.open(url, width, height) ...``.

    Collects, for the page opened last: ``console`` (``(level, text)`` of every console
    call), ``exceptions`` (uncaught JavaScript errors), ``log_errors`` (the browser's own
    error log entries: failed loads, blocked requests) and ``requests`` (every URL the
    page asked for).
    """

    def __init__(self, executable: str | None = None, timeout: float = 60.0) -> None:
        self.executable = executable or find_chromium()
        if not self.executable:
            raise BrowserError("no chromium on PATH")
        self.timeout = timeout
        self.console: list[tuple[str, str]] = []
        self.exceptions: list[str] = []
        self.log_errors: list[str] = []
        self.requests: list[str] = []
        self._id = 0
        self._proc: subprocess.Popen | None = None
        self._profile: str | None = None
        self._ws = None

    # -- process -------------------------------------------------------------------------
    def __enter__(self) -> "Chromium":
        import websocket  # websocket-client

        self._profile = tempfile.mkdtemp(prefix="pocknet-chromium-")
        self._proc = subprocess.Popen(
            [self.executable, *FLAGS, f"--user-data-dir={self._profile}", "--remote-debugging-port=0",
             "--window-size=1280,800", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.__exit__(None, None, None)
                raise BrowserError(f"{self.executable} did not start its DevTools endpoint")
            time.sleep(0.05)
        port = int(port_file.read_text().splitlines()[0])
        target = self._page_target(port, deadline)
        self._ws = websocket.create_connection(target, timeout=self.timeout, suppress_origin=True)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._ws is not None:
            try:
                self._ws.close()
            except Exception:
                pass
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(10)
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)

    @staticmethod
    def _page_target(port: int, deadline: float) -> str:
        import urllib.request

        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as response:
                    pages = [t for t in json.load(response) if t.get("type") == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BrowserError("no page target on the DevTools endpoint")
            time.sleep(0.05)

    # -- protocol ------------------------------------------------------------------------
    def _event(self, message: dict[str, Any]) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            self.console.append((params.get("type", ""), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            exception = details.get("exception", {})
            self.exceptions.append(str(exception.get("description") or details.get("text")))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            if entry.get("level") == "error":
                self.log_errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip())
        elif method == "Network.requestWillBeSent":
            self.requests.append(params.get("request", {}).get("url", ""))

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        wanted = self._id
        self._ws.send(json.dumps({"id": wanted, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while True:
            if time.monotonic() > deadline:
                raise BrowserError(f"{method}: no answer")
            message = json.loads(self._ws.recv())
            if message.get("id") == wanted:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def pump(self, seconds: float) -> None:
        """Let the page run for ``seconds``, collecting its events."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.call("Runtime.evaluate", expression="0")
            time.sleep(0.05)

    # -- page ----------------------------------------------------------------------------
    def open(self, url: str, width: int = 1280, height: int = 800) -> None:
        self.console.clear()
        self.exceptions.clear()
        self.log_errors.clear()
        self.requests.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        self.wait_for("document.readyState === 'complete'")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails']}")
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float | None = None) -> Any:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            value = self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise BrowserError(f"timed out waiting for {expression}")
            time.sleep(0.1)

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) in the middle of the element."""
        box = self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        if box is None:
            raise BrowserError(f"no element {selector}")
        x, y = box
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            extra = {"button": "left", "clickCount": 1} if kind != "mouseMoved" else {}
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, **extra)

    def screenshot(self, selector: str | None = None, part: tuple[float, float, float, float] | None = None) -> bytes:
        """PNG bytes of the viewport, or of one element's box.

        ``part``: ``(left, top, width, height)`` as fractions of the element's box (a region of it).
        """
        params: dict[str, Any] = {"format": "png"}
        if selector:
            rect = self.evaluate(
                f"(() => {{ const r = document.querySelector({json.dumps(selector)}).getBoundingClientRect();"
                " return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height]; })()"
            )
            if part:
                rect = [rect[0] + part[0] * rect[2], rect[1] + part[1] * rect[3], part[2] * rect[2], part[3] * rect[3]]
            params["clip"] = {"x": rect[0], "y": rect[1], "width": rect[2], "height": rect[3], "scale": 1}
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])


def png_colours(png: bytes, max_colours: int = 1 << 16) -> int:
    """Number of distinct RGB colours in a PNG (capped at ``max_colours``)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(max_colours)
    return max_colours if colours is None else len(colours)


def png_difference(a: bytes, b: bytes) -> float:
    """Fraction of pixels that differ between two same-sized PNGs."""
    import numpy as np
    from PIL import Image

    x = np.asarray(Image.open(io.BytesIO(a)).convert("RGB"), dtype=np.int16)
    y = np.asarray(Image.open(io.BytesIO(b)).convert("RGB"), dtype=np.int16)
    if x.shape != y.shape:
        return 1.0
    return float(np.any(np.abs(x - y) > 8, axis=-1).mean())
