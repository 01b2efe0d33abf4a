"""``--agent-cmd claude``: the real Claude Code CLI (pinned in harness.PINS) against a
stand-in for the Anthropic Messages API (standin_anthropic.py).

Claude Code is pointed at the stand-in with ANTHROPIC_BASE_URL and ANTHROPIC_API_KEY.
CLAUDE_CODE_MAX_RETRIES=0 stops it from retrying a failed model call (by default it
retries 5xx, 401, 408, 409, 429 and connection errors 10 times with backoff, about
three minutes). IS_SANDBOX=1 lets it take --dangerously-skip-permissions as root;
without it, architect-parallel must refuse before creating anything.

``ARCHITECT_PARALLEL_E2E_CLAUDE_BIN`` runs the file against another install of Claude
Code (a folder holding its ``claude``), e.g. a newer release.
"""

from __future__ import annotations

import json
import os
import re
import socket

import pytest

import harness
from standin_anthropic import FINAL_TEXT, USAGE, AnthropicStandIn

TASK = "Create a file HELLO.txt containing the word hello"
API_KEY = "sk-ant-standin-0123456789"
MODEL = "claude-sonnet-4-6"
BRANCH = "architect/parallel-1"


@pytest.fixture(scope="module")
def claude_bin():
    return os.environ.get("ARCHITECT_PARALLEL_E2E_CLAUDE_BIN") or harness.install("claude")


def claude_env(tmp_path, bin_dir, base_url, **extra):
    """The tool's environment: a private HOME, the CLI pointed at ``base_url``, no retries,
    and (unless ``IS_SANDBOX=None``) the sandbox switch that root needs."""
    values = {"ANTHROPIC_BASE_URL": base_url, "ANTHROPIC_API_KEY": API_KEY,
              "CLAUDE_CODE_MAX_RETRIES": "0", "IS_SANDBOX": "1"}
    values.update(extra)
    env = harness.private_env(tmp_path, bin_dir, {k: v for k, v in values.items() if v is not None})
    if values["IS_SANDBOX"] is None:
        env.pop("IS_SANDBOX", None)
    return env


def run(repo, env, *args):
    return harness.run_tool(repo, [TASK, "--agent-cmd", "claude", "--workers", "1",
                                   "--timeout-per-worker", "120", *args], env, timeout=240)


def only_result(run_):
    assert len(run_.results) == 1, run_
    return run_.results[0]


def agent_result(result):
    """The result object Claude Code printed on its stdout."""
    lines = [line for line in harness.read_bytes(result["log_path"]).decode().splitlines() if line.strip()]
    return json.loads(lines[-1])


def assert_no_leftovers(bin_dir):
    # Every Claude Code process of this file runs the binary under this install's folder.
    assert harness.no_leftovers(os.path.dirname(os.path.realpath(bin_dir))) == []


def assert_nothing_committed(repo):
    assert harness.committed_files(repo, BRANCH) == []


