"""The fault catalogue: what survives a killed runner, a failing git, a stray agent, huge input.

Each test makes the fault happen for real (a held git lock, a SIGKILL, an agent writing
where it should not) and checks what is left on disk, in git and in the process table.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

import architect_parallel as ap
from conftest import ROOT, alive, git, procs, read_records


def _worktrees(repo):
    out = git("worktree", "list", "--porcelain", cwd=repo)
    return sorted(os.path.basename(line.split(" ", 1)[1]) for line in out.splitlines()
                  if line.startswith("worktree ") and ".architect-parallel-" in line)


def _branches(repo):
    return git("for-each-ref", "--format=%(refname:short)", "refs/heads/architect/", cwd=repo).split()


def _wait_for(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


# -- git fails halfway through creating worktrees --------------------------------------

def test_a_held_ref_lock_fails_that_worker_only_and_leaves_nothing_of_it(repo, cli):
    lock = repo / ".git" / "refs" / "heads" / "architect" / "parallel-2.lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("")  # another git holds the branch's ref lock
    code, results, _ = cli.json("fake:write=a.txt", "--workers", "3")
    assert code == 0
    assert [r["status"] for r in results] == ["success", "failed", "success"]
    error = results[1]["error"]
    assert error.startswith(f"cannot create worktree {repo / '.architect-parallel-2'}: fatal: "
                            "cannot lock ref 'refs/heads/architect/parallel-2'"), error
    assert results[1]["log_path"] == "" and results[1]["files_modified"] == []
    assert _worktrees(repo) == [".architect-parallel-1", ".architect-parallel-3"]
    assert _branches(repo) == ["architect/parallel-1", "architect/parallel-3"]
    assert not (repo / ".architect-parallel-2").exists()
    assert lock.exists()  # not ours to remove


@pytest.fixture
def failing_checkout(tmp_path, monkeypatch):
    """A git that fails (after writing one file) when it checks out .architect-parallel-2,
    as a full disk would; every other git command is the real one."""
    real = shutil.which("git")
    folder = tmp_path / "failing-git"
    folder.mkdir()
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        'case "$PWD" in */.architect-parallel-2)\n'
        '  if [ "$1" = reset ]; then echo partial > half-written.txt;\n'
        '    echo "error: unable to write file src/app.py: No space left on device" >&2;\n'
        '    echo "fatal: Could not reset index file to revision \'HEAD\'." >&2; exit 128; fi;;\n'
        "esac\n"
        f'exec "{real}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


@pytest.fixture
def slow_git(tmp_path, monkeypatch):
    """A git whose COMMAND (run in a folder matching WHERE) waits, once started, for the
    file ``go`` in ``marks`` (at most 30 s), and which notes in ``marks`` whether it
    started, finished, or got a SIGINT meanwhile."""
    real = shutil.which("git")
    folder, marks = tmp_path / "slow-git", tmp_path / "marks"
    folder.mkdir()
    marks.mkdir()
    script = folder / "git"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "$SLOW_GIT_COMMAND" ]; then case "$PWD" in $SLOW_GIT_WHERE)\n'
        f'  trap "touch {marks}/interrupted" INT; touch {marks}/started; n=0\n'
        f'  while [ ! -e {marks}/go ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n'
        f'  "{real}" "$@"; code=$?; touch {marks}/finished; exit $code;; esac; fi\n'
        f'exec "{real}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")

    def slow(command, where):
        monkeypatch.setenv("SLOW_GIT_COMMAND", command)
        monkeypatch.setenv("SLOW_GIT_WHERE", where)
        return marks
    return slow


def _ctrl_c_in_terminal(args, cwd, marks):
    """Run the tool as a terminal's foreground job and press Ctrl-C once git is busy."""
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", *args], cwd=cwd,
                            env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    _wait_for(lambda: proc.poll() is not None or (marks / "started").exists(), "git to start")
    os.killpg(os.getpgid(proc.pid), signal.SIGINT)  # the whole foreground process group
    (marks / "go").touch()  # (git goes on only now: the Ctrl-C came while it was busy)
    out, err = proc.communicate(timeout=20)
    # git was left to finish, and did not see the SIGINT.
    assert (marks / "finished").exists() and not (marks / "interrupted").exists()
    return proc.returncode, out, err


def test_ctrl_c_during_a_checkout_lets_git_finish_then_takes_the_worktree_back(repo, slow_git):
    marks = slow_git("reset", "*/.architect-parallel-1")
    code, out, err = _ctrl_c_in_terminal(["run", "t", "--workers", "1", "--json", "--progress", "none"],
                                         repo, marks)
    assert code == 130, err
    result = json.loads(out)[0]
    assert (result["status"], result["error"]) == ("interrupted", "not started")
    assert _worktrees(repo) == [] and _branches(repo) == []  # the agent never ran: nothing kept
    assert not (repo / ".architect-parallel-1").exists()


