"""Vietnamese first, English on request (Flask-Babel).

Message ids in templates and views are the Vietnamese text itself, so Vietnamese
needs no catalogue and can never show a missing translation; the English
catalogue is ``server/web/translations/en/LC_MESSAGES/messages.po``.

Only the ``.po`` is committed. At start-up :func:`compile_catalogues` compiles
each ``.po`` into ``<instance>/translations/<lang>/LC_MESSAGES/messages.mo`` when
the ``.mo`` is missing or older (the package directory may be read-only in
production; the instance folder is always writable), and Babel reads from there.
To add strings: ``pybabel extract -F server/web/babel.cfg -o /tmp/m.pot server/web``
then ``pybabel update -i /tmp/m.pot -d server/web/translations`` and translate;
``tests/test_web_i18n.py`` fails while a string has no English.

The language is the ``lang`` cookie (set by ``/lang/<code>``), else Vietnamese:
the browser's Accept-Language is ignored on purpose, because many commune PCs
run an English Windows while their users read Vietnamese.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request
from flask_babel import Babel, get_locale
from markupsafe import Markup

SOURCE = Path(__file__).resolve().parents[1] / "translations"
LANGUAGES = ("vi", "en")
DEFAULT = "vi"
COOKIE = "lang"


def compile_catalogues(source: Path, target: Path) -> list[Path]:
    """Compile every ``.po`` under ``source`` into ``target`` (same layout) if stale."""
    made = []
    for po in sorted(source.glob("*/LC_MESSAGES/*.po")):
        mo = target / po.relative_to(source).with_suffix(".mo")
        if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
            continue
        mo.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as handle:
            catalog = read_po(handle, locale=po.parts[-3])
        tmp = mo.with_suffix(".tmp")
        with tmp.open("wb") as handle:
            write_mo(handle, catalog, use_fuzzy=False)
        tmp.replace(mo)  # atomic: several workers may start at once
        made.append(mo)
    return made


def select_locale() -> str:
    chosen = request.cookies.get(COOKIE)
    if chosen in LANGUAGES:
        return chosen
    return DEFAULT


def vietnamese(value: object) -> Markup | str:
    """A proper name (a person, a place, a phone's own label) stays Vietnamese on an
    English page: ``lang="vi"`` tells a screen reader how to say it, and the English
    walk (``tests/test_web_walk.py``) that it is not an untranslated string. On a
    Vietnamese page the name is already in the page's language: nothing added."""
    if value is None or value == "":
        return ""
    if not _foreign():
        return str(value)
    return Markup('<span lang="vi">%s</span>') % value


def vietnamese_attr() -> Markup:
    """``lang="vi"`` for an element holding only names (an ``<option>``, a name's
    text box) on an English page; nothing on a Vietnamese one."""
    return Markup(' lang="vi"') if _foreign() else Markup("")


def _foreign() -> bool:
    locale = get_locale()
    return locale is not None and locale.language != DEFAULT


def init_app(app: Flask) -> None:
    compiled = Path(app.instance_path) / "translations"
    compile_catalogues(SOURCE, compiled)
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(compiled)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters["vi"] = vietnamese
    app.jinja_env.globals["vi_attr"] = vietnamese_attr
