"""CI reports: results file, JUnit XML, Markdown summaries, --require."""

import json
import xml.etree.ElementTree as ET

import pytest

from conftest import git

MODELS = "fake:write=a.txt+cost=0.2,fake:json=failed+exit=1,fake:sleep=30,fake:json=partial"


@pytest.fixture
def mixed_run(repo, cli, tmp_path, monkeypatch):
    """One run with a success, a failure, a timeout and a partial, writing every report."""
    summary = tmp_path / "step-summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = cli("t", "--models", MODELS, "--workers", "4", "--timeout-per-worker", "1",
                         "--check", "test -f a.txt", "--results", tmp_path / "results.json",
                         "--junit", tmp_path / "junit.xml", "--summary", tmp_path / "summary.md")
    return code, tmp_path, summary


def test_junit_report_has_one_testcase_per_worker_with_the_right_counts(mixed_run):
    code, tmp_path, _ = mixed_run
    assert code == 0
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("4", "2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name").split("]")[0] + "]" for c in cases] == [
        "worker 1 [fake:write=a.txt+cost=0.2]", "worker 2 [fake:json=failed+exit=1]",
        "worker 3 [fake:sleep=30]", "worker 4 [fake:json=partial]"]
    assert cases[0].find("failure") is None and cases[0].find("error") is None
    assert cases[1].find("failure").get("type") == "failed"
    assert cases[2].find("error").get("type") == "timeout"
    assert cases[3].find("failure").get("type") == "partial"
    props = {p.get("name"): p.get("value") for p in cases[0].find("properties")}
    assert props["check: test -f a.txt"] == "passed" and props["rank"] == "1"
    assert '"status": "success"' in cases[0].find("system-out").text


def test_summary_written_and_appended_to_the_step_summary(mixed_run):
    _, tmp_path, step_summary = mixed_run
    text = (tmp_path / "summary.md").read_text()
    assert text.startswith("## architect-parallel\n")
    assert "| **1** | 1 | fake:write=a.txt+cost=0.2 | success | 1/1 | $0.2000 |" in text
    assert "a.txt | 1 +" in text  # the best worker's diffstat
    assert step_summary.read_text() == "# earlier step\n" + text


def test_results_file_carries_run_metadata(mixed_run, repo):
    _, tmp_path, _ = mixed_run
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["base_commit"] == git("rev-parse", "HEAD", cwd=repo)
    assert data["version"] and data["finished"] >= data["started"] and len(data["fingerprint"]) == 16
    assert data["config"]["checks"] == ["test -f a.txt"] and data["config"]["timeout_per_worker"] == 1
    assert [r["status"] for r in data["results"]] == ["success", "failed", "timeout", "partial"]
    saved = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert saved["fingerprint"] == data["fingerprint"] and saved["results"] == data["results"]


@pytest.mark.parametrize("require, code", [("any", 0), ("all", 1), ("1", 0), ("2", 0), ("3", 1)])
def test_require(repo, cli, require, code):
    models = "fake:json=success,fake:json=success,fake:json=failed"
    assert cli("t", "--models", models, "--require", require, "--force")[0] == code


def test_require_rejects_nonsense(repo, cli):
    code, _, err = cli("t", "--require", "most")
    assert code == 2 and "--require: expected all, any or a number of workers" in err
