#!/usr/bin/env python3
"""A scripted stand-in for agent CLIs, used by the tests and by ``make demo``.

Installed under a CLI's name (see make_agent_bin), it reads that CLI's command line
and prints its kind of result: ``architect`` (``run``, options, ``--``, the task; a
JSON result), ``claude`` (one JSON result object), ``codex`` (JSON-lines events),
``gemini`` (a JSON object with response/stats/error); under any other name (aider,
a template's own program) it prints plain text. The task is the argument after
``--``, the value of ``--prompt``/``--message``, or the contents of the file
``--prompt-file`` names. What it does is a list of
actions joined by ``+``, taken from the first of:

- the model, when it starts with ``fake:`` (``--models fake:json=partial,fake:exit=3``);
- the task, when it starts with ``fake:``;
- ``$FAKE_AGENT_PLAN``, a JSON object mapping a model name (or ``"default"``) to actions;
- otherwise ``write=agent-output.txt``.

Actions, run in order:
  write=PATH      write the task to PATH (folders created)
  delete=PATH     delete PATH
  rmtree=PATH     delete the folder PATH (``.`` is the worktree itself)
  stage / commit  ``git add -A`` / ``git add -A && git commit``
  detach          ``git checkout --detach``;  branch=NAME  ``git checkout -b NAME``
  nested=DIR      create a git repository with one file in DIR
  lockindex       leave a stale ``index.lock`` behind, as a crashed git would
  sleep=SECONDS   sleep
  ignoreterm      ignore SIGTERM from now on
  grandchild=SECONDS  start a grandchild that sleeps, holding stdout, and record its pid
  daemon=SECONDS  the same, but the grandchild starts its own session (leaves the process group)
  noise=N         print N lines of non-JSON text on stdout
  spew=MB         write MB megabytes of text to stdout
  binary=KB       write KB kilobytes of bytes to stdout: NULs, invalid UTF-8, no line end
  stderr=TEXT     print TEXT on stderr (``_`` for spaces)
  json=STATUS     print the JSON result with this status (default: success at the end)
  steps=N, cost=X, costs=X  fields of the JSON result (``costs`` as costs.total_cost_usd)
  tokens=IN/OUT   input and output tokens, reported where the CLI reports them
  apierror=TEXT   a model API error (``_`` for spaces), reported as the real CLI does:
                  claude ``is_error``, codex ``turn.failed``, gemini JSON on stderr, aider
                  a printed message and exit 0, architect ``status: failed`` with ``output``
  notice=TEXT     codex: a retry notice (an ``error`` event) before the turn goes on
  indent          print the JSON result indented over several lines
  garbage         print a broken JSON object instead of a result
  silent          print no JSON result
  crash           die by SIGABRT
  failonce=NAME   the first call with this NAME exits 1 at once; later calls go on
  exit=N          exit with code N (after printing)

Claude and Codex report a session id, the one they were asked to resume
(``--resume ID``, ``exec resume ... ID --``) or a new one.

With ``$FAKE_AGENT_RECORD`` set to a folder, every call writes
``<worker>.json`` there: argv, cwd, pid, start and end times, selected env.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time


NAMES = ("architect", "claude", "codex", "gemini", "aider", "fake-agent")



def _started(pid):
    """When process ``pid`` started (clock ticks since boot; None where there is no /proc):
    what tells it from a later process given the same number."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rfind(b")") + 2:].split()[19])
    except (OSError, ValueError, IndexError):
        return None

def make_agent_bin(folder, names=NAMES):
    """Create ``folder`` holding executables ``names`` that run this fake agent; return it."""
    os.makedirs(folder, exist_ok=True)
    # A copy beside them: a sandbox shows the agent's own folder, wherever the checkout is
    # (under /tmp, its private /tmp would hide this file).
    agent = os.path.join(os.path.abspath(folder), "fake_agent.py")
    shutil.copyfile(os.path.abspath(__file__), agent)
    for name in names:
        path = os.path.join(folder, name)
        with open(path, "w") as f:
            # (-S: no site-packages, whose .pth files can cost a start tens of ms; stdlib only)
            f.write(f'#!/bin/sh\nFAKE_AGENT_NAME={name} exec "{sys.executable}" -S "{agent}" "$@"\n')
        os.chmod(path, 0o755)
    return folder


