"""``--sandbox bwrap`` with each preset's real CLI against its stand-in (see the README's
"Sandbox"): the same success case as the preset's own e2e file, and one model error, run
in bubblewrap.

What each test asserts beyond the preset's own file:

* ``"sandbox": "bwrap"`` in the result;
* the main checkout's files, the git folder's ``config`` and ``hooks/`` are unchanged;
* nothing in the private HOME changed but the CLI's session files, which the runner brings
  back out of the worker's private HOME (Claude Code's ``~/.claude/projects/<worktree>/``,
  Codex's ``~/.codex/sessions/.../rollout-*-<session>.jsonl``): everything else a CLI
  writes there (settings, caches, logs, ``~/.claude.json``) is thrown away, and the CLI
  still works (without a writable state folder Codex and Gemini CLI fail at start); the
  runner's private folders are gone;
* no process is left: none started with the test's HOME, none working in or naming the
  test's folder (the ``bwrap`` processes name it on their command line).

Claude Code as root runs WITHOUT ``IS_SANDBOX=1`` here: inside the sandbox it is uid 1000,
so the runner does not refuse it. Codex runs with ``--sandbox danger-full-access`` (its own
workspace-write sandbox cannot nest in bubblewrap): its session file records the policy
it was given, and the model is told its filesystem is unrestricted.

Skipped where bubblewrap cannot make a sandbox (not installed, user namespaces refused).
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shutil
import sys

import pytest

import e2e_aider
import e2e_architect
import e2e_claude
import e2e_codex
import e2e_gemini
import harness
from standin_anthropic import AnthropicStandIn
from standin_gemini import GeminiStandIn
from standin_openai_chat import OpenAIChatStandIn, error
from standin_openai_responses import OpenAIResponsesStandIn, marker

BRANCH = "architect/parallel-1"
SANDBOX = ("--sandbox", "bwrap")


def _bwrap_problem():
    """Why bubblewrap cannot make a sandbox here, or None (as the runner probes it)."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    import architect_parallel
    exe = shutil.which("bwrap")
    if not exe:
        return "bwrap is not on PATH"
    return architect_parallel._Sandbox(exe, shutil.which("nsenter")).probe()


_PROBLEM = _bwrap_problem()
pytestmark = pytest.mark.skipif(_PROBLEM is not None, reason=str(_PROBLEM))


# -- what must not change ---------------------------------------------------------------

def tree(folder: str, skip=()) -> dict:
    """Every file, link and folder under ``folder`` (not under ``skip``, absolute paths):
    relative path -> what it is and holds."""
    found = {}
    skip = tuple(os.path.realpath(s).rstrip(os.sep) for s in skip)
    for top, dirs, files in os.walk(folder):
        real_top = os.path.realpath(top)
        dirs[:] = sorted(d for d in dirs if os.path.join(real_top, d) not in skip)
        rel_top = os.path.relpath(top, folder)
        if rel_top != ".":
            found[rel_top] = "dir"
        for name in files:
            path = os.path.join(top, name)
            if os.path.realpath(path) in skip:
                continue
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                found[rel] = "link " + os.readlink(path)
            else:
                with open(path, "rb") as f:
                    found[rel] = hashlib.sha256(f.read()).hexdigest()
    return found


def changes(before: dict, after: dict) -> dict:
    return {path: (before.get(path), after.get(path))
            for path in sorted(set(before) | set(after)) if before.get(path) != after.get(path)}


