"""Races that stop when won (--stop-on-pass) and runs with a spending cap (--budget-total),
with real scripted agents: who is stopped or skipped, what is left, what the footer says."""

import json
import os
import time

import pytest

from conftest import alive, git, procs, read_records


def statuses(results):
    return [r["status"] for r in results]


def test_a_race_stops_once_worker_2_passes_and_starts_no_more(cli, repo, records):
    models = ["fake:grandchild=60+sleep=60+cost=0.5",   # still working when 2 passes
              "fake:sleep=1+write=fix.txt+cost=0.2",     # passes first
              "fake:write=half.txt+sleep=60",            # its half-done work is kept
              "fake:write=never.txt"]                    # no free slot before the win
    started = time.monotonic()
    code, results, err = cli.json("run", "fix it", "--models", ",".join(models), "--workers", "3",
                                  "--stop-on-pass", "--check", "test -f fix.txt",
                                  "--junit", "junit.xml", "--progress", "none")
    assert time.monotonic() - started < 15  # not the 60 s the others would take
    assert code == 0, err
    assert statuses(results) == ["stopped", "success", "stopped", "skipped"]
    recorded = read_records(records)
    assert sorted(recorded) == [".architect-parallel-1", ".architect-parallel-2",
                                ".architect-parallel-3"]  # worker 4's agent never ran
    pids = [procs(r)[0] for r in recorded.values()] + procs(recorded[".architect-parallel-1"])[1:]
    assert not any(alive(pid) for pid in pids)  # whole process trees stopped
    one, two, three, four = results
    for stopped in (one, three):
        assert stopped["error"] == "worker 2 passed first (--stop-on-pass)"
        assert stopped["checks"] == [] and stopped["attempts"] == 1
        assert os.path.isdir(stopped["worktree_path"])  # kept for inspection
    assert git("show", "--name-only", "--format=", three["commit"], cwd=repo) == "half.txt"
    assert four["error"] == "not started: worker 2 passed first (--stop-on-pass)"
    assert four["exit_code"] is None and four["attempts"] == 0
    assert not os.path.exists(four["worktree_path"])
    assert [e["state"] for e in four["timeline"]] == ["queued", "skipped"]
    assert "--stop-on-pass: worker 2 passed after " in err
    assert "; 2 stopped (known spend $0.0000, unknown for 2), 1 never started: 3 of the race's " \
           "4 agents ran" in err
    assert "worker 1: stopped" not in err  # the footer says it once
    assert 'skipped="3"' in (repo / "junit.xml").read_text()  # stopped and skipped
    # list shows the new statuses; --require all is not met by stopped or skipped workers
    _code, listed, _err = cli("list", "--json")
    assert [w["status"] for w in json.loads(listed)] == ["stopped", "success", "stopped"]
    last = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    assert last["won"]["worker"] == 2 and 0.5 < last["won"]["after"] < 15


def test_two_slots_race_in_waves_until_one_passes(cli, repo):
    models = ["fake:json=failed+exit=1",             # fails at once: worker 3 takes its slot
              "fake:sleep=1.5+write=fix.txt",        # passes while 3 runs
              "fake:sleep=60", "fake:sleep=60"]
    code, results, err = cli.json("run", "fix it", "--models", ",".join(models), "--workers", "2",
                                  "--stop-on-pass", "--progress", "none")
    assert code == 0, err
    assert statuses(results) == ["failed", "success", "stopped", "skipped"]
    assert "2 of the race's 4 agents ran" not in err and "3 of the race's 4 agents ran" in err


def test_a_worker_that_fails_a_check_does_not_win(cli, repo):
    models = ["fake:write=wrong.txt", "fake:sleep=1+write=fix.txt"]
    code, results, err = cli.json("run", "fix it", "--models", ",".join(models), "--workers", "2",
                                  "--stop-on-pass", "--check", "test -f fix.txt", "--progress", "none")
    assert code == 0
    assert statuses(results) == ["success", "success"]
    assert [r["checks_passed"] for r in results] == [0, 1]
    assert "passed after" in err and "0 stopped" in err


