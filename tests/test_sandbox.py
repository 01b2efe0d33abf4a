"""--sandbox bwrap with real bubblewrap: what a worker may write, and what it may not.

These need ``bwrap`` (Debian: bubblewrap; ``.ci/run`` installs it) and a kernel that lets it
make namespaces; without them they are skipped, saying why. The refusal without bwrap on
PATH is tested everywhere.
"""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import architect_parallel as ap
from conftest import alive, git, read_records

BWRAP = shutil.which("bwrap")
PROBLEM = ap._Sandbox(BWRAP).probe() if BWRAP else "bwrap is not installed"
needs_bwrap = pytest.mark.skipif(PROBLEM is not None, reason=f"no sandbox here: {PROBLEM}")

ESCAPES = """#!/bin/sh
# A worker that does its work, then tries to write everywhere else.
echo own > own.txt
for target in "$MAIN/README.md" "$MAIN/.architect-parallel-$OTHER/stray.txt" "$HOME/stray.txt" \\
              "$OUTSIDE/stray.txt" "$MAIN/.git/hooks/post-commit" "$MAIN/.git/config" \\
              "$(git rev-parse --absolute-git-dir)/commondir" \\
              "$ALLOWED/allowed.txt"; do
  if echo stray >> "$target" 2>/dev/null; then echo "wrote $target"; else echo "refused $target"; fi
done
echo private > "$TMPDIR/private.txt" && echo "wrote tmpdir $TMPDIR"
git config core.fsmonitor "touch $OUTSIDE/ran" 2>/dev/null || echo "refused git config"
"""


def escaping_agent(tmp_path, monkeypatch, repo):
    script = tmp_path / "escape.sh"
    script.write_text(ESCAPES)
    script.chmod(0o755)
    outside = tmp_path / "outside"
    allowed = tmp_path / "allowed"
    home = tmp_path / "home"
    for folder in (outside, allowed, home):
        folder.mkdir()
    monkeypatch.setenv("MAIN", str(repo))
    monkeypatch.setenv("OUTSIDE", str(outside))
    monkeypatch.setenv("ALLOWED", str(allowed))
    monkeypatch.setenv("HOME", str(home))
    return f"sh -c 'OTHER=$((3 - $ARCHITECT_PARALLEL_WORKER)) exec {script}' sh {{task}}", \
        outside, allowed, home


@needs_bwrap
def test_a_sandboxed_worker_writes_its_worktree_and_nothing_else(cli, repo, tmp_path,
                                                                 monkeypatch):
    agent, outside, allowed, home = escaping_agent(tmp_path, monkeypatch, repo)
    before = (repo / ".git" / "config").read_bytes()
    code, results, err = cli.json("run", "do it", "--agent-cmd", agent, "--workers", "2",
                                  "--sandbox", "bwrap", "--sandbox-allow", str(allowed),
                                  "--progress", "none")
    assert code == 0, err
    for r in results:
        said = open(r["log_path"]).read()
        assert said.count("refused ") == 7 + 1, said  # every target but the allowed one, git config
        assert f"wrote {allowed}/allowed.txt" in said and "wrote tmpdir" in said
        assert r["sandbox"] == "bwrap" and r["status"] == "success"
        assert git("show", "--name-only", "--format=", r["commit"], cwd=repo) == "own.txt"
        tmpdir = said.split("wrote tmpdir ")[1].split()[0]
        assert not os.path.exists(tmpdir)  # the private TMPDIR is taken back
        assert not tmpdir.startswith(str(repo))
    assert (repo / "README.md").read_text() == "# demo\n"
    assert not (repo / ".architect-parallel-1" / "stray.txt").exists()
    assert os.listdir(outside) == [] and os.listdir(home) == []
    assert (repo / ".git" / "config").read_bytes() == before
    assert not (repo / ".git" / "hooks" / "post-commit").exists()
    assert (allowed / "allowed.txt").read_text() == "stray\nstray\n"
    assert "wrote outside its worktree" not in err  # nothing got out to be detected


@needs_bwrap
def test_a_hung_sandboxed_agent_is_killed_at_its_timeout_with_nothing_left(cli, repo, records):
    started = time.monotonic()
    code, results, _err = cli.json("run", "fake:grandchild=60+daemon=60+sleep=60", "--workers", "1",
                                   "--sandbox", "bwrap", "--timeout-per-worker", "1",
                                   "--sandbox-allow", str(records), "--progress", "none")
    assert time.monotonic() - started < 15
    assert results[0]["status"] == "timeout" and results[0]["sandbox"] == "bwrap"
    assert _sandboxed_processes(repo) == []


@needs_bwrap
def test_setup_and_checks_run_in_the_sandbox_too(cli, repo, tmp_path, records):
    outside = tmp_path / "outside"
    outside.mkdir()
    code, results, err = cli.json(
        "run", "fake:write=a.txt", "--workers", "1", "--sandbox", "bwrap",
        "--sandbox-allow", str(records), "--setup", f"touch {outside}/from-setup || true",
        "--check", f"touch {outside}/from-check", "--check", "test -f a.txt",
        "--progress", "none")
    assert code == 0, err
    assert [c["passed"] for c in results[0]["checks"]] == [False, True]
    assert os.listdir(outside) == []


