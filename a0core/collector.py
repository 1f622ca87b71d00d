"""Python's cycle collector paused around work that makes many short-lived objects.

Ingesting a batch, building a pull page and opening one allocate tens of thousands of
objects that reference counting frees; the cycle collector would meanwhile walk every
live object again and again (about 15% of a batch's time, 6% of a page's). Every such
piece of work is bounded by a size limit, so pausing the collector for it bounds the
garbage left for later too; any cycle is collected once it is resumed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def paused() -> Iterator[None]:
    """The collector off for the block and back on after, if it was on (with several
    threads, whichever paused it resumes it)."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()
