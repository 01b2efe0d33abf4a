"""The command line: subcommands, aliases, usage errors, config files, cleanup, list, signals."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

import architect_parallel as ap
from conftest import ROOT, alive, git, procs, read_records


def test_first_argument_that_is_not_a_subcommand_means_run(repo, cli):
    code, results, _ = cli.json("fix the bug", "--models", "a,b")
    assert code == 0 and [r["task"] for r in results] == ["fix the bug"] * 3


@pytest.mark.parametrize("word, hint", [("clenaup", " (did you mean cleanup?)"),
                                        ("lsit", " (did you mean list?)"),
                                        ("refactor", "")])
def test_a_lone_word_is_no_task_but_maybe_a_mistyped_command(repo, records, capsys, word, hint):
    code = ap.main([word, "--workers", "1"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == (f"error: unknown command '{word}'{hint}; to run it as a task: "
                   f"architect-parallel run {word}\n")
    assert read_records(records) == {} and not (repo / ".architect-parallel-1").exists()
    # said explicitly, it is a task
    assert ap.main(["run", word, "--workers", "1", "--quiet"]) == 0
    assert read_records(records)[".architect-parallel-1"]["argv"][-1] == word


@pytest.mark.parametrize("args, message", [
    (["run", "t", "--model", "gpt-4o"], "error: unrecognized arguments: --model gpt-4o (--model: did "
                                        "you mean --models?) (see 'architect-parallel run --help')"),
    (["run", "t", "--model=gpt-4o"], "error: unrecognized arguments: --model=gpt-4o (--model: did you mean "
                              "--models?) (see 'architect-parallel run --help')"),
    # no abbreviations: --work is not --workers
    (["run", "t", "--work", "2"], "error: unrecognized arguments: --work 2 (--work: did you mean "
                                  "--workers?) (see 'architect-parallel run --help')"),
    (["cleanup", "--dry"], "error: unrecognized arguments: --dry (--dry: did you mean --dry-run?) "
                           "(see 'architect-parallel cleanup --help')"),
])
def test_options_are_never_abbreviated_and_near_misses_are_named(repo, records, capsys, args,
                                                                 message):
    code = ap.main(args)
    _, err = capsys.readouterr()
    assert code == 2 and err == message + "\n"
    assert read_records(records) == {}


@pytest.mark.parametrize("command", ["run", "parallel"])
def test_run_and_its_alias(repo, cli, command):
    code, results, _ = cli.json(command, "t", "--workers", "1")
    assert code == 0 and len(results) == 1


@pytest.mark.parametrize("args", [[], ["run"], ["cleanup"], ["parallel-cleanup"], ["list"], ["parallel"]])
def test_help_and_version_everywhere(cli, args, capsys):
    for flag in ("--help", "--version"):
        assert ap.main(args + [flag]) == 0
        out = capsys.readouterr().out
        assert (ap.__version__ in out) if flag == "--version" else ("usage:" in out)


@pytest.mark.parametrize("args, message", [
    (["t", "--workers", "11"], "error: --workers must be an integer from 1 to 10, got 11"),
    (["t", "--workers", "0"], "error: --workers must be an integer from 1 to 10, got 0"),
    (["t", "--workers", "two"], "error: argument --workers: expected a whole number, got 'two'"),
    (["t", "--max-steps", "0"], "error: --max-steps must be an integer of at least 1, got 0"),
    (["t", "--budget-per-worker", "-1"], "error: --budget-per-worker must be a number of USD greater than 0"),
    (["t", "--budget-per-worker", "nan"], "error: --budget-per-worker must be a number of USD greater than 0"),
    (["t", "--timeout-per-worker", "0"], "error: --timeout-per-worker must be a whole number of seconds"),
    (["t", "--models", "a,,b"], "error: --models has an empty name"),
    (["run"], "error: no task given: pass TASK, --task or --tasks-file"),
    (["t", "--task", "-x"], "error: argument --task: expected one argument"),
    (["t", "--bogus"], "error: unrecognized arguments: --bogus"),
    (["t", "-c", "/no/such/file.yaml"], "error: cannot read config file /no/such/file.yaml"),
    (["t", "--agent", "-x"], "error: argument --agent: expected one argument"),
])
def test_bad_usage_is_one_line_exit_2_and_creates_nothing(repo, cli, args, message):
    code, out, err = cli(*args)
    assert code == 2 and out == ""
    assert err.startswith(message) and err.count("\n") == 1, err
    assert not list(repo.glob(".architect-parallel-*"))


def test_no_arguments_prints_help_and_exits_2(cli):
    code, out, err = cli()
    assert code == 2 and "usage:" in err and out == ""


CONFIG = """\
# a whole architect config with other sections
llm:
  model: gpt-4o
  api_base: "http://localhost:4000"   # comment
