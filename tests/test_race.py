"""Racing agents: any agent CLI, ready worktrees, checks, ranking, commits, diff and merge."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, git, read_records


def worktree(repo, n):
    return repo / f".architect-parallel-{n}"


# -- any agent CLI -----------------------------------------------------------

def test_template_task_reaches_agent_intact_and_optional_model_drops_its_flag(repo, cli, records):
    task = "fix \"the\" bug's $(touch pwned) `id` ; exit 1\nsecond line"
    template = "fake-agent --prompt {task} --model {model?} --name={model?} --tag 'a b' w{worker}"
    code, results, _ = cli.json(f"--task={task}", "--agent-cmd", template, "--models", "m1", "--workers", "2")
    assert code == 0 and [r["status"] for r in results] == ["success", "success"]
    recs = read_records(records)
    assert recs[".architect-parallel-1"]["argv"][1:] == [
        "--prompt", task, "--model", "m1", "--name=m1", "--tag", "a b", "w1"]
    assert recs[".architect-parallel-2"]["argv"][1:] == ["--prompt", task, "--tag", "a b", "w2"]
    assert not list(repo.rglob("pwned"))
    # A template result without a reader: exit code only, steps and cost unknown.
    assert results[0]["steps"] is None and results[0]["cost"] is None


@pytest.mark.parametrize("template, message", [
    ("fake-agent --prompt {task} --model {model}", "--agent-cmd needs {model}, which has no value for worker 2"),
    ("fake-agent --prompt {tsak}", "--agent-cmd: unknown placeholder {tsak}"),
    ("fake-agent --prompt '{task}", "cannot be split: No closing quotation"),
    ("no-such-agent {task}", "agent command 'no-such-agent' not found on PATH"),
    ("{task}", "the command itself cannot be a placeholder"),
])
def test_bad_templates_fail_before_anything_is_created(repo, cli, template, message):
    code, out, err = cli("t", "--agent-cmd", template, "--models", "m1", "--workers", "2")
    assert code == 2 and out == "" and message in err and err.count("\n") == 1, err
    assert not list(repo.glob(".architect-parallel-*"))


def test_workers_get_their_environment(repo, cli, records):
    code, _, _ = cli("t", "--models", "m1", "--workers", "2", "--port-base", "9000")
    assert code == 0
    env1 = read_records(records)[".architect-parallel-1"]["env"]
    env2 = read_records(records)[".architect-parallel-2"]["env"]
    assert {k: v for k, v in env1.items()
            if k.startswith("ARCHITECT_PARALLEL_") and k != "ARCHITECT_PARALLEL_MARK"} == {
        "ARCHITECT_PARALLEL_WORKER": "1", "ARCHITECT_PARALLEL_TASK": "t",
        "ARCHITECT_PARALLEL_MODEL": "m1", "ARCHITECT_PARALLEL_BRANCH": "architect/parallel-1",
        "ARCHITECT_PARALLEL_WORKTREE": str(worktree(repo, 1)),
        "ARCHITECT_PARALLEL_BASE": git("rev-parse", "HEAD", cwd=repo),
        "ARCHITECT_PARALLEL_PORT": "9001",
        "ARCHITECT_PARALLEL_TASK_FILE": str(repo / ".git" / "architect-parallel" / "tasks" / "worker-1.txt")}
    with open(env1["ARCHITECT_PARALLEL_TASK_FILE"]) as f:
        assert f.read() == "t"
    assert env2["ARCHITECT_PARALLEL_MODEL"] == "" and env2["ARCHITECT_PARALLEL_PORT"] == "9002"


@pytest.mark.parametrize("preset, argv", [
    ("claude", ["-p", "--output-format", "json", "--dangerously-skip-permissions", "--max-turns",
                "50", "--model", "M", "--", "-t"]),
    ("codex", ["exec", "--json", "--sandbox", "workspace-write", "--skip-git-repo-check",
               "-c", "features.unbounded_connection_retries=false", "--model", "M", "--", "-t"]),
    ("aider", ["--yes-always", "--no-pretty", "--no-stream", "--no-check-update", "--no-analytics",
               "--no-show-release-notes", "--no-gitignore", "--no-auto-commits",
               "--no-dirty-commits", "--model", "M", "--message=-t"]),
    ("gemini", ["--yolo", "--output-format", "stream-json", "--model", "M", "--prompt=-t"]),
])
def test_presets_build_their_cli_command_line(repo, cli, records, preset, argv):
    code, results, _ = cli.json("--task=-t", "--agent-cmd", preset, "--models", "M", "--workers", "1")
    assert code == 0 and results[0]["status"] == "success"
    (rec,) = read_records(records).values()
    assert os.path.basename(rec["argv"][0]) == "fake_agent.py" and rec["argv"][1:] == argv


@pytest.mark.parametrize("preset, model, expected", [
    # status, steps, cost, tokens in, tokens out, as each CLI reports them (None: it does not
    # say), and the error: the agent's own reason when it gave one
    ("claude", "fake:steps=7+cost=0.25", ("success", 7, 0.25, 1200, 34, None)),
    ("claude", "fake:json=partial", ("partial", 3, 0.0123, 1200, 34, "done")),
    ("claude", "fake:json=failed+exit=1", ("failed", 3, 0.0123, 1200, 34, "done (exit code 1)")),
    # Claude Code reports API errors as subtype "success" with is_error set
    ("claude", "fake:apierror=API_Error:_500_overloaded+exit=1",
     ("failed", 3, 0.0123, 1200, 34, "API Error: 500 overloaded (exit code 1)")),
    # steps count actions (command executions), not reasoning or messages
    ("codex", "fake:steps=4+tokens=900/12", ("success", 4, None, 900, 12, None)),
    ("codex", "fake:json=failed", ("failed", 3, None, None, None, "boom")),
    ("codex", "fake:apierror=unexpected_status_401:_bad_key+exit=1",
     ("failed", 3, None, None, None, "unexpected status 401: bad key (exit code 1)")),
    # a retry notice is not a failure when the turn then completes
    ("codex", "fake:notice=Reconnecting..._1/5+steps=1", ("success", 1, None, 1200, 34, None)),
    ("gemini", "fake:steps=2", ("success", 2, None, 1200, 34, None)),
    # stream-json: the result event carries stats in every case
    ("gemini", "fake:json=failed+exit=1", ("failed", 3, None, 1200, 34, "boom (exit code 1)")),
    ("gemini", "fake:apierror=[API_Error:_quota]+exit=144",
     ("failed", 3, None, 1200, 34, "[API Error: quota] (exit code 144)")),
    ("gemini", "fake:json=partial", ("partial", 3, None, 1200, 34, "Reached max session turns")),
    # --output-format json (Gemini CLI 0.6.x): a fatal error is a JSON object on stderr only
    ("gemini --yolo --output-format json --model {model?} --prompt={task}", "fake:steps=2",
     ("success", 2, None, 1200, 34, None)),
    ("gemini --yolo --output-format json --model {model?} --prompt={task}", "fake:json=failed+exit=1",
     ("failed", None, None, None, None, "boom (exit code 1)")),
    ("gemini --yolo --output-format json --model {model?} --prompt={task}", "fake:exit=53",
     ("partial", 3, None, 1200, 34, "stopped at its turn limit (exit code 53)")),
    ("gemini", "fake:exit=53", ("partial", 3, None, 1200, 34, "stopped at its turn limit (exit code 53)")),
    ("aider", "fake:cost=0.5+tokens=902/11", ("success", None, 0.5, 900, 11, None)),
    ("aider", "fake:tokens=12345/6", ("success", None, 0.0123, 12300, 6, None)),
    # no model error: the reason is its last line of output, with the exit code
    ("aider", "fake:exit=2", ("failed", None, 0.0123, 1200, 34,
                              "Tokens: 1.2k sent, 34 received. Cost: $0.0062 message, $0.0123 "
                              "session. (exit code 2)")),
    # aider prints a model error and exits 0: it failed, and says why on several lines
    ("aider", "fake:apierror=litellm.AuthenticationError:_AuthenticationError:_OpenAIException_-_"
              "Incorrect_API_key_provided:_sk-xxxx._You_can_find_your_API_key_at_the_dashboard.",
     ("failed", None, None, None, None,
      "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect API key "
      "provided: sk-xxxx. You can find your API key at the dashboard.")),
    ("architect", "fake:tokens=500/40", ("success", 3, 0.0123, 500, 40, None)),
    ("architect", "fake:apierror=litellm.BadRequestError:_no_such_model",
     ("failed", 3, 0.0123, None, None, "litellm.BadRequestError: no such model")),
])
def test_preset_result_readers(repo, cli, preset, model, expected):
    code, results, _ = cli.json("t", "--agent-cmd", preset, "--models", model, "--workers", "1")
    r = results[0]
    got = (r["status"], r["steps"], r["cost"], r["tokens_in"], r["tokens_out"], r["error"])
    assert got == expected
    assert code == (0 if expected[0] == "success" else 1)


# -- worktrees ready to work in ----------------------------------------------

def test_worktreeinclude_copies_ignored_files_that_are_never_committed(repo, cli):
    (repo / ".gitignore").write_text(".env\n*.log\n")
    (repo / ".worktreeinclude").write_text("# local settings\n.env\n")
    git("add", ".gitignore", ".worktreeinclude", cwd=repo)
    git("commit", "-q", "-m", "ignore", cwd=repo)
    (repo / ".env").write_text("API_KEY=secret\n")
    (repo / "debug.log").write_text("not wanted\n")
    (repo / "conf").mkdir()
    (repo / "conf" / "local.cfg").write_text("x=1\n")  # untracked, not ignored
    (repo / "notes.txt").write_text("untracked but not included\n")
    code, results, _ = cli.json("t", "--workers", "1", "--include", "conf/*.cfg")
    assert code == 0
    wt = worktree(repo, 1)
    assert (wt / ".env").read_text() == "API_KEY=secret\n"
    assert (wt / "conf" / "local.cfg").read_text() == "x=1\n"
    assert not (wt / "debug.log").exists() and not (wt / "notes.txt").exists()
    committed = git("show", "--name-only", "--format=", results[0]["commit"], cwd=repo).split()
    assert committed == ["agent-output.txt"]
    assert git("status", "--porcelain", cwd=wt) == "?? conf/"  # the copy stays, uncommitted
    assert results[0]["files_modified"] == ["agent-output.txt"]  # copies are not the agent's work


def test_failing_setup_fails_only_its_worker(repo, cli, records):
    setup = 'echo "setting up $ARCHITECT_PARALLEL_WORKER"; test "$ARCHITECT_PARALLEL_WORKER" != 2'
    code, results, _ = cli.json("t", "--workers", "3", "--setup", "touch setup-ran", "--setup", setup)
    assert code == 0
    assert [r["status"] for r in results] == ["success", "failed", "success"]
    assert results[1]["error"].startswith(f"setup command {setup!r} failed with exit code 1")
    assert ".architect-parallel-2" not in read_records(records)  # its agent never started
    assert results[1]["log_path"] == "" and results[1]["commit"] is None
    log = open(results[1]["worker_log"]).read()
    assert "setting up 2" in log and "# exit code 1" in log
    assert (worktree(repo, 1) / "setup-ran").exists()


# -- results that survive, and a winner --------------------------------------

def test_checks_rank_a_passing_worker_above_a_cheaper_failing_one(repo, cli):
    models = "fake:write=ok.txt+cost=0.9,fake:cost=0.01,fake:write=ok.txt+cost=0.5"
    code, results, err = cli.json("t", "--models", models, "--check", "test -f ok.txt",
                                  "--check", "true", "--check-timeout", "30")
    assert code == 0
    assert [(r["checks_passed"], r["checks_total"]) for r in results] == [(2, 2), (1, 2), (2, 2)]
    assert [r["rank"] for r in results] == [2, 3, 1]  # checks first, then cost
    assert results[1]["checks"][0] == {"command": "test -f ok.txt", "passed": False, "exit_code": 1,
                                       "duration": results[1]["checks"][0]["duration"]}
    assert "best: worker 3 (architect/parallel-3)" in err
    assert any(line.lstrip().startswith("*1") for line in err.splitlines())


def test_check_timeout_kills_the_check(repo, cli):
    code, results, _ = cli.json("t", "--workers", "1", "--check", "sleep 30", "--check-timeout", "0.5")
    assert results[0]["checks"][0]["passed"] is False and results[0]["checks"][0]["duration"] < 10


def test_changes_are_committed_on_the_branch_and_survive_cleanup(repo, cli):
    code, results, _ = cli.json("fake:write=a.txt+commit+write=b.txt", "--models", "m1", "--workers", "2")
    assert code == 0
    for r in results:
        log = git("log", "--format=%s", f"main..{r['branch']}", cwd=repo).splitlines()
        assert log == [f"architect-parallel: worker {r['worker_id']}: fake:write=a.txt+commit+write=b.txt "
                       f"[{r['model']}]", "agent commit"]
        assert r["commit"] == git("rev-parse", r["branch"], cwd=repo)
        assert git("status", "--porcelain", cwd=r["worktree_path"]) == ""
    code, _, err = cli("cleanup", "--keep-branches")
    assert code == 0 and "deleted branch" not in err and not list(repo.glob(".architect-parallel-*"))
    assert git("show", "architect/parallel-1:b.txt", cwd=repo) == "fake:write=a.txt+commit+write=b.txt"
    code, _, err = cli("cleanup")
    assert code == 0 and err.count("deleted branch") == 2


def test_no_commit_keeps_changes_uncommitted(repo, cli):
    code, results, _ = cli.json("t", "--workers", "1", "--no-commit")
    assert code == 0 and results[0]["commit"] is None
    assert git("status", "--porcelain", cwd=worktree(repo, 1)) == "?? agent-output.txt"


def test_commit_uses_a_fixed_identity_when_none_is_configured(repo, cli, monkeypatch, tmp_path):
    for var in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL"):
        monkeypatch.delenv(var)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.gitconfig
    monkeypatch.setenv("EMAIL", "")
    git("config", "user.useConfigOnly", "true", cwd=repo)
    code, results, _ = cli.json("t", "--workers", "1")
    assert code == 0 and results[0]["commit"]
    assert git("log", "-1", "--format=%an <%ae>", results[0]["commit"], cwd=repo) == \
        "architect-parallel <architect-parallel@localhost>"


def test_diff_and_merge_best(repo, cli):
    models = "fake:write=src/new.py+cost=0.2,fake:write=src/new.py+cost=0.1"
    assert cli("add a module", "--models", models, "--workers", "2")[0] == 0
    diff = subprocess.run([sys.executable, "-m", "architect_parallel", "diff", "best", "--stat"],
                          cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    assert diff.returncode == 0 and "src/new.py" in diff.stdout and "1 file changed" in diff.stdout
    diff = subprocess.run([sys.executable, "-m", "architect_parallel", "diff", "1"],
                          cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT), capture_output=True, text=True)
    assert "+add a module" in diff.stdout
    head = git("rev-parse", "HEAD", cwd=repo)
    code, _, err = cli("merge", "best")
    assert code == 0 and "merged architect/parallel-2" in err
    assert (repo / "src" / "new.py").exists()
    assert git("rev-list", "--count", f"{head}..HEAD", cwd=repo) == "1"  # fast-forward: one commit
    assert git("rev-parse", "HEAD", cwd=repo) == git("rev-parse", "architect/parallel-2", cwd=repo)
    assert git("status", "--porcelain", cwd=repo) == ""
    code, _, err = cli("merge", "2")
    assert code == 0 and "already merged" in err


def test_merge_squash(repo, cli):
    assert cli("fake:write=x.txt+commit+write=y.txt", "--workers", "1")[0] == 0
    head = git("rev-parse", "HEAD", cwd=repo)
    code, _, _ = cli("merge", "1", "--squash")
    assert code == 0
    assert git("rev-list", "--count", f"{head}..HEAD", cwd=repo) == "1"
    assert sorted(git("show", "--name-only", "--format=", "HEAD", cwd=repo).split()) == ["x.txt", "y.txt"]


def test_conflicting_merge_leaves_the_main_checkout_untouched(repo, cli):
    assert cli("fake:write=README.md", "--workers", "1")[0] == 0
    (repo / "README.md").write_text("# changed on main\n")
    git("commit", "-q", "-am", "main changes README", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    for squash in ([], ["--squash"]):
        code, out, err = cli("merge", "1", *squash)
        assert code == 1 and out == ""
        assert err == ("error: merging architect/parallel-1 conflicts in: README.md; "
                       "the main checkout is unchanged\n")
        assert git("rev-parse", "HEAD", cwd=repo) == head
        assert git("status", "--porcelain", cwd=repo) == ""
        assert (repo / "README.md").read_text() == "# changed on main\n"
        assert not (repo / ".git" / "MERGE_HEAD").exists()


def test_merge_refuses_a_dirty_main_checkout_and_unknown_workers(repo, cli):
    assert cli("fake:write=z.txt", "--workers", "1")[0] == 0
    (repo / "README.md").write_text("dirty\n")
    code, _, err = cli("merge", "1")
    assert code == 2 and "the main checkout has uncommitted changes" in err
    assert not (repo / "z.txt").exists()
    for worker, message in (("7", "there is no branch architect/parallel-7"),
                            ("x", "worker must be a number, 'best' or (for merge) 'all'")):
        code, _, err = cli("merge", worker)
        assert code == 2 and message in err


def test_config_file_keys_for_racing(repo, cli, records, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("parallel_runs:\n  workers: 2\n  agent_cmd: claude\n  checks:\n    - test -f agent-output.txt\n"
                      "  setup: [touch ready]\n  include: []\n  check_timeout: 60\n  port_base: 7000\n"
                      "  commit: false\n")
    code, results, _ = cli.json("t", "-c", config)
    assert code == 0 and [r["checks_passed"] for r in results] == [1, 1]
    assert [r["commit"] for r in results] == [None, None]
    rec = read_records(records)[".architect-parallel-2"]
    assert rec["argv"][1] == "-p" and rec["env"]["ARCHITECT_PARALLEL_PORT"] == "7002"
    bad = tmp_path / "bad.yaml"
    bad.write_text("parallel_runs:\n  checks: pytest\n")
    code, _, err = cli("t", "-c", bad)
    assert code == 2 and "line 2: parallel_runs.checks must be a list of non-empty strings" in err


# -- what agents and users do that the runner must survive ---------------------

def test_agent_leaving_the_branch_still_gets_its_work_committed_on_it(repo, cli):
    models = "fake:write=c.txt+commit+detach+write=d.txt,fake:branch=other+write=o.txt"
    code, results, _ = cli.json("fake:write=a.txt", "--models", models, "--workers", "2")
    assert code == 0 and [r["error"] for r in results] == [None, None]
    assert git("show", "--name-only", "--format=", "architect/parallel-1", cwd=repo).split() == ["d.txt"]
    assert git("show", "--name-only", "--format=", "architect/parallel-2", cwd=repo).split() == ["o.txt"]
    assert git("symbolic-ref", "--short", "HEAD", cwd=worktree(repo, 1)) == "architect/parallel-1"


def test_agent_abandoning_the_branch_is_reported_not_committed_elsewhere(repo, cli):
    (repo / "x.txt").write_text("x\n")
    git("add", "x.txt", cwd=repo)
    git("commit", "-q", "-m", "x", cwd=repo)
    git("branch", "old", "HEAD~1", cwd=repo)
    code, results, _ = cli.json("fake:json=success", "--workers", "1", "--agent-cmd",
                                "sh -c 'git checkout -q old && echo y > y.txt' {task}")
    assert "the agent left the worktree on old, which does not contain architect/parallel-1" in results[0]["error"]
    assert results[0]["commit"] is None
    assert git("rev-parse", "old", cwd=repo) == git("rev-parse", "main~1", cwd=repo)  # nothing added


def test_nested_repository_is_left_out_of_the_commit_and_reported(repo, cli):
    code, results, _ = cli.json("fake:write=a.txt+nested=sub", "--workers", "1")
    r = results[0]
    assert r["commit"] and "a git repository inside the worktree cannot be committed" in r["error"]
    assert "sub" in r["error"]
    assert git("show", "--name-only", "--format=", r["commit"], cwd=repo).split() == ["a.txt"]
    assert (worktree(repo, 1) / "sub" / "inner.txt").exists()


def test_a_failed_commit_fails_the_worker_rather_than_check_what_its_branch_lacks(repo, cli):
    code, results, _ = cli.json("fake:write=a.txt+lockindex", "--workers", "1", "--check", "true")
    r = results[0]
    assert r["status"] == "failed" and code == 1
    assert r["commit"] is None and "its work could not be committed" in r["error"]
    assert "index.lock" in r["error"] and r["files_modified"] == ["a.txt"]
    assert r["checks_passed"] == 0 and r["checks"] == []  # (skipped, as for any failed worker)


def test_includes_skip_nested_repos_and_links_leading_outside_and_obey_order(repo, cli, tmp_path):
    (repo / ".worktreeinclude").write_text("*.local\nvendor/\n!skip.local\n")
    (repo / "keep.local").write_text("k\n")
    (repo / "skip.local").write_text("s\n")
    (tmp_path / "outside.txt").write_text("secret\n")
    os.symlink(tmp_path / "outside.txt", repo / "out.local")
    os.symlink("keep.local", repo / "in.local")
    (repo / "vendor" / "lib").mkdir(parents=True)
    git("init", "-q", cwd=repo / "vendor" / "lib")
    (repo / "vendor" / "plain.txt").write_text("p\n")
    code, results, _ = cli.json("fake:json=success", "--workers", "1", "--include", "skip.local")
    wt = worktree(repo, 1)
    assert code == 0 and results[0]["error"] is None
    assert (wt / "keep.local").exists() and (wt / "vendor" / "plain.txt").exists()
    assert (wt / "skip.local").exists()  # --include comes after .worktreeinclude's '!skip.local'
    assert os.readlink(wt / "in.local") == "keep.local"
    assert not os.path.lexists(wt / "out.local") and not (wt / "vendor" / "lib").exists()


def test_optional_placeholder_never_drops_a_value_or_the_separator(repo, cli, records):
    code, _, _ = cli("--task=-fix", "--agent-cmd", "fake-agent -v --prompt {task} -- {model?}", "--workers", "1")
    assert code == 0
    (rec,) = read_records(records).values()
    assert rec["argv"][1:] == ["-v", "--prompt", "-fix", "--"]


def test_merge_refuses_a_detached_head_and_explains_untracked_files_in_the_way(repo, cli):
    assert cli("fake:write=new.txt", "--workers", "1")[0] == 0
    (repo / "new.txt").write_text("mine\n")
    code, _, err = cli("merge", "1")
    assert code == 2 and "new.txt" in err and "the main checkout is unchanged" in err
    assert (repo / "new.txt").read_text() == "mine\n"
    os.remove(repo / "new.txt")
    git("checkout", "-q", "--detach", cwd=repo)
    code, _, err = cli("merge", "1")
    assert code == 2 and "HEAD is detached" in err


def test_diff_into_a_closed_pipe_is_no_error(repo, cli):
    assert cli("fake:write=a.txt+write=b.txt", "--workers", "1")[0] == 0
    proc = subprocess.run(f"'{sys.executable}' -m architect_parallel diff 1 | head -c 1",
                          shell=True, cwd=repo, env=dict(os.environ, PYTHONPATH=ROOT),
                          capture_output=True, text=True, executable="/bin/bash")
    assert proc.stderr == ""


@pytest.mark.parametrize("phase, args", [
    ("setup", ["--setup", "sleep 30"]),
    ("check", ["--check", "sleep 30", "--check", "true"]),
])
def test_interrupt_during_setup_or_checks(repo, records, phase, args):
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "fake:write=a.txt",
                             "--workers", "2", "--json", *args], cwd=repo, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = repo / ".git" / "architect-parallel" / "logs" / "worker-2.log"
    deadline = time.monotonic() + 20
    while not (log.exists() and "sleep 30" in log.read_text()):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 130, err
    results = json.loads(out)
    assert [r["status"] for r in results] == ["interrupted", "interrupted"]
    assert all(r["checks"] == [] for r in results)  # an interrupted check neither passed nor failed
