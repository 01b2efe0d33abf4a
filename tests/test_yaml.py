"""The built-in YAML reader: hard-coded expectations, plus PyYAML as an oracle where installed."""
from __future__ import annotations

import datetime
import inspect
import math
import random
import re
import sys

import pytest

from architect_parallel import ConfigError, _YamlReader, parse_yaml

UTC = datetime.timezone.utc


def tz(hours: int, minutes: int = 0) -> datetime.timezone:
    return datetime.timezone(datetime.timedelta(hours=hours, minutes=minutes))


REALISTIC = """\
# Project configuration
---
llm:
  provider: openai          # which backend
  model: "gpt-4o-mini"
  temperature: 0.2
  max_tokens: 4_096
  timeout: 1:30             # sexagesimal: 90 seconds
  retry: {attempts: 3, backoff: 1.5, on: [429, 500]}
  api_key: null

agents:
  planner:
    enabled: yes
    tools:
      - search
      - name: shell
        allow: [ls, cat]
        deny: []
    prompt: |
      You are a planner.
        Indented line stays.

      Be brief.
  # a comment between keys
  coder:
    enabled: off
    tags: ['a#1', "b: 2"]
    notes: >-
      folded text
      on two lines
    started: 2024-01-15

parallel_runs:
  workers: 3
  budget_per_worker: null   # unlimited
  stop_on_error: true
  ids:
  - 1
  - 0x10
  - ~
...
"""

REALISTIC_VALUE = {
    'llm': {'provider': 'openai', 'model': 'gpt-4o-mini', 'temperature': 0.2,
            'max_tokens': 4096, 'timeout': 90,
            'retry': {'attempts': 3, 'backoff': 1.5, True: [429, 500]},
            'api_key': None},
    'agents': {
        'planner': {
            'enabled': True,
            'tools': ['search', {'name': 'shell', 'allow': ['ls', 'cat'], 'deny': []}],
            'prompt': 'You are a planner.\n  Indented line stays.\n\nBe brief.\n'},
        'coder': {'enabled': False, 'tags': ['a#1', 'b: 2'],
                  'notes': 'folded text on two lines',
                  'started': datetime.date(2024, 1, 15)}},
    'parallel_runs': {'workers': 3, 'budget_per_worker': None,
                      'stop_on_error': True, 'ids': [1, 16, None]},
}

ESCAPES = r'"\0\a\b\t\	\n\v\f\r\e\ \"\/\\\N\_\L\P\x41\u00e9\U0001F600"'

