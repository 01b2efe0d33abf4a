#!/usr/bin/env python3
"""``make bench``: what the runner itself costs, next to baselines measured in the same run.

Builds synthetic repositories (2,000 and 20,000 files of a few KB, one commit) in a
temporary folder, runs the tool on them with agents that do (almost) nothing, and
prints medians over several runs. Timing lives here, never in ``make test``.
"""

import contextlib
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
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


def settle():
    """Write out what earlier steps left in the page cache, so that it does not slow
    the next measurement (removing 200,000 files leaves the disk busy for seconds)."""
    os.sync()
    time.sleep(0.5)


def cleanup(repo):
    """The tool's cleanup; returns its wall time."""
    settle()
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "architect_parallel", "cleanup"], cwd=repo,
                   env=dict(os.environ, PYTHONPATH=ROOT), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    return time.monotonic() - started


def naive_loop(repo, n):
    """The baseline: ``git worktree add -b ... HEAD`` for each worker, one after the other.

    Returns its time, and that of the naive removal: ``git worktree remove`` and
    ``git branch -D`` for each, one after the other.
    """
    settle()
    started = time.monotonic()
    for i in range(1, n + 1):
        git("worktree", "add", "-q", "-b", f"architect/parallel-{i}",
            os.path.join(repo, f".architect-parallel-{i}"), "HEAD", cwd=repo)
    took = time.monotonic() - started
    settle()
    started = time.monotonic()
    for i in range(1, n + 1):
        git("worktree", "remove", "--force", os.path.join(repo, f".architect-parallel-{i}"), cwd=repo)
        git("branch", "-q", "-D", f"architect/parallel-{i}", cwd=repo)
    return took, time.monotonic() - started


def single_add(repo):
    settle()
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
    settle()
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


def worktree_rows(path, files, records):
    """Worktree creation, time to the first agent, and cleanup, against plain git."""
    naive, naive_removal, ready, first, removal, one = [], [], [], [], [], []
    for _ in range(RUNS):  # interleaved, so that a slow spell of the disk hits both
        took, removed = naive_loop(path, 10)
        naive.append(took)
        naive_removal.append(removed)
        _wall, first_start, last_start = tool_run(path, records, 10)
        ready.append(last_start)
        first.append(first_start)
        removal.append(cleanup(path))
        one.append(single_add(path))
    naive, ready, first, one = map(median, (naive, ready, first, one))
    return [
        (f"all 10 worktrees ready, {files} files", f"{ready:.2f}s",
         f"naive loop {naive:.2f}s", f"{ready / naive:.2f}x", "<= 0.6x"),
        # The issue sets the first-agent target on the large repository.
        (f"first agent started, {files} files", f"{first:.2f}s",
         f"one worktree add {one:.2f}s", f"{first / one:.2f}x", "<= 1.3x" if files >= 20000 else "report"),
        (f"cleanup of 10 worktrees, {files} files", f"{median(removal):.2f}s",
         f"naive removal {median(naive_removal):.2f}s",
         f"{median(removal) / median(naive_removal):.2f}x", "report"),
    ]


def startup_rows(tmp):
    """``--help`` start-up of a vendored copy, next to a bare interpreter.

    As users run it: the module alone in a folder, with its bytecode cached after the
    first run; and in another folder without a bytecode cache (PYTHONDONTWRITEBYTECODE
    set, as on read-only installs), where Python compiles the module at every start.
    """
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    rows = []
    for label, extra in (("", {}), (", no bytecode cache", {"PYTHONDONTWRITEBYTECODE": "1"})):
        folder = os.path.join(tmp, "vendored-nocache" if extra else "vendored")
        os.makedirs(folder)
        shutil.copy(os.path.join(ROOT, "architect_parallel.py"), folder)
        run_env = dict(env, **extra)

        def timed(cmd):
            started = time.monotonic()
            subprocess.run(cmd, stdout=subprocess.DEVNULL, env=run_env, cwd=folder, check=True)
            return time.monotonic() - started

        helps = [sys.executable, "-m", "architect_parallel", "--help"]
        timed(helps)  # writes the bytecode cache, if allowed
        bare, tool = [], []
        for _ in range(21):  # interleaved: the machine's load changes
            bare.append(timed([sys.executable, "-c", "pass"]))
            tool.append(timed(helps))
        bare, tool = median(bare), median(tool)
        rows.append((f"--help start-up{label}", f"{tool * 1000:.0f} ms",
                     f"python -c pass {bare * 1000:.0f} ms", f"{tool / bare:.2f}x",
                     "report" if extra else "<= 1.5x"))
    return rows