class Guard:
    """What a sandboxed worker must leave alone, recorded before the run: the main checkout
    (its files, the git folder's config and hooks) and the private HOME. Of HOME, only the
    CLI's session files may change, under ``sessions`` (relative to HOME): the runner brings
    them back out of the worker's private HOME for continue; everything else the CLI wrote
    there (its caches, logs, settings, credentials) is thrown away."""

    def __init__(self, tmp_path, repo: str, home: str, sessions: list):
        self.tmp, self.repo, self.home = str(tmp_path), repo, home
        self.sessions = [os.path.join(home, s) for s in sessions]
        self.checkout = self._checkout()
        self.git = self._git()
        self.home_files = tree(home)

    def _checkout(self) -> dict:
        worktrees = glob.glob(os.path.join(self.repo, ".architect-parallel-*"))
        return tree(self.repo, [os.path.join(self.repo, ".git")] + worktrees)

    def _git(self) -> dict:
        git = os.path.join(self.repo, ".git")
        return {"config": harness.read_bytes(os.path.join(git, "config")),
                "hooks": tree(os.path.join(git, "hooks"))}

    def brought_back(self) -> list:
        """The session files that came back into HOME."""
        return sorted(path for path, what in changes(self.home_files, tree(self.home)).items()
                      if what[1] not in (None, "dir"))

    def check(self, result: dict) -> None:
        logs = harness.worker_logs(result)
        assert result["sandbox"] == "bwrap", result
        assert changes(self.checkout, self._checkout()) == {}, logs
        assert harness.git_out(self.repo, "status", "--porcelain") == ""
        assert self._git() == self.git, logs
        changed = changes(self.home_files, tree(self.home))
        outside = {path: what for path, what in changed.items()
                   if not any((os.path.join(self.home, path) + os.sep).startswith(s + os.sep)
                              or (what == (None, "dir") and s.startswith(
                                  os.path.join(self.home, path) + os.sep))
                              for s in self.sessions)
                   or what[0] is not None}  # a session file is new, never rewritten
        assert outside == {}, (outside, logs)
        # The runner's private folders for the run (made in the runner's TMPDIR) are gone.
        assert glob.glob(os.path.join(self.home, "tmp", "architect-parallel-*")) == []
        assert harness.processes_with_home(self.home) == [], "processes left behind"
        assert harness.processes_in(self.tmp) == [], "processes left behind"
        assert harness.no_leftovers(self.tmp) == [], "processes left behind (bwrap?)"


def only(run: harness.ToolRun) -> dict:
    assert len(run.results) == 1, run
    return run.results[0]


def assert_hello(run: harness.ToolRun, repo: str) -> dict:
    """The success case: exit 0, status success, HELLO.txt (hello) alone on the branch."""
    result = only(run)
    logs = harness.worker_logs(result)
    assert run.code == 0, (run, logs)
    assert result["status"] == "success", (result, logs)
    assert not result["error"], (result, logs)
    assert result["files_modified"] == ["HELLO.txt"], (result, logs)
    assert harness.committed_files(repo, BRANCH) == ["HELLO.txt"], logs
    assert harness.git_out(repo, "show", f"{BRANCH}:HELLO.txt") == "hello\n"
    assert result["commit"] == harness.git_out(repo, "rev-parse", BRANCH).strip()
    assert harness.git_out(result["worktree_path"], "status", "--porcelain") == ""
    return result


def assert_failed(run: harness.ToolRun, repo: str, text: str) -> dict:
    """The failure case: exit 1, status failed, ``text`` (the server's words) in the error."""
    result = only(run)
    logs = harness.worker_logs(result)
    assert run.code == 1, (run, logs)
    assert result["status"] == "failed", (result, logs)
    assert text in (result["error"] or ""), (result, logs)
    assert result["files_modified"] == [], (result, logs)
    assert harness.committed_files(repo, BRANCH) == [], logs
    return result


# -- Claude Code ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def claude_bin():
    return os.environ.get("ARCHITECT_PARALLEL_E2E_CLAUDE_BIN") or harness.install("claude")


