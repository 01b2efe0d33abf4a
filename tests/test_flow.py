"""The everyday flow as a new user meets it: verdicts that cannot mislead (issue 10)."""

import os

import pytest

from conftest import git


def _head(repo):
    return git("rev-parse", "HEAD", cwd=repo)


def test_merge_best_refuses_when_no_worker_succeeded_and_passed_its_checks(repo, cli):
    code, _, err = cli("fake:write=broken.py+json=failed+exit=1", "--workers", "1", "--check", "false")
    assert code == 1
    assert "no best: no worker succeeded and passed its checks; nothing is merged as best" in err
    assert not any(line.lstrip().startswith("*") for line in err.splitlines())
    before = _head(repo)
    code, _, err = cli("merge", "best")
    assert code == 2 and err == (
        "error: no worker of the last run succeeded and passed its checks, so none is best "
        "(rank 1: worker 1, failed, checks skipped); name a worker number instead\n")
    assert _head(repo) == before and not (repo / "broken.py").exists()
    assert cli("diff", "best")[0] == 2


def test_a_success_that_fails_a_check_is_not_best(repo, cli):
    code, _, err = cli("fake:write=a.txt", "--workers", "1", "--check", "true", "--check", "false")
    assert code == 0  # it succeeded; it is just not verified
    assert "no best: no worker succeeded and passed its checks" in err
    assert cli("merge", "best")[0] == 2


def test_merging_a_worker_that_did_not_succeed_needs_force_and_says_what_it_merges(repo, cli):
    cli("fake:write=a.txt+json=failed+exit=1", "--models", "fake:write=a.txt+json=failed+exit=1,fake:write=b.txt",
        "--workers", "2")
    before = _head(repo)
    code, _, err = cli("merge", "1")
    assert code == 2 and err == (
        "error: worker 1 did not succeed in the last run (failed): merging it brings that work "
        "into your branch; add --force to merge it anyway\n")
    assert _head(repo) == before
    code, _, err = cli("merge", "1", "--force")
    assert code == 0 and err.startswith("warning: merging worker 1 anyway (failed)\n")
    assert (repo / "a.txt").exists()
    # a worker that succeeded merges without --force
    assert cli("merge", "2")[0] == 0 and (repo / "b.txt").exists()


def test_different_tasks_name_no_best(repo, cli):
    code, results, err = cli.json("--task", "fake:write=a.txt", "--task", "fake:write=b.txt")
    assert code == 0 and all(r["status"] == "success" for r in results)
    code, _, err = cli("--task", "fake:write=a.txt", "--task", "fake:write=b.txt", "--force")
    assert ("different tasks: no worker is best; look at each with 'architect-parallel diff N', "
            "keep every one that succeeded with 'architect-parallel merge all'") in err
    assert "best: worker" not in err
    code, _, err = cli("merge", "best")
    assert code == 2 and "different tasks, so no worker is best" in err


def test_a_race_names_its_verified_winner(repo, cli):
    code, _, err = cli("fake:write=a.txt", "--models", "fake:write=a.txt+json=failed+exit=1,fake:write=a.txt",
                       "--workers", "2", "--check", "test -f a.txt")
    assert "best: worker 2 (architect/parallel-2)" in err
    assert [line.split()[0] for line in err.splitlines() if "architect/parallel-" in line
            and line.split()[0].lstrip("*").isdigit()] == ["*1", "2"]  # best first
    assert cli("merge", "best")[0] == 0 and (repo / "a.txt").exists()


# -- nothing lost by accident ------------------------------------------------------

