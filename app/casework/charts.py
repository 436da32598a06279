"""Charts drawn on the server as inline SVG: no script, no file from elsewhere.

The page's CSP (``default-src 'self'``) forbids inline styles, so shapes and
text are styled with SVG presentation attributes (``fill``, ``font-size``):
the drawing holds together even without the stylesheet, whose classes only
refine it. Every piece of markup is a literal ``Markup`` template
filled with ``Markup.format``, which escapes each value: labels come from
translations and must never become markup.

Text arrives already translated and formatted for the reader's locale (dates,
numbers); this module only places it. It knows nothing of Flask.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from markupsafe import Markup

WIDTH = 640
# Colour-blind-safe (Okabe–Ito, with the portal's blue first), and each series
# also gets its own hatching so no one has to tell colours apart.
COLOURS = ("#000091", "#e69f00", "#009e73", "#cc79a7", "#56b4e9")
HATCHES = (
    "",
    '<path d="M0 8L8 0M-2 2L2 -2M6 10L10 6" stroke="#fff" stroke-width="1.5"/>',
    '<circle cx="4" cy="4" r="1.6" fill="#fff"/>',
    '<path d="M0 4H8" stroke="#fff" stroke-width="1.5"/>',
    '<path d="M0 0L8 8M8 0L0 8" stroke="#fff" stroke-width="1.2"/>',
)
_ID = re.compile(r"[a-z][a-z0-9-]*")
LEGEND_ROW = 22


@dataclass(frozen=True)
class Series:
    """One stacked part of every bar: its label and one value per category."""

    label: str
    values: Sequence[int]


@dataclass(frozen=True)
class Bar:
    """One horizontal bar: a fraction of the track, with its formatted value."""

    label: str
    fraction: float
    value_label: str


def _checked_id(chart_id: str) -> str:
    # Ids are shared by the whole page (patterns, aria-labelledby): only
    # plain, distinct identifiers given by the caller.
    if not _ID.fullmatch(chart_id):
        raise ValueError(f"not a usable chart id: {chart_id!r}")
    return chart_id


def _open_svg(chart_id: str, height: int, title: str, description: str) -> Markup:
    return Markup(
        '<svg xmlns="http://www.w3.org/2000/svg" class="chart-svg" viewBox="0 0 {w} {h}"'
        ' role="img" aria-labelledby="{id}-title {id}-desc" focusable="false"'
        ' font-family="system-ui, sans-serif" fill="#161616">'
        '<title id="{id}-title">{title}</title><desc id="{id}-desc">{desc}</desc>'
    ).format(w=WIDTH, h=height, id=chart_id, title=title, desc=description)


def _fill(chart_id: str, index: int) -> str:
    return f"url(#{chart_id}-p{index})" if HATCHES[index % len(HATCHES)] else _colour(index)


def _colour(index: int) -> str:
    return COLOURS[index % len(COLOURS)]


def _patterns(chart_id: str, count: int) -> Markup:
    parts = [Markup("<defs>")]
    for index in range(count):
        hatch = HATCHES[index % len(HATCHES)]
        if hatch:
            parts.append(
                Markup(
                    '<pattern id="{id}-p{i}" patternUnits="userSpaceOnUse" width="8" height="8">'
                    '<rect width="8" height="8" fill="{colour}"/>'
                ).format(id=chart_id, i=index, colour=_colour(index))
            )
            parts.append(Markup(hatch))  # noqa: S704 - a constant of this module
            parts.append(Markup("</pattern>"))
    parts.append(Markup("</defs>"))
    return Markup("").join(parts)


def nice_step(maximum: int, ticks: int = 5) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving at most ``ticks`` steps."""
    if maximum <= ticks:
        return 1
    rough = maximum / ticks
    power = 10 ** math.floor(math.log10(rough))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= rough)


@dataclass(frozen=True)
class _Frame:
    """Where the plot of a bar chart sits, and how many pixels one unit takes."""

    left: int
    right: int
    top: int
    height: int
    axis_max: int
    step: int
    bands: int

    @property
    def baseline(self) -> int:
        return self.top + self.height

    @property
    def scale(self) -> float:
        return self.height / self.axis_max

    @property
    def band(self) -> float:
        return (WIDTH - self.left - self.right) / max(self.bands, 1)


def _frame(totals: Sequence[int]) -> _Frame:
    highest = max(totals, default=0)
    step = nice_step(highest)
    # At least one step, so an empty chart still has an axis and no division by zero.
    axis_max = max(step * math.ceil(highest / step), step)
    return _Frame(48, 8, 20, 200, axis_max, step, len(totals))


