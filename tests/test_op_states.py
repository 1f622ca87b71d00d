"""One vocabulary of operation states (``schemas/protocol/op_states.json``), read by the
app and by the dashboard: no side keeps its own copy of the words, and what the
pages and the app say follows the file."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from a0core import op_states as vocabulary
from a0core.schemas import SCHEMAS_ENV, SchemaDefinitionError
from clients.kivy_app.core import outbox
from server.extensions import db
from server.models.sync import SyncBatch
from tests.support.web import Browser, build_world

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("a0core", "clients", "server")
SUFFIXES = {".py", ".html", ".po", ".kv", ".json", ".js"}


def copies(root: Path, phrases: list[str]) -> list[tuple[str, str]]:
    """(file, phrase) for every phrase written out as a literal outside the vocabulary:
    in quotes (code, catalogues) or between tags (templates)."""
    found = []
    patterns = [(p, re.compile(r"[\"'>]" + re.escape(p) + r"[\"'<]")) for p in phrases]
    for top in SOURCES:
        for path in (root / top).rglob("*"):
            if path.suffix not in SUFFIXES or "__pycache__" in path.parts:
                continue
            text = path.read_text("utf-8", errors="ignore")
            found += [(str(path.relative_to(root)), p) for p, rx in patterns if rx.search(text)]
    return found


def phrases() -> list[str]:
    return [w for s in vocabulary.op_states().values()
            for w in (s.vi, s.en, s.hint_vi, s.hint_en)]


def test_the_app_and_the_dashboard_keep_no_copy_of_the_words() -> None:
    assert copies(ROOT, phrases()) == []


def test_a_copy_is_found(tmp_path: Path) -> None:
    """The search above can fail: a template or a module with a word of its own."""
    (tmp_path / "server" / "web").mkdir(parents=True)
    (tmp_path / "clients").mkdir()
    (tmp_path / "a0core").mkdir()
    applied = vocabulary.op_states()["applied"]
    (tmp_path / "server" / "web" / "page.html").write_text(f"<td>{applied.vi}</td>")
    (tmp_path / "clients" / "outbox.py").write_text(f'WORDS = {{"sent": "{applied.en}"}}')
    assert sorted(copies(tmp_path, phrases())) == [
        ("clients/outbox.py", applied.en), ("server/web/page.html", applied.vi)]


def test_the_outbox_states_are_the_vocabulary() -> None:
    states = vocabulary.op_states()
    assert list(states) == ["pending", "queued", "sent", "applied", "duplicate", "waiting",
                            "conflict", "rejected", "restamped"]
    assert set(outbox.STATE_WORDS) == set(states)
    assert all(outbox.STATE_WORDS[c] == (s.vi, s.en) for c, s in states.items())
    assert set(outbox.UNSETTLED) == {c for c, s in states.items() if not s.settled}
    assert set(vocabulary.VERDICTS) == outbox.VERDICTS
    # one meaning, one word: no two states share a word in either language
    for lang in ("vi", "en"):
        words = [s.word(lang) for s in states.values()]
        assert len(set(words)) == len(words)


def test_a_vocabulary_without_a_state_is_refused(tmp_path: Path, monkeypatch) -> None:
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    path = tmp_path / "schemas" / "protocol" / "op_states.json"
    doc = json.loads(path.read_text("utf-8"))
    del doc["states"]["queued"]
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    monkeypatch.setenv(SCHEMAS_ENV, str(tmp_path / "schemas"))
    vocabulary.op_states.cache_clear()
    try:
        with pytest.raises(SchemaDefinitionError):
            vocabulary.op_states()
    finally:
        monkeypatch.delenv(SCHEMAS_ENV)
        vocabulary.op_states.cache_clear()


def test_the_dashboard_says_what_the_file_says(app, tmp_path: Path, monkeypatch) -> None:
    """The device and receipt pages change their words when the file does."""
    shutil.copytree(ROOT / "schemas", tmp_path / "schemas")
    path = tmp_path / "schemas" / "protocol" / "op_states.json"
    doc = json.loads(path.read_text("utf-8"))
    for code, state in doc["states"].items():
        state["vi"], state["en"] = f"VI-{code}", f"EN-{code}"
    path.write_text(json.dumps(doc, ensure_ascii=False), "utf-8")
    world = build_world(app)
    device = world.devices["C2"]
    batch_id = world.batches["C2"]
    browser = Browser(app)
    browser.login("canboxa")
    monkeypatch.setenv(SCHEMAS_ENV, str(tmp_path / "schemas"))
    vocabulary.op_states.cache_clear()
    try:
        receipt = browser.get(f"/dashboard/batches/{batch_id}").get_data(as_text=True)
        page = browser.get(f"/dashboard/devices/{device.id}").get_data(as_text=True)
        browser.get("/lang/en")
        english = browser.get(f"/dashboard/batches/{batch_id}").get_data(as_text=True)
    finally:
        monkeypatch.delenv(SCHEMAS_ENV)
        vocabulary.op_states.cache_clear()
    stored = db.session.get(SyncBatch, batch_id)
    assert f"VI-applied: {stored.counts['applied']}" in receipt
    assert receipt.count('<span class="tag applied">VI-applied</span>') == stored.op_count
    assert "VI-rejected: " in page and "VI-waiting: " in page
    assert "EN-applied" in english and "VI-applied" not in english
