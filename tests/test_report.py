"""The HTML report (``report``, ``--html``) of real runs: structure, escaping, bounds.

Each test runs the scripted agent for real in a temporary repository and parses the
report with ``html.parser``; ``make e2e`` renders it in a real Chromium.
"""

import base64
import hashlib
import json
import os
from html.parser import HTMLParser

import pytest

import architect_parallel as ap
from conftest import git

# What an agent or a user could slip in: it must show as text and never run.
TASK_XSS = "<script>alert(1)</script>"
FILE_XSS = '"><img src=x onerror=alert(1)>.txt'
DIFF_XSS = "</pre><script>alert(2)</script>"


class Page(HTMLParser):
    """A parsed report: its elements (tag, attributes, text inside) in document order."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.elements, self.stack, self.text = [], [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, "attrs": dict(attrs), "text": []}
        self.elements.append(element)
        if tag not in ("meta", "br", "line", "rect", "input", "img", "link"):
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.elements.append({"tag": tag, "attrs": dict(attrs), "text": []})

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for element in self.stack:
            element["text"].append(data)

    def all(self, tag, **attrs):
        return [e for e in self.elements if e["tag"] == tag
                and all(e["attrs"].get(k.rstrip("_")) == v for k, v in attrs.items())]

    def by_id(self, ident):
        found = [e for e in self.elements if e["attrs"].get("id") == ident]
        assert len(found) <= 1, f"id {ident} is not unique"
        return found[0] if found else None

    def body_text(self):
        return "".join(self.text)


def text_of(element):
    return "".join(element["text"])


def race(cli, repo, *extra, html="report.html"):
    """A race on one hostile task: worker 1 passes both checks, worker 2 fails one,
    worker 3 fails at the model API. Returns the exit code and the parsed report."""
    models = [f"fake:write=src/app.py+write={FILE_XSS}+write=logo.bin+cost=0.01+tokens=1200/300",
              "fake:write=src/app.py+sleep=0.5+cost=0.02",
              "fake:apierror=quota_exceeded+stderr=boom_on_stderr+exit=1"]
    code, _out, err = cli("run", f"{TASK_XSS}\n{DIFF_XSS}", "--models", ",".join(models),
                          "--check", f"test -f '{FILE_XSS}'", "--check", "echo checked-it; ls src",
                          "--html", html, "--progress", "none", *extra)
    return code, Page((repo / html).read_text(encoding="utf-8")), err


def test_race_report_has_every_part_and_escapes_everything(cli, repo):
    # logo.bin is marked binary: an attribute (which an agent can set) hides no content
    (repo / ".gitattributes").write_text("*.bin binary\n")
    git("add", "-A", cwd=repo)
    git("commit", "-q", "-m", "attributes", cwd=repo)
    code, page, _err = race(cli, repo)
    assert code == 0

    # No script but the report's own; no element from the agents' text.
    scripts = page.all("script")
    assert len(scripts) == 1 and text_of(scripts[0]) == ap._REPORT_JS
    assert not page.all("img")
    assert not [e for e in page.elements for name in e["attrs"] if name.startswith("on")]
    text = page.body_text()
    assert TASK_XSS in text and DIFF_XSS in text and FILE_XSS in text

    # The policy comes first and allows exactly the report's own style and script.
    first = page.elements[:4]
    meta = next(e for e in first if e["attrs"].get("http-equiv") == "Content-Security-Policy")
    policy = meta["attrs"]["content"]
    for source in (ap._REPORT_CSS, ap._REPORT_JS):
        digest = base64.b64encode(hashlib.sha256(source.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in policy
    assert "default-src 'none'" in policy and "unsafe" not in policy
    assert text_of(page.all("style")[0]) == ap._REPORT_CSS

    # Header: base commit, counts, cost.
    head = " ".join(text_of(e) for e in page.all("table", class_="meta")[:1])
    assert git("rev-parse", "HEAD", cwd=repo)[:12] in head
    last = json.loads((repo / ".git" / "architect-parallel" / "last-run.json").read_text())
    total = sum(r["cost"] for r in last["results"])
    assert "2 of 3" in head and f"${total:.4f}" in head and "worker 1" in head

    # Ranking in the terminal's order, the winner marked.
    ranking = [e for e in page.all("tr") if e["attrs"].get("class") == "best"]
    assert len(ranking) == 1 and "★ 1" in text_of(ranking[0])

    # Every worker: a section, a timeline lane, bars; its verdict and reason.
    for n, verdict in ((1, "success, checks 2/2"), (2, "success, checks 1/2"),
                       (3, "failed, checks skipped")):
        section = page.by_id(f"w{n}")
        assert section is not None and verdict in text_of(section)
    assert "quota exceeded" in text_of(page.by_id("w3"))
    assert "boom on stderr" in text_of(page.by_id("w3"))  # the end of its stderr
    svgs = page.all("svg")
    assert len(svgs) == 3  # timeline, cost, time
    lanes = [e for e in page.elements if e["tag"] == "title" and text_of(e).startswith("worker ")]
    assert {text_of(e).split(":")[0] for e in lanes} == {"worker 1", "worker 2", "worker 3"}
    assert any(text_of(e) == "worker 3: failed" for e in lanes)
    assert any(text_of(e).startswith("worker 1: checking") for e in lanes)

    # Checks: pass/fail and the end of each one's output.
    w1, w2 = text_of(page.by_id("w1")), text_of(page.by_id("w2"))
    assert "✔ passed" in w1 and "checked-it" in w1 and "app.py" in w1
    assert "✘ failed (exit code 1)" in w2

    # Files x workers grid and diffs: counts, binary named, the shared file comparable.
    assert [b["attrs"]["data-workers"] for b in page.all("button", class_="cmp")] == ["1 2"]
    diffs = page.all("pre", class_="diff")
    assert len(diffs) == 4  # src/app.py twice, the hostile file and logo.bin once
    assert all(d["attrs"]["id"].startswith(("d1-", "d2-")) for d in diffs)
    assert "+" + DIFF_XSS in "".join(text_of(d) for d in diffs)
    assert "logo.bin" in w1 and "binary file, not shown" not in w1
    # Every link points at something in the page.
    ids = {e["attrs"]["id"] for e in page.elements if "id" in e["attrs"]}
    for link in page.all("a"):
        assert link["attrs"]["href"].startswith("#") and link["attrs"]["href"][1:] in ids


def test_timeline_is_recorded_in_the_results_and_drawn_by_collect(cli, repo, tmp_path):
    code, _out, _err = cli("run", "t", "--models", "fake:write=a.txt,fake:json=failed+exit=1",
                           "--setup", "true", "--check", "true", "--results", "r.json",
                           "--progress", "none")
    assert code == 0
    document = json.loads((repo / "r.json").read_text())
    states = {r["worker_id"]: [e["state"] for e in r["timeline"]] for r in document["results"]}
    assert states[1] == ["queued", "creating", "setup", "running", "checking", "success"]
    assert states[2] == ["queued", "creating", "setup", "running", "failed"]
    for r in document["results"]:
        times = [e["at"] for e in r["timeline"]]
        assert times == sorted(times)
        assert document["started"] <= times[0] and times[-1] <= document["finished"]
    # collect reads it back and draws it, in a clone that fetched the branch
    outside = tmp_path / "elsewhere"
    git("clone", "-q", str(repo), str(outside), cwd=tmp_path)
    git("fetch", "-q", "origin", "architect/parallel-1:architect/parallel-1", cwd=outside)
    os.chdir(outside)
    code, _out, err = cli("collect", str(repo / "r.json"), "--html", "c.html", "--task=t",
                          "--models", "fake:write=a.txt,fake:json=failed+exit=1", "--setup", "true",
                          "--check", "true")
    assert code == 0, err
    page = Page((outside / "c.html").read_text())
    assert any(text_of(e).startswith("worker 2: running") for e in page.all("title"))
    assert "a.txt" in text_of(page.by_id("w1")) and "@@ -0,0 +1 @@" in text_of(page.by_id("w1"))


def test_report_command_writes_the_default_file_and_prints_its_path(cli, repo):
    code, _out, _err = cli("run", "t", "--models", "fake:write=a.txt", "--progress", "none")
    assert code == 0
    code, out, err = cli("report")
    path = repo / ".git" / "architect-parallel" / "report.html"
    assert code == 0 and out.strip() == str(path) and err == ""
    page = Page(path.read_text())
    assert page.by_id("w1") is not None and page.by_id("d1-0") is not None
    code, out, _err = cli("report", "--html", "mine.html")
    assert code == 0 and out.strip() == str(repo / "mine.html")


def test_report_errors_are_one_line_with_exit_2(cli, repo):
    code, out, err = cli("report")
    assert code == 2 and out == ""
    assert err.strip() == "error: there is no last run here to report on: run first (or collect " \
                          "results files here)"
    code, _out, err = cli("run", "t", "--html", "no/such/r.html", "--progress", "none")
    assert code == 2 and "--html no/such/r.html" in err
    assert not (repo / ".architect-parallel-1").exists()  # refused before anything ran
    cli("run", "t", "--models", "fake:write=a.txt", "--progress", "none")
    code, _out, err = cli("report", "--html", "no/such/folder/r.html")
    assert code == 2 and len(err.strip().splitlines()) == 1 and "does not exist" in err


def test_diffs_over_the_budget_are_cut_with_a_note(cli, repo, monkeypatch):
    monkeypatch.setattr(ap, "_REPORT_DIFF_LINES", 5)
    task = "\n".join(f"line {i}" for i in range(40))
    code, _out, _err = cli("run", task, "--models", "fake:write=one.txt+write=two.txt",
                           "--html", "r.html", "--progress", "none")
    assert code == 0
    page = Page((repo / "r.html").read_text())
    section = text_of(page.by_id("w1"))
    assert "up to 5 diff lines" in section and "per worker" in section and "diff 1" in section
    assert "one.txt" in section and "two.txt" in section  # both named, with counts
    shown = [line for d in page.all("pre", class_="diff") for line in d["text"]]
    assert "line 2" in "".join(shown) and "line 39" not in "".join(shown)
    assert "… cut here" in "".join(shown)


def test_uncommitted_work_is_shown_from_the_worktree(cli, repo):
    code, _out, _err = cli("run", "new words", "--models", "fake:write=src/app.py+write=fresh.txt",
                           "--no-commit", "--html", "r.html", "--progress", "none")
    assert code == 0
    section = Page((repo / "r.html").read_text()).by_id("w1")
    text = text_of(section)
    assert "Uncommitted changes in its worktree" in text
    assert "fresh.txt" in text and "+new words" in text and "-print('hello')" in text


def test_results_of_an_older_version_without_timeline_still_report(cli, repo):
    cli("run", "t", "--models", "fake:write=a.txt", "--progress", "none")
    last = repo / ".git" / "architect-parallel" / "last-run.json"
    data = json.loads(last.read_text())
    for r in data["results"]:
        del r["timeline"]
    last.write_text(json.dumps(data))
    code, out, _err = cli("report")
    assert code == 0
    page = Page(open(out.strip()).read())
    assert "No timeline was recorded" in page.body_text()


def test_a_bad_timeline_in_a_results_file_is_refused(cli, repo):
    cli("run", "t", "--models", "fake:write=a.txt", "--results", "r.json", "--progress", "none")
    data = json.loads((repo / "r.json").read_text())
    data["results"][0]["timeline"] = [{"state": "running", "at": "soon"}]
    (repo / "r.json").write_text(json.dumps(data))
    code, _out, err = cli("collect", "r.json", "--task=t", "--models", "fake:write=a.txt")
    assert "result 1: " in err and "bad timeline" in err and "left out" in err
    assert "no results for worker(s) 1 of 3" in err and "Traceback" not in err


def test_step_summary_says_where_the_report_is(cli, repo, monkeypatch):
    summary = repo / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "me/proj")
    monkeypatch.setenv("GITHUB_RUN_ID", "42")
    code, _out, _err = cli("run", "t", "--models", "fake:write=a.txt", "--html", "report.html",
                           "--progress", "none")
    assert code == 0
    text = summary.read_text()
    assert "HTML report, every worker side by side: `report.html`" in text
    assert "https://github.com/me/proj/actions/runs/42#artifacts" in text


@pytest.mark.parametrize("name", ["tab\there.txt", "ünï cödé.txt", "new\nline.txt"])
def test_odd_file_names_are_named_exactly(cli, repo, name):
    code, _out, _err = cli("run", "t", "--models", f"fake:write={name}", "--workers", "1",
                           "--html", "r.html", "--progress", "none")
    assert code == 0
    page = Page((repo / "r.html").read_text())
    assert name in [text_of(e) for e in page.all("td", class_="mono")]
    assert page.by_id("d1-0") is not None


def test_a_diff_larger_than_the_character_budget_stops_git_early(cli, repo, monkeypatch):
    monkeypatch.setattr(ap, "_REPORT_DIFF_CHARS", 400)
    task = "\n".join(f"a long line of words, number {i}" for i in range(2000))  # ~66 KB per file
    code, _out, _err = cli("run", task, "--models", "fake:write=a.txt+write=b.txt", "--workers", "1",
                           "--html", "r.html", "--progress", "none")
    assert code == 0
    page = Page((repo / "r.html").read_text())
    section = text_of(page.by_id("w1"))
    assert "(0 KB) per worker" in section and "+2000" in section  # counted in full
    shown = "".join(text_of(d) for d in page.all("pre", class_="diff"))
    assert "number 3" in shown and "number 100" not in shown
    assert page.by_id("d1-1") is None  # b.txt: named, counted, not shown


def test_rerun_writes_a_report_of_the_whole_plan(cli, repo):
    code, _out, _err = cli("run", "t", "--models", "fake:write=a.txt,fake:failonce=w2+write=b.txt",
                           "--workers", "2", "--progress", "none")
    assert code == 0
    code, _out, err = cli("rerun", "--failed", "--force", "--html", "again.html", "--progress", "none")
    assert code == 0, err
    page = Page((repo / "again.html").read_text())
    badges = [text_of(e) for e in page.all("span") if e["attrs"].get("class") == "badge success"]
    assert len(badges) == 4  # ranking and section of both workers: the earlier success kept
    assert page.by_id("d1-0") is not None and page.by_id("d2-1") is not None


def script_agent(tmp_path, body):
    """An agent command template running the shell script ``body`` in the worktree."""
    path = tmp_path / "agent.sh"
    path.write_text("#!/bin/sh\nset -e\n" + body)
    path.chmod(0o755)
    return f"{path} {{task}}"


def test_each_file_gets_its_own_diff_whatever_git_shows(cli, repo, tmp_path):
    # A submodule shown as a log by the user's config, a file that becomes a link (two
    # sections in the patch), a mode change, a pure rename and an empty file: each row
    # of the report must carry its own content, and none may take another's.
    sub = tmp_path / "sub"
    sub.mkdir()
    git("init", "-q", "-b", "main", cwd=sub)
    (sub / "s.txt").write_text("s\n")
    git("add", "-A", cwd=sub)
    git("commit", "-q", "-m", "s", cwd=sub)
    sha = git("rev-parse", "HEAD", cwd=sub)
    for name, text in (("a_link", "was a file\n"), ("b.txt", "b\n"), ("run.sh", "echo\n"),
                       ("old.txt", "moving\n" * 5)):
        (repo / name).write_text(text)
    git("add", "-A", cwd=repo)
    git("update-index", "--add", "--cacheinfo", f"160000,{sha},sub", cwd=repo)
    git("commit", "-q", "-m", "more", cwd=repo)
    (repo / ".git" / "config").write_text((repo / ".git" / "config").read_text()
                                          + "[diff]\n\tsubmodule = log\n\tnoprefix = true\n")
    agent = script_agent(tmp_path, f"""
