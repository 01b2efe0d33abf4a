"""A real headless Chromium for the end-to-end suite: render a local page, see what happened.

``ensure_chromium()`` finds Chromium (``$ARCHITECT_PARALLEL_CHROMIUM``, else ``chromium``,
``chromium-browser`` or ``google-chrome`` on PATH) or installs Debian's ``chromium`` with
apt-get, and fails loudly when it cannot. ``Browser`` speaks the Chrome DevTools Protocol
over ``--remote-debugging-pipe`` (NUL-terminated JSON on the child's fds 3 and 4)::

    with Browser() as browser:                   # Browser(width=1400, height=900, timeout=60)
        page = browser.open("/tmp/report.html")  # after the load event and a short settle
        page.evaluate("document.querySelectorAll('tr').length")
        png = page.screenshot(full_page=True)
        page.dialogs, page.console_errors, page.exceptions, page.log_errors
    # here Chromium and all its processes are gone

``render(path)`` does that in one call. ``png_colours(png)`` decodes a PNG (8-bit,
non-interlaced) with zlib, so a test can tell a drawn screenshot from a blank one.
"""

from __future__ import annotations

import base64
import collections
import fcntl
import json
import os
import pathlib
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib
from dataclasses import dataclass, field

NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = (
    "--headless=new",  # without it Chromium wants an X server
    # The sandbox needs user namespaces or a setuid helper, which a container run as root
    # lacks: as root Chromium exits at once without this ("Running as root without
    # --no-sandbox is not supported"). The pages rendered are the tests' own.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",  # a container's /dev/shm is often 64 MB: too small
    "--no-first-run", "--no-default-browser-check", "--disable-extensions",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars", "--mute-audio",
)


class BrowserError(RuntimeError):
    pass


def ensure_chromium() -> str:
    """The path of a Chromium binary, installing Debian's ``chromium`` when there is none."""
    named = os.environ.get("ARCHITECT_PARALLEL_CHROMIUM")
    if named:
        if not shutil.which(named):
            raise BrowserError("ARCHITECT_PARALLEL_CHROMIUM=%s is not an executable" % named)
        return shutil.which(named)
    found = next(filter(None, map(shutil.which, NAMES)), None)
    if found:
        return found
    if not shutil.which("apt-get"):
        raise BrowserError("no Chromium on PATH (%s) and no apt-get to install Debian's chromium"
                           ": install one or set ARCHITECT_PARALLEL_CHROMIUM" % ", ".join(NAMES))
    sudo = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BrowserError("no Chromium on PATH, and installing Debian's chromium needs "
                               "root: this is not root and has no sudo")
        sudo = ["sudo", "-n"]
    # `env`, as sudo drops the caller's environment; wait for another apt run, don't fail.
    apt = sudo + ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-o",
                  "DPkg::Lock::Timeout=300"]
    install = apt + ["install", "-y", "--no-install-recommends", "chromium"]
    started = time.monotonic()
    proc = subprocess.run(install, capture_output=True, text=True, timeout=900)
    if proc.returncode != 0:  # most often: no package lists yet, or stale ones
        update = subprocess.run(apt + ["update"], capture_output=True, text=True, timeout=900)
        proc = subprocess.run(install, capture_output=True, text=True, timeout=900)
        if proc.returncode != 0:
            raise BrowserError("could not install Debian's chromium: `%s` exited %d:\n%s\n"
                               "(apt-get update before it exited %d:\n%s)" % (
                                   " ".join(install), proc.returncode,
                                   (proc.stdout + proc.stderr)[-3000:], update.returncode,
                                   (update.stdout + update.stderr)[-2000:]))
    print("installed Debian's chromium in %.1f s" % (time.monotonic() - started))
    found = next(filter(None, map(shutil.which, NAMES)), None)
    if not found:
        raise BrowserError("apt-get installed chromium, yet none of %s is on PATH" % (NAMES,))
    return found


