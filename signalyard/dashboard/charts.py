"""Charts drawn on the server as inline SVG: stacked bars over time, with a value axis, time
labels and a legend. No JavaScript. Colours come from the stylesheet (classes ``s0`` to
``s8``), so the page's Content-Security-Policy can forbid inline styles; each bar segment has
a ``<title>``, which browsers show on hover."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

from markupsafe import Markup

__all__ = ["MAX_SERIES", "compact", "grouped_bars", "nice_top", "stacked_bars"]

MAX_SERIES = 8
"""Series drawn; past this the smallest are added up as "other" (colour ``s8``)."""
_W, _H = 720, 260
_LEFT, _RIGHT, _TOP, _BOTTOM = 52, 8, 12, 40
_X_LABELS = 8


def compact(n: float) -> str:
    """1234 → ``1.2k``; axis labels stay short on a phone."""
    for size, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            text = f"{n / size:.1f}".removesuffix(".0")
            return text + suffix
    return f"{n:.0f}"


def nice_top(peak: float, ticks: int = 4) -> tuple[float, float]:
    """The axis top and step: ``ticks`` steps of 1, 2 or 5 times a power of ten covering
    ``peak`` (at least 1)."""
    raw = max(peak, 1.0) / ticks
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    step = max(step, 1.0)
    return step * math.ceil(max(peak, 1.0) / step), step


def _limit(series: Sequence[tuple[str, Sequence[int]]]) -> list[tuple[str, list[int]]]:
    ordered = sorted(series, key=lambda s: -sum(s[1]))
    kept = [(name, list(values)) for name, values in ordered[: MAX_SERIES - 1]]
    rest = ordered[MAX_SERIES - 1 :]
    if len(rest) == 1:
        kept.append((rest[0][0], list(rest[0][1])))
    elif rest:
        kept.append(("other", [sum(v) for v in zip(*(s[1] for s in rest), strict=True)]))
    return kept


def _frame(
    chart_id: str, title: str, top: float, step: float, y: Callable[[float], float]
) -> list[str]:
    """The opening of a chart's SVG: its title and the horizontal grid with its ticks."""
    parts = [
        f'<svg viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="{escape(chart_id)}-title"'
        ' preserveAspectRatio="xMidYMid meet">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
    ]
    tick = 0.0
    while tick <= top + step / 2:
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            f'<text class="tick" x="{_LEFT - 6}" y="{ty + 4:.1f}" text-anchor="end">'
            f"{compact(tick)}</text>"
        )
        tick += step
    return parts


def stacked_bars(
    chart_id: str,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[int]]],
    *,
    y_title: str,
    x_title: str = "time (UTC)",
    colours: dict[str, str] | None = None,
) -> Markup:
    """A ``<figure id=chart_id>`` holding the SVG and its legend. ``labels`` names each bar
    (oldest first); each series has one value per bar. ``colours`` gives some series a fixed
    class (``ok``, ``bad``) instead of the next of ``s0``..``s7``."""
    drawn = _limit([s for s in series if sum(s[1])])
    fixed = colours or {}
    classes = [
        fixed.get(name, f"s{i}" if name != "other" else f"s{MAX_SERIES}")
        for i, (name, _) in enumerate(drawn)
    ]
    n = max(len(labels), 1)
    totals = [sum(values[i] for _, values in drawn) for i in range(len(labels))]
    top, step = nice_top(max(totals, default=0))
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / n
    bar = max(slot * 0.78, 1.0)

    def y(value: float) -> float:
        return _TOP + plot_h - plot_h * value / top

    parts = _frame(chart_id, title, top, step, y)
    for i, label in enumerate(labels):
        x = _LEFT + i * slot + (slot - bar) / 2
        base = 0
        for colour, (name, values) in zip(classes, drawn, strict=True):
            value = values[i]
            if not value:
                continue
            y0, y1 = y(base), y(base + value)
            parts.append(
                f'<rect class="{colour}" x="{x:.1f}"'
                f' y="{y1:.1f}" width="{bar:.1f}" height="{max(y0 - y1, 0.5):.1f}">'
                f"<title>{escape(name)}, {escape(label)}: {value:,}</title></rect>"
            )
            base += value
    every = max(1, math.ceil(len(labels) / _X_LABELS))
    for i in range(0, len(labels), every):
        cx = _LEFT + (i + 0.5) * slot
        parts.append(
            f'<text class="tick" x="{cx:.1f}" y="{_TOP + plot_h + 16}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    parts.append(
        f'<text class="axis" x="{_LEFT + plot_w / 2:.1f}" y="{_H - 4}" text-anchor="middle">'
        f"{escape(x_title)}</text>"
        f'<text class="axis" transform="translate(12 {_TOP + plot_h / 2:.1f}) rotate(-90)"'
        f' text-anchor="middle">{escape(y_title)}</text>'
    )
    if not drawn:
        parts.append(
            f'<text class="empty" x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}"'
            ' text-anchor="middle">nothing in this window</text>'
        )
    parts.append("</svg>")
    legend = [
        (colour, f"{escape(name)} <b>{sum(values):,}</b>")
        for colour, (name, values) in zip(classes, drawn, strict=True)
    ]
    return _figure(chart_id, title, parts, legend)


