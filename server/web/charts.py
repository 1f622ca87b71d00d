"""Small charts drawn on the server as inline SVG (no script, nothing fetched).

Pure functions: numbers in, an SVG string out (every text escaped). Each chart has a
``viewBox`` and no fixed size, so it scales with the page; the drawing is narrow
(:data:`WIDTH` units) and its text large (:data:`SIZE`) so that on a phone's 390 px the
letters still read at 11 px or more, and the stylesheet caps its width on a laptop.
Nothing is cut: a long name (a method, a unit) goes on its own line(s) above its bar,
wrapped between words; when months crowd the axis, every other one is labelled
(always the last), each whole (``T1/26``, ``Jan 26``); numbers are written as the
page's language writes them (:mod:`server.formats`). Colours are
presentation attributes, not ``style=``, because the dashboard's
Content-Security-Policy forbids inline styles; each mark has a ``<title>`` so a
screen reader (or a hover) gives the exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from math import ceil
from textwrap import wrap

from server import formats

COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030", "#319795",
           "#718096", "#d53f8c", "#4a5568")
SIZE = 14  # user units: 11 px and more once the drawing is squeezed onto a phone
FONT = f'font-family="sans-serif" font-size="{SIZE}"'
WIDTH = 400
CHAR = 0.6 * SIZE  # a generous width of one letter, to keep text from touching text


def _fmt(value: float) -> str:
    return formats.num(value)


def _is_month(category: str) -> bool:
    return len(category) == 7 and category[4] == "-"


def _axis(category: str) -> str:
    """A month category as the axis shows it, whole but short (``T1/26``)."""
    return formats.month_short(category) if _is_month(category) else category


def _tip(category: str) -> str:
    """A month category in a mark's tooltip, in full (``01/2026``)."""
    return formats.month(category) if _is_month(category) else category


def _text_w(text: str) -> float:
    return len(text) * CHAR


def _labelled(categories: Sequence[str], spacing: float) -> set[int]:
    """The categories whose axis label is drawn: all when they fit side by side, else
    every other (or third...) counting back from the last, the month asked for."""
    widest = max((_text_w(_axis(c)) for c in categories), default=0)
    every = max(1, ceil((widest + CHAR) / max(spacing, 1)))
    last = len(categories) - 1
    return {i for i in range(len(categories)) if (last - i) % every == 0}


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000,
                 20000, 50000, 100000, 200000, 500000, 1000000):
        if value <= step:
            return float(step)
    return float(value)


def _svg(width: int, height: int, label: str, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" '
            f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMinYMin meet" '
            f'aria-label="{escape(label)}">' + "".join(body) + "</svg>")


def _legend(names: Sequence[str], x: int, y: int) -> list[str]:
    out = []
    for i, name in enumerate(names):
        out.append(f'<rect x="{x:.0f}" y="{y}" width="{SIZE - 2}" height="{SIZE - 2}" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{x + SIZE + 2:.0f}" y="{y + SIZE - 3}" {FONT}>{escape(name)}</text>')
        x += SIZE + 2 + _text_w(name) + 2 * SIZE
    return out


def grouped_bars(label: str, categories: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float]]], *,
                 width: int = WIDTH, height: int = 230) -> str:
    """Vertical bars, one group per category (e.g. month), one bar per series."""
    peak = _nice_max(max((v for _, vals in series for v in vals), default=0))
    left, bottom, top = ceil(_text_w(_fmt(peak))) + 6, SIZE + 14, SIZE + 14
    plot_w, plot_h = width - left - 10, height - bottom - top
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
            f'stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{_fmt(peak)}</text>',
            f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {FONT}>0</text>']
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    labelled = _labelled(categories, group_w)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else 0
            h = plot_h * value / peak
            body.append(f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                        f'width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(_tip(category))} '
                        f'{escape(name)}: {_fmt(value)}</title></rect>')
        if c in labelled:
            body.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - 8}" '
                        f'text-anchor="middle" {FONT}>{escape(_axis(category))}</text>')
    body += _legend([name for name, _ in series], left, 4)
    return _svg(width, height, label, body)


def _not_computable(x: float, y: float, tip: str, anchor: str = "middle") -> str:
    """The mark of a ratio with nothing to divide by (:data:`formats.NOT_COMPUTABLE`)
    where its point or bar would be: never drawn as a 0."""
    mark = formats.NOT_COMPUTABLE
    return (f'<text class="not-computable" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" '
            f'fill="{COLOURS[-1]}" {FONT}><title>{escape(tip)}: {mark}</title>{mark}</text>')


