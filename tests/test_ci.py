"""CI reports: results file, JUnit XML, Markdown summaries, --require."""

import json
import os
import pty
import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import ROOT, git, read_records

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
    assert "| **1** | 1 | `fake:write=a.txt+cost=0.2` | success | 1/1 | $0.2000 |" in text
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


FANOUT = ["--task=fake:write=auth.txt+cost=0.3", "--task=fake:write=users.txt+cost=0.1",
          "--task=fake:json=failed+exit=1", "--check", "test -f auth.txt -o -f users.txt"]


def test_plan_prints_the_workers_and_a_matrix_and_creates_nothing(repo, cli):
    code, out, err = cli("plan", *FANOUT, "--models", "m1")
    assert code == 0 and out.splitlines() == [
        "  1  architect/parallel-1  m1       fake:write=auth.txt+cost=0.3",
        "  2  architect/parallel-2  default  fake:write=users.txt+cost=0.1",
        "  3  architect/parallel-3  default  fake:json=failed+exit=1"]
    assert err.splitlines()[0] == "3 workers, 1 model: workers 2 and 3 use the agent's default model"
    assert err.splitlines()[1].startswith("plan ") and "3 worker(s)" in err
    code, out, _ = cli("plan", *FANOUT, "--matrix")
    matrix = json.loads(out)
    assert [w["worker"] for w in matrix["include"]] == [1, 2, 3] and "\n" not in out.strip()
    assert not list(repo.glob(".architect-parallel-*"))
    assert git("branch", "--list", "architect/*", cwd=repo) == ""


def test_only_workers_runs_just_those_with_the_same_numbering(repo, cli):
    code, results, _ = cli.json("fake:json=success", "--workers", "5", "--only-workers", "2,4-5")
    assert code == 0 and [r["worker_id"] for r in results] == [2, 4, 5]
    assert sorted(p.name for p in repo.glob(".architect-parallel-*")) == [
        ".architect-parallel-2", ".architect-parallel-4", ".architect-parallel-5"]
    code, _, err = cli("t", "--workers", "2", "--only-workers", "3")
    assert code == 2 and "--only-workers: this plan has workers 1-2, not 3" in err
    code, _, err = cli("t", "--only-workers", "2-x")
    assert code == 2 and "expected worker numbers like 2,5-7" in err


def _clone(origin, path):
    subprocess.run(["git", "clone", "-q", str(origin), str(path)], check=True)
    return path


def _table(stderr):
    """The result table's header and rows, durations blanked (they differ from run to run)."""
    rows = [line for line in stderr.splitlines() if re.match(r"\s*(rank|\*?\d+)\s+\d*\s*(#|architect/)", line)]
    return [re.sub(r"\d+\.\ds", "Ts", line) for line in rows]


def _comparable(results):
    return [(r["worker_id"], r["task"], r["model"], r["status"], r["rank"], r["files_modified"],
             r["checks_passed"], r["cost"]) for r in results]


def test_matrix_flow_plan_run_in_clones_collect_matches_a_local_run(repo, cli, tmp_path, monkeypatch):
    machines = []
    for n in (1, 2, 3):  # each "machine" is its own clone running one matrix job
        clone = _clone(repo, tmp_path / f"machine{n}")
        monkeypatch.chdir(clone)
        code, _, _ = cli(*FANOUT, "--only-workers", str(n), "--results", tmp_path / f"r{n}.json", "--quiet")
        assert code == (1 if n == 3 else 0)  # worker 3's task fails
        machines.append(tmp_path / f"r{n}.json")
    collector = _clone(repo, tmp_path / "collector")
    monkeypatch.chdir(collector)
    code, collected, err = cli.json("collect", *machines, *FANOUT)
    assert code == 1 and [r["status"] for r in collected] == ["failed"] * 3  # nothing verified
    assert "its branch architect/parallel-1 is not in this repository: fetch" in collected[0]["error"]
    for n in (1, 2, 3):  # what the jobs pushed, the collect job fetches
        git("fetch", "-q", tmp_path / f"machine{n}",
            f"+refs/heads/architect/parallel-{n}:refs/heads/architect/parallel-{n}", cwd=collector)
    code, collected, err = cli.json("collect", *machines, *FANOUT, "--junit", tmp_path / "junit.xml",
                                    "--results", tmp_path / "all.json")
    assert code == 0 and "warning" not in err
    assert "rank" in err and "2/3 succeeded" in err  # the same table as a single run prints
    monkeypatch.chdir(_clone(repo, tmp_path / "local"))
    code, local, local_err = cli.json(*FANOUT)
    assert _comparable(collected) == _comparable(local)
    assert _table(err) == _table(local_err) and len(_table(err)) == 4
    assert ET.parse(tmp_path / "junit.xml").getroot().find("testsuite").get("tests") == "3"
    merged = json.loads((tmp_path / "all.json").read_text())
    assert merged["workers_total"] == 3 and merged["only_workers"] is None
    monkeypatch.chdir(collector)  # (the local run's branches hold other commits)
    code, _, _ = cli("collect", *machines, *FANOUT, "--require", "all")
    assert code == 1  # worker 3 failed
    code, _, err = cli("collect", machines[0], machines[1], *FANOUT)
    assert code == 0 and "warning: no results for worker(s) 3 of 3" in err, err


