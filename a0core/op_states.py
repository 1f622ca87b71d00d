"""The one vocabulary of operation states (``schemas/protocol/op_states.json``).

The app's outbox and sync screen and the dashboard's device and receipt pages say
the same thing in the same words: both read them from here, and a test fails
if either side keeps its own copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

from a0core.schemas import SchemaDefinitionError, schemas_dir

VERDICTS = ("applied", "duplicate", "waiting", "conflict", "rejected")
DEVICE_ONLY = ("pending", "queued", "sent", "restamped")


@dataclass(frozen=True)
class OpState:
    code: str
    vi: str
    en: str
    hint_vi: str
    hint_en: str
    device: bool   # exists only on the phone (never a server verdict)
    settled: bool  # the server will not change it any more

    def word(self, lang: str) -> str:
        return self.vi if lang == "vi" else self.en

    def hint(self, lang: str) -> str:
        return self.hint_vi if lang == "vi" else self.hint_en


@cache
def op_states() -> dict[str, OpState]:
    """Every state, in the file's order (the order a person reads them in)."""
    path = schemas_dir() / "protocol" / "op_states.json"
    raw = json.loads(path.read_text(encoding="utf-8"))["states"]
    states = {code: OpState(code, s["vi"], s["en"], s["hint_vi"], s["hint_en"],
                            bool(s["device"]), bool(s["settled"])) for code, s in raw.items()}
    if set(states) != {*VERDICTS, *DEVICE_ONLY} or any(
            s.device != (s.code in DEVICE_ONLY) for s in states.values()):
        raise SchemaDefinitionError(f"{path}: the states must be {DEVICE_ONLY + VERDICTS}")
    return states


def state_word(code: str, lang: str = "vi") -> str:
    """The word for a state; an unknown code (a newer server) is shown as it came."""
    found = op_states().get(code)
    return found.word(lang) if found else code
