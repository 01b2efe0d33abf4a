"""A stand-in for the Gemini API (generativelanguage v1beta) as Gemini CLI uses it.

Gemini CLI (through its bundled @google/genai SDK) is pointed here with
``GOOGLE_GEMINI_BASE_URL`` and ``GEMINI_API_KEY``. It calls:

* ``POST /v1beta/models/<model>:streamGenerateContent?alt=sse``: the agent's turns,
  answered as server-sent events, one ``data: {candidates, usageMetadata}`` each;
* ``POST /v1beta/models/<model>:generateContent``: side questions (model routing,
  next-speaker checks, summaries), answered with one JSON object;
* ``POST /v1beta/models/<model>:countTokens``, ``GET /v1beta/models``: answered too.

The script (``mode``):

* ``"success"``: the first agent turn calls the CLI's own write-file tool (its name
  and argument names are read from the ``tools`` the CLI declares in the request)
  to create HELLO.txt; the turn that carries the tool's result gets a final text.
* ``"error"``: every model call is answered with HTTP ``status`` and the Google
  error JSON ``{"error": {"code", "message", "status"}}``; the message holds
  ``marker``.
* ``"loop"``: every agent turn calls a harmless read-only tool again (arguments
  alternating, so the CLI's loop detection stays quiet), so the CLI only stops on
  its own turn limit.
"""

from __future__ import annotations

import json
import os
import re

from harness import StandIn, json_response, sse_response

PROMPT_TOKENS = 1234
OUTPUT_TOKENS = 56
FINAL_TEXT = "Created HELLO.txt containing the word hello."

_STATUS_NAMES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL",
                 503: "UNAVAILABLE"}


def _declarations(body: dict) -> dict:
    """The function declarations of a request, by name."""
    found = {}
    for tool in (body or {}).get("tools") or []:
        for decl in tool.get("functionDeclarations") or []:
            if isinstance(decl, dict) and decl.get("name"):
                found[decl["name"]] = decl
    return found


def _parameter_names(decl: dict) -> list:
    schema = decl.get("parameters") or decl.get("parametersJsonSchema") or {}
    return list((schema.get("properties") or {}).keys())


def _function_responses(body: dict) -> list:
    """The functionResponse parts the request carries (tool results sent back)."""
    found = []
    for content in (body or {}).get("contents") or []:
        for part in content.get("parts") or []:
            if isinstance(part, dict) and "functionResponse" in part:
                found.append(part["functionResponse"])
    return found


def _workspace(body: dict):
    """The folder the CLI says it works in (its session context), or None."""
    text = json.dumps((body or {}).get("contents") or [])
    found = re.search(r"working in the directory: ([^\\\n\"]+)", text) or re.search(
        r"Workspace Directories:\*\*\\n\s+- ([^\\\n\"]+)", text)
    return found.group(1).strip() if found else None