def test_sandbox_bwrap_without_bwrap_is_refused_before_anything_is_created(cli, repo,
                                                                           monkeypatch, tmp_path):
    bin_only = tmp_path / "no-bwrap"
    bin_only.mkdir()
    for tool in ("git", "sh", "python3"):
        os.symlink(shutil.which(tool), bin_only / tool)
    monkeypatch.setenv("PATH", f"{os.environ['PATH'].split(os.pathsep)[0]}{os.pathsep}{bin_only}")
    code, out, err = cli("run", "fix it", "--sandbox", "bwrap")
    assert code == 2 and out == ""
    assert err == ("error: --sandbox bwrap: bubblewrap (bwrap) is not on PATH; install it: "
                   "apt-get install bubblewrap (Debian, Ubuntu), dnf install bubblewrap (Fedora), "
                   "pacman -S bubblewrap (Arch)\n")
    assert not (repo / ".architect-parallel-1").exists()
    assert git("branch", "--list", "architect/*", cwd=repo) == ""
    # auto says so once and runs without one
    code, results, err = cli.json("run", "fake:write=a.txt", "--workers", "2", "--sandbox", "auto",
                                  "--progress", "none")
    assert code == 0
    assert err.count("warning: --sandbox auto: bubblewrap (bwrap) is not on PATH") == 1
    assert [r["sandbox"] for r in results] == [None, None]


def test_sandbox_options_are_checked(cli, repo, tmp_path):
    code, _out, err = cli("run", "fix it", "--sandbox", "docker")
    assert code == 2 and "--sandbox: invalid choice: 'docker'" in err
    code, _out, err = cli("run", "fix it", "--sandbox", "auto", "--sandbox-allow",
                          str(tmp_path / "nowhere"))
    assert code == 2 and err == f"error: --sandbox-allow {tmp_path / 'nowhere'}: no such file or folder\n"
    (repo.parent / "c.yaml").write_text("parallel_runs:\n  sandbox: yes\n")
    code, _out, err = cli("plan", "t", "-c", repo.parent / "c.yaml")
    assert code == 2 and "sandbox must be none or bwrap or auto, got True" in err


@needs_bwrap
def test_list_and_results_say_a_worker_ran_sandboxed(cli, repo, records):
    cli("run", "fake:write=a.txt", "--workers", "1", "--sandbox", "bwrap", "--sandbox-allow",
        str(records), "--progress", "none")
    _code, listed, _err = cli("list", "--json")
    assert json.loads(listed)[0]["sandbox"] == "bwrap"
    code, out, _err = cli("list")
    assert "bwrap" in out


def _sandboxed_processes(repo):
    """Processes that run in a worker of ``repo`` (their environment names its worktree)."""
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit() and alive(int(pid)):
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    if b"ARCHITECT_PARALLEL_WORKTREE=" + str(repo).encode() in f.read():
                        found.append(int(pid))
            except OSError:
                pass
    return found


@needs_bwrap
def test_a_runner_killed_with_sigkill_takes_its_sandboxes_down(repo, records):
    proc = subprocess.Popen(
        [sys.executable, "-m", "architect_parallel", "run", "fake:grandchild=60+daemon=60+sleep=60",
         "--workers", "2", "--sandbox", "bwrap", "--sandbox-allow", str(records),
         "--progress", "none"],
        cwd=repo, env=dict(os.environ, PYTHONPATH=ap.__file__.rsplit(os.sep, 1)[0]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(read_records(records)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # their grandchildren and daemons start
    assert len(_sandboxed_processes(repo)) >= 6  # two agents, each with two children
    proc.kill()  # no chance to clean up: the kernel must do it
    proc.wait()
    deadline = time.monotonic() + 10
    while _sandboxed_processes(repo) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _sandboxed_processes(repo) == []


@needs_bwrap
def test_symbolic_links_left_in_the_git_folder_are_removed_and_fail_the_worker(cli, repo, tmp_path):
    target = tmp_path / "target"
    target.mkdir()
    script = tmp_path / "links.sh"
    script.write_text(f"""#!/bin/sh
echo own > own.txt
common=$(git rev-parse --git-common-dir)
ln -s {target} "$common/objects/zz"
ln -s {target} "$common/refs/heads/architect/parallel-9"
git symbolic-ref refs/heads/architect/parallel-8 refs/heads/main
ln -sf {target}/log "$(git rev-parse --absolute-git-dir)/logs/HEAD"
""")
    script.chmod(0o755)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{script} {{task}}", "--workers", "1",
                                  "--sandbox", "bwrap", "--progress", "none")
    assert code == 1
    assert results[0]["status"] == "failed"
    assert results[0]["error"].startswith("the agent left symbolic links or refs in the git folder, removed: ")
    assert not os.path.lexists(repo / ".git" / "objects" / "zz")
    assert not os.path.lexists(repo / ".git" / "refs" / "heads" / "architect" / "parallel-9")
    assert not os.path.lexists(repo / ".git" / "refs" / "heads" / "architect" / "parallel-8")
    assert os.listdir(target) == []
    git("commit", "-q", "--allow-empty", "-m", "mine", cwd=repo / ".architect-parallel-1")
    assert os.listdir(target) == []  # the worktree's HEAD reflog is no link any more


@needs_bwrap
def test_the_repositorys_objects_cannot_be_rewritten_and_new_ones_are_hashed_again(cli, repo, tmp_path):
    script = tmp_path / "objects.sh"
    script.write_text("""#!/bin/sh
echo own > own.txt
blob=$(git rev-parse HEAD:README.md)
dir=$(echo $blob | cut -c1-2); file=$(echo $blob | cut -c3-)
common=$(git rev-parse --git-common-dir)
if echo tampered > "$common/objects/$dir/$file" 2>/dev/null; then echo "wrote common object"; \\
else echo "refused common object"; fi
mkdir -p "$GIT_OBJECT_DIRECTORY/$dir" && echo tampered > "$GIT_OBJECT_DIRECTORY/$dir/$file"
""")
    script.chmod(0o755)
    blob = git("rev-parse", "HEAD:README.md", cwd=repo)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{script} {{task}}", "--workers", "1",
                                  "--sandbox", "bwrap", "--progress", "none")
    assert "refused common object" in open(results[0]["log_path"]).read()
    assert git("cat-file", "-p", blob, cwd=repo) == "# demo"
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, check=True, capture_output=True)
    if results[0]["status"] == "success":  # its own work came in, hashed again
        assert git("show", "--name-only", "--format=", results[0]["commit"], cwd=repo) == "own.txt"