def test_ctrl_c_during_a_merge_lets_git_finish(repo, cli, slow_git):
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    marks = slow_git("merge", "*")
    code, _, err = _ctrl_c_in_terminal(["merge", "1"], repo, marks)
    assert code == 130 and err.strip().splitlines()[-1] == "error: interrupted"
    assert not (repo / ".git" / "index.lock").exists()
    assert git("status", "--porcelain", cwd=repo) == ""  # the merge is whole, not half done
    assert (repo / "a.txt").is_file()


def test_a_failed_checkout_rolls_back_its_registered_worktree(repo, cli, failing_checkout):
    code, results, _ = cli.json("fake:write=a.txt", "--workers", "3")
    assert code == 0
    assert [r["status"] for r in results] == ["success", "failed", "success"]
    assert results[1]["error"] == (f"cannot create worktree {repo / '.architect-parallel-2'}: "
                                   "error: unable to write file src/app.py: No space left on device")
    assert _worktrees(repo) == [".architect-parallel-1", ".architect-parallel-3"]
    assert _branches(repo) == ["architect/parallel-1", "architect/parallel-3"]
    assert not (repo / ".architect-parallel-2").exists()
    assert sorted(os.listdir(repo / ".git" / "worktrees")) == [  # (git's names for them)
        "-architect-parallel-1", "-architect-parallel-3"] or sorted(
        os.listdir(repo / ".git" / "worktrees")) == [".architect-parallel-1", ".architect-parallel-3"]
    # The workers that ran keep their work; a second run needs no --force for the failed one.
    assert (repo / ".architect-parallel-1" / "a.txt").is_file()


def test_interrupted_workers_keep_their_worktree_only_if_they_ran(repo, agent_env):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "t", "--models", "fake:sleep=60,fake:sleep=60,x",
         "--setup", "touch set-up && sleep 60", "--workers", "2", "--json", "--progress", "none"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Workers 1 and 2 are in their setup (they ran); worker 3 waits for a free worker.
    _wait_for(lambda: proc.poll() is not None or all(
        (repo / f".architect-parallel-{n}" / "set-up").exists() for n in (1, 2)), "the setups")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert [r["error"] for r in json.loads(out)] == ["interrupted during setup"] * 2 + ["not started"]
    assert _worktrees(repo) == [".architect-parallel-1", ".architect-parallel-2"]
    assert _branches(repo) == ["architect/parallel-1", "architect/parallel-2"]


def test_turns_go_to_the_lowest_worker_and_give_up_on_cancel():
    turns, cancel, order = ap._Turns(1), threading.Event(), []

    def worker(n):
        with turns.turn(n, cancel) as granted:
            order.append((n, granted))

    with turns.turn(1, cancel):  # hold the only slot while 5, 3, 4 queue up
        threads = [threading.Thread(target=worker, args=(n,)) for n in (5, 3, 4)]
        for t in threads:
            t.start()
        _wait_for(lambda: len(turns._waiting) == 3, "three workers in line", timeout=5)
    for t in threads:
        t.join(5)
    assert order == [(3, True), (4, True), (5, True)]
    order.clear()
    with turns.turn(1, cancel):
        waiting = threading.Thread(target=worker, args=(2,))
        waiting.start()
        _wait_for(lambda: turns._waiting == [2], "worker 2 in line", timeout=5)
        cancel.set()
        turns.wake()
        waiting.join(5)
        assert order == [(2, False)]  # gave up while the slot was still held


def test_a_second_ctrl_c_skips_the_grace_period(repo, records, agent_env):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "fake:ignoreterm+sleep=60", "--workers", "2",
         "--json", "--progress", "none"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_for(lambda: len(read_records(records)) == 2, "agents")
    pids = [procs(r)[0] for r in read_records(records).values()]
    proc.send_signal(signal.SIGINT)  # the agents ignore the SIGTERM this sends...
    time.sleep(0.3)
    assert all(alive(pid) for pid in pids)
    proc.send_signal(signal.SIGINT)  # ...so without this, KILL would come 1.7 s later
    _wait_for(lambda: not any(alive(pid) for pid in pids), "the KILL", timeout=1.2)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    assert [r["status"] for r in json.loads(out)] == ["interrupted"] * 2
    assert not any(alive(pid) for pid in pids)