def _y_axis(frame: _Frame, number: Callable[[int], str]) -> Iterator[Markup]:
    for tick in range(0, frame.axis_max + 1, frame.step):
        y = frame.baseline - tick * frame.scale
        yield Markup(
            '<line x1="{x1}" x2="{x2}" y1="{y:.1f}" y2="{y:.1f}" stroke="#929292"'
            ' stroke-width="{sw}"/>'
            '<text class="chart-tick" x="{tx}" y="{ty:.1f}" text-anchor="end" font-size="11">'
            "{label}</text>"
        ).format(
            x1=frame.left,
            x2=WIDTH - frame.right,
            y=y,
            sw="1" if tick == 0 else "0.5",
            tx=frame.left - 6,
            ty=y + 4,
            label=number(tick),
        )


def _stack(
    frame: _Frame,
    chart_id: str,
    index: int,
    category: str,
    series: Sequence[Series],
    number: Callable[[int], str],
) -> Iterator[Markup]:
    """One bar: its segments bottom up, its total on top, its label below."""
    x = frame.left + index * frame.band + frame.band * 0.15
    width = frame.band * 0.7
    y = float(frame.baseline)
    total = 0
    for position, part in enumerate(series):
        value = part.values[index]
        if value <= 0:
            continue
        total += value
        y -= value * frame.scale
        yield Markup(
            '<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}"'
            ' fill="{fill}" stroke="#fff" stroke-width="1">'
            "<title>{label}: {value}</title></rect>"
        ).format(
            x=x,
            y=y,
            w=width,
            h=value * frame.scale,
            fill=_fill(chart_id, position),
            label=part.label,
            value=number(value),
        )
    centre = x + width / 2
    if total:
        yield Markup(
            '<text class="chart-value" x="{x:.1f}" y="{y:.1f}" text-anchor="middle"'
            ' font-size="12" font-weight="700">{total}</text>'
        ).format(x=centre, y=y - 4, total=number(total))
    yield Markup(
        '<text class="chart-tick" x="{x:.1f}" y="{y}" text-anchor="middle" font-size="11">'
        "{label}</text>"
    ).format(x=centre, y=frame.baseline + 18, label=category)


def _legend(chart_id: str, top: int, left: int, series: Sequence[Series]) -> Iterator[Markup]:
    for position, part in enumerate(series):
        y = top + LEGEND_ROW * position
        yield Markup(
            '<rect x="{x}" y="{y}" width="16" height="16" fill="{fill}" stroke="#161616"'
            ' stroke-width="0.5"/>'
            '<text class="chart-legend" x="{tx}" y="{ty}" font-size="13">{label}</text>'
        ).format(
            x=left,
            y=y,
            fill=_fill(chart_id, position),
            tx=left + 24,
            ty=y + 13,
            label=part.label,
        )


def stacked_bars(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    number: Callable[[int], str] = str,
) -> Markup:
    """A vertical stacked bar chart with a y axis, a total above each bar and a legend.

    ``categories`` label the bars; ``number`` formats axis ticks and totals
    in the reader's locale.
    """
    chart_id = _checked_id(chart_id)
    frame = _frame([sum(part.values[i] for part in series) for i in range(len(categories))])
    legend_top = frame.baseline + 36  # room for the labels under the bars
    height = legend_top + LEGEND_ROW * len(series)
    parts = [_open_svg(chart_id, height, title, description), _patterns(chart_id, len(series))]
    parts.extend(_y_axis(frame, number))
    for index, category in enumerate(categories):
        parts.extend(_stack(frame, chart_id, index, category, series, number))
    parts.extend(_legend(chart_id, legend_top, frame.left, series))
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)


def horizontal_bars(*, chart_id: str, title: str, description: str, bars: Sequence[Bar]) -> Markup:
    """Horizontal bars on a 0–1 track, each with its label above and its value beside."""
    chart_id = _checked_id(chart_id)
    row, track_width = 44, WIDTH - 90
    parts = [_open_svg(chart_id, row * len(bars) + 4, title, description)]
    for index, bar in enumerate(bars):
        y = index * row
        fraction = min(max(bar.fraction, 0.0), 1.0)
        parts.append(
            Markup(
                '<text class="chart-legend" x="0" y="{ty}" font-size="13">{label}</text>'
                '<rect x="0" y="{by}" width="{tw}" height="16" fill="#f3f3f6" stroke="#929292"'
                ' stroke-width="0.5"/>'
                '<rect x="0" y="{by}" width="{fw:.1f}" height="16" fill="#000091"/>'
                '<text class="chart-value" x="{vx}" y="{vy}" font-size="12" font-weight="700">'
                "{value}</text>"
            ).format(
                ty=y + 14,
                label=bar.label,
                by=y + 20,
                tw=track_width,
                fw=track_width * fraction,
                vx=track_width + 8,
                vy=y + 33,
                value=bar.value_label,
            )
        )
    parts.append(Markup("</svg>"))
    return Markup("").join(parts)