def test_success_writes_hello_and_reports_turns_tokens_cost(tmp_path, claude_bin):
    repo = harness.make_repo(tmp_path)
    config_before = harness.read_bytes(os.path.join(repo, ".git", "config"))
    with AnthropicStandIn("write") as standin:
        env = claude_env(tmp_path, claude_bin, standin.url)
        r = run(repo, env, "--models", MODEL)
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 0, (r, logs)
    assert res["status"] == "success", (res, logs)
    assert res["exit_code"] == 0
    assert res["error"] is None
    assert res["model"] == MODEL

    # The CLI really talked to the stand-in: two model calls, the second carrying the
    # result of the Write tool, all with our key and the worker's model.
    calls = standin.model_calls()
    assert len(calls) == 2, [(c["method"], c["path"]) for c in standin.requests]
    for call in calls:
        assert call["headers"].get("x-api-key") == API_KEY
        assert call["json"]["model"] == MODEL
        assert call["json"]["stream"] is True
    results = [c for m in calls[1]["json"]["messages"] if isinstance(m.get("content"), list)
               for c in m["content"] if c.get("type") == "tool_result"]
    assert len(results) == 1 and not results[0].get("is_error"), results

    # The file, and nothing else, on the branch; the repository's config untouched.
    worktree = res["worktree_path"]
    # The Write was given the absolute path its schema asks for, in the worktree.
    assert [os.path.realpath(w) for w in standin.writes] == [
        os.path.realpath(os.path.join(worktree, "HELLO.txt"))]
    assert harness.read_bytes(os.path.join(worktree, "HELLO.txt")) == b"hello\n"
    assert res["files_modified"] == ["HELLO.txt"]
    assert harness.committed_files(repo, BRANCH) == ["HELLO.txt"]
    assert res["commit"] == harness.git_out(repo, "rev-parse", BRANCH).strip()
    assert harness.git_out(worktree, "status", "--porcelain", "--ignored") == ""
    assert not os.path.exists(os.path.join(worktree, ".claude"))
    assert harness.read_bytes(os.path.join(repo, ".git", "config")) == config_before
    assert not os.path.exists(os.path.join(env["HOME"], ".gitconfig"))
    # Claude Code keeps its session in the private HOME, not in the worktree.
    assert os.path.isdir(os.path.join(env["HOME"], ".claude", "projects"))

    # Turns, tokens and cost as Claude Code reported them: two calls, each with 100 new
    # input tokens, 20 written to the cache and 30 read from it, and 12 output tokens.
    reported = agent_result(res)
    assert reported["subtype"] == "success" and reported["result"] == FINAL_TEXT
    assert res["steps"] == reported["num_turns"] == 2
    per_call_in = (USAGE["input_tokens"] + USAGE["cache_creation_input_tokens"]
                   + USAGE["cache_read_input_tokens"])
    assert res["tokens_in"] == 2 * per_call_in
    assert res["tokens_out"] == reported["usage"]["output_tokens"] == 2 * USAGE["output_tokens"]
    # Claude Code prices the usage itself, from its own table ($3/$15 per million for
    # Sonnet 4.6, cache writes $3.75, reads $0.30).
    assert res["cost"] == pytest.approx(reported["total_cost_usd"])
    assert res["cost"] == pytest.approx(0.001128)
    assert_no_leftovers(claude_bin)


@pytest.mark.parametrize("status,kind", [(400, "invalid_request_error"),
                                         (401, "authentication_error"),
                                         (500, "api_error")])
def test_model_server_error_is_the_reason(tmp_path, claude_bin, status, kind):
    marker = f"standin-marker-{status}"
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn(error=(status, kind, f"{marker}: the stand-in refuses")) as standin:
        r = run(repo, claude_env(tmp_path, claude_bin, standin.url))
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)
    assert res["status"] == "failed", (res, logs)
    assert marker in (res["error"] or ""), (res, logs)
    assert len(res["error"]) <= 500
    # CLAUDE_CODE_MAX_RETRIES=0: one call, no retry (5xx and 401 are retried otherwise).
    # Later releases (2.1.332) answer a 400 by trying again at once with fewer beta
    # features (6 calls in all, under a second); 2.1.197 makes one.
    calls = standin.model_calls()
    assert len(calls) == 1 or (status == 400 and 1 <= len(calls) <= 10), len(calls)
    reported = agent_result(res)
    assert reported["is_error"] is True and reported["api_error_status"] == status
    assert res["files_modified"] == []
    assert_nothing_committed(repo)
    assert_no_leftovers(claude_bin)


def test_unreachable_model_server(tmp_path, claude_bin):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    repo = harness.make_repo(tmp_path)
    r = run(repo, claude_env(tmp_path, claude_bin, f"http://127.0.0.1:{port}"))
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)
    assert res["status"] == "failed", (res, logs)
    # 2.1.197: "API Error: Unable to connect to API (ConnectionRefused)"; 2.1.332:
    # "API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)".
    assert "API Error" in (res["error"] or "") and "refused" in res["error"].lower(), (res, logs)
    assert res["duration"] < 60  # no retries
    assert_nothing_committed(repo)
    assert_no_leftovers(claude_bin)


def test_turn_limit_is_partial(tmp_path, claude_bin):
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        r = run(repo, claude_env(tmp_path, claude_bin, standin.url), "--max-steps", "1")
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)  # partial is not a success
    assert res["status"] == "partial", (res, logs)
    # --max-turns 1: the Write ran, then Claude Code stopped before asking again.
    assert len(standin.model_calls()) == 1
    reported = agent_result(res)
    assert reported["subtype"] == "error_max_turns"
    assert "maximum number of turns (1)" in (res["error"] or ""), res
    assert res["steps"] == reported["num_turns"]
    assert res["tokens_out"] == USAGE["output_tokens"]
    assert res["cost"] is not None and res["cost"] > 0
    assert res["files_modified"] == ["HELLO.txt"]
    assert harness.committed_files(repo, BRANCH) == ["HELLO.txt"]
    assert_no_leftovers(claude_bin)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root")
