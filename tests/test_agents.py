"""Agent CLI adapters: what each CLI needs before it starts, what it must never commit, and
how a failure reaches the user. The real CLIs are run by ``make e2e`` (tests/e2e)."""

import json
import os
import re
import xml.etree.ElementTree as ET

import pytest

import architect_parallel
from conftest import git, read_records


def _branches(repo):
    return git("branch", "--list", "architect/*", cwd=repo)


# -- before anything is created ------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="Claude Code refuses --dangerously-skip-permissions only as root")
def test_claude_as_root_without_a_sandbox_is_refused_before_anything_is_created(repo, cli,
                                                                                 monkeypatch):
    monkeypatch.delenv("IS_SANDBOX")
    code, out, err = cli("t", "--agent-cmd", "claude", "--workers", "2")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("error: Claude Code refuses "
                                                   "--dangerously-skip-permissions as root")
    assert "IS_SANDBOX=1" in err and "normal user" in err
    assert not (repo / ".architect-parallel-1").exists() and _branches(repo) == ""
    # plan needs no agent, so it is not refused
    assert cli("plan", "t", "--agent-cmd", "claude")[0] == 0
    # with the sandbox variable the same run goes ahead, and the variable reaches Claude Code
    monkeypatch.setenv("IS_SANDBOX", "1")
    code, results, _ = cli.json("t", "--agent-cmd", "claude", "--workers", "1")
    assert code == 0 and results[0]["status"] == "success"


def test_gemini_trusts_its_worktree_unless_the_user_said_otherwise(repo, cli, records,
                                                                    monkeypatch):
    assert cli("t", "--agent-cmd", "gemini", "--workers", "1")[0] == 0
    (rec,) = read_records(records).values()
    assert rec["env"]["GEMINI_CLI_TRUST_WORKSPACE"] == "true"
    monkeypatch.setenv("GEMINI_CLI_TRUST_WORKSPACE", "false")
    assert cli("t", "--agent-cmd", "gemini", "--workers", "1", "--force")[0] == 0
    (rec,) = read_records(records).values()
    assert rec["env"]["GEMINI_CLI_TRUST_WORKSPACE"] == "false"
    # other CLIs do not get it
    monkeypatch.delenv("GEMINI_CLI_TRUST_WORKSPACE")
    assert cli("t", "--agent-cmd", "codex", "--workers", "1", "--force")[0] == 0
    (rec,) = read_records(records).values()
    assert "GEMINI_CLI_TRUST_WORKSPACE" not in rec["env"]


# -- bookkeeping is never committed ------------------------------------------------

@pytest.mark.parametrize("agent_cmd, bookkeeping", [
    ("architect", [".architect/sessions/20261201-abc.json"]),
    ("aider", [".aider.chat.history.md", ".aider.input.history", ".aider.tags.cache.v4/cache.db"]),
    # a template running one of the preset CLIs gets its adapter too
    ("aider --yes-always --message={task}", [".aider.chat.history.md"]),
])
def test_agent_bookkeeping_is_neither_committed_nor_counted(repo, cli, agent_cmd, bookkeeping):
    script = "+".join(f"write={name}" for name in ["HELLO.txt", *bookkeeping])
    code, results, _ = cli.json(f"fake:{script}", "--agent-cmd", agent_cmd, "--workers", "1")
    r = results[0]
    assert code == 0 and r["status"] == "success", r
    assert r["files_modified"] == ["HELLO.txt"]
    committed = git("diff", "--name-only", "main", r["branch"], cwd=repo).split()
    assert committed == ["HELLO.txt"]
    for name in bookkeeping:  # left where the CLI wrote it, for the CLI's next run
        assert (repo / ".architect-parallel-1" / name).exists()


def test_bookkeeping_names_are_those_of_the_cli_that_ran(repo, cli):
    # a file that looks like aider's state is a claude worker's work, and is committed
    code, results, _ = cli.json("fake:write=.aider.notes+write=HELLO.txt", "--agent-cmd", "claude",
                                "--workers", "1")
    assert code == 0 and results[0]["files_modified"] == [".aider.notes", "HELLO.txt"]


