"""The ``aider`` preset against the real aider (pip ``aider-chat``, pinned in harness.PINS)
talking to a stand-in OpenAI chat completions server on 127.0.0.1.

aider is pointed at the stand-in with OPENAI_API_BASE / OPENAI_API_KEY and the model
``openai/gpt-4o`` (aider picks its "diff" edit format for it; its weak model,
gpt-4o-mini, writes the commit message). aider prints no JSON: a model call ends with
``Tokens: N sent, M received. Cost: $X message, $Y session.``; a model error is printed
(``litellm.BadRequestError: ...``) and aider still exits 0.
"""

from __future__ import annotations

import json
import os

import pytest

from harness import processes_in, read_bytes as read
from harness import committed_files, git_out, install, make_repo, private_env, run_tool, \
    worker_logs
from standin_openai_chat import OpenAIChatStandIn, content_text, error, messages_of, text

TASK = "Create a file HELLO.txt containing the word hello"
MODEL = "openai/gpt-4o"
API_KEY = "sk-standin-aider"
# Below 1000 so aider prints them exactly ("1234" would be printed "1.2k").
PROMPT_TOKENS, COMPLETION_TOKENS = 987, 56
# gpt-4o in litellm's bundled price list: $2.50 / M input, $10 / M output.
COST = PROMPT_TOKENS * 2.5e-6 + COMPLETION_TOKENS * 10e-6
# aider's "diff" edit format: an empty SEARCH creates the file.
DIFF_EDIT = "I will create it.\n\nHELLO.txt\n```\n<<<<<<< SEARCH\n=======\nhello\n>>>>>>> REPLACE\n```\n"
# aider's "whole" edit format, in case it asks for that.
WHOLE_EDIT = "I will create it.\n\nHELLO.txt\n```\nhello\n```\n"


@pytest.fixture(scope="module")
def bin_dir():
    return install("aider")


def system_text(body: dict) -> str:
    return "\n".join(content_text(m) for m in messages_of(body) if m.get("role") == "system")


def hello_script(standin, body):
    """The main model answers with an edit creating HELLO.txt, in the format aider's
    system prompt asks for; the weak model's commit-message request gets a message."""
    system = system_text(body)
    if "commit message" in system.lower():
        return text("Add HELLO.txt with hello")
    return text(DIFF_EDIT if "SEARCH/REPLACE" in system else WHOLE_EDIT)


def aider_env(tmp_path, bin_dir, url):
    env = private_env(tmp_path, bin_dir, {"OPENAI_API_BASE": url + "/v1",
                                         "OPENAI_API_KEY": API_KEY})
    # aider downloads litellm's price list from raw.githubusercontent.com unless
    # ~/.aider/caches holds a non-empty copy younger than a day: give it one, so the
    # only traffic is to the stand-in (prices then come from litellm's bundled copy,
    # LITELLM_LOCAL_MODEL_COST_MAP=True).
    caches = os.path.join(env["HOME"], ".aider", "caches")
    os.makedirs(caches, exist_ok=True)
    with open(os.path.join(caches, "model_prices_and_context_window.json"), "w") as f:
        json.dump({"standin-placeholder": {}}, f)
    return env


def run_aider(repo, env, *extra):
    return run_tool(repo, ["--agent-cmd", "aider", "--workers", "1", "--models", MODEL,
                           "--timeout-per-worker", "120", *extra, TASK], env, timeout=240)


def check_success(run, standin, repo, tmp_path):
    assert run.code == 0, run
    assert len(run.results) == 1, run
    result = run.results[0]
    logs = worker_logs(result)
    assert result["status"] == "success", (result, logs)
    assert result["branch"] == "architect/parallel-1"
    assert result["model"] == MODEL
    assert result["error"] in (None, ""), result
    assert result["files_modified"] == ["HELLO.txt"], (result, logs)
    assert committed_files(repo, "architect/parallel-1") == ["HELLO.txt"], logs
    assert git_out(repo, "show", "architect/parallel-1:HELLO.txt") == "hello\n"
    # aider's own report, read from its "Tokens: 987 sent, 56 received. Cost: ..." line.
    assert result["tokens_in"] == PROMPT_TOKENS, result
    assert result["tokens_out"] == COMPLETION_TOKENS, result
    assert result["cost"] == pytest.approx(COST, abs=0.00006), result  # printed to 4 places
    assert result["steps"] is None  # aider has no notion of steps
    # It really talked to the stand-in, as the main model (and the weak one for the
    # commit message), with the key it was given.
    chats = standin.chat_requests
    assert chats and chats[0]["model"] == "gpt-4o", chats
    assert any("SEARCH/REPLACE" in system_text(b) or "```" in system_text(b) for b in chats)
    assert all(r["headers"].get("Authorization") == f"Bearer {API_KEY}"
               for r in standin.requests if r["method"] == "POST")
    stdout = read(result["log_path"]).decode("utf-8", "replace")
    assert "Tokens: 987 sent, 56 received." in stdout, logs
    # The preset's switches: no .gitignore question, no release notes (which would
    # open a browser), no analytics question, no price list download.
    assert "HISTORY.html" not in stdout and "what's new" not in stdout, logs
    assert ".gitignore" not in stdout and "analytics" not in stdout.lower(), logs
    assert "raw.githubusercontent.com" not in stdout, logs
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"
    return result