def test_cleanup_refuses_to_delete_work_done_since_the_run(repo, cli, monkeypatch):
    import time
    assert cli("fake:write=a.txt", "--workers", "3")[0] == 0
    wt1, wt2 = repo / ".architect-parallel-1", repo / ".architect-parallel-2"
    (wt1 / "mine.txt").write_text("my own work\n")  # uncommitted
    (wt2 / "mine.txt").write_text("committed by hand\n")
    git("add", "mine.txt", cwd=wt2)
    later = f"@{int(time.time()) + 5} +0000"  # surely after the run ended
    monkeypatch.setenv("GIT_COMMITTER_DATE", later)
    git("commit", "-q", "-m", "by hand", cwd=wt2)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    tip2 = git("rev-parse", "architect/parallel-2", cwd=repo)

    code, _, err = cli("cleanup")
    assert code == 2 and err == (
        "error: would delete work done since the last run: .architect-parallel-1 has uncommitted "
        "changes made after its run; architect/parallel-2 has commits made after the last run ended (commit, merge "
        "or move it first, or rerun cleanup with --force to delete it)\n")
    assert wt1.is_dir() and wt2.is_dir() and git("branch", "--list", "architect/*", cwd=repo)

    code, _, err = cli("cleanup", "--dry-run")
    assert code == 0
    assert (f"would remove worktree {wt1} (has uncommitted changes made after its run; --force "
            "deletes it)") in err
    assert (f"would delete branch architect/parallel-2 (was {tip2[:12]}), not merged into your "
            "branch (has commits made after the last run ended; --force deletes it)") in err

    code, _, err = cli("cleanup", "--force")
    assert code == 0 and not wt1.exists()
    assert f"deleted branch architect/parallel-2 (was {tip2[:12]}), not merged into your branch" in err
    # the way back: the printed commit still exists
    git("branch", "restored", tip2[:12], cwd=repo)
    assert git("show", "restored:mine.txt", cwd=repo) == "committed by hand"


def test_cleanup_prints_each_deleted_branch_with_its_commit_and_says_which_were_merged(repo, cli):
    assert cli("fake:write=a.txt", "--models", "fake:write=a.txt,fake:write=b.txt",
               "--workers", "2", "--check", "true")[0] == 0
    assert cli("merge", "1")[0] == 0
    tips = {n: git("rev-parse", f"architect/parallel-{n}", cwd=repo) for n in (1, 2)}
    code, _, err = cli("cleanup")
    assert code == 0
    assert f"deleted branch architect/parallel-1 (was {tips[1][:12]})\n" in err
    assert f"deleted branch architect/parallel-2 (was {tips[2][:12]}), not merged into your branch\n" in err


def test_a_second_cleanup_after_keep_branches_says_one_thing(repo, cli):
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    code, _, err = cli("cleanup", "--keep-branches")
    assert code == 0 and "removed worktree" in err and "deleted branch" not in err
    code, _, err = cli("cleanup")
    assert code == 0 and "deleted branch architect/parallel-1" in err
    assert "nothing to clean up" not in err
    assert cli("cleanup")[2] == "nothing to clean up\n"


# -- say what went wrong ----------------------------------------------------------

def test_an_agent_that_is_not_executable_is_named_as_such(repo, cli, tmp_path, monkeypatch):
    folder = tmp_path / "notexec"
    folder.mkdir()
    (folder / "my-agent").write_text("#!/bin/sh\necho hi\n")  # no x bit
    monkeypatch.setenv("PATH", f"{folder}:{os.environ['PATH']}")
    for cmd in ("my-agent {task}", f"{folder / 'my-agent'} {{task}}"):
        code, _, err = cli("run", "t", "--agent-cmd", cmd)
        assert code == 2 and err == (f"error: agent command '{cmd.split()[0]}' is "
                                     f"{folder / 'my-agent'}, which is not executable; make it so "
                                     "(chmod +x) or run another\n")
    code, _, err = cli("run", "t", "--agent-cmd", "no-such-agent {task}")
    assert code == 2 and "'no-such-agent' not found on PATH" in err
    assert not (repo / ".architect-parallel-1").exists()