@pytest.mark.parametrize("is_sandbox", [None, "true"])
def test_root_without_sandbox_is_refused_before_anything(tmp_path, claude_bin, is_sandbox):
    """As root, Claude Code takes --dangerously-skip-permissions only with IS_SANDBOX=1
    exactly (or CLAUDE_CODE_BUBBLEWRAP); the tool says so before creating anything."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        r = run(repo, claude_env(tmp_path, claude_bin, standin.url, IS_SANDBOX=is_sandbox))
    assert r.code == 2, r
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "IS_SANDBOX" in lines[0], r
    assert standin.requests == []  # Claude Code never started
    assert not os.path.exists(os.path.join(repo, ".architect-parallel-1"))
    assert harness.git_out(repo, "branch", "--list", BRANCH).strip() == ""
    assert len(harness.git_out(repo, "worktree", "list").splitlines()) == 1


# -- continue N TASK: the same worker, its session resumed ------------------------------

FOLLOW_UP = "Now create a file BYE.txt containing the word bye"


def session_files(home):
    """Claude Code's saved conversations: ~/.claude/projects/<cwd, / and . as ->/<id>.jsonl."""
    projects = os.path.join(home, ".claude", "projects")
    return sorted(os.path.join(folder, name) for folder, _, names in os.walk(projects)
                  for name in names if name.endswith(".jsonl"))


def test_continue_resumes_the_session_in_the_same_worktree(tmp_path, claude_bin):
    """``continue 1 TASK`` runs Claude Code again in worker 1's worktree with
    ``--resume <session_id of the first run>``: the model sees the first conversation,
    then the follow-up; the branch gets a second commit with the follow-up's file."""
    repo = harness.make_repo(tmp_path)
    config_before = harness.read_bytes(os.path.join(repo, ".git", "config"))
    with AnthropicStandIn("write") as standin:
        env = claude_env(tmp_path, claude_bin, standin.url)
        first = only_result(run(repo, env, "--models", MODEL))
        assert first["status"] == "success", (first, harness.worker_logs(first))
        session = agent_result(first)["session_id"]
        assert first["session_id"] == session
        assert first.get("continued") in (None, [])
        first_calls = len(standin.model_calls())
        worktree = first["worktree_path"]
        # The conversation is kept in the private HOME, under the worktree's path.
        assert [os.path.basename(p) for p in session_files(env["HOME"])] == [f"{session}.jsonl"]

        r = harness.run_tool(repo, ["continue", "1", FOLLOW_UP], env, timeout=240)
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 0, (r, logs)
    assert res["worker_id"] == 1 and res["branch"] == BRANCH
    assert res["status"] == "success", (res, logs)
    assert res["error"] is None and res["exit_code"] == 0
    assert res["model"] == MODEL
    assert res["worktree_path"] == worktree

    # The follow-up's first request carries the whole first conversation (the prompt,
    # the Write of HELLO.txt and its result, the final text), then the follow-up: the
    # session was resumed, not started afresh. Same key, same model.
    calls = standin.model_calls()[first_calls:]
    assert len(calls) == 2, [(c["method"], c["path"]) for c in standin.requests]
    assert AnthropicStandIn.prompts(calls[0]) == [TASK, FOLLOW_UP]
    history = json.dumps(calls[0]["json"]["messages"])
    assert "HELLO.txt" in history and FINAL_TEXT in history and "tool_result" in history
    for call in calls:
        assert call["headers"].get("x-api-key") == API_KEY
        assert call["json"]["model"] == MODEL
    # One conversation, resumed under the same id (no second session file).
    reported = agent_result(res)
    assert reported["subtype"] == "success" and reported["session_id"] == session
    assert res["session_id"] == session
    assert [os.path.basename(p) for p in session_files(env["HOME"])] == [f"{session}.jsonl"]
    assert res["task"] == TASK  # the first task; the follow-ups are listed in `continued`
    continued = res["continued"]
    assert isinstance(continued, list) and len(continued) == 1, continued
    assert continued[0]["task"] == FOLLOW_UP and continued[0]["resumed"] is True, continued
    assert continued[0]["session_id"] == session and continued[0]["status"] == "success"
    assert continued[0]["commit"] == res["commit"]
    assert continued[0]["cost"] == pytest.approx(reported["total_cost_usd"])

    # The follow-up wrote BYE.txt in the same worktree; it is a second commit on the
    # branch, on top of the first run's.
    assert [os.path.realpath(w) for w in standin.writes] == [
        os.path.realpath(os.path.join(worktree, name)) for name in ("HELLO.txt", "BYE.txt")]
    assert harness.read_bytes(os.path.join(worktree, "BYE.txt")) == b"bye\n"
    assert harness.read_bytes(os.path.join(worktree, "HELLO.txt")) == b"hello\n"
    assert harness.git_out(repo, "rev-list", "--count", f"main..{BRANCH}").strip() == "2"
    assert harness.git_out(repo, "rev-parse", f"{BRANCH}~1").strip() == first["commit"]
    assert res["commit"] == harness.git_out(repo, "rev-parse", BRANCH).strip()
    assert harness.git_out(repo, "diff", "--name-only", f"{BRANCH}~1", BRANCH).split() == [
        "BYE.txt"]
    assert harness.committed_files(repo, BRANCH) == ["BYE.txt", "HELLO.txt"]
    assert res["files_modified"] == ["BYE.txt", "HELLO.txt"]  # against the base commit
    assert res["base_commit"] == first["base_commit"]
    assert harness.git_out(worktree, "status", "--porcelain", "--ignored") == ""
    assert not os.path.exists(os.path.join(worktree, ".claude"))
    assert harness.read_bytes(os.path.join(repo, ".git", "config")) == config_before
    assert not os.path.exists(os.path.join(env["HOME"], ".gitconfig"))

    # Claude Code counts only the resumed process's turns (2) and prices only its calls
    # (and a --max-budget-usd given then counts from zero); the result adds both rounds up.
    assert reported["num_turns"] == 2
    assert reported["total_cost_usd"] == pytest.approx(0.001128)
    assert first["cost"] == pytest.approx(0.001128)
    assert res["steps"] == first["steps"] + 2
    assert res["cost"] == pytest.approx(first["cost"] + reported["total_cost_usd"])
    assert res["tokens_in"] == 2 * first["tokens_in"]
    assert res["tokens_out"] == 2 * first["tokens_out"]
    assert_no_leftovers(claude_bin)