def test_a_tracked_file_under_a_bookkeeping_name_is_still_the_workers_change(repo, cli):
    (repo / ".aider.conf.yml").write_text("model: a\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "aider config", cwd=repo)
    code, results, _ = cli.json("fake:write=.aider.conf.yml", "--agent-cmd", "aider", "--workers", "1")
    assert code == 0 and results[0]["files_modified"] == [".aider.conf.yml"]


# -- every failure says why, where the user looks --------------------------------

def test_the_table_shows_each_failed_workers_reason_and_names_its_logs(repo, cli):
    models = ["fake:apierror=API_Error:_500_{\"message\":\"stand-in_overloaded\"}+exit=1", "fake:stderr=fatal:_cannot_reach_the_model+silent+exit=3", "fake:steps=1"]
    code, out, err = cli("t", "--agent-cmd", "claude", "--models", ",".join(models))
    assert code == 0
    lines = err.splitlines()
    i = lines.index('worker 1: API Error: 500 {"message":"stand-in overloaded"} (exit code 1)')
    assert lines[i + 1] == ("  its output: .git/architect-parallel/logs/worker-1.stderr.log  "
                            ".git/architect-parallel/logs/worker-1.stdout.log")
    assert "worker 2: fatal: cannot reach the model (exit code 3, no JSON result)" in lines
    assert not any(line.startswith("worker 3") for line in lines)  # it succeeded


def test_a_long_reason_is_kept_whole_in_the_results_and_shortened_in_the_table(repo, cli):
    reason = "litellm.BadRequestError:_" + "_".join(f"word{n}" for n in range(60))
    code, results, err = cli.json("t", "--agent-cmd", "architect", "--models",
                                  f"fake:apierror={reason}", "--workers", "1")
    assert code == 1 and results[0]["error"] == reason.replace("_", " ")
    table_line = next(line for line in err.splitlines() if line.startswith("worker 1: "))
    assert len(table_line) <= 160 and table_line.endswith("…")


def test_summary_and_junit_carry_reasons_and_tokens(repo, cli, tmp_path):
    models = ["fake:tokens=1500/70", "fake:apierror=unexpected_status_400:_`bad`_|_request+exit=1"]
    code, _, _ = cli("t", "--agent-cmd", "codex", "--models", ",".join(models),
                     "--junit", tmp_path / "j.xml", "--summary", tmp_path / "s.md")
    assert code == 0
    summary = (tmp_path / "s.md").read_text()
    assert "| 1.5k/70 |" in summary
    assert "- worker 2 (failed): `unexpected status 400: 'bad' | request (exit code 1)`" in summary
    cases = ET.parse(tmp_path / "j.xml").getroot().iter("testcase")
    props = [{p.get("name"): p.get("value") for p in case.iter("property")} for case in cases]
    assert (props[0]["tokens_in"], props[0]["tokens_out"]) == ("1500", "70")
    assert (props[1]["tokens_in"], props[1]["tokens_out"]) == ("unknown", "unknown")


def test_tokens_survive_results_files_and_collect(repo, cli, tmp_path):
    code, _, _ = cli("t", "--agent-cmd", "codex", "--models", "fake:tokens=321/12,fake:json=failed+exit=1",
                     "--workers", "1", "--results", tmp_path / "r.json", "--quiet")
    saved = json.loads((tmp_path / "r.json").read_text())["results"]
    assert [(r["tokens_in"], r["tokens_out"]) for r in saved] == [(321, 12), (None, None)]
    plan = ["--task=t", "--agent-cmd", "codex", "--models", "fake:tokens=321/12,fake:json=failed+exit=1",
            "--workers", "1"]
    code, collected, err = cli.json("collect", tmp_path / "r.json", *plan)
    assert [(r["tokens_in"], r["tokens_out"]) for r in collected] == [(321, 12), (None, None)]
    saved[0]["tokens_in"] = -1
    (tmp_path / "bad.json").write_text(json.dumps(dict(json.loads(
        (tmp_path / "r.json").read_text()), results=saved)))
    code, collected, err = cli.json("collect", tmp_path / "bad.json", *plan)
    assert code == 1 and "result 1: " in err and "bad tokens_in -1; left out" in err
    assert [r["worker_id"] for r in collected] == [2]  # the other one still counts


def test_a_timeout_says_what_the_agent_last_said(repo, cli):
    code, results, _ = cli.json("t", "--models", "fake:stderr=Reconnecting..._3/5+sleep=30",
                                "--workers", "1", "--timeout-per-worker", "1")
    assert results[0]["status"] == "timeout"
    assert results[0]["error"] == "stopped after 1s timeout; its last words: Reconnecting... 3/5"


def test_a_long_run_without_a_time_limit_gets_one_hint(repo):
    lines = []
    config = architect_parallel.ParallelConfig(tasks=["fake:sleep=0.9"], workers=2)
    runner = architect_parallel.ParallelRunner(config, str(repo), progress=lines.append)
    runner._slow_hint = 0.5  # seconds, instead of ten minutes
    runner.run()
    hints = [line for line in lines if "--timeout-per-worker" in line]
    # one hint, for whichever of the two passed the mark first (under load, either)
    assert [re.sub(r"worker [12] ", "worker N ", line) for line in hints] == [
        "warning: worker N has run for 0.5 seconds with no time limit; an agent CLI whose "
        "model endpoint fails may retry for minutes: bound each worker with "
        "--timeout-per-worker SECONDS"]
    # not with a time limit
    lines.clear()
    config = architect_parallel.ParallelConfig(tasks=["fake:sleep=0.9"], workers=1,
                                               timeout_per_worker=60, force=True)
    runner = architect_parallel.ParallelRunner(config, str(repo), progress=lines.append)
    runner._slow_hint = 0.5
    runner.run()
    assert not [line for line in lines if "--timeout-per-worker" in line]


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="root only")
@pytest.mark.parametrize("agent_cmd, sandbox, refused", [
    ("claude", "true", True),  # Claude Code accepts only IS_SANDBOX=1
    ("claude -p --permission-mode bypassPermissions -- {task}", None, True),
    ("claude -p --permission-mode=bypassPermissions -- {task}", None, True),
    ("claude -p --permission-mode acceptEdits -- {task}", None, False),  # allowed as root
    ("claude -p --output-format json -- {task}", None, False),
])
def test_claude_root_refusal_follows_claude_codes_own_rule(repo, cli, monkeypatch, agent_cmd,
                                                           sandbox, refused):
    monkeypatch.delenv("IS_SANDBOX")
    if sandbox:
        monkeypatch.setenv("IS_SANDBOX", sandbox)
    code, _, err = cli("t", "--agent-cmd", agent_cmd, "--workers", "1")
    assert (code == 2 and "IS_SANDBOX=1" in err) if refused else code == 0, err