def test_stop_on_pass_with_different_tasks_is_refused(cli, repo):
    code, out, err = cli("run", "--task", "a b", "--task", "c d", "--stop-on-pass")
    assert code == 2 and out == ""
    assert err.startswith("error: --stop-on-pass is for a race (every worker on one task), but "
                          "these workers have 2 different tasks")
    assert len(err.strip().splitlines()) == 1
    assert not (repo / ".architect-parallel-1").exists()


def test_config_file_keys(cli, repo):
    (repo / "p.yaml").write_text("parallel_runs:\n  stop_on_pass: true\n  budget_total: 0.5\n"
                                 "  workers: 1\n")
    code, results, err = cli.json("run", "fix it", "--models", "fake:cost=0.6,fake:cost=0.1",
                                  "-c", "p.yaml", "--progress", "none")
    assert code == 0, err
    # worker 1 passed (no checks: success is a pass); worker 2 was skipped by the win
    assert statuses(results) == ["success", "skipped"]
    (repo / "p.yaml").write_text("parallel_runs:\n  stop_on_pass: yes please\n")
    code, _out, err = cli("run", "fix it", "-c", "p.yaml")
    assert code == 2 and "stop_on_pass must be true or false" in err
    code, _out, err = cli("run", "fix it", "--budget-total", "0")
    assert code == 2 and "--budget-total must be a number of USD greater than 0" in err


def test_no_new_worker_starts_once_the_known_spend_reaches_the_cap(cli, repo, records):
    # Two slots: worker 1 spends $1.00 at once, past the $0.90 cap, while worker 2 runs on.
    models = ["fake:cost=1.0", "fake:sleep=1+cost=0.1", "fake:cost=0.1", "fake:cost=0.1"]
    code, results, err = cli.json("run", "fix it", "--models", ",".join(models), "--workers", "2",
                                  "--budget-total", "0.9", "--progress", "plain")
    assert code == 0, err
    assert statuses(results) == ["success", "success", "skipped", "skipped"]
    assert results[2]["error"] == ("not started: the run's known spend $1.0000 reached "
                                   "--budget-total $0.9000")
    argv = {name: r["argv"] for name, r in read_records(records).items()}
    assert sorted(argv) == [".architect-parallel-1", ".architect-parallel-2"]
    for name in argv:  # both started with nothing spent: each may spend the whole cap
        assert argv[name][argv[name].index("--budget") + 1] == "0.9"
    assert "--budget-total: known spend $1.1000 of $0.9000; 2 worker(s) not started once it " \
           "was reached" in err
    assert ", spent $1.0000 of $0.9000" in err  # the live lines show the spend


def test_each_agent_gets_no_more_budget_than_is_left(cli, repo, records):
    models = ["fake:cost=0.3", "fake:cost=0.3", "fake:cost=0.3", "fake:cost=0.3"]
    code, results, err = cli.json("run", "fix it", "--models", ",".join(models), "--workers", "1",
                                  "--budget-total", "1", "--budget-per-worker", "0.5",
                                  "--progress", "none")
    assert code == 0, err
    budgets = {name: r["argv"][r["argv"].index("--budget") + 1]
               for name, r in read_records(records).items()}
    assert budgets == {".architect-parallel-1": "0.5", ".architect-parallel-2": "0.5",
                       ".architect-parallel-3": "0.4", ".architect-parallel-4": "0.1"}
    assert statuses(results) == ["success"] * 4


