"""The ``codex`` preset against the real Codex CLI (npm ``@openai/codex``, pinned in harness.PINS)
talking to a stand-in for the OpenAI Responses API on 127.0.0.1.

Codex is pointed at the stand-in the way a user points it at any OpenAI-compatible
endpoint: ``$HOME/.codex/config.toml`` (the default CODEX_HOME, in the test's private
HOME) names a ``model_providers`` entry with ``base_url``, ``wire_api = "responses"`` and
``env_key``; 0.171.0 ignores OPENAI_BASE_URL for the model (it went to api.openai.com).
Retries are bounded there too (``request_max_retries``, ``stream_max_retries`` and the
feature ``unbounded_connection_retries = false``): by default an unreachable endpoint
makes Codex print "Reconnecting... waiting for network" forever.
"""

from __future__ import annotations

import json
import os
import shutil
import socket

import pytest

import harness
from standin_openai_responses import (FINAL_TEXT, FOLLOWUP_FILE, FOLLOWUP_TASK, FOLLOWUP_TEXT,
                                      HELLO_CMD, USAGE, OpenAIResponsesStandIn, marker)

TASK = "Create a file HELLO.txt containing the word hello"
MODEL = "standin-model"
KEY_VAR = "STANDIN_OPENAI_KEY"
KEY = "sk-standin-codex-e2e"
TIMEOUT = "120"


@pytest.fixture(scope="module")
def codex_bin():
    return harness.install("codex")


