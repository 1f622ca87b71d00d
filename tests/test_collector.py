"""The cycle collector paused around a batch or a page, and always resumed."""

from __future__ import annotations

import gc

import pytest

from a0core import collector


def test_paused_inside_and_resumed_after_even_on_error() -> None:
    assert gc.isenabled()
    with collector.paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector.paused():
        raise RuntimeError("a page that fails to open")
    assert gc.isenabled()


def test_a_collector_already_off_stays_off() -> None:
    gc.disable()
    try:
        with collector.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_nested_pauses_resume_once_the_outer_ends() -> None:
    with collector.paused():
        with collector.paused():
            pass
        assert not gc.isenabled()  # the inner one found it off and left it so
    assert gc.isenabled()