def test_without_fcntl_as_on_windows_help_works_and_commands_say_why_not(repo):
    import subprocess
    import sys
    from conftest import ROOT
    # Windows has no fcntl: that cannot be real here, so the import is made to fail.
    prelude = "import sys; sys.modules['fcntl'] = None; import architect_parallel as ap; "
    help_ = subprocess.run([sys.executable, "-c", prelude + "raise SystemExit(ap.main(['--help']))"],
                           cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                           text=True)
    assert help_.returncode == 0 and "usage: architect-parallel" in help_.stdout
    run = subprocess.run([sys.executable, "-c", prelude + "raise SystemExit(ap.main(['list']))"],
                         cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True,
                         text=True)
    assert run.returncode == 2 and run.stderr == (
        "error: Windows is not supported yet: architect-parallel needs Linux or macOS (on "
        "Windows, run it in WSL)\n")


def test_padding_is_said_out_loud_by_run_and_plan(repo, cli):
    args = ["--task", "fake:write=a.txt", "--task", "fake:write=b.txt", "--models", "m1",
            "--workers", "3"]
    line = ("3 workers, 2 tasks, 1 model: worker 3 repeats task 1; workers 2 and 3 use the "
            "agent's default model")
    code, out, err = cli("plan", *args)
    assert code == 0 and line in err.splitlines()
    code, _, err = cli(*args)
    assert any(said.endswith("] " + line) for said in err.splitlines())  # a timestamped line
    # a race (one task, as many models as workers) pads nothing and says nothing
    code, _, err = cli("fake:write=a.txt", "--models", "a,b", "--workers", "2", "--force")
    assert "workers," not in err


def test_the_footer_suggests_rerun_failed_and_names_the_command_as_it_was_run(repo, cli):
    code, _, err = cli("fake:write=a.txt", "--models", "fake:json=failed+exit=1,fake:write=a.txt",
                       "--workers", "2")
    assert "run the 1 that did not succeed again with: architect-parallel rerun --failed" in err
    code, _, err = cli("fake:write=a.txt", "--workers", "1", "--force")
    assert "rerun --failed" not in err


@pytest.mark.parametrize("how", ["script", "module"])
def test_hints_name_the_command_as_it_was_run(repo, how):
    import subprocess
    import sys
    from conftest import ROOT
    python = os.path.basename(sys.executable)
    script = os.path.join(ROOT, "architect_parallel.py")
    argv, prog = (([sys.executable, script], f"{python} {script}") if how == "script" else
                  ([sys.executable, "-m", "architect_parallel"], f"{python} -m architect_parallel"))
    proc = subprocess.run(argv + ["clenaup"], cwd=repo, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.returncode == 2 and proc.stderr.endswith(f"to run it as a task: {prog} run clenaup\n")
    proc = subprocess.run(argv + ["run", "t", "--model", "m"], cwd=repo, capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=ROOT))
    assert proc.stderr.endswith(f"(see '{prog} run --help')\n")


def test_plain_progress_says_which_workers_are_still_running(capsys):
    import architect_parallel as ap
    display = ap._Progress("plain")
    display.heartbeat = 0.3  # seconds, instead of a minute
    for n, state in ((1, "running"), (2, "queued"), (3, "checking")):
        display.state({"worker": n, "model": "m", "task": "t", "state": state, "detail": ""})
    import time
    time.sleep(0.5)
    display.state({"worker": 3, "model": "m", "task": "t", "state": "success", "detail": "1.0s"})
    time.sleep(0.4)
    display.close()
    beats = [line.split("] ", 1)[1] for line in capsys.readouterr().err.splitlines()
             if "still running" in line]
    assert beats[0] == "still running: worker 1 (0s), worker 3 (0s)"
    assert beats[-1] == "still running: worker 1 (0s)"


def test_live_totals_count_interrupted_workers_as_interrupted():
    import architect_parallel as ap
    display = ap._Progress("tty")
    for n, state, detail in ((1, "success", "2.0s"), (2, "interrupted", "1.0s"),
                             (3, "interrupted", "not started")):
        display._workers[n] = {"worker": n, "model": "m", "task": "t", "state": state,
                               "detail": detail, "since": 0.0}
    frame = display._frame()
    assert "1/3 done, 2 interrupted, 0 running, 0 queued" in frame


