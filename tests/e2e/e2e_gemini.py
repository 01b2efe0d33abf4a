"""The ``gemini`` preset against the real Gemini CLI (npm @google/gemini-cli, pinned in
harness.PINS) talking to a stand-in Gemini API on 127.0.0.1 (standin_gemini.py).

What the test gives the CLI is what a user would have set up once:

* ``GEMINI_API_KEY`` and ``GOOGLE_GEMINI_BASE_URL`` (the base URL the bundled
  @google/genai SDK and the CLI's content generator read);
* ``~/.gemini/settings.json`` with ``security.auth.selectedType = "gemini-api-key"``:
  without it, ``GOOGLE_GEMINI_BASE_URL`` makes the CLI pick its "gateway" auth type,
  which headless mode refuses ("Invalid auth method selected.", exit 41);
  and ``privacy.usageStatisticsEnabled = false``.

What it does NOT give is folder trust: every worktree is a new folder the CLI has never
been told to trust, and headless runs in an untrusted folder exit 55 before any model
call. Trusting the worker's folder is the preset's job (GEMINI_CLI_TRUST_WORKSPACE=true
in the agent's environment, or --skip-trust).
"""

from __future__ import annotations

import json
import os
import socket

import pytest

import harness
from harness import committed_files, install, make_repo, private_env, run_tool, worker_logs
from standin_gemini import FINAL_TEXT, OUTPUT_TOKENS, PROMPT_TOKENS, GeminiStandIn

TASK = "Create a file HELLO.txt containing the word hello"
MODEL = "gemini-2.5-flash"  # named, so the CLI skips its model router


@pytest.fixture(scope="module")
def gemini_bin():
    return install("gemini")


def _setup(tmp_path, gemini_bin, standin, settings=None):
    env = private_env(tmp_path, gemini_bin, {
        "GEMINI_API_KEY": "standin-key",
        "GOOGLE_GEMINI_BASE_URL": standin.url,
    })
    # Usage statistics off: otherwise the CLI looks up play.googleapis.com (its Clearcut
    # logger), whatever GEMINI_TELEMETRY_ENABLED says.
    config = {"security": {"auth": {"selectedType": "gemini-api-key"}},
              "privacy": {"usageStatisticsEnabled": False}}
    for key, value in (settings or {}).items():
        config.setdefault(key, {}).update(value)
    os.makedirs(os.path.join(env["HOME"], ".gemini"), exist_ok=True)
    with open(os.path.join(env["HOME"], ".gemini", "settings.json"), "w") as f:
        json.dump(config, f)
    repo = make_repo(tmp_path)
    return env, repo


def _run(repo, env, *extra):
    return run_tool(repo, ["--agent-cmd", "gemini", "--task", TASK, "--workers", "1",
                           "--models", MODEL, "--timeout-per-worker", "120", *extra], env)


def _leftovers(env, wait=10.0):
    """Processes started with this test's private HOME (the CLI relaunches itself as a
    child node process; its command line names no test folder)."""
    return harness.processes_with_home(env["HOME"], wait)


def _only(run):
    assert len(run.results) == 1, run
    return run.results[0]


def test_success_creates_only_hello(tmp_path, gemini_bin):
    with GeminiStandIn(mode="success") as standin:
        env, repo = _setup(tmp_path, gemini_bin, standin)
        config_before = harness.read_bytes(os.path.join(repo, ".git", "config"))
        run = _run(repo, env)
        result = _only(run)
        logs = worker_logs(result)
        assert run.code == 0, (run, logs)
        assert result["status"] == "success", (result, logs)
        # The CLI really talked to the stand-in: the write-file call, then its result.
        turns = standin.agent_turns()
        assert len(turns) == 2, [r["path"] for r in standin.requests]
        assert all(f"/models/{MODEL}:" in r["path"] for r in turns)
        assert all(r["headers"].get("x-goog-api-key") == "standin-key" for r in turns)
        assert [name for name, _ in standin.tool_calls] == ["write_file"]
        assert "functionResponse" in json.dumps(turns[1]["json"]["contents"][-1])
    assert result["files_modified"] == ["HELLO.txt"], (result, logs)
    assert committed_files(repo, "architect/parallel-1") == ["HELLO.txt"]
    with open(os.path.join(result["worktree_path"], "HELLO.txt")) as f:
        assert "hello" in f.read()
    assert harness.read_bytes(os.path.join(repo, ".git", "config")) == config_before
    # What the CLI reports: one tool call; the prompt and output tokens of its two turns.
    assert result["steps"] == 1, (result, logs)
    assert result["tokens_in"] == 2 * PROMPT_TOKENS, (result, logs)
    assert result["tokens_out"] == 2 * OUTPUT_TOKENS, (result, logs)
    assert result["cost"] is None  # Gemini CLI reports no cost
    assert not result.get("error"), result
    assert result["model"] == MODEL
    with open(result["log_path"], encoding="utf-8") as f:  # the model's final words
        assert FINAL_TEXT[10:] in f.read()  # (split in two stream chunks by the stand-in)
    assert _leftovers(env) == []