rm a_link && ln -s b.txt a_link
echo B-CHANGED >> b.txt
chmod +x run.sh
git mv old.txt new.txt
: > empty.txt
git update-index --add --cacheinfo 160000,{git("commit-tree", "-m", "x", f"{sha}^{{tree}}", cwd=sub)},sub
git add -A a_link b.txt run.sh new.txt empty.txt
git commit -q -m "the agent's own commit"
""")
    code, _out, err = cli("run", "change things", "--agent-cmd", agent, "--workers", "1",
                          "--html", "r.html", "--progress", "none")
    assert code == 0, err
    page = Page((repo / "r.html").read_text())
    diffs = {e["attrs"]["id"]: text_of(e) for e in page.all("pre", class_="diff")}
    names = {text_of(e) for e in page.all("td", class_="mono")}
    assert {"a_link", "b.txt", "run.sh", "old.txt → new.txt", "empty.txt", "sub"} <= names
    shown = "\n".join(diffs.values())
    assert "+B-CHANGED" in shown and "new mode 100755" in shown and "rename to new.txt" in shown
    assert "+b.txt" in shown  # the link's target
    assert "Subproject commit" in shown
    for ident, text in diffs.items():  # no diff holds two files' changes
        assert not ("+B-CHANGED" in text and "+b.txt" in text), ident
        assert not ("Subproject" in text and "B-CHANGED" in text), ident


def test_escaping_cannot_push_the_report_past_its_budget(cli, repo, monkeypatch):
    monkeypatch.setattr(ap, "_REPORT_DIFF_CHARS", 20000)
    quotes = "\n".join('"' * 50 for _ in range(2000))  # each character escapes to 6
    code, _out, _err = cli("run", quotes, "--models", "fake:write=q.txt,fake:write=q.txt", "--workers", "2",
                           "--html", "r.html", "--progress", "none")
    assert code == 0
    size = len((repo / "r.html").read_text())
    assert size < 2 * 20000 + 60000, size  # two workers' diffs, and the page around them


def test_a_worker_with_many_files_lists_the_first_ones(cli, repo, monkeypatch):
    monkeypatch.setattr(ap, "_REPORT_FILES", 3)
    writes = "+".join(f"write=f{i}.txt" for i in range(5))
    code, _out, _err = cli("run", "t", "--models", f"fake:{writes}", "--workers", "1",
                           "--html", "r.html", "--progress", "none")
    assert code == 0
    section = text_of(Page((repo / "r.html").read_text()).by_id("w1"))
    assert "2 more files are not listed" in section and "diff 1 --stat" in section


def test_new_files_of_a_no_commit_worker_show_whatever_git_status_hides(cli, repo):
    git("config", "status.showUntrackedFiles", "no", cwd=repo)
    code, _out, _err = cli("run", "fresh\nlines", "--models", "fake:write=new.txt+nested=inner",
                           "--workers", "1", "--no-commit", "--html", "r.html", "--progress", "none")
    assert code == 0
    section = text_of(Page((repo / "r.html").read_text()).by_id("w1"))
    assert "new.txt" in section and "+fresh" in section and "+lines" in section
    assert "inner/" in section and "a git repository inside the worktree" in section


def test_collect_never_reads_log_paths_named_in_a_results_file(cli, repo, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET\n")
    cli("run", "t", "--models", "fake:write=a.txt", "--workers", "1", "--check", "true",
        "--results", "r.json", "--progress", "none")
    data = json.loads((repo / "r.json").read_text())
    data["results"][0].update(stderr_path=str(secret), worker_log=str(secret))
    data["base_commit"] = 5  # nonsense, hand-edited: no traceback either
    (repo / "r.json").write_text(json.dumps(data))
    code, _out, err = cli("collect", "r.json", "--html", "c.html", "--junit", "j.xml", "--task=t",
                          "--models", "fake:write=a.txt", "--workers", "1", "--check", "true")
    assert code == 0, err
    text = (repo / "c.html").read_text() + (repo / "j.xml").read_text()
    assert "TOP SECRET" not in text and "on the machine that ran it" in text


def test_a_timeline_from_a_wrong_clock_stays_small(cli, repo):
    cli("run", "t", "--models", "fake:write=a.txt", "--workers", "1", "--results", "r.json",
        "--progress", "none")
    data = json.loads((repo / "r.json").read_text())
    data["results"][0]["timeline"][0]["at"] = 0  # 1970
    (repo / "r.json").write_text(json.dumps(data))
    code, _out, err = cli("collect", "r.json", "--html", "c.html", "--task=t", "--models",
                          "fake:write=a.txt", "--workers", "1")
    assert code == 0, err
    assert len((repo / "c.html").read_text()) < 100000