def test_continue_fresh_starts_a_new_session(tmp_path, claude_bin):
    """``continue 1 TASK --fresh``: Claude Code starts a new session in the same worktree
    (no --resume): the model sees only the follow-up, and a second session is saved."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        env = claude_env(tmp_path, claude_bin, standin.url)
        first = only_result(run(repo, env, "--models", MODEL))
        assert first["status"] == "success", (first, harness.worker_logs(first))
        first_calls = len(standin.model_calls())
        r = harness.run_tool(repo, ["continue", "1", FOLLOW_UP, "--fresh"], env, timeout=240)
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 0, (r, logs)
    assert res["status"] == "success", (res, logs)
    calls = standin.model_calls()[first_calls:]
    assert len(calls) == 2
    assert AnthropicStandIn.prompts(calls[0]) == [FOLLOW_UP]
    assert "HELLO.txt" not in json.dumps(calls[0]["json"]["messages"])
    reported = agent_result(res)
    assert reported["session_id"] != first["session_id"]
    assert res["session_id"] == reported["session_id"]
    assert len(session_files(env["HOME"])) == 2
    assert res["continued"][0]["resumed"] is False, res["continued"]
    assert harness.git_out(repo, "diff", "--name-only", f"{BRANCH}~1", BRANCH).split() == [
        "BYE.txt"]
    assert harness.committed_files(repo, BRANCH) == ["BYE.txt", "HELLO.txt"]
    assert_no_leftovers(claude_bin)


def test_continue_with_a_budget_counts_only_the_follow_up(tmp_path, claude_bin):
    """``continue 1 TASK --budget-per-worker 0.001``: ``claude --resume ID ...
    --max-budget-usd 0.001``. The first round already cost $0.001128, but Claude Code
    counts a budget from zero in each process: the follow-up's first call ($0.000564)
    is under it, its second ($0.001128) over it, so the follow-up's work is done and
    Claude Code then stops with its budget error."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        env = claude_env(tmp_path, claude_bin, standin.url)
        first = only_result(run(repo, env, "--models", MODEL))
        assert first["status"] == "success", (first, harness.worker_logs(first))
        first_calls = len(standin.model_calls())
        r = harness.run_tool(repo, ["continue", "1", FOLLOW_UP, "--budget-per-worker", "0.001"],
                             env, timeout=240)
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)
    calls = standin.model_calls()[first_calls:]
    assert len(calls) == 2
    assert AnthropicStandIn.prompts(calls[0]) == [TASK, FOLLOW_UP]  # resumed
    reported = agent_result(res)
    assert reported["subtype"] == "error_max_budget_usd"
    assert reported["errors"] == ["Reached maximum budget ($0.001)"]
    assert reported["session_id"] == first["session_id"] == res["session_id"]
    assert res["status"] in ("partial", "failed"), (res, logs)
    assert "Reached maximum budget ($0.001)" in (res["error"] or ""), res
    assert res["continued"][0]["resumed"] is True
    assert res["cost"] == pytest.approx(first["cost"] + reported["total_cost_usd"])
    assert harness.committed_files(repo, BRANCH) == ["BYE.txt", "HELLO.txt"]
    assert_no_leftovers(claude_bin)