def test_codex_steps_are_distinct_actions_and_an_api_error_body_is_unwrapped(repo, cli):
    events = [
        {"type": "thread.started", "thread_id": "t"},
        {"type": "item.completed", "item": {"id": "w", "type": "error", "message": "no metadata"}},
        {"type": "turn.started"},
        {"type": "item.started", "item": {"id": "a", "type": "command_execution"}},
        {"type": "item.completed", "item": {"id": "a", "type": "command_execution"}},
        # started, never completed (codex 0.140 after a reconnect): still an action
        {"type": "item.started", "item": {"id": "b", "type": "file_change"}},
        {"type": "item.completed", "item": {"id": "m", "type": "agent_message", "text": "hi"}},
        {"type": "error", "message": "Reconnecting... 1/5"},
        {"type": "turn.failed", "error": {"message": json.dumps(
            {"error": {"message": "standin-marker-400: bad model", "type": "invalid_request_error"}})}},
    ]
    script = repo.parent / "codex-events.sh"
    script.write_text("#!/bin/sh\necho 'Reading additional input from stdin...' >&2\ncat <<'EOF'\n"
                      + "\n".join(json.dumps(e) for e in events) + "\nEOF\nexit 1\n")
    script.chmod(0o755)
    bin_dir = repo.parent / "codexbin"
    bin_dir.mkdir()
    (bin_dir / "codex").symlink_to(script)
    code, results, _ = cli.json("t", "--agent-cmd", f"{bin_dir / 'codex'} exec -- {{task}}",
                                "--workers", "1")
    r = results[0]
    assert (r["status"], r["steps"], r["error"]) == (
        "failed", 2, "standin-marker-400: bad model (exit code 1)")