# -- the runner is killed ----------------------------------------------------------------

@pytest.mark.parametrize("next_command", [["cleanup"], ["run", "fake:json=success", "--force"]])
def test_a_killed_runner_s_lock_is_taken_over_and_its_agents_stopped(repo, records, agent_env,
                                                                     next_command):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "fake:daemon=60+sleep=60", "--workers", "2",
         "--progress", "none"], cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: len(read_records(records)) == 2 and all(
        r.get("grandchildren") for r in read_records(records).values()), "agents")
    orphans = [proc for r in read_records(records).values() for proc in procs(r)]
    proc.kill()  # SIGKILL: the runner cannot clean up
    proc.wait()
    assert all(alive(pid) for pid in orphans)  # agents outlive a killed runner...
    dry = subprocess.run([sys.executable, "-m", "architect_parallel", "cleanup", "--dry-run"],
                         cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert dry.returncode == 0 and "the next run or cleanup stops what it left running" in dry.stderr
    assert all(alive(pid) for pid in orphans)  # a dry run stops nothing and forgets nothing
    result = subprocess.run([sys.executable, "-m", "architect_parallel", *next_command,
                             "--progress", "none"] if next_command[0] != "cleanup"
                            else [sys.executable, "-m", "architect_parallel", "cleanup"],
                            cwd=repo, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert (f"warning: the architect-parallel with pid {proc.pid} ended without releasing its lock "
            f"(killed?); took the lock over and stopped the {len(orphans)} process(es) it left "
            "running") in result.stderr
    _wait_for(lambda: not any(alive(pid) for pid in orphans), "the orphans to end", timeout=5)
    # ...until the next command in that repository. A normal end leaves no warning behind.
    again = subprocess.run([sys.executable, "-m", "architect_parallel", "cleanup"], cwd=repo,
                           env=env, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0 and "warning" not in again.stderr


def test_a_lock_file_of_an_older_version_is_no_sign_of_a_kill(repo, cli):
    lock = repo / ".git" / "architect-parallel" / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text("4242\n")  # what 0.1 left behind after every run
    code, _, err = cli("cleanup")
    assert code == 0 and "warning" not in err


# -- agents that misbehave -----------------------------------------------------------------

def test_agent_writing_into_the_main_checkout_fails_its_worker(repo, cli):
    # One worker at a time, so the stray write can only be the first agent's.
    code, results, err = cli.json("--task", "fake:write=../README.md", "--task", "fake:write=b.txt",
                                  "--workers", "1")
    assert code == 0
    assert [r["status"] for r in results] == ["failed", "success"]
    assert results[0]["error"] == (f"the agent wrote outside its worktree: README.md in the main "
                                   f"checkout {repo} changed while it alone ran")
    assert git("status", "--porcelain", cwd=repo) == "M README.md"  # reported, not undone


def test_stray_write_while_several_agents_ran_is_a_warning_naming_them(repo, cli):
    code, results, err = cli.json("t", "--models", "fake:sleep=1.5+write=../stray.txt+sleep=0.5,"
                                  "fake:sleep=3", "--workers", "2")
    assert code == 0 and [r["status"] for r in results] == ["success", "success"]
    assert ("warning: stray.txt in the main checkout changed while worker 1 and worker 2 were "
            "running: one of them may have written outside its worktree") in err


def test_a_stray_write_with_an_old_time_is_a_warning(repo, cli):
    template = "sh -c 'echo x >> ../README.md && touch -d 2001-01-01 ../README.md' sh {task}"
    code, results, err = cli.json("t", "--agent-cmd", template, "--workers", "1")
    assert code == 0 and results[0]["status"] == "success"
    assert ("warning: README.md in the main checkout changed during the run, with a modification "
            "time when no agent was running") in err


def test_files_the_user_had_changed_before_the_run_are_not_blamed(repo, cli):
    (repo / "README.md").write_text("my own edit\n")
    (repo / "notes.txt").write_text("untracked\n")
    code, results, _ = cli.json("fake:write=a.txt", "--workers", "2")
    assert code == 0 and [r["status"] for r in results] == ["success", "success"]


def test_output_that_is_not_text_is_logged_as_bytes_and_parsed_where_possible(repo, cli):
    code, results, _ = cli.json("t", "--models", "fake:binary=300+noise=1+steps=7+json=success,"
                                "fake:binary=300+silent", "--workers", "2")
    assert code == 0  # nothing crashed
    # The result after the binary output is found; without one, exit 0 is "partial".
    assert [(r["status"], r["steps"]) for r in results] == [("success", 7), ("partial", None)]
    for r in results:
        with open(r["log_path"], "rb") as f:
            data = f.read()
        assert data.startswith(b"\xff\x00\xfe\x80") and len(data) >= 300 * 1024
    assert b"\n" not in data  # the second never ended a line; logged byte for byte
    assert len(data) == 300 * 1024


def test_a_flood_of_output_is_streamed_to_the_log_not_held_in_memory(repo, agent_env):
    env = dict(os.environ, PYTHONPATH=ROOT)
    # A process's peak memory counts its parent's at its exec (Linux keeps the larger), and
    # this pytest process may be large: the runner is started by a small Python, which says
    # the runner's peak (and its children's).
    measure = ("import os, subprocess, sys; p = subprocess.Popen(sys.argv[1:]); "
               "_pid, status, usage = os.wait4(p.pid, 0); "
               "print(os.waitstatus_to_exitcode(status), usage.ru_maxrss, file=sys.stderr)")
    proc = subprocess.run(
        [sys.executable, "-c", measure, sys.executable, "-m", "architect_parallel", "run", "t",
         "--models", "fake:spew=120+steps=4+json=success", "--workers", "1", "--json",
         "--progress", "none"], cwd=repo, env=env, capture_output=True)
    code, peak = map(int, proc.stderr.decode().split()[-2:])
    assert code == 0
    result = json.loads(proc.stdout)[0]
    assert (result["status"], result["steps"]) == ("success", 4)  # found after 120 MB of text
    assert os.path.getsize(result["log_path"]) > 120 * 1024 * 1024
    assert peak < 80 * 1024, f"peak RSS {peak // 1024} MB"  # KB on Linux


# -- huge input ------------------------------------------------------------------------------

def test_a_task_too_long_for_the_command_line_fails_its_worker_clearly(repo, cli):
    big = "x" * (1024 * 1024)
    code, results, _ = cli.json("--task", big, "--task", "fake:write=a.txt", "--workers", "2")
    assert code == 0 and [r["status"] for r in results] == ["failed", "success"]
    assert results[0]["error"].startswith("a command-line argument of 1,048,5")
    assert "{task_file}" in results[0]["error"]
    assert _worktrees(repo) == [".architect-parallel-2"]  # nothing was created for it


def test_task_file_passes_a_1_mb_task_intact(repo, cli, records):
    big = "fake:write=out.txt\n" + "é" * (512 * 1024) + "\n"
    code, results, _ = cli.json("--task", big, "--agent-cmd", "fake-agent --prompt-file {task_file}",
                                "--workers", "1")
    assert code == 0 and results[0]["status"] == "success", results[0]["error"]
    assert (repo / ".architect-parallel-1" / "out.txt").read_text() == big + "\n"
    env = read_records(records)[".architect-parallel-1"]["env"]
    assert "ARCHITECT_PARALLEL_TASK" not in env  # too long for the environment
    with open(env["ARCHITECT_PARALLEL_TASK_FILE"], encoding="utf-8") as f:
        assert f.read() == big


def test_tasks_file_lines_end_at_newlines_only(repo, cli, tmp_path, monkeypatch):
    tasks = tmp_path / "tasks.txt"
    tasks.write_bytes("one\x0cstill one\u2028and still\r\n\n two \n".encode())
    code, out, _ = cli("plan", "--tasks-file", tasks, "--json")
    assert code == 0
    assert [w["task"] for w in json.loads(out)["workers"]] == [
        "one\x0cstill one\u2028and still", " two ", "one\x0cstill one\u2028and still"]
    monkeypatch.setattr(sys, "stdin", None)  # started with stdin closed
    code, out, err = cli("plan", "--tasks-file", "-")
    assert (code, out) == (2, "")
    assert err == "error: --tasks-file: cannot read -: standard input is closed\n"


def test_thousands_of_tasks_from_a_file(repo, cli, tmp_path):
    tasks = tmp_path / "tasks.txt"
    tasks.write_text("".join(f"task number {i}\n\n" for i in range(1, 5001)))
    code, out, err = cli("plan", "--tasks-file", tasks, "--json")
    assert code == 0, err
    workers = json.loads(out)["workers"]
    assert len(workers) == 5000
    assert workers[-1] == {"worker": 5000, "task": "task number 5000", "model": "default",
                           "branch": "architect/parallel-5000"}
    code, results, _ = cli.json("--task", "fake:write=first.txt", "--tasks-file", tasks,
                                "--workers", "10", "--only-workers", "1,4999")
    assert code == 0 and [r["worker_id"] for r in results] == [1, 4999]
    assert results[1]["task"] == "task number 4998"