def test_workers_that_never_started_end_as_interrupted_in_the_progress(repo, cli):
    # a worker left in the queue by Ctrl-C gets a final line too (here: plain progress)
    import architect_parallel as ap
    states = []
    config = ap.ParallelConfig(tasks=["fake:sleep=0.5"], workers=1, models=["a", "b"])
    runner = ap.ParallelRunner(config, str(repo), on_state=states.append)

    def cancel_when_running(event):
        states.append(event)
        if event["state"] == "running":
            runner._cancel.set()

    runner._on_state = cancel_when_running
    runner.run()
    finals = {e["worker"]: (e["state"], e["detail"]) for e in states if e["state"] in ap.STATUSES}
    assert finals[2] == ("interrupted", "not started")


def test_rerun_failed_takes_new_time_and_cost_limits(repo, cli, records):
    from conftest import read_records
    # failonce: worker 1 fails at once the first time and succeeds when run again
    code, _, _ = cli("t", "--models", "fake:failonce=w1+write=a.txt,fake:write=a.txt",
                     "--workers", "2", "--timeout-per-worker", "1", "--budget-per-worker", "1")
    assert code == 0
    code, _, _ = cli("rerun", "--failed", "--force", "--timeout-per-worker", "60",
                     "--budget-per-worker", "2.5")
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    assert argv[argv.index("--timeout") + 1] == "60" and argv[argv.index("--budget") + 1] == "2.5"
    assert cli("rerun", "--failed", "--timeout-per-worker", "0")[0] == 2


# -- checks --------------------------------------------------------------------------

def test_checks_are_skipped_for_workers_that_failed_or_timed_out_unless_check_all(repo, cli):
    check = "touch ../checked-$ARCHITECT_PARALLEL_WORKER"
    models = "fake:json=failed+exit=1,fake:sleep=30,fake:json=partial,fake:write=a.txt"
    code, results, err = cli.json("t", "--models", models, "--workers", "4",
                                  "--timeout-per-worker", "1", "--check", check)
    assert [(r["status"], len(r["checks"])) for r in results] == [
        ("failed", 0), ("timeout", 0), ("partial", 1), ("success", 1)]
    assert sorted(p.name for p in repo.glob("checked-*")) == ["checked-3", "checked-4"]
    rows = {line.split()[1]: line.split()[5] for line in err.splitlines()
            if "architect/parallel-" in line and line.split()[0].lstrip("*").isdigit()}
    assert rows == {"1": "skipped", "2": "skipped", "3": "1/1", "4": "1/1"}
    for p in repo.glob("checked-*"):
        p.unlink()
    code, results, _ = cli.json("t", "--models", "fake:json=failed+exit=1,fake:write=a.txt",
                                "--workers", "2", "--check", check, "--check-all", "--force")
    assert [len(r["checks"]) for r in results] == [1, 1]


def test_workers_whose_agent_never_ran_rank_last():
    import architect_parallel as ap

    def result(n, status, exit_code, checks_passed=0):
        return ap.WorkerResult(worker_id=n, branch=f"b{n}", model="m", status=status, steps=0,
                               cost=0.0, duration=1.0, files_modified=[], worktree_path="",
                               exit_code=exit_code, checks_passed=checks_passed, checks_total=1)
    ranked = ap._rank([result(1, "failed", None), result(2, "timeout", -15),
                       result(3, "interrupted", None), result(4, "success", 0, 1)])
    assert [r.worker_id for r in sorted(ranked, key=lambda r: r.rank)] == [4, 2, 1, 3]