def test_codex_timeout_names_its_last_retry_notice_not_its_stdin_line(repo, cli, tmp_path):
    script = tmp_path / "codex"
    script.write_text("#!/bin/sh\necho 'Reading additional input from stdin...' >&2\n"
                      "echo '{\"type\":\"turn.started\"}'\n"
                      "echo '{\"type\":\"error\",\"message\":\"Reconnecting... 2/5 (connection refused)\"}'\n"
                      "exec sleep 30\n")
    script.chmod(0o755)
    code, results, _ = cli.json("t", "--agent-cmd", f"{script} exec -- {{task}}", "--workers", "1",
                                "--timeout-per-worker", "1")
    assert results[0]["status"] == "timeout"
    assert results[0]["error"] == ("stopped after 1s timeout; its last words: Reconnecting... 2/5 "
                                   "(connection refused)")


@pytest.mark.parametrize("message, reason", [
    # Gemini CLI quotes the API's error body, sometimes inside "[API Error: ...]"
    ('{"error":{"code":400,"message":"stand-in refuses: marker","status":"INVALID_ARGUMENT"}}',
     "stand-in refuses: marker (HTTP 400 INVALID_ARGUMENT)"),
    ('[API Error: {"error":{"code":500,"message":"boom"}}]', "boom (HTTP 500)"),
    # Codex's turn.failed quotes an OpenAI error body
    ('{"error": {"message": "marker-400: no", "type": "invalid_request_error"}}', "marker-400: no"),
    ("plain words {not json", "plain words {not json"),
    ('{"error": "just a string"}', "just a string"),
])
def test_an_api_error_body_quoted_by_a_cli_gives_the_apis_own_message(message, reason):
    assert architect_parallel._api_message(message) == reason


def test_gemini_stopping_itself_in_a_loop_is_partial(repo, cli, tmp_path):
    script = tmp_path / "gemini"
    script.write_text("#!/bin/sh\n"
                      "echo '{\"type\":\"error\",\"severity\":\"warning\",\"message\":"
                      "\"Loop detected, stopping execution\"}'\n"
                      "echo '{\"type\":\"result\",\"status\":\"success\",\"stats\":"
                      "{\"tool_calls\":5,\"input_tokens\":10,\"output_tokens\":2}}'\n")
    script.chmod(0o755)
    code, results, _ = cli.json("t", "--agent-cmd", f"{script} -p {{task}}", "--workers", "1")
    r = results[0]
    assert (r["status"], r["steps"], r["error"]) == (
        "partial", 5, "Loop detected, stopping execution")


# -- the user's git identity and config are left alone -------------------------------

def test_agents_get_an_identity_through_the_environment_when_git_config_has_none(repo, cli,
                                                                                  records):
    # What aider does when git config has no identity: "git config user.name" is empty,
    # so it writes one into the shared .git/config. With the variables, git config has one.
    config_before = (repo / ".git" / "config").read_bytes()
    template = ("sh -c 'test -n \"$(git config --get user.name)\" || git config user.name "
                "\"Your Name\"; echo {task} > HELLO.txt'")
    code, results, err = cli.json("t", "--agent-cmd", template, "--workers", "1")
    assert code == 0 and results[0]["files_modified"] == ["HELLO.txt"]
    assert (repo / ".git" / "config").read_bytes() == config_before
    assert "changed during the run" not in err
    # the agent saw the runner's identity, after a GIT_CONFIG_* setting of the user's own
    code, results, _ = cli.json("fake:write=a.txt", "--workers", "1", "--force")
    (rec,) = read_records(records).values()
    assert {k: v for k, v in rec["env"].items() if k.startswith("GIT_CONFIG_K")
            or k.startswith(("GIT_CONFIG_V", "GIT_CONFIG_C"))} == {
        "GIT_CONFIG_COUNT": "3", "GIT_CONFIG_KEY_0": "user.name",
        "GIT_CONFIG_VALUE_0": "architect-parallel", "GIT_CONFIG_KEY_1": "user.email",
        "GIT_CONFIG_VALUE_1": "architect-parallel@localhost",
        "GIT_CONFIG_KEY_2": "core.splitIndex", "GIT_CONFIG_VALUE_2": "false"}