def _figure(chart_id: str, title: str, parts: list[str], legend: list[tuple[str, str]]) -> Markup:
    """A chart's ``<figure>``: its caption, its SVG and its legend (colour class, HTML)."""
    items = "".join(f'<li><span class="sw {colour}"></span>{html}</li>' for colour, html in legend)
    return Markup(
        f'<figure class="chart" id="{escape(chart_id)}" data-testid="{escape(chart_id)}">'
        f"<figcaption>{escape(title)}</figcaption>{''.join(parts)}"
        f'<ul class="legend">{items}</ul></figure>'
    )


def _amount(value: float) -> str:
    """``12`` or ``12.5``: whole numbers without decimals, others with one."""
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def grouped_bars(
    chart_id: str,
    title: str,
    groups: Sequence[str],
    series: Sequence[tuple[str, Sequence[float]]],
    *,
    y_title: str,
    x_title: str = "",
    colours: dict[str, str] | None = None,
) -> Markup:
    """A ``<figure id=chart_id>``: for each of ``groups`` (a platform), one bar per series
    side by side (eligible, credited, claimed), each with a ``<title>`` giving its value, and
    a legend naming the series. Each series has one value per group. ``colours`` gives a
    series a fixed class instead of the next of ``s0``..``s7``."""
    fixed = colours or {}
    drawn = list(series)[:MAX_SERIES]
    classes = [fixed.get(name, f"s{i}") for i, (name, _) in enumerate(drawn)]
    n = max(len(groups), 1)
    peak = max((float(v) for _, values in drawn for v in values), default=0.0)
    top, step = nice_top(peak)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    slot = plot_w / n
    width = max(slot * 0.8 / max(len(drawn), 1), 1.0)

    def y(value: float) -> float:
        return _TOP + plot_h - plot_h * value / top

    parts = _frame(chart_id, title, top, step, y)
    for i, group in enumerate(groups):
        x0 = _LEFT + i * slot + slot * 0.1
        for j, (colour, (name, values)) in enumerate(zip(classes, drawn, strict=True)):
            value = float(values[i])
            if value <= 0:
                continue
            y1 = y(value)
            parts.append(
                f'<rect class="{colour}" x="{x0 + j * width:.1f}" y="{y1:.1f}"'
                f' width="{width:.1f}" height="{max(y(0) - y1, 0.5):.1f}">'
                f"<title>{escape(group)}, {escape(name)}: {_amount(value)}</title></rect>"
            )
        parts.append(
            f'<text class="tick" x="{_LEFT + (i + 0.5) * slot:.1f}" y="{_TOP + plot_h + 16}"'
            f' text-anchor="middle">{escape(group)}</text>'
        )
    if x_title:
        parts.append(
            f'<text class="axis" x="{_LEFT + plot_w / 2:.1f}" y="{_H - 4}"'
            f' text-anchor="middle">{escape(x_title)}</text>'
        )
    parts.append(
        f'<text class="axis" transform="translate(12 {_TOP + plot_h / 2:.1f}) rotate(-90)"'
        f' text-anchor="middle">{escape(y_title)}</text>'
    )
    if not groups or peak <= 0:
        parts.append(
            f'<text class="empty" x="{_LEFT + plot_w / 2:.1f}" y="{_TOP + plot_h / 2:.1f}"'
            ' text-anchor="middle">nothing in this period</text>'
        )
    parts.append("</svg>")
    legend = [(colour, escape(name)) for colour, (name, _) in zip(classes, drawn, strict=True)]
    return _figure(chart_id, title, parts, legend)