@pytest.mark.parametrize("status", [400, 500])
def test_model_http_error_is_failed_with_its_message(tmp_path, gemini_bin, status):
    marker = f"standin-marker-{status}"
    # The CLI retries a 5xx up to general.maxAttempts times (default 10, with 5-30 s
    # back-off, several minutes); two attempts keep the test short.
    settings = {"general": {"maxAttempts": 2}} if status >= 500 else None
    with GeminiStandIn(mode="error", status=status, marker=marker) as standin:
        env, repo = _setup(tmp_path, gemini_bin, standin, settings)
        config_before = harness.read_bytes(os.path.join(repo, ".git", "config"))
        run = _run(repo, env)
        result = _only(run)
        logs = worker_logs(result)
        calls = standin.model_calls()
        assert calls, ("the CLI never reached the stand-in", run, logs)
        assert len(calls) == (1 if status < 500 else 2), [r["path"] for r in calls]
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", (result, logs)
    assert marker in (result.get("error") or ""), (result, logs)
    assert len(result["error"]) <= 500, result["error"]
    assert result["files_modified"] == []
    assert committed_files(repo, "architect/parallel-1") == []
    assert harness.read_bytes(os.path.join(repo, ".git", "config")) == config_before
    assert _leftovers(env) == []


def test_unreachable_model_server_is_failed(tmp_path, gemini_bin):
    # Nothing listens on the port: the CLI's fetch fails ("fetch failed sending request",
    # exit 1). It retries that too, up to general.maxAttempts (default 10: ~3.5 minutes).
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with GeminiStandIn(mode="success") as standin:
        env, repo = _setup(tmp_path, gemini_bin, standin, {"general": {"maxAttempts": 1}})
    env["GOOGLE_GEMINI_BASE_URL"] = closed
    run = _run(repo, env)
    result = _only(run)
    logs = worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", (result, logs)
    assert result["exit_code"] == 1, (result, logs)
    assert "fetch failed" in (result.get("error") or ""), (result, logs)
    assert committed_files(repo, "architect/parallel-1") == []
    assert _leftovers(env) == []


def test_turn_limit_is_partial(tmp_path, gemini_bin):
    # Gemini CLI has no turn-limit flag; model.maxSessionTurns in settings.json is its
    # limit. The stand-in keeps calling a read-only tool, so only the limit stops it.
    with GeminiStandIn(mode="loop") as standin:
        env, repo = _setup(tmp_path, gemini_bin, standin, {"model": {"maxSessionTurns": 3}})
        run = _run(repo, env)
        result = _only(run)
        logs = worker_logs(result)
        assert len(standin.agent_turns()) == 3, [r["path"] for r in standin.requests]
    assert result["status"] == "partial", (result, logs)
    assert result["exit_code"] == 53, (result, logs)
    assert "max session turns" in (result.get("error") or "").lower(), (result, logs)
    # Steps and tokens of the turns run: only `--output-format stream-json` reports them
    # here (its final "result" event has stats); `--output-format json` prints no stats
    # on a fatal error, the turn limit included.
    assert result["steps"] == 3, (result, logs)
    assert result["tokens_in"] == 3 * PROMPT_TOKENS, (result, logs)
    assert result["tokens_out"] == 3 * OUTPUT_TOKENS, (result, logs)
    assert result["files_modified"] == []
    assert _leftovers(env) == []
