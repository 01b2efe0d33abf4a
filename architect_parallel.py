#!/usr/bin/env python3
"""architect-parallel: run several AI coding agents at once, each in its own git worktree.

Every worker runs an agent CLI (by default ``architect run --json --confirm-mode
yolo``; presets for Claude Code, Codex, Aider and Gemini CLI, or any command
template) as a subprocess inside ``<repo>/.architect-parallel-N`` on its own
branch ``architect/parallel-N``, based on the current HEAD. The runner enforces
a per-worker timeout, kills whole process trees, reads each agent's result,
commits each worker's changes on its branch, runs checks that rank the workers,
prints a table and keeps the worktrees for inspection until ``cleanup``.

Use it to race several models on one task, or to fan several tasks out::

    architect-parallel "optimise the SQL queries" --models gpt-4o,claude-sonnet-4-6
    architect-parallel --task "tests for auth" --task "tests for users" --workers 2
    architect-parallel merge best
    architect-parallel cleanup

This file is the whole tool: it needs only the Python standard library (3.9+),
so it can be vendored by copying it, and run as ``python architect_parallel.py``
or ``python -m architect_parallel``. Importable names are those in ``__all__``;
anything starting with an underscore may change without notice.
"""

from __future__ import annotations

__version__ = "0.4.0"

import sys

# Run as a program, the tool imports nothing from the folder it started from (Python puts
# it, or the current folder for ``-m``, before the standard library): a checkout's top holds
# what a merge brought, and an ``argparse.py`` there would stand in for argparse.
if __name__ == "__main__" and not sys.flags.isolated and not getattr(sys.flags, "safe_path", 0):
    del sys.path[:1]

# json, subprocess, hashlib and concurrent.futures are imported where they are used,
# and regular expressions are compiled on first use (_LazyPattern): '--help' and
# quick commands then start in little more than the interpreter's own time.
import argparse
import contextlib
import dataclasses
import errno
import functools
import math
import os
import re
import select
import shutil
import shlex
import signal
import stat
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Dict, Iterable, Iterator, List, Optional, TextIO

try:
    import fcntl
except ImportError:  # Windows: main() says it is not supported yet
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "ConfigError",
    "ParallelConfig",
    "ParallelError",
    "ParallelRunner",
    "WorkerResult",
    "main",
    "parse_yaml",
]


######################################################################
# Constants and exceptions
######################################################################

EXIT_OK = 0  # at least one worker succeeded
EXIT_NO_SUCCESS = 1  # no worker succeeded
EXIT_USAGE = 2  # bad usage, bad config, unusable repository, work in the way
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGTERM/SIGHUP number for those signals)

WORKTREE_PREFIX = ".architect-parallel-"
BRANCH_PREFIX = "architect/parallel-"
MAX_WORKERS = 10
# The keys of the config file's parallel_runs section, with their defaults.
DEFAULTS = {
    "workers": 3,
    "agent": "build",
    "max_steps": 50,
    "budget_per_worker": None,
    "timeout_per_worker": None,
    "agent_cmd": "architect",
    "include": [],
    "setup": [],
    "checks": [],
    "check_timeout": 600,
    "port_base": 8100,
    "commit": True,
    "check_all": False,
    "retries": 0,
    "stop_on_pass": False,
    "budget_total": None,
    "sandbox": "none",
    "sandbox_allow": [],
}
# Best first: the order ranking uses after checks passed. stopped: cut short because
# another worker passed (--stop-on-pass); skipped: never started (--stop-on-pass, --budget-total).
STATUSES = ("success", "partial", "failed", "timeout", "stopped", "interrupted", "skipped")

PLACEHOLDERS = ("task", "task_file", "model", "worker", "branch", "worktree", "base", "port",
                "agent", "max_steps", "budget", "timeout", "config", "api_base")
# Linux refuses to start a program with a single argument or environment string longer
# than this (MAX_ARG_STRLEN, 32 pages); ARCHITECT_PARALLEL_TASK is left out above it.
_MAX_ARG_BYTES = 128 * 1024 - 1

# The agent gets its own --timeout; the runner's hard deadline comes this many
# seconds later, so a well-behaved agent always gets to report first.
_DEADLINE_GRACE = 2.0
# Seconds between SIGTERM and SIGKILL when stopping a process tree.
_TERM_GRACE = 2.0
# How much of the end of an agent's stdout is searched for its JSON result: a small
# tail first (the usual case, cheap even when agents print 100 MB), then a large one.
_RESULT_TAILS = (64 * 1024, 4 * 1024 * 1024)
_WORKTREE_GIT_TIMEOUT = 600  # seconds a git of ours may take in a worker's worktree
# Variables that would point git (in the runner or the agent) at another repository.
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR",
                      "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")
# Variables that would change how the tool's gits read what they are asked: its pathspecs
# (round 110: with GIT_LITERAL_PATHSPECS=1, `:(glob)**/.gitattributes` matched nothing and merge
# refused every branch), the attributes' source, a diff's options.
_GIT_READING_VARS = ("GIT_LITERAL_PATHSPECS", "GIT_GLOB_PATHSPECS", "GIT_NOGLOB_PATHSPECS",
                     "GIT_ICASE_PATHSPECS", "GIT_ATTR_SOURCE", "GIT_DIFF_OPTS")
# The variables that give git settings (`git -c`): see _given_settings.
_GIVEN_CONFIG = re.compile(r"GIT_CONFIG_(COUNT|KEY_\d+|VALUE_\d+|PARAMETERS)\Z")
_STATE_DIR = "architect-parallel"  # under the repository's common git dir
# The identity of the runner's commits, and of agents', where git has none configured.
_IDENTITY = (("user.name", "architect-parallel"), ("user.email", "architect-parallel@localhost"))
_MARK_VAR = "ARCHITECT_PARALLEL_MARK"  # set in each agent's environment, see _kill_trees


class _LazyPattern:
    """A regular expression compiled on first use.

    Compiling the module's patterns at import took half of ``--help``'s start-up
    time; most commands never use most of them.
    """

    __slots__ = ("_args", "_compiled")

    def __init__(self, pattern: str, flags: int = 0):
        self._args = (pattern, flags)
        self._compiled: Optional[re.Pattern] = None

    def __getattr__(self, name: str) -> object:
        if self._compiled is None:
            self._compiled = re.compile(*self._args)
        return getattr(self._compiled, name)


class ParallelError(Exception):
    """A failure the user can act on.

    The command line reports it as one line, ``error: <message>``, without a
    traceback, and exits with ``exit_code`` (2 unless stated otherwise).
    """

    exit_code = EXIT_USAGE


class ConfigError(ParallelError):
    """A configuration file or value that cannot be used (also raised by ``parse_yaml``)."""


class _UsageError(ParallelError):
    """Bad command-line usage."""


class _GitError(ParallelError):
    """A git command failed; ``reason`` is git's own message."""

    def __init__(self, args: List[str], reason: str):
        super().__init__(f"git {' '.join(args)} failed: {reason}")
        self.reason = reason


class _Refused(ParallelError):
    """A git the runner would run after an agent, refused or stopped: the worktree's git
    folder is no longer its own, or the git took longer than its time limit. A worker whose
    work could not be taken in fails."""


class _Unread(_Refused):
    """A worktree the runner's gits must not read (see ParallelRunner._heavy): its worker
    fails, its work neither committed nor checked."""


class _NotTakenIn(_Refused):
    """A worker's objects were refused (too large, or not its own to take): none of its work
    is in the repository, so no commit of it is recorded (round 83: one that was named a
    commit no git here could show)."""


class _Signalled(KeyboardInterrupt):
    """SIGTERM or SIGHUP, handled like Ctrl-C but with its own exit code."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


######################################################################
# Results and configuration
######################################################################

@dataclass
class WorkerResult:
    """What one worker did. The first nine fields are those of the original design."""

    worker_id: int  # 1-based
    branch: str  # "architect/parallel-1"
    model: str  # the model passed to the agent, or "default"
    status: str  # "success", "partial", "failed", "timeout", "stopped", "interrupted", "skipped"
    steps: int  # agent steps, from its JSON result (0 when unknown)
    cost: float  # USD, from its JSON result (0.0 when unknown)
    duration: float  # seconds the agent ran
    files_modified: List[str]  # repo-relative, sorted, computed from git
    worktree_path: str  # absolute path of the worktree
    task: str = ""
    exit_code: Optional[int] = None  # the agent's; negative: killed by that signal; None: never ran
    error: Optional[str] = None  # why it failed, in the agent's own words when it gave them
    log_path: str = ""  # the agent's stdout
    stderr_path: str = ""  # the agent's stderr
    base_commit: str = ""  # the commit the branch started from
    worker_log: str = ""  # setup, commit and check output
    commit: Optional[str] = None  # the runner's commit of the worker's changes
    checks_passed: int = 0
    checks_total: int = 0
    checks: List[dict] = field(default_factory=list)  # {command, passed, exit_code, duration}
    rank: int = 0  # 1 = best, see _rank
    attempts: int = 0  # 1 + the retries it took (0: never started)
    tokens_in: Optional[int] = None  # input tokens the agent reported (None: unknown)
    tokens_out: Optional[int] = None  # output tokens the agent reported (None: unknown)
    steps_known: bool = False  # False: the agent did not report steps (JSON: null)
    cost_known: bool = False  # False: the agent did not report its cost (JSON: null)
    # Each change of the worker's state, in order: {"state": "queued", "at": UNIX seconds}
    # (states: queued, creating, setup, running, checking, then its status; again per retry).
    timeline: List[dict] = field(default_factory=list)
    session_id: Optional[str] = None  # the agent's session, as its CLI reported it (continue)
    # One per follow-up task run with continue, in order: {"task", "resumed", "status",
    # "cost", "duration", "commit", "at"}; ``task`` stays the first task.
    continued: List[dict] = field(default_factory=list)
    sandbox: Optional[str] = None  # "bwrap" when it ran in a sandbox (see _Sandbox)
    # Paths its outputs say the sandbox refused a write to (read-only there), first first.
    sandbox_refused: List[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The result as JSON-ready data; steps and cost are None when unknown."""
        data = dataclasses.asdict(self)
        if not data.pop("steps_known"):
            data["steps"] = None
        if not data.pop("cost_known"):
            data["cost"] = None
        return data


@dataclass
class ParallelConfig:
    """Everything a run needs. Field names follow the original ``ParallelConfig``."""

    tasks: List[str]
    workers: int = DEFAULTS["workers"]
    models: Optional[List[str]] = None
    agent: str = DEFAULTS["agent"]
    max_steps: int = DEFAULTS["max_steps"]
    budget_per_worker: Optional[float] = DEFAULTS["budget_per_worker"]
    timeout_per_worker: Optional[int] = DEFAULTS["timeout_per_worker"]
    base_branch: Optional[str] = None  # any commit-ish; None means the current HEAD
    config_path: Optional[str] = None  # handed to every agent as --config
    api_base: Optional[str] = None
    force: bool = False  # discard work found in worktrees/branches this run reuses
    agent_cmd: str = DEFAULTS["agent_cmd"]  # a PRESETS name, or a command template
    include: List[str] = field(default_factory=list)  # patterns of files to copy, with .worktreeinclude
    setup: List[str] = field(default_factory=list)  # sh -c commands run before the agent
    checks: List[str] = field(default_factory=list)  # sh -c commands run after the agent
    check_timeout: float = DEFAULTS["check_timeout"]  # seconds, for each setup and check command
    port_base: int = DEFAULTS["port_base"]  # ARCHITECT_PARALLEL_PORT = port_base + worker id
    commit: bool = DEFAULTS["commit"]  # commit each worker's changes on its branch
    check_all: bool = DEFAULTS["check_all"]  # also check workers that failed or timed out
    retries: int = DEFAULTS["retries"]  # new attempts for a failed or timed-out worker
    stop_on_pass: bool = DEFAULTS["stop_on_pass"]  # stop the race once a worker passes
    budget_total: Optional[float] = DEFAULTS["budget_total"]  # USD: no new worker past it
    sandbox: str = DEFAULTS["sandbox"]  # none, bwrap or auto: see _Sandbox
    sandbox_allow: List[str] = field(default_factory=list)  # more writable paths in it
    only_workers: Optional[List[int]] = None  # run just these worker ids of the plan

    def validate(self) -> None:
        """Raise ConfigError for a value the runner cannot use."""
        if isinstance(self.tasks, str) or not isinstance(self.tasks, (list, tuple)):
            raise ConfigError(f"tasks must be a list of strings, got {self.tasks!r}")
        if not self.tasks:
            raise ConfigError("no task given: pass TASK, --task or --tasks-file")
        for task in self.tasks:
            if not isinstance(task, str) or not task.strip():
                raise ConfigError(f"a task must be a non-empty string, got {task!r}")
        if self.models is not None and (isinstance(self.models, str)
                                        or not isinstance(self.models, (list, tuple))):
            raise ConfigError(f"models must be a list of strings, got {self.models!r}")
        for model in self.models or []:
            if not isinstance(model, str) or not model or model != model.strip():
                raise ConfigError(f"bad model name {model!r}")
        for value in [*self.tasks, *(self.models or []), self.api_base, self.config_path,
                      self.base_branch]:
            if isinstance(value, str) and "\0" in value:
                raise ConfigError(f"{_shorten(repr(value), 60)} contains a NUL byte, which "
                                  "cannot be passed as an argument")
        for key in DEFAULTS:
            _check_value(key, getattr(self, key))
        if self.sandbox_allow and self.sandbox == "none":
            raise ConfigError("--sandbox-allow lets sandboxed workers write a path, but there is "
                              "no sandbox: add --sandbox bwrap (or auto)")
        if self.stop_on_pass and len(set(self.tasks)) > 1:
            raise ConfigError(
                f"--stop-on-pass is for a race (every worker on one task), but these workers "
                f"have {len(set(self.tasks))} different tasks: the first to pass would stop work "
                "on the others' tasks, which nothing else does (use it with one task and several "
                "--models)")


class _FollowUp:
    """A continue of a worker: the name of its logs, and the session to resume, if any."""

    __slots__ = ("stem", "session", "totals", "copied")

    def __init__(self, stem: str, session: Optional[str], totals: bool = False,
                 copied: "Optional[List[str]]" = None):
        self.stem, self.session = stem, session
        self.totals = totals  # its CLI reports the resumed session's tokens in all
        self.copied = copied or []  # the include files in the worktree: never committed


class _Job:
    """One planned worker run. (Internal records are plain classes: each @dataclass
    costs start-up time.)"""

    __slots__ = ("worker_id", "task", "model", "branch", "path", "base", "tip", "submodules",
                 "pointers", "index", "unsaved", "heavy", "folder_times")

    def __init__(self, worker_id: int, task: str, model: Optional[str], branch: str, path: str):
        self.worker_id, self.task, self.model, self.branch, self.path = (
            worker_id, task, model, branch, path)
        # the run's base, and its branch's commit once the runner committed the agent's work:
        # nothing after that (a check runs the agent's code) may move it (see _settle_branch)
        self.base: Optional[str] = None
        self.tip: Optional[str] = None
        # the submodule folders that held files when its agent started, by a digest of them
        # (see _Repo.submodule_folders): the only ones its checks may trust as they are
        self.submodules: Dict[str, str] = {}
        # its .git file, gitdir and commondir as git wrote them, before anything of the
        # worker ran (see _Repo.pointers): the runner puts them back after it
        self.pointers: "List[tuple[str, str, bytes]]" = []
        # a digest of its index as the runner's commit left it: one changed later (a check
        # staged what no diff shows) is built again from HEAD (see _settle_index)
        self.index: Optional[str] = None
        # whether its worktree holds work of its own that no commit of its branch holds (its
        # commit refused or not made, --no-commit, a repository inside): recorded with the
        # worktree's state, for cleanup (see _Repo.left_unsaved)
        self.unsaved = False
        # whether its worktree holds more .gitignore and .gitattributes than the runner's
        # gits may read there (see ParallelRunner._heavy)
        self.heavy = False
        # its folders' times as the agent left them, given back before its checks (see
        # _folder_times)
        self.folder_times: Optional[BinaryIO] = None


def _padding(config: ParallelConfig) -> Optional[str]:
    """One line saying which workers repeat task 1 or use the default model because there
    were fewer tasks or models than workers (the original's rule), or None."""
    count = max(config.workers, len(config.tasks), len(config.models or []))
    tasks, models = len(config.tasks), len(config.models or [])

    def workers(first: int) -> str:
        return (f"worker {first}" if first == count else
                f"workers {first}-{count}" if count - first > 1 else f"workers {first} and {count}")

    said = []
    if 1 < tasks < count:
        said.append(f"{workers(tasks + 1)} {'repeats' if tasks + 1 == count else 'repeat'} task 1")
    if 0 < models < count:
        said.append(f"{workers(models + 1)} {'uses' if models + 1 == count else 'use'} "
                    "the agent's default model")
    if not said:
        return None
    counts = [f"{count} workers"] + ([f"{tasks} tasks"] if 1 < tasks < count else []) + (
        [f"{models} model{'s' if models > 1 else ''}"] if 0 < models < count else [])
    return f"{', '.join(counts)}: {'; '.join(said)}"


def _plan(config: ParallelConfig, top: str) -> List[_Job]:
    """Assign tasks and models to workers as the original does, dropping nothing.

    Worker i gets task i and model i; extra workers repeat the first task and use
    the agent's default model. There are max(workers, tasks, models) runs.
    """
    models = config.models or []
    count = max(config.workers, len(config.tasks), len(models))
    jobs = []
    for i in range(count):
        n = i + 1
        jobs.append(_Job(
            worker_id=n,
            task=config.tasks[i] if i < len(config.tasks) else config.tasks[0],
            model=models[i] if i < len(models) else None,
            branch=f"{BRANCH_PREFIX}{n}",
            path=os.path.join(top, f"{WORKTREE_PREFIX}{n}"),
        ))
    return jobs


######################################################################
# Agent CLIs: one adapter each
######################################################################

class _Report:
    """What an agent's output says about its run; None wherever it says nothing."""

    __slots__ = ("status", "steps", "cost", "tokens_in", "tokens_out", "reason", "missing",
                 "session")

    def __init__(self, status: Optional[str] = None, steps: object = None, cost: object = None,
                 tokens_in: object = None, tokens_out: object = None,
                 reason: Optional[str] = None, session: object = None):
        self.status, self.steps, self.cost = status, steps, cost
        self.tokens_in, self.tokens_out, self.reason = tokens_in, tokens_out, reason
        self.missing: Optional[str] = None  # the result the CLI should have printed, if absent
        self.session = session  # the id of the agent's session, to resume it (continue)


class _Output:
    """An ended agent's exit code and output files, read lazily and only their ends.
    ``stop``: set when the run stops at once (a second interrupt); reading it then, or past
    _READ_SECONDS, raises _ReadStopped (round 83: an agent's 255 MB of `{}` lines, or 4 MB
    crafted for the last-object search, held the runner minutes after it, deaf to signals)."""

    def __init__(self, stdout_path: str, stderr_path: str, exit_code: Optional[int],
                 stop: Optional[threading.Event] = None):
        self.stdout_path, self.stderr_path, self.exit_code = stdout_path, stderr_path, exit_code
        # (the reading thread's own CPU time: other workers' readers, which share the
        # interpreter, must not spend an honest one's time, round 84)
        self.stop, self.deadline = stop, time.thread_time() + _READ_SECONDS

    def going_on(self) -> None:
        """Raise _ReadStopped when reading is to stop (see the class)."""
        if self.stop is not None and self.stop.is_set():
            raise _ReadStopped("reading its output was stopped (a second interrupt)")
        if time.thread_time() > self.deadline:
            raise _ReadStopped(f"its output took more than {_READ_SECONDS}s to read: it was "
                               "not read whole")

    def last_json(self) -> Optional[dict]:
        """The JSON object that ends stdout (see _read_last_json)."""
        return _read_last_json(self.stdout_path, self.going_on)

    def json_lines(self) -> Iterator[dict]:
        """The JSON objects among stdout's lines (a JSON-lines event stream)."""
        return _json_lines(self.stdout_path, self.going_on)

    def tail(self, stream: str = "stdout", size: int = _RESULT_TAILS[0]) -> str:
        """The last ``size`` bytes of ``stream`` ("stdout" or "stderr"), decoded leniently."""
        return _log_tail(self.stdout_path if stream == "stdout" else self.stderr_path, size)


class _ReadStopped(Exception):
    """Reading an agent's output stopped before its end (see _Output)."""


_READ_SECONDS = 60  # the most CPU time the runner spends reading one agent's output after it


class _Adapter:
    """Everything the runner knows about one agent CLI (STYLE point 11).

    ``template``: its headless command line (see _AgentCommand). ``read``: turns its
    output into a _Report. ``env``: variables it needs, set unless the user set them.
    ``bookkeeping``: gitignore patterns of the state files it writes in the worktree,
    added to ``.git/info/exclude``, so that they are never committed, counted as the
    worker's work, or taken for uncommitted work (aider then also leaves .gitignore
    alone). ``check``: given the command line and environment, why the CLI would
    refuse to run (checked before anything is created), or None. ``prints``: what its
    result looks like, named when it is missing ("JSON result"). ``noise``: starts of
    lines it prints that never say what went wrong. ``resume``: turns its command line
    into one that goes on with a session it reported (continue), for the CLIs that can;
    ``session_totals``: a resumed run reports the whole session's tokens, not its own.
    ``home``: what it keeps in HOME (see _Home), for the sandbox. ``in_sandbox``: its command
    line adapted to run in the runner's sandbox (a sandbox of its own cannot nest there).
    """

    def __init__(self, template: str, read: Callable[[_Output], _Report],
                 env: Optional[Dict[str, str]] = None, bookkeeping: "tuple[str, ...]" = (),
                 check: Optional[Callable[[List[str], Dict[str, str]], Optional[str]]] = None,
                 prints: Optional[str] = None, noise: "tuple[str, ...]" = (),
                 resume: Optional[Callable[[List[str], str], List[str]]] = None,
                 session_totals: bool = False, home: Optional[_Home] = None,
                 in_sandbox: Optional[Callable[[List[str]], List[str]]] = None):
        self.template, self.read, self.env = template, read, dict(env or {})
        self.bookkeeping, self.check, self.prints, self.noise = bookkeeping, check, prints, noise
        self.resume, self.session_totals = resume, session_totals
        self.home, self.in_sandbox = home, in_sandbox


class _Home:
    """What an agent CLI keeps in HOME, as the sandbox's private HOME needs to know it (see
    _Box._home): nothing it writes there outlives the worker but what is named here.

    ``folder``: given the agent's environment, its state folder (``~/.claude``); ``files``:
    other files of HOME it rewrites (``~/.claude.json``), private copies whatever their size;
    ``keep``: the subfolders of ``folder`` it only reads (plugins, skills): read-only inside
    when they are too large to copy, where the others start empty; ``session``: given a
    state folder, the worktree and a session id, the files in that folder that hold the
    session (copied in for continue; brought back after each run, when they are those it was
    given or new); ``credentials``: its login files in ``folder``, never brought back (a
    worker's change is named in a warning) and hidden from the other presets' workers.
    """

    def __init__(self, folder: Callable[[Dict[str, str]], str],
                 files: Optional[Callable[[Dict[str, str]], List[str]]] = None,
                 keep: "tuple[str, ...]" = (),
                 session: Optional[Callable[[str, str, str], List[str]]] = None,
                 credentials: "tuple[str, ...]" = ()):
        self.folder, self.files = folder, files or (lambda env: [])
        self.keep, self.session, self.credentials = keep, session, credentials


def _claude_session(folder: str, worktree: str, session: str) -> List[str]:
    """Claude Code keeps a conversation in ``projects/<its working folder's path, each
    character but a letter or digit as '-' (cut at 200, a hash added)>/<session>.jsonl``."""
    name = re.sub(r"[^A-Za-z0-9]", "-", worktree)
    projects = os.path.join(folder, "projects")
    try:
        names = [] if os.path.islink(projects) else os.listdir(projects)
    except OSError:
        return []
    return [os.path.join("projects", n, f"{session}.jsonl") for n in names
            if n == name or (len(name) > 200 and n.startswith(name[:200] + "-"))]


def _codex_session(folder: str, worktree: str, session: str) -> List[str]:
    """Codex keeps a conversation in ``sessions/YYYY/MM/DD/rollout-<time>-<session>.jsonl``,
    whose first line (``session_meta``) names the session and its working folder: the
    files of this session in ``worktree``."""
    import json
    name = _LazyPattern(r"sessions/[0-9]{4}/[0-9]{2}/[0-9]{2}/rollout-[0-9T:.-]+-"
                        + re.escape(session) + r"\.jsonl")
    found: List[str] = []
    named: List[str] = []
    for top, _dirs, files in _walk(os.path.join(folder, "sessions")):  # (never into a link)
        for rel in (os.path.relpath(os.path.join(top, n), folder) for n in files):
            if not name.fullmatch(rel.replace(os.sep, "/")):
                continue
            named.append(rel)
            if len(named) > 16:  # (planted, all: a session is one file; each first line of
                return named     # 1 MB took 0.15 s to parse, thousands of links hours: round 75)
            first = (_read_beneath(folder, rel, 1 << 20) or b"").split(b"\n", 1)[0]
            try:
                meta = json.loads(first.decode("utf-8"))
            except (ValueError, RecursionError):
                continue
            payload = meta.get("payload") if isinstance(meta, dict) else None
            if isinstance(payload, dict) and meta.get("type") == "session_meta" and \
                    payload.get("id") == session and payload.get("cwd") == worktree:
                found.append(rel)
    return found


def _read_architect(out: _Output) -> _Report:
    """``architect run --json``: one JSON object (status, steps, costs, output) at the end of stdout."""
    payload = out.last_json() or _last_json_with(out.tail(), "status", at_line_start=True)
    if payload is None:
        return _Report()
    status = payload.get("status")
    status = status if status in ("success", "partial", "failed") else "partial"
    costs = payload.get("costs") if isinstance(payload.get("costs"), dict) else {}
    cost = payload.get("cost")
    if not _is_number(cost):
        cost = costs.get("total_cost_usd")
    reason = None
    if status != "success":
        reason = next((payload[key] for key in ("error", "output")
                       if isinstance(payload.get(key), str) and payload[key].strip()), None)
        stop = payload.get("stop_reason")
        if status == "partial" and isinstance(stop, str) and stop:  # e.g. max_steps
            reason = f"stopped: {stop}" + (f": {reason}" if reason else "")
    return _Report(status, payload.get("steps"), cost, costs.get("total_input_tokens"),
                   costs.get("total_output_tokens"), reason)


def _read_claude(out: _Output) -> _Report:
    """``claude -p --output-format json``: one result object; API errors are ``is_error``."""
    payload = out.last_json()
    if payload is None:
        return _Report()
    subtype = payload.get("subtype")
    if subtype == "success" and not payload.get("is_error"):
        status = "success"
    else:  # its turn or budget limit stopped it: it may have done the work
        status = "partial" if subtype in ("error_max_turns", "error_max_budget_usd") else "failed"
    reason, result, errors = None, payload.get("result"), payload.get("errors")
    if status == "success":
        pass
    elif isinstance(result, str) and result.strip():  # "API Error: 500 ..."
        reason = result
    elif isinstance(errors, list) and errors:  # ["Reached maximum number of turns (1)"]
        reason = "; ".join(str(e) for e in errors)
    elif isinstance(subtype, str) and subtype != "success":  # error_during_execution
        reason = subtype
    usage = payload.get("usage") if isinstance(payload.get("usage"), dict) else {}
    # Input tokens are reported in three parts: new, written to the cache, read from it.
    parts = [usage.get(key) for key in ("input_tokens", "cache_creation_input_tokens",
                                        "cache_read_input_tokens")]
    tokens_in = sum(p for p in parts if _count(p)) if _count(parts[0]) else None
    tokens_out = usage.get("output_tokens")
    # modelUsage (per model, subagents' too) is complete where usage is not: stopped at its
    # budget, usage leaves out the last call.
    models = payload.get("modelUsage")
    if isinstance(models, dict) and models and all(
            isinstance(m, dict) and _count(m.get("inputTokens")) for m in models.values()):
        tokens_in = sum(m[key] for m in models.values() for key in (
            "inputTokens", "cacheReadInputTokens", "cacheCreationInputTokens") if _count(m.get(key)))
        tokens_out = sum(m["outputTokens"] for m in models.values() if _count(m.get("outputTokens")))
    return _Report(status, payload.get("num_turns"), payload.get("total_cost_usd"), tokens_in,
                   tokens_out, reason, payload.get("session_id"))


# Codex items that are actions (a step); agent messages, reasoning, to-do lists and
# warnings (items of type "error") are not.
_CODEX_ACTIONS = ("command_execution", "file_change", "mcp_tool_call", "web_search",
                  "collab_tool_call")


def _read_codex(out: _Output) -> _Report:
    """``codex exec --json``: JSON-lines events. The last ``turn.completed`` or
    ``turn.failed`` decides; ``error`` events are retry notices unless no turn ended.
    Steps are the distinct actions started or completed (0.140 loses the completion of
    an action interrupted by a reconnect), each held as a short digest, 100,000 at most
    (round 74: 300 events with ids of 1 MB each took the runner to 366 MB)."""
    import hashlib
    status = notice = reason = session = None
    actions: "set[bytes]" = set()
    tokens_in = tokens_out = 0
    seen = False
    for event in out.json_lines():
        kind = event.get("type")
        seen = seen or isinstance(kind, str)
        if kind == "thread.started":
            session = event.get("thread_id")
        elif kind == "turn.completed":
            status, reason = "success", None
            usage = event.get("usage") if isinstance(event.get("usage"), dict) else {}
            tokens_in += usage["input_tokens"] if _count(usage.get("input_tokens")) else 0
            tokens_out += usage["output_tokens"] if _count(usage.get("output_tokens")) else 0
        elif kind == "turn.failed":
            error = event.get("error")
            status = "failed"
            reason = _api_message(error.get("message")) if isinstance(error, dict) else None
        elif kind == "error" and isinstance(event.get("message"), str):
            notice = event["message"]
        elif kind in ("item.started", "item.completed"):
            item = event.get("item")
            if isinstance(item, dict) and item.get("type") in _CODEX_ACTIONS and \
                    len(actions) < 100_000:
                actions.add(hashlib.blake2b(str(item.get("id", len(actions))).encode(
                    "utf-8", "surrogateescape"), digest_size=16).digest())
    if status is None and notice is not None:
        status = "failed"  # no turn ended: the last error is why
    if status == "failed" and not reason:
        reason = notice
    return _Report(status, len(actions) if seen else None, None,
                   tokens_in or None if seen else None, tokens_out or None if seen else None,
                   reason, session)


def _api_message(message: object) -> Optional[str]:
    """A CLI's error message; when it quotes the model API's error body
    (``{"error": {"code": 400, "message": ...}}``, maybe inside ``[API Error: ...]``),
    the API's own message from it, with the HTTP code and status."""
    import json
    if not isinstance(message, str):
        return None
    start = message.find("{")
    if start >= 0:
        try:
            value, _end = json.JSONDecoder().raw_decode(message, start)
        except (ValueError, RecursionError):  # deep nesting
            value = None
        error = value.get("error") if isinstance(value, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            code = " ".join(str(error[k]) for k in ("code", "status")
                            if isinstance(error.get(k), (str, int)) and error.get(k))
            return error["message"] + (f" (HTTP {code})" if code else "")
        if isinstance(error, str) and error.strip():
            return error
    return message or None


def _read_gemini(out: _Output) -> _Report:
    """``gemini --output-format stream-json``: JSON lines ending with a ``result`` event
    (status, error, stats), on success, API errors and turn limits alike. Also read:
    ``--output-format json`` (what 0.6.x has): one object on stdout, or on a fatal error
    nothing on stdout and ``{"error": {...}}`` on stderr. Exit 53 is its turn limit."""
    result, loop = None, None
    for event in out.json_lines():
        if event.get("type") == "result":
            result = event
        elif event.get("type") == "error" and "Loop detected" in str(event.get("message")):
            loop = str(event["message"])  # it stopped itself, and exits 0
    status = reason = steps = tokens_in = tokens_out = None
    if result is not None:
        error = result.get("error")
        status = "success" if result.get("status") == "success" and not error else "failed"
        if isinstance(error, dict):
            reason = _api_message(error.get("message"))
            status = "partial" if error.get("type") == "FatalTurnLimitedError" else status
        stats = result.get("stats") if isinstance(result.get("stats"), dict) else {}
        steps = stats.get("tool_calls")
        tokens_in, tokens_out = stats.get("input_tokens"), stats.get("output_tokens")
    else:
        payload = out.last_json() or _last_json_with(out.tail("stderr"), "error")
        if payload is not None:
            stats = payload.get("stats") if isinstance(payload.get("stats"), dict) else {}
            models = stats.get("models") if isinstance(stats.get("models"), dict) else {}
            models = [m for m in models.values() if isinstance(m, dict)]
            tools = stats.get("tools")
            steps = tools.get("totalCalls") if isinstance(tools, dict) else None
            counts = [m["tokens"] for m in models if isinstance(m.get("tokens"), dict)]
            if counts:
                tokens_in = sum(c.get("prompt", 0) for c in counts if _count(c.get("prompt", 0)))
                tokens_out = sum(c.get("candidates", 0) for c in counts
                                 if _count(c.get("candidates", 0)))
            error = payload.get("error")
            api_errors = sum(m["api"].get("totalErrors", 0) for m in models
                             if isinstance(m.get("api"), dict)
                             and _count(m["api"].get("totalErrors", 0)))
            if error:
                status = "failed"
                reason = _api_message(error.get("message") if isinstance(error, dict) else str(error))
            elif payload.get("response") == "" and api_errors:
                status = "failed"  # 0.6.x answers an API error with an empty response, exit 0
            elif "response" in payload or "stats" in payload:
                status = "success"
    if status == "success" and loop:
        status, reason = "partial", loop
    if out.exit_code == 53:  # its documented "turn limit exceeded"
        status = "partial"
        reason = reason or "stopped at its turn limit"
    return _Report(status, steps, None, tokens_in, tokens_out, reason)


# "Tokens: 2.5k sent, 2.3k cache hit, 12 received. Cost: $0.0004 message, $0.0004 session."
# (the cache parts only when the API reports them; then Cost: may start the next line)
_AIDER_NUMBER = r"([0-9][0-9,]*(?:\.[0-9]+)?[kKmM]?)"
_AIDER_TOKENS = _LazyPattern(rf"^Tokens: {_AIDER_NUMBER} sent(?:, [^,\n]* cache (?:write|hit))*, "
                             rf"{_AIDER_NUMBER} received\.(?=(.*\n?.*))", re.M)
_AIDER_COST = _LazyPattern(r"Cost: \$([0-9]+(?:\.[0-9]+)?) message, \$([0-9]+(?:\.[0-9]+)?) session")
# Model errors as aider prints them, from litellm or the OpenAI client.
_AIDER_ERROR = _LazyPattern(r"^(?:litellm|openai)\.[A-Za-z]*Error: ", re.M)


def _read_aider(out: _Output) -> _Report:
    """aider prints no JSON: each model call ends with a ``Tokens: N sent, M received.``
    line (and ``Cost: $X message, $Y session.`` when priced). A model error is printed
    (``litellm.AuthenticationError: ...``) and aider still exits 0, so exit 0 without
    a ``Tokens:`` line, or with a model error after the last one, is a failure."""
    text = out.tail("stdout", _RESULT_TAILS[-1])
    calls = list(_AIDER_TOKENS.finditer(text))
    tokens_in = sum(_aider_count(m.group(1)) for m in calls) if calls else None
    tokens_out = sum(_aider_count(m.group(2)) for m in calls) if calls else None
    costs = [_AIDER_COST.search(m.group(3)) for m in calls]
    cost = next((float(c.group(2)) for c in reversed(costs) if c), None)
    # A model error after the last model call (or anywhere, when there was none).
    errors = list(_AIDER_ERROR.finditer(text, calls[-1].end() if calls else 0))
    if not calls and not errors:
        errors = list(_AIDER_ERROR.finditer(out.tail("stderr")))
    reason = None
    if errors:
        source = errors[-1].string
        # aider wraps long messages at 80 columns when stdout is not a terminal: the
        # message runs on to the next blank line.
        start = errors[-1].start()
        end = source.find("\n\n", start)
        reason = " ".join(source[start:None if end < 0 else end].split())
    if out.exit_code == 0:
        status = "success" if calls and not errors else "failed"
        if status == "failed" and not reason:
            reason = "aider exited without calling the model (no 'Tokens:' line)"
    else:
        status = None  # the exit code decides
    return _Report(status, None, cost, tokens_in, tokens_out, reason)


def _aider_count(text: str) -> int:
    """aider's token counts: ``902``, ``1.2k``, ``12k`` (rounded by aider)."""
    text = text.replace(",", "")
    scale = {"k": 1000, "m": 1000000}.get(text[-1:].lower(), 1)
    try:
        return int(round(float(text.rstrip("kKmM")) * scale))
    except (ValueError, OverflowError):
        return 0


def _read_exit_code(out: _Output) -> _Report:
    """A command template: the exit code decides, nothing else is known."""
    return _Report()


def _claude_resume(argv: List[str], session: str) -> List[str]:
    """``claude --resume SESSION -p ...``: the same session, from where it stopped."""
    return [argv[0], "--resume", session, *argv[1:]]


def _codex_resume(argv: List[str], session: str) -> List[str]:
    """``codex exec resume [options] SESSION -- TASK``: ``exec resume`` takes no --sandbox,
    so the sandbox is given as its config setting."""
    end = argv.index("--")
    options, i = [], 2
    while i < end:
        if argv[i] == "--sandbox" and i + 1 < end:
            options += ["-c", f'sandbox_mode="{argv[i + 1]}"']
            i += 2
        else:
            options.append(argv[i])
            i += 1
    return [argv[0], "exec", "resume", *options, session, "--", *argv[end + 1:]]


def _codex_in_sandbox(argv: List[str]) -> List[str]:
    """Codex's own sandbox (workspace-write) cannot run inside bubblewrap: its commands
    would fail while it reports success. The runner's sandbox confines it instead."""
    return [("danger-full-access" if prev == "--sandbox" else arg)
            for prev, arg in zip([""] + argv, argv)]


def _claude_check(argv: List[str], env: Dict[str, str]) -> Optional[str]:
    """Claude Code refuses to skip its permission prompts as root unless told it runs in a
    sandbox: IS_SANDBOX exactly "1" (Claude Code 2.1 refuses "true") or CLAUDE_CODE_BUBBLEWRAP."""
    skips = any(arg in ("--dangerously-skip-permissions", "--permission-mode=bypassPermissions")
                or (arg == "bypassPermissions" and prev == "--permission-mode")
                for prev, arg in zip([""] + argv, argv))
    if (skips and hasattr(os, "geteuid") and os.geteuid() == 0
            and env.get("IS_SANDBOX") != "1" and not env.get("CLAUDE_CODE_BUBBLEWRAP")):
        return ("Claude Code refuses --dangerously-skip-permissions as root: run "
                "architect-parallel as a normal user, or set IS_SANDBOX=1 if this machine is a "
                "disposable sandbox such as a CI container")
    return None


# The presets: --agent-cmd NAME. The README names the versions each was run against.
# The agent of a worker that only runs the checks (see ParallelRunner.recheck).
_NO_AGENT = "true {task}"

PRESETS = {
    "architect": _Adapter(
        "architect run --agent {agent} --confirm-mode yolo --json --max-steps {max_steps} "
        "--model {model?} --budget {budget?} --timeout {timeout?} --config {config?} "
        "--api-base {api_base?} -- {task}",
        # litellm's DEBUG logging would bury the result, and print a line after it.
        _read_architect, env={"LITELLM_LOG": "ERROR"}, bookkeeping=("/.architect/sessions/",),
        prints="JSON result", home=_Home(lambda env: "~/.architect")),
    "claude": _Adapter(
        "claude -p --output-format json --dangerously-skip-permissions "
        "--max-turns {max_steps} --model {model?} --max-budget-usd {budget?} -- {task}",
        _read_claude, check=_claude_check, prints="JSON result", resume=_claude_resume,
        home=_Home(lambda env: env.get("CLAUDE_CONFIG_DIR") or "~/.claude",
                   # (with CLAUDE_CONFIG_DIR, .claude.json is in that folder)
                   files=lambda env: [] if env.get("CLAUDE_CONFIG_DIR") else ["~/.claude.json"],
                   keep=("plugins", "commands", "agents", "skills", "rules", "output-styles",
                         "hooks", "local"),
                   session=_claude_session, credentials=(".credentials.json",))),
    "codex": _Adapter(
        "codex exec --json --sandbox workspace-write --skip-git-repo-check "
        "-c features.unbounded_connection_retries=false --model {model?} -- {task}",
        _read_codex, prints="JSON events", noise=("Reading additional input from stdin",),
        resume=_codex_resume, session_totals=True, in_sandbox=_codex_in_sandbox,
        home=_Home(lambda env: env.get("CODEX_HOME") or "~/.codex",
                   keep=("prompts", "rules", "skills"), session=_codex_session,
                   credentials=("auth.json",))),
    "aider": _Adapter(
        "aider --yes-always --no-pretty --no-stream --no-check-update --no-analytics "
        "--no-show-release-notes --no-gitignore --no-auto-commits --no-dirty-commits "
        "--openai-api-base {api_base?} --model {model?} --message={task}",
        _read_aider, bookkeeping=("/.aider*",),
        home=_Home(lambda env: "~/.aider", credentials=("oauth-keys.env",))),
    "gemini": _Adapter(
        "gemini --yolo --output-format stream-json --model {model?} --prompt={task}",
        _read_gemini, env={"GEMINI_CLI_TRUST_WORKSPACE": "true"}, prints="JSON result",
        home=_Home(lambda env: os.path.join(env.get("GEMINI_CLI_HOME") or "~", ".gemini"),
                   keep=("extensions", "commands", "skills", "agents", "policies"),
                   credentials=("oauth_creds.json", "google_accounts.json"))),
}
# A command template of the user's: no reader, nothing known but the exit code.
_TEMPLATE = _Adapter("", _read_exit_code)


def _read_result(adapter: _Adapter, out: _Output) -> _Report:
    """The adapter's report, completed: a status in every case (the exit code decides
    when the output does not), numbers that make sense or None, and a reason for
    every worker that did not succeed, taken from the output when the agent gave none."""
    try:
        report = adapter.read(out)
    except (ValueError, TypeError, AttributeError, RecursionError, OverflowError):
        report = _Report()  # output no reader foresaw: judged like no result at all
    except _ReadStopped as stopped:  # (what it said is unknown: it did not succeed)
        return _Report(status="failed", reason=str(stopped))
    if report.status is None:
        report.missing = adapter.prints
        # architect without JSON: exit 0 did something, we cannot tell how well.
        ok = out.exit_code == 0
        report.status = ("partial" if adapter.read is _read_architect else "success") if ok else "failed"
    for name in ("steps", "tokens_in", "tokens_out"):
        if not _count(getattr(report, name)):
            setattr(report, name, None)
    cost = report.cost
    try:
        cost = float(cost) if _is_number(cost) and cost >= 0 else None
    except OverflowError:  # an integer too large for a float
        cost = None
    report.cost = cost if cost is not None and math.isfinite(cost) else None
    session = report.session  # handed back to the CLI as an argument: a plain word only
    report.session = session if isinstance(session, str) and _SESSION.fullmatch(session) else None
    if report.status != "success":
        reason = report.reason if isinstance(report.reason, str) and report.reason.strip() else (
            _last_meaningful_line(out.tail("stderr"), adapter.noise))
        if not reason and (adapter.prints is None or report.missing):  # stdout is not JSON
            stdout = out.tail("stdout")
            # A JSON fragment is no reason: the result itself was cut short or broken.
            reason = _last_meaningful_line(stdout, adapter.noise + (("{", "[") if report.missing
                                                                    else ()))
            if not reason and report.missing and re.search(r"^\s*[{\[]", stdout, re.M):
                reason, report.missing = f"its {report.missing} was cut short or unreadable", None
        report.reason = " ".join(reason.split())[:_MAX_REASON] if reason else None
    else:
        report.reason = None
    return report


_MAX_REASON = 500  # characters of an agent's reason kept in ``error``
_SESSION = _LazyPattern(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,199}")
# Lines that carry no reason of their own: stack frames, JSON punctuation, rules.
# Rust backtraces (Codex) too: "Stack backtrace:", "  9: <unknown>", "  3: codex::main".
_NOT_A_REASON = _LazyPattern(r"^(at |File \"|Traceback |Stack backtrace:|[0-9]+: (<unknown>|0x[0-9a-f]+ - "
                             r"|\S*::\S)|[\]\[{}(),:;.\-=_*#~|+`'\"─━═\s]*$)")
_ANSI = _LazyPattern(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?")


def _last_meaningful_line(text: str, noise: "tuple[str, ...]" = ()) -> Optional[str]:
    """The line of ``text`` most likely to say what went wrong: the last that looks like
    an error among the last 40 lines with words (not starting with ``noise``), else the
    last of those."""
    lines = [line.strip() for line in _ANSI.sub("", text).splitlines()]
    lines = [line for line in lines
             if line and not _NOT_A_REASON.match(line) and not line.startswith(noise)][-40:]
    for line in reversed(lines):
        if re.search(r"error|fail|refuse|denied|cannot|can't|not found|invalid|unknown|"
                     r"unexpected|not allowed|exceeded|forbidden|unauthori[sz]ed", line, re.I):
            return line
    return lines[-1] if lines else None


def _last_json_with(text: str, key: str, at_line_start: bool = False) -> Optional[dict]:
    """The last JSON object with ``key`` in ``text``, even with text after it (Gemini CLI
    prints its error object to stderr, the second copy after ``[ERROR] ``; litellm may
    log a line after architect's result). Objects start a line, or follow ``] `` or a
    space unless ``at_line_start``."""
    import json
    decoder = json.JSONDecoder()
    for match in reversed(list(re.finditer(r"\{", text))):
        before = text[match.start() - 1] if match.start() else "\n"
        if before != "\n" and (at_line_start or before not in "] "):
            continue
        try:
            value, _end = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):  # deep nesting
            continue
        if isinstance(value, dict) and key in value:
            return value
    return None


######################################################################
# The runner
######################################################################

class ParallelRunner:
    """Runs the workers of one ``ParallelConfig`` in a repository.

    ``workspace_root`` is any folder inside the repository. ``progress``, if
    given, is called with one line of text per event (from worker threads);
    ``on_state``, if given, with a dict per change of a worker's state.
    """

    def __init__(self, config: ParallelConfig, workspace_root: str = ".",
                 progress: Optional[Callable[[str], None]] = None,
                 on_state: Optional[Callable[[dict], None]] = None):
        self.config = config
        self.workspace_root = os.path.abspath(workspace_root)
        self.results: List[WorkerResult] = []
        self.run_info: dict = {}  # times, base, version and configuration of the last run()
        self.top: Optional[str] = None  # the repository's top folder, once run() found it
        self.warnings: List[str] = []
        self._bases: Dict[int, str] = {}  # worker id: its own base (see recheck)
        self._progress = progress or (lambda line: None)
        # Called with {worker, model, task, state, detail} at each change of a worker's
        # state; without it, starts and ends are reported as lines to progress.
        self._on_state = on_state
        self._cancel = threading.Event()  # stop: set by a signal
        self._halt = threading.Event()  # start nothing more, stop what runs: a signal, or a win
        self._won: Optional[dict] = None  # --stop-on-pass: {"worker", "after"} once one passed
        self._spend_lock = threading.Lock()
        self._spent = 0.0  # USD the agents of this run reported so far (finished attempts)
        self._hurry = threading.Event()  # a second signal: no grace period
        self._signum: Optional[int] = None  # the signal that stopped the run
        self._token = ""  # identifies this run's agents (see _lock and _run_process)
        self._tasks_dir = ""  # where each worker's task is written for {task_file}
        self._git_lock = threading.Lock()  # worktree creation takes git's ref and index locks
        self._turns = _Turns(_cores())  # checkouts: one per core, in worker order
        self._watch: Optional[_OutsideWatch] = None  # set for each run
        self._stale_attempts: Dict[int, List[str]] = {}
        self._procs_lock = threading.Lock()
        self._procs: Dict[int, _Agent] = {}
        self._running: Dict[int, float] = {}  # worker id: when its agent started
        self._agent_env: Dict[str, str] = {}  # set for each run: git identity for agents
        self._slow_hint: Optional[float] = 600.0  # seconds; None once the hint was given
        self._run_started = 0.0  # time.time() when the workers were queued
        self._sandbox: Optional[_Sandbox] = None  # set for each run (--sandbox)
        self._allowed: List[str] = []  # the real paths of --sandbox-allow
        self._boxes: Dict[int, _Box] = {}  # worker id: its sandbox while it runs
        self._timelines: Dict[int, List[dict]] = {}  # worker id: its states so far (see _state)
        self._settled: "set[int]" = set()  # the workers _settle saw (see _settle_again)
        self._config_digest: Optional[str] = None  # .git/config when the run started (merge)

    # -- public API ----------------------------------------------------

    def run(self, spent: float = 0.0) -> List[WorkerResult]:
        """Run every worker and return their results, sorted by worker_id. ``spent``: USD
        the plan's earlier runs spent, counted against ``budget_total`` (rerun).

        Raises ParallelError before creating anything when the run cannot start.
        On KeyboardInterrupt every agent is stopped, unfinished workers are
        recorded as ``interrupted``, results are saved, and the interrupt is
        re-raised; ``self.results`` then holds what is known.
        """
        self._cancel.clear()
        self._halt.clear()
        self._hurry.clear()
        self._won, self._spent = None, spent
        repo, command, base_commit, all_jobs = self._prepare(find_agent=True)
        padding = _padding(self.config)
        if padding and not self._bases:  # (recheck: no agent repeats anything)
            self._progress(padding)
        jobs = [j for j in all_jobs
                if not self.config.only_workers or j.worker_id in self.config.only_workers]
        with self._lock(repo), self._catch_signals():
            results = self._run_locked(repo, command, jobs, base_commit, all_jobs)
        if self._signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self._signum is not None:
            raise _Signalled(self._signum)
        return results

    def recheck(self, commits: Dict[int, str]) -> List[WorkerResult]:
        """Run the plan's setup and checks again on each worker's commit (worker id: a full
        commit id its branch holds), as a worker whose agent does nothing: in a fresh
        worktree on its branch at that commit, in the run's sandbox when it has one. The
        results' checks are what ran here (collect --recheck)."""
        self.config = dataclasses.replace(
            self.config, agent_cmd=_NO_AGENT, only_workers=sorted(commits), retries=0,
            stop_on_pass=False, budget_total=None, check_all=False)
        self._bases = dict(commits)
        try:
            return [r for r in self.run() if r.worker_id in commits]
        finally:
            self._bases = {}

    def plan(self) -> "tuple[List[dict], dict]":
        """What run() would do, creating nothing: one dict per worker, and the run's metadata.

        The agent command need not be installed (a CI plan job may not have it).
        """
        _repo, _command, base_commit, jobs = self._prepare(find_agent=False)
        workers = [{"worker": j.worker_id, "task": j.task, "model": j.model or "default",
                    "branch": j.branch} for j in jobs]
        return workers, self._run_info(jobs, base_commit, time.time())

    def continue_worker(self, previous: WorkerResult, task: str, resume: bool = True,
                        spent: float = 0.0) -> WorkerResult:
        """Run worker ``previous``'s agent and model again in its worktree, on its branch,
        with the follow-up ``task``; commit on top and run the checks again. When its
        preset CLI can and ``previous`` named a session, that session is resumed (unless
        not ``resume``). ``spent``: what the run had spent, for --budget-total. Returns
        ``previous`` updated: status, checks, files and error are the follow-up's, time,
        cost, steps and tokens the sum, and ``continued`` records it.

        Raises ParallelError when the worktree is gone, holds changes or commits made
        after its run, or while another run holds the repository.
        """
        self._cancel.clear()
        self._halt.clear()
        self._hurry.clear()
        self._won, self._spent = None, spent
        self.config.validate()
        if not isinstance(task, str) or not task.strip():
            raise ConfigError("continue needs a follow-up task")
        if self._budget_spent():
            raise ParallelError(f"the run's known spend ${spent:.4f} has reached --budget-total "
                                f"${self.config.budget_total:.4f}; give continue a larger one")
        repo = _Repo.find(self.workspace_root)
        self.top = repo.top
        self._tasks_dir = os.path.join(repo.common_dir, _STATE_DIR, "tasks")
        command = _AgentCommand.parse(self.config.agent_cmd)
        self._sandbox = self._resolve_sandbox(repo)
        job = _Job(previous.worker_id, task, None if previous.model == "default" else previous.model,
                   previous.branch, previous.worktree_path)
        can = command.preset and command.adapter.resume  # a template's flags are its own
        with self._lock(repo), self._catch_signals():
            self._check_continuable(repo, job, previous)
            follow_up = _FollowUp(
                f"continue-{len(previous.continued) + 1}",
                previous.session_id if resume and can else None, command.adapter.session_totals,
                [name for name in repo.include_files(self.config.include)  # never committed
                 if os.path.lexists(os.path.join(job.path, name))])
            repo.exclude([f"/{WORKTREE_PREFIX}*/", *command.adapter.bookkeeping])
            self._agent_env = _git_config_env(os.environ, _agent_git_settings(repo))
            self._config_digest = self._config_baseline(
                repo, repo.settings())
            self._watch = _OutsideWatch(repo, self._warn)
            self._run_started = time.time()
            self._timelines = {job.worker_id: list(previous.timeline)}
            self._state(job, "queued")
            import concurrent.futures
            with self._sandboxed(repo, command), concurrent.futures.ThreadPoolExecutor(1) as pool:
                future = pool.submit(self._attempt, repo, job, previous.base_commit, command, [],
                                     repo.state_dir("logs"), follow_up)
                self._supervise([future])
                new = future.result()
            self._close_heavy([job])
            result = _followed(previous, new, follow_up)
            tip = repo.git("rev-parse", "--verify", "--quiet", f"refs/heads/{job.branch}",
                           check=False)
            if tip and tip.strip() not in (previous.commit, previous.base_commit) and \
                    new.exit_code is not None:  # (the base is no commit of its: round 87)
                result.commit = tip.strip()  # the agent's own commits count too
        result.timeline = self._timelines[job.worker_id]
        self.results = [result]
        if self._signum == signal.SIGINT:
            raise KeyboardInterrupt
        if self._signum is not None:
            raise _Signalled(self._signum)
        return result

    @property
    def spent(self) -> float:
        """USD the agents of the last run (or continue) reported: its known spend."""
        return self._spent

    @property
    def config_digest(self) -> Optional[str]:
        """A digest of the repository's git config as merge expects it (see _config_baseline)."""
        return self._config_digest

    def _config_baseline(self, repo: _Repo, config: Optional[bytes]) -> Optional[str]:
        """The digest of the git config that ``merge`` will expect: the one recorded by the
        last run when the config changed since (an agent of that run may have changed it:
        a new run must not make that change look like yours; a ``merge --force`` takes
        it), else the config's as it is now."""
        recorded = _load_last_run(repo).get("git_config")
        if isinstance(recorded, str) and recorded != _digest(config):
            self._warn(f"{os.path.join(repo.common_dir, 'config')} (or info/attributes) changed "
                       "since the last run started; 'merge' will ask for --force until you have "
                       "looked at it ('git config --local --list')")
            return recorded
        return _digest(config)

    def _supervise(self, futures: list) -> None:
        """Wait for the workers' futures; on a signal, stop every agent (see _catch_signals)."""
        import concurrent.futures
        try:
            pending = set(futures)
            while pending and not self._cancel.is_set():
                _done, pending = concurrent.futures.wait(pending, timeout=0.2)
                self._hint_timeout()
            if self._cancel.is_set():
                self._stop_all()
            # Until every worker ended, waits that end: a signal's handler runs only in this
            # thread, between two steps of Python. One that came just before a wait without
            # end (a signal to another thread, or before its lock was asked) waited for the
            # workers, which waited for it: a second Ctrl-C stopped no git (CI, stop 36).
            while pending:
                _done, pending = concurrent.futures.wait(pending, timeout=0.2)
        except KeyboardInterrupt:  # only where signals could not be caught (not the main thread)
            self._cancel.set()
            self._halt.set()
            self._stop_all()
            raise

    def _check_continuable(self, repo: _Repo, job: _Job, previous: WorkerResult) -> None:
        """Refuse to continue a worker that never ran, or in a worktree that is gone,
        elsewhere, or holds changes or commits its run did not make (a follow-up would
        take them for the agent's)."""
        name = f"worker {job.worker_id}"
        if previous.exit_code is None and not previous.commit:
            raise ParallelError(f"{name} never ran in the last run ({previous.status}): there is "
                                f"nothing to continue; run it with '{_prog()} rerun --failed'")
        worktree = next((w for w in repo.worktrees() if w["path"] == job.path), None)
        if worktree is None or not os.path.isdir(job.path):
            raise ParallelError(f"{name}'s worktree {job.path} is gone (removed by cleanup?): "
                                "continue works in it; run the worker again instead")
        if worktree.get("branch") != job.branch:
            raise ParallelError(f"{job.path} is not on {job.branch} but on "
                                f"{worktree.get('branch') or 'a detached HEAD'}; switch it back "
                                "first")
        unrecorded = repo.unrecorded_changes(job.path)  # (ignored files too: the agent may
        if unrecorded:                                  # read, change or delete them)
            raise ParallelError(f"{job.path} {unrecorded}; commit, move or discard them first "
                                "(continue would take them for the agent's, and its agent could "
                                "change or delete them)")
        tip = repo.tip(job.branch)
        moved = repo.branch_moved(job.branch, tip)  # (by commit, never by time)
        if moved or (moved is None and tip not in (previous.commit, previous.base_commit)):
            raise ParallelError(f"{job.branch} has commits made after {name}'s run; continue "
                                "would take them for the agent's (merge or move them first)")

    def _prepare(self, find_agent: bool) -> "tuple[_Repo, _AgentCommand, str, List[_Job]]":
        """Check everything a run needs; return the repository, command, base and jobs."""
        self.config.validate()
        repo = _Repo.find(self.workspace_root)
        self.top = repo.top
        self._tasks_dir = os.path.join(repo.common_dir, _STATE_DIR, "tasks")
        command = _AgentCommand.parse(self.config.agent_cmd, find=find_agent)
        self._sandbox = self._resolve_sandbox(repo) if find_agent else None
        base_commit = repo.resolve_base(self.config.base_branch)
        jobs = _plan(self.config, repo.top)
        if self.config.only_workers:
            outside = sorted(set(self.config.only_workers) - {j.worker_id for j in jobs})
            if outside:
                raise ConfigError(f"--only-workers: this plan has workers 1-{len(jobs)}, "
                                  f"not {', '.join(map(str, outside))}")
        for job in jobs:  # a template that cannot be filled in fails now, not per worker
            argv = command.argv(self._values(job, base_commit))
            refusal = command.adapter.check and command.adapter.check(
                argv, command.environment(_clean_env()))
            if refusal and find_agent and not self._sandbox:  # inside, it is not root
                raise ParallelError(refusal)
        return repo, command, base_commit, jobs

    @contextlib.contextmanager
    def _lock(self, repo: _Repo, stop_orphans: bool = True) -> Iterator[None]:
        """Hold the repository's run lock (see _Repo.lock). A lock left by a runner that
        was killed is taken over, and the agents that runner left running are stopped."""
        self._token = os.urandom(6).hex()
        with repo.lock(self._token) as record:
            if record.stale and stop_orphans:
                pid, token = record.stale
                stopped = _kill_trees([], _TERM_GRACE, run_token=token)
                _Sandbox.remove_stale(repo, token)
                record.taken_over()
                self._warn(f"the architect-parallel with pid {pid} ended without releasing its "
                           "lock (killed?); took the lock over" + (
                               f" and stopped the {stopped} process(es) it left running"
                               if stopped else ""))
            elif record.stale:
                self._warn(f"the architect-parallel with pid {record.stale[0]} ended without "
                           "releasing its lock (killed?); the next run or cleanup stops what it "
                           "left running")
            yield

    @contextlib.contextmanager
    def _catch_signals(self) -> Iterator[None]:
        """While workers run, Ctrl-C, SIGTERM and SIGHUP ask for a stop instead of raising.

        An exception raised at a random point of the main thread could leave the
        thread pool's locks held; a flag is checked where stopping is safe. A
        second signal skips the grace period of the stop.
        """
        self._signum = None
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def handler(signum: int, _frame: object) -> None:
            if self._signum is None:
                self._signum = signum
                self._cancel.set()
                self._halt.set()
            else:
                self._hurry.set()

        previous = {sig: signal.signal(sig, handler)
                    for sig in _caught_signals(signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
        try:
            yield
        finally:
            for sig, old in previous.items():
                signal.signal(sig, old)

    def _run_locked(self, repo: _Repo, command: _AgentCommand, jobs: List[_Job],
                    base_commit: str, all_jobs: List[_Job]) -> List[WorkerResult]:
        repo.prune_worktrees()
        self._check_nothing_lost(repo, jobs, base_commit)
        includes = repo.include_files(self.config.include)
        # The worktree folders stay out of git status in the main checkout, and the CLI's
        # own state files out of every commit, status and count.
        repo.exclude([f"/{WORKTREE_PREFIX}*/", *command.adapter.bookkeeping])
        shown = repo.shown_folders([os.path.basename(job.path) for job in jobs])
        if shown:  # (merge asks about the first 64 only: a rule can name any number)
            self._warn(f"your ignore rules show the worktree folders {_shorten(', '.join(shown), 200)}"
                       " (a .gitignore line such as `!.architect-parallel-1??/`): your "
                       "`git add -A` would make them submodules of your checkout, whose own git "
                       "then runs in them; change that rule")
        self._agent_env = _git_config_env(os.environ, _agent_git_settings(repo))
        git_config = repo.settings()
        self._config_digest = self._config_baseline(repo, git_config)
        credentials = _config_credentials(git_config)
        if credentials:
            self._warn(f"{os.path.join(repo.common_dir, 'config')} holds a credential "
                       f"({_shorten(', '.join(credentials), 200)}) that every agent can read, "
                       "sandboxed or not; check out without it (actions/checkout: "
                       "persist-credentials: false)")
        self._watch = _OutsideWatch(repo, self._warn)  # its first git status also tells this:
        if self._watch.changed_files():
            self._warn("the main checkout has uncommitted changes; workers start from "
                       f"{base_commit[:12]} and will not see them")
        logs = repo.state_dir("logs")
        self._stale_attempts = {}  # worker id: attempt logs of an earlier run, listed once
        for name in os.listdir(logs):
            match = re.match(r"worker-([0-9]+)\.attempt-", name)
            if match:
                self._stale_attempts.setdefault(int(match.group(1)), []).append(name)
        with self._sandboxed(repo, command):
            return self._run_workers(repo, command, jobs, base_commit, all_jobs, includes, logs,
                                     git_config)

    def _run_workers(self, repo: _Repo, command: _AgentCommand, jobs: List[_Job],
                     base_commit: str, all_jobs: List[_Job], includes: List[str], logs: str,
                     git_config: Optional[bytes]) -> List[WorkerResult]:
        """Run ``jobs`` on the thread pool to their ends; rank and save their results."""
        started = self._run_started = time.time()
        self.results = []
        self._settled = set()
        self._timelines = {job.worker_id: [] for job in jobs}
        for job in jobs:
            self._state(job, "queued")
        import concurrent.futures  # here, not at the top: start-up time (see _LazyPattern)

        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.config.workers, thread_name_prefix="architect-parallel")
        futures = [pool.submit(self._work, repo, job, self._bases.get(job.worker_id, base_commit),
                               command, includes, logs)
                   for job in jobs]
        try:
            self._supervise(futures)
        finally:
            pool.shutdown(wait=True)
            self._hold_branches(repo, jobs)
            self._tame_all(repo, jobs)
            self._settle_again(repo, jobs, [f.result() for f in futures if f.done()])
            self._close_heavy(jobs)
            if not repo.empty_trash():
                self._warn(f"{os.path.join(repo.common_dir, _STATE_DIR, 'trash')}: what a retry "
                           "removed could not be removed whole (a process still writes there?); "
                           "what stays is yours alone, without set-ID bits")
            if repo.settings() != git_config:
                self._warn(f"{os.path.join(repo.common_dir, 'config')} changed during the run: an "
                           "agent or a setup or check command changed your git settings; "
                           "look with 'git config --local --list'")
            self.results = _rank([f.result() for f in futures])
            self.run_info = self._run_info(all_jobs, base_commit, started)
            try:
                _save_last_run(repo, self.run_info, self.results)
            except (OSError, ParallelError) as exc:
                self._warn(f"could not save the results for 'list': {exc}")
        return self.results

    @staticmethod
    def _close_heavy(jobs: List[_Job]) -> None:
        """Once the workers ended: no git of this process runs in a worktree found holding more
        rules than a git may read (see _heavy), as none of a later command does (round 103:
        the run's footer, asking cleanup's question, ran three gits of 1.1 GB each there)."""
        for job in jobs:
            if job.heavy:
                _COUNTED[job.path] = False

    def _settle_again(self, repo: _Repo, jobs: List[_Job], results: List[WorkerResult]) -> None:
        """Once every worker ended: each settled worktree settled again (see _settle: its git
        folder swept, its HEAD, index and branch checked) and its state recorded again. A worker still running when another
        ended could write the other's index since (handed a descriptor of its git folder; as
        a user, every sandbox is your account; unsandboxed, it needs none): flags that hide
        your later edits there from status and cleanup, content staged that no diff shows."""
        if len(jobs) < 2:
            return
        by_id = {r.worker_id: r for r in results}
        for job in jobs:
            result = by_id.get(job.worker_id)
            if result is not None and job.worker_id in self._settled:
                self._settle(repo, job, result)  # (its git folder swept, HEAD, index, branch)

    def _tame_all(self, repo: _Repo, jobs: List[_Job]) -> None:
        """Once every worker ended, in a sandboxed run: no set-ID bit and no write for others
        in any worktree of the run or folder --sandbox-allow named. A worker writes those,
        and another still running could have written into an ended one's (handed a descriptor
        of it): a set-user-ID program of the sandbox's account (or yours) left there would
        let any local account become it."""
        if self._sandbox is None:
            return
        set_id = stat.S_ISUID | stat.S_ISGID  # (in an allowed folder, its modes are yours)
        # As root, a worktree's files are the sandbox's account's and group: no write for
        # that group either (a process of it outside would write there after the run).
        write = stat.S_IWOTH | (stat.S_IWGRP if self._sandbox.host_id is not None else 0)
        for top, bits in [(job.path, set_id | write) for job in jobs] + [
                (path, set_id) for path in self._allowed]:
            if os.path.isdir(top) and not os.path.islink(top):
                for _folder, fd, _dirs, files in _walk_at(top, force=top not in self._allowed):
                    if top not in self._allowed:  # (its folders' modes, set-group-ID too, are yours)
                        _tame(fd, bits)
                    for name in files:
                        st = _stat_at(fd, name)
                        if st is not None and stat.S_ISREG(st.st_mode):
                            _tame_at(fd, name, st, bits)

    def _hold_branches(self, repo: _Repo, jobs: List[_Job]) -> None:
        """Once every worker ended: each branch where its worker's end left it (see
        _settle_branch). A process of another worker (unsandboxed) may have moved it since,
        and rewritten what the runner recorded of it: both are put back, with a warning."""
        for job in jobs:
            tip = job.tip
            if not tip:
                continue
            try:
                ref = f"refs/heads/{job.branch}"
                now = repo.tip(job.branch)
                if now != tip:
                    repo.git("update-ref", ref, tip)
                    self._warn(f"{job.branch} was moved to {now[:12] or 'nothing'} after worker "
                               f"{job.worker_id} ended (by a process of another worker?); it was "
                               f"put back at {tip[:12]}")
                repo.record_branch(job.branch, tip)
            except (ParallelError, OSError) as exc:
                self._warn(f"worker {job.worker_id}: cannot check its branch: {exc}")

    def cleanup(self, dry_run: bool = False, keep_branches: bool = False,
                force: bool = False) -> int:
        """Remove every parallel worktree and branch; return the number of worktrees removed.

        Each removal is reported through ``progress``; each deleted branch with the commit
        that brings it back. Running it again removes nothing. ``keep_branches`` keeps the
        branches (and so the committed work). Work done in them since the last run
        recorded its results (uncommitted changes in a worktree, commits added to a
        branch) is not deleted unless ``force``: ParallelError names it.
        """
        repo = _Repo.find(self.workspace_root)
        with self._lock(repo, stop_orphans=not dry_run):
            return self._cleanup_locked(repo, dry_run, keep_branches, force)

    def _cleanup_locked(self, repo: _Repo, dry_run: bool, keep_branches: bool,
                        force: bool) -> int:
        repo.prune_worktrees()
        worktrees, ours, branches, tips, unsaved = self.cleanup_plan(repo, keep_branches)
        for wt in worktrees:  # (its git folder rewritten to name a folder elsewhere)
            if wt.get("locked") and repo.ours(wt["path"]):
                self._warn(f"the worktree {wt['path']} is locked ({_shorten(wt['locked'], 200)}); "
                           f"left in place with its branch (remove it with 'git worktree unlock "
                           f"{wt['path']}', then cleanup)")
            elif _is_worker_path(wt["path"]) and wt not in ours and wt["path"] != repo.top:
                self._warn(f"a worktree entry of this repository names {wt['path']}, which is "
                           "not where its workers' worktrees are; left in place (look at it "
                           "with 'git worktree list')")
        locked = {wt.get("branch") for wt in worktrees
                  if wt.get("locked") and repo.ours(wt["path"])}
        for branch in sorted(set([] if keep_branches else repo.parallel_branches())
                             - set(branches) - locked):
            self._warn(f"branch {branch} is checked out in another worktree; left in place")
        if unsaved and not force and not dry_run:
            raise ParallelError(
                "would delete work done since the last run: " + "; ".join(
                    f"{name} {what}" for name, what in unsaved.items())
                + " (commit, merge or move it first, or rerun cleanup with --force to delete it)")
        marks = {name: f" ({what}{'; --force deletes it' if dry_run else ''})"
                 for name, what in unsaved.items()}
        if dry_run:
            for wt in ours:
                self._progress(f"would remove worktree {wt['path']}"
                               + marks.get(os.path.basename(wt["path"]), ""))
        elif ours:
            import concurrent.futures

            def remove(path: str) -> None:
                repo.discard(path)  # (never by git: see discard)
                if os.path.lexists(path):
                    raise ParallelError(f"cannot remove the worktree {path}")
                self._progress(f"removed worktree {path}")

            # Removal is mostly deleting files: several at once, one per core.
            with concurrent.futures.ThreadPoolExecutor(min(len(ours), _cores())) as pool:
                for future in [pool.submit(remove, wt["path"]) for wt in ours]:
                    future.result()  # the first failure, after all have been tried
        merged = {ref[len("refs/heads/"):] for ref in repo.git(
            "for-each-ref", "--merged", "HEAD", "--format=%(refname)",
            f"refs/heads/{BRANCH_PREFIX}*").split()} if branches else set()

        def said(verb: str) -> None:  # (as git branch -D does: the commit that brings it back)
            for branch in branches:
                self._progress(f"{verb} branch {branch} (was {tips[branch][0][:12]})"
                               + ("" if branch in merged else ", not merged into your branch")
                               + marks.get(branch, ""))
        if branches and not dry_run:
            try:
                repo.git("branch", "-D", *branches)  # one call for all of them
            except KeyboardInterrupt as interrupt:  # (round 110: deleted, and their commits
                ended = getattr(interrupt, "git_ended", None)  # never said)
                if ended == 0:
                    repo.forget_branches(branches)
                said("deleted" if ended == 0 else "may have deleted")
                raise
            repo.forget_branches(branches)
        said("would delete" if dry_run else "deleted")
        if not dry_run:
            repo.prune_worktrees()
            for folder in ("tasks", "worktrees", "submodules"):
                _remove_tree(os.path.join(repo.common_dir, _STATE_DIR, folder))
            if not repo.empty_trash():
                self._warn(f"{os.path.join(repo.common_dir, _STATE_DIR, 'trash')} could not be "
                           "removed whole (a process still writes there?)")
        registered = {wt["path"] for wt in worktrees}
        for name in sorted(os.listdir(repo.top)):
            path = os.path.join(repo.top, name)
            if _is_worker_path(path) and os.path.isdir(path) and path not in registered:
                self._warn(f"{path} is not a git worktree; left in place (remove it yourself)")
        return len(ours)

    @staticmethod
    def cleanup_plan(repo: _Repo, keep_branches: bool = False
                     ) -> "tuple[List[dict], List[dict], List[str], Dict, Dict[str, str]]":
        """What cleanup would take: the repository's worktrees, those of ours among them, the
        branches it would delete (none checked out in another worktree) and their tips, and
        what it would delete that no run recorded (see _unsaved_work), which it keeps without
        --force. The run's footer asks it too, so that its hint is what cleanup does. A
        worktree you locked (git worktree lock) is not taken, nor its branch, even with
        --force: git itself asks for two to remove one (round 105)."""
        worktrees = repo.worktrees()
        ours = [wt for wt in worktrees if repo.ours(wt["path"]) and not wt.get("locked")]
        in_use = {wt["branch"] for wt in worktrees if wt not in ours}
        branches = [branch for branch in ([] if keep_branches else repo.parallel_branches())
                    if branch not in in_use]
        tips = repo.branch_tips(branches)
        return worktrees, ours, branches, tips, ParallelRunner._unsaved_work(repo, ours, tips)

    @staticmethod
    def _unsaved_work(repo: _Repo, worktrees: List[dict],
                      tips: Dict[str, "tuple[str, int]"]) -> Dict[str, str]:
        """What cleanup would delete that no run recorded, by worktree folder or branch
        name: changes in a worktree (see _Repo.unrecorded_changes), or a branch that is not
        at the commit its run recorded (work done there by hand since)."""
        last = _load_last_run(repo)
        results = [r for r in last.get("results", []) if isinstance(r, dict)]
        ran = {r.get("branch"): r.get("commit") for r in results}
        only = {r.get("branch") for r in results if _only_in_worktree(r)}
        unsaved = {}
        for wt in worktrees:
            if not os.path.isdir(wt["path"]):
                continue
            name = os.path.basename(wt["path"])
            # (its own branch, or the one of ours it holds: moved by `git worktree move`)
            branch = wt["branch"] if str(wt.get("branch") or "").startswith(BRANCH_PREFIX) \
                else f"{BRANCH_PREFIX}{name[len(WORKTREE_PREFIX):]}"
            try:
                unrecorded = repo.unrecorded_changes(wt["path"])
                if unrecorded:
                    unsaved[name] = unrecorded
                elif (repo.left_unsaved(wt["path"]) or branch in only) and \
                        repo.prints_anything(["status", "--porcelain"], wt["path"]):
                    # (its run's own work, which no commit holds: --no-commit, its objects
                    # were refused, round 85, a repository inside, round 86; nothing else
                    # keeps it)
                    unsaved[name] = ("holds its run's uncommitted work, which no commit holds "
                                     "(or a repository inside it)")
                head = repo.git("rev-parse", "--verify", "--quiet", "HEAD", cwd=wt["path"],
                                check=False)
                if head and not repo.succeeds("merge-base", "--is-ancestor", head.strip(),
                                              f"refs/heads/{branch}") \
                        and not repo.held_elsewhere(head.strip()):  # (kept: round 105)
                    unsaved[name] = (f"has commits on a detached HEAD or another branch that "
                                     f"{branch} does not hold")
            except ParallelError as exc:  # (an index or git folder an agent broke)
                unsaved[name] = f"cannot be read by git ({exc})"
        # By commit, never by time (a results file's clock is the worker job's to say): a
        # branch is the run's where it points at the commit a run recorded (a continue's
        # commit is the run's); with no record, where the last run names its commit, or where
        # another of your branches or tags holds that commit (nothing is lost with it).
        for branch, (sha, _when) in tips.items():
            moved = repo.branch_moved(branch, sha)
            if moved is None and sha == ran.get(branch) or moved is False or \
                    repo.held_elsewhere(sha):  # (merged since, say: round 86)
                continue
            if moved:
                unsaved[branch] = "has commits made after the last run ended"
            else:
                unsaved[branch] = "has commits that no run recorded"
        return unsaved

    @staticmethod
    def list_worktrees(root: str = ".") -> List[dict]:
        """The parallel worktrees of the repository at ``root``.

        Each is ``{"worker_id", "path", "branch", "status", "sandbox"}``; status and
        sandbox come from the last run's results and are None when unknown. A parallel branch whose
        worktree is gone (``cleanup --keep-branches``, or moved to another branch's folder) is
        listed with path None.
        """
        repo = _Repo.find(os.path.abspath(root))
        by_branch = {item.get("branch"): item for item in _load_last_run(repo).get("results", [])
                     if isinstance(item, dict)}
        items = []
        parallel = set(repo.parallel_branches())
        worktrees = [wt for wt in repo.worktrees() if _is_worker_path(wt["path"])]
        for wt in worktrees:
            # A worktree holding a branch of ours is that branch's worker's (moved there by
            # `git worktree move`, or switched to it: round 105); else its folder's.
            suffix = os.path.basename(wt["path"])[len(WORKTREE_PREFIX):]
            held = wt.get("branch") if wt.get("branch") in parallel else None
            number = held[len(BRANCH_PREFIX):] if held else suffix
            known = by_branch.get(held, {}) if held else {}
            if known.get("worktree_path") not in ("", wt["path"], os.path.join(
                    repo.top, WORKTREE_PREFIX + number)):
                known = {}  # (a result of another worktree's; a collected one names none)
            items.append({
                "worker_id": int(number),
                "path": wt["path"],
                "branch": wt.get("branch"),
                "status": known.get("status"),
                "sandbox": known.get("sandbox"),
            })
        # (a worktree on a detached HEAD or a branch of yours still holds its own branch's
        # place: that branch is not one whose worktree is gone, round 104; one holding another
        # branch of ours does not, round 105)
        listed = {item["branch"] for item in items} | {
            BRANCH_PREFIX + os.path.basename(wt["path"])[len(WORKTREE_PREFIX):]
            for wt in worktrees if wt.get("branch") not in parallel}
        for branch in sorted(parallel - listed):
            suffix = branch[len(BRANCH_PREFIX):]
            items.append({"worker_id": int(suffix), "path": None, "branch": branch,
                          "status": by_branch.get(branch, {}).get("status"),
                          "sandbox": by_branch.get(branch, {}).get("sandbox")})
        items.sort(key=lambda i: (i["worker_id"] is None, i["worker_id"] or 0, i["path"] or ""))
        return items

    # -- one worker ----------------------------------------------------

    def _work(self, repo: _Repo, job: _Job, base: str, command: _AgentCommand,
              includes: List[str], logs: str) -> WorkerResult:
        """One worker, tried again in a fresh worktree while it fails or times out (--retries)."""
        for stale in self._stale_attempts.get(job.worker_id, []):  # logs of an earlier run
            with contextlib.suppress(OSError):
                os.remove(os.path.join(logs, stale))
        earlier: Optional[WorkerResult] = None  # the attempt before, failed or timed out
        for attempt in range(1, self.config.retries + 2):
            result = self._attempt(repo, job, base, command, includes, logs)
            result.timeline = self._timelines.get(job.worker_id, [])
            if earlier is not None and (_not_started(result) or result.exit_code is None):
                # a win or the cap came first, or the retry's agent never ran (its worktree
                # could not be made): the attempt that ran is the worker's result
                earlier.error = f"{earlier.error}; its retry {result.error}"
                return earlier
            result.attempts = 0 if _not_started(result) else attempt
            if earlier is not None:  # what the worker cost is what all its attempts cost
                result.cost, result.cost_known = (result.cost + earlier.cost,
                                                  result.cost_known or earlier.cost_known)
                result.tokens_in = _add(result.tokens_in, earlier.tokens_in)
                result.tokens_out = _add(result.tokens_out, earlier.tokens_out)
            if self.config.stop_on_pass and _verified(result):
                self._declare_winner(job)
            if (result.status not in ("failed", "timeout") or self._halt.is_set()
                    or self._budget_spent() or attempt > self.config.retries):
                return result
            # Keep the failed attempt's logs; the next attempt writes the usual names.
            for name in ("log_path", "stderr_path", "worker_log"):
                path = getattr(result, name)
                if path and os.path.exists(path):
                    stem, _, suffix = os.path.basename(path).partition(".")
                    kept = os.path.join(logs, f"{stem}.attempt-{attempt}.{suffix}")
                    os.replace(path, kept)
                    setattr(result, name, kept)
            earlier = result
            self._progress(f"worker {job.worker_id}: attempt {attempt} {result.status}; "
                           "trying again in a fresh worktree")
        return result

    def _attempt(self, repo: _Repo, job: _Job, base: str, command: _AgentCommand,
                 includes: List[str], logs: str, follow_up: Optional[_FollowUp] = None
                 ) -> WorkerResult:
        """Create the worktree, set it up, run the agent, commit, run the checks. With
        ``follow_up`` (continue): the worktree is there, set up; the agent may resume."""
        n = job.worker_id
        result = WorkerResult(
            worker_id=n, branch=job.branch, model=job.model or "default",
            status="failed", steps=0, cost=0.0, duration=0.0, files_modified=[],
            worktree_path=job.path, task=job.task, base_commit=base,
            checks_total=len(self.config.checks))
        halted = self._halted() or self._budget_spent()
        if halted:
            result.status, result.error = halted
            if result.status == "skipped" and follow_up is None:
                self._clear_stale(repo, job, base)
            self._state(job, result.status, result.error)
            return result
        agent_ran, copied, env = False, [], {}
        try:
            env, argv = self._agent_call(job, base, command)
            if follow_up and follow_up.session:
                argv = command.adapter.resume(argv, follow_up.session)  # type: ignore[misc]
            too_long = _too_long(argv, env)
            if too_long:
                result.error = too_long
                return result
            if follow_up is None:
                copied = self._set_up(repo, job, base, command, includes, env, result, logs)
                if copied is None:
                    return result
            else:
                copied = follow_up.copied
                repo.whole_index(job.path)
                job.pointers = repo.pointers(job.path)  # (as the run's end left them)
                result.worker_log = os.path.join(logs, f"worker-{n}.{follow_up.stem}.log")
                with open(_fresh(result.worker_log), "wb") as log:
                    log.write(f"worker {n} in {job.path}: {follow_up.stem}\n".encode())
                self._box(repo, job, command, env, result, follow_up.session)
            agent_ran = True
            job.submodules = repo.submodules_at_start(job.path, follow_up is None)
            self._run_agent(repo, job, command, argv, env, result, logs,
                            follow_up.stem if follow_up else None)
        except ParallelError as exc:
            result.error = str(exc)
        except OSError as exc:  # e.g. the log folder vanished or the agent cannot be executed
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            interrupted = result.status == "interrupted"
            if agent_ran and os.path.isdir(job.path):
                # The runner's own git calls there run in its sandbox too: a repository
                # the agent made inside could hold settings that run code.
                # Its gits stop at the check timeout: the agent made what they read.
                box = self._boxes.get(n)
                if not self._heavy(repo, job, result):
                    self._finish(repo.wrapped(box.wrap() if box else None,
                                              self.config.check_timeout, self._hurry),
                                 job, result, env, copied,
                                 repo.wrapped(None, self.config.check_timeout, self._hurry))
            self._unbox(job, result)
            self._forget_missing(repo, job, result)
            if agent_ran:
                self._settle(repo, job, result)
                self._settled.add(n)
            if interrupted and self._hurry.is_set() and result.status == "failed":
                result.status = "interrupted"  # (what a second interrupt stopped: see _git_run)
            if result.sandbox:
                self._say_refused(job, result)
            with self._spend_lock:  # every attempt's cost counts
                self._spent += result.cost if result.cost_known else 0.0
            self._ended(job, result)
        return result

    def _say_refused(self, job: _Job, result: WorkerResult) -> None:
        """A sandboxed worker that hit its sandbox: name the path in its error (or, when it
        succeeded, in a warning) with the option that lets workers write it."""
        def writable(path: str) -> bool:  # (the repository may lie in /tmp)
            return _inside(job.path, path) or any(_inside(p, path) for p in self._allowed) or (
                any(_inside(t, path) for t in ("/tmp", "/var/tmp"))
                and not _inside(self.top or "/", path))

        result.sandbox_refused = _refused(
            [result.stderr_path, result.log_path, result.worker_log], writable)
        if not result.sandbox_refused:
            return
        first, more = result.sandbox_refused[0], len(result.sandbox_refused) - 1
        hint = (f"the sandbox refused a write to {first}"
                + (f" and {more} more path(s)" if more else "")
                # (an agent may print any such line: the option is named only where it fits)
                + (" (read-only there; --sandbox-allow PATH lets workers write a path)"
                   if _Sandbox.allowable(first, self.top or "/") else " (read-only there)"))
        if result.status == "success":
            self._warn(f"worker {job.worker_id}: {hint}")
        else:
            result.error = f"{result.error}; {hint}" if result.error else hint

    def _agent_call(self, job: _Job, base: str,
                    command: _AgentCommand) -> "tuple[Dict[str, str], List[str]]":
        """The agent's environment and command line; its task written for {task_file}."""
        values = self._values(job, base)
        env = command.environment(_clean_env())
        env.update(self._agent_env)
        env.update({f"ARCHITECT_PARALLEL_{key.upper()}": values[key] or ""
                    for key in ("worker", "task", "task_file", "model", "branch", "worktree",
                                "base", "port")})
        if len(_encode(job.task)) > _MAX_ARG_BYTES - 100:  # too long for the environment
            del env["ARCHITECT_PARALLEL_TASK"]
        os.makedirs(self._tasks_dir, exist_ok=True)
        with open(values["task_file"] or "", "wb") as f:
            f.write(_encode(job.task))
        argv = command.argv(values)
        if self._sandbox and command.preset and command.adapter.in_sandbox:
            argv = command.adapter.in_sandbox(argv)
        return env, argv

    def _set_up(self, repo: _Repo, job: _Job, base: str, command: _AgentCommand,
                includes: List[str], env: Dict[str, str], result: WorkerResult,
                logs: str) -> Optional[List[str]]:
        """Create the worktree (in turn) and run the setup commands; return the include
        files copied in, or None when the worker must not go on (``result`` says why)."""
        n = job.worker_id
        with self._turns.turn(n, self._halt) as granted:
            if not granted:
                result.status, result.error = self._halted() or ("interrupted", "not started")
                if result.status == "skipped":
                    self._clear_stale(repo, job, base)
                return None
            self._state(job, "creating")
            created = self._create(repo, job, base, includes, command, env, result)
        if created is None or self._halt.is_set():
            if created is not None:
                self._remove(repo, job, base)  # kept only if the worker ran
                result.sandbox = None
            result.status, result.error = self._halted() or ("interrupted", "not started")
            return None
        result.worker_log = os.path.join(logs, f"worker-{n}.log")
        with open(_fresh(result.worker_log), "wb") as log:
            log.write(f"worker {n} in {job.path}; copied {len(created)} file(s)\n".encode())
        if self.config.setup:
            self._state(job, "setup")
        for cmd in self.config.setup:
            code, timed_out, _ = self._run_shell(n, cmd, job.path, env, result.worker_log, "setup")
            if self._halt.is_set():
                result.status, result.error = self._stopped(result.error, "during setup")
                return None
            if code != 0:
                result.error = (f"setup command {cmd!r} "
                                + ("timed out" if timed_out else f"failed with exit code {code}")
                                + f"; see {result.worker_log}")
                return None
        return created

    def _run_agent(self, repo: _Repo, job: _Job, command: _AgentCommand, argv: List[str],
                   env: Dict[str, str], result: WorkerResult, logs: str,
                   stem: Optional[str]) -> None:
        """Run the agent to its end or its deadline, then judge what it did."""
        n = job.worker_id
        name = f"worker-{n}" + (f".{stem}" if stem else "")
        result.log_path = os.path.join(logs, f"{name}.stdout.log")
        result.stderr_path = os.path.join(logs, f"{name}.stderr.log")
        self._state(job, "running")
        timeout = self.config.timeout_per_worker
        started = time.monotonic()
        self._watch.started(n)
        self._running[n] = started
        try:
            exit_code, timed_out = self._run_process(
                n, argv, job.path, env, result.log_path, result.stderr_path,
                None if timeout is None else timeout + _DEADLINE_GRACE)
        finally:
            self._running.pop(n, None)
            outside = self._watch.ended(n)
        result.duration = round(time.monotonic() - started, 3)
        result.exit_code = exit_code
        self._judge(repo, job, command.adapter, result, timed_out, outside)

    def _ended(self, job: _Job, result: WorkerResult) -> None:
        """Report the worker's final state, with its time, cost, checks and error."""
        if _not_started(result):
            self._state(job, result.status, result.error or "")
            return
        detail = f"{result.duration:.1f}s"
        if result.cost_known:
            detail += f" ${result.cost:.4f}"
        if result.checks_total:
            detail += f" checks {_checks_cell(result)}"
        self._state(job, result.status, detail + (f" ({result.error})" if result.error else ""))

    def _judge(self, repo: _Repo, job: _Job, adapter: _Adapter, result: WorkerResult,
               timed_out: bool, outside: List[str]) -> None:
        """Read what the agent reported into ``result``; decide its status and error."""
        report = _read_result(adapter, _Output(result.log_path, result.stderr_path,
                                               result.exit_code, self._hurry))
        result.status = "timeout" if timed_out else report.status
        result.steps, result.steps_known = ((report.steps, True) if report.steps is not None
                                            else (0, False))
        result.cost, result.cost_known = ((report.cost, True) if report.cost is not None
                                          else (0.0, False))
        result.tokens_in, result.tokens_out = report.tokens_in, report.tokens_out
        result.session_id = report.session
        if self._halt.is_set() and not (report.status == "success" and self._won is not None
                                        and not self._cancel.is_set()):
            # (an agent that had printed its success when another won finished its work)
            result.status, result.error = self._stopped(result.error)
        elif timed_out:
            last = report.reason if report.status != "success" else None
            result.error = (f"stopped after {self.config.timeout_per_worker}s timeout"
                            + (f"; its last words: {_shorten(last, 200)}" if last else ""))
        elif not os.path.isdir(job.path):
            result.status, result.error = "failed", "the agent removed its own worktree"
        elif outside:
            result.status = "failed"
            result.error = (f"the agent wrote outside its worktree: {_some(outside, 5, 10_000)}"
                            + f" in the main checkout {repo.top} changed while it alone ran")
        elif result.status != "success":
            code = result.exit_code
            notes = ([f"exit code {code}"] if code else []) + (
                [f"no {report.missing}"] if report.missing else [])
            if report.reason:
                result.error = report.reason + (f" ({', '.join(notes)})" if notes else "")
            elif result.status == "failed" and report.missing:
                result.error = f"agent exited with code {code} and printed nothing"
            elif result.status == "failed":
                result.error = "the agent reported a failure without a reason" + (
                    f" (exit code {code})" if code else "")

    def _create(self, repo: _Repo, job: _Job, base: str, includes: List[str],
                command: _AgentCommand, env: Dict[str, str],
                result: WorkerResult) -> Optional[List[str]]:
        """Create the worker's worktree (and its sandbox, if the run has one) and copy the
        include files into it; return those.

        On failure nothing of it remains (the worker has not run, so nothing is
        lost), and the error names the worktree and carries git's own message;
        None if the run was stopped meanwhile.
        """
        registered = False
        try:
            with self._git_lock:
                repo.create_worktree(job.path, job.branch, base)
            registered = True
            job.pointers = repo.pointers(job.path)
            box = self._box(repo, job, command, env, result)
            # A root runner's sandbox user writes the worktree: it checks it out itself.
            inside = box if box and box.sandbox.host_id is not None else None
            repo.wrapped(inside.wrap() if inside else None).populate_worktree(job.path)
            copied = _copy_files(repo.top, job.path, includes)
            if box:
                box.own(copied)
            return copied
        except (ParallelError, OSError) as exc:
            reason = (exc.reason if isinstance(exc, _GitError) else
                      str(exc) if isinstance(exc, ParallelError) else
                      f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""))
            result.sandbox = None
            # A failed 'git worktree add' takes back its own folder; its branch may remain.
            self._remove(repo, job, base, worktree=registered)
            if self._cancel.is_set():
                return None
            raise ParallelError(f"cannot create worktree {job.path}: {reason}") from None

    def _clear_stale(self, repo: _Repo, job: _Job, base: str) -> None:
        """A skipped worker has no worktree or branch: take back what an earlier run left
        at its place (clean, or --force said it would be discarded)."""
        if os.path.lexists(job.path) or repo.branch_exists(job.branch):
            self._remove(repo, job, base, worktree=os.path.lexists(job.path))
            if self.config.force and repo.branch_exists(job.branch):
                with self._git_lock:
                    repo.git("branch", "-D", "--quiet", job.branch, check=False)

    def _remove(self, repo: _Repo, job: _Job, base: str, worktree: bool = True) -> None:
        """Take back a worktree and its branch that no agent, setup or check has used, and
        its sandbox: none of it is brought in (round 101: a stop during the creation of
        worktrees failed those workers, whose sandboxes found no git folder to bring in)."""
        box = self._boxes.pop(job.worker_id, None)
        if box:
            box.discard()
        with self._git_lock:
            try:
                repo.remove_worktree(job.path if worktree else None, job.branch, base)
            except (ParallelError, OSError) as exc:
                self._warn(f"could not remove the unused worktree {job.path}: {exc}")

    def _state(self, job: _Job, state: str, detail: str = "") -> None:
        """Report that worker ``job`` entered ``state`` (queued, creating, setup, running,
        checking, or its final status) to ``on_state``, or as a line to ``progress``;
        record it in the worker's timeline."""
        self._timelines.setdefault(job.worker_id, []).append(
            {"state": state, "at": time.time()})
        if self._on_state is not None:
            self._on_state({"worker": job.worker_id, "model": job.model or "default",
                            "task": job.task, "state": state, "detail": detail,
                            "spent": self._spent, "budget_total": self.config.budget_total})
        elif state == "running":
            self._progress(f"worker {job.worker_id} started ({job.model or 'default'}): "
                           f"{_shorten(job.task, 60)}")
        elif state in STATUSES:
            self._progress(f"worker {job.worker_id} {state} {detail}".rstrip())

    def _finish(self, repo: _Repo, job: _Job, result: WorkerResult, env: Dict[str, str],
                copied: List[str], outside: _Repo) -> None:
        """After the agent: commit its changes, list the changed files, run the checks.
        ``repo`` runs its gits where the agent ran (its sandbox), ``outside`` with the
        runner's own git and settings: what decides whether the checks may run on the
        worktree (it holds what the commit holds) is asked there.

        The copied include files are neither committed nor counted. Each step goes on
        when an earlier one failed; the first error is kept.
        """
        def note(exc: Exception) -> None:
            if isinstance(exc, _Refused):  # its work is not taken in: it failed
                result.status, result.error = "failed", str(exc)
            elif not result.error:
                result.error = str(exc) if isinstance(exc, ParallelError) else f"{type(exc).__name__}: {exc}"

        committed, taken = False, True
        try:
            self._drop_pending(job, job.pointers[1][0] if job.pointers else
                               outside.admin_folder(job.path, strict=False))
            self._commit(repo, job, result, copied)
            committed = self.config.commit
        except _Unread:  # (failed: no git of the runner reads it, see _heavy)
            return
        except (ParallelError, OSError) as exc:  # its branch does not hold what would be checked
            why = str(exc) if isinstance(exc, ParallelError) else f"{type(exc).__name__}: {exc}"
            _fail_worker(result, f"its work could not be committed on {job.branch}: {why}" + (
                " (Git LFS does not work inside the sandbox yet: its filter writes .git/lfs, "
                "which the sandbox keeps read-only; run this repository without --sandbox)"
                if self._sandbox and "lfs" in why.lower() else ""))
            if self._hurry.is_set():  # (a git stopped halfway leaves its lock: your git there)
                with contextlib.suppress(ParallelError, OSError):
                    _unlink_beneath(outside.admin_folder(job.path, strict=False), "index.lock")
            taken = not isinstance(exc, _NotTakenIn)
            with contextlib.suppress(ParallelError, OSError):  # what its branch holds, then
                tip = repo.tip(job.branch) if taken else None
                result.commit = result.commit or (tip if tip and tip != result.base_commit else None)
        still = None
        try:  # before the checks, whose artifacts are not the agent's work
            if self._sandbox and committed and self.config.checks and job.tip and \
                    result.status != "failed":
                self._write_held(repo, outside, job, result, copied)
                still = self._held_files(outside, job)  # (as written, before its checks)
                self._compare_held(repo, outside, job, result)
            files, gitlinks, nested = repo.changes(job.path, result.base_commit, not committed)
            if committed:  # (what its branch holds: a repository inside is not)
                files = repo.files_between(result.base_commit, result.commit) \
                    if result.commit else []
            result.files_modified = [name for name in files if name not in set(copied)]
            job.unsaved = bool(nested) or (not committed and bool(result.files_modified))
            if self.config.commit and self.config.checks and result.status != "failed":
                self._check_held(outside, job, result, gitlinks, nested)
            changed = _put_back_includes(self.top or outside.top, job.path, copied) \
                if self.config.checks and copied else []
            if changed:
                _fail_worker(result, "the agent changed include files that cannot be put back "
                             f"as yours before its checks: {_shorten(', '.join(changed[:5]), 300)}")
        except (ParallelError, OSError) as exc:
            note(exc)
        try:
            job.base = result.base_commit
            if not committed and taken:  # (else what the runner committed: see _commit)
                job.tip = repo.tip(job.branch)
        except (ParallelError, OSError) as exc:
            note(exc)
        if job.folder_times is not None:  # (see _folder_times: every path to its checks)
            with job.folder_times as times, contextlib.suppress(OSError):
                _file_times(job.path, None, times)
            job.folder_times = None
        try:
            if result.status in ("failed", "timeout") and not self.config.check_all:
                return  # its checks are skipped: nothing worth checking (--check-all)
            if self.config.checks and not self._halt.is_set():
                self._state(job, "checking")
            for cmd in self.config.checks:
                if self._halt.is_set():
                    result.status, result.error = self._stopped(result.error)
                    break  # its checks did not all run
                started = time.monotonic()
                code, timed_out, _ = self._run_shell(job.worker_id, cmd, job.path, env,
                                                     result.worker_log, "check")
                if self._halt.is_set():
                    result.status, result.error = self._stopped(result.error)
                    break  # stopped by Ctrl-C or a win: neither passed nor failed
                result.checks.append({"command": cmd, "passed": code == 0 and not timed_out,
                                      "exit_code": code,
                                      "duration": round(time.monotonic() - started, 3)})
            result.checks_passed = sum(c["passed"] for c in result.checks)
            moved, count = self._held_moved(job, still) if still is not None else ([], 0)
            if moved:
                _fail_worker(result, "files its branch holds changed from before its checks to "
                             f"after them: {_some(moved, total=count)}"
                             + " (a check that writes them, a filter of yours that runs code of "
                             "the worktree, or another sandbox of the same account that opened "
                             "them to others: its checks may not have run on what its branch "
                             "holds)")
        except (ParallelError, OSError) as exc:
            note(exc)
        finally:
            if still is not None:
                still.close()

    def _hold_for_count(self, repo: _Repo, job: _Job, fail: Callable[[str], None]) -> None:
        """After its checks: the worktree held still as before its commit (see _hold_still:
        every folder its owner's to list and enter, none the group's or others' to write,
        every rule file a new one), and every folder or rule file of another account moved
        out of it (its owner could add to it whenever it wants, whatever its mode; round 98)
        into a folder of the runner's that only you remove (round 99: the run's trash, emptied
        at its end, took a tarball's files of uid 501 with it): the worker fails, saying so.
        One that cannot be moved stays, and the count that follows fails the worker (see
        _heavy); so does any other file of another account (round 99: a `.git` file of
        `attacker`'s, pointing at a repository of its own, left in a worker that passed)."""
        import secrets
        write = stat.S_IWGRP | stat.S_IWOTH
        for _folder, fd, _dirs, files in _walk_at(job.path, force=True, tame=write):
            _renew_in(fd, [name for name in files if name.lower() in (".gitignore",
                                                                     ".gitattributes")])
        owners = {os.geteuid(), 0} | ({self._sandbox.host_id} if self._sandbox and
                                      self._sandbox.host_id is not None else set())
        moved: List[str] = []
        kept = repo.state_dir("evicted", os.path.basename(job.path))
        os.chmod(kept, 0o700)
        into = os.open(kept, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            for folder, fd, dirs, files in _walk_at(job.path):
                rel = os.path.relpath(folder, job.path)
                rel = "" if rel == "." else rel + "/"
                dirs[:] = [name for name in dirs if not (rel == "" and name == ".git")]
                for name in [*dirs, *(n for n in files if n.lower() in (".gitignore",
                                                                          ".gitattributes"))]:
                    st = _stat_at(fd, name)
                    if st is None or st.st_uid in owners:
                        continue
                    with contextlib.suppress(OSError):
                        os.rename(name, f"{secrets.token_hex(4)}-{name}", src_dir_fd=fd,
                                  dst_dir_fd=into)
                        moved.append(f"{_shorten(rel + name, 100)} (uid {st.st_uid})")
                dirs[:] = [name for name in dirs if _stat_at(fd, name) is not None]
        finally:
            os.close(into)
        if moved:
            job.unsaved = True  # (cleanup asks for --force)
            fail("its worktree held folders or rule files another account owns, which it could "
                 f"write whenever it wanted: {_some(moved)}; moved out of it into {kept} (yours "
                 "to look at and remove)")
        others = _foreign_entries(job.path, owners - {os.geteuid(), 0}, acls=False, skips=False)
        if others:
            job.unsaved = True
            fail(f"its worktree holds files another account owns, which it may change whenever "
                 f"it wants: {_some(others)}")

    def _heavy(self, repo: _Repo, job: _Job, result: WorkerResult, held: bool = False,
               after: bool = False) -> bool:
        """Whether the worktree holds more .gitignore and .gitattributes files than the
        runner's gits may read there (_IGNORE_RULES_LIMIT, as merge's: git holds every rule
        of the folders above a file, and 40 nested files of 1 MB took each git some 1.5 GB
        and tens of seconds, rounds 93 and 94): then the worker fails, before any git reads
        them, its work neither committed nor checked, and the runner's gits that would read
        them do not run there (see _settle). Asked after the agent, once more when its
        worktree is ``held`` still (see _hold_still: from then on no other account may add
        to it; round 97: `attacker` filled a folder the agent had opened to all just after
        the first count), and again after its checks. When held, anything of another
        account there fails it too (what its owner may still write)."""
        _COUNTED[job.path] = True  # (the runner's own gits there: its to run, see _settle;
        if job.heavy:              # no more once the run ends, see _close_heavy)
            return True
        why = None
        if held:
            box = self._sandbox  # (as root, its account's: the runner's once it ends)
            foreign = _foreign_entries(job.path, {box.host_id} if box and box.host_id is not None
                                       else set(), acls=False,
                                       named=(".gitignore", ".gitattributes"), skips=False)
            if foreign:  # (its folders, and rule files: what adds to what git reads)
                why = ("its worktree holds folders or rule files another account owns, which it "
                       f"may write whenever it wants: {_some(foreign)}")
        if why is None:
            rules = _rules_in_worktree(job.path)
            if rules is None:
                why = ("its worktree holds folders the runner cannot list, where git may read "
                       ".gitignore and .gitattributes files it cannot count")
            elif rules > _IGNORE_RULES_LIMIT:
                why = ("its worktree holds .gitignore and .gitattributes files of over "
                       f"{_IGNORE_RULES_LIMIT >> 10} KB in all")
            if why:
                why += (": each git reading them could take GBs of memory and minutes (git "
                        "holds every rule of the folders above a file)")
        if why is None:
            return False
        job.heavy = job.unsaved = True  # (what is there, cleanup keeps without --force)
        _fail_worker(result, why + (", so no git of the runner reads it any more" if after else
                                    ", so its work was neither committed nor checked"))
        with contextlib.suppress(ParallelError, OSError):  # (where its branch is: not moved)
            job.base = result.base_commit
            tip = repo.tip(job.branch)
            result.commit = result.commit or (tip if tip and tip != result.base_commit else None)
        return True

    def _write_held(self, repo: _Repo, outside: _Repo, job: _Job, result: WorkerResult,
                    copied: List[str]) -> None:
        """Write every file its commit holds again into its worktree, as a checkout of it
        writes them, before its checks, inside its sandbox; then fail the worker when the
        worktree holds a new file, neither committed nor ignored (but the ``copied`` include
        files). A filter of yours can run the agent's code in the runner's own gits (one that
        loads a module or script from the worktree: round 113, `python3 -m nbstripout` and an
        `nbstripout.py` or an ignored `.pyc` the agent left), which rewrote a file after git
        had read it (giving it back its time), made a file the checks run or staged it (round
        114), moved a folder of other files in, and back again before git ended (rounds 115,
        116), or rewrote the index it was asked in (round 115); and a conversion that takes
        many contents to one (`ident`, line ends, your keyword filter: round 117) let a file
        hold other code than any checkout writes. No comparison afterwards can tell. So the
        files a filter of yours converts are written first, with it (what its code makes of
        them is admitted: see the README), then, from a new index of the runner's own made
        from the commit, every other one with no filter (no code of the worktree runs then),
        the .gitattributes files first; git objects its sandbox's gits would read first, before
        and after the first (round 118), and files another account owns (whose writing back
        would hide it: see _hold_for_count) fail the worker."""
        import tempfile
        admin = outside.admin_folder(job.path, strict=False)
        name = "architect-parallel-index"
        index = os.path.join(admin, name)
        new, count = [], 0  # (the first five new files, and how many)
        box = self._boxes.get(job.worker_id)

        def clear_objects() -> None:
            found = box.clear_objects() if box else []
            if found:
                _fail_worker(result, "its sandbox's git object folder held objects the runner's "
                             "gits would read first, made as a filter of yours ran there (code "
                             f"of the worktree it loads): {_some(found)}; removed")
        host = {box.sandbox.host_id} if box and box.sandbox.host_id is not None else set()
        others = _foreign_entries(job.path, host, acls=False, skips=False)
        if others:
            job.unsaved = True
            _fail_worker(result, "its worktree holds files another account owns, which it may "
                         f"change whenever it wants: {_some(others)}")
        times = tempfile.TemporaryFile()  # (each file's, as the agent left it: see _file_times)
        try:
            clear_objects()
            with tempfile.TemporaryFile() as converted:
                _unlink_beneath(admin, name)
                repo.git("read-tree", job.tip or "", cwd=job.path, index=index)
                _file_times(job.path, repo._names(["ls-files", "-z"], job.path, 1, index=index),
                            times)
                some = ParallelRunner._converted(repo, job, index, converted)
                if some:  # (its code may run now: all after it is written again)
                    converted.seek(0)
                    repo.git("checkout-index", "-f", "-z", "--stdin", cwd=job.path, filters=True,
                             index=index, input=converted)
                    clear_objects()
                _unlink_beneath(admin, name)
                repo.git("read-tree", job.tip or "", cwd=job.path, index=index)
                # (rules its commit does not hold, ignored or staged in the worktree's own index,
                # would decide how the files are written: round 119, UTF-7)
                stray = repo.stray_attributes(job.path, index)  # (where files it holds are)
                if stray:
                    _fail_worker(result, "its worktree holds .gitattributes files its commit does "
                                 f"not: {_some(stray)} (made as a filter of yours ran, code of the "
                                 "worktree it loads): its files would not be written as its "
                                 "branch holds them")
                if some:
                    converted.seek(0)
                    repo.git("update-index", "-z", "--skip-worktree", "--stdin", cwd=job.path,
                             index=index, input=converted)
            with tempfile.TemporaryFile() as rules:
                repo._run_to(["ls-files", "-z", "--", ":(glob)**/.gitattributes"], rules,
                             "git could not list its .gitattributes files", cwd=job.path,
                             index=index)
                if rules.tell():
                    rules.seek(0)
                    repo.git("checkout-index", "-f", "--ignore-skip-worktree-bits", "-z",
                             "--stdin", cwd=job.path, index=index, input=rules)  # (converted too:
                    # the rules the commit holds, whatever the agent's code made of them, round 120)
            repo.git("checkout-index", "-f", "-a", cwd=job.path, index=index)
            _file_times(job.path, None, times)
            for (rel,) in repo._names(["ls-files", "-z", "--others", "--exclude-standard"],
                                      job.path, 1, index=index):
                if rel not in copied:  # (a repository inside too, 'sub/': no commit holds it)
                    count += 1
                    new += [rel] if count <= 5 else []
        except ParallelError as exc:
            _fail_worker(result, "its files could not be written again from its commit before "
                         f"its checks ({exc}): its checks would not run on what its branch holds")
        finally:
            times.close()
            _unlink_beneath(admin, name)
        if new:
            _fail_worker(result, "its worktree holds files its commit does not, made after the "
                         "commit took in its files (by a filter of yours that runs code of the "
                         f"worktree), which its checks would run on: {_some(new, total=count)}")

    @staticmethod
    def _converted(repo: _Repo, job: _Job, index: str, out: BinaryIO) -> bool:
        """Write to ``out`` (NUL-ended) the files of the index ``index`` that a filter of yours
        converts: whose ``filter`` attribute, as the commit's own .gitattributes give it
        (--cached), names a driver with a command; whether there are any."""
        import tempfile
        listing = repo.git("config", "-z", "--get-regexp", r"^filter\..*\.(clean|smudge|process)$",
                           cwd=job.path, check=False) or ""
        drivers = {item.split("\n", 1)[0][len("filter."):].rpartition(".")[0].encode(
            "utf-8", "surrogateescape") for item in listing.split("\0")
            if item.partition("\n")[2].strip()}
        if not drivers:
            return False
        with tempfile.TemporaryFile() as names, tempfile.TemporaryFile() as told:
            repo._run_to(["ls-files", "-z"], names, "git could not list its files",
                         cwd=job.path, index=index)
            names.seek(0)
            repo._run_to(["check-attr", "-z", "--cached", "--stdin", "filter"], told,
                         "git could not read its files' attributes", input=names,
                         cwd=job.path, index=index)
            told.seek(0)
            for path, _attr, value in _nul_records(told, 3):
                if value in drivers:
                    out.write(path + b"\0")
        return out.tell() > 0

    @staticmethod
    def _compare_held(repo: _Repo, outside: _Repo, job: _Job, result: WorkerResult) -> None:
        """Fail the worker when a file of its worktree is not what its commit holds, read
        again just after its snapshot (see _held_files) and its writing (see _write_held):
        another sandbox of the same account could have opened it to a third account meanwhile
        (round 64). In an index of the runner's own made from the commit, with no filter: the
        files a filter of yours converts are taken as they are (--assume-unchanged)."""
        import tempfile
        admin = outside.admin_folder(job.path, strict=False)
        name = "architect-parallel-index"
        _unlink_beneath(admin, name)
        code: "int | str" = 0
        try:
            index = os.path.join(admin, name)
            repo.git("read-tree", job.tip or "", cwd=job.path, index=index)
            if next(repo._names(["ls-files", "-z", "--deleted"], job.path, 1, index=index),
                    None):
                code = 1  # (a file it holds is gone, or a folder is in its place)
            with tempfile.TemporaryFile() as converted:
                if ParallelRunner._converted(repo, job, index, converted):
                    converted.seek(0)
                    repo.git("update-index", "-z", "--assume-unchanged", "--stdin",
                             cwd=job.path, index=index, input=converted)
            repo.git("update-index", "-q", "--refresh", cwd=job.path, index=index, check=False)
            if not code:
                code = repo.run("diff-index", "--quiet", "--end-of-options", job.tip or "",
                                "--", cwd=job.path, index=index).returncode
        except ParallelError as exc:
            code = str(exc)
        finally:
            _unlink_beneath(admin, name)
        if code == 1:
            _fail_worker(result, "files its branch holds are not what its commit took in (changed "
                         "as the runner wrote them again: by another sandbox of the same account "
                         "that opened them to others): its checks would not run on what its "
                         "branch holds")
        elif code:
            _fail_worker(result, "its files could not be compared with its commit before its "
                         "checks (" + (f"git exit code {code}" if isinstance(code, int) else code)
                         + ")")

    @staticmethod
    def _held_files(repo: _Repo, job: _Job) -> BinaryIO:
        """The state (see _file_state) of each file the worker's commit holds, in its worktree,
        before its checks run: every sandbox of every run is one account, which may change the
        modes of another's files (Landlock bounds writes, not chmod) for a third account to
        write them while the checks read them (round 63). In a file, a name and a state for
        each (see _held_moved), none held here (round 68)."""
        import itertools
        import tempfile
        held = tempfile.TemporaryFile()
        with contextlib.suppress(ParallelError):
            listed = repo._names(["ls-tree", "-r", "-z", "--end-of-options", job.tip or ""],
                                 repo.top, 1)
            for (row,) in itertools.islice(listed, _MAX_FILES):
                info, _, rel = row.partition("\t")
                if rel and not info.startswith("160000"):  # (a submodule's folder not)
                    state = _file_state(_lstat_beneath(job.path, rel))
                    held.write(rel.encode("utf-8", "surrogateescape") + b"\0"
                               + repr(state).encode() + b"\0")
        held.seek(0)
        return held

    @staticmethod
    def _held_moved(job: _Job, held: BinaryIO) -> "tuple[List[str], int]":
        """The first 5 of the files ``held`` (see _held_files) whose state is not the same now,
        and how many they are."""
        moved, count = [], 0
        with held:
            for raw, state in _nul_records(held, 2):
                rel = raw.decode("utf-8", "surrogateescape")
                if repr(_file_state(_lstat_beneath(job.path, rel))).encode() != state:
                    count += 1
                    if len(moved) < 5:
                        moved.append(rel)
        return moved, count

    def _check_held(self, repo: _Repo, job: _Job, result: WorkerResult, gitlinks: List[str],
                    nested: List[str]) -> None:
        """Fail the worker when its checks would run on what its commit does not hold: files
        git neither commits nor ignores (see _Repo.hidden_from_commit; and _settle_branch for
        files its commit holds as a filter made them; _write_held for new files)."""
        box = self._sandbox
        # (the account the sandbox's git runs as: its own as root, else the runner's; what
        # another account owns there keeps its owner's write, and may hide from the runner)
        reader = None if box is None else box.host_id if box.host_id is not None else os.geteuid()
        stray = repo.stray_attributes(job.path)
        if stray:
            _fail_worker(result, "its worktree holds .gitattributes files its commit does not ("
                         f"{_shorten(', '.join(stray[:5]), 300)}), by which git wrote its files "
                         "otherwise than a checkout of its branch does: its checks would not run "
                         "on what its branch holds (round 71)")
        hidden = repo.hidden_from_commit(job.path, gitlinks, nested, job.submodules, reader)
        if hidden:
            _fail_worker(result, "its worktree holds files its commit cannot, which its checks "
                         f"would run on: {_some(hidden)} (a repository inside, a submodule's files, a folder named .git, "
                         "one too deep for git or that it may not read)")

    def _commit(self, repo: _Repo, job: _Job, result: WorkerResult, copied: List[str]) -> None:
        """Commit the agent's work on its branch (unless --no-commit), and give the worktree's
        files the form the commit holds: what the checks then run on is what the branch has
        (what the commit cannot hold fails a worker with checks, see _finish; it is named for
        one without). Raises when its work cannot be put on its branch."""
        # With checks in a sandbox, a descriptor of a file the agent handed out (to another
        # account, through an abstract socket) writes it whenever its holder wants: every file
        # the commit reads, or the checks might, becomes a new one first (see _renew_at).
        renew = bool(self.config.checks) and self._sandbox is not None
        if renew:  # (given back before its checks: see _finish)
            job.folder_times = _folder_times(job.path, set(job.submodules))
        copies = _Copies(self._hurry)
        with contextlib.suppress(OSError, ParallelError):
            fd = _open_top(repo.admin_folder(job.path, strict=False))
            try:
                _tame(fd, stat.S_IWGRP | stat.S_IWOTH)
                if renew:  # (its index chooses files to stage: see commit_all)
                    _renew_in(fd, ["index", "HEAD"])
            finally:
                os.close(fd)
        repo.return_to_branch(job.path, job.branch)
        self._hold_still(job, renew, copies)
        if self._heavy(repo, job, result, held=True):  # (held still now: counted once more)
            raise _Unread(result.error or "")
        if renew:  # (ignore files first, in _hold_still: they choose what is left out)
            self._renew_worktree(repo, job, copies)
        if self.config.commit:
            message = (f"architect-parallel: worker {job.worker_id}: "
                       f"{_shorten(job.task.strip().splitlines()[0], 60)} [{result.model}]")
            held, problem = repo.commit_all(job.path, message, exclude=copied,
                                            base=result.base_commit)
            # What the branch must hold from now on (see _settle_branch): the agent's own
            # commits, when it committed all its work itself.
            box = self._boxes.get(job.worker_id)
            refused = box.take_objects(held, self.config.check_timeout, self._hurry) \
                if box and held else None
            if refused:  # (no commit of it is recorded: none is in the repository, round 83)
                raise _NotTakenIn(refused)
            job.tip = held
            result.commit = held if held != result.base_commit else None
            repo.as_committed(job.path, held)
            job.index = repo.index_digest(job.path)
            if problem and not result.error and not self.config.checks:  # (else: see _finish)
                result.error = problem
        else:  # (--no-commit: what the agent committed itself, if anything)
            tip = repo.tip(job.branch)
            result.commit = tip if tip and tip != result.base_commit else None

    def _hold_still(self, job: _Job, renew: bool, copies: _Copies) -> None:
        """Before the commit: every folder of the worktree given to its owner to list and enter
        (a folder its git may not list is not left out) and to no other account to write, so
        that from now on nothing another account adds (into a folder the agent opened to all)
        joins what its checks run on (what another account owns there is told by
        hidden_from_commit); with ``renew``, its ignore files made new ones; and a FIFO, socket
        or device, which no commit holds, removed: a check reading a FIFO reads what any
        account writes into it."""
        special = []
        for folder, fd, _dirs, files in _walk_at(job.path, force=True,
                                                 tame=stat.S_IWGRP | stat.S_IWOTH):
            copies.go_on()
            # (the rule files always: a descriptor of one, handed out, must not grow it
            # after their count, see _heavy; the others' too with ``renew``)
            _renew_in(fd, [name for name in files if name.lower() in (".gitignore",
                                                                     ".gitattributes")], copies)
            for name in files:
                st = _stat_at(fd, name)
                if st is not None and not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
                    _unlink_at(fd, name)
                    special.append(os.path.relpath(os.path.join(folder, name), job.path))
        if special:
            self._warn(f"worker {job.worker_id}: FIFOs, sockets or devices in its worktree, which "
                       f"no commit holds, were removed before its commit: "
                       f"{_some(special)}")

    @staticmethod
    def _renew_worktree(repo: _Repo, job: _Job, copies: _Copies) -> None:
        """Make every file of the worktree a new one (see _renew_at) but in folders of only
        ignored files; a submodule folder as your setup left it stays trusted (its digest is
        taken as its files are renewed, and recorded again: see hidden_from_commit)."""
        for name, digest in list(job.submodules.items()):
            if _tree_digest(job.path, [name], exact=True, renew=copies) == digest:
                job.submodules[name] = _tree_digest(job.path, [name], exact=True)
        if job.submodules:
            repo.record_submodules(job.path, job.submodules)
        # The ignore files first, then what they ignore (round 91: another account rewrote a
        # .gitignore through a descriptor between the listing of ignored folders and its own
        # renewal; a folder left as it was, its files still the agent's, was then not ignored)
        for folder, fd, dirs, files in _walk_at(job.path):
            rel = os.path.relpath(folder, job.path).replace(os.sep, "/")
            prefix = "" if rel == "." else rel + "/"
            dirs[:] = [name for name in dirs if name != ".git" and
                       prefix + name not in job.submodules]  # (as your setup left them)
            if ".gitignore" in files:
                _renew_in(fd, [".gitignore"], copies)
        _renew_tree(job.path, repo.ignored_folders(job.path) | set(job.submodules), copies)

    def _settle(self, repo: _Repo, job: _Job, result: WorkerResult) -> None:
        """After a worker (and its sandbox): make what the run leaves in its worktree one that
        the tool and your own git can trust, whatever the agent or a check did there. Each
        step runs on its own; a step that finds the git folder tampered with fails the
        worker. Nothing here runs inside the sandbox, where the agent may have put a git of
        its own on PATH or broken git's settings: the gits are the runner's own (pinned to
        the worktree's git folder, see _Repo.pin, and stopped at the check timeout)."""
        def fail(problem: str) -> None:
            _fail_worker(result, problem)

        if not os.path.lexists(job.path):
            return
        repo = repo.wrapped(None, self.config.check_timeout, self._hurry)
        try:
            if not stat.S_ISDIR(os.lstat(job.path).st_mode):
                raise _Refused(f"{job.path} is no longer a folder")
            if job.pointers:
                self._settle_pointers(job, fail)
            admin = repo.admin_folder(job.path, strict=False)
        except (ParallelError, OSError) as exc:
            fail(f"its worktree cannot be trusted: {exc}")
            return
        try:  # Once more, held still (a check may have written them, or opened a folder to
            # all for another account to fill after the count: round 98)
            self._hold_for_count(repo, job, fail)
            self._heavy(repo, job, result, held=True, after=True)
        except (ParallelError, OSError) as exc:  # (then no git of the runner lists it)
            job.heavy = job.unsaved = True
            _COUNTED[job.path] = True
            fail(f"its worktree cannot be held still to count its rules: {_shorten(str(exc), 300)}")
        for phase in (self._settle_files, self._settle_head, self._settle_index,
                      self._settle_branch):
            try:
                phase(repo, job, admin, fail)
            except (ParallelError, OSError) as exc:
                fail(f"its worktree cannot be checked: {_shorten(str(exc), 300)}")
        if job.pointers:  # (once more, whatever a step above was made to remove)
            try:
                self._settle_pointers(job, fail)
            except (ParallelError, OSError) as exc:
                fail(f"its worktree cannot be trusted: {exc}")
        tree = None
        if job.unsaved and not job.heavy:  # (what a commit of it must hold: see merge)
            try:
                # Nothing another account owns or may write (round 90: a check opened its
                # folder to all, and `attacker` put a file of its own there, which it could
                # rewrite after `diff`); then every file a new one (round 89: a check handed
                # `attacker` a descriptor of app.py, which showed `diff` one content and the
                # user's commit another): what is recorded, shown and committed is what is there.
                foreign = _foreign_entries(job.path)
                if foreign:
                    raise ParallelError("its worktree holds what another account owns or may "
                                        f"write: {_some(foreign)}")
                self._renew_worktree(repo, job, _Copies(self._hurry))
            except (ParallelError, OSError) as exc:
                fail(f"its work, only in its worktree, cannot be trusted there: "
                     f"{_shorten(str(exc), 300)}")
            else:
                try:
                    tree = repo.worktree_tree(job.path)
                except (ParallelError, OSError) as exc:  # (a commit of it then asks --force)
                    self._warn(f"worker {job.worker_id}: what its worktree holds cannot be "
                               f"recorded: {_shorten(str(exc), 300)}")
        try:
            repo.record_worktree_state(job.path, job.branch, job.unsaved, tree, job.heavy)
        except (ParallelError, OSError) as exc:  # (cleanup then counts it as unsaved work)
            self._warn(f"worker {job.worker_id}: cannot record its worktree's state: {exc}")

    @staticmethod
    def _settle_pointers(job: _Job, fail: Callable[[str], None]) -> None:
        """Write the files that tell git where the worktree's git folder and the repository
        are (its ``.git``, the folder's ``gitdir`` and ``commondir``) again, new files of the
        runner's, as git wrote them when the worktree was made. Read-only inside its sandbox,
        but another worker handed a descriptor of the folders can replace them (and keep
        them open): one naming a folder it made, whose config sets ``core.fsmonitor``, runs a
        program at your next ``git status`` there. One changed fails the worker."""
        changed = []
        for folder, name, data in job.pointers:
            st = os.lstat(folder)
            if not stat.S_ISDIR(st.st_mode):
                raise _Refused(f"{folder} is no longer a folder")
            if _read_beneath(folder, name, len(data) + 1) != data:
                changed.append(name)
            st = _lstat_beneath(folder, name)
            if st is not None and stat.S_ISDIR(st.st_mode) and \
                    not _remove_tree(os.path.join(folder, name)):  # (a repository of its own)
                raise _Refused(f"{os.path.join(folder, name)} is a folder that cannot be removed")
            _replace_beneath(folder, name, data)
        if changed:
            fail(f"its worktree's {', '.join(changed)} named another place (a process of a "
                 "worker changed them); they were put back")

    def _settle_branch(self, repo: _Repo, job: _Job, admin: str,
                       fail: Callable[[str], None]) -> None:
        """The branch must hold what was checked: the commit the runner made of the agent's
        work (a check that moves it fails the worker, and it is put back), descending from
        the run's base (else a merge would bring, or revert, what no diff shows), and sending
        no file through a filter the base does not send it through."""
        tip = job.tip
        if not tip:
            return
        ref = f"refs/heads/{job.branch}"
        now = repo.tip(job.branch)
        if now != tip:
            repo.git("update-ref", ref, tip)
            fail(f"its branch was moved after its work was committed (to {now[:12] or 'nothing'}, "
                 f"by a check or a process of the agent); it was put back at {tip[:12]}")
        if job.base and not repo.succeeds("merge-base", "--is-ancestor", job.base, tip):
            fail(f"its branch {tip[:12]} does not descend from the run's base {job.base[:12]}: "
                 "a merge would bring what no diff of it shows")
        elif job.base:
            taken = repo.taken_in(job.branch, job.base, tip)
            if taken:
                fail(f"its branch takes in {taken} commit(s) that another branch or tag holds: "
                     "a merge would bring (or undo) history no diff of it shows")
            filtered = repo.attributes_changed(job.base, tip, ("filter",)) \
                if self.config.checks and self.config.commit else []
            if filtered:  # (a Git LFS pointer, whose content stayed behind)
                fail("its .gitattributes send files through a filter the base's do not: "
                     f"{_shorten(', '.join(filtered[:5]), 300)}; its commit holds what the filter "
                     "made, not the files its checks ran on")

    def _settle_files(self, repo: _Repo, job: _Job, admin: str,
                      fail: Callable[[str], None]) -> None:
        """Remove what would hang or mislead a git there: anything in the worktree's git
        folder that is not a file or folder (it fails the worker), and FIFOs, sockets and
        devices in the worktree (a ``.gitignore`` that is a FIFO hangs every status)."""
        planted = _remove_specials(admin, links=True)
        if planted:
            fail("the agent left links, FIFOs, devices or too deep folders in its worktree's git "
                 "folder, removed: "
                 + _some(planted))
        large = _remove_large(admin, _ADMIN_LIMITS, ("index",))
        if large:  # (git reads them whole, the runner copies them; a sparse file costs nothing)
            fail(f"the agent left files of more than {_ADMIN_LIMITS[0] >> 20} MB, or more than "
                 f"{_ADMIN_LIMITS[1] >> 20} MB or {_ADMIN_LIMITS[2]:,} files and folders, in its "
                 "worktree's git folder, removed: "
                 f"{_some(large)}")
        settings = _lstat_beneath(admin, "config.worktree")
        if settings is not None:  # (your own git there reads it: core.fsmonitor, hooksPath)
            _replace_beneath(admin, "config.worktree", b"")  # (new: the runner's, empty)
            if settings.st_size:  # (a sparse checkout the agent made writes one too)
                self._warn(f"worker {job.worker_id}: its worktree's git folder held settings of "
                           "its own (config.worktree, which your git there would obey: a "
                           "core.fsmonitor or hooksPath runs a program); emptied")
        self._drop_pending(job, admin)
        odd = _remove_odd_files(admin)
        if odd:
            self._warn(f"worker {job.worker_id}: folders it left in its worktree's git folder "
                       "where git keeps files, which would stop your git there (a `locked`, "
                       f"every command of this tool too), were removed: {', '.join(odd)}")
        self._settle_lock(job, admin)
        for name in _ADMIN_LOGS:  # (git writes them again as HEAD moves)
            st = _lstat_beneath(admin, name)
            if st is not None and stat.S_ISDIR(st.st_mode):
                if name == "refs" and any(files for _f, _fd, _d, files in _walk_at(
                        os.path.join(admin, name))):
                    self._warn(f"worker {job.worker_id}: refs of its worktree's own (refs/bisect, "
                               "refs/worktree, refs/rewritten), which your git there would read, "
                               "were removed")
                _remove_tree(os.path.join(admin, name))
            elif st is not None:
                _unlink_beneath(admin, name)
        unknown = sorted(set(os.listdir(admin)) - set(_ADMIN_KEPT) - set(_ADMIN_LOGS))
        for name in unknown:
            st = _lstat_beneath(admin, name)
            if st is not None and stat.S_ISDIR(st.st_mode):
                _remove_tree(os.path.join(admin, name))
            elif st is not None:
                _unlink_beneath(admin, name)
        unknown = [name for name in unknown if name not in _ADMIN_QUIET]
        if unknown:
            gitfiles = self._unlink_gitfiles(repo, job) if "modules" in unknown else []
            self._warn(f"worker {job.worker_id}: what it left in its worktree's git folder, which "
                       f"your git there would read, was removed: {_shorten(', '.join(unknown), 300)}"
                       + (" (its submodules' git folders: 'git submodule update --init' there "
                          f"makes them again; {len(gitfiles)} .git file(s) naming them removed)"
                          if "modules" in unknown else ""))
        _rebuild_folder(admin, repo.trash(), _ADMIN_LIMITS, keep=("index",))
        special = _remove_specials(job.path, links=False)
        if special:
            self._warn(f"worker {job.worker_id}: FIFOs, sockets, devices or folders too deep "
                       f"for git in its worktree were removed: {_some(special)}")

    def _settle_lock(self, job: _Job, admin: str) -> None:
        """A lock found in the worktree's git folder once its worker ended (git worktree lock)
        is kept, as yours (round 106: one you made while the worker ran was removed as the
        agent's, and cleanup then removed the worktree); its reason written again as text
        that drives no terminal (git prints it), and said."""
        st = _lstat_beneath(admin, "locked")
        if st is None or not stat.S_ISREG(st.st_mode):
            return
        said = (_read_beneath(admin, "locked", 4096) or b"").decode("utf-8", "replace")
        reason = _shorten(_CONTROL.sub("?", " ".join(said.split())), 200)
        _replace_beneath(admin, "locked", reason.encode())
        self._warn(f"worker {job.worker_id}: its worktree is locked "
                   f"({reason or 'no reason given'}): cleanup and later runs leave it and its "
                   "branch; if you did not lock it, the agent or a check did: 'git worktree "
                   f"unlock {job.path}'")

    def _drop_pending(self, job: _Job, admin: str) -> None:
        """Drop what a git operation left under way in the worktree's git folder (see
        _PENDING_STATE), before the runner's commit and again after the worker: a commit
        there would take up its parent, message or stash."""
        pending = {name: st for name in _PENDING_STATE
                   if (st := _lstat_beneath(admin, name)) is not None}
        for name, st in pending.items():
            if stat.S_ISDIR(st.st_mode):
                _remove_tree(os.path.join(admin, name))
            else:
                _unlink_beneath(admin, name)
        if pending:
            self._warn(f"worker {job.worker_id}: a merge, cherry-pick, revert, rebase, bisect or "
                       "autostash left in its worktree's git folder was dropped "
                       f"({', '.join(pending)}): a commit there takes up no parent, message or "
                       "stash of the agent's")

    @staticmethod
    def _unlink_gitfiles(repo: _Repo, job: _Job) -> List[str]:
        """Remove the ``.git`` files of the worktree's submodule folders (each names its git
        folder under modules/, just removed): the folders stay, with their files, as folders
        of a submodule that is not checked out."""
        removed = []
        for folder in repo.gitlinks(job.path):
            parts = folder.split("/")
            # (an index the agent wrote may name "." or "..": never the worktree's own .git)
            if folder and all(
                    p not in ("", ".", "..") and p.lower() != ".git" for p in parts):
                name = os.path.join(folder, ".git")
                st = _lstat_beneath(job.path, name)
                if st is not None and stat.S_ISREG(st.st_mode):
                    _unlink_beneath(job.path, name)
                    removed.append(name)
        return removed

    def _settle_head(self, repo: _Repo, job: _Job, admin: str,
                     fail: Callable[[str], None]) -> None:
        """Put the worktree's HEAD back on its branch, read and written as a file: a check may
        have left it on another branch (which git would then count as checked out here) or
        detached."""
        data = _read_beneath(admin, "HEAD", 4096) or b""
        if data == f"ref: refs/heads/{job.branch}\n".encode():  # (as git writes it, to the byte)
            return
        _replace_beneath(admin, "HEAD", f"ref: refs/heads/{job.branch}\n".encode())
        head = data.decode("utf-8", "replace").strip()
        was = head[len("ref: "):] if head.startswith("ref: ") else f"a detached HEAD ({head[:12]})"
        self._warn(f"worker {job.worker_id}: its worktree's HEAD was left on "
                   f"{_shorten(was, 100)}; it is on {job.branch} again")

    def _settle_index(self, repo: _Repo, job: _Job, admin: str,
                      fail: Callable[[str], None]) -> None:
        """Check the worktree's index (see _Repo.mend_index); one that cannot be read is
        thrown away and built again from HEAD. One that changed since the runner's commit (a
        check's) is thrown away unread and built again from HEAD, and with --no-commit the
        agent's is built again from HEAD once checked (the files stay as they are): what was
        staged but the files do not hold (other content, a gitlink with no folder) is shown
        by no diff, a commit you make there later must bring only what ``diff`` showed, and
        a small index can name millions of long paths (git's version 4 shares their
        beginnings)."""
        try:
            if self.config.commit and job.index is not None and \
                    repo.index_digest(job.path) != job.index:
                _unlink_beneath(admin, "index")  # (a check's: never read, see above)
            if _lstat_beneath(admin, "index") is None:  # (removed: here, above, or by the agent)
                repo.git("read-tree", "HEAD", cwd=job.path)
                if not job.heavy:  # (it reads the .gitattributes of each file it hashes)
                    repo.git("update-index", "-q", "--refresh", cwd=job.path, check=False)
            problem = repo.mend_index(job.path)
            if not self.config.commit:  # (the agent's, read by every git since it ended)
                repo.git("read-tree", "HEAD", cwd=job.path)
            job.index = repo.index_digest(job.path) if self.config.commit else None
        except ParallelError as exc:
            _unlink_beneath(admin, "index")
            repo.git("read-tree", "HEAD", cwd=job.path)
            problem = f"its worktree's index could not be read ({exc}); it was built again from its HEAD"
        if problem:
            fail(problem)

    def _run_info(self, jobs: List[_Job], base: str, started: float) -> dict:
        """What describes a run besides its results: times, base, version, configuration."""
        import json
        c = self.config
        config = {key: getattr(c, key) for key in DEFAULTS}
        config.update(tasks=list(c.tasks), models=list(c.models or []), base=c.base_branch,
                      api_base=c.api_base, config_path=c.config_path)
        # Two runs with the same fingerprint run the same workers the same way.
        plan = {key: config[key] for key in ("agent_cmd", "agent", "max_steps",
                                             "budget_per_worker", "timeout_per_worker",
                                             "include", "setup", "checks", "check_timeout",
                                             "commit", "retries", "check_all")}
        plan.update(base_commit=base, jobs=[[j.worker_id, j.task, j.model] for j in jobs])
        import hashlib

        fingerprint = hashlib.sha256(json.dumps(plan, sort_keys=True).encode()).hexdigest()[:16]
        return {"version": __version__, "started": started, "finished": time.time(),
                "base_commit": base, "fingerprint": fingerprint, "workers_total": len(jobs),
                "won": self._won, "spent": round(self._spent, 6),
                "git_config": self._config_digest,
                "only_workers": sorted(c.only_workers) if c.only_workers else None,
                "config": config}

    def _values(self, job: _Job, base: str) -> Dict[str, Optional[str]]:
        """What the template placeholders and ARCHITECT_PARALLEL_* variables stand for."""
        c = self.config
        budget = c.budget_per_worker  # and no more than what --budget-total leaves
        if c.budget_total is not None:
            left = max(c.budget_total - self._spent, 0.0)
            budget = left if budget is None else min(budget, left)
        return {
            "task": job.task, "model": job.model, "worker": str(job.worker_id),
            "task_file": os.path.join(self._tasks_dir, f"worker-{job.worker_id}.txt"),
            "branch": job.branch, "worktree": job.path, "base": base,
            "port": str(c.port_base + job.worker_id), "agent": c.agent,
            "max_steps": str(c.max_steps),
            "budget": None if budget is None else _usd(budget),
            "timeout": None if c.timeout_per_worker is None else str(c.timeout_per_worker),
            "config": os.path.abspath(c.config_path) if c.config_path else None,
            "api_base": c.api_base,
        }

    def _run_shell(self, worker_id: int, cmd: str, cwd: str, env: Dict[str, str], log: str,
                   what: str) -> "tuple[Optional[int], bool, float]":
        """Run a setup or check command with ``sh -c``, its output appended to ``log``."""
        with open(log, "ab") as f:
            f.write(f"\n$ {cmd}   # {what}\n".encode("utf-8", "surrogateescape"))
        started = time.monotonic()
        with self._watch.command(worker_id, what) if self._watch else contextlib.nullcontext():
            shell = "/bin/sh" if os.path.exists("/bin/sh") else "sh"  # (not one on PATH in HOME)
            code, timed_out = self._run_process(worker_id, [shell, "-c", cmd], cwd, env, log, log,
                                                self.config.check_timeout, append=True)
        with open(log, "ab") as f:
            f.write((f"# timed out after {self.config.check_timeout}s\n" if timed_out
                     else f"# exit code {code}\n").encode())
        return code, timed_out, time.monotonic() - started

    def _run_process(self, worker_id: int, argv: List[str], cwd: str, env: Dict[str, str],
                     out_path: str, err_path: str, timeout: Optional[float],
                     append: bool = False) -> "tuple[Optional[int], bool]":
        """Run ``argv`` to completion or ``timeout``; return (exit code, timed out).

        Output goes straight to files rather than through pipes, so a grandchild
        that inherits stdout can neither block the runner nor fill memory. When it
        ends, or at the timeout, its whole process tree is stopped.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        env = dict(env)
        # Every process the command starts inherits this mark, which finds them even
        # after they left its process group and lost their parent.
        mark = f"{self._token}-{worker_id}-{time.monotonic_ns()}"
        env[_MARK_VAR] = mark
        # In the worker's sandbox, if it has one: started and waited for by this thread, the
        # worker's, which outlives it (bwrap --die-with-parent follows the starting thread).
        box = self._boxes.get(worker_id)
        if box:  # (bwrap, and nsenter as root, load their libraries outside, in cwd)
            inside, env = env, _outside_env(env, frozenset({cwd, *_CHECKOUTS, "/tmp", "/var/tmp",
                                                            env.get("HOME") or "/"}))
            restore = {k: inside[k] for k in _LOADER_VARS if inside.get(k) != env.get(k)}
            confine = box.confined(restore)
            argv = [*box.command(cwd, {} if confine else restore), *confine, *argv]
        mode = "ab" if append else "wb"
        if not append:  # (a new file: see _fresh)
            _fresh(out_path), _fresh(err_path)
        import subprocess  # here, not at the top: start-up time (see _LazyPattern)

        with open(out_path, mode) as out, open(err_path, mode) as err:
            proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=err, env=env, start_new_session=True,
                                    pass_fds=box.fds if box else (),
                                    umask=_boxed_umask() if box else -1)
        agent = _Agent(proc, mark)
        with self._procs_lock:
            self._procs[worker_id] = agent
        try:
            if self._halt.is_set():  # Ctrl-C (or a win) came while we were starting it
                _kill_trees([agent], 0)
            timed_out = not _wait_exited(proc, deadline)
            # On a timeout this stops the command; otherwise it is gone and this
            # stops whatever it left running.
            _kill_trees([agent], _TERM_GRACE)
            proc.wait()
        finally:
            with self._procs_lock:
                self._procs.pop(worker_id, None)
        return proc.returncode, timed_out

    def _resolve_sandbox(self, repo: _Repo) -> Optional[_Sandbox]:
        """The sandbox of this run (--sandbox), with its allowed paths checked."""
        sandbox = _Sandbox.resolve(self.config.sandbox, self._warn)
        self._allowed = (_Sandbox.check_allowed(self.config.sandbox_allow, repo, sandbox.host_id)
                         if sandbox else [])
        return sandbox

    @contextlib.contextmanager
    def _sandboxed(self, repo: _Repo, command: _AgentCommand) -> Iterator[None]:
        """While workers run: this run's sandbox started (see _Sandbox.start), if any."""
        if self._sandbox is None:
            yield
            return
        self._sandbox.start(repo, command.adapter, _clean_env(), command.exe, self._allowed,
                            self._token)
        try:
            limit = self._sandbox.unbounded()
            if limit:
                self._warn(limit)
            yield
        finally:
            self._sandbox.stop()

    def _box(self, repo: _Repo, job: _Job, command: _AgentCommand, env: Dict[str, str],
             result: WorkerResult, session: Optional[str] = None) -> Optional[_Box]:
        """The worker's sandbox (see _Sandbox.box), when the run has one."""
        if self._sandbox is None:
            return None
        box = self._boxes[job.worker_id] = self._sandbox.box(
            repo, job.path, job.branch, command.adapter, command.exe, env, self._allowed,
            self._values(job, "")["task_file"], session)
        result.sandbox = "bwrap"
        return box

    def _unbox(self, job: _Job, result: WorkerResult) -> None:
        """After a sandboxed worker: its sandbox brings its work in and is taken back."""
        box = self._boxes.pop(job.worker_id, None)
        if box is not None:
            # (as the runner's own gits: one interrupt lets its work come in, a second stops it)
            box.close(result, self._warn, self.config.check_timeout, self._hurry)

    @staticmethod
    def _forget_missing(repo: _Repo, job: _Job, result: WorkerResult) -> None:
        """Record no commit of a worker that the repository does not hold (its sandbox's
        objects were refused, on any path: its own commits, --no-commit, a failed add, an
        interrupt; rounds 83 and 84): what it did is then what its worktree holds."""
        for sha in {result.commit, job.tip} - {None}:
            if not repo.succeeds("cat-file", "-e", f"{sha}^{{commit}}"):
                result.commit = None if result.commit == sha else result.commit
                job.tip = None if job.tip == sha else job.tip

    def _halted(self) -> "Optional[tuple[str, str]]":
        """Why a worker that has not started must not (status, error): the run was
        interrupted, or --stop-on-pass saw another pass; None to go on."""
        if self._cancel.is_set():
            return "interrupted", "not started"
        if self._won is not None:
            return "skipped", f"not started: worker {self._won['worker']} passed first (--stop-on-pass)"
        return None

    def _budget_spent(self) -> "Optional[tuple[str, str]]":
        """The status and error of a worker not started because --budget-total is spent."""
        cap = self.config.budget_total
        if cap is None or self._spent < cap - 1e-6:  # less is no budget an agent takes
            return None
        return "skipped", (f"not started: the run's known spend ${self._spent:.4f} reached "
                           f"--budget-total ${cap:.4f}")

    def _stopped(self, error: Optional[str], when: str = "") -> "tuple[str, Optional[str]]":
        """The status and error of a worker stopped while it ran (``when``: 'during setup'):
        ``interrupted`` by a signal (``error`` kept), or ``stopped`` as another passed first."""
        if self._cancel.is_set() or self._won is None:
            return "interrupted", error or (f"interrupted {when}" if when else None)
        return "stopped", (f"{when + ': ' if when else ''}worker {self._won['worker']} passed "
                           "first (--stop-on-pass)")

    def _declare_winner(self, job: _Job) -> None:
        """--stop-on-pass: the first worker to pass wins; stop the others, start no more."""
        with self._spend_lock:
            if self._won is not None or self._halt.is_set():
                return
            self._won = {"worker": job.worker_id, "after": round(time.time() - self._run_started, 3)}
            self._halt.set()
        self._progress(f"worker {job.worker_id} passed: stopping the others (--stop-on-pass)")
        self._turns.wake()
        with self._procs_lock:
            others = [agent for n, agent in self._procs.items() if n != job.worker_id]
        _kill_trees(others, _TERM_GRACE, self._hurry)

    def _hint_timeout(self) -> None:
        """Once per run, when an agent without a time limit has run for long: say that
        agent CLIs retry a dead model endpoint for minutes, and how to bound a worker."""
        if self._slow_hint is None or self.config.timeout_per_worker is not None:
            return
        now = time.monotonic()
        slow = sorted(n for n, started in list(self._running.items())
                      if now - started > self._slow_hint)
        if slow:
            spent = (f"{self._slow_hint / 60:g} minutes" if self._slow_hint >= 60
                     else f"{self._slow_hint:g} seconds")
            self._warn(f"worker {slow[0]} has run for {spent} with no "
                       "time limit; an agent CLI whose model endpoint fails may retry for "
                       "minutes: bound each worker with --timeout-per-worker SECONDS")
            self._slow_hint = None

    def _stop_all(self) -> None:
        """Stop every running agent: TERM, then KILL after a grace period (or at a second Ctrl-C)."""
        self._turns.wake()  # workers waiting to check out give up
        with self._procs_lock:
            procs = list(self._procs.values())
        _kill_trees(procs, _TERM_GRACE, self._hurry)

    # -- safety --------------------------------------------------------

    def _check_nothing_lost(self, repo: _Repo, jobs: List[_Job], base: str) -> None:
        """Refuse to start when a worktree or branch to be reused holds work (unless --force)."""
        blocker = BRANCH_PREFIX.split("/")[0]
        branches = set(repo.parallel_branches())  # one git call, not one per worker
        if repo.branch_exists(blocker):
            raise ParallelError(f"a branch named '{blocker}' exists, so git cannot create the "
                                f"{BRANCH_PREFIX}N branches; rename it first")
        registered = {wt["path"]: wt for wt in repo.worktrees()}
        by_branch = {wt.get("branch"): wt["path"] for wt in registered.values()}
        found = []
        for job in jobs:
            name = os.path.basename(job.path)
            elsewhere = by_branch.get(job.branch)
            if elsewhere and elsewhere != job.path:
                raise ParallelError(
                    f"branch {job.branch} is checked out in {elsewhere}; switch that "
                    "checkout to another branch first")
            worktree = registered.get(job.path)
            if worktree and worktree.get("locked"):  # (yours to keep: round 105)
                raise ParallelError(
                    f"the worktree {job.path} is locked ({_shorten(worktree['locked'], 200)}); "
                    f"unlock it with 'git worktree unlock {job.path}' first, or leave its "
                    "worker out (--only-workers)")
            if worktree:
                try:
                    found += [f"{name} {what}" for what in repo.work_in_worktree(
                        job.path, self._bases.get(job.worker_id, base))]
                except ParallelError as exc:  # (an index or git folder an agent broke)
                    found.append(f"{name} cannot be read by git ({exc})")
            elif os.path.lexists(job.path):
                if not os.path.isdir(job.path) or os.listdir(job.path):
                    found.append(f"{name} exists and is not a git worktree")
            # A worktree on its own branch was counted above; -B would also reset a branch
            # that exists apart from it.
            if not (worktree and worktree["branch"] == job.branch) and job.branch in branches:
                ahead = repo.count_commits(self._bases.get(job.worker_id, base), job.branch)
                if ahead:
                    found.append(f"branch {job.branch} has {ahead} commit(s) not in the base")
        if not found:
            return
        if not self.config.force:
            raise ParallelError(
                "would lose work: " + "; ".join(found)
                + f" (commit or move it elsewhere, run '{_prog()} cleanup' (--force for a "
                "worktree it keeps), or rerun with --force to discard it)")
        self._warn("--force: discarding " + "; ".join(found))

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        self._progress(f"warning: {message}")


class _Turns:
    """Lets at most ``slots`` workers at a time through, the lowest worker id first.

    Checking out a worktree is the slow part of creating it. Ten checkouts at once
    on two cores all finish late, so the first agent would wait for nearly the last
    checkout; one checkout per core, in worker order, starts worker 1's agent after
    about one checkout and loses nothing in total.
    """

    def __init__(self, slots: int):
        self._cond = threading.Condition()
        self._free = slots
        self._waiting: List[int] = []

    @contextlib.contextmanager
    def turn(self, worker_id: int, cancel: threading.Event) -> Iterator[bool]:
        """Wait for a slot; yield True with it, or False if ``cancel`` was set meanwhile."""
        with self._cond:
            self._waiting.append(worker_id)
            while not cancel.is_set() and not (self._free and min(self._waiting) == worker_id):
                self._cond.wait()
            self._waiting.remove(worker_id)
            granted = not cancel.is_set()
            self._free -= granted
            self._cond.notify_all()  # another worker may be first in line now
        try:
            yield granted
        finally:
            if granted:
                with self._cond:
                    self._free += 1
                    self._cond.notify_all()

    def wake(self) -> None:
        """Let waiting workers see that the run was cancelled."""
        with self._cond:
            self._cond.notify_all()


class _OutsideWatch:
    """Notices files of the main checkout that change while agents run.

    An agent should write only in its worktree; one that resolves a path against
    the main checkout (an absolute path in the task, a ``cd ..``) changes the
    user's files. After each agent ends, ``git status`` of the main checkout is
    compared with the last one. A changed file is blamed on an agent when its
    modification time (for a deleted file, the time since the last comparison)
    falls while that agent alone ran; when several ran, a warning names them.
    Files git ignores are not seen, nor writes into another worker's worktree.
    """

    _SLACK = 0.05  # file times come from a coarser clock than time.time()

    def __init__(self, repo: _Repo, warn: Callable[[str], None]):
        self._repo, self._warn = repo, warn
        self._lock = threading.Lock()  # the windows: held for a moment only
        self._scan = threading.Lock()  # one comparison at a time
        self._seen = repo.checkout_state()
        self._checked = time.time()
        # What ran when: "worker N" (its agent) or "worker N's setup"/"check": [start, end].
        self._windows: Dict[str, List[Optional[float]]] = {}
        self._blamed: Dict[str, List[str]] = {}
        self._reported: set = set()  # agents whose ended() has returned: too late to fail them

    @contextlib.contextmanager
    def command(self, worker_id: int, what: str) -> Iterator[None]:
        """Note that a setup or check command of the worker runs (it could be the writer too)."""
        label = f"worker {worker_id}'s {what}"
        with self._lock:
            self._windows[label] = [time.time(), None]
        try:
            yield
        finally:
            with self._lock:
                self._windows[label][1] = time.time()

    def changed_files(self) -> List[str]:
        """The main checkout's changed and untracked files, as last seen."""
        return sorted(self._seen)

    def started(self, worker_id: int) -> None:
        with self._lock:
            self._windows[f"worker {worker_id}"] = [time.time(), None]
            self._reported.discard(f"worker {worker_id}")  # a new attempt

    def ended(self, worker_id: int) -> List[str]:
        """Record that the agent ended; return the files it alone changed outside its worktree."""
        label = f"worker {worker_id}"
        with self._lock:
            self._windows[label][1] = time.time()
        with self._scan:
            now = time.time()
            try:
                state = self._repo.checkout_state()
            except ParallelError as exc:
                self._warn(f"could not check the main checkout for stray writes: {exc}")
                return []
            with self._lock:
                windows = {name: list(window) for name, window in self._windows.items()}
            for path in sorted(set(state) | set(self._seen)):
                if state.get(path) == self._seen.get(path):
                    continue
                mtime = state[path][1] if path in state else None
                first, last = (mtime, mtime) if mtime is not None else (self._checked, now)
                ran = sorted((name for name, (start, end) in windows.items()
                              if start - self._SLACK <= last and (end is None or first <= end + self._SLACK)),
                             key=lambda name: (int(name.split()[1].rstrip("'s")), name))
                if len(ran) == 1 and "'" not in ran[0] and ran[0] not in self._reported:
                    self._blamed.setdefault(ran[0], []).append(path)
                elif len(ran) == 1:  # a setup or check command, or an agent already reported
                    self._warn(f"{path} in the main checkout changed while only {ran[0]} was "
                               "running: it may have written outside its worktree")
                elif len(ran) > 1:
                    self._warn(f"{path} in the main checkout changed while "
                               f"{', '.join(ran[:-1])} and {ran[-1]} were running: one of them "
                               "may have written outside its worktree")
                else:  # its time was set back (cp -p, tar), or you edited it between agents
                    self._warn(f"{path} in the main checkout changed during the run, "
                               "with a modification time when no agent was running")
            self._seen, self._checked = state, now
            self._reported.add(label)
            return self._blamed.pop(label, [])


def _cores() -> int:
    """The CPUs this process may use (a container's limit, where the OS tells it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class _AgentCommand:
    """The agent to run: a preset or a template, split once, and the adapter of its CLI."""

    def __init__(self, words: List[str], adapter: _Adapter, exe: str, preset: bool = False):
        self.words = words
        self.adapter = adapter
        self.exe = exe
        self.preset = preset  # named a preset (a template's options are the user's)

    @classmethod
    def parse(cls, spec: str, find: bool = True) -> _AgentCommand:
        """Resolve ``--agent-cmd``: a preset name, or a command line written with shell quoting.

        A template whose program is one of the preset CLIs (``claude -p ...``) gets
        that CLI's adapter: its result reader, environment and bookkeeping rules.
        """
        preset = PRESETS.get(spec)
        try:
            words = shlex.split(preset.template if preset else spec)
        except ValueError as exc:
            raise ConfigError(f"--agent-cmd {spec!r} cannot be split: {exc}") from None
        if not words:
            raise ConfigError("--agent-cmd is empty")
        for word in words:
            for name, _optional in _PLACEHOLDER.findall(word):
                if name not in PLACEHOLDERS:
                    raise ConfigError(f"--agent-cmd: unknown placeholder {{{name}}} "
                                      f"(known: {', '.join('{%s}' % p for p in PLACEHOLDERS)})")
        if _PLACEHOLDER.search(words[0]):
            raise ConfigError("--agent-cmd: the command itself cannot be a placeholder")
        adapter = preset or PRESETS.get(os.path.basename(words[0]), _TEMPLATE)
        exe = shutil.which(words[0]) if find else words[0]
        if exe is None:
            folders = [""] if os.sep in words[0] else os.environ.get("PATH", "").split(os.pathsep)
            there = next((os.path.join(f, words[0]) for f in folders
                          if os.path.isfile(os.path.join(f, words[0]))), None)
            if there:
                raise ParallelError(f"agent command '{words[0]}' is {os.path.abspath(there)}, "
                                    "which is not executable; make it so (chmod +x) or run "
                                    "another")
            raise ParallelError(f"agent command '{words[0]}' not found"
                                + ("" if os.sep in words[0] else " on PATH")
                                + "; install it or add its folder to PATH")
        # A relative PATH entry would otherwise be looked up again from each worktree.
        return cls(words, adapter, os.path.abspath(exe), preset is not None)

    def environment(self, env: Dict[str, str]) -> Dict[str, str]:
        """``env`` with the variables the CLI needs, where the user has not set them."""
        return dict(self.adapter.env, **env)

    def argv(self, values: Dict[str, Optional[str]]) -> List[str]:
        """The command line for one worker: placeholders filled in, nothing re-split.

        ``{name?}`` without a value drops its argument, and when the argument is the
        placeholder alone, the option right before it too (``--model {model?}``).
        """
        argv: List[str] = [self.exe]
        previous = ""  # the template word behind argv[-1]
        for word in self.words[1:]:
            missing = [name for name, optional in _PLACEHOLDER.findall(word)
                       if values.get(name) is None]
            if missing:
                if not all(f"{{{name}?}}" in word for name in missing):
                    raise ConfigError(
                        f"--agent-cmd needs {{{missing[0]}}}, which has no value for worker "
                        f"{values['worker']}; write {{{missing[0]}?}} to leave it out")
                # The option before a lone placeholder goes too: a literal word such as
                # --model, never a value or '--'.
                if (_PLACEHOLDER.fullmatch(word) and previous.startswith("-") and previous != "--"
                        and not _PLACEHOLDER.search(previous) and argv[-1] == previous):
                    argv.pop()
                previous = ""
                continue
            argv.append(_PLACEHOLDER.sub(lambda m: values[m.group(1)] or "", word))
            previous = word
        return argv


_PLACEHOLDER = _LazyPattern(r"\{([A-Za-z_][A-Za-z0-9_]*)(\??)\}")


def _encode(text: str) -> bytes:
    """Text as the bytes it came from (command-line text may hold undecodable bytes)."""
    return text.encode("utf-8", "surrogateescape")


def _too_long(argv: List[str], env: Dict[str, str]) -> Optional[str]:
    """Why the OS would refuse to start ``argv`` with ``env`` (E2BIG), or None."""
    sizes = [len(_encode(arg)) for arg in argv]
    if sys.platform.startswith("linux") and max(sizes) > _MAX_ARG_BYTES:
        return (f"a command-line argument of {max(sizes):,} bytes (the task?) is too long: Linux "
                f"allows at most {_MAX_ARG_BYTES:,} for one; use an agent template with "
                "{task_file}, which passes the task in a file")
    try:
        limit = os.sysconf("SC_ARG_MAX")
    except (AttributeError, ValueError, OSError):
        return None
    # Each string and its pointer count; keep a page for what the kernel adds.
    total = sum(sizes) + sum(len(_encode(k)) + len(_encode(v)) + 2 for k, v in env.items())
    total += 8 * (len(argv) + len(env) + 2)
    if limit > 0 and total > limit - 4096:
        return (f"the command line and environment take {total:,} bytes, more than this "
                f"system's limit of {limit:,}; use an agent template with {{task_file}}, "
                "which passes the task in a file")
    return None


def _json_lines(path: str, going_on: Callable[[], None] = lambda: None) -> Iterator[dict]:
    """The JSON objects among the lines of ``path`` (a JSONL event stream): of its first and
    its last _STREAM_PART bytes when it holds more (round 82: an agent made its log a sparse
    file of 8 TB, which the runner read for hours, deaf to signals: the session's start and
    its result are at its ends); a line longer than _JSON_LINE_LIMIT is skipped, unread (its
    writer, the agent, could make it endless). ``going_on`` is called before each line (it
    raises to stop: see _Output)."""
    try:
        with _open_regular(path) as f:
            size = os.fstat(f.fileno()).st_size
            parts = [(0, size)] if size <= 2 * _STREAM_PART else \
                [(0, _STREAM_PART), (size - _STREAM_PART, size)]
            for start, end in parts:
                yield from _json_lines_between(f, start, end, going_on)
    except OSError:
        return


def _json_lines_between(f: BinaryIO, start: int, end: int,
                        going_on: Callable[[], None]) -> Iterator[dict]:
    """The JSON objects among the lines of the file ``f`` that start between its bytes
    ``start`` (the first whole line from there) and ``end``; no more than that is read."""
    import json
    f.seek(max(start - 1, 0))
    if start and not _skip_line(f, end):  # (the byte before: a line may start at ``start``)
        return
    while f.tell() < end:
        going_on()
        line = f.readline(_JSON_LINE_LIMIT + 1)
        if not line:
            return
        if len(line) > _JSON_LINE_LIMIT and not line.endswith(b"\n"):
            if not _skip_line(f, end):
                return
            continue
        line = line.strip()
        if line.startswith(b"{") and _json_values(line) <= _JSON_VALUES:
            try:
                value = json.loads(line.decode("utf-8", "replace"))
            except (ValueError, RecursionError):  # deep nesting
                continue
            if isinstance(value, dict):
                yield value


def _skip_line(f: BinaryIO, end: int) -> bool:
    """Move ``f`` past the end of the line it is in, a chunk at a time; False when no line
    ends before its byte ``end`` (or the file's end)."""
    while f.tell() < end:
        chunk = f.read(min(1 << 24, end - f.tell()))
        if not chunk:
            return False
        found = chunk.find(b"\n")
        if found >= 0:
            f.seek(found + 1 - len(chunk), os.SEEK_CUR)
            return True
    return False


# The longest line of a JSONL event stream read (an event holding a command's output is a
# few MB; parsed, a line costs up to some 25 times its size).
_JSON_LINE_LIMIT = 4 << 20
# The bytes of a JSONL event stream read at its start and at its end when it holds more.
_STREAM_PART = 128 << 20
# The most values a line of an event stream (or a quarter of a results file) may hold to be
# parsed, counted as the objects and arrays it opens and the commas it holds (see
# _json_values): 4 MB of `[]` made 230 MB of objects, per worker at once (round 84), and
# 4 MB of `"ab",` 57 MB (round 85); parsed, a value costs up to some 130 bytes. An honest
# event holds a few dozen.
_JSON_VALUES = 100_000


def _json_values(text: "bytes | str", start: int = 0, end: Optional[int] = None) -> int:
    """How many values the JSON text ``text[start:end]`` holds at most: each but the first
    follows a comma or opens an object or array (commas in strings are counted too)."""
    end = len(text) if end is None else end
    marks = (b"{", b"[", b",") if isinstance(text, bytes) else ("{", "[", ",")
    return sum(text.count(mark, start, end) for mark in marks)


def _fail_worker(result: WorkerResult, problem: str) -> None:
    """Fail ``result`` for ``problem``, after the reasons it already failed for, if any."""
    result.error = f"{result.error}; {problem}" if result.status == "failed" and \
        result.error and problem not in result.error else problem
    result.status = "failed"


def _rank(results: List[WorkerResult]) -> List[WorkerResult]:
    """Set ``rank`` (1 = best) and return the results sorted by worker_id.

    Best is: a worker whose agent ran (those that never did come last), then more checks
    passed, then a better status (success, partial, failed, timeout, interrupted), then
    one that changed something (a worker that did nothing never outranks one that did the
    work: merge best would bring nothing, and in CI its claim of $0 costs nothing to make),
    then a lower cost (unknown after known), then a shorter duration, then the lower
    worker id.
    """
    def key(r: WorkerResult) -> tuple:
        order = STATUSES.index(r.status) if r.status in STATUSES else len(STATUSES)
        # (a commit that changes nothing too; a repository inside, 'sub/', no commit holds)
        idle = all(name.endswith("/") for name in r.files_modified)
        return (r.exit_code is None, -r.checks_passed, order, idle,
                r.cost if r.cost_known else math.inf, r.duration, r.worker_id)

    for rank, result in enumerate(sorted(results, key=key), 1):
        result.rank = rank
    return sorted(results, key=lambda r: r.worker_id)


def _winner(results: List[WorkerResult]) -> Optional[WorkerResult]:
    """The worker to name "best": rank 1, if it succeeded and passed every check, in a
    race (one task). With different tasks nothing is best: the work is unrelated."""
    if len({r.task for r in results}) != 1:
        return None
    best = next((r for r in results if r.rank == 1), None)
    return best if best is not None and _verified(best) else None


def _followed(previous: WorkerResult, new: WorkerResult, follow_up: _FollowUp) -> WorkerResult:
    """Worker ``previous`` after the follow-up whose result is ``new``: the follow-up's
    status, checks, files, commit and logs; times, costs, steps and tokens added up."""
    result = dataclasses.replace(previous, status=new.status, error=new.error)
    if new.log_path:  # its agent ran (else the rest of what the worker did stands)
        for name in ("exit_code", "log_path", "stderr_path", "worker_log", "checks",
                     "checks_passed", "checks_total", "files_modified"):
            setattr(result, name, getattr(new, name))
    result.commit = new.commit or previous.commit
    result.session_id = new.session_id or previous.session_id
    result.duration = round(previous.duration + new.duration, 3)
    result.cost = previous.cost + new.cost
    result.cost_known = previous.cost_known or new.cost_known
    result.steps = previous.steps + new.steps
    result.steps_known = previous.steps_known or new.steps_known
    resumed = follow_up.session is not None and new.session_id in (None, follow_up.session)
    if resumed and follow_up.totals:  # the CLI counted the whole session already
        result.tokens_in = new.tokens_in if new.tokens_in is not None else previous.tokens_in
        result.tokens_out = new.tokens_out if new.tokens_out is not None else previous.tokens_out
    else:
        result.tokens_in = _add(previous.tokens_in, new.tokens_in)
        result.tokens_out = _add(previous.tokens_out, new.tokens_out)
    result.continued = previous.continued + [{
        "task": new.task, "resumed": resumed, "session_id": follow_up.session,
        "status": new.status,
        "cost": new.cost if new.cost_known else None, "duration": new.duration,
        "commit": new.commit, "at": time.time()}]
    return result


def _add(a: Optional[int], b: Optional[int]) -> Optional[int]:
    """Two token counts added up; None when neither is known."""
    return None if a is None and b is None else (a or 0) + (b or 0)


def _not_started(r: WorkerResult) -> bool:
    """Whether the worker's agent never started (interrupted first, or skipped)."""
    return r.exit_code is None and (r.error or "").startswith("not started")


def _verified(r: WorkerResult) -> bool:
    """Whether the worker succeeded and passed every check it was given."""
    return r.status == "success" and r.checks_passed == r.checks_total


def _only_in_worktree(r: "WorkerResult | dict") -> bool:
    """Whether a worker's work is in its worktree only, on no commit (--no-commit, or its
    commit was refused): it recorded no commit, and changed files (what its checks left is
    not its work: round 87). ``r`` as a result or as last-run.json holds it."""
    commit, files = (r.commit, r.files_modified) if isinstance(r, WorkerResult) else \
        (r.get("commit"), r.get("files_modified"))
    return commit is None and bool(files)


def _checks_cell(r: WorkerResult) -> str:
    """``1/2``; ``skipped`` when the worker failed or timed out first (see --check-all);
    ``not checked`` when the checks were stopped or never reached; ``-`` without checks."""
    if not r.checks_total or r.status == "skipped":
        return "-"
    if len(r.checks) < r.checks_total:
        return "skipped" if r.status in ("failed", "timeout") and not r.checks else "not checked"
    return f"{r.checks_passed}/{r.checks_total}"


def _verdict(r: WorkerResult) -> str:
    """``failed``, ``success, checks 1/2``: what a merge of this worker would bring."""
    return r.status + (f", checks {_checks_cell(r)}" if r.checks_total else "")


def _beneath_top(top: str, path: str) -> Optional[str]:
    """The path from ``top`` by which ``path`` names a file beneath it, its links on the way
    kept (``conf/local.yaml`` with ``conf`` a link); None when it is not beneath ``top``."""
    head, rest, real = os.path.abspath(path), [], os.path.realpath(top)
    while os.path.realpath(head) != real:
        parent, name = os.path.split(head)
        if parent == head:
            return None
        rest.append(name)
        head = parent
    return "/".join(reversed(rest)) or None


def _inside(top: str, path: str) -> bool:
    """Whether ``path`` is inside the folder ``top``, both as their links lead."""
    real, top = os.path.realpath(path), os.path.realpath(top)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)


def _copy_files(top: str, worktree: str, files: List[str]) -> List[str]:
    """Copy ``files`` (repo-relative) from the main checkout into ``worktree``.

    A file the worktree already has is left alone; symbolic links are copied as
    links, never followed, so nothing from outside the repository comes in. Into the
    worktree from descriptor to descriptor, each file made new (never through a link or
    onto a file put there meanwhile).
    """
    copied = []
    for name in files:
        source = os.path.join(top, name)
        try:
            parts = [p for p in os.path.dirname(name).split(os.sep) if p and p != "."]
            if ".." in parts:
                raise OSError(errno.EINVAL, "not a path beneath its folder", name)
            folder = _open_folder_beneath(worktree, parts, make=True)
        except OSError:
            raise ParallelError(f"include file {name}: its folder in the worktree is a symbolic "
                                "link out of it; refusing to copy it there") from None
        try:
            last = os.path.basename(name)
            if _stat_at(folder, last) is not None:
                continue
            if os.path.islink(source):
                os.symlink(os.readlink(source), last, dir_fd=folder)
            else:
                with open(source, "rb") as f:
                    st = os.fstat(f.fileno())
                    try:
                        out = os.open(last, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                      | os.O_CLOEXEC, 0o600, dir_fd=folder)
                    except FileExistsError:  # (put there meanwhile: left alone, as above)
                        continue
                    with os.fdopen(out, "wb") as target:
                        shutil.copyfileobj(f, target)
                        target.flush()  # (its times last: round 119, the buffer's tail came after)
                        os.fchmod(out, stat.S_IMODE(st.st_mode))
                        os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
            copied.append(name)
        finally:
            os.close(folder)
    return copied


def _put_back_includes(top: str, worktree: str, files: List[str]) -> List[str]:
    """Put the include files ``files`` copied into ``worktree`` back as they are in the main
    checkout (they are never committed: the checks must see yours, as a fresh setup would),
    each a new file, without the group's or others' write (a file an agent kept open, or one
    in a set-group-ID folder of another account's group, would be written by them before the
    checks); through descriptors, no link followed. Returns those it could not put back
    (larger than _INCLUDE_PUT_BACK, or no longer a file or link)."""
    failed = []
    for name in files:
        source = os.path.join(top, name)
        try:
            st = os.lstat(source)
            if stat.S_ISLNK(st.st_mode):
                folder, last = _walk_beneath(worktree, name)
                try:
                    with contextlib.suppress(OSError):
                        if os.readlink(last, dir_fd=folder) == os.readlink(source):
                            continue
                    os.unlink(last, dir_fd=folder)
                    os.symlink(os.readlink(source), last, dir_fd=folder)
                finally:
                    os.close(folder)
                continue
            if st.st_size > _INCLUDE_PUT_BACK:
                raise OSError(errno.EFBIG, "too large to put back")
            with open(source, "rb") as mine:
                _replace_beneath(worktree, name, mine.read(), stat.S_IMODE(st.st_mode) & 0o755)
            folder, last = _walk_beneath(worktree, name)  # (and its times: round 119, make)
            try:
                os.utime(last, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=folder,
                         follow_symlinks=False)
            finally:
                os.close(folder)
        except OSError:
            failed.append(name)
    return failed


_INCLUDE_PUT_BACK = 64 << 20  # the largest include file put back in memory


_NON_SPACE = _LazyPattern(r"\S")


def _read_last_json(path: str, going_on: Callable[[], None] = lambda: None) -> Optional[dict]:
    """The last JSON object in an agent's stdout, or None.

    ``architect run --json`` prints one JSON object (possibly indented over many
    lines) after whatever else reached stdout, so try every line that opens an
    object, last first, in the end of the output. ``going_on`` is called before each try
    (it raises to stop: see _Output).
    """
    import collections
    import json
    decoder = json.JSONDecoder()
    for tail in _RESULT_TAILS:
        try:
            with _open_regular(path) as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                f.seek(max(0, size - tail))
                text = f.read().decode("utf-8", errors="replace")
        except OSError:
            return None
        # The last 100 lines that open an object (each try may read to the end: an agent's
        # output of thousands of such lines would cost minutes), kept as they are found
        # (round 83: 2 million of them, listed first, took 323 MB).
        after, held = len(text), 0  # (what the try from each start would parse: no more
        # than _JSON_VALUES values, and earlier starts parse more)
        for match in reversed(collections.deque(re.finditer(r"^[ \t]*\{", text, re.M), 100)):
            going_on()
            start = match.start()
            held += _json_values(text, start, after)
            after = start
            if held > _JSON_VALUES:
                break
            try:
                value, end = decoder.raw_decode(text, match.end() - 1)
            except (ValueError, RecursionError):  # deep nesting
                continue
            if isinstance(value, dict) and not _NON_SPACE.search(text, end):
                return value
        if size <= tail:
            break
    return None


######################################################################
# Git helpers
######################################################################

class _Repo:
    """A repository and the git commands the tool needs. Every git call goes through
    ``git()``, ``run()`` or ``popen()``, and so through _git_popen."""

    def __init__(self, top: str, common_dir: str, wrap: Optional[_Wrap] = None,
                 cache: Optional[dict] = None, timeout: Optional[float] = None,
                 stop: Optional[threading.Event] = None):
        self.top = top
        self.common_dir = common_dir
        self.wrap = wrap  # what its gits run within (a worker's sandbox, see _Box)
        self.timeout = timeout  # seconds a git may take (after an agent: it made the files)
        self.stop = stop  # once set, its gits are stopped (a second Ctrl-C)
        self._cache = {} if cache is None else cache  # shared with its wrapped copies

    def wrapped(self, wrap: Optional[_Wrap], timeout: Optional[float] = None,
                stop: Optional[threading.Event] = None) -> _Repo:
        """This repository, with every git command run within ``wrap`` (see _Box.wrap) and,
        with ``timeout``, stopped after that many seconds, or once ``stop`` is set
        (ParallelError)."""
        return _Repo(self.top, self.common_dir, wrap, self._cache, timeout, stop) \
            if wrap or timeout or stop else self

    @classmethod
    def find(cls, where: str) -> _Repo:
        if shutil.which("git") is None:
            raise ParallelError("git not found on PATH")
        if not os.path.isdir(where):
            raise ParallelError(f"{where} is not a folder")
        try:
            out = _git(["rev-parse", "--show-toplevel", "--git-common-dir"], where)
        except ParallelError:
            raise ParallelError(f"{where} is not inside a git repository with a working tree") from None
        top, common = out.splitlines()[:2]
        _note_checkout(os.path.realpath(top))
        return cls(os.path.realpath(top), os.path.realpath(os.path.join(where, common)))

    def _settings(self, cwd: str, filters: bool) -> Dict[str, str]:
        """What a git this tool runs in ``cwd`` gets besides _GIT_SETTINGS: in a worktree of
        ours, the git folder it must use (see admin_folder: an agent may have pointed the
        worktree's ``.git`` file at a repository of its own); and, unless ``filters``, no
        filter driver (see _neutral). A worktree of ours is first counted once in this
        process: one holding more .gitignore and .gitattributes files than a git may read
        (see _rules_in_worktree) raises ParallelError, and no git runs there (round 98: a
        worker's rules read by every later `diff`, `report` and `cleanup`)."""
        pin = self.pin(cwd)
        if pin and cwd not in _COUNTED and os.path.isdir(cwd):
            rules = _rules_in_worktree(cwd)
            _COUNTED[cwd] = rules is not None and rules <= _IGNORE_RULES_LIMIT
        if pin and _COUNTED.get(cwd) is False:
            raise ParallelError(
                    f"{cwd} holds .gitignore and .gitattributes files of over "
                    f"{_IGNORE_RULES_LIMIT >> 10} KB in all, or folders this tool cannot list: no "
                    "git of it reads them (each could take GBs of memory and minutes); look at "
                    f"it yourself, or remove it with '{_prog()} cleanup --force --keep-branches' "
                    "(the branches keep the committed work; 'cleanup --dry-run --keep-branches' "
                    "first names what --force deletes in the other worktrees)")
        return {**pin, **({} if filters else self._neutral(cwd, pin))}

    def ours(self, path: str) -> bool:
        """Whether ``path`` is where this repository's workers have their worktrees."""
        return os.path.dirname(os.path.normpath(path)) == self.top and _is_worker_path(path)

    def pin(self, cwd: str) -> Dict[str, str]:
        """For a worktree of ours, ``GIT_DIR`` and ``GIT_WORK_TREE``, after checking its
        ``.git`` file names its folder under the repository's ``worktrees/`` (see
        admin_folder; _Refused when not); else {}."""
        return {"GIT_DIR": self.admin_folder(cwd), "GIT_WORK_TREE": cwd} if self.ours(cwd) else {}

    def pointers(self, worktree: str) -> "List[tuple[str, str, bytes]]":
        """The files that tell git where the worktree ``worktree``'s git folder and the
        repository are, as (folder, name, content): its ``.git``, and its git folder's
        ``gitdir`` and ``commondir`` (checked, see admin_folder)."""
        admin = self.admin_folder(worktree, strict=False)
        found = [(worktree, ".git"), (admin, "gitdir"), (admin, "commondir")]
        return [(folder, name, _read_beneath(folder, name, 4096) or b"") for folder, name in found]

    def admin_folder(self, worktree: str, strict: bool = True) -> str:
        """The git folder of the worktree ``worktree``, as its ``.git`` file names it: it must
        be a folder of the repository's ``worktrees/`` whose ``gitdir`` names the worktree
        back and whose ``commondir`` leads to the repository, and (``strict``) its ``HEAD``
        and ``index`` files, not a FIFO a git would hang on. _Refused otherwise."""
        # Each read as git reads it (trailing CR and LF dropped; from gitdir, trailing blanks):
        # a name with a tab at its end is another folder to git.
        named = (_read_beneath(worktree, ".git", 4096) or b"").decode(
            "utf-8", "surrogateescape").rstrip("\r\n")
        admin = named[len("gitdir: "):] if named.startswith("gitdir: ") else ""
        admin = os.path.realpath(os.path.join(worktree, admin)) if admin else ""
        folder = os.path.realpath(os.path.join(self.common_dir, "worktrees"))
        back = (_read_beneath(admin, "gitdir", 4096) or b"").decode("utf-8", "surrogateescape") \
            if admin else ""
        common = (_read_beneath(admin, "commondir", 4096) or b"").decode(
            "utf-8", "surrogateescape").rstrip("\r\n") if admin else ""
        back = os.path.realpath(back.rstrip(" \t\r\n"))
        if not admin or os.path.dirname(admin) != folder or not os.path.isdir(admin) or \
                back != os.path.join(os.path.realpath(worktree), ".git") or \
                os.path.realpath(os.path.join(admin, common)) != os.path.realpath(self.common_dir):
            raise _Refused(f"{worktree}/.git does not name its own folder of this "
                           "repository's git folder any more (an agent or a command changed "
                           "it, or its folder); refusing to run git there")
        for name in ("HEAD", "index") if strict else ():
            st = _lstat_beneath(admin, name)
            if (st is None and name == "HEAD") or (st is not None and not stat.S_ISREG(st.st_mode)):
                raise _Refused(f"{os.path.join(admin, name)} is not a file (an agent or a "
                               "command replaced it); refusing to run git there")
        return admin

    def _neutral(self, cwd: str, pin: Dict[str, str]) -> Dict[str, str]:
        """Settings that turn off every filter driver configured for git in ``cwd`` (any
        scope, a worktree's own config and conditional includes too): a ``.gitattributes``
        an agent wrote could pick one, and then a ``git status`` or ``diff`` there would run
        it. Only the runner's own checkouts, commits and merges (``filters=True``) run them."""
        key = ("neutral", cwd, tuple(sorted(pin.items())))
        if key not in self._cache:
            out = _git(["config", "-z", "--get-regexp", r"^filter\..*\.(clean|smudge|process)$"],
                       cwd, check=False, settings=pin, timeout=self._limit(cwd)) or ""
            settings = {}
            for item in out.split("\0"):
                name = item.split("\n", 1)[0][len("filter."):].rpartition(".")[0]
                if name:
                    settings.update({f"filter.{name}.{k}": "" for k in ("clean", "smudge", "process")})
                    settings[f"filter.{name}.required"] = "false"
            self._cache[key] = settings
        return self._cache[key]

    def git(self, *args: str, cwd: Optional[str] = None,
            input: "Optional[bytes | BinaryIO]" = None, check: bool = True,
            filters: bool = False, index: Optional[str] = None) -> str:
        """git's stdout (see _git); ``filters``: run the filters the repository configures;
        ``index``: the index file it uses (GIT_INDEX_FILE)."""
        cwd = cwd or self.top
        settings = self._settings(cwd, filters)
        return _git(list(args), cwd, input=input, check=check, wrap=self.wrap,
                    settings={**settings, "GIT_INDEX_FILE": index} if index else settings,
                    timeout=self._limit(cwd), stop=self.stop)

    def _limit(self, cwd: str) -> Optional[float]:
        """Seconds a git in ``cwd`` may take: this repository's limit, or in a worktree of
        ours (files an agent made: a FIFO or a sparse file of terabytes), _WORKTREE_GIT_TIMEOUT."""
        return self.timeout or (_WORKTREE_GIT_TIMEOUT if self.ours(cwd) else None)

    def succeeds(self, *args: str, cwd: Optional[str] = None) -> bool:
        """Whether a git command exits 0 (for git's yes/no questions)."""
        return self.git(*args, cwd=cwd, check=False) is not None

    def run(self, *args: str, cwd: Optional[str] = None, filters: bool = False,
            index: Optional[str] = None) -> subprocess.CompletedProcess:
        """git run to its end, whatever its exit code (see _git_run; ``index``: see git)."""
        cwd = cwd or self.top
        settings = self._settings(cwd, filters)
        return _git_run(list(args), cwd, wrap=self.wrap,
                        settings={**settings, "GIT_INDEX_FILE": index} if index else settings,
                        timeout=self._limit(cwd), stop=self.stop)

    def popen(self, *args: str, cwd: Optional[str] = None, **popen: object) -> subprocess.Popen:
        """git started (see _git_popen), with no filter driver; killed once it has taken its
        time (see _limit) or (then) ``stop`` is set, or at an interrupt (a git that writes
        nothing: see _kill_readers; the only kind this is for). The caller kills it when it
        stops early."""
        cwd = cwd or self.top
        proc = _git_popen(list(args), cwd, self.wrap, self._settings(cwd, False), **popen)
        limit, stop = self._limit(cwd), self.stop
        if limit:  # (kill() does nothing once it has been waited for)
            watchdog = threading.Thread(target=lambda: (stop.wait(limit) if stop else
                                                        time.sleep(limit), proc.kill()))
            watchdog.daemon = True
            watchdog.start()
        return proc

    def stream(self, args: List[str], cwd: Optional[str] = None,
               limit: Optional[int] = None) -> "tuple[str, bool, bool]":
        """git's output ('' when it fails), whether it was cut at ``limit`` characters (git is
        then stopped, as an agent's diff may be of any size), and whether git failed (its
        output is then no answer: an empty diff must never stand for one git could not make).
        In our process group, so that a Ctrl-C stops it too (it only reads)."""
        import subprocess
        proc = self.popen(*args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        more = True  # (until read: an exception stops it too)
        try:
            data = proc.stdout.read() if limit is None else proc.stdout.read(limit + 1)
            more = limit is not None and len(data) > limit
        finally:
            if proc.poll() is None and (limit is not None or more):
                proc.kill()
            proc.stdout.close()
            code = proc.wait()
        return ((data[:limit] if more else data).decode("utf-8", "surrogateescape")
                if more or code == 0 else "", more, not more and code != 0)

    def blobs(self, shas: List[str], head: Optional[int] = None
              ) -> Iterator["tuple[str, Optional[bytes]]"]:
        """Each of ``shas`` with its content (its first ``head`` bytes only, when given: the
        rest is read and dropped), None for what is no blob; one git for all of them."""
        import subprocess
        reader = self.popen("cat-file", "--batch", stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            for sha in shas:
                reader.stdin.write(f"{sha}\n".encode())
                reader.stdin.flush()
                told = reader.stdout.readline().decode("ascii", "replace").split()
                if len(told) != 3 or not _digits(told[2]):
                    yield sha, None
                    continue
                size = int(told[2])
                left = size + 1  # (its bytes and a newline, read to stay in step)
                data = reader.stdout.read(left if head is None else min(left, head))
                left -= len(data)
                while left > 0:
                    chunk = reader.stdout.read(min(left, 1 << 20))
                    if not chunk:
                        break
                    left -= len(chunk)
                yield sha, data[:size] if told[1] == "blob" else None
        finally:
            with contextlib.suppress(OSError):
                reader.stdin.close()
            reader.kill()
            reader.wait()

    def resolve_base(self, ref: Optional[str]) -> str:
        """The commit the workers start from: ``ref``, or HEAD (its branch, or its commit when detached)."""
        if ref is None:
            try:
                return self.git("rev-parse", "--verify", "--quiet", "HEAD^{commit}").strip()
            except ParallelError:
                raise ParallelError("HEAD has no commit yet (empty repository or unborn branch); "
                                    "commit something first, or pass --base REF") from None
        try:
            return self.git("rev-parse", "--verify", "--quiet", "--end-of-options",
                            f"{ref}^{{commit}}").strip()
        except ParallelError:
            raise ParallelError(f"--base {ref!r} is not a commit in this repository") from None

    def checkout_state(self) -> Dict[str, "tuple[str, Optional[float], int]"]:
        """The main checkout's changed and untracked files: ``{path: (status, mtime, size)}``.
        Asked with your filters, as your git status asks (round 113: without them, an LFS file
        only touched since git last wrote your index showed as changed; your own `git status`
        during the run then refreshed it, and the agent was failed for a change it never
        made)."""
        out = self.git("--no-optional-locks", "status", "--porcelain=v1", "-z", "--no-renames",
                       "--untracked-files=all", filters=True)
        state = {}
        for entry in out.split("\0"):
            if len(entry) > 3:
                path = entry[3:]
                try:
                    st = os.lstat(os.path.join(self.top, path))
                    state[path] = (entry[:2], st.st_mtime, st.st_size)
                except OSError:
                    state[path] = (entry[:2], None, -1)
        return state

    def prune_worktrees(self) -> None:
        self.clear_admins()
        self.git("worktree", "prune")

    def worktrees(self) -> List[dict]:
        """``git worktree list --porcelain`` as dicts with path, head, branch (short name or
        None) and, for a worktree locked with ``git worktree lock``, locked (its reason)."""
        self.clear_admins()
        items: List[dict] = []
        for line in self.git("worktree", "list", "--porcelain", "-z").split("\0"):
            if line.startswith("worktree "):
                items.append({"path": os.path.realpath(line[len("worktree "):]), "branch": None})
            elif line.startswith("HEAD ") and items:
                items[-1]["head"] = line[len("HEAD "):]
            elif line.startswith("branch ") and items:
                items[-1]["branch"] = line[len("branch "):].replace("refs/heads/", "", 1)
            elif (line == "locked" or line.startswith("locked ")) and items:
                items[-1]["locked"] = line[len("locked "):] or "no reason given"
        return items

    def clear_admins(self) -> None:
        """Remove from our worktrees' git folders what git never writes there and what would
        hang or stop every git that reads them all (``git worktree list``, ``git branch``):
        links, FIFOs, devices, and folders where git keeps files (see _remove_odd_files). A
        worker's end does it (see ParallelRunner._settle); this is for a
        run killed before that."""
        for entry in _entries(os.path.join(self.common_dir, "worktrees")):
            # (git names it after the worktree's folder, its leading dot a dash)
            if WORKTREE_PREFIX[1:] in entry.name and entry.is_dir(follow_symlinks=False):
                removed = _remove_specials(entry.path, links=True) + _remove_odd_files(entry.path)
                if removed:
                    _print_err(f"warning: removed what is not a file from {entry.path}: "
                               + _shorten(", ".join(removed), 200))
                worktree = os.path.dirname((_read_beneath(entry.path, "gitdir", 4096) or b"")
                                           .decode("utf-8", "replace").strip())
                worker = os.path.basename(worktree)[len(WORKTREE_PREFIX):]
                if "HEAD" in removed and self.ours(worktree) and _worker_digits(worker):
                    # (git needs one to see the worktree at all)
                    _replace_beneath(entry.path, "HEAD",
                                     f"ref: refs/heads/{BRANCH_PREFIX}{worker}\n".encode())

    def worktree_state(self, path: str) -> str:
        """A fingerprint of the uncommitted state of the worktree at ``path``: which files
        differ from its HEAD or are new, with their sizes and modification times; then, on
        a line of its own, the same of its ignored files (a ``.gitignore`` an agent wrote
        may hide files you make there later)."""
        import hashlib
        import itertools
        import tempfile
        lines: List[str] = []
        gitlinks = self.gitlinks(path)
        for args in (["status", "--porcelain", "-z", "--untracked-files=all"],
                     ["ls-files", "-z", "--others", "--ignored", "--exclude-standard"]):
            # (streamed through a file, 2,000 names at a time: an agent's 200,000 names of
            # 4 KB each held whole, four times over, took the runner to 2.5 GB, round 65)
            with tempfile.TemporaryDirectory(prefix="architect-parallel-state-") as scratch:
                listed = os.path.join(scratch, "listed")
                with open(listed, "wb") as f:
                    self._run_to(args, f, f"git could not list the files of {path}", cwd=path)
                digest, opaque = hashlib.sha256(), []
                with open(listed, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        digest.update(chunk)
                with open(listed, "rb") as f:
                    names = (raw.decode("utf-8", "surrogateescape") for (raw,) in _nul_records(f, 1))
                    while True:
                        batch = [name[3:] if not lines else name
                                 for name in itertools.islice(names, 2_000) if name]
                        if not batch:
                            break
                        stats = _lstat_names(path, batch)  # (agent-made)
                        for name in batch:
                            st = stats.get(_beneath_key(name))
                            digest.update(f"{st.st_size} {st.st_mtime_ns}".encode() if st else b"-")
                        # What git does not look into: a repository inside (listed as a folder)
                        # and a submodule's folder; your edits there are unsaved work all the same.
                        opaque += [name for name in batch if name.endswith("/")]
            digest.update(_tree_digest(path, opaque + (gitlinks if not lines else [])).encode())
            lines.append(digest.hexdigest())
        return "\n".join(lines)

    def index_digest(self, path: str) -> Optional[str]:
        """A digest of the index of the worktree at ``path`` (None when it has none)."""
        import hashlib
        fd = _open_beneath(self.admin_folder(path, strict=False), "index")
        if fd is None:
            return None
        digest = hashlib.sha256()
        with os.fdopen(fd, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest()

    def mend_index(self, path: str) -> Optional[str]:
        """Make the index of the worktree at ``path`` one the runner can trust (an agent, or
        a check, wrote it): when an entry names a path git itself would never write there
        (``..``, ``.git``, an empty part: a later ``git diff`` outside would read that file),
        or is marked assume-unchanged or skip-worktree (so that status, diff and cleanup
        would not see your later edits), build it again from HEAD; the files stay as they
        are. Returns what named a path outside, or None."""
        import tempfile
        bad, flagged = [], False
        with tempfile.TemporaryDirectory(prefix="architect-parallel-index-") as scratch:
            listed, ids, known = (os.path.join(scratch, n) for n in ("listed", "ids", "known"))
            with open(listed, "wb") as f:  # (an index of millions of entries: never held whole)
                self._run_to(["ls-files", "-z", "-s", "-v"], f,
                             f"git could not read the index of {path}", cwd=path)
            with open(listed, "rb") as f, open(ids, "wb") as out:
                for (raw,) in _nul_records(f, 1):
                    head, _, name = raw.decode("utf-8", "surrogateescape").partition("\t")
                    parts = name.split("/")
                    if name.startswith("/") or any(p in ("", ".", "..") or p.lower() == ".git"
                                                   for p in parts):
                        bad.append(name)
                        del bad[3:]  # (those named)
                    flagged = flagged or head[:1] not in ("H", "M")
                    fields = head.split()
                    if len(fields) == 4 and fields[1] != "160000":  # (not a submodule's commit)
                        out.write(fields[2].encode() + b"\n")
            # An entry of an object the repository lacks would stop every later status and diff.
            with open(ids, "rb") as f, open(known, "wb") as out:
                self._run_to(["cat-file", "--batch-check=%(objecttype)"], out,
                             f"git could not read the index of {path}", input=f, cwd=path)
            with open(known, "rb") as f:
                missing = any(line.endswith(b" missing\n") for line in f)
        if bad or flagged or missing:
            self.git("read-tree", "HEAD", cwd=path)
        return (f"its worktree's index named paths out of it ({_shorten(', '.join(bad), 200)}); "
                "the index was built again from its HEAD") if bad else None

    def record_worktree_state(self, path: str, branch: str, unsaved: bool = False,
                              tree: Optional[str] = None, heavy: bool = False) -> None:
        """Remember the worktree's state and its branch's commit as its run left them (see
        changed_since_run and branch_moved), and whether it holds work of the run that no
        commit holds, with the tree of its files then (see left_unsaved and left_tree).
        ``heavy``: no git may list it (see _settings), and no state is recorded."""
        with _fresh_file(os.path.join(self.state_dir("worktrees"), os.path.basename(path))) as f:
            f.write(("(not read: see _Repo._settings)\n" if heavy else self.worktree_state(path))
                    + (f"\nunsaved {tree or ''}".rstrip() if unsaved else ""))
        tip = self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}", check=False)
        if tip:
            self.record_branch(branch, tip.strip())

    def submodules_at_start(self, path: str, first: bool) -> Dict[str, str]:
        """The submodule folders of the worktree at ``path`` as its first agent found them (see
        submodule_folders): taken and recorded now when ``first``, else (a continue) as
        recorded then: what an agent did to them is never taken for your setup's."""
        import json
        record = os.path.join(self.state_dir("submodules"), os.path.basename(path))
        if first:
            found = self.submodule_folders(path)
            self.record_submodules(path, found)
            return found
        try:
            found = json.loads(_read_bytes(record, 1 << 20) or b"{}")
        except ValueError:
            return {}
        return found if isinstance(found, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in found.items()) else {}

    def record_submodules(self, path: str, found: Dict[str, str]) -> None:
        """Record ``found`` as the submodule folders of the worktree at ``path`` as your setup
        left them (see submodules_at_start)."""
        import json
        with _fresh_file(os.path.join(self.state_dir("submodules"), os.path.basename(path))) as f:
            json.dump(found, f)

    def record_branch(self, branch: str, tip: str) -> None:
        """Remember ``tip`` as where ``branch``'s run left it (see branch_moved)."""
        with _fresh_file(os.path.join(self.state_dir("branches"), branch.rpartition("/")[2])) as f:
            f.write(tip + "\n")

    def changed_since_run(self, path: str, ignored: bool = True) -> Optional[bool]:
        """Whether the worktree's uncommitted state (and, with ``ignored``, its ignored files)
        differs from what its run left (check output and --no-commit changes are the
        run's), or None when no run recorded it."""
        recorded = _read_bytes(os.path.join(self.common_dir, _STATE_DIR, "worktrees",
                                            os.path.basename(path)), 1024)
        if recorded is None:
            return None
        now = self.worktree_state(path).split("\n")
        before = recorded.decode("ascii", "replace").split("\n")[:2 if ignored else 1]
        return before != now[:len(before)]  # (recorded by an earlier version: no second line)

    def left_unsaved(self, path: str) -> bool:
        """Whether the run that left the worktree at ``path`` recorded that it holds work of
        that run no commit holds (kept with the worktree: a later run, or a collect, that
        does not name its worker, does not forget it; round 86)."""
        recorded = _read_bytes(os.path.join(self.common_dir, _STATE_DIR, "worktrees",
                                            os.path.basename(path)), 1024)
        line = (recorded or b"").split(b"\n")[2:3]
        return bool(line) and (line[0] == b"unsaved" or line[0].startswith(b"unsaved "))

    def left_tree(self, path: str) -> Optional[str]:
        """The tree `git add -A` made of the files of the worktree at ``path`` when its run
        left work there that no commit holds (see worktree_tree), or None."""
        recorded = _read_bytes(os.path.join(self.common_dir, _STATE_DIR, "worktrees",
                                            os.path.basename(path)), 1024)
        line = (recorded or b"").split(b"\n")[2:3]
        tree = line[0][len(b"unsaved "):].decode("ascii", "replace") if line and \
            line[0].startswith(b"unsaved ") else ""
        return tree if _FULL_ID.fullmatch(tree) else None

    def worktree_tree(self, path: str) -> str:
        """The tree ``git add -A`` makes of the worktree at ``path`` as it is now (no filter
        driver runs: see _neutral): what committing its work there, as the run's footer says,
        makes while nothing changed. Made in an index of the runner's own, from HEAD's tree,
        with the ids of the files that differ (``--info-only``: no object is written, round
        88: the runner's `git add` wrote in a worker's 400 MB file its limits had refused)."""
        import tempfile
        with tempfile.TemporaryDirectory(prefix="architect-parallel-tree-") as scratch:
            index, names = os.path.join(scratch, "index"), os.path.join(scratch, "names")
            self.git("read-tree", "HEAD", cwd=path, index=index)
            with open(names, "wb") as f:
                self._run_to(["ls-files", "-z", "--modified", "--deleted", "--others",
                              "--exclude-standard"], f, f"git could not list the files of {path}",
                             cwd=path, index=index)
            with open(names, "rb") as f, open(names + "-files", "wb") as out:
                for (name,) in _nul_records(f, 1):  # (a repository inside, listed as a folder,
                    if not name.endswith(b"/"):     # is left out: no commit of it is merged)
                        out.write(name + b"\0")
            with open(names + "-files", "rb") as f:
                self.git("update-index", "-z", "--add", "--remove", "--info-only", "--stdin",
                         cwd=path, input=f, index=index)
            return self.git("write-tree", "--missing-ok", cwd=path, index=index).strip()

    def branch_moved(self, branch: str, tip: str) -> Optional[bool]:
        """Whether ``branch`` is no longer at ``tip`` where its last run left it (None: no run
        recorded it)."""
        left = self.left_at(branch)
        return None if left is None else left != tip

    def left_at(self, branch: str) -> Optional[str]:
        """Where the last run of ``branch`` left it (see record_branch), or None."""
        recorded = _read_bytes(os.path.join(self.common_dir, _STATE_DIR, "branches",
                                            branch.rpartition("/")[2]), 1024)
        return None if recorded is None else recorded.decode("ascii", "replace").strip()

    def forget_branches(self, branches: List[str]) -> None:
        """Drop what record_worktree_state kept of ``branches`` (deleted)."""
        for branch in branches:
            with contextlib.suppress(OSError):
                os.remove(os.path.join(self.common_dir, _STATE_DIR, "branches",
                                       branch.rpartition("/")[2]))

    def branch_tips(self, branches: List[str]) -> Dict[str, "tuple[str, int]"]:
        """The commit each of ``branches`` points at, and its committer time (one git call)."""
        # %(refname), not :short, which says heads/NAME when a tag has the same name
        out = self.git("for-each-ref", "--format=%(refname) %(objectname) "
                       "%(committerdate:unix)", f"refs/heads/{BRANCH_PREFIX}*")
        tips = {}
        for line in out.splitlines():
            name, sha, when = (line.split(" ") + ["", ""])[:3]
            tips[name[len("refs/heads/"):]] = (sha, int(when) if _digits(when) else 0)
        return {b: tips[b] for b in branches if b in tips}

    def parallel_branches(self) -> List[str]:
        """The workers' branches: architect/parallel-N, N a number (architect/parallel-2-fixes
        is a branch of yours)."""
        out = self.git("for-each-ref", "--format=%(refname)", f"refs/heads/{BRANCH_PREFIX}*")
        return sorted(ref[len("refs/heads/"):] for ref in out.split()
                      if _worker_digits(ref[len("refs/heads/") + len(BRANCH_PREFIX):]))

    def tip(self, branch: str) -> str:
        """The commit ``branch`` (by its full name) points at; '' when there is none."""
        return (self.git("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}^{{commit}}",
                         check=False) or "").strip()

    def settings(self) -> Optional[bytes]:
        """The repository's own git settings that a merge and your own git obey, as one text:
        ``.git/config`` (the programs it names: signing, drivers) and ``.git/info/attributes``
        (it can mark every file binary, or pick those drivers). An unsandboxed agent can
        write both (see merge)."""
        config = _read_bytes(os.path.join(self.common_dir, "config"))
        attributes = _read_bytes(os.path.join(self.common_dir, "info", "attributes"))
        return None if config is None else (
            config + (b"\0info/attributes\0" + attributes if attributes is not None else b""))

    def taken_in(self, branch: str, base: str, tip: str) -> int:
        """How many commits of ``base..tip`` (the work of ``branch``) another branch, tag or
        remote branch holds: history taken in from elsewhere (a merge of one of your branches,
        another worker's commit), which no diff against the base shows, but a merge brings
        (marking your branch merged) or, for another worker's, takes out of merge all."""
        new = self.git("rev-list", "--count", tip, f"^{base}", "--").strip()
        # (a ref that holds the tip itself only builds on this work: a tag of it, say)
        others = [line.split(" ", 1)[0] for line in self.git(  # (by id: a ref's name may be
            "for-each-ref", f"--no-contains={tip}", "--format=%(objectname) %(refname)",
            "refs/heads/", "refs/tags/", "refs/remotes/").splitlines()  # longer than git reads)
            if line.split(" ", 1)[1:] != [f"refs/heads/{branch}"]]
        own = self.git("rev-list", "--count", "--stdin", cwd=self.top,
                       input=f"{tip}\n^{base}\n".encode() + b"".join(
                           f"^{ref}\n".encode() for ref in others)).strip()
        return int(new or 0) - int(own or 0)

    def attributes_changed(self, base: str, tip: str, which: "tuple[str, ...]",
                           others: "tuple[str, ...]" = ()) -> List[str]:
        """The files of ``tip`` and ``others`` (commits merged with it: your branch, the other
        branches of a `merge all`) whose attributes ``which`` differ, under the .gitattributes
        of ``tip`` or of one of ``others``, from those the .gitattributes of ``base`` give them
        (one branch's .gitattributes can name a file another adds); [] at once when no
        .gitattributes changed; the .gitattributes themselves when one is too large to read."""
        trees = []
        for commit in dict.fromkeys((tip, *others)):
            raw = self.git("diff", "--raw", "-z", "--no-renames", "--end-of-options", base, commit,
                           "--", ":(glob)**/.gitattributes").split("\0")
            if not raw[0]:
                continue
            # git reads an attributes file whole (and then ignores one over 100 MB): a few KB
            # of bundle can hold gigabytes of one; none over 1 MB is read here
            changed = {name: info.split()[3] for info, name in zip(raw[0::2], raw[1::2])
                       if info.split()[3].strip("0")}  # (not those it deletes)
            told = self.git("cat-file", "--batch-check=%(objectsize)", input="".join(
                f"{blob}\n" for blob in changed.values()).encode()).split()
            large = [f"{name} (over 1 MB, not read)" for name, size in zip(changed, told)
                     if not _digits(size) or int(size) > 1 << 20]
            if large:
                return large
            trees.append(commit)
        return self._attributes_differ(base, trees, list(dict.fromkeys((tip, *others))), which) \
            if trees else []

    def _attributes_differ(self, base: str, trees: List[str], listed: List[str],
                           which: "tuple[str, ...]") -> List[str]:
        """The files of the commits ``listed`` whose attributes ``which`` differ between what
        ``base``'s .gitattributes and those of one of ``trees`` (and your own attribute files)
        give them: what git itself reads, from an index of each commit's own, never the
        worktree's. Each pair of answers is read side by side as git gives them, one file at
        a time, and the names go through a file: a tree of millions of files (a bundle of a
        few KB, its .gitattributes in every folder) costs no memory; at most
        _ATTRIBUTES_NAMED files are named."""
        import subprocess
        import tempfile
        differ: Dict[str, None] = {}
        with tempfile.TemporaryDirectory(prefix="architect-parallel-attr-") as scratch:
            names = os.path.join(scratch, "names")
            with open(names, "wb") as f:
                for commit in listed:
                    self._run_to(["ls-tree", "-r", "-z", "--name-only", "--full-tree",
                                  "--end-of-options", commit], f,
                                 f"git could not list the files of {commit[:12]}")
            indexes = {}
            for commit in [base, *trees]:
                indexes[commit] = dict(self._settings(self.top, False),
                                       GIT_INDEX_FILE=os.path.join(scratch, f"index-{len(indexes)}"))
                _git(["read-tree", "--end-of-options", commit], self.top,
                     settings=indexes[commit], timeout=self.timeout)
            for tree in trees:
                procs: List[subprocess.Popen] = []
                try:
                    for commit in (base, tree):
                        with open(names, "rb") as f:
                            procs.append(_git_popen(["check-attr", "--cached", "-z", "--stdin",
                                                     *which], self.top, settings=indexes[commit],
                                                    stdin=f, stdout=subprocess.PIPE,
                                                    stderr=subprocess.DEVNULL,
                                                    start_new_session=True))
                    fields = 3 * len(which)
                    with _stopped_at(procs, self.timeout, self.stop, reader=True) as ended:
                        for before, after in zip(_nul_records(procs[0].stdout, fields),
                                                 _nul_records(procs[1].stdout, fields)):
                            if before[2::3] != after[2::3]:
                                differ[after[0].decode("utf-8", "surrogateescape")] = None
                                if len(differ) == _ATTRIBUTES_NAMED:
                                    return list(differ)
                        codes = [p.wait() for p in procs]
                    if ended or any(codes):
                        raise ParallelError(f"git check-attr {ended[0] if ended else 'failed'}")
                finally:
                    for p in procs:
                        with contextlib.suppress(OSError):
                            p.kill()
                        p.stdout.close()
                        p.wait()
        return list(differ)

    def rewritten_on_checkout(self, base: str, tip: str, others: "tuple[str, ...]" = ()
                              ) -> List[str]:
        """The files ``tip`` adds or changes against ``base`` that the .gitattributes of
        ``tip``, or of one of ``others`` (what it is merged with), send through a filter
        driver you configured (Git LFS, git-crypt) or a stateful encoding, however long they
        have done so: their diff shows what git stores (an LFS pointer), not what a checkout
        writes (the LFS object the runner's commit put in your store). At most
        _ATTRIBUTES_NAMED are named."""
        import subprocess
        import tempfile
        drivers = {key[len("filter."):].rpartition(".")[0] for _origin, key, _value in
                   self.your_settings(r"^filter\..*\.(smudge|process)$")}
        found: Dict[str, None] = {}
        with tempfile.TemporaryDirectory(prefix="architect-parallel-attr-") as scratch:
            names = os.path.join(scratch, "names")
            with open(names, "wb") as f:
                self._run_to(["diff", "--name-only", "-z", "--no-renames", "--diff-filter=AMT",
                              "--end-of-options", base, tip], f,
                             f"git could not list the files {tip[:12]} changes")
            if not os.path.getsize(names):
                return []
            for n, commit in enumerate(dict.fromkeys((tip, *others))):
                settings = dict(self._settings(self.top, False),
                                GIT_INDEX_FILE=os.path.join(scratch, f"index-{n}"))
                _git(["read-tree", "--end-of-options", commit], self.top, settings=settings,
                     timeout=self.timeout)
                with open(names, "rb") as f:
                    proc = _git_popen(["check-attr", "--cached", "-z", "--stdin", "filter",
                                       "working-tree-encoding"], self.top, settings=settings,
                                      stdin=f, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      start_new_session=True)
                try:
                    with _stopped_at([proc], self.timeout, self.stop, reader=True) as ended:
                        for record in _nul_records(proc.stdout, 6):
                            driver, encoding = (v.decode("utf-8", "replace")
                                                for v in record[2::3])
                            if driver in drivers or (
                                    encoding not in ("unspecified", "unset", "set")
                                    and not _FAITHFUL_ENCODING.fullmatch(encoding)):
                                found[record[0].decode("utf-8", "surrogateescape")] = None
                                if len(found) == _ATTRIBUTES_NAMED:
                                    break
                    if ended:  # (what it did not read may be what it looks for)
                        raise ParallelError(f"git check-attr {ended[0]}")
                finally:
                    with contextlib.suppress(OSError):
                        proc.kill()
                    proc.stdout.close()
                    proc.wait()
        return list(found)

    def unignored_worktrees(self, base: str, commits: "tuple[str, ...]") -> List[str]:
        """The worktree folders (those there, and the first 64) that the top-level .gitignore
        of one of ``commits`` (a branch, and what merging it makes: two branches' lines
        together), unlike that of ``base``, shows to git although .git/info/exclude ignores
        them: patterns in a .gitignore come first (``!.*``)."""
        blobs = [self._top_ignore(commit) for commit in (base, *commits)]
        shown: Dict[str, None] = {}
        for blob in dict.fromkeys(blobs[1:]):
            if blob and blob != blobs[0]:
                shown.update(dict.fromkeys(self._shown_worktrees(blob)))
        if shown and blobs[0]:
            for name in self._shown_worktrees(blobs[0]):
                shown.pop(name, None)
        return list(shown)

    def _top_ignore(self, commit: str) -> str:
        """The blob of ``commit``'s top-level .gitignore, or "" (none, or a link: git reads no
        rules from one, round 93)."""
        entry = (self.git("ls-tree", "--full-tree", commit, "--", ".gitignore", check=False)
                 or "").split("\t")[0].split(" ")
        return entry[2] if len(entry) == 3 and entry[0] in ("100644", "100755") else ""

    def _shown_worktrees(self, blob: str) -> List[str]:
        """The worktree folders (see unignored_worktrees) git shows with the .gitignore
        ``blob`` at the top: asked of git itself, in a scratch repository holding that
        .gitignore and your info/exclude."""
        import tempfile
        size = (self.git("cat-file", "-s", blob, check=False) or "").strip()
        if not _digits(size):
            return []
        if int(size) > 1 << 20:
            return [".gitignore (over 1 MB, not read)"]
        ignore = self.stream(["cat-file", "blob", blob], self.top, 1 << 20)[0]
        names = {f"{WORKTREE_PREFIX}{n}" for n in range(1, 65)} | {
            entry.name for entry in _entries(self.top) if _is_parallel_path(entry.path)}
        with tempfile.TemporaryDirectory(prefix="architect-parallel-ignore-") as scratch:
            self._ignore_scratch(scratch)
            with open(os.path.join(scratch, ".gitignore"), "wb") as f:
                f.write(ignore.encode("utf-8", "surrogateescape"))
            for name in names:  # (each a repository, as a worktree is to git: shown whole)
                for folder in ("objects", "refs"):
                    os.makedirs(os.path.join(scratch, name, ".git", folder))
                with open(os.path.join(scratch, name, ".git", "HEAD"), "wb") as f:
                    f.write(b"ref: refs/heads/main\n")
                open(os.path.join(scratch, name, "file"), "wb").close()
            listed = _git(["status", "--porcelain", "-z", "--untracked-files=normal"], scratch,
                          timeout=self.timeout) or ""
        return sorted((entry[3:].rstrip("/") for entry in listed.split("\0")
                       if entry.startswith("?? ") and _is_worktree_name(entry[3:])),
                      key=lambda name: (len(name), name))

    def unignored_yours(self, base: str, commits: "tuple[str, ...]") -> List[str]:
        """Your files git ignores in your checkout now (untracked) that the .gitignore files of
        one of ``commits`` would show to it (round 92: a branch's .gitignore stopped ignoring
        your .env, which your next `git add -A` would commit, and `git clean` delete); or why
        that cannot be told. A commit whose .gitignore files only gain lines that ignore more
        (no ``!``, every old line kept in order, each a plain file) shows nothing new. Else git
        itself is asked, in a scratch repository holding that commit's .gitignore files (a
        link is no .gitignore to git: round 93), your untracked ones where it has none (they
        stay), your info/exclude and core.excludesFile, and an
        empty file for each of your ignored files, one by one (round 93: a folder's probe hid
        a `!secrets/.env`); more than 1,000 .gitignore files, one over 1 MB, or more than
        10,000 ignored files of yours cannot be asked about."""
        import itertools
        import tempfile
        changing = [commit for commit in dict.fromkeys(commits)
                    if not self._ignores_more(base, commit)]
        if not changing:
            return []
        yours = [name for (name,) in itertools.islice(self._names(
            ["ls-files", "-z", "--others", "--ignored", "--exclude-standard"], self.top, 1),
            10_001) if not _is_worktree_name(name.partition("/")[0])]
        if len(yours) > 10_000:
            return ["(more than 10,000 files your rules ignore now: git could not be asked "
                    "about them all)"]
        # Your own untracked .gitignore files stay where a merge puts none of its own (round
        # 95: `.pytest_cache/.gitignore`, `*`, made every ignored file there look shown)
        untracked = [name for name in itertools.chain(yours, (name for (name,) in self._names(
            ["ls-files", "-z", "--others", "--exclude-standard"], self.top, 1)))
            if name.rpartition("/")[2] == ".gitignore"] if yours else []
        shown: Dict[str, None] = {}
        for commit in changing if yours else ():
            ignores = list(itertools.islice(self._ignore_files(commit), 1001))
            tracked = {name for _mode, name in ignores}
            ignores += [("", name) for name in untracked if name not in tracked]
            if len(ignores) > 1000:
                return ["(more than 1,000 .gitignore files: git could not be asked)"]
            with tempfile.TemporaryDirectory(prefix="architect-parallel-ignore-") as scratch:
                self._ignore_scratch(scratch)
                held = 0  # (round 93: 40 nested .gitignore files of 1 MB took each git there
                for mode, name in ignores:  # 1.5 GB and 50 s: git holds every rule above)
                    if mode == "120000":  # (git reads no rules from a link)
                        continue
                    if not _below(scratch, os.path.normpath(os.path.join(scratch, name))):
                        return [f"({_shorten(name, 100)}: a path out of the checkout)"]
                    if mode:  # (the commit's)
                        text, cut, failed = self.stream(
                            ["cat-file", "blob", f"{commit}:{name}"], self.top, 1 << 20)
                        data = text.encode("utf-8", "surrogateescape")
                    else:  # (yours, as your git reads it: none through a link)
                        mine = _read_beneath(self.top, name, (1 << 20) + 1)
                        data, cut, failed = mine or b"", len(mine or b"") > 1 << 20, False
                    held += len(data)
                    if cut or failed or held > _IGNORE_RULES_LIMIT:
                        return [f"(.gitignore files of over {_IGNORE_RULES_LIMIT >> 10} KB in "
                                f"all, or one unreadable: git could not be asked)"]
                    os.makedirs(os.path.dirname(os.path.join(scratch, name)), exist_ok=True)
                    with open(os.path.join(scratch, name), "wb") as f:
                        f.write(data)
                probes = {}
                for name in yours:
                    path = os.path.join(scratch, name)
                    with contextlib.suppress(OSError):
                        os.makedirs(os.path.dirname(path), exist_ok=True)
                        open(path, "ab").close()
                        probes[name] = name
                listed = _git(["ls-files", "-z", "--others", "--exclude-standard"], scratch,
                              timeout=self.timeout) or ""
                shown.update(dict.fromkeys(name for name in listed.split("\0")
                                           if name in probes))
        return sorted(shown)

    def rules_bytes(self, commit: str) -> int:
        """The size of all .gitignore and .gitattributes files of ``commit``'s tree (git holds
        the rules of every such file in the folders above a path: round 94), any case, read
        from git's listing as a stream (no file is read)."""
        return self.tree_bytes(commit, rules=True)

    def tree_bytes(self, commit: str, rules: bool = False) -> int:
        """The bytes of the paths ``commit``'s tree names, or with ``rules`` the size of its
        .gitignore and .gitattributes files (see rules_bytes); git's listing read as a stream
        (``ls-tree`` holds nothing of it either: a diff would hold every path it names,
        several times over, before its first line). A commit's are kept: it never changes."""
        key = (self.top, commit, rules)
        if key not in _TREE_BYTES or not _FULL_ID.fullmatch(commit):
            total = 0
            for (entry,) in self._names(["ls-tree", "-r", *(["-l"] if rules else []), "-z",
                                         "--full-tree", "--end-of-options", commit],
                                        self.top, 1):
                info, _, name = entry.partition("\t")
                if not rules:
                    total += len(name.encode("utf-8", "surrogateescape"))
                    continue
                size = info.split()[-1] if info else ""
                if name.rpartition("/")[2].lower() in (".gitignore", ".gitattributes") and \
                        _digits(size):
                    total += int(size)
            _TREE_BYTES[key] = total
        return _TREE_BYTES[key]

    def names_grown(self, base: str, tip: str) -> int:
        """How many more bytes of paths ``tip``'s tree names than ``base``'s: what a diff of
        them may list beyond what your own tree names (see tree_bytes)."""
        return self.tree_bytes(tip) - self.tree_bytes(base)

    def _ignore_files(self, commit: str) -> Iterator["tuple[str, str]"]:
        """The .gitignore entries of ``commit``'s tree: (mode, path), as they come."""
        for (entry,) in self._names(["ls-tree", "-r", "-z", "--full-tree", commit], self.top, 1):
            info, _, name = entry.partition("\t")
            if name.rpartition("/")[2] == ".gitignore":
                yield info.split(" ")[0], name

    def _ignores_more(self, base: str, commit: str) -> bool:
        """Whether ``commit``'s .gitignore files can only ignore more than ``base``'s: none
        deleted, none a link, each changed one holding the old lines in order, with new lines
        that are no negation (``!``); so a file ignored now stays ignored."""
        changed = [fields for fields in self._names(
            ["diff-tree", "-r", "-z", "--no-renames", base, commit], self.top, 2)
            if fields[1].rpartition("/")[2] == ".gitignore"]
        if len(changed) > 100:  # (each read: asked of git instead, within its bounds)
            return False
        for info, name in changed:
            old_mode, new_mode, old, new, status = info.lstrip(":").split(" ")[:5]
            if status.startswith("D") or new_mode != "100644" and new_mode != "100755":
                return False
            if old_mode not in ("000000", "100644", "100755"):
                return False
            before = [] if status.startswith("A") else self.stream(
                ["cat-file", "blob", old], self.top, 1 << 20)
            after = self.stream(["cat-file", "blob", new], self.top, 1 << 20)
            if before and (before[1] or before[2]) or after[1] or after[2]:
                return False
            # Lines as git reads them (split at LF only, one CR before it dropped), and no
            # byte order mark (git drops one at the start, round 94: `\ufeff!.env` read as
            # `!.env`) or `!` anywhere in a new line: else git is asked.
            if "\ufeff" in after[0] or before and "\ufeff" in before[0]:
                return False
            old_lines = [line[:-1] if line.endswith("\r") else line
                         for line in before[0].split("\n")] if before else []
            at = 0
            for line in after[0].split("\n"):
                line = line[:-1] if line.endswith("\r") else line
                if at < len(old_lines) and line == old_lines[at]:
                    at += 1
                elif "!" in line:
                    return False
            if at < len(old_lines):
                return False
        return True

    def _ignore_scratch(self, scratch: str) -> None:
        """Make ``scratch`` a repository whose git reads ignore rules as this one's does (for
        the .gitignore files put in it): your core.ignorecase (`!.ARCHITECT-PARALLEL-*` shows
        the worktrees where case is ignored), core.excludesFile and info/exclude."""
        _git(["init", "-q", "--template=", scratch], scratch, timeout=self.timeout)
        case = (self.git("config", "--bool", "core.ignorecase", check=False) or "").strip()
        if case:
            _git(["config", "core.ignorecase", case], scratch, timeout=self.timeout)
        excludes = (self.git("config", "--path", "core.excludesFile", check=False) or "").strip()
        if excludes:  # (yours, wherever it is set: round 93)
            _git(["config", "core.excludesFile", os.path.join(self.top, excludes)], scratch,
                 timeout=self.timeout)
        os.makedirs(os.path.join(scratch, ".git", "info"), exist_ok=True)
        with open(os.path.join(scratch, ".git", "info", "exclude"), "wb") as f:
            f.write(_read_beneath(self.common_dir, os.path.join("info", "exclude"), 1 << 20)
                    or b"")

    def run_by_your_git(self, base: str, tip: str) -> List[str]:
        """The files ``tip`` adds, changes or deletes against ``base`` that your git reads as
        settings or runs by itself from the checkout (any setting, but _NOT_RUN): a hook under a
        ``core.hooksPath`` inside it (and the folder holding that one, as Husky's
        ``.husky/_`` runs ``.husky/pre-commit``), a config file an ``include.path`` or
        ``includeIf.*.path`` names there, a ``core.attributesFile`` or ``core.excludesFile``
        there (and any other setting's value naming a file there: ``diff.orderFile``); and
        for the commands git starts there (any setting's value is read as one: filters,
        textconv, pagers, helpers, ``sendemail.tocmd``; not aliases, which you run as you run
        `make`): the files they name by a path (see _command_loads), and those the tools
        they run read by themselves (_HOOK_READS: npx an ``.npmrc``), for ``python -m X`` the
        top-level entries named ``X`` (``X.py``, ``X/``, a link ``X``), and, when one of them
        runs Python, every top-level Python module or package the branch adds (the checkout
        comes first on Python's path: a new ``nbformat.py`` stands in for the one
        ``nbstripout`` imports); for your hooks (see _your_hooks), the files they name and
        those the tools they run read by themselves (_HOOK_READS); the links on the way to
        all of those, and a link put at a folder above one; what the variables of _ENV_RUN
        name (GIT_SSH_COMMAND, PAGER, BROWSER: settings too); the tool's own file; and what is
        loaded by its place (see _loaded_by_you: a library in an LD_LIBRARY_PATH folder, an
        ``argparse.py`` at the top). Not what such a command loads by other means (a hook's
        tools run the checkout's code: see _merge_branch's note)."""
        import tempfile
        files: "set[str]" = set()
        folders: "set[str]" = set()
        modules: "set[str]" = set()
        python = False

        anywhere: "set[str]" = set()

        def reads(tool: str, where: str = "") -> None:  # (what a tool reads by itself: npx
            at = os.path.normpath(where).strip("/") + "/" if where else ""  # an .npmrc; in
            if at.startswith(("../", "/")):  # the folder `make -C tools` names)
                return
            for word, read in _HOOK_READS:
                if word == tool:
                    files.update(at + name for name in read if not name.startswith("**/"))
                    folders.update(at + name for name in read if name.endswith("/"))
                    anywhere.update(name[3:] for name in read if name.startswith("**/"))

        def loads(command: str, whole: bool = True) -> None:  # (what the command runs or reads)
            nonlocal python
            paths, named, runs_python, programs = _command_loads(command, self.top)
            python = python or runs_python
            modules.update(module.split(".")[0] for module in named)
            for path in paths:
                where = self._inside(path)
                if where and (whole or not os.path.isdir(path)):
                    files.add(where)
                    folders.add(where + "/")
            if whole:  # (a hook's tools are read from its text, below)
                for program in programs:
                    reads(program)

        origins: "set[str]" = set()
        for origin, key, value in self.your_settings("."):
            origins.add(origin)
            key = key.lower()
            if _NOT_RUN.fullmatch(key):
                continue
            if key in _FILE_SETTINGS or re.fullmatch(_HTTP_FILES, key) or (
                    key.startswith("include") and key.endswith(".path")):
                start = (os.path.dirname(origin) or self.top if key.startswith("include")
                         else self.top)  # (as git reads it)
                where = self._inside(os.path.join(start, os.path.expanduser(value)))
                if where:
                    files.add(where)
                    folders.add(where + "/")
                    if key == "core.hookspath" and os.path.dirname(where):
                        folders.add(os.path.dirname(where) + "/")
                continue
            # Any other setting may name a command git runs (sendemail.tocmd, tar.tgz.command,
            # imap.tunnel: git has more every release), or a file it reads (diff.orderFile,
            # fetch.fsck.skipList, http.proxySSLCAInfo): its value is read as both.
            loads(value)
            word = os.path.expanduser(re.sub(r"^file://", "", value.strip()))
            if word and not re.search(r"\s|://", word) and re.search(r"[./]", word):
                where = self._inside(word)
                if where:  # (a file, or a folder: a remote's bare repository and its hooks)
                    files.add(where)
                    folders.add(where + "/")
        for origin in origins:  # (a global config that is a file of the checkout: dotfiles)
            where = self._inside(os.path.realpath(origin)) if origin else None
            if where:
                files.add(where)
        for path, folder in _your_start_up_files():  # (made or not: dotfiles, again)
            for where in self._path_in_checkout(path):
                if where:
                    files.add(where)
                    if folder:
                        folders.add(where + "/")
        # The folders of your PATH in the checkout (an activated .venv/bin; a relative entry:
        # that folder under each of its folders): a program the branch puts there runs as you.
        relative: "set[str]" = set()
        anchored: "set[str]" = set()
        for entry in os.environ.get("PATH", "").split(os.pathsep):
            if entry.startswith("~"):  # (bash expands it when it looks a program up)
                entry = os.path.expanduser(entry)
            if not os.path.isabs(entry):  # (../bin, from a folder of the checkout: one there)
                parts = os.path.normpath(entry or ".").split(os.sep)
                while parts[0] == os.pardir and len(parts) > 1:
                    parts.pop(0)
                relative.add("/".join(parts).casefold() if parts != [os.pardir] else ".")
            else:  # (as written from where it enters the checkout, and where its links lead)
                anchored.update(where.casefold() for where in self._path_in_checkout(entry))
                for beside in _beside_bin(entry):  # (bash-completion's X/share/... of X/bin)
                    for where in self._path_in_checkout(beside):
                        folders.add(where.rstrip("/") + "/" if where else "")
        for var, value in os.environ.items():  # (a program's settings or state there:
            if _state_var(var) and var not in (  # KUBECONFIG, AWS_CONFIG_FILE)
                    *_LOADER_VARS, *_CODE_PATH_VARS, *_ENV_RUN):
                for item in _entries_of(var, value):
                    where = self._inside(os.path.expanduser(item)) if os.path.isabs(
                        os.path.expanduser(item)) else None
                    if where:
                        files.add(where)
                        folders.add(where + "/")
        for var in _ENV_RUN:  # (git's, and your shell's, settings by the environment)
            value = _env_command(var)
            if value.strip():
                loads(value)
                where = self._inside(os.path.expanduser(value.strip()))
                if where:
                    files.add(where)
        for path in {os.path.abspath(__file__), os.path.realpath(__file__)}:
            where = self._inside(path)  # (the tool itself, copied into the checkout)
            if where:
                files.add(where)
        loaded = self._loaded_by_you()
        for path, folder in self._direnv_loads():  # (what your allowed .envrc loads)
            (folders if folder else files).add(path + ("/" if folder else ""))
            files.add(path)
        texts, theirs = self._your_hooks()
        for where in theirs:  # (a hook that is a file of the checkout)
            (folders if where.endswith("/") else files).add(where)
        for text in texts:  # (what they name, and what the tools they run read)
            lines = [line for line in text.splitlines()[:2000]
                     if line.strip() and not line.lstrip().startswith("#")]
            for line in lines:  # (a folder a hook names holds the code its tools read: see
                loads(line, whole=False)  # the README's limits; a file it names is its own)
            # (tools as commands: not a word of a comment, a quoted string or what echo says)
            spoken = re.sub(r"""'[^']*'|"[^"]*"|\b(echo|printf)\b[^;&|\n]*""", " ", "\n".join(lines))
            for tool, _read in _HOOK_READS:
                for found in re.finditer(rf"(?<![\w.-]){re.escape(tool)}(?![\w.-])([^;&|\n]*)",
                                         spoken):
                    reads(tool)
                    where = re.search(r"(?:^|\s)(?:-C\s*|--directory[=\s]+|--prefix[=\s]+|"
                                      r"--cwd[=\s]+|--dir[=\s]+|-d\s+|-w\s+)([^\s;&|]+)",
                                      found.group(1))
                    if where:  # (make -C tools, npm --prefix web, yarn --cwd app)
                        reads(tool, where.group(1))
                for found in re.finditer(rf"(?<![\w.-])cd\s+([^\s;&|]+)\s*(?:&&|;|\n)\s*"
                                         rf"{re.escape(tool)}(?![\w.-])", spoken):
                    reads(tool, found.group(1))
        files |= self._links_on_the_way(files)
        found = []
        named_files = {path.casefold() for path in files}
        named_folders = tuple(folder.casefold() for folder in folders)
        named_modules = {module.casefold() for module in modules}
        named_anywhere = {name.casefold() for name in anywhere}
        # (a link the branch puts at a folder above one of them leads it elsewhere: conf -> evil)
        above = {parent for path in named_files | {f.rstrip("/") for f in named_folders}
                 for parent in _parents(path)}
        with tempfile.TemporaryDirectory(prefix="architect-parallel-run-") as scratch:
            names = os.path.join(scratch, "names")
            with open(names, "wb") as f:
                self._run_to(["diff", "--raw", "-z", "--no-renames", "--no-abbrev",
                              "--end-of-options", base, tip], f,
                             f"git could not list the files {tip[:12]} changes")
            with open(names, "rb") as f:
                for info, raw in _nul_records(f, 2):
                    fields = info.decode("ascii", "replace").split()
                    added, mode = fields[-1:] == ["A"], (fields[1:2] or [""])[0]
                    path = raw.decode("utf-8", "surrogateescape")
                    folded = path.casefold()
                    top, _, rest = folded.partition("/")
                    if folded in named_files or folded.startswith(named_folders) or \
                            folded in above or folded.rpartition("/")[2] in named_anywhere or \
                            _on_your_path(folded, mode, anchored, relative) or \
                            loaded.takes(folded, added, self, base, tip) or \
                            top.split(".")[0] in named_modules or (python and added and (
                                rest.startswith("__init__.") or (not rest and (
                                    mode == "120000" or top.endswith((".py", ".pyc", ".so", ".pth"))
                                    or ".cpython-" in top)))):
                        found.append(path)
                        if len(found) == _ATTRIBUTES_NAMED:
                            break
        return found

    def links_out(self, commit: str, links: "List[tuple[str, str]]"
                  ) -> "tuple[List[str], Dict[str, set[str]]]":
        """Those of ``links`` ((blob, path) of ``commit``) that do not lead, through whatever
        links are on the way, to a file or folder ``commit`` holds, as "path -> target" (all of
        them past 1,000: no answer is taken for none); and the files the others lead to, by
        object, with the links' paths (a tool reaches that file by the link's name: judge it
        by that name too, see _hiding_lines). A link to an absolute path, above the top, into
        a worker's worktree, into ``.git`` (round 68: ``scripts/test.sh`` linked to the tool's
        log of the agent's output, and your ``make test`` ran what the agent printed) or to
        what the tree does not hold (a build folder, an ignored ``.env``) reads what no diff
        showed."""
        if len(links) > 1000:
            return [path for _blob, path in links], {}
        out: List[str] = []
        reached: Dict[str, "set[str]"] = {}
        with self._tree_reader(commit) as tree:
            for blob, path in links:
                target = tree.blob(blob)
                found = tree.resolve(path.split("/")[:-1] + target.split("/")) \
                    if target is not None and not target.startswith("/") else None
                if found is None:
                    out.append(f"{path} -> {target if target is not None else '?'}")
                elif found[0] != 0o40000:
                    reached.setdefault(found[1], set()).add(path)
        return out, reached

    def links_merged(self, head: str, result: str
                     ) -> "tuple[List[str], Dict[str, set[str]], List[tuple[List[str], str]], List[tuple[str, Optional[str]]]]":  # noqa: E501
        """What the links of ``result`` (what a merge into ``head`` makes) lead to otherwise
        than in ``head``, each followed in the tree the merge writes: those that lead to no
        file or folder of it (a link of yours that already did is yours), as "path ->
        target"; and the files the others now lead to, by object, with the links' paths
        (see links_out); for each link that leads elsewhere than in ``head``, the files it led
        to there and leads to now (see contents_at), and (path, where it led in ``head``).
        Round 69: one branch made a folder a link to a folder higher up, so
        that the `..` of another branch's link, inside in each branch alone, climbed out of
        the checkout in their merge. All links past 10,000 are one line saying so."""
        links = [(info.split()[2], path) for info, _, path in (
            row.partition("\t") for (row,) in self._names(
                ["ls-tree", "-r", "-z", "--full-tree", "--end-of-options", result], self.top, 1))
            if info.startswith("120000 ")]
        if len(links) > 10_000:
            return [f"{len(links):,} links: more than 10,000 to follow"], {}, [], []
        out: List[str] = []
        reached: Dict[str, "set[str]"] = {}
        moved: List["tuple[List[str], str]"] = []
        reaimed: List["tuple[str, Optional[str]]"] = []
        with self._tree_reader(result) as now, self._tree_reader(head) as before:
            for blob, path in links:
                parts = path.split("/")
                found, was = now.resolve(parts), before.resolve(parts)
                if found is None and not (was is None and before.resolve(parts, follow=False)
                                          == (0o120000, blob)):
                    out.append(f"{path} -> {now.blob(blob)}")
                elif found is not None and found != was and found[0] != 0o40000:
                    reached.setdefault(found[1], set()).add(path)
                if found != was:
                    moved.append(([entry[1] for entry in (was, found) if entry is not None
                                   and entry[0] not in (0o40000, 0o160000)], path))
                led = before.where(parts)
                if led != now.where(parts) or (led is None and found != was):
                    # (what the tree did not hold whole, or outside it: round 76)
                    reaimed.append((path, led if was is not None else None))
        return out, reached, moved, reaimed

    def contents_at(self, base: str, tip: str, paths: List[str]) -> "List[tuple[List[str], str]]":
        """For each of ``paths``: the files a reader of that path finds in ``base`` and in
        ``tip``, following links as the file system would (none where nothing is, or a folder):
        what `-c conf.yaml` reads when conf.yaml became a link to another file (round 73)."""
        found = []
        with self._tree_reader(base) as before, self._tree_reader(tip) as after:
            for path in paths:
                parts = path.split("/")
                found.append(([entry[1] for entry in (before.resolve(parts), after.resolve(parts))
                               if entry is not None and entry[0] not in (0o40000, 0o160000)], path))
        return found

    @contextlib.contextmanager
    def _tree_reader(self, commit: str) -> Iterator["_TreeReader"]:
        """A _TreeReader of ``commit``, reading through one git, stopped after."""
        import subprocess
        reader = self.popen("cat-file", "--batch", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
        try:
            yield _TreeReader(reader, commit)
        finally:
            with contextlib.suppress(OSError):
                reader.stdin.close()
            reader.kill()
            reader.wait()

    def git_folders_in(self, commit: str, paths: List[str]) -> List[str]:
        """The folders of ``commit`` holding one of ``paths`` that git would take for a git
        folder (a bare repository: ``HEAD`` with ``objects/`` and ``refs/``, or a
        ``commondir``; names in any case, as macOS reads them), when git starts in or below
        them before it reaches the checkout's own."""
        found = []
        candidates: "set[str]" = set()
        for path in paths:  # (a HEAD, or objects/x and refs/heads/x beside one)
            parts = path.split("/")
            for n in range(1, len(parts)):
                if parts[n].casefold() in ("head", "commondir", "objects", "refs", "config"):
                    candidates.add("/".join(parts[:n]))
        for folder in sorted(candidates)[:4096]:
            listed = self.git("ls-tree", "--name-only", "--end-of-options", commit, "--",
                              folder + "/", check=False) or ""
            names = {line.rpartition("/")[2].casefold() for line in listed.splitlines()}
            if "head" in names and ("commondir" in names or {"objects", "refs"} <= names):
                found.append(folder)
        return found

    def _direnv_loads(self) -> "List[tuple[str, bool]]":
        """With direnv on your PATH, what the checkout's ``.envrc`` files (its top's, and those
        git tracks) load at your next ``cd`` without asking again (direnv asks only when an
        ``.envrc`` itself changes): as (path of the checkout, whether a folder): the files
        their commands name (``source_env scripts/env.sh``), ``dotenv``'s (``.env`` by
        default), ``PATH_add``'s folders, ``layout python``'s ``.direnv/``, ``use nix``'s and
        ``use flake``'s files."""
        if not _which("direnv"):
            return []
        listed = self.git("ls-files", "-z", "--", ":(glob)**/.envrc", check=False) or ""
        found: "List[tuple[str, bool]]" = []
        for envrc in sorted({".envrc", *filter(None, listed.split("\0"))})[:64]:
            text = (_read_bytes(os.path.join(self.top, envrc), 64 << 10) or b"").decode(
                "utf-8", "replace")
            here = os.path.dirname(envrc)

            def at(name: str, folder: bool = False) -> None:
                where = self._inside(os.path.join(self.top, here, os.path.expanduser(name)))
                if where:
                    found.append((where, folder))

            for line in text.splitlines():
                words = line.split("#")[0].split()
                if not words:
                    continue
                command, args = words[0], [w.strip("'\"") for w in words[1:]]
                if command in ("dotenv", "dotenv_if_exists"):
                    at(args[0] if args else ".env")
                elif command in ("PATH_add", "path_add", "MANPATH_add", "load_prefix"):
                    for arg in args[1:] if command == "path_add" else args:
                        at(arg, folder=True)
                elif command == "layout":
                    at(".direnv", folder=True)
                    at(".venv", folder=True)
                elif command == "use" and args[:1] == ["nix"]:
                    at("shell.nix")
                    at("default.nix")
                elif command == "use" and args[:1] == ["flake"]:
                    at("flake.nix")
                    at("flake.lock")
                for path in _command_loads(line, os.path.join(self.top, here))[0]:
                    where = self._inside(path)
                    if where:
                        found.append((where, os.path.isdir(path)))
                for arg in args if command in ("source_env", "source_env_if_exists",
                                               "watch_file", "source_url", "source") else []:
                    at(arg, folder=os.path.isdir(os.path.join(self.top, here, arg)))
        return found

    def _loaded_by_you(self) -> "_LoadedHere":
        """Where, in the checkout, code is loaded by its place, outside any sandbox: the
        folders of the dynamic loader's and git's variables that are set (LD_LIBRARY_PATH,
        GCONV_PATH, GIT_EXEC_PATH...: every file there; a relative or empty entry names such
        a folder under every folder of the checkout, where a library, or a ``git-*`` program,
        counts), and the folders first on Python's import path (see _LoadedHere.takes): the
        checkout's top (``python -m``) and the tool's own folder, your PYTHONPATH's, and those
        your .pth files name (editable installs)."""
        here = _LoadedHere()
        for var, (_parts, kind) in _LOADER_VARS.items():
            for entry in _search_entries(var):
                if var in ("LD_PRELOAD", "LD_AUDIT"):  # (files: their folders)
                    if "/" not in entry:
                        continue  # (a name: found as a library is)
                    entry = os.path.dirname(entry)
                relative: "set[str]" = set()
                self._place(os.path.expanduser(entry), here.folders, relative)
                here.relative.update((entry, kind) for entry in relative)
        for entry in (self.top, os.path.dirname(os.path.abspath(__file__)),
                      os.path.dirname(os.path.realpath(__file__))):
            self._place(entry, here.starts, set())
        for entry in _search_entries("PYTHONPATH"):
            if entry:
                self._place(os.path.expanduser(entry), here.python, here.python_relative)
        for entry in _pth_folders():  # (every start of that Python: round 64)
            self._place(entry, here.python, set())
        for var, language in (("PERL5LIB", "perl"), ("PERLLIB", "perl"), ("RUBYLIB", "ruby")):
            for entry in _search_entries(var):
                if entry and _language_libraries(language):
                    folders: "set[str]" = set()
                    self._place(os.path.expanduser(entry), folders, folders)
                    here.shadowing.update((folder, language) for folder in folders)
        return here

    def ignored_at(self, commit: str, paths: List[str]) -> Optional[List[str]]:
        """Those of ``paths`` that the ignore rules ``commit`` brings ignore: its .gitignore
        files, with your info/exclude and excludes file (a branch that adds ``.venv/`` to
        .gitignore and a force-added ``.venv/bin/git``), asked of git in a scratch repository
        holding them; None when git cannot tell (see ignored_here), or the commit has more
        than 10,000 .gitignore files or one over 1 MB."""
        import tempfile
        if not paths:
            return []
        if len(paths) > _HIDDEN_ASKED:
            return None
        listed = self.git("ls-tree", "-r", "-z", "--end-of-options", commit, check=False)
        if listed is None:
            return None
        ignores = []
        for record in listed.split("\0"):
            info, _, path = record.partition("\t")
            if path.rpartition("/")[2] == ".gitignore" and info.split()[:2] in (["100644", "blob"],
                                                                       ["100755", "blob"]):
                ignores.append((info.split()[2], path))
        if len(ignores) > 10_000 or any(part in ("", ".", "..") or part.casefold() == ".git"
                                        for _blob, path in ignores for part in path.split("/")[:-1]):
            return None
        excludes = (self.git("config", "--path", "core.excludesFile", check=False) or "").strip()
        with tempfile.TemporaryDirectory(prefix="architect-parallel-ignore-") as scratch:
            self._ignore_scratch(scratch)
            settings = {"core.excludesFile": os.path.join(self.top, excludes)} if excludes else {}
            for blob, path in ignores:
                text, more, failed = self.stream(["cat-file", "blob", blob], self.top, 1 << 20)
                if more or failed:
                    return None
                where = os.path.join(scratch, *path.split("/"))
                os.makedirs(os.path.dirname(where), exist_ok=True)
                with open(where, "wb") as f:
                    f.write(text.encode("utf-8", "surrogateescape"))
            proc = _git_run(["check-ignore", "--no-index", "-z", "--stdin"], scratch,
                            input=b"".join(p.encode("utf-8", "surrogateescape") + b"\0"
                                           for p in paths), settings=settings,
                            timeout=self.timeout, stop=self.stop)
        if proc.returncode not in (0, 1):
            return None
        return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]

    def _place(self, entry: str, anchored: "set[str]", relative: "set[str]") -> None:
        """The folder ``entry`` of a search path as paths of the checkout, casefolded: in
        ``anchored`` where it lies in it (as written and as its links lead), in ``relative``
        when it is relative ('.' for an empty one)."""
        if not os.path.isabs(entry):
            parts = os.path.normpath(entry or ".").split(os.sep)
            while parts[0] == os.pardir and len(parts) > 1:
                parts.pop(0)
            relative.add("/".join(parts).casefold() if parts != [os.pardir] else ".")
        else:
            anchored.update(where.casefold() for where in self._path_in_checkout(entry))

    def ignored_here(self, paths: List[str]) -> Optional[List[str]]:
        """Those of ``paths`` (of the checkout) that your ignore rules ignore there now,
        whether tracked or not (git check-ignore --no-index); None when git cannot tell
        (a name it reads as pathspec magic, ``:(bogus)x``; one beyond a link of yours), or
        there are more than 100,000 to ask about: never taken for none."""
        if not paths:
            return []
        if len(paths) > _HIDDEN_ASKED:
            return None
        proc = _git_run(["check-ignore", "--no-index", "-z", "--stdin"], self.top,
                        input=b"".join(p.encode("utf-8", "surrogateescape") + b"\0"
                                       for p in paths), wrap=self.wrap,
                        settings=self._settings(self.top, False), timeout=self._limit(self.top),
                        stop=self.stop)
        if proc.returncode not in (0, 1):
            return None
        return [p for p in proc.stdout.decode("utf-8", "surrogateescape").split("\0") if p]

    def _path_in_checkout(self, folder: str) -> List[str]:
        """The folder ``folder`` (absolute) as a path of the checkout ('' its top): as
        written from where it enters the checkout (``tools/bin`` with ``tools`` a link, which
        a branch may make a folder), and where its links lead; [] when it is not there."""
        found = []
        parts = os.path.normpath(folder).split(os.sep)
        for n in range(1, len(parts) + 1):
            real = os.path.realpath(os.sep.join(parts[:n]) or os.sep)
            if _inside(self.top, real):
                found.append("/".join(p for p in [self._inside(real) or "", *parts[n:]] if p))
                break
        if _inside(self.top, folder):
            found.append(self._inside(os.path.realpath(folder)) or "")
        return found

    def _links_on_the_way(self, files: "set[str]") -> "set[str]":
        """The paths of your checkout that the files ``files`` lead through and to, where they
        or a folder above them are links (a ``Makefile`` linked to ``build/main.mk``, itself a
        link to ``real.mk``; ``build`` a link to ``ci/build``): 16 steps each at most."""
        found: "set[str]" = set()
        for name in sorted(files)[:256]:
            parts, done, steps = name.split("/"), [], 0
            while parts and steps < 16:
                here = os.path.join(self.top, *done, parts[0])
                try:
                    target = os.readlink(here)
                except OSError:
                    done.append(parts.pop(0))
                    continue
                steps += 1
                where = self._inside(os.path.join(os.path.dirname(here), target))
                if where is None:
                    break
                found.add("/".join([*done, parts[0]]))
                done, parts = [], where.split(os.sep) + parts[1:]
            if not parts:
                found.add("/".join(done))
        return found - files

    def your_hooks_run(self) -> bool:
        """Whether git runs a hook of yours here (see _your_hooks)."""
        texts, theirs = self._your_hooks()
        return bool(texts or theirs)

    def _your_hooks(self) -> "tuple[List[str], List[str]]":
        """The text of each hook of yours git would run (an executable file of a ``core.hooksPath``
        and of ``.git/hooks``, which a global hook may hand on to; of one inside the checkout,
        and the files of the folder above it: Husky's ``.husky/_/pre-commit`` runs
        ``.husky/pre-commit``), 64 KB of each and 64 of each folder at most; and the files of
        the checkout among them (a hook, or the hooks folder, that is or leads to one:
        ``ln -s ../../scripts/pre-commit.sh .git/hooks/pre-commit``)."""
        named = [value for _origin, _key, value in self.your_settings(r"^core\.hookspath$")]
        folders = [os.path.join(self.top, os.path.expanduser(named[-1]))] if named else []
        folders.append(os.path.join(self.common_dir, "hooks"))  # (the tool's own gits run none)
        texts, theirs = [], []

        def checkout_file(path: str) -> Optional[str]:  # (not one of the git folder's)
            real = os.path.realpath(path)
            return None if _inside(os.path.realpath(self.common_dir), real) else self._inside(real)

        def read(folder: str, executable: bool) -> None:
            for entry in _entries(folder)[:64]:
                with contextlib.suppress(OSError):
                    if entry.name.endswith(".sample") or not entry.is_file() or (
                            executable and not entry.stat().st_mode & 0o111):
                        continue
                    where = checkout_file(entry.path)
                    if where is not None:
                        theirs.append(where)
                    data = _read_bytes(entry.path, 64 << 10)
                    if data:
                        texts.append(data.decode("utf-8", "replace"))

        for folder in folders:
            where = checkout_file(folder)
            if where is not None:
                theirs.append(where + "/")
                if os.path.dirname(where):
                    read(os.path.dirname(os.path.realpath(folder)), executable=False)
            read(folder, executable=True)
        return texts, theirs

    def your_settings(self, pattern: str) -> "List[tuple[str, str, str]]":
        """Your git settings whose names match ``pattern`` (any scope, includes followed, and
        those your environment gives), as (the file that sets it, '' when none does; name;
        value): not the tool's own (given to every git it runs), nor the empty ones."""
        listed = self.git("config", "-z", "--show-origin", "--get-regexp", pattern,
                          check=False) or ""
        own = {(k.lower(), v) for k, v in {**_GIT_SETTINGS, **self._settings(self.top, False)}.items()
               if not k.isupper()}
        found = []
        fields = listed.split("\0")  # (origin, "name\nvalue") pairs
        for origin, item in zip(fields[0::2], fields[1::2]):
            key, _, value = item.partition("\n")
            # (yours given on the command line: GIT_CONFIG_COUNT, GIT_CONFIG_PARAMETERS, `git -c`
            # in a wrapper of yours; the tool's own come after them, with their own values)
            if (origin.startswith("command line:") and (key.lower(), value) in own) or not value:
                continue
            path = origin[len("file:"):] if origin.startswith("file:") else ""
            found.append((os.path.join(self.top, path) if path else "", key, value))
        return found

    def _inside(self, word: str) -> Optional[str]:
        """The path ``word`` names relative to the checkout's top (where git starts the
        commands it runs), when it lies there; else None."""
        if not word or "\0" in word:
            return None
        path = os.path.normpath(os.path.join(self.top, word))
        rel = os.path.relpath(path, self.top)
        return None if rel == "." or rel.startswith(os.pardir) else rel

    def malformed(self, base: str, tip: str) -> Optional[str]:
        """Why the objects ``tip`` brings beyond ``base`` are not well formed (a tree naming a
        file twice: a diff shows one, a checkout writes the other), as git's own strict
        check of a pack says (a fetch from a bundle checks nothing before git 2.46); None
        when they are."""
        import tempfile
        with tempfile.TemporaryDirectory(prefix="architect-parallel-fsck-") as scratch:
            pack = os.path.join(scratch, "new.pack")
            try:
                with open(pack, "wb") as f:
                    self._run_to(["pack-objects", "--revs", "--stdout", "-q"], f,
                                 "its objects cannot be read", f"{tip}\n^{base}\n".encode())
            except ParallelError as exc:
                return str(exc)
            checked = _git_run(["index-pack", "--strict", "-o", os.path.join(scratch, "new.idx"),
                                pack], self.top, settings=self._settings(self.top, False),
                               timeout=self.timeout)
        if checked.returncode != 0:
            return ("its objects are malformed: "
                    + _shorten(_last_meaningful_line(checked.stderr.decode("utf-8", "replace"))
                               or "git's check failed", 300))
        return None

    def _run_to(self, args: List[str], out: BinaryIO, failed: str,
                input: "Optional[bytes | BinaryIO]" = None, cwd: Optional[str] = None,
                filters: bool = False, index: Optional[str] = None) -> None:
        """Run git in ``cwd`` (the checkout's top) given ``input`` (bytes, or a file it
        reads) with its output written to the file ``out`` (never held here); raise
        ParallelError(``failed``) when it fails or takes more than its time (see _limit).
        ``filters``: run the filters the repository configures; ``index``: see git()."""
        import subprocess
        import tempfile
        cwd = cwd or self.top
        settings = self._settings(cwd, filters)
        settings = {**settings, "GIT_INDEX_FILE": index} if index else settings
        with tempfile.TemporaryFile() as err:
            proc = _git_popen(args, cwd, self.wrap, settings, stdout=out,
                              stderr=err, stdin=subprocess.DEVNULL if input is None else
                              subprocess.PIPE if isinstance(input, bytes) else input,
                              start_new_session=True)  # (see _git_run)
            timeout = self._limit(cwd)
            with _stopped_at([proc], timeout, self.stop, _reads_only(args)) as ended:
                proc.communicate(input if isinstance(input, bytes) else None)
            if ended:
                raise _Refused(f"{failed}: " + ("it was stopped (a second interrupt)"
                                                if ended[0] == "stopped" else ended[0]))
            code = proc.returncode
            if code != 0:
                err.seek(0)
                said = _last_meaningful_line(err.read(1 << 16).decode("utf-8", "replace"))
                raise ParallelError(failed + (f": {_shorten(said, 300)}" if said else ""))

    def held_elsewhere(self, commit: str) -> bool:
        """Whether a branch of yours (not a worker's: architect/parallel-2-fixes is yours, see
        parallel_branches), a tag or a remote branch holds ``commit``."""
        return any(not (ref.startswith(f"refs/heads/{BRANCH_PREFIX}") and _worker_digits(
            ref[len("refs/heads/") + len(BRANCH_PREFIX):])) for ref in self.git(
                "for-each-ref", f"--contains={commit}", "--format=%(refname)",
                "refs/heads/", "refs/tags/", "refs/remotes/").split())

    def paths_over(self, commit: str, limit: int, size: Optional[int] = None) -> bool:
        """Whether ``commit``'s tree names more than ``limit`` files, or paths of more than
        ``size`` bytes in all (_MAX_PATH_BYTES unless given; see tree_sizes)."""
        size = _MAX_PATH_BYTES if size is None else size
        files, paths, _content = self.tree_sizes([commit], limit, size)[0]
        return files > limit or paths > size

    def tree_sizes(self, commits: List[str], limit: Optional[int] = None,
                   size: Optional[int] = None) -> "List[tuple[int, int, int]]":
        """For each of ``commits``: how many files its tree names, how many bytes their paths
        take, and how many their contents (what a checkout writes), counted from its trees,
        each read once (a tree of a few objects nested a few deep can name billions of files,
        gigabytes of names, or terabytes of one blob), the first two up to ``limit`` + 1 and
        ``size`` + 1 (_MAX_FILES, _MAX_PATH_BYTES unless given)."""
        import subprocess
        limit = _MAX_FILES if limit is None else limit
        size = _MAX_PATH_BYTES if size is None else size
        trees = self.popen("cat-file", "--batch", stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
        blobs = self.popen("cat-file", "--batch-check=%(objectsize)", stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        counts: Dict[bytes, "tuple[int, int, int]"] = {}  # tree: files, paths' bytes, contents'
        sizes: Dict[bytes, int] = {}  # blob: its size (0: not here, a submodule's commit)
        width = 32 if self.git("rev-parse", "--show-object-format").strip() == "sha256" else 20

        def read(sha: bytes) -> List["tuple[bool, bytes, int]"]:  # (a tree?, id, name's length)
            blobs.stdin.write(sha.hex().encode() + b"\n")  # (its size first: one tree of
            blobs.stdin.flush()                            # gigabytes is never read)
            told = blobs.stdout.readline().strip()
            if not _digits(told) or int(told) > _TREE_LIMIT:
                raise ParallelError(f"the tree {sha.hex()[:12]} is larger than "
                                    f"{_TREE_LIMIT >> 20} MB")
            trees.stdin.write(sha.hex().encode() + b"\n")
            trees.stdin.flush()
            head = trees.stdout.readline().split()
            if len(head) != 3 or head[1] != b"tree":
                raise ParallelError(f"cannot read the tree {sha.hex()[:12]}")
            data = trees.stdout.read(int(head[2]) + 1)
            entries, i = [], 0
            while i < len(data) - 1:  # (a mode as git reads it: octal digits in 32 bits)
                space, nul = data.index(b" ", i), data.index(b"\0", i)
                mode = data[i:space]
                if not mode or mode.strip(b"01234567") or nul + 1 + width > len(data) - 1:
                    raise ParallelError(f"the tree {sha.hex()[:12]} is malformed")
                entries.append((stat.S_ISDIR(int(mode, 8) & 0xFFFFFFFF),
                                data[nul + 1:nul + 1 + width], nul - space - 1))
                i = nul + 1 + width
            new = list(dict.fromkeys(t for is_tree, t, _ in entries if not is_tree and t not in sizes))
            if new:
                blobs.stdin.write(b"".join(t.hex().encode() + b"\n" for t in new))
                blobs.stdin.flush()
                for t in new:
                    told = blobs.stdout.readline().strip()
                    sizes[t] = int(told) if _digits(told) else 0
            return entries

        def count(root: bytes) -> "tuple[int, int, int]":
            stack, pending = [root], {}  # depth first, each tree counted once its subtrees are
            while stack:
                sha = stack[-1]
                if sha in counts:
                    stack.pop()
                    continue
                if sha not in pending:
                    pending[sha] = read(sha)
                entries = pending[sha]
                todo = list(dict.fromkeys(t for is_tree, t, _ in entries if is_tree and t not in counts))
                if todo:
                    stack += todo
                    continue
                stack.pop()
                del pending[sha]
                files = paths = content = 0  # (a file's path: the names on its way, '/' after each)
                for is_tree, t, length in entries:
                    below, their, held = counts[t] if is_tree else (1, 0, sizes[t])
                    files, paths = files + below, paths + below * (length + is_tree) + their
                    content += held
                counts[sha] = (min(files, limit + 1), min(paths, size + 1), min(content, 1 << 60))
            return counts[root]

        try:
            return [count(bytes.fromhex(self.git("rev-parse", "--verify", f"{commit}^{{tree}}").strip()))
                    for commit in commits]
        except (ValueError, OSError) as exc:  # (a tree that is not one)
            raise ParallelError(f"cannot read the trees of {commits[-1][:12]}: {exc}") from None
        finally:
            for proc in (trees, blobs):
                with contextlib.suppress(OSError):
                    proc.stdin.close()
                proc.kill()
                proc.wait()

    def branch_exists(self, branch: str) -> bool:
        return self.succeeds("rev-parse", "--verify", "--quiet", f"refs/heads/{branch}")

    def count_commits(self, base: str, tip: str, cwd: Optional[str] = None) -> int:
        return int(self.git("rev-list", "--count", f"{base}..{tip}", cwd=cwd).strip() or 0)

    def unrecorded_changes(self, path: str) -> Optional[str]:
        """What, in the worktree at ``path``, is not what its run left and recorded (the one
        rule of work that must not be lost, for cleanup and a new run alike): files made or
        changed since the run, ignored ones too (an agent's ``.gitignore`` may hide them); or,
        where no run recorded its state, any uncommitted, new or ignored file. None: nothing."""
        changed = self.changed_since_run(path)
        if changed is False or not self.holds_anything(path):
            return None
        return ("has uncommitted changes made after its run" if changed else
                "holds uncommitted, new or ignored files, and no run recorded its state")

    def holds_anything(self, path: str) -> bool:
        """Whether the worktree at ``path`` holds anything its HEAD does not: uncommitted, new
        or ignored files, or files in a submodule's folder (git does not look there)."""
        return self.prints_anything(["status", "--porcelain", "--ignored"], path) or bool(
            self.filled_submodules(path))

    def prints_anything(self, args: List[str], cwd: str) -> bool:
        """Whether git prints anything but white space for ``args`` in ``cwd``; only its first
        KB is read (a status of 50,000 ignored files of 4 KB names is not held, round 70).
        Raises ParallelError when git fails before it said anything."""
        import subprocess
        proc = self.popen(*args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        try:
            said = b""
            while not said.strip():
                chunk = proc.stdout.read(1024)
                if not chunk:
                    break
                said += chunk
        finally:
            proc.stdout.close()
            if proc.poll() is None:
                proc.kill()
            code = proc.wait()
        if not said.strip() and code != 0:
            raise ParallelError(f"git {args[0]} failed in {cwd} (exit code {code})")
        return bool(said.strip())

    def work_in_worktree(self, path: str, base: str) -> List[str]:
        """Descriptions of what replacing the worktree at ``path`` with a new one would lose:
        what unrecorded_changes finds, the run's own uncommitted changes (--no-commit), and
        commits not in ``base``."""
        if not os.path.isdir(path):
            return []
        found = []
        unrecorded = self.unrecorded_changes(path)
        if unrecorded:
            found.append(unrecorded)
        elif self.prints_anything(["status", "--porcelain"], path):
            found.append("has uncommitted changes")
        ahead = self.count_commits(base, "HEAD", cwd=path)
        if ahead:
            found.append(f"has {ahead} commit(s) not in the base")
        return found

    def create_worktree(self, path: str, branch: str, base: str) -> None:
        """A fresh worktree at ``path`` on ``branch`` reset to ``base``, replacing leftovers.

        The caller has already checked (or been told by --force) that the leftovers hold nothing.
        """
        self.discard(path)
        # Only the registration takes git's shared locks (refs, worktree list); the checkout
        # that takes the time is populate_worktree's, which workers run concurrently.
        self.git("worktree", "add", "--quiet", "--no-checkout", "-B", branch, path, base)
        # A full checkout, whatever your own: git copies your checkout's config.worktree and
        # sparse-checkout list into the new git folder (round 108: the worktree was made
        # sparse, then the runner emptied them after the worker as the agent's, and every
        # file outside the list showed as deleted there).
        admin = self.admin_folder(path, strict=False)
        if _lstat_beneath(admin, "config.worktree") is not None:
            _replace_beneath(admin, "config.worktree", b"")
        if _lstat_beneath(admin, "info") is not None:
            _remove_tree(os.path.join(admin, "info"))

    def remove_worktree(self, path: Optional[str], branch: str, base: str) -> None:
        """Remove the worktree at ``path`` (None: none was made), whatever state it is in,
        and ``branch`` if it holds nothing beyond ``base``."""
        if path is not None:
            self.discard(path)
        if self.branch_exists(branch) and not self.count_commits(base, branch):
            self.git("branch", "-D", "--quiet", branch)

    def discard(self, path: str) -> None:
        """Remove whatever is at ``path``: a worktree (unregistered too) and its git folder, a
        folder or a file. Never by git (no 'worktree remove', no 'worktree prune' while workers
        run): its removal goes down a tree by path, which another worker that holds a
        descriptor of a folder in it (or of another worker's git folder, whose gitdir it then
        removes) could swap for a link out while it does; _remove_tree goes from descriptor
        to descriptor. Once its git folder is gone, git has no entry for it."""
        import secrets
        for victim in [path, *self._admins_of(path)]:
            if os.path.isdir(victim) and not os.path.islink(victim):
                # Out of the way first, in one step: a process that holds a descriptor of
                # the folder (another worker's, handed it) can add to it while it is removed,
                # and the next worktree made at ``path`` must be a new folder, never that one.
                aside = os.path.join(self.trash(), secrets.token_hex(8))
                with contextlib.suppress(OSError):
                    os.rename(victim, aside)
                    victim = aside
                _remove_tree(victim)
            elif os.path.lexists(victim):
                os.unlink(victim)
        if os.path.lexists(path):
            raise ParallelError(f"{path} could not be removed (a process still writes there?)")

    def trash(self) -> str:
        """Where discard puts a folder it removes: the runner's alone (mode 0700), since what a
        process still writing there adds may stay until the run ends (see empty_trash)."""
        path = self.state_dir("trash")
        if stat.S_IMODE(os.lstat(path).st_mode) != 0o700:
            os.chmod(path, 0o700)
        return path

    def empty_trash(self) -> bool:
        """Remove what discard left in the trash (once no worker runs: nothing adds to it
        any more); whether nothing stayed."""
        path = os.path.join(self.common_dir, _STATE_DIR, "trash")
        return not os.path.lexists(path) or _remove_tree(path)

    def _admins_of(self, path: str) -> List[str]:
        """The folders under the repository's worktrees/ of the worktree at ``path``: those
        whose own ``gitdir`` names it. Never the one its ``.git`` file names, on that file's
        word: another worker, handed a descriptor of the worktree's folder, can put a ``.git``
        there naming any worktree's git folder (yours, or a running worker's). A worker that
        made its own ``gitdir`` name another place leaves its git folder behind, for git's
        prune (before the next run's workers start) once that place has no worktree."""
        folder = os.path.join(self.common_dir, "worktrees")
        found = []
        for entry in _entries(folder):
            if not entry.is_dir(follow_symlinks=False):
                continue
            back = (_read_beneath(entry.path, "gitdir", 4096) or b"").decode(
                "utf-8", "surrogateescape").strip()
            if back and os.path.normpath(os.path.join(entry.path, back)) == os.path.join(
                    os.path.normpath(path), ".git"):
                found.append(entry.path)
        return found

    def whole_index(self, path: str) -> None:
        """Make the index of the worktree at ``path`` a whole one, and remove the shared parts
        of split ones from its git folder: your own git there, with your core.splitIndex on,
        splits it again (round 108: `continue` removed the part yours wrote after the worker,
        as the agent's; see _agent_git_settings)."""
        admin = self.admin_folder(path)
        shared = [e.name for e in _entries(admin) if e.name.startswith("sharedindex.")]
        if shared:
            self.git("update-index", "--no-split-index", cwd=path)
            for name in shared:
                _unlink_beneath(admin, name)

    def populate_worktree(self, path: str) -> None:
        """Check out the files of a worktree made by create_worktree (its own index only)."""
        self.git("reset", "--hard", "--quiet", cwd=path, filters=True)

    def files_between(self, base: str, commit: str) -> List[str]:
        """The files ``commit`` changes against ``base``, sorted: what merging it brings."""
        return sorted(name for (name,) in self._names(["diff", "--name-only", "-z", "--no-renames",
                                                       "--end-of-options", base, commit],
                                                      self.top, 1))

    def changes(self, path: str, base: str, names: bool = True
                ) -> "tuple[List[str], List[str], List[str]]":
        """What differs between ``base`` and the worktree at ``path`` (committed, staged,
        unstaged, untracked), sorted ([] unless ``names``); of that, the submodule commits
        ('sub', new or changed) and the repositories inside ('sub/'). Each name is held
        once, git's listings read as a stream (round 68)."""
        found: "set[str]" = set()
        gitlinks: List[str] = []
        for info, name in self._names(["diff", "--raw", "--no-renames", "-z", base, "--"],
                                      path, 2):
            if info.split()[1:2] == ["160000"]:
                gitlinks.append(name)
            if names:
                found.add(name)
        nested = []
        for (name,) in self._names(["ls-files", "--others", "--exclude-standard", "-z"], path, 1):
            if name.endswith("/"):
                nested.append(name)
            if names:
                found.add(name)
        return sorted(found), gitlinks, nested

    def _names(self, args: List[str], cwd: str, count: int,
               index: Optional[str] = None) -> Iterator[List[str]]:
        """The records of ``count`` NUL-ended fields git prints for ``args`` in ``cwd``, as
        text, read from a file as a stream (see _nul_records; ``index``: see git())."""
        import tempfile
        with tempfile.TemporaryFile() as out:
            self._run_to(args, out, f"git {args[0]} failed in {cwd}", cwd=cwd, index=index)
            out.seek(0)
            for fields in _nul_records(out, count):
                yield [field.decode("utf-8", "surrogateescape") for field in fields]

    def include_files(self, patterns: List[str]) -> List[str]:
        """Untracked or ignored files of the main checkout matching ``.worktreeinclude``
        and ``patterns`` (gitignore syntax), repo-relative; git does the matching."""
        path = os.path.join(self.top, ".worktreeinclude")
        if os.path.isfile(path):  # first, so that --include patterns come later and win
            with open(path, encoding="utf-8", errors="surrogateescape") as f:
                patterns = f.read().splitlines() + list(patterns)
        if not any(p.strip() and not p.lstrip().startswith("#") for p in patterns):
            return []
        listing = os.path.join(self.state_dir(), "include-patterns")
        with open(listing, "w", encoding="utf-8", errors="surrogateescape") as f:
            f.write("\n".join(patterns) + "\n")
        # --others --ignored with only these patterns: untracked files the patterns match,
        # whether or not .gitignore ignores them.
        out = self.git("ls-files", "-z", "--others", "--ignored", f"--exclude-from={listing}")
        # A name ending in '/' is a repository nested in the checkout: not a file to copy.
        return sorted(name for name in out.split("\0")
                      if name and not name.endswith("/") and not name.startswith(WORKTREE_PREFIX)
                      and _inside(self.top, os.path.join(self.top, name)))

    def return_to_branch(self, path: str, branch: str) -> None:
        """Put the worktree back on ``branch`` if the agent left it detached or on another branch.

        Only when that loses nothing: the branch must be an ancestor of where HEAD
        is, and then simply moves forward to it (working tree untouched).
        """
        if self.git("symbolic-ref", "-q", "HEAD", cwd=path, check=False) == f"refs/heads/{branch}\n":
            return
        if not self.succeeds("merge-base", "--is-ancestor", f"refs/heads/{branch}", "HEAD",
                             cwd=path):
            where = (self.git("symbolic-ref", "-q", "--short", "HEAD", cwd=path, check=False)
                     or "a detached HEAD").strip()
            raise ParallelError(f"the agent left the worktree on {where}, which does not contain "
                                f"{branch}; its work was not committed on {branch}")
        self.git("checkout", "-q", "-B", branch, cwd=path)

    def commit_all(self, path: str, message: str, exclude: List[str],
                   base: str) -> "tuple[Optional[str], Optional[str]]":
        """Commit everything in the worktree at ``path`` but ``exclude`` (left as ``base`` has
        them, whatever the agent committed of them itself).

        Returns the commit holding it (HEAD's own when there was nothing to commit) and what
        could not be committed, if anything.

        Hooks are skipped and signing is off: this is the runner's bookkeeping commit,
        which must neither fail on a linter nor wait for a passphrase. Without a
        configured identity, a fixed one is used.
        """
        # A new repository inside the worktree (git lists it as 'dir/') would be recorded
        # as a bare pointer to a commit, without its files, or fail the add: leave it out
        # and say so.
        import tempfile
        with tempfile.TemporaryDirectory(prefix="architect-parallel-commit-") as scratch:
            others, forced, specs = (os.path.join(scratch, name)
                                     for name in ("others", "forced", "specs"))
            # (the agent's index and files: listings of any size, never held here, nor on a
            # command line: 700 repositories of 4 KB names passed its limit, round 78)
            with open(others, "wb") as f:
                self._run_to(["ls-files", "-z", "--others", "--exclude-standard"], f,
                             f"git could not list the new files of {path}", cwd=path)
            nested, count = [], 0  # (the first five, and how many)
            with open(others, "rb") as f, open(specs, "wb") as out:
                out.write(b".\0")
                for (raw,) in _nul_records(f, 1):
                    if raw.endswith(b"/"):
                        out.write(b":(exclude,literal)" + raw + b"\0")
                        count += 1
                        if count <= 5:
                            nested.append(raw.decode("utf-8", "surrogateescape"))
            # From HEAD's tree, with no file data the index held: an entry an agent gave the
            # size and time of the changed file, but the old content, would hide the change
            # from 'add'. (What it staged although ignored, with add -f, is staged again.)
            with open(forced, "wb") as f:
                self._run_to(["ls-files", "-z", "--cached", "--ignored", "--exclude-standard"], f,
                             f"git could not read the index of {path}", cwd=path)
            self.git("read-tree", "HEAD", cwd=path)
            with open(specs, "rb") as f:
                self.git("add", "-A", "--pathspec-from-file=-", "--pathspec-file-nul", cwd=path,
                         filters=True, input=f)
            if os.path.getsize(forced):
                with open(forced, "rb") as f, open(os.devnull, "wb") as out:
                    self._run_to(["--literal-pathspecs", "add", "-f", "-A", "--pathspec-from-file=-",
                                  "--pathspec-file-nul"], out, "git could not stage the ignored "
                                 f"files the agent staged in {path}", input=f, cwd=path,
                                 filters=True)
        if exclude:  # (as the base has them: an include file the agent committed itself too)
            self.git("--literal-pathspecs", "reset", "-q", base, "--pathspec-from-file=-",
                     "--pathspec-file-nul", cwd=path,
                     input="\0".join(exclude).encode("utf-8", "surrogateescape"))
        left = (f"committed without {_some(nested, total=count)}: a git repository inside the worktree cannot be committed; it stays in the "
                "worktree only") if nested else None
        # The commit is the one git names as it makes it, never read back from the refs (which
        # a process the agent handed a descriptor of their folder can rewrite meanwhile).
        tree = self.git("write-tree", cwd=path).strip()
        head = self.git("rev-parse", "--verify", "HEAD^{commit}", cwd=path).strip()
        if self.git("rev-parse", "--verify", f"{head}^{{tree}}", cwd=path).strip() == tree:
            return head, left  # nothing to commit: the commit that holds it all
        sha = self.git(*self.identity(path), "commit-tree", "--no-gpg-sign", tree, "-p", head,
                       "-m", message, cwd=path).strip()
        self.git("update-ref", "-m", f"commit: {message}", "HEAD", sha, head, cwd=path)
        return sha, left

    def ignored_folders(self, path: str, limit: int = 100_000) -> "set[str]":
        """The folders of the worktree at ``path`` (paths from its top, ``/``-separated) that
        hold nothing a commit of it would: every file in them ignored, none in its index or
        in HEAD's tree (which commit_all stages again). Empty when they are more than
        ``limit`` (its caller then leaves nothing out)."""
        import tempfile
        folders: "set[str]" = set()
        with tempfile.TemporaryFile() as f:
            self._run_to(["ls-files", "-z", "--others", "--ignored", "--exclude-standard",
                          "--directory"], f, f"git could not list the ignored files of {path}",
                         cwd=path)
            f.seek(0)
            for (raw,) in _nul_records(f, 1):
                if raw.endswith(b"/"):
                    folders.add(raw[:-1].decode("utf-8", "surrogateescape"))
                    if len(folders) > limit:
                        return set()
        if folders:
            with tempfile.TemporaryFile() as f:
                self._run_to(["ls-tree", "-r", "-z", "--name-only", "--full-tree", "HEAD"], f,
                             f"git could not list the files of HEAD in {path}", cwd=path)
                f.seek(0)
                for (raw,) in _nul_records(f, 1):
                    name = raw.decode("utf-8", "surrogateescape")
                    folders.discard(name)  # (a submodule's folder)
                    while "/" in name:
                        name = name.rpartition("/")[0]
                        folders.discard(name)
        return folders

    def hidden_from_commit(self, path: str, gitlinks: List[str], nested: List[str],
                           trusted: Dict[str, str], reader: Optional[int] = None) -> List[str]:
        """The places in the worktree at ``path`` whose files its commit cannot hold although
        git neither commits nor ignores them (checks there would pass on what the branch does
        not have): ``nested`` repositories inside ('sub/'); the folders of submodules holding
        files, when their commit is new (``gitlinks``: only the commit id is committed) or
        they are not exactly as they were when the agent started (``trusted``, see
        submodule_folders: what your setup checked out); folders named .git below the top
        (git never looks in); folders too deep for git or that it may not list: the runner
        may not, or, given ``reader``, the account the commit's git ran as (root outside
        reads what the sandbox's account inside may not: another account's 0711 folder), and
        what another account than ``reader`` (or root) owns: its owner may write it whatever
        its mode; folders the group or others may write (what is in them can change under
        the checks).
        Ignored folders are not looked in. (See changes for the lists.)"""
        hidden = nested + [name + "/" for name in gitlinks if _holds_entries(path, name)]
        skip = set(hidden) | {name for (name,) in self._names(  # (round 70: not held whole)
            ["ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory"],
            path, 1) if name.endswith("/")}
        now = self.submodule_folders(path)
        for name, digest in now.items():
            if name + "/" not in skip:
                skip.add(name + "/")
                if trusted.get(name) != digest:
                    hidden.append(name + "/")
        def skipped(_folder: int, rel: str, why: str) -> None:  # (git cannot look in either)
            hidden.append(f"{_shorten(rel, 100)}/ ({why})")

        for folder, fd, dirs, files in _walk_at(path, skipped):
            rel = os.path.relpath(folder, path)
            rel = "" if rel == "." else rel + "/"
            st = os.fstat(fd)
            if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) or _has_acl(fd):  # (none is since
                # _commit, but one another account moved in while that walk went by)
                hidden.append(f"{_shorten(rel or './', 100)} (a folder other accounts may write, "
                              "or with an access list)")
            if reader is not None:  # (what another account made or may hide)
                if st.st_uid not in (reader, 0) or not _may_list(st, reader):
                    hidden.append(f"{_shorten(rel, 100)} (a folder the sandbox's git may not "
                                  f"list, or of another account: uid {st.st_uid})")
                    dirs[:] = []
                    continue
                hidden += [f"{_shorten(rel + name, 100)} (another account's: uid {other.st_uid})"
                           for name in files for other in [_stat_at(fd, name)]
                           if other is not None and other.st_uid not in (reader, 0)]
            if rel and ".git" in dirs + files:
                hidden.append(rel + ".git")
            dirs[:] = [name for name in dirs if rel + name + "/" not in skip and name != ".git"]
        return hidden

    def submodule_folders(self, path: str) -> Dict[str, str]:
        """The folders of the submodules of the worktree at ``path`` that hold files, with a
        digest of every entry in them (times of change and inodes too: a file rewritten with
        its old size and time is another)."""
        return {name: _tree_digest(path, [name], exact=True) for name in self.filled_submodules(path)}

    def filled_submodules(self, path: str) -> List[str]:
        """The submodules of the worktree at ``path`` whose folders hold anything."""
        return [name for name in self.gitlinks(path) if _holds_entries(path, name)]

    def stray_attributes(self, path: str, index: Optional[str] = None) -> List[str]:
        """The first few ``.gitattributes`` files (any case) of the worktree at ``path`` that git
        does not track, ignored or not, in a folder that holds tracked files: git's commit and
        checkout of those follow them, a checkout of the branch does not (one in an ignored
        node_modules package applies to nothing the branch holds). ``index``: the index that
        says what is tracked (see git())."""
        folders = {""}  # (of the tracked files, each once)
        for (name,) in self._names(["ls-files", "-z"], path, 1, index=index):
            for parent in _parents(name):
                if parent in folders:
                    break
                folders.add(parent)
        found: List[str] = []
        for ignored in ([], ["--ignored"]):
            for (name,) in self._names(["ls-files", "-z", "--others", *ignored,
                                        "--exclude-standard", "--",
                                        ":(glob,icase)**/.gitattributes"], path, 1, index=index):
                if len(found) < 5 and name.rpartition("/")[0] in folders:
                    found.append(name)
        return found

    def gitlinks(self, path: str) -> List[str]:
        """The submodule entries of the index of the worktree at ``path`` (read as a stream:
        an agent's index of 50,000 paths of 4 KB is not held, round 68)."""
        return [entry.partition("\t")[2] for (entry,) in self._names(["ls-files", "-z", "-s"],
                                                                    path, 1)
                if entry.startswith("160000 ")]

    def as_committed(self, path: str, commit: str = "HEAD") -> None:
        """Give the files of the worktree at ``path`` whose line ends git changed when it
        committed them (``* text=auto`` and the like), or that it rewrites by attribute on the
        way in and out (ident, an encoding), the form a checkout of ``commit`` has: the
        checks must run on what the branch holds, not on what only this worktree has. Every
        listing goes through files, read as a stream (round 68: 65,000 paths of 4 KB took
        1.7 GB held whole)."""
        import tempfile
        with tempfile.TemporaryDirectory(prefix="architect-parallel-run-") as scratch:
            listed, names, told, changed = (os.path.join(scratch, name) for name in (
                "listed", "names", "told", "changed"))
            with open(listed, "wb") as f:
                self._run_to(["ls-files", "--stage", "--eol", "-z"], f,
                             f"git could not list the files of {path}", cwd=path)
            with open(listed, "rb") as f, open(names, "wb") as out:
                for (entry,) in _nul_records(f, 1):
                    out.write(entry.partition(b"\t")[2].partition(b"\t")[2] + b"\0")
            with open(names, "rb") as f, open(told, "wb") as out:
                self._run_to(["check-attr", "-z", "--stdin", "ident", "working-tree-encoding"],
                             out, f"git could not read the attributes of {path}", input=f,
                             cwd=path)
            count = 0
            autocrlf = self.flag("core.autocrlf", False, path) is True  # (`input`: None)
            file_mode = self.flag("core.filemode", True, path) is not False
            symlinks = self.flag("core.symlinks", True, path) is not False
            crlf = (self.git("config", "--get", "core.eol", cwd=path, check=False)
                    or "").strip().lower() == "crlf"
            with open(listed, "rb") as f, open(told, "rb") as attributes, \
                    open(changed, "wb") as out:
                rewriting = _nul_records(attributes, 6)  # (both attributes of each, in order)
                for (entry,) in _nul_records(f, 1):
                    staged, _, rest = entry.partition(b"\t")
                    eol, _, name = rest.partition(b"\t")
                    attrs = next(rewriting, None)
                    mode = (staged.split() or [b""])[0]
                    if name and (attrs is None or _line_ends_converted(eol.decode(
                            "ascii", "replace"), autocrlf, crlf) or any(
                                attrs[k] not in (b"unspecified", b"unset") for k in (2, 5))
                            or (not symlinks and mode == b"120000")  # (written as a file)
                            or (not file_mode and mode in (b"100644", b"100755")
                                and _mode_differs(path, name, mode == b"100755"))):
                        out.write(name + b"\0" + (staged.split()[1:2] or [b""])[0] + b"\0")
                        count += 1
            if not count:
                return
            # Out of the index first: git rewrites no file it takes as up to date.
            with open(changed, "rb") as f, open(names, "wb") as out:
                for name, _blob in _nul_records(f, 2):
                    out.write(name + b"\0")
            for args in (["rm", "-q", "--cached"], ["checkout", commit]):
                with open(names, "rb") as f, open(os.devnull, "wb") as out:
                    self._run_to(["--literal-pathspecs", *args, "--pathspec-from-file=-",
                                  "--pathspec-file-nul"], out, f"git {args[0]} of the files "
                                 f"{path} holds otherwise than its commit failed", input=f,
                                 cwd=path, filters=args[0] == "checkout")
            # That checkout read the objects of the agent's sandbox, which git does not hash
            # again as it reads them: a pack the agent made may claim a blob's id for other
            # bytes. Each file written, hashed again, must be what `add` made of it.
            wrong = self._not_hashing_to(path, changed, scratch)
            if wrong:
                raise _Refused("what its commit holds could not be written back as it is: objects "
                               "the agent made claim ids they do not hold "
                               f"({_shorten(', '.join(wrong[:5]), 300)})")

    def flag(self, key: str, default: bool, cwd: str) -> Optional[bool]:
        """The setting ``key`` as git reads a boolean (a bare ``autocrlf``, ``2`` and ``1k`` are
        true: round 70); ``default`` when it is not set, None when it is no boolean."""
        said = self.git("config", "--type=bool", "--get", key, cwd=cwd, check=False)
        if said is not None:
            return said.strip() == "true"
        return default if self.git("config", "--get", key, cwd=cwd, check=False) is None \
            else None

    def _not_hashing_to(self, path: str, expected: str, scratch: str) -> List[str]:
        """Of the files of the worktree at ``path`` that the file ``expected`` names (NUL-ended
        name, then blob id), the first 5 that are no regular file, or whose content (as git
        stores it: through the line-end conversion, ident, an encoding, your filters) is not
        the blob named."""
        wrong: List[str] = []
        paths, shas, hashed = (os.path.join(scratch, name) for name in ("paths", "shas", "hashed"))
        with open(expected, "rb") as f, open(paths, "wb") as names, open(shas, "wb") as ids:
            for raw, blob in _nul_records(f, 2):
                name = raw.decode("utf-8", "surrogateescape")
                st = _lstat_beneath(path, name) if "\n" not in name else None
                if st is not None and stat.S_ISREG(st.st_mode):
                    names.write(raw + b"\n")
                    ids.write(blob + b"\n")
                elif len(wrong) < 5:
                    wrong.append(name)
        with open(paths, "rb") as f, open(hashed, "wb") as out:
            self._run_to(["hash-object", "--stdin-paths"], out, f"git could not hash the files "
                         f"of {path}", input=f, cwd=path, filters=True)
        with open(paths, "rb") as names, open(shas, "rb") as ids, open(hashed, "rb") as got:
            for name, blob in zip(names, ids):
                if got.readline() != blob and len(wrong) < 5:
                    wrong.append(name[:-1].decode("utf-8", "surrogateescape"))
        return wrong

    def identity(self, path: str) -> List[str]:
        """``-c`` options giving git an identity when none is configured."""
        if self.succeeds("var", "GIT_AUTHOR_IDENT", cwd=path) and \
                self.succeeds("var", "GIT_COMMITTER_IDENT", cwd=path):
            return []
        return [arg for key, value in _IDENTITY for arg in ("-c", f"{key}={value}")]

    def missing_identity(self) -> Dict[str, str]:
        """The identity settings git config does not have, with the runner's own values.

        A CLI that finds none there writes one into the shared .git/config (aider
        writes user.name "Your Name"); agents get these through the environment instead.
        """
        return {key: value for key, value in _IDENTITY
                if not self.succeeds("config", "--get", key, cwd=self.top)}

    def shown_folders(self, names: List[str]) -> List[str]:
        """Of the folders ``names`` at the top of the checkout, those its ignore rules (its
        .gitignore, .git/info/exclude, yours) do not ignore."""
        told = self.git("check-ignore", "-z", "--stdin", check=False,
                        input="".join(f"{name}/\0" for name in names).encode(
                            "utf-8", "surrogateescape")) or ""  # (none ignored: exit code 1)
        ignored = {name.rstrip("/") for name in told.split("\0")}
        return [name for name in names if name not in ignored]

    def exclude(self, patterns: List[str]) -> None:
        """Add the gitignore ``patterns`` missing from ``.git/info/exclude`` (it applies to
        every worktree): the worktree folders, the agents' bookkeeping."""
        exclude = os.path.join(self.common_dir, "info", "exclude")
        try:
            os.makedirs(os.path.dirname(exclude), exist_ok=True)
            try:
                with open(exclude, encoding="utf-8", errors="surrogateescape") as f:
                    current = f.read()
            except FileNotFoundError:
                current = ""
            missing = [p for p in patterns if p not in current.splitlines()]
            if missing:
                with open(exclude, "a", encoding="utf-8", errors="surrogateescape") as f:
                    f.write(("" if current.endswith("\n") or not current else "\n")
                            + "".join(p + "\n" for p in missing))
        except OSError as exc:
            raise ParallelError(f"cannot update {exclude}: {exc.strerror or exc}") from None

    def state_dir(self, *parts: str) -> str:
        path = os.path.join(self.common_dir, _STATE_DIR, *parts)
        try:
            os.makedirs(path, exist_ok=True)
        except OSError as exc:
            raise ParallelError(f"cannot create {path}: {exc.strerror or exc}") from None
        return path

    @contextlib.contextmanager
    def lock(self, token: str) -> Iterator["_LockRecord"]:
        """Hold the repository's run lock, or raise ParallelError naming its holder.

        Two runs (or a run and a cleanup) in one repository would remove each
        other's worktrees. flock() is released by the kernel when its holder dies,
        so a dead holder never blocks anyone. The file holds the holder's pid and
        ``token`` while it runs and is emptied on release, so a file found full tells
        of a holder that was killed: see _LockRecord.
        """
        path = os.path.join(self.state_dir(), "lock")
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 200, 0).decode("ascii", "replace").split() or ["?"]
                raise ParallelError(
                    f"another architect-parallel (pid {holder[0]}) is running in this repository; "
                    "wait for it to finish or stop it") from None
            record = _LockRecord(fd, token)
            try:
                yield record
            finally:
                record.release()
        finally:
            os.close(fd)  # also releases the lock


class _TreeReader:
    """A commit's trees and links, read as they are needed through one ``git cat-file
    --batch`` (see _Repo._tree_reader): each tree once, at most _TREE_LIMIT bytes of it, a
    link's target at most 4 KB."""

    def __init__(self, reader: subprocess.Popen, commit: str) -> None:
        self._reader = reader
        self._trees: Dict[str, Dict[str, "tuple[int, str]"]] = {}
        self.root = self._object(f"{commit}^{{tree}}", 0)[0]

    def resolve(self, parts: List[str], follow: bool = True) -> Optional["tuple[int, str]"]:
        """The mode and object the path ``parts`` (from the top) leads to in the tree,
        following its links as the file system would (40 at most; the last one only if
        ``follow``); None when it leads out of the tree (an absolute target, above the top),
        to nothing the tree holds, below a file, into a submodule, ``.git`` or a worker's
        worktree."""
        folders = [self.root]  # the trees from the top to where the walk is
        entry, hops, parts = (0o40000, self.root), 0, list(parts)
        while parts:
            name = parts.pop(0)
            if entry[0] != 0o40000:
                return None
            if name in ("", "."):
                continue
            if name == "..":
                if len(folders) == 1:
                    return None
                folders.pop()
                entry = (0o40000, folders[-1])
                continue
            if _folded(name) == ".git" or (len(folders) == 1 and _is_worktree_name(name)):
                return None
            found = self._entries(folders[-1]).get(name)
            if found is None or found[0] == 0o160000:
                return None
            if found[0] == 0o120000 and (parts or follow):
                target = self.blob(found[1])
                hops += 1
                if target is None or target.startswith("/") or hops > 40:
                    return None
                parts[:0] = target.split("/")  # (from the folder the link is in)
                continue
            if found[0] == 0o40000:
                folders.append(found[1])
            entry = found
        return entry

    def where(self, parts: List[str]) -> Optional[str]:
        """The path (from the top) that ``parts`` leads to in the tree, following its links as
        resolve does; what the tree does not hold is taken as it is named (an ignored file
        of yours: `-c conf/local.yaml`); None when it leads out of the tree."""
        folders: List[Optional[str]] = [self.root]
        names: List[str] = []
        parts, hops = list(parts), 0
        while parts:
            name = parts.pop(0)
            if name in ("", "."):
                continue
            if name == "..":
                if not names:
                    return None
                folders.pop()
                names.pop()
                continue
            found = self._entries(folders[-1]).get(name) if folders[-1] else None
            if found is not None and found[0] == 0o120000:
                target = self.blob(found[1])
                hops += 1
                if target is None or target.startswith("/") or hops > 40:
                    return None
                parts[:0] = target.split("/")
                continue
            folders.append(found[1] if found is not None and found[0] == 0o40000 else None)
            names.append(name)
        return "/".join(names)

    def blob(self, sha: str) -> Optional[str]:
        """A link's target (None when it is no blob of at most 4 KB)."""
        _sha, kind, data = self._object(sha, 4096)
        return data.decode("utf-8", "surrogateescape") if kind == "blob" and data is not None \
            else None

    def _entries(self, tree: str) -> Dict[str, "tuple[int, str]"]:
        if tree not in self._trees:
            _sha, kind, data = self._object(tree, _TREE_LIMIT)
            entries: Dict[str, "tuple[int, str]"] = {}
            width = len(tree) // 2
            i = 0
            while kind == "tree" and data is not None and i < len(data):
                space, nul = data.find(b" ", i), data.find(b"\0", i)
                if space < 0 or nul < space or nul + 1 + width > len(data) or \
                        not data[i:space] or data[i:space].strip(b"01234567"):
                    return {}  # (malformed: nothing is found in it)
                name = data[space + 1:nul].decode("utf-8", "surrogateescape")
                entries[name] = (int(data[i:space], 8), data[nul + 1:nul + 1 + width].hex())
                i = nul + 1 + width
            self._trees[tree] = entries
        return self._trees[tree]

    def _object(self, spec: str, limit: int) -> "tuple[str, str, Optional[bytes]]":
        """An object's name, type and content (None when over ``limit`` bytes)."""
        self._reader.stdin.write(spec.encode() + b"\n")
        self._reader.stdin.flush()
        head = self._reader.stdout.readline().decode("ascii", "replace").split()
        if len(head) != 3 or not _digits(head[2]):
            return "", "", None
        size = int(head[2])
        left, chunks = size + 1, []  # (its bytes and a newline, read to stay in step)
        while left > 0:
            chunk = self._reader.stdout.read(min(left, 1 << 20))
            if not chunk:
                break
            if size <= limit:
                chunks.append(chunk)
            left -= len(chunk)
        data = b"".join(chunks)[:size]
        return head[0], head[1], data if size <= limit and left == 0 else None


class _LockRecord:
    """What the run lock's file says: ``pid token`` of its holder and, while a takeover
    is unfinished, below it the record of the killed holder being taken over.

    ``stale`` is ``(pid, token)`` of a holder that was killed and whose processes may
    still run (a file written by 0.1 holds a pid only: never stale). It stays in the
    file until ``taken_over()``, so a takeover that is itself interrupted, or a dry
    run, leaves it for the next holder.
    """

    def __init__(self, fd: int, token: str):
        self._fd = fd
        self._own = f"{os.getpid()} {token}\n"
        lines = os.pread(fd, 400, 0).decode("ascii", "replace").splitlines()
        records = [line.split() for line in lines if len(line.split()) >= 2]
        self.stale: Optional["tuple[str, str]"] = (records[-1][0], records[-1][1]) if records else None
        self._write(self._own)

    def taken_over(self) -> None:
        """The killed holder's processes are stopped: forget it."""
        self.stale = None
        self._write(self._own)

    def release(self) -> None:
        self._write("")

    def _write(self, own: str) -> None:
        text = own + (f"{self.stale[0]} {self.stale[1]}\n" if self.stale else "")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, text.encode(), 0)


def _ignores_case(folder: str) -> bool:
    """Whether the file system of ``folder`` takes names that differ only in case for one
    (macOS's, Windows's): the folder, asked for under its name in the other case, is itself."""
    head, name = os.path.split(folder)
    try:
        return name.swapcase() != name and os.path.samestat(
            os.lstat(folder), os.lstat(os.path.join(head, name.swapcase())))
    except OSError:
        return False


def _git_popen(args: List[str], cwd: str, wrap: Optional[_Wrap] = None,
               settings: Optional[Dict[str, str]] = None, **popen: object) -> subprocess.Popen:
    """Start git: the one door of every git the tool runs (but the agents' own). It runs in
    ``cwd``, within ``wrap`` when given (a worker's sandbox), away from any GIT_DIR the
    caller's environment sets, with _GIT_SETTINGS, ``wrap``'s and ``settings`` (see
    _Repo.neutral), no replace refs and no prompt; ``status`` and ``diff`` never look into
    a submodule (see _guarded). ``popen``: subprocess.Popen's stdin, stdout, stderr and so
    on (standard input is /dev/null unless given)."""
    import subprocess
    popen.setdefault("stdin", subprocess.DEVNULL)
    if wrap and wrap.fds:
        popen["pass_fds"] = wrap.fds
    if wrap:
        popen["umask"] = _boxed_umask()
    # A git in a worker's worktree sees a name as it is, whatever your core.ignoreCase, where
    # its file system tells case (round 110: with it on, a new Readme.md beside README.md was
    # no change to a status, and cleanup deleted it; round 114: the runner's `add -A` left out
    # an untracked GNUmakefile beside the committed GNUMakefile, which the check's make ran,
    # and an agent's case-only rename lost the renamed file). (Elsewhere a git asks what
    # yours would: a status of your checkout.)
    where = os.path.normpath(cwd)
    case = {"core.ignoreCase": "false"} if _is_worker_path(where) and \
        not _ignores_case(where) else {}
    env = _git_env(dict(settings or {}, **(wrap.settings if wrap else {}), **case), not wrap)
    # Neither git nor a program it starts (ssh, gpg, a filter's) is taken from a folder of a
    # checkout (a relative PATH entry is one of every folder git runs in, a worktree too; an
    # activated .venv/bin is one a merge writes) nor, inside, one the worker could write.
    avoid = {cwd, *_CHECKOUTS} | ({os.path.expanduser("~"), env.get("HOME") or "", "/tmp",
                                   "/var/tmp"} if wrap else set())
    env = _outside_env(env, frozenset(avoid))
    git = (wrap.git if wrap else None) or _git_program(env["PATH"])
    main = threading.current_thread() is threading.main_thread()
    _DEFERRED.spawning += main  # (an interrupt now waits until the git is known: see
    try:                        # _raise_signalled)
        proc = subprocess.Popen([*(wrap.command(cwd) if wrap else []), git, *_guarded(args)],
                                cwd=cwd, env=env, **popen)  # type: ignore[arg-type]
        proc.own_session = bool(popen.get("start_new_session"))  # type: ignore[attr-defined]
        proc.said_as, proc.said_in = " ".join(_guarded(args)[:2]), cwd  # type: ignore[attr-defined]
        with _READERS_LOCK:  # (see _kill_readers, in our process group or not: round 105;
            (_READING if _reads_only(args) else _WRITING).add(proc)  # and _wait_writers)
    finally:
        _undefer(main)
    return proc


def _undefer(main: bool) -> None:
    """One start of a git ends (see _git_popen; ``main``: in the main thread): an interrupt
    that came meanwhile, when no other start is under way, is raised now."""
    _DEFERRED.spawning -= main
    if main and not _DEFERRED.spawning and _DEFERRED.signals:
        _kill_readers()
        signum = _DEFERRED.signals.pop()
        _DEFERRED.signals.clear()
        raise _Signalled(signum) if signum != signal.SIGINT else KeyboardInterrupt


@functools.lru_cache(maxsize=1)
def _boxed_umask() -> int:
    """The umask of everything that runs in a worker's sandbox: yours, with no write for the
    group or others. A folder of another account's group with the set-group-ID bit gives
    that group what is made in it: with umask 002, it could rewrite a file the checkout
    wrote back after the commit, before the checks read it."""
    return _umask() | 0o022


# The most files a branch adds that merge asks your ignore rules about (see ignored_here).
_HIDDEN_ASKED = 100_000
# The checkouts of the repositories the tool works in (see _Repo.find and _git_popen): the
# last few (a process of the tool works in one, a test in many).
_CHECKOUTS: List[str] = []
_CHECKOUTS_LOCK = threading.Lock()


def _note_checkout(top: str) -> None:
    """Take the checkout ``top`` as one the tool works in (see _CHECKOUTS)."""
    with _CHECKOUTS_LOCK:
        if top in _CHECKOUTS:
            _CHECKOUTS.remove(top)
        _CHECKOUTS.append(top)
        del _CHECKOUTS[:-4]


# Where the dynamic loader, iconv, OpenSSL, git and Python look for code, or for data they
# run as code (git's translations are printf formats), as variables: an empty or relative
# entry is the folder the program starts in (a worktree, for the tool's gits, bwrap and
# nsenter), or one below it. Each with the characters that part its entries (glibc: ':' and
# ';' in LD_LIBRARY_PATH, ':' and spaces in LD_PRELOAD), and what a merge counts in a folder
# of it: a "library", a "git-*" program, or "any" file.
_LOADER_VARS = {"LD_LIBRARY_PATH": ("[:;]", "library"), "LD_PRELOAD": (r"[:\s]", "library"),
                "LD_AUDIT": (":", "library"), "GCONV_PATH": (":", "library"),
                "LOCPATH": (":", "library"), "GIT_EXEC_PATH": ("\0", "git"),
                "GIT_TEMPLATE_DIR": ("\0", "any"), "GIT_TEXTDOMAINDIR": ("\0", "any"),
                "TERMINFO": ("\0", "any"), "TERMINFO_DIRS": (":", "any"),
                "OPENSSL_CONF": ("\0", "any"), "OPENSSL_MODULES": ("\0", "any"),
                "OPENSSL_ENGINES": ("\0", "any"), "PYTHONPYCACHEPREFIX": ("\0", "any"),
                "XDG_DATA_DIRS": (":", "any"), "XDG_CONFIG_DIRS": (":", "any")}  # (xdg-open)
# The variables naming where a program keeps its settings, state or code (the agent CLIs'
# own folders, CLAUDE_CONFIG_DIR and CODEX_HOME too; AWS_CONFIG_FILE, whose credential_process
# runs; KUBECONFIG, GNUPGHOME, CARGO_HOME, NVM_DIR, VIRTUAL_ENV): --sandbox-allow must not
# hold what they name.
_STATE_VARS = _LazyPattern(r"(?i).*(home|root|prefix|config.*|credentials.*|install|_env|_rc|"
                           r"rcfile)|(input|wget|curl|screen|npm|yarn)rc|(nvm|sdkman|asdf|asdf_data|mise_data|mise_config|volta|"
                           r"conda_envs|pipx)_dirs?|zdotdir|bash_completion_(user|compat)_dir")
# Where the other languages' programs look for code (what --sandbox-allow must not hold: a
# merge counts these as the project's own code, as your test suite is).
_CODE_PATH_VARS = ("PYTHONPATH", "PYTHONHOME", "PERL5LIB", "PERLLIB", "NODE_PATH", "RUBYLIB",
                   "GEM_PATH", "GEM_HOME", "CLASSPATH", "TCLLIBPATH", "LUA_PATH", "LUA_CPATH",
                   "R_LIBS", "R_LIBS_USER", "R_LIBS_SITE", "JULIA_LOAD_PATH", "GUILE_LOAD_PATH",
                   "GOPATH", "GOMODCACHE", "GOCACHE", "GOBIN", "GOENV", "GOFLAGS")
# HOME's folders, not dot folders, that hold code your later builds run or load (Go's module
# cache ~/go/pkg/mod, R's user library, a node_modules all projects under HOME see, local::lib,
# conda installs): what a worker wrote there would run as you.
_HOME_CODE = ("go", "R", "node_modules", "perl5", "miniconda3", "anaconda3", "miniforge3",
              "mambaforge", "micromamba", "Library")


def _entries_of(var: str, value: str) -> List[str]:
    """The entries of the search variable ``var`` (see _LOADER_VARS; ':' and ';' else), empty
    ones kept; a template's folder for ``?`` ones (LUA_PATH's ``/srv/lua/?.lua``)."""
    parts = re.split(_LOADER_VARS.get(var, ("[:;]",))[0], value)
    return [os.path.dirname(p.split("?")[0]) if "?" in p else p for p in parts]


def _outside_env(env: Dict[str, str], folders: "frozenset[str]") -> Dict[str, str]:
    """``env`` for a program the tool starts outside a sandbox (git, bwrap, nsenter): PATH and
    _LOADER_VARS with no relative or empty entry (``LD_LIBRARY_PATH=/usr/local/cuda/lib64:``
    has one) and none inside ``folders`` or the checkout above one (see _path_outside)."""
    env = dict(env)
    env["PATH"] = _path_outside(env.get("PATH", ""), folders)
    for var in _LOADER_VARS:
        if var in env:
            kept = _path_outside("\0".join(_entries_of(var, env[var])), folders, "\0")
            if kept:
                env[var] = kept.replace("\0", ":")
            else:
                del env[var]
    return env


@functools.lru_cache(maxsize=64)
def _path_outside(path: str, folders: "frozenset[str]", separator: str = os.pathsep) -> str:
    """The PATH ``path`` without its relative entries and those inside ``folders`` (or the
    checkout above each: its folder holding ``.git``), as their links lead."""
    avoid = {os.path.realpath(f) for f in folders if f and f != "/"}
    avoid |= {top for top in map(_checkout_above, list(avoid)) if top and top != "/"}
    prefixes = tuple(folder.rstrip(os.sep) + os.sep for folder in avoid)
    return separator.join(p for p in path.split(separator) if os.path.isabs(p) and not (
        os.path.realpath(p) + os.sep).startswith(prefixes))


def _checkout_above(path: str) -> Optional[str]:
    """The nearest folder at or above ``path`` holding a ``.git`` entry (a checkout's top,
    found without git), or None."""
    here = path
    for _ in range(256):
        if os.path.lexists(os.path.join(here, ".git")):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    return None


class _Mount:
    """One line of /proc/self/mountinfo: its id, its file system's device (``major:minor``)
    and type, the folder of that file system it shows (``root``), where (``point``), and the
    file system's options (an overlay's ``upperdir``, ``lowerdir``)."""

    __slots__ = ("id", "dev", "root", "point", "kind", "options")

    def __init__(self, id: str, dev: str, root: str, point: str, kind: str,
                 options: Dict[str, str]):
        self.id, self.dev, self.root, self.point = id, dev, root, point
        self.kind, self.options = kind, options

    def layers(self) -> List[str]:
        """An overlay's folders: what it shows comes from them (written to the upper one)."""
        if self.kind != "overlay":
            return []
        return [p for p in [self.options.get("upperdir", "")]
                + self.options.get("lowerdir", "").split(":") if p.startswith("/")]


def _mounts() -> List[_Mount]:
    """The mounts this process sees, in the order they were made (/proc/self/mountinfo; []
    where there is none)."""
    def unescaped(field: bytes) -> str:
        return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field).decode(
            "utf-8", "surrogateescape")

    found = []
    with contextlib.suppress(OSError):
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.rstrip(b"\n").split(b" ")
                if len(fields) < 10 or b"-" not in fields[6:]:
                    continue
                after = fields[fields.index(b"-", 6) + 1:]
                options = {}
                for option in (after[2] if len(after) > 2 else b"").split(b","):
                    key, _, value = option.partition(b"=")
                    options[unescaped(key)] = unescaped(value)
                found.append(_Mount(fields[0].decode("ascii", "replace"), unescaped(fields[2]),
                                    unescaped(fields[3]), unescaped(fields[4]),
                                    unescaped(after[0]) if after else "", options))
    return found


def _below(top: str, path: str) -> bool:
    """Whether the path ``path`` is ``top`` or below it, as written (nothing is looked at:
    see _mounts_below)."""
    return path == top or path.startswith(top.rstrip(os.sep) + os.sep)


def _mounts_below(folder: str) -> List[str]:
    """The mount points strictly inside the folder ``folder`` (a real path): a bind of
    ``folder`` takes them along, and a Landlock rule beneath it covers them, whatever they
    show (a bind of HOME, a FUSE mount of a server). None is stat'ed: a server's mount gone
    away would hang."""
    return list(dict.fromkeys(m.point for m in _mounts()
                              if m.point != folder and _below(folder, m.point)))


def _mount_names(folder: str) -> List[str]:
    """The other paths by which what the folder ``folder`` (a real path) holds is reached
    through mounts (round 79: a bind of HOME, or of the repository's .git, passed every
    check made by name; ``realpath`` sees through no mount), and theirs in turn, 64 at most:
    see _names_by_mount."""
    mounts = _mounts()
    names: List[str] = []
    queue = [folder]
    while queue and len(names) < 64:
        for name in _names_by_mount(queue.pop(0), mounts):
            if name != folder and name not in names:
                names.append(name)
                if os.path.isdir(name):  # (one of another namespace: an overlay's layers
                    queue.append(name)  # as the host names them, in a container)
    return names[:64]


def _names_by_mount(folder: str, mounts: List[_Mount]) -> Iterator[str]:
    """Other names of what the folder ``folder`` holds: where a bind shows its file system's
    folder (or one above it), the mount points of binds of folders inside it, the upper
    folder of the overlay it is in (what is written there goes there), and the mount points
    of overlays whose folders lie in it. Its mount is the one the kernel says it is on (its
    mount id: round 80, a mount hidden by another at its point, or below a folder mounted
    over later, was taken for it by its path)."""
    own = None
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_PATH | os.O_CLOEXEC)
        try:
            with open(f"/proc/self/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
                ids = [line.split()[1] for line in f if line.startswith("mnt_id:")]
        finally:
            os.close(fd)
        own = next((m for m in mounts if ids and m.id == ids[0]), None)
    if own is None:  # (no mount id here: the last made at the deepest point on its way)
        on_way = [m for m in mounts if _below(m.point, folder)]
        own = max(reversed(on_way), key=lambda m: len(m.point), default=None)
    if own is not None and _below(own.point, folder):
        rel = os.path.relpath(folder, own.point)
        inner = os.path.normpath(os.path.join(own.root, rel))
        for other in mounts:
            if other.dev != own.dev or other.id == own.id:
                continue
            if _below(other.root, inner):  # (it shows ``folder``, or a folder above it)
                yield os.path.normpath(os.path.join(other.point, os.path.relpath(inner, other.root)))
            elif _below(inner, other.root):  # (it shows a folder inside ``folder``)
                yield other.point
        upper = own.options.get("upperdir", "") if own.kind == "overlay" else ""
        if upper.startswith("/"):
            yield os.path.normpath(os.path.join(upper, inner.lstrip("/")))
    for other in mounts:
        if any(_below(folder, layer) for layer in other.layers()):
            yield other.point


def _on_path_overlapping(folder: str) -> Optional[str]:
    """The first folder of your PATH (as bash reads it: a leading ``~`` expanded) that the
    real path ``folder`` is, holds or lies in, as written or as the links on its way lead
    (``sdk/current/bin`` with ``current`` a link ``folder`` holds); or the PATH folder whose
    program is a link into ``folder`` or a hard link to a file of it (Homebrew's and GNU
    Stow's links, conda's hard links into ``pkgs/``): a program the worker rewrote there would
    run as you. None when none is."""
    entries = [os.path.abspath(os.path.expanduser(e)) for e in
               os.environ.get("PATH", "").split(os.pathsep) if os.path.isabs(os.path.expanduser(e))]
    for entry in entries:
        if _overlaps(folder, entry):
            return entry
    for entry in entries:
        scanned = _links_below([os.path.realpath(entry)], 200_000)
        if scanned is None or any(_inside(folder, target) for target in scanned[0]) or (
                scanned[1] and _hard_links_to(folder, scanned[1])):
            return entry
    return None


def _loaded_from(folder: str, places: "List[tuple[str, str, bool]]") -> Optional[str]:
    """Which of ``places`` (see _code_places) the real path ``folder`` is, holds or lies in
    (as written, or as the links on its way lead), or holds a hard link to; None when none."""
    for place, what, folder_too in places:
        if place == "*":
            return what
        if place and place != "/" and _overlaps(folder, place, holds_only=not folder_too):
            return f"{what} ({place})"
    inodes = {}
    for place, what, _folder_too in places:
        with contextlib.suppress(OSError):
            st = os.stat(place)
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes[(st.st_dev, st.st_ino)] = f"{what} ({place})"
    if inodes and _hard_links_to(folder, set(inodes)):
        return "a hard link to " + ", ".join(sorted(inodes.values())[:2])
    return None


def _overlaps(folder: str, place: str, holds_only: bool = False) -> bool:
    """Whether the real path ``folder`` holds, is or (unless ``holds_only``) lies in the
    absolute path ``place``, as written or as the links on its way lead (``sdk/current/bin``
    with ``current`` a link that ``folder`` holds: what is written there can make it another
    folder)."""
    parts = os.path.abspath(place).split(os.sep)
    return (not holds_only and _inside(place, folder)) or any(
        _inside(folder, os.sep.join(parts[:n]) or os.sep) for n in range(2, len(parts) + 1))


def _python_search() -> List[str]:
    """The places the Python running the tool reads as it starts, to find its standard
    library, beside and above its program: ``pyvenv.cfg`` in its folder and the one above,
    its ``._pth`` file, and ``lib/pythonX.Y`` of every folder above it (a copied program's
    search climbs through folders another may write, round 66)."""
    if not sys.executable:
        return []
    program = os.path.realpath(sys.executable)
    folder = os.path.dirname(program)
    places = [os.path.join(folder, "pyvenv.cfg"),
              os.path.join(os.path.dirname(folder), "pyvenv.cfg"),
              program + "._pth", os.path.splitext(program)[0] + "._pth",
              os.path.join(folder, "pybuilddir.txt")]
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    while True:
        places.append(os.path.join(folder, "lib", version))
        if os.path.dirname(folder) == folder:
            return places
        folder = os.path.dirname(folder)


def _code_places(repo: _Repo) -> "List[tuple[str, str, bool]]":
    """The places outside the sandbox that code is loaded or run from, or a file read as
    code or settings (what the worker wrote there would run as you), as (absolute path, what
    it is, whether a folder in it counts too): the dynamic loader's (LD_LIBRARY_PATH and the
    other _LOADER_VARS, relative entries as from here; the libraries this Python, git,
    bwrap, nsenter and the shell load and the folders the loader searches for them, RUNPATH
    included: see _libraries; /etc/ld.so.conf's folders), this Python's import path (the
    tool's own folder, PYTHONPATH, site-packages) and prefixes, your Python user base, git's
    exec-path; your git config files, those git would read were they there
    (GIT_CONFIG_GLOBAL, ``$XDG_CONFIG_HOME/git``, the system's), what your git settings and
    the variables of _ENV_RUN name (``gpg.program``, EDITOR, BROWSER); and the files your
    shell's start-up files name (``. /srv/team/env.sh``)."""
    here = os.getcwd()
    places: "List[tuple[str, str, bool]]" = []

    def add(path: str, what: str, folder_too: bool = True) -> None:
        path = os.path.expanduser(path)
        if path:
            places.append((os.path.normpath(os.path.join(here, path)), what, folder_too))

    for var in (*_LOADER_VARS, *_CODE_PATH_VARS):
        for item in _entries_of(var, os.environ[var]) if var in os.environ else []:
            add(item if var not in ("LD_PRELOAD", "LD_AUDIT") else os.path.dirname(item) or ".",
                var)
    for library, searched in _libraries():
        add(library, "a library the tool's programs load", False)
        add(os.path.dirname(library), "a folder of the libraries the tool's programs load")
        for folder in searched:
            add(folder, "a folder the loader searches for them")
    for folder in _ld_so_conf():
        add(folder, "a folder of /etc/ld.so.conf")
    places.extend((p, "this Python's import path", True) for p in sys.path if p and os.path.isabs(p))
    import site  # (a user site not made yet is on no path: a .pth made there would be)
    with contextlib.suppress(AttributeError, OSError):
        add(site.getuserbase(), "your Python user base")
        add(site.getusersitepackages(), "your Python user site")
    for prefix in {sys.prefix, sys.base_prefix, sys.exec_prefix}:
        add(prefix, "this Python's installation")
    for place in _python_search():  # (where it looks for its library as it starts: round 66)
        add(place, "where this Python looks for its standard library as it starts", False)
    add(os.path.dirname(os.path.abspath(__file__)), "the tool's own folder")
    exec_path = os.environ.get("GIT_EXEC_PATH") or (_git(["--exec-path"], "/", check=False) or "")
    if os.path.isabs(exec_path.strip()):
        add(exec_path.strip(), "git's exec-path")
    # Your git's config files, there or not yet (git reads them when they appear).
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join("~", ".config")
    add(os.path.join(xdg, "git"), "your git's own folder ($XDG_CONFIG_HOME/git)")
    add(os.environ.get("GIT_CONFIG_GLOBAL") or os.path.join("~", ".gitconfig"),
        "your global git config file", False)
    with contextlib.suppress(ParallelError):
        prefix = os.path.dirname(os.path.dirname(os.path.realpath(_git_program(_safe_path()))))
        for system in {os.environ.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig",
                       os.path.join(prefix, "etc", "gitconfig")}:
            add(system, "the system's git config file", False)
    for origin, name, value in repo.your_settings("."):
        if origin:
            add(origin, "a git config file of yours", False)
        if not _NOT_RUN.fullmatch(name.lower()):
            for path in _command_loads(value, repo.top)[0] + [value.strip()]:
                if os.path.isabs(os.path.expanduser(path)):
                    add(path, f"what your git setting {name} names", False)
    for name in _HOME_CODE:
        add(os.path.join("~", name), "a folder of HOME your builds run code from")
    for entry in os.environ.get("PATH", "").split(os.pathsep):
        for beside in _beside_bin(os.path.expanduser(entry)) if os.path.isabs(
                os.path.expanduser(entry)) else []:
            add(beside, "what your shell loads beside a folder of your PATH (completions)")
    named = _named_in_settings(os.path.expanduser("~"))
    if named is None:  # (too many to read: no folder is taken as clear of them)
        places.append(("*", "what one of your settings files may name (there are more than "
                       f"{_SETTINGS_READ:,} to read in HOME)", True))
    for path in named or ():
        add(path, "what a settings file in your HOME, or ssh's own, names", False)
    for var, value in sorted(os.environ.items()):  # (settings, state and code, by a variable)
        if _state_var(var):
            for item in value.split(os.pathsep):
                if os.path.isabs(item):
                    add(item, f"what your {var} names")
    for var in _ENV_RUN:
        value = _env_command(var)
        for path in (_command_loads(value, here)[0] + [value.strip()]) if value.strip() else []:
            if "/" in path:
                add(path, f"what your {var} names", False)
    for path, var in _named_at_start_up(os.path.expanduser("~")):
        add(path, "what your shell's start-up files name", _code_var(var))
    return list(dict.fromkeys(places))


def _libraries() -> "List[tuple[str, List[str]]]":
    """The libraries this Python has loaded, and those the programs the tool runs outside a
    sandbox load (git, bwrap, nsenter, the shell, this Python and the extension modules the
    tool may import), as (library, the folders the loader searched for it: RUNPATH, the
    system's): asked of the dynamic loader itself (``ld.so --list``, LD_DEBUG=libs)."""
    import glob
    import subprocess
    found: "List[tuple[str, List[str]]]" = []
    with contextlib.suppress(OSError):
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as f:
            found += [(line.split(None, 5)[5].strip(), []) for line in f
                      if len(line.split(None, 5)) == 6 and ".so" in line.split(None, 5)[5]]
    loaders = sorted(glob.glob("/lib64/ld-linux*.so*") + glob.glob("/lib/ld-linux*.so*"))
    if not loaders:
        return found
    dynload = [p for p in sys.path if p.endswith("lib-dynload")]
    programs = [p for p in [_which("git"), _which("bwrap"), _which("nsenter"), "/bin/sh",
                            sys.executable] if p]
    for module in ("pyexpat", "_hashlib", "_ssl", "_json", "unicodedata", "zlib", "_socket"):
        programs += glob.glob(os.path.join(dynload[0], f"{module}.*so")) if dynload else []
    for program in programs:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            proc = subprocess.run([loaders[0], "--list", program], capture_output=True,
                                  timeout=10, env={"LD_DEBUG": "libs", "PATH": "/usr/bin:/bin"},
                                  cwd="/", stdin=subprocess.DEVNULL)
            searched = [folder for line in proc.stderr.decode("utf-8", "replace").splitlines()
                        if "search path=" in line
                        for folder in line.split("search path=", 1)[1].split()[0].split(":")]
            found += [(line.split("=>", 1)[1].split("(")[0].strip(), searched)
                      for line in proc.stdout.decode("utf-8", "replace").splitlines()
                      if "=>" in line and "/" in line.split("=>", 1)[1]]
    return found


def _ld_so_conf() -> List[str]:
    """The folders /etc/ld.so.conf names (its ``include`` files followed, 64 at most)."""
    import glob
    folders, files, seen = [], ["/etc/ld.so.conf"], 0
    while files and seen < 64:
        seen += 1
        text = (_read_bytes(files.pop(0), 64 << 10) or b"").decode("utf-8", "replace")
        for line in text.splitlines():
            words = line.split("#")[0].split()
            if words[:1] == ["include"]:
                files += [f for pattern in words[1:] for f in sorted(glob.glob(
                    pattern if os.path.isabs(pattern) else os.path.join("/etc", pattern)))]
            elif words and os.path.isabs(words[0]):
                folders.append(words[0])
    return folders


def _code_var(var: str) -> bool:
    """Whether a folder given to the variable ``var`` holds code, or settings, as a whole
    (see _named_at_start_up: '*' a path cut at a variable)."""
    return var == "*" or var in ("PATH", *_LOADER_VARS, *_CODE_PATH_VARS, *_ENV_RUN) or \
        _state_var(var)


def _state_var(var: str) -> bool:
    """Whether the variable ``var`` names a program's settings, state or code (_STATE_VARS;
    not HOME itself, nor the current and temporary folders)."""
    return bool(_STATE_VARS.fullmatch(var)) and var not in ("HOME", "PWD", "OLDPWD", "TMPDIR")


def _search_entries(var: str) -> List[str]:
    """The entries of the search variable ``var`` (see _entries_of) as your environment has
    it, and as your shells' start-up files give it (``export PERL5LIB=~/proj/lib``)."""
    found = _entries_of(var, os.environ[var]) if var in os.environ else []
    return found + [path for path, given in _named_at_start_up(os.path.expanduser("~"))
                    if given == var]


def _beside_bin(entry: str) -> List[str]:
    """What shells load from beside the PATH folder ``entry`` when it ends in ``bin`` or
    ``sbin`` (bash-completion 2.12 sources ``X/share/bash-completion/completions/CMD`` of
    ``X/bin``; zsh and fish completions, ``X/etc``)."""
    if os.path.basename(os.path.normpath(entry)) not in ("bin", "sbin"):
        return []
    top = os.path.dirname(os.path.normpath(entry))
    return [os.path.join(top, "share", name) for name in ("bash-completion", "zsh", "fish")] + [
        os.path.join(top, "etc")]


def _your_start_up_files() -> "List[tuple[str, bool]]":
    """The files (and folders, True) of yours that your git, ssh and shells read as they
    start, there or not yet: your git config files (``GIT_CONFIG_GLOBAL``, ``~/.gitconfig``,
    ``$XDG_CONFIG_HOME/git``), ``~/.ssh``, your shells' start-up files and what they name,
    HOME's dot files and folders and ``~/bin``, and where the links in those (one level
    down) lead."""
    home = os.path.expanduser("~")
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    found = [(os.environ.get("GIT_CONFIG_GLOBAL") or os.path.join(home, ".gitconfig"), False),
             (os.path.join(xdg, "git"), True), (os.path.join(home, ".ssh"), True),
             *((os.path.expanduser(f), False) for f in _SHELL_START_UP),
             # (what they name, as files; a folder they give to PATH, or one cut at a variable,
             # whole; a search folder of theirs counts as the environment's: see _loaded_by_you)
             *((p, _code_var(var)) for p, var in _named_at_start_up(home)
               if var not in _LOADER_VARS and var not in _CODE_PATH_VARS)]
    dots = [e.path for e in _entries(home) if e.name.startswith(".") and e.name != ".cache"]
    found += [(path, True) for path in dots + [os.path.join(home, "bin")]]
    for folder in dots:  # (and the links one level down: GNU Stow's ~/.config/fish)
        if os.path.isdir(folder) and not os.path.islink(folder):
            found += [(os.path.realpath(e.path), True) for e in _entries(folder)[:4096]
                      if e.is_symlink()]
    return found


# The files your shells read as they start (and the system's), whose every path counts.
_SHELL_START_UP = ("~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.profile", "~/.bash_logout",
                   "~/.zshrc", "~/.zshenv", "~/.zprofile", "~/.zlogin", "~/.kshrc", "~/.mkshrc",
                   "~/.config/fish/config.fish", "/etc/profile", "/etc/bash.bashrc",
                   "/etc/zsh/zshrc", "/etc/zsh/zshenv", "/etc/environment")


@functools.lru_cache(maxsize=4)
def _named_at_start_up(home: str = "") -> "List[tuple[str, str]]":
    """Every absolute path (variables of yours expanded, ``~`` read as HOME) your shells'
    start-up files name, and those the files they name name in turn (64 files, 64 KB
    each, at most): a ``. /srv/team/env.sh`` there runs that file in your next shell. As
    (path, the variable the line gives it to, '' for none, or '*' when the path is cut at a
    variable not set: ``/srv/$TEAM/env.sh``, all of ``/srv``). ``home``: HOME (the cache's
    key)."""
    import glob
    home = home or os.path.expanduser("~")
    files = [os.path.join(home, f[2:]) if f.startswith("~/") else f for f in _SHELL_START_UP]
    files += sorted(glob.glob("/etc/profile.d/*")) + sorted(glob.glob(
        os.path.join(home, ".config", "fish", "conf.d", "*")))
    named: "List[tuple[str, str]]" = []
    read: "set[str]" = set()
    while files and len(read) < 64:
        path = files.pop(0)
        if path in read:
            continue
        read.add(path)
        text = (_read_bytes(path, 64 << 10) or b"").decode("utf-8", "replace")
        text = re.sub(r"(?<![\w~])~(?=/)", home, os.path.expandvars(text))
        for line in text.splitlines():
            line = re.sub(r"(^|\s)#.*", "", line)  # (a comment names nothing run)
            assigned = re.match(r"\s*(?:export\s+|set\s+-gx\s+|setenv\s+)?([A-Za-z_]\w*)[=\s]",
                                line)
            var = assigned.group(1) if assigned else ""
            for quoted in re.findall(r"\"(/[^\"$]+)\"|'(/[^']+)'", line):  # ("/srv/my team")
                named.append((quoted[0] or quoted[1], var))
            for found in re.finditer(r"(?<![\w.~$/])/(?!/)[\w@%+=:,./*?\[\]{}-]*", line):
                cut = line[found.end():found.end() + 1] == "$"
                for word in found.group(0).split(":"):  # (a PATH's folders)
                    if word.startswith("/"):
                        named.append((word, "*" if cut else var))
                        if os.path.isfile(word) and len(files) < 256:
                            files.append(word)
    return named


# HOME's folders of no settings (caches, installs, data, browser profiles): not read by
# _named_in_settings.
_NOT_SETTINGS = (".cache", ".npm", ".cargo/registry", ".cargo/git", ".rustup", ".pyenv", ".nvm",
                 ".local/share", ".local/lib", ".local/state", ".mozilla", ".vscode-server",
                 ".vscode", ".m2/repository", ".gradle/caches", ".julia/packages", ".git",
                 ".config/google-chrome", ".config/chromium", ".config/Code", ".conda/pkgs")


# System folders of settings whose files name programs your tools run (ssh's ProxyCommand).
_SYSTEM_SETTINGS = ("/etc/ssh",)
# The most settings files _named_in_settings reads (text files; binary ones are not counted),
# and the most entries it walks: past either it cannot tell, and no folder is allowed.
_SETTINGS_READ, _SETTINGS_WALKED = 20_000, 200_000


@functools.lru_cache(maxsize=4)
def _named_in_settings(home: str) -> "Optional[tuple[str, ...]]":
    """Every absolute path the settings files of HOME (its dot files and the files in its
    dot folders, caches and installs left out) and of _SYSTEM_SETTINGS name, quoted ones with
    their spaces, in their first 64 KB: a ``credential_process`` of ``~/.aws/config``, an
    ``exec.command`` of ``~/.kube/config``, a ``pinentry-program`` of
    ``~/.gnupg/gpg-agent.conf``, a ``ProxyCommand`` of ``~/.ssh/config`` run what they name
    at your next ``aws``, ``kubectl``, ``gpg``, ``ssh``. None when there are more than
    _SETTINGS_READ text files or _SETTINGS_WALKED entries (never taken for none)."""
    found: List[str] = []
    read = walked = 0
    tops = [e for e in _entries(home) if e.name.startswith(".") and e.name not in _NOT_SETTINGS]
    tops += [e for folder in _SYSTEM_SETTINGS for e in _entries(os.path.dirname(folder))
             if e.path == folder]
    for entry in tops:
        walk = [(entry.path, 0)] if entry.is_dir(follow_symlinks=False) else []
        paths = [entry.path] if entry.is_file() else []
        while walk:
            folder, depth = walk.pop()
            for inner in _entries(folder):
                walked += 1
                if walked > _SETTINGS_WALKED:
                    return None
                if os.path.relpath(inner.path, home) in _NOT_SETTINGS:
                    continue
                if inner.is_dir(follow_symlinks=False) and depth < 3:
                    walk.append((inner.path, depth + 1))
                elif inner.is_file(follow_symlinks=False):
                    paths.append(inner.path)
        for path in paths:
            data = _read_bytes(path, 64 << 10) or b""
            if b"\0" in data[:1024]:
                continue  # (not text: not counted)
            read += 1
            if read > _SETTINGS_READ:
                return None
            text = "\n".join(line for line in data.decode("utf-8", "replace").splitlines()
                             if not line.lstrip().startswith(("#", ";", "//")))  # (comments)
            text = re.sub(r"\$\{?HOME\}?(?=/)|(?<![\w~])~(?=/)", home, os.path.expandvars(text))
            found += [w for w in re.findall(r"(?<![\w.~$/])/(?!/)[\w@%+=,./-]+", text)
                      if len(w) > 1]
            found += [a or b for a, b in re.findall(r"\"(/[^\"\n]+)\"|'(/[^'\n]+)'", text)]
    return tuple(dict.fromkeys(found))


def _safe_path() -> str:
    """Your PATH as the tool looks its own programs up outside a sandbox (see _git_popen): no
    relative entry, none in a checkout (the current folder's, or one the tool works in)."""
    return _path_outside(os.environ.get("PATH", ""), frozenset({os.getcwd(), *_CHECKOUTS}))


def _which(program: str) -> Optional[str]:
    """The ``program`` the tool itself runs outside a sandbox (bwrap, nsenter), found on
    _safe_path, as git is."""
    return shutil.which(program, path=_safe_path())


@functools.lru_cache(maxsize=16)
def _git_program(path: str) -> str:
    """The git found on PATH ``path`` (see _path_outside): an absolute path."""
    found = shutil.which("git", path=path)
    if not found:
        raise ParallelError("git not found on PATH but in a checkout (a relative entry, or one "
                            "inside the repository, is not used): put git's own folder on PATH")
    return found


def _git_run(args: List[str], cwd: str, input: "Optional[bytes | BinaryIO]" = None,
             wrap: Optional[_Wrap] = None, settings: Optional[Dict[str, str]] = None,
             timeout: Optional[float] = None, stop: Optional[threading.Event] = None
             ) -> subprocess.CompletedProcess:
    """Run git to its end with captured output (see _git_popen), given ``input`` (bytes, or
    a file it reads from its start), or for ``timeout`` seconds at most, or until ``stop`` is
    set (then it is killed: ParallelError); when another git holds one of its lock files
    for a moment (an agent's, or the user's), wait and try again."""
    import subprocess
    import tempfile
    for delay in (0.05, 0.1, 0.2, 0.4, 0.8, None):
        stdin = subprocess.DEVNULL if input is None else subprocess.PIPE \
            if isinstance(input, bytes) else input
        if stdin is input:
            input.seek(0)
        # In its own session, so that a Ctrl-C in the terminal reaches only us: git is then
        # left to finish (a checkout, a commit, a merge) instead of dying halfway with its
        # lock files left behind; the interrupt goes on once it has. Its messages go to a
        # file, of which the first and last few KB are kept (round 68: `git add` of 50,000
        # files of 4 KB names under `* text eol=crlf` printed a warning for each).
        with tempfile.TemporaryFile() as said:
            # An interrupt as git starts waits until git is known here (round 109: raised
            # as _git_popen returned, it left a `git merge` running unsaid after the tool said
            # the checkout was put back); then git has its input and its time all the same.
            main = threading.current_thread() is threading.main_thread()
            _DEFERRED.spawning += main
            try:
                proc = _git_popen(args, cwd, wrap, settings, stdin=stdin, stdout=subprocess.PIPE,
                                  stderr=said, start_new_session=True)
            except BaseException:
                _undefer(main)
                raise
            given = input if isinstance(input, bytes) else None
            try:
                _undefer(main)
                with _stopped_at([proc], None, stop) as stopped:
                    out, _ = proc.communicate(given, timeout=timeout)
                if stopped:
                    raise _Refused(f"git {' '.join(_guarded(args)[:2])} was stopped (a second "
                                   "interrupt)")
            except subprocess.TimeoutExpired:
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
                raise _Refused(f"git {' '.join(_guarded(args)[:2])} took more than "
                               f"{timeout:g}s (stopped)") from None
            except KeyboardInterrupt as interrupt:
                name = " ".join(_guarded(args)[:2])
                interrupt.git_ended = None  # type: ignore[attr-defined]  # (see _merge_branch)
                try:
                    try:
                        proc.communicate(given, timeout=_GIT_GRACE)
                    except ValueError:  # (it had begun: the rest of its input goes on)
                        proc.communicate(timeout=_GIT_GRACE)
                except BaseException:  # a second Ctrl-C, or a git that does not end
                    with contextlib.suppress(OSError):  # (with what it started)
                        os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    if not _reads_only(args):  # (round 106: a merge's lock, left unsaid)
                        _print_err(f"warning: git {name} in {cwd} was killed before it ended "
                                   f"(interrupted, it did not end within {_GIT_GRACE:g} s, or was "
                                   "interrupted again): it may have left its work there half "
                                   "done and its lock file (index.lock) in its git folder; look "
                                   "with 'git status' there, and once no git runs there remove "
                                   "the lock file by hand")
                else:
                    interrupt.git_ended = proc.returncode  # type: ignore[attr-defined]
                    if not _reads_only(args):  # (what it did is done: say so)
                        _print_err(f"note: git {name} had ended when the command was "
                                   "interrupted " + ("(it succeeded)" if proc.returncode == 0
                                                     else f"(exit code {proc.returncode})"))
                raise  # (the interrupt)
            err = _ends_of(said, 16 << 10, 48 << 10)
        if proc.returncode == 0 or b".lock': File exists" not in err or delay is None:
            return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        time.sleep(delay)
    raise AssertionError("unreachable")


# Seconds a git that writes is left to end after an interrupt (see _git_run).
_GIT_GRACE = 30.0


def _ends_of(f: BinaryIO, head: int, tail: int) -> bytes:
    """What the file ``f`` holds, but only its first ``head`` and last ``tail`` bytes (with
    ``...`` between) when it holds more."""
    size = f.seek(0, os.SEEK_END)
    f.seek(0)
    if size <= head + tail:
        return f.read()
    start = f.read(head)
    f.seek(size - tail)
    return start + b"\n...\n" + f.read(tail)


def _git_lines(args: List[str], cwd: str, each: Callable[[bytes], Optional[str]],
               wrap: Optional[_Wrap] = None, stdin: Optional[BinaryIO] = None,
               timeout: Optional[float] = None, stop: Optional[threading.Event] = None
               ) -> Optional[str]:
    """Hand each line of git's output to ``each`` as it comes (its memory is that of one
    line, whatever git lists), reading ``stdin`` (a file) when given. Why it failed, or
    None: what ``each`` said (git is then stopped), git's own failure, or why _stopped_at
    killed it (``timeout``, ``stop``)."""
    import subprocess
    import tempfile
    with tempfile.TemporaryFile() as err:
        proc = _git_popen(args, cwd, wrap, None, stdin=stdin or subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=err, start_new_session=True)
        problem = None
        with _stopped_at([proc], timeout, stop, _reads_only(args)) as ended:
            try:
                for line in proc.stdout:
                    problem = each(line)
                    if problem is not None:
                        with contextlib.suppress(OSError):
                            os.killpg(proc.pid, signal.SIGKILL)
                        break
            finally:  # (a git still writing ends at its closed output)
                proc.stdout.close()
                code = proc.wait()
        if problem or ended:
            return problem or ended[0]
        if code != 0:
            err.seek(0)
            return (_last_meaningful_line(err.read(1 << 16).decode("utf-8", "replace"))
                    or f"git exited with {code}")
        return None


@contextlib.contextmanager
def _stopped_at(procs: "List[subprocess.Popen]", timeout: Optional[float],
                stop: Optional[threading.Event], reader: bool = False) -> Iterator[List[str]]:
    """While its block runs, kill ``procs`` (each the first of a session of its own: their
    whole groups) once ``timeout`` seconds have passed or ``stop`` is set, whatever they do
    (a git reading a FIFO prints nothing); yields the list that then says why. A ``reader``
    (a git that writes nothing, see _reads_only) is killed too once the command is
    interrupted (_INTERRUPTED), and when its block ends by an exception: in a session of its
    own it would outlive the tool, and its time limit with it (round 104: gits an agent's
    rules kept busy ran on for hours after a Ctrl-C)."""
    ended: List[str] = []
    done = threading.Event()

    def kill() -> None:
        for proc in procs:
            if proc.returncode is None:  # (not one reaped, whose number may be another's)
                with contextlib.suppress(OSError):
                    os.killpg(proc.pid, signal.SIGKILL)

    def watch() -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not done.wait(0.1):
            if reader and _INTERRUPTED.is_set():
                ended.append("stopped (interrupted)")
            elif stop is not None and stop.is_set():
                ended.append("stopped")
            elif deadline is not None and time.monotonic() > deadline:
                ended.append(f"took more than {timeout:g}s (stopped)")
            else:
                continue
            kill()
            return

    watcher = threading.Thread(target=watch, daemon=True)
    try:
        if timeout is not None or stop is not None or reader:
            watcher.start()
        yield ended
    except BaseException:
        if reader:
            kill()
        raise
    finally:
        done.set()
        if watcher.is_alive():
            watcher.join()


# What a command was interrupted by (SIGINT, SIGTERM, SIGHUP: see main), for the gits that
# write nothing to stop at once, in any thread (see _stopped_at); never set during a run,
# whose own handler stops its gits only at a second signal.
_INTERRUPTED = threading.Event()

# The gits that write nothing, until they are collected (see _kill_readers); and those that
# write (see _wait_writers).
_READING: "weakref.WeakSet[subprocess.Popen]" = weakref.WeakSet()
_WRITING: "weakref.WeakSet[subprocess.Popen]" = weakref.WeakSet()
_READERS_LOCK = threading.Lock()


def _wait_writers() -> None:
    """Once a command is interrupted: wait for every git that writes still running (_GIT_GRACE
    seconds in all; kill them at another interrupt), and say each one (round 109: a git started
    as the signal came, or by a door other than _git_run, was left to run on unsaid: its lock
    files and half its work could appear after the tool ended)."""
    import subprocess
    with _READERS_LOCK:
        running = [proc for proc in _WRITING if proc.poll() is None]
    deadline = time.monotonic() + _GIT_GRACE
    for proc in running:
        name = f"git {getattr(proc, 'said_as', '')} in {getattr(proc, 'said_in', '?')}"
        try:
            code: Optional[int] = proc.wait(max(0.0, deadline - time.monotonic()))
        except BaseException:  # (another interrupt, or its time is up)
            for other in running:
                _kill_git(other)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    other.wait(5)  # (reaped: gone when the tool says so)
            code = None
        _print_err(f"note: {name} was still running when the command was interrupted; it "
                   f"ended (exit code {code})" if code is not None else
                   f"warning: {name} was killed before it ended (interrupted): it may have left "
                   "its work half done and its lock file (index.lock) in its git folder; look "
                   "with 'git status' there")
        if code is None:
            break


def _kill_readers() -> None:
    """Kill every git that writes nothing still running (an interrupt: see main), whichever
    thread started it, and wherever its starter is (round 104: one started just before a
    SIGTERM outlived the tool); one in a session of its own with its whole group, one in
    ours (a SIGTERM or SIGHUP reaches only the tool: round 105, `diff`'s own git ran on)
    alone."""
    with _READERS_LOCK:
        procs = list(_READING)
    for proc in procs:
        _kill_git(proc)


def _kill_git(proc: "subprocess.Popen") -> None:
    """Kill the git ``proc`` (see _git_popen), unless it was reaped (its number may be
    another's now): in a session of its own with its whole group, in ours alone."""
    if proc.returncode is None:
        with contextlib.suppress(OSError):
            if getattr(proc, "own_session", False):
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.send_signal(signal.SIGKILL)


# git commands that write nothing (GIT_OPTIONAL_LOCKS=0: not even status's index refresh).
_READERS = frozenset(("status", "ls-files", "ls-tree", "diff", "diff-tree", "diff-index",
                      "diff-files", "cat-file", "rev-list", "log", "show", "for-each-ref",
                      "rev-parse", "merge-base", "check-ignore", "check-attr", "count-objects",
                      "pack-objects", "show-ref", "name-rev", "grep", "blame", "var",
                      "merge-tree"))


def _subcommand(args: List[str]) -> List[str]:
    """The git command line ``args`` from its command on (past git's own options)."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-c", "-C") else 1
    return args[i:]


def _reads_only(args: List[str]) -> bool:
    """Whether the git command ``args`` (after git's own options) writes nothing of yours:
    one of _READERS, or a read by a command that also writes (round 110: `config --get`,
    `merge-tree` and an `index-pack -o` into a scratch folder were waited for 30 s after an
    interrupt, then said to have maybe left a lock file). `merge-tree --write-tree` writes
    objects no ref names, which git's gc removes."""
    command, *rest = _subcommand(args) or [""]
    if command == "config":
        return any(a.startswith("--get") or a in ("-l", "--list") for a in rest)
    if command == "worktree":
        return rest[:1] == ["list"]
    return command in _READERS or (command == "hash-object" and "-w" not in rest) or \
        (command == "index-pack" and "-o" in rest)


# Settings of every git the tool starts, which pass on to the gits those start (in submodules,
# in repositories an agent made): no fsmonitor and no hook (commands a repository, or one
# inside a worktree, names), no recursion into submodules, no order file (a relative one is
# read where the git runs: in a worktree, a file of the agent's; a missing one fails a diff).
# A whole index (core.splitIndex: the shared part of a split one is a file of its own in the
# worktree's git folder, which the runner must take for the agent's; see _agent_git_settings).
# New files always shown by a status (round 109: with your status.showUntrackedFiles=no,
# cleanup, a new run and rerun deleted the files of a worktree that no status showed, and
# continue gave them to the agent as its own). A file is the one git read only while all
# its times, inode and owner are the same (your core.checkStat=minimal or core.trustctime=false
# let a file rewritten after its read pass for it: see _write_held).
_GIT_SETTINGS = {"core.fsmonitor": "false", "core.hooksPath": "/dev/null",
                 "submodule.recurse": "false", "status.submoduleSummary": "false",
                 "diff.orderFile": "/dev/null", "core.splitIndex": "false",
                 "status.showUntrackedFiles": "normal", "log.showSignature": "false",
                 "core.checkStat": "default", "core.trustctime": "true",
                 "core.ignoreStat": "false",
                 "advice.graftFileDeprecated": "false"}  # (GIT_GRAFT_FILE, see _git_env)


def _agent_git_settings(repo: "_Repo") -> Dict[str, str]:
    """The git settings the agents' gits (and setup's and checks') get from their environment:
    an identity where git config has none (see _Repo.missing_identity), and a whole index
    (round 108: with your core.splitIndex on, each worktree's index named a sharedindex.* file
    in its git folder, which the runner removed after the worker as the agent's, and every
    worker failed)."""
    return {**repo.missing_identity(), "core.splitIndex": "false"}


def _git_env(settings: Optional[Dict[str, str]] = None, given: bool = True) -> Dict[str, str]:
    """The environment of every git the tool starts (see _git_popen): ours, minus what would
    point it at another repository, with _GIT_SETTINGS and ``settings`` (git settings; those
    in capitals are environment variables: GIT_DIR, GIT_WORK_TREE), no replace refs and no
    grafts (what the runner shows and merges is what the commits hold), and no prompt.
    Without ``given``, none of the settings your environment gives (_GIVEN_CONFIG: a git in
    a worker's sandbox gets them from _given_settings)."""
    settings = dict(_GIT_SETTINGS, **(settings or {}))
    env = {k: v for k, v in os.environ.items()
           if k not in _GIT_LOCATION_VARS and k not in _GIT_READING_VARS
           and (given or not _GIVEN_CONFIG.match(k))}
    env.update(_git_config_env(env, {k: v for k, v in settings.items() if not k.isupper()}),
               GIT_NO_REPLACE_OBJECTS="1", GIT_GRAFT_FILE=os.devnull, GIT_TERMINAL_PROMPT="0",
               GIT_OPTIONAL_LOCKS="0",  # (no index written by a diff or status: a worker's is
                                        # its own user's, which its checks may write)
               **{k: v for k, v in settings.items() if k.isupper()})
    return env


def _guarded(args: List[str]) -> List[str]:
    """``git status`` and ``git diff`` (``diff-index``, ``diff-files``) never look into a
    submodule's files (a repository an agent made in its worktree would run its own filters
    there; the command line wins over any .gitmodules; its commit changes are still shown),
    and a diff runs no external diff or textconv a ``.gitattributes`` an agent wrote could
    pick."""
    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in ("-c", "-C") else 1
    if i < len(args) and args[i] in ("status", "diff-index", "diff-files"):
        return [*args[:i + 1], "--ignore-submodules=dirty", *args[i + 1:]]
    if i < len(args) and args[i] == "diff":
        return [*args[:i + 1], "--no-ext-diff", "--no-textconv",
                *(["--ignore-submodules=dirty"] if "--no-index" not in args else []), *args[i + 1:]]
    return args


def _git(args: List[str], cwd: str, input: "Optional[bytes | BinaryIO]" = None,
         check: bool = True,
         wrap: Optional[_Wrap] = None, settings: Optional[Dict[str, str]] = None,
         timeout: Optional[float] = None, stop: Optional[threading.Event] = None
         ) -> Optional[str]:
    """Run git (see _git_run); return stdout, or raise ParallelError carrying git's own
    message. With ``check=False`` a failure returns None instead."""
    proc = _git_run(args, cwd, input, wrap, settings, timeout, stop)
    if proc.returncode != 0 and not check:
        return None
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.decode("utf-8", "replace").splitlines()
                 if line.strip()]
        # git's own "fatal:"/"error:" line says what went wrong; hints follow it.
        first = next((line for line in lines if line.startswith(("fatal:", "error:"))), None)
        raise _GitError(args, first or (lines[-1] if lines else f"exit code {proc.returncode}"))
    return proc.stdout.decode("utf-8", "surrogateescape")


def _parents(path: str) -> List[str]:
    """The folders above the repository path ``path`` (``a/b/c``: ``a/b``, ``a``)."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]


def _is_worktree_name(name: str) -> bool:
    """Whether a file system that ignores case, or the characters HFS+ ignores, would take
    the top-level name ``name`` for a worker's worktree (``.Architect-Parallel-2``)."""
    return _folded(name).startswith(WORKTREE_PREFIX)


def _folded(name: str) -> str:
    """``name`` as a file system that ignores case, or the characters HFS+ ignores, reads it."""
    import unicodedata
    plain = re.sub("[\u200c-\u200f\u202a-\u202e\u206a-\u206f\ufeff]", "", name)
    return unicodedata.normalize("NFC", plain).casefold()


def _is_parallel_path(path: str) -> bool:
    """Whether ``path``'s name starts as a worker's worktree folder's does (see _is_worker_path)."""
    return os.path.basename(path).startswith(WORKTREE_PREFIX)


def _is_worker_path(path: str) -> bool:
    """Whether ``path``'s name is a worker's worktree folder's: .architect-parallel-N, N a
    number as _worker_digits reads it (.architect-parallel-2-fixes is a worktree of yours,
    as architect/parallel-2-fixes is a branch of yours: round 105)."""
    name = os.path.basename(path)
    return name.startswith(WORKTREE_PREFIX) and _worker_digits(name[len(WORKTREE_PREFIX):])


######################################################################
# Process control
######################################################################

def _clean_env() -> Dict[str, str]:
    """The agent's environment: ours (API keys included) minus variables that would
    point its git at the main repository instead of its worktree, and the credentials a CI
    job is given to reach its own platform (push, registry, tokens naming the job)."""
    return {k: v for k, v in os.environ.items()
            if k not in _GIT_LOCATION_VARS and k not in _CI_CREDENTIALS
            and not k.startswith("CI_JOB_JWT")}


# What GitLab CI and GitHub Actions put in a job's environment that can push, publish or
# speak for the job: never an agent's (a prompt-injected agent would use them).
_CI_CREDENTIALS = frozenset((
    "CI_JOB_TOKEN", "CI_REPOSITORY_URL", "CI_REGISTRY_PASSWORD", "CI_DEPLOY_PASSWORD",
    "CI_DEPENDENCY_PROXY_PASSWORD", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_URL"))


def _config_credentials(config: Optional[bytes]) -> List[str]:
    """The settings of a git config file that hold a credential every agent could read
    there: an Authorization header (actions/checkout persists its token so), a URL with a
    password in it."""
    found = []
    section = ""
    for line in (config or b"").decode("utf-8", "replace").splitlines():
        head = re.match(r"\s*\[([^\]]*)\]", line)
        if head:
            section = head.group(1).strip()
            line = line[head.end():]
        key, _, value = line.partition("=")
        if ("extraheader" in key.lower() and "authorization" in value.lower()) \
                or re.search(r"://[^/@\s]*:[^/@\s]+@", value):
            found.append(f"{section.replace(' ', '.').replace(chr(34), '')}.{key.strip()}")
    return found


def _git_config_env(env: Dict[str, str], settings: Dict[str, str]) -> Dict[str, str]:
    """``settings`` as environment variables, the way ``git -c`` hands them to every git
    a process starts (GIT_CONFIG_COUNT/KEY_n/VALUE_n, git 2.31+), after those ``env``
    already has; and after its GIT_CONFIG_PARAMETERS (what `git -c` gave the process that
    started the tool: an alias's), which git reads after the others (round 110: yours, from
    `git -c status.showUntrackedFiles=no`, won over the tool's, and cleanup deleted notes)."""
    count = env.get("GIT_CONFIG_COUNT", "0")
    count = int(count) if _digits(count) else 0
    variables = {}
    for key, value in settings.items():
        variables.update({f"GIT_CONFIG_KEY_{count}": key, f"GIT_CONFIG_VALUE_{count}": value})
        count += 1
    if variables:
        variables["GIT_CONFIG_COUNT"] = str(count)
    if variables and env.get("GIT_CONFIG_PARAMETERS", "").strip():
        variables["GIT_CONFIG_PARAMETERS"] = " ".join(
            [env["GIT_CONFIG_PARAMETERS"], *(f"{_sq(key)}={_sq(value)}"
                                             for key, value in settings.items())])
    return variables


def _sq(text: str) -> str:
    """``text`` in single quotes as git quotes (and reads) GIT_CONFIG_PARAMETERS."""
    return "'" + text.replace("'", "'\\''") + "'"


def _digest(data: Optional[bytes]) -> Optional[str]:
    """A short sha256 of ``data`` (None for None)."""
    import hashlib
    return None if data is None else hashlib.sha256(data).hexdigest()[:16]


def _open_regular(path: str) -> BinaryIO:
    """``open(path, "rb")`` for a regular file only (OSError otherwise): a log or results file
    may name a FIFO or a device, which must neither hang nor act."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        raise OSError(errno.EINVAL, "not a regular file", path)
    f = os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb")
    if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
        f.close()
        raise OSError(errno.EINVAL, "not a regular file", path)
    return f


def _fresh_file(path: str) -> TextIO:
    """``path`` opened to write as a new file of the runner's, whatever an unsandboxed agent
    put there (a folder, a link, a FIFO)."""
    if os.path.isdir(path) and not os.path.islink(path):
        _remove_tree(path)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return open(path, "x")


def _read_bytes(path: str, limit: int = -1) -> Optional[bytes]:
    """A regular file's contents (its first ``limit`` bytes when given: a sparse file costs
    its writer nothing), or None when it cannot be read (a FIFO or a device put there is
    not opened: it could hang or act)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            return f.read(limit) if stat.S_ISREG(os.fstat(f.fileno()).st_mode) else None
    except OSError:
        return None


def _wait_exited(proc: subprocess.Popen, deadline: Optional[float]) -> bool:
    """Wait until ``proc`` exits (True) or ``deadline`` passes (False), without reaping it.

    Leaving the exited agent unreaped keeps its pid, and so its process-group id,
    from being reused while we kill what is left of the group.
    """
    import subprocess

    if not hasattr(os, "waitid"):  # e.g. macOS: fall back to a reaping wait
        try:
            proc.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
            return True
        except subprocess.TimeoutExpired:
            return False
    # A pidfd (Linux 5.3+) becomes readable when the process exits: the thread sleeps
    # until then, with no polling. Without one, poll with a growing delay.
    poller = None
    try:
        poller = select.poll()
        pidfd = os.pidfd_open(proc.pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        poller = pidfd = None
    try:
        if poller is not None:
            poller.register(pidfd, select.POLLIN)
        delay = 0.005
        while True:
            try:
                info = os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            except ChildProcessError:
                return True  # already reaped
            if info is not None:
                return True
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            if poller is not None:
                poller.poll(None if left is None else max(1, int(left * 1000) + 1))
            else:
                delay = min(delay * 2, 0.1)
                time.sleep(delay if left is None else min(delay, left))
    finally:
        if pidfd is not None:
            os.close(pidfd)


class _Agent:
    """A running agent and the environment mark its descendants inherit."""

    __slots__ = ("proc", "mark")

    def __init__(self, proc: subprocess.Popen, mark: str):
        self.proc, self.mark = proc, mark


def _processes() -> List["tuple[int, int, int, bool]"]:
    """``(pid, ppid, pgid, running)`` of every process, from Linux /proc; [] elsewhere.

    ``running`` is False for zombies, which signals cannot stop and which nobody
    may reap in a container whose init does not.
    """
    try:
        names = [name for name in os.listdir("/proc") if _digits(name)]
    except OSError:
        return []
    table = []
    for name in names:
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # it just ended
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 2:
            table.append((int(name), int(fields[1]), int(fields[2]), fields[0] != b"Z"))
    return table


def _marked(needles: List[bytes], table: list) -> List[int]:
    """Pids in ``table`` (see _processes) whose environment has an entry starting with
    one of ``needles``."""
    found = []
    for pid, _ppid, _pgid, running in table:
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                environ = f.read()
        except OSError:
            continue  # ended, or not ours to read
        if running and any(environ.startswith(n) or b"\0" + n in environ for n in needles):
            found.append(pid)
    return found


def _kill_trees(agents: List[_Agent], grace: float, hurry: Optional[threading.Event] = None,
                run_token: Optional[str] = None) -> int:
    """Stop the agents' whole process trees: SIGTERM, up to ``grace`` seconds, then SIGKILL.

    A tree is the agent's process group (it leads its own, see start_new_session),
    every descendant seen in /proc, and every process carrying the agent's
    environment mark, so children that started their own session or were
    orphaned are caught too. With ``run_token``, also every process of that run
    (the agents a killed runner left behind). This process and its ancestors are
    never signalled. Returns how many processes were signalled by pid.
    """
    groups = {agent.proc.pid for agent in agents}
    needles = [f"{_MARK_VAR}={agent.mark}\0".encode() for agent in agents]
    if run_token:
        needles.append(f"{_MARK_VAR}={run_token}-".encode())

    def members() -> "set[int]":
        table = _processes()
        children: Dict[int, List[int]] = {}
        parents = {}
        for pid, ppid, _pgid, running in table:
            if running:
                children.setdefault(ppid, []).append(pid)
            parents[pid] = ppid
        pids = set(_marked(needles, table))
        todo = list(groups | pids)
        while todo:
            for child in children.get(todo.pop(), []):
                pids.add(child)
                todo.append(child)
        me = os.getpid()
        while me > 1 and me in parents:  # an agent may run architect-parallel itself
            pids.discard(me)
            me = parents[me]
        return pids

    def send(sig: int, pids: "set[int]") -> None:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        for pgid in groups:
            try:
                os.killpg(pgid, sig)
            except OSError:
                pass

    def running() -> bool:
        table = _processes()
        if not table:  # no /proc: a group that answers is taken as running
            return any(_answers(pgid) for pgid in groups)
        return any(alive and (pgid in groups or pid in pids) for pid, _pp, pgid, alive in table)

    pids = members()
    if grace > 0:
        send(signal.SIGTERM, pids)
        end = time.monotonic() + grace
        try:
            while time.monotonic() < end and running() and not (hurry and hurry.is_set()):
                time.sleep(0.05)
        except KeyboardInterrupt:  # Ctrl-C skips the grace period...
            send(signal.SIGKILL, pids | members())
            if hurry is None:
                raise  # ...and, unless a run is stopping anyway, stops the caller too
    killed = len(pids)
    pids |= members()
    send(signal.SIGKILL, pids)
    end = time.monotonic() + max(grace, 5.0)  # a SIGKILL takes a moment to land when busy
    while time.monotonic() < end and running():
        time.sleep(0.02)
    return killed


def _answers(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except OSError:
        return False


######################################################################
# Sandbox: bubblewrap around a worker (the trust boundary)
######################################################################

# Everything about what a sandboxed worker may touch lives in this section: every folder it can
# write, every mount of its view, and the only code that reads, writes or removes in those
# places from outside (never following a link there: _beneath and _no_links). The runner asks
# a _Box for a command line and hands it the worker when it ends; it builds no path into a
# place a worker could write.

_SANDBOX_MODES = ("none", "bwrap", "auto")
_SANDBOX_UID = 1000  # a runner that is root is this user inside the sandbox...
# ...and this user outside it, which no account has (systemd leaves 65520-65533 unused): a root
# that stayed root outside would keep root's say over the host (its sysctls, its sockets, its
# files), whatever the namespaces.
_SANDBOX_HOST_ID = 65530
_INSTALL_BWRAP = ("install it: apt-get install bubblewrap (Debian, Ubuntu), dnf install "
                  "bubblewrap (Fedora), pacman -S bubblewrap (Arch)")
# Credential stores in HOME that are not there inside unless --sandbox-allow names them.
_SECRETS = (".ssh", ".aws", ".gnupg", ".netrc", ".git-credentials", ".docker/config.json",
            ".kube", ".config/gcloud", ".config/gh", ".azure", ".pypirc", ".npmrc",
            ".config/git/credentials", ".cargo/credentials", ".cargo/credentials.toml",
            ".config/containers/auth.json", ".pgpass", ".vault-token", ".huggingface/token",
            ".cache/huggingface/token", ".terraform.d/credentials.tfrc.json", ".config/hub",
            ".gem/credentials", ".password-store", ".local/share/keyrings", ".config/op",
            ".s3cfg", ".boto", ".my.cnf", ".m2/settings.xml", ".terraformrc", ".config/rclone",
            ".config/configstore", ".config/glab-cli", ".config/doctl", ".oci", ".databrickscfg",
            ".kaggle", ".config/heroku", ".config/netlify", ".config/vercel", ".config/stripe",
            ".fly", ".wrangler", ".config/ngrok", ".ngrok2", ".config/sops", ".config/age",
            ".snowflake", ".dbt/profiles.yml", ".config/github-copilot",
            # browsers' profiles (cookies, saved logins) and the shells' and REPLs' histories
            ".mozilla", ".config/google-chrome", ".config/chromium", ".config/BraveSoftware",
            ".bash_history", ".zsh_history", ".history", ".python_history", ".node_repl_history",
            ".psql_history", ".mysql_history", ".sqlite_history", ".local/share/fish/fish_history",
            # X11 cookies: with the host's network, a display is one abstract socket away.
            ".Xauthority", ".ICEauthority")
# Folders in HOME that start empty and writable inside: package caches, which their tools write.
_FRESH = (".npm", ".cache/pip", ".cache/uv", ".cache/pypoetry", ".cache/pre-commit",
          ".cache/go-build", ".cache/node-gyp", ".cache/yarn", ".cache/pnpm", ".cache/deno",
          ".cache/typescript", ".cache/bun", ".cache/composer")
# Parts of its own /proc that bwrap leaves writable to a user that maps to root (core_pattern!).
_PROC_READ_ONLY = ("sys", "sysrq-trigger", "irq", "bus", "fs")
_COPY_LIMIT = 1 << 20  # a file of HOME up to this size is a private copy inside, a larger one read-only
_FOLDER_COPY_LIMIT = (100, 1 << 20)  # the same for a folder of up to this many entries and bytes
_STATE_COPY_LIMIT = 64 << 20  # the same for the files of a CLI's state folder
_BRING_BACK_LIMIT = 256 << 20  # bytes of one session file brought back out of a worker's HOME
_BRING_BACK_SAY = 64 << 20  # a session file brought back holding more on disk is named
_CREDENTIAL_LIMIT = 1 << 20
_SANDBOX_STATE = "architect-parallel-sandbox-"  # a run's private folder: this, its token, -XXXX
# The system calls nothing inside may make, by the architecture a process runs as (the audit
# arch of seccomp, and the call numbers): add_key, request_key and keyctl. The kernel's
# keyrings are the runner's (a root runner's session keyring holds Kerberos tickets and disk
# keys, whoever runs the sandbox) or the user's own.
# Per architecture: (its audit arch, calls denied (keyctl, add_key, request_key: the
# kernel keyrings are not namespaced), calls with a mode (its argument's index) that may
# not set a set-ID bit: open, creat, mkdir, mknod, chmod, fchmod, openat, mkdirat, mknodat,
# fchmodat, fchmodat2). x32 calls are the x86_64 numbers with bit 30 set.
_X86_64_MODED = ((2, 2), (85, 1), (83, 1), (133, 1), (90, 1), (91, 1), (257, 3), (258, 2),
                 (259, 2), (268, 2), (452, 2))
_GENERIC_MODED = ((56, 3), (34, 2), (33, 2), (52, 1), (53, 2), (452, 2))  # aarch64, riscv64
_SECCOMP = {
    "x86_64": ((0xC000003E, (248, 249, 250, 0x400000F8, 0x400000F9, 0x400000FA),
                _X86_64_MODED + tuple((0x40000000 | nr, arg) for nr, arg in _X86_64_MODED)),
               (0x40000003, (286, 287, 288),  # i386 programs
                ((5, 2), (8, 1), (39, 1), (14, 1), (15, 1), (94, 1), (295, 3), (296, 2), (297, 2),
                 (306, 2), (452, 2)))),
    "aarch64": ((0xC00000B7, (217, 218, 219), _GENERIC_MODED),
                (0x40000028, (309, 310, 311),  # arm programs
                 ((5, 2), (8, 1), (39, 1), (14, 1), (15, 1), (94, 1), (322, 3), (323, 2),
                  (324, 2), (333, 2), (452, 2)))),
    "riscv64": ((0xC00000F3, (217, 218, 219), _GENERIC_MODED),),
}
# Calls said not to exist (libraries then fall back to others, whose modes the filter sees):
# openat2, and io_uring_setup, _enter and _register (a ring's open or mkdir carries its mode
# where seccomp cannot look). The same numbers on every architecture, and x32's.
_SECCOMP_NOSYS = tuple(x | nr for nr in (437, 425, 426, 427) for x in (0, 0x40000000))
# ioctl, per audit arch (x32's is 514), and the requests it may not make: those that change
# a file's flags (immutable aside: append-only, no-atime, sync), its project or version, make
# it verity (read-only for good) or a folder encrypted, or a btrfs subvolume read-only. Each
# wants only its owner, through a descriptor opened for reading: one of your files, reached
# through a folder another account hands in, which Landlock does not bound (round 62).
_SECCOMP_IOCTL = {0xC000003E: (16, 0x40000202), 0x40000003: (54,), 0xC00000B7: (29,),
                  0x40000028: (54,), 0xC00000F3: (29,)}
_IOCTL_DENIED = (0x40086602, 0x40046602, 0x401C5820, 0x40087602, 0x40047602, 0x40806685,
                 0x800C6613, 0x4008941A)
# Inside, where a worker's private object folder is (GIT_OBJECT_DIRECTORY).
_INSIDE_OBJECTS = "/tmp/.architect-parallel-objects"


def _mode_differs(path: str, name: bytes, executable: bool) -> bool:
    """Whether the file ``name`` of the worktree at ``path`` is executable otherwise than its
    commit says (with ``core.fileMode`` false git records no mode it finds: a check ran the
    agent's script as a program, which no checkout of its branch can, round 70)."""
    st = _lstat_beneath(path, name.decode("utf-8", "surrogateescape"))
    return st is None or not stat.S_ISREG(st.st_mode) or bool(st.st_mode & 0o111) != executable


def _line_ends_converted(eol: str, autocrlf: bool = False, crlf: bool = False) -> bool:
    """Whether git changed the line ends of a file as it committed it, or a checkout of it
    writes others, by what ``git ls-files --eol`` says of it (``i/lf w/crlf
    attr/text=auto``) and your settings (``core.autocrlf`` true, ``core.eol`` crlf): a
    file in the worktree with LF ends where a checkout writes CRLF (round 69: `*.txt
    eol=crlf`, a check that passed on the LF file the agent left, failed on every checkout
    of its branch); also a file git calls binary (a NUL, a lone CR) whose explicit ``text``
    or ``eol`` attribute still converts its line ends."""
    fields = eol.split()
    attrs = " ".join(fields[2:])[len("attr/"):].split()
    if fields[1:2] == ["w/"]:  # (no such file, or an empty one)
        return False
    explicit = any(a in ("text", "crlf") or a.startswith("eol=") for a in attrs)
    textual = "-text" not in attrs and "text=unset" not in attrs and (
        fields[:1] != ["i/-text"] or explicit)  # (auto: git converts no file it calls binary)
    crlf_out = textual and ("eol=crlf" in attrs or "crlf" in attrs or autocrlf or (
        crlf and any(a in ("text", "text=auto") for a in attrs)))
    if crlf_out and fields[1:2] != ["w/crlf"] and fields[:1] not in (["i/none"], ["i/"]):
        return True  # (more than needed, at worst: a file written back is checked, see as_committed)
    if len(fields) >= 2 and fields[0] != "i/-text":
        return fields[0][2:] != fields[1][2:]
    return fields[:1] == ["i/-text"] and explicit


def _nul_records(stream: BinaryIO, count: int) -> Iterator[List[bytes]]:
    """The records of ``count`` NUL-ended fields of ``stream``, one at a time, as read (git's
    ``-z`` answers of millions of lines never held whole; a field of 60 MB, a path, read in
    time linear in its length)."""
    pieces: List[bytes] = []  # of the field not ended yet
    fields: List[bytes] = []
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            return
        start = 0
        while True:
            end = chunk.find(b"\0", start)
            if end < 0:
                pieces.append(chunk[start:])
                break
            pieces.append(chunk[start:end])
            fields.append(b"".join(pieces))
            pieces, start = [], end + 1
            if len(fields) == count:
                yield fields
                fields = []


def _rebuild_folder(path: str, trash: str, limits: "tuple[int, int, int]",
                    keep: "tuple[str, ...]" = ()) -> None:
    """Make the folder ``path`` a new folder of the runner's holding new copies of its folders
    and regular files (but those named ``keep`` at its top, none over ``limits[0]`` bytes, and
    none once they add up to ``limits[1]`` bytes or ``limits[2]`` files and folders; no link,
    FIFO or device; holes kept: a sparse file costs the copy no more disk than its writer),
    and move the old one into ``trash`` to be removed: a folder another account made in it
    (the agent had opened it to everyone) or a descriptor handed out of a file or folder in
    it (through an abstract socket) then reaches nothing git reads."""
    import secrets
    parent, name = os.path.split(path)
    new = os.path.join(parent, f".{name}.{secrets.token_hex(8)}.new")
    os.mkdir(new, 0o755)
    left, count = limits[1], limits[2]
    try:
        for folder, fd, dirs, files in _walk_at(path):
            rel = os.path.relpath(folder, path)
            there = new if rel == "." else os.path.join(new, rel)
            if rel != ".":
                try:  # (git makes no folder so deep there, nor so many: not copied)
                    count -= 1
                    if rel.count(os.sep) >= _ADMIN_DEPTH or count < 0:
                        raise OSError(errno.ENAMETOOLONG, "too deep")
                    os.mkdir(there, 0o755)
                except OSError:
                    dirs[:] = []
                    continue
            for file in files:
                if rel == "." and file in keep:
                    _copy_stream_at(fd, file, os.path.join(there, file), _INDEX_COPY_LIMIT)
                elif count > 0:
                    left -= _copy_stream_at(fd, file, os.path.join(there, file),
                                            min(limits[0], left))
                    count -= 1
        aside = os.path.join(trash, secrets.token_hex(8))
        os.rename(path, aside)
    except BaseException:
        _remove_tree(new)
        raise
    os.rename(new, path)
    _remove_tree(aside)


def _copy_stream_at(folder: int, name: str, target: str, limit: int) -> int:
    """Copy the regular file ``name`` of the folder open as ``folder`` to the new file
    ``target`` (its mode but others' and the group's write), a MB at a time and only where
    it holds data (its holes stay holes); nothing when it is not a regular file (opened
    without following a link or waiting) or is over ``limit``. Its size, or 0."""
    try:
        old = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                      dir_fd=folder)
    except OSError:
        return 0
    try:
        st = os.fstat(old)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return 0
        new = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600)
        try:
            _copy_spans(old, new, st.st_size)
            os.fchmod(new, stat.S_IMODE(st.st_mode) & 0o755)
        finally:
            os.close(new)
        return st.st_size
    except OSError:
        return 0
    finally:
        os.close(old)


def _copy_spans(old: int, new: int, size: int) -> None:
    """Copy the first ``size`` bytes of the file open as ``old`` to the empty file open as
    ``new``, a MB at a time and only where it holds data (its holes stay holes)."""
    for start, end in _data_spans(old, size):
        while start < end:  # (a file that shrank meanwhile: what is there)
            chunk = os.pread(old, min(1 << 20, end - start), start)
            if not chunk:
                break
            view = memoryview(chunk)
            while view:
                written = os.pwrite(new, view, start)
                view, start = view[written:], start + written
    os.ftruncate(new, size)  # (a hole at its end too)


class _Copies:
    """What renewing a worktree's files copied (see _renew_at): a file under several names (hard
    links) is copied once per name, and the copies beyond the first may add up to
    _RELINKED_LIMIT bytes at most (an agent's 20 MB under 200 names cost the runner 4 GB).
    Once ``stop`` is set (a second interrupt), the next file renewed raises ParallelError."""

    def __init__(self, stop: Optional[threading.Event] = None) -> None:
        self.seen: "set[tuple[int, int]]" = set()
        self.left = _RELINKED_LIMIT
        self.stop = stop

    def go_on(self) -> None:
        """Raise ParallelError once the run is to stop at once (see stop)."""
        if self.stop is not None and self.stop.is_set():
            raise ParallelError("stopped (a second interrupt)")

    def count(self, st: os.stat_result) -> None:
        """Count copying the file ``st`` tells of; raise ParallelError past the limit."""
        if st.st_nlink < 2:
            return
        key = (st.st_dev, st.st_ino)
        if key not in self.seen and len(self.seen) < 100_000:
            self.seen.add(key)
            return
        self.left -= st.st_size
        if self.left < 0:
            raise ParallelError("its worktree holds files under several names (hard links) "
                                f"that would cost the runner more than {_RELINKED_LIMIT >> 20} MB "
                                "of copies to renew")


def _file_state(st: Optional[os.stat_result]) -> "tuple[int, ...]":
    """What changes when a file is written, replaced, or given other modes, owner or access
    list: its inode, time of change, mode and owner (() when it is not there)."""
    return () if st is None else (st.st_ino, st.st_ctime_ns, st.st_mode, st.st_uid)


def _folder_times(top: str, submodules: "set[str]") -> BinaryIO:
    """The times of every folder under ``top`` (but itself, ``.git`` and the ``submodules``
    your setup checked out, trusted by a digest of their own: see hidden_from_commit) as they
    are now, in a file for _file_times to give back: what the runner does there after the
    agent (each file made a new one, the commit's write-back) makes them all new (round 119:
    a rule on `data/` rebuilt in the sandbox only)."""
    import tempfile
    times = tempfile.TemporaryFile()
    for folder, fd, dirs, _files in _walk_at(top):
        rel = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        dirs[:] = [name for name in dirs if not (folder == top and name == ".git")
                   and prefix + name not in submodules]
        if folder != top:
            st = os.fstat(fd)
            times.write(os.path.relpath(folder, top).encode("utf-8", "surrogateescape") + b"\0"
                        + f"{st.st_atime_ns} {st.st_mtime_ns}".encode() + b"\0")
    return times


def _file_times(top: str, names: "Optional[Iterator[List[str]]]", times: BinaryIO) -> None:
    """With ``names`` (paths under ``top``), write each one's times of access and modification
    to ``times``; without, give each path named there those times back (its content written
    again since: round 118, every file written anew in the order of its name made a committed
    `parse.c` look older than `parse.y` to `make`, at random; folders: see _folder_times). No
    link is followed."""
    if names is not None:
        for (rel,) in names:
            st = _lstat_beneath(top, rel)
            if st is not None:
                times.write(rel.encode("utf-8", "surrogateescape") + b"\0"
                            + f"{st.st_atime_ns} {st.st_mtime_ns}".encode() + b"\0")
        return
    times.seek(0)
    for raw, pair in _nul_records(times, 2):
        with contextlib.suppress(OSError, ValueError):
            folder, name = _walk_beneath(top, raw.decode("utf-8", "surrogateescape"))
            try:
                atime, mtime = (int(n) for n in pair.split())
                os.utime(name, ns=(atime, mtime), dir_fd=folder, follow_symlinks=False)
            finally:
                os.close(folder)


def _fresh(path: str) -> str:
    """``path``, with whatever file was there removed: a log the runner writes is a new file
    each time, never one an earlier run's agent (or setup, or check) could have handed a
    descriptor of to another account, who would write into this run's (a forged result line
    after the real one, round 61)."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    return path


def _renew_at(folder: int, name: str, copies: Optional[_Copies] = None
              ) -> Optional[os.stat_result]:
    """Make the regular file ``name`` of the folder open as ``folder`` a new file holding the
    same bytes, with its owner, mode (but the group's and others' write, and set-ID) and
    times: a descriptor of the old one that its writer handed out (through an abstract
    socket, to another account) then writes a file nothing reads. Opened without following
    a link or waiting; nothing is done to what is no regular file, or a file of the runner
    that it may not read (nor may its git); one of another account that the runner may not
    read raises ParallelError (its owner may make it readable to git later). A clone of
    its data where the file system shares it (btrfs, XFS: a reflinked file costs no disk
    either), else a copy, counted in ``copies``. The old file's status once copied (a write
    to it before or while it was copied changed its time of change), or None when nothing
    was done. Raises OSError when the new file cannot be made (a full disk)."""
    import secrets
    try:
        old = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                      dir_fd=folder)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            st = _stat_at(folder, name)
            if st is not None and st.st_uid not in (os.geteuid(), 0):
                raise ParallelError(f"its worktree holds a file of another account (uid "
                                    f"{st.st_uid}) that the runner may not read: "
                                    f"{_shorten(name, 100)}") from None
        if exc.errno in (errno.ENOENT, errno.ELOOP, errno.EACCES, errno.EPERM, errno.ENXIO):
            return None
        raise
    try:
        st = os.fstat(old)
        if not stat.S_ISREG(st.st_mode):
            return None
        if copies is not None:
            copies.count(st)
        temp = f".architect-parallel-{secrets.token_hex(8)}.new"
        new = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                      0o600, dir_fd=folder)
        try:
            try:
                if not _clone(old, new):
                    _copy_spans(old, new, st.st_size)
                if (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
                    try:
                        os.fchown(new, st.st_uid, st.st_gid)
                    except PermissionError:  # (a group the runner is not in: its own then)
                        if st.st_uid != os.geteuid():
                            raise
                os.fchmod(new, stat.S_IMODE(st.st_mode) & 0o755)
                os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
            finally:
                os.close(new)
            copied = os.fstat(old)
            os.rename(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp, dir_fd=folder)
            raise
    finally:
        os.close(old)
    return copied


def _foreign_entries(top: str, also: "set[int]" = frozenset(),  # type: ignore[assignment]
                     acls: bool = True, named: "tuple[str, ...]" = (),
                     skips: bool = True) -> List[str]:
    """What under ``top`` (a worktree, when its worker ended) another account than the runner
    (or root, or the accounts ``also``) owns, or a folder others may write, or a group not
    the runner's own (a umask of 002 gives your own group's write), or with an access list
    (unless not ``acls``: a folder whose group bits _tame took has none that writes): its
    owner, or they, may change it whenever they want (``.git`` aside: see _settle). With
    ``named``, of the files only those so named (any case); without ``skips``, no folder
    the walk cannot enter (see _rules_in_worktree)."""
    found: List[str] = []
    me, mine = os.geteuid(), os.getegid()
    owners = {me, 0, *also}

    def skipped(_folder: int, rel: str, why: str) -> None:
        found.append(f"{_shorten(rel, 100)}/ ({why})")

    for folder, fd, dirs, files in _walk_at(top, skipped if skips else None):
        rel = os.path.relpath(folder, top)
        rel = "" if rel == "." else rel + "/"
        st = os.fstat(fd)
        if st.st_uid not in owners or st.st_mode & stat.S_IWOTH or acls and _has_acl(fd) or \
                st.st_mode & stat.S_IWGRP and st.st_gid != mine:
            found.append(f"{_shorten(rel or './', 100)} (a folder of uid {st.st_uid}, mode "
                         f"{stat.S_IMODE(st.st_mode):04o}, or with an access list)")
        found += [f"{_shorten(rel + name, 100)} (uid {other.st_uid})" for name in files
                  if not named or name.lower() in named
                  for other in [_stat_at(fd, name)]
                  if other is not None and other.st_uid not in owners]
        dirs[:] = [name for name in dirs if not (rel == "" and name == ".git")]
        if len(found) > 100:
            break
    return found


def _rules_in_worktree(top: str) -> Optional[int]:
    """The bytes of .gitignore and .gitattributes files (any case) git may read in the
    worktree at ``top``, counted name by name (one file under many names is read under
    each), as its walk meets them, but in a folder named ``.git``; those of a repository
    inside too (a folder holding a ``.git`` that is no repository is just a folder to
    git); the count stops once over _IGNORE_RULES_LIMIT. No file is read. Every folder is
    given to its owner to list and enter first, as before the commit (see _hold_still):
    None when a folder is left out all the same (round 96: the agent's `chmod 000 d` hid
    40 MB of rules from the count, and the runner's own gits read them once it opened d)."""
    total, expected, seen = 0, 1, 0

    def skipped(_fd: int, _rel: str, why: str) -> None:
        nonlocal seen  # (a folder too deep for git: git reads nothing there either)
        seen += why.startswith("deeper than git")

    with contextlib.closing(_walk_at(top, skipped, force=True)) as walk:
        for _folder, fd, dirs, files in walk:
            seen += 1
            dirs[:] = [name for name in dirs if name != ".git"]
            expected += len(dirs)
            for name in files:
                if name.lower() in (".gitignore", ".gitattributes"):
                    st = _stat_at(fd, name)
                    total += st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0
            if total > _IGNORE_RULES_LIMIT:
                return total
    return total if seen == expected else None


def _renew_tree(top: str, skip: "set[str]", copies: Optional[_Copies] = None) -> None:
    """_renew_at every regular file under ``top`` but in the folders ``skip`` names (paths
    from ``top``, ``/``-separated)."""
    for folder, fd, dirs, files in _walk_at(top):
        rel = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if rel == "." else rel + "/"
        dirs[:] = [d for d in dirs if prefix + d not in skip]
        _renew_in(fd, files, copies)


def _clone(old: int, new: int) -> bool:
    """Whether the empty file open as ``new`` now shares the data of the file open as ``old``
    (FICLONE: btrfs, XFS; a later write to either copies what it changes)."""
    if not sys.platform.startswith("linux"):
        return False
    import fcntl
    try:
        fcntl.ioctl(new, 0x40049409, old)  # FICLONE
        return True
    except OSError:
        return False


def _renew_in(folder: int, names: List[str], copies: Optional[_Copies] = None
              ) -> Dict[str, os.stat_result]:
    """_renew_at the files ``names`` of the folder open as ``folder`` (its owner's folder that
    he may not write, ``chmod 0555``, is his to write meanwhile); the old status of each
    file renewed."""
    renewed: Dict[str, os.stat_result] = {}
    if not names:
        return renewed
    st = os.fstat(folder)
    mode = stat.S_IMODE(st.st_mode)
    closed = mode & stat.S_IWUSR == 0 and st.st_uid == os.geteuid()
    if closed:
        os.fchmod(folder, mode | stat.S_IWUSR)
    try:
        for name in names:
            if copies is not None:
                copies.go_on()
            old = _renew_at(folder, name, copies)
            if old is not None:
                renewed[name] = old
    finally:
        if closed:
            os.fchmod(folder, mode)
    return renewed


def _data_spans(fd: int, size: int) -> Iterator["tuple[int, int]"]:
    """The spans [start, end) of the first ``size`` bytes of the file open as ``fd`` that hold
    data, not holes (the whole when the system cannot tell)."""
    if not hasattr(os, "SEEK_DATA"):
        yield 0, size
        return
    position = 0
    while position < size:
        try:
            start = os.lseek(fd, position, os.SEEK_DATA)
            end = min(os.lseek(fd, start, os.SEEK_HOLE), size)
        except OSError as e:
            if e.errno == errno.ENXIO:  # (no data after it)
                return
            yield position, size
            return
        if start >= size:
            return
        if end > start:
            yield start, end
        position = max(end, start + 1)


def _walk_beneath(root: str, rel: str) -> "tuple[int, str]":
    """An open descriptor of the folder that holds ``rel`` under the folder ``root``, reached
    without following a symbolic link in any part of ``rel``, and ``rel``'s last name.
    (``root`` is the runner's own path; an agent may have written everything below it.)"""
    parts = [p for p in rel.split(os.sep) if p and p != "."]
    if not parts or ".." in parts:
        raise OSError(errno.EINVAL, "not a path beneath its folder", rel)
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            inner = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                            dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd, parts[-1]


def _open_beneath(root: str, rel: str) -> Optional[int]:
    """An open descriptor of the regular file ``rel`` under ``root`` (see _walk_beneath); None
    when it is anything else (a link, a FIFO, a device, a folder) or cannot be opened."""
    try:
        folder, name = _walk_beneath(root, rel)
    except OSError:
        return None
    try:
        return _open_at(folder, name)
    finally:
        os.close(folder)


def _open_at(folder: int, name: str) -> Optional[int]:
    """An open descriptor of the regular file ``name`` of the folder open as ``folder``; None
    when it is anything else or cannot be opened."""
    try:
        # Looked at first: opening a device can do something. O_NONBLOCK: a FIFO put there
        # meanwhile must not hang the runner.
        if not stat.S_ISREG(os.stat(name, dir_fd=folder, follow_symlinks=False).st_mode):
            return None
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=folder)
    except OSError:
        return None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        return None
    return fd


def _read_at(folder: int, name: str, limit: int) -> Optional[bytes]:
    """Up to ``limit`` bytes of the regular file ``name`` of the folder open as ``folder``."""
    fd = _open_at(folder, name)
    if fd is None:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read(limit)


def _read_beneath(root: str, rel: str, limit: int) -> Optional[bytes]:
    """Up to ``limit`` bytes of the regular file ``rel`` under ``root`` (see _open_beneath)."""
    try:
        folder, name = _walk_beneath(root, rel)
    except OSError:
        return None
    try:
        return _read_at(folder, name, limit)
    finally:
        os.close(folder)


def _lstat_names(root: str, names: List[str]) -> Dict[str, Optional[os.stat_result]]:
    """``lstat`` of each of ``names`` (paths under the folder ``root`` as git writes them),
    by _beneath_key, no link followed on the way: in one walk of the folders holding them
    (see _walk_at), in time in proportion to their entries, not to the names times their
    depth (20,000 files 2,000 folders deep took minutes one by one)."""
    wanted: Dict[str, List[str]] = {}  # folder -> names in it
    for name in names:
        key = _beneath_key(name)
        if key:
            wanted.setdefault(os.path.dirname(key), []).append(os.path.basename(key))
    needed = set()
    for folder in list(wanted):
        while folder and folder not in needed:
            needed.add(folder)
            folder = os.path.dirname(folder)
    found: Dict[str, Optional[os.stat_result]] = {}
    for path, fd, dirs, _files in _walk_at(root):
        rel = os.path.relpath(path, root)
        rel = "" if rel == "." else rel
        dirs[:] = [d for d in dirs if os.path.join(rel, d) in needed]
        for name in wanted.get(rel, ()):
            found[os.path.join(rel, name)] = _stat_at(fd, name)
    return found


def _beneath_key(name: str) -> str:
    """The path ``name`` (as git writes it, a folder with a ``/`` at its end) as
    _lstat_names keys it; '' when it is no path beneath a folder (``..``)."""
    parts = [p for p in name.split("/") if p and p != "."]
    return "" if not parts or ".." in parts else os.sep.join(parts)


def _lstat_beneath(root: str, rel: str) -> Optional[os.stat_result]:
    """``lstat`` of ``rel`` under ``root``, no link followed on the way; None when it is not there."""
    try:
        folder, name = _walk_beneath(root, rel)
    except OSError:
        return None
    try:
        return os.stat(name, dir_fd=folder, follow_symlinks=False)
    except OSError:
        return None
    finally:
        os.close(folder)


def _holds_entries(root: str, rel: str) -> bool:
    """Whether ``rel`` under ``root`` is a folder (no link on the way) with anything in it."""
    st = _lstat_beneath(root, rel)
    if st is None or not stat.S_ISDIR(st.st_mode):
        return False
    for _folder, _fd, dirs, files in _walk_at(os.path.join(root, rel)):
        return bool(dirs or files)
    return False


def _unlink_beneath(root: str, rel: str) -> None:
    """Remove the file or link ``rel`` under ``root``, no link followed on the way."""
    try:
        folder, name = _walk_beneath(root, rel)
    except OSError:
        return
    try:
        os.unlink(name, dir_fd=folder)
    except OSError:
        pass
    finally:
        os.close(folder)


def _replace_beneath(root: str, rel: str, data: bytes, mode: int = 0o644) -> None:
    """Replace the file ``rel`` under ``root`` (see _walk_beneath) with ``data``, ``mode``."""
    import secrets
    folder, name = _walk_beneath(root, rel)
    tmp = f".{name}.{secrets.token_hex(8)}.tmp"  # (a new file: never one planted there, a FIFO)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o600, dir_fd=folder)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            os.fchmod(f.fileno(), mode)
        try:
            os.replace(tmp, name, src_dir_fd=folder, dst_dir_fd=folder)
        except OSError:  # (a folder there, say): leave no temporary file behind
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=folder)
            raise
    finally:
        os.close(folder)


def _seccomp_program() -> Optional[bytes]:
    """A seccomp filter (classic BPF, as bwrap --seccomp reads it) that makes the calls of
    _SECCOMP denied fail with EPERM, and those that give a mode with a set-ID bit too (a
    set-user-ID program of the sandbox's account, in a worktree any account can reach
    while the worker runs, would let that account become it outside); openat2 (whose mode
    a filter cannot see) and io_uring (whose requests it cannot see) fail with ENOSYS, so
    that libraries fall back to the calls it sees. None on an architecture it does not know."""
    import platform
    import struct
    table = _SECCOMP.get(platform.machine())
    if not table:
        return None
    load, jump_eq, jump_set, ret = 0x20, 0x15, 0x45, 0x06  # BPF_LD|W|ABS, JEQ|K, JSET|K, RET|K
    code: List[tuple] = []  # (op, jt, jf, k); a jump's target may be a label, ("label", name)
    for n, (arch, denied, moded) in enumerate(table):
        after = f"block {n + 1}"  # (not this arch: on to the next block)
        code += [(load, 0, 0, 4), (jump_eq, 0, after, arch), (load, 0, 0, 0)]  # arch, call
        code += [(jump_eq, "deny", 0, nr) for nr in denied]
        code += [(jump_eq, "nosys", 0, nr) for nr in _SECCOMP_NOSYS]
        for nr, arg in moded:  # the mode's low 32 bits: seccomp_data.args[arg], little-endian
            code += [(jump_eq, 0, 2, nr), (load, 0, 0, 16 + 8 * arg),
                     (jump_set, "deny", "allow", stat.S_ISUID | stat.S_ISGID)]
        for nr in _SECCOMP_IOCTL.get(arch, ()):  # (its request: the low 32 bits, all it reads)
            code += [(jump_eq, 0, 1 + len(_IOCTL_DENIED), nr), (load, 0, 0, 24)]
            code += [(jump_eq, "deny", 0, k) for k in _IOCTL_DENIED[:-1]]
            code += [(jump_eq, "deny", "allow", _IOCTL_DENIED[-1])]
        code += [(jump_eq, "allow", "allow", 0), ("label", after)]
    code += [("label", f"block {len(table)}"), ("label", "allow"), (ret, 0, 0, 0x7FFF0000),
             ("label", "deny"), (ret, 0, 0, 0x00050000 | errno.EPERM),
             ("label", "nosys"), (ret, 0, 0, 0x00050000 | errno.ENOSYS)]
    at: Dict[str, int] = {}
    for item in code:
        if item[0] == "label":
            at[item[1]] = sum(1 for i in code[:code.index(item)] if i[0] != "label")
    program = [item for item in code if item[0] != "label"]

    def offset(here: int, target: object) -> int:  # (counted from the next instruction)
        jump = at[target] - here - 1 if isinstance(target, str) else int(target)  # type: ignore[arg-type]
        assert 0 <= jump < 256
        return jump

    return b"".join(struct.pack("=HBBI", op, offset(i, jt), offset(i, jf), k)
                    for i, (op, jt, jf, k) in enumerate(program))


def _remove_specials(top: str, links: bool) -> List[str]:
    """Remove the FIFOs, sockets and devices under the folder ``top`` (with ``links``, its
    symbolic links too; in a ``.git`` folder below it, a nested repository's, always: git
    makes none there, and one to /dev/zero makes every git that looks at that repository
    read forever), never following a link; return their paths relative to ``top``. On the
    way, take from every file and folder the right of other accounts to write it and the
    set-user-ID and set-group-ID bits (an agent's ``chmod 0777`` of its git folder would let
    another account change what your own git runs there). (Once nothing of the worker runs
    any more.) A folder the runner may not read is made readable to its owner; one deeper
    than git can hold a path (see _walk_at), or that stays unreadable, is removed too: what
    is in it no git commits, and every later walk would stop short of it."""
    found = []

    def skipped(folder: int, rel: str, why: str) -> None:
        gone = _remove_tree_at(folder, os.path.basename(rel))
        found.append(f"{_shorten(rel, 100)} ({why}{'' if gone else '; it could not be removed'})")

    for folder, fd, _dirs, files in _walk_at(top, skipped, force=True,
                                             tame=stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID):
        in_git = links or ".git" in os.path.relpath(folder, top).split(os.sep)
        for name in files:
            st = _stat_at(fd, name)
            if st is None:
                continue
            if stat.S_ISREG(st.st_mode):
                _tame_at(fd, name, st)
            elif in_git or not stat.S_ISLNK(st.st_mode):
                _unlink_at(fd, name)
                found.append(os.path.relpath(os.path.join(folder, name), top))
    return found


def _tree_digest(root: str, folders: List[str], limit: int = 200000, exact: bool = False,
                 renew: "Optional[_Copies]" = None) -> str:
    """A digest of every entry (name, kind, size, modification time; with ``exact``, its
    inode and time of change too, which no process can set) in ``folders`` (relative to
    ``root``, reached without following a link), of the first ``limit`` entries. With
    ``renew``, of the entries as they were while each file is made a new one (see
    _renew_at): what the new files hold is what the digest says."""
    import hashlib
    digest, count = hashlib.sha256(), 0
    for rel in folders:
        st = _lstat_beneath(root, rel.rstrip("/"))
        if st is None or not stat.S_ISDIR(st.st_mode):
            continue
        top = os.path.join(root, rel.rstrip("/"))
        for folder, fd, _dirs, files in _walk_at(top):
            here = os.fstat(fd)  # (before its files are renewed)
            old = _renew_in(fd, files, renew) if renew is not None else {}
            for name in files + [""]:  # (the folder itself: its time changes with its entries)
                entry = (old.get(name) or _stat_at(fd, name)) if name else here
                if entry is not None:
                    # (with ``exact``, a folder is told by its entries, its inode and time of
                    # modification: the runner takes the group's and others' write from it
                    # before its commit, which changes its time of change, see _commit)
                    mode = entry.st_mode & ~0o022 if exact and not name else entry.st_mode
                    digest.update(f"{os.path.relpath(os.path.join(folder, name), root)}\0"
                                  f"{mode} {entry.st_size} {entry.st_mtime_ns}\0"
                                  .encode("utf-8", "surrogateescape"))
                    if exact:
                        digest.update((f"{entry.st_ino} {entry.st_ctime_ns}\0" if name
                                       else f"{entry.st_ino}\0").encode())
                count += 1
                if count >= limit:  # too many to look at: never taken as unchanged
                    return f"more than {limit} entries {time.time_ns()}"
    return digest.hexdigest()


# The most bytes of .gitignore files merge puts in a scratch repository to ask git which of
# your ignored files a branch would show (git holds every rule of the folders above a file,
# and matches each against it: honest projects hold a few KB).
_IGNORE_RULES_LIMIT = 256 << 10
_TREE_BYTES: "Dict[tuple[str, str, bool], int]" = {}  # (see _Repo.tree_bytes)
# The worktrees whose rules this process counted, and whether its gits may run there (see
# _Repo._settings; the runner's own, which read no rules there, until its run ends).
_COUNTED: Dict[str, bool] = {}
_FOOTER_SECONDS = 30.0  # what the footer may take to ask what cleanup keeps (_kept_by_cleanup)
_MERGE_CHECK_SECONDS = 600.0  # what merge's checks of the branches may take in all (_cmd_merge)
_COLLECT_CHECK_SECONDS = 600.0  # what collect's checks of one worker's commit may take in all


@contextlib.contextmanager
def _time_box(seconds: float) -> Iterator[threading.Event]:
    """While its block runs, an event set once ``seconds`` have passed: a repository wrapped
    with it (see _Repo.wrapped) stops its gits then, whatever each may take on its own."""
    stop = threading.Event()
    timer = threading.Timer(seconds, stop.set)
    timer.daemon = True
    timer.start()
    try:
        yield stop
    finally:
        timer.cancel()

# The objects a sandboxed worker may bring into the repository: none larger than GitHub
# takes (100 MB a file), 1 GB in all, and a million at most (each costs time, not bytes).
_OBJECT_LIMIT = 100 << 20
_OBJECTS_LIMIT = 1 << 30
_OBJECTS_COUNT = 1_000_000
# The most files whose attributes changed that _Repo.attributes_changed names.
_ATTRIBUTES_NAMED = 1000
# Encodings a checkout writes the same characters in (others, stateful ones such as
# ISO-2022-JP, can turn the text a diff shows into other ASCII: a line of shell).
_FAITHFUL_ENCODING = _LazyPattern(r"(?i)utf-?(16|32)(le|be)?(-bom)?")
# The most files a collected commit may hold, and bytes of their paths (see _too_large); the
# largest tree object read (a folder of 100,000 files is some 6 MB).
_MAX_FILES = 2_000_000
_MAX_PATH_BYTES = 256 << 20
_TREE_LIMIT = 64 << 20

# Where the runner's gits inside a sandbox find their HOME (see _Box._git_home), and their
# program when the runner's git is in a folder the worker may write (see _Box.make).
_GIT_HOME = "/run/architect-parallel-git"
_GIT_PROGRAM = "/run/architect-parallel-bin/git"


def _flat_config(repo: _Repo, scope: str, cwd: str,
                 place: Optional[Callable[[str, bool], str]] = None) -> bytes:
    """The git settings of ``scope`` (--global, --local) as git reads them in ``cwd``, as one
    config file with every include already in place: inside a sandbox an include's path (an
    absolute one, or ~/ of the private HOME) could name a file the worker writes, which would
    then set filters, ignore rules or line ends for the runner's commit there. ``place``, when
    given, gives each file or program the commit's settings name (ignore and attribute files,
    filter programs, see _placed) the path to use instead, and every filter with both ways
    (or a process) is ``required`` there: one that cannot run inside fails the commit, where
    git would take the file as it is (round 115: a filter program in ~/.local/bin, not found
    inside, and the branch held what your own `git add` converts); one with a single way
    (a clean command only) is not: git passes the file through the other way (round 117)."""
    listing = repo.git("config", scope, "--list", "--includes", "-z", cwd=cwd, check=False) or ""
    sections: Dict[str, List[str]] = {}
    required: "Dict[str, set[str]]" = {}
    for item in filter(None, listing.split("\0")):
        name, newline, value = item.partition("\n")
        section, _, rest = name.partition(".")
        subsection, _, key = rest.rpartition(".")
        if section in ("include", "includeif") or not key:
            continue
        quote = lambda text: text.replace("\\", "\\\\").replace('"', '\\"')
        head = f'[{section} "{quote(subsection)}"]' if subsection else f"[{section}]"
        if place and (name in ("core.excludesfile", "core.attributesfile") or (
                section == "filter" and key in ("clean", "smudge", "process"))):
            value = _placed(value, place, section == "filter")
            if section == "filter" and value.strip():
                required.setdefault(head, set()).add(key)
        value = quote(value).replace("\n", "\\n").replace("\t", "\\t")
        sections.setdefault(head, []).append(f'\t{key} = "{value}"' if newline else f"\t{key}")
    for head, keys in required.items():  # (last: it wins over theirs; a driver with one
        if "process" in keys or {"clean", "smudge"} <= keys:  # way only passes the other)
            sections[head].append('\trequired = "true"')
    return "".join(f"{head}\n" + "\n".join(lines) + "\n" for head, lines in sections.items()
                   ).encode("utf-8", "surrogateescape")


def _placed(value: str, place: Callable[[str, bool], str], command: bool) -> str:
    """The setting ``value`` with each word given by ``place`` the path to use inside (its
    first as a program when it is a ``command``, see _Box._outside)."""
    return " ".join(place(word, command and n == 0) for n, word in enumerate(value.split(" ")))


def _given_settings(repo: _Repo, cwd: str, place: Callable[[str, bool], str]) -> Dict[str, str]:
    """Your git settings that your environment gives (GIT_CONFIG_COUNT..., and
    GIT_CONFIG_PARAMETERS: `git -c` in a wrapper or an alias of yours), as git reads them in
    ``cwd``, with what they include read now and in place (see _flat_config; ``place``
    gives each file or program they name the path to use): a git in a worker's sandbox gets
    these instead of the variables (round 111: an `include.path` given so, naming a file in
    HOME or /tmp, was read inside from the agent's file, whose clean filter made the runner's
    commit differ from what the checks passed). Not the tool's own settings, which its gits
    get all the same."""
    listing = repo.git("config", "--list", "--includes", "--show-scope", "-z", cwd=cwd,
                       check=False) or ""
    own = {(k.lower(), v) for k, v in {**_GIT_SETTINGS, **repo._settings(repo.top, False)}.items()
           if not k.isupper()}
    found: Dict[str, str] = {}
    fields = listing.split("\0")
    for scope, item in zip(fields[0::2], fields[1::2]):
        name, newline, value = item.partition("\n")
        value = value if newline else "true"  # (`git -c name`, with no value: true)
        section, _, rest = name.partition(".")
        if scope != "command" or section in ("include", "includeif") or \
                (name.lower(), value) in own:
            continue
        if name in ("core.excludesfile", "core.attributesfile") or (
                section == "filter" and rest.rpartition(".")[2] in ("clean", "smudge", "process")):
            value = _placed(value, place, section == "filter")
        found[name] = value
    return found


def _config_name(name: str) -> str:
    """The git setting ``name`` as git compares names: its section and key in any case, its
    subsection as it is (`core.hooksPath` is `core.hookspath`)."""
    section, _, rest = name.partition(".")
    subsection, dot, key = rest.rpartition(".")
    return f"{section.lower()}.{subsection}{dot}{key.lower()}"


def _runner_git() -> str:
    """The runner's git program (see _git_popen), its links resolved."""
    return os.path.realpath(_git_program(_safe_path()))

def _tame(fd: int, bits: int = stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID) -> None:
    """Take from the file or folder open as ``fd`` ``bits``: others' write and the set-ID bits;
    and with the group's or others' write, its access lists (see _ACLS) first."""
    if bits & (stat.S_IWGRP | stat.S_IWOTH):
        _drop_acls(fd)
    with contextlib.suppress(OSError):
        mode = os.fstat(fd).st_mode
        if mode & bits:
            os.fchmod(fd, stat.S_IMODE(mode) & ~bits)


# POSIX access lists: a folder's default one gives every file made in it later (git's index,
# a checkout's files) the write it names, whatever the modes and umask say; an access one
# names accounts the modes do not.
_ACLS = ("system.posix_acl_default", "system.posix_acl_access")


def _drop_acls(fd: int) -> None:
    """Remove the access lists of the file or folder open as ``fd`` (its modes stay)."""
    if not hasattr(os, "removexattr"):
        return
    for name in _ACLS:
        with contextlib.suppress(OSError):
            os.removexattr(fd, name)


def _has_acl(fd: int) -> bool:
    """Whether the file or folder open as ``fd`` has an access list (see _ACLS)."""
    try:
        return hasattr(os, "listxattr") and any(name in _ACLS for name in os.listxattr(fd))
    except OSError:
        return False


def _tame_at(fd: int, name: str, st: os.stat_result,
             bits: int = stat.S_IWOTH | stat.S_ISUID | stat.S_ISGID) -> None:
    """_tame the regular file ``name`` of the folder open as ``fd`` (``st``: its lstat), when
    it needs it: opened without following a link, and only if it is still that file."""
    if not st.st_mode & bits:
        return
    with contextlib.suppress(OSError):
        file = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                       dir_fd=fd)
        try:
            now = os.fstat(file)
            if stat.S_ISREG(now.st_mode) and (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):
                _tame(file, bits)
        finally:
            os.close(file)


# What a git operation left under way keeps in a worktree's git folder: your next commit
# there would make a merge with the parent MERGE_HEAD names, with the agent's message.
# MERGE_AUTOSTASH: a stash every commit there applies afterwards (files no diff showed).
_PENDING_STATE = ("MERGE_HEAD", "MERGE_MSG", "MERGE_MODE", "MERGE_RR", "AUTO_MERGE",
                  "MERGE_AUTOSTASH", "CHERRY_PICK_HEAD", "REVERT_HEAD", "REBASE_HEAD",
                  "SQUASH_MSG", "BISECT_START", "BISECT_LOG", "BISECT_TERMS", "BISECT_NAMES",
                  "BISECT_EXPECTED_REV", "BISECT_ANCESTORS_OK", "rebase-merge", "rebase-apply",
                  "sequencer", "NOTES_MERGE_PARTIAL", "NOTES_MERGE_REF", "NOTES_MERGE_WORKTREE")
# What a worktree's git folder keeps once its worker ended: anything else there is the
# agent's (its submodules' git folders in modules/, whose settings and hooks your git there
# would obey; a sparse-checkout list in info/) and is removed; and, without a word, its HEAD's
# log and its own refs (_ADMIN_LOGS: what `git reflog`, `HEAD@{1}` and `git checkout -` read
# there, lines and refs the agent could write, round 106). A `locked` is kept: it may be
# yours, made while the worker ran (see _settle_lock).
_ADMIN_KEPT = ("HEAD", "index", "commondir", "gitdir", "config.worktree", "ORIG_HEAD",
               "COMMIT_EDITMSG", "locked")
_ADMIN_LOGS = ("logs", "refs")
# Of what is removed there, what an honest check or setup writes, removed without a word:
# FETCH_HEAD, written by a `git fetch` or `git pull` (round 109: blamed on the agent), which
# a `git merge FETCH_HEAD` of yours there would take.
_ADMIN_QUIET = ("FETCH_HEAD",)
# Those of _ADMIN_KEPT that git reads as files, and fails on when they are not (see
# _remove_odd_files; HEAD and index fail the worker: see _Repo.admin_folder).
_ADMIN_FILES = ("locked", "ORIG_HEAD", "COMMIT_EDITMSG")


def _remove_odd_files(admin: str) -> List[str]:
    """Remove those of _ADMIN_FILES in the worktree git folder ``admin`` that are not regular
    files, and return their names (round 107: a `locked` folder stopped `git worktree list`,
    and with it every command of this tool, and `git worktree unlock`)."""
    removed = []
    for name in _ADMIN_FILES:
        st = _lstat_beneath(admin, name)
        if st is not None and not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):
                _remove_tree(os.path.join(admin, name))
            else:
                _unlink_beneath(admin, name)
            removed.append(name)
    return removed


# What a worktree's git folder may hold but its index (HEAD, ORIG_HEAD, a rebase's state
# files, logs and config.worktree are a few KB): one file, in bytes; all its files, in bytes
# (one file hard-linked 2,000 times) and in files and folders (300,000 empty ones); then the
# largest index copied (a larger one, sparse, is built again from HEAD).
_ADMIN_LIMITS = (1 << 20, 16 << 20, 10000)
_INDEX_COPY_LIMIT = 2 << 30
_RELINKED_LIMIT = 1 << 30  # (see _Copies)
_ADMIN_DEPTH = 16  # folders below it (refs/worktree/a/b/...) copied to this depth


def _remove_large(top: str, limits: "tuple[int, int, int]", keep: "tuple[str, ...]" = ()
                  ) -> List[str]:
    """Remove the files under the folder ``top`` larger than ``limits[0]`` bytes but those
    named ``keep`` right in it, and the files and folders met once the others add up to
    ``limits[1]`` bytes or ``limits[2]`` entries, never following a link; return their paths
    relative to it."""
    found, kept, count = [], 0, 0
    for folder, fd, dirs, files in _walk_at(top):
        for name in list(dirs):
            count += 1
            if count > limits[2]:
                dirs.remove(name)
                _remove_tree_at(fd, name)
                found.append(os.path.relpath(os.path.join(folder, name), top) + "/")
        for name in files:
            st = _stat_at(fd, name)
            if st is None or (folder == top and name in keep):
                continue
            if st.st_size <= limits[0] and kept + st.st_size <= limits[1] and count < limits[2]:
                kept, count = kept + st.st_size, count + 1
                continue
            _unlink_at(fd, name)
            found.append(os.path.relpath(os.path.join(folder, name), top))
    return found


def _walk(top: str) -> Iterator["tuple[str, List[str], List[str]]"]:
    """``os.walk(top)``, top down, never into a link (see _walk_at)."""
    for folder, _fd, dirs, files in _walk_at(top):
        yield folder, dirs, files


def _walk_at(top: str, skipped: Optional[Callable[[int, str, str], None]] = None,
             force: bool = False, tame: int = 0
             ) -> Iterator["tuple[str, int, List[str], List[str]]"]:
    """Every folder under ``top`` (itself first), top down: its path, an open descriptor of it
    (good while it is yielded: act on its entries through it, with ``dir_fd``, never by path),
    its folders and its other entries by name. Each folder is opened from its parent's
    descriptor by name, never through a link: a folder that another process (another
    worker's, passed a descriptor of it) swaps for a link meanwhile is not entered, and
    nothing is done through the link. As with os.walk, names taken out of ``dirs`` are not
    entered. No recursion (a tree an agent made may be thousands of folders deep), at most
    _WALK_FDS descriptors open, and time in proportion to the entries: a parent whose
    descriptor was closed is opened again as its last child's ``..`` (the very folder: its
    identity is checked; else by name from ``top``, at most _REOPENS times: another process
    moving its folders meanwhile gets the rest of them left out, not an hour of the
    runner's time). A folder whose path from ``top`` would be longer than _WALK_PATH bytes
    (git can hold no path so long) is not entered, nor one the runner may not read (its
    owner's ``chmod 0311``: anyone may pass through it) unless ``force`` makes it readable
    to its owner through a descriptor of it: ``skipped`` is called with its parent's
    descriptor, its path from ``top`` and why. With ``force`` every folder met, ``top`` too,
    is given to its owner to list and enter (see _owner_may_enter). The mode bits ``tame``
    are taken from every folder met before it is listed (taken after, another account could
    move a folder into it meanwhile that the walk never meets). ``top`` is left out when it
    is a link."""

    def listing(fd: int) -> "tuple[List[str], List[str]]":
        entries = list(os.scandir(fd))
        return (sorted(e.name for e in entries if e.is_dir(follow_symlinks=False)),
                sorted(e.name for e in entries if not e.is_dir(follow_symlinks=False)))

    try:
        fd = _open_top(top, force, tame)
    except OSError:
        return
    try:
        dirs, files = listing(fd)
    except OSError:
        os.close(fd)
        return
    # [path from top, descriptor or None, dirs, (device, inode)]
    frames: "List[list]" = [["", fd, iter(dirs), _identity(fd)]]
    opened = 1  # (the open ones are the last frames: the oldest open is frames[-opened])
    reopens = _REOPENS
    try:
        yield top, fd, dirs, files
        while frames:
            frame = frames[-1]
            name = next(frame[2], None)
            if name is None:
                frames.pop()
                if frame[1] is not None:
                    if frames and frames[-1][1] is None:
                        frames[-1][1] = _parent_of(frame[1], frames[-1][3])
                        opened += frames[-1][1] is not None
                    os.close(frame[1])
                    opened -= 1
                continue
            rel = os.path.join(frame[0], name)
            try:
                if frame[1] is None:
                    if not reopens:  # (another process moved its folders: left out)
                        continue
                    reopens -= 1
                    frame[1] = _open_folder_beneath(top, frame[0].split(os.sep) if frame[0] else [])
                    opened += 1
                if len(os.fsencode(rel)) > _WALK_PATH:
                    if skipped is not None:
                        skipped(frame[1], rel, f"deeper than git holds a path ({_WALK_PATH} bytes)")
                    continue
                child = _open_folder_at(frame[1], name, force, tame)
            except PermissionError:
                if skipped is not None:
                    skipped(frame[1], rel, "a folder the runner may not read")
                continue
            except OSError:
                continue
            try:
                dirs, files = listing(child)
                ident = _identity(child)
            except OSError:
                os.close(child)
                continue
            try:
                yield os.path.join(top, rel), child, dirs, files
            except BaseException:
                os.close(child)
                raise
            if opened >= _WALK_FDS:
                oldest = frames[-opened]
                os.close(oldest[1])
                oldest[1] = None
                opened -= 1
            frames.append([rel, child, iter(dirs), ident])
            opened += 1
    finally:
        for frame in frames:
            if frame[1] is not None:
                with contextlib.suppress(OSError):
                    os.close(frame[1])


def _open_folder_at(parent: int, name: str, force: bool = False, tame: int = 0) -> int:
    """A descriptor of the folder ``name`` of the folder open as ``parent``, never through a
    link; with ``force``, one its owner may not read is made readable and searchable to him
    first, through a descriptor of that very folder (never by name: it may be swapped);
    without the mode bits ``tame`` (see _tame)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, dir_fd=parent)
    except PermissionError:
        if not force or not hasattr(os, "O_PATH"):  # (Linux only, as /proc/self/fd)
            raise
        pinned = os.open(name, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=parent)
        try:
            mode = stat.S_IMODE(os.fstat(pinned).st_mode)
            os.chmod(f"/proc/self/fd/{pinned}", mode | 0o700)  # (that folder, whatever its name)
            fd = os.open(name, flags, dir_fd=parent)
        finally:
            os.close(pinned)
    if force:  # (0611: listed, but nothing in it reached; as root, read where its owner may not)
        _owner_may_enter(fd)
    if tame:
        _tame(fd, tame)
    return fd


def _may_list(st: os.stat_result, uid: int) -> bool:
    """Whether the account ``uid`` (its group the same number) may list and enter the folder
    ``st`` tells of, by its modes."""
    bits = (st.st_mode >> 6 if st.st_uid == uid else st.st_mode >> 3 if st.st_gid == uid
            else st.st_mode) & 0o5
    return bits == 0o5


def _open_top(top: str, force: bool = False, tame: int = 0) -> int:
    """A descriptor of the folder ``top``, not a link (with ``force`` and ``tame``, see
    _open_folder_at)."""
    if not force or not hasattr(os, "O_PATH"):
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        if tame:
            _tame(fd, tame)
        return fd
    top = os.path.normpath(top)
    parent = os.open(os.path.dirname(top) or ".", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        return _open_folder_at(parent, os.path.basename(top), force=True, tame=tame)
    finally:
        os.close(parent)


def _owner_may_enter(fd: int) -> None:
    """Give the folder open as ``fd`` to its owner to list and enter, when he may not (a
    git running as him, in or out of the sandbox, would see nothing in it)."""
    with contextlib.suppress(OSError):
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o700 != 0o700:
            os.fchmod(fd, mode | 0o700)


def _identity(fd: int) -> "tuple[int, int]":
    st = os.fstat(fd)
    return st.st_dev, st.st_ino


def _parent_of(fd: int, identity: "tuple[int, int]") -> Optional[int]:
    """A descriptor of the folder ``identity`` names, opened as the ``..`` of the folder open
    as ``fd``: None when that is no longer it (moved meanwhile) or cannot be opened."""
    try:
        parent = os.open("..", os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                         dir_fd=fd)
    except OSError:
        return None
    try:
        if _identity(parent) == identity:
            return parent
    except OSError:
        pass
    os.close(parent)
    return None


def _open_folder_beneath(top: str, names: List[str], make: bool = False) -> int:
    """A descriptor of the folder ``top/names[0]/names[1]/...``, opened one name at a time
    from the one before, never through a link (``make``: made where it is missing)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(top, flags)
    try:
        for name in names:
            if make:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o777, dir_fd=fd)
            inner = os.open(name, flags, dir_fd=fd)
            os.close(fd)
            fd = inner
    except BaseException:
        os.close(fd)
        raise
    return fd


def _copy_file_at(folder: int, name: str, target: str, limit: int) -> Optional[int]:
    """Copy the regular file ``name`` of the folder open as ``folder`` to the new file
    ``target`` (mode and times too), a MB at a time, its holes kept (see _copy_spans: a file
    made sparse costs its copy what it cost its writer): opened without following a link and
    without waiting (a FIFO swapped in meanwhile is no file: not copied). Its size, or None
    (and no ``target``) when it is not a regular file, cannot be read or is larger than
    ``limit``."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=folder)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limit:
            return None
        try:
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                          | os.O_CLOEXEC, 0o600)
        except OSError:
            return None
        try:
            _copy_spans(fd, out, st.st_size)
            os.fchmod(out, stat.S_IMODE(st.st_mode))
            os.utime(out, ns=(st.st_atime_ns, st.st_mtime_ns))
        except OSError:
            os.unlink(target)
            return None
        finally:
            os.close(out)
        return st.st_size
    finally:
        os.close(fd)


def _copy_file_in(path: str, target: str, limit: int) -> Optional[int]:
    """_copy_file_at for the file ``path`` (its last name not followed)."""
    try:
        folder = os.open(os.path.dirname(path) or ".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _copy_file_at(folder, os.path.basename(path), target, limit)
    finally:
        os.close(folder)


def _copy_tree(path: str, target: str, limits: "tuple[int, int]",
               readable: Optional[Callable[[str], bool]] = None) -> bool:
    """Copy the folder ``path`` to the new folder ``target``: from descriptor to
    descriptor (see _walk_at), links as links, only regular files (no FIFO or device is
    opened), and what is ``readable``; at most ``limits`` (entries, bytes). Whether it was
    copied whole."""
    entries, size = 0, 0
    for folder, fd, dirs, files in _walk_at(path):
        there = target if folder == path else os.path.join(target, os.path.relpath(folder, path))
        os.mkdir(there, 0o700)
        dirs[:] = [d for d in dirs if readable is None or readable(os.path.join(folder, d))]
        entries += len(dirs) + len(files)
        for name in files:
            st = _stat_at(fd, name)
            if st is None or not (readable is None or stat.S_ISLNK(st.st_mode)
                                  or readable(os.path.join(folder, name))):
                continue
            if stat.S_ISLNK(st.st_mode):
                with contextlib.suppress(OSError):
                    os.symlink(os.readlink(name, dir_fd=fd), os.path.join(there, name))
            elif stat.S_ISREG(st.st_mode):
                copied = _copy_file_at(fd, name, os.path.join(there, name), limits[1] - size)
                if copied is None:
                    return False
                size += copied
        if entries > limits[0]:
            return False
        with contextlib.suppress(OSError):
            os.chmod(there, stat.S_IMODE(os.fstat(fd).st_mode) | 0o700)
    return os.path.isdir(target)


# The most descriptors _walk_at keeps open (the soft limit is often 1,024), and the longest
# path from its top it enters (git's own limit on a path: PATH_MAX).
_WALK_FDS = 128
_WALK_PATH = 4096
_REOPENS = 64  # folders opened again by name from the top, at most, in one walk


def _stat_at(fd: int, name: str) -> Optional[os.stat_result]:
    """``lstat`` of the entry ``name`` of the folder open as ``fd`` (None when gone)."""
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except OSError:
        return None


def _unlink_at(fd: int, name: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(name, dir_fd=fd)


def _remove_tree(path: str) -> bool:
    """Remove the folder ``path`` and all in it, never following a link, never opening a
    FIFO, however deep and whatever modes an agent left on the folders in it. Not with
    shutil.rmtree: it recurses, and before Python 3.13 it opens an entry it saw as a folder
    without O_NONBLOCK or O_DIRECTORY: another worker swapping that folder for a FIFO
    meanwhile hangs the runner for good. Whatever another process added meanwhile and
    stays is made harmless (see _tame_left); whether nothing stayed."""
    _empty_beneath(path)
    with contextlib.suppress(OSError):
        os.rmdir(path)
    try:
        os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:  # (cannot be looked at: not known to be gone)
        pass
    _tame_left(path)
    return False


def _remove_tree_at(folder: int, name: str) -> bool:
    """_remove_tree of the folder ``name`` of the folder open as ``folder``, whatever its path
    (one longer than a path may be) and wherever that folder was moved."""
    return _remove_tree(f"/proc/self/fd/{folder}/{name}")


def _tame_left(top: str) -> None:
    """What stays of a folder the runner removes (another worker's process, handed a
    descriptor of a folder in it, added files while it was removed): no set-ID bit on its
    files, and no folder in it anyone but its owner may enter. A set-user-ID program of the
    sandbox's account left there would let any local account become it."""
    set_id = stat.S_ISUID | stat.S_ISGID
    for _folder, fd, _dirs, files in _walk_at(top, force=True,
                                              tame=set_id | stat.S_IRWXG | stat.S_IRWXO):
        for name in files:
            st = _stat_at(fd, name)
            if st is not None and stat.S_ISREG(st.st_mode):
                _tame_at(fd, name, st, set_id)


def _empty_beneath(top: str) -> None:
    """Remove everything in the folder ``top`` (not a link): from descriptor to descriptor,
    no link followed, no recursion, at most _WALK_FDS descriptors open (a parent whose
    descriptor was closed is opened again as ``..``, see _walk_at), and a folder the runner
    may not read or write made so through a descriptor of that very folder, never by name:
    another worker's process, passed a descriptor of a folder in it, can swap any entry for
    a link meanwhile (as ``chmod -R`` follows one it met as a file). What is swapped while
    it works may stay; nothing outside ``top`` is touched. A tree 40,000 deep (made in 2 s), a chain
    or a comb, costs time in proportion to its entries, not the square of its depth; a
    folder is opened again by name from ``top`` (when another process moved its child
    away) at most _REOPENS times, what is below it then left."""

    def enter(parent: int, name: str) -> Optional[int]:
        try:  # (one its owner may not read or enter made so through a descriptor of it)
            return _open_folder_at(parent, name, force=True)
        except OSError:
            return None

    reopens = _REOPENS

    def reopen(depth: int) -> int:  # the folder of frames[depth], by name from top
        nonlocal reopens
        if not reopens:  # (another process moved its folders: left as they are)
            raise OSError(errno.ELOOP, "moved meanwhile")
        reopens -= 1
        return _open_folder_beneath(top, [frame[0] for frame in frames[1:depth + 1]])

    def listing(fd: int) -> List[str]:
        try:
            return os.listdir(fd)
        except OSError:
            return []

    try:
        fd = _open_top(top, force=True)
    except OSError:
        return
    # [name, descriptor or None, names, next, (device, inode)]
    frames: "List[list]" = [["", fd, listing(fd), 0, _identity(fd)]]
    opened = 1  # (the open ones are the last frames: the oldest open is frames[-opened])
    try:
        while frames:
            frame = frames[-1]
            try:
                if frame[1] is None:
                    frame[1] = reopen(len(frames) - 1)
                    opened += 1
            except OSError:
                frames.pop()
                continue
            fd = frame[1]
            if frame[3] == len(frame[2]):  # emptied: out of its parent
                frames.pop()
                if frames and frames[-1][1] is None:
                    frames[-1][1] = _parent_of(fd, frames[-1][4])
                    opened += frames[-1][1] is not None
                os.close(fd)
                opened -= 1
                if frames:
                    with contextlib.suppress(OSError):
                        if frames[-1][1] is None:
                            frames[-1][1] = reopen(len(frames) - 1)
                            opened += 1
                        os.rmdir(frame[0], dir_fd=frames[-1][1])
                continue
            name = frame[2][frame[3]]
            frame[3] += 1
            st = _stat_at(fd, name)
            if st is None:
                continue
            if not stat.S_ISDIR(st.st_mode):
                _unlink_at(fd, name)  # (never follows a link: it removes the link)
                continue
            child = enter(fd, name)
            if child is None:
                continue
            try:
                ident = _identity(child)
            except OSError:
                os.close(child)
                continue
            if opened >= _WALK_FDS:
                oldest = frames[-opened]
                os.close(oldest[1])
                oldest[1] = None
                opened -= 1
            frames.append([name, child, listing(child), 0, ident])
            opened += 1
    finally:
        for frame in frames:
            if frame[1] is not None:
                with contextlib.suppress(OSError):
                    os.close(frame[1])


def _no_links(path: str) -> bool:
    """Whether no part of the absolute ``path`` is a symbolic link (and it exists)."""
    current = os.sep
    for part in [p for p in path.split(os.sep) if p]:
        current = os.path.join(current, part)
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return False
        except OSError:
            return False
    return True


def _home_startup(path: str) -> bool:
    """Whether ``path`` is or holds HOME, or lies in a dot file or folder of it or ~/bin:
    where what a worker wrote would run in your later sessions (``.bashrc``, ``.profile``,
    ``~/.local/bin`` and ``~/bin`` on PATH, ``.pth`` files in ``~/.local/lib``, the tools'
    settings in ``.config``), or be a credential store. Both as written and as its links
    lead, and against where HOME's dot entries, and the links in them at any depth, lead too:
    with ``~/.bashrc`` a link into ``~/dotfiles``, or ``~/.config/fish`` a link into
    ``~/dotfiles/fish`` (GNU Stow), that folder is a start-up place as well."""
    def within(inner: str, outer: str) -> bool:  # by name, no link followed
        return _below(outer, inner)

    paths = {os.path.abspath(path), os.path.realpath(path)}
    for home in {os.path.expanduser("~"), _account_home() or "/"} - {"/"}:
        for top in {os.path.abspath(home), os.path.realpath(home)}:
            places = {os.path.join(top, "bin"), os.path.realpath(os.path.join(top, "bin"))}
            for entry in _entries(top):
                if entry.name.startswith("."):
                    places |= {entry.path, os.path.realpath(entry.path)}
            scanned = _links_below([p for p in places if within(p, top)])
            if scanned is None:  # too many to look at: all of HOME counts
                places.add(top)
            else:  # (a hard link to a start-up file, in the folder or file asked about)
                places |= set(scanned[0])
                if scanned[1] and _hard_links_to(path, scanned[1]):
                    return True
            for p in paths:
                if within(top, p):  # it is or holds HOME
                    return True
                first = os.path.relpath(p, top).split(os.sep)[0] if within(p, top) else ""
                if first.startswith(".") or first == "bin":
                    return True
                if any(within(p, place) or within(place, p) for place in places - {"/"}):
                    return True
    return False


def _links_below(folders: List[str], limit: int = 50000) -> "Optional[tuple[List[str], set]]":
    """Where the links in ``folders`` (at any depth, none followed; package caches left out)
    lead, and the (device, inode) of their files that have other hard links (and of
    ``folders`` that are such files); None when there are more than ``limit`` entries."""
    key = (tuple(folders), limit)
    if key in _LINKS_BELOW:
        return _LINKS_BELOW[key]
    found: List[str] = []
    inodes: set = set()
    count = 0

    def look(fd: Optional[int], path: str, name: str) -> None:
        with contextlib.suppress(OSError):
            st = os.stat(name, dir_fd=fd, follow_symlinks=False) if fd is not None else os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                found.append(os.path.realpath(path))
            elif stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                inodes.add((st.st_dev, st.st_ino))

    for top in folders:
        if os.path.basename(top) in (".cache", *_FRESH):
            continue
        look(None, top, top)
        for folder, fd, dirs, files in _walk_at(top):
            rel = os.path.relpath(folder, os.path.dirname(top))
            dirs[:] = [d for d in dirs if os.path.join(rel, d) not in _FRESH]
            count += len(dirs) + len(files)
            if count > limit:
                _LINKS_BELOW[key] = None
                return None
            for name in files:
                look(fd, os.path.join(folder, name), name)
    _LINKS_BELOW[key] = (found, inodes)
    return found, inodes


def _hard_links_to(path: str, inodes: set, limit: int = 200000) -> bool:
    """Whether ``path``, or a file under it, is a hard link to one of ``inodes`` (or there are
    more than ``limit`` entries to look at)."""
    with contextlib.suppress(OSError):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            return (st.st_dev, st.st_ino) in inodes
    count = 0
    for _folder, fd, dirs, files in _walk_at(path):
        count += len(dirs) + len(files)
        if count > limit:
            return True
        for name in files:
            with contextlib.suppress(OSError):
                st = os.stat(name, dir_fd=fd, follow_symlinks=False)
                if st.st_nlink > 1 and (st.st_dev, st.st_ino) in inodes:
                    return True
    return False


_LINKS_BELOW: Dict[tuple, "Optional[tuple[List[str], set]]"] = {}  # (HOME is as it was)


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _account_home() -> Optional[str]:
    """The home folder of the runner's account (HOME may point elsewhere)."""
    try:
        import pwd
        return pwd.getpwuid(os.getuid()).pw_dir or None
    except (ImportError, KeyError):
        return None


# Run as root in a process of its own, for a runner that is root: a mount namespace in which the
# sandbox's unprivileged user can reach what it needs. Each folder it could not enter (/root is
# drwx------) becomes an empty tmpfs it can enter, holding the folder's entries that lead on (all
# of them, for HOME) bound back as they are; nothing else changes, nothing outside this namespace
# sees it. It then waits for its
# stdin to close (the runner's end, even a SIGKILL) and exits; bwrap started through nsenter
# copies its view.
_STAGE_SCRIPT = r"""
import ctypes, json, os, stat, sys
libc = ctypes.CDLL(None, use_errno=True)
def call(ret, what):
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), what)
def mount(source, target, kind, flags, data=None):
    enc = lambda s: s.encode("utf-8", "surrogateescape") if s is not None else None
    call(libc.mount(enc(source), enc(target), enc(kind), ctypes.c_ulong(flags), enc(data)), target)
try:
    spec = json.loads(sys.argv[1])
    call(libc.unshare(0x00020000), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, 16384 | (1 << 18))  # MS_REC | MS_PRIVATE
    for folder, names in spec["open"]:  # outermost first
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)  # the folder as it is, under...
        mount("tmpfs", folder, "tmpfs", 2 | 4, "mode=0755")  # ...MS_NOSUID | MS_NODEV
        for name in os.listdir(fd) if names is None else names:
            source, target = f"/proc/self/fd/{fd}/{name}", os.path.join(folder, name)
            mode = os.lstat(source).st_mode
            if stat.S_ISLNK(mode):
                os.symlink(os.readlink(source), target)
            elif stat.S_ISDIR(mode):
                os.mkdir(target)
                mount(source, target, None, 4096 | 16384)  # MS_BIND | MS_REC
            elif stat.S_ISREG(mode):
                open(target, "x").close()
                mount(source, target, None, 4096)
        os.close(fd)
    print("ready", flush=True)
except Exception as exc:
    print(f"{type(exc).__name__}: {exc}", flush=True)
    sys.exit(1)
sys.stdin.read()
"""


# The first program of a worker's command inside its sandbox (see _Box.confined): Landlock
# (Linux 5.19+) lets it, and all it starts, write only beneath the places its view mounts
# writable (and the log files it was given as stdout and stderr), however a folder is reached.
# The view alone is no bound on a descriptor of a host folder that another account hands in
# through a Unix socket (O_PATH needs only search permission on the way): a write through it is
# checked against the sandbox's account, the runner's own for an ordinary user (round 58: the
# agent wrote your ~/.bashrc and a hook of your checkout). On Linux 6.12+ it may not connect to
# an abstract Unix socket, nor signal a process, of anything outside either (an X11 display is
# one). Each place is reached from / without following a link. Then the command runs with the
# loader variables it is to have (none while this Python starts: they may name the worktree).
_CONFINE_SCRIPT = r"""
import ctypes, json, os, stat, sys
spec = json.loads(sys.argv[1])
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
def fail(what, err=None):
    err = ctypes.get_errno() if err is None else err
    sys.stderr.write(f"architect-parallel: cannot confine the sandbox: {what}: {os.strerror(err)}\n")
    sys.exit(126)
abi = libc.syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
if abi < 2:
    fail("Landlock (Linux 5.19 or later)", ctypes.get_errno() if abi < 0 else 95)
files = 1 << 1 | 1 << 2 | (1 << 14 if abi >= 3 else 0)  # WRITE_FILE, READ_FILE, TRUNCATE
reads = 1 << 0 | 1 << 2 | 1 << 3  # EXECUTE, READ_FILE, READ_DIR
folders = files | reads | sum(1 << bit for bit in range(4, 14))  # REMOVE_DIR ... MAKE_SYM, REFER
class Ruleset(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]
class Beneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("fd", ctypes.c_int32)]
scoped = 3 if abi >= 6 else 0  # abstract Unix sockets, signals
size = ctypes.sizeof(Ruleset) if scoped else 8
ruleset = libc.syscall(444, ctypes.byref(Ruleset(folders, 0, scoped)), ctypes.c_size_t(size),
                       ctypes.c_uint32(0))
if ruleset < 0:
    fail("landlock_create_ruleset")
def allow(fd, what, rights=None):
    mode = os.fstat(fd).st_mode
    if stat.S_ISLNK(mode):
        fail(what, 40)  # ELOOP
    rule = Beneath(rights or (folders if stat.S_ISDIR(mode) else files), fd)
    if libc.syscall(445, ctypes.c_int(ruleset), ctypes.c_int(1), ctypes.byref(rule),
                    ctypes.c_uint32(0)) != 0:
        fail(what)
# Reading and running: beneath what this view has at each of its top-level entries (a rule
# holds an inode: the view's own /dev, /proc, /tmp and /run are not the host's), and listing
# anywhere; so a folder of the host's /dev, /proc, /tmp or /run that another account hands in
# through a socket reads nothing (round 72: the user's /dev/pts, opened read-only, gave the
# keystrokes of the user's other terminal to the agent).
root = os.open("/", os.O_PATH | os.O_DIRECTORY)
allow(root, "/", 1 << 3)
for name in os.listdir("/"):
    try:
        fd = os.open(name, os.O_PATH | os.O_NOFOLLOW, dir_fd=root)
    except OSError:
        continue
    if not stat.S_ISLNK(os.fstat(fd).st_mode):  # (/bin -> usr/bin: its target is one)
        allow(fd, "/" + name, reads if stat.S_ISDIR(os.fstat(fd).st_mode) else 1 << 0 | 1 << 2)
    os.close(fd)
os.close(root)
for place in spec["write"]:
    fd = os.open("/", os.O_PATH | os.O_DIRECTORY)
    try:
        for part in [p for p in place.split("/") if p]:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISDIR(mode):
                fail(place, 20)  # ENOTDIR
            step = os.open(part, os.O_PATH | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = step
        allow(fd, place)
    except OSError as exc:
        fail(place, exc.errno)
    finally:
        os.close(fd)
for fd in (0, 1, 2):  # (re-opened as /dev/stdin, /dev/stdout: its input read, its logs; round 73)
    st = os.fstat(fd)
    if stat.S_ISREG(st.st_mode) or (stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)):
        allow(fd, f"descriptor {fd}", 1 << 2 if fd == 0 else files)
if libc.prctl(38, 1, 0, 0, 0) != 0 or libc.syscall(446, ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
    fail("landlock_restrict_self")
os.close(ruleset)
if spec.get("probe"):
    print(abi)
    sys.exit(0)
env, argv, said = dict(os.environ, **spec["env"]), sys.argv[2:], None
for folder in [""] if "/" in argv[0] else os.get_exec_path(env):  # (as execvp looks)
    path = os.path.join(folder, argv[0])
    try:
        try:
            os.execve(path, argv, env)
        except OSError as exc:
            if exc.errno != 8:  # ENOEXEC: a script without #!, which execvp gives to sh
                raise
            os.execve("/bin/sh", ["/bin/sh", path, *argv[1:]], env)
    except OSError as exc:  # (one that is there but cannot run says more than none there)
        if said is None or said.errno in (2, 20):
            said = exc
sys.stderr.write(f"architect-parallel: cannot run {argv[0]}: {said.strerror}\n")
sys.exit(127 if said.errno in (2, 20) else 126)
"""


class _Sandbox:
    """bubblewrap (``bwrap``) around each worker: its agent, setup and check commands, and the
    runner's own git commands in its worktree, see a read-only filesystem but for

    - its worktree, and the worktree's own folder under ``.git/worktrees/`` (index, HEAD);
    - private folders that are thrown away when it ends: ``/tmp`` and ``/var/tmp``; its HOME
      (see _Box._home); the repository's git folder (see _Box._repository: files, ``refs/``
      and ``logs/`` copies; its branch is taken out, checked, when it ends); an object
      folder (``GIT_OBJECT_DIRECTORY``: what it made is packed and hashed again on the way
      in);
    - the paths ``--sandbox-allow`` names.

    It does not see the other workers' worktrees, the runner's state, the credential stores
    of HOME, ``/run``'s sockets; ``/proc/sys`` and friends are read-only. Own user, PID, IPC,
    UTS and cgroup namespaces, no capabilities, no kernel keyrings (_seccomp_program), a new
    session, death with the runner. A runner that is root runs it as an unprivileged user
    outside too (see _SANDBOX_HOST_ID), through a mount namespace that lets that user reach
    what the worker needs (_STAGE_SCRIPT).
    """

    def __init__(self, exe: str, nsenter: Optional[str] = None):
        self.exe = exe
        # Outside, the sandbox's user is this unprivileged one when the runner is root.
        self.host_id: Optional[int] = _SANDBOX_HOST_ID if _is_root() else None
        self.nsenter = nsenter
        self.state = ""  # this run's private folder, holding each box's folders (start())
        self.enter: List[str] = []  # what starts bwrap as host_id in the staged view
        self._stage: Optional[subprocess.Popen] = None
        # Why its commands cannot be confined by Landlock too (see _CONFINE_SCRIPT), or None.
        self.unconfined: Optional[str] = "not started"
        self.abi = 0  # Landlock's version here (3, Linux 6.2, bounds truncation too)

    @classmethod
    def resolve(cls, mode: str, warn: Callable[[str], None]) -> Optional[_Sandbox]:
        """The sandbox ``--sandbox MODE`` asks for: None for none, or when auto finds none
        that works (said once); bwrap that cannot work is a ParallelError."""
        if mode == "none":
            return None
        exe, nsenter = _which("bwrap"), _which("nsenter")
        problem = None if exe else f"bubblewrap (bwrap) is not on PATH; {_INSTALL_BWRAP}"
        if problem is None and _is_root() and nsenter is None:
            problem = ("as root, the sandbox runs as an unprivileged user, which needs nsenter "
                       "(util-linux): apt-get install util-linux")
        problem = problem or cls(exe, nsenter).probe()  # type: ignore[arg-type]
        if problem is None:
            return cls(exe, nsenter)  # type: ignore[arg-type]
        if mode == "bwrap":
            raise ParallelError(f"--sandbox bwrap: {problem}")
        warn(f"--sandbox auto: {problem}; the workers run without a sandbox")
        return None

    def flags(self) -> List[str]:
        """bwrap's options that make the namespaces, before any mount."""
        flags = ["--unshare-user"]
        if self.host_id is not None:
            # Not uid 0 inside: a root that maps to root cannot map a nested namespace.
            flags += ["--uid", str(_SANDBOX_UID), "--gid", str(_SANDBOX_UID)]
        return flags + ["--unshare-pid", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
                        "--die-with-parent", "--cap-drop", "ALL", "--new-session"]

    def _as_user(self) -> dict:
        """Popen's arguments that start a process as the sandbox's user outside."""
        if self.host_id is None:
            return {}
        return {"user": self.host_id, "group": self.host_id, "extra_groups": []}

    def probe(self) -> Optional[str]:
        """Why no sandbox can be made here (bwrap's own words), or None."""
        import subprocess
        try:
            proc = subprocess.run([self.exe, *self.flags(), "--ro-bind", "/", "/", "--dev", "/dev",
                                   "--proc", "/proc", "--", "true"], stdin=subprocess.DEVNULL,
                                  capture_output=True, timeout=30, cwd="/", **self._as_user())
        except (OSError, subprocess.SubprocessError) as exc:
            return f"bubblewrap cannot run: {exc}"
        if proc.returncode == 0:
            return None
        said = _last_meaningful_line(proc.stderr.decode("utf-8", "replace")) or \
            f"exit code {proc.returncode}"
        return f"bubblewrap cannot make a sandbox here ({said})"

    @staticmethod
    def check_allowed(paths: List[str], repo: _Repo, host_id: Optional[int]) -> List[str]:
        """The real paths of ``--sandbox-allow`` PATHs, or ConfigError: each must exist, stay
        clear of the repository (its checkouts, worktrees, git folder), and, for a runner that
        is root, be writable by the sandbox's user."""
        real_paths = []
        places = None  # (see _code_places: once)
        kept = [repo.top, repo.common_dir] + [w["path"] for w in repo.worktrees()]
        for path in paths:
            full = os.path.abspath(os.path.expanduser(path))
            if not os.path.exists(full):
                raise ConfigError(f"--sandbox-allow {path}: no such file or folder; make it first "
                                  f"(mkdir -p {shlex.quote(full)})")
            real = os.path.realpath(full)
            mounted = _mounts_below(real)
            if mounted:
                raise ConfigError(f"--sandbox-allow {path}: something is mounted inside it "
                                  f"({_some(mounted, 1, 200)}), which the worker could write too, whatever it is (your "
                                  "HOME, a repository); allow a folder with nothing mounted "
                                  "inside, or the mounted folder itself")
            for name in [real] + _mount_names(real):
                # (what a mount shows under another name is checked under that one too)
                said = path if name == real else \
                    f"{path} (through a mount, the same folder as {_shorten(name, 200)})"
                places = places if places is not None else _code_places(repo)
                _Sandbox._check_allowed_name(said, name, kept, places)
            st = os.stat(real)
            if host_id is not None and not (
                    st.st_uid == host_id and st.st_mode & 0o200
                    or st.st_gid == host_id and st.st_mode & 0o020 or st.st_mode & 0o002):
                raise ConfigError(
                    f"--sandbox-allow {path}: as root, the sandbox runs as uid {host_id}, which "
                    f"cannot write it (owner uid {st.st_uid}, mode {stat.S_IMODE(st.st_mode):04o}); "
                    f"give it to that user (chown {host_id} {shlex.quote(real)}) or run "
                    "architect-parallel as a normal user")
            real_paths.append(real)
        return real_paths

    @staticmethod
    def _check_allowed_name(path: str, real: str, kept: List[str],
                            places: "List[tuple[str, str, bool]]") -> None:
        """ConfigError when the folder by the real path ``real`` (``--sandbox-allow path``)
        holds, is or lies in a place no worker may write (see check_allowed)."""
        if _inside(real, _temp_root()) or real in ("/tmp", "/var/tmp", "/run"):
            raise ConfigError(f"--sandbox-allow {path}: it holds the sandboxes' private "
                              "folders (/tmp); allow a folder inside it instead")
        if _home_startup(real):
            raise ConfigError(f"--sandbox-allow {path}: it is or holds HOME, one of its dot "
                              "files or folders (or where their links lead, a hard link to "
                              "one), or ~/bin, where what a worker writes would "
                              "run in your later sessions (start-up files, tools on PATH, "
                              "tool settings); allow a folder of your own elsewhere")
        if any(_inside(real, k) or _inside(os.path.realpath(k), real) for k in kept):
            raise ConfigError(f"--sandbox-allow {path}: it overlaps the repository (its "
                              "checkouts, worktrees or git folder), which the sandbox keeps "
                              "read-only; allow a folder beside it")
        on_path = _on_path_overlapping(real)
        if on_path:
            raise ConfigError(f"--sandbox-allow {path}: it is, holds or lies in a folder of "
                              f"your PATH ({on_path}), where a program the worker put would "
                              "run as you, outside the sandbox (the tool's own git too); "
                              "allow a folder of data beside it")
        loaded = _loaded_from(real, places)
        if loaded:
            raise ConfigError(f"--sandbox-allow {path}: it is, holds or lies in {loaded}, "
                              "where what the worker put would be loaded by the tool, or "
                              "the programs it starts, as you, outside the sandbox; allow a "
                              "folder beside it")

    @staticmethod
    def allowable(path: str, top: str) -> bool:
        """Whether ``path`` is a place worth naming ``--sandbox-allow`` for, when a worker was
        refused a write there: not the repository, not the system's folders, not a credential
        store or HOME itself (an agent can print any path it likes)."""
        system = ("/etc", "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/boot", "/proc",
                  "/sys", "/dev", "/run", "/var", "/opt", "/srv")
        return os.path.isabs(path) and path != "/" and not _inside(top, path) and \
            not any(_inside(s, path) for s in system) and not _home_startup(path)

    # -- one run ---------------------------------------------------------

    def start(self, repo: _Repo, adapter: _Adapter, env: Dict[str, str], program: str,
              allowed: List[str], token: str) -> None:
        """Make this run's private folder; for a runner that is root, the view in which the
        sandbox's user can reach what its workers need (HOME, the CLI's folder, the
        repository, the agent's program, the allowed paths) and can read the repository.
        ParallelError when it cannot."""
        import tempfile
        self.state = tempfile.mkdtemp(prefix=f"{_SANDBOX_STATE}{token}-")
        if self.host_id is not None:
            self._stage_view(repo, adapter, env, program, allowed)
        self.unconfined = self._confinable()

    def unbounded(self) -> Optional[str]:
        """What this run's sandboxes do not bound that they would with Landlock (see
        _CONFINE_SCRIPT), as the run says it, or None (after start)."""
        who = "your account" if self.host_id is None else f"uid {self.host_id}"
        handed = ("a descriptor of a folder another local account hands a worker (through a "
                  "Unix socket) lets it")
        if self.unconfined is not None:
            return (f"--sandbox: its commands are not confined by Landlock too "
                    f"({self.unconfined}): {handed} write wherever {who} may, and read there "
                    "(your other terminals' keystrokes too); and, where Linux is 6.12 or later, "
                    "its commands may connect to abstract Unix sockets outside the sandbox (an "
                    "X11 display, D-Bus) and signal processes outside it; see the README's "
                    "sandbox limits")
        if self.abi < 3:
            return (f"--sandbox: Landlock here (Linux before 6.2) does not bound truncation: "
                    f"{handed} empty files {who} may write; see the README's sandbox limits")
        return None

    def _confinable(self) -> Optional[str]:
        """Why the commands of this run's sandboxes cannot be confined by Landlock as well
        (see _CONFINE_SCRIPT), or None: the Python running the tool must be there inside
        (not under a folder the sandbox hides), and the kernel must have Landlock (5.19+)."""
        import json
        import subprocess
        python = sys.executable and os.path.realpath(sys.executable)
        hidden = ("/tmp", "/var/tmp", "/run", self.state)
        if not python or any(_inside(h, p) for h in hidden
                             for p in (python, os.path.realpath(sys.base_prefix))):
            return f"the Python running the tool ({python or 'unknown'}) is not there inside"
        if not _inside(os.path.realpath(sys.base_prefix), python):  # (round 66)
            return (f"the Python running the tool ({python}) lies outside its installation "
                    f"({sys.base_prefix}): it would look for its library where the worker may write")
        try:
            proc = subprocess.run(
                [*self.enter, self.exe, *self.flags(), "--ro-bind", "/", "/", "--dev", "/dev",
                 "--proc", "/proc", "--", python, "-I", "-S", "-c", _CONFINE_SCRIPT,
                 json.dumps({"write": [], "env": {}, "probe": 1})],
                cwd="/", stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as exc:
            return str(exc)
        if proc.returncode == 0:
            self.abi = int(proc.stdout.strip() or 0)
            return None
        return _last_meaningful_line(proc.stderr.decode("utf-8", "replace")).replace(
            "architect-parallel: cannot confine the sandbox: ", "") or \
            f"exit code {proc.returncode}"

    def _stage_view(self, repo: _Repo, adapter: _Adapter, env: Dict[str, str], program: str,
                    allowed: List[str]) -> None:
        """As root: the view in which the sandbox's user reaches what its workers need (see
        start). ParallelError when it cannot be made."""
        home = env.get("HOME") or os.path.expanduser("~")
        reach = [home, _account_home() or home, repo.top, repo.common_dir, program, *allowed]
        if sys.executable:  # (the Python that confines its commands: see _CONFINE_SCRIPT)
            reach += [os.path.realpath(sys.executable), os.path.realpath(sys.base_prefix)]
        if adapter.home:
            reach.append(_expand(adapter.home.folder(env), home))
        os.chmod(self.state, 0o711)  # each box's folder is the sandbox user's, below it
        blocked = self._blocked([*reach, self.state], reach[:2])
        import json
        import subprocess
        self._stage = subprocess.Popen(
            [sys.executable, "-I", "-c", _STAGE_SCRIPT, json.dumps({"open": blocked})],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            start_new_session=True)
        said = self._stage.stdout.readline().decode("utf-8", "replace").strip()
        if said != "ready":
            self.stop()
            raise ParallelError(f"--sandbox: cannot prepare the sandbox user's view as root: "
                                f"{said or 'the helper ended'}")
        self.enter = [self.nsenter or "nsenter", f"--mount=/proc/{self._stage.pid}/ns/mnt",
                      "--setgid", str(self.host_id), "--setuid", str(self.host_id), "--"]
        # Who it is there (no group of root's kept), and that it can read the repository (a
        # umask of 077 makes it unreadable).
        who = subprocess.run([*self.enter, "sh", "-c", "id -u; id -G"], cwd="/",
                             stdin=subprocess.DEVNULL, capture_output=True)
        if who.stdout.decode("ascii", "replace").split() != [str(self.host_id)] * 2:
            self.stop()
            raise ParallelError(f"--sandbox: nsenter did not make the sandbox's user uid "
                                f"{self.host_id} alone (it said {who.stdout!r}, {who.stderr!r})")
        # (in /: nsenter leaves its process there)
        check = _git_run(["-C", repo.top, "cat-file", "-e", "HEAD^{tree}"], "/",
                         wrap=_Wrap(lambda cwd: self.enter, {"safe.directory": "*"}))
        if check.returncode != 0:
            words = _last_meaningful_line(check.stderr.decode("utf-8", "replace"))
            self.stop()
            raise ParallelError(
                f"--sandbox: as root, the sandbox runs as uid {self.host_id}, which cannot read "
                f"this repository ({words}); make it readable (chmod -R o+rX) or run "
                "architect-parallel as a normal user")

    @staticmethod
    def remove_stale(repo: _Repo, token: str) -> None:
        """After a runner that was killed (its run ``token``): remove its private folders, and
        give the worktrees and their git folders its sandboxes' user held back to the runner
        (git refuses a repository another user owns)."""
        import glob
        for folder in glob.glob(os.path.join(_temp_root(), f"{_SANDBOX_STATE}{token}-*")):
            _remove_tree(folder)
        if not _is_root():
            return
        paths = [os.path.join(repo.top, n) for n in os.listdir(repo.top) if n.startswith(WORKTREE_PREFIX)]
        admin = os.path.join(repo.common_dir, "worktrees")
        paths += [os.path.join(p, ".git") for p in paths]
        paths += [os.path.join(admin, n) for n in (os.listdir(admin) if os.path.isdir(admin) else [])]
        for path in paths:
            with contextlib.suppress(OSError):
                if os.lstat(path).st_uid == _SANDBOX_HOST_ID:
                    os.lchown(path, os.getuid(), os.getgid())

    def _blocked(self, paths: List[str], whole: List[str]) -> "List[tuple[str, Optional[List[str]]]]":
        """The folders on the way to ``paths`` (as given, and as links resolve) that the
        sandbox's user cannot enter, outermost first, each with the names in it that lead on
        (None: all of them, for the folders ``whole``, HOME)."""
        found: "Dict[str, Optional[set]]" = {}
        whole = [os.path.realpath(w) for w in whole]
        for path in paths:
            for way in {os.path.abspath(path), os.path.realpath(path)}:
                parts = [p for p in way.split(os.sep) if p]
                current = os.sep
                for i, part in enumerate(parts):
                    current = os.path.join(current, part)
                    try:
                        st = os.stat(current)
                    except OSError:
                        break
                    if not stat.S_ISDIR(st.st_mode):
                        break
                    if not self._can_enter(st):
                        names = found.setdefault(current, set())
                        if current in whole or os.path.realpath(current) in whole:
                            found[current] = None
                        elif names is not None and i + 1 < len(parts):
                            names.add(parts[i + 1])
        return [(folder, None if names is None else sorted(names))
                for folder, names in sorted(found.items(), key=lambda f: f[0].count(os.sep))]

    def _can_enter(self, st: os.stat_result) -> bool:
        return bool(st.st_mode & (0o100 if st.st_uid == self.host_id else
                                  0o010 if st.st_gid == self.host_id else 0o001))

    def stop(self) -> None:
        """End what start() made: the staging process, this run's private folder."""
        import subprocess
        if self._stage is not None:
            with contextlib.suppress(OSError):
                self._stage.stdin.close()
            try:
                self._stage.wait(timeout=5)
            except subprocess.TimeoutExpired:  # it must not outlive the run
                self._stage.kill()
                self._stage.wait()
            self._stage.stdout.close()
            self._stage = None
        if self.state:
            _remove_tree(self.state)
            self.state = ""

    def box(self, repo: _Repo, worktree: str, branch: str, adapter: _Adapter, program: str,
            env: Dict[str, str], allowed: List[str], task_file: Optional[str],
            session: Optional[str] = None) -> _Box:
        """Make the sandbox of the worker at ``worktree`` whose agent is ``program``: its
        private folders (a copy of the session ``session`` among them, for continue), its
        HOME, and the command line that runs a command inside. ``env`` (its environment)
        gets what it needs inside."""
        import tempfile
        box = _Box(self, repo, worktree, branch, adapter,
                   tempfile.mkdtemp(prefix=f"{os.path.basename(worktree)}-", dir=self.state))
        try:
            box.make(program, env, allowed, task_file, session)
        except BaseException:
            box.discard()
            raise
        return box


def _targets(argv: List[str], *options: str) -> List[str]:
    """Where bwrap's ``options`` in ``argv`` put something inside (the last of each one's
    arguments: ``--bind SOURCE TARGET``, ``--tmpfs TARGET``), in their order."""
    takes = {"--bind": 2, "--ro-bind": 2, "--ro-bind-try": 2, "--symlink": 2, "--tmpfs": 1,
             "--remount-ro": 1, "--dev": 1, "--proc": 1}
    return [argv[i + takes[word]] for i, word in enumerate(argv)
            if word in options and i + takes[word] < len(argv)]


def _whole(repo: _Repo, sha: str) -> bool:
    """Whether ``sha`` is a commit the repository holds whole: its tree and parents, and
    theirs (what a worker's sandbox claimed to hold may be short of some)."""
    return (repo.git("cat-file", "-t", sha, check=False) or "").strip() == "commit" and \
        repo.git("rev-list", "--objects", "--quiet", sha, "--not", "--all",
                 check=False) is not None


class _ObjectSizes:
    """The count and sizes of the objects a sandbox brings in, against their limits."""

    def __init__(self) -> None:
        self.count, self.largest, self.total = 0, 0, 0

    def add(self, size: int) -> Optional[str]:
        """Count one more object of ``size`` bytes; why that passes a limit, or None."""
        self.count += 1
        self.largest = max(self.largest, size)
        self.total += size
        if self.count > _OBJECTS_COUNT:
            return f"its objects are too many to take in (more than {_OBJECTS_COUNT:,})"
        if self.largest > _OBJECT_LIMIT or self.total > _OBJECTS_LIMIT:
            return self.too_large(self.largest)
        return None

    def too_large(self, largest: int) -> str:
        """What a worker whose objects pass the limits on size fails for."""
        return (f"its objects are too large to take in ({largest >> 20} MB the largest, or "
                f"over {self.total >> 20} MB in all; the limits are {_OBJECT_LIMIT >> 20} MB "
                f"and {_OBJECTS_LIMIT >> 20} MB)")


def _delta_size(data: bytes, at: int) -> "tuple[int, int]":
    """A size as a git delta starts with two (its base's, then what it makes), read from
    ``data`` at ``at``: the size and where the next starts. ValueError when it is cut."""
    value, shift = 0, 0
    while True:
        if at >= len(data) or shift > 70:
            raise ValueError("a delta is too short")
        value |= (data[at] & 0x7F) << shift
        shift += 7
        at += 1
        if not data[at - 1] & 0x80:
            return value, at


def _pack_sizes(f: BinaryIO, width: int, timeout: Optional[float] = None,
                stop: Optional[threading.Event] = None) -> Optional[str]:
    """Why the git pack in ``f`` (object ids of ``width`` bytes) must not be indexed, or None:
    an object, or what a delta in it makes, over _OBJECT_LIMIT, all of them over
    _OBJECTS_LIMIT, or more than _OBJECTS_COUNT of them (what ``git index-pack`` would hold
    in memory for each; it checks all the rest, and each size given here against what it
    inflates); the deltas themselves over _OBJECTS_LIMIT in all (round 87: 10,000 deltas of
    99 MB of zeros, 100 KB each packed, each claiming to make 13 bytes, took an hour to
    inflate). Read as a stream, a MB at a time, each entry inflated to find where it ends;
    stopped after ``timeout`` seconds, or once ``stop`` is set."""
    import zlib
    sizes = _ObjectSizes()
    deltas = 0  # (the bytes of all deltas, inflated)
    deadline = None if timeout is None else time.monotonic() + timeout
    pack = _ReadAhead(f)

    def byte() -> int:
        return pack.take(1)[0]

    def varint(c: int, size: int, shift: int) -> int:
        while c & 0x80:
            c = byte()
            size |= (c & 0x7F) << shift
            shift += 7
            if shift > 70:
                raise ValueError("a size is too long")
        return size

    try:
        head = pack.take(12)
        if head[:4] != b"PACK":
            raise ValueError("it is no pack")
        count = int.from_bytes(head[8:], "big")
        if count > _OBJECTS_COUNT:
            return f"its objects are too many to take in (more than {_OBJECTS_COUNT:,})"
        for _ in range(count):
            c = byte()
            kind, size = (c >> 4) & 7, varint(c, c & 0x0F, 4)
            if kind == 6:  # (a delta against an earlier entry: its distance)
                varint(byte(), 0, 7)
            elif kind == 7:  # (a delta against an object named by its id)
                pack.take(width)
            elif kind not in (1, 2, 3, 4):
                raise ValueError(f"an entry of unknown type {kind}")
            # (a delta is held whole too, and then what it makes)
            deltas += size if kind >= 6 else 0
            problem = sizes.add(size) if kind < 6 else \
                sizes.too_large(size) if size > _OBJECT_LIMIT or deltas > _OBJECTS_LIMIT else None
            if problem:
                return problem
            # Inflated to its end (no further than its size says), a MB at most at a time,
            # given what follows in pieces that grow from 512 bytes (round 88: a MB each, and
            # what followed read again, took 10 s for 100,000 small objects); a delta starts
            # with the size of its base and of what it makes.
            inflate, start, made, step = zlib.decompressobj(), b"", 0, 512
            while not inflate.eof:
                if stop is not None and stop.is_set():
                    return "bringing its objects in stopped"
                if deadline is not None and time.monotonic() > deadline:
                    return f"bringing its objects in took more than {timeout:g}s (stopped)"
                piece = pack.ahead(step)
                if not piece:
                    raise ValueError("it ends early")
                out = inflate.decompress(piece, 1 << 20)
                pack.at += len(piece) - len(inflate.unconsumed_tail) - len(inflate.unused_data)
                step = min(step * 4, 1 << 20)
                made += len(out)
                if made > size:
                    raise ValueError("an entry inflates past its size")
                if kind >= 6 and len(start) < 20:
                    start += out[:20 - len(start)]
            if kind >= 6:
                _base, at = _delta_size(start, 0)
                problem = sizes.add(_delta_size(start, at)[0])
                if problem:
                    return problem
    except (ValueError, zlib.error, OSError) as exc:
        return f"cannot bring its objects in: the pack its git made is malformed ({exc})"
    return None


class _ReadAhead:
    """A file read ahead a MB at a time and given out in pieces of any size, each byte read
    once (see _pack_sizes)."""

    def __init__(self, f: BinaryIO):
        self.f, self.data, self.at = f, b"", 0  # (what was read, and where the next byte is)

    def ahead(self, n: int) -> memoryview:
        """Up to ``n`` of the bytes that follow, not taken (fewer at the file's end)."""
        if len(self.data) - self.at < n:
            self.data, self.at = self.data[self.at:] + self.f.read(max(n, 1 << 20)), 0
        return memoryview(self.data)[self.at:self.at + n]

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes, taken; ValueError when the file ends first."""
        got = bytes(self.ahead(n))
        if len(got) < n:
            raise ValueError("it ends early")
        self.at += n
        return got


class _Box:
    """One worker's sandbox. Its private folders are under ``folder``, a folder of the run's
    private one that nothing inside ever sees: ``tmp`` and ``var-tmp``, ``home-N`` (its
    HOME, see _home), ``objects``, ``refs`` and ``logs`` (the repository's, its own)."""

    def __init__(self, sandbox: _Sandbox, repo: _Repo, worktree: str, branch: str,
                 adapter: _Adapter, folder: str):
        self.sandbox, self.repo, self.worktree, self.branch = sandbox, repo, worktree, branch
        self.adapter, self.folder = adapter, folder
        self.admin = ""  # the worktree's own folder under .git/worktrees/
        self.git: Optional[str] = None  # the runner's git program inside (see make)
        self.argv: List[str] = []  # what runs a command inside, before it
        self.ours: List[str] = []  # the folders of ours it may write: checked at every start
        self.allowed: List[str] = []  # the paths --sandbox-allow lets it write
        # Git settings of every git inside: no reflogs but its stash's (the repository's logs/
        # are a private copy anyway); a runner that is root owns the repository, so the
        # sandbox's user must be let in.
        self.settings = {"core.logAllRefUpdates": "false"}
        if sandbox.host_id is not None:
            self.settings["safe.directory"] = "*"
        self._layers: "List[tuple[str, str]]" = []  # (real folder, its private copy)
        self._mounts: "List[tuple[str, str]]" = []  # (inside, the folder it writes there)
        self._points: List[str] = []  # the mount points of its view
        self._files: "set[str]" = set()  # those of them that are mounts (not made links)
        self._cli: Optional[str] = None  # the CLI's state folder (real path), see _Home
        self._home_top = ""  # HOME, see _readable
        self._refs: Dict[str, bytes] = {}  # the refs it was given, to say what it changed
        self._packed: Dict[str, str] = {}  # the same, of packed-refs
        self._given: "set[str]" = set()  # the session files copied in (continue)
        self._seccomp: Optional[int] = None  # the open seccomp filter (see _seccomp_program)
        self._git_files: Dict[str, str] = {}  # settings naming a file of _git_home, by name
        self._given_config: Dict[str, str] = {}  # the environment's settings (see _given_settings)
        self._writable: List[str] = []  # where its view is writable (see confined)

    def path(self, name: str) -> str:
        """One of this box's private folders (see the class)."""
        return os.path.join(self.folder, name)

    # -- making it ---------------------------------------------------------

    def make(self, program: str, env: Dict[str, str], allowed: List[str],
             task_file: Optional[str], session: Optional[str]) -> None:
        """Make its private folders and HOME, and the command line (see _Sandbox.box)."""
        self.admin = self.repo.admin_folder(self.worktree)
        self.allowed = list(allowed)
        for name in ("tmp", "var-tmp", "objects", "refs", "logs"):
            os.mkdir(self.path(name), 0o700)
        self._give_refs()
        # Read-only and empty inside: no setting can be planted there for the gits outside.
        self._make_empty(self.admin, "config.worktree")
        # (where it really is: bwrap mounts nothing through a link, /home -> /var/home)
        home = os.path.realpath(env.get("HOME") or os.path.expanduser("~"))
        argv = [*self.sandbox.enter, self.sandbox.exe, *self.sandbox.flags(),
                "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
        for name in _PROC_READ_ONLY:
            argv += ["--ro-bind-try", f"/proc/{name}", f"/proc/{name}"]
        # /run holds the host's sockets (Docker, D-Bus, systemd, the user's runtime folder):
        # none is there inside, only the folder resolv.conf may point into.
        argv += ["--tmpfs", "/run", "--ro-bind", self._git_home(), _GIT_HOME]
        # The runner's own gits inside run its git: where that program is in a folder the
        # worker can write (~/bin, a private copy of HOME), from a read-only view of it that
        # nothing inside can rename or replace.
        import tempfile
        self.git = _runner_git()
        writable = [home, _account_home(), "/tmp", "/var/tmp", tempfile.gettempdir(),
                    self.repo.top, *allowed]
        if any(_inside(place, self.git) for place in writable if place and place != "/"):
            argv += ["--ro-bind", self.git, _GIT_PROGRAM]
            self.git = _GIT_PROGRAM
        resolv = os.path.dirname(os.path.realpath("/etc/resolv.conf"))
        if resolv.startswith("/run/"):
            argv += ["--ro-bind-try", resolv, resolv]
        argv += ["--bind", self.path("tmp"), "/tmp", "--bind", self.path("var-tmp"), "/var/tmp"]
        argv += self._home(home, env, session)
        argv += self._repository(task_file)
        for path in allowed:
            argv += ["--bind", path, path]
        # The agent's own program, where the private /tmp hides it: its folder (a wrapper
        # script's helpers beside it), read-only, unless that holds anything else of the view.
        points = _targets(argv, "--bind", "--ro-bind", "--tmpfs")
        for path in sorted({program, os.path.realpath(program)}):
            if any(_inside(hidden, path) for hidden in ("/tmp", "/var/tmp", "/run")):
                folder = os.path.dirname(path)
                whole = folder not in ("/tmp", "/var/tmp", "/run") and not any(
                    _inside(folder, p) for p in [*points, self.sandbox.state, home])
                argv += ["--ro-bind", folder if whole else path, folder if whole else path]
        # The Python that confines its commands (see confined), where a private copy of HOME
        # or an allowed folder would let the worker replace it before Landlock is set: the
        # real one, read-only (round 60).
        python = os.path.realpath(sys.executable) if sys.executable else ""
        for path in sorted({os.path.realpath(sys.base_prefix), os.path.dirname(python)} - {""}):
            if any(_inside(place, path) and path != place for place in [home, *allowed]):
                argv += ["--ro-bind", path, path]
        bpf = _seccomp_program()
        if bpf is not None:  # read by each start (see command): its offset goes back to 0
            with open(self.path("seccomp"), "wb") as f:
                f.write(bpf)
            self._seccomp = os.open(self.path("seccomp"), os.O_RDONLY)
            argv += ["--seccomp", str(self._seccomp)]
        # The run's private folder, where the system's temporary folder is not /tmp.
        if not any(_inside(t, self.sandbox.state) for t in ("/tmp", "/var/tmp")):
            argv += ["--tmpfs", self.sandbox.state]
        self.argv = argv + ["--setenv", "TMPDIR", "/tmp",
                            "--setenv", "GIT_OBJECT_DIRECTORY", _INSIDE_OBJECTS,
                            "--setenv", "GIT_ALTERNATE_OBJECT_DIRECTORIES",
                            os.path.join(self.repo.common_dir, "objects")]
        self.ours = [self.worktree, self.admin, self.folder, *(
            self.path(n) for n in ("tmp", "var-tmp", "objects", "refs", "logs")),
            *(copy for _real, copy in self._layers)]
        # Where the worker can write inside, and from where: a mount point below one of these
        # is reached through folders it could have replaced with links since the last start.
        self._mounts = sorted([("/tmp", self.path("tmp")), ("/var/tmp", self.path("var-tmp")),
                               *self._layers], key=lambda m: -len(m[0]))
        self._points = _targets(argv, "--bind", "--ro-bind", "--ro-bind-try", "--symlink",
                                "--tmpfs", "--remount-ro")
        self._files = set(self._points) - set(_targets(argv, "--symlink"))
        # Where its view is writable, for Landlock to bound (see confined).
        self._writable = _targets(argv, "--bind", "--tmpfs", "--dev", "--proc")
        if self.sandbox.host_id is not None:
            # The worktree (populated inside, as that user, when new), its git folder and
            # the private folders become the sandbox user's; discard() gives the first back.
            for top in (self.worktree, self.admin, self.folder):
                self._own_tree(top)
        env["TMPDIR"] = "/tmp"
        env.update(_git_config_env(env, self.settings))

    @staticmethod
    def _make_empty(folder: str, name: str) -> None:
        """``folder/name`` as an empty file of the runner's, whatever was there (a link too)."""
        _unlink_beneath(folder, name)
        fd = os.open(os.path.join(folder, name),
                     os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        os.close(fd)

    def _own_tree(self, top: str) -> None:
        """Give ``top`` and everything under it to the sandbox's user (a root runner)."""
        uid = self.sandbox.host_id
        for _folder, fd, dirs, files in _walk_at(top):
            os.fchown(fd, uid, uid)
            for name in files:
                os.chown(name, uid, uid, dir_fd=fd, follow_symlinks=False)

    def own(self, names: List[str]) -> None:
        """Give the runner's copies ``names`` in the worktree (include files) and the folders
        made for them to the sandbox's user (a root runner)."""
        uid = self.sandbox.host_id
        if uid is None:
            return
        for name in names:  # (from descriptor to descriptor: a folder on the way swapped for a
            parts = name.split("/")  # link, by a worker that opened the worktree to all, gave
            fd = _open_top(self.worktree)  # root's files away by path, round 62)
            try:
                for i, part in enumerate(parts):
                    st = os.stat(part, dir_fd=fd, follow_symlinks=False)
                    if st.st_uid != uid:
                        os.chown(part, uid, uid, dir_fd=fd, follow_symlinks=False)
                    if i < len(parts) - 1:
                        step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                                       os.O_CLOEXEC, dir_fd=fd)
                        os.close(fd)
                        fd = step
            except OSError:
                continue  # (not there, or no folder: its copy failed, see _copy_files)
            finally:
                os.close(fd)

    def _give_refs(self) -> None:
        """Its private ``refs/``: a copy of the repository's loose refs, its own branch among
        them and the other workers' not; ``packed-refs`` (read-only) completes it."""
        refs = os.path.join(self.repo.common_dir, "refs")
        mine = os.path.join("heads", self.branch)
        others = os.path.join("heads", os.path.dirname(BRANCH_PREFIX), "")
        for folder, _dirs, files in _walk(refs):
            inside = os.path.relpath(folder, refs)
            os.makedirs(os.path.normpath(os.path.join(self.path("refs"), inside)), exist_ok=True)
            for name in files:
                rel = os.path.normpath(os.path.join(inside, name))
                if (rel.startswith(others) and rel != mine) or name.endswith(".lock"):
                    continue
                value = _read_beneath(refs, rel, 200)
                if value is not None:
                    self._refs[rel] = value
                    with open(os.path.join(self.path("refs"), rel), "wb") as f:
                        f.write(value)
        self._packed = _packed_refs(_read_bytes(os.path.join(self.repo.common_dir, "packed-refs")))
        if mine not in self._refs:  # packed: its value from packed-refs
            value = self.repo.git("rev-parse", "--verify", "--quiet", f"refs/{mine}", check=False)
            if value:
                os.makedirs(os.path.dirname(os.path.join(self.path("refs"), mine)), exist_ok=True)
                with open(os.path.join(self.path("refs"), mine), "w") as f:
                    f.write(value)
                self._refs[mine] = value.encode()

    def _repository(self, task_file: Optional[str]) -> List[str]:
        """The repository as the worker sees it: the main checkout read-only but without the
        other worktrees; the git folder a private folder whose files (``packed-refs``,
        ``HEAD``) are copies and whose folders are read-only (``config`` too) but for its
        own ``refs/`` and ``logs/`` (copies, see _give_refs) and its worktree's folder,
        without the other worktrees' folders or the runner's state."""
        top, common = self.repo.top, self.repo.common_dir
        argv = ["--tmpfs", top]
        for entry in _entries(top):
            if entry.name.startswith(WORKTREE_PREFIX) or entry.path == common:
                continue
            if entry.is_symlink():
                argv += ["--symlink", os.readlink(entry.path), entry.path]
            elif entry.is_dir(follow_symlinks=False) or entry.is_file(follow_symlinks=False):
                argv += ["--ro-bind", entry.path, entry.path]
        git = self.path("git")
        os.mkdir(git, 0o700)
        inner: List[str] = []
        for entry in _entries(common):
            target = os.path.join(git, entry.name)
            if entry.name in ("refs", "logs", "worktrees", _STATE_DIR):
                continue
            if entry.is_symlink():
                with contextlib.suppress(OSError):
                    os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                os.mkdir(target, 0o700)  # (the mount point)
                inner += ["--ro-bind", entry.path, entry.path]
            elif entry.name == "packed-refs":
                shutil.copy2(entry.path, target)  # its own, whatever the size
            elif entry.name == "config":  # read-only, its includes in place (see _flat_config)
                flat = self.path("config")
                with open(flat, "wb") as f:
                    f.write(_flat_config(self.repo, "--local", self.worktree, self._outside))
                os.chmod(flat, 0o644)
                open(target, "ab").close()  # (the mount point)
                inner += ["--ro-bind", flat, entry.path]
            elif entry.is_file(follow_symlinks=False):
                inner += self._copy_or_bind(entry.path, target, _COPY_LIMIT)
        for name in ("refs", "logs", "worktrees", _STATE_DIR):
            os.mkdir(os.path.join(git, name), 0o700)
        argv += ["--bind", git, common, *inner,
                 "--bind", self.path("refs"), os.path.join(common, "refs"),
                 "--bind", self.path("logs"), os.path.join(common, "logs"),
                 "--tmpfs", os.path.join(common, "worktrees"),
                 "--tmpfs", os.path.join(common, _STATE_DIR),
                 "--bind", self.admin, self.admin,
                 "--bind", self.path("objects"), _INSIDE_OBJECTS,
                 "--bind", self.worktree, self.worktree]
        if task_file and os.path.isfile(task_file):
            argv += ["--ro-bind", task_file, task_file]
        # Read-only again, over the writable binds: where git is sent (a hook, a
        # core.fsmonitor or core.hooksPath planted there would run outside at the next git).
        for path in [os.path.join(self.worktree, ".git")] + [
                os.path.join(self.admin, name) for name in ("commondir", "gitdir", "config.worktree")]:
            if os.path.lexists(path):
                argv += ["--ro-bind", path, path]
        return argv + ["--remount-ro", top]

    # -- HOME ----------------------------------------------------------------

    def _home(self, home: str, env: Dict[str, str], session: Optional[str]) -> List[str]:
        """The worker's HOME: a private folder, thrown away when it ends, that starts as a view
        of HOME: its folders read-only, its files up to 1 MB private copies (larger ones
        read-only), its links as they are, the credential stores (_SECRETS) left out, the
        package caches (_FRESH) empty; new files and folders can be made anywhere in it. The
        CLI's state folder is a private copy too (see _Home), with the session to continue
        copied in; one outside HOME gets a private copy of its own. The account's home, when
        HOME is elsewhere, stays read-only, without its credential stores."""
        spec = self.adapter.home
        folder = self._cli = os.path.realpath(_expand(spec.folder(env), home)) if spec else None
        self._home_top = home
        rules: Dict[str, str] = {name: "hide" for name in _secrets(self.adapter, env, home)}
        argv: List[str] = []
        account = _account_home()
        for top in [home] + ([account] if account and account != home else []):
            for name in list(rules):  # where a link (a dotfiles folder) keeps one, it goes too
                path = os.path.join(top, name)
                real = os.path.realpath(path)
                if real == path or not os.path.lexists(real):
                    continue
                if _inside(home, real) and real != home:
                    rules[os.path.relpath(real, home)] = "hide"
                elif os.path.isdir(real):
                    argv += ["--tmpfs", real]
                else:
                    argv += ["--ro-bind", "/dev/null", real]
        rules.update({name: "fresh" for name in _FRESH})
        for name in (spec.files(env) if spec else []):
            name = _expand(name, home)
            if _inside(home, name) and name != home:
                rules[os.path.relpath(name, home)] = "copy"
        if folder and _inside(home, folder) and folder != home:
            rules[os.path.relpath(folder, home)] = "state"
        masks, argv = argv, []  # (the masks go after the layers they are in)
        for real in [home] + ([folder] if folder and not _inside(home, folder) else []):
            copy = self.path(f"home-{len(self._layers)}")
            os.mkdir(copy, 0o700)
            self._layers.append((real, copy))
            argv += ["--bind", copy, real]
            argv += (self._fill(real, copy, "", rules) if real == home
                     else self._state_folder(real, copy))
        if account and os.path.isdir(account) and not _inside(home, account) \
                and not _inside(account, home):
            for name in _secrets(self.adapter, env, home):
                path = os.path.join(account, name)
                if os.path.isdir(path) and not os.path.islink(path):
                    argv += ["--tmpfs", path]
                elif os.path.lexists(path):
                    argv += ["--ro-bind", "/dev/null", path]
        argv += masks
        if folder and session and spec and spec.session:
            for rel in spec.session(folder, self.worktree, session):
                self._copy_in(folder, rel)
        return argv

    def _fill(self, real: str, copy: str, rel: str, rules: Dict[str, str]) -> List[str]:
        """Fill ``copy``, the private copy of the folder ``real`` (``rel`` in HOME), by the
        ``rules`` (HOME-relative path: hide, fresh, copy, state); return its read-only binds."""
        argv: List[str] = []
        for entry in _entries(real):
            name = os.path.join(rel, entry.name)
            rule = rules.get(name)
            target = os.path.join(copy, entry.name)
            if rule == "hide":
                continue
            below = any(key.startswith(name + os.sep) for key in rules)  # a rule below it
            if rule == "state" and os.path.isdir(entry.path):  # (through a link too)
                os.mkdir(target, 0o700)
                argv += self._state_folder(entry.path, target)
            elif below and os.path.isdir(entry.path):  # (a link too: ~/.config -> dotfiles/)
                os.mkdir(target, 0o700)
                argv += self._fill(entry.path, target, name, rules)
            elif entry.is_symlink():
                with contextlib.suppress(OSError):
                    os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                if rule == "fresh":
                    os.mkdir(target, 0o700)
                else:
                    argv += self._copy_or_bind_folder(entry.path, target, readable=self._readable)
            elif entry.is_file(follow_symlinks=False) and (rule == "copy" or
                                                           self._readable(entry.path)):
                argv += self._copy_or_bind(entry.path, target,
                                           _STATE_COPY_LIMIT if rule == "copy" else _COPY_LIMIT)
        return argv

    def _readable(self, path: str) -> bool:
        """Whether the sandbox's user could read ``path`` of HOME as it is (a root runner's
        copies of HOME become that user's: only what everyone may read is copied, but the
        CLI's own): ``path`` itself, and every folder between HOME and it. HOME's own mode
        does not count: the sandbox runs in your HOME as you would (root's is drwx------)."""
        if self.sandbox.host_id is None:
            return True
        try:
            st = os.lstat(path)
            if not st.st_mode & (0o005 if stat.S_ISDIR(st.st_mode) else 0o004):
                return False
            folder = os.path.dirname(path)
            while self._home_top and folder != self._home_top and \
                    _below(self._home_top, folder):
                if not os.stat(folder).st_mode & 0o001:
                    return False
                folder = os.path.dirname(folder)
        except OSError:
            return False
        return True

    def _state_folder(self, real: str, copy: str) -> List[str]:
        """The CLI's state folder: its files and small folders private copies; of its large
        folders, those it only reads (``keep``) read-only, the others (sessions, logs)
        empty and writable."""
        argv: List[str] = []
        keep = self.adapter.home.keep if self.adapter.home else ()
        for entry in _entries(real):
            target = os.path.join(copy, entry.name)
            if entry.is_symlink():
                with contextlib.suppress(OSError):
                    os.symlink(os.readlink(entry.path), target)
            elif entry.is_dir(follow_symlinks=False):
                argv += self._copy_or_bind_folder(entry.path, target, entry.name not in keep)
            elif entry.is_file(follow_symlinks=False):
                argv += self._copy_or_bind(entry.path, target, _STATE_COPY_LIMIT)
        return argv

    @staticmethod
    def _copy_or_bind_folder(path: str, target: str, fresh: bool = False,
                             readable: Optional[Callable[[str], bool]] = None) -> List[str]:
        """A private copy of the folder ``path`` at ``target`` when it is small (see
        _FOLDER_COPY_LIMIT), of what in it is ``readable``; else a read-only view of it
        (``fresh``: an empty folder). Copied from descriptor to descriptor (see _copy_tree):
        a folder a worker may write (``--sandbox-allow``) can change while it is copied."""
        if readable and not readable(path):
            return []
        entries, size = 0, 0
        for folder, dirs, files in _walk(path):
            entries += len(dirs) + len(files)
            for name in files:
                with contextlib.suppress(OSError):
                    size += os.lstat(os.path.join(folder, name)).st_size
            if entries > _FOLDER_COPY_LIMIT[0] or size > _FOLDER_COPY_LIMIT[1]:
                break
        else:
            try:
                if _copy_tree(path, target, _FOLDER_COPY_LIMIT, readable):
                    return []
            except OSError:
                pass
            _remove_tree(target)
        os.mkdir(target, 0o700)  # (the mount point)
        return [] if fresh else ["--ro-bind", path, path]

    @staticmethod
    def _copy_or_bind(path: str, target: str, limit: int) -> List[str]:
        """A private copy of the file ``path`` at ``target``, or a read-only view of it when
        it is larger than ``limit`` (or cannot be read)."""
        if _copy_file_in(path, target, limit) is not None:
            return []
        with contextlib.suppress(OSError):
            open(target, "ab").close()  # the mount point
        return ["--ro-bind", path, path]

    def _private(self, folder: str) -> "Optional[tuple[str, str]]":
        """Where the private copy of the real folder ``folder`` is: the private folder that
        holds it (the runner's, which nothing inside can replace) and the path below it."""
        for real, copy in self._layers:
            if _inside(real, folder):
                return copy, os.path.relpath(folder, real)
        return None

    def _copy_in(self, folder: str, rel: str) -> None:
        """Copy the session file ``rel`` of the CLI folder ``folder`` into its private copy."""
        private = self._private(folder)
        source = os.path.join(folder, rel)
        if private is None or os.path.islink(source) or not os.path.isfile(source):
            return
        target = os.path.normpath(os.path.join(*private, rel))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if _copy_file_in(source, target, _BRING_BACK_LIMIT) is not None:
            self._given.add(rel)

    # -- using it ------------------------------------------------------------

    def command(self, cwd: str, env: Optional[Dict[str, str]] = None) -> List[str]:
        """The command line that runs a command inside, in ``cwd``, with the variables ``env``
        set there (those bwrap itself must not load by: see _outside_env), before it. Every
        start checks that none of the places it lets the worker write has become a link (or,
        for the runner's own folders, another's) since the box was made."""
        owners = {os.getuid(), self.sandbox.host_id}
        for path in self.ours + self.allowed:
            try:
                st = os.lstat(path)
            except OSError:
                st = None
            if st is None or not _no_links(path) or (
                    path in self.ours and (st.st_uid not in owners or not stat.S_ISDIR(st.st_mode))):
                raise ParallelError(f"--sandbox: {path}, which the worker may write, is gone or "
                                    "no longer the runner's folder; refusing to start anything")
        for point in self._points:
            for inside, source in self._mounts:
                if point != inside and _below(inside, point):
                    rel = os.path.relpath(os.path.dirname(point), inside)
                    if rel != "." and not self._real_folders(source, rel):
                        raise ParallelError(
                            f"--sandbox: the worker made {os.path.join(inside, rel)} (or a folder "
                            f"on the way) a link, where its sandbox mounts {point}; refusing to "
                            "start anything")
                    # and the point itself: bwrap makes a missing one, following a link there
                    # (a file made on the host, outside: its folder renamed and made anew)
                    own = os.path.join(source, os.path.relpath(point, inside))
                    if point in self._files and os.path.islink(own):
                        raise ParallelError(
                            f"--sandbox: the worker made {point}, where its sandbox mounts a "
                            "file or folder, a link; refusing to start anything")
                    break
        if self._seccomp is not None:
            os.lseek(self._seccomp, 0, os.SEEK_SET)
        return [*self.argv, *(a for k, v in (env or {}).items() for a in ("--setenv", k, v)),
                "--chdir", cwd, "--"]

    def confined(self, env: Dict[str, str]) -> List[str]:
        """What runs a worker's command inside, after command()'s line and before its own:
        the program that bounds its writes by Landlock and then starts it with ``env`` (the
        loader variables it is to have: see _CONFINE_SCRIPT); [] where the sandbox cannot
        (see _Sandbox.unconfined: then they go to command())."""
        if self.sandbox.unconfined is not None:
            return []
        import json
        return [os.path.realpath(sys.executable), "-I", "-S", "-c", _CONFINE_SCRIPT,
                json.dumps({"write": self._writable, "env": env})]

    @property
    def fds(self) -> "tuple[int, ...]":
        """The descriptors a command started within must be given (Popen's pass_fds)."""
        return () if self._seccomp is None else (self._seccomp,)

    @staticmethod
    def _real_folders(root: str, rel: str) -> bool:
        """Whether no part of ``rel`` under ``root`` is a link (missing parts are fine: bwrap
        makes them)."""
        current = root
        for part in rel.split(os.sep):
            current = os.path.join(current, part)
            try:
                mode = os.lstat(current).st_mode
            except OSError:
                return True
            if not stat.S_ISDIR(mode):
                return False
        return True

    def wrap(self, *extra: str) -> _Wrap:
        """What a git the runner starts inside runs within (see _git_popen): the settings it
        reads are yours, from a copy the worker cannot write (see _git_home), never those of
        its private HOME, where the agent could add a clean filter, a line conversion or an
        ignore rule that makes the runner's commit differ from what its checks ran on. The
        settings your environment gives (see _given_settings) but those the tool sets, whatever
        their case (round 112: your `core.hookspath`, as git lists it, came after the tool's
        `core.hooksPath` and won: the agent's hook ran in the runner's commit)."""
        own = {_config_name(key) for key in (*_GIT_SETTINGS, *self.settings)}
        settings = dict({key: value for key, value in self._given_config.items()
                         if _config_name(key) not in own},
                        **self.settings, HOME=_GIT_HOME, XDG_CONFIG_HOME=f"{_GIT_HOME}/.config",
                        GIT_CONFIG_GLOBAL=f"{_GIT_HOME}/.gitconfig",
                        GIT_CONFIG_SYSTEM=f"{_GIT_HOME}/system.gitconfig",
                        **{key: f"{_GIT_HOME}/{name}" for key, name in self._git_files.items()})
        # (under Landlock too: a filter driver of yours may load what the agent left there)
        return _Wrap(lambda cwd: [*self.command(cwd), *self.confined({}), *extra], settings,
                     self.fds, self.git)

    def _git_home(self) -> str:
        """A HOME of the runner's own for its gits inside: copies of your git settings
        (~/.gitconfig and ~/.config/git/config as one, see _flat_config; ignore and attributes,
        and the files core.excludesFile and core.attributesFile name), mounted read-only at
        _GIT_HOME."""
        home = self.path("git-home")
        os.makedirs(os.path.join(home, ".config", "git"), exist_ok=True)
        real = os.path.expanduser("~")
        xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(real, ".config")
        with open(os.path.join(home, ".gitconfig"), "wb") as f:  # (includes in place)
            f.write(_flat_config(self.repo, "--global", self.worktree, self._outside))
        with open(os.path.join(home, "system.gitconfig"), "wb") as f:  # (GIT_CONFIG_SYSTEM or
            if not os.environ.get("GIT_CONFIG_NOSYSTEM"):  # /etc/gitconfig may include a file
                f.write(_flat_config(self.repo, "--system", self.worktree, self._outside))
        # Those your environment gives (GIT_CONFIG_COUNT..., GIT_CONFIG_PARAMETERS), the files
        # they include read now, and a file where the worker writes named by its copy.
        self._given_config = _given_settings(self.repo, self.worktree, self._outside)
        copies = [(os.path.join(xdg, "git", name), os.path.join(".config", "git", name))
                  for name in ("ignore", "attributes")]
        self._git_files = {}
        for key, name in (("core.excludesFile", "excludes"), ("core.attributesFile", "attributes")):
            named = _git(["config", "--global", "--path", "--get", key], self.repo.top,
                         check=False, timeout=60)
            if named and named.strip():
                copies.append((named.strip(), name))
                self._git_files[key] = name
        for source, name in copies:
            data = _read_bytes(source, 1 << 20)
            if data is not None:
                with open(os.path.join(home, name), "wb") as f:
                    f.write(data)
        for folder, _dirs, files in _walk(home):  # (the sandbox's user reads them, as root)
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        return home

    def _outside(self, word: str, program: bool = False) -> str:
        """``word`` of a setting of the runner's commit inside (see _flat_config): when it names
        a file in a place the worker writes or does not see (HOME, a temporary folder, the
        repository's folder: a private copy there), the path of a copy in its read-only git
        HOME. A ``program`` named alone is looked for on your PATH (round 115: one in
        ~/.local/bin, where `pip install --user` and pipx put programs, was not found inside);
        ``~/``, ``$HOME/`` and ``${HOME}/`` are your HOME (inside, HOME is another)."""
        import shutil
        import tempfile
        quoted = len(word) > 1 and word[0] == word[-1] and word[0] in "\"'"
        text = word[1:-1] if quoted else word
        home = os.path.expanduser("~")
        # (as the shell expands them: ~ unquoted, $HOME unquoted or in double quotes)
        forms = ("$HOME/", "${HOME}/") if quoted and word[0] == '"' else () if quoted else (
            "~/", "$HOME/", "${HOME}/")
        if forms and text.startswith(forms):
            path = os.path.join(home, text.split("/", 1)[1])
        elif program and text and "/" not in text:
            path = shutil.which(text, path=os.environ.get("PATH", os.defpath)) or text
        else:
            path = text
        writable = [home, _account_home(), "/tmp", "/var/tmp",
                    tempfile.gettempdir(), self.repo.top, *self.allowed]
        if not os.path.isabs(path) or not any(_inside(p, path) for p in writable if p and p != "/"):
            return word
        files = os.path.join(self.path("git-home"), "files")
        os.makedirs(files, exist_ok=True)
        os.chmod(files, 0o755)
        name = f"{len(os.listdir(files))}-{os.path.basename(path)}"
        # (a file that is not there, or past 64 MB, stays missing: no copy)
        if _copy_file_in(os.path.realpath(path), os.path.join(files, name), 64 << 20) is not None:
            os.chmod(os.path.join(files, name), 0o755 if os.access(path, os.X_OK) else 0o644)
        return f'"{_GIT_HOME}/files/{name}"' if quoted else f"{_GIT_HOME}/files/{name}"

    # -- ending it -----------------------------------------------------------

    def close(self, result: WorkerResult, warn: Callable[[str], None],
              timeout: Optional[float] = None, stop: Optional[threading.Event] = None) -> None:
        """When the worker ended: sweep its worktree's git folder first; then bring in its
        objects and branch (a problem fails it); say which refs of its own are thrown away;
        bring back what its CLI must keep (its session; a changed login is only named); give the
        worktree back (a root runner) and throw the private folders away."""
        try:
            planted = self._sweep()
            problem = None
            if os.path.isdir(self.worktree):
                try:
                    problem = self._import_objects(self._tips(), timeout, stop) or \
                        self._take_branch()
                except (ParallelError, OSError) as exc:
                    problem = f"cannot bring its work in: {exc}"
            if planted:
                _fail_worker(result, "the agent left links, FIFOs, devices or refs in its worktree's "
                      f"git folder, removed: {_some(planted)}")
            if problem and stop is not None and stop.is_set() and result.status == "interrupted":
                result.error = f"{result.error or 'interrupted'}; its objects were not brought in"
                _unlink_beneath(self.admin, os.path.join("logs", "HEAD"))
            elif problem:  # and its worktree's HEAD log may name what did not come in
                _fail_worker(result, problem)
                _unlink_beneath(self.admin, os.path.join("logs", "HEAD"))
            thrown, count = self._thrown_refs()
            if thrown:
                warn(f"worker {result.worker_id}: refs it made in its sandbox are thrown away: "
                     + _some(thrown, total=count) + f" (its work is what is on {self.branch})")
            self._bring_back(result.session_id, warn)
        except Exception as exc:  # noqa: BLE001 - what a worker left fails it, not the run
            result.status = "failed"
            result.error = f"cannot take its work back: {type(exc).__name__}: {_shorten(str(exc), 200)}"
        finally:
            self.discard()

    def discard(self) -> None:
        """Give the worktree and its git folder back to the runner, all of what the sandbox's
        account owns there (a root runner: git refuses a repository another user owns; and
        every sandbox of every run is that account, which may change the modes of what it
        owns through a folder another account hands in, round 59) and throw the private
        folders away."""
        if self._seccomp is not None:
            os.close(self._seccomp)
            self._seccomp = None
        if self.sandbox.host_id is not None:
            for path in (self.worktree, os.path.join(self.worktree, ".git")):
                if path and os.path.lexists(path):
                    with contextlib.suppress(OSError):
                        os.lchown(path, os.getuid(), os.getgid())
            uid = self.sandbox.host_id  # (what another account put there stays its own)
            for top in [self.worktree, self.admin] if self.admin else [self.worktree]:
                for _folder, fd, _dirs, files in _walk_at(top):
                    with contextlib.suppress(OSError):
                        if os.fstat(fd).st_uid == uid:
                            os.fchown(fd, os.getuid(), os.getgid())
                    for name in files:
                        st = _stat_at(fd, name)
                        if st is not None and st.st_uid == uid:
                            with contextlib.suppress(OSError):
                                os.chown(name, os.getuid(), os.getgid(), dir_fd=fd,
                                         follow_symlinks=False)
        _remove_tree(self.folder)

    def _sweep(self) -> List[str]:
        """Remove what the worker left in its worktree's git folder that a git would follow
        or hang on: symbolic links, FIFOs, devices, and refs there that are not a plain
        commit id. Returns them. (Nothing of the worker runs any more: its sandbox's
        processes are gone with it.)"""
        planted = []
        for folder, fd, _dirs, files in _walk_at(self.admin):  # never into a link
            for name in files:
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, self.admin)
                st = _stat_at(fd, name)
                if st is None:
                    continue
                if not stat.S_ISREG(st.st_mode) or (
                        rel.startswith("refs" + os.sep)
                        and not name.endswith(".lock") and not re.fullmatch(
                            rb"[0-9a-f]{40}([0-9a-f]{24})?",
                            (_read_at(fd, name, 100) or b"").strip())):
                    _unlink_at(fd, name)
                    planted.append(os.path.relpath(path, self.repo.common_dir))
        if _lstat_beneath(self.admin, "HEAD") is None:  # (git needs one to start)
            _replace_beneath(self.admin, "HEAD", f"ref: refs/heads/{self.branch}\n".encode())
        return planted

    def _import_objects(self, tips: List[str], timeout: Optional[float],
                        stop: Optional[threading.Event] = None) -> Optional[str]:
        """Bring the objects of the commits ``tips`` that the repository lacks into it; why
        not, or None. They are listed, measured and packed in the worker's sandbox (reading
        only what the worker could: no alternates or links of its own lead elsewhere) and
        indexed outside by ``git index-pack``, which hashes each again: an object cannot
        claim another's id. Only what those commits hold is taken and measured (round 85: a
        110 MB file the agent staged, then unstaged, failed a worker whose commits never held
        it); what else the worker wrote is thrown away with its sandbox. Stopped once
        ``stop`` is set."""
        import tempfile
        private = self.path("objects")
        for folder, dirs, files in _walk(private):
            for name in dirs + files:  # (a FIFO named as an object: git would wait on it)
                mode = os.lstat(os.path.join(folder, name)).st_mode
                if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                    return "its object folder holds symbolic links, FIFOs or devices"
        _remove_tree(os.path.join(private, "info"))  # its own alternates
        tips = [tip for tip in dict.fromkeys(tips) if _FULL_ID.fullmatch(tip)]
        if not tips:
            return None
        with tempfile.TemporaryFile() as walk, tempfile.TemporaryFile() as ids, \
                tempfile.TemporaryFile() as new:
            # What the commits reach that your branches do not (those only spare the walk:
            # a worker could give their ids other objects of its own, which then only
            # leaves its commits short of objects, and so not taken: see _whole).
            walk.write(b"".join(tip.encode() + b"\n" for tip in tips))
            for line in self.repo.git("for-each-ref", "--format=%(objectname)",
                                      "refs/heads").splitlines():
                walk.write(b"^" + line.encode() + b"\n")
            walk.seek(0)
            listed = 0

            def reached(line: bytes) -> Optional[str]:
                nonlocal listed
                listed += 1
                if listed > 4 * _OBJECTS_COUNT:
                    return (f"its commits reach too many objects your branches do not (more "
                            f"than {4 * _OBJECTS_COUNT:,})")
                ids.write(line)
                return None

            problem = _git_lines(["rev-list", "--objects", "--no-object-names", "--stdin"],
                                 self.worktree, reached, wrap=self.wrap(), stdin=walk,
                                 timeout=timeout, stop=stop)
            if problem:
                return problem if problem.startswith("its commits reach") else \
                    f"cannot read its objects: {problem}"
            # Only what the repository lacks: an id it has keeps its own content, whatever
            # the worker wrote under it.
            def missing(line: bytes) -> None:
                if line.endswith(b" missing\n"):
                    new.write(line.split(b" ")[0] + b"\n")

            ids.seek(0)
            problem = _git_lines(["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                                 self.repo.top, missing, stdin=ids, timeout=timeout, stop=stop)
            if problem:
                return f"cannot compare its objects with yours: {problem}"
            if not new.tell():
                return None
            # Sizes as the objects claim them in the sandbox, and their count: a first look,
            # before anything is packed (what is packed is measured again: see _pack_in).
            sizes = _ObjectSizes()

            def measured(line: bytes) -> Optional[str]:
                _name, _, size = line.rstrip(b"\n").partition(b" ")
                return sizes.add(int(size) if _digits(size) else _OBJECT_LIMIT + 1)

            new.seek(0)
            problem = _git_lines(["cat-file", "--batch-check=%(objectname) %(objectsize)"],
                                 self.worktree, measured, stdin=new, timeout=timeout, stop=stop,
                                 wrap=self.wrap("env", "GIT_ALTERNATE_OBJECT_DIRECTORIES="))
            if problem:
                return problem if problem.startswith("its objects are") else \
                    f"cannot read its objects: {problem}"
            new.seek(0)
            return self._pack_in(new, len(tips[0]) // 2, timeout, stop)

    def _pack_in(self, new: BinaryIO, width: int, timeout: Optional[float],
                 stop: Optional[threading.Event] = None) -> Optional[str]:
        """Pack the objects ``new`` names (one id a line) in the worker's sandbox, into a file
        of the runner's; measure every object that pack holds (see _pack_sizes) and only then
        index it into the repository (see _import_objects); why not, or None. (Round 86: the
        sizes read in the sandbox were those of a broken copy the worker forged in a pack of
        its own; `pack-objects` then packed its other, whole copy, of 400 MB, which came in.)"""
        import subprocess
        import tempfile
        with tempfile.TemporaryFile() as packed:
            pack = _git_popen(["pack-objects", "--stdout", "-q"], self.worktree, wrap=self.wrap(),
                              stdin=new, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              start_new_session=True)
            with _stopped_at([pack], timeout, stop, reader=True) as ended:
                try:  # (no more than the limit on all its objects, and a little)
                    written = 0
                    for chunk in iter(lambda: pack.stdout.read(1 << 20), b""):
                        written += len(chunk)
                        if written > _OBJECTS_LIMIT + (1 << 20):
                            with contextlib.suppress(OSError):
                                os.killpg(pack.pid, signal.SIGKILL)
                            return (f"its objects are too large to take in (over "
                                    f"{_OBJECTS_LIMIT >> 20} MB packed)")
                        packed.write(chunk)
                finally:
                    pack.stdout.close()
                    pack.wait()
            if ended:
                return f"bringing its objects in {ended[0]}"
            if pack.returncode != 0:
                return "cannot bring its objects in: git pack-objects failed"
            packed.seek(0)
            problem = _pack_sizes(packed, width, timeout, stop)
            if problem:
                return problem
            packed.seek(0)
            index = _git_popen(["index-pack", "--stdin", "--fix-thin", "--strict"],
                               self.repo.top, stdin=packed, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, start_new_session=True)
            with _stopped_at([index], timeout, stop) as ended:
                _out, err = index.communicate()
        if ended:
            return f"bringing its objects in {ended[0]}"
        if index.returncode != 0:
            return ("cannot bring its objects in: "
                    + (_last_meaningful_line(err.decode("utf-8", "replace")) or "git failed"))
        return None

    def _tips(self) -> List[str]:
        """The commits the worker's sandbox ends at, whose objects come in: what its private
        branch and its worktree's detached HEAD name (what else is not taken)."""
        tips = [self._branch_tip()[0]]
        if self.admin is not None:
            tips.append((_read_beneath(self.admin, "HEAD", 100) or b"").strip().decode(
                "ascii", "replace"))
        return [tip for tip in tips if tip and _FULL_ID.fullmatch(tip)]

    def _branch_tip(self) -> "tuple[Optional[str], Optional[str]]":
        """What the worker's private branch names, as its git reads it: its loose ref, else
        its line in the sandbox's own packed-refs (round 86: `git pack-refs`, `git gc` or
        `git maintenance` moved it there, and an honest worker failed); and why that is not
        a commit id, if it is not."""
        rel = os.path.join("heads", self.branch)
        st = _lstat_beneath(self.path("refs"), rel)
        if st is None:
            found = {sha for name, sha in _packed_ref_lines(self.path("git"), "packed-refs")
                     if name == rel}
            if len(found) > 1:  # (which one git reads depends on how it searches)
                return None, f"its packed-refs names its branch {self.branch} twice"
            value = found.pop() if found else None
        elif not stat.S_ISREG(st.st_mode):
            return None, f"its branch {self.branch} became a link"
        else:
            value = (_read_beneath(self.path("refs"), rel, 100) or b"").strip().decode(
                "ascii", "replace")
        if value is None:
            return None, None
        if not _FULL_ID.fullmatch(value):
            return None, f"its branch {self.branch} holds no commit id"
        return value, None

    def take_objects(self, tip: str, timeout: Optional[float],
                     stop: Optional[threading.Event] = None) -> Optional[str]:
        """Bring the objects of the commit ``tip`` into the repository now (see
        _import_objects) and empty its object folder, taken from every other account first: a git in its sandbox
        reads that folder before the repository's, and does not hash again what it reads (a
        pack the agent made may claim a blob's id for other bytes); from now on what it
        reads was hashed as it came in. Why not, or None."""
        private = self.path("objects")
        for _folder, _fd, _dirs, _files in _walk_at(private, force=True,
                                                    tame=stat.S_IWGRP | stat.S_IWOTH):
            pass
        problem = self._import_objects([tip], timeout, stop) or \
            (None if _whole(self.repo, tip) else
             f"its commit {tip[:12]} is not a whole commit here (its objects were not all taken in)")
        if problem is None:
            _empty_beneath(private)
            # (what stays is another account's: a folder of its own it keeps filling, made
            # while the agent had opened this one to all; it could hand git a forged pack)
            left = [entry.name for entry in _entries(private)]
            if left:
                problem = ("its object folder keeps what another account holds there: "
                           + _shorten(", ".join(left[:5]), 200))
        return problem

    def clear_objects(self) -> List[str]:
        """Empty its object folder again (see take_objects), taken from every other account
        first, after a git of the runner's that ran a filter of yours there: the agent's code
        such a filter loads from the worktree wrote a tree there claiming a subtree's id, which
        the gits after it read before the repository's (round 118). The names of what was
        there (what stays is another account's, see take_objects: named too)."""
        private = self.path("objects")
        for _folder, _fd, _dirs, _files in _walk_at(private, force=True,
                                                    tame=stat.S_IWGRP | stat.S_IWOTH):
            pass
        found = [entry.name for entry in _entries(private)]
        if found:
            _empty_beneath(private)
        return found + [entry.name for entry in _entries(private)]

    def _take_branch(self) -> Optional[str]:
        """Set the worker's branch to what its private ref says (a commit id, once its
        objects are in); why not, or None."""
        value, problem = self._branch_tip()
        if value is None:
            return problem
        repo = self.repo
        if repo.git("rev-parse", "--verify", "--quiet", f"refs/heads/{self.branch}",
                    check=False) == value + "\n":
            return None
        if not _whole(repo, value):
            return f"its branch {self.branch} points at {value[:12]}, which is not a whole commit here"
        if repo.git("update-ref", f"refs/heads/{self.branch}", value, check=False) is None:
            return f"its branch {self.branch} points at {value[:12]}, which is not a commit here"
        return None

    def _thrown_refs(self) -> "tuple[List[str], int]":
        """The first 5 (by name) of the refs the worker made, moved or deleted in its private
        ``refs/`` (its branch aside), its stash among them, thrown away with it; and how many
        they are. None held (round 68: 200,000 refs of 4 KB names, about 900 MB held whole)."""
        first: List[str] = []
        count = 0

        def add(name: str) -> None:
            nonlocal first, count
            count += 1
            first.append(name)
            if len(first) > 1000:
                first = sorted(first)[:5]

        refs = self.path("refs")
        mine = os.path.join("heads", self.branch)
        for folder, fd, _dirs, files in _walk_at(refs):
            for name in files:
                rel = os.path.relpath(os.path.join(folder, name), refs)
                if rel != mine and not name.endswith(".lock") and \
                        _read_at(fd, name, 200) != self._refs.get(rel):
                    add(f"refs/{rel}")
        # Its packed-refs as a stream (round 87: 64 MB of empty lines, held whole, took 650 MB):
        # only what the repository's own refs name is kept.
        given: Dict[str, str] = {}  # (what it says of the refs it was given, loose or packed)
        # (no more than 100,000 of its refs: each costs a look at its loose file)
        for name, sha in _packed_ref_lines(self.path("git"), "packed-refs", 100_000):
            if name in self._refs or name in self._packed:
                given[name] = sha
            # (a loose ref, there now or at the start, was looked at above: it comes first)
            if name != mine and name not in self._refs and self._packed.get(name) != sha and \
                    _lstat_beneath(refs, name) is None:
                add(f"refs/{name}")
        for rel, value in self._refs.items():  # (`git pack-refs` moves it: not deleted)
            if rel != mine and _lstat_beneath(refs, rel) is None and given.get(rel) != \
                    value.decode("utf-8", "replace").strip():
                add(f"refs/{rel} (deleted)")
        for name in self._packed:
            if name not in given and name != mine and name not in self._refs and \
                    _lstat_beneath(refs, name) is None:
                add(f"refs/{name} (deleted)")
        return sorted(first)[:5], count

    def _bring_back(self, session: Optional[str], warn: Callable[[str], None]) -> None:
        """Bring what the CLI must keep out of the private HOME into the real one, file by file,
        never through a link: the files of its session, when they are those it was given
        (continue) or new, not a session of yours it claims. A login it changed stays out."""
        spec, folder = self.adapter.home, self._cli
        private = self._private(folder) if folder else None
        if spec is None or folder is None or private is None:
            return
        root, below = private
        for name in spec.credentials:
            # Never taken back: a refreshed token cannot be told from the attacker's own
            # login carrying your name (its id_token needs no signature to look right).
            old = _read_bytes(os.path.join(folder, name))
            new = _read_beneath(root, os.path.join(below, name), _CREDENTIAL_LIMIT + 1)
            if old is not None and new is not None and new != old:
                warn(f"{_shorten(os.path.join(folder, name), 200)}: the CLI changed its login "
                     "in its sandbox (a refresh?); yours is kept as it was, as always (if the "
                     "CLI then says you are logged out, log in again)")
        st = _lstat_beneath(root, below) if below != "." else os.lstat(root)
        if not spec.session or not session or st is None or not stat.S_ISDIR(st.st_mode):
            return
        files = spec.session(os.path.normpath(os.path.join(root, below)), self.worktree, session)
        if len(files) > 1:  # one conversation is one file: the others were planted
            warn(f"worker's CLI left {len(files)} files that claim its session {session}; "
                 "none is brought back")
            return
        for rel in files:
            target = os.path.join(folder, rel)
            if rel not in self._given and (os.path.lexists(target) or self._yours(folder, rel,
                                                                                   session)):
                warn(f"worker's CLI said its session is {session}, which it was not given: "
                     f"{_shorten(target, 200)} is kept as it was")
                continue
            source = _open_beneath(root, os.path.normpath(os.path.join(below, rel)))
            if source is not None:
                try:
                    self._bring_file(source, folder, rel, session, warn)
                finally:
                    os.close(source)

    @staticmethod
    def _bring_file(source: int, folder: str, rel: str, session: str,
                    warn: Callable[[str], None]) -> None:
        """Bring the session file open as ``source`` back as ``rel`` of the CLI's ``folder``,
        a MB at a time, its holes kept; one larger than _BRING_BACK_LIMIT stays out, one
        holding more than _BRING_BACK_SAY on disk is named."""
        target = os.path.join(folder, rel)
        st = os.fstat(source)
        if st.st_size > _BRING_BACK_LIMIT:
            warn(f"worker's CLI left its session {session} in a file of {st.st_size >> 20} MB, "
                 f"more than {_BRING_BACK_LIMIT >> 20} MB: not brought back to "
                 f"{_shorten(target, 200)}")
        elif not _same_bytes(source, st.st_size, target):
            if not _put_beneath(folder, rel, source, st.st_size):
                warn(f"{_shorten(target, 200)}: a link on its way (or no folder it could make) "
                     "in your CLI's folder; its session is not brought back")
            elif st.st_blocks * 512 > _BRING_BACK_SAY:
                warn(f"worker's CLI left its session {session} in a file of "
                     f"{st.st_blocks >> 11} MB: brought back to {_shorten(target, 200)} "
                     "(yours: cleanup leaves it)")

    @staticmethod
    def _yours(folder: str, rel: str, session: str) -> bool:
        """Whether a file of yours in the CLI's state ``folder`` (under ``rel``'s first folder:
        sessions/, projects/) already names the session ``session``: one the worker claims
        under another name (another date, another project) is not brought back beside it."""
        top = os.path.join(folder, rel.split(os.sep)[0])
        seen = 0
        for _path, _dirs, names in _walk(top):
            seen += len(names)
            if any(session in name for name in names) or seen > 200000:
                return True
        return False


# A line saying a write was refused as read-only (EROFS: a read-only mount), or not allowed
# (EACCES: as root, the sandbox's user may not write your files), as shells, coreutils, git,
# Python and Node.js print it, and a path in it.
_REFUSED_LINE = _LazyPattern(r"(read-only file system|\bEROFS\b)|permission denied|\bEACCES\b", re.I)
_PATH_IN_LINE = _LazyPattern(r"""['"`](/[^'"`\n]+)['"`]|(?<![\w.])(/[^\s:'"`,;()]+)""")


def _refused(paths: List[str], writable: Callable[[str], bool]) -> List[str]:
    """The paths the ends of the logs ``paths`` say a write to was refused (read-only; or not
    allowed where the worker may not write: not ``writable``), first seen first."""
    found: List[str] = []
    for path in paths:
        for line in _log_tail(path, _RESULT_TAILS[0]).splitlines():
            said = _REFUSED_LINE.search(line)
            if not said:
                continue
            # A quoted path is the one refused; else the nearest before the words (a shell
            # names its script first: "x.sh: 3: cannot create /y: Read-only file system").
            matches = list(_PATH_IN_LINE.finditer(line))
            quoted = [m.group(1) for m in matches if m.group(1)]
            before = [m.group(2) for m in matches if m.group(2) and m.end() <= said.start()]
            after = [m.group(2) for m in matches if m.group(2) and m.start() >= said.end()]
            where = [w.rstrip(":") for w in (quoted or before[-1:] or after)[:1]]
            if where and where[0] not in found and len(found) < 10 and (
                    said.group(1) or not writable(where[0])):
                found.append(_shorten(where[0], 200))
    return found


class _Wrap:
    """What a git the tool starts runs within (a worker's sandbox): ``command``, given the
    folder it runs in, is the command line before git's; ``settings``, the git settings of
    the gits there."""

    __slots__ = ("command", "settings", "fds", "git")

    def __init__(self, command: Callable[[str], List[str]], settings: Dict[str, str],
                 fds: "tuple[int, ...]" = (), git: Optional[str] = None):
        self.command, self.settings, self.fds = command, settings, fds  # fds: see _Box.fds
        self.git = git  # the git program there (see _Box.make); None: the runner's own


def _entries(folder: str) -> List[os.DirEntry]:
    """The entries of ``folder`` by name ([] when it cannot be read)."""
    try:
        return sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError:
        return []


def _expand(path: str, home: str) -> str:
    """``~/x`` under ``home``; an absolute path as it is."""
    return os.path.normpath(os.path.join(home, path[2:]) if path.startswith("~/") else
                            home if path == "~" else os.path.abspath(path))


def _put_beneath(folder: str, rel: str, source: int, size: int) -> bool:
    """Write the first ``size`` bytes of the file open as ``source`` as the file ``rel`` of
    ``folder``, a new file put in its place, its holes kept (see _copy_spans: a file an agent
    made sparse, which cost it nothing, costs you nothing either), making the folders on its
    way; False, writing nothing, when one of them, or the file, is a link or no folder
    (nothing followed below ``folder``)."""
    parts = os.path.normpath(rel).split(os.sep)
    if not parts or any(p in ("", ".", "..") for p in parts):
        return False
    os.makedirs(folder, exist_ok=True)  # (the CLI's folder: yours, as your HOME leads to it)
    here = folder
    for part in parts[:-1]:
        here = os.path.join(here, part)
        with contextlib.suppress(FileExistsError):
            os.mkdir(here, 0o700)
        if not stat.S_ISDIR(os.lstat(here).st_mode):
            return False
    target = os.path.join(here, parts[-1])
    if os.path.islink(target):
        return False
    try:
        mode = stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mode = 0o600
    _replace_file(target, lambda fd: _copy_spans(source, fd, size), mode)
    return True


def _same_bytes(source: int, size: int, path: str) -> bool:
    """Whether the regular file ``path`` holds the ``size`` bytes of the file open as
    ``source``, read a MB at a time of each."""
    try:
        if os.stat(path).st_size != size:
            return False
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        for start in range(0, size, 1 << 20):
            mine = os.pread(source, 1 << 20, start)
            if not mine or os.pread(fd, len(mine), start) != mine:
                return False
        return True
    finally:
        os.close(fd)


def _packed_ref_lines(root: str, rel: str, limit: Optional[int] = None
                      ) -> Iterator["tuple[str, str]"]:
    """The refs (name below ``refs/``, object id) of the ``packed-refs`` file ``rel`` under
    ``root`` (an agent's), as they come: of its first 64 MB, read a MB at a time, each line
    found by a regular expression (what is no ref line costs no Python object), lines over
    8 KB skipped, and no more than ``limit`` refs."""
    fd = _open_beneath(root, rel)
    if fd is None:
        return
    with os.fdopen(fd, "rb") as f:
        rest, read, skip, found, ended = b"", 0, False, 0, False
        while not ended:
            chunk = f.read(min(1 << 20, (64 << 20) - read)) if read < 64 << 20 else b""
            read += len(chunk)
            if not chunk:
                chunk, ended = b"\n", True  # (its last line, if it has no line end)
            if skip:  # (the rest of a line too long)
                cut = chunk.find(b"\n")
                if cut < 0:
                    continue
                chunk, skip = chunk[cut + 1:], False
            chunk = rest + chunk
            cut = chunk.rfind(b"\n") + 1
            rest = chunk[cut:]
            if len(rest) > 8192:
                rest, skip = b"", True
            for match in _PACKED_REF.finditer(chunk, 0, cut):
                found += 1
                if limit is not None and found > limit:
                    return
                yield (match.group(2).decode("utf-8", "surrogateescape"),
                       match.group(1).decode("ascii"))


_PACKED_REF = _LazyPattern(rb"^([0-9a-f]{40}(?:[0-9a-f]{24})?) refs/([^\n]{1,8192})$", re.M)


def _packed_refs(data: Optional[bytes]) -> Dict[str, str]:
    """The refs a ``packed-refs`` file holds, below ``refs/``: name -> object id."""
    found = {}
    for line in (data or b"").decode("utf-8", "surrogateescape").splitlines():
        sha, _, name = line.partition(" ")
        if name.startswith("refs/") and not line.startswith(("#", "^")):
            found[name[len("refs/"):]] = sha
    return found


def _secrets(adapter: _Adapter, env: Dict[str, str], home: str) -> List[str]:
    """What of HOME a worker of ``adapter`` does not see (HOME-relative): _SECRETS, and, for a
    preset's CLI, the state folders and files of the others (their logins, your sessions).
    A template's command may be a script that runs any of them: it sees them all."""
    names = list(_SECRETS)
    for preset in PRESETS.values() if adapter.home else ():
        spec = preset.home
        if spec is None or spec is adapter.home:
            continue
        for path in [spec.folder(env), *spec.files(env)]:
            path = _expand(path, home)
            if path != home and _below(home, path):
                names.append(os.path.relpath(path, home))
    return sorted(set(names))


def _temp_root() -> str:
    """The system's folder of temporary files, where each run's private folder is made."""
    import tempfile
    return os.path.realpath(tempfile.gettempdir())


######################################################################
# Configuration file and YAML reader
######################################################################

def _check_value(key: str, value: object, label: Optional[str] = None) -> None:
    """Raise ConfigError unless ``value`` is acceptable for setting ``key``.

    ``label`` names the value in the message (a flag, or file, line and key).
    """
    def bad(expected: str) -> ConfigError:
        if label and label.startswith("--"):  # null is for config files
            expected = expected.replace(", or null", "")
        return ConfigError(f"{label or key} must be {expected}, got {value!r}")

    is_int = isinstance(value, int) and not isinstance(value, bool)
    if key == "workers":
        if not is_int or not 1 <= value <= MAX_WORKERS:
            raise bad(f"an integer from 1 to {MAX_WORKERS}")
    elif key == "max_steps":
        if not is_int or value < 1:
            raise bad("an integer of at least 1")
    elif key == "budget_per_worker":
        if value is not None and (not _is_number(value) or not value > 0 or math.isinf(value)):
            raise bad("a number of USD greater than 0, or null")
    elif key == "timeout_per_worker":
        if value is not None and (not is_int or value < 1):
            raise bad("a whole number of seconds of at least 1, or null")
    elif key == "agent":
        if not isinstance(value, str) or not value.strip() or value.startswith("-") or "\0" in value:
            raise bad("an agent name")
    elif key == "agent_cmd":
        if not isinstance(value, str) or not value.strip() or "\0" in value:
            raise bad(f"a preset ({', '.join(PRESETS)}) or a command template")
    elif key in ("include", "setup", "checks"):
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, str) and v.strip() and "\0" not in v for v in value):
            raise bad("a list of non-empty strings")
    elif key == "check_timeout":
        if not _is_number(value) or not 0 < value < math.inf:
            raise bad("a number of seconds greater than 0")
    elif key == "port_base":
        if not is_int or not 1 <= value <= 65535 - MAX_WORKERS * 10:
            raise bad("a port number")
    elif key in ("commit", "check_all", "stop_on_pass"):
        if not isinstance(value, bool):
            raise bad("true or false")
    elif key == "sandbox":
        if value not in _SANDBOX_MODES:
            raise bad(" or ".join(_SANDBOX_MODES))
    elif key == "sandbox_allow":
        if not isinstance(value, (list, tuple)) or not all(
                isinstance(v, str) and v.strip() and "\0" not in v for v in value):
            raise bad("a list of paths")
    elif key == "budget_total":
        if value is not None and (not _is_number(value) or not value > 0 or math.isinf(value)):
            raise bad("a number of USD greater than 0, or null")
    elif key == "retries":
        if not is_int or not 0 <= value <= 10:
            raise bad("an integer from 0 to 10")
    else:
        import difflib
        close = difflib.get_close_matches(key, list(DEFAULTS), n=1)
        raise ConfigError(f"{label or key}: unknown key"
                          + (f" (did you mean {close[0]}?)" if close else "")
                          + f" (value {_shorten(repr(value), 40)}; known keys: {', '.join(DEFAULTS)})")


def _one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion or substitution (or swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    i = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    return (a[i + 1:] == b[i + 1:] or a[i + 1:] == b[i:] or a[i:] == b[i + 1:]
            or (a[i:i + 2] == b[i:i + 2][::-1] and a[i + 2:] == b[i + 2:]))


def _load_config_file(path: str, warnings: Optional[List[str]] = None) -> dict:
    """The validated ``parallel_runs:`` (or ``parallel:``) section of a config file.

    The file may hold the agent's own settings too, so other top-level keys are fine;
    ``warnings`` gets a line for those that look like a mistake: a misspelt section
    name, or a key of the section written at the top level.
    """
    try:
        with open(path, encoding="utf-8-sig") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    reader = _YamlReader(text)
    try:
        document = reader.read()
    except ConfigError as exc:
        raise ConfigError(f"{path} {exc}") from None  # "<path> line N: ..."
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise ConfigError(f"{path} line 1: the top level must be a mapping, got {type(document).__name__} "
                          f"{_shorten(repr(document), 40)}")
    for key in document:
        line = reader.key_lines.get((key,), "?")
        close = [name for name in ("parallel_runs", "parallel") if _one_edit(str(key), name)]
        if key in ("parallel_runs", "parallel"):
            continue
        if close and warnings is not None:
            warnings.append(f"{path} line {line}: '{key}' is not read; did you mean {close[0]}?")
        elif key in DEFAULTS and warnings is not None:
            warnings.append(f"{path} line {line}: '{key}' at the top level is not read; put it "
                            "under parallel_runs:")
    names = [name for name in ("parallel_runs", "parallel") if name in document]
    if len(names) > 1:
        raise ConfigError(f"{path} line {reader.key_lines.get((names[1],), '?')}: has both "
                          "'parallel_runs' and 'parallel'; keep one")
    if not names:
        return {}
    section = document[names[0]]
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigError(f"{path} line {reader.key_lines.get((names[0],), '?')}: "
                          f"{names[0]} must be a mapping, got {_shorten(repr(section), 40)}")
    for key, value in section.items():
        line = reader.key_lines.get((names[0], key), "?")
        _check_value(str(key), value, label=f"{path} line {line}: {names[0]}.{key}")
    return dict(section)


# The reader follows the behaviour of PyYAML (its scanner, parser and
# SafeConstructor), so that every document we accept gives exactly what
# yaml.safe_load() gives. What lies outside the supported subset (anchors,
# aliases, tags, directives, '?' keys, several documents, duplicate keys,
# merge keys, ...) raises ConfigError instead of being guessed at.

_BREAK = '\r\n\x85\u2028\u2029'          # PyYAML's line break characters
_BREAK0 = '\0' + _BREAK                  # ... or the end of the input
_BLANK = '\0 \t' + _BREAK                # ... or a space or tab
_NOT_PLAIN_START = _BLANK + '-?:,[]{}#&*!|>\'"%@`'
_ESCAPE_CHARS = '0abt\tnvfre "\\/N_LP'    # '\x' escapes and their values
_ESCAPE_VALUES = '\0\x07\x08\t\t\n\x0b\x0c\r\x1b "\\/\x85\xa0\u2028\u2029'
_KEY_STOPS = ('KEY', ':', 'BEND')        # tokens that end a block key/value
_MAX_DEPTH = 100                         # nesting limit, keeps clear of RecursionError
_NO_KEY = "expected 'key: value' (no ':' found on this line)"

# PyYAML's reader refuses these characters anywhere in the input.
_NON_PRINTABLE = _LazyPattern(
    '[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]')
_LINE_BREAKS = _LazyPattern('\r\n|[\r\n\x85\u2028\u2029]')

# The implicit types of YAML 1.1 (yaml.org/type), as PyYAML resolves them. No
# text matches two of them, so the order in which they are tried does not matter.
_BOOL_RE = _LazyPattern(r'''^(?:yes|Yes|YES|no|No|NO
                    |true|True|TRUE|false|False|FALSE
                    |on|On|ON|off|Off|OFF)$''', re.X)
_FLOAT_RE = _LazyPattern(r'''^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
                    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
                    |[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
                    |[-+]?\.(?:inf|Inf|INF)
                    |\.(?:nan|NaN|NAN))$''', re.X)
_INT_RE = _LazyPattern(r'''^(?:[-+]?0b[0-1_]+
                    |[-+]?0[0-7_]+
                    |[-+]?(?:0|[1-9][0-9_]*)
                    |[-+]?0x[0-9a-fA-F_]+
                    |[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$''', re.X)
_NULL_RE = _LazyPattern(r'''^(?: ~
                    |null|Null|NULL
                    | )$''', re.X)
_TIMESTAMP_RE = _LazyPattern(r'''^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]
                    |[0-9][0-9][0-9][0-9] -[0-9][0-9]? -[0-9][0-9]?
                    (?:[Tt]|[ \t]+)[0-9][0-9]?
                    :[0-9][0-9] :[0-9][0-9] (?:\.[0-9]*)?
                    (?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$''', re.X)
# PyYAML's constructor regex, which splits a timestamp into its fields.
_TIMESTAMP_PARTS = _LazyPattern(r'''^(?P<year>[0-9][0-9][0-9][0-9])
                -(?P<month>[0-9][0-9]?)
                -(?P<day>[0-9][0-9]?)
                (?:(?:[Tt]|[ \t]+)
                (?P<hour>[0-9][0-9]?)
                :(?P<minute>[0-9][0-9])
                :(?P<second>[0-9][0-9])
                (?:\.(?P<fraction>[0-9]*))?
                (?:[ \t]*(?P<tz>Z|(?P<tz_sign>[-+])(?P<tz_hour>[0-9][0-9]?)
                (?::(?P<tz_minute>[0-9][0-9]))?))?)?$''', re.X)
_INF = float('inf')
_NAN = float('nan')   # a single object, like PyYAML's nan_value


def _fail(line: int, reason: str) -> ConfigError:
    """The ConfigError for a problem on 0-based ``line``."""
    return ConfigError('line %d: %s' % (line + 1, reason))


def _base60(value: str, convert) -> object:
    """``convert(value)``, where ``1:30`` style values count in base 60."""
    if ':' not in value:
        return convert(value)
    result, base = convert(0), 1
    for part in reversed(value.split(':')):
        result += convert(part) * base
        base *= 60
    return result


def _to_int(text: str) -> int:
    """PyYAML's construct_yaml_int."""
    value = text.replace('_', '')
    sign = -1 if value[0] == '-' else 1
    if value[0] in '+-':
        value = value[1:]
    if value == '0':
        return 0
    if value.startswith('0b'):
        return sign * int(value[2:], 2)
    if value.startswith('0x'):
        return sign * int(value[2:], 16)
    if value[0] == '0':
        return sign * int(value, 8)
    return sign * _base60(value, int)


def _to_float(text: str) -> float:
    """PyYAML's construct_yaml_float."""
    value = text.replace('_', '').lower()
    sign = -1 if value[0] == '-' else 1
    if value[0] in '+-':
        value = value[1:]
    if value == '.inf':
        return sign * _INF
    if value == '.nan':
        return _NAN
    return sign * _base60(value, float)


def _to_timestamp(text: str) -> object:
    """PyYAML's construct_yaml_timestamp: a date, naive or aware datetime."""
    import datetime
    parts = _TIMESTAMP_PARTS.match(text).groupdict()
    date = int(parts['year']), int(parts['month']), int(parts['day'])
    if not parts['hour']:
        return datetime.date(*date)
    fraction = int((parts['fraction'] or '0')[:6].ljust(6, '0'))
    tzinfo = None
    if parts['tz_sign']:
        delta = datetime.timedelta(hours=int(parts['tz_hour']),
                                   minutes=int(parts['tz_minute'] or 0))
        tzinfo = datetime.timezone(-delta if parts['tz_sign'] == '-' else delta)
    elif parts['tz']:
        tzinfo = datetime.timezone.utc
    return datetime.datetime(*date, int(parts['hour']), int(parts['minute']),
                             int(parts['second']), fraction, tzinfo=tzinfo)


def _resolve_plain(text: str) -> object:
    """Type a plain scalar like PyYAML's resolver and SafeConstructor."""
    if _NULL_RE.match(text):
        return None
    if _BOOL_RE.match(text):
        return text.lower() in ('yes', 'true', 'on')
    if _INT_RE.match(text):
        return _to_int(text)
    if _FLOAT_RE.match(text):
        return _to_float(text)
    if _TIMESTAMP_RE.match(text):
        return _to_timestamp(text)
    return text


class _Scanner:
    """Turns text into tokens: a port of PyYAML's Reader and Scanner.

    Tokens are tuples ``(kind, line, value, plain)`` with a 0-based line.
    Kinds: 'SCALAR', 'KEY', 'BSEQ' / 'BMAP' (a block collection starts), 'BEND'
    (it ends), 'END', or the indicator itself: - : , [ ] { } --- ...
    """

    def __init__(self, text: str):
        bad = _NON_PRINTABLE.search(text)
        if bad:
            line = len(_LINE_BREAKS.findall(text, 0, bad.start()))
            raise _fail(line, 'character %r is not allowed' % bad.group())
        self.buf = text + '\0\0\0\0'    # NUL marks the end, as in PyYAML
        self.ptr = self.line = self.col = 0
        self.tokens = []
        self.flow_level = 0             # number of unclosed '[' and '{'
        self.flows = []                 # the unclosed '[' and '{', with their lines
        self.indent = -1                # column of the innermost block collection
        self.indents = []
        self.allow_key = True           # may a simple key start here?
        self.keys = {}                  # flow level -> possible simple key

    # -- characters (PyYAML's Reader) --
    def peek(self, i: int = 0) -> str:
        return self.buf[self.ptr + i]

    def prefix(self, n: int) -> str:
        return self.buf[self.ptr:self.ptr + n]

    def forward(self, n: int = 1) -> None:
        for _ in range(n):
            ch = self.buf[self.ptr]
            self.ptr += 1
            if ch in '\n\x85\u2028\u2029' or (ch == '\r' and self.buf[self.ptr] != '\n'):
                self.line += 1
                self.col = 0
            elif ch != '\ufeff':        # PyYAML gives a BOM no width
                self.col += 1

    def line_break(self) -> str:
        """Consume one line break, returned normalised ('' if there is none)."""
        ch = self.peek()
        if ch in '\r\n\x85':
            self.forward(2 if self.prefix(2) == '\r\n' else 1)
            return '\n'
        if ch in '\u2028\u2029':
            self.forward()
            return ch
        return ''

    def at_document_marker(self) -> bool:
        return self.prefix(3) in ('---', '...') and self.peek(3) in _BLANK

    def add(self, kind: str, size: int = 0) -> None:
        """Add a token without value and skip its ``size`` characters."""
        self.tokens.append((kind, self.line, None, False))
        self.forward(size)

    # -- the main loop: PyYAML's fetch_more_tokens, run to the end --
    def scan(self) -> list:
        while True:
            self.skip_to_token()
            self.stale_keys()
            self.unwind(self.col)
            ch = self.peek()
            if ch == '\0':
                self.unwind(-1)
                self.remove_key()
                self.add('END')
                return self.tokens
            if ch == '%' and self.col == 0:
                raise _fail(self.line, "directives ('%') are not supported")
            if ch in '-.' and self.col == 0 and self.at_document_marker():
                self.unwind(-1)
                self.remove_key()
                self.allow_key = False
                self.add(self.prefix(3), 3)
            elif ch in '[{':
                self.save_key()
                self.flow_level += 1
                self.flows.append((ch, self.line))
                self.allow_key = True
                self.add(ch, 1)
            elif self.flow_level and ch in ']},':
                self.remove_key()
                self.flow_level -= ch != ','
                if ch != ',':
                    self.flows.pop()
                self.allow_key = ch == ','
                self.add(ch, 1)
            elif ch == '-' and self.peek(1) in _BLANK:
                self.block_entry()
            elif ch == '?' and (self.flow_level or self.peek(1) in _BLANK):
                raise _fail(self.line, "complex keys ('?') are not supported")
            elif ch == ':' and (self.flow_level or self.peek(1) in _BLANK):
                self.value_indicator()
            elif ch in '*&!':
                raise _fail(self.line, "anchors ('&'), aliases ('*') and tags ('!') "
                                       "are not supported")
            elif ch in '|>' and not self.flow_level:
                self.allow_key = True
                self.remove_key()
                self.tokens.append(self.block_scalar(ch == '>'))
            elif ch in '\'"':
                self.save_key()
                self.allow_key = False
                self.tokens.append(self.quoted_scalar(ch == '"'))
            elif ch not in _NOT_PLAIN_START or (self.peek(1) not in _BLANK and (
                    ch == '-' or (not self.flow_level and ch in '?:'))):
                self.save_key()
                self.allow_key = False
                self.tokens.append(self.plain_scalar())
            elif ch == '\t':
                raise _fail(self.line, 'tabs are not allowed here (indent with spaces)')
            else:   # PyYAML rejects these too: '@', '`', '%', ',', ']', '}' ...
                raise _fail(self.line, ('unmatched %r' if ch in ']}' else
                                        'a value cannot start with %r') % ch)

    def skip_to_token(self) -> None:
        """Skip spaces, comments and line breaks."""
        if self.ptr == 0 and self.peek() == '\ufeff':
            self.forward()
        while True:
            while self.peek() == ' ':
                self.forward()
            if self.peek() == '#':
                # PyYAML reads '"a"#b' as "a" plus a comment, YAML as an error.
                if self.ptr and self.buf[self.ptr - 1] not in ' \ufeff' + _BREAK:
                    raise _fail(self.line, "'#' must follow a space to start a comment")
                while self.peek() not in _BREAK0:
                    self.forward()
            if not self.line_break():
                return
            if not self.flow_level:
                self.allow_key = True

    # -- simple keys: a scalar or [ { is only known to be a key at its ':' --
    def stale_keys(self) -> None:
        """Forget possible keys that left their line or passed 1024 chars."""
        for level, key in list(self.keys.items()):
            if key[3] != self.line or self.ptr - key[2] > 1024:
                if key[1]:
                    raise _fail(key[3], _NO_KEY)
                del self.keys[level]

    def save_key(self) -> None:
        required = not self.flow_level and self.indent == self.col
        if self.allow_key:
            self.remove_key()
            self.keys[self.flow_level] = (len(self.tokens), required,
                                          self.ptr, self.line, self.col)

    def remove_key(self) -> None:
        key = self.keys.pop(self.flow_level, None)
        if key and key[1]:
            raise _fail(key[3], _NO_KEY)

    def value_indicator(self) -> None:
        key = self.keys.pop(self.flow_level, None)
        last = self.tokens[-1] if self.tokens else None
        before = self.tokens[-2] if len(self.tokens) > 1 else None
        if key is None and not self.flow_level and last and last[0] == 'SCALAR' and last[3] \
                and last[1] < self.line and (before is None or before[1] < last[1]):
            # A line of its own without ':' ('  workers 2') ran on into the next line's
            # 'key: value' as one plain scalar: the missing ':' is on the scalar's first line.
            raise _fail(last[1], _NO_KEY)
        if key is None:     # PyYAML always rejects this too (scanner or parser)
            raise _fail(self.line, "':' is not allowed here (nested 'a: b: c'?)"
                        if not (self.flow_level or self.allow_key) else
                        "':' without a key (keys must fit on one line; check indentation)")
        self.tokens.insert(key[0], ('KEY', key[3], None, False))
        if not self.flow_level and self.add_indent(key[4]):
            self.tokens.insert(key[0], ('BMAP', key[3], None, False))
        self.allow_key = False
        self.add(':', 1)

    def unclosed(self, error: Optional[ConfigError]) -> ConfigError:
        """``error`` (None: the end of the input), or, when it came on a later line than an
        unclosed '[' or '{', an error naming the line that bracket opened on."""
        if not self.flows:
            return error  # type: ignore[return-value]
        ch, line = self.flows[-1]
        if error is not None and str(error).startswith('line %d:' % (line + 1)):
            return error  # on the bracket's own line: that error says it best
        closer = ']' if ch == '[' else '}'
        if error is not None and not any(part in str(error) for part in (
                _NO_KEY, "':' without a key", "':' is not allowed here")):
            # not a matter of structure (a bad escape, a tab): keep it, and say where we are
            return ConfigError(f"{error} (inside the {ch!r} opened on line {line + 1})")
        found = 'the end of the input' if error is None else str(error)
        return _fail(line, f"{ch!r} is never closed (no {closer!r} before {found})")

    # -- block indentation --
    def unwind(self, col: int) -> None:
        while not self.flow_level and self.indent > col:
            self.indent = self.indents.pop()
            self.add('BEND')

    def add_indent(self, col: int) -> bool:
        if self.indent >= col:
            return False
        self.indents.append(self.indent)
        self.indent = col
        return True

    def block_entry(self) -> None:
        if self.flow_level:
            raise _fail(self.line, "a '- ' entry is not allowed inside [...] or {...}")
        if not self.allow_key:
            raise _fail(self.line, "a '- ' list entry is not allowed here")
        if self.add_indent(self.col):
            self.add('BSEQ')
        self.allow_key = True
        self.remove_key()
        self.add('-', 1)

    # -- scalars --
    @staticmethod
    def fold(first: str, breaks: list) -> list:
        """Line folding: one line break becomes a space, more keep all but one."""
        if first != '\n':
            return [first] + breaks
        return breaks or [' ']

    def plain_scalar(self) -> tuple:
        line, chunks, spaces = self.line, [], []
        indent = self.indent + 1
        stops = _BLANK + ',[]{}' if self.flow_level else _BLANK
        while self.peek() != '#':
            n = 0
            while True:     # a chunk ends at a space, ': ' or (in flow) , ? [ ] { }
                ch = self.peek(n)
                if ch in _BLANK or (ch == ':' and self.peek(n + 1) in stops) \
                        or (self.flow_level and ch in ',?[]{}'):
                    break
                n += 1
            if not n:
                break
            self.allow_key = False
            chunks += spaces
            chunks.append(self.prefix(n))
            self.forward(n)
            spaces = self.plain_spaces()
            if not spaces or self.peek() == '#' \
                    or (not self.flow_level and self.col < indent):
                break
        return ('SCALAR', line, ''.join(chunks), True)

    def plain_spaces(self) -> list:
        """Whitespace inside a plain scalar, folded; None at a '---' line."""
        n = 0
        while self.peek(n) == ' ':
            n += 1
        spaces = self.prefix(n)
        self.forward(n)
        if self.peek() not in _BREAK:
            return [spaces] if spaces else []
        first = self.line_break()
        self.allow_key = True
        breaks = []
        while True:
            if self.at_document_marker():
                return None
            while self.peek() == ' ':
                self.forward()
            if self.peek() not in _BREAK:
                return self.fold(first, breaks)
            breaks.append(self.line_break())

    def quoted_scalar(self, double: bool) -> tuple:
        line, quote = self.line, self.peek()
        self.forward()
        chunks = []
        while True:
            n = 0
            while self.peek(n) not in '\'"\\' + _BLANK:
                n += 1
            chunks.append(self.prefix(n))
            self.forward(n)
            ch = self.peek()
            if not double and ch == "'" and self.peek(1) == "'":
                chunks.append("'")
                self.forward(2)
            elif (double and ch == "'") or (not double and ch in '"\\'):
                chunks.append(ch)
                self.forward()
            elif double and ch == '\\':
                self.forward()
                chunks.append(self.escape(line))
            elif ch == quote:
                self.forward()
                return ('SCALAR', line, ''.join(chunks), False)
            else:           # spaces and line breaks
                n = 0
                while self.peek(n) in ' \t':
                    n += 1
                chunks.append(self.prefix(n))
                self.forward(n)
                if self.peek() == '\0':
                    raise _fail(line, 'unterminated quoted string')
                if self.peek() in _BREAK:
                    chunks[-1:] = self.fold(self.line_break(), self.quoted_breaks(line))

    def quoted_breaks(self, line: int) -> list:
        """Blank lines inside a quoted scalar; leading whitespace is dropped."""
        breaks = []
        while True:
            if self.at_document_marker():
                raise _fail(line, "unterminated quoted string (found '---' or '...')")
            while self.peek() in ' \t':
                self.forward()
            if self.peek() not in _BREAK:
                return breaks
            breaks.append(self.line_break())

    def escape(self, line: int) -> str:
        """The text for the escape sequence after a backslash."""
        ch = self.peek()
        if ch in _BREAK:                # an escaped line break joins the lines
            self.line_break()
            return ''.join(self.quoted_breaks(line))
        if ch in 'xuU':
            size = 2 if ch == 'x' else 4 if ch == 'u' else 8
            digits = self.prefix(size + 1)[1:]
            if len(digits) != size or any(c not in '0123456789ABCDEFabcdef' for c in digits) \
                    or int(digits, 16) > 0x10FFFF:
                raise _fail(self.line, 'invalid escape \\%s%s' % (ch, digits.strip('\0')))
            self.forward(size + 1)
            return chr(int(digits, 16))
        if ch not in _ESCAPE_CHARS:
            raise _fail(self.line, 'unknown escape %r in double-quoted string' % ('\\' + ch))
        self.forward()
        return _ESCAPE_VALUES[_ESCAPE_CHARS.index(ch)]

    def block_scalar(self, folded: bool) -> tuple:
        line = self.line
        self.forward()
        keep = increment = None         # keep: None clips, False strips (|-)
        for _ in range(2):              # indicators come in either order
            ch = self.peek()
            if ch in '+-' and keep is None:
                keep = ch == '+'
            elif ch in '0123456789' and increment is None:
                if ch == '0':
                    raise _fail(self.line, 'block indentation indicator must be 1-9')
                increment = int(ch)
            else:
                break
            self.forward()
        if self.peek() not in _BREAK0 + ' ':
            raise _fail(self.line, 'invalid block scalar header')
        while self.peek() == ' ':
            self.forward()
        if self.peek() == '#':
            while self.peek() not in _BREAK0:
                self.forward()
        if not self.line_break() and self.peek() != '\0':
            raise _fail(self.line, 'only a comment may follow a block scalar header')
        indent = max(self.indent + 1, 1)
        if increment is None:           # indentation of the first non-empty line
            breaks, max_indent = [], 0
            while self.peek() in ' ' + _BREAK:
                if self.peek() == ' ':
                    self.forward()
                    max_indent = max(max_indent, self.col)
                else:
                    breaks.append(self.line_break())
            indent = max(indent, max_indent)
        else:
            indent += increment - 1
            breaks = self.block_breaks(indent)
        chunks, line_break = [], ''
        while self.col == indent and self.peek() != '\0':
            chunks += breaks
            leading_non_space = self.peek() not in ' \t'
            n = 0
            while self.peek(n) not in _BREAK0:
                n += 1
            chunks.append(self.prefix(n))
            self.forward(n)
            line_break = self.line_break()
            breaks = self.block_breaks(indent)
            if self.col != indent or self.peek() == '\0':
                break
            # '>' folds a lone break between two non-indented lines into a
            # space; more-indented lines and blank lines keep their breaks.
            if folded and line_break == '\n' and leading_non_space \
                    and self.peek() not in ' \t':
                chunks += [] if breaks else [' ']
            else:
                chunks.append(line_break)
        if keep is not False:
            chunks.append(line_break)
        if keep:
            chunks += breaks
        return ('SCALAR', line, ''.join(chunks), False)

    def block_breaks(self, indent: int) -> list:
        """Skip indentation and collect the line breaks of empty lines."""
        breaks = []
        while True:
            while self.col < indent and self.peek() == ' ':
                self.forward()
            if self.peek() not in _BREAK:
                return breaks
            breaks.append(self.line_break())


class _YamlReader:
    """Parses YAML text (the supported subset) into Python values.

    Mirrors PyYAML's parser and SafeConstructor.  After ``read()``,
    ``key_lines`` maps the path of every mapping key (a tuple of keys and
    sequence indices, e.g. ``('agents', 0, 'name')``) to its 1-based line.
    """

    def __init__(self, text: str):
        self.text = text
        self.key_lines = {}
        self._tokens = [('END', 0, None, False)]
        self._pos = 0
        self._depth = 0

    def read(self) -> object:
        """Return the document's value; raise ConfigError if it is unreadable."""
        scanner, self._pos, self._depth, self.key_lines = None, 0, 0, {}
        try:
            if not isinstance(self.text, str):
                raise ConfigError('line 1: YAML text must be a str, not %s'
                                  % type(self.text).__name__)
            scanner = _Scanner(self.text)
            try:
                self._tokens = scanner.scan()
            except ConfigError as exc:
                raise scanner.unclosed(exc) from None
            if scanner.flows:  # the parser would only say "expected ',' or ']'" at the end
                raise scanner.unclosed(None)
            return self._document()
        except ConfigError:
            raise
        except Exception as exc:        # a safety net (e.g. RecursionError)
            line = self._tokens[min(self._pos, len(self._tokens) - 1)][1]
            if scanner is not None and len(self._tokens) == 1:
                line = scanner.line     # failed while scanning
            reason = 'nesting too deep' if isinstance(exc, RecursionError) else \
                'cannot read YAML (%s: %s)' % (type(exc).__name__, exc)
            raise _fail(line, reason) from None

    def _peek(self) -> str:
        return self._tokens[self._pos][0]

    def _unexpected(self, expected: str) -> ConfigError:
        kind, line, value, _ = self._tokens[self._pos]
        if kind == 'SCALAR':
            found = 'value %r' % (value[:40],)
        else:
            found = {'END': 'the end of the input', 'BEND': 'less indented text', 'KEY': 'a key',
                     'BSEQ': "a '- ' list at a different indentation",
                     'BMAP': 'a key at a different indentation'}.get(kind, repr(kind))
        if kind == 'BEND' and self._pos + 1 < len(self._tokens):
            line = self._tokens[self._pos + 1][1]   # where the dedent shows
        return _fail(line, 'expected %s, but found %s' % (expected, found))

    def _document(self) -> object:
        """PyYAML's stream/document states, for a single document."""
        value = None
        if self._peek() not in ('---', 'END'):
            value = self._node((), block=True)      # no '---': implicit document
        elif self._peek() == '---':
            self._pos += 1
            if self._peek() not in ('---', '...', 'END'):
                value = self._node((), block=True)
        while self._peek() == '...':
            self._pos += 1
        if self._peek() == '---':
            raise _fail(self._tokens[self._pos][1], 'only one YAML document is allowed')
        if self._peek() != 'END':
            raise self._unexpected('the end of the document')
        return value

    def _node(self, path: tuple, block: bool, indentless: bool = False) -> object:
        """One value; ``indentless`` allows a '- ' list at its key's column."""
        tok = self._tokens[self._pos]
        kind = tok[0]
        if kind == 'SCALAR':
            self._pos += 1
            return self._scalar(tok)
        if kind in ('[', '{') or (block and kind in ('BSEQ', 'BMAP')) \
                or (indentless and kind == '-'):
            self._depth += 1
            if self._depth > _MAX_DEPTH:
                raise _fail(tok[1], 'nesting deeper than %d levels' % _MAX_DEPTH)
            if kind in ('[', '{'):
                value = self._flow_collection(path)
            elif kind == 'BMAP':
                value = self._block_mapping(path)
            else:
                value = self._block_sequence(path, indentless=kind == '-')
            self._depth -= 1
            return value
        raise self._unexpected('a value')

    def _scalar(self, tok: tuple) -> object:
        _, line, text, plain = tok
        if not plain:
            return text                 # quoted and block scalars are strings
        if text in ('<<', '='):
            raise _fail(line, "'%s' (a YAML merge/value key) is not supported; "
                              "quote it" % text)
        try:
            return _resolve_plain(text)
        except (ValueError, OverflowError) as exc:
            raise _fail(line, 'invalid value %r (%s)' % (text[:40], exc)) from None

    def _block_sequence(self, path: tuple, indentless: bool) -> list:
        """'- ' entries; an indentless list has no BSEQ/BEND of its own."""
        stops = _KEY_STOPS + ('-',) if indentless else ('-', 'BEND')
        self._pos += not indentless
        items = []
        while self._peek() == '-':
            self._pos += 1
            items.append(None if self._peek() in stops else
                         self._node(path + (len(items),), block=True))
        if not indentless:
            if self._peek() != 'BEND':
                raise self._unexpected("a '- ' list entry")
            self._pos += 1
        return items

    def _block_mapping(self, path: tuple) -> dict:
        self._pos += 1
        mapping = {}
        while self._peek() == 'KEY':
            self._pair(mapping, path, block=True)
        if self._peek() != 'BEND':
            raise self._unexpected("a 'key: value' line at this indentation")
        self._pos += 1
        return mapping

    def _flow_collection(self, path: tuple) -> object:
        """A [...] or {...} collection."""
        close = ']' if self._peek() == '[' else '}'
        self._pos += 1
        result = [] if close == ']' else {}
        while self._peek() != close:
            if result:                  # every entry but the first needs a ','
                if self._peek() != ',':
                    raise self._unexpected("',' or '%s'" % close)
                self._pos += 1
                if self._peek() == close:
                    break
            if close == '}':
                self._pair(result, path, block=False)
            elif self._peek() == 'KEY':
                raise _fail(self._tokens[self._pos][1],
                            "'key: value' inside [...] is not supported; use [{...}]")
            else:
                result.append(self._node(path + (len(result),), block=False))
        self._pos += 1
        return result

    def _pair(self, mapping: dict, path: tuple, block: bool) -> None:
        """Add one 'key: value' entry; the key or the value may be empty."""
        line = self._tokens[self._pos][1]
        key = value = None
        explicit = self._peek() == 'KEY'
        if not explicit:                # only in flow: '{a}' means {'a': None}
            key = self._node(path, block)
        else:
            self._pos += 1
            if self._peek() not in (_KEY_STOPS if block else (':', ',', '}')):
                key = self._node(path, block, indentless=block)
        if isinstance(key, (list, dict)):
            raise _fail(line, 'a list or mapping cannot be a mapping key')
        if key in mapping:              # PyYAML keeps the last one silently
            raise _fail(line, 'duplicate key %s' % repr(key)[:60])
        self.key_lines[path + (key,)] = line + 1
        if explicit and self._peek() == ':':
            self._pos += 1
            if self._peek() not in (_KEY_STOPS if block else (',', '}')):
                value = self._node(path + (key,), block, indentless=block)
        mapping[key] = value


def parse_yaml(text: str) -> object:
    """Parse YAML ``text`` and return what ``yaml.safe_load(text)`` returns.

    Supports block and flow collections, plain, quoted and block scalars with
    YAML 1.1 typing (null, bool, int, float, timestamp), comments and a single
    document.  Anything else -- anchors, aliases, tags, directives, '?' keys,
    several documents, duplicate keys, bad indentation, ... -- raises
    ConfigError with a message starting with ``line N: ``.
    """
    return _YamlReader(text).read()


######################################################################
# Output
######################################################################

def _some(names: List[str], count: int = 5, width: int = 300,
          total: Optional[int] = None) -> str:
    """The first ``count`` of ``names`` (of ``total``, when more were counted than kept),
    joined and shortened to ``width``, and how many more: ``a, b and 3 more``."""
    total = len(names) if total is None else total
    return _shorten(", ".join(names[:count]), width) + (
        f" and {total - count} more" if total > count else "")


def _shorten(text: str, width: int) -> str:
    """One line of at most ``width`` characters, with no control characters left in it
    (of text of any size: only its start is looked at)."""
    cut = len(text) > 8 * width + 4096
    line = _CONTROL.sub("?", " ".join((text[:8 * width + 4096] if cut else text).split()))
    return line if len(line) <= width and not cut else line[:width - 1] + "…"


# Control characters (and lone surrogates from undecodable bytes) that would drive a terminal,
# and the format characters that reorder or hide text (bidi overrides, zero-width marks).
# Characters that show nothing, or reorder what is shown: bidi controls, zero-width ones,
# line and paragraph separators and every other default-ignorable code point of Unicode
# (the Hangul fillers are letters to JavaScript: an invisible variable; tag characters and
# variation selectors can carry a hidden text). Made visible wherever an agent's text is shown.
_INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
              "\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
              "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e0fff")
_CONTROL = _LazyPattern(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_INVISIBLE}]")


def _usd(value: float) -> str:
    """An amount of USD for a command line: ``0.5``, ``2``, ``0.000051`` (never ``5e-05``)."""
    return f"{value:.6f}".rstrip("0").rstrip(".") or "0"


def _format_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not (
        isinstance(value, float) and math.isnan(value))


def _count(value: object) -> bool:
    """A count that makes sense: a whole number from 0 to 2**63 - 1."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2 ** 63


def _align(rows: List[List[str]], right: "set[int]", width: int = 0) -> List[str]:
    """Rows of cells as aligned lines, columns two spaces apart, the ``right`` columns
    right-aligned. With ``width``, the last column (a task, a path) is shortened first,
    then the others from the right, down to 10 characters, so each line fits."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    if width:
        for i in reversed(range(len(widths))):
            over = sum(widths) + 2 * (len(widths) - 1) - width
            if over <= 0:
                break
            widths[i] = max(min(widths[i], 10), widths[i] - over)
    return ["  ".join((_shorten(cell, widths[i]).rjust(widths[i]) if i in right
                       else _shorten(cell, widths[i]).ljust(widths[i]))
                      for i, cell in enumerate(row)).rstrip() for row in rows]


def _format_tokens(r: WorkerResult) -> str:
    """Input/output tokens as ``12.3k/456``; ``-`` for what the agent did not report."""
    def short(n: Optional[int]) -> str:
        return ("-" if n is None else str(n) if n < 1000 else
                f"{n / 1000:.1f}k" if n < 1000000 else f"{n / 1000000:.1f}M")
    if r.tokens_in is None and r.tokens_out is None:
        return "-"
    return f"{short(r.tokens_in)}/{short(r.tokens_out)}"


def _format_table(results: List[WorkerResult], top: str, total: Optional[int] = None,
                  local: bool = True, run_info: Optional[dict] = None,
                  follow_up: bool = False,
                  kept: "Optional[tuple[List[str], List[str]]]" = None) -> str:
    """The result table printed on stderr after a run; the best worker is marked with '*'.

    ``total``: the workers of the plan, when some have no results (collect). ``local``:
    the worktrees and logs are on this machine (not so after collect), so name them.
    ``follow_up``: the one worker of a continue, ranked among the whole plan. ``kept``: the
    worktrees and branches cleanup keeps without --force, and the worktrees no git reads
    (see _kept_by_cleanup)."""
    checks = any(r.checks_total for r in results)
    local_kept_known = kept is not None
    tokens = any(r.tokens_in is not None or r.tokens_out is not None for r in results)
    header = ["rank", "#", "branch", "model", "status", "checks", "steps", "cost", "tokens",
              "time", "files", "task"]
    rows = [header]
    winner = _winner(results)
    for r in sorted(results, key=lambda r: r.rank):  # best first
        rows.append([f"{'*' if r is winner else ''}{r.rank}", str(r.worker_id), r.branch,
                     _shorten(r.model, 28), r.status, _checks_cell(r),
                     str(r.steps) if r.steps_known else "-",
                     f"${r.cost:.4f}" if r.cost_known else "-", _format_tokens(r),
                     f"{r.duration:.1f}s", str(len(r.files_modified)), _shorten(r.task, 40)])
    hidden = {"checks"} if not checks else set()
    hidden |= {"tokens"} if not tokens else set()
    rows = [[cell for name, cell in zip(header, row) if name not in hidden] for row in rows]
    numeric = {h for h in ("rank", "#", "checks", "steps", "cost", "tokens", "time", "files")}
    try:
        width = os.get_terminal_size(sys.stderr.fileno()).columns or 160
    except (OSError, ValueError):
        width = 160  # a CI log: long lines are fine, endless ones are not
    lines = _align(rows, {i for i, name in enumerate(rows[0]) if name in numeric}, width)
    for r in results:  # (the footer says why workers were stopped or skipped)
        unsuccessful = r.status not in ("success", "interrupted", "stopped", "skipped")
        if (r.error and r.status not in ("stopped", "skipped")) or unsuccessful:
            prefix = f"worker {r.worker_id}: "
            lines.append(prefix + _shorten(r.error or r.status, max(40, width - len(prefix))))
        if unsuccessful and r.log_path and local:
            logs = [os.path.relpath(p, top) if _inside(top, p) else p
                    for p in (r.stderr_path, r.log_path) if p]
            lines.append(f"  its output: {'  '.join(logs)}")
    succeeded = sum(r.status == "success" for r in results)
    known = [r.cost for r in results if r.cost_known]
    total = max(total or 0, len(results))
    lines.append(f"{succeeded}/{total} succeeded"
                 + (f" ({total - len(results)} without results)" if total > len(results) else "")
                 + (f", total cost ${sum(known):.4f}" if known else ""))
    lines += _race_lines(results, dict(run_info or {}, won=None) if follow_up else run_info or {},
                         total)
    prog = _prog()
    if follow_up and not winner and results:
        lines.append(f"worker {results[0].worker_id} is now rank {results[0].rank} of the last run "
                     f"({_verdict(results[0])})")
    elif winner and _only_in_worktree(winner) and local:
        where = shlex.quote(os.path.relpath(winner.worktree_path, top)
                            if _inside(top, winner.worktree_path) else winner.worktree_path)
        lines.append(f"best: worker {winner.worker_id} ({winner.branch}); see it with "
                     f"'{prog} diff best'; its work is uncommitted in its worktree: keep it "
                     f"with 'git -C {where} add -A && git -C {where} commit', then "
                     f"'{prog} merge best'")
    elif winner:
        lines.append(f"best: worker {winner.worker_id} ({winner.branch}); see it with "
                     f"'{prog} diff best', keep it with '{prog} merge best'")
    elif len({r.task for r in results}) > 1:
        loose = [r for r in results if r.status == "success" and _only_in_worktree(r)]
        lines.append(f"different tasks: no worker is best; look at each with '{prog} diff N', "
                     f"keep every one that succeeded with '{prog} merge all'" + (
                         f" once the work of {_some([f'worker {r.worker_id}' for r in loose])} "
                         "is committed in its worktree ('git -C DIR add -A && git -C DIR commit'; "
                         "merge refuses work no commit holds)" if loose and local else ""))
    elif results:
        lines.append("no best: no worker succeeded" + (" and passed its checks" if checks else "")
                     + "; nothing is merged as best")
    logs = next((os.path.dirname(r.worker_log) for r in results if r.worker_log), None)
    if results and local:
        lines.append(f"worktrees: {os.path.join(top, WORKTREE_PREFIX)}N"
                     + (f"   logs: {logs}" if logs else ""))
        if follow_up and succeeded < len(results):  # rerun would throw the first round away
            r = results[0]
            before = f"still on {r.branch}" if r.commit else \
                f"only in its worktree (no commit of it is on {r.branch})"  # (round 85)
            if _unread_worktree(r.worktree_path):  # (no git reads it: round 99)
                lines.append(f"the follow-up did not succeed, and left its worktree with more "
                             "rules than a git may read: no command reads it again; what worker "
                             f"{r.worker_id} did before is {before} (the last line says how to "
                             "remove the worktree)")
            else:
                lines.append(f"the follow-up did not succeed; what worker {r.worker_id} did "
                             f"before is {before}: try again with '{prog} continue "
                             f"{r.worker_id} TASK' (--fresh starts a new session)")
        elif succeeded < len(results):
            # their attempts were committed on their branches, or left in worktrees no git
            # reads (round 100): --force lets rerun discard them
            force = any(r.status != "success" and (r.commit or r.files_modified or
                                                   _unread_worktree(r.worktree_path))
                        for r in results)
            lines.append(f"run the {len(results) - succeeded} that did not succeed again with: "
                         f"{prog} rerun --failed" + (" --force (it discards their attempts)"
                                                     if force else ""))
        kept, heavy = kept or ([], [])
        if heavy:  # (the branches keep what was committed: round 100)
            kept = sorted({name for name in kept if name.startswith(WORKTREE_PREFIX)} | set(heavy))
        if not local_kept_known:
            lines.append(f"remove them with: {prog} cleanup, after '{prog} cleanup --dry-run' "
                         "has named what it would keep without --force (the run could not ask "
                         f"it within {_FOOTER_SECONDS:g} s)")
        elif kept:  # (cleanup refuses, and removes nothing, without --force: rounds 101 to 103)
            lines.append(f"remove them with: {prog} cleanup --force"
                         + (" --keep-branches" if heavy else "") + ", once you have kept what you "
                         f"want of what it would delete unasked in {_some(kept)} (without --force "
                         "cleanup says what each holds and removes nothing"
                         + (f"; no git reads {_some(heavy)}: --keep-branches keeps the committed "
                            "work" if heavy else "; --keep-branches keeps the committed work")
                         + ")")
        else:
            lines.append(f"remove them with: {prog} cleanup (--keep-branches keeps the committed "
                         "work)")
    return "\n".join(lines)


def _kept_by_cleanup(top: str) -> "Optional[tuple[List[str], List[str]]]":
    """What cleanup would keep without --force, as its refusal names them (worktree folders
    and branches, see ParallelRunner.cleanup_plan), and the worktrees among them no git reads
    (see _unread_worktree): of every worktree and branch of the repository, not only those of
    the results at hand (round 102: a continue's footer named its own worker's, and `cleanup
    --force` deleted another's work; round 103: a worktree no git reads made the hint one that
    named nothing). None when that cannot be told within _FOOTER_SECONDS (round 104: a rule of
    many `*`s kept each git in a worktree busy until its 600 s limit, the footer's too)."""
    with _time_box(_FOOTER_SECONDS) as stop:
        try:
            repo = _Repo.find(top).wrapped(None, _FOOTER_SECONDS, stop) if top else None
            if repo is None:
                return [], []
            _worktrees, ours, _branches, _tips, unsaved = ParallelRunner.cleanup_plan(repo)
            if stop.is_set():
                return None
        except (ParallelError, OSError):
            return None
    heavy = [os.path.basename(wt["path"]) for wt in ours if _unread_worktree(wt["path"])]
    return list(unsaved), heavy


def _unread_worktree(path: str) -> bool:
    """Whether the worktree at ``path`` holds more .gitignore and .gitattributes files than a
    git may read, so that no command of this tool runs a git there (see _Repo._settings)."""
    if not path or not os.path.isdir(path):
        return False
    rules = _rules_in_worktree(path)
    return rules is None or rules > _IGNORE_RULES_LIMIT


def _race_lines(results: List[WorkerResult], run_info: dict, total: int) -> List[str]:
    """What --stop-on-pass and --budget-total did: who won when, what the workers it
    stopped had spent, how many never started; the known spend against the cap."""
    lines = []
    won = run_info.get("won")
    if isinstance(won, dict) and _finite(won.get("after")):
        stopped = [r for r in results if r.status == "stopped"]
        known = [r.cost for r in stopped if r.cost_known]
        ran = sum(r.exit_code is not None for r in results)
        lines.append(f"--stop-on-pass: worker {won.get('worker')} passed after "
                     f"{won['after']:.1f}s; {len(stopped)} stopped (known spend ${sum(known):.4f}"
                     + (f", unknown for {len(stopped) - len(known)}" if len(known) < len(stopped) else "")
                     + f"), {sum(r.status == 'skipped' for r in results)} never started: "
                     f"{ran} of the race's {total} agents ran")
    config = run_info.get("config")
    cap = config.get("budget_total") if isinstance(config, dict) else None
    if _finite(cap) and _finite(run_info.get("spent")):
        skipped = sum(r.status == "skipped" and "budget-total" in (r.error or "") for r in results)
        lines.append(f"--budget-total: known spend ${run_info['spent']:.4f} of ${cap:.4f}"
                     + (f"; {skipped} worker(s) not started once it was reached" if skipped else ""))
    return lines


class _Progress:
    """What a run shows on stderr while it works.

    ``tty``: one line per worker (id, model, state, elapsed time, task) and a total
    line, redrawn in place as one write per frame; ``plain``: one timestamped line
    per event, no control characters (CI logs); ``none``: nothing. Warnings are
    shown in every mode but ``quiet``.
    """

    # Seconds between plain mode's "still running" lines, so a CI log shows life.
    heartbeat = 60.0

    def __init__(self, mode: str, quiet: bool = False):
        self.mode, self.quiet = mode, quiet
        self._lock = threading.Lock()
        self._workers: Dict[int, dict] = {}
        self._drawn = 0  # lines of the live frame on screen
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._ticker: Optional[threading.Thread] = None
        self._budget: "tuple[Optional[float], Optional[float]]" = (None, None)  # spent, cap

    @staticmethod
    def choose(mode: str) -> str:
        """``auto`` means a live display on a terminal, plain lines elsewhere."""
        if mode != "auto":
            return mode
        try:
            tty = sys.stderr.isatty()
        except (AttributeError, ValueError):
            tty = False
        return "tty" if tty and os.environ.get("TERM", "") != "dumb" else "plain"

    def message(self, line: str) -> None:
        if self.quiet and not line.startswith("error"):
            return
        with self._lock:
            if self.mode == "tty" and self._workers:
                self._write(self._clear() + _screen(line) + "\n" + self._frame())
            else:
                _print_err(f"[{time.strftime('%H:%M:%S')}] {line}" if self.mode == "plain" else line)

    def state(self, event: dict) -> None:
        if self.quiet or self.mode == "none":
            return
        with self._lock:
            self._budget = (event.get("spent"), event.get("budget_total"))
            worker = self._workers.setdefault(event["worker"], dict(event, since=time.monotonic()))
            if event["state"] == "running":
                worker["since"] = time.monotonic()
            worker.update(state=event["state"], detail=event["detail"])
            if self._ticker is None and self.mode in ("tty", "plain"):
                self._ticker = threading.Thread(target=self._tick, daemon=True)
                self._ticker.start()
            if self.mode == "tty":
                self._write(self._frame())
            elif event["state"] == "running":
                _print_err(f"[{time.strftime('%H:%M:%S')}] worker {event['worker']} started "
                           f"({_shorten(event['model'], 40)}): {_shorten(event['task'], 60)}")
            elif event["state"] not in ("queued", "creating"):
                _print_err(f"[{time.strftime('%H:%M:%S')}] worker {event['worker']} "
                           f"{event['state']} {_shorten(event['detail'], 400)}".rstrip()
                           + (self._spend() if event["state"] in STATUSES else ""))

    def _spend(self) -> str:
        """``, spent $0.42 of $2.00``: the run's known spend against --budget-total."""
        spent, cap = self._budget
        return "" if cap is None or spent is None else f", spent ${spent:.4f} of ${cap:.4f}"

    def close(self) -> None:
        """Stop redrawing; the last frame stays on screen above what comes next."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self.mode == "tty" and self._workers:
                self._write(self._frame())
            self._drawn = 0

    def _tick(self) -> None:
        """tty: redraw twice a second, as elapsed times move on; plain: every
        ``heartbeat`` seconds, one line naming the workers still running."""
        while not self._stop.wait(0.5 if self.mode == "tty" else self.heartbeat):
            with self._lock:
                if self.mode == "tty":
                    self._write(self._frame())
                    continue
                now = time.monotonic()
                running = [f"worker {n} ({_duration(now - w['since'])})"
                           for n, w in sorted(self._workers.items())
                           if w["state"] not in STATUSES and w["state"] != "queued"]
                if running:
                    _print_err(f"[{time.strftime('%H:%M:%S')}] still running: {', '.join(running)}")

    def _clear(self) -> str:
        """Move to the top of the live frame and clear it."""
        text = f"\x1b[{self._drawn}F\x1b[J" if self._drawn else ""
        self._drawn = 0
        return text

    def _frame(self) -> str:
        try:  # the width of stderr's terminal (stdout may be redirected to a file)
            width = os.get_terminal_size(sys.stderr.fileno()).columns or 100  # 0: size unknown
        except (OSError, ValueError, AttributeError):
            width = 100
        now = time.monotonic()
        lines, counts = [], {}
        for n in sorted(self._workers):
            w = self._workers[n]
            final = w["state"] in STATUSES
            kind = (w["state"] if w["state"] in ("queued", "interrupted", "stopped", "skipped")
                    else "done" if final else "running")
            counts[kind] = counts.get(kind, 0) + 1
            elapsed = "" if w["detail"].startswith("not started") else w["detail"].split(" ")[0] if final else (
                "" if w["state"] == "queued" else f"{now - w['since']:.1f}s")
            line = (f"{n:>3}  {_shorten(w['model'], 20):<20}  {w['state']:<11} {elapsed:>8}  "
                    f"{_shorten(w['task'], 200)}")
            lines.append(_fit(line, width - 1))
        ended = "".join(f"{counts[k]} {k}, " for k in ("interrupted", "stopped", "skipped")
                        if counts.get(k))
        lines.append(_fit(f"{counts.get('done', 0)}/{len(self._workers)} done, {ended}"
                          f"{counts.get('running', 0)} running, {counts.get('queued', 0)} queued, "
                          f"{now - self._started:.1f}s{self._spend()}", width - 1))
        text = (f"\x1b[{self._drawn}F" if self._drawn else "") + "".join(
            f"\x1b[2K{line}\n" for line in lines)
        self._drawn = len(lines)
        return text

    @staticmethod
    def _write(text: str) -> None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass


def _prog() -> str:
    """The command as the user ran it, for hints: ``architect-parallel``, ``python3 -m
    architect_parallel`` or ``python3 path/to/architect_parallel.py``."""
    python = os.path.basename(sys.executable or "") or "python3"
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    if spec is not None and spec.name == "architect_parallel":
        return f"{python} -m architect_parallel"
    script = sys.argv[0] if sys.argv else ""
    if script.endswith(".py") and os.path.basename(script) != "__main__.py":
        return f"{python} {shlex.quote(script)}"
    return "architect-parallel"


def _duration(seconds: float) -> str:
    """``42s``, ``5m 02s``, ``1h 03m``."""
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def _fit(text: str, width: int) -> str:
    """Cut ``text`` to ``width`` terminal columns (East Asian wide characters take two)."""
    import unicodedata

    used = 0
    for i, char in enumerate(text):
        used += 2 if unicodedata.east_asian_width(char) in "WF" else 1
        if used > width:
            return text[:i]
    return text


def _results_document(run_info: dict, results: List[WorkerResult]) -> dict:
    """The results file: run metadata, the best worker (see _winner; None when none is),
    and what ``--json`` prints."""
    best = _winner(results) if results else None
    items = []
    for r in results:
        item = r.to_dict()
        if len(r.files_modified) > _FILES_LIMIT or any(len(f) > _FILE_NAME_LIMIT
                                                       for f in r.files_modified):
            item["files_modified"] = [f if len(f) <= _FILE_NAME_LIMIT else _shorten(f, _FILE_NAME_LIMIT)
                                      for f in r.files_modified[:_FILES_LIMIT]]
            item["files_count"] = len(r.files_modified)  # (the whole list is git's to say)
        items.append(item)
    return dict(run_info, best=best.worker_id if best else None, results=items)


def _write_text(path: str, text: str) -> None:
    """Write ``path`` atomically: readers see the old file or the new one, never half (see
    _replace_file); mode 0666 less your umask."""
    try:
        # backslashreplace: bytes of a task that were not UTF-8 stay visible, never fail.
        _replace_file(path, text.encode("utf-8", "backslashreplace"), 0o666 & ~_umask())
    except OSError as exc:
        raise ParallelError(f"cannot write {path}: {exc.strerror or exc}") from None


def _replace_file(path: str, data: "bytes | Callable[[int], None]", mode: int) -> None:
    """Put a new file holding ``data`` (or what ``data`` writes to the descriptor it is
    given), of ``mode``, at ``path``, atomically: written first as a file of a name no one
    can guess, made anew (in /tmp, another account may plant a link or a FIFO at a name it
    can guess: the write would go where it leads, or hang)."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.",
                               dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            if callable(data):
                data(f.fileno())
            else:
                f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


def _umask() -> int:
    """This process's umask (0o022 when it cannot be read)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    return 0o022


def _write_json(path: str, value: object) -> None:
    import json
    _write_text(path, json.dumps(value, indent=2, allow_nan=False) + "\n")


def _junit_xml(results: List[WorkerResult], local: bool = True,
               total: Optional[int] = None) -> str:
    """JUnit XML as GitHub's and GitLab's test reporters read it: one testcase per worker
    of the plan (``total`` workers: those without results are errors, as the table counts
    them, round 78).

    failed and partial workers are failures, timed-out and interrupted ones errors,
    stopped and skipped ones (--stop-on-pass, --budget-total) skipped test cases;
    checks are properties; the end of the agent's output is the system-out (``local``:
    when the workers ran here; collect never opens a file a results file names).
    """
    import xml.etree.ElementTree as ET  # only needed here; keeps start-up light

    have = {r.worker_id for r in results}
    missing = [n for n in range(1, (total or 0) + 1) if n not in have]
    tests = str(len(results) + len(missing))
    failures = sum(r.status in ("failed", "partial") for r in results)
    errors = sum(r.status in ("timeout", "interrupted") for r in results) + len(missing)
    skipped = sum(r.status in ("stopped", "skipped") for r in results)
    suites = ET.Element("testsuites", name="architect-parallel", tests=tests,
                        failures=str(failures), errors=str(errors), skipped=str(skipped),
                        time=f"{sum(r.duration for r in results):.3f}")
    suite = ET.SubElement(suites, "testsuite", name="architect-parallel", tests=tests,
                          failures=str(failures), errors=str(errors), skipped=str(skipped),
                          time=f"{sum(r.duration for r in results):.3f}")
    for r in results:
        case = ET.SubElement(suite, "testcase", classname="architect-parallel",
                             name=_xml_text(f"worker {r.worker_id} [{r.model}]: {_shorten(r.task, 80)}"),
                             time=f"{r.duration:.3f}")
        props = ET.SubElement(case, "properties")
        for name, value in (("branch", r.branch), ("status", r.status), ("rank", r.rank),
                            ("cost", r.cost if r.cost_known else "unknown"),
                            ("tokens_in", "unknown" if r.tokens_in is None else r.tokens_in),
                            ("tokens_out", "unknown" if r.tokens_out is None else r.tokens_out),
                            ("commit", r.commit or "")):
            ET.SubElement(props, "property", name=name, value=_xml_text(str(value)))
        for check in r.checks:
            ET.SubElement(props, "property", name=_xml_text(f"check: {check['command']}"),
                          value="passed" if check["passed"] else f"failed (exit code {check.get('exit_code')})")
        message = _xml_text(f"{r.status}" + (f": {r.error}" if r.error else ""))
        if r.status in ("failed", "partial"):
            ET.SubElement(case, "failure", message=message, type=r.status).text = message
        elif r.status in ("timeout", "interrupted"):
            ET.SubElement(case, "error", message=message, type=r.status).text = message
        elif r.status in ("stopped", "skipped"):
            ET.SubElement(case, "skipped", message=message)
        if local:
            ET.SubElement(case, "system-out").text = _xml_text(_log_tail(r.log_path, 4000))
            ET.SubElement(case, "system-err").text = _xml_text(_log_tail(r.stderr_path, 4000))
    for n in missing:
        case = ET.SubElement(suite, "testcase", classname="architect-parallel",
                             name=f"worker {n}: no results", time="0.000")
        message = ("no results: its job's results file is missing, or was left out (see "
                   "collect's warnings)")
        ET.SubElement(case, "error", message=message, type="no results").text = message
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"


# Characters XML 1.0 cannot hold, even escaped.
_XML_INVALID = _LazyPattern("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """Text XML can hold, what would hide or reorder what it shows (bidi overrides,
    zero-width marks) shown as <U+XXXX> (JUnit, the report)."""
    text = _HIDDEN.sub(lambda m: f"<U+{ord(m.group()):04X}>", text)
    return _XML_INVALID.sub("\ufffd", text)


def _log_tail(path: str, size: int) -> str:
    """The last ``size`` bytes of a log, as text ('' when there is none)."""
    if not path:
        return ""
    try:
        with _open_regular(path) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - size))
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def _checks_note(results: List[WorkerResult], run_info: dict) -> str:
    """Who ran the checks of collected results ('' for a run's own, or without checks)."""
    if not any(r.checks_total for r in results) or run_info.get("checks_run_by") not in (
            "workers", "collect"):
        return ""
    return ("run by collect on each verified commit (--recheck)"
            if run_info["checks_run_by"] == "collect" else
            "as the workers reported them, not run by collect (collect --recheck runs them)")


def _summary_markdown(results: List[WorkerResult], diffstat: str = "",
                      html: Optional[str] = None, run_info: Optional[dict] = None,
                      total: Optional[int] = None) -> str:
    """The Markdown summary for GITHUB_STEP_SUMMARY and --summary; ``html``: the HTML
    report's path, named with where a GitHub Actions run keeps uploaded files; ``total``:
    the workers of the plan (collect: those without results count, as in the table)."""
    lines = ["## architect-parallel", "",
             "| rank | worker | model | status | checks | cost | tokens in/out | duration | files "
             "| task |",
             "|---:|---:|---|---|---:|---:|---:|---:|---:|---|"]
    winner = _winner(results)
    for r in sorted(results, key=lambda r: r.rank):
        # What an agent or a results file could choose (model, task) is in code spans:
        # shown as written, never turned into Markdown or HTML (images, links, headings).
        cells = [f"**{r.rank}**" if r is winner else str(r.rank), str(r.worker_id),
                 _md_code(_shorten(r.model, 60)), r.status, _checks_cell(r),
                 f"${r.cost:.4f}" if r.cost_known else "-", _format_tokens(r),
                 f"{r.duration:.1f}s", str(len(r.files_modified)), _md_code(_shorten(r.task, 60))]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    succeeded = sum(r.status == "success" for r in results)
    total = max(total or 0, len(results))
    lines += ["", f"{succeeded}/{total} succeeded"
              + (f" ({total - len(results)} without results)." if total > len(results) else ".")]
    checks = _checks_note(results, run_info or {})
    lines += [f"Checks: {checks}."] if checks else []
    # In a code span: an agent's words must not turn into Markdown.
    reasons = [f"- worker {r.worker_id} ({r.status}): {_md_code(_shorten(r.error, 300))}"
               for r in results if r.error and not _not_started(r) and r.status != "stopped"]
    lines += [""] + reasons if reasons else []
    if winner and diffstat.strip():
        # A fence longer than any run of backticks in it (file names are the agent's).
        fence = "`" * max(3, 1 + max(map(len, re.findall("`+", diffstat)), default=0))
        lines += ["", f"Best: worker {winner.worker_id} ({_md_code(winner.branch)}):", "", fence,
                  _screen(diffstat.rstrip()), fence]
    if html:
        run = [os.environ.get(k) for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
        where = (f" (uploaded files are under Artifacts on [this run's page]"
                 f"({run[0]}/{run[1]}/actions/runs/{run[2]}#artifacts))" if all(run) else "")
        lines += ["", f"HTML report, every worker side by side: {_md_code(html)}{where}"]
    return "\n".join(lines) + "\n"


def _md_code(text: str) -> str:
    """``text`` as a Markdown code span on one line: shown as written, never interpreted."""
    return "`" + _screen(" ".join(text.split())).replace("`", "'") + "`"


def _save_last_run(repo: _Repo, run_info: dict, results: List[WorkerResult]) -> None:
    """Keep a run's results under the git dir, for list, diff best, merge best and rerun."""
    _write_json(os.path.join(repo.state_dir(), "last-run.json"), _results_document(run_info, results))


def _load_last_run(repo: _Repo) -> dict:
    """The last run's saved results ({} when there are none; ``{"unreadable": why}`` when the
    file is there but cannot be read: what merge checks against it is then unknown, and
    merge asks for --force); results whose paths, branch, commit or status are not text are
    left out (the file may have been edited)."""
    import json
    path = os.path.join(repo.common_dir, _STATE_DIR, "last-run.json")
    if not os.path.lexists(path):
        return {}
    raw = _read_bytes(path, _LAST_RUN_LIMIT + 1)
    try:
        if raw is None or len(raw) > _LAST_RUN_LIMIT:
            raise ValueError("not a regular file" if raw is None else
                             f"larger than {_LAST_RUN_LIMIT >> 20} MB")
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        return {"unreadable": _shorten(str(exc) if isinstance(exc, ValueError) else
                                       "nesting too deep", 200)}
    if not isinstance(data, dict):
        return {"unreadable": "not a JSON object"}
    if "results" in data and not isinstance(data["results"], list):
        return {"unreadable": "its results are not a list"}
    # (one result not of the tool's form makes the whole file unreadable: each command
    # leaving out another would say another thing of the same run)
    for item in data.get("results", []):
        try:
            _result_from_dict(item, "its results")
            if not all(isinstance(item.get(k), (str, type(None))) for k in (
                    "worktree_path", "commit", "sandbox")):
                raise ParallelError(f"its results: worker {item.get('worker_id')!r}: a path, "
                                    "commit or sandbox that is not text")
        except ParallelError as exc:
            return {"unreadable": _shorten(str(exc), 200)}
    return data


def _unreadable_run(repo: _Repo, last: dict, so: str) -> Optional[ParallelError]:
    """The error to raise when the last run's results are there but cannot be read (None
    when they can): a command that needs them says why, never "there is no last run"."""
    if not last.get("unreadable"):
        return None
    return ParallelError(f"the last run's results cannot be read ({last['unreadable']}), so {so}; "
                         f"look at {os.path.join(repo.state_dir(), 'last-run.json')} (the next "
                         "run writes it again)")


######################################################################
# The HTML report
######################################################################

# Diff lines shown per worker, and bytes; the rest is named, with 'diff N' to see it.
_REPORT_DIFF_LINES = 8000
_REPORT_DIFF_CHARS = 450 * 1024
_REPORT_DIFF_TOTAL = 4 * 1024 * 1024  # characters of diff in one report, shared by the workers
_REPORT_OPEN_LINES = 120  # a file's diff longer than this starts collapsed
_REPORT_GRID_FILES = 400  # rows of the files x workers grid
_REPORT_FILES = 500  # files listed per worker
_REPORT_TAIL = (40, 6000)  # lines, bytes of a log's end shown

# Colours of the states and statuses: the timeline, the badges, the legend.
_REPORT_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1400px;padding:0 16px 40px;color:#1f2328;background:#fff}
h1{font-size:22px;margin:18px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}
h3{font-size:15px;margin:14px 0 6px}code,pre,.mono{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.wide{overflow-x:auto}
th{background:#f6f8fa}td.b{white-space:nowrap}td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#dafbe1}.meta{color:#59636e}.meta b{color:#1f2328}
.badge{display:inline-block;padding:0 7px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
.success{background:#1a7f37}.partial{background:#bf8700}.failed{background:#cf222e}.timeout{background:#bc4c00}.stopped{background:#8250df}.interrupted{background:#6e7781}.skipped{background:#afb8c1}
.queued{background:#d0d7de}.creating{background:#9ecbff}.setup{background:#b392f0}.running{background:#0969da}.checking{background:#fb8f44}
svg .success{fill:#1a7f37}svg .partial{fill:#bf8700}svg .failed{fill:#cf222e}svg .timeout{fill:#bc4c00}svg .stopped{fill:#8250df}svg .interrupted{fill:#6e7781}svg .skipped{fill:#afb8c1}
svg .queued{fill:#d0d7de}svg .creating{fill:#9ecbff}svg .setup{fill:#b392f0}svg .running{fill:#0969da}svg .checking{fill:#fb8f44}
svg .bar{fill:#0969da}svg text{font:11px system-ui,sans-serif;fill:#1f2328}svg .axis{stroke:#d0d7de}svg .tick{fill:#59636e}
.charts{display:flex;flex-wrap:wrap;gap:24px}.charts figure{margin:0;flex:1 1 420px;max-width:680px}figcaption{font-weight:600;margin-bottom:4px}
.error{background:#ffebe9;border:1px solid #ff8182;padding:6px 10px;border-radius:6px;white-space:pre-wrap;overflow-wrap:anywhere}
.note{color:#59636e;font-style:italic}.task{white-space:pre-wrap;overflow-wrap:anywhere;margin:0}
pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f8fa;padding:6px 8px;margin:4px 0;border-radius:6px;max-height:600px;overflow:auto}
pre.diff{padding:0;background:#fff;border:1px solid #d0d7de}pre.diff>*{display:block;padding:0 8px}
pre.diff ins{background:#dafbe1;text-decoration:none}pre.diff del{background:#ffebe9;text-decoration:none}pre.diff .h{background:#ddf4ff;color:#59636e}pre.diff .m{color:#59636e}
.add{color:#1a7f37}.del{color:#cf222e}details{margin:4px 0}summary{cursor:pointer}
.pass{color:#1a7f37;font-weight:700}.fail{color:#cf222e;font-weight:700}
#compare .cols{display:flex;gap:8px;overflow-x:auto}#compare .cols>div{flex:1 0 380px;min-width:0}
.tools{margin:8px 0}.tools button{margin-right:6px}
"""

# Collapsing, and comparing one file across workers: a convenience; without it the
# report reads the same (every diff has its own place and the grid links to it).
_REPORT_JS = """
(function(){
  var show=function(el){el.hidden=false;};
  document.querySelectorAll('[data-js]').forEach(show);
  var all=function(open){document.querySelectorAll('details.d').forEach(function(d){d.open=open;});};
  document.getElementById('expand').addEventListener('click',function(){all(true);});
  document.getElementById('collapse').addEventListener('click',function(){all(false);});
  document.querySelectorAll('button.cmp').forEach(function(b){
    b.addEventListener('click',function(){
      var box=document.getElementById('compare'),cols=box.querySelector('.cols');
      cols.textContent='';
      box.querySelector('h2').textContent='Compare: '+b.getAttribute('data-name');
      b.getAttribute('data-workers').split(' ').forEach(function(w){
        var col=document.createElement('div'),h=document.createElement('h3');
        h.textContent='worker '+w;col.appendChild(h);
        var src=document.getElementById('d'+w+'-'+b.getAttribute('data-file'));
        if(src){var copy=src.cloneNode(true);copy.removeAttribute('id');col.appendChild(copy);}
        else{var p=document.createElement('p');p.className='note';
          p.textContent='not in this report (cut): see it with diff '+w;col.appendChild(p);}
        cols.appendChild(col);
      });
      box.hidden=false;box.scrollIntoView();
    });
  });
})();
"""


class _FileDiff:
    """One file of a worker's diff: its name, +/- line counts, and its patch lines."""

    __slots__ = ("name", "added", "deleted", "binary", "lines", "cut", "note", "uncounted")

    def __init__(self, name: str, added: int = 0, deleted: int = 0, binary: bool = False,
                 note: str = ""):
        self.name, self.added, self.deleted, self.binary = name, added, deleted, binary
        self.lines: Optional[List[str]] = None  # escaped; None: not shown
        self.cut = False  # the report's budget ran out at or before it
        self.note = note  # e.g. why it is not shown
        self.uncounted = False  # its +/- counts come from its patch lines (see _read_file_diffs)


class _Held(list):
    """The first items of a listing of any size (an agent made it), and how many more it
    had that are not held (``beyond``)."""

    beyond = 0


def _diff_sources(repo: _Repo, branch: str, base: str, recorded: Optional[WorkerResult],
                  worktrees: List[dict]) -> "tuple[List[str], str, Optional[str], List[str], str]":
    """What shows worker ``branch``'s work: git diff's arguments, the folder to run it in,
    the worktree when it reads the worktree's files rather than the branch (its branch
    holds nothing past the base, and its worktree changes: after --no-commit, or changes
    made since the run), its untracked files, and a note when the worktree holds changes
    that are not shown (its branch has commits: what a merge brings is shown). Diff them
    with --text: a NUL byte in a file, or an attribute (the worktree's .gitattributes, even
    an ignored one; .git/info/attributes), would mark it binary and hide what changed. The
    branch by its full name: a tag or a file in the git folder named like it must not
    stand in for it. A branch (or the commit its run recorded) naming too many paths (see
    _names_past) raises ParallelError before any git lists them (its worktree's index
    holds them too)."""
    for tip in {repo.tip(branch), recorded.commit if recorded else None} - {None, "", base}:
        past = _names_past(repo, base, tip)  # type: ignore[arg-type]
        if past:
            raise ParallelError(f"{branch} {past}; list them with 'git ls-tree -r --name-only "
                                f"refs/heads/{branch}'")
    worktree = next((w["path"] for w in worktrees
                     if w.get("branch") == branch and repo.ours(w["path"])), None)
    dirty = tracked = False  # (any change there; any but a new file: read as a stream)
    for (line,) in repo._names(["status", "--porcelain", "-z", "--untracked-files=normal"],
                               worktree, 1) if worktree else ():
        dirty, tracked = True, line[:2] != "??"
        if tracked:
            break
    changed = dirty and (recorded is None or _only_in_worktree(recorded) or
                         repo.changed_since_run(worktree) is not False)
    committed = repo.count_commits(base, f"refs/heads/{branch}") > 0
    if changed and not committed:
        untracked = _Held()  # (the first _UNTRACKED_DIFFS: see _untracked_to_diff)
        for (name,) in repo._names(["ls-files", "-z", "--others", "--exclude-standard"],
                                   worktree, 1):
            if len(untracked) < _UNTRACKED_DIFFS:
                untracked.append(name)
            else:
                untracked.beyond += 1
        return [base], worktree, worktree, untracked, ""
    note = (f"{worktree} also has uncommitted changes, not on {branch}: a merge does not bring "
            f"them (see them with: git -C {worktree} status)") if changed or tracked else ""
    return [f"{base}...refs/heads/{branch}"], repo.top, None, [], note


def _terminal_safe(text: str) -> str:
    """``text`` with what would drive a terminal or hide text made visible: control
    characters as ``^X`` (tabs and line ends kept), bytes that are not UTF-8 as ``\\xNN``,
    characters that show nothing or reorder text (see _INVISIBLE) as ``<U+XXXX>``."""
    def visible(m: "re.Match[str]") -> str:
        c = ord(m.group())
        return (f"^{chr(c ^ 0x40)}" if c < 0x20 or c == 0x7f else f"<U+{c:04X}>" if c < 0xd800
                or c > 0xdfff else f"\\x{c - 0xdc00:02x}")
    return _UNSAFE.sub(visible, text)


_UNSAFE = _LazyPattern(f"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff{_INVISIBLE}]")


def _git_quote(path: str) -> str:
    """``path`` as git writes it in a patch header (core.quotePath)."""
    data = path.encode("utf-8", "surrogateescape")
    if not any(b < 0x20 or b >= 0x7f or b in (0x22, 0x5c) for b in data):
        return path
    special = {7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r",
               0x22: '\\"', 0x5c: "\\\\"}
    return '"' + "".join(special.get(b) or (chr(b) if 0x20 <= b < 0x7f else f"\\{b:03o}")
                         for b in data) + '"'


# How diffs pair files, whatever the user's git config says (diff.renames=copies): renames
# only, each file in one pair at most (a copy's source is also listed as changed: leaving a
# large copy out of a diff would leave its small source out too); and those not found
# among a few files compared by content (one blob similar to a base file named at 1,000
# paths took git 36 s and 1 GB) are shown as a deletion and an addition.
_RENAMES = ("--find-renames", "-l50")
# Whatever the user's git config says: plain patches, a/ and b/, submodules as commit lines.
_DIFF_OPTIONS = ("--no-color", "--no-ext-diff", "--no-textconv", "--submodule=short",
                 "--src-prefix=a/", "--dst-prefix=b/", *_RENAMES)
# Extended header lines worth showing (a mode change or a rename has no other line).
_DIFF_META = ("old mode", "new mode", "new file mode", "deleted file mode", "rename from",
              "rename to", "copy from", "copy to", "similarity index")


# Bytes of a file (either side) whose lines git diffs: git's line diff takes some 44 bytes of
# memory a line, and 100 MB of newlines (a 100 KB bundle) would cost it 4.4 GB. And of all
# the files of one diff: one blob of 4 MB of newlines named 250 times (a 5 KB bundle) took
# git minutes.
_DIFF_FILE_LIMIT = 4 << 20
_DIFF_TOTAL_LIMIT = 64 << 20
_DIFF_EXCLUDE_LIMIT = 64 << 10  # characters of pathspecs leaving such files out
# The bytes of file names a diff may list: past this, git's own diff would hold them many
# times over (50,000 names of 3.8 KB: 750 MB a `git diff --stat`), and nothing is diffed.
_DIFF_NAMES_LIMIT = 16 << 20
_UNTRACKED_DIFFS = 1000  # new files `diff` shows, one git each


def _too_large_to_diff(repo: _Repo, cwd: str, args: List[str]
                       ) -> "Optional[tuple[List[tuple[str, str]], List[str]]]":
    """The files of ``git diff ARGS`` (run in ``cwd``; ARGS revisions after --end-of-options)
    whose lines git is not asked to diff (over _DIFF_FILE_LIMIT on either side, or once
    the files before them took _DIFF_TOTAL_LIMIT), each with why, and the pathspecs that
    leave them out of a ``git diff`` (``--`` and one per path, see _exact_pathspec; [] for none);
    None when git cannot list the files, their names take more than _DIFF_NAMES_LIMIT
    (git's own diff of them would hold them many times over), or too many are too large to
    name. git lists them without reading their content (--raw); sizes come from the object
    store, and for a worktree's files (no id yet) from the file itself, never through a
    link. The listing and the sizes go through files, read side by side: nothing of a
    listing of any size is held here (round 95: 50,000 hard links of one file under 3.8 KB
    names held 750 MB)."""
    import tempfile

    def sides(head: List[str]) -> List[str]:  # (the ids an entry names, old then new)
        return [oid for mode, oid in ((head[0][1:], head[2]), (head[1], head[3]))
                if mode not in ("000000", "160000") and oid.strip("0")]

    with tempfile.TemporaryFile() as listing, tempfile.TemporaryFile() as ids, \
            tempfile.TemporaryFile() as sizes:
        try:  # (--no-renames: one path an entry)
            repo._run_to(["diff", "--raw", "-z", "--no-abbrev", *_DIFF_OPTIONS, "--no-renames",
                          *args], listing, "git could not list its files", cwd=cwd)
        except ParallelError:
            return None
        listing.seek(0)
        named = 0
        for head_raw, path_raw in _nul_records(listing, 2):
            head = head_raw.decode("ascii", "replace").split(" ")
            named += len(path_raw)
            if len(head) < 5 or not head[0].startswith(":") or named > _DIFF_NAMES_LIMIT:
                return None
            ids.write("".join(f"{oid}\n" for oid in sides(head)).encode())
        ids.seek(0)
        try:
            repo._run_to(["cat-file", "--batch-check=%(objectname) %(objectsize)"], sizes,
                         "git could not size its files", input=ids)
        except ParallelError:
            return None
        listing.seek(0)
        sizes.seek(0)
        large: List["tuple[str, str]"] = []
        excludes: List[str] = []
        total = excluded = 0
        for head_raw, path_raw in _nul_records(listing, 2):
            head = head_raw.decode("ascii", "replace").split(" ")
            path = path_raw.decode("utf-8", "surrogateescape")
            told = [sizes.readline().decode("ascii", "replace").split() for _oid in sides(head)]
            sizes_of = [int(t[1]) if len(t) == 2 and _digits(t[1]) else 0 for t in told]
            if cwd != repo.top and head[1] not in ("000000", "160000"):
                # a worktree's file (git names it by its index entry's id when that entry's
                # size and time match: the file is what git reads)
                st = _lstat_beneath(cwd, path)
                sizes_of.append(st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0)
            size = max(sizes_of + [0])
            if size > _DIFF_FILE_LIMIT or total + sum(sizes_of) > _DIFF_TOTAL_LIMIT:
                excludes.append(_exact_pathspec(path))
                excluded += len(excludes[-1])
                if excluded > _DIFF_EXCLUDE_LIMIT:
                    return None
                large.append((path, _change_of(repo, cwd, path, head)
                              + _not_diffed(size, size > _DIFF_FILE_LIMIT)))
            else:
                total += sum(sizes_of)
    return large, ["--", *excludes] if excludes else []


def _change_of(repo: _Repo, cwd: str, path: str, head: List[str]) -> str:
    """What a ``git diff --raw`` entry (``head``: its modes, ids and status) does to ``path``
    besides its lines, for a file whose lines are not shown: deleted, added, a mode or type
    changed (with a link's target)."""
    old, new, status = head[0][1:], head[1], head[4][:1]
    kinds = {"100644": "a file", "100755": "an executable file", "120000": "a symbolic link",
             "160000": "a submodule"}
    said = ("deleted; " if status == "D" else "added; " if status == "A" else
            f"{kinds.get(old, old)} made {kinds.get(new, new)}; " if old != new else "")
    if new == "120000":
        target = None
        if head[3].strip("0"):  # (a link's blob may be of any size: its first 4 KB)
            target = repo.stream(["cat-file", "blob", head[3]], repo.top, 4096)[0]
        else:
            with contextlib.suppress(OSError):
                folder, name = _walk_beneath(cwd, path)
                try:
                    target = os.readlink(name, dir_fd=folder)
                finally:
                    os.close(folder)
        said += f"it leads to {_shorten(target or '?', 300)!r}; "
    return said


def _exact_pathspec(path: str) -> str:
    """A pathspec leaving out ``path`` alone: a plain (or literal) one matches what is under it
    too, and a file an agent turned into a folder (``src`` → ``src/auth.py``) would hide
    the folder's files. Its last character escaped makes it a pattern (glob), which git
    matches against whole paths only."""
    escaped = re.sub(r"([*?[\\])", r"\\\1", path[:-1]) + "\\" + path[-1:]
    return f":(top,glob,exclude){escaped}"


def _not_diffed(size: int, alone: bool = True) -> str:
    """Why a file's lines are not shown (see _DIFF_FILE_LIMIT, _DIFF_TOTAL_LIMIT)."""
    return (f"a file of {size:,} bytes: its lines are not diffed (" + (
        f"over {_DIFF_FILE_LIMIT >> 20} MB, git's line diff could take GBs of memory)" if alone
        else f"the files diffed before it took {_DIFF_TOTAL_LIMIT >> 20} MB)"))


def _names_past(repo: _Repo, base: str, tip: str, limit: int = _DIFF_NAMES_LIMIT
                ) -> Optional[str]:
    """Why a diff of ``base`` and ``tip`` (commits) is not asked of git: ``tip``'s tree names
    more than ``limit`` bytes of paths beyond ``base``'s (git's diff would hold them all,
    several times over: round 95, 50,000 hard links under 3.8 KB names took each `diff
    --stat` or report 400 MB of git's and 750 MB of ours); None when it is asked."""
    try:
        grown = repo.names_grown(base, tip)
    except ParallelError as exc:
        return f"cannot have its files listed by git ({_shorten(str(exc), 200)})"
    return (f"names {grown >> 20} MB of paths more than its base does (over {limit >> 20} MB): "
            "git's diff of them would hold them many times over" if grown > limit else None)


def _read_file_diffs(repo: _Repo, cwd: str, args: List[str], budget: List[int],
                     text: bool = False, keep: int = 0) -> "_Held":
    """The files of ``git diff ARGS`` (run in ``cwd``; ``text``: with --text) with their +/-
    counts, and their patch lines while ``budget`` ([lines, escaped characters], spent as it
    goes) lasts; the first ``keep`` only (0: all), the others counted (``beyond``). Patch
    sections go to files by their header, never by position (a type change has two, a file
    whose section git leaves out has none). git's list is read from a file as a stream."""
    # --text: a NUL byte, or an attribute, must not turn a file into "binary, not shown"
    args = [*(["--text"] if text else []), "--end-of-options", *args]  # revisions, never options
    large = _too_large_to_diff(repo, cwd, args)
    if large is None:
        return _Held([_FileDiff("(its changes)", note="git could not list its files, their "
                                 "names are too long, or too many of them are too large to "
                                 "diff; look at them with 'git diff --name-status'")])
    args = [*args, *large[1]]
    files, headers = _Held(), {}
    ambiguous: "set[int]" = set()
    try:
        fields = (entry for (entry,) in repo._names(
            ["diff", "--numstat", "-z", *_DIFF_OPTIONS, *args], cwd, 1))
        for entry in fields:
            added, deleted, name = (entry.split("\t", 2) + ["", ""])[:3]
            old = new = name
            if not name:  # a rename: the old and new names follow
                old, new = next(fields, ""), next(fields, "")
            key = f"diff --git {_git_quote('a/' + old)} {_git_quote('b/' + new)}"
            # (git leaves spaces unquoted: a rename 'p' → 'q b/p' and a file 'p b/q' could
            # share a header, and one's lines be shown as the other's: neither is shown then)
            if keep and len(files) >= keep:
                files.beyond += 1
                if key in headers:
                    ambiguous.add(id(headers[key]))
                continue
            # (--numstat says "-" for what git takes for binary, --text or not: counted below)
            item = _FileDiff(new if old == new else f"{old} → {new}",
                             int(added) if _digits(added) else 0,
                             int(deleted) if _digits(deleted) else 0, added == "-" and not text)
            item.uncounted = added == "-" and text
            files.append(item)
            if key in headers:
                ambiguous.update({id(headers[key]), id(item)})
            headers[key] = item
    except ParallelError:
        return _Held([_FileDiff("(its changes)", note="git could not show its diff (it failed "
                                 "or ran out of memory); look at it with 'diff N --stat'")])
    undiffed = [_FileDiff(name, note=why) for name, why in large[0]]
    if not files or min(budget) <= 0:
        for item in files:
            item.cut = not item.binary
        files.extend(undiffed)
        return files
    patch, more, failed = repo.stream(["-c", "core.quotePath=true", "diff", *_DIFF_OPTIONS, *args],
                                      cwd, budget[1])
    sections = patch[len("diff --git "):].split("\ndiff --git ") if patch else []
    raw: Dict[int, List[str]] = {}
    for section in sections:
        lines = section.rstrip("\n").split("\n")
        item = headers.get("diff --git " + lines[0])
        if item is not None:
            start = next((j for j, line in enumerate(lines) if line.startswith("@@")), len(lines))
            raw.setdefault(id(item), []).extend(
                [line for line in lines[1:start] if line.startswith(_DIFF_META)] + lines[start:])
            if item.uncounted:
                body = [line for line in lines[start:] if not line.startswith("@@")]
                item.added += sum(line.startswith("+") for line in body)
                item.deleted += sum(line.startswith("-") for line in body)
    for item in files:
        if id(item) in ambiguous:
            item.note = ("git's patch names it as it names another of its files: not shown here "
                         "(see it with 'diff N')")
            continue
        _take_lines(item, raw.get(id(item)), budget)
        if id(item) not in raw and not item.binary and not more:
            item.note = "git could not show its lines (it failed)" if failed else "git shows no lines for it"
    if more:  # the last section read may be incomplete, and what follows is unread
        last = next((f for f in reversed(files) if f.lines), None)
        for item in files[files.index(last) if last else 0:]:
            item.cut = not item.binary
            if item is not last:
                item.lines = None
    files.extend(undiffed)
    return files


def _untracked_to_diff(worktree: str, untracked: List[str]
                       ) -> "tuple[List[tuple[str, Optional[str]]], int]":
    """Which new files of ``untracked`` `diff` and the report read: the first
    _UNTRACKED_DIFFS, none over _DIFF_FILE_LIMIT and _DIFF_TOTAL_LIMIT in all (as for
    committed files, see _too_large_to_diff). Returns each with why it is left out (or
    None), and how many more there are."""
    found: "List[tuple[str, Optional[str]]]" = []
    total = 0
    for name in untracked[:_UNTRACKED_DIFFS]:  # (a _Held of those, from _diff_sources)
        st = _lstat_beneath(worktree, name)
        size = st.st_size if st is not None and stat.S_ISREG(st.st_mode) else 0
        if size > _DIFF_FILE_LIMIT or total + size > _DIFF_TOTAL_LIMIT:
            found.append((name, _not_diffed(size, size > _DIFF_FILE_LIMIT)))
        else:
            total += size
            found.append((name, None))
    return found, max(len(untracked) - _UNTRACKED_DIFFS, 0) + getattr(untracked, "beyond", 0)


def _untracked_diff(worktree: str, name: str, budget: List[int]) -> _FileDiff:
    """A new file not committed yet, as git would show it, read straight from disk (no link
    followed on the way, no FIFO or device opened: an agent wrote the worktree)."""
    if name.endswith("/"):
        return _FileDiff(name, note="a git repository inside the worktree: not shown")
    st = _lstat_beneath(worktree, name)
    if st is None:
        return _FileDiff(name, note="cannot be read")
    if stat.S_ISLNK(st.st_mode):  # git shows a link as its target, without a newline
        try:
            data = os.readlink(os.path.join(worktree, name)).encode("utf-8", "surrogateescape")
        except OSError as exc:
            return _FileDiff(name, note=f"cannot be read: {exc.strerror or exc}")
        complete, count, last = True, 0, b"?"
    else:
        fd = _open_beneath(worktree, name)
        if fd is None:
            return _FileDiff(name, note="not a regular file: not shown")
        with os.fdopen(fd, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size > _DIFF_FILE_LIMIT:  # (as git's line diff of a committed one: see there)
                return _FileDiff(name, note=_not_diffed(size))
            data = f.read(max(budget[1], 0) + 1)
            complete, count, last = len(data) <= budget[1], data.count(b"\n"), data[-1:]
            for chunk in iter(lambda: f.read(1 << 20), b""):  # the lines of the rest
                count, last = count + chunk.count(b"\n"), chunk[-1:]
    # (a NUL byte does not make it binary: shown as text, as `diff` shows it, see _diff_sources)
    ends = last in (b"\n", b"")
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    if not complete or lines[-1] == "":
        lines.pop()  # a partial line, or the empty one after the last newline
    added = count + (0 if ends else 1)
    item = _FileDiff(name, added=added)
    _take_lines(item, ["new file (not committed)"] + ([f"@@ -0,0 +1,{added} @@"] if added else [])
                + ["+" + line for line in lines]
                + ([] if ends or not complete else ["\\ No newline at end of file"]), budget)
    if not complete and item.lines is not None:
        item.cut = True
        budget[0] = budget[1] = 0
    return item


def _take_lines(item: _FileDiff, lines: Optional[List[str]], budget: List[int]) -> None:
    """Give ``item`` its patch ``lines``, escaped, as many as ``budget`` allows (each at
    most 1000 characters). Once a file is cut, the worker's later files are not shown."""
    if item.binary or lines is None:
        return
    if min(budget) <= 0:
        item.cut = True
        return
    text = _html_escape("\n".join(line if len(line) <= 1000 else line[:1000] + " … (line cut)"
                                  for line in lines[:budget[0]]))
    if len(text) > budget[1]:
        text = text[:budget[1]]
        text = text[:text.rfind("\n")] if "\n" in text else ""
    item.lines = text.split("\n") if text else []
    item.cut = len(item.lines) < len(lines)
    budget[0] -= len(item.lines)
    budget[1] -= len(text)
    if item.cut:
        budget[0] = budget[1] = 0


def _html_escape(text: str) -> str:
    """Text as HTML: markup characters escaped, characters HTML cannot hold replaced."""
    from html import escape
    return escape(_xml_text(text), quote=True)  # (bidi overrides, zero-width marks: shown)


_HIDDEN = _LazyPattern(f"[{_INVISIBLE}]")


def _check_outputs(log_path: str, commands: List[str]) -> List[Optional[str]]:
    """The output of each check command, in order, from a worker log (None: not found)."""
    try:
        with _open_regular(log_path) as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8 * 1024 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return [None] * len(commands)
    outputs: List[Optional[str]] = []
    at = 0
    for cmd in commands:
        head = f"\n$ {cmd}   # check\n"
        start = text.find(head, at)
        if start < 0:
            outputs.append(None)
            continue
        start += len(head)
        end = text.find("\n$ ", start)
        end = len(text) if end < 0 else end + 1
        body = text[start:end]
        last = body.rstrip("\n").rfind("\n")
        if body[last + 1:].startswith(("# exit code", "# timed out")):
            body = body[:last + 1]  # the runner's own closing line
        outputs.append(body)
        at = end - 1
    return outputs


def _head(text: str, size: int = 4000) -> str:
    """The start of a task that may be huge, saying how much more there is."""
    return text if len(text) <= size else (
        f"{text[:size]}\n… and {len(text) - size:,} more characters (the whole task is in the "
        "results)")


def _tail(text: str) -> str:
    lines, size = _REPORT_TAIL
    cut = text[-size:].splitlines()[-lines:]
    return ("…\n" if len(text) > len("\n".join(cut)) + 1 else "") + "\n".join(cut)


def _html_report(results: List[WorkerResult], run_info: dict, top: str, local: bool = True) -> str:
    """One self-contained HTML page of a run: header, ranking, timeline, charts, one
    section per worker with its checks, logs, files and diff, a files x workers grid.

    Everything that comes from agents, tasks and repositories is escaped, and the
    Content-Security-Policy lets no script run but the report's own. ``local``: the
    workers ran here, so their logs are read (not so after collect)."""
    import base64
    import hashlib

    def h(value: object) -> str:
        return _html_escape(str(value))

    repo = None
    with contextlib.suppress(ParallelError, OSError):
        repo = _Repo.find(top) if top else None
    # Collected results: only the commits they name (and collect verified), never a worktree.
    worktrees = repo.worktrees() if repo and local else []
    present = _present(repo, {name for r in results
                              for name in (r.base_commit, r.commit, r.branch if local else None)})
    chars = min(_REPORT_DIFF_CHARS, _REPORT_DIFF_TOTAL // max(len(results), 1))
    import concurrent.futures  # git does the work: several at once
    pool = concurrent.futures.ThreadPoolExecutor(max(2, _cores()))
    try:
        diffs = dict(zip([r.worker_id for r in results], pool.map(
            lambda r: _worker_diffs(repo, r, worktrees, present, chars, local), results)))
    finally:  # on Ctrl-C, what has not started never does (its gits got the signal too)
        pool.shutdown(wait=False, cancel_futures=True)
    ranked = sorted(results, key=lambda r: r.rank)
    winner = _winner(results)
    race = len({r.task for r in results}) == 1
    names = sorted({f.name for files, _note in diffs.values() for f in files or []})
    index = {name: i for i, name in enumerate(names)}

    def digest(text: str) -> str:
        return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()

    policy = (f"default-src 'none'; style-src '{'sha256-' + digest(_REPORT_CSS)}'; "
              f"script-src '{'sha256-' + digest(_REPORT_JS)}'; img-src 'none'; "
              "base-uri 'none'; form-action 'none'")
    title = f"architect-parallel: {os.path.basename(top) if top else 'results'}"
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           f'<meta http-equiv="Content-Security-Policy" content="{h(policy)}">',
           '<meta name="viewport" content="width=device-width,initial-scale=1">',
           f"<title>{h(title)}</title><style>{_REPORT_CSS}</style></head><body>"]
    out += _report_header(results, run_info, top, repo, winner, h)
    out += _report_ranking(ranked, winner, h)
    out.append("<h2>Timeline</h2>")
    out.append(_timeline_svg(results, run_info, h))
    out.append('<div class="charts">')
    if any(r.cost_known for r in results):
        out.append(_bars_svg("Cost (USD)", [(r, r.cost if r.cost_known else None) for r in results],
                             lambda v: f"${v:.4f}", h))
    out.append(_bars_svg("Agent time", [(r, r.duration) for r in results],
                         lambda v: f"{v:.1f}s" if v < 60 else _duration(v), h))
    out.append("</div>")
    out += _report_grid(results, diffs, names, index, h)
    out.append('<div class="tools" hidden data-js><button id="expand">expand all diffs</button>'
               '<button id="collapse">collapse all diffs</button></div>')
    out.append('<section id="compare" hidden><h2>Compare</h2><div class="cols"></div></section>')
    for r in ranked:
        out += _report_worker(r, diffs[r.worker_id], index, local, race, h)
    out.append(f'<p class="meta">Written by architect-parallel {__version__}.</p>')
    out.append(f"<script>{_REPORT_JS}</script></body></html>\n")
    return "\n".join(out)


def _worker_diffs(repo: Optional[_Repo], r: WorkerResult, worktrees: List[dict],
                  present: "set[str]", chars: int, local: bool = True
                  ) -> "tuple[Optional[List[_FileDiff]], str]":
    """A worker's changed files, with their patches within the report's budget, and a
    note on what is missing; None when its work is not in this repository (``present``:
    the commits and branches that are). Collected (not ``local``): only its commit."""
    prog = _prog()
    if repo is None:
        return None, "Its diff is not shown: the report was written outside its repository."
    if not local and r.commit is None:
        return [], "It committed nothing."
    if r.base_commit not in present or (r.commit or r.branch) not in present:
        return None, (f"Its commits are not in this repository: fetch {r.branch} from where it "
                      f"ran, then run '{prog} report' again.")
    try:
        args, cwd, worktree, untracked, also = _diff_sources(repo, r.branch, r.base_commit, r,
                                                             worktrees)
    except ParallelError as exc:
        return None, f"Its diff cannot be read: {exc}"
    if worktree is None and r.commit:  # what the run committed, even if the branch moved on
        args = [f"{r.base_commit}...{r.commit}"]
    budget = [_REPORT_DIFF_LINES, chars]
    files = _read_file_diffs(repo, cwd, args, budget, text=True, keep=_REPORT_FILES)
    found, more = _untracked_to_diff(cwd, untracked)
    files += [_FileDiff(name, note=why) if why else _untracked_diff(cwd, name, budget)
              for name, why in found]
    note = (f"Uncommitted changes in its worktree {worktree}, against the base." if worktree
            else f"{also}." if also else "")
    if more:
        note += f" {more:,} more new files are not shown."
    if any(f.cut for f in files):
        note += (f" The report shows up to {_REPORT_DIFF_LINES} diff lines "
                 f"({chars // 1024} KB) per worker; see all of it with "
                 f"'{prog} diff {r.worker_id}'.")
    return files, note.strip()


def _present(repo: Optional[_Repo], names: "set[str]") -> "set[str]":
    """Which of ``names`` (commits, branches) name a commit in ``repo`` (one git call)."""
    names = {n for n in names if n and not n.startswith("-") and "\n" not in n}
    if repo is None or not names:
        return set()
    order = sorted(names)
    out = repo.git("cat-file", "--batch-check=%(objecttype)", check=False,
                   input="".join(f"{n}^{{commit}}\n" for n in order).encode("utf-8", "surrogateescape")
                   ) or ""
    return {n for n, line in zip(order, out.splitlines()) if line == "commit"}


def _report_header(results: List[WorkerResult], run_info: dict, top: str, repo: Optional[_Repo],
                   winner: Optional[WorkerResult], h: Callable[[object], str]) -> List[str]:
    def when(value: object) -> str:
        return (time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(value))  # type: ignore[arg-type]
                if _plausible_time(value) else "unknown")

    base = run_info.get("base_commit")
    base = base if isinstance(base, str) else next((r.base_commit for r in results), "")
    subject = (repo.git("log", "-1", "--format=%s", base, check=False) or "").strip() \
        if repo and base and repo.succeeds("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}") \
        else ""
    succeeded = sum(r.status == "success" for r in results)
    total = max(len(results), run_info.get("workers_total") or 0) \
        if _count(run_info.get("workers_total")) else len(results)
    known = [r.cost for r in results if r.cost_known]
    cost = (f"${sum(known):.4f}" + (f" (unknown for {len(results) - len(known)})"
                                    if len(known) < len(results) else "")) if known else "unknown"
    tokens_in = [r.tokens_in for r in results if r.tokens_in is not None]
    tokens_out = [r.tokens_out for r in results if r.tokens_out is not None]
    started, finished = run_info.get("started"), run_info.get("finished")
    wall = (_duration(finished - started) if _plausible_time(started) and _plausible_time(finished)
            else "unknown")
    verdict = (f'best: <a href="#w{winner.worker_id}">worker {winner.worker_id}</a> '
               f"({h(winner.model)}, {h(winner.branch)})" if winner else
               "different tasks: no worker is best" if len({r.task for r in results}) > 1 else
               "no best: no worker succeeded and passed its checks")
    rows = [("repository", h(top or "not known here")),
            ("base", f'<span class="mono">{h(base[:12])}</span> {h(subject)}'),
            ("started", h(when(started))), ("finished", h(when(finished))),
            ("wall time", h(wall)),
            ("succeeded", f"{succeeded} of {total}"),
            ("total cost", h(cost)),
            ("tokens in/out", h(f"{sum(tokens_in) if tokens_in else '-'} / "
                                f"{sum(tokens_out) if tokens_out else '-'}")),
            ("verdict", verdict)] + [("race", h(line)) for line in _race_lines(results, run_info, total)]
    checks = _checks_note(results, run_info)
    if checks:
        rows.append(("checks", h(checks)))
    if len({r.task for r in results}) == 1:  # a race: its task once, here
        rows.insert(0, ("task", f'<pre class="task">{h(_head(results[0].task))}</pre>'))
    return [f"<h1>{h('architect-parallel: ' + (os.path.basename(top) if top else 'results'))}</h1>",
            '<table class="meta">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
            + "</table>"]


def _report_ranking(ranked: List[WorkerResult], winner: Optional[WorkerResult],
                    h: Callable[[object], str]) -> List[str]:
    rows = ['<h2>Ranking</h2><div class="wide"><table><tr><th>rank</th><th>#</th><th>branch</th>'
            "<th>model</th>"
            "<th>status</th><th>checks</th><th>steps</th><th>cost</th><th>tokens</th>"
            "<th>time</th><th>files</th><th>task</th></tr>"]
    for r in ranked:
        rows.append(
            f'<tr{" class=best" if r is winner else ""}><td class="n">{"★ " if r is winner else ""}'
            f'{r.rank}</td><td class="n"><a href="#w{r.worker_id}">{r.worker_id}</a></td>'
            f'<td class="b">{h(r.branch)}</td><td>{h(r.model)}</td>'
            f'<td><span class="badge {h(r.status)}">{h(r.status)}</span></td>'
            f'<td class="n">{h(_checks_cell(r))}</td>'
            f'<td class="n">{r.steps if r.steps_known else "-"}</td>'
            f'<td class="n">{h(f"${r.cost:.4f}" if r.cost_known else "-")}</td>'
            f'<td class="n">{h(_format_tokens(r))}</td><td class="n">{r.duration:.1f}s</td>'
            f'<td class="n">{len(r.files_modified)}</td><td>{h(_shorten(r.task, 80))}</td></tr>')
    return rows + ["</table></div>"]


def _ticks(span: float) -> List[float]:
    """Round positions for a time axis of ``span`` seconds: at most about 10."""
    step = next((s for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200,
                             14400, 43200, 86400) if span / s <= 10), 0)
    step = step or 86400 * math.ceil(span / 86400 / 10)  # days apart (a clock gone wrong?)
    return [i * step for i in range(int(span // step) + 1)]


def _timeline_svg(results: List[WorkerResult], run_info: dict, h: Callable[[object], str]) -> str:
    """One lane per worker: its states on the run's time axis, its status at the end."""
    times = [e["at"] for r in results for e in r.timeline if _plausible_time(e["at"])]
    if not times:
        return '<p class="note">No timeline was recorded for these results (an older version).</p>'
    t0 = min(times + [v for v in [run_info.get("started")] if _plausible_time(v)])
    t1 = max(times + [v for v in [run_info.get("finished")] if _plausible_time(v)])
    span = max(t1 - t0, 1.0)
    left, width, lane = 190, 1000, 24
    scale = (width - left - 20) / span
    height = 30 + lane * len(results) + 40
    out = [f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
           'aria-label="timeline of the workers">']
    for tick in _ticks(span):
        x = left + tick * scale
        out.append(f'<line class="axis" x1="{x:.1f}" y1="20" x2="{x:.1f}" '
                   f'y2="{height - 30}" stroke-width="1"/>'
                   f'<text class="tick" x="{x:.1f}" y="14" text-anchor="middle">{_duration(tick)}</text>')
    for row, r in enumerate(sorted(results, key=lambda r: r.worker_id)):
        y = 24 + row * lane
        label = _shorten(f"{r.worker_id} {r.model}", 28)
        out.append(f'<a href="#w{r.worker_id}"><text x="4" y="{y + 15}">{h(label)}</text></a>')
        events = [e for e in r.timeline if _plausible_time(e["at"])]
        for i, event in enumerate(events):
            start = left + (event["at"] - t0) * scale
            state = str(event["state"])
            if state in STATUSES:
                out.append(f'<rect class="{h(state)}" x="{start - 3:.1f}" y="{y + 2}" width="6" '
                           f'height="{lane - 6}" rx="2"><title>worker {r.worker_id}: '
                           f'{h(state)}</title></rect>')
                continue
            end = events[i + 1]["at"] if i + 1 < len(events) else t1
            seconds = max(end - event["at"], 0.0)
            out.append(f'<rect class="{h(state)}" x="{start:.1f}" y="{y + 4}" '
                       f'width="{max(seconds * scale, 0.5):.1f}" height="{lane - 10}">'
                       f'<title>worker {r.worker_id}: {h(state)} {h(_duration(seconds))}</title></rect>')
    x = 4
    for state in _TIMELINE_STATES:
        out.append(f'<rect class="{state}" x="{x}" y="{height - 22}" width="12" height="12"/>'
                   f'<text x="{x + 16}" y="{height - 12}">{state}</text>')
        x += 24 + 7 * len(state)
    out.append("</svg>")
    return "".join(out)


def _bars_svg(title: str, values: "List[tuple[WorkerResult, Optional[float]]]",
              label: Callable[[float], str], h: Callable[[object], str]) -> str:
    """A small horizontal bar chart: one bar per worker, its value written beside it."""
    most = max([v for _r, v in values if v is not None] + [0.0]) or 1.0
    left, width, lane = 150, 480, 20
    out = [f'<figure><figcaption>{h(title)}</figcaption><svg viewBox="0 0 {width} '
           f'{lane * len(values) + 6}" width="100%" role="img" aria-label="{h(title)}">']
    for row, (r, value) in enumerate(sorted(values, key=lambda item: item[0].worker_id)):
        y = 4 + row * lane
        out.append(f'<text x="4" y="{y + 13}">{h(_shorten(f"{r.worker_id} {r.model}", 22))}</text>')
        if value is None:
            out.append(f'<text class="tick" x="{left}" y="{y + 13}">unknown</text>')
            continue
        bar = value / most * (width - left - 90)
        out.append(f'<rect class="bar" x="{left}" y="{y + 3}" width="{max(bar, 1):.1f}" '
                   f'height="{lane - 8}"/><text x="{left + bar + 6:.1f}" y="{y + 13}">'
                   f'{h(label(value))}</text>')
    return "".join(out) + "</svg></figure>"


def _report_grid(results: List[WorkerResult], diffs: dict, names: List[str],
                 index: Dict[str, int], h: Callable[[object], str]) -> List[str]:
    """Which worker changed which file, with +/- counts; files several changed can be compared."""
    if not names:
        return ["<h2>Files</h2>", '<p class="note">No worker changed a file.</p>']
    workers = sorted(results, key=lambda r: r.worker_id)
    by_worker = {r.worker_id: {f.name: f for f in diffs[r.worker_id][0] or []} for r in workers}
    out = ['<h2>Files × workers</h2><div class="wide"><table><tr><th>file</th>'
           + "".join(f'<th><a href="#w{r.worker_id}">{r.worker_id}</a></th>' for r in workers)
           + "<th></th></tr>"]
    for name in names[:_REPORT_GRID_FILES]:
        cells, touched = [], []
        for r in workers:
            f = by_worker[r.worker_id].get(name)
            if f is None:
                cells.append("<td></td>")
                continue
            touched.append(str(r.worker_id))
            counts = "binary" if f.binary else (f'<span class="add">+{f.added}</span> '
                                               f'<span class="del">−{f.deleted}</span>')
            cells.append(f'<td class="n">{_file_link(r.worker_id, f, index, counts)}</td>')
        compare = (f'<button class="cmp" hidden data-js data-file="{index[name]}" '
                   f'data-workers="{" ".join(touched)}" data-name="{h(name)}">compare</button>'
                   if len(touched) > 1 else "")
        out.append(f'<tr><td class="mono">{h(name)}</td>{"".join(cells)}<td>{compare}</td></tr>')
    out.append("</table></div>")
    if len(names) > _REPORT_GRID_FILES:
        out.append(f'<p class="note">{len(names) - _REPORT_GRID_FILES} more files are listed '
                   "under each worker.</p>")
    return out


def _report_worker(r: WorkerResult, diff: "tuple[Optional[List[_FileDiff]], str]",
                   index: Dict[str, int], local: bool, race: bool,
                   h: Callable[[object], str]) -> List[str]:
    """One worker's section: what it was given, what it said, its checks, files and diff."""
    files, note = diff
    out = [f'<section id="w{r.worker_id}"><h2>Worker {r.worker_id} · {h(r.model)} · '
           f'<span class="badge {h(r.status)}">{h(_verdict(r))}</span></h2>',
           f'<pre class="task">{h(_head(r.task))}</pre>' if not race else ""]
    facts = [("branch", r.branch), ("commit", r.commit or "none"),
             ("exit code", "did not run" if r.exit_code is None else r.exit_code),
             ("attempts", r.attempts), ("agent time", f"{r.duration:.1f}s"),
             ("cost", f"${r.cost:.4f}" if r.cost_known else "unknown"),
             ("steps", r.steps if r.steps_known else "unknown"),
             ("tokens in/out", _format_tokens(r)), ("worktree", r.worktree_path),
             ("sandbox", r.sandbox or "none")]
    out.append('<table class="meta">' + "".join(f"<tr><th>{k}</th><td>{h(v)}</td></tr>"
                                                 for k, v in facts) + "</table>")
    if r.error:
        out.append(f'<div class="error">{h(r.error)}</div>')
    if r.checks_total:
        out.append("<h3>Checks</h3>")
        outputs = (_check_outputs(r.worker_log, [c["command"] for c in r.checks]) if local
                   else [None] * len(r.checks))
        for check, output in zip(r.checks, outputs):
            mark = ('<span class="pass">✔ passed</span>' if check["passed"] else
                    f'<span class="fail">✘ failed (exit code {h(check.get("exit_code"))})</span>')
            seconds = check.get("duration")
            body = (f"<pre>{h(_tail(output))}</pre>" if output and output.strip() else
                    '<p class="note">It printed nothing.</p>' if output is not None else
                    '<p class="note">Its output is in the worker log on the machine that ran '
                    "it.</p>")
            out.append(f"<details{'' if check['passed'] else ' open'}><summary>{mark} "
                       f'<code>{h(check["command"])}</code>'
                       + (f" {seconds:.1f}s" if _finite(seconds) else "")
                       + f"</summary>{body}</details>")
        if len(r.checks) < r.checks_total:
            out.append(f'<p class="note">{h(_checks_cell(r))}: '
                       f"{r.checks_total - len(r.checks)} check(s) did not run.</p>")
    stderr = _log_tail(r.stderr_path, _REPORT_TAIL[1]) if r.stderr_path and local else ""
    if stderr.strip():
        out.append(f"<details><summary>The end of its stderr ({h(r.stderr_path)})</summary>"
                   f"<pre>{h(_tail(stderr))}</pre></details>")
    out.append("<h3>Files</h3>")
    if files is None:
        named = ", ".join(r.files_modified[:100]) + (" …" if len(r.files_modified) > 100 else "")
        out.append(f'<p class="note">{len(r.files_modified)} file(s){": " if named else ""}'
                   f"{h(named)}. {h(note)}</p>")
        return out + ["</section>"]
    if not files:
        return out + ['<p class="note">No files changed.</p></section>']
    listed = files[:_REPORT_FILES]
    beyond = getattr(files, "beyond", 0)  # (not held: see _read_file_diffs)
    out.append("<table>" + "".join(
        f'<tr><td class="mono">{_file_link(r.worker_id, f, index, h(f.name))}</td>'
        + (f'<td colspan="2">{"binary" if f.binary else h(f.note)}</td>' if f.binary or f.note else
           f'<td class="n add">+{f.added}</td><td class="n del">−{f.deleted}</td>') + "</tr>"
        for f in listed) + "</table>")
    if len(files) + beyond > len(listed):
        note += (f" {len(files) + beyond - len(listed)} more files are not listed; see them "
                 f"with '{_prog()} diff {r.worker_id} --stat'.")
    shown = {part for f in files for part in f.name.split(" → ")}
    missing = [name for name in r.files_modified if name not in shown] if not beyond else []
    if missing:
        note += (" Also changed, but not in this diff (uncommitted, or a git repository inside "
                 f"the worktree): {', '.join(missing[:50])}{' …' if len(missing) > 50 else ''}.")
    if note.strip():
        out.append(f'<p class="note">{h(note.strip())}</p>')
    for f in listed:
        anchor = f"d{r.worker_id}-{index[f.name]}"
        if f.binary:
            out.append(f'<p id="{anchor}" class="mono">{h(f.name)}: binary file, not shown</p>')
        elif f.lines is not None:
            out.append(f'<details class="d"{" open" if len(f.lines) <= _REPORT_OPEN_LINES else ""}>'
                       f'<summary class="mono">{h(f.name)} <span class="add">+{f.added}</span> '
                       f'<span class="del">−{f.deleted}</span></summary>'
                       f'<pre class="diff" id="{anchor}">' + "".join(map(_diff_line, f.lines))
                       + ('<span class="m">… cut here (see the note above)</span>' if f.cut else "")
                       + "</pre></details>")
    return out + ["</section>"]


def _file_link(worker: int, f: _FileDiff, index: Dict[str, int], text: str) -> str:
    """``text`` linked to the worker's diff of ``f``, when the report shows that diff."""
    shown = f.binary or f.lines is not None
    return f'<a href="#d{worker}-{index[f.name]}">{text}</a>' if shown else text


def _diff_line(line: str) -> str:
    """One escaped patch line, marked up as added, deleted, hunk header, note or context."""
    first = line[:1]
    if first == "+":
        return f"<ins>{line}</ins>"
    if first == "-":
        return f"<del>{line}</del>"
    return (f'<span class="h">{line}</span>' if first == "@" else
            f"<span>{line}</span>" if first == " " else f'<span class="m">{line or " "}</span>')


######################################################################
# Command line
######################################################################

class _ArgumentParser(argparse.ArgumentParser):
    """argparse, but usage errors become one-line ParallelErrors instead of exit(2) with
    usage, and long options are never abbreviated (``--model`` is not ``--models``)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str):  # type: ignore[override]
        raise _UsageError(f"{message} (see '{self.prog} --help')")

    def unknown_options(self, extras: List[str]) -> _UsageError:
        """The error for arguments no option took, with the nearest option named."""
        import difflib
        known = [o for o in self._option_string_actions if o.startswith("--")]
        hints = []
        for arg in extras:
            if arg.startswith("--"):
                name = arg.split("=", 1)[0]
                close = difflib.get_close_matches(name, known, n=1, cutoff=0.7)
                hints += [f"{name}: did you mean {close[0]}?"] if close and close[0] != name else []
        return _UsageError(f"unrecognized arguments: {' '.join(extras)}"
                           + (f" ({'; '.join(hints)})" if hints else "")
                           + f" (see '{self.prog} --help')")


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _requirement(text: str) -> str:
    if text in ("all", "any") or (_digits(text) and int(text) >= 1):
        return text
    raise argparse.ArgumentTypeError(f"expected all, any or a number of workers, got {text!r}")


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def _add_plan_options(p: argparse.ArgumentParser, positional: bool = True) -> None:
    """The options that say what a run does (shared by run, plan and collect: its files
    come first, so the task of its plan is a --task)."""
    if positional:
        p.add_argument("task", nargs="?", metavar="TASK", help="the task (or use --task)")
    else:
        p.set_defaults(task=None)
    p.add_argument("--task", action="append", dest="tasks", metavar="T", default=[],
                   help="a task, repeatable: worker i gets task i (use --task=-x for a task "
                        "starting with '-')")
    p.add_argument("--tasks-file", metavar="FILE",
                   help="more tasks, one per line (blank lines skipped; - reads stdin): "
                        "thousands of tasks without a long command line")
    p.add_argument("--workers", type=_whole_number, metavar="N",
                   help=f"workers running at once, 1-{MAX_WORKERS} (default 3)")
    p.add_argument("--models", metavar="CSV",
                   help="comma-separated models: worker i gets model i")
    p.add_argument("--agent", metavar="NAME", help="architect agent of every worker (default build)")
    p.add_argument("--max-steps", type=_whole_number, metavar="N", help="steps per worker (default 50)")
    p.add_argument("--budget-per-worker", type=_number, metavar="USD", help="USD limit per worker")
    p.add_argument("--budget-total", type=_number, metavar="USD",
                   help="no new worker starts once the run's known spend reaches USD; each "
                        "agent that takes a budget gets at most what is left")
    p.add_argument("--sandbox", choices=_SANDBOX_MODES, default=None,
                   help="run each worker in a bubblewrap sandbox that lets it write only its "
                        "worktree (bwrap), when one works here (auto), or not (none, default)")
    p.add_argument("--sandbox-allow", action="append", dest="sandbox_allow", metavar="PATH",
                   help="also let sandboxed workers write PATH; repeatable")
    p.add_argument("--stop-on-pass", action="store_true", default=None,
                   help="race: once a worker succeeds and passes every check, stop the others "
                        "and start no more")
    p.add_argument("--timeout-per-worker", type=_whole_number, metavar="SECONDS",
                   help="time limit per worker; the runner kills it a little later if needed")
    p.add_argument("-c", "--config", metavar="FILE",
                   help="YAML config: reads its parallel_runs section; passed to every agent")
    p.add_argument("--api-base", metavar="URL", help="LLM API base URL passed to every agent")
    p.add_argument("--base", metavar="REF", help="start the branches from REF instead of HEAD")
    p.add_argument("--force", action="store_true",
                   help="discard work found in the worktrees and branches this run reuses")
    p.add_argument("--agent-cmd", metavar="NAME_OR_TEMPLATE",
                   help=f"agent CLI: a preset ({', '.join(PRESETS)}; default architect) or a "
                        "command template such as 'my-agent --prompt {task} --model {model?}'")
    p.add_argument("--include", action="append", metavar="PATTERN",
                   help="also copy untracked/ignored files matching PATTERN (gitignore syntax) "
                        "into each worktree, like .worktreeinclude; repeatable")
    p.add_argument("--setup", action="append", metavar="CMD",
                   help="run CMD with sh -c in each worktree before the agent; repeatable")
    p.add_argument("--check", action="append", dest="checks", metavar="CMD",
                   help="run CMD with sh -c in each worktree after the agent; passing checks "
                        "rank a worker higher; repeatable")
    p.add_argument("--check-timeout", type=_number, metavar="SECONDS",
                   help="time limit of each setup and check command (default 600)")
    p.add_argument("--port-base", type=_whole_number, metavar="PORT",
                   help="ARCHITECT_PARALLEL_PORT is PORT + worker id (default 8100)")
    p.add_argument("--retries", type=_whole_number, metavar="N",
                   help="run a failed or timed-out worker again up to N times, in a fresh "
                        "worktree (default 0)")
    p.add_argument("--no-commit", action="store_false", dest="commit", default=None,
                   help="leave each worker's changes uncommitted in its worktree")
    p.add_argument("--check-all", action="store_true", default=None,
                   help="run the checks for workers that failed or timed out too")


def _add_report_options(p: argparse.ArgumentParser) -> None:
    """The options that say what is printed and written (shared by run and collect)."""
    p.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    p.add_argument("--quiet", action="store_true", help="print only errors on stderr")
    p.add_argument("--results", metavar="FILE",
                     help="write the full results JSON (with run metadata) to FILE")
    p.add_argument("--junit", metavar="FILE", help="write a JUnit XML report to FILE")
    p.add_argument("--html", metavar="FILE",
                   help="write the HTML report (workers side by side, diffs) to FILE")
    p.add_argument("--summary", metavar="FILE",
                     help="write a Markdown summary to FILE (also appended to $GITHUB_STEP_SUMMARY)")
    p.add_argument("--require", type=_requirement, metavar="all|any|N", default="any",
                     help="exit 0 only if all workers, any worker (default) or at least N "
                          "workers succeeded")


def _worker_set(text: str) -> List[int]:
    """'2,5-7' -> [2, 5, 6, 7]."""
    found = set()
    for part in text.split(","):
        low, dash, high = part.strip().partition("-")
        if not _digits(low) or (dash and not _digits(high)) or int(low) < 1 \
                or (dash and int(high) < int(low)):
            raise argparse.ArgumentTypeError(f"expected worker numbers like 2,5-7, got {text!r}")
        if int(high if dash else low) > _MAX_WORKER_ID:
            raise argparse.ArgumentTypeError(f"worker numbers go up to {_MAX_WORKER_ID}, got {text!r}")
        found.update(range(int(low), int(high if dash else low) + 1))
    return sorted(found)


_MAX_WORKER_ID = 10000


def _build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The command-line parser. With ``command``, only that subcommand gets its options
    (the others are listed by name): start-up is faster, and the result the same."""
    parser = _ArgumentParser(
        prog=_prog(),
        description="Run several AI coding agents at once, each in its own git worktree.",
        epilog="A first argument that is not a subcommand means 'run'. "
               "Exit codes: 0 at least one worker succeeded (merge: merged), 1 none did "
               "(merge: conflict, nothing changed), 2 bad usage/config/repository, "
               "130 interrupted (143 SIGTERM, 129 SIGHUP).")
    parser.add_argument("--version", action="version", version=f"architect-parallel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, aliases, help_text, description, add_options in _SUBCOMMANDS:
        examples = "\n".join(f"  {_prog()} {line}" for line in _EXAMPLES[name])
        p = sub.add_parser(name, aliases=aliases, help=help_text, description=description,
                           allow_abbrev=False, epilog=f"examples:\n{examples}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        if command is None or command == name or command in aliases:
            p.add_argument("--version", action="version", version=f"architect-parallel {__version__}")
            add_options(p)
    return parser


def _run_options(p: argparse.ArgumentParser) -> None:
    _add_plan_options(p)
    p.add_argument("--progress", choices=("auto", "tty", "plain", "none"), default="auto",
                   help="live lines on a terminal (tty), timestamped lines (plain), or none; "
                        "auto picks tty on a terminal (default)")
    p.add_argument("--only-workers", type=_worker_set, metavar="LIST",
                   help="run only these workers of the plan, e.g. 2,5-7 (same numbering, "
                        "branches and worktrees as a full run)")
    _add_report_options(p)


def _plan_options(p: argparse.ArgumentParser) -> None:
    _add_plan_options(p)
    p.add_argument("--matrix", action="store_true",
                   help="print a GitHub Actions strategy.matrix JSON instead")
    p.add_argument("--json", action="store_true", help="print the plan as a JSON object")


def _rerun_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--failed", action="store_true",
                   help="the workers whose status was not success (required)")
    p.add_argument("--force", action="store_true",
                   help="discard work found in their worktrees and branches")
    _add_new_limits(p)
    _add_report_options(p)


def _add_new_limits(p: argparse.ArgumentParser) -> None:
    """--progress, and the limits rerun and continue may change (see _LIMITS)."""
    p.add_argument("--progress", choices=("auto", "tty", "plain", "none"), default="auto",
                   help="as for run")
    p.add_argument("--timeout-per-worker", type=_whole_number, metavar="SECONDS",
                   help="a new time limit per worker, instead of the last run's")
    p.add_argument("--budget-per-worker", type=_number, metavar="USD",
                   help="a new cost limit per worker, instead of the last run's")
    p.add_argument("--budget-total", type=_number, metavar="USD",
                   help="a new cap on the known spend of the plan's runs, instead of the "
                        "last run's")


def _collect_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE", help="results files")
    p.add_argument("--recheck", action="store_true",
                   help="run the plan's checks here on each verified commit that claims "
                        "success, instead of taking the results files' word for them")
    _add_plan_options(p, positional=False)
    _add_report_options(p)


def _cleanup_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="say what would be removed, remove nothing")
    p.add_argument("--force", action="store_true",
                   help="also delete work done in the worktrees or branches since the last run")
    p.add_argument("--keep-branches", action="store_true",
                   help="remove the worktrees but keep the branches and their commits")


def _diff_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("worker", metavar="N", help="worker number, or 'best' (the verified winner "
                   "of the last race)")
    p.add_argument("--stat", action="store_true", help="only the diffstat")


def _merge_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("worker", metavar="N", help="worker number, 'best' (the verified winner of the "
                   "last race), or 'all' (every worker that succeeded, in worker order)")
    p.add_argument("--squash", action="store_true",
                   help="squash the branch into one new commit on the current branch")
    p.add_argument("--force", action="store_true",
                   help="merge a worker that did not succeed or failed checks")


def _list_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print them as a JSON array")


def _continue_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("worker", metavar="N", help="worker number, or 'best' (the verified winner of "
                   "the last race)")
    p.add_argument("task", metavar="TASK", help="the follow-up task")
    p.add_argument("--fresh", action="store_true",
                   help="start a new agent session instead of resuming the worker's last one")
    _add_new_limits(p)
    _add_report_options(p)


def _html_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--html", metavar="FILE",
                   help=f"where to write it (default: .git/{_STATE_DIR}/report.html)")
    p.add_argument("--open", action="store_true", help="open it in a web browser")


# name, aliases, help, description, options
_SUBCOMMANDS = [
    ("run", ["parallel"], "run the workers (default)",
     "Run TASK (or each --task) in parallel worktrees.", _run_options),
    ("plan", [], "print what a run would do, creating nothing",
     "Print one line per worker (id, branch, model, task) of the run these options describe; "
     "create nothing.", _plan_options),
    ("rerun", [], "run the workers of the last run that did not succeed",
     "Run again, with the same task, model and options, the workers of the last run that did "
     "not succeed.", _rerun_options),
    ("collect", [], "merge results files of one plan run on several machines",
     "Merge --results files written by 'run --only-workers' jobs of the same plan into one "
     "report and exit code. Give it the jobs' plan options (the tasks as --task): the plan is "
     "its own, and of each file only what it can check is taken.", _collect_options),
    ("cleanup", ["parallel-cleanup"], "remove all parallel worktrees and branches",
     "Remove every .architect-parallel-* worktree and every architect/parallel-* branch, then "
     "prune.", _cleanup_options),
    ("diff", [], "show what worker N committed: git diff BASE...architect/parallel-N",
     "Show what worker N committed: git diff BASE...architect/parallel-N.", _diff_options),
    ("merge", [], "merge worker N's branch into the current branch",
     "Merge worker N's branch into the current branch.", _merge_options),
    ("list", [], "list the parallel worktrees and their last status",
     "List the parallel worktrees with the status of the last run.", _list_options),
    ("continue", [], "run worker N's agent again in its worktree with a follow-up task",
     "Run worker N's agent and model again in its worktree, on its branch, with a follow-up "
     "task (resuming its session where the CLI can), commit on top and run the checks again.",
     _continue_options),
    ("report", [], "write an HTML report of the last run: workers side by side",
     "Write one self-contained HTML page of the last run (or of what collect merged here): "
     "ranking, timeline, cost and time, each worker's checks, logs and diff; print its path.",
     _html_options),
]


# What each subcommand's --help ends with.
_EXAMPLES = {
    "run": ['"fix the failing test" --models gpt-4o,claude-sonnet-4-6 --check "pytest -q"',
            '--task "tests for auth" --task "tests for users" --workers 2',
            'run refactor --agent-cmd claude --timeout-per-worker 900'],
    "plan": ['plan "fix the failing test" --models a,b,c',
             'plan "fix the failing test" --models a,b,c --matrix'],
    "rerun": ["rerun --failed", "rerun --failed --force --timeout-per-worker 1800"],
    "collect": ["collect results-*.json --task=\"$TASK\" --models \"$MODELS\" --check \"$CHECK\" "
                "--recheck --junit junit.xml --require any"],
    "cleanup": ["cleanup --dry-run", "cleanup", "cleanup --keep-branches"],
    "diff": ["diff best --stat", "diff 2"],
    "merge": ["merge best", "merge all", "merge 3 --force"],
    "list": ["list", "list --json"],
    "report": ["report --open", "report --html report.html"],
    "continue": ['continue best "also handle empty input"', 'continue 2 "fix the lint errors" --fresh'],
}


def _cmd_run(args: argparse.Namespace) -> int:
    _check_output_paths(args)
    runner, interrupted = _run_with_progress(args, _config_from_args(args))
    try:
        code = _report(args, runner.results, runner.run_info, runner.top or "")
    finally:
        if interrupted is not None:
            raise interrupted
    return code


def _run_with_progress(args: argparse.Namespace, config: ParallelConfig, spent: float = 0.0
                       ) -> "tuple[ParallelRunner, Optional[KeyboardInterrupt]]":
    """Run ``config`` with the progress display the options ask for; an interrupt is returned."""
    display = _Progress(_Progress.choose(args.progress), quiet=args.quiet)
    runner = ParallelRunner(config, os.getcwd(), progress=display.message, on_state=display.state)
    try:
        runner.run(spent)
    except KeyboardInterrupt as exc:
        return runner, exc
    finally:
        display.close()
    return runner, None


def _cmd_rerun(args: argparse.Namespace) -> int:
    if not args.failed:
        raise _UsageError("say which workers to run again: rerun --failed")
    for key in _LIMITS:
        if getattr(args, key) is not None:
            _check_value(key, getattr(args, key), f"--{key.replace('_', '-')}")
    repo = _Repo.find(os.getcwd())
    last, saved, previous = _last_plan(repo, "rerun")
    failed = sorted(r.worker_id for r in previous if r.status != "success")
    if not failed:
        if not args.quiet:
            _print_err("nothing to rerun: every worker of the last run succeeded")
        return EXIT_OK
    # The same plan: same tasks, models and options, from the same base commit.
    config = ParallelConfig(
        tasks=saved["tasks"], models=saved.get("models") or None, base_branch=last["base_commit"],
        config_path=saved.get("config_path"), api_base=saved.get("api_base"), force=args.force,
        only_workers=failed, **{key: saved[key] for key in DEFAULTS if key in saved})
    for key in _LIMITS:  # the limits may change
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    runner, interrupted = _run_with_progress(
        args, config, last["spent"] if _finite(last.get("spent")) else 0.0)
    merged = {r.worker_id: r for r in previous}
    merged.update({r.worker_id: r for r in runner.results})
    results = _rank(list(merged.values()))
    info = dict(runner.run_info or last, only_workers=None)
    info.pop("results", None)
    if runner.results:  # what list, diff best and merge best read: the whole plan again
        _save_last_run(repo, info, results)
    code = _report(args, results, info, repo.top, total=int(last.get("workers_total") or len(results)))
    if interrupted is not None:
        raise interrupted
    return code


# The limits rerun and continue may change.
_LIMITS = ("timeout_per_worker", "budget_per_worker", "budget_total")


def _last_plan(repo: _Repo, command: str) -> "tuple[dict, dict, List[WorkerResult]]":
    """The last run (as saved), its configuration and its results, for rerun and continue."""
    last = _load_last_run(repo)
    unreadable = _unreadable_run(repo, last, f"what to {command} is unknown")
    if unreadable:
        raise unreadable
    saved = last.get("config")
    if not isinstance(saved, dict) or not isinstance(last.get("results"), list) \
            or not isinstance(saved.get("tasks"), list) or not last.get("base_commit"):
        raise ParallelError(f"there is no last run to {command} here (or an older version made it)")
    if last.get("collected"):  # its settings come from results files: commands to run
        raise ParallelError(f"the last results here were collected from results files, whose "
                            f"settings (agent, setup and check commands) are not taken to run "
                            f"anything: {command} runs here only after a run here (use 'run' "
                            "with the plan's options and --only-workers)")
    return last, saved, [_result_from_dict(item, "last-run.json") for item in last["results"]]


def _cmd_continue(args: argparse.Namespace) -> int:
    _check_output_paths(args)
    for key in _LIMITS:
        if getattr(args, key) is not None:
            _check_value(key, getattr(args, key), f"--{key.replace('_', '-')}")
    if not args.task.strip():
        raise _UsageError("continue needs a follow-up task: continue N \"what to do next\"")
    repo = _Repo.find(os.getcwd())
    last, saved, results = _last_plan(repo, "continue")
    _branch, _base, previous = _worker_branch(repo, args.worker)
    if previous is None:
        raise ParallelError(f"worker {args.worker} has no result in the last run to continue from")
    config = ParallelConfig(
        tasks=[args.task], base_branch=last["base_commit"], config_path=saved.get("config_path"),
        api_base=saved.get("api_base"), **{key: saved[key] for key in DEFAULTS if key in saved})
    config.stop_on_pass = False  # one worker: nothing to race
    for key in _LIMITS:
        if getattr(args, key) is not None:
            setattr(config, key, getattr(args, key))
    display = _Progress(_Progress.choose(args.progress), quiet=args.quiet)
    runner = ParallelRunner(config, os.getcwd(), progress=display.message, on_state=display.state)
    interrupted: Optional[KeyboardInterrupt] = None
    try:
        runner.continue_worker(previous, args.task, resume=not args.fresh,
                               spent=last["spent"] if _finite(last.get("spent")) else 0.0)
    except KeyboardInterrupt as exc:
        interrupted = exc
    finally:
        display.close()
    if not runner.results:
        if interrupted is not None:
            raise interrupted
        return EXIT_NO_SUCCESS
    result = runner.results[0]
    results = _rank([result if r.worker_id == result.worker_id else r for r in results])
    info = dict({k: v for k, v in last.items() if k != "results"}, spent=runner.spent,
                git_config=runner.config_digest)
    _save_last_run(repo, info, results)
    code = _report(args, [result], info, repo.top, follow_up=True)
    if interrupted is not None:
        raise interrupted
    return code


_GITHUB_MATRIX_LIMIT = 256  # jobs per matrix


def _cmd_plan(args: argparse.Namespace) -> int:
    import json
    config = _config_from_args(args)
    workers, info = ParallelRunner(config, os.getcwd()).plan()
    if args.matrix:
        if len(workers) > _GITHUB_MATRIX_LIMIT:
            _print_err(f"warning: {len(workers)} workers: GitHub Actions runs at most "
                       f"{_GITHUB_MATRIX_LIMIT} jobs per matrix; split the plan with "
                       "--only-workers ranges")
        _print_out(json.dumps({"include": workers}, ensure_ascii=True))
    elif args.json:
        _print_json({"fingerprint": info["fingerprint"], "base_commit": info["base_commit"],
                     "workers": workers})
    else:
        _print_out("\n".join(_align([[f"{w['worker']:>3}", w["branch"], _shorten(w["model"], 40),
                                       _shorten(w["task"], 60)] for w in workers], {0})))
        padding = _padding(config)
        _print_err((f"{padding}\n" if padding else "")
                   + f"plan {info['fingerprint']}: {len(workers)} worker(s) from {info['base_commit'][:12]}")
    return EXIT_OK


def _cmd_collect(args: argparse.Namespace) -> int:
    """Merge the results files of one plan's jobs, trusting only what can be checked here:
    the plan is this command's own (its options and config, as for ``plan``); from the
    files come the outcomes, each bounded and cross-checked against the plan, and each
    claimed commit is verified against its branch here (see _collected_results)."""
    repo = _Repo.find(os.getcwd())
    config = _config_from_args(args)
    workers, plan = ParallelRunner(config, repo.top).plan()
    documents = []  # (path, its run's times, spend and win): a file's results are let go once read

    def read() -> "Iterator[tuple[str, dict]]":
        for path in args.files:
            try:
                data = _read_results_file(path, plan["fingerprint"])
            except ParallelError as exc:  # one bad file never hides the others
                _print_err(f"warning: {exc}; left out")
                continue
            documents.append((path, _collected_run(data)))
            yield path, data

    sources: Dict[int, str] = {}  # worker id: the file its result came from
    results = _collected_results(repo, read(), workers, plan, config, sources)
    if not documents:
        raise ParallelError(f"no results file of this plan ({plan['fingerprint']}) among "
                            f"{len(args.files)} file(s): give collect the same task, models "
                            "and options as the jobs (see 'plan')")
    if args.recheck:
        _recheck(args, config, results)
    total = plan["workers_total"]
    missing = sorted(set(range(1, total + 1)) - {r.worker_id for r in results})
    if missing and not args.quiet:
        _print_err(f"warning: no results for worker(s) {_shorten(', '.join(map(str, missing)), 200)} "
                   f"of {total}")
    # A file speaks for its own workers only, of the run too: its times count where a result
    # of its own was kept; a win only for one of them, in a race (--stop-on-pass); the spend is
    # what the kept results cost.
    speaking = [d for path, d in documents if path in sources.values()]
    times = [(d["started"], d["finished"]) for d in speaking]
    ids = {r.worker_id for r in results if _verified(r)}
    wins = [d["won"] for path, d in documents if config.stop_on_pass and d["won"]
            and d["won"]["worker"] in ids and sources.get(d["won"]["worker"]) == path]
    costs = [r.cost for r in results if r.cost_known]
    info = dict(plan, only_workers=None, collected=True,
                checks_run_by="collect" if args.recheck else "workers",
                started=min((t[0] for t in times if _finite(t[0])), default=None),
                finished=max((t[1] for t in times if _finite(t[1])), default=None),
                spent=round(sum(costs), 6) if costs else None,  # each machine's race: the first win
                won={"worker": min(wins, key=lambda w: w["after"])["worker"],
                     "after": min(w["after"] for w in wins)} if wins else None,
                # what merge compares the git config with is this repository's own
                git_config=_digest(repo.settings()))
    results = _rank(results)
    # The verified commit of each kept result is where cleanup and merge hold its branch (a
    # commit of yours on it later is yours); a branch of no kept result keeps its record.
    for r in results:
        if r.commit is not None and repo.tip(r.branch) == r.commit:
            repo.record_branch(r.branch, r.commit)
    repo.forget_branches([w["branch"] for w in workers if not repo.tip(w["branch"])])
    _save_last_run(repo, info, results)  # so that diff best and merge best work here
    code = _report(args, results, info, repo.top, total=total, local=False)
    checks = _checks_note(results, info)
    if checks and not args.quiet:
        _print_err(f"checks: {checks}")
    return code


def _recheck(args: argparse.Namespace, config: ParallelConfig, results: List[WorkerResult]) -> None:
    """collect --recheck: run the plan's checks here on the commit of each worker that
    claims success (and collect verified), and take those outcomes, not the claimed ones."""
    if not config.checks:
        raise _UsageError("collect --recheck: the plan has no checks to run (give collect the "
                          "jobs' --check options)")
    if getattr(args, "sandbox", None) not in ("bwrap", "none") and config.sandbox != "bwrap":
        raise _UsageError("collect --recheck runs the workers' code: give it --sandbox bwrap, or "
                          "--sandbox none to run that code unsandboxed, knowingly, in a job that "
                          "holds no credential")
    repo = _Repo.find(os.getcwd())
    credentials = _config_credentials(_read_bytes(os.path.join(repo.common_dir, "config")))
    if credentials:
        raise ParallelError(f"collect --recheck runs the workers' code, and "
                            f"{os.path.join(repo.common_dir, 'config')} holds a credential "
                            f"({_shorten(', '.join(credentials), 200)}) it could read; check "
                            "out without it (actions/checkout: persist-credentials: false)")
    claims = {r.worker_id: r for r in results if r.status == "success"}
    for r in results:  # the others' checks are not run here: none stands as if it had been
        if r.worker_id not in claims:
            r.checks, r.checks_passed = [], 0
    if not claims:
        return
    base = next(iter(claims.values())).base_commit
    config = dataclasses.replace(config, commit=False)  # (what setup writes is not the work)
    _print_err(f"collect --recheck: running the {len(config.checks)} check(s) on the commits of "
               f"worker(s) {_shorten(', '.join(map(str, sorted(claims))), 200)}")
    display = _Progress(_Progress.choose("auto"), quiet=args.quiet)
    runner = ParallelRunner(config, os.getcwd(), progress=display.message, on_state=display.state)
    try:
        ran = runner.recheck({n: r.commit or base for n, r in claims.items()})
    finally:
        display.close()
    for done in ran:
        r = claims[done.worker_id]
        r.checks, r.checks_passed = done.checks, done.checks_passed
        r.checks_total = len(config.checks)
        if done.status != "success" or len(done.checks) < len(config.checks):
            _fail_worker(r, f"collect --recheck could not run its checks: "
                            f"{done.error or done.status}")
    # What the checks ran (unsandboxed, or a stray write) may have moved any branch: each
    # must still be where collect verified it, or it is put back and its worker fails.
    for r in results:
        expected = r.commit or (base if r.worker_id in claims else None)
        ref = f"refs/heads/{r.branch}"
        tip = repo.tip(r.branch)
        if expected and tip != expected and (tip or r.commit):  # (deleted: put back too)
            repo.git("update-ref", ref, expected)
            _fail_worker(r, f"its branch was moved to {tip[:12]} while collect --recheck ran "
                            f"the workers' code; it was put back at {expected[:12]}")


# The largest results file collect reads: a job's results are a few KB per worker.
_RESULTS_FILE_LIMIT = 16 << 20
# The largest last-run.json read (see _load_last_run), and the most changed files a result
# keeps, each name at most _FILE_NAME_LIMIT characters: what keeps it well below that.
_LAST_RUN_LIMIT = 64 << 20
_FILES_LIMIT = 5000
_FILE_NAME_LIMIT = 1000


def _read_results_file(path: str, fingerprint: str) -> dict:
    """A results file of the plan ``fingerprint``, parsed (not yet checked field by field);
    ParallelError saying why when it is none."""
    import json
    try:
        with _open_regular(path) as f:
            data = f.read(_RESULTS_FILE_LIMIT + 1)
        if len(data) > _RESULTS_FILE_LIMIT:
            raise ParallelError(f"{path} is larger than {_RESULTS_FILE_LIMIT >> 20} MB")
        if _json_values(data) > 4 * _JSON_VALUES:
            raise ParallelError(f"{path} holds more than {4 * _JSON_VALUES:,} values (objects, "
                                "arrays and commas), more than collect reads")
        data = json.loads(data.decode("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:  # (nesting too deep)
        why = "nesting too deep" if isinstance(exc, RecursionError) else \
            getattr(exc, "strerror", None) or exc
        raise ParallelError(f"cannot read results file {path}: {why}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) \
            or not isinstance(data.get("fingerprint"), str):
        raise ParallelError(f"{path} is not a results file of architect-parallel --results")
    if data["fingerprint"] != fingerprint:
        raise ParallelError(f"{path} comes from another plan (fingerprint "
                            f"{_shorten(data['fingerprint'], 20)}) than this collect's "
                            f"({fingerprint}): the jobs and collect must check out the same "
                            "commit and give the same task, models and options")
    return data


def _collected_run(data: dict) -> dict:
    """What collect takes of a results file besides its results, each field checked once
    (a hostile job wrote it; a list where a worker id goes broke collect): its run's start
    and end, spend, and win (a worker id and when), each None when it makes no sense."""
    won = data.get("won")
    won = {"worker": won["worker"], "after": won["after"]} if isinstance(won, dict) and \
        _count(won.get("worker")) and _finite(won.get("after")) and 0 <= won["after"] <= 1e7 \
        else None
    return {"started": data.get("started") if _plausible_time(data.get("started")) else None,
            "finished": data.get("finished") if _plausible_time(data.get("finished")) else None,
            "spent": data.get("spent") if _finite(data.get("spent")) else None, "won": won}


def _collected_results(repo: _Repo, documents: "Iterable[tuple[str, dict]]", workers: List[dict],
                       plan: dict, config: ParallelConfig,
                       sources: Optional[Dict[int, str]] = None) -> List[WorkerResult]:
    """The results of ``documents`` that hold up, one per worker; each one that does not
    is reported (file, worker, why) and left out. A worker claimed twice is left out
    altogether: which claim is true cannot be known here. ``sources``, when given, gets the
    file each kept result came from."""
    found: Dict[int, "List[tuple[str, WorkerResult]]"] = {}
    jobs = {w["worker"]: w for w in workers}
    for path, data in documents:
        # A file speaks for its own workers only: the one its name gives (results-3.json,
        # as the README's jobs name them), else those it says it ran (--only-workers).
        named = re.search(r"-([0-9]{1,18})\.json$", os.path.basename(path))
        own = [int(named.group(1))] if named else data.get("only_workers")
        own = own if isinstance(own, list) and all(_count(n) for n in own) else None
        left_out = 0
        for n, item in enumerate(data["results"][:_MAX_WORKER_ID], 1):
            try:
                result = _collected_result(item, path, jobs, plan, config)
                if own is not None and result.worker_id not in own:
                    raise ParallelError(f"worker {result.worker_id} is not this file's own "
                                        f"({'its name says' if named else 'it ran'} worker(s) "
                                        f"{_shorten(', '.join(map(str, own)), 100)})")
            except ParallelError as exc:
                left_out += 1
                if left_out <= 20:
                    _print_err(f"warning: {path}: result {n}: {exc}; left out")
                continue
            found.setdefault(result.worker_id, []).append((path, result))
        if left_out > 20:
            _print_err(f"warning: {path}: {left_out - 20} more results left out")
    results = []
    for worker, claims in sorted(found.items()):
        if len(claims) > 1:
            _print_err(f"warning: worker {worker} has results in {len(claims)} places "
                       f"({_shorten(', '.join(p for p, _ in claims), 200)}); all left out")
            continue
        # Each worker's checks have _COLLECT_CHECK_SECONDS in all (round 107: a rule of many
        # `*`s in its .gitattributes kept each of them busy up to its own 600 s)
        with _time_box(_COLLECT_CHECK_SECONDS) as stop:
            try:
                results.append(_verify_commit(repo.wrapped(None, _WORKTREE_GIT_TIMEOUT, stop),
                                              claims[0][1], plan["base_commit"]))
            except Exception as exc:  # (git refused its objects, took too long, or they are
                said = str(exc) if isinstance(exc, ParallelError) else \
                    f"{type(exc).__name__}: {exc}"  # (not what git writes: that worker fails)
                if stop.is_set():
                    said = (f"its checks took more than {_COLLECT_CHECK_SECONDS:g} s in all (a "
                            f"rule its branch adds that git matches slowly?): {said}")
                results.append(dataclasses.replace(
                    claims[0][1], status="failed", commit=None,
                    error="collect could not verify its work: " + _shorten(said, 300)))
        if sources is not None:
            sources[worker] = claims[0][0]
    return results


def _collected_result(item: object, path: str, jobs: Dict[int, dict], plan: dict,
                      config: ParallelConfig) -> WorkerResult:
    """The WorkerResult that ``item`` of results file ``path`` claims, when every field is of
    its kind, within its bounds and true to the plan; ParallelError saying what is not.
    Paths it names are dropped: collect never opens a file a results file names."""
    result = _result_from_dict(item, path)
    job = jobs.get(result.worker_id)
    if job is None:
        raise ParallelError(f"worker {result.worker_id} is not in the plan "
                            f"(workers 1-{len(jobs)})")
    what = f"worker {result.worker_id}"
    for name, mine in (("task", job["task"]), ("model", job["model"]),
                       ("base_commit", plan["base_commit"])):
        if getattr(result, name) != mine:
            raise ParallelError(f"{what}: its {name} is not the plan's")
    if result.commit is not None and not _FULL_ID.fullmatch(result.commit):
        raise ParallelError(f"{what}: its commit is not a full object id")
    checks = config.checks
    if result.checks_total != len(checks) or len(result.checks) > result.checks_total \
            or [c["command"] for c in result.checks] != checks[:len(result.checks)] \
            or result.checks_passed != sum(c["passed"] for c in result.checks):
        raise ParallelError(f"{what}: its checks are not the plan's {len(checks)} check(s), or "
                            "its count of passed checks is not theirs")
    if result.attempts > config.retries + 1 or not 0 <= result.duration <= 1e7 \
            or result.cost > 1e9 or any(t is not None and t > 1e15
                                        for t in (result.tokens_in, result.tokens_out)):
        raise ParallelError(f"{what}: {result.attempts} attempts, a duration of "
                            f"{result.duration:.6g}s, a cost of ${result.cost:.6g} or its "
                            "tokens cannot be")
    return dataclasses.replace(
        result, worktree_path="", log_path="", stderr_path="", worker_log="", rank=0,
        error=None if result.error is None else _shorten(result.error, 2000),
        files_modified=[_shorten(f, 1000) for f in result.files_modified[:100000]],
        session_id=None, continued=[],
        sandbox="bwrap" if result.sandbox == "bwrap" else None,
        sandbox_refused=[_shorten(p, 1000) for p in result.sandbox_refused[:20]],
        checks=[{"command": c["command"], "passed": c["passed"], "exit_code": c.get("exit_code"),
                 "duration": c.get("duration", 0)} for c in result.checks],
        timeline=[{"state": e["state"], "at": e["at"]} for e in result.timeline[:100]
                  if e["state"] in _TIMELINE_STATES and _plausible_time(e["at"])])


def _plausible_time(value: object) -> bool:
    """Whether ``value`` can be a Unix time of a run (1970 to 2100): what a results file
    says may be any number, and a clock of 10^300 seconds breaks every date function."""
    return _finite(value) and 0 <= value <= 4102444800


# The states a worker's timeline may record (see WorkerResult.timeline).
_TIMELINE_STATES = ("queued", "creating", "setup", "running", "checking", *STATUSES)

# A full object id (SHA-1 or SHA-256): never an abbreviation, a ref name or an option.
_FULL_ID = _LazyPattern("[0-9a-f]{40}([0-9a-f]{24})?")


def _too_large(repo: _Repo, base: str, tip: str) -> Optional[str]:
    """Why a collected commit ``tip`` is too large to take (see _Repo.tree_sizes: what git
    and a checkout do with it grows with it, and a worker job's bundle of a few KB can name
    billions of files, gigabytes of names or terabytes of contents), or None."""
    (_, _, before), (files, paths, after) = repo.tree_sizes([base, tip])
    if files > _MAX_FILES or paths > _MAX_PATH_BYTES:
        return (f"its commit holds more than {_MAX_FILES:,} files, or paths of more than "
                f"{_MAX_PATH_BYTES >> 20} MB in all")
    if after - before > _OBJECTS_LIMIT:
        return (f"its files hold {(after - before) / (1 << 30):.1f} GB more than the plan's base "
                f"(a checkout of it may add {_OBJECTS_LIMIT >> 30} GB at most)")
    return None


def _verify_commit(repo: _Repo, result: WorkerResult, base: str) -> WorkerResult:
    """``result``, whose work must be the commit its branch holds here: when the worker
    claims success and changed files, its branch's tip must be the commit it names, and
    that commit must descend from the plan's base with a history of its own (no merge, no
    commit another ref holds: see _Repo.taken_in); its files are then the commit's, as git
    says. What cannot be verified did not pass: the worker is then ``failed``, saying why.
    A worker that did not succeed keeps a commit only where its branch holds it, descending
    from the base with a history of its own, within collect's bounds (its diff is shown:
    see _too_large) and well formed. A commit not verified is not kept: no command shows
    or merges it as the worker's."""
    tip = repo.tip(result.branch)

    def files_of(commit: str) -> List[str]:  # (as git says, never as the results claim)
        return repo.files_between(base, commit)

    def unkept(commit: str) -> Optional[str]:  # (why the commit its branch holds is not kept)
        if not repo.succeeds("merge-base", "--is-ancestor", base, commit):
            return f"its commit {commit[:12]} does not descend from the plan's base {base[:12]}"
        if repo.git("rev-list", "--merges", "--max-count=1", commit, f"^{base}", "--").strip():
            return ("its branch holds a merge (what it takes in cannot be checked here, where "
                    "the other branches may not be)")
        if repo.taken_in(result.branch, base, commit):
            return "its branch takes in commits that another branch or tag holds"
        too_large = _too_large(repo, base, commit)  # (first: what follows reads every file)
        if too_large:
            return too_large
        written = _written_otherwise(repo, base, commit)
        return "its branch " + "; and ".join(written) if written else repo.malformed(base, commit)

    if result.status != "success":
        if result.commit is None or result.commit != tip:
            return dataclasses.replace(result, commit=None, files_modified=[])
        why = unkept(tip)
        return dataclasses.replace(result, commit=None, files_modified=[], error=_shorten(
            f"{result.error or result.status}; collect did not keep its commit: {why}", 2000)
        ) if why else dataclasses.replace(result, files_modified=files_of(tip))
    if result.commit is None and result.files_modified:
        why = "its changes were not committed (--no-commit), so they cannot be verified here"
    elif result.commit is None:  # nothing changed: its branch, if here, holds nothing more
        if not tip or tip == base:
            return result
        why = f"its branch holds commits ({tip[:12]}) its results do not name"
    else:
        if not tip:
            why = (f"its branch {result.branch} is not in this repository: fetch the workers' "
                   "branches before collect")
        elif tip != result.commit:
            why = f"its branch's tip {tip[:12]} is not the commit its results name ({result.commit[:12]})"
        else:
            why = unkept(tip)
            if not why:
                return dataclasses.replace(result, files_modified=files_of(tip))
    return dataclasses.replace(result, status="failed", commit=None, files_modified=[],
                               error=f"collect could not verify its work: {why} (it reported success)")


def _result_from_dict(item: object, path: str) -> WorkerResult:
    """A WorkerResult from its --json form (null steps/cost mean unknown)."""
    names = [f.name for f in dataclasses.fields(WorkerResult)]
    if not isinstance(item, dict) or not all(name in item for name in names[:9]):
        raise ParallelError(f"{path}: a result lacks the WorkerResult fields")
    values = {name: item[name] for name in names if name in item}
    for name, value in values.items():
        kind = _RESULT_TYPES.get(name)
        if kind and not (isinstance(value, kind) if isinstance(kind, (type, tuple)) else kind(value)):
            raise ParallelError(f"{path}: worker {_shorten(repr(values.get('worker_id')), 40)}: "
                                f"bad {name} {_shorten(repr(value), 60)}")
    if values["branch"] != f"{BRANCH_PREFIX}{values['worker_id']}":
        raise ParallelError(f"{path}: worker {values['worker_id']}: its branch must be "
                            f"{BRANCH_PREFIX}{values['worker_id']}, not {values['branch']!r}")
    values["steps_known"] = values.get("steps") is not None
    values["cost_known"] = values.get("cost") is not None
    values["steps"] = values["steps"] if values["steps_known"] else 0
    values["cost"] = values["cost"] if values["cost_known"] else 0.0
    return WorkerResult(**values)


def _exit_code(value: object) -> bool:
    """Whether ``value`` can be a process's exit code (or a signal's, negative)."""
    return isinstance(value, int) and not isinstance(value, bool) and -(1 << 31) <= value < 1 << 32


def _within(value: object, low: float, high: float = 1e9) -> bool:
    """Whether ``value`` is a number from ``low`` to ``high`` (seconds: some 30 years)."""
    return _finite(value) and low <= value <= high  # type: ignore[operator]


def _finite(value: object) -> bool:
    try:
        return _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
    except OverflowError:  # (an int of 400 digits)
        return False


# What each field of a result read back from JSON must hold (see _result_from_dict).
_RESULT_TYPES: Dict[str, object] = {
    "worker_id": lambda v: _count(v) and v >= 1, "branch": str, "model": str,
    "status": lambda v: v in STATUSES, "steps": lambda v: v is None or _count(v),
    "cost": lambda v: v is None or (_finite(v) and v >= 0), "duration": lambda v: _within(v, 0),
    "files_modified": lambda v: isinstance(v, list) and all(isinstance(f, str) for f in v),
    "worktree_path": str, "task": str, "exit_code": lambda v: v is None or _exit_code(v),
    "error": (str, type(None)), "log_path": str, "stderr_path": str, "base_commit": str,
    "worker_log": str, "commit": (str, type(None)), "checks_passed": _count,
    "checks_total": _count, "rank": _count, "attempts": _count,
    "tokens_in": lambda v: v is None or _count(v), "tokens_out": lambda v: v is None or _count(v),
    "checks": lambda v: isinstance(v, list) and all(
        isinstance(c, dict) and isinstance(c.get("command"), str) and isinstance(c.get("passed"), bool)
        and (c.get("exit_code") is None or _exit_code(c.get("exit_code")))
        and _within(c.get("duration", 0), 0) for c in v),
    "sandbox": (str, type(None)),
    "sandbox_refused": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
    "session_id": lambda v: v is None or (isinstance(v, str) and bool(_SESSION.fullmatch(v))),
    "continued": lambda v: isinstance(v, list) and all(
        isinstance(c, dict) and isinstance(c.get("task"), str) for c in v),
    "timeline": lambda v: isinstance(v, list) and all(
        isinstance(e, dict) and isinstance(e.get("state"), str) and _finite(e.get("at")) for e in v),
}


def _config_from_args(args: argparse.Namespace) -> ParallelConfig:
    """The ParallelConfig that command-line options and the config file describe."""
    tasks = ([args.task] if args.task is not None else []) + args.tasks
    if args.tasks_file:
        tasks += _read_tasks_file(args.tasks_file)
    warnings: List[str] = []
    file_values = _load_config_file(args.config, warnings) if args.config else {}
    for line in warnings if not getattr(args, "quiet", False) else []:
        _print_err(f"warning: {line}")
    values = dict(DEFAULTS)
    values.update(file_values)
    for key in DEFAULTS:  # command-line values override the file's
        value = getattr(args, key)
        if value is not None:
            flag = {"checks": "--check", "commit": "--no-commit"}.get(key, "--" + key.replace("_", "-"))
            _check_value(key, value, label=flag)
            values[key] = value
    if args.models is not None:
        models = [m.strip() for m in args.models.split(",")]
        if not all(models):
            raise _UsageError(f"--models has an empty name: {args.models!r}")
    else:
        models = None
    return ParallelConfig(tasks=tasks, models=models, base_branch=args.base,
                          config_path=os.path.abspath(args.config) if args.config else None,
                          api_base=args.api_base, force=args.force,
                          only_workers=getattr(args, "only_workers", None), **values)


def _read_tasks_file(path: str) -> List[str]:
    """The tasks of a --tasks-file: its non-blank lines (undecodable bytes kept as they are)."""
    try:
        if path == "-":
            if getattr(sys.stdin, "buffer", None) is None:
                raise OSError("standard input is closed")
            data = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                data = f.read()
    except (OSError, ValueError) as exc:
        raise _UsageError(f"--tasks-file: cannot read {path}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
        data = data[3:]
    # Lines end at \n (and \r\n) only: other characters str.splitlines() splits at belong to the task.
    lines = [line[:-1] if line.endswith(b"\r") else line for line in data.split(b"\n")]
    tasks = [text for text in (line.decode("utf-8", "surrogateescape") for line in lines) if text.strip()]
    if not tasks:
        raise _UsageError(f"--tasks-file: {path} holds no task")
    return tasks


def _report(args: argparse.Namespace, results: List[WorkerResult], run_info: dict, top: str,
            total: Optional[int] = None, local: bool = True, follow_up: bool = False) -> int:
    """Print and write what a run produced; return the exit code ``--require`` asks for.
    ``local``: the workers ran here (not so for collect); ``follow_up``: continue's one."""
    if args.json:
        _print_json([r.to_dict() for r in results])
    if results and not args.quiet:
        _print_err(_format_table(results, top, total, local, run_info, follow_up,
                                 _kept_by_cleanup(top) if local else None))
    elif args.quiet:  # --quiet keeps the errors
        for r in results:
            if r.error and r.status not in ("interrupted", "stopped", "skipped"):
                _print_err(f"error: worker {r.worker_id}: {r.error}")
    writes = []
    if args.results:
        writes.append((args.results, lambda: _write_json(args.results, _results_document(run_info, results))))
    if args.junit:
        writes.append((args.junit, lambda: _write_text(args.junit,
                                                        _junit_xml(results, local, total))))
    if args.html:
        writes.append((args.html, lambda: _write_text(args.html, _html_report(results, run_info,
                                                                              top, local))))
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if args.summary or step_summary:
        summary = _summary_markdown(results, _best_diffstat(top, results, local), args.html,
                                    run_info, total)
        if args.summary:
            writes.append((args.summary, lambda: _write_text(args.summary, summary)))
        if step_summary:
            writes.append((step_summary, lambda: _append_text(step_summary, summary)))
    failed = False
    for _path, write in writes:  # one that fails does not stop the others
        try:
            write()
        except ParallelError as exc:
            _print_err(f"error: {exc} (the results are also in .git/{_STATE_DIR}/last-run.json)")
            failed = True
    succeeded = sum(r.status == "success" for r in results)
    total = len(results) if total is None else total
    needed = {"any": 1, "all": max(total, 1)}.get(args.require) or int(args.require)
    if failed:
        return EXIT_USAGE
    if succeeded < needed:
        if args.require != "any":
            _print_err(f"error: {succeeded} of {total} worker(s) succeeded; --require {args.require} "
                       f"needs {needed}")
        return EXIT_NO_SUCCESS
    return EXIT_OK


def _append_text(path: str, text: str) -> None:
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write(text)
    except OSError as exc:
        raise ParallelError(f"cannot append to {path}: {exc.strerror or exc}") from None


def _check_output_paths(args: argparse.Namespace) -> None:
    """Fail before any work when a report could not be written where it is asked for."""
    for flag in ("results", "junit", "summary", "html"):
        path = getattr(args, flag, None)
        if path and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            raise _UsageError(f"--{flag} {path}: the folder {os.path.dirname(os.path.abspath(path))} "
                              "does not exist")


def _best_diffstat(top: str, results: List[WorkerResult], local: bool = True) -> str:
    """``git diff --stat`` of the best worker's branch against its base, or '' if unknown;
    of its verified commit when collected (not ``local``)."""
    best = [r for r in [_winner(results)] if r]
    if not top or not best or not best[0].base_commit or not (local or best[0].commit):
        return ""
    try:
        repo = _Repo.find(top)
    except ParallelError:
        return ""
    tip = best[0].commit or repo.tip(best[0].branch)
    if not tip or _names_past(repo, best[0].base_commit, tip):
        return ""
    args = ["--text", "--end-of-options", f"{best[0].base_commit}...{tip}"]
    large = _too_large_to_diff(repo, repo.top, args)
    if large is None:
        return ""
    stat = repo.git("diff", "--stat", *_RENAMES, *args, *large[1], check=False) or ""
    # (a name may hold a line end: on one line, as git's own --stat writes it quoted)
    return stat + "".join(f" {_shorten(_git_quote(name), 200)}: {_shorten(why, 500)}\n"
                          for name, why in large[0])


def _cmd_cleanup(args: argparse.Namespace) -> int:
    said = []

    def progress(line: str) -> None:
        said.append(line)
        _print_err(line)

    runner = ParallelRunner(ParallelConfig(tasks=[]), os.getcwd(), progress=progress)
    runner.cleanup(dry_run=args.dry_run, keep_branches=args.keep_branches, force=args.force)
    if not said:
        _print_err("nothing to clean up" if not args.dry_run else "nothing would be removed")
    return EXIT_OK


def _cmd_list(args: argparse.Namespace) -> int:
    items = ParallelRunner.list_worktrees(os.getcwd())
    unreadable = _unreadable_run(_Repo.find(os.getcwd()), _load_last_run(_Repo.find(os.getcwd())),
                                 "the workers' statuses are not shown")
    if unreadable:
        _print_err(f"warning: {unreadable}")
    if args.json:
        _print_json(items)
    elif not items:
        _print_err("no parallel worktrees")
    else:
        _print_out("\n".join(_align([[
            f"{item['worker_id'] if item['worker_id'] is not None else '?':>3}",
            item["branch"] or "(detached)",
            (item["status"] or "-") + (f" ({item['sandbox']})" if item.get("sandbox") else ""),
            item["path"] or "(no worktree: the branch holds its committed work)"]
            for item in items], {0})))
    return EXIT_OK


def _cmd_diff(args: argparse.Namespace) -> int:
    """``diff N|best [--stat]``: what the worker did, straight to our stdout."""
    repo = _Repo.find(os.getcwd())
    branch, base, recorded = _worker_branch(repo, args.worker)
    # Straight to our stdout: a diff can be large, and the user may pipe it on.
    sys.stdout.flush()
    stat_args = ["--stat"] if args.stat else []
    last = _load_last_run(repo)
    unreadable = _unreadable_run(repo, last, f"the run's base is unknown: {branch} is shown "
                                 "against HEAD")
    if unreadable:
        _print_err(f"warning: {unreadable}")
    if last.get("collected") and recorded and recorded.commit:
        # the commit collect verified (and _worker_branch found the branch still holds)
        past = _names_past(repo, base, recorded.commit)
        if past:
            raise ParallelError(f"{branch} {past}")
        diff_args, cwd, worktree, untracked = [f"{base}...{recorded.commit}"], repo.top, None, []
    else:
        diff_args, cwd, worktree, untracked, also = _diff_sources(repo, branch, base, recorded,
                                                                  repo.worktrees())
        if also:
            _print_err(f"note: {also}")
    if worktree:
        _print_err(f"note: {branch} has uncommitted changes in {worktree}; showing its working "
                   f"tree against the base {base[:12]} (new files included)")
    text = ["--text"]  # (see _diff_sources)
    large = _too_large_to_diff(repo, cwd, [*text, "--end-of-options", *diff_args])
    if large is None:
        raise ParallelError(f"{branch}: git could not list its changed files, or too many of "
                            f"them are over {_DIFF_FILE_LIMIT >> 20} MB to be left out of its "
                            "diff (git's line diff of them could take GBs of memory)")
    for name, why in large[0]:  # (quoted as git quotes it: a tab or line end stays visible)
        _print_err(f"note: {_shorten(_git_quote(name), 200)}: {why}; not shown")
    diffs = [["diff", *stat_args, *text, *_RENAMES, "--end-of-options", *diff_args,
              *large[1]]]
    found, more = _untracked_to_diff(cwd, untracked)
    if more:  # (a git each)
        _print_err(f"note: {more:,} more new files; not shown "
                   f"(see them with: git -C {cwd} status --untracked-files=all)")
    # (git would read a FIFO an agent left there for ever)
    for name, why in found:
        if why:
            _print_err(f"note: {_shorten(name, 200)}: a new {why[2:]}; not shown")
            continue
        st = _lstat_beneath(cwd, name)
        if st is not None and (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            # ("-" alone is standard input to git diff --no-index: it would show nothing)
            diffs.append(["diff", "--no-index", *stat_args, *text, "--", os.devnull,
                          "./-" if name == "-" else name])
        else:
            _print_err(f"note: {_shorten(name, 200)} is not a regular file; not shown")
    # To a terminal, what an agent wrote must not drive it: no color, and control and
    # format characters shown rather than sent (see _terminal_safe); piped, the bytes as they are.
    # In a CI job's log, no line of it may be a command to the runner (see _ci_safe).
    tty, ci = sys.stdout.isatty(), _in_ci() and not _to_a_file(sys.stdout)
    import tempfile
    for diff in diffs:
        # git's own warnings name the agent's files: shown as our lines are (see _print_err)
        errors = tempfile.TemporaryFile()
        if not tty and not ci:
            proc = repo.popen("--no-pager", *diff, cwd=cwd, stderr=errors)
        else:
            import subprocess
            proc = repo.popen("--no-pager", diff[0], "--color=never", *diff[1:], cwd=cwd,
                              stdout=subprocess.PIPE, stderr=errors)
        try:
            if proc.stdout is not None:
                out, encoding = sys.stdout.buffer, sys.stdout.encoding or "utf-8"
                with proc.stdout:
                    for raw in proc.stdout:
                        line = raw.decode("utf-8", "surrogateescape")
                        # to a terminal, or a CI log (whose reader obeys escapes too: GitLab's
                        # collapsed sections), every character shown, and no command of a
                        # runner
                        line = _ci_safe(_terminal_safe(line)) if ci else _terminal_safe(line)
                        out.write(line.encode(encoding if tty else "utf-8", "replace"))
                out.flush()
            code = proc.wait()
        finally:  # (an exception, a closed output: never a git left running, round 105)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with errors:
            errors.seek(0)
            for line in errors.read(1 << 20).decode("utf-8", "replace").splitlines():
                _print_err(line)
        # 1: git diff --no-index found differences; a reader that went away early is no error
        if code not in (0, 1, -signal.SIGPIPE) or (code == 1 and "--no-index" not in diff):
            raise ParallelError(f"git diff failed with exit code {code}")
        if code == -signal.SIGPIPE:
            break
    return EXIT_OK


def _cmd_report(args: argparse.Namespace) -> int:
    _check_output_paths(args)
    repo = _Repo.find(os.getcwd())
    last = _load_last_run(repo)
    unreadable = _unreadable_run(repo, last, "there is nothing to report on")
    if unreadable:
        raise unreadable
    if not isinstance(last.get("results"), list) or not last["results"]:
        raise ParallelError("there is no last run here to report on: run first (or collect "
                            "results files here)")
    results = _rank([_result_from_dict(item, "last-run.json") for item in last["results"]])
    path = os.path.abspath(args.html or os.path.join(repo.state_dir(), "report.html"))
    _write_text(path, _html_report(results, {k: v for k, v in last.items() if k != "results"},
                                   repo.top, local=not last.get("collected")))
    _print_out(path)
    if args.open:  # (with a browser found as git is: see _which)
        import pathlib
        clean = _outside_env(dict(os.environ), frozenset({os.getcwd(), *_CHECKOUTS}))
        for var in ("PATH", *_LOADER_VARS):  # (it loads, and runs, nothing of a checkout)
            os.environ.pop(var, None)
            if var in clean:
                os.environ[var] = clean[var]
        os.environ["PATH"] = _safe_path()
        import webbrowser
        if not webbrowser.open(pathlib.Path(path).as_uri()):
            _print_err("note: no web browser could be started here; open the file above yourself")
    return EXIT_OK


def _cmd_merge(args: argparse.Namespace) -> int:
    repo = _Repo.find(os.getcwd())
    # The checks have _MERGE_CHECK_SECONDS in all (round 106: a branch's .gitattributes rule
    # of many `*`s, which git matches by backtracking, kept them busy for hours); git's merge,
    # which writes your checkout, is never stopped halfway (it reads what they read).
    with _time_box(_MERGE_CHECK_SECONDS) as stop:
        try:
            branches, tips, worktrees = _merge_checks(
                args, repo.wrapped(None, _MERGE_CHECK_SECONDS, stop))
        except ParallelError as exc:
            if not stop.is_set():
                raise
            raise ParallelError(
                f"merge's checks took more than {_MERGE_CHECK_SECONDS:g} s "
                f"({_shorten(str(exc), 200)}); nothing was merged: a .gitattributes or "
                ".gitignore rule the branch adds that git matches slowly (many '*') would make "
                "every git in your checkout as slow; look at it with "
                f"'{_prog()} diff {args.worker if args.worker != 'all' else 'N'}'") from None
    merged: List[str] = []
    for branch in branches:  # in worker order; the first conflict stops the rest
        wt = worktrees.get(branch)
        if wt and repo.prints_anything(["status", "--porcelain"], wt):
            _print_err(f"warning: {wt} has uncommitted changes; only what is committed on "
                       f"{branch} is merged")
        rest = branches[len(merged) + 1:]
        where = (("the main checkout is unchanged" if not merged else
                  f"merged before it: {', '.join(merged)}; the main checkout is as it was "
                  f"before {branch}") + (f" (not merged: {', '.join(rest)})" if rest else ""))
        try:
            conflicts = _merge_branch(repo, branch, args.squash, tips[branch])
        except ParallelError as exc:
            raise ParallelError(f"{exc}; {where}") from None
        except KeyboardInterrupt:
            if merged or rest:  # (_merge_branch said what became of this one)
                _print_err(f"note: merged before {branch}: {', '.join(merged) or 'none'}"
                           + (f"; not merged: {', '.join(rest)}" if rest else ""))
            raise
        if conflicts:
            _print_err(f"error: merging {branch} conflicts in: {', '.join(conflicts)}; {where}")
            return EXIT_NO_SUCCESS
        merged.append(branch)
    return EXIT_OK


def _merge_checks(args: argparse.Namespace, repo: _Repo
                  ) -> "tuple[List[str], Dict[str, str], Dict[Optional[str], str]]":
    """What `merge` merges, once every check passed (ParallelError names every refusal): the
    branches, the commit of each that was checked, and the worktrees by branch."""
    # Every reason to ask for --force in one error, before it is asked for (rounds 96 and
    # 97: the --force one refusal asked for took others, never shown, with it)
    refused: List[str] = []

    def ask(problem: str, warning: str) -> None:
        if args.force:
            _print_err(f"warning: {warning}")
        else:
            refused.append(problem)

    unreadable = _load_last_run(repo).get("unreadable")
    if unreadable:  # (what merge checks is recorded there)
        ask(f"the last run's results cannot be read ({unreadable}): what the run checked is "
            "unknown, and so what merge must refuse; look at "
            f"{os.path.join(repo.state_dir(), 'last-run.json')}, or merge with --force",
            f"merging although the last run's results cannot be read ({unreadable}) (--force)")
    if args.worker == "all":
        branches = _verified_branches(repo)
    else:
        branch, _base, recorded = _worker_branch(repo, args.worker)
        if recorded is None and not unreadable:  # (an earlier run's branch, or one made since)
            ask(f"the last run has no result for worker {args.worker}: nothing checked {branch}; "
                f"look at it ('{_prog()} diff {args.worker}'), then merge with --force",
                f"merging {branch}, which the last run has no result for (--force)")
        elif recorded is not None and not _verified(recorded):
            ask(f"worker {recorded.worker_id} did not succeed in the last run "
                f"({_verdict(recorded)}): merging it brings that work into your branch; add "
                "--force to merge it anyway",
                f"merging worker {recorded.worker_id} anyway ({_verdict(recorded)})")
        branches = [branch]
    if _is_parallel_path(repo.top):
        raise ParallelError(f"run merge from the main checkout, not from the worktree {repo.top}")
    # (with your filters, as your git status: without them, a file an LFS filter converts
    # that was only touched since the index was written showed as changed, round 112)
    if repo.git("status", "--porcelain", "--untracked-files=no", filters=True).strip():
        raise ParallelError("the main checkout has uncommitted changes; commit or stash them "
                            "before merging")
    if not repo.succeeds("symbolic-ref", "-q", "HEAD"):
        raise ParallelError("HEAD is detached: check out the branch to merge into first")
    last = _load_last_run(repo)
    current = _digest(repo.settings())
    config_moved = isinstance(last.get("git_config"), str) and last["git_config"] != current
    if config_moved:  # (an unsandboxed agent can write it; a merge runs what it names)
        ask("the repository's git config (or .git/info/attributes) changed since the last run "
            "started (an agent, or a command it ran, may have changed it, and a merge runs "
            "programs it names); look at it with 'git config --local --list' and 'cat "
            ".git/info/attributes', then merge with --force",
            "merging although the repository's git config (or .git/info/attributes) changed "
            "since the last run started (--force)")
    commits = {r.get("branch"): r.get("commit") for r in last.get("results", [])
               if isinstance(r, dict) and isinstance(r.get("commit"), str)}
    unsaved = {r.get("branch") for r in last.get("results", [])
               if isinstance(r, dict) and _only_in_worktree(r)}
    # All of them, before anything is merged, each with what it is merged with: the merge
    # itself as git makes it (the .gitattributes of one branch can name a file another adds,
    # or define a macro another's use), else your branch and the other branches one by one.
    merged = _merge_results(repo, branches)
    tips = {b: repo.tip(b) for b in branches}
    with_it = (repo.git("rev-parse", "--verify", "HEAD").strip(), *tips.values())
    config = (last.get("config") or {}).get("config_path") if isinstance(
        last.get("config"), dict) else None  # (what the next run reads with -c, if in here)
    reads = tuple(rel for rel in [_beneath_top(repo.top, config) if isinstance(config, str)
                                  else None] if rel)
    # Every branch's refusals too (round 96: `merge all` named the first branch's only, and
    # the --force it asked for took the next one's unseen)
    for branch in branches:
        try:
            _check_mergeable(repo, branch, last.get("base_commit"), args.force,
                             commits.get(branch), (merged[branch],) if branch in merged else
                             tuple(c for c in with_it if c and c != tips[branch]),
                             (with_it[0], merged[branch]) if branch in merged else None, reads,
                             by_hand=branch in unsaved, tip=tips[branch])
        except ParallelError as exc:
            refused.append(str(exc))
    worktrees = {w.get("branch"): w["path"] for w in repo.worktrees()}
    for branch in branches:  # (its work is in its worktree only: merging it merges nothing)
        wt = worktrees.get(branch)
        if wt and branch in unsaved and not repo.branch_moved(branch, tips[branch]) and \
                repo.prints_anything(["status", "--porcelain"], wt):
            what = (f"{branch}'s worker left its work uncommitted in {wt} (--no-commit, or its "
                    f"commit was not taken in): {branch} does not hold it")
            if not args.force:
                refused.append(f"{what}; commit it there first ('git -C {shlex.quote(wt)} "
                               f"add -A && git -C {shlex.quote(wt)} commit'), then merge "
                               f"(--force merges only what {branch} holds)")
            else:
                _print_err(f"warning: {what} (--force)")
    if refused:
        raise ParallelError("; and ".join(refused))
    if config_moved:  # (looked at and forced: later runs and merges take it as it is now)
        last["git_config"] = current
        with contextlib.suppress(OSError, ValueError):
            _write_json(os.path.join(repo.state_dir(), "last-run.json"), last)
    return branches, tips, worktrees


def _merge_results(repo: _Repo, branches: List[str]) -> Dict[str, str]:
    """For each of ``branches``, a commit of what merging it, after those before it, into
    HEAD gives, as git's own merge makes it (git merge-tree, git 2.38+; the commits are
    objects of no branch, for gc to take). Up to the first that would conflict (the merge
    stops there); {} on an older git."""
    head = repo.git("rev-parse", "--verify", "HEAD").strip()
    found: Dict[str, str] = {}
    who = {"user.name": "architect-parallel", "user.email": "architect-parallel@localhost"}
    for branch in branches:
        tip = repo.tip(branch)
        out = repo.git("merge-tree", "--write-tree", "--no-messages", head, tip, check=False)
        tree = (out or "").split("\n", 1)[0]
        if not _FULL_ID.fullmatch(tree):
            break
        made = _git(["commit-tree", tree, "-p", head, "-p", tip, "-m", "what merge would make"],
                    repo.top, check=False, settings=who, timeout=repo.timeout)
        if not made or not _FULL_ID.fullmatch(made.strip()):
            break
        head = found[branch] = made.strip()
    return found


def _check_mergeable(repo: _Repo, branch: str, base: object, force: bool,
                     recorded: Optional[str] = None, others: "tuple[str, ...]" = (),
                     merge: "Optional[tuple[str, str]]" = None,
                     reads: "tuple[str, ...]" = (), by_hand: bool = False,
                     tip: str = "") -> None:
    """Refuse (unless ``force``) to merge ``branch`` when it is not what its run checked: moved
    since the run left it (by a process of the agent, or by you), or not descending from the
    run's base (a merge would then bring, or revert, what no diff of it shows). ``by_hand``:
    its run's work was in its worktree only, and commits made on it since are the way to
    merge it (yours, committed there, as the run's footer says: round 87). ``tip``: the commit
    of it that is merged (see _merge_branch), else where it is now."""
    tip = tip or repo.tip(branch)
    unchecked = []  # (what the run did not check)
    written = []  # (what it did, which your git or shell acts on: read it first)
    left = repo.left_at(branch)
    if left is not None and left != tip or (recorded and _FULL_ID.fullmatch(recorded)
                                            and tip != recorded):
        made = repo.left_tree(os.path.join(repo.top, WORKTREE_PREFIX +
                                           branch[len(BRANCH_PREFIX):])) if by_hand else None
        if made and left is not None and repo.succeeds("merge-base", "--is-ancestor", left,
                                                       tip) and \
                repo.git("rev-parse", f"{tip}^{{tree}}").strip() == made:
            _print_err(f"note: {branch} holds commits made after its run, whose work was in "
                       f"its worktree only (yours, committed there): they hold what its run "
                       f"left there, and are what is merged")
        elif made:  # (round 88: rewritten since, by a descriptor another account was handed)
            unchecked.append(f"{branch} holds commits made after its run whose files are not "
                             f"what its run left in its worktree (git diff {made[:12]} "
                             f"refs/heads/{branch} shows how)")
        else:
            unchecked.append(f"{branch} is at {tip[:12]}, not where its run left it")
    if isinstance(base, str) and _FULL_ID.fullmatch(base) \
            and not repo.succeeds("merge-base", "--is-ancestor", tip, "HEAD"):  # (not merged yet)
        if not repo.succeeds("merge-base", "--is-ancestor", base, tip):
            unchecked.append(f"{branch} does not descend from the run's base {base[:12]}")
        elif repo.taken_in(branch, base, tip):
            unchecked.append(f"{branch} takes in commits that another branch or tag holds")
        written = [f"{branch} {why}" for why in _written_otherwise(repo, base, tip, others, merge,
                                                                    reads)]
    elif not repo.succeeds("merge-base", "--is-ancestor", tip, "HEAD"):
        # (the run's base unknown: what it brings since it parted from your branch, round 97)
        fork = (repo.git("merge-base", "HEAD", tip, check=False) or "").strip()
        written = [f"{branch} {why}" for why in _written_otherwise(
            repo, fork, tip, others, merge, reads)] if _FULL_ID.fullmatch(fork) else \
            [f"{branch} shares no history with your branch"]
    problems = unchecked + written
    if problems and not force:
        since = base[:12] if isinstance(base, str) and _FULL_ID.fullmatch(base) else "HEAD"
        raise ParallelError("; ".join(problems) + (": what would be merged is not what the run "
                                                   "checked" if unchecked else "")
                            + f"; look at it (git log -p {since}..refs/heads/{branch}), then "
                            "merge with --force")
    for problem in problems:
        _print_err(f"warning: merging although {problem} (--force)")


# Settings naming a file git reads (relative: in the checkout), and the hooks' tools that read
# files of the checkout by themselves, by the word that runs them: a merged change to one of
# those runs what an agent wrote at your next commit (see _Repo.run_by_your_git).
_FILE_SETTINGS = ("core.hookspath", "core.attributesfile", "core.excludesfile",
                  "gpg.ssh.allowedsignersfile", "gpg.ssh.revocationfile", "user.signingkey",
                  "mailmap.file", "blame.ignorerevsfile", "commit.template", "diff.orderfile",
                  "fsck.skiplist", "fetch.fsck.skiplist", "receive.fsck.skiplist",
                  "format.signaturefile", "sendemail.aliasesfile", "sendemail.smtpsslcertpath",
                  "init.templatedir")
_HTTP_FILES = (r"http\.(.*\.)?(sslcainfo|sslcapath|sslcert|sslkey|cookiefile|proxysslcainfo|"
               r"proxysslcert|proxysslkey|pinnedpubkey)")
_NPM_READS = ("**/package.json", "**/.npmrc")  # (npm workspaces: every member's too)
_LEFTHOOK = tuple(f"{dot}lefthook{local}.{ext}" for dot in ("", ".") for local in ("", "-local")
                  for ext in ("yml", "yaml", "toml", "json", "jsonc"))
_HOOK_READS = (
    ("pre-commit", (".pre-commit-config.yaml", ".pre-commit-config.yml")),
    ("lefthook", (*_LEFTHOOK, *(f".config/{name}" for name in _LEFTHOOK), ".lefthook/",
                  ".lefthook-local/", ".config/lefthook/")),
    ("overcommit", (".overcommit.yml", ".git-hooks/")),
    ("husky", ("package.json", ".huskyrc", ".huskyrc.json", ".huskyrc.js", "husky.config.js",
               ".husky/")),
    ("lint-staged", ("**/package.json", "**/package.yaml", *(
        f"**/{name}" for name in (".lintstagedrc", *(f".lintstagedrc.{ext}" for ext in (
            "json", "yaml", "yml", "js", "cjs", "mjs", "ts", "cts", "mts")), *(
            f"lint-staged.config.{ext}" for ext in ("js", "cjs", "mjs", "ts", "cts", "mts")))))),
    ("npm", _NPM_READS), ("npx", _NPM_READS), ("pnpm", (*_NPM_READS, "pnpm-workspace.yaml",
                                                       ".pnpmfile.cjs")),
    ("yarn", (*_NPM_READS, ".yarnrc", ".yarnrc.yml", ".yarn/", ".pnp.cjs", ".pnp.loader.mjs")),
    ("bun", ("bunfig.toml",)), ("bun run", ("package.json",)), ("bunx", ("bunfig.toml",)),
    ("corepack", ("package.json",)),
    ("make", ("Makefile", "makefile", "GNUmakefile")), ("gmake", ("Makefile", "makefile",
                                                                 "GNUmakefile")),
    ("tox", ("tox.ini", "tox.toml", "pyproject.toml", "setup.cfg")), ("nox", ("noxfile.py",)),
    ("just", ("justfile", "Justfile", ".justfile")),
    # (Python project managers: their `run` builds and installs the checkout's project first,
    # or runs a script its settings name)
    ("uv", ("pyproject.toml", "uv.toml", "setup.py", "setup.cfg")),
    ("poetry", ("pyproject.toml", "poetry.toml")), ("pdm", ("pyproject.toml", "pdm.toml")),
    ("hatch", ("pyproject.toml", "hatch.toml", "setup.py")), ("rye", ("pyproject.toml",)),
    ("pipenv", ("Pipfile",)), ("pixi", ("pixi.toml", "pyproject.toml")),
    ("task", tuple(f"{name}{dist}.{ext}" for name in ("Taskfile", "taskfile")
                   for dist in ("", ".dist") for ext in ("yml", "yaml"))))
# What a CI service or a code host runs or trusts from a repository by itself, on a push or a
# pull request (with the repository's secrets): its configuration files and folders, by name in
# any case (a checkout on macOS or Windows, and services that fold it). Rounds 90 and 91. Not
# the files such a configuration runs (a script, `make test`): merged code runs in your CI.
_CI_FILES = (".gitlab-ci.yml", ".gitlab-ci.yaml", ".travis.yml", ".drone.yml", ".cirrus.yml",
             ".cirrus.star", "appveyor.yml", ".appveyor.yml", "azure-pipelines.yml",
             "bitbucket-pipelines.yml", "jenkinsfile", "cloudbuild.yaml", "cloudbuild.yml",
             "cloudbuild.json", "codemagic.yaml", ".woodpecker.yml", ".woodpecker.yaml",
             "buildspec.yml", ".build.yml", "buildkite.yml", "buildkite.yaml", "buildkite.json",
             "bitrise.yml", "netlify.toml", "vercel.json", "amplify.yml", ".readthedocs.yaml",
             ".readthedocs.yml", ".gitpod.yml", "renovate.json", "renovate.json5", ".renovaterc",
             ".renovaterc.json", ".github/dependabot.yml", ".github/dependabot.yaml",
             # (who must review a change: rewritten, a later one to a workflow needs no one)
             "codeowners", ".github/codeowners", "docs/codeowners", ".gitlab/codeowners")
_CI_FOLDERS = (".github/workflows/", ".github/actions/", ".gitlab/ci/", ".circleci/",
               ".buildkite/", "buildkite/", ".azure-pipelines/", ".woodpecker/", ".builds/",
               ".forgejo/workflows/", ".gitea/workflows/", ".tekton/", ".semaphore/",
               ".teamcity/", ".harness/", ".devcontainer/")


def _runs_in_ci(path: str) -> bool:
    """Whether a CI service or a code host reads the file ``path`` (repository-relative) as
    configuration of what it runs or trusts (see _CI_FILES); a GitHub action's ``action.yml``
    anywhere (a workflow's ``uses: ./tools/ci`` runs it)."""
    folded = path.lower()
    return folded in _CI_FILES or folded.startswith(_CI_FOLDERS) or \
        folded.rpartition("/")[2] in ("action.yml", "action.yaml")


# The variables by which git, your shell and your programs run a command or read a file of
# code they name (the environment's twins of core.sshCommand, core.editor, core.pager...).
_ENV_RUN = ("GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS", "SSH_ASKPASS", "GIT_EDITOR",
            "GIT_SEQUENCE_EDITOR", "VISUAL", "EDITOR", "GIT_PAGER", "PAGER", "MANPAGER",
            "GIT_EXTERNAL_DIFF", "GIT_PROXY_COMMAND", "LESSOPEN", "LESSCLOSE", "BROWSER",
            "PYTHONSTARTUP", "BASH_ENV", "ENV", "PROMPT_COMMAND", "NODE_OPTIONS",
            "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "PERL5OPT", "RUBYOPT", "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS")


def _env_command(var: str) -> str:
    """The variable ``var`` of _ENV_RUN as a command (``NODE_OPTIONS``: ``node`` and them)."""
    value = os.environ.get(var, "")
    program = {"NODE_OPTIONS": "node", "PERL5OPT": "perl", "RUBYOPT": "ruby",
               "JAVA_TOOL_OPTIONS": "java", "_JAVA_OPTIONS": "java",
               "JDK_JAVA_OPTIONS": "java"}.get(var)
    return f"{program} {value}" if program and value.strip() else value


class _LoadedHere:
    """The checkout's folders (casefolded, '' its top) where code is loaded by its place (see
    _Repo._loaded_by_you): ``folders`` (every file below; at the top, a library only),
    ``relative`` ((folder, kind): a library, or a git program, below such a folder anywhere;
    '.': anywhere); ``starts``, where Python starts (the top, the tool's folder), and
    ``python`` and ``python_relative``, your PYTHONPATH's (see takes)."""

    def __init__(self) -> None:
        self.folders: "set[str]" = set()
        self.relative: "set[tuple[str, str]]" = set()
        self.starts: "set[str]" = set()
        self.python: "set[str]" = set()
        self.python_relative: "set[str]" = set()
        self.shadowing: "set[tuple[str, str]]" = set()  # (PERL5LIB's, RUBYLIB's: see takes)
        self._packages: Dict[tuple, bool] = {}

    def takes(self, path: str, added: bool, repo: _Repo, base: str, tip: str) -> bool:
        """Whether the checkout's file ``path`` (casefolded; ``added`` by ``tip`` to
        ``base``) is loaded by its place: in a loader folder (see _Repo._loaded_by_you); in
        ``__pycache__`` or a module of a folder first on Python's import path, named as one
        of _shadowed (the standard library's, ``sitecustomize``, a .pth's): one ``tip`` adds
        where Python starts (a module there already is the project's own), one it adds or
        changes in a folder of your PYTHONPATH (every Python imports from there); and any file
        of a ``*.dist-info`` or ``*.egg-info`` folder in those folders."""
        name = path.rpartition("/")[2]
        for entry in self.folders:
            if path in _parents(entry) + [entry] or (
                    path.startswith(entry + "/") if entry else _library_name(name)):
                return True
        for entry, kind in self.relative:
            if (_library_name(name) if kind == "library" else name.startswith("git-")
                    if kind == "git" else True) and (
                    entry == "." or f"/{entry}/" in f"/{path.rpartition('/')[0]}/"):
                return True
        for entry, language in self.shadowing:  # (a module of Perl's own, strict.pm: git
            at = f"/{path}".find(f"/{entry}/") if entry not in ("", ".") else 0  # send-email
            if at < 0:  # loads it; or Ruby's)
                continue
            rest = path[at + len(entry) + 1:] if entry not in ("", ".") else path
            if any(os.path.isfile(os.path.join(lib, rest))
                   for lib in _language_libraries(language)):
                return True
        folders = {start: False for start in self.starts}
        folders.update((entry, True) for entry in self.python)
        for entry in self.python_relative:
            folders.update((start, True) for start in ({""} if entry == "." else {
                f"{p}/{entry}" if p else entry for p in ["", *_parents(path)]}))
        for start, changed_too in folders.items():
            if start and not path.startswith(start + "/"):
                continue
            rest = path[len(start) + 1:] if start else path
            first, _, below = rest.partition("/")
            module = first.split(".")[0]
            if first == "__pycache__" or below and first.endswith((".dist-info", ".egg-info")):
                return True  # (a distribution's metadata: its entry points are plugins that
                # `python -m pytest` and other tools load from every folder of the path, round 92)
            if module not in _shadowed() and (changed_too or module not in _installed()):
                continue
            if not below:
                if first.endswith(_MODULE_ENDS) and (added or changed_too):
                    return True
            elif first == module:  # (a package: one it makes, or any of one on your PYTHONPATH)
                folder = path[:len(path) - len(below)]
                if self._package(repo, tip, folder) and (
                        changed_too or not self._package(repo, base, folder)):
                    return True
        return False

    def _package(self, repo: _Repo, commit: str, folder: str) -> bool:
        """Whether the folder ``folder`` (``json/``) of ``commit`` is a package (has __init__)."""
        if (commit, folder) not in self._packages:
            listed = repo.git("ls-tree", "--name-only", "--end-of-options", commit, "--", folder,
                              check=False) or ""
            self._packages[(commit, folder)] = any(
                line.rpartition("/")[2].casefold().startswith("__init__.")
                for line in listed.splitlines())
        return self._packages[(commit, folder)]


_MODULE_ENDS = (".py", ".pyc", ".pyw", ".so", ".pth")


@functools.lru_cache(maxsize=1)
def _installed() -> "frozenset[str]":
    """The top-level module names this Python's site-packages hold (casefolded): ``python -m
    pip`` at the checkout's top takes a ``pip/`` there first."""
    import pkgutil
    import site
    sites = [*getattr(site, "getsitepackages", lambda: [])(), site.getusersitepackages()]
    return frozenset(m.name.casefold() for m in pkgutil.iter_modules(
        [p for p in sites if os.path.isdir(p)]))


@functools.lru_cache(maxsize=4)
def _language_libraries(language: str) -> "tuple[str, ...]":
    """The folders ``perl`` or ``ruby`` (as found on your PATH outside any checkout) loads
    its own modules from, as it says with none of your variables; () without it."""
    import subprocess
    program = _which(language)
    script = {"perl": 'print join("\\0", grep { !ref } @INC)',
              "ruby": 'print $LOAD_PATH.join("\\0")'}[language]
    if not program:
        return ()
    try:
        proc = subprocess.run([program, "-e", script], capture_output=True, timeout=30, cwd="/",
                              stdin=subprocess.DEVNULL, env={"PATH": _safe_path()})
    except (OSError, subprocess.SubprocessError):
        return ()
    return tuple(p for p in proc.stdout.decode("utf-8", "replace").split("\0")
                 if os.path.isabs(p) and os.path.isdir(p))


def _library_name(name: str) -> bool:
    """Whether the file name ``name`` is one the dynamic loader, or iconv, loads."""
    return bool(re.search(r"\.so(\.|$)", name)) or name.startswith("gconv-modules")


@functools.lru_cache(maxsize=1)
def _shadowed() -> "frozenset[str]":
    """The top-level module names a module of a folder first on Python's import path would
    stand in for (casefolded): the standard library's (but its own tests, ``test``: a project's
    folder as often), the tool's own, ``sitecustomize`` and ``usercustomize``, and those the
    .pth files of site-packages import at every start (``_distutils_hack``, ``_virtualenv``)."""
    import pkgutil
    import sysconfig
    names = set(sys.builtin_module_names) | set(getattr(sys, "stdlib_module_names", ()))
    stdlib = {sysconfig.get_paths().get(k) for k in ("stdlib", "platstdlib")} - {None}
    folders = [p for p in stdlib | {os.path.join(p, "lib-dynload") for p in stdlib}
               if os.path.isdir(p)]
    names |= {module.name for module in pkgutil.iter_modules(folders)}
    names |= {"sitecustomize", "usercustomize", __name__.split(".")[0], "architect_parallel"}
    for _folder, text in _pth_files():  # (what they import as Python starts)
        names |= set(re.findall(r"^import\s+([A-Za-z_]\w*)", text, re.M))
        names |= set(re.findall(r"[;\s]import\s+([A-Za-z_]\w*)", text))
    return frozenset(name.casefold() for name in names - {"test", "__main__"})


@functools.lru_cache(maxsize=1)
def _pth_files() -> "tuple[tuple[str, str], ...]":
    """The .pth files (their folder, their text) of the site-packages folders of your Pythons:
    this one's and its user site, an active virtual environment's, every Python 3's of your
    HOME and of /usr/local, and Debian's; at most 1,000 of 64 KB."""
    import glob
    import site
    sites = [*getattr(site, "getsitepackages", lambda: [])(), site.getusersitepackages(),
             "/usr/lib/python3/dist-packages"]
    for pattern in ("~/.local/lib/python3*/site-packages", "/usr/local/lib/python3*/*-packages",
                    os.path.join(os.environ.get("VIRTUAL_ENV") or "/nonexistent",
                                 "lib/python3*/site-packages")):
        sites += sorted(glob.glob(os.path.expanduser(pattern)))
    found: List["tuple[str, str]"] = []
    for folder in dict.fromkeys(sites):
        for entry in _entries(folder):
            if entry.name.endswith(".pth") and len(found) < 1000:
                text = (_read_bytes(entry.path, 64 << 10) or b"").decode("utf-8", "replace")
                found.append((folder, text))
    return tuple(found)


def _pth_folders() -> List[str]:
    """The folders your .pth files put on Python's import path (an editable install's
    ``__editable__.pkg.pth`` names your checkout's ``src``), relative ones from their site."""
    return [os.path.normpath(os.path.join(folder, line.strip()))
            for folder, text in _pth_files() for line in text.splitlines()
            if line.strip() and not line.startswith(("#", "import ", "import\t"))]


def _on_your_path(path: str, mode: str, anchored: "set[str]", relative: "set[str]") -> bool:
    """Whether the checkout's file ``path`` (of ``mode`` in git's terms; 000000 when the
    branch deletes it) would be run or read by its name through your PATH: a file or a link
    in one of the checkout's folders ``anchored`` on it ('' its top), or in a folder
    ``relative`` entries name from any of its folders (bash's `source NAME` reads one that is
    no program too; for '.', every folder, an executable only); or anything at such a folder
    or one on the way to it (a link the branch makes a folder)."""
    folder = path.rpartition("/")[0]
    for entry in anchored:
        if folder == entry or path in (entry, *_parents(entry)):
            return True
    for entry in relative:
        if entry == ".":
            if mode in ("100755", "120000"):
                return True
        elif folder == entry or folder.endswith("/" + entry) or any(
                path == p or path.endswith("/" + p) for p in (entry, *_parents(entry))):
            return True
    return False


# Your git settings that name neither a command git runs nor a file it reads: aliases (you
# run them as you run `make`), names and free text. Every other one is read as both (see
# _Repo.run_by_your_git): git adds settings that run commands every release.
_NOT_RUN = re.compile(r"(alias|author|committer)\..*|user\.(name|email|useconfigonly)|"
                      r".*\.description")
_INTERPRETER = re.compile(r"(python|pypy)[0-9.]*|node(js)?|deno|bun|ruby[0-9.]*|perl[0-9.]*|"
                          r"php[0-9.]*|lua[0-9.]*|R|Rscript|tclsh[0-9.]*|(ba|da|z|k|c|tc)?sh|"
                          r"fish|\.|source")
# Programs that run the command after their options (`nice -n 5 cmd`, `uv run cmd`).
_WRAPPER = re.compile(r"env|nice|nohup|timeout|exec|command|builtin|stdbuf|ionice|chrt|taskset|"
                      r"time|setsid|xargs|busybox|flock|(uv|poetry|pipenv|pdm|hatch|rye|conda|"
                      r"mamba|micromamba|pixi)")
_RUNNER_WORDS = ("run", "exec", "x", "--")  # (uv run, deno run, bun x)


def _command_loads(command: str, top: str, depth: int = 0, where: str = ""
                   ) -> "tuple[List[str], List[str], bool, List[str]]":
    """What the shell command ``command`` runs or reads by a path (relative ones are in the
    folder ``top``, where git starts it, or ``where`` in it as a ``cd`` says): its
    programs named with a ``/``, every other word (or an option's value, ``--config=X``)
    naming a path with a ``/`` or one there now (``make -f ci.mk``), the scripts an interpreter or ``.`` is given (``sh -c`` and ``sh -lc`` read as
    commands too), through wrappers (``env``, ``nice -n 5``, ``timeout 10``, ``uv run``);
    the modules of ``python -m X`` / ``-Bm X`` / ``-c 'import X'``; whether it runs
    Python; and the names of the programs it runs, wrappers too (``uv``, ``npx``): as (paths,
    modules, python, programs). ``$PWD`` (and ``$(git rev-parse --show-toplevel)``) is
    ``top``; other variables are unknown."""
    paths: List[str] = []
    modules: List[str] = []
    programs: List[str] = []
    python = False
    text = command.lstrip("!")
    for name in ("${PWD}", "$PWD", "$(git rev-parse --show-toplevel)",
                 "`git rev-parse --show-toplevel`"):
        text = text.replace(name, top)
    text = os.path.expandvars(text)  # (your variables, as the shell that runs it reads them)
    try:
        lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
        lexer.whitespace_split = True
        words = list(lexer)
    except ValueError:
        words = text.split()
    separators = {"{", "}", "!", "if", "then", "else", "elif", "fi", "do", "done", "while",
                  "until", "for", "case", "esac"}
    simple: List[List[str]] = [[]]
    for word in words:
        if word in separators or (word and set(word) <= set(";&|()<>")):
            simple.append([])
        elif simple[-1] or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", word, re.S):
            simple[-1].append(word)
    for words in (c for c in simple if c):
        while words and (_WRAPPER.fullmatch(os.path.basename(words[0])) or
                         words[0] in _RUNNER_WORDS or words[0].startswith("-") or
                         re.fullmatch(r"[0-9.]+[smhd]?|[A-Za-z_][A-Za-z0-9_]*=.*", words[0], re.S)):
            if _WRAPPER.fullmatch(os.path.basename(words[0])):
                programs.append(os.path.basename(words[0]))
            words = words[1:]  # (a wrapper, its options and their values: what it runs is after)
        if not words:
            continue
        program, args = words[0], words[1:]
        programs.append(os.path.basename(program))
        if program == "cd":
            where = os.path.join(where, os.path.expanduser(args[0])) if args else ""
            continue
        for n, word in enumerate(words):  # (an option's file too: --config=ci/x.yaml, -f ci.mk,
            values = [word]                  # -I./lib, -o ProxyCommand=tools/proxy)
            if word.startswith("-"):
                values = [word.partition("=")[2]] + (
                    [word[2:]] if not word.startswith("--") and len(word) > 2 else [])
            values += [v.partition("=")[2] for v in values if "=" in v]
            values += [v.partition(":")[2] for v in values if ":" in v]  # (-javaagent:x.jar)
            after = n and words[n - 1].startswith("-")
            for value in dict.fromkeys(v for v in values if v):
                if "/" in value or (after and re.search(r"\.\w", value)) or (
                        (word.startswith("-") or after)
                        and os.path.isfile(os.path.join(top, where, value))):
                    paths.append(os.path.join(top, where, value))
        name = os.path.basename(program)
        # (a Python named by a variable: pre-commit's hook runs "$INSTALL_PYTHON" -mpre_commit)
        unnamed = program.startswith("$") and bool(args) and bool(
            re.fullmatch(r"-[BEIOPRSbdiqsuvx]*[mc].*", args[0]))
        if not _INTERPRETER.fullmatch(name) and not unnamed:
            continue
        is_python = name.startswith(("python", "pypy")) or unnamed
        python = python or is_python
        while args and args[0] in _RUNNER_WORDS:
            args = args[1:]
        taking = False
        for n, arg in enumerate(args):
            if taking:  # (an option's value: -W error, -X dev, -r ./hook.js)
                taking = False
            elif is_python and re.fullmatch(r"-[BEIOPRSbdiqsuvx]*m.*", arg):
                modules.append(arg.partition("m")[2] or (args[n + 1:] or [""])[0])
                break
            elif is_python and re.fullmatch(r"-[BEIOPRSbdiqsuvx]*c.*", arg):
                code = arg.partition("c")[2] or (args[n + 1:] or [""])[0]
                modules += re.findall(r"(?:^|[;\s])(?:import|from)\s+([A-Za-z_][\w.]*)", code)
                break
            elif re.fullmatch(r"(ba|da|z|k|c|tc)?sh|fish", name) and \
                    re.fullmatch(r"-[a-z]*c[a-z]*", arg) and depth < 3:
                rest = args[n + 1:]  # (sh -c 'a command', bash -lc '...')
                if rest:
                    more = _command_loads(rest[0], top, depth + 1, where)
                    paths += more[0]
                    modules += more[1]
                    python = python or more[2]
                    programs += more[3]
                break
            elif arg.startswith("-"):
                taking = arg in ("-W", "-X", "-Q", "-r", "--require", "-I")
            else:
                paths.append(os.path.join(top, where, arg))  # (the script)
                break
    return paths, [m for m in modules if m], python, programs


# The attributes by which a checkout writes other bytes than the commit holds (and a diff
# shows): a filter (Git LFS fetches what a pointer names), an encoding, $Id$, line ends; and
# a merge driver (merge=union splices both sides' lines where git would stop at a conflict).
_WRITTEN_OTHERWISE = ("filter", "working-tree-encoding", "ident", "eol", "text", "crlf", "merge")
# The files of a checkout git itself reads by their names.
_GIT_READS = (".gitattributes", ".gitignore", ".gitmodules", ".mailmap", ".lfsconfig")


# What in a file's lines hides or reorders what a terminal shows: control characters but tab
# (ESC, backspace, a CR within a line: not a CRLF's), the C1 ones (CSI, OSC, SOS...ST), as
# characters and as raw bytes (read as surrogate escapes: an 8-bit terminal acts on them;
# Windows-1252's curly quotes are among them), bidi overrides and isolates (Trojan Source;
# not the marks of right-to-left text); what shows nothing but is code (round 61): line and paragraph separators (a line
# break to JavaScript, inside what your git shows as a comment), Hangul fillers (letters to
# JavaScript: an invisible variable), tag characters and interlinear annotations; and a
# zero-width character or variation selector beside a letter, digit or _ of ASCII (two names
# that look one), not one within emoji (a keycap's U+FE0F U+20E3) or another script's text.
_ZERO_WIDTH = ("\u034f\u17b4\u17b5\u180b-\u180f\u200b-\u200d\u2060-\u2064"
               "\ufe00-\ufe0f\ufeff")
_HIDING = _LazyPattern(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\udc80-\udc9f\u2028-\u202e"
    "\u2066-\u2069\u115f\u1160\u3164\uffa0\ufff9-\ufffb\U000e0000-\U000e0fff]|\r(?!$)"
    f"|(?<=[A-Za-z0-9_$])(?!\ufe0f\u20e3)[{_ZERO_WIDTH}]|(?!\ufe0f\u20e3)[{_ZERO_WIDTH}](?=[A-Za-z0-9_$])")


def _read_otherwise(data: bytes) -> Optional[str]:
    """The codec a Python source coding line in the first two lines of ``data`` names (PEP
    263), when Python would then read its bytes otherwise than your git and terminal show
    them: any but UTF-8 and the codecs of one byte a character that keep ASCII as it is
    (round 61: with `coding: utf-7`, `# TODO +AAo-import os+ADs-os.system(...)` is a comment
    to every diff and code to Python; `unicode_escape` reads a `\\u000a` as a line break)."""
    import codecs
    for line in data.split(b"\n", 2)[:2]:
        found = re.match(rb"[ \t\f]*#.*?coding[:=][ \t]*([-\w.]+)", line)
        if not found:
            if line.strip() and not line.lstrip().startswith(b"#"):
                return None  # (only a comment or blank line before it counts)
            continue
        name = found.group(1).decode("ascii", "replace")
        try:
            codec = codecs.lookup(name)
        except LookupError:
            return None  # (Python refuses to run it)
        if codec.name in ("utf-8", "utf-8-sig"):
            return None
        ascii_ = bytes(b for b in range(128) if b != 92) + (  # (escapes, UTF-7, HZ, ISO-2022)
            b"\\u000a\\n+AAo-~{\\x0a\x1b$B")
        try:
            same = ascii_.decode(codec.name) == ascii_.decode("ascii")
            same = same and len(bytes(range(128, 256)).decode(codec.name, "replace")) == 128
        except (UnicodeError, TypeError, ValueError, LookupError):
            return name
        return None if same else name
    return None


def _hiding_lines(repo: _Repo, base: str, tip: str, reached: Optional[Dict[str, "set[str]"]] = None
                  ) -> "Optional[tuple[str, str]]":
    """Whether a line of a file any commit of ``base..tip`` makes, as text, holds what _HIDING
    finds (but a line the base's own file at every path that file is put at holds: yours);
    or they could not all be read (over 64 MB). Every file that comes in, not the lines some
    view of them shows: what came in inside a binary patch reaches your terminal as a removed
    or unchanged line
    of a later one, or through `git log -p --first-parent` of a merge (round 60). A file
    git calls binary (a NUL in its first 8,000 bytes) is shown as text by no diff of it.
    None when nothing hides; else what does and where: ("escapes", ""), ("codec", "app.py
    (utf-7)") when Python would read a file otherwise than your git shows it (see
    _read_otherwise), ("binary", "vendor/helper.tgz") for a file git calls binary that is no
    image, font, PDF or media file (see _inert). ``reached``: files (by object) the branch's
    links lead to, with the links' paths: each is judged by those names too, whether or not it
    comes in (round 68: ``scripts/test.sh`` linked to a PNG that the shell runs)."""
    # (every file each commit makes, against each of its parents: a merge's own too)
    listed, more, failed = repo.stream(["log", "--raw", "-m", "--root", "--no-renames",
                                        "--no-abbrev", "-z", "--format=", "--end-of-options",
                                        f"{base}..{tip}"], repo.top, 64 << 20)
    if more or failed:
        return "escapes", ""
    paths: Dict[str, "set[str]"] = {}  # file: every path a commit puts it at
    moded: "set[str]" = set()  # files a commit makes executable
    fields = listed.split("\0")
    for info, path in zip(fields, fields[1:]):
        words = info.split()
        if info.startswith(":") and len(words) == 5 and words[4] != "D" and words[3].strip("0"):
            paths.setdefault(words[3], set()).add(path)
            if words[1] != "100644":  # (run by its mode: never inert)
                moded.add(words[3])
    for sha, links in (reached or {}).items():
        paths.setdefault(sha, set()).update(links)
    told = repo.git("cat-file", "--batch-check=%(objectname) %(objecttype) %(objectsize)",
                    check=False, input="".join(f"{sha}\n" for sha in paths).encode()
                    ) if paths else ""
    blobs = [(sha, int(size)) for sha, kind, size in (row.split(" ") for row in told.splitlines()
                                                      if row.count(" ") == 2) if kind == "blob"]
    if sum(size for _sha, size in blobs) > 64 << 20:
        return "escapes", ""
    yours: Dict[str, "set[bytes]"] = {}

    def base_holds(path: str, line: bytes) -> bool:
        if path not in yours and len(yours) < 1000:
            said, more, failed = repo.stream(["cat-file", "blob", f"{base}:{path}"], repo.top,
                                             64 << 20)
            yours[path] = set() if more or failed or not path else set(
                said.encode("utf-8", "surrogateescape").split(b"\n"))
        return line in yours.get(path, ())

    with contextlib.closing(repo.blobs([sha for sha, _size in blobs])) as read:
        for sha, data in read:
            if data is None:
                return "escapes", ""
            if b"\0" in data[:8000]:  # (no diff of yours shows it: rounds 64, 65)
                if sha in moded or not all(_inert(path, data) for path in paths[sha]):
                    return "binary", sorted(paths[sha])[0]
                continue
            if any(p.casefold().endswith((".py", ".pyw", ".pyi")) for p in paths[sha]) or (
                    data.startswith(b"#!") and b"python" in data.split(b"\n", 1)[0]):
                codec = _read_otherwise(data)
                if codec:
                    return "codec", f"{sorted(paths[sha])[0]} ({codec})"
            if data.startswith(b"\xef\xbb\xbf"):  # (a byte order mark: shows nothing, is no code)
                data = data[3:]
            for line in data.split(b"\n"):
                if line in (b"\x0c", b"\x0c\r"):  # (a page break, alone on its line, as GNU
                    continue  # and Emacs code has them: round 79)
                if _HIDING.search(line.decode("utf-8", "surrogateescape")) and not all(
                        base_holds(path, line) for path in paths[sha]):
                    return "escapes", ""  # (yours only where every path holds it: round 61)
    return None


# What a file git calls binary may be without asking (round 65: any other may be code a tool of
# yours runs, which no diff of yours shows: a package tarball npm installs, a pickle your tests
# load, a Makefile or a script with a NUL byte in a comment): an image, a font, a PDF or media
# whose first bytes say so and whose name's ending says the same (round 66: `BM=1` made a
# Makefile a "bitmap", a PNG with a zip after it was a Python program named gen.py), holding no
# zip within (Python runs a zip of any name), and not executable (see _hiding_lines).
_INERT = ((b"\x89PNG\r\n\x1a\n", (".png",)), (b"\xff\xd8\xff", (".jpg", ".jpeg")),
          (b"GIF87a", (".gif",)), (b"GIF89a", (".gif",)), (b"RIFF", (".webp", ".wav", ".avi")),
          (b"\0\0\1\0", (".ico",)), (b"BM", (".bmp",)), (b"II*\0", (".tif", ".tiff")),
          (b"MM\0*", (".tif", ".tiff")), (b"wOFF", (".woff",)), (b"wOF2", (".woff2",)),
          (b"\0\1\0\0", (".ttf",)), (b"OTTO", (".otf",)), (b"%PDF-", (".pdf",)),
          (b"OggS", (".ogg", ".oga", ".ogv", ".opus")), (b"fLaC", (".flac",)),
          (b"ID3", (".mp3",)), (b"\xff\xfb", (".mp3",)))
_FTYP_ENDS = (".mp4", ".m4a", ".m4v", ".mov", ".heic", ".avif", ".3gp")


def _inert(path: str, data: bytes) -> bool:
    """Whether ``data``, a file git calls binary at ``path``, is an image, font, PDF or media
    file by its first bytes and its name's ending both, with no zip in it (see _INERT)."""
    name = path.casefold()
    kind = any(data.startswith(start) and name.endswith(ends) for start, ends in _INERT) or (
        data[4:8] == b"ftyp" and name.endswith(_FTYP_ENDS))
    return kind and b"PK\x03\x04" not in data and b"PK\x05\x06" not in data


# Compiled code, by its name and by its first bytes: what a loader takes in place of sources a
# diff shows (round 63: Python takes a sourceless .pyc or an extension module from any folder on
# its path, pytest's tests/ first; Node takes lib.node before lib/index.js; Perl Greet.pmc before
# Greet.pm; Emacs .elc before .el; Java a .class on its class path).
_COMPILED_ENDS = (".pyc", ".pyo", ".pyd", ".so", ".dylib", ".dll", ".exe", ".node", ".pmc",
                  ".elc", ".beam", ".class", ".jar", ".luac", ".wasm")
_COMPILED_STARTS = (b"\x7fELF", b"MZ", b"\xca\xfe\xba\xbe", b"\xcf\xfa\xed\xfe",
                    b"\xce\xfa\xed\xfe", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf",
                    b"\x00asm", b"\x1bLua")


def _tool_configs(repo: _Repo, files: "List[tuple[List[str], str]]") -> List[str]:
    """Those of ``files`` (([old blob, new blob], path) a branch changes) whose content before
    or after is a configuration of this tool that ``-c`` reads (round 71: a merged conf.yaml
    made the next run's agent command the agent's, unsandboxed, with your .env copied in);
    past 10,000 files, one line saying so."""
    if len(files) > 10_000:
        return [f"{len(files)} files: more than 10,000 to read"]
    paths: Dict[str, "set[str]"] = {}
    for shas, path in files:
        for sha in shas:
            if sha.strip("0"):
                paths.setdefault(sha, set()).add(path)
    found: "set[str]" = set()
    limit = 4 << 20
    with contextlib.closing(repo.blobs(list(paths), head=limit + 1)) as read:
        for sha, data in read:
            try:
                text = (data or b"").decode("utf-8-sig")
            except UnicodeDecodeError:
                continue  # (the tool refuses to read it)
            if "parallel" not in text and "\\" not in text:
                continue  # (the reader takes no key for parallel_runs without one of them:
                          # round 72 spelt it "parallel\x5fruns"; the reader decides the rest)
            try:
                document = _YamlReader(text).read() if len(data or b"") <= limit else {"parallel": {}}
            except ConfigError:
                continue  # (the tool refuses to read it)
            except Exception:  # noqa: BLE001 - what the tool might read: count it
                document = {"parallel": {}}
            if isinstance(document, dict) and any(  # (one the tool refuses to load: harmless)
                    isinstance(document.get(key), dict) for key in ("parallel_runs", "parallel")):
                found |= paths[sha]
    return sorted(found)


def _compiled_code(repo: _Repo, files: "List[tuple[str, str]]") -> List[str]:
    """Those of ``files`` ((blob, path) a branch adds or changes) that are compiled code a
    loader may take in place of the sources a diff shows (_COMPILED_ENDS, _COMPILED_STARTS,
    anything in a ``__pycache__`` folder: one that says its source's hash is not to be
    checked is never compared with it, round 62); past 10,000 files, one line saying so."""
    if len(files) > 10_000:
        return [f"{len(files)} files: more than 10,000 to look at"]
    found, looked = [], []
    for blob, path in files:
        parts = path.casefold().split("/")
        if "__pycache__" in parts[:-1] or parts[-1].endswith(_COMPILED_ENDS):
            found.append(path)
        elif len(blob) in (40, 64) and not blob.strip("0123456789abcdef"):
            looked.append((blob, path))
    if not looked:
        return found
    with contextlib.closing(repo.blobs([b for b, _p in looked], 16)) as read:
        for (_blob, path), (_sha, first) in zip(looked, read):
            if first is not None and first.startswith(_COMPILED_STARTS):
                found.append(path)
    return found


def _link_above(top: str, paths: List[str]) -> Optional[str]:
    """The first folder of the checkout ``top`` that one of the first 1,000 ``paths`` (as git
    writes them) lies beneath and that is a link there now (where git check-ignore stops);
    None when none is."""
    for path in paths[:1000]:
        parts = path.split("/")[:-1]
        for n in range(1, min(len(parts), 64) + 1):
            with contextlib.suppress(OSError):
                if stat.S_ISLNK(os.lstat(os.path.join(top, *parts[:n])).st_mode):
                    return "/".join(parts[:n])
    return None


# The files a branch may change, and the bytes of their names, for the checks of a merge or a
# collect to look at them (round 95: a branch of 50,000 hard links under 3.8 KB names took a
# merge 860 MB before it was refused): past either, it asks for --force at once.
_MERGE_LOOKS = (10_000, 4 << 20)


def _written_otherwise(repo: _Repo, base: str, tip: str, others: "tuple[str, ...]" = (),
                       merge: "Optional[tuple[str, str]]" = None,
                       reads: "tuple[str, ...]" = ()) -> List[str]:
    """Why a checkout or merge of ``tip`` would write what no diff of it against ``base``
    shows: it changes .lfsconfig (where Git LFS downloads from), or its .gitattributes, or
    those of ``others`` (what it is merged with: your branch, the other branches of a merge),
    give one of their files another of _WRITTEN_OTHERWISE, or another ``diff`` attribute
    (your own diffs would hide what changed), than the base's do; [] when
    nothing does. git itself says which attributes apply (macros, quoting and line ends as
    git reads them), from each commit's own .gitattributes. ``merge``: (your HEAD, the commit
    of what merging ``tip`` into it makes, after the branches merged before it): its links
    are followed there too (see _Repo.links_merged). ``reads``: paths of the checkout the
    tool reads by name (the last run's -c file): where each leads must not change."""
    heavy = repo.rules_bytes(tip)
    if heavy > _IGNORE_RULES_LIMIT:  # (rounds 93, 94: every check below would run such gits)
        return [f"holds .gitignore and .gitattributes files of {heavy >> 10} KB in all (more than "
                f"{_IGNORE_RULES_LIMIT >> 10} KB): each git reading them, yours too, would take "
                "GBs of memory and minutes (it holds every rule of the folders above a file); "
                "nothing else of it was looked at"]
    grown = _names_past(repo, base, tip, _MERGE_LOOKS[1])
    if grown:
        return [f"{grown}; nothing else of it was looked at"]
    why = []
    records: "List[tuple[str, str]]" = []  # (":old new id id status", path)
    named = 0
    for info, path in repo._names(["diff-tree", "-r", "-z", "--no-renames", "--no-abbrev",
                                   "--end-of-options", base, tip], repo.top, 2):
        named += len(path)
        if len(records) >= _MERGE_LOOKS[0] or named > _MERGE_LOOKS[1]:  # (round 95)
            return [f"changes more than {_MERGE_LOOKS[0]:,} files, or files whose names take "
                    f"more than {_MERGE_LOOKS[1] >> 20} MB: more than the checks of a merge "
                    "look at (each would hold them, some many times over); nothing else of "
                    "it was looked at"]
        records.append((info, path))
    names = {path for _info, path in records}
    gitlinks = sorted(path for info, path in records if "160000" in info.lstrip(":").split()[:2])
    if gitlinks or ".gitmodules" in names:
        why.append("changes submodules (.gitmodules, or the commit of "
                   f"{_shorten(gitlinks[0], 100) if gitlinks else 'one'}): your `git submodule "
                   "update` would check out, and your hooks run in, a repository no check and "
                   "no diff here saw")
    ci = sorted(path for path in names if _runs_in_ci(path))
    if ci:  # (round 90)
        why.append(f"changes what your CI runs ({_some(ci, 3, 200)}): a push of it, or a pull "
                   "request from it, runs what the agent wrote there with your CI's secrets (or "
                   "changes who must review, or where your dependency bot sends its tokens)")
    added = [path for info, path in records if info.endswith(" A")]
    hidden = repo.ignored_here(added)
    brings = [tip] if any(name.rpartition("/")[2] == ".gitignore" for name in names) else []
    for commit in [*brings, *others]:  # (the rules it brings, and the other branches merged)
        if hidden is not None and added:
            theirs = repo.ignored_at(commit, added)
            found = set(hidden) | set(theirs or ())
            hidden = None if theirs is None else [p for p in added if p in found]
    # (Beyond a link of yours git cannot tell: so it asks. Were it to answer there, a branch
    # replacing your link by a folder would need a guard as links_merged's re-aimed ones.)
    linked = _link_above(repo.top, added) if hidden is None else None
    if linked:
        why.append(f"adds files beneath {_shorten(linked, 100)}, a link in your checkout: git "
                   "cannot tell whether your ignore rules hide files beyond a link, and your "
                   "`git status` might not show them")
    elif hidden is None:
        why.append("adds files of which git could not tell whether your ignore rules hide them "
                   "(more than 100,000, or names it cannot take as paths): your `git status` "
                   "might not show them")
    elif hidden:
        why.append(f"adds files your ignore rules hide ({_some(hidden, 3, 200)}): your "
                   "`git status` would not show them, and where they are may be on your PATH "
                   "later (an activated .venv/bin, node_modules/.bin)")
    if ".lfsconfig" in names:
        why.append("changes .lfsconfig, where Git LFS downloads files from")
    if any(_folded(name) == ".worktreeinclude" for name in names):
        why.append("changes .worktreeinclude, by which every later run of this tool copies your "
                   "untracked and ignored files (a .env) into each agent's worktree (round 70)")
    if ".mailmap" in names:
        why.append("changes .mailmap, by which your git log, shortlog and blame name the authors "
                   "of every commit")
    repos = repo.git_folders_in(tip, [path for info, path in records
                                      if not info.rstrip().endswith(" D")])
    if repos:
        why.append(f"makes {_shorten(repos[0], 100)} a folder git takes for a repository of its "
                   "own (HEAD, objects/, refs/): your git in it, or below it, would read its "
                   "config there (core.fsmonitor runs at `git status`; your prompt runs git in "
                   "every folder you enter)")
    compiled = _compiled_code(repo, [(info.split()[3], path) for info, path in records
                                     if not info.rstrip().endswith(" D")
                                     and info.lstrip(":").split()[1:2] != ["160000"]])
    if compiled:
        why.append(f"adds compiled code ({_some([_screen(compiled[0])], 1, 100, len(compiled))}"
                   "): Python, Node, Perl, Java or your shell may load it in place of the "
                   "sources a diff shows (a .pyc or an extension module on Python's path, "
                   "lib.node before lib/index.js), and no diff shows what it does")
    out, reached = repo.links_out(tip, [(info.split()[3], path) for info, path in records
                                        if info.lstrip(":").split()[1:2] == ["120000"]
                                        and not info.rstrip().endswith(" D")])
    moved: "List[tuple[List[str], str]]" = []
    reaimed: "List[tuple[str, Optional[str]]]" = []
    if merge is not None:
        more, also, moved, reaimed = repo.links_merged(*merge)
        out += [link for link in more if link not in out]
        for sha, paths in also.items():
            reached.setdefault(sha, set()).update(paths)
    if out:
        why.append(f"adds links that lead to no file or folder of what is merged "
                   f"({_some([_screen(out[0])], 1, 100, len(out))}): what your `make`, "
                   "your tests or your shell read through them is no file any diff showed (the "
                   "tool's own logs in .git, a build folder, a worker's worktree, a file another "
                   "account writes)")
    # (what a reader of each changed path finds before and after, through links too; and what
    # the links of the merge lead to, before and after: round 73 made conf.yaml a link)
    configs = [f"{len(names):,} files: more than 10,000 to read"] if len(names) > 10_000 else \
        _tool_configs(repo, repo.contents_at(base, tip, sorted(names)) + moved)
    if configs:
        why.append(f"changes {_some([_screen(configs[0])], 1, 100, len(configs))}"
                   ", which holds a configuration of this tool (a parallel_runs: or parallel: "
                   "section, before or after, itself or where it leads): your next run with -c "
                   "naming it would do what the agent wrote there (another agent command, no "
                   "sandbox, your files copied in; rounds 71 and 73)")
    for link, led in reaimed:  # (round 75: whatever path reads through it, -c ~/x.yaml too)
        # (led None: outside the checkout, or through what the tree does not hold, a link of
        # yours git does not track: round 76; else a folder it holds, asked of git)
        if led is None or any(repo.prints_anything(
                ["ls-files", "-z", "--others", *ignored, "--exclude-standard", "--",
                 f":(literal){led}"], repo.top) for ignored in ([], ["--ignored"])):
            why.append(f"re-aims {_shorten(_screen(link), 100)}, which led to "
                       f"{_shorten(_screen(led or 'what the tree does not hold'), 100)}: files "
                       "of yours there that git does not track (an ignored config you run with "
                       "-c) would be read through it as the agent's")
            break
    for rel in reads:  # (round 74: `conf -> settings` made `conf -> alt`: -c conf/local.yaml
        before, after = merge or (base, tip)  # read the agent's alt/local.yaml, no sandbox)
        with repo._tree_reader(before) as was, repo._tree_reader(after) as now:
            led, leads = was.where(rel.split("/")), now.where(rel.split("/"))
        if led != leads:
            why.append(f"changes where {_shorten(_screen(rel), 100)} leads (to "
                       f"{_shorten(_screen(leads or 'outside the checkout'), 100)}, not "
                       f"{_shorten(_screen(led or 'outside the checkout'), 100)}), which your last "
                       "run read with -c: your next run with it would take the agent's settings")
    hiding, where = _hiding_lines(repo, base, tip, reached) or ("", "")
    if hiding == "escapes":
        why.append("adds lines holding terminal escapes or bidi overrides, in what it merges or "
                   "in one of its commits (or a diff over 64 MB git could not show): your `git "
                   "log -p` and `git show` would pass them to your terminal, hiding or "
                   "reordering what you read")
    elif hiding == "binary":
        why.append(f"adds or changes a file git shows as binary ({_shorten(_screen(where), 120)}"
                   "): no `git diff` or `git log -p` of yours shows what it holds, and a tool of "
                   "yours may run it (a package npm installs, a pickle your tests load, a "
                   "Makefile or script with a NUL byte in a comment); images, fonts, PDFs and "
                   "media pass")
    elif hiding == "codec":
        why.append(f"has a Python source whose coding line makes Python read it otherwise than "
                   f"your git and your terminal show it ({_shorten(_screen(where), 120)}): what "
                   "every diff shows as a comment can be code")
    said, more, failed = repo.stream(["log", "--format=", "--name-only", "--no-renames", "-z",
                                      "--end-of-options", f"{base}..{tip}"], repo.top, 64 << 20)
    shown = sorted(name for name in {*added, *said.split("\0")} if _CONTROL.search(name))
    if more or failed:
        why.append("has commits whose file names git could not list (over 64 MB): your `git "
                   "log --stat` would show names no check here read")
    if shown:
        why.append(f"adds files (in what it merges or in one of its commits) whose names hold "
                   "terminal control characters or characters that "
                   f"show nothing or reorder text ({_shorten(_screen(shown[0]), 100)}): your "
                   "`git status` and `git log --stat` show them as they are with core.quotePath "
                   "off")
    said, more, failed = repo.stream(["log", "--format=%an%x00%ae%x00%cn%x00%ce%x00%B%x00",
                                      "--end-of-options", f"{base}..{tip}"], repo.top, 64 << 20)
    if more or failed or any(_CONTROL.search(field.replace("\n", "").replace("\t", ""))
                             for field in said.split("\0")):  # (see _screen)
        why.append("has commits whose messages or names hold terminal control characters (ESC, "
                   "CR, bidi overrides, characters that show nothing), or that git could not show "
                   "(over 64 MB): your `git log` "
                   "would let them act on your terminal, hiding or rewriting what it shows")
    inside = sorted({name.partition("/")[0] for name in names
                     if _is_worktree_name(name.partition("/")[0])})
    other_case = sorted(name for name in names if name.rpartition("/")[2] not in _GIT_READS
                        and _folded(name.rpartition("/")[2]) in _GIT_READS)
    if other_case:
        why.append(f"adds {_shorten(other_case[0], 100)}, which git reads as its own "
                   f"{_folded(other_case[0].rpartition('/')[2])} where names' case is ignored "
                   "(macOS, Windows): what it says no check of it here saw")
    if inside:  # (git add -f: info/exclude keeps only the runner's own add from them)
        why.append(f"adds files where the workers' worktrees are ({_shorten(inside[0], 100)}): "
                   "a merge writes them into a worktree, or makes one a submodule of your "
                   "checkout (its own git then runs in it)")
    yours = repo.unignored_yours(base, (tip, *others))
    if yours:
        why.append(f"has .gitignore files that no longer ignore files of yours ({_some(yours, 3, 200)}): "
                   "your next `git add -A` would commit them (a secret, pushed), and `git clean` "
                   "delete them")
    shown = repo.unignored_worktrees(base, (tip, *others))
    if shown:
        why.append(f"has a .gitignore that no longer ignores the workers' worktrees "
                   f"({_shorten(', '.join(shown[:3]), 100)}): your next `git add -A` would make "
                   "them submodules of your checkout, whose own git then runs in them")
    run = repo.run_by_your_git(base, tip)
    if run:
        why.append("changes what your git configuration runs or loads from your checkout (a "
                   "hook, a config file it includes, what a filter, textconv or diff command "
                   "runs, a program in a folder of your PATH): "
                   + _some(run, 3, 200))
    shown = repo.attributes_changed(base, tip, ("diff", "export-subst", "export-ignore"), others)
    if shown:
        why.append("changes how your own git shows or exports files (.gitattributes: `-diff`, "
                   "`binary`, a diff driver, `export-subst`, `export-ignore`): your `git diff`, "
                   "`git log -p` and `git add -p` would show them as binary, or through another "
                   "program, and `git archive` (release tarballs) would write what no diff shows: "
                   f"{_some(shown, 3, 200)}")
    changed = repo.attributes_changed(base, tip, _WRITTEN_OTHERWISE, others)
    rewritten = [] if changed else repo.rewritten_on_checkout(base, tip, others)
    if rewritten:
        why.append("changes files that your .gitattributes send through a filter or an encoding "
                   "(Git LFS, git-crypt), whose diff shows what git stores, not what a checkout "
                   f"writes: {_some(rewritten, 3, 200)}")
    if changed:
        why.append("puts files through a filter, an encoding or a conversion (.gitattributes), "
                   f"which write what no diff shows: {_some(changed, 3, 200)}"
                   + (" (its own .gitattributes, or those of what it is merged with: your "
                      "branch, the other branches merged)" if others else ""))
    return why


def _verified_branches(repo: _Repo) -> List[str]:
    """For ``merge all``: the branches of the last run's workers that succeeded and passed
    their checks, in worker order."""
    last = _load_last_run(repo)
    unreadable = _unreadable_run(repo, last, "which workers passed is unknown")
    if unreadable:
        raise unreadable
    try:
        results = [_result_from_dict(r, "last-run.json") for r in last.get("results", [])]
    except ParallelError:
        results = []
    if not results:
        raise ParallelError("no results of a last run: run first, or name a worker number")
    collected = last.get("collected")
    branches = [r.branch for r in sorted(results, key=lambda r: r.worker_id)
                if _verified(r) and repo.branch_exists(r.branch)
                and (not collected or (r.commit is not None and _collected_tip(repo, r)))]
    if not branches:
        raise ParallelError("no worker of the last run succeeded and passed its checks: "
                            "nothing to merge")
    return branches


def _merge_branch(repo: _Repo, branch: str, squash: bool, tip: str = "") -> List[str]:
    """Merge ``branch`` into the current branch and say so; on a conflict put the checkout
    back as it was and return the conflicting files. Other failures raise. ``tip``: the
    commit of it that was checked, merged as it is, wherever the branch has moved since
    (round 98: by its name, a branch moved between the checks and the merge would bring
    what no check saw)."""
    target = tip if _FULL_ID.fullmatch(tip) else f"refs/heads/{branch}"
    head = repo.git("rev-parse", "HEAD").strip()
    identity = repo.identity(repo.top)
    hooks = repo.your_hooks_run()  # (asked first: an interrupt after the merge says it too)
    stage = ["merge"]  # (what an interrupt finds under way: see _put_back)
    try:
        # Your checkout's own filters run (an LFS checkout needs them); no hook does.
        if squash:
            proc = repo.run(*identity, "merge", "--squash", "--no-overwrite-ignore",
                            "--end-of-options", target, filters=True)
            if proc.returncode == 0 and not repo.succeeds("diff", "--cached", "--quiet"):
                stage[0] = "commit"
                proc = repo.run(*identity, "commit", "-q", "--no-edit", filters=True)
        else:
            # An ignored file of yours (.env) that the branch adds stops the merge: not
            # overwritten. (by its full name: a tag or a file in .git named like it must not
            # stand in for it)
            proc = repo.run(*identity, "merge", "--no-edit", "--no-overwrite-ignore", "-m",
                            f"Merge branch '{branch}'", "--end-of-options", target, filters=True)
        stage[0] = "done" if proc.returncode == 0 else "undo"
        if proc.returncode != 0:
            conflicts = repo.git("diff", "--name-only", "--diff-filter=U").split()
            # Put the main checkout back exactly as it was (it had no uncommitted changes).
            repo.git("reset", "-q", "--merge", head, filters=True)
            stage[0] = "undone"
            if conflicts:
                return conflicts
            why = " ".join(line.strip() for line in proc.stderr.decode("utf-8", "replace")
                           .splitlines() if line.strip() and not line.startswith(("hint:", "Aborting")))
            raise ParallelError(f"git could not merge {branch} "
                                f"({_shorten(why, 500) or 'exit code %d' % proc.returncode})")
        new_head = repo.git("rev-parse", "HEAD").strip()
    except KeyboardInterrupt as interrupt:
        if _put_back(repo, branch, head, stage[0], squash,
                     getattr(interrupt, "git_ended", None)) and hooks:
            _print_err(_hooks_note(head, "HEAD"))
        raise
    _print_err(f"merged {branch} into the current branch: {head[:12]} -> {new_head[:12]}"
               if new_head != head else f"{branch} is already merged; nothing to do")
    if new_head != head and hooks:
        _print_err(_hooks_note(head[:12], new_head[:12]))
    return []


def _hooks_note(old: str, new: str) -> str:
    """What merge says after a merge when your git runs hooks of yours (see your_hooks_run)."""
    return ("note: your git runs hooks of yours at your next commit, which run the checkout's "
            "own code (a hook framework's scripts, a Makefile, package.json scripts, your "
            f"tests): read `git diff {old[:12]} {new}` before you commit, or commit once with "
            "--no-verify")


def _put_back(repo: _Repo, branch: str, head: str, stage: str, squash: bool,
              ended: Optional[int]) -> bool:
    """After an interrupt during _merge_branch: a merge that was made is said; one under way
    (a conflict not undone, a squash staged but not committed) is undone with `git reset
    --merge` and said (round 108: it was left half made, or said to have succeeded). ``stage``:
    where _merge_branch was; ``ended``: the exit code of the git the interrupt came during,
    when that git ended (see _git_run). Whether the branch was merged."""
    made = stage == "done" or (ended == 0 and (stage == "commit" or stage == "merge"
                                               and not squash))
    if made:
        _print_err(f"note: {branch} was merged before the interrupt")
        return True
    if stage == "undone":
        _print_err(f"note: merging {branch} was interrupted; the checkout is as it was before it")
        return False
    try:
        undone = repo.run("reset", "-q", "--merge", head, filters=True).returncode == 0
    except (ParallelError, OSError, KeyboardInterrupt):
        undone = False
    _print_err(f"note: merging {branch} was interrupted; the checkout is put back as it was "
               "before it" if undone else
               f"warning: merging {branch} was interrupted, and the checkout could not be put "
               "back: look with 'git status', then 'git merge --abort' (or 'git reset --merge "
               f"{head[:12]}')")
    return False


def _worker_branch(repo: _Repo, worker: str) -> "tuple[str, str, Optional[WorkerResult]]":
    """The branch of worker ``worker`` (a number or 'best'), the base to diff it against,
    and the worker's result in the last run (None when it has none)."""
    last = _load_last_run(repo)
    try:
        results = [_result_from_dict(r, "last-run.json") for r in last.get("results", [])]
    except ParallelError:
        results = []
    unreadable = _unreadable_run(repo, last, "which worker is best is unknown")
    if unreadable and worker == "best":
        raise unreadable
    if worker == "best":
        if not results:
            raise ParallelError("no ranked results of a last run: run first, or name a worker number")
        winner = _winner(results)
        if winner is None:
            first = min(results, key=lambda r: r.rank)
            raise ParallelError(
                "the last run had different tasks, so no worker is best; name a worker number"
                if len({r.task for r in results}) > 1 else
                "no worker of the last run succeeded and passed its checks, so none is best "
                f"(rank 1: worker {first.worker_id}, {_verdict(first)}); name a worker number "
                "instead")
        worker = str(winner.worker_id)
    if not _digits(worker) or int(worker) < 1:
        raise _UsageError(f"worker must be a number, 'best' or (for merge) 'all', got {worker!r}")
    branch = f"{BRANCH_PREFIX}{int(worker)}"
    if not repo.branch_exists(branch):
        raise ParallelError(f"there is no branch {branch}")
    base = last.get("base_commit")
    if not (isinstance(base, str) and repo.succeeds("rev-parse", "--verify", "--quiet", f"{base}^{{commit}}")):
        base = "HEAD"
    recorded = next((r for r in results if r.worker_id == int(worker) and r.branch == branch), None)
    if last.get("collected"):
        if recorded is None:
            raise ParallelError(f"worker {worker} has no results among the collected ones")
        _collected_tip(repo, recorded)
    return branch, base, recorded


def _collected_tip(repo: _Repo, r: WorkerResult) -> str:
    """The commit collect verified for worker ``r``, which its branch must still hold: what
    diff, the report and merge show and bring is then what was verified."""
    if r.commit is None:
        raise ParallelError(f"worker {r.worker_id} committed nothing (collected results)")
    tip = repo.tip(r.branch)
    if tip != r.commit:
        raise ParallelError(f"{r.branch} is at {tip[:12] or 'nothing'} now, not at the commit "
                            f"{r.commit[:12]} that collect verified: fetch it again and collect "
                            "again")
    return tip


_COMMANDS = {
    "run": _cmd_run, "parallel": _cmd_run,
    "cleanup": _cmd_cleanup, "parallel-cleanup": _cmd_cleanup,
    "list": _cmd_list,
    "diff": _cmd_diff,
    "merge": _cmd_merge,
    "plan": _cmd_plan,
    "collect": _cmd_collect,
    "rerun": _cmd_rerun,
    "report": _cmd_report,
    "continue": _cmd_continue,
}


def _subparser(parser: argparse.ArgumentParser, command: Optional[str]) -> _ArgumentParser:
    """The parser of ``command`` (the top-level parser when there is none)."""
    for action in parser._actions:  # argparse keeps subparsers in a _SubParsersAction
        if isinstance(action, argparse._SubParsersAction) and command in action.choices:
            return action.choices[command]
    return parser  # type: ignore[return-value]


def _raise_signalled(signum: int, _frame: object) -> None:
    """SIGINT, SIGTERM or SIGHUP to a command: its gits that write
    nothing are killed, and it stops; while this thread starts a git, once that git is
    known (round 104: one started as the signal came outlived the tool)."""
    _INTERRUPTED.set()
    _kill_readers()
    if _DEFERRED.spawning:
        _DEFERRED.signals.append(signum)
        return
    raise _Signalled(signum) if signum != signal.SIGINT else KeyboardInterrupt


class _DEFERRED:  # (see _raise_signalled and _git_popen; the main thread's only)
    spawning = 0
    signals: List[int] = []


def _caught_signals(*signums: int) -> List[int]:
    """The signals of these the tool may catch: not one it was started with ignored.

    `nohup` starts a command with SIGHUP ignored, and a shell without job control a
    background job (`cmd &` in a script) with SIGINT ignored; the command is meant to keep
    ignoring them (its agents inherit that), not to stop when the terminal closes.
    """
    return [signum for signum in dict.fromkeys(signums)
            if signal.getsignal(signum) is not signal.SIG_IGN]


def _print_err(line: str) -> None:
    """One line on stderr (or several), each made safe to show (see _screen), written whole
    (threads print at once); a closed stderr must not stop the workers that report progress."""
    try:
        sys.stderr.write(_screen(line) + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


def _digits(text: str) -> bool:
    """Whether ``text`` is a number in ASCII digits, 18 at most (str.isdigit() says yes to
    '²' and '٣', which int() refuses or reads as 3; int() refuses 4,300 digits)."""
    return text.isascii() and text.isdigit() and len(text) <= 18


def _worker_digits(text: str) -> bool:
    """Whether ``text`` is a worker's number as the tool writes it in a branch or folder name:
    _digits, no leading zero (architect/parallel-01 is a branch of yours, not worker 1's)."""
    return _digits(text) and not text.startswith("0")


def _screen(text: str) -> str:
    """``text`` as it may reach a terminal or a CI log: every line without control characters
    (tabs stay), and without what a CI runner would take as a command (see _ci_safe)."""
    return "\n".join(_ci_safe(_CONTROL.sub("?", line.replace("\t", "    ")))
                     for line in text.split("\n"))


def _in_ci() -> bool:
    """Whether this runs in a GitHub Actions or GitLab CI job, whose runner reads its log."""
    return os.environ.get("GITHUB_ACTIONS") == "true" or os.environ.get("GITLAB_CI") == "true"


def _to_a_file(stream: object) -> bool:
    """Whether ``stream`` writes to a regular file (a redirection: not the job's log)."""
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)  # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError):
        return False


def _ci_safe(line: str) -> str:
    """``line`` with no GitHub Actions workflow command in it: the runner obeys a line that
    starts with ``::`` (after spaces; ``::error::``, ``::stop-commands::``, ``::add-mask::``)
    and, the old way, ``##[`` anywhere in a line. A space breaks both. (GitLab's log markers
    need control characters, which _screen removes.)"""
    if "\r" in line:  # (a runner's log reader ends a line there too)
        return "\r".join(_ci_safe(piece) for piece in line.split("\r"))
    if line.lstrip().startswith("::"):
        line = line.replace("::", ": :", 1)
    return line.replace("##[", "# #[")


def _print_json(value: object) -> None:
    import json
    # ASCII escapes keep odd file names (surrogate-escaped bytes) printable on any stdout;
    # allow_nan=False guarantees standard JSON.
    # "##[" would be a command to a GitHub runner, even in a string: \u0023 is the same "#".
    _print_out(json.dumps(value, indent=2, allow_nan=False).replace("##[", "#\\u0023["))


def _print_out(text: str) -> None:
    """Write ``text`` and a newline on stdout.

    A reader that goes away early (``| head``) does not change the exit code: the
    work is done. As json.tool does, stdout is then pointed at /dev/null so that
    Python does not complain when it flushes at exit.
    """
    try:
        sys.stdout.write(_screen(text) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def main(argv: Optional[List[str]] = None) -> int:
    """Command-line entry point; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _COUNTED.clear()  # (each command counts the worktrees it reads: see _Repo._settings)
    implicit_run = bool(argv) and argv[0] not in _COMMANDS and argv[0] not in (
        "-h", "--help", "--version")
    if implicit_run:
        argv.insert(0, "run")
    parser = _build_parser(argv[0] if argv and argv[0] in _COMMANDS else "")
    handlers = {}
    _INTERRUPTED.clear()
    if threading.current_thread() is threading.main_thread():
        for signum in _caught_signals(signal.SIGTERM, getattr(signal, "SIGHUP", signal.SIGTERM)):
            handlers[signum] = signal.signal(signum, _raise_signalled)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            handlers[signal.SIGINT] = signal.signal(signal.SIGINT, _raise_signalled)
    try:
        if implicit_run and not argv[1].startswith("-") and len(argv[1].split()) == 1:
            # One word is more likely a mistyped command than a task: never start agents on it.
            import difflib
            close = difflib.get_close_matches(argv[1], list(_COMMANDS), n=1)
            words = [argv[1]]
            for arg in argv[2:]:  # 'fix the bug' typed without quotes
                if arg.startswith("-"):
                    break
                words.append(arg)
            raise _UsageError(f"unknown command {argv[1]!r}"
                              + (f" (did you mean {close[0]}?)" if close else "")
                              + f"; to run it as a task: {_prog()} run {shlex.quote(' '.join(words))}")
        try:
            args, extras = parser.parse_known_args(argv)
            if extras:
                raise _subparser(parser, args.command).unknown_options(extras)
        except SystemExit as exc:  # --help and --version print, then exit 0
            return exc.code if isinstance(exc.code, int) else EXIT_OK
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        if fcntl is None:
            raise ParallelError("Windows is not supported yet: architect-parallel needs Linux or "
                                "macOS (on Windows, run it in WSL)")
        try:
            os.getcwd()
        except OSError as exc:
            raise ParallelError(f"the current folder cannot be read ({exc.strerror}): it was "
                                "removed, or its permissions changed; cd into the repository "
                                "again") from None
        return _COMMANDS[args.command](args)
    except ParallelError as exc:
        _print_err(f"error: {exc}")
        return exc.exit_code
    except _Signalled as exc:
        _wait_writers()
        _print_err(f"error: stopped by signal {exc.signum}")
        return 128 + exc.signum
    except KeyboardInterrupt:
        _wait_writers()
        _print_err("error: interrupted")
        return EXIT_INTERRUPTED
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


if __name__ == "__main__":
    raise SystemExit(main())
