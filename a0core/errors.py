"""Refusals with a stable machine code and a Vietnamese and an English message.

The catalogue lives in ``schemas/protocol/errors.json`` so that the app shows the
same words the server sends. Messages are ``str.format`` templates; parameters such
as ``{field}`` or ``{file}`` are filled from the error's context.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from a0core.schemas import schemas_dir


@cache
def catalogue() -> dict[str, dict[str, str]]:
    path = schemas_dir() / "protocol" / "errors.json"
    return json.loads(path.read_text(encoding="utf-8"))["errors"]


# parameters a refusal carries besides its messages: where, and (for a clock ahead,
# ``hlc_future``) the server's time and tolerance, so a device can tell whether its
# own clock is sane again
DETAILS = frozenset({"file", "record", "field", "server_time_ms", "max_ahead_ms"})


class _SafeDict(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def message(code: str, lang: str, **params: Any) -> str:
    entry = catalogue().get(code)
    if entry is None:
        raise KeyError(f"error code {code!r} is not in schemas/protocol/errors.json")
    return entry[lang].format_map(_SafeDict({k: v for k, v in params.items() if v is not None}))


def refusal_words(code: str, message_vi: str | None, message_en: str | None
                  ) -> tuple[str, str]:
    """What a person reads of a refusal from elsewhere (the server, a receipt): its own
    words; else this catalogue's, when they need no parameters; else a general sentence
    saying what to do, the code only as a note at its end (never the code alone)."""
    return _words(code, message_vi, message_en, "refusal_unexplained")


def warning_words(code: str, message_vi: str | None, message_en: str | None
                  ) -> tuple[str, str]:
    """The same for something to check on a record the server kept (``warning_unexplained``
    as the general sentence)."""
    return _words(code, message_vi, message_en, "warning_unexplained")


def _words(code: str, message_vi: str | None, message_en: str | None, unexplained: str
           ) -> tuple[str, str]:
    known = catalogue().get(code) or {}
    if known and "{" in known["vi"] + known["en"]:
        known = {}
    fallback = catalogue()[unexplained]
    return (message_vi or known.get("vi") or fallback["vi"].format(code=code),
            message_en or known.get("en") or fallback["en"].format(code=code))


class A0Error(Exception):
    """A refusal. ``params`` name where (file, record, field) and fill the messages."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        self.vi = message(code, "vi", **params)
        self.en = message(code, "en", **params)
        super().__init__(f"{code}: {self.en}")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "message_vi": self.vi, "message_en": self.en}
        out.update({k: v for k, v in self.params.items() if k in DETAILS})
        return out


class ValidationFailed(A0Error):
    """A record failed its form: carries every field error, not only the first."""

    def __init__(self, errors: list[A0Error], **params: Any) -> None:
        self.errors = errors
        super().__init__("record_invalid", count=len(errors), **params)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["errors"] = [e.to_dict() for e in self.errors]
        return out