def test_diff_after_no_commit_shows_the_uncommitted_work(repo, capfd):
    import architect_parallel as ap
    (repo / "README.md").write_text("# demo\n")
    assert ap.main(["run", "fake:write=new.txt+write=README.md", "--workers", "1", "--no-commit",
                    "--quiet"]) == 0
    capfd.readouterr()
    assert ap.main(["diff", "1"]) == 0
    out, err = capfd.readouterr()
    assert err.startswith("note: architect/parallel-1 has uncommitted changes in ")
    assert "+fake:write=new.txt+write=README.md" in out  # the changed README
    assert "new file mode" in out and "b/new.txt" in out  # the new file
    assert ap.main(["diff", "1", "--stat"]) == 0
    out, _ = capfd.readouterr()
    assert "README.md" in out and "new.txt" in out


def test_the_readme_workflow_fails_when_plan_fails_and_tolerates_only_exit_1(repo, tmp_path):
    import re
    import subprocess
    from conftest import ROOT
    readme = open(os.path.join(ROOT, "README.md")).read()
    step = re.search(r"- id: plan\n(?s:.*?)run: \|\n((?:          .*\n)+)", readme).group(1)
    script = "set -e\n" + "\n".join(line[10:] for line in step.splitlines()) + "\n"
    (repo / "architect_parallel.py").write_text(open(os.path.join(ROOT, "architect_parallel.py")).read())
    env = dict(os.environ, GITHUB_OUTPUT=str(tmp_path / "out"), TASK="fix it", MODELS="a,b")
    # GitHub runs 'run:' steps with bash -e: the plan's failure must fail the step
    bad = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=dict(env, MODELS="a,,b"),
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "empty name" in bad.stderr
    ok = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and (tmp_path / "out").read_text().startswith('matrix={"include"')
    # '|| [ $? -eq 1 ]' passes exit 1 and fails exit 2
    for code, passes in ((0, True), (1, True), (2, False)):
        proc = subprocess.run(["bash", "-e", "-c", f"(exit {code}) || [ $? -eq 1 ]"])
        assert (proc.returncode == 0) == passes
    assert "|| true" not in readme


def test_plan_matrix_warns_above_githubs_256_jobs(repo, cli):
    code, out, err = cli("plan", "t", "--models", ",".join(f"m{n}" for n in range(257)),
                         "--matrix", "--workers", "10")
    assert code == 0 and len(__import__("json").loads(out)["include"]) == 257
    assert "warning: 257 workers: GitHub Actions runs at most 256 jobs per matrix" in err


# -- config mistakes are not silent ---------------------------------------------

@pytest.mark.parametrize("text, warning", [
    ("parallel_run:\n  workers: 2\n",
     "conf.yaml line 1: 'parallel_run' is not read; did you mean parallel_runs?"),
    ("llm:\n  model: x\nworkers: 2\n",
     "conf.yaml line 3: 'workers' at the top level is not read; put it under parallel_runs:"),
])
def test_config_mistakes_are_warned_with_a_did_you_mean(repo, cli, text, warning):
    (repo.parent / "conf.yaml").write_text(text)
    code, out, err = cli("plan", "t", "-c", repo.parent / "conf.yaml")
    assert code == 0 and f"warning: {repo.parent / warning}" in err.splitlines()
    assert len(out.splitlines()) == 3  # the defaults, as the warning says
    # other top-level keys (the agent's own settings) say nothing
    (repo.parent / "ok.yaml").write_text("llm:\n  model: x\nparallel_runs:\n  workers: 2\n")
    assert "warning" not in cli("plan", "t", "-c", repo.parent / "ok.yaml")[2]


def test_an_unknown_key_in_the_section_names_the_nearest_known_one(repo, cli):
    (repo.parent / "conf.yaml").write_text("parallel_runs:\n  worker: 2\n")
    code, _, err = cli("plan", "t", "-c", repo.parent / "conf.yaml")
    assert code == 2 and err.startswith(f"error: {repo.parent / 'conf.yaml'} line 2: "
                                        "parallel_runs.worker: unknown key (did you mean workers?)")