class Page:
    """One tab. Its lists fill as events arrive, while any call to the browser waits."""

    def __init__(self, browser: Browser, session: str):
        self.browser, self.session = browser, session
        self.dialogs: list = []         # {"type": "alert", "message": "1"}: each one dismissed
        self.console_errors: list = []  # "error: text", "warning: text" (console.error, .warn)
        self.exceptions: list = []      # uncaught: "ReferenceError: f is not defined\n    at …"
        self.log_errors: list = []      # "security: <CSP violation>", "network: Failed to load…"
        self.loads: set = set()         # loaderIds of the navigations that fired "load"

    def call(self, method: str, **params) -> dict:
        return self.browser.call(method, params, self.session)

    def evaluate(self, expression: str):
        """The value of a JavaScript expression (awaited if a promise), as JSON would give it."""
        reply = self.call("Runtime.evaluate", expression=expression, returnByValue=True,
                          awaitPromise=True)
        if "exceptionDetails" in reply:
            raise BrowserError("%s threw %s" % (expression, _describe(reply["exceptionDetails"])))
        return reply["result"].get("value")

    def screenshot(self, full_page: bool = False) -> bytes:
        """A PNG of the viewport, or of the whole page when ``full_page``."""
        params: dict = {"format": "png"}
        if full_page:
            size = self.call("Page.getLayoutMetrics")["cssContentSize"]
            params.update(captureBeyondViewport=True, clip={
                "x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1})
        return base64.b64decode(self.call("Page.captureScreenshot", **params)["data"])

    def _event(self, method: str, p: dict) -> None:
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append({"type": p["type"], "message": p["message"]})
            # An open dialog stops the page: dismiss it (the reply is not waited for).
            self.browser.send("Page.handleJavaScriptDialog", {"accept": False}, self.session)
        elif method == "Runtime.consoleAPICalled" and p["type"] in ("error", "warning", "assert"):
            self.console_errors.append(p["type"] + ": " + " ".join(
                str(a.get("value", a.get("description", a["type"]))) for a in p["args"]))
        elif method == "Runtime.exceptionThrown":
            self.exceptions.append(_describe(p["exceptionDetails"]))
        elif method == "Log.entryAdded" and p["entry"]["level"] == "error":
            self.log_errors.append("%s: %s" % (p["entry"]["source"], p["entry"]["text"]))
        elif method == "Page.lifecycleEvent" and p["name"] == "load":
            self.loads.add(p["loaderId"])


def _describe(details: dict) -> str:
    return (details.get("exception") or {}).get("description") or details.get("text", "")


class Browser:
    """A headless Chromium for the length of a ``with`` block, then killed with all its
    processes. ``timeout`` bounds each step (start, open, evaluate, screenshot), in seconds."""

    def __init__(self, width: int = 1400, height: int = 900, timeout: float = 60.0,
                 binary: str | None = None):
        self.width, self.height, self.timeout = width, height, timeout
        self.binary = binary or ensure_chromium()
        self.proc, self.pages, self._next_id, self._replies, self._buffer = None, {}, 0, {}, b""

    def __enter__(self) -> Browser:
        self.profile = tempfile.mkdtemp(prefix="architect-parallel-chromium-")
        self.output = open(os.path.join(self.profile, "output.log"), "w+b")
        cmd_r, self.pipe_in = os.pipe()   # commands: Chromium reads them on its fd 3
        self.pipe_out, out_w = os.pipe()  # replies and events: Chromium writes them on fd 4

        def child_fds():  # in the child, before exec (first out of 3 and 4's way)
            commands, replies = (fcntl.fcntl(fd, fcntl.F_DUPFD, 5) for fd in (cmd_r, out_w))
            os.dup2(commands, 3)
            os.dup2(replies, 4)

        # The crash handler daemonizes itself out of the process group, with its reports
        # under $XDG_CONFIG_HOME: there the profile, which then every process names.
        env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(self.profile, "config"))
        try:
            try:
                self.proc = subprocess.Popen(
                    [self.binary, *FLAGS, "--window-size=%d,%d" % (self.width, self.height),
                     "--user-data-dir=" + self.profile, "--remote-debugging-pipe", "about:blank"],
                    stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output, env=env,
                    pass_fds=(3, 4), preexec_fn=child_fds, start_new_session=True)
            finally:  # Chromium's ends: kept open here, they would hide its exit
                os.close(cmd_r)
                os.close(out_w)
            self.version = self.call("Browser.getVersion")["product"]
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def open(self, target: str) -> Page:
        """A new tab showing ``target`` (a file path or a URL), once loaded and settled."""
        url = target if "://" in target else pathlib.Path(target).resolve().as_uri()
        target_id = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target_id, "flatten": True})
        page = self.pages[session["sessionId"]] = Page(self, session["sessionId"])
        for method in ("Page.enable", "Runtime.enable", "Log.enable"):
            page.call(method)
        page.call("Page.setLifecycleEventsEnabled", enabled=True)
        page.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)
        reply = page.call("Page.navigate", url=url)
        if reply.get("errorText"):
            raise BrowserError("could not open %s: %s" % (url, reply["errorText"]))
        self._wait(lambda: reply["loaderId"] in page.loads, "the load event of " + url)
        self._wait(lambda: False, "", time.monotonic() + 0.3)  # timers, late console output
        return page

    def send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self.pipe_in, data):]
        except BrokenPipeError:
            raise BrowserError("Chromium is gone (exit status %s): cannot send %s%s"
                               % (self.proc.wait(5), method, self._output())) from None
        return self._next_id

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        """Send a command, handle events until its reply comes, and return its result."""
        sent = self.send(method, params, session)
        self._wait(lambda: sent in self._replies, method)
        reply = self._replies.pop(sent)
        if "error" in reply:
            raise BrowserError("%s failed: %s" % (method, reply["error"].get("message")))
        return reply.get("result", {})

    def _wait(self, done, what: str, until: float | None = None) -> None:
        """Handle messages until ``done()``, or until ``until`` (or fail after the timeout)."""
        deadline = until or time.monotonic() + self.timeout
        while not done():
            left = deadline - time.monotonic()
            if left <= 0 and until:
                return
            if left <= 0:
                raise BrowserError("timed out after %ss waiting for %s%s"
                                   % (self.timeout, what, self._output()))
            if not select.select([self.pipe_out], [], [], left)[0]:
                continue
            chunk = os.read(self.pipe_out, 1 << 20)
            if not chunk:
                raise BrowserError("Chromium closed its pipe (exit status %s) before %s%s"
                                   % (self.proc.poll(), what, self._output()))
            *messages, self._buffer = (self._buffer + chunk).split(b"\0")
            for message in map(json.loads, messages):
                if "id" in message:
                    self._replies[message["id"]] = message
                elif message.get("sessionId") in self.pages:
                    self.pages[message["sessionId"]]._event(message["method"], message["params"])

    def _output(self) -> str:
        self.output.seek(0)
        return "\nChromium's output ends:\n" + self.output.read()[-2000:].decode(errors="replace")

    def close(self) -> None:
        """Kill Chromium's process group (it has a session of its own), then any process
        that left it (the crash handler) but names the profile; delete the profile."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
            self.proc = None
            for pid in processes_naming(self.profile):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for fd in (self.pipe_in, self.pipe_out):
            if fd >= 0:
                os.close(fd)
        self.pipe_in = self.pipe_out = -1
        self.output.close()
        shutil.rmtree(self.profile, ignore_errors=True)


def processes_naming(marker: str) -> list:
    """Pids of live processes whose command line holds ``marker`` (Linux; [] elsewhere)."""
    found = []
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:  # a zombie's is empty
                if marker.encode() in f.read():
                    found.append(int(pid))
        except OSError:  # it ended meanwhile
            pass
    return found


@dataclass
class Rendered:
    png: bytes
    width: int   # of the PNG, from its IHDR
    height: int
    dialogs: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)
    exceptions: list = field(default_factory=list)
    log_errors: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # expression -> its value


def render(html_path: str, width: int = 1400, height: int = 900, timeout: float = 60,
           evaluate: tuple = (), full_page: bool = False) -> Rendered:
    """Open ``html_path`` in a fresh Chromium, evaluate the ``evaluate`` expressions, and
    take a screenshot."""
    with Browser(width, height, timeout) as browser:
        page = browser.open(html_path)
        values = {expression: page.evaluate(expression) for expression in evaluate}
        png = page.screenshot(full_page)
        return Rendered(png, *png_size(png), page.dialogs, page.console_errors,
                        page.exceptions, page.log_errors, values)


def png_size(png: bytes) -> tuple:
    """(width, height) from a PNG's IHDR chunk."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return struct.unpack(">II", png[16:24])