def report_rows(tmp):
    """``report`` of 10 workers that changed 5,000 lines each (2,500 replaced: 2,500
    deletions and 2,500 insertions over 10 files), as a process, with the file's size."""
    repo = os.path.join(tmp, "report-repo")
    os.makedirs(repo)
    make_repo(repo, 200)
    names = sorted(subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True,
                                  check=True).stdout.split())[:10]
    lines = [f"value_{i} = compute(data[{i}], index={i % 17}, count=len(result))" for i in range(250)]
    for name in names:  # the base: 10 files of 250 lines
        with open(os.path.join(repo, name), "w") as f:
            f.write("\n".join(lines) + "\n")
    git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-am", "base", cwd=repo)
    base = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                          text=True, check=True).stdout.strip()
    results, now = [], time.time()
    for n in range(1, 11):
        git("checkout", "-q", "-b", f"{ap.BRANCH_PREFIX}{n}", base, cwd=repo)
        for name in names:  # every line replaced: 2,500 deletions and 2,500 insertions
            with open(os.path.join(repo, name), "w") as f:
                f.write("\n".join(f"{line}  # worker {n} changed this" for line in lines) + "\n")
        git("-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-am", f"worker {n}", cwd=repo)
        tip = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                             text=True, check=True).stdout.strip()
        results.append(ap.WorkerResult(
            worker_id=n, branch=f"{ap.BRANCH_PREFIX}{n}", model=f"model-{n}", status="success",
            steps=10, cost=0.01 * n, duration=30.0 + n, files_modified=names,
            worktree_path=os.path.join(repo, f"{ap.WORKTREE_PREFIX}{n}"), task="the same task",
            exit_code=0, base_commit=base, commit=tip, steps_known=True, cost_known=True,
            timeline=[{"state": s, "at": now + i * 10 + n} for i, s in enumerate(
                ("queued", "creating", "running", "checking", "success"))]))
        git("checkout", "-q", base, cwd=repo)
    numstat = subprocess.run(["git", "diff", "--numstat", f"{base}...{ap.BRANCH_PREFIX}1"], cwd=repo,
                             capture_output=True, text=True, check=True).stdout.split()
    assert sum(int(x) for x in numstat[0::3]) + sum(int(x) for x in numstat[1::3]) == 5000
    info = {"version": ap.__version__, "started": time.time(), "finished": time.time() + 60,
            "base_commit": base, "fingerprint": "bench", "workers_total": 10}
    ap._save_last_run(ap._Repo.find(repo), info, ap._rank(results))
    out = os.path.join(tmp, "report.html")
    walls = []
    for _ in range(max(RUNS, 5)):
        started = time.monotonic()
        subprocess.run([sys.executable, os.path.join(ROOT, "architect_parallel.py"), "report",
                        "--html", out], cwd=repo, check=True, stdout=subprocess.DEVNULL)
        walls.append(time.monotonic() - started)
    size = os.path.getsize(out)
    with open(out, encoding="utf-8") as f:
        cut = "per worker; see all of it" in f.read()
    return [("report: 10 workers x 5,000 changed lines", f"{median(walls):.2f}s",
             f"max {max(walls):.2f}s", "", "<= 1s"),
            ("  its size", f"{size / 1e6:.2f} MB", "cut" if cut else "nothing cut", "", "<= 5 MB")]


def race_rows(tmp):
    """A race of 10 scripted agents, all at once: worker 4 passes the check after 1 s, the
    others would work 30 s. Wall time and agent-seconds, without and with --stop-on-pass."""
    repo = os.path.join(tmp, "race-repo")
    os.makedirs(repo)
    make_repo(repo, 50)
    models = ["fake:sleep=30+write=other.txt"] * 10
    models[3] = "fake:sleep=1+write=fix.txt"
    rows = []
    for label, extra in (("without --stop-on-pass", []), ("with --stop-on-pass", ["--stop-on-pass"])):
        started = time.monotonic()
        proc = subprocess.run(
            [sys.executable, os.path.join(ROOT, "architect_parallel.py"), "run", "fix it",
             "--models", ",".join(models), "--workers", "10", "--check", "test -f fix.txt",
             "--json", "--progress", "none", "--force", *extra],
            cwd=repo, capture_output=True, text=True)
        wall = time.monotonic() - started
        results = json.loads(proc.stdout)
        agent_seconds = sum(r["duration"] for r in results)
        rows.append((f"race of 10, one passes at 1 s, {label}", f"{wall:.1f}s",
                     f"agent-seconds {agent_seconds:.0f}",
                     ", ".join(f"{sum(r['status'] == s for r in results)} {s}"
                               for s in ("success", "stopped", "skipped")
                               if any(r["status"] == s for r in results)), "report"))
        git("worktree", "prune", cwd=repo)
    return rows