@pytest.mark.parametrize("command", ["run", "plan", "rerun", "collect", "cleanup", "diff", "merge",
                                     "list"])
def test_each_subcommands_help_ends_with_examples_that_parse(command, capsys):
    import shlex
    import architect_parallel as ap
    assert ap.main([command, "--help"]) == 0
    text = capsys.readouterr().out
    examples = text.split("\nexamples:\n", 1)[1].splitlines()
    assert 1 <= len(examples) <= 3
    for line in examples:  # each is a command line the parser takes
        words = shlex.split(line)
        assert words[0] == "architect-parallel"
        args = words[1:]
        if args[0] not in ap._COMMANDS:
            args.insert(0, "run")
        parser = ap._build_parser(args[0])
        parsed, extras = parser.parse_known_args(args)
        assert extras == [] and parsed.command == (command if command != "run" else "run")


def test_list_after_cleanup_keep_branches_shows_the_kept_branches(repo, cli):
    assert cli("fake:write=a.txt", "--models", "fake:write=a.txt,fake:json=failed+exit=1",
               "--workers", "2")[0] == 0
    assert cli("cleanup", "--keep-branches")[0] == 0
    code, out, _ = cli("list")
    assert out.splitlines() == [
        "  1  architect/parallel-1  success  (no worktree: the branch holds its committed work)",
        "  2  architect/parallel-2  failed   (no worktree: the branch holds its committed work)"]
    code, items, _ = cli.json("list")
    assert [(i["worker_id"], i["path"], i["status"]) for i in items] == [
        (1, None, "success"), (2, None, "failed")]


def test_the_table_fits_the_terminal_by_shortening_the_task_first():
    import architect_parallel as ap
    rows = [["#", "model", "task"], ["1", "claude-sonnet-4-6", "x" * 200]]
    lines = ap._align(rows, {0}, width=60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[1].startswith("1  claude-sonnet-4-6  xxx") and lines[1].endswith("…")
    # too narrow even so: the other columns give way too, down to 10 characters
    assert all(len(line) <= 30 for line in ap._align(rows, {0}, width=30))


def test_merge_all_takes_every_verified_worker_in_order_and_stops_at_a_conflict(repo, cli):
    tasks = ["fake:write=a.txt", "fake:json=failed+write=x.txt+exit=1", "fake:write=README.md",
             "fake:write=b.txt"]
    args = [a for t in tasks for a in ("--task", t)]
    assert cli(*args)[0] == 0
    (repo / "README.md").write_text("changed on main too\n")  # worker 3 will conflict
    git("commit", "-qam", "main moves on", cwd=repo)
    before = _head(repo)
    code, _, err = cli("merge", "all")
    assert code == 1
    assert "merged architect/parallel-1 into the current branch" in err
    assert err.splitlines()[-1] == (
        "error: merging architect/parallel-3 conflicts in: README.md; merged before it: "
        "architect/parallel-1; the main checkout is as it was before architect/parallel-3 "
        "(not merged: architect/parallel-4)")
    assert (repo / "a.txt").exists() and not (repo / "x.txt").exists()  # 2 failed: never merged
    assert not (repo / "b.txt").exists()
    assert (repo / "README.md").read_text() == "changed on main too\n"
    assert git("rev-list", "--count", f"{before}..HEAD", cwd=repo) != "0"
    assert git("status", "--porcelain", "--untracked-files=no", cwd=repo) == ""


def test_merge_all_without_a_verified_worker_merges_nothing(repo, cli):
    cli("fake:json=failed+exit=1", "--workers", "1")
    code, _, err = cli("merge", "all")
    assert code == 2 and "no worker of the last run succeeded and passed its checks" in err


def test_collect_counts_agree_with_its_warning_and_name_no_paths_of_other_machines(repo, cli,
                                                                                   tmp_path):
    models = "fake:write=a.txt,fake:json=failed+exit=1,fake:write=c.txt"
    assert cli("t", "--models", models, "--only-workers", "1,2", "--results",
               tmp_path / "r.json", "--quiet")[0] == 0
    code, _, err = cli("collect", tmp_path / "r.json", "--task=t", "--models", models,
                       "--junit", tmp_path / "j.xml")
    assert code == 0
    lines = err.splitlines()
    assert "warning: no results for worker(s) 3 of 3" in lines
    assert "1/3 succeeded (1 without results), total cost $0.0246" in lines
    assert not any(line.startswith(("worktrees:", "  its output:")) for line in lines)
    assert any(line.startswith("worker 2: ") for line in lines)  # its reason still shows
    # Round 78: JUnit counted only the workers with results (CI reporters showed 0 failed
    # after a job whose results were missing); the missing worker is an error there too.
    import xml.etree.ElementTree as ET
    suite = ET.parse(tmp_path / "j.xml").getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("errors")) == ("3", "1", "1")
    missing = [case for case in suite.iter("testcase") if case.get("name") == "worker 3: no results"]
    assert len(missing) == 1 and missing[0].find("error").get("type") == "no results"