def png_rows(png: bytes) -> tuple:
    """(channels, rows of pixel bytes) of an 8-bit non-interlaced grey or RGB(A) PNG."""
    width, height = png_size(png)
    depth, kind, interlace = png[24], png[25], png[28]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(kind)
    if depth != 8 or interlace or not channels:
        raise ValueError("PNG of bit depth %d, colour type %d, interlace %d: unsupported"
                         % (depth, kind, interlace))
    idat, at = [], 8
    while at < len(png):
        length, name = struct.unpack(">I4s", png[at:at + 8])
        if name == b"IDAT":
            idat.append(png[at + 8:at + 8 + length])
        at += 12 + length
    data, stride, bpp = zlib.decompress(b"".join(idat)), width * channels, channels
    low7, high = (int.from_bytes(bytes([b]) * stride, "big") for b in (0x7F, 0x80))

    def add(x: int, y: int) -> int:  # two rows as integers, added byte by byte modulo 256
        return ((x & low7) + (y & low7)) ^ ((x ^ y) & high)

    rows, prior = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1) + 1
        kind, row = data[start - 1], data[start:start + stride]
        if kind == 1:    # Sub: a running sum along the row, by doubling shifts
            value, shift = int.from_bytes(row, "big"), bpp
            while shift < stride:
                value, shift = add(value, value >> 8 * shift), shift * 2
            row = value.to_bytes(stride, "big")
        elif kind == 2:  # Up
            row = add(*(int.from_bytes(r, "big") for r in (row, prior))).to_bytes(stride, "big")
        elif kind in (3, 4):  # Average, Paeth: byte by byte
            out = bytearray(row)
            for i in range(stride):
                a, b, c = (out[i - bpp], prior[i], prior[i - bpp]) if i >= bpp else (0, prior[i], 0)
                if kind == 3:
                    a = (a + b) >> 1
                else:
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    a = a if pa <= pb and pa <= pc else b if pb <= pc else c
                out[i] = (out[i] + a) & 255
            row = bytes(out)
        elif kind:
            raise ValueError("PNG filter type %d in row %d" % (kind, y))
        rows.append(row)
        prior = row
    return channels, rows


def png_colours(png: bytes) -> collections.Counter:
    """How many pixels have each colour (a tuple of channel values)."""
    channels, rows = png_rows(png)
    counts: collections.Counter = collections.Counter()
    for row in rows:
        counts.update(zip(*(row[c::channels] for c in range(channels))))
    return counts


def png_is_blank(png: bytes) -> bool:
    """True when every pixel has the same colour."""
    return len(png_colours(png)) <= 1