def sandbox_rows(tmp):
    """What --sandbox bwrap costs: one command started in a worker's sandbox next to the same
    command started plainly, and a whole instant worker (setup, agent, commit, a check)."""
    try:
        sandbox = ap._Sandbox.resolve("bwrap", print)
    except ap.ParallelError as exc:
        return [("sandbox start-up", str(exc), "", "", "report")]
    repo = os.path.join(tmp, "sandbox-repo")
    os.makedirs(repo)
    make_repo(repo, 200)
    records = os.environ["FAKE_AGENT_RECORD"]
    os.chmod(records, 0o777)  # (as root, the sandbox's user writes there)
    worktree = os.path.join(repo, ap.WORKTREE_PREFIX + "1")
    git("worktree", "add", "-q", "-b", ap.BRANCH_PREFIX + "1", worktree, cwd=repo)
    found = ap._Repo.find(repo)
    command = ap._AgentCommand.parse("true")
    env = ap._clean_env()
    sandbox.start(found, command.adapter, env, command.exe, [], "bench")
    try:
        box = sandbox.box(found, worktree, ap.BRANCH_PREFIX + "1", command.adapter, command.exe,
                          env, [], None)

        def timed(cmd, fds=()):
            started = time.monotonic()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=worktree,
                           pass_fds=fds)
            return time.monotonic() - started

        rows = []
        for label, cmd in (("true", ["true"]), ("python3 -c pass", [sys.executable, "-c", "pass"])):
            plain, boxed = [], []
            for _ in range(21):  # interleaved: the machine's load changes
                plain.append(timed(cmd))
                boxed.append(timed(box.command(worktree) + cmd, box.fds))
            plain, boxed = median(plain), median(boxed)
            rows.append((f"start `{label}` in a worker's sandbox", f"{boxed * 1000:.1f} ms",
                         f"plainly {plain * 1000:.1f} ms", f"+{(boxed - plain) * 1000:.1f} ms",
                         "report"))
        box.discard()
    finally:
        sandbox.stop()
    walls = {}
    for mode in ("none", "bwrap"):
        runs = []
        for _ in range(max(RUNS, 3)):
            started = time.monotonic()
            subprocess.run([sys.executable, os.path.join(ROOT, "architect_parallel.py"), "run",
                            "fake:json=success", "--workers", "1", "--sandbox", mode,
                            "--setup", "true", "--check", "true", "--force", "--quiet"]
                           + (["--sandbox-allow", records] if mode == "bwrap" else []),
                           cwd=repo, check=True, stdout=subprocess.DEVNULL)
            runs.append(time.monotonic() - started)
        walls[mode] = median(runs)
    rows.append(("one instant worker (setup, agent, check), --sandbox bwrap",
                 f"{walls['bwrap']:.2f}s", f"--sandbox none {walls['none']:.2f}s",
                 f"+{(walls['bwrap'] - walls['none']) * 1000:.0f} ms", "report"))
    return rows


_MANY_FILES = """import os, subprocess, sys
count, deep = int(sys.argv[1]), sys.argv[2] != "short"
folder = "x"
if sys.argv[2] == "refs":  # (its private refs, thrown away with it)
    folder = subprocess.run(["git", "rev-parse", "--git-common-dir"], capture_output=True,
                            text=True).stdout.strip() + "/refs/tags"
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout
for i in range(14 if deep else 0):
    folder = os.path.join(folder, chr(97 + i) * 250)
os.makedirs(folder, exist_ok=True)
for i in range(count):  # (hard links: no disk; ext4 takes 65,000 to a file)
    name = os.path.join(folder, ("%07d" % i) + ("q" * 193 if deep else ""))
    if sys.argv[2] == "refs":
        open(name, "w").write(head)
        continue
    if i % 60000 == 0:
        source = os.path.join(folder, "s%d" % i)
        open(source, "w").write("a\\n")
    os.link(source, name)
"""


