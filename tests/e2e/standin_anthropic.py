"""A stand-in for the Anthropic Messages API, as Claude Code (``claude -p``) uses it.

What Claude Code 2.1.x sends to ``ANTHROPIC_BASE_URL`` (seen against this server):

- ``HEAD /`` once at start (2.1.197: a reachability probe, any answer will do;
  2.1.332 no longer sends it);
- ``POST /v1/messages?beta=true`` with ``"stream": true``, answered with server-sent
  events: ``message_start``, ``content_block_start`` / ``content_block_delta`` /
  ``content_block_stop`` per block, ``message_delta`` (stop reason and usage),
  ``message_stop``.

A non-streamed ``POST /v1/messages``, ``POST /v1/messages/count_tokens`` and
``GET /v1/models`` are answered too, should a version use them.

The model is scripted, deterministic, and looks only at the request:

- ``script="write"``: while no ``tool_result`` came back after the latest prompt (the
  last user message that is text and not a ``<system-reminder>``), answer with a
  ``tool_use`` of Claude Code's ``Write`` tool creating the file that prompt names
  ("create a file NAME containing the word WORD": NAME holding WORD and a newline),
  ``HELLO.txt`` containing ``hello`` when it names none: an absolute path under the
  "Primary working directory" the request names (as the tool's schema asks), a
  relative one when it names none (Claude Code takes that too). Once a tool result
  came back, a final text (``Created NAME containing WORD.``). A resumed session
  (``claude -p --resume ID``) sends the earlier conversation first, then the new
  prompt, so a follow-up prompt naming another file gets that file written.
- ``script="text"``: a final text at once.
- ``error=(status, type, message)``: every ``/v1/messages`` call is answered with
  that HTTP status and the vendor's error JSON,
  ``{"type": "error", "error": {"type": ..., "message": ...}}``.
- ``usage={...}``: what each answer reports as used, instead of ``USAGE`` (keys left
  out keep ``USAGE``'s values), e.g. a million input tokens to cross a
  ``--max-budget-usd`` with the first call: Claude Code prices the usage itself.
"""

from __future__ import annotations

import json
import re
import uuid

from harness import StandIn, json_response, sse_response

FINAL_TEXT = "Created HELLO.txt containing hello."
HELLO_CONTENT = "hello\n"

# What each answer reports as used (per model call). The input is given in the API's
# three parts: new input, input written to the prompt cache, input read from it.
USAGE = {"input_tokens": 100, "cache_creation_input_tokens": 20, "cache_read_input_tokens": 30,
         "output_tokens": 12}

_CWD = re.compile(r"Primary working directory: ([^\n]+)")
# "Create a file HELLO.txt containing the word hello" (the tests' task) and the like.
_FILE_TASK = re.compile(r"create a file (\S+) containing the word (\S+?)[.!]?(?:\s|$)", re.I)


def _texts(value) -> list:
    """The text of a system prompt or message content: a string or a list of blocks."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [b["text"] for b in value if isinstance(b, dict) and isinstance(b.get("text"), str)]
    return []


def _has_tool_result(message: dict) -> bool:
    content = message.get("content")
    return isinstance(content, list) and any(
        isinstance(c, dict) and c.get("type") == "tool_result" for c in content)


def _prompt_texts(message: dict) -> list:
    """A user message's own text, without the ``<system-reminder>`` blocks Claude Code adds."""
    return [t for t in _texts(message.get("content"))
            if not t.lstrip().startswith("<system-reminder>")]


def _prompt_indexes(messages: list) -> list:
    """The indexes of the user's prompts: user messages with text of their own and no tool
    result."""
    return [i for i, m in enumerate(messages)
            if isinstance(m, dict) and m.get("role") == "user" and not _has_tool_result(m)
            and any(t.strip() for t in _prompt_texts(m))]


