"""Small inline SVG charts for the HTML report: plain strings, no plotting library.

A bar chart of accuracies (the lowest bar in the warning colour, so the weakest
type stands out), the calibration plot (each bin's accuracy against the
diagonal of a perfectly calibrated model, with its question count), and a
histogram. Text is escaped; sizes are in CSS pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

BAR = "#3c82dc"
WORST = "#d9534f"
GRID = "#ccc"
_FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
            f"<title>{escape(title)}</title>{''.join(body)}</svg>")


def bar_chart(items: Sequence[tuple[str, float, int]], title: str, top: float = 100.0) -> str:
    """Horizontal bars of ``(label, value, count)``, in the given order; the lowest value in red."""
    label_width, bar_width, row = 190, 320, 18
    height = row * len(items) + 10
    lowest = min((value for _, value, _ in items), default=None)
    body = []
    for index, (label, value, count) in enumerate(items):
        y = 5 + index * row
        length = max(2.0, min(value / top, 1.0) * bar_width if top else 0.0)  # a stub shows a zero
        colour = WORST if value == lowest and len(items) > 1 else BAR
        body.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" {_FONT}>{escape(label)}</text>'
                    f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" height="{row - 5}" fill="{colour}"/>'
                    f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" {_FONT}>{value:.2f} ({count:,})</text>')
    return _svg(label_width + bar_width + 90, height, body, title)


def calibration_plot(bins: Sequence[dict], title: str = "Calibration") -> str:
    """Bars of each bin's accuracy (0-100) over its probability range, the diagonal, and counts."""
    left, top, bottom, side = 40, 20, 30, 300
    width, height = left + side + 20, top + side + bottom
    y0 = top + side
    body = [f'<line x1="{left}" y1="{y0}" x2="{left + side}" y2="{y0}" stroke="#333"/>',
            f'<line x1="{left}" y1="{top}" x2="{left}" y2="{y0}" stroke="#333"/>',
            f'<line x1="{left}" y1="{y0}" x2="{left + side}" y2="{top}" stroke="{GRID}" stroke-dasharray="4 3"/>']
    for tick in range(0, 11, 2):
        x, y = left + side * tick / 10, y0 - side * tick / 10
        body.append(f'<text x="{x:.0f}" y="{y0 + 14}" text-anchor="middle" {_FONT}>{tick / 10:.1f}</text>'
                    f'<text x="{left - 4}" y="{y + 4:.0f}" text-anchor="end" {_FONT}>{tick * 10}</text>')
    for b in bins:
        if not b["count"]:
            continue
        x, w = left + side * b["low"], side * (b["high"] - b["low"])
        h = side * b["accuracy"] / 100
        body.append(f'<rect x="{x + 1:.1f}" y="{y0 - h:.1f}" width="{w - 2:.1f}" height="{h:.1f}" fill="{BAR}" '
                    f'fill-opacity="0.8"/><text x="{x + w / 2:.1f}" y="{y0 - h - 3:.1f}" text-anchor="middle" '
                    f'{_FONT}>{b["count"]:,}</text>')
    body.append(f'<text x="{left + side / 2}" y="{height - 2}" text-anchor="middle" {_FONT}>'
                "probability of the answer</text>")
    return _svg(width, height, body, title)


def histogram(edges: Sequence[float], counts: Sequence[int], title: str) -> str:
    """Vertical bars of ``counts`` between ``edges``, with the edges' values below."""
    left, plot_width, plot_height = 40, 400, 160
    y0 = 10 + plot_height
    top = max(counts, default=0) or 1
    step = plot_width / max(len(counts), 1)
    body = [f'<line x1="{left}" y1="{y0}" x2="{left + plot_width}" y2="{y0}" stroke="#333"/>',
            f'<text x="{left - 4}" y="18" text-anchor="end" {_FONT}>{top:,}</text>']
    for index, count in enumerate(counts):
        h = plot_height * count / top
        body.append(f'<rect x="{left + index * step + 1:.1f}" y="{y0 - h:.1f}" width="{step - 2:.1f}" '
                    f'height="{h:.1f}" fill="{BAR}"/>')
    for index in range(0, len(edges), max(1, len(edges) // 5)):
        body.append(f'<text x="{left + index * step:.1f}" y="{y0 + 14}" text-anchor="middle" {_FONT}>'
                    f"{edges[index]:g}</text>")
    body.append(f'<text x="{left + plot_width / 2}" y="{y0 + 30}" text-anchor="middle" {_FONT}>{escape(title)}</text>')
    return _svg(left + plot_width + 20, plot_height + 50, body, title)
