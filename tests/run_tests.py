#!/usr/bin/env python3
"""What `make test` runs: the pytest suite in several pytest processes at once.

    python3 tests/run_tests.py [--jobs N] [pytest arguments...]

Most tests wait on real subprocesses (git, the scripted agent, real time limits), so one
pytest process leaves a 2-core machine half idle. Here N processes (4 unless --jobs says)
each collect the whole suite with the same arguments and go through it in order, running a
test only if they claim it first (an exclusive file per test, see _Share): every test runs
exactly once, a process that is done early takes what is left, and a new test file needs no
change anywhere. The first process's output is shown as it comes, then each other one's in
one piece, then a line that adds them up. The exit code is pytest's: 0 only when every
process passed (5, no tests collected, only when no process got a test).

--jobs 1 runs one plain `python -m pytest`, and so do the pytest options that only make sense
in one process: --lf, --ff, --nf, --sw, --pdb, --trace, --help, --version, --fixtures,
--markers, --collect-only. After a failure with -x (or --maxfail) the other processes stop
too, each after the test it is on and the one it has taken next. pytest's record of failed
tests (for a later --lf) is kept as one process would keep it. Standard library and pytest
only; Python 3.9 or later; POSIX.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import pytest

DEFAULT_JOBS = 4  # on 2 cores: 3 takes a few seconds longer, 8 no shorter
SHARE_VAR = "ARCHITECT_TESTS_SHARE"  # "K/N:FOLDER"; tests/conftest.py hands it to share_tests()
ONE_PROCESS = {"--lf", "--last-failed", "--ff", "--failed-first", "--nf", "--new-first",
               "--sw", "--stepwise", "--sw-skip", "--stepwise-skip", "--cache-show", "--cache-clear",
               "--pdb", "--trace", "-h", "--help", "--version", "-V", "--fixtures", "--funcargs",
               "--fixtures-per-test", "--markers", "--co", "--collect-only"}
WORDS = ["failed", "passed", "skipped", "deselected", "xfailed", "xpassed", "warnings", "error"]


# The runner.

def parse_jobs(args):
    """Take ``--jobs N`` / ``--jobs=N`` / ``-jN`` off the front of ``args``."""
    jobs = DEFAULT_JOBS
    while args:
        if args[0] == "--jobs" and len(args) > 1:
            value, args = args[1], args[2:]
        elif args[0].startswith("--jobs="):
            value, args = args[0].split("=", 1)[1], args[1:]
        elif args[0].startswith("-j") and args[0][2:].isdigit():
            value, args = args[0][2:], args[1:]
        else:
            break
        if not value.strip().isdigit() or int(value) < 1:
            sys.exit(f"run_tests.py: --jobs wants a whole number of at least 1, got {value!r}")
        jobs = int(value)
    return jobs, args


def summary(counts):
    parts = []
    for word in WORDS + sorted(set(counts) - set(WORDS)):
        n = counts.get(word, 0)
        if n:
            if word in ("error", "warnings"):
                word = word.rstrip("s") + ("s" if n != 1 else "")
            parts.append(f"{n} {word}")
    return ", ".join(parts) or "no tests ran"


def follow(path, proc, out):
    """Copy the file ``path`` to ``out`` while ``proc`` writes it, until it has exited."""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 16)
            if chunk:
                out.write(chunk)
                out.flush()
            elif proc.poll() is not None:
                out.write(f.read())
                out.flush()
                return
            else:
                time.sleep(0.2)


def read_report(folder, k):
    """What process ``k`` ran (written by _Share.pytest_unconfigure), or {}."""
    try:
        with open(os.path.join(folder, f"{k}.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def watch(k, proc, ended):
    proc.wait()
    ended[k] = time.monotonic()


def own_basetemp(args, k):
    """``args`` with --basetemp DIR made DIR/process-K: pytest empties its basetemp first."""
    args = list(args)
    for i, arg in enumerate(args):
        if arg == "--basetemp" and i + 1 < len(args):
            os.makedirs(args[i + 1], exist_ok=True)
            args[i + 1] = os.path.join(args[i + 1], f"process-{k + 1}")
        elif arg.startswith("--basetemp="):
            os.makedirs(arg.split("=", 1)[1], exist_ok=True)
            args[i] = os.path.join(arg, f"process-{k + 1}")
    return args


def main(argv):
    jobs, args = parse_jobs(list(argv))
    command = [sys.executable, "-m", "pytest"]
    if jobs == 1 or any(a.split("=", 1)[0] in ONE_PROCESS for a in args):
        sys.stdout.flush()
        os.execv(sys.executable, command + args)

    tty = sys.stdout.isatty()
    # No [ 42%]: each process would count against the whole suite.
    command += ["-o", "console_output_style=classic"]
    color = ["--color=yes"] if tty and not any(a.startswith("--color") for a in args) else []
    print(f"{jobs} pytest processes share the tests (--jobs 1, make test TEST_JOBS=1, for one)",
          flush=True)
    started = time.monotonic()
    folder = tempfile.mkdtemp(prefix="architect-parallel-tests-")
    os.mkdir(os.path.join(folder, "claims"))
    procs, ended, reports, problems = [], {}, [], []

    def on_signal(signum, _frame):
        # Ctrl-C reaches every process of the terminal's foreground job by itself.
        if signum != signal.SIGINT:
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signum)

    try:
        for k in range(jobs):
            env = dict(os.environ, **{SHARE_VAR: f"{k}/{jobs}:{folder}"})
            if k == 0:
                procs.append(subprocess.Popen(command + own_basetemp(args, k), env=env))
            else:
                with open(os.path.join(folder, f"{k}.log"), "wb") as log:
                    procs.append(subprocess.Popen(command + color + own_basetemp(args, k), env=env,
                                                  stdout=log, stderr=subprocess.STDOUT))
        for k, proc in enumerate(procs):  # when each one ends, for the last line
            threading.Thread(target=watch, args=(k, proc, ended), daemon=True).start()
        # Only now: a process started while SIGINT is ignored or caught would ignore Ctrl-C.
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, on_signal)
        procs[0].wait()
        for k in range(1, jobs):
            if procs[0].returncode in (2, 3, 4) and not read_report(folder, 0).get("ran") \
                    and procs[k].wait() == procs[0].returncode and not read_report(folder, k).get("ran"):
                # A usage or collection error, the same in every process: shown once is enough.
                print(f"-- pytest process {k + 1} of {jobs} stopped the same way --", flush=True)
                continue
            print(f"-- pytest process {k + 1} of {jobs} --", flush=True)
            follow(os.path.join(folder, f"{k}.log"), procs[k], sys.stdout.buffer)
        for k, proc in enumerate(procs):
            reports.append(read_report(folder, k) or None)
            if reports[-1] is None and proc.returncode in (0, 1, 5):
                # It ran tests, but without tests/conftest.py: all of them, maybe.
                problems.append(f"pytest process {k + 1} did not say which tests it ran, so it "
                                f"may have run all of them (was tests/conftest.py left out?)")
        stopped = os.path.exists(os.path.join(folder, "stop"))
    finally:
        for proc in procs:  # only when this script itself failed: leave nothing running
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        shutil.rmtree(folder, ignore_errors=True)

    codes = [p.returncode if p.returncode >= 0 else 128 - p.returncode for p in procs]
    done = [r for r in reports if r]
    ran = [nodeid for r in done for nodeid in r["ran"]]
    collected = {nodeid for r in done for nodeid in r["collected"]}
    if len(ran) != len(set(ran)):
        problems.append("some tests ran in more than one process")
    if len(done) == jobs and not stopped and set(codes) <= {0, 1, 5} and set(ran) != collected:
        problems.append(f"{len(collected - set(ran))} collected tests ran in no process")
    counts, same = {}, {}
    for report in done:
        for word, n in report["counts"].items():
            if word.startswith("collect:") or word == "deselected":  # the same in every process
                word = word.split(":")[-1]
                same[word] = max(same.get(word, 0), n)
            else:
                counts[word] = counts.get(word, 0) + n
    for word, n in same.items():
        counts[word] = counts.get(word, 0) + n
    failing = [c for c in codes if c not in (0, 5)]
    if failing:
        code = max(failing)
    elif problems:
        code = 1
    else:
        code = 5 if all(c == 5 for c in codes) else 0
    shares = ", ".join(f"{len(r['ran']) if r else '?'} tests in {ended.get(k, started) - started:.1f}s"
                       for k, r in enumerate(reports))
    line = (f"{summary(counts)} in {time.monotonic() - started:.2f}s "
            f"({jobs} pytest processes: {shares}; exit codes {' '.join(map(str, codes))})")
    for problem in problems:
        print(f"run_tests.py: {problem}", file=sys.stderr, flush=True)
    if tty and "NO_COLOR" not in os.environ:
        line = f"\033[{'32' if code == 0 else '31'};1m{line}\033[0m"
    print(line, flush=True)
    return code


# The pytest side, in each process.

class _Share:
    """Run only the tests this process claims first; report what ran; merge --lf's record."""

    def __init__(self, config, k, folder):
        self.config, self.k, self.folder = config, k, folder
        self.ran, self.collected = [], []
        lf = config.pluginmanager.getplugin("lfplugin")
        self.lastfailed = dict(lf.lastfailed) if isinstance(getattr(lf, "lastfailed", None), dict) \
            else None

    def _claim(self, items, start):
        """The index of the first test from ``start`` on that no other process has taken."""
        for i in range(start, len(items)):
            if os.path.exists(os.path.join(self.folder, "stop")):
                return None
            name = hashlib.sha1(items[i].nodeid.encode("utf-8", "surrogateescape")).hexdigest()
            try:
                os.close(os.open(os.path.join(self.folder, "claims", name),
                                 os.O_WRONLY | os.O_CREAT | os.O_EXCL))
            except FileExistsError:
                continue
            return i
        return None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        """pytest's own loop (_pytest/main.py), over the claimed tests only."""
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} error"
                                      f"{'s' if session.testsfailed != 1 else ''} during collection")
        if session.config.option.collectonly:
            return True
        items = session.items
        i = self._claim(items, 0)
        while i is not None:
            # The next test is claimed before this one runs: pytest tears fixtures down by it.
            j = self._claim(items, i + 1)
            self.ran.append(items[i].nodeid)
            items[i].config.hook.pytest_runtest_protocol(
                item=items[i], nextitem=None if j is None else items[j])
            if session.shouldfail or session.shouldstop:  # -x, --maxfail: the others stop too
                open(os.path.join(self.folder, "stop"), "w").close()
                if session.shouldfail:
                    raise session.Failed(session.shouldfail)
                raise session.Interrupted(session.shouldstop)
            i = j
        return True

    def _merge_lastfailed(self):
        """pytest's record of failed tests (for --lf) would be written by each process from
        its own share alone: put this one's changes onto what the others wrote, one at a time.
        Returns the lock, held until pytest's cacheprovider has written the record."""
        lf = self.config.pluginmanager.getplugin("lfplugin")
        if self.lastfailed is None or getattr(self.config, "cache", None) is None \
                or not isinstance(getattr(lf, "lastfailed", None), dict):
            return None
        import fcntl

        lock = open(os.path.join(self.folder, "lastfailed.lock"), "w")
        fcntl.flock(lock, fcntl.LOCK_EX)
        saved = self.config.cache.get("cache/lastfailed", {})
        merged = {key: value for key, value in saved.items()
                  if key not in self.lastfailed or key in lf.lastfailed}
        merged.update((key, value) for key, value in lf.lastfailed.items()
                      if key not in self.lastfailed)
        lf.lastfailed = merged
        return lock

    @pytest.hookimpl(hookwrapper=True, trylast=True)  # around the cacheprovider's write only
    def pytest_sessionfinish(self, session):
        lock = self._merge_lastfailed()
        try:
            yield
        finally:
            if lock:
                lock.close()
        self.collected = [item.nodeid for item in session.items]

    def pytest_unconfigure(self, config):
        counts = {}
        reporter = config.pluginmanager.getplugin("terminalreporter")
        for key, reports in (reporter.stats.items() if reporter else ()):
            for report in reports:
                if key and getattr(report, "count_towards_summary", True):
                    # Every process collects every file: "collect:" counts are the same in each.
                    word = "collect:" + key if isinstance(report, pytest.CollectReport) else key
                    counts[word] = counts.get(word, 0) + 1
        with open(os.path.join(self.folder, f"{self.k}.json"), "w") as f:
            json.dump({"ran": self.ran, "collected": self.collected, "counts": counts}, f)


def share_tests(config):
    """Called by tests/conftest.py: in a process started by main(), run its share of the tests.

    The variable is removed from the environment, so no test or agent ever sees it."""
    value = os.environ.pop(SHARE_VAR, "")
    if value:
        spec, folder = value.split(":", 1)
        config.pluginmanager.register(_Share(config, int(spec.split("/")[0]), folder),
                                      "architect_tests_share")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
