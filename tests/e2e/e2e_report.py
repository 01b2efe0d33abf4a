"""The HTML report of a real run, rendered by a real headless Chromium (installed when missing).

The run is a race on one task whose text, file names and diff try to inject script: one
worker passes every check, one fails a check, one fails at the model API. The report
must render (a wide, non-blank page with every worker), its own script must run, and
nothing injected may: no dialog, no console error, no exception, no blocked attempt.

Set ``ARCHITECT_PARALLEL_E2E_SCREENSHOT=FILE`` to keep the full-page screenshot.
"""

from __future__ import annotations

import json
import os
import sys

import pytest

from browser import Browser, png_colours, png_is_blank, png_size
from harness import make_repo, no_leftovers, run_tool

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from fake_agent import make_agent_bin  # noqa: E402

TASK = "<script>alert(1)</script> make the greeting friendlier\n</pre><script>alert(2)</script>"
HOSTILE_FILE = '"><img src=x onerror=alert(1)>.txt'
MODELS = [f"fake:write=src/app.py+write={HOSTILE_FILE}+cost=0.031+tokens=5200/840+sleep=0.4",
          "fake:write=src/app.py+cost=0.012+sleep=0.8",
          "fake:apierror=429_quota_exceeded_for_this_key+stderr=rate_limited+exit=1"]
CHECKS = ["--check", f"test -f '{HOSTILE_FILE}'", "--check", "grep -c friendlier src/app.py"]


@pytest.fixture
def raced(tmp_path):
    repo = make_repo(tmp_path)
    env = dict(os.environ, PATH=make_agent_bin(str(tmp_path / "bin")) + os.pathsep
               + os.environ["PATH"], GIT_CONFIG_NOSYSTEM="1")
    env.pop("FAKE_AGENT_PLAN", None)
    env.pop("FAKE_AGENT_RECORD", None)
    run = run_tool(repo, ["run", TASK, "--models", ",".join(MODELS), *CHECKS, "--progress", "none",
                          "--html", "run-report.html"], env)
    assert run.code == 0, run
    assert [r["status"] for r in run.results] == ["success", "success", "failed"], run
    report = run_tool(repo, ["report"], env, json_output=False)
    assert report.code == 0, report
    return repo, report.out.strip()


def test_the_report_of_a_real_race_renders_and_nothing_injected_runs(raced, tmp_path):
    repo, path = raced
    assert path == os.path.join(repo, ".git", "architect-parallel", "report.html")
    with Browser(width=1400, height=900) as browser:
        page = browser.open(path)
        ask = page.evaluate
        # Every worker, best first, with its verdict; the ranking and timeline hold all three.
        assert ask("[...document.querySelectorAll('section[id^=w]')].map(s => s.id)") == \
            ["w1", "w2", "w3"]
        verdicts = ask("[...document.querySelectorAll('section[id^=w] h2 .badge')]"
                       ".map(b => b.textContent)")
        assert verdicts == ["success, checks 2/2", "success, checks 1/2", "failed, checks skipped"]
        assert ask("document.querySelectorAll('svg')[0].querySelectorAll('title').length") >= 9
        assert "429 quota exceeded for this key" in ask("document.getElementById('w3').innerText")
        # The injected text is text: shown, never parsed into elements.
        text = ask("document.body.innerText")
        for hostile in ("<script>alert(1)</script>", "</pre><script>alert(2)</script>", HOSTILE_FILE):
            assert hostile in text
        assert ask("document.scripts.length") == 1
        assert ask("document.images.length") == 0
        assert ask("[...document.querySelectorAll('*')].filter(e => [...e.attributes]"
                   ".some(a => a.name.startsWith('on'))).length") == 0
        # The report's own script ran: its buttons show, and compare puts two diffs side by side.
        assert ask("document.getElementById('expand').parentElement.hidden") is False
        assert ask("document.querySelector('button.cmp').click(); "
                   "document.querySelectorAll('#compare .cols > div pre.diff').length") == 2
        assert ask("document.getElementById('compare').hidden") is False
        assert ask("document.getElementById('collapse').click(); "
                   "[...document.querySelectorAll('details.d')].every(d => !d.open)") is True
        # It fits the window: no sideways scrolling.
        assert ask("document.documentElement.scrollWidth <= window.innerWidth") is True
        png = page.screenshot(full_page=True)
        # Nothing ran that should not have; nothing was even attempted (no CSP report).
        assert page.dialogs == []
        assert page.console_errors == []
        assert page.exceptions == []
        assert page.log_errors == []
        profile = browser.profile
    assert no_leftovers(profile) == []
    width, height = png_size(png)
    assert width >= 1400 and height > 2000
    assert not png_is_blank(png)
    colours = png_colours(png)
    # The status badges' own colours are on the page: success green and failed red.
    assert colours[(26, 127, 55)] > 100 and colours[(207, 34, 46)] > 100
    keep = os.environ.get("ARCHITECT_PARALLEL_E2E_SCREENSHOT")
    if keep:
        with open(keep, "wb") as f:
            f.write(png)


def test_the_run_report_and_the_report_command_agree(raced):
    repo, path = raced
    with open(os.path.join(repo, "run-report.html"), encoding="utf-8") as f:
        during = f.read()
    with open(path, encoding="utf-8") as f:
        after = f.read()
    assert during == after  # the same run, written at its end and again later
    with open(os.path.join(repo, ".git", "architect-parallel", "last-run.json")) as f:
        timeline = json.load(f)["results"][0]["timeline"]
    assert [e["state"] for e in timeline] == ["queued", "creating", "running", "checking", "success"]