def parse_generic(argv):
    """Options and task of any other CLI: the task follows ``--`` or is a --prompt/--message value."""
    options, task, i = {}, None, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            task = argv[i + 1] if i + 1 < len(argv) else task
            break
        name, eq, value = arg.partition("=")
        if eq and name in ("--prompt", "--message"):
            task = value
        elif arg == "--prompt-file" and i + 1 < len(argv):
            with open(argv[i + 1], "rb") as f:
                task = f.read().decode("utf-8", "surrogateescape")
            i += 1
        elif eq:
            options[name] = value
        elif arg in ("--model", "--prompt", "--max-turns", "--output-format") and i + 1 < len(argv):
            options[arg] = argv[i + 1]
            if arg == "--prompt":
                task = argv[i + 1]
            i += 1
        i += 1
    if task is None:
        sys.exit(f"fake agent: no task in {argv!r}")
    return options, task


def print_result(name, status, result, indent):
    """The final output of the CLI called ``name``, in that CLI's real format.

    ``result["apierror"]``, when set, is a model API error reported the CLI's own way.
    """
    steps, cost = result.get("steps", 0), result.get("cost", 0.0)
    tokens_in, tokens_out = result.get("tokens", (1200, 34))
    apierror = result.get("apierror")
    if name == "architect":
        out = {k: v for k, v in result.items() if k not in ("tokens", "apierror", "notices", "format")}
        if apierror:
            out.update(status="failed", output=apierror)
        if "tokens" in result:
            out.setdefault("costs", {}).update(total_input_tokens=tokens_in,
                                               total_output_tokens=tokens_out)
        print(json.dumps(out, indent=indent))
    elif name == "claude":
        # An API error is a "success" subtype with is_error set (Claude Code 2.1).
        subtype = {"success": "success", "partial": "error_max_turns"}.get(
            status, "success" if apierror else "error_during_execution")
        out = {"type": "result", "subtype": subtype, "session_id": session_id("claude"),
               "is_error": status == "failed" or bool(apierror), "num_turns": steps,
               "total_cost_usd": cost, "result": apierror or "done",
               "usage": {"input_tokens": tokens_in - 1000 if tokens_in >= 1000 else tokens_in,
                         "cache_creation_input_tokens": 1000 if tokens_in >= 1000 else 0,
                         "cache_read_input_tokens": 0, "output_tokens": tokens_out}}
        print(json.dumps(out))
    elif name == "codex":
        print(json.dumps({"type": "thread.started", "thread_id": session_id("codex")}))
        print(json.dumps({"type": "turn.started"}))
        for notice in result.get("notices", []):
            print(json.dumps({"type": "error", "message": notice}))
        print(json.dumps({"type": "item.completed", "item": {"id": "r", "type": "reasoning", "text": "hm"}}))
        for n in range(steps):
            print(json.dumps({"type": "item.completed", "item": {"id": f"item_{n}", "type": "command_execution"}}))
        print(json.dumps({"type": "item.completed", "item": {"id": "m", "type": "agent_message", "text": "ok"}}))
        if status == "failed" or apierror:
            message = apierror or "boom"
            print(json.dumps({"type": "error", "message": message}))
            print(json.dumps({"type": "turn.failed", "error": {"message": message}}))
        else:
            # Resumed, codex reports the whole session's tokens: say two turns of them.
            times = 2 if sys.argv[1:3] == ["exec", "resume"] else 1
            print(json.dumps({"type": "turn.completed", "usage": {
                "input_tokens": tokens_in * times, "cached_input_tokens": 0,
                "output_tokens": tokens_out * times}}))
    elif name == "gemini" and result.get("format") == "stream-json":
        # JSON lines; the last, "result", carries status, error and stats in every case.
        print(json.dumps({"type": "init", "session_id": "s1", "model": "gemini-2.5-pro"}))
        print(json.dumps({"type": "message", "role": "assistant", "content": "done", "delta": True}))
        out = {"type": "result", "status": "success", "stats": {
            "total_tokens": tokens_in + tokens_out, "input_tokens": tokens_in,
            "output_tokens": tokens_out, "cached": 0, "input": tokens_in, "duration_ms": 5,
            "tool_calls": steps}}
        if status == "failed" or apierror:
            out.update(status="error", error={"type": "unknown", "message": apierror or "boom"})
        elif status == "partial":
            out.update(status="error", error={"type": "FatalTurnLimitedError",
                                              "message": "Reached max session turns"})
        print(json.dumps(out))
    elif name == "gemini":
        if status == "failed" or apierror:
            # Fatal errors: nothing on stdout, the error object on stderr (twice).
            error = json.dumps({"session_id": "s1", "error": {
                "type": "Error", "message": apierror or "boom", "code": 1}}, indent=2)
            print(error, file=sys.stderr)
            print("[ERROR] " + error, file=sys.stderr)
            return
        out = {"session_id": "s1", "response": "done", "stats": {
            "models": {"gemini-2.5-pro": {"api": {"totalRequests": 1}, "tokens": {
                "prompt": tokens_in, "candidates": tokens_out, "total": tokens_in + tokens_out,
                "cached": 0, "thoughts": 0, "tool": 0}}},
            "tools": {"totalCalls": steps}}}
        print(json.dumps(out, indent=indent))
    elif name == "aider":
        if apierror:  # aider prints the error, wrapped at 80 columns, and exits 0
            words, line, lines = apierror.split(), "", []
            for word in words:
                if line and len(line) + 1 + len(word) > 80:
                    lines.append(line)
                    line = word
                else:
                    line = f"{line} {word}".strip()
            print("\n".join(lines + [line]))
            return
        print("HELLO.txt\n```\ndone\n```")
        print(f"Tokens: {tokens_in / 1000:.1f}k sent, {tokens_out} received. "
              f"Cost: ${cost / 2:.4f} message, ${cost:.4f} session.")
    else:
        print("done")


