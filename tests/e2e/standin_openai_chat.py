"""A stand-in for the OpenAI chat completions API (as litellm, aider and architect call it).

Serves ``POST /v1/chat/completions`` (and ``/chat/completions``), streaming (server-sent
``data: {"choices": [{"delta": ...}]}`` chunks, a final usage chunk, ``data: [DONE]``) or
not (one JSON object with ``usage``), plus ``GET /v1/models``.

The replies are scripted: ``script(standin, request_json)`` returns one of

- ``text("...")``: an assistant message;
- ``tool_call("name", {...args})``: an assistant message calling one tool;
- ``error(status, "message")``: an HTTP error with OpenAI's error JSON.

Every request is kept in ``self.requests`` (see ``harness.StandIn``);
``self.chat_requests`` lists the chat completion bodies only.
"""

from __future__ import annotations

import itertools
import json
import time

from harness import StandIn, json_response, sse_response

PROMPT_TOKENS = 1234
COMPLETION_TOKENS = 56


def text(content: str) -> dict:
    return {"content": content}


def tool_call(name: str, arguments: dict, call_id: str | None = None) -> dict:
    return {"tool_calls": [{"id": call_id, "name": name, "arguments": json.dumps(arguments)}]}


def error(status: int, message: str, kind: str | None = None) -> dict:
    """An HTTP error; ``kind`` (the error's ``type``) defaults to what OpenAI sends for
    ``status``: ``invalid_request_error`` for 4xx (401 too), ``server_error`` for 5xx."""
    return {"error": (status, message, kind)}


def messages_of(body: dict) -> list:
    return [m for m in (body or {}).get("messages") or [] if isinstance(m, dict)]


def has_tool_result(body: dict) -> bool:
    """Whether the conversation already holds a tool's result."""
    return any(m.get("role") == "tool" for m in messages_of(body))


def content_text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


class OpenAIChatStandIn(StandIn):
    """OpenAI-compatible chat completions, replies chosen by ``script``."""

    def __init__(self, script, model: str = "gpt-4o", prompt_tokens: int = PROMPT_TOKENS,
                 completion_tokens: int = COMPLETION_TOKENS):
        super().__init__()
        self.script = script
        self.model = model
        self.prompt_tokens = prompt_tokens
        self.completion_tokens = completion_tokens
        self._ids = itertools.count(1)

    @property
    def chat_requests(self) -> list:
        return [r["json"] for r in self.requests
                if r["method"] == "POST" and r["path"].endswith("/chat/completions")]

    def handle(self, request: dict):
        path = request["path"]
        if request["method"] == "GET" and path.rstrip("/").endswith("/models"):
            return json_response({"object": "list", "data": [
                {"id": self.model, "object": "model", "created": 0, "owned_by": "standin"}]})
        if not (request["method"] == "POST" and path.endswith("/chat/completions")):
            return error_response(404, f"standin: no route {request['method']} {path}",
                                  "not_found_error")
        body = request["json"] or {}
        reply = self.script(self, body)
        if "error" in reply:
            return error_response(*reply["error"])
        number = next(self._ids)
        cid = f"chatcmpl-standin{number}"
        model = body.get("model") or self.model
        calls = [dict(c, id=c.get("id") or f"call_standin{number}_{i}")
                 for i, c in enumerate(reply.get("tool_calls") or [])]
        finish = "tool_calls" if calls else "stop"
        usage = {"prompt_tokens": self.prompt_tokens,
                 "completion_tokens": self.completion_tokens,
                 "total_tokens": self.prompt_tokens + self.completion_tokens}
        if body.get("stream"):
            return sse_response((None, d) for d in self._chunks(
                cid, model, reply.get("content"), calls, finish, usage))
        message = {"role": "assistant", "content": reply.get("content")}
        if calls:
            message["tool_calls"] = [
                {"id": c["id"], "type": "function",
                 "function": {"name": c["name"], "arguments": c["arguments"]}} for c in calls]
        return json_response({
            "id": cid, "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": finish,
                         "logprobs": None}],
            "usage": usage})

    @staticmethod
    def _chunks(cid, model, content, calls, finish, usage):
        base = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model}

        def chunk(delta, finish_reason=None):
            return dict(base, choices=[{"index": 0, "delta": delta,
                                        "finish_reason": finish_reason}])

        yield chunk({"role": "assistant", "content": ""})
        if content:
            # A few pieces, split on line ends, like a real stream.
            for line in content.splitlines(keepends=True):
                yield chunk({"content": line})
        for i, c in enumerate(calls):
            yield chunk({"tool_calls": [{"index": i, "id": c["id"], "type": "function",
                                         "function": {"name": c["name"], "arguments": ""}}]})
            yield chunk({"tool_calls": [{"index": i, "function": {"arguments": c["arguments"]}}]})
        yield chunk({}, finish)
        yield dict(base, choices=[], usage=usage)
        yield "[DONE]"


def error_response(status: int, message: str, kind: str | None = None):
    if kind is None:
        kind = "server_error" if status >= 500 else (
            "rate_limit_exceeded" if status == 429 else "invalid_request_error")
    code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded"}.get(status)
    return json_response({"error": {"message": message, "type": kind, "param": None,
                                    "code": code}}, status)