def memory_rows(tmp):
    """The runner's peak memory when an agent leaves many files: 200,000 of 9-character names,
    and 50,000 whose paths are 3.9 KB long (review round 68), polled from /proc."""
    agent = os.path.join(tmp, "many.py")
    with open(agent, "w") as f:
        f.write("#!/usr/bin/env python3\n" + _MANY_FILES)
    os.chmod(agent, 0o755)  # (run by its own line: the sandbox's account may not reach yours)
    rows = []
    boxed = shutil.which("bwrap") is not None
    for count, kind in ((200_000, "short"), (50_000, "long")) + (((50_000, "refs"),) if boxed else ()):
        repo = os.path.join(tmp, f"many-{kind}")
        os.makedirs(repo)
        make_repo(repo, 10)
        os.chmod(tmp, 0o755)  # (as root, the sandbox's account runs the agent's script)
        proc = subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "architect_parallel.py"), "run", "t", "--workers",
             "1", "--quiet", "--agent-cmd", f"{agent} {count} {kind} {{task}}"]
            + (["--sandbox", "bwrap"] if kind == "refs" else []),
            cwd=repo, stdout=subprocess.DEVNULL)
        peak = 0
        while proc.poll() is None:
            with contextlib.suppress(OSError):
                with open(f"/proc/{proc.pid}/status") as status:
                    for line in status:
                        if line.startswith("VmHWM:"):
                            peak = max(peak, int(line.split()[1]))
            time.sleep(0.1)
        label = {"short": "200,000 files of 9-character names",
                 "long": "50,000 files of 3.9 KB names",
                 "refs": "50,000 refs of 3.9 KB names in its sandbox"}[kind]
        rows.append((f"runner peak memory, an agent leaving {label}", f"{peak / 1024:.0f} MB",
                     "", f"exit {proc.returncode}", "report"))
        shutil.rmtree(repo, ignore_errors=True)
    return rows


def main():
    tmp = tempfile.mkdtemp(prefix="architect-parallel-bench-")
    records = os.path.join(tmp, "records")
    os.makedirs(records)
    os.environ["PATH"] = make_agent_bin(os.path.join(tmp, "bin")) + os.pathsep + os.environ["PATH"]
    os.environ["FAKE_AGENT_RECORD"] = records
    only = {"report": report_rows, "race": race_rows, "sandbox": sandbox_rows,
            "memory": memory_rows}.get(
        sys.argv[1] if sys.argv[1:] else "")
    if only:  # make bench-report, make bench-race: just that one
        try:
            rows = only(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return show(rows)
    rows = []
    try:
        # The small repository's measures first: the large one leaves the disk busy.
        small, large = os.path.join(tmp, "r2000"), os.path.join(tmp, "r20000")
        os.makedirs(small)
        make_repo(small, 2000)
        rows += worktree_rows(small, 2000, records)
        # Overhead per job: 100 tasks whose agent exits at once, 10 at a time. The
        # runner's own CPU time is what it spends outside agents and git.
        walls, own = [], []
        for _ in range(RUNS):
            cpu = time.process_time()
            wall, _f, _l = tool_run(small, records, 100, tasks=[f"task {i}" for i in range(100)], workers=10)
            own.append(time.process_time() - cpu)
            walls.append(wall)
            cleanup(small)
        wall, own = median(walls), median(own)
        rows.append(("100 instant jobs at --workers 10, 2000 files", f"{wall:.2f}s",
                     f"runner CPU {own:.2f}s", f"{100 / wall:.1f} jobs/s", "report"))
        rows.append(("  share of wall time in the runner itself", f"{100 * own / wall:.0f}%",
                     "", "", "report"))
        # Idle cost: the runner's CPU while 10 agents sleep, measured from the moment the
        # last agent has started, for 3 s (they sleep 8 s).
        idle = []
        for _ in range(RUNS):
            window = {}
            for name in os.listdir(records):  # the sampler counts this run's agents only
                os.remove(os.path.join(records, name))

            def sample():
                deadline = time.monotonic() + 60
                while len(os.listdir(records)) < 10 and time.monotonic() < deadline:
                    time.sleep(0.05)
                window["cpu"] = time.process_time()
                time.sleep(3)
                window["cpu"] = time.process_time() - window["cpu"]

            sampler = threading.Thread(target=sample)
            sampler.start()
            tool_run(small, records, 10, model_script="fake:sleep=8+json=success")
            sampler.join()
            idle.append(window["cpu"] / 3)
            cleanup(small)
        rows.append(("runner CPU while 10 agents sleep", f"{100 * median(idle):.2f}% of a core",
                     "", "", "<= 2%"))
        # Memory: 10 agents each writing 100 MB of output.
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tool_run(small, records, 10, model_script="fake:spew=100+json=success")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cleanup(small)
        rows.append(("peak RSS, agents writing 100 MB each", f"{rss / 1024:.0f} MB",
                     f"before the run {rss_before / 1024:.0f} MB", "", "<= 40 MB"))
        os.makedirs(large)
        make_repo(large, 20000)
        rows += worktree_rows(large, 20000, records)
        rows += startup_rows(tmp)
        rows += report_rows(tmp)
        rows += race_rows(tmp)
        rows += sandbox_rows(tmp)
        rows += memory_rows(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return show(rows)


def show(rows):
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    print(f"architect-parallel {ap.__version__} on {os.cpu_count()} cores, Python "
          f"{sys.version.split()[0]}, medians of {RUNS} runs\n")
    for row in [("measure", "tool", "baseline", "ratio", "target")] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
