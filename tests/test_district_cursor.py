"""Page cursors: round trip, and any edit, other feed or other scope is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from a0core.errors import A0Error
from server.district.cursor import cursor_key, decode, encode

KEY = cursor_key("bí mật của máy chủ")
positions = st.dictionaries(st.text("0123456789", min_size=2, max_size=2),
                            st.integers(0, 2**63 - 1), max_size=40)


def refused(*args) -> bool:
    with pytest.raises(A0Error) as caught:
        decode(*args)
    return caught.value.code == "cursor_invalid"


@given(positions)
def test_round_trip(p) -> None:
    assert decode(KEY, "members", "user:a|district:001|-", encode(
        KEY, "members", "user:a|district:001|-", p)) == p
    assert decode(KEY, "members", "x", None) == {} == decode(KEY, "members", "x", "")


@given(positions, st.data())
def test_any_edit_is_refused(p, data) -> None:
    token = encode(KEY, "events", "user:a|province:01|-", p)
    i = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.sampled_from("ABCDEFabcdef0123456789-_.=é"))
    edited = token[:i] + char + token[i + 1:]
    if edited != token:
        assert refused(KEY, "events", "user:a|province:01|-", edited)
    if i:  # (an empty cursor is no cursor: start again)
        assert refused(KEY, "events", "user:a|province:01|-", token[:i])
    assert refused(KEY, "members", "user:a|province:01|-", token)       # another feed
    assert refused(KEY, "events", "user:b|province:01|-", token)        # another account
    assert refused(KEY, "events", "user:a|province:01|commune:00001", token)  # another unit
    assert refused(cursor_key("another server"), "events", "user:a|province:01|-", token)