@pytest.mark.parametrize("text, message", [
    ("parallel_runs:\n  workers: 2\n  checks: [a, b\n  agent: x\n",
     "line 3: '[' is never closed (no ']' before line 4: ':' without a key (keys must fit on one "
     "line; check indentation))"),
    ("parallel_runs:\n  include: {a: 1\n\n", "line 2: '{' is never closed (no '}' before the end "
                                             "of the input)"),
    ("parallel_runs:\n  workers 2\n  agent: x\n",
     "line 2: expected 'key: value' (no ':' found on this line)"),
])
def test_yaml_errors_point_at_the_line_with_the_mistake(repo, cli, text, message):
    (repo.parent / "c.yaml").write_text(text)
    code, _, err = cli("plan", "t", "-c", repo.parent / "c.yaml")
    assert code == 2 and err == f"error: {repo.parent / 'c.yaml'} {message}\n"


# -- the README a newcomer reads ---------------------------------------------------

def test_the_readme_starts_with_what_it_is_how_to_get_it_and_a_real_run_then_contents():
    import re
    from conftest import ROOT
    text = open(os.path.join(ROOT, "README.md")).read()
    first_screen = "\n".join(text.splitlines()[:30])
    assert "--agent-cmd claude" in first_screen and "merge best" in first_screen
    assert "architect-ai-cli" in first_screen  # what architect is, where it comes from
    assert "cp /path/to/architect_parallel.py" in first_screen
    headers = re.findall(r"(?m)^## (.+)$", text)
    assert headers[0] == "Contents" and headers[1:4] == ["Install", "First run", "Two commands"]
    contents = text.split("## Contents", 1)[1].split("\n## ", 1)[0]
    linked = re.findall(r"\[([^\]]+)\]\(#", contents)
    assert linked == headers[1:]  # every section, in order
    # reference material comes after the user path
    assert headers.index("Guarantees") > headers.index("Agent CLIs") > headers.index("Usage")
    assert headers.index("Python API") > headers.index("Past one machine: the CI matrix")


def test_what_the_run_itself_left_in_a_worktree_is_no_reason_to_refuse_cleanup(repo, capfd):
    import architect_parallel as ap
    # a check that leaves output behind (like __pycache__), and a --no-commit worker
    assert ap.main(["run", "fake:write=a.txt", "--workers", "1", "--check", "touch build.out",
                    "--quiet"]) == 0
    capfd.readouterr()
    assert ap.main(["diff", "1"]) == 0  # the committed work, not the check's output
    out, err = capfd.readouterr()
    assert "note:" not in err and "b/a.txt" in out and "build.out" not in out
    assert ap.main(["cleanup"]) == 0
    assert ap.main(["run", "fake:write=a.txt", "--workers", "1", "--no-commit", "--quiet"]) == 0
    capfd.readouterr()
    # (but the run's own uncommitted work, which no commit holds, is the user's: round 85)
    assert ap.main(["cleanup"]) != 0
    assert "holds its run's uncommitted work, which no commit holds" in capfd.readouterr()[1]
    assert os.path.exists(repo / ".architect-parallel-1" / "a.txt")
    assert ap.main(["cleanup", "--force"]) == 0