def test_an_identity_the_user_configured_is_not_overridden(repo, cli, records, monkeypatch):
    git("config", "user.name", "Ada", cwd=repo)
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.quotepath")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "off")
    code, results, _ = cli.json("fake:write=a.txt", "--workers", "1")
    (rec,) = read_records(records).values()
    assert {k: v for k, v in rec["env"].items()
            if k.startswith(("GIT_CONFIG_K", "GIT_CONFIG_V", "GIT_CONFIG_C"))} == {
        "GIT_CONFIG_COUNT": "3", "GIT_CONFIG_KEY_0": "core.quotepath", "GIT_CONFIG_VALUE_0": "off",
        "GIT_CONFIG_KEY_1": "user.email", "GIT_CONFIG_VALUE_1": "architect-parallel@localhost",
        "GIT_CONFIG_KEY_2": "core.splitIndex", "GIT_CONFIG_VALUE_2": "false"}


def test_a_change_to_git_config_during_the_run_is_reported(repo, cli):
    template = "sh -c 'git config --local core.fsmonitor true; echo {task} > a.txt'"
    code, _, err = cli("t", "--agent-cmd", template, "--workers", "1")
    assert code == 0
    assert (f"warning: {repo / '.git' / 'config'} changed during the run: an agent or a setup or "
            "check command changed your git settings; look with 'git config --local --list'") in err


# -- output no reader foresaw ----------------------------------------------------

def _script(tmp_path, name, stdout="", stderr="", code=0):
    """An executable called ``name`` that prints ``stdout`` and ``stderr`` and exits ``code``."""
    folder = tmp_path / "scripts"
    folder.mkdir(exist_ok=True)
    (folder / "out").write_text(stdout)
    (folder / "err").write_text(stderr)
    path = folder / name
    path.write_text(f"#!/bin/sh\ncat '{folder / 'out'}'\ncat '{folder / 'err'}' >&2\nexit {code}\n")
    path.chmod(0o755)
    return f"{path} {{task}}"


@pytest.mark.parametrize("stdout, expected", [
    # prompt caching adds "cache write"/"cache hit" parts; with both, Cost: moves to the next line
    ("Tokens: 2.5k sent, 2.3k cache hit, 12 received. Cost: $0.00041 message, $0.00041 session.\n"
     "Applied edit to HELLO.txt\n", ("success", 0.00041, 2500, 12, None)),
    ("Tokens: 2.5k sent, 1.1k cache write, 2.3k cache hit, 12 received.\n"
     "Cost: $0.00041 message, $0.0009 session.\nApplied edit to HELLO.txt\n",
     ("success", 0.0009, 2500, 12, None)),
    ("Tokens: 902 sent, 11 received.\n", ("success", None, 902, 11, None)),  # no known price
    # malformed numbers are unknown, not a crash
    ("Tokens: 10 sent, 2 received. Cost: $1.2.3 message, $1.2.3 session.\n",
     ("success", None, 10, 2, None)),
    # a model error after the last call (the commit-message model missing) fails it
    ("Tokens: 10 sent, 2 received.\nlitellm.NotFoundError: NotFoundError: OpenAIException - The\n"
     "model `gpt-4o-mini` does not exist\n\nDone.\n",
     ("failed", None, 10, 2, "litellm.NotFoundError: NotFoundError: OpenAIException - The model "
                             "`gpt-4o-mini` does not exist")),
    # aider's lint output after a successful edit is no model error
    ("Tokens: 10 sent, 2 received.\nSyntaxError: invalid syntax\n", ("success", None, 10, 2, None)),
])
def test_aider_output_as_aider_prints_it(repo, cli, tmp_path, stdout, expected):
    code, results, _ = cli.json("t", "--agent-cmd", _script(tmp_path, "aider", stdout),
                                "--workers", "1")
    r = results[0]
    assert (r["status"], r["cost"], r["tokens_in"], r["tokens_out"], r["error"]) == expected