def test_continue_when_the_session_is_gone_says_so(tmp_path, claude_bin):
    """A session Claude Code no longer has (its file removed, another HOME): Claude Code
    exits 1 with "No conversation found with session ID: <id>" on stderr and no JSON;
    the worker fails with that reason and its branch keeps only the first commit."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        env = claude_env(tmp_path, claude_bin, standin.url)
        first = only_result(run(repo, env, "--models", MODEL))
        assert first["status"] == "success", (first, harness.worker_logs(first))
        session = first["session_id"]
        for path in session_files(env["HOME"]):
            os.remove(path)
        first_calls = len(standin.model_calls())
        r = harness.run_tool(repo, ["continue", "1", FOLLOW_UP], env, timeout=240)
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)
    assert res["status"] == "failed", (res, logs)
    assert f"No conversation found with session ID: {session}" in (res["error"] or ""), res
    assert res["exit_code"] == 1
    assert len(standin.model_calls()) == first_calls  # the model was never asked
    assert res["continued"][-1]["task"] == FOLLOW_UP
    assert res["continued"][-1]["resumed"] is True  # it was tried: the error says why not
    assert harness.git_out(repo, "rev-parse", BRANCH).strip() == first["commit"]
    assert harness.committed_files(repo, BRANCH) == ["HELLO.txt"]
    assert not os.path.exists(os.path.join(first["worktree_path"], "BYE.txt"))
    assert_no_leftovers(claude_bin)


# -- budgets: Claude Code's own --max-budget-usd ----------------------------------------

# 100,000 new input tokens per call: $0.30 on Sonnet 4.6 ($3 per million), so a budget
# of $0.5 is crossed by the second call, and one of $0.2 by the first. Claude Code prices
# the usage itself, from its own table (a model it does not know is priced like Opus 4.5:
# $5/$25 per million). Not more: past its 200,000-token context window Claude Code stops
# before the next call with "Prompt is too long" (a success subtype with is_error).
COSTLY = {"input_tokens": 100_000}
COSTLY_CALL = 0.300264  # 100,000 x $3 + 20 x $3.75 + 30 x $0.30 + 12 x $15, per million
COSTLY_IN = 100_000 + 20 + 30


@pytest.mark.parametrize("option", ["--budget-per-worker", "--budget-total"])
def test_budget_stops_claude_and_the_reason_is_its_own(tmp_path, claude_bin, option):
    """The budget reaches Claude Code as ``--max-budget-usd 0.5``. It checks the budget after
    each model call: the first ($0.30) asks for the Write, which runs; the second ($0.60
    in all) ends the task, and Claude Code then reports ``"subtype":
    "error_max_budget_usd"``, ``"is_error": true``, no ``result``, ``"errors": ["Reached
    maximum budget ($0.5)"]``, exit code 1 -- even though the work is done. Its ``usage``
    there misses the last call; ``modelUsage`` has them all."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write", usage=COSTLY) as standin:
        r = run(repo, claude_env(tmp_path, claude_bin, standin.url), "--models", MODEL,
                option, "0.5")
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)  # stopped by its budget is not a success
    assert len(standin.model_calls()) == 2
    reported = agent_result(res)
    assert reported["subtype"] == "error_max_budget_usd" and reported["is_error"] is True
    assert reported["errors"] == ["Reached maximum budget ($0.5)"] and "result" not in reported
    assert reported["total_cost_usd"] == pytest.approx(2 * COSTLY_CALL)
    assert reported["modelUsage"][MODEL]["inputTokens"] == 2 * COSTLY["input_tokens"]
    assert reported["usage"]["input_tokens"] == COSTLY["input_tokens"]  # one call short
    # Stopped by a limit, in Claude Code's words. Like its turn limit (and like
    # architect's budget stop) that is partial work, not a model failure.
    assert res["status"] in ("partial", "failed"), (res, logs)
    assert "Reached maximum budget ($0.5)" in (res["error"] or ""), res
    assert res["steps"] == reported["num_turns"] == 2
    assert res["cost"] == pytest.approx(2 * COSTLY_CALL)
    # The tokens are the truth or unknown, never one call short.
    assert res["tokens_in"] in (None, 2 * COSTLY_IN), res
    assert res["tokens_out"] in (None, 2 * USAGE["output_tokens"]), res
    # What it did before the budget ran out is kept and committed.
    assert harness.read_bytes(os.path.join(res["worktree_path"], "HELLO.txt")) == b"hello\n"
    assert res["files_modified"] == ["HELLO.txt"]
    assert harness.committed_files(repo, BRANCH) == ["HELLO.txt"]
    assert_no_leftovers(claude_bin)