# -- review findings -----------------------------------------------------------------

def test_merge_all_says_what_it_merged_when_git_refuses_a_later_worker(repo, cli):
    assert cli("--task", "fake:write=y.txt", "--task", "fake:write=x.txt", "--workers", "2")[0] == 0
    (repo / "x.txt").write_text("mine, untracked\n")  # the second merge would overwrite it
    code, _, err = cli("merge", "all")
    assert code == 2 and "merged architect/parallel-1 into the current branch" in err
    assert err.splitlines()[-1].startswith("error: git could not merge architect/parallel-2 (")
    assert err.splitlines()[-1].endswith("; merged before it: architect/parallel-1; the main "
                                         "checkout is as it was before architect/parallel-2")
    assert (repo / "x.txt").read_text() == "mine, untracked\n"


def test_cleanup_survives_a_tag_named_like_a_worker_branch(repo, cli):
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    git("tag", "architect/parallel-1", cwd=repo)
    code, _, err = cli("cleanup")
    assert code == 0 and "deleted branch architect/parallel-1 (was " in err


def test_hints_that_would_say_nothing_new_are_left_out(repo, cli):
    code, _, err = cli("plan", "--", "x y", "--workers", "2")
    assert code == 2 and "did you mean" not in err
    (repo.parent / "c.yaml").write_text("parallelism: 4\nparallel_runs:\n  workers: 2\n")
    assert "warning" not in cli("plan", "t", "-c", repo.parent / "c.yaml")[2]


def test_the_rerun_hint_adds_force_when_failed_attempts_were_committed(repo, cli):
    code, _, err = cli("fake:write=a.txt+json=failed+exit=1", "--workers", "1")
    assert "rerun --failed --force (it discards their attempts)" in err
    code, _, err = cli("rerun", "--failed")
    assert code == 2 and "would lose work" in err  # which is why the hint says --force
    assert cli("rerun", "--failed", "--force")[0] == 1


def test_a_yaml_error_inside_an_open_bracket_keeps_its_own_words(repo, cli):
    (repo.parent / "c.yaml").write_text('parallel_runs:\n  checks: [\n    "a\\q",\n  ]\n')
    code, _, err = cli("plan", "t", "-c", repo.parent / "c.yaml")
    assert code == 2 and "line 3: unknown escape" in err and "inside the '[' opened on line 2" in err


def test_an_unquoted_task_of_several_words_is_suggested_quoted(repo, capsys):
    import architect_parallel as ap
    assert ap.main(["fix", "the", "bug", "--workers", "2"]) == 2
    assert capsys.readouterr().err.endswith("to run it as a task: architect-parallel run "
                                            "'fix the bug'\n")


def test_every_readme_link_to_a_section_finds_it_and_every_option_is_documented():
    import re
    import architect_parallel as ap
    from conftest import ROOT
    text = open(os.path.join(ROOT, "README.md")).read()
    text_no_code = re.sub(r"(?ms)^```.*?^```", "", text)

    def slug(heading):  # GitHub's: lower case, punctuation dropped, spaces to hyphens
        return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")

    anchors = {slug(h) for h in re.findall(r"(?m)^#{1,6} (.+)$", text_no_code)}
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links - anchors == set()
    for name, _aliases, *_rest in ap._SUBCOMMANDS:
        for option in ap._subparser(ap._build_parser(name), name)._option_string_actions:
            if option.startswith("--") and option not in ("--help", "--version"):
                assert re.search(rf"(?<![\w-]){option}(?![\w-])", text), \
                    f"{name} {option} is not in the README"