def test_rerun_failed_runs_the_stopped_and_skipped_workers(cli, repo, records, monkeypatch):
    monkeypatch.setenv("FAKE_AGENT_PLAN", json.dumps(
        {"a": "sleep=60", "b": "sleep=0.5+write=x.txt", "c": "sleep=60"}))
    code, results, _err = cli.json("run", "fix it", "--models", "a,b,c", "--workers", "2",
                                   "--stop-on-pass", "--progress", "none")
    assert statuses(results) == ["stopped", "success", "skipped"]
    monkeypatch.setenv("FAKE_AGENT_PLAN", json.dumps(
        {"a": "write=y.txt", "b": "write=x.txt", "c": "sleep=60"}))
    for name in os.listdir(records):
        os.remove(records / name)
    code, results, err = cli.json("rerun", "--failed", "--force", "--progress", "none")
    assert code == 0, err
    # 1 and 3 ran again, in a race of their own: 1 passed, 3 (queued behind it... or not) stopped
    assert sorted(read_records(records)) in ([".architect-parallel-1", ".architect-parallel-3"],
                                             [".architect-parallel-1"])
    assert statuses(results)[:2] == ["success", "success"]
    assert statuses(results)[2] in ("stopped", "skipped")


def test_workers_stopped_in_their_setup_never_ran_an_agent(cli, repo):
    code, results, err = cli.json(
        "run", "fix it", "--models", "fake:write=a.txt,fake:write=b.txt,fake:write=c.txt",
        "--workers", "3", "--stop-on-pass", "--progress", "none",
        "--setup", 'test "$ARCHITECT_PARALLEL_WORKER" = 1 || sleep 30')
    assert code == 0, err
    assert statuses(results) == ["success", "stopped", "stopped"]
    assert [r["exit_code"] for r in results[1:]] == [None, None]
    assert "2 stopped (known spend $0.0000, unknown for 2), 0 never started: 1 of the race's 3 " \
           "agents ran" in err


def test_a_worker_costs_what_all_its_attempts_cost(cli, repo):
    code, results, err = cli.json("run", "fix it", "--models", "fake:cost=0.3+json=failed+exit=1",
                                  "--workers", "1", "--retries", "2", "--budget-total", "5",
                                  "--progress", "none")
    assert code == 1
    (r,) = results
    assert r["attempts"] == 3 and r["cost"] == pytest.approx(0.9)
    assert "total cost $0.9000" in err and "known spend $0.9000 of $5.0000" in err


def test_skipped_workers_leave_no_worktree_of_an_earlier_run_behind(cli, repo):
    assert cli("run", "fake:write=old.txt", "--workers", "4", "--progress", "none")[0] == 0
    code, results, err = cli.json("run", "fix it", "--models",
                                  "fake:sleep=0.5+write=a.txt,fake:sleep=30,fake:sleep=30,fake:sleep=30",
                                  "--workers", "2", "--stop-on-pass", "--force", "--progress", "none")
    assert code == 0, err
    assert statuses(results) == ["success", "stopped", "skipped", "skipped"]
    for n in (3, 4):  # --force said it would discard them: they are gone, not shown as skipped
        assert not (repo / f".architect-parallel-{n}").exists()
        assert git("branch", "--list", f"architect/parallel-{n}", cwd=repo) == ""
    _code, listed, _err = cli("list", "--json")
    assert [w["worker_id"] for w in json.loads(listed)] == [1, 2]


def test_budgets_handed_to_agents_are_plain_decimals(cli, repo, records):
    code, _results, _err = cli.json("run", "fix it", "--models", "fake:cost=0", "--workers", "1",
                                    "--budget-total", "0.00005", "--progress", "none")
    assert code == 0
    argv = read_records(records)[".architect-parallel-1"]["argv"]
    assert argv[argv.index("--budget") + 1] == "0.00005"


def test_collect_adds_up_the_spend_of_every_machine(cli, repo):
    for part in ("1", "2"):
        cli("run", "fix it", "--models", "fake:cost=0.1,fake:cost=0.3", "--only-workers", part,
            "--budget-total", "5", "--results", f"r{part}.json", "--force", "--progress", "none")
    code, _out, err = cli("collect", "r1.json", "r2.json", "--task=fix it", "--models",
                          "fake:cost=0.1,fake:cost=0.3", "--budget-total", "5")
    assert code == 0, err
    assert "known spend $0.4000 of $5.0000" in err
