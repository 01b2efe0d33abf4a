"""The ``architect`` preset against the real architect (pip ``architect-ai-cli``, pinned in
harness.PINS) talking to a stand-in OpenAI chat completions server on 127.0.0.1.

The tool's ``--api-base`` reaches architect as ``--api-base``; architect calls litellm,
which picks the provider from the model name (``gpt-4o``: OpenAI) and so reads the key
from OPENAI_API_KEY (architect's own LITELLM_API_KEY is not enough for OpenAI models).
``architect run --json`` prints one JSON object on stdout: status, stop_reason, output,
steps, costs.total_input_tokens / total_output_tokens / total_cost_usd, cost.
"""

from __future__ import annotations

import os

import pytest

from harness import processes_in, read_bytes as read
from harness import committed_files, git_out, install, make_repo, private_env, run_tool, \
    worker_logs
from standin_openai_chat import OpenAIChatStandIn, error, has_tool_result, text, tool_call

TASK = "Create a file HELLO.txt containing the word hello"
MODEL = "gpt-4o"
API_KEY = "sk-standin-architect"
PROMPT_TOKENS, COMPLETION_TOKENS = 1234, 56
# gpt-4o in litellm's bundled price list: $2.50 / M input, $10 / M output.
PRICE_IN, PRICE_OUT = 2.5e-6, 10e-6


@pytest.fixture(scope="module")
def bin_dir():
    return install("architect")


def hello_script(standin, body):
    """First call: write HELLO.txt with architect's write_file tool; once the tool's
    result is in the conversation: a final answer."""
    if has_tool_result(body):
        return text("Created HELLO.txt containing hello.")
    return tool_call("write_file", {"path": "HELLO.txt", "content": "hello\n"})


def busy_script(standin, body):
    """A model that never finishes: it reads README.md again and again (and answers
    in words when called without tools, as architect does for its closing summary)."""
    if not body.get("tools"):
        return text("I ran out of steps while reading README.md.")
    return tool_call("read_file", {"path": "README.md"})


def architect_env(tmp_path, bin_dir):
    # No LITELLM_LOG here: the preset sets LITELLM_LOG=ERROR, without which litellm logs
    # every request and response at DEBUG level on stdout, around the JSON result.
    return private_env(tmp_path, bin_dir, {"OPENAI_API_KEY": API_KEY})


def run_architect(repo, env, url, *extra):
    return run_tool(repo, ["--agent-cmd", "architect", "--workers", "1", "--models", MODEL,
                           "--api-base", url + "/v1", "--timeout-per-worker", "120", *extra,
                           TASK], env, timeout=240)


def authorization(request: dict):
    return {k.lower(): v for k, v in request["headers"].items()}.get("authorization")


def only_result(run):
    assert len(run.results) == 1, run
    return run.results[0]


@pytest.mark.parametrize("identity", [True, False], ids=["identity", "no-identity"])
def test_success(tmp_path, bin_dir, identity):
    repo = make_repo(tmp_path, identity=identity)
    config = read(os.path.join(repo, ".git", "config"))
    with OpenAIChatStandIn(hello_script, prompt_tokens=PROMPT_TOKENS,
                           completion_tokens=COMPLETION_TOKENS) as standin:
        run = run_architect(repo, architect_env(tmp_path, bin_dir), standin.url)
    assert run.code == 0, run
    result = only_result(run)
    logs = worker_logs(result)
    assert result["status"] == "success", (result, logs)
    assert result["error"] in (None, ""), result
    assert result["model"] == MODEL
    assert result["files_modified"] == ["HELLO.txt"], (result, logs)
    # Its session file (.architect/sessions/<id>.json) is bookkeeping, never committed.
    assert committed_files(repo, "architect/parallel-1") == ["HELLO.txt"], logs
    assert git_out(repo, "show", "architect/parallel-1:HELLO.txt") == "hello\n"
    assert result["commit"], result
    # Two model calls (the write, then the answer); architect counts one step.
    calls = standin.chat_requests
    assert len(calls) == 2, calls
    assert result["steps"] == 1, result
    assert result["tokens_in"] == 2 * PROMPT_TOKENS, result
    assert result["tokens_out"] == 2 * COMPLETION_TOKENS, result
    expected = 2 * (PROMPT_TOKENS * PRICE_IN + COMPLETION_TOKENS * PRICE_OUT)
    assert result["cost"] == pytest.approx(expected, rel=1e-3), result
    # It talked to the stand-in, with the key, offering its write_file tool.
    assert all(c["model"] == MODEL for c in calls), calls
    assert "write_file" in [t["function"]["name"] for t in calls[0].get("tools") or []]
    assert all(authorization(r) == f"Bearer {API_KEY}" for r in standin.requests
               if r["method"] == "POST"), standin.requests
    stdout = read(result["log_path"]).decode("utf-8", "replace")
    assert stdout.lstrip().startswith("{"), logs  # the JSON result, no log lines around it
    assert read(os.path.join(repo, ".git", "config")) == config
    assert git_out(repo, "status", "--porcelain") == ""  # main checkout untouched
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"