class AnthropicStandIn(StandIn):
    def __init__(self, script: str = "write", error: tuple | None = None,
                 usage: dict | None = None):
        super().__init__()
        if script not in ("write", "text"):
            raise ValueError(f"unknown script {script!r}")
        self.script = script
        self.error = error  # (HTTP status, error type, message) for every model call
        self.usage = dict(USAGE, **(usage or {}))  # reported by every answer
        self.writes = []  # the file_path of every Write the model asked for

    # -- what the tests look at ---------------------------------------------

    def model_calls(self) -> list:
        """The requests that asked the model for a message (POST /v1/messages)."""
        return [r for r in self.requests
                if r["method"] == "POST" and r["path"] == "/v1/messages"]

    @staticmethod
    def prompts(call: dict) -> list:
        """The user's prompts in one model call's conversation, oldest first: the text of
        user messages that hold no tool result, without Claude Code's system reminders."""
        return [text for i in _prompt_indexes(call["json"].get("messages") or [])
                for text in _prompt_texts(call["json"]["messages"][i])]

    # -- the server -----------------------------------------------------------

    def handle(self, request: dict):
        path, method = request["path"], request["method"]
        if method == "HEAD":
            return 200, {}, b""
        if method == "GET" and path.rstrip("/") == "/v1/models":
            return json_response({"data": [{"type": "model", "id": "claude-standin",
                                            "display_name": "Stand-in",
                                            "created_at": "2026-01-01T00:00:00Z"}],
                                  "has_more": False, "first_id": "claude-standin",
                                  "last_id": "claude-standin"})
        if method == "POST" and path == "/v1/messages/count_tokens":
            return json_response({"input_tokens": self.usage["input_tokens"]})
        if method == "POST" and path == "/v1/messages":
            if self.error:
                status, kind, message = self.error
                return json_response({"type": "error", "error": {"type": kind, "message": message},
                                      "request_id": "req_standin"}, status)
            return self._message(request.get("json") or {})
        return json_response({"type": "error", "error": {
            "type": "not_found_error", "message": f"stand-in: no route {method} {path}"}}, 404)

    def _blocks(self, body: dict) -> list:
        """The content blocks of the scripted answer to ``body``."""
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        latest = _prompt_indexes(messages)
        after = messages[latest[-1] + 1:] if latest else messages
        answered = any(_has_tool_result(m) for m in after)
        prompt = "\n".join(_prompt_texts(messages[latest[-1]])) if latest else ""
        match = _FILE_TASK.search(prompt)
        name, word = (match.group(1), match.group(2)) if match else ("HELLO.txt", "hello")
        if self.script == "text" or answered:
            text = FINAL_TEXT if name == "HELLO.txt" and word == "hello" else (
                f"Created {name} containing {word}.")
            return [{"type": "text", "text": text}]
        # 2.1.197 names the folder in the system prompt, later versions in a
        # system-role message among the messages.
        texts = _texts(body.get("system"))
        for message in messages:
            texts += _texts(message.get("content"))
        match = _CWD.search("\n".join(texts))
        cwd = match.group(1).strip() if match else ""
        target = f"{cwd.rstrip('/')}/{name}" if cwd.startswith("/") else name
        with self._lock:
            self.writes.append(target)
        content = HELLO_CONTENT if word == "hello" else word + "\n"
        return [{"type": "text", "text": "I'll create the file."},
                {"type": "tool_use", "id": "toolu_" + uuid.uuid4().hex[:24], "name": "Write",
                 "input": {"file_path": target, "content": content}}]

    def _message(self, body: dict):
        blocks = self._blocks(body)
        stop = "tool_use" if blocks[-1]["type"] == "tool_use" else "end_turn"
        model = body.get("model") or "claude-standin"
        msg_id = "msg_" + uuid.uuid4().hex[:24]
        if not body.get("stream"):
            return json_response({"id": msg_id, "type": "message", "role": "assistant",
                                  "model": model, "content": blocks, "stop_reason": stop,
                                  "stop_sequence": None, "usage": dict(self.usage)})
        start_usage = dict(self.usage, output_tokens=1)
        events = [("message_start", {"type": "message_start", "message": {
            "id": msg_id, "type": "message", "role": "assistant", "model": model, "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": start_usage}})]
        for index, block in enumerate(blocks):
            if block["type"] == "text":
                events += [
                    ("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "text", "text": ""}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": {"type": "text_delta",
                                                       "text": block["text"]}})]
            else:
                arguments = json.dumps(block["input"])
                events += [
                    ("content_block_start", {"type": "content_block_start", "index": index,
                                             "content_block": {"type": "tool_use",
                                                               "id": block["id"],
                                                               "name": block["name"],
                                                               "input": {}}}),
                    ("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": {"type": "input_json_delta",
                                                       "partial_json": arguments}})]
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events += [("message_delta", {"type": "message_delta",
                                      "delta": {"stop_reason": stop, "stop_sequence": None},
                                      "usage": {"output_tokens": self.usage["output_tokens"]}}),
                   ("message_stop", {"type": "message_stop"})]
        return sse_response(events)
