"""The everyday flow as a new user meets it: verdicts that cannot mislead (issue 10)."""

import pytest

from conftest import git


def _head(repo):
    return git("rev-parse", "HEAD", cwd=repo)


def test_merge_best_refuses_when_no_worker_succeeded_and_passed_its_checks(repo, cli):
    code, _, err = cli("fake:write=broken.py+json=failed+exit=1", "--workers", "1", "--check", "false")
    assert code == 1
    assert "no best: no worker succeeded and passed its checks; nothing is merged as best" in err
    assert not any(line.lstrip().startswith("*") for line in err.splitlines())
    before = _head(repo)
    code, _, err = cli("merge", "best")
    assert code == 2 and err == (
        "error: no worker of the last run succeeded and passed its checks, so none is best "
        "(rank 1: worker 1, failed, checks 0/1); name a worker number instead\n")
    assert _head(repo) == before and not (repo / "broken.py").exists()
    assert cli("diff", "best")[0] == 2


def test_a_success_that_fails_a_check_is_not_best(repo, cli):
    code, _, err = cli("fake:write=a.txt", "--workers", "1", "--check", "true", "--check", "false")
    assert code == 0  # it succeeded; it is just not verified
    assert "no best: no worker succeeded and passed its checks" in err
    assert cli("merge", "best")[0] == 2


def test_merging_a_worker_that_did_not_succeed_needs_force_and_says_what_it_merges(repo, cli):
    cli("fake:write=a.txt+json=failed+exit=1", "--models", "fake:write=a.txt+json=failed+exit=1,fake:write=b.txt",
        "--workers", "2")
    before = _head(repo)
    code, _, err = cli("merge", "1")
    assert code == 2 and err == (
        "error: worker 1 did not succeed in the last run (failed): merging it brings that work "
        "into your branch; add --force to merge it anyway\n")
    assert _head(repo) == before
    code, _, err = cli("merge", "1", "--force")
    assert code == 0 and err.startswith("warning: merging worker 1 anyway (failed)\n")
    assert (repo / "a.txt").exists()
    # a worker that succeeded merges without --force
    assert cli("merge", "2")[0] == 0 and (repo / "b.txt").exists()


def test_different_tasks_name_no_best(repo, cli):
    code, results, err = cli.json("--task", "fake:write=a.txt", "--task", "fake:write=b.txt")
    assert code == 0 and all(r["status"] == "success" for r in results)
    code, _, err = cli("--task", "fake:write=a.txt", "--task", "fake:write=b.txt", "--force")
    assert ("different tasks: no worker is best; look at each with 'architect-parallel diff N', "
            "keep one with 'architect-parallel merge N'") in err
    assert "best: worker" not in err
    code, _, err = cli("merge", "best")
    assert code == 2 and "different tasks, so no worker is best" in err


def test_a_race_names_its_verified_winner(repo, cli):
    code, _, err = cli("fake:write=a.txt", "--models", "fake:write=a.txt+json=failed+exit=1,fake:write=a.txt",
                       "--workers", "2", "--check", "test -f a.txt")
    assert "best: worker 2 (architect/parallel-2)" in err
    assert [line.split()[0] for line in err.splitlines() if "architect/parallel-" in line
            and line.split()[0].lstrip("*").isdigit()] == ["2", "*1"]
    assert cli("merge", "best")[0] == 0 and (repo / "a.txt").exists()
