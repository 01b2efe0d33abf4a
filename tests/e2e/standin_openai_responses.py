"""A stand-in for the OpenAI Responses API as Codex CLI uses it (``POST /v1/responses``,
streamed as server-sent events), scripted by looking at each request.

Codex sends the whole conversation on every request (``store: false``, no
``previous_response_id``): the model's earlier ``function_call`` items and the tool results
(``function_call_output``) are in ``input``. The reply is chosen from how many tool results
the request carries after its last user message (the turn's task), so the script is
deterministic whatever Codex adds around it, and a resumed session (``codex exec ... resume
ID -- TASK``, which sends the earlier turns again and then the new task) starts a new turn.

A turn whose task names ``NEXT.txt`` (``FOLLOWUP_TASK``) writes NEXT.txt instead of
HELLO.txt (same tool as the scenario's) and ends with ``FOLLOWUP_TEXT``.

Scenarios (``OpenAIResponsesStandIn(scenario)``):

``hello``        1st request: an ``exec_command`` call that writes HELLO.txt; then a final message.
``hello_patch``  the same, written with ``apply_patch`` (Codex turns it into a file change).
``loop``         an ``exec_command`` call on every request, never a final message.
``error<NNN>``   (e.g. ``error400``, ``error500``) every request answered with HTTP NNN and
                 the vendor's error JSON, whose message holds ``standin-marker-<NNN>``
                 (Codex 0.171.0 shows it for 400/401/404/503, but replaces a 500's with its
                 own "We're currently experiencing high demand" text).
``failed_stream`` HTTP 200 whose stream ends in ``response.failed``
                 (marker ``standin-marker-failed``).
``flaky500``     the first request gets HTTP 500 (``standin-marker-flaky``), then as ``hello``.
``drop``         the first request's stream is cut before ``response.completed``, then as ``hello``.
"""

from __future__ import annotations

import itertools
import json

from harness import StandIn, json_response, sse_response

HELLO_CMD = "printf 'hello\\n' > HELLO.txt"
HELLO_PATCH = ("apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: HELLO.txt\n+hello\n"
               "*** End Patch\nEOF\n")
FINAL_TEXT = "Created HELLO.txt containing the word hello."
# A follow-up task (``continue``): a turn whose task mentions NEXT.txt writes it.
FOLLOWUP_TASK = "Now also create a file NEXT.txt containing the word next"
FOLLOWUP_FILE = "NEXT.txt"
NEXT_CMD = "printf 'next\\n' > NEXT.txt"
NEXT_PATCH = ("apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: NEXT.txt\n+next\n"
              "*** End Patch\nEOF\n")
FOLLOWUP_TEXT = "Created NEXT.txt containing the word next."
# Usage reported on each response.completed (what Codex adds up per turn).
USAGE = {"input_tokens": 1200, "cached_input": 200, "output_tokens": 30, "reasoning": 5}

SCENARIOS = ("hello", "hello_patch", "loop", "error400", "error401", "error500",
             "failed_stream", "flaky500", "drop")


def marker(what) -> str:
    return f"standin-marker-{what}"