@needs_bwrap
def test_continue_runs_in_the_sandbox_too(cli, repo, records):
    code, results, err = cli.json("run", "fake:write=a.txt", "--workers", "1", "--sandbox", "bwrap",
                                  "--sandbox-allow", str(records), "--progress", "none")
    assert code == 0, err
    code, results, err = cli.json("continue", "1", "fake:write=b.txt", "--progress", "none")
    assert code == 0, err
    (r,) = results
    assert r["sandbox"] == "bwrap" and r["files_modified"] == ["a.txt", "b.txt"]
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["commit"]
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, check=True, capture_output=True)


@needs_bwrap
def test_a_branch_set_to_something_that_is_no_commit_is_not_taken(cli, repo, tmp_path):
    script = tmp_path / "blob.sh"
    script.write_text("#!/bin/sh\ngit update-ref refs/heads/architect/parallel-1 "
                      "$(git rev-parse HEAD:README.md)\n")
    script.chmod(0o755)
    code, results, _err = cli.json("run", "do it", "--agent-cmd", f"{script} {{task}}",
                                   "--workers", "1", "--sandbox", "bwrap", "--progress", "none")
    assert code == 1 and results[0]["status"] == "failed"
    assert git("cat-file", "-t", "architect/parallel-1", cwd=repo) == "commit"


@needs_bwrap
def test_objects_come_in_only_from_what_the_worker_made(cli, repo, tmp_path):
    victim = tmp_path / "victim"
    victim.mkdir()
    git("init", "-q", cwd=victim)
    secret = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=victim, input="SECRET\n",
                            capture_output=True, text=True, check=True).stdout.strip()
    os.chmod(victim, 0o700)
    script = tmp_path / "steal.sh"
    script.write_text(f"""#!/bin/sh
echo own > own.txt
mkdir -p "$GIT_OBJECT_DIRECTORY/info"
echo {victim}/.git/objects > "$GIT_OBJECT_DIRECTORY/info/alternates"
""")
    script.chmod(0o755)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{script} {{task}}", "--workers", "1",
                                  "--sandbox", "bwrap", "--progress", "none")
    assert code == 0, err
    assert subprocess.run(["git", "cat-file", "-e", secret], cwd=repo).returncode != 0
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, check=True, capture_output=True)


@needs_bwrap
def test_a_branch_set_to_a_commit_with_missing_parts_is_not_taken(cli, repo, tmp_path):
    script = tmp_path / "broken.sh"
    script.write_text("""#!/bin/sh
broken=$(printf 'tree 1111111111111111111111111111111111111111\\nparent 2222222222222222222222222222222222222222\\nauthor a <a> 0 +0000\\ncommitter a <a> 0 +0000\\n\\nx\\n' | git hash-object --literally -t commit -w --stdin)
git update-ref refs/heads/architect/parallel-1 $broken
""")
    script.chmod(0o755)
    code, results, _err = cli.json("run", "do it", "--agent-cmd", f"{script} {{task}}",
                                   "--workers", "1", "--sandbox", "bwrap", "--progress", "none")
    assert code == 1 and results[0]["status"] == "failed"
    assert results[0]["error"].startswith("cannot bring its objects in: ")  # index-pack --strict
    subprocess.run(["git", "fsck", "--no-dangling"], cwd=repo, check=True, capture_output=True)