@pytest.mark.parametrize("name, stdout, stderr", [
    ("gemini", "", '{"error": ' + "[" * 5000),
    ("claude", '{"type": "result", "usage": ' + "[" * 5000 + "\n", ""),
    ("codex", '{"type": "turn.failed", "error": ' + "[" * 5000 + "\n", ""),
    ("architect", '{"status": "failed", "output": ' + "[" * 5000 + "\n", ""),
    ("gemini", '{"type": "result", "status": "error", "error": {"message": "[API Error: '
               + '{"error": ' + "[" * 5000 + ']"}}\n', ""),
])
def test_deeply_nested_json_is_no_result_not_a_crash(repo, cli, tmp_path, name, stdout, stderr):
    code, results, _ = cli.json("t", "--agent-cmd", _script(tmp_path, name, stdout, stderr, code=1),
                                "--workers", "1")
    assert code == 1 and results[0]["status"] == "failed"


def test_a_token_count_too_large_to_be_true_is_unknown(repo, cli, tmp_path):
    stdout = json.dumps({"type": "result", "subtype": "success", "is_error": False,
                         "usage": {"input_tokens": 10 ** 400, "output_tokens": 5}}) + "\n"
    code, results, err = cli.json("t", "--agent-cmd", _script(tmp_path, "claude", stdout),
                                  "--workers", "1")
    assert code == 0 and (results[0]["tokens_in"], results[0]["tokens_out"]) == (None, 5)


@pytest.mark.parametrize("stdout, error", [
    # Claude Code: is_error with an empty result; "success" is no reason
    ('{"type": "result", "subtype": "success", "is_error": true, "result": ""}\n',
     "the agent reported a failure without a reason (exit code 1)"),
    ('{"type": "result", "subtype": "error_during_execution", "is_error": true}\n',
     "error_during_execution (exit code 1)"),
])
def test_a_failure_reported_without_words(repo, cli, tmp_path, stdout, error):
    code, results, _ = cli.json("t", "--agent-cmd", _script(tmp_path, "claude", stdout, code=1),
                                "--workers", "1")
    assert results[0]["status"] == "failed" and results[0]["error"] == error


def test_bookkeeping_left_in_a_worktree_is_not_work_to_lose(repo, cli):
    # architect keeps its session file in the worktree: merge does not warn about it, and
    # the next run does not take it for uncommitted work
    code, _, _ = cli("fake:write=HELLO.txt+write=.architect/sessions/1.json", "--workers", "1")
    assert code == 0
    code, out, err = cli("merge", "best")
    assert code == 0 and "uncommitted" not in err
    code, _, err = cli("fake:json=failed+write=.architect/sessions/2.json+exit=1", "--workers", "1")
    assert "would lose work" not in err and code == 1
    assert "/.architect/sessions/" in (repo / ".git" / "info" / "exclude").read_text().splitlines()


def test_claude_stopped_at_its_budget_is_partial_with_its_tokens_from_model_usage(repo, cli,
                                                                                   tmp_path):
    # As Claude Code 2.1.197 prints it: usage leaves out the call that crossed the budget.
    stdout = json.dumps({
        "type": "result", "subtype": "error_max_budget_usd", "is_error": True, "num_turns": 2,
        "total_cost_usd": 0.600528, "errors": ["Reached maximum budget ($0.5)"],
        "usage": {"input_tokens": 100050, "cache_creation_input_tokens": 0,
                  "cache_read_input_tokens": 0, "output_tokens": 12},
        "modelUsage": {"claude-sonnet-4-6": {"inputTokens": 200000, "outputTokens": 24,
                                             "cacheReadInputTokens": 100,
                                             "cacheCreationInputTokens": 0}}}) + "\n"
    code, results, _ = cli.json("t", "--agent-cmd", _script(tmp_path, "claude", stdout, code=1),
                                "--workers", "1")
    r = results[0]
    assert (r["status"], r["tokens_in"], r["tokens_out"], r["cost"]) == (
        "partial", 200100, 24, 0.600528)
    assert r["error"] == "Reached maximum budget ($0.5) (exit code 1)"