VALID = [
    # -- block collections --
    ('a: 1\nb: two\n', {'a': 1, 'b': 'two'}),
    ('a:\n  b:\n    c: 3\n  d: 4\ne: 5\n', {'a': {'b': {'c': 3}, 'd': 4}, 'e': 5}),
    ('- a\n- b\n', ['a', 'b']),
    ('key:\n- a\n- b\nnext: 1\n', {'key': ['a', 'b'], 'next': 1}),
    ('key:\n    - a\n    - b\n', {'key': ['a', 'b']}),
    ('- name: x\n  val: 1\n- name: y\n', [{'name': 'x', 'val': 1}, {'name': 'y'}]),
    ('- - a\n  - b\n- - c\n', [['a', 'b'], ['c']]),
    ('- - - deep\n', [[['deep']]]),
    ('- a:\n  - 1\n  - 2\n  b: 3\n', [{'a': [1, 2], 'b': 3}]),
    ('- - a: 1\n    b: 2\n', [[{'a': 1, 'b': 2}]]),
    ('a:\nb: 2\nc:\n', {'a': None, 'b': 2, 'c': None}),
    ('-\n- a\n-\n', [None, 'a', None]),
    ('-\n  a: 1\n', [{'a': 1}]),
    ('a:\n  1\n', {'a': 1}),
    ('a:    # comment\n  b: 1\n', {'a': {'b': 1}}),
    ('a:\n    b: 1\n    c:\n      - x\nd: 2\n', {'a': {'b': 1, 'c': ['x']}, 'd': 2}),
    ('a:\n- b\n c\n', {'a': ['b c']}),
    ('a key: v\n"quoted key": 1\n\'single\': 2\n', {'a key': 'v', 'quoted key': 1, 'single': 2}),
    ('名前: 値\n', {'名前': '値'}),
    ('- [a, b]\n- {c: d}\n', [['a', 'b'], {'c': 'd'}]),
    # -- flow collections --
    ('[a, b, c]', ['a', 'b', 'c']),
    ('{a: 1, b: [x, y]}', {'a': 1, 'b': ['x', 'y']}),
    ('[[1, 2], {a: [b, {c: d}]}, []]', [[1, 2], {'a': ['b', {'c': 'd'}]}, []]),
    ('a: [a, b,]\nb: {x: 1,}\n', {'a': ['a', 'b'], 'b': {'x': 1}}),
    ('a: []\nb: {}\n', {'a': [], 'b': {}}),
    ('a: [\n  1,  # one\n  2,\n  # a comment line\n  3\n]\n', {'a': [1, 2, 3]}),
    ('{\n  a: 1,\n  b: 2\n}\n', {'a': 1, 'b': 2}),
    ("[a:b, 'c', http://x.y/z, a b]", ['a:b', 'c', 'http://x.y/z', 'a b']),
    ('{a, b: 2}', {'a': None, 'b': 2}),
    ('{"a":1}', {'a': 1}),
    ('{a:1}', {'a:1': None}),
    ('{a: , b: 1}', {'a': None, 'b': 1}),
    ('a: [1,\n2]\n', {'a': [1, 2]}),
    ('[a#b, c]', ['a#b', 'c']),
    ('[a\n  b, c\n]', ['a b', 'c']),
    ('- "a" # c\n- \'b\'\n', ['a', 'b']),
    # -- plain scalars --
    ('a: this is\n  folded text\n\n  new para\nb: 1\n',
     {'a': 'this is folded text\nnew para', 'b': 1}),
    ('a\nb\n', 'a b'),
    ('key: x\n  - y\n', {'key': 'x - y'}),
    ('- a\n - b\n', ['a - b']),
    ('a: b#c\nd: e # comment\n', {'a': 'b#c', 'd': 'e'}),
    ('a: x   y\nb: z   \n', {'a': 'x   y', 'b': 'z'}),
    ('a: -x\nb: ?y\nc: :z\n', {'a': '-x', 'b': '?y', 'c': ':z'}),
    ('- -1\n- - -2\n', [-1, [-2]]),
    ('url: http://example.com:8080/x\ntime: 12:30\n',
     {'url': 'http://example.com:8080/x', 'time': 750}),
    ('a: 1 #\tcomment with tab\n', {'a': 1}),
    # -- quoted scalars --
    ("a: 'it''s # not a comment'\n", {'a': "it's # not a comment"}),
    (ESCAPES, '\0\a\b\t\t\n\v\f\r\x1b "/\\\x85\xa0\u2028\u2029A\u00e9\U0001F600'),
    ('"a\\\n  b"', 'ab'),
    ("a: 'one\n  two\n\n  three'\n", {'a': 'one two\nthree'}),
    ('"x \n  y"', 'x y'),
    ('a: "x\ty"\n', {'a': 'x\ty'}),
    ("'a\\n\"b'", 'a\\n"b'),
    ('a: \'1\'\nb: "true"\nc: \'null\'\nd: ""\n', {'a': '1', 'b': 'true', 'c': 'null', 'd': ''}),
    ('"a # b"  # c', 'a # b'),
    # -- comments --
    ('# top\na: 1 # one\n# mid\n\nb: 2\n# end', {'a': 1, 'b': 2}),
    # -- implicit typing --
    ("[~, null, Null, NULL, '', nil, NuLL]", [None, None, None, None, '', 'nil', 'NuLL']),
    ('[yes, Yes, YES, no, No, NO, true, True, TRUE, false, False, FALSE]',
     [True, True, True, False, False, False, True, True, True, False, False, False]),
    ('[on, On, ON, off, Off, OFF, y, n, TrUe]',
     [True, True, True, False, False, False, 'y', 'n', 'TrUe']),
    ('[0, -0, +1, 1_000, 0b101, -0b1_1, 017, 0_7, 0x1F, +0x_1, 0o17, 09, 1:30, -1:30:00]',
     [0, 0, 1, 1000, 5, -3, 15, 7, 31, 1, '0o17', '09', 90, -5400]),
    ('[1.0, -1.5, 1., 0., .5, 1.0e+3, 1e3, 1.0e3, 1e+3, 1_0.5, 1:30.5, 6.02e+23, -.5]',
     [1.0, -1.5, 1.0, 0.0, 0.5, 1000.0, '1e3', '1.0e3', '1e+3', 10.5, 90.5, 6.02e23, '-.5']),
    ('[.inf, +.Inf, -.INF, .infinity, 190:20:30.15]',
     [math.inf, math.inf, -math.inf, '.infinity', 685230.15]),
    ('- 2001-12-14\n- 2001-12-14t21:59:43.10-05:00\n- 2001-12-14 21:59:43.10 -5\n'
     '- 2001-12-14T21:59:43Z\n- 2001-12-14 21:59:43\n- 2001-1-2T1:02:03.1234567+05:30\n'
     '- 2001-1-2\n- 2001-12-14 21:59\n',
     [datetime.date(2001, 12, 14),
      datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=tz(-5)),
      datetime.datetime(2001, 12, 14, 21, 59, 43, 100000, tzinfo=tz(-5)),
      datetime.datetime(2001, 12, 14, 21, 59, 43, tzinfo=UTC),
      datetime.datetime(2001, 12, 14, 21, 59, 43),
      datetime.datetime(2001, 1, 2, 1, 2, 3, 123456, tzinfo=tz(5, 30)),
      '2001-1-2', '2001-12-14 21:59']),
    ('2: a\ntrue: b\n~: c\n1.5: d\n2001-01-01: e\n-1: f\n',
     {2: 'a', True: 'b', None: 'c', 1.5: 'd', datetime.date(2001, 1, 1): 'e', -1: 'f'}),
    ('{1: a, "1": b}', {1: 'a', '1': 'b'}),
    # -- documents --
    ('---\na: 1\n', {'a': 1}),
    ('--- # comment\na: 1\n...\n', {'a': 1}),
    ('--- a\n', 'a'),
    ('---\n- a\n...\n# trailing comment\n', ['a']),
    ('a: 1\n...\n...\n', {'a': 1}),
    ('', None),
    ('# only a comment\n\n', None),
    ('---\n', None),
    ('---\n...\n', None),
    ('hello world\n', 'hello world'),
    ("'quoted'", 'quoted'),
    ('42', 42),
    ('[1, 2]\n', [1, 2]),
    ('--- |\n  text\n', 'text\n'),
    ('a: ---\nb: ...x\n', {'a': '---', 'b': '...x'}),
    # -- block scalars --
    ('a: |\n  line1\n  line2\n', {'a': 'line1\nline2\n'}),
    ('a: |-\n  x\n\n', {'a': 'x'}),
    ('a: |+\n  x\n\n', {'a': 'x\n\n'}),
    ('a: |\n  x\n\n\nb: 1\n', {'a': 'x\n', 'b': 1}),
    ('a: >\n  one\n  two\n\n  three\n    indented\n  four\n',
     {'a': 'one two\nthree\n  indented\nfour\n'}),
    ('a: >\n\n  lead\n  blank\n\n\n  two blanks\n', {'a': '\nlead blank\n\ntwo blanks\n'}),
    ('a: |2\n    x\n  y\n', {'a': '  x\ny\n'}),
    ('- >-1\n  x\n   y\n', [' x\n  y']),
    ('a: |+2 # keep\n   x\n\nb: 1\n', {'a': ' x\n\n', 'b': 1}),
    ('a: | # comment\n  x # not a comment\n', {'a': 'x # not a comment\n'}),
    ('a: |\n  x\tand tab\n', {'a': 'x\tand tab\n'}),
    ('a: >\n  x\n  y\n', {'a': 'x y\n'}),
    ('a: |\nb: 1\n', {'a': '', 'b': 1}),
    ('- |\n  a\n- >\n  b\n', ['a\n', 'b\n']),
    ('|\n text\n', 'text\n'),
    # -- BOM and line endings --
    ('\ufeffa: 1\n', {'a': 1}),
    ('a: 1\r\nb:\r\n  - x\r\n', {'a': 1, 'b': ['x']}),
    ('a: |\r\n  x\r\n  y\r\n', {'a': 'x\ny\n'}),
    ("a: 'p\r\n  q'\r\n", {'a': 'p q'}),
    ('a: 1\rb: 2\r', {'a': 1, 'b': 2}),
    # -- a whole config file --
    (REALISTIC, REALISTIC_VALUE),
    # -- nesting well within the limit --
    ('[' * 40 + ']' * 40, eval('[' * 40 + ']' * 40)),
    ('\n'.join(' ' * i + 'k%d:' % i for i in range(40)) + ' end\n',
     eval('{"k0": ' + ''.join('{"k%d": ' % i for i in range(1, 40)) + '"end"' + '}' * 40)),
]