def test_collect_refuses_results_of_different_plans(repo, cli, tmp_path):
    cli("fake:json=success", "--workers", "1", "--results", tmp_path / "a.json")
    cli("fake:json=success", "--workers", "2", "--only-workers", "2", "--results", tmp_path / "b.json",
        "--force")
    code, out, err = cli("collect", tmp_path / "a.json", tmp_path / "b.json",
                         "--task=fake:json=success", "--workers", "1", "--quiet")
    assert code == 0 and out == "" and "b.json comes from another plan" in err and "left out" in err
    assert err.count("\n") == 1
    code, out, err = cli("collect", tmp_path / "b.json", "--task=fake:json=success", "--workers", "1")
    assert code == 2 and out == "" and "no results file of this plan" in err
    (tmp_path / "junk.json").write_text("[1, 2]")
    code, _, err = cli("collect", tmp_path / "junk.json", "--task=fake:json=success")
    assert code == 2 and "junk.json is not a results file" in err


def test_plain_progress_has_timestamped_lines_and_no_control_characters(repo, cli):
    code, _, err = cli("t", "--models", "fake:cost=0.5+json=success,fake:json=failed", "--workers", "2",
                       "--check", "true", "--progress", "plain")
    assert code == 0 and "\x1b" not in err
    lines = err.splitlines()
    assert any(re.fullmatch(r"\[\d\d:\d\d:\d\d\] worker 1 started \(fake:cost=0.5\+json=success\): t", l)
               for l in lines)
    assert any(re.fullmatch(r"\[\d\d:\d\d:\d\d\] worker 1 checking", l) for l in lines)
    assert any(re.fullmatch(r"\[\d\d:\d\d:\d\d\] worker 1 success \d+\.\ds \$0\.5000 checks 1/1", l)
               for l in lines)
    assert any(re.fullmatch(r"\[\d\d:\d\d:\d\d\] worker 2 failed .*", l) for l in lines)
    code, _, err = cli("fake:json=success", "--workers", "1", "--progress", "none", "--force")
    assert "started" not in err and "rank" in err  # no progress, the table still


def test_live_progress_redraws_in_place_on_a_terminal(repo, agent_env):
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "fake:sleep=1.2+json=success",
                             "--workers", "2", "--models", "a,b,c"], cwd=repo,
                            env=dict(os.environ, PYTHONPATH=ROOT, TERM="xterm"),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(master)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0
    assert "\x1b[2K" in screen and re.search(r"\x1b\[\d+F", screen)  # lines redrawn in place
    assert re.search(r"  1  a\s+running", screen) and re.search(r"  3  c\s+queued", screen)
    assert "3/3 done, 0 running, 0 queued" in screen
    final = screen[screen.rindex("3/3 done"):]
    assert "rank" in final and "3/3 succeeded" in final  # the table stays below the last frame
    assert "] worker" not in screen  # no plain lines on a terminal


