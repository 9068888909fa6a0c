"""A radar chart of a station's criteria as inline SVG (server-rendered, no script, no CDN)."""

from __future__ import annotations

import math
from html import escape

__all__ = ["radar_svg", "text_width"]

FONT = 11  # px, the labels' font size


def text_width(text: str, font: float = FONT) -> float:
    """A generous estimate of a label's width: a CJK character is one em, anything else
    0.62 em (digits, the decimal point and the space are narrower)."""
    return sum(1.0 if ord(ch) >= 0x2E80 else 0.62 for ch in text) * font


def radar_svg(criteria: list[dict], scores: dict, *, size: int = 220, title: str = "") -> str:
    """SVG text: one spoke per criterion (``key``, ``name``), scores 0–10 as the polygon.

    Missing scores are drawn at 0 and marked "—" beside the name.
    """
    n = len(criteria)
    centre, radius = size / 2, size / 2 - 42
    if n < 3:  # a polygon needs three spokes: bars instead
        bars = "".join(
            f'<text x="4" y="{20 + 22 * i}" font-size="{FONT}">{escape(c["name"])} '
            f'{"—" if scores.get(c["key"]) is None else format(scores[c["key"]], "g")}</text>'
            for i, c in enumerate(criteria))
        wide = max([size] + [8 + text_width(f'{c["name"]} 10.00') for c in criteria])
        return (f'<svg xmlns="http://www.w3.org/2000/svg" class="radar" viewBox="0 0 {wide:.0f} {20 + 22 * n}" '
                f'role="img" aria-label="{escape(title or "各项得分")}">{bars}</svg>')

    def point(i, value):
        angle = -math.pi / 2 + 2 * math.pi * i / n
        r = radius * max(0.0, min(10.0, value)) / 10
        return centre + r * math.cos(angle), centre + r * math.sin(angle)

    rings = "".join(
        '<polygon class="ring" fill="none" stroke="#ddd" points="'
        + " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, level) for i in range(n))) + '"/>'
        for level in (2.5, 5, 7.5, 10))
    spokes, labels = [], []
    left, top, right, bottom = 0.0, 0.0, float(size), float(size)  # grown to hold every label
    for i, c in enumerate(criteria):
        x, y = point(i, 10)
        spokes.append(f'<line stroke="#ddd" x1="{centre:.1f}" y1="{centre:.1f}" x2="{x:.1f}" y2="{y:.1f}"/>')
        lx, ly = point(i, 12.6)
        anchor = "middle" if abs(lx - centre) < 8 else ("start" if lx > centre else "end")
        value = scores.get(c["key"])
        shown = "—" if value is None else f"{value:g}"
        text = f'{c["name"]} {shown}'
        width = text_width(text)
        start = {"start": lx, "end": lx - width, "middle": lx - width / 2}[anchor]
        left, right = min(left, start - 2), max(right, start + width + 2)
        top, bottom = min(top, ly + 4 - FONT - 2), max(bottom, ly + 4 + 4)
        labels.append(f'<text x="{lx:.1f}" y="{ly + 4:.1f}" font-size="{FONT}" text-anchor="{anchor}">'
                      f'{escape(text)}</text>')
    shape = " ".join(f"{x:.1f},{y:.1f}" for x, y in (point(i, float(scores.get(c["key"]) or 0))
                                                     for i, c in enumerate(criteria)))
    label = escape(title or "各项得分") + "：" + escape("，".join(
        f'{c["name"]} {"—" if scores.get(c["key"]) is None else format(scores[c["key"]], "g")}' for c in criteria))
    # The viewBox holds the labels (long names and scores reach past the square): none is cut off.
    box_w, box_h = right - left, bottom - top
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="radar" viewBox="{left:.1f} {top:.1f} {box_w:.1f} '
            f'{box_h:.1f}" width="{box_w:.0f}" height="{box_h:.0f}" role="img" aria-label="{label}">'
            f'{rings}{"".join(spokes)}'
            f'<polygon class="area" fill="rgba(183,28,28,.25)" stroke="#b71c1c" stroke-width="2" points="{shape}"/>'
            f'{"".join(labels)}</svg>')
