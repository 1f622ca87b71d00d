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


# what a pull page holds: decoded JSON, with strings that look like numbers in places
TRICKY = (st.sampled_from(["12619.99.1", "x:1.5", "[2e-5", ",-3.", "3f2e-5a1b", "1e+16", ":1",
                           "a.b", "e-", "."]) | st.text("0123456789.e+-:,[\"", max_size=8))
DECODED = st.recursive(
    SCALARS | TRICKY | st.sampled_from([1e-5, -3e-7, 1e16, 1e-10, 2.5, -0.0, 100.0]),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6) | TRICKY, inner, max_size=4), max_leaves=24)


@settings(max_examples=600, deadline=None)
@given(DECODED)
def test_decoded_canonical_is_the_json_definition(value):
    """The pull's encoder (no walk first; floats found in orjson's output) writes the
    definition's bytes for anything JSON decoding gives, floats and number-like
    strings included."""
    from a0core.envelope import canonical_decoded

    assert _encode(canonical_decoded, value) == _encode(canonical_json, value)


@pytest.mark.parametrize("value", [1e-5, -3e-7, 1e16, 1e300, 2.5, -2.0, 5e-324, 1.5e-9])
def test_every_float_is_found_in_orjsons_output(value):
    """orjson writes every float with a ``.`` or a signed exponent, and the finder
    sees each, wherever it stands: what the decoded path relies on."""
    import orjson

    from a0core.envelope import _holds_float

    for doc in ({"a": value}, [value], [1, value], {"a": [value, 1]}, {"a": {"b": -value}}):
        data = orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)
        assert _holds_float(data), data
    assert not _holds_float(orjson.dumps({"a": "12619.99.1", "b": "3f2e-5a", "c": [1, -2]}))


@pytest.mark.parametrize("value", [{"a": 2**64}, {"a": "\ud800"}, {1: "a"},
                                   {"a": type("S", (str,), {})("x")}])
def test_decoded_canonical_steps_aside_for_what_orjson_refuses(value):
    from a0core.envelope import canonical_decoded

    assert _encode(canonical_decoded, value) == _encode(canonical_json, value)


@settings(max_examples=300, deadline=None)
@given(DECODED)
def test_the_devices_reader_gives_what_strict_loads_gives(value):
    """What a device reads a pull page with (checked by the decoded encoder) reads
    exactly what the strict reader reads, or steps aside."""
    from a0core.envelope import _decoded_canonical_doc

    try:
        body = canonical_json(value)
    except ValueError:
        return
    fast = _decoded_canonical_doc(body)
    assert fast is not None or _canonical_loads(body) is None
    if fast is not None:
        assert fast == strict_loads(body) and canonical(fast) == body


@pytest.mark.parametrize("body", [
    b'{"ops":[],"ops":[1]}', b'{"a":NaN}', b'{"a":18446744073709551616}', b'{"b":1,"a":2}',
    b'{"a": 1}', b'{"a":"\\ud800"}', b'{"a":1.0e5}', b"\xff", b'{"a":"\\u00e9"}',
    b'{"a":1e-5}', b'{"a":0.00001}'])
def test_the_devices_reader_steps_aside_for_anything_not_canonical(body):
    from a0core.envelope import _decoded_canonical_doc

    assert _decoded_canonical_doc(body) is None