INVALID = [
    ('a: &x 1\n', 1),
    ('a: 1\nb: *x\n', 2),
    ('a: &x 1\nb: *x\n', 1),
    ('a: !!str 1\n', 1),
    ('%YAML 1.1\n---\na: 1\n', 1),
    ('? a\n: b\n', 1),
    ('a: [?x]\n', 1),
    ('a: 1\n---\nb: 2\n', 2),
    ('a\n---\n', 2),
    ('a: 1\n...\nb: 2\n', 3),
    ('a:\n\tb: 1\n', 2),
    ('a: 1\t# tab before comment\n', 1),
    ('a: 1\nb: 2\na: 3\n', 3),
    ('1: a\n1.0: b\n', 2),
    ('true: a\n1: b\n', 2),
    ('{x: 1, "x": 2}', 1),
    ('{[a]: 1}', 1),
    ('[a, b: 1]', 1),
    ('a:\n  b: 1\n c: 2\n', 3),
    ('a:\n  - 1\n - 2\n', 3),
    ('a:\n  - b\n  c: d\n', 3),
    ('- a\nb: c\n', 2),
    ('a\nb: c\n', 1),  # the line without ':'
    ('a: 1\n  b: 2\n', 2),
    ('a: b: c\n', 1),
    ("a: 'unterminated\nb: 2\n", 1),
    ('a: "x\n---\n"', 1),
    ('a: [1, 2\nb: 3\n', 1),  # where the '[' opened
    ('a: {b: 1\n', 1),
    ('a: @x\n', 1),
    ('a: `x`\n', 1),
    ('- ,a\n', 1),
    ('a: ]\n', 1),
    ('a: %x\n', 1),
    ('a: - b\n', 1),
    ('a: "x" y\n', 1),
    ('a: "x"#c\n', 1),
    ('[a, , b]', 1),
    ('{a: 1 b: 2}', 1),
    ('"a\nb": 1\n', 2),
    ('a: |0\n  x\n', 1),
    ('a: |x\n', 1),
    ('a: "\\q"\n', 1),
    ('a: "\\x4"\n', 1),
    ('a: "\\U00110000"\n', 1),
    ('a: 1\nb: 2001-13-45\n', 2),
    ('a: 0x_\n', 1),
    ('a: 1\nb: <<\n', 2),
    ('<<: {a: 1}\n', 1),
    ('=: 1\n', 1),
    ('a: 1\nb: x\x01\n', 2),
    ('...\n', 1),
    ('[' * 1000 + ']' * 1000, 1),
    ('x:\n' + '- ' * 150 + 'deep\n', 2),
    ('a: [b]c\n', 1),
    ('a: 1\n- b\n', 2),
]

