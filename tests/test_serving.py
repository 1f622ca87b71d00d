"""A gunicorn worker puts its start-up objects out of the collector's reach (issue 19):
a full collection then walks only what requests made, not the whole application."""

from __future__ import annotations

import gc

import server
from server import serving


def test_a_worker_settles_its_heap_once_its_app_is_made(monkeypatch) -> None:
    made = []
    monkeypatch.setattr(server, "create_app", lambda: made.append(gc.get_freeze_count())
                        or "app")
    try:
        held = [[n] for n in range(200_000)]  # what a worker holds after its start
        assert gc.get_freeze_count() == 0
        assert serving.Server.load(object.__new__(serving.Server)) == "app"
        assert made == [0] and gc.get_freeze_count() >= len(held)
    finally:
        gc.unfreeze()


def test_after_settling_a_full_collection_walks_only_new_objects() -> None:
    held = [[n] for n in range(200_000)]
    try:
        assert len(gc.get_objects()) > len(held)  # what each full collection walked
        serving.settle_heap()
        new = [[n] for n in range(1000)]
        assert len(gc.get_objects()) < len(held) // 10
        assert any(item is new[0] for item in gc.get_objects())
    finally:
        gc.unfreeze()
