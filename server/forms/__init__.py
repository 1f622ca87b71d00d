"""Server-side forms: marshmallow schemas built from schemas/ at start-up.

The builder is :mod:`a0core.forms`, shared with the app so both validate with the
same rules. The server builds every form version it knows once, when the app is
created, so a broken definition stops the server at start-up instead of refusing
records one by one later.
"""

from __future__ import annotations

import hashlib
from functools import cache

from flask import Flask

from a0core.forms import FormSet


@cache
def formset() -> FormSet:
    return FormSet()


def init_app(app: Flask) -> None:
    app.extensions["a0sync.forms"] = formset()


@cache
def schemas_digest() -> str:
    """A hash of every file in schemas/: devices compare it to know when forms changed."""
    root = formset().registry.root
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.json")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()