def write_config(home: str, base_url: str, request_max_retries: int = 0,
                 stream_max_retries: int = 0, stream_idle_timeout_ms: int = 10000,
                 bounded: bool = True) -> str:
    """``$HOME/.codex/config.toml``: the stand-in as the model provider, retries bounded
    (``bounded=False`` leaves that to the preset's own ``-c`` option)."""
    folder = os.path.join(home, ".codex")
    os.makedirs(folder, exist_ok=True)
    text = (f'model = "{MODEL}"\n'
            'model_provider = "standin"\n'
            '\n'
            + ('[features]\n'
               'unbounded_connection_retries = false\n'
               '\n' if bounded else '') +
            '[model_providers.standin]\n'
            'name = "Stand-in"\n'
            f'base_url = "{base_url}"\n'
            'wire_api = "responses"\n'
            f'env_key = "{KEY_VAR}"\n'
            f'request_max_retries = {request_max_retries}\n'
            f'stream_max_retries = {stream_max_retries}\n'
            f'stream_idle_timeout_ms = {stream_idle_timeout_ms}\n'
            'supports_websockets = false\n')
    path = os.path.join(folder, "config.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


class World:
    """A repository, a private HOME with Codex's config, and the tool's command line."""

    def __init__(self, tmp_path, codex_bin: str, base_url: str, **config):
        self.tmp = str(tmp_path)
        self.repo = harness.make_repo(tmp_path)
        self.git_config = harness.read_bytes(os.path.join(self.repo, ".git", "config"))
        self.env = harness.private_env(tmp_path, codex_bin, {KEY_VAR: KEY})
        write_config(self.env["HOME"], base_url, **config)

    def run(self, *extra: str, timeout: str = TIMEOUT, workers: int = 1,
            model: str = MODEL) -> harness.ToolRun:
        args = ["run", "--agent-cmd", "codex", "--workers", str(workers),
                "--models", ",".join([model] * workers), "--timeout-per-worker", timeout,
                "--progress", "none", *extra, TASK]
        return harness.run_tool(self.repo, args, self.env, timeout=float(timeout) + 60)

    def one(self, run: harness.ToolRun) -> dict:
        """The only worker's result."""
        assert len(run.results) == 1, run
        return run.results[0]

    def unchanged(self) -> None:
        assert harness.read_bytes(os.path.join(self.repo, ".git", "config")) == self.git_config
        assert not harness.processes_in(self.tmp), "processes left behind"


def events(result: dict) -> list:
    with open(result["log_path"], "rb") as f:
        return [json.loads(line) for line in f if line.strip().startswith(b"{")]


def item_types(result: dict) -> list:
    return [e["item"]["type"] for e in events(result) if e.get("type") == "item.completed"]


def branch_file(repo: str, branch: str, path: str) -> str:
    return harness.git_out(repo, "show", f"{branch}:{path}")


def thread_ids(result: dict) -> list:
    """The session ids Codex announced (``thread.started``) in the worker's log."""
    return [e.get("thread_id") for e in events(result) if e.get("type") == "thread.started"]


# -- success ------------------------------------------------------------------

@pytest.mark.parametrize("scenario,action", [("hello", "command_execution"),
                                             ("hello_patch", "file_change")])
def test_hello(tmp_path, codex_bin, scenario, action):
    """The model runs one shell command (or apply_patch) that writes HELLO.txt, then answers."""
    with OpenAIResponsesStandIn(scenario) as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        run = world.run()
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 0, (run, logs)
    assert result["status"] == "success", logs
    assert result["files_modified"] == ["HELLO.txt"], logs
    assert harness.committed_files(world.repo, result["branch"]) == ["HELLO.txt"]
    assert branch_file(world.repo, result["branch"], "HELLO.txt") == "hello\n"
    assert result["branch"] == "architect/parallel-1" and result["model"] == MODEL
    assert result["exit_code"] == 0
    # Codex really talked to the stand-in: two model calls, the task, the model, the key.
    posts = standin.model_requests()
    assert len(posts) == 2
    assert all(p["json"]["model"] == MODEL and p["json"]["stream"] is True for p in posts)
    assert all({k.lower(): v for k, v in p["headers"].items()}.get("authorization")
               == f"Bearer {KEY}" for p in posts)
    assert any(TASK in text for text in standin.user_texts(posts[0]))
    assert len(standin.tool_outputs(posts[1])) == 1
    # One action (a step); the agent message and Codex's notices are not steps.
    types = item_types(result)
    assert types.count(action) == 1 and "agent_message" in types, types
    assert result["steps"] == 1
    # turn.completed.usage adds up both model calls (input_tokens includes the cached part).
    assert result["tokens_in"] == 2 * USAGE["input_tokens"]
    assert result["tokens_out"] == 2 * USAGE["output_tokens"]
    assert result["cost"] is None  # Codex reports no cost
    assert not result["error"]
    assert FINAL_TEXT in harness.read_bytes(result["log_path"]).decode()
    # Codex left nothing of its own in the worktree, not even ignored files.
    assert harness.git_out(result["worktree_path"], "status", "--porcelain", "--ignored",
                           "--untracked-files=all") == ""
    world.unchanged()


def test_three_workers_share_one_codex_home(tmp_path, codex_bin):
    """Three Codex processes at once, one ~/.codex (its SQLite state): each works in its
    own worktree (the cwd Codex reports to the model) and commits only HELLO.txt."""
    with OpenAIResponsesStandIn("hello") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        run = world.run(workers=3)
    assert run.code == 0, run
    assert sorted(r["worker_id"] for r in run.results) == [1, 2, 3], run
    firsts = [p for p in standin.model_requests() if not standin.tool_outputs(p)]
    assert len(standin.model_requests()) == 6 and len(firsts) == 3
    for result in run.results:
        assert result["status"] == "success", harness.worker_logs(result)
        assert result["files_modified"] == ["HELLO.txt"] and result["steps"] == 1
        assert harness.committed_files(world.repo, result["branch"]) == ["HELLO.txt"]
        cwd = f"<cwd>{result['worktree_path']}</cwd>"
        assert sum(cwd in text for p in firsts for text in standin.user_texts(p)) == 1, cwd
    world.unchanged()


def test_transient_500_then_success(tmp_path, codex_bin):
    """A 500 retried by Codex ("Reconnecting... 1/2" as an ``error`` event) and then a
    completed turn: the worker succeeded, the notice is not a failure."""
    with OpenAIResponsesStandIn("flaky500") as standin:
        world = World(tmp_path, codex_bin, standin.base_url, stream_max_retries=2)
        run = world.run()
    result = world.one(run)
    logs = harness.worker_logs(result)
    notices = [e["message"] for e in events(result) if e.get("type") == "error"]
    assert any(n.startswith("Reconnecting... 1/2") for n in notices), logs
    assert run.code == 0, (run, logs)
    assert result["status"] == "success", logs
    assert result["files_modified"] == ["HELLO.txt"]
    assert harness.committed_files(world.repo, result["branch"]) == ["HELLO.txt"]
    assert len(standin.model_requests()) == 3
    assert result["steps"] == 1
    assert not result["error"]
    world.unchanged()


# -- model errors -------------------------------------------------------------

@pytest.mark.parametrize("status", [400, 401, 503])
def test_model_error_reason(tmp_path, codex_bin, status):
    """An HTTP error whose message Codex passes on: the worker failed, and its error is the
    server's own message (400: the error JSON as Codex prints it; 401/503: 'unexpected status')."""
    with OpenAIResponsesStandIn(f"error{status}") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        run = world.run()
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", logs
    assert marker(status) in (result["error"] or ""), (result["error"], logs)
    assert len(result["error"]) <= 600 and "\n" not in result["error"]
    assert standin.model_requests(), "Codex never called the stand-in"
    assert result["files_modified"] == []
    assert result["steps"] in (0, None)
    world.unchanged()


def test_model_error_500_after_bounded_retries(tmp_path, codex_bin):
    """HTTP 500 on every call: Codex retries (here 1 request retry x 2 stream retries = 6 calls,
    with two "Reconnecting" notices), then fails with its OWN text: Codex 0.171.0 replaces a
    500's body with "We're currently experiencing high demand, ..." (the stand-in's message
    is not in its output), so that is what the worker's error holds."""
    with OpenAIResponsesStandIn("error500") as standin:
        world = World(tmp_path, codex_bin, standin.base_url, request_max_retries=1,
                      stream_max_retries=2)
        run = world.run()
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", logs
    assert "high demand" in (result["error"] or ""), (result["error"], logs)
    assert "Reconnecting" not in result["error"]
    assert len(standin.model_requests()) == 6
    world.unchanged()


def test_stream_response_failed(tmp_path, codex_bin):
    """HTTP 200 whose event stream ends in ``response.failed``: failed, with its message."""
    with OpenAIResponsesStandIn("failed_stream") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        run = world.run()
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", logs
    assert marker("failed") in (result["error"] or ""), (result["error"], logs)
    assert len(standin.model_requests()) == 1
    world.unchanged()


def test_unreachable_endpoint(tmp_path, codex_bin):
    """Nothing listens at the base URL: with the retries bounded in config.toml Codex gives
    up at once ("Connection failed: error sending request") and the worker failed."""
    with socket.socket() as sock:  # a port that was free a moment ago
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    world = World(tmp_path, codex_bin, f"http://127.0.0.1:{port}/v1")
    run = world.run(timeout="60")
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", logs
    assert "Connection failed" in (result["error"] or ""), (result["error"], logs)
    assert result["duration"] < 30
    world.unchanged()


def test_the_preset_bounds_retries_to_an_unreachable_endpoint(tmp_path, codex_bin):
    """Left to its defaults Codex 0.171.0 never gives up on an unreachable endpoint
    ("Reconnecting... waiting for network" every few seconds, even with both retry counts
    at 0). The preset passes ``-c features.unbounded_connection_retries=false``, so even
    with nothing about it in config.toml the worker fails, saying why, well before its
    timeout."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    world = World(tmp_path, codex_bin, f"http://127.0.0.1:{port}/v1", bounded=False)
    run = world.run(timeout="60")
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert result["status"] == "failed", (run, logs)
    assert "Connection failed" in (result["error"] or ""), (result["error"], logs)
    assert result["duration"] < 30
    assert run.code == 1
    world.unchanged()


# -- no turn limit ---------------------------------------------------------------

def test_no_turn_limit_runs_until_timeout(tmp_path, codex_bin):
    """Codex exec has no turn/step limit (--max-steps cannot be passed on): a model that
    keeps calling tools is stopped by the runner's deadline, and Codex's whole process tree
    (the npm launcher and the native binary under it) goes with it."""
    with OpenAIResponsesStandIn("loop") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        run = world.run("--max-steps", "2", timeout="8")
        calls = len(standin.model_requests())
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert result["status"] == "timeout", (run, logs)
    assert calls > 3, "the loop did not get going"  # far past --max-steps 2
    assert run.code == 1
    world.unchanged()


# -- continue: a follow-up task resumes the session ------------------------------

def test_continue_resumes_the_session(tmp_path, codex_bin):
    """``continue 1 TASK`` after a successful run resumes worker 1's Codex session (the
    ``thread_id`` of its ``thread.started``) in the same worktree, on the same branch, with the
    same model and sandbox: the follow-up's requests carry the first turn (task, tool call,
    answer) before the new task; the follow-up's file is the branch's second commit; the
    result says it resumed.

    What Codex 0.171.0 needs for that (proven by hand against this stand-in):
    ``codex exec --json --sandbox workspace-write --skip-git-repo-check -c
    features.unbounded_connection_retries=false --model M resume SESSION_ID -- TASK``
    (``exec``'s options hold for ``resume``; ``resume --help`` lists no ``--sandbox``, and
    without one the resumed turn is READ-ONLY, "Read-only file system", yet exit 0 and
    ``turn.completed``); without ``--model`` it resumes with config.toml's model, not the
    session's. The model here is not config.toml's, so the follow-up proves both."""
    model = "standin-model-b"
    with OpenAIResponsesStandIn("hello") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        first_run = world.run(model=model)
        first = world.one(first_run)
        assert first_run.code == 0 and first["status"] == "success", (
            first_run, harness.worker_logs(first))
        session = thread_ids(first)
        assert len(session) == 1 and session[0], harness.worker_logs(first)
        assert first.get("session_id") == session[0], first
        before = len(standin.model_requests())
        run = harness.run_tool(world.repo, ["continue", "1", FOLLOWUP_TASK], world.env,
                               timeout=float(TIMEOUT) + 60)
        posts = standin.model_requests()[before:]
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 0, (run, logs)
    assert result["worker_id"] == 1 and result["branch"] == first["branch"], result
    assert result["worktree_path"] == first["worktree_path"] and result["model"] == model
    assert result["status"] == "success", logs
    assert not result["error"], logs
    # The result says it resumed that session.
    assert result.get("session_id") == session[0], result
    continued = [{k: c.get(k) for k in ("task", "resumed")} for c in result.get("continued") or []]
    assert continued == [{"task": FOLLOWUP_TASK, "resumed": True}], result.get("continued")
    # Codex resumed it (the same thread id), it did not start a new one.
    assert thread_ids(result) == session, logs
    # The stand-in saw the earlier conversation before the follow-up: one new turn of two
    # model calls, each sending back the first task, its tool call and result, and its answer.
    assert len(posts) == 2, [standin.turn_task(p) for p in posts]
    for post in posts:
        assert FOLLOWUP_FILE in standin.turn_task(post), standin.turn_task(post)
        assert any(TASK in text for text in standin.user_texts(post))
        assert FINAL_TEXT in standin.assistant_texts(post)
        assert [json.loads(args)["cmd"] for name, args in standin.function_calls(post)
                if name == "exec_command"][0] == HELLO_CMD
        assert post["json"]["model"] == model  # the worker's model, passed again
        assert post["json"].get("previous_response_id") is None  # history sent in full
    assert len(standin.tool_outputs(posts[0])) == 1  # the first turn's
    assert not standin.turn_tool_outputs(posts[0]) and len(standin.turn_tool_outputs(posts[1])) == 1
    # It ran in worker 1's worktree (a <cwd> Codex announces is always that one)...
    cwds = {text[text.find("<cwd>"):text.find("</cwd>") + 6]
            for post in posts for text in standin.user_texts(post) if "<cwd>" in text}
    assert cwds == {f"<cwd>{first['worktree_path']}</cwd>"}, cwds
    # ...with write access to it (not the read-only sandbox a bare ``resume`` falls back to).
    output = standin.turn_tool_outputs(posts[1])[0].get("output") or ""
    assert "Read-only file system" not in str(output), ("resumed without the sandbox", output)
    assert FOLLOWUP_TEXT in harness.read_bytes(result["log_path"]).decode()
    # The branch: the first run's commit, then the follow-up's, holding only NEXT.txt.
    branch = result["branch"]
    commits = harness.git_out(world.repo, "rev-list", f"main..{branch}").split()
    assert len(commits) == 2, harness.git_out(world.repo, "log", "--stat", f"main..{branch}")
    assert harness.git_out(world.repo, "show", "--name-only", "--format=",
                           commits[0]).split() == [FOLLOWUP_FILE]
    assert harness.committed_files(world.repo, branch) == sorted(["HELLO.txt", FOLLOWUP_FILE])
    assert branch_file(world.repo, branch, FOLLOWUP_FILE) == "next\n"
    assert branch_file(world.repo, branch, "HELLO.txt") == "hello\n"
    assert FOLLOWUP_FILE in (result["files_modified"] or []), result["files_modified"]
    # Codex's turn.completed.usage on a resumed session is the SESSION's total (here 4 calls),
    # not the follow-up's: the first run's tokens must not be counted twice.
    assert result["tokens_in"] in (2 * USAGE["input_tokens"], 4 * USAGE["input_tokens"]), result
    assert result["tokens_out"] in (2 * USAGE["output_tokens"], 4 * USAGE["output_tokens"])
    assert harness.git_out(result["worktree_path"], "status", "--porcelain", "--ignored",
                           "--untracked-files=all") == ""
    world.unchanged()


def test_continue_when_codex_lost_the_session(tmp_path, codex_bin):
    """The session is gone from CODEX_HOME (another HOME, ~/.codex wiped): Codex 0.171.0
    exits 1 without a JSON event, saying on stderr "Error: thread/resume: thread/resume
    failed: no rollout found for thread id ID (code -32600)" followed by a Rust "Stack
    backtrace:" of "N: <unknown>" frames. The follow-up failed, its reason is Codex's own
    line (not a backtrace frame), nothing is committed, the model was not called again."""
    with OpenAIResponsesStandIn("hello") as standin:
        world = World(tmp_path, codex_bin, standin.base_url)
        first = world.one(world.run())
        assert first["status"] == "success", harness.worker_logs(first)
        codex_home = os.path.join(world.env["HOME"], ".codex")
        for name in os.listdir(codex_home):  # sessions/ and the SQLite history: both hold it
            if name != "config.toml":
                path = os.path.join(codex_home, name)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        before = len(standin.model_requests())
        run = harness.run_tool(world.repo, ["continue", "1", FOLLOWUP_TASK], world.env,
                               timeout=float(TIMEOUT) + 60)
        calls = len(standin.model_requests()) - before
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", logs
    assert "no rollout found" in (result["error"] or ""), (result["error"], logs)
    assert [c.get("resumed") for c in result.get("continued") or []] == [True]
    assert calls == 0
    assert harness.git_out(world.repo, "rev-list", "--count", f"main..{result['branch']}"
                           ).strip() == "1"
    world.unchanged()