def test_claude(tmp_path, claude_bin):
    """As root without IS_SANDBOX=1 (the runner refuses that outside a sandbox, see
    e2e_claude.py): inside, Claude Code is uid 1000 and takes --dangerously-skip-permissions."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        env = e2e_claude.claude_env(tmp_path, claude_bin, standin.url, IS_SANDBOX=None)
        assert "IS_SANDBOX" not in env
        guard = Guard(tmp_path, repo, env["HOME"], [".claude/projects"])
        run = e2e_claude.run(repo, env, "--models", e2e_claude.MODEL, *SANDBOX)
    result = assert_hello(run, repo)
    assert len(standin.model_calls()) == 2
    assert [os.path.realpath(w) for w in standin.writes] == [
        os.path.realpath(os.path.join(result["worktree_path"], "HELLO.txt"))]
    assert e2e_claude.agent_result(result)["subtype"] == "success"
    assert result["steps"] == 2 and result["cost"] == pytest.approx(0.001128)
    # Its session came back to ~/.claude/projects/<its worktree>/ (for continue), alone.
    guard.check(result)
    folder = re.sub(r"[^A-Za-z0-9]", "-", result["worktree_path"])
    assert guard.brought_back() == [f".claude/projects/{folder}/{result['session_id']}.jsonl"]
    # `list` says where it ran.
    listed = harness.run_tool(repo, ["list"], env, json_output=False)
    assert listed.code == 0 and "success (bwrap)" in listed.out, listed
    e2e_claude.assert_no_leftovers(claude_bin)


def test_claude_model_error(tmp_path, claude_bin):
    repo = harness.make_repo(tmp_path)
    text = "standin-marker-401: the stand-in refuses"
    with AnthropicStandIn(error=(401, "authentication_error", text)) as standin:
        env = e2e_claude.claude_env(tmp_path, claude_bin, standin.url, IS_SANDBOX=None)
        guard = Guard(tmp_path, repo, env["HOME"], [".claude/projects"])
        run = e2e_claude.run(repo, env, *SANDBOX)
    result = assert_failed(run, repo, "standin-marker-401")
    assert len(standin.model_calls()) == 1
    guard.check(result)
    e2e_claude.assert_no_leftovers(claude_bin)


# -- Codex ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def codex_bin():
    return harness.install("codex")


def codex_sandbox_policies(home: str) -> list:
    """The sandbox policy of every turn Codex saved in its session files (~/.codex/sessions)."""
    found = []
    for path in glob.glob(os.path.join(home, ".codex", "sessions", "**", "*.jsonl"),
                          recursive=True):
        with open(path, "rb") as f:
            for line in f:
                entry = json.loads(line)
                payload = entry.get("payload") if isinstance(entry, dict) else None
                if isinstance(payload, dict) and "sandbox_policy" in payload:
                    found.append(payload["sandbox_policy"].get("type"))
    return found


@pytest.mark.parametrize("scenario,action", [("hello", "command_execution"),
                                             ("hello_patch", "file_change")])
def test_codex(tmp_path, codex_bin, scenario, action):
    """Codex's own sandbox would make its command fail silently in bubblewrap (exit 0,
    turn.completed, no HELLO.txt): the preset runs it with --sandbox danger-full-access."""
    with OpenAIResponsesStandIn(scenario) as standin:
        world = e2e_codex.World(tmp_path, codex_bin, standin.base_url)
        guard = Guard(tmp_path, world.repo, world.env["HOME"], [".codex/sessions"])
        run = world.run(*SANDBOX)
    result = assert_hello(run, world.repo)
    types = e2e_codex.item_types(result)
    assert types.count(action) == 1 and result["steps"] == 1, types
    posts = standin.model_requests()
    assert len(posts) == 2
    output = str(standin.tool_outputs(posts[1]))
    assert "Read-only file system" not in output and "denied" not in output.lower(), output
    # The policy Codex ran with: danger-full-access, in its session file and as it told
    # the model (workspace-write would be a "managed" profile of "restricted" entries).
    # (its session file came back, alone, for continue)
    assert codex_sandbox_policies(world.env["HOME"]) == ["danger-full-access"]
    assert [os.path.basename(p) for p in guard.brought_back()] == [
        os.path.basename(p) for p in glob.glob(os.path.join(
            world.env["HOME"], ".codex", "sessions", "**", f"*-{result['session_id']}.jsonl"),
            recursive=True)]
    context = [t for t in standin.user_texts(posts[0]) if "<environment_context>" in t]
    assert context and '<permission_profile type="disabled">' in context[0], context
    assert '<file_system type="unrestricted"' in context[0], context
    guard.check(result)
    world.unchanged()


def test_codex_model_error(tmp_path, codex_bin):
    with OpenAIResponsesStandIn("error401") as standin:
        world = e2e_codex.World(tmp_path, codex_bin, standin.base_url)
        guard = Guard(tmp_path, world.repo, world.env["HOME"], [".codex/sessions"])
        run = world.run(*SANDBOX)
    result = assert_failed(run, world.repo, marker(401))
    assert standin.model_requests(), "Codex never called the stand-in"
    guard.check(result)
    world.unchanged()


# -- Gemini CLI -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def gemini_bin():
    return harness.install("gemini")


def test_gemini(tmp_path, gemini_bin):
    with GeminiStandIn(mode="success") as standin:
        env, repo = e2e_gemini._setup(tmp_path, gemini_bin, standin)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_gemini._run(repo, env, *SANDBOX)
        turns = standin.agent_turns()
    result = assert_hello(run, repo)
    assert len(turns) == 2, [r["path"] for r in standin.requests]
    assert [name for name, _ in standin.tool_calls] == ["write_file"]
    assert result["steps"] == 1
    guard.check(result)
    assert e2e_gemini._leftovers(env) == []


def test_gemini_model_error(tmp_path, gemini_bin):
    with GeminiStandIn(mode="error", status=400, marker="standin-marker-400") as standin:
        env, repo = e2e_gemini._setup(tmp_path, gemini_bin, standin)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_gemini._run(repo, env, *SANDBOX)
        calls = standin.model_calls()
    result = assert_failed(run, repo, "standin-marker-400")
    assert len(calls) == 1, [r["path"] for r in calls]
    guard.check(result)


# -- aider ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def aider_bin():
    return harness.install("aider")


def test_aider(tmp_path, aider_bin):
    repo = harness.make_repo(tmp_path)
    with OpenAIChatStandIn(e2e_aider.hello_script, prompt_tokens=e2e_aider.PROMPT_TOKENS,
                           completion_tokens=e2e_aider.COMPLETION_TOKENS) as standin:
        env = e2e_aider.aider_env(tmp_path, aider_bin, standin.url)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_aider.run_aider(repo, env, *SANDBOX)
    assert_hello(run, repo)
    result = e2e_aider.check_success(run, standin, repo, tmp_path)
    guard.check(result)


def test_aider_model_error(tmp_path, aider_bin):
    repo = harness.make_repo(tmp_path)
    text = "standin-marker-401: the stand-in refuses this request"
    with OpenAIChatStandIn(lambda s, b: error(401, text)) as standin:
        env = e2e_aider.aider_env(tmp_path, aider_bin, standin.url)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_aider.run_aider(repo, env, *SANDBOX)
    result = assert_failed(run, repo, "standin-marker-401")
    assert result["exit_code"] == 0  # aider exits 0 on a model error
    assert len(standin.chat_requests) == 1
    guard.check(result)


# -- architect --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def architect_bin():
    return harness.install("architect")


def test_architect(tmp_path, architect_bin):
    repo = harness.make_repo(tmp_path)
    with OpenAIChatStandIn(e2e_architect.hello_script,
                           prompt_tokens=e2e_architect.PROMPT_TOKENS,
                           completion_tokens=e2e_architect.COMPLETION_TOKENS) as standin:
        env = e2e_architect.architect_env(tmp_path, architect_bin)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_architect.run_architect(repo, env, standin.url, *SANDBOX)
    result = assert_hello(run, repo)
    assert len(standin.chat_requests) == 2 and result["steps"] == 1, standin.chat_requests
    assert result["tokens_in"] == 2 * e2e_architect.PROMPT_TOKENS, result
    guard.check(result)


def test_architect_model_error(tmp_path, architect_bin):
    repo = harness.make_repo(tmp_path)
    text = "standin-marker-401: the stand-in refuses this request"
    with OpenAIChatStandIn(lambda s, b: error(401, text)) as standin:
        env = e2e_architect.architect_env(tmp_path, architect_bin)
        guard = Guard(tmp_path, repo, env["HOME"], [])
        run = e2e_architect.run_architect(repo, env, standin.url, *SANDBOX)
    result = assert_failed(run, repo, "standin-marker-401")
    assert len(standin.chat_requests) == 1
    guard.check(result)


# -- honest work with the real tools -------------------------------------------------------

HONEST = r"""#!/bin/sh
# What an honest agent does in a worktree: install packages with npm and pip (their caches
# and pip's user folder in HOME), use /tmp, stash, branch and tag.
set -e
echo "node_modules/" > .gitignore
echo '{"name": "honest", "version": "1.0.0", "private": true}' > package.json
npm install --no-audit --no-fund --no-update-notifier is-number@7.0.0 >/dev/null
test -d "$HOME/.npm/_cacache"
"$PY" -m pip install --quiet --user --no-warn-script-location six==1.16.0
"$PY" -c "import six, site; assert six.__file__.startswith(site.getusersitepackages())"
echo scratch > /tmp/scratch && echo scratch > /var/tmp/scratch && test -f "$TMPDIR/../tmp/scratch"
echo edit >> README.md && git stash -q && git stash pop -q
git checkout -q -b feature
git add -A && git -c user.name=a -c user.email=a@a commit -qm "its work"
git tag v1
echo ALL-DONE
"""


def test_honest_work_with_npm_pip_tmp_stash_and_a_branch(tmp_path):
    """npm and pip install (their caches in HOME, pip's user folder), /tmp and /var/tmp, git
    stash, a branch and a tag of its own: all work inside, with the real tools from the
    package registries; the work lands on the worker's branch; HOME, /tmp and the
    repository's refs outside are as they were."""
    repo = harness.make_repo(tmp_path)
    env = harness.private_env(tmp_path, os.path.dirname(shutil.which("npm") or "/usr/bin"))
    env.pop("XDG_CACHE_HOME")  # pip's and npm's caches in HOME itself, as by default
    env["PY"] = sys.executable  # (a Python whose pip may install: not Debian's own)
    agent = os.path.join(str(tmp_path), "honest.sh")
    with open(agent, "w") as f:
        f.write(HONEST)
    os.chmod(agent, 0o755)
    guard = Guard(tmp_path, repo, env["HOME"], [])
    run = harness.run_tool(repo, ["--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none", *SANDBOX, "install things"], env,
                           timeout=600)
    result = only(run)
    logs = harness.worker_logs(result)
    assert run.code == 0 and result["status"] == "success", (run, logs)
    assert "ALL-DONE" in logs
    assert result["files_modified"] == [".gitignore", "README.md", "package-lock.json",
                                        "package.json"], result
    assert os.path.isdir(os.path.join(result["worktree_path"], "node_modules", "is-number"))
    assert "refs it made in its sandbox are thrown away: refs/heads/feature, refs/tags/v1" \
        in run.err, run.err
    assert harness.git_out(repo, "tag") == "" and "feature" not in harness.git_out(repo, "branch")
    assert not os.path.exists("/tmp/scratch") and not os.path.exists("/var/tmp/scratch")
    guard.check(result)


# -- continue in the sandbox: the session comes back out, and goes in again ----------------

def test_claude_continue_resumes_its_session_in_the_sandbox(tmp_path, claude_bin):
    """The first run's conversation comes back out of the worker's private HOME; continue
    copies it into the next one, and Claude Code resumes it there (its first request of the
    follow-up carries the first conversation)."""
    repo = harness.make_repo(tmp_path)
    with AnthropicStandIn("write") as standin:
        env = e2e_claude.claude_env(tmp_path, claude_bin, standin.url, IS_SANDBOX=None)
        first = only(e2e_claude.run(repo, env, "--models", e2e_claude.MODEL, *SANDBOX))
        assert first["status"] == "success", harness.worker_logs(first)
        session = first["session_id"]
        before = len(standin.model_calls())
        run = harness.run_tool(repo, ["continue", "1", e2e_claude.FOLLOW_UP], env, timeout=240)
        calls = standin.model_calls()[before:]
    result = only(run)
    logs = harness.worker_logs(result)
    assert run.code == 0 and result["status"] == "success", (run, logs)
    assert result["sandbox"] == "bwrap" and result["session_id"] == session
    assert result["continued"][0]["resumed"] is True
    assert AnthropicStandIn.prompts(calls[0]) == [e2e_claude.TASK, e2e_claude.FOLLOW_UP]
    assert harness.committed_files(repo, BRANCH) == ["BYE.txt", "HELLO.txt"]
    assert [os.path.basename(p) for p in e2e_claude.session_files(env["HOME"])] == [
        f"{session}.jsonl"]


def test_codex_continue_resumes_its_session_in_the_sandbox(tmp_path, codex_bin):
    """The same for Codex: only its rollout file comes back (not its SQLite state); that is
    what it resumes from."""
    from standin_openai_responses import FOLLOWUP_FILE, FOLLOWUP_TASK
    with OpenAIResponsesStandIn("hello") as standin:
        world = e2e_codex.World(tmp_path, codex_bin, standin.base_url)
        first = world.one(world.run(*SANDBOX))
        assert first["status"] == "success", harness.worker_logs(first)
        before = len(standin.model_requests())
        run = harness.run_tool(world.repo, ["continue", "1", FOLLOWUP_TASK], world.env,
                               timeout=float(e2e_codex.TIMEOUT) + 60)
        posts = standin.model_requests()[before:]
    result = world.one(run)
    logs = harness.worker_logs(result)
    assert run.code == 0 and result["status"] == "success", (run, logs)
    assert result["sandbox"] == "bwrap" and result["session_id"] == first["session_id"]
    assert e2e_codex.thread_ids(result) == [first["session_id"]], logs
    assert posts and any(e2e_codex.TASK in text for text in standin.user_texts(posts[0]))
    assert harness.committed_files(world.repo, BRANCH) == sorted(["HELLO.txt", FOLLOWUP_FILE])
