"""``continue N TASK``: the same agent and model again in worker N's worktree, with real
scripted agents. The scripted agent takes its actions from a task starting ``fake:``."""

import fcntl
import json
import os
import time

import pytest

from conftest import git, read_records

LAST_RUN = os.path.join(".git", "architect-parallel", "last-run.json")


def first_run(cli, *extra):
    code, results, err = cli.json("run", "fake:write=a.txt", "--workers", "1",
                                  "--check", "test -f b.txt", "--progress", "none", *extra)
    assert code == 0, err
    assert results[0]["checks_passed"] == 0  # the check fails: b.txt is the follow-up's
    return results[0]


@pytest.mark.parametrize("preset", ["claude", "codex"])
def test_a_follow_up_resumes_the_session_commits_on_top_and_checks_again(cli, repo, records,
                                                                         preset):
    before = first_run(cli, "--agent-cmd", preset)
    assert before["session_id"].startswith(f"{preset}-session-")
    code, results, err = cli.json("continue", "1", "fake:write=b.txt", "--progress", "none")
    assert code == 0, err
    (after,) = results
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    if preset == "claude":
        assert argv[argv.index("--resume") + 1] == before["session_id"]
    else:
        assert argv[1:3] == ["exec", "resume"] and "--sandbox" not in argv
        assert 'sandbox_mode="workspace-write"' in argv
        assert argv[argv.index("--") - 1] == before["session_id"]
    assert after["status"] == "success" and after["checks_passed"] == 1
    assert after["task"] == "fake:write=a.txt"  # the first task stays; the follow-up is listed
    (follow_up,) = after["continued"]
    assert follow_up["task"] == "fake:write=b.txt" and follow_up["resumed"] is True
    assert follow_up["session_id"] == before["session_id"] and follow_up["status"] == "success"
    assert after["commit"] == follow_up["commit"] != before["commit"]
    # a second commit on top of the first, on the worker's branch
    assert git("rev-parse", f"{after['commit']}~1", cwd=repo) == before["commit"]
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == after["commit"]
    assert after["files_modified"] == ["a.txt", "b.txt"]
    assert after["duration"] > before["duration"]
    assert after["tokens_in"] == 2 * before["tokens_in"]  # added up
    assert after["log_path"].endswith("worker-1.continue-1.stdout.log")
    assert os.path.exists(before["log_path"])  # the first run's logs are kept
    states = [e["state"] for e in after["timeline"]]
    assert states == ["queued", "creating", "running", "checking", "success",
                      "queued", "running", "checking", "success"]
    saved = json.loads((repo / LAST_RUN).read_text())["results"][0]
    assert saved["continued"] == after["continued"]  # diff best, merge best, list see it
    code, _out, err = cli("cleanup")  # the follow-up's commit is the run's: nothing to refuse
    assert code == 0, err


def test_a_cli_that_cannot_resume_starts_fresh_in_the_same_worktree(cli, repo, records):
    first_run(cli)  # architect: no session to resume
    code, results, _err = cli.json("continue", "1", "fake:write=b.txt",
                                   "--progress", "none")
    assert code == 0
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    assert "--resume" not in argv and "resume" not in argv
    assert results[0]["continued"][0]["resumed"] is False
    assert read_records(records)[".architect-parallel-1"]["cwd"] == str(
        repo / ".architect-parallel-1")


def test_fresh_starts_a_new_session(cli, repo, records):
    first_run(cli, "--agent-cmd", "claude")
    code, results, _err = cli.json("continue", "1", "fake:write=b.txt", "--fresh",
                                   "--progress", "none")
    assert code == 0
    assert "--resume" not in read_records(records)[".architect-parallel-1"]["argv"]
    assert results[0]["continued"][0]["resumed"] is False


def test_continue_best_takes_the_winner_of_the_race(cli, repo, records):
    code, _results, _err = cli.json("run", "fake:write=a.txt", "--models", "default,fake:exit=1+json=failed", "--workers", "2",
                                    "--progress", "none")
    assert code == 0
    code, results, err = cli.json("continue", "best", "fake:write=c.txt", "--progress", "none")
    assert code == 0, err
    assert results[0]["worker_id"] == 1 and "c.txt" in results[0]["files_modified"]


def test_uncommitted_changes_made_after_the_run_are_refused(cli, repo, records):
    first_run(cli)
    (repo / ".architect-parallel-1" / "mine.txt").write_text("the user's own work\n")
    for name in os.listdir(records):
        os.remove(records / name)
    code, out, err = cli("continue", "1", "fake:write=b.txt")
    assert code == 2 and out == ""
    assert err.strip().startswith("error: ") and "has uncommitted changes made after its run" in err
    assert len(err.strip().splitlines()) == 1
    assert read_records(records) == {}  # no agent ran
    assert (repo / ".architect-parallel-1" / "mine.txt").exists()


def test_refused_while_a_run_holds_the_lock_or_when_the_worktree_is_gone(cli, repo):
    first_run(cli)
    lock = repo / ".git" / "architect-parallel" / "lock"
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242 cafe\n", 0)
        code, _out, err = cli("continue", "1", "fake:write=b.txt")
        assert code == 2 and "another architect-parallel (pid 4242) is running" in err
    finally:
        os.ftruncate(fd, 0)
        os.close(fd)
    cli("cleanup", "--keep-branches")
    code, _out, err = cli("continue", "1", "fake:write=b.txt")
    assert code == 2 and "worktree" in err and "is gone" in err


