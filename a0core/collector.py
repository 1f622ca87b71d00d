"""Python's cycle collector paused around work that makes many objects and no cycles.

Ingesting a batch, building a pull page and opening one allocate tens of thousands of
objects that reference counting frees; a roll-up computation keeps millions to its end.
Meanwhile the cycle collector would walk every live object again and again (about 15%
of a batch's time, 6% of a page's, a fifth of a roll-up shard's). Such work makes no
cycles worth collecting; any it makes is collected once the collector is resumed.
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