def test_retries_turn_a_first_failure_into_success(repo, cli):
    code, results, err = cli.json("t", "--models", "fake:failonce=w1,fake:json=failed",
                                  "--workers", "2", "--retries", "1")
    assert code == 0
    assert [(r["status"], r["attempts"]) for r in results] == [("success", 2), ("failed", 2)]
    logs = repo / ".git" / "architect-parallel" / "logs"
    assert "failing this once" in (logs / "worker-1.attempt-1.stderr.log").read_text()
    assert (logs / "worker-1.stdout.log").read_text().startswith('{"status": "success"')
    assert "worker 1: attempt 1 failed; trying again in a fresh worktree" in err


def test_rerun_failed_touches_only_the_failed_workers(repo, cli, records):
    models = "fake:write=ok.txt,fake:failonce=w2+write=two.txt,fake:json=success"
    code, first, _ = cli.json("t", "--models", models)
    assert [r["status"] for r in first] == ["success", "failed", "success"]
    before = {k: v["start"] for k, v in read_records(records).items()}
    code, results, err = cli.json("rerun", "--failed")
    assert code == 0 and [r["status"] for r in results] == ["success", "success", "success"]
    after = {k: v["start"] for k, v in read_records(records).items()}
    assert after[".architect-parallel-1"] == before[".architect-parallel-1"]
    assert after[".architect-parallel-3"] == before[".architect-parallel-3"]
    assert after[".architect-parallel-2"] > before[".architect-parallel-2"]
    assert results[1]["files_modified"] == ["two.txt"] and results[0]["files_modified"] == ["ok.txt"]
    saved = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert [r["status"] for r in saved["results"]] == ["success"] * 3
    code, _, err = cli("rerun", "--failed")
    assert code == 0 and "nothing to rerun" in err
    code, _, err = cli("rerun")
    assert code == 2 and "rerun --failed" in err


def test_collect_saves_the_merged_results_for_merge_best(repo, cli, tmp_path):
    cli("fake:write=x.txt", "--workers", "2", "--only-workers", "2", "--results", tmp_path / "b.json")
    (repo / ".git" / "architect-parallel" / "last-run.json").unlink()
    assert cli("collect", tmp_path / "b.json", "--task=fake:write=x.txt", "--workers", "2",
               "--quiet")[0] == 0
    code, _, err = cli("merge", "best")
    assert code == 0 and "merged architect/parallel-2" in err and (repo / "x.txt").exists()


def test_control_characters_never_reach_the_terminal(repo, cli):
    task = "evil \x1b[31mred\x1b[0m\x07 bell"
    code, _, err = cli(f"--task={task}", "--workers", "1", "--models", "m\x1b[2J", "--progress", "plain")
    assert code == 0 and "\x1b" not in err and "\x07" not in err and "evil ?[31mred" in err


def test_reports_that_cannot_be_written(repo, cli, tmp_path):
    code, _, err = cli("t", "--workers", "1", "--results", tmp_path / "no" / "r.json")
    assert code == 2 and "--results" in err and "does not exist" in err
    assert not list(repo.glob(".architect-parallel-*"))  # refused before running
    readonly = tmp_path / "ro"
    readonly.mkdir()
    (readonly / "r.json").mkdir()  # a folder where the file should go: the write fails
    code, _, err = cli("fake:json=success", "--workers", "1", "--results", readonly / "r.json",
                       "--junit", tmp_path / "j.xml", "--require", "all")
    assert code == 2 and f"cannot write {readonly / 'r.json'}" in err and "last-run.json" in err
    assert (tmp_path / "j.xml").exists()  # the other report is still written


def test_require_says_why_it_failed(repo, cli):
    code, _, err = cli("fake:json=success", "--workers", "1", "--require", "3", "--quiet")
    assert code == 1 and err == "error: 1 of 1 worker(s) succeeded; --require 3 needs 3\n"


def test_junit_survives_odd_text_and_keeps_stderr(repo, cli, tmp_path):
    task = "a ]]> b <c> & \x01 \udcff"
    code, _, _ = cli(f"--task={task}", "--workers", "1", "--models", "fake:stderr=oops+crash",
                     "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
    case = ET.parse(tmp_path / "j.xml").getroot().find("testsuite").find("testcase")
    assert "]]>" in case.get("name") and "oops" in case.find("system-err").text
    assert case.find("failure") is not None
    # Control characters and undecodable bytes become '?' in the summary's cell.
    assert "| `a ]]> b <c> & ? ?` |" in (tmp_path / "s.md").read_text()
