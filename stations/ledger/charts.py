"""Server-rendered SVG charts (no JavaScript, no CDN): a month line chart and district bars.

Charts scale to the width of the page (viewBox, width 100%), carry a <title> and an
aria-label, and every label is escaped.
"""

from __future__ import annotations

import math

from markupsafe import escape

__all__ = ["line_chart", "panels_chart", "bar_chart"]


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _num(value, digits: int | None = None) -> str:
    """An axis tick exactly (62.5万); with ``digits``, a bar's value to that many figures (47.4万)."""
    value = float(value)
    if value >= 10_000:
        wan = value / 10_000
        return f"{wan:.{digits}g}万" if digits and wan < 10 ** digits else f"{round(wan) if digits else wan:g}万"
    return f"{value:,.0f}"


def line_chart(labels: list[str], series: list[tuple[str, list, str]], *, title: str,
               width: int = 360, height: int = 200, partial: tuple[int, str] | None = None) -> str:
    """A line per series over the months, on one axis: ``series`` is [(name, values, css
    class)].  ``partial`` (index, note), a month not wholly in the period (this month so
    far): its point hollow, the line to it dashed, its label starred and the note said."""
    left, right, top, bottom = 44, 8, 28, 26
    parts = _open_svg("line-chart", title, width, height)
    _panel(parts, labels, series, left=left, right=right, top=top, plot_h=height - top - bottom,
           width=width, partial=partial)
    for j, (name, _values, css) in enumerate(series):
        parts.append(f'<rect class="series {escape(css)}" x="{left + j * 110}" y="8" width="10" height="10"/>'
                     f'<text class="legend" x="{left + 14 + j * 110}" y="17">{escape(name)}</text>')
    _month_axis(parts, labels, left, right, width, height - 8, partial)
    parts.append("</svg>")
    return "".join(parts)


def panels_chart(labels: list[str], series: list[tuple[str, list, str]], *, title: str,
                 width: int = 360, panel_h: int = 84, partial: tuple[int, str] | None = None) -> str:
    """One panel per series, each on its own axis (新入会 in tens beside check-ins in
    thousands would be drawn flat on a shared one), the months below; ``partial`` as in
    ``line_chart``."""
    left, right, top, bottom, gap = 44, 8, 8, 26, 22
    height = top + len(series) * (panel_h + gap) + bottom - gap
    parts = _open_svg("panels-chart", title, width, height)
    for j, one in enumerate(series):
        band = top + j * (panel_h + gap) + 14
        parts.append(f'<rect class="series {escape(one[2])}" x="{left}" y="{band - 13}" width="10" height="10"/>'
                     f'<text class="legend" x="{left + 14}" y="{band - 4}">{escape(one[0])}</text>')
        _panel(parts, labels, [one], left=left, right=right, top=band, plot_h=panel_h - 14, width=width,
               partial=partial, ticks=2)
    _month_axis(parts, labels, left, right, width, height - 8, partial)
    parts.append("</svg>")
    return "".join(parts)


def _open_svg(kind, title, width, height) -> list[str]:
    return [f'<svg class="chart {kind}" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">', f"<title>{escape(title)}</title>"]


def _xs(labels, left, right, width):
    n = max(len(labels), 1)
    return lambda i: left + ((width - left - right) * (i + 0.5) / n)


def _panel(parts, labels, series, *, left, right, top, plot_h, width, partial, ticks: int = 4):
    """Grid, axis ticks and the lines of ``series`` in the band from ``top`` down ``plot_h``."""
    peak = _nice_max(max([v for _, values, _ in series for v in values] or [0]))
    if (peak / ticks) % 1:  # counts: every tick a whole number (5 in two steps reads 0, 3, 6)
        peak = ticks * math.ceil(peak / ticks)
    x = _xs(labels, left, right, width)

    def y(v):
        return top + plot_h - plot_h * v / peak

    for k in range(ticks + 1):
        v = peak * k / ticks
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_num(v)}</text>')
    cut = partial[0] if partial and 0 < partial[0] == len(labels) - 1 else None
    for name, values, css in series:
        css = escape(css)
        points = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values)]
        whole = points[:cut] if cut is not None else points
        parts.append(f'<polyline class="series {css}" fill="none" points="{" ".join(whole)}"/>')
        if cut is not None:  # the month so far: dashed, not a collapse
            parts.append(f'<polyline class="series {css} partial" fill="none" points="{points[cut - 1]} '
                         f'{points[cut]}"/>')
        for i, v in enumerate(values):
            hollow = " partial" if i == cut else ""
            note = f"（{partial[1]}）" if i == cut else ""
            parts.append(f'<circle class="series {css}{hollow}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                         f"<title>{escape(labels[i])}{escape(note)} {escape(name)} {v:,}</title></circle>")


def _month_axis(parts, labels, left, right, width, baseline, partial):
    x = _xs(labels, left, right, width)
    n = max(len(labels), 1)
    step = 1 if n <= 12 else (n + 11) // 12
    cut = partial[0] if partial and partial[0] == len(labels) - 1 else None
    for i, label in enumerate(labels):
        if i % step == 0 or i == cut:
            short = label[5:] if len(label) == 7 else label
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{baseline}" text-anchor="middle">'
                         f"{escape(short)}{'*' if i == cut else ''}</text>")
    if cut is not None:
        parts.append(f'<text class="axis partial-note" x="{width - right}" y="17" '  # top right, off the lines
                     f'text-anchor="end">*{escape(partial[1])}</text>')


def bar_chart(rows: list[tuple[str, float]], *, title: str, unit: str = "", width: int = 360) -> str:
    """Horizontal bars, one per row (label, value), largest first as given."""
    bar_h, gap, left, right, top = 18, 6, 70, 64, 6
    height = top + len(rows) * (bar_h + gap) + 4
    peak = max([v for _, v in rows] or [0]) or 1
    plot_w = width - left - right
    parts = [f'<svg class="chart bar-chart" viewBox="0 0 {width} {max(height, 30)}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for i, (label, value) in enumerate(rows):
        y = top + i * (bar_h + gap)
        w = plot_w * value / peak
        parts.append(f'<text class="axis" x="{left - 4}" y="{y + 13}" text-anchor="end">{escape(label)}</text>'
                     f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="{bar_h}">'
                     f"<title>{escape(label)} {value:,.0f}{escape(unit)}</title></rect>"
                     f'<text class="value" x="{left + w + 4:.1f}" y="{y + 13}">{_num(value, 3)}{escape(unit)}</text>')
    if not rows:
        parts.append('<text class="axis" x="8" y="20">暂无数据</text>')
    parts.append("</svg>")
    return "".join(parts)
