"""orjson's fast path writes and reads exactly what the json definition does.

Every hash and signature covers :func:`canonical` bytes, so the fast encoder must
agree with :func:`canonical_json` byte for byte, and the fast body reader must
give the value ``strict_loads`` gives, or step aside (duplicates, NaN, big ints).
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from a0core.envelope import _canonical_loads, canonical, canonical_json, strict_loads

SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(-2**64, 2**65)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text()
           | st.text(st.characters(max_codepoint=0x40)) | st.text(st.characters(
               codec="utf-8", categories=["Cc", "Cf", "Zl", "Zp", "Zs", "Mn", "So", "Lo"])))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner)
                    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=20)


def _encode(fn, value):
    try:
        return fn(value)
    except (ValueError, TypeError) as exc:
        return type(exc)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_fast_canonical_is_the_json_definition(value):
    assert _encode(canonical, value) == _encode(canonical_json, value)


@settings(max_examples=300, deadline=None)
@given(JSON)
def test_fast_reader_gives_what_strict_loads_gives(value):
    try:
        body = canonical_json(value)
    except ValueError:
        return
    fast = _canonical_loads(body)
    strict = strict_loads(body)
    if fast is not None:
        assert fast == strict and canonical(fast) == body
        assert json.dumps(fast, sort_keys=True) == json.dumps(strict, sort_keys=True)


@pytest.mark.parametrize("body", [
    b'{"ops":[],"ops":[1]}', b'{"a":NaN}', b'{"a":18446744073709551616}', b'{"b":1,"a":2}',
    b'{"a": 1}', b'{"a":"\\ud800"}', b'{"a":1.0e5}', b"\xff", b'{"a":"\\u00e9"}'])
def test_fast_reader_steps_aside_for_anything_not_canonical(body):
    assert _canonical_loads(body) is None


def test_lone_surrogates_still_refused():
    with pytest.raises(ValueError):
        canonical({"a": "\ud800"})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=5), JSON, max_size=4), min_size=1, max_size=4))
def test_batch_body_plain_flag_and_op_hashes(extra):
    from a0core.envelope import op_hash, read_batch_body, sha256_hex

    ops = [{**fields, "seq": n + 1} for n, fields in enumerate(extra)]
    try:
        body = canonical_json({"ops": ops})
    except ValueError:
        return
    opened = read_batch_body({"seq": [1, len(ops)], "count": len(ops)}, body)
    assert opened.body_hash == sha256_hex(canonical_json(strict_loads(body)))
    has_float = b"." in body and any(
        isinstance(v, float) for op in strict_loads(body)["ops"] for v in _leaves(op))
    if opened.plain:
        assert not has_float
        for op in opened.ops:
            assert op_hash(op, known_plain=True) == op_hash(op)


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def test_ordinary_batch_body_is_plain_and_a_float_is_not():
    from a0core.envelope import read_batch_body

    op = {"seq": 1, "type": "upsert", "fields": {"name": "Nguyễn Văn An", "n": 3, "x": None}}
    header = {"seq": [1, 1], "count": 1}
    assert read_batch_body(header, canonical_json({"ops": [op]})).plain
    op["fields"]["w"] = 2.5
    assert not read_batch_body(header, canonical_json({"ops": [op]})).plain