def test_budget_spent_by_the_first_call(tmp_path, claude_bin):
    """``--budget-per-worker 0.2`` and a first call of $0.30: Claude Code stops right after
    it. The Write that call asked for is started (Claude Code runs tools while the answer
    streams in) and cut off: it never makes HELLO.txt, and in a git worktree it often
    leaves its empty temporary file ``HELLO.txt.tmp.<pid>.<hex>`` behind. The result's
    ``usage`` is all zeros there."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write", usage=COSTLY) as standin:
        r = run(repo, claude_env(tmp_path, claude_bin, standin.url), "--models", MODEL,
                "--budget-per-worker", "0.2")
    res = only_result(r)
    logs = harness.worker_logs(res)
    assert r.code == 1, (r, logs)
    assert len(standin.model_calls()) == 1
    reported = agent_result(res)
    assert reported["subtype"] == "error_max_budget_usd"
    assert reported["errors"] == ["Reached maximum budget ($0.2)"]
    assert reported["usage"]["input_tokens"] == 0
    assert res["status"] in ("partial", "failed"), (res, logs)
    assert "Reached maximum budget ($0.2)" in (res["error"] or ""), res
    assert res["steps"] == 1
    assert res["cost"] == pytest.approx(COSTLY_CALL)
    assert res["tokens_in"] in (None, COSTLY_IN), res
    assert res["tokens_out"] in (None, USAGE["output_tokens"]), res
    worktree = res["worktree_path"]
    assert len(standin.writes) == 1 and not os.path.exists(os.path.join(worktree, "HELLO.txt"))
    for name in res["files_modified"]:  # Claude Code's debris, if any: reported as it is
        assert re.fullmatch(r"HELLO\.txt\.tmp\.[0-9]+\.[0-9a-f]+", name), res
        # (empty, or the content Claude Code was writing: where it stood when it stopped)
        assert harness.read_bytes(os.path.join(worktree, name)) in (b"", b"hello\n")
    assert harness.committed_files(repo, BRANCH) == res["files_modified"]
    assert_no_leftovers(claude_bin)


def test_budget_total_starts_no_worker_past_it(tmp_path, claude_bin):
    """Two workers one at a time under ``--budget-total 0.5``: the first is given $0.5,
    spends $0.60 (Claude Code's own figure: it stops after the call that crosses the budget); the
    second never starts."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write", usage=COSTLY) as standin:
        r = harness.run_tool(repo, [TASK, "--agent-cmd", "claude", "--workers", "1",
                                    "--models", f"{MODEL},{MODEL}", "--timeout-per-worker",
                                    "120", "--budget-total", "0.5"],
                             claude_env(tmp_path, claude_bin, standin.url), timeout=240)
    assert r.code == 1, r
    assert len(r.results) == 2, r
    one, two = sorted(r.results, key=lambda x: x["worker_id"])
    assert "Reached maximum budget ($0.5)" in (one["error"] or ""), one
    assert one["cost"] == pytest.approx(2 * COSTLY_CALL)
    assert two["status"] == "skipped", two
    assert "--budget-total" in (two["error"] or ""), two
    assert two["exit_code"] is None
    assert len(standin.model_calls()) == 2  # only worker 1 asked the model
    assert not os.path.exists(os.path.join(repo, ".architect-parallel-2"))
    assert harness.git_out(repo, "branch", "--list", "architect/parallel-2").strip() == ""
    assert_no_leftovers(claude_bin)