agents:
  build:
    max_steps: 20
    allowed_tools: [read_file, write_file]
parallel_runs:
  workers: 2               # 1-10
  agent: review
  max_steps: 9
  budget_per_worker: 1.5
  timeout_per_worker: null
"""


def test_config_file_sets_defaults_flags_override_and_is_handed_to_agents(repo, cli, records, tmp_path):
    config = tmp_path / "conf.yaml"
    config.write_text(CONFIG)
    code, results, _ = cli.json("fake:json=success", "-c", config)
    assert code == 0 and len(results) == 2
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    assert argv[1:] == ["run", "--agent", "review", "--confirm-mode", "yolo", "--json",
                        "--max-steps", "9", "--budget", "1.5", "--config", str(config), "--",
                        "fake:json=success"]
    for p in records.glob("*.json"):
        p.unlink()
    code, results, _ = cli.json("t", "--config", config, "--workers", "1", "--max-steps", "4")
    assert code == 0 and len(results) == 1
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    assert argv[argv.index("--max-steps") + 1] == "4"


def test_config_accepts_the_original_section_name(repo, cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("parallel:\n  workers: 1\n")
    code, results, _ = cli.json("t", "-c", config)
    assert code == 0 and len(results) == 1


@pytest.mark.parametrize("text, message", [
    ("parallel_runs:\n  workers: 11\n", "line 2: parallel_runs.workers must be an integer from 1 to 10, got 11"),
    ("parallel_runs:\n  workers: true\n", "line 2: parallel_runs.workers must be an integer from 1 to 10, got True"),
    ("x: 1\nparallel_runs:\n\n  wrokers: 2\n", "line 4: parallel_runs.wrokers: unknown key (did you mean workers?) (value 2;"),
    ("parallel_runs:\n  max_steps: 0\n", "line 2: parallel_runs.max_steps must be an integer of at least 1"),
    ("parallel_runs:\n  agent: build\n  budget_per_worker: -2\n", "line 3: parallel_runs.budget_per_worker must be"),
    ("parallel_runs:\n  timeout_per_worker: 2.5\n", "line 2: parallel_runs.timeout_per_worker must be"),
    ("parallel_runs: [1, 2]\n", "line 1: parallel_runs must be a mapping, got [1, 2]"),
    ('parallel_runs:\n  agent: "a\\0b"\n', "line 2: parallel_runs.agent must be an agent name"),
    ("parallel_runs:\n  workers: 2\n workers: 3\n", "line 3"),
    ("- a\n- b\n", "line 1: the top level must be a mapping, got list ['a', 'b']"),
    ("parallel_runs:\n  workers: [\n", "line 2: '[' is never closed (no ']' before the end of the input)"),
    ("parallel_runs:\n  workers: 2\n  agent: |\n    a\n   b: 1\n", "line 5"),
    ("parallel_runs:\n  workers: &a 2\n", "line 2"),
    ("parallel:\n  workers: 1\nparallel_runs:\n  workers: 2\n", "line 1: has both 'parallel_runs' and 'parallel'"),
])
def test_bad_config_names_key_value_and_line(repo, cli, tmp_path, text, message):
    config = tmp_path / "bad.yaml"
    config.write_text(text)
    code, out, err = cli("t", "-c", config)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {config} line ") and message in err and err.count("\n") == 1, err
    assert "cannot read YAML" not in err
    assert not list(repo.glob(".architect-parallel-*"))


def test_quiet_prints_nothing_and_json_is_alone_on_stdout(repo, cli):
    code, out, err = cli("fake:json=success", "--workers", "2", "--json", "--quiet")
    assert code == 0 and err == ""
    assert [r["status"] for r in json.loads(out)] == ["success", "success"]
    code, out, err = cli("fake:json=success", "--workers", "2")
    assert out == "" and "worker 1 started" in err and "2/2 succeeded" in err


def test_cleanup_removes_everything_and_is_idempotent(repo, cli):
    assert cli("fake:write=x.txt+commit", "--workers", "3")[0] == 0
    git("branch", "architect/parallel-9", cwd=repo)  # a stray branch of ours
    code, _, err = cli("cleanup", "--dry-run")
    assert code == 0 and err.count("would remove worktree") == 3 and "would delete branch architect/parallel-9" in err
    assert len(list(repo.glob(".architect-parallel-*"))) == 3
    code, _, err = cli("parallel-cleanup")
    assert code == 0 and err.count("removed worktree") == 3 and err.count("deleted branch") == 4
    assert not list(repo.glob(".architect-parallel-*"))
    assert git("branch", "--list", "architect/*", cwd=repo) == ""
    assert git("worktree", "list", "--porcelain", cwd=repo).count("worktree ") == 1
    code, _, err = cli("cleanup")
    assert code == 0 and err == "nothing to clean up\n"


def test_cleanup_leaves_unknown_folders_and_the_current_branch(repo, cli):
    (repo / ".architect-parallel-7").mkdir()
    git("checkout", "-q", "-b", "architect/parallel-5", cwd=repo)
    code, _, err = cli("cleanup")
    assert code == 0
    assert "branch architect/parallel-5 is checked out in another worktree; left in place" in err
    assert ".architect-parallel-7 is not a git worktree; left in place" in err
    assert (repo / ".architect-parallel-7").is_dir()


def test_list_shows_worktrees_with_last_status(repo, cli):
    code, out, err = cli("list")
    assert code == 0 and out == "" and "no parallel worktrees" in err
    cli("t", "--models", "fake:json=success,fake:json=failed", "--workers", "2")
    code, items, _ = cli.json("list")
    assert code == 0
    assert items == [
        {"worker_id": 1, "path": str(repo / ".architect-parallel-1"), "branch": "architect/parallel-1",
         "status": "success", "sandbox": None},
        {"worker_id": 2, "path": str(repo / ".architect-parallel-2"), "branch": "architect/parallel-2",
         "status": "failed", "sandbox": None},
    ]
    git("worktree", "add", "-q", "-b", "architect/parallel-3", str(repo / ".architect-parallel-3"), cwd=repo)
    code, out, _ = cli("list")
    lines = out.splitlines()
    assert len(lines) == 3 and "success" in lines[0] and "failed" in lines[1]
    assert lines[2].split()[:3] == ["3", "architect/parallel-3", "-"]


def _subprocess_env(bin_dir):
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT
    return env


def test_runs_as_module_and_as_a_copied_script(repo, tmp_path, agent_env):
    env = _subprocess_env(agent_env)
    proc = subprocess.run([sys.executable, "-m", "architect_parallel", "run", "t", "--workers", "1", "--json"],
                          cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["status"] == "success"
    alone = tmp_path / "vendored"
    alone.mkdir()
    shutil.copy(os.path.join(ROOT, "architect_parallel.py"), alone)
    env.pop("PYTHONPATH")
    proc = subprocess.run([sys.executable, str(alone / "architect_parallel.py"), "list", "--json"],
                          cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and json.loads(proc.stdout)[0]["worker_id"] == 1
    proc = subprocess.run([sys.executable, "-m", "architect_parallel", "--version"],
                          cwd=alone, env=env, capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.strip() == f"architect-parallel {ap.__version__}"


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143),
                                          (signal.SIGHUP, 129)])
def test_interrupt_stops_every_agent_and_saves_results(repo, records, agent_env, signum, code):
    env = _subprocess_env(agent_env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "fake:ignoreterm+grandchild=60+sleep=60",
         "--workers", "2", "--models", "a,b,c"],
        cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    while len(read_records(records)) < 2 or not all(
            r.get("grandchildren") for r in read_records(records).values()):
        assert time.monotonic() < deadline, "agents did not start"
        time.sleep(0.05)
    started = time.monotonic()
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 30  # TERM, 2 s of grace, KILL: not the 60 s they sleep
    assert proc.returncode == code, err
    assert err.rstrip().splitlines()[-1].startswith("error: ")
    for rec in read_records(records).values():
        for proc in procs(rec):
            assert not alive(proc), f"process {proc} survived"
    saved = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    statuses = [r["status"] for r in saved["results"]]
    assert statuses == ["interrupted"] * 3
    assert saved["results"][2]["error"] == "not started"
    assert (repo / ".architect-parallel-1").is_dir()  # worktrees are kept


def test_signals_it_was_started_ignoring_stay_ignored(repo, agent_env, tmp_path):
    """`nohup` (SIGHUP) and a script's background job (SIGINT) start the tool ignoring them."""
    marks = tmp_path / "marks"
    marks.mkdir()
    agent = tmp_path / "agent.sh"
    agent.write_text(f'#!/bin/sh\ntouch "{marks}/started"\n'
                     f'while [ ! -e "{marks}/release" ]; do sleep 0.05; done\n'
                     'echo done > out.txt\n')
    agent.chmod(0o755)

    def ignoring() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "t", "--workers", "1", "--json",
         "--agent-cmd", f"{agent} {{task}}"],
        cwd=repo, env=_subprocess_env(agent_env), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, preexec_fn=ignoring)
    deadline = time.monotonic() + 30
    while not (marks / "started").exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGHUP)
    proc.send_signal(signal.SIGINT)
    (marks / "release").touch()
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert json.loads(out)[0]["status"] == "success"
    assert git("show", "architect/parallel-1:out.txt", cwd=repo) == "done"
