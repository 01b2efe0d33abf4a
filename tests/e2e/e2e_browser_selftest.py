"""``browser.py`` against the real headless Chromium (Debian's ``chromium``, installed when
missing): what a page did shows up, and what it must not do would show up too.

Under a Content-Security-Policy that allows one inline script by its hash, that script runs
while injected markup (``<script>alert(1)</script>``, ``<img src=x onerror=alert(1)>``)
opens no dialog, and Chromium reports each blocked attempt (``Log.entryAdded``, source
``security``): "blocked by the policy" is told from "never there". Without the policy the
same markup opens dialogs, and they are recorded, so the detection can fail.
"""

from __future__ import annotations

import base64
import hashlib

import pytest

from browser import Browser, BrowserError, png_colours, png_is_blank, png_size, \
    processes_naming, render
from harness import no_leftovers

ALLOWED = ("document.body.insertAdjacentHTML('beforeend', "
           "'<p class=\"ran\" style=\"color:#fff;background:#c00\">the allowed script ran</p>');")
INJECTED = "<script>alert(1)</script><img src=x onerror=alert(1)>"
STYLE = "<style>body{background:#f4f4ff;font:24px sans-serif} h1{color:#036}</style>"


def page(tmp_path, name: str, csp: str = "") -> str:
    meta = '<meta http-equiv="Content-Security-Policy" content="%s">' % csp if csp else ""
    path = tmp_path / name
    path.write_text("<!doctype html><html><head><meta charset=utf-8>%s%s</head><body>"
                    "<h1>Report</h1><div class=comment>%s</div><script>%s</script>"
                    "</body></html>" % (meta, STYLE, INJECTED, ALLOWED))
    return str(path)


@pytest.fixture
def profiles(monkeypatch):
    """The profile folder of each Browser the test starts: every Chromium process names it."""
    seen = []
    enter = Browser.__enter__

    def recording(self):
        try:
            return enter(self)
        finally:
            seen.append(self.profile)

    monkeypatch.setattr(Browser, "__enter__", recording)
    return seen


def assert_all_gone(profiles):
    assert profiles
    for profile in profiles:
        assert no_leftovers(profile) == [], "Chromium processes left behind"


def test_csp_blocks_the_injected_markup_and_says_so(tmp_path, profiles):
    digest = base64.b64encode(hashlib.sha256(ALLOWED.encode()).digest()).decode()
    csp = ("default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-%s'; "
           "img-src data:" % digest)
    with Browser() as browser:
        assert "Chrome/" in browser.version
        # browser, zygotes, GPU, network and storage services, renderer, crash handlers
        assert len(processes_naming(browser.profile)) >= 4
        shown = browser.open(page(tmp_path, "csp.html", csp))
        assert shown.evaluate("document.querySelectorAll('p.ran').length") == 1
        assert shown.evaluate("document.querySelectorAll('.comment img').length") == 1
        assert shown.dialogs == []
        assert shown.exceptions == [] and shown.console_errors == []
        blocked = [e for e in shown.log_errors if e.startswith("security: ")
                   and "violates the following Content Security Policy directive" in e]
        assert len(blocked) == len(shown.log_errors) == 3, shown.log_errors
        assert any("Executing inline script" in e for e in blocked)
        assert any("Executing inline event handler" in e for e in blocked)
        assert any("Loading the image 'file://" in e for e in blocked)  # img-src data:

        png = shown.screenshot()
        assert png_size(png) == (1400, 900)
        colours = png_colours(png)
        assert not png_is_blank(png) and len(colours) > 10
        assert colours[(0xCC, 0x00, 0x00)] > 1000  # the paragraph the allowed script added
        assert colours[(0xF4, 0xF4, 0xFF)] > 1400 * 900 // 2  # the page's background
        assert png_size(shown.screenshot(full_page=True)) == (1400, 900)
        assert shown.evaluate("Promise.resolve(6 * 7)") == 42
        with pytest.raises(BrowserError, match="nope is not defined"):
            shown.evaluate("nope()")
    assert_all_gone(profiles)


def test_without_csp_the_injected_markup_runs_and_is_recorded(tmp_path, profiles):
    shown = render(page(tmp_path, "plain.html"), width=1000, height=700,
                   evaluate=("document.querySelectorAll('p.ran').length",))
    assert shown.dialogs == [{"type": "alert", "message": "1"}] * 2  # <script>, then onerror
    assert shown.values == {"document.querySelectorAll('p.ran').length": 1}
    assert shown.log_errors == ["network: Failed to load resource: net::ERR_FILE_NOT_FOUND"]
    assert (shown.width, shown.height) == (1000, 700) == png_size(shown.png)
    assert not png_is_blank(shown.png)
    assert_all_gone(profiles)


def test_console_errors_exceptions_and_a_blank_page(tmp_path, profiles):
    path = tmp_path / "errors.html"
    path.write_text("<body style='margin:0;background:#fff'><script>console.error('boom', 7);"
                    "console.warn('careful'); console.log('fine'); missing();</script>")
    shown = render(str(path), width=320, height=200)
    assert shown.console_errors == ["error: boom 7", "warning: careful"]
    assert len(shown.exceptions) == 1 and "missing is not defined" in shown.exceptions[0]
    assert shown.dialogs == [] and shown.log_errors == []
    assert png_is_blank(shown.png) and set(png_colours(shown.png)) == {(255, 255, 255)}
    assert png_size(shown.png) == (320, 200)
    assert_all_gone(profiles)


def test_a_page_that_never_loads_times_out_and_leaves_nothing(tmp_path, profiles):
    path = tmp_path / "busy.html"
    path.write_text("<script>for (;;) {}</script>")
    with pytest.raises(BrowserError, match="after 3s"):
        render(str(path), timeout=3)
    assert_all_gone(profiles)