def line(label: str, categories: Sequence[str], values: Sequence[float | None], *,
         width: int = WIDTH, height: int = 210, reference: float | None = None) -> str:
    """A line over a ratio by category; ``None`` (nothing to divide by that month)
    breaks it and is marked "x" on the axis."""
    known = [v for v in values if v is not None]
    peak = _nice_max(max([*known, reference or 0], default=0))
    # room on the left for the top number, on the right for the last month's whole label
    right = ceil(max((_text_w(_axis(c)) for c in categories[-1:]), default=0) / 2) + 4
    left, bottom, top = ceil(_text_w(_fmt(peak))) + 6, SIZE + 14, SIZE + 4
    plot_w, plot_h = width - left - right, height - bottom - top
    step = plot_w / max(len(categories) - 1, 1)
    labelled = _labelled(categories, step)

    def y(v: float) -> float:
        return top + plot_h - plot_h * v / peak

    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
            f'stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{_fmt(peak)}</text>']
    if reference is not None:
        body.append(f'<line x1="{left}" y1="{y(reference):.1f}" x2="{left + plot_w}" '
                    f'y2="{y(reference):.1f}" stroke="#aaa" stroke-dasharray="4 3"/>'
                    f'<text x="{left + plot_w - 2}" y="{y(reference) - 3:.1f}" text-anchor="end" '
                    f'{FONT}>{_fmt(reference)}</text>')
    points = []
    for i, (category, value) in enumerate(zip(categories, values, strict=False)):
        x = left + i * step
        if i in labelled:
            body.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" {FONT}>'
                        f'{escape(_axis(category))}</text>')
        if value is None:
            body.append(_not_computable(x, top + plot_h - 4, _tip(category)))
            if len(points) > 1:
                body.append(f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="2" '
                            f'points="{" ".join(points)}"/>')
            points = []
            continue
        points.append(f"{x:.1f},{y(value):.1f}")
        body.append(f'<circle class="point" cx="{x:.1f}" cy="{y(value):.1f}" r="3" '
                    f'fill="{COLOURS[0]}"><title>{escape(_tip(category))}: {_fmt(value)}</title>'
                    f'</circle>')
    if len(points) > 1:
        body.append(f'<polyline fill="none" stroke="{COLOURS[0]}" stroke-width="2" '
                    f'points="{" ".join(points)}"/>')
    return _svg(width, height, label, body)


def horizontal_bars(label: str, items: Sequence[tuple[str, float | None]], *,
                    width: int = WIDTH, maximum: float | None = None, suffix: str = "",
                    names: bool = False) -> str:
    """One labelled horizontal bar per item (method mix, completeness by unit): the name
    whole above its bar (wrapped between words when long), the number after it; a
    ratio with nothing to divide by (None) no bar but "x". ``names``: the items are
    proper names (units), Vietnamese whatever the page's language (``lang="vi"``)."""
    line_h, bar_h, gap = SIZE + 3, SIZE - 2, 8
    peak = maximum or _nice_max(max((v for _, v in items if v is not None), default=0))
    shown = formats.rate if suffix == "%" else _fmt  # a percentage as every rate: 68,0%
    plot_w = width - ceil(_text_w(shown(peak) + suffix)) - SIZE - 4
    per_line = max(int(width / CHAR), 8)
    body, y = [], 4
    lang = ' lang="vi"' if names else ""
    for i, (name, value) in enumerate(items):
        lines = wrap(name, per_line, break_long_words=False) or [""]
        body.append(f'<text x="2" y="{y}"{lang} {FONT}>' + "".join(
            f'<tspan x="2" dy="{line_h}">{escape(text)}</tspan>' for text in lines)
            + "</text>")
        y += line_h * len(lines) + 4
        if value is None:
            body.append(_not_computable(0, y + bar_h - 1, name, "start"))
            y += bar_h + gap
            continue
        w = plot_w * min(value, peak) / peak
        body.append(f'<rect class="bar" x="0" y="{y}" width="{w:.1f}" height="{bar_h}" '
                    f'fill="{COLOURS[i % len(COLOURS)]}"><title{lang}>{escape(name)}: '
                    f'{shown(value)}{suffix}</title></rect>'
                    f'<text x="{w + 4:.1f}" y="{y + bar_h - 1}" {FONT}>{shown(value)}{suffix}'
                    f'</text>')
        y += bar_h + gap
    return _svg(width, max(y, 20), label, body)