def test_success_in_repo_with_identity(tmp_path, bin_dir):
    repo = make_repo(tmp_path)
    config = read(os.path.join(repo, ".git", "config"))
    with OpenAIChatStandIn(hello_script, prompt_tokens=PROMPT_TOKENS,
                           completion_tokens=COMPLETION_TOKENS) as standin:
        run = run_aider(repo, aider_env(tmp_path, bin_dir, standin.url))
    result = check_success(run, standin, repo, tmp_path)
    assert read(os.path.join(repo, ".git", "config")) == config
    # Whoever commits on the branch (the runner; aider itself without --no-auto-commits)
    # does so as the repository's user.
    log = git_out(repo, "log", "--format=%an <%ae>|%cn <%ce>", "main..architect/parallel-1")
    assert log.strip() and all(line == "E2E User <e2e@example.com>|E2E User <e2e@example.com>"
                               for line in log.splitlines()), log
    assert result["commit"] == git_out(repo, "rev-parse", "architect/parallel-1").strip(), result
    assert not os.path.exists(os.path.join(repo, "HELLO.txt"))  # main checkout untouched


def test_success_in_repo_without_identity(tmp_path, bin_dir):
    """aider writes user.name "Your Name" / user.email you@example.com into the repository's
    config when git has no identity: the runner must prevent that."""
    repo = make_repo(tmp_path, identity=False)
    config = read(os.path.join(repo, ".git", "config"))
    with OpenAIChatStandIn(hello_script, prompt_tokens=PROMPT_TOKENS,
                           completion_tokens=COMPLETION_TOKENS) as standin:
        run = run_aider(repo, aider_env(tmp_path, bin_dir, standin.url))
    result = check_success(run, standin, repo, tmp_path)
    assert read(os.path.join(repo, ".git", "config")) == config, worker_logs(result)
    log = git_out(repo, "log", "--format=%an <%ae>|%cn <%ce>", "main..architect/parallel-1")
    assert log.strip() and "Your Name" not in log and "you@example.com" not in log, log


@pytest.mark.parametrize("status", [400, 401])
def test_model_error_is_failed_with_its_message(tmp_path, bin_dir, status):
    marker = f"standin-marker-{status}"
    repo = make_repo(tmp_path)
    with OpenAIChatStandIn(lambda s, b: error(status, f"{marker}: the stand-in refuses this "
                                              "request")) as standin:
        run = run_aider(repo, aider_env(tmp_path, bin_dir, standin.url))
    assert run.code == 1, run
    assert len(run.results) == 1, run
    result = run.results[0]
    logs = worker_logs(result)
    assert result["status"] == "failed", (result, logs)
    assert marker in (result["error"] or ""), (result, logs)
    assert len(result["error"]) <= 600, result
    assert result["exit_code"] == 0  # aider exits 0 on a model error
    assert result["files_modified"] == [] and result["tokens_in"] is None, result
    assert committed_files(repo, "architect/parallel-1") == [], logs
    # 4xx errors are not retried: one request.
    assert len(standin.chat_requests) == 1, standin.chat_requests
    assert not processes_in(str(tmp_path)), "processes left running in the test folder"


def test_success_when_only_the_chosen_model_is_served(tmp_path, bin_dir):
    """An OpenAI-compatible server that serves only the model the worker was given (a
    local server, a proxy): aider's weak model (gpt-4o-mini), which writes its commit
    messages, gets a 404. The edit was made, so the worker succeeded; the preset runs
    aider with --no-auto-commits (the runner commits), so the weak model is never asked."""
    repo = make_repo(tmp_path)

    def script(standin, body):
        if body.get("model") != "gpt-4o":
            return error(404, f"standin-marker-404: The model `{body.get('model')}` does not "
                         "exist or you do not have access to it.")
        return hello_script(standin, body)

    with OpenAIChatStandIn(script, prompt_tokens=PROMPT_TOKENS,
                           completion_tokens=COMPLETION_TOKENS) as standin:
        run = run_aider(repo, aider_env(tmp_path, bin_dir, standin.url))
    result = check_success(run, standin, repo, tmp_path)
    assert [c["model"] for c in standin.chat_requests] == ["gpt-4o"], result
