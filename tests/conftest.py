"""Shared fixtures: real temporary git repositories and a scripted fake ``architect`` on PATH."""

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

# The Python processes the tests start (the CLI, the scripted agents) reuse their compiled
# bytecode, also where the environment turns that cache off (PYTHONDONTWRITEBYTECODE, as
# some CI images do): compiling the module's 9,000 lines takes some 130 ms of CPU at each start.
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    import tempfile
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(
        tempfile.gettempdir(), f"architect-parallel-tests-pycache-{os.getuid()}")

# The tests that press Ctrl-C start the tool as a terminal's foreground job is started, with
# SIGINT at its default. A shell without job control starts a background job (`make test &`
# in a script) with SIGINT ignored, which its children inherit across exec, and the tool then
# keeps it ignored as asked (merge went on to exit 0); a handler of ours is not inherited.
if threading.current_thread() is threading.main_thread() \
        and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import architect_parallel  # noqa: E402
import run_tests  # noqa: E402
from fake_agent import make_agent_bin  # noqa: E402


def pytest_configure(config):
    run_tests.share_tests(config)  # `make test`: several pytest processes share the tests


def git(*args, cwd):
    """Run git in ``cwd`` and return its stdout (stripped); fail the test on error."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {args}: {proc.stderr}"
    return proc.stdout.strip()


def alive(pid):
    """True while ``pid`` runs; a zombie (which nobody may reap in a container) counts as gone.
    Given as ``(pid, start)`` (see procs), a later process given the same number (thousands
    start a minute under load, of 32,768 numbers) is not the one recorded."""
    pid, start = pid if isinstance(pid, tuple) else (pid, None)
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    fields = stat[stat.rfind(")") + 2:].split()
    return fields[0] != "Z" and (start is None or int(fields[19]) == start)


def procs(record):
    """A fake agent's recorded process and its children, as ``(pid, start)`` for alive()."""
    started = record.get("started", {})
    return [(pid, started.get(str(pid))) for pid in [record["pid"], *record.get("grandchildren", [])]]


@pytest.fixture
def records(tmp_path):
    folder = tmp_path / "records"
    folder.mkdir()
    # Sandboxed fake agents write here too (--sandbox-allow): as root, the sandbox runs as an
    # unprivileged user, which may write only what everyone may.
    folder.chmod(0o777)
    return folder


@pytest.fixture(autouse=True)
def agent_env(tmp_path, monkeypatch, records):
    """Fake agent first on PATH, a fixed git identity, no stray configuration."""
    bin_dir = make_agent_bin(str(tmp_path / "bin"))
    monkeypatch.setenv("PATH", bin_dir + os.pathsep + os.environ.get("PATH", ""))
    monkeypatch.setenv("FAKE_AGENT_RECORD", str(records))
    monkeypatch.delenv("FAKE_AGENT_PLAN", raising=False)
    for var in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{var}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{var}_EMAIL", "test@example.com")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    # No identity of the machine's own ~/.gitconfig: tests say what git config holds.
    (tmp_path / "gitconfig").write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig"))
    for var in ("GIT_CONFIG_COUNT", "GIT_CONFIG_PARAMETERS"):
        monkeypatch.delenv(var, raising=False)
    # The claude preset refuses to start as root unless IS_SANDBOX is set; tests run as
    # root in CI containers. Tests of that refusal remove it.
    monkeypatch.setenv("IS_SANDBOX", "1")
    monkeypatch.delenv("GEMINI_CLI_TRUST_WORKSPACE", raising=False)
    # A test without the repo fixture runs where no worker can start: never in this checkout.
    monkeypatch.chdir(tmp_path)
    return bin_dir


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A repository with one commit on ``main``; the current directory during the test."""
    path = tmp_path / "repo"
    (path / "src").mkdir(parents=True)
    (path / "README.md").write_text("# demo\n")
    (path / "src" / "app.py").write_text("print('hello')\n")
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("commit", "-q", "-m", "initial", cwd=path)
    monkeypatch.chdir(path)
    return path


class Cli:
    """Call ``main()`` in process and capture what it prints."""

    def __init__(self, capsys):
        self.capsys = capsys

    def __call__(self, *args):
        self.capsys.readouterr()
        args = [str(a) for a in args]
        # One-word tasks ("t", "fake:...") need an explicit 'run' (a lone word could be a
        # mistyped command); the tests of that rule call architect_parallel.main directly.
        if args and args[0] not in architect_parallel._COMMANDS and not args[0].startswith("-") \
                and len(args[0].split()) == 1:
            args.insert(0, "run")
        code = architect_parallel.main(args)
        out, err = self.capsys.readouterr()
        return code, out, err

    def json(self, *args):
        code, out, err = self(*args, "--json")
        return code, json.loads(out), err


@pytest.fixture
def cli(capsys):
    return Cli(capsys)


def read_records(records):
    """What each fake agent call recorded, by worktree folder name."""
    return {p.stem: json.loads(p.read_text()) for p in sorted(records.glob("*.json"))}