@pytest.mark.parametrize("status", [400, 401, 500])
def test_model_error_is_failed_with_its_message(tmp_path, bin_dir, status):
    marker = f"standin-marker-{status}"
    repo = make_repo(tmp_path)
    with OpenAIChatStandIn(lambda s, b: error(status, f"{marker}: the stand-in refuses this "
                                              "request")) as standin:
        run = run_architect(repo, architect_env(tmp_path, bin_dir), standin.url)
    assert run.code == 1, run
    result = only_result(run)
    logs = worker_logs(result)
    assert result["status"] == "failed", (result, logs)
    assert marker in (result["error"] or ""), (result, logs)
    assert len(result["error"]) <= 600, result
    assert result["exit_code"] == 1, result
    assert result["files_modified"] == [], result
    assert committed_files(repo, "architect/parallel-1") == [], logs
    # 4xx: one request; 500: retried (3 requests in all), then given up.
    assert len(standin.chat_requests) == (3 if status >= 500 else 1), standin.chat_requests
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"


def test_unreachable_model_server_is_failed(tmp_path, bin_dir):
    repo = make_repo(tmp_path)
    with OpenAIChatStandIn(hello_script) as standin:
        url = standin.url  # closed when the block ends: nothing listens there any more
    run = run_architect(repo, architect_env(tmp_path, bin_dir), url)
    assert run.code == 1, run
    result = only_result(run)
    assert result["status"] == "failed", (result, worker_logs(result))
    assert "Connection error" in (result["error"] or ""), result
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"


def test_step_limit_is_partial(tmp_path, bin_dir):
    repo = make_repo(tmp_path)
    with OpenAIChatStandIn(busy_script, prompt_tokens=PROMPT_TOKENS,
                           completion_tokens=COMPLETION_TOKENS) as standin:
        run = run_architect(repo, architect_env(tmp_path, bin_dir), standin.url,
                            "--max-steps", "2")
    result = only_result(run)
    logs = worker_logs(result)
    assert run.code == 1, run  # no worker succeeded
    assert result["status"] == "partial", (result, logs)
    assert result["exit_code"] == 2, result  # architect's --exit-code-on-partial default
    assert result["steps"] == 2, result
    assert result["error"], result  # its closing words or its stop_reason (max_steps)
    tool_calls = [c for c in standin.chat_requests if c.get("tools")]
    assert len(tool_calls) == 2, standin.chat_requests  # --max-steps 2 reached architect
    # architect's costs count the step calls, not its closing call without tools.
    assert result["tokens_in"] == len(tool_calls) * PROMPT_TOKENS, result
    assert result["tokens_out"] == len(tool_calls) * COMPLETION_TOKENS, result
    assert result["cost"] == pytest.approx(
        len(tool_calls) * (PROMPT_TOKENS * PRICE_IN + COMPLETION_TOKENS * PRICE_OUT), rel=1e-3)
    assert result["files_modified"] == [], result
    assert committed_files(repo, "architect/parallel-1") == [], logs
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"