def test_usage_errors(cli, repo):
    code, _out, err = cli("continue", "1", "fix")
    assert code == 2 and "no last run to continue here" in err
    first_run(cli)
    code, _out, err = cli("continue", "7", "more")
    assert code == 2 and "there is no branch architect/parallel-7" in err
    code, _out, err = cli("continue", "1", "   ")
    assert code == 2 and "continue needs a follow-up task" in err
    code, _out, err = cli("continue", "1")
    assert code == 2 and "TASK" in err


def test_a_failed_follow_up_points_at_continue_not_at_a_rerun_that_discards(cli, repo):
    first_run(cli)
    code, _out, err = cli("continue", "1", "fake:json=failed+exit=1")
    assert code == 1
    assert "try again with 'architect-parallel continue 1 TASK' (--fresh starts a new session)" in err
    assert "rerun --failed" not in err


def test_continue_keeps_cleanup_from_deleting_commits_made_since_the_run(cli, repo):
    code, _results, _err = cli.json("run", "fake:write=a.txt", "--workers", "2",
                                    "--progress", "none")
    assert code == 0
    time.sleep(1.1)  # commit times are in seconds
    other = repo / ".architect-parallel-2"
    (other / "mine.txt").write_text("my own commit\n")
    git("add", "mine.txt", cwd=other)
    git("commit", "-q", "-m", "mine", cwd=other)
    assert cli("continue", "1", "fake:write=b.txt", "--progress", "none")[0] == 0
    code, _out, err = cli("cleanup")
    assert code == 2 and "architect/parallel-2 has commits made after the last run ended" in err
    # and a branch that moved since its run is not continued on top of
    (repo / ".architect-parallel-1" / "mine.txt").write_text("mine too\n")
    git("add", "mine.txt", cwd=repo / ".architect-parallel-1")
    git("commit", "-q", "-m", "mine", cwd=repo / ".architect-parallel-1")
    code, _out, err = cli("continue", "1", "fake:write=c.txt")
    assert code == 2 and "architect/parallel-1 has commits made after worker 1's run" in err


def test_continue_never_commits_the_include_files(cli, repo):
    (repo / "secrets.env").write_text("KEY=x\n")
    (repo / ".gitignore").write_text("secrets.env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-q", "-m", "ignore", cwd=repo)
    cli("run", "fake:write=a.txt", "--workers", "1", "--include", "secrets.env",
        "--progress", "none")
    code, results, err = cli.json("continue", "1", "fake:write=b.txt", "--progress", "none")
    assert code == 0, err
    committed = git("show", "--name-only", "--format=", results[0]["commit"], cwd=repo)
    assert committed == "b.txt"
    assert "secrets.env" not in results[0]["files_modified"]


def test_ctrl_c_during_continue_stops_its_agent(repo, records, cli):
    import signal
    import subprocess
    import sys
    import time as clock
    from conftest import ROOT, alive, procs
    first_run(cli)
    for name in os.listdir(records):
        os.remove(records / name)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "continue", "1",
                             "fake:sleep=60+write=b.txt", "--json", "--progress", "none"],
                            cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = clock.monotonic() + 20
    while not read_records(records) and clock.monotonic() < deadline:
        clock.sleep(0.05)
    pid = procs(read_records(records)[".architect-parallel-1"])[0]
    started = clock.monotonic()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert clock.monotonic() - started < 30 and not alive(pid)  # (not the 60 s it sleeps)
    assert proc.returncode == 130, err
    assert json.loads(out)[0]["status"] == "interrupted"


def test_a_template_is_not_resumed_and_needs_no_separator(cli, repo, records):
    first_run(cli, "--agent-cmd", "codex exec --json --prompt={task}")
    code, _results, err = cli.json("continue", "1", "fake:write=b.txt", "--progress", "none")
    assert code == 0, err
    assert "resume" not in read_records(records)[".architect-parallel-1"]["argv"]


def test_continue_of_a_worker_ranked_second_and_under_the_runs_budget(cli, repo, records,
                                                                       monkeypatch):
    monkeypatch.setenv("FAKE_AGENT_PLAN", json.dumps({"default": "write=a.txt+cost=0.4",
                                                      "m2": "write=z.txt+cost=0.5"}))
    code, _results, _err = cli.json("run", "fix it", "--models", "default,m2", "--workers", "2",
                                    "--agent-cmd", "claude", "--budget-total", "1",
                                    "--check", "test -f a.txt", "--progress", "none")
    assert code == 0
    code, _results, err = cli.json("continue", "2", "fake:write=a.txt+cost=0.1",
                                   "--progress", "none")
    assert code == 0, err
    argv = read_records(records)[".architect-parallel-2"]["argv"]
    assert argv[argv.index("--max-budget-usd") + 1] == "0.1"  # what the run had left
    assert "no best" not in err and "worker 2 is now rank" in err
    assert "--budget-total: known spend $1.0000 of $1.0000" in err
    code, _out, err = cli("continue", "2", "fake:write=q.txt")
    assert code == 2 and "has reached --budget-total $1.0000" in err