def session_id(name):
    """The session this call goes on with (``claude --resume ID``, ``codex exec resume ...
    ID -- TASK``), or a new one."""
    argv = sys.argv[1:]
    if name == "claude" and "--resume" in argv:
        return argv[argv.index("--resume") + 1]
    if name == "codex" and argv[:2] == ["exec", "resume"] and "--" in argv:
        return argv[argv.index("--") - 1]
    return f"{name}-session-{os.getpid()}"


def parse(argv):
    if os.environ.get("FAKE_AGENT_NAME", "architect") != "architect":
        return parse_generic(argv)
    if not argv or argv[0] != "run":
        sys.exit("fake agent: expected 'run'")
    options, i = {}, 1
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            task = argv[i + 1:]
            if len(task) != 1:
                sys.exit(f"fake agent: expected exactly one task after --, got {task!r}")
            return options, task[0]
        if arg in ("--json",):
            options[arg] = True
            i += 1
        elif arg.startswith("--"):
            options[arg] = argv[i + 1]
            i += 2
        else:
            sys.exit(f"fake agent: unexpected argument {arg!r} before --")
    sys.exit("fake agent: no -- before the task")


def main():
    name_of_cli = os.environ.get("FAKE_AGENT_NAME", "architect")
    options, task = parse(sys.argv[1:])
    model = options.get("--model")
    record_dir = os.environ.get("FAKE_AGENT_RECORD")
    worker = os.path.basename(os.getcwd())
    plan = json.loads(os.environ.get("FAKE_AGENT_PLAN", "{}"))
    if model and model.startswith("fake:"):
        script = model[len("fake:"):]
    elif task.startswith("fake:"):
        script = task[len("fake:"):].splitlines()[0]
    else:
        script = plan.get(model or "default", plan.get("default", "write=agent-output.txt"))
    record = {"argv": sys.argv, "cwd": os.getcwd(), "pid": os.getpid(), "start": time.time(),
              "started": {str(os.getpid()): _started(os.getpid())},
              "env": {k: v for k, v in os.environ.items()
                      if k.startswith(("OPENAI", "ARCHITECT", "GIT_", "GEMINI_", "IS_SANDBOX"))}}
    result = {"status": "success", "steps": 3, "cost": 0.0123}
    if options.get("--output-format"):
        result["format"] = options["--output-format"]
    printed, exit_code, indent = False, 0, None

    def save():
        # Atomically: the tests poll these files while agents run.
        if record_dir:
            record["end"] = time.time()
            path = os.path.join(record_dir, worker + ".json")
            with open(f"{path}.{os.getpid()}.tmp", "w") as f:
                json.dump(record, f)
            os.replace(f"{path}.{os.getpid()}.tmp", path)

    save()
    for action in [a for a in script.split("+") if a]:
        name, _, value = action.partition("=")
        if name == "write":
            os.makedirs(os.path.dirname(value) or ".", exist_ok=True)
            with open(value, "w") as f:
                f.write(task + "\n")
        elif name == "delete":
            os.remove(value)
        elif name == "rmtree":
            shutil.rmtree(os.path.abspath(value))
        elif name == "stage":
            subprocess.run(["git", "add", "-A"], check=True)
        elif name == "commit":
            subprocess.run(["git", "add", "-A"], check=True)
            subprocess.run(["git", "-c", "user.name=Fake", "-c", "user.email=fake@example.com",
                            # (its body names its worktree: two workers' commits differ, as
                            # real agents' do, even when made in the same second)
                            "commit", "-q", "-m", "agent commit", "-m",
                            f"in {os.path.basename(os.getcwd())}"], check=True)
        elif name == "detach":
            subprocess.run(["git", "checkout", "-q", "--detach"], check=True)
        elif name == "branch":
            subprocess.run(["git", "checkout", "-q", "-b", value], check=True)
        elif name == "nested":
            os.makedirs(value, exist_ok=True)
            subprocess.run(["git", "init", "-q", value], check=True)
            with open(os.path.join(value, "inner.txt"), "w") as f:
                f.write("inner\n")
        elif name == "lockindex":
            git_dir = subprocess.run(["git", "rev-parse", "--git-dir"], check=True,
                                     capture_output=True, text=True).stdout.strip()
            open(os.path.join(git_dir, "index.lock"), "w").close()
        elif name == "sleep":
            time.sleep(float(value))
        elif name == "ignoreterm":
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        elif name in ("grandchild", "daemon"):
            child = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({float(value)})"],
                                     start_new_session=name == "daemon")
            record.setdefault("grandchildren", []).append(child.pid)
            record["started"][str(child.pid)] = _started(child.pid)
            save()
        elif name == "noise":
            for n in range(int(value)):
                print(f"step {n}: thinking about {{the task}}")
        elif name == "binary":
            sys.stdout.flush()
            chunk = b"\xff\x00\xfe\x80 \xc3( \x1b[2J"
            sys.stdout.buffer.write((chunk * (int(value) * 1024 // len(chunk) + 1))[:int(value) * 1024])
            sys.stdout.buffer.flush()
        elif name == "spew":
            chunk = ("x" * 1023 + "\n") * 1024
            for _ in range(int(value)):
                sys.stdout.write(chunk)
            sys.stdout.flush()
        elif name == "stderr":
            print(value.replace("_", " "), file=sys.stderr)
        elif name == "json":
            result["status"] = value
            print_result(name_of_cli, value, result, indent)
            printed = True
        elif name == "steps":
            result["steps"] = int(value)
        elif name == "cost":
            result["cost"] = float(value)
        elif name == "costs":
            result.pop("cost", None)
            result["costs"] = {"total_cost_usd": float(value), "prompt_tokens": 10}
        elif name == "tokens":
            tokens_in, _, tokens_out = value.partition("/")
            result["tokens"] = (int(tokens_in), int(tokens_out))
        elif name == "apierror":
            result["apierror"] = value.replace("_", " ")
        elif name == "notice":
            result.setdefault("notices", []).append(value.replace("_", " "))
        elif name == "indent":
            indent = 2
        elif name == "garbage":
            print('{"status": "success", "steps": ')
            printed = True
        elif name == "silent":
            printed = True
        elif name == "crash":
            sys.stdout.flush()
            os.abort()
        elif name == "failonce":
            marker = os.path.join(record_dir or ".", f"failonce-{value}")
            if not os.path.exists(marker):
                open(marker, "w").close()
                print("failing this once", file=sys.stderr)
                sys.exit(1)
        elif name == "exit":
            exit_code = int(value)
        else:
            sys.exit(f"fake agent: unknown action {action!r}")
    if not printed:
        print_result(name_of_cli, result["status"], result, indent)
    save()
    sys.stdout.flush()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
