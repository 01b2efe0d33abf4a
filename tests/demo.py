#!/usr/bin/env python3
"""``make demo``: race three "models" on a throwaway repository, for real, without an LLM.

A scripted stand-in for the ``architect`` CLI (tests/fake_agent.py) is put first
on PATH; each model behaves differently so the table shows what a real race
shows. A check (does the worker add a test file?) ranks the workers; the best is
then diffed and merged. Everything happens in a temporary folder that is deleted
at the end (pass --keep to keep it and look around).
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

from fake_agent import make_agent_bin  # noqa: E402

TASK = "add input validation to src/app.py"
PLAN = {
    # model -> what the scripted agent does (see tests/fake_agent.py)
    "gpt-4o": "write=src/app.py+write=src/validate.py+sleep=1.2+steps=12+cost=0.0421+tokens=18250/1204",
    "claude-sonnet-4-6": "write=src/app.py+write=tests/test_app.py+sleep=2+steps=17+cost=0.0588+tokens=22310/1630",
    "deepseek-chat": "write=src/app.py+sleep=0.6+steps=50+cost=0.0041+tokens=30120/2210+json=partial",
}


def sh(*args, cwd, env=None):
    print("$ " + shlex.join(args), flush=True)
    return subprocess.run(list(args), cwd=cwd, env=env).returncode


def main():
    keep = "--keep" in sys.argv[1:]
    tmp = tempfile.mkdtemp(prefix="architect-parallel-demo-")
    repo = os.path.join(tmp, "repo")
    os.makedirs(os.path.join(repo, "src"))
    with open(os.path.join(repo, "src", "app.py"), "w") as f:
        f.write("def handler(request):\n    return request['name']\n")
    env = dict(os.environ)
    env["PATH"] = make_agent_bin(os.path.join(tmp, "bin")) + os.pathsep + env.get("PATH", "")
    env["FAKE_AGENT_PLAN"] = json.dumps(PLAN)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    for var in ("AUTHOR", "COMMITTER"):
        env.setdefault(f"GIT_{var}_NAME", "Demo")
        env.setdefault(f"GIT_{var}_EMAIL", "demo@example.com")
    tool = [sys.executable, os.path.join(ROOT, "architect_parallel.py")]
    print(f"Throwaway repository: {repo}\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "initial"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True)
    report = os.path.join(tempfile.gettempdir(), "architect-parallel-demo-report.html")
    code = sh(*tool, TASK, "--models", ",".join(PLAN), "--timeout-per-worker", "60",
              "--check", "test -f tests/test_app.py", "--html", report, cwd=repo, env=env)
    print()
    sh(*tool, "list", cwd=repo, env=env)
    sh(*tool, "diff", "best", "--stat", cwd=repo, env=env)
    sh(*tool, "merge", "best", cwd=repo, env=env)
    sh("git", "log", "--oneline", "--graph", cwd=repo, env=env)
    print()
    sh(*tool, "cleanup", cwd=repo, env=env)
    if keep:
        print(f"\nKept {tmp}")
    else:
        shutil.rmtree(tmp)
    print(f"\nThe run exited with {code} (0: at least one worker succeeded).")
    print(f"Its HTML report (every worker side by side) is kept: {report}")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
