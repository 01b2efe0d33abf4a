"""Property-based differential test of the YAML reader against PyYAML.

Needs hypothesis and PyYAML; skipped cleanly when either is missing (the runtime
needs neither). Documents are generated within the supported subset, in block and
flow style, with every kind of scalar, comments and block scalars; then mutated.
"""
from __future__ import annotations

import json
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
yaml = pytest.importorskip("yaml")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from architect_parallel import ConfigError, parse_yaml  # noqa: E402

SETTINGS = settings(max_examples=100, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Keys that YAML 1.1 reads as strings (not booleans, nulls or numbers).
KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True).filter(
    lambda k: k not in ("yes", "no", "on", "off", "true", "false", "null", "y", "n"))
TEXT = st.text(st.characters(blacklist_categories=("Cs",), max_codepoint=0xFFFF), max_size=12)
LINE = st.text(st.characters(whitelist_categories=("Lu", "Ll", "Nd", "Zs", "Po")), max_size=20)
WORD = st.from_regex(r"[A-Za-z][A-Za-z0-9 _.\-]{0,10}[A-Za-z0-9]", fullmatch=True)


def _single(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


PLAIN = st.one_of(
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "False", "yes", "off", "null", "~", ".inf", "-.Inf", ".nan",
                     "0x1F", "0o17", "017", "0b101", "1_000", "1:30", "2002-12-14",
                     "2001-12-14t21:59:43.10-05:00", "1e3", "1.5e+3", "+12"]),
    WORD,
)
# Single quotes have no escapes: printable characters only, on one line.
PRINTABLE = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), max_codepoint=0xFFFD),
                    max_size=12)
QUOTED = st.one_of(TEXT.map(json.dumps), PRINTABLE.map(_single))
# A scalar node: ("s", text that is valid in flow and block context).
SCALARS = st.one_of(PLAIN, QUOTED).map(lambda text: ("s", text))
BLOCK_TEXT = st.tuples(st.sampled_from(["|", ">", "|-", ">+", "|+", ">-"]),
                       st.lists(LINE.map(str.strip), min_size=1, max_size=4))
NODES = st.recursive(
    st.one_of(SCALARS, BLOCK_TEXT.map(lambda b: ("b", b))),
    lambda children: st.one_of(
        st.lists(children, max_size=4).map(lambda items: ("seq", items)),
        st.lists(st.tuples(KEYS, children), max_size=4, unique_by=lambda kv: kv[0]).map(
            lambda pairs: ("map", pairs))),
    max_leaves=12)


def _flowable(node) -> bool:
    return node[0] == "s" or (node[0] in ("seq", "map") and all(
        _flowable(child) for child in (node[1] if node[0] == "seq" else [v for _, v in node[1]])))


def _flow(node) -> str:
    if node[0] == "s":
        return node[1]
    if node[0] == "seq":
        return "[" + ", ".join(_flow(child) for child in node[1]) + "]"
    return "{" + ", ".join(f"{key}: {_flow(value)}" for key, value in node[1]) + "}"


def _block(node, indent: int, step: int, flow_ok: bool, comment: bool) -> list:
    """Lines of ``node`` as a block collection at ``indent``."""
    pad = " " * indent
    lines = []
    pairs = node[1] if node[0] == "map" else [(None, item) for item in node[1]]
    for key, value in pairs:
        lead = f"{pad}{key}:" if key is not None else f"{pad}-"
        note = "  # note" if comment else ""
        if value[0] == "s":
            lines.append(f"{lead} {value[1]}{note}")
        elif value[0] == "b":
            style, body = value[1]
            lines.append(f"{lead} {style}{note}")
            lines += [(" " * (indent + step) + line) if line else "" for line in body]
        elif not value[1] or (flow_ok and _flowable(value)):
            lines.append(f"{lead} {_flow(value)}{note}")
        else:
            lines.append(lead + note)
            lines += _block(value, indent + step, step, flow_ok, comment)
    return lines


def _render(node, step: int, flow_ok: bool, comment: bool) -> str:
    if node[0] in ("s", "b") or not node[1]:
        return _flow(node) + "\n" if node[0] != "b" else "x: 1\n"
    return "\n".join(["# generated"] + _block(node, 0, step, flow_ok, comment)) + "\n"


DOCUMENTS = st.builds(_render, NODES, st.sampled_from([1, 2, 4]), st.booleans(), st.booleans())


def same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def _agrees(text: str, must_accept: bool) -> None:
    try:
        got = parse_yaml(text)
    except ConfigError:
        if must_accept:
            raise
        return
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        pytest.fail(f"accepted {text!r} -> {got!r}; PyYAML rejects it: {exc}")
    assert same(got, expected), (text, got, expected)


@SETTINGS
@given(DOCUMENTS)
def test_documents_of_the_subset_read_as_pyyaml_reads_them(text):
    _agrees(text, must_accept=True)


@SETTINGS
@given(DOCUMENTS, st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(
    list(" \t\n-:#'\"[]{},|>&*!%@`?\\x0.") + ["  ", "\n  ", ": ", "- ", "\ufeff", "\x00"])), min_size=1, max_size=4))
def test_mutated_documents_are_read_as_pyyaml_reads_them_or_refused(text, edits):
    for position, insert in edits:
        position %= len(text) + 1
        text = text[:position] + insert + text[position + (position % 3 == 0):]
    _agrees(text, must_accept=False)  # and nothing but ConfigError may escape


@SETTINGS
@given(st.text(max_size=200))
def test_any_text_gives_a_value_or_a_config_error(text):
    _agrees(text, must_accept=False)