INVALID_TYPES = [b'a: 1', None, 42]


def _ids(value: object) -> str:
    """Short test ids for long documents."""
    return repr(value)[:40] if isinstance(value, str) else ''


def same(a: object, b: object) -> bool:
    """Equal values of identical types (nan equals nan; bool is not int)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return (len(a) == len(b)
                and all(same(k, j) and same(a[k], b[j]) for k, j in zip(a, b)))
    if isinstance(a, datetime.datetime):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b


@pytest.mark.parametrize('text,expected', VALID, ids=_ids)
def test_valid(text, expected):
    assert same(parse_yaml(text), expected)


def test_nan():
    value = parse_yaml('[.nan, .NaN, .NAN, -.nan]')
    assert all(type(x) is float and math.isnan(x) for x in value[:3])
    assert value[3] == '-.nan'


@pytest.mark.parametrize('text,expected', VALID, ids=_ids)
def test_matches_pyyaml(text, expected):
    yaml = pytest.importorskip('yaml')
    assert same(parse_yaml(text), yaml.safe_load(text))


@pytest.mark.parametrize('text,line', INVALID, ids=_ids)
def test_invalid(text, line):
    with pytest.raises(ConfigError) as info:
        parse_yaml(text)
    assert re.match(r'line \d+: \S', str(info.value)), str(info.value)
    assert str(info.value).startswith('line %d: ' % line), str(info.value)


@pytest.mark.parametrize('value', INVALID_TYPES)
def test_not_a_string(value):
    with pytest.raises(ConfigError, match='^line 1: '):
        parse_yaml(value)


# Documented refusals: PyYAML accepts these, we raise ConfigError.
UNSUPPORTED = {'a: &x 1\n', 'a: &x 1\nb: *x\n', 'a: !!str 1\n', '%YAML 1.1\n---\na: 1\n',
               '? a\n: b\n', 'a: [?x]\n', 'a: 1\nb: 2\na: 3\n', '1: a\n1.0: b\n',
               'true: a\n1: b\n', '{x: 1, "x": 2}', '[a, b: 1]', '<<: {a: 1}\n',
               '=: 1\n', 'a: "x"#c\n', 'x:\n' + '- ' * 150 + 'deep\n'}


@pytest.mark.parametrize('text,line', INVALID, ids=_ids)
def test_invalid_agrees_with_pyyaml(text, line):
    yaml = pytest.importorskip('yaml')
    try:
        yaml.safe_load(text)
    except Exception:
        assert text not in UNSUPPORTED
    else:
        assert text in UNSUPPORTED


def test_recursion_error_becomes_config_error():
    def nested_call(depth: int) -> object:
        return parse_yaml('[' * 90 + ']' * 90) if depth == 0 else nested_call(depth - 1)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack()) + 150)
    try:
        with pytest.raises(ConfigError, match='^line 1: '):
            nested_call(20)
    finally:
        sys.setrecursionlimit(limit)


def test_key_lines():
    reader = _YamlReader(REALISTIC)
    assert same(reader.read(), REALISTIC_VALUE)
    lines = reader.key_lines
    assert lines[('llm',)] == 3
    assert lines[('llm', 'retry', 'attempts')] == 9
    assert lines[('llm', 'retry', True)] == 9
    assert lines[('agents', 'planner', 'tools', 1, 'name')] == 17
    assert lines[('agents', 'planner', 'tools', 1, 'deny')] == 19
    assert lines[('agents', 'coder', 'started')] == 32
    assert lines[('parallel_runs',)] == 34
    assert lines[('parallel_runs', 'workers')] == 35
    assert lines[('parallel_runs', 'budget_per_worker')] == 36
    assert len(lines) == 29


def test_key_lines_in_sequences():
    text = 'agents:\n  - name: a\n    opts: {x: 1}\n  - name: b\n'
    reader = _YamlReader(text)
    assert reader.read() == {'agents': [{'name': 'a', 'opts': {'x': 1}}, {'name': 'b'}]}
    assert reader.key_lines == {
        ('agents',): 1, ('agents', 0, 'name'): 2, ('agents', 0, 'opts'): 3,
        ('agents', 0, 'opts', 'x'): 3, ('agents', 1, 'name'): 4}


def test_key_lines_simple():
    reader = _YamlReader('parallel_runs:\n  workers: 3\n')
    assert reader.read() == {'parallel_runs': {'workers': 3}}
    assert reader.key_lines == {('parallel_runs',): 1, ('parallel_runs', 'workers'): 2}
    assert _YamlReader('- 1\n').key_lines == {}


_ALPHABET = ' \n\n\n  -:#[]{},"\'|>?!&*%@`.0123456789aeZxT_+\t\r\\~\ufeff\u2028'


def _mutate(rng: random.Random, text: str) -> str:
    """Apply a few random character, line and indentation edits."""
    for _ in range(rng.randint(1, 3)):
        op = rng.randrange(6)
        pos = rng.randint(0, len(text))
        if op == 0:
            text = text[:pos] + rng.choice(_ALPHABET) + text[pos:]
        elif op == 1 and text:
            text = text[:pos] + text[pos + 1:]
        elif op == 2 and text:
            text = text[:pos] + rng.choice(_ALPHABET) + text[pos + 1:]
        elif op == 3:
            lines = text.split('\n')
            i = rng.randrange(len(lines))
            lines.insert(rng.randrange(len(lines) + 1), lines[i])
            text = '\n'.join(lines)
        elif op == 4:
            lines = text.split('\n')
            i = rng.randrange(len(lines))
            lines[i] = ' ' * rng.randint(0, 4) + lines[i].lstrip(' ')
            text = '\n'.join(lines)
        else:
            end = min(len(text), pos + rng.randint(1, 20))
            text = text[:pos] + text[pos:end][::-1] + text[end:]
    return text


def test_fuzz_never_wrong():
    try:
        import yaml
    except ImportError:
        yaml = None
    rng = random.Random(20240615)
    corpus = [text for text, _ in VALID + INVALID if len(text) < 2000]
    accepted = 0
    for _ in range(3000):
        text = _mutate(rng, rng.choice(corpus))
        try:
            got = parse_yaml(text)
        except ConfigError as exc:
            assert re.match(r'line [1-9]\d*: \S', str(exc)), (text, str(exc))
            continue
        accepted += 1
        if yaml is not None:
            try:
                expected = yaml.safe_load(text)
            except Exception as exc:    # PyYAML rejects: so must we
                pytest.fail('accepted %r, PyYAML raised %s' % (text, exc))
            assert same(got, expected), (text, got, expected)
    assert accepted > 300
