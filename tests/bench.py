#!/usr/bin/env python3
"""``make bench``: what the runner itself costs, next to baselines measured in the same run.

Builds synthetic repositories (2,000 and 20,000 files of a few KB, one commit) in a
temporary folder, runs the tool on them with agents that do (almost) nothing, and
prints medians over several runs. Timing lives here, never in ``make test``.
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import architect_parallel as ap  # noqa: E402
from fake_agent import make_agent_bin  # noqa: E402

RUNS = int(os.environ.get("BENCH_RUNS", "3"))


def git(*args, cwd):
    subprocess.run(["git", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def make_repo(path, files):
    rng = random.Random(files)
    words = "def class return import self value data result index error count".split()
    for i in range(files):
        folder = os.path.join(path, f"pkg{i % 40}", f"mod{i % 7}")
        os.makedirs(folder, exist_ok=True)
        lines = [" ".join(rng.choice(words) for _ in range(8)) for _ in range(rng.randint(20, 120))]
        with open(os.path.join(folder, f"file{i}.py"), "w") as f:
            f.write("\n".join(lines) + "\n")
    git("init", "-q", "-b", "main", cwd=path)
    git("add", "-A", cwd=path)
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "synthetic", cwd=path)


def cleanup(repo):
    subprocess.run([sys.executable, "-m", "architect_parallel", "cleanup"], cwd=repo,
                   env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)


def naive_loop(repo, n):
    """The baseline: ``git worktree add -b ... HEAD`` for each worker, one after the other."""
    started = time.monotonic()
    for i in range(1, n + 1):
        git("worktree", "add", "-q", "-b", f"architect/parallel-{i}",
            os.path.join(repo, f".architect-parallel-{i}"), "HEAD", cwd=repo)
    took = time.monotonic() - started
    cleanup(repo)
    return took


def single_add(repo):
    started = time.monotonic()
    git("worktree", "add", "-q", "-b", "bench-single", os.path.join(repo, ".bench-single"), "HEAD", cwd=repo)
    took = time.monotonic() - started
    git("worktree", "remove", "--force", os.path.join(repo, ".bench-single"), cwd=repo)
    git("branch", "-D", "-q", "bench-single", cwd=repo)
    return took


def tool_run(repo, records, n, tasks=None, model_script="fake:json=success", workers=None):
    """Run the tool in this process; return (wall time, first agent start, last agent start)."""
    for name in os.listdir(records):
        os.remove(os.path.join(records, name))
    args = [f"--task={t}" for t in (tasks or ["t"])] + [
        "--workers", str(workers or n), "--models", ",".join([model_script] * n),
        "--no-commit", "--quiet", "--progress", "none", "--force"]
    cwd = os.getcwd()
    os.chdir(repo)
    try:
        started = time.time()
        code = ap.main(args)
        wall = time.time() - started
    finally:
        os.chdir(cwd)
    assert code == 0, f"run failed ({code})"
    starts = [json.load(open(os.path.join(records, f)))["start"]
              for f in os.listdir(records) if f.endswith(".json")]
    return wall, min(starts) - started, max(starts) - started


def median(values):
    return statistics.median(values)


def main():
    tmp = tempfile.mkdtemp(prefix="architect-parallel-bench-")
    records = os.path.join(tmp, "records")
    os.makedirs(records)
    os.environ["PATH"] = make_agent_bin(os.path.join(tmp, "bin")) + os.pathsep + os.environ["PATH"]
    os.environ["FAKE_AGENT_RECORD"] = records
    rows = []
    try:
        small, large = os.path.join(tmp, "r2000"), os.path.join(tmp, "r20000")
        for path, files in ((small, 2000), (large, 20000)):
            os.makedirs(path)
            make_repo(path, files)
        for path, files in ((small, 2000), (large, 20000)):
            naive = median([naive_loop(path, 10) for _ in range(RUNS)])
            ready, first = [], []
            for _ in range(RUNS):
                _wall, first_start, last_start = tool_run(path, records, 10)
                ready.append(last_start)
                first.append(first_start)
                cleanup(path)
            one = median([single_add(path) for _ in range(RUNS)])
            rows.append((f"all 10 worktrees ready, {files} files", f"{median(ready):.2f}s",
                         f"naive loop {naive:.2f}s", f"{median(ready) / naive:.2f}x", "<= 0.6x"))
            rows.append((f"first agent started, {files} files", f"{median(first):.2f}s",
                         f"one worktree add {one:.2f}s", f"{median(first) / one:.2f}x", "<= 1.3x"))
        # Overhead per job: 100 tasks whose agent exits at once, 10 at a time.
        walls = []
        for _ in range(RUNS):
            wall, _f, _l = tool_run(small, records, 100, tasks=[f"task {i}" for i in range(100)], workers=10)
            walls.append(wall)
            cleanup(small)
        rows.append(("100 instant jobs at --workers 10, 2000 files", f"{median(walls):.2f}s",
                     "", f"{100 / median(walls):.1f} jobs/s", "report"))
        # Idle cost and memory: 10 agents sleep 5 s, each writing 100 MB of output.
        before_cpu = time.process_time()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wall, _f, _l = tool_run(small, records, 10, model_script="fake:spew=100+sleep=5+json=success")
        cpu = time.process_time() - before_cpu
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cleanup(small)
        rows.append(("runner CPU while 10 agents sleep 5 s", f"{cpu:.2f}s CPU", f"wall {wall:.1f}s",
                     f"{100 * cpu / wall:.1f}% of a core", "<= 2% (includes setup)"))
        rows.append(("peak RSS, agents writing 100 MB each", f"{rss / 1024:.0f} MB",
                     f"before the run {rss_before / 1024:.0f} MB", "", "<= 40 MB"))
        # Start-up.
        def timed(cmd):
            started = time.monotonic()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=ROOT), check=True)
            return time.monotonic() - started
        bare = median([timed([sys.executable, "-c", "pass"]) for _ in range(10)])
        helps = median([timed([sys.executable, "-m", "architect_parallel", "--help"]) for _ in range(10)])
        rows.append(("python -m architect_parallel --help", f"{helps * 1000:.0f} ms",
                     f"python -c pass {bare * 1000:.0f} ms", f"{helps / bare:.2f}x", "<= 1.5x"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    print(f"architect-parallel {ap.__version__} on {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, medians of {RUNS} runs\n")
    for row in [("measure", "tool", "baseline", "ratio", "target")] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
