"""Small charts drawn on the server as inline SVG (no script, nothing fetched).

Pure functions: numbers in, an SVG string out (every text escaped). Each chart has a
``viewBox`` and no fixed size, so it scales with the page (a phone's 390 px too);
categories are months (``2026-01``), labelled whole on the axis (``T1/26``, ``Jan 26``)
and numbers as the page's language writes them (:mod:`server.formats`). Colours are
presentation attributes, not ``style=``, because the dashboard's
Content-Security-Policy forbids inline styles; each mark has a ``<title>`` so a
screen reader (or a hover) gives the exact value.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from server import formats

COLOURS = ("#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b7791f", "#c53030", "#319795",
           "#718096", "#d53f8c", "#4a5568")
FONT = 'font-family="sans-serif" font-size="11"'
AXIS = 'font-family="sans-serif" font-size="10"'
WIDTH = 520


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
        out.append(f'<rect x="{x + i * 110}" y="{y}" width="10" height="10" '
                   f'fill="{COLOURS[i % len(COLOURS)]}"/>'
                   f'<text x="{x + i * 110 + 14}" y="{y + 9}" {FONT}>{escape(name)}</text>')
    return out


def grouped_bars(label: str, categories: Sequence[str],
                 series: Sequence[tuple[str, Sequence[float]]], *,
                 width: int = WIDTH, height: int = 220) -> str:
    """Vertical bars, one group per category (e.g. month), one bar per series."""
    left, bottom, top = 40, 30, 24
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = _nice_max(max((v for _, vals in series for v in vals), default=0))
    body = [f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
            f'stroke="#999"/>',
            f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" {FONT}>{_fmt(peak)}</text>',
            f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" {FONT}>0</text>']
    group_w = plot_w / max(len(categories), 1)
    bar_w = max(group_w * 0.8 / max(len(series), 1), 1)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        for s, (name, values) in enumerate(series):
            value = values[c] if c < len(values) else 0
            h = plot_h * value / peak
            body.append(f'<rect class="bar" x="{x0 + s * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                        f'width="{bar_w:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[s % len(COLOURS)]}"><title>{escape(_tip(category))} '
                        f'{escape(name)}: {_fmt(value)}</title></rect>')
        body.append(f'<text x="{x0 + group_w * 0.4:.1f}" y="{height - 14}" text-anchor="middle" '
                    f'{AXIS}>{escape(_axis(category))}</text>')
    body += _legend([name for name, _ in series], left, 4)
    return _svg(width, height, label, body)


def line(label: str, categories: Sequence[str], values: Sequence[float | None], *,
         width: int = WIDTH, height: int = 200, reference: float | None = None) -> str:
    """A line over categories; ``None`` breaks it (no value that month)."""
    left, bottom, top, right = 40, 30, 14, 26  # room for the last month's whole label
    plot_w, plot_h = width - left - right, height - bottom - top
    known = [v for v in values if v is not None]
    peak = _nice_max(max([*known, reference or 0], default=0))
    step = plot_w / max(len(categories) - 1, 1)

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
        body.append(f'<text x="{x:.1f}" y="{height - 14}" text-anchor="middle" {AXIS}>'
                    f'{escape(_axis(category))}</text>')
        if value is None:
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


def horizontal_bars(label: str, items: Sequence[tuple[str, float]], *, width: int = WIDTH,
                    maximum: float | None = None, suffix: str = "") -> str:
    """One labelled horizontal bar per item (method mix, completeness by unit)."""
    row, left, top = 20, 180, 6
    height = top * 2 + row * max(len(items), 1)
    peak = maximum or _nice_max(max((v for _, v in items), default=0))
    plot_w = width - left - 60
    body = []
    for i, (name, value) in enumerate(items):
        y = top + i * row
        w = plot_w * min(value, peak) / peak
        body.append(f'<text x="{left - 6}" y="{y + 13}" text-anchor="end" {FONT}>'
                    f'{escape(name[:30])}</text>'
                    f'<rect class="bar" x="{left}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" '
                    f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(name)}: '
                    f'{_fmt(value)}{suffix}</title></rect>'
                    f'<text x="{left + w + 4:.1f}" y="{y + 13}" {FONT}>{_fmt(value)}{suffix}'
                    f'</text>')
    return _svg(width, height, label, body)
