"""Which characters the app may show that its fonts cannot draw.

Run under an X server by the UI tests: ``python -m tests.support.glyphs OUT.json``.
Every character of every string the app can show is rendered alone in each font
the app's theme uses, and compared with the rendering of a character no font
has (U+0FFF, unassigned): a font without a glyph draws its empty box for both.

The strings: every string constant of the app's code (``clients/kivy_app``, and
the applicability rules' sentences), every word of ``schemas/`` a person reads
(forms, code lists, the error catalogue, the operation states) and every unit
name of the official administrative lists (villages and areas are named like
them).
"""

from __future__ import annotations

import ast
import json
import os
import sys
import unicodedata
from pathlib import Path

os.environ.setdefault("KIVY_NO_ARGS", "1")
os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data" / "admin_units"
NO_GLYPH = "\u0fff"
PROBES = "⚠✓→"  # known to be absent from Roboto: the check can find what is missing


def code_strings() -> set[str]:
    """String constants of the app's code, docstrings aside (they are never shown)."""
    files = [*(ROOT / "clients" / "kivy_app").rglob("*.py"),
             ROOT / "a0core" / "applicability.py", ROOT / "a0core" / "op_states.py"]
    out: set[str] = set()
    for path in files:
        tree = ast.parse(path.read_text("utf-8"))
        docs = {id(n.body[0].value) for n in ast.walk(tree)
                if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                and n.body and isinstance(n.body[0], ast.Expr)}
        out |= {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
                and isinstance(n.value, str) and id(n) not in docs}
    return out


def json_strings(value: object, out: set[str]) -> set[str]:
    """Every string of a document but its descriptions (written for developers)."""
    if isinstance(value, str):
        out.add(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k != "description":
                json_strings(v, out)
    elif isinstance(value, list):
        for v in value:
            json_strings(v, out)
    return out


def shown_strings() -> set[str]:
    out = code_strings()
    schemas = ROOT / "schemas"
    for path in [*(schemas / "forms").rglob("*.json"), *(schemas / "fragments").glob("*.json"),
                 *(schemas / "codelists").glob("*.json"), schemas / "protocol" / "errors.json",
                 schemas / "protocol" / "op_states.json"]:
        json_strings(json.loads(path.read_text("utf-8")), out)
    for path in SHARED.glob("*.json"):  # the official unit names
        json_strings(json.loads(path.read_text("utf-8")), out)
    return out


def characters(strings: set[str]) -> list[str]:
    chars = {c for s in strings for c in s}
    return sorted(c for c in chars if not c.isspace()
                  and unicodedata.category(c) not in ("Cc", "Cf", "Zs"))


def main() -> int:
    from kivy.core.text import Label as CoreLabel
    from kivy.core.window import Window  # noqa: F401  (textures need a GL context)
    from kivymd.font_definitions import fonts  # registers KivyMD's Roboto family

    def pixels(text: str, font: str, bold: bool) -> bytes:
        label = CoreLabel(text=text, font_name=font, font_size=36, bold=bold)
        label.refresh()
        return bytes(label.texture.pixels)

    chars = characters(shown_strings())
    used = [("Roboto", False), ("Roboto", True), ("RobotoMedium", False)]
    missing: dict[str, list[str]] = {}
    probes: dict[str, list[str]] = {}
    registered = {f["name"] for f in fonts}
    for name, bold in used:
        assert name in registered, name
        key = f"{name}{'-bold' if bold else ''}"
        box = pixels(NO_GLYPH, name, bold)
        missing[key] = [c for c in chars if pixels(c, name, bold) == box]
        probes[key] = [c for c in PROBES if pixels(c, name, bold) == box]
    Path(sys.argv[1]).write_text(json.dumps(
        {"chars": len(chars), "missing": missing, "probes": probes,
         "sample": "".join(chars)}, ensure_ascii=False), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
