"""Server-rendered SVG charts (no JavaScript, no CDN): a month line chart and district bars.

Charts scale to the width of the page (viewBox, width 100%), carry a <title> and an
aria-label, and every label is escaped.
"""

from __future__ import annotations

from markupsafe import escape

__all__ = ["line_chart", "bar_chart"]


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
               width: int = 360, height: int = 200) -> str:
    """A line per series over the months: ``series`` is [(name, values, css class)]."""
    left, right, top, bottom = 44, 8, 28, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = _nice_max(max([v for _, values, _ in series for v in values] or [0]))
    n = max(len(labels), 1)

    def x(i):
        return left + (plot_w * (i + 0.5) / n)

    def y(v):
        return top + plot_h - plot_h * v / peak

    parts = [f'<svg class="chart line-chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for k in range(5):
        v = peak * k / 4
        parts.append(f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
                     f'<text class="axis" x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_num(v)}</text>')
    step = 1 if n <= 12 else (n + 11) // 12
    for i, label in enumerate(labels):
        if i % step == 0:
            short = label[5:] if len(label) == 7 else label
            parts.append(f'<text class="axis" x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">'
                         f"{escape(short)}</text>")
    for j, (name, values, css) in enumerate(series):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline class="series {escape(css)}" fill="none" points="{points}"/>')
        for i, v in enumerate(values):
            parts.append(f'<circle class="series {escape(css)}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                         f"<title>{escape(labels[i])} {escape(name)} {v:,}</title></circle>")
        parts.append(f'<rect class="series {escape(css)}" x="{left + j * 110}" y="8" width="10" height="10"/>'
                     f'<text class="legend" x="{left + 14 + j * 110}" y="17">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


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
