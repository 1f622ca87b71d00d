"""``a0sync serve`` and ``a0sync scheduler``: how the server runs in production
(docs/deploy.md).

``serve`` runs gunicorn in this process: several worker processes, each with its
own application and database pool, each with a few threads (``gthread``: a long
export or a slow phone does not hold a whole process, and the timeout watches the
worker, not one request). Workers are recycled after a number of requests, so a
leak cannot grow for weeks. ``scheduler`` runs the nightly jobs in one process of
their own, so no worker carries them.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    """2 × cores + 1, at most 8: a batch waits on the database as much as on Python."""
    return min(2 * (os.cpu_count() or 1) + 1, 8)


def gunicorn_options(bind: str, workers: int, threads: int, timeout: int) -> dict[str, Any]:
    return {"bind": bind, "workers": workers, "threads": threads, "worker_class": "gthread",
            "timeout": timeout, "graceful_timeout": 30, "keepalive": 5,
            "max_requests": 2000, "max_requests_jitter": 200,
            "accesslog": "-", "errorlog": "-", "proc_name": "a0sync",
            # one client cannot make a worker read an endless header
            "limit_request_line": 8190, "limit_request_fields": 100}


class Server(BaseApplication):
    """gunicorn with the app factory: each worker creates its own application."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from server import create_app

        app = create_app()
        settle_heap()
        return app


def settle_heap() -> None:
    """Put what a worker holds from its start (the app, modules, models, forms: about
    150,000 objects) out of the garbage collector's reach. Each full collection walked
    all of them: 80–90 ms with every thread of the worker stopped, about once every 20
    pull pages, a quarter of a page's cost on average and worse at the tail (issue 19).
    Start-up garbage is collected first, so none of it is kept."""
    gc.collect()
    gc.freeze()


def serve(options: dict[str, Any]) -> None:
    Server(options).run()