class GeminiStandIn(StandIn):
    def __init__(self, mode: str = "success", status: int = 400, marker: str = "standin-marker",
                 file_name: str = "HELLO.txt", file_text: str = "hello\n"):
        super().__init__()
        self.mode = mode
        self.status = status
        self.marker = marker
        self.file_name = file_name
        self.file_text = file_text
        self.tool_calls = []  # (name, args) of every function call sent to the CLI

    # -- what was asked -------------------------------------------------------

    def agent_turns(self) -> list:
        """The requests for the agent's own turns (streamGenerateContent)."""
        return [r for r in self.requests if r["path"].endswith(":streamGenerateContent")]

    def model_calls(self) -> list:
        return [r for r in self.requests
                if r["path"].endswith((":streamGenerateContent", ":generateContent"))]

    # -- answers ----------------------------------------------------------------

    def handle(self, request: dict):
        path = request["path"]
        # The CLI keys its per-model stats by the modelVersion answered: echo the model.
        model = path.rpartition("/models/")[2].partition(":")[0] or "gemini-2.5-flash"
        if request["method"] == "GET" and path.rstrip("/").endswith("/models"):
            return json_response({"models": [{"name": "models/gemini-2.5-flash",
                                              "supportedGenerationMethods": [
                                                  "generateContent", "countTokens"]}]})
        if path.endswith(":countTokens"):
            return json_response({"totalTokens": PROMPT_TOKENS})
        if path.endswith(":streamGenerateContent"):
            if self.mode == "error":
                return self._error()
            chunks = self._turn(request["json"] or {})
            for chunk in chunks:
                chunk["modelVersion"] = model
            return sse_response([(None, chunk) for chunk in chunks])
        if path.endswith(":generateContent"):
            if self.mode == "error":
                return self._error()
            answer = self._side_answer(request["json"] or {})
            answer["modelVersion"] = model
            return json_response(answer)
        return json_response({"error": {"code": 404, "message": f"standin: no route {path}",
                                         "status": "NOT_FOUND"}}, 404)

    def _error(self):
        name = _STATUS_NAMES.get(self.status, "UNKNOWN")
        return json_response({"error": {"code": self.status, "status": name,
                                        "message": f"stand-in refuses: {self.marker}"}},
                             self.status)

    @staticmethod
    def _usage(prompt: int = PROMPT_TOKENS, output: int = OUTPUT_TOKENS) -> dict:
        return {"promptTokenCount": prompt, "candidatesTokenCount": output,
                "totalTokenCount": prompt + output}

    def _chunk(self, parts: list, finish: bool = True, usage: bool = True) -> dict:
        chunk = {"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]}
        if finish:
            chunk["candidates"][0]["finishReason"] = "STOP"
        if usage:
            chunk["usageMetadata"] = self._usage()
        return chunk

    def _call(self, name: str, args: dict) -> dict:
        self.tool_calls.append((name, args))
        return {"functionCall": {"name": name, "args": args}}

    def _turn(self, body: dict) -> list:
        decls = _declarations(body)
        if self.mode == "loop":
            name = next((n for n in ("list_directory", "glob", "read_file") if n in decls),
                        None)
            if name is None:
                return [self._chunk([{"text": "no read-only tool declared"}])]
            # Arguments alternate: the CLI stops a run by itself ("Loop detected, stopping
            # execution", exit 0) after 5 identical tool calls in a row.
            where = ("." if len(self.tool_calls) % 2 == 0 else "src")
            params = _parameter_names(decls[name])
            args = ({"dir_path": where} if "dir_path" in params else {"path": where}
                    if "path" in params else {"pattern": f"{where}/*"} if "pattern" in params
                    else {"file_path": "README.md"})
            return [self._chunk([self._call(name, args)])]
        # success: the write-file tool first, then a final answer
        if _function_responses(body):
            return [self._chunk([{"text": FINAL_TEXT[:10]}], finish=False, usage=False),
                    self._chunk([{"text": FINAL_TEXT[10:]}])]
        name = next((n for n in ("write_file", "WriteFile") if n in decls), None)
        if name is None:
            return [self._chunk([{"text": "standin: no write-file tool declared"}])]
        params = _parameter_names(decls[name])
        path_key = next((p for p in ("file_path", "path", "absolute_path") if p in params),
                        "file_path")
        text_key = next((p for p in ("content", "contents", "text") if p in params), "content")
        schema = decls[name].get("parameters") or decls[name].get("parametersJsonSchema") or {}
        path_doc = str(((schema.get("properties") or {}).get(path_key) or {}).get("description"))
        file_path = self.file_name
        if "absolute" in path_doc.lower() and _workspace(body):  # older CLIs want one
            file_path = os.path.join(_workspace(body), self.file_name)
        return [self._chunk([self._call(name, {path_key: file_path,
                                               text_key: self.file_text})])]

    def _side_answer(self, body: dict) -> dict:
        """A non-streamed question: JSON-schema answers get a fitting JSON object."""
        config = body.get("generationConfig") or {}
        schema = config.get("responseJsonSchema") or config.get("responseSchema")
        if schema:
            props = (schema.get("properties") or {})
            answer = {}
            for key, spec in props.items():
                if key == "next_speaker":
                    answer[key] = "user"
                elif key == "model_choice":
                    answer[key] = "flash"
                elif (spec or {}).get("type") in ("string", "STRING"):
                    answer[key] = "standin"
                elif (spec or {}).get("type") in ("boolean", "BOOLEAN"):
                    answer[key] = False
                elif (spec or {}).get("type") in ("number", "integer", "NUMBER", "INTEGER"):
                    answer[key] = 50  # e.g. the router's complexity_score, 1-100
            text = json.dumps(answer)
        else:
            text = "standin summary"
        return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                "finishReason": "STOP", "index": 0}],
                "usageMetadata": self._usage(10, 5)}