def error_body(status: int, message: str) -> dict:
    kinds = {400: ("invalid_request_error", "invalid_value"),
             401: ("invalid_request_error", "invalid_api_key"),
             429: ("rate_limit_error", "rate_limit_exceeded"),
             500: ("server_error", "server_error")}
    kind, code = kinds.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class OpenAIResponsesStandIn(StandIn):
    """The Responses API on 127.0.0.1; ``self.url + "/v1"`` is the base URL to give Codex."""

    def __init__(self, scenario: str = "hello"):
        numbered_error = scenario.startswith("error") and scenario[5:].isdigit()
        if scenario not in SCENARIOS and not numbered_error:
            raise ValueError(f"unknown scenario {scenario!r}")
        super().__init__()
        self.scenario = scenario
        self.base_url = self.url + "/v1"
        self._ids = itertools.count(1)
        self.model_posts = 0  # POST /v1/responses seen

    # -- what Codex asked -----------------------------------------------------

    def model_requests(self) -> list:
        return [r for r in self.requests
                if r["method"] == "POST" and r["path"].endswith("/responses")]

    @staticmethod
    def tool_outputs(request: dict) -> list:
        """The tool results the request carries (``function_call_output`` and the like)."""
        body = request.get("json") or {}
        return [item for item in body.get("input") or []
                if isinstance(item, dict) and str(item.get("type", "")).endswith("_call_output")]

    @staticmethod
    def turn_task(request: dict) -> str:
        """The text of the request's last user message: the task of the turn it belongs to
        (Codex's own context blocks come before the task in a turn)."""
        body = request.get("json") or {}
        items = [i for i in body.get("input") or [] if isinstance(i, dict)]
        for item in reversed(items):
            if item.get("role") == "user":
                return "".join(part.get("text") or "" for part in item.get("content") or []
                               if isinstance(part, dict))
        return ""

    @staticmethod
    def turn_tool_outputs(request: dict) -> list:
        """The tool results after the request's last user message: this turn's so far."""
        body = request.get("json") or {}
        items = [i for i in body.get("input") or [] if isinstance(i, dict)]
        last = max((n for n, i in enumerate(items) if i.get("role") == "user"), default=-1)
        return [i for i in items[last + 1:] if str(i.get("type", "")).endswith("_call_output")]

    @staticmethod
    def assistant_texts(request: dict) -> list:
        """The model's earlier messages the request sends back (the conversation so far)."""
        body = request.get("json") or {}
        return [part["text"] for item in body.get("input") or []
                if isinstance(item, dict) and item.get("role") == "assistant"
                for part in item.get("content") or []
                if isinstance(part, dict) and isinstance(part.get("text"), str)]

    @staticmethod
    def function_calls(request: dict) -> list:
        """The model's earlier tool calls the request sends back, as (name, arguments)."""
        body = request.get("json") or {}
        return [(item.get("name"), item.get("arguments")) for item in body.get("input") or []
                if isinstance(item, dict) and item.get("type") == "function_call"]

    @staticmethod
    def user_texts(request: dict) -> list:
        body = request.get("json") or {}
        texts = []
        for item in body.get("input") or []:
            if isinstance(item, dict) and item.get("role") == "user":
                for part in item.get("content") or []:
                    if isinstance(part, dict) and isinstance(part.get("text"), str):
                        texts.append(part["text"])
        return texts

    # -- replies ----------------------------------------------------------------

    def handle(self, request: dict):
        path = request["path"]
        if request["method"] == "GET" and path.endswith("/models"):
            return json_response({"object": "list", "data": [], "models": []})
        if not (request["method"] == "POST" and path.endswith("/responses")):
            return json_response(
                error_body(404, f"stand-in has no {request['method']} {path}"), 404)
        with self._lock:
            self.model_posts += 1
            nth = self.model_posts
        scenario = self.scenario
        if scenario.startswith("error"):
            status = int(scenario[len("error"):])
            return json_response(error_body(status, f"{marker(status)}: the stand-in refuses "
                                                    f"this request (HTTP {status})"), status)
        if scenario == "flaky500" and nth == 1:
            return json_response(error_body(500, f"{marker('flaky')}: transient server error"), 500)
        if scenario == "failed_stream":
            rid = self._next("resp")
            return sse_response([
                ("response.created", {"type": "response.created",
                                      "response": self._resp(rid, "in_progress")}),
                ("response.failed", {"type": "response.failed", "response": dict(
                    self._resp(rid, "failed"),
                    error={"code": "server_error",
                           "message": f"{marker('failed')}: the stand-in failed this response"})}),
            ])
        if scenario == "drop" and nth == 1:
            rid = self._next("resp")
            created = {"type": "response.created", "response": self._resp(rid, "in_progress")}
            return sse_response([("response.created", created)])
        done = len(self.turn_tool_outputs(request))
        if scenario == "loop":
            return self._tool_call("exec_command", {"cmd": f"echo step {done + 1}"})
        followup = FOLLOWUP_FILE in self.turn_task(request)
        if done == 0:
            if scenario == "hello_patch":
                return self._tool_call("exec_command",
                                       {"cmd": NEXT_PATCH if followup else HELLO_PATCH})
            return self._tool_call("exec_command", {"cmd": NEXT_CMD if followup else HELLO_CMD})
        return self._message(FOLLOWUP_TEXT if followup else FINAL_TEXT)

    def _next(self, prefix: str) -> str:
        return f"{prefix}_standin_{next(self._ids)}"

    @staticmethod
    def _resp(rid: str, status: str, output=None, usage=None) -> dict:
        value = {"id": rid, "object": "response", "created_at": 1700000000, "status": status,
                 "model": "standin-model", "output": output or []}
        if usage is not None:
            value["usage"] = usage
        return value

    @staticmethod
    def _usage() -> dict:
        return {"input_tokens": USAGE["input_tokens"],
                "input_tokens_details": {"cached_tokens": USAGE["cached_input"]},
                "output_tokens": USAGE["output_tokens"],
                "output_tokens_details": {"reasoning_tokens": USAGE["reasoning"]},
                "total_tokens": USAGE["input_tokens"] + USAGE["output_tokens"]}

    def _stream(self, item_added: dict, deltas: list, item_done: dict):
        rid = self._next("resp")
        events = [("response.created", {"type": "response.created",
                                        "response": self._resp(rid, "in_progress")}),
                  ("response.in_progress", {"type": "response.in_progress",
                                            "response": self._resp(rid, "in_progress")}),
                  ("response.output_item.added", {"type": "response.output_item.added",
                                                  "output_index": 0, "item": item_added})]
        events += deltas
        events += [("response.output_item.done", {"type": "response.output_item.done",
                                                  "output_index": 0, "item": item_done}),
                   ("response.completed", {"type": "response.completed", "response": self._resp(
                       rid, "completed", [item_done], self._usage())})]
        return sse_response(events)

    def _tool_call(self, name: str, arguments: dict):
        item_id, call_id = self._next("fc"), self._next("call")
        args = json.dumps(arguments)
        added = {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
                 "arguments": "", "status": "in_progress"}
        done = dict(added, arguments=args, status="completed")
        deltas = [("response.function_call_arguments.delta",
                   {"type": "response.function_call_arguments.delta", "item_id": item_id,
                    "output_index": 0, "delta": args}),
                  ("response.function_call_arguments.done",
                   {"type": "response.function_call_arguments.done", "item_id": item_id,
                    "output_index": 0, "arguments": args})]
        return self._stream(added, deltas, done)

    def _message(self, text: str):
        item_id = self._next("msg")
        added = {"type": "message", "id": item_id, "role": "assistant", "status": "in_progress",
                 "content": []}
        part = {"type": "output_text", "text": text, "annotations": []}
        done = dict(added, status="completed", content=[part])
        deltas = [("response.content_part.added",
                   {"type": "response.content_part.added", "item_id": item_id, "output_index": 0,
                    "content_index": 0, "part": dict(part, text="")}),
                  ("response.output_text.delta",
                   {"type": "response.output_text.delta", "item_id": item_id, "output_index": 0,
                    "content_index": 0, "delta": text}),
                  ("response.output_text.done",
                   {"type": "response.output_text.done", "item_id": item_id, "output_index": 0,
                    "content_index": 0, "text": text}),
                  ("response.content_part.done",
                   {"type": "response.content_part.done", "item_id": item_id, "output_index": 0,
                    "content_index": 0, "part": part})]
        return self._stream(added, deltas, done)

