"""Charts as server-rendered SVG: no script, no CDN, printable and readable offline. Every
mark is a link to the shipments behind it and carries its figure in ``data-value`` (and a
``<title>`` the browser shows on hover)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from shipdesk.analytics import tilegrid

COMPARED = "#4a5568"  # the compared period's series: a dark line / a thin grey bar
PALETTE = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5", "#d53f8c", "#319795", "#d69e2e",
           "#718096")


@dataclass(frozen=True)
class Mark:
    label: str
    value: int | Decimal | float
    href: str
    series: str = ""


def _fmt(value: Any) -> str:
    """A figure as the pages write it (grouped, the language's decimal sign)."""
    from shipdesk.core.templatetags.words import number_text

    if isinstance(value, Decimal):
        return number_text(value, 2)
    if isinstance(value, float):
        return number_text(value, 1)
    return number_text(value)


def _day(column: str, *, year: bool = True) -> str:
    """An ISO day column as people write it: «06.12.2026» (or «06.12» under a column)."""
    if len(column) != 10 or column[4] != "-":
        return column
    return f"{column[8:10]}.{column[5:7]}" + (f".{column[:4]}" if year else "")


def _a(mark: Mark, rect: str, title: str) -> str:
    """A linked ``<rect>`` (``rect``: its geometry attributes) carrying its figure."""
    return (f'<a href="{escape(mark.href)}"><rect {rect} data-label="{escape(mark.label)}" '
            f'data-series="{escape(mark.series)}" data-value="{escape(str(mark.value))}">'
            f"<title>{escape(title)}</title></rect></a>")


def _svg(width: int, height: int, body: list[str], name: str, title: str,
         css_class: str = "chart") -> SafeString:
    # in a box of its own that scrolls sideways on a phone, so the words stay readable
    return mark_safe(  # noqa: S308 — every text inside is escaped
        '<div class="chart-wrap">'
        f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" data-chart="{escape(name)}" '
        f'viewBox="0 0 {width} {height}" width="100%" role="img" aria-label="{escape(title)}">'
        + "".join(body) + "</svg></div>")


def _dot(mark: Mark, x: float, y: float, title: str) -> str:
    """A linked point of a line series carrying its figure."""
    return (f'<a href="{escape(mark.href)}"><circle cx="{x:.1f}" cy="{y:.1f}" r="3" '
            f'fill="{COMPARED}" data-label="{escape(mark.label)}" '
            f'data-series="{escape(mark.series)}" data-value="{escape(str(mark.value))}">'
            f"<title>{escape(title)}</title></circle></a>")


def stacked_columns(marks: Sequence[Mark], *, name: str, title: str,
                    columns: Sequence[str], series: Sequence[str],
                    line: Sequence[Mark] = (), line_name: str = "") -> SafeString:
    """Columns over ``columns`` (days), each stacked by ``series`` (kinds); ``line``: a
    second series drawn over them as a line of points on the same scale (the compared
    period's figures, each on the column it is compared with), named ``line_name`` in the
    legend."""
    width, height, left, bottom, top = 720, 260, 48, 36, 10
    # the legend wraps onto more lines rather than running off the picture
    per_line = max(1, (width - left) // 190)
    extra = 14 * ((len(series) - 1) // per_line) if series else 0
    totals: dict[str, float] = {}
    for m in marks:
        totals[m.label] = totals.get(m.label, 0) + float(m.value)
    peak = max([*totals.values(), *(float(m.value) for m in line)], default=0) or 1
    step = (width - left - 8) / max(1, len(columns))
    scale = (height - top - bottom) / peak
    color = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    x_of = {c: left + i * step for i, c in enumerate(columns)}
    body = [f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
            'stroke="#999"/>',
            f'<text x="4" y="{top + 10}" font-size="11">{escape(_fmt(int(peak)))}</text>']
    stacked: dict[str, float] = {}
    for m in marks:
        base = stacked.get(m.label, 0)
        h = float(m.value) * scale
        y = height - bottom - base - h
        stacked[m.label] = base + h
        shape = (f'x="{x_of[m.label] + 1:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" '
                 f'height="{h:.1f}" fill="{color.get(m.series, PALETTE[0])}"')
        body.append(_a(m, shape, f"{_day(m.label)} · {m.series}: {_fmt(m.value)}"))
    points = [(x_of[m.label] + step / 2, height - bottom - float(m.value) * scale, m)
              for m in line if m.label in x_of]
    if points:
        body.append(f'<polyline fill="none" stroke="{COMPARED}" stroke-width="1.5" '
                    'stroke-dasharray="4 3" points="'
                    + " ".join(f"{x:.1f},{y:.1f}" for x, y, _m in points) + '"/>')
        body += [_dot(m, x, y, f"{line_name} · {_day(m.label)}: {_fmt(m.value)}")
                 for x, y, m in points]
    every = max(1, len(columns) // 8)
    for i, c in enumerate(columns):
        if i % every == 0:
            body.append(f'<text x="{x_of[c]:.1f}" y="{height - bottom + 14}" '
                        f'font-size="10">{escape(_day(c, year=False))}</text>')
    for i, s in enumerate(series):
        x, y = left + (i % per_line) * 190, height + 14 * (i // per_line)
        body.append(f'<rect x="{x}" y="{y - 12}" width="10" height="10" '
                    f'fill="{color[s]}"/><text x="{x + 14}" y="{y - 3}" '
                    f'font-size="10">{escape(s or "—")}</text>')
    if line_name and points:
        i = len(series)
        x, y = left + (i % per_line) * 190, height + 14 * (i // per_line)
        extra = max(extra, 14 * (i // per_line))
        body.append(f'<line x1="{x}" y1="{y - 7}" x2="{x + 10}" y2="{y - 7}" '
                    f'stroke="{COMPARED}" stroke-width="2" stroke-dasharray="4 3"/>'
                    f'<text x="{x + 14}" y="{y - 3}" font-size="10">{escape(line_name)}</text>')
    return _svg(width, height + extra, body, name, title)


def bars(marks: Sequence[Mark], *, name: str, title: str, unit: str = "",
         compared: Sequence[Mark | None] = (), compared_name: str = "") -> SafeString:
    """Horizontal bars, one per mark, with the figure written beside it; ``compared``
    (aligned with ``marks``, None where the compared period has no figure): a thin grey
    bar under each, the compared period's figure, named ``compared_name``."""
    two = any(c is not None for c in compared)
    row, left, width = (36 if two else 24), 220, 720
    height = max(row * len(marks) + 8, 30) + (18 if two else 0)
    values = [float(m.value) for m in marks] + [float(c.value) for c in compared if c]
    peak = max(values, default=0) or 1
    body = []
    for i, m in enumerate(marks):
        y = 4 + i * row
        w = float(m.value) / peak * (width - left - 90)
        body.append(f'<text x="{left - 6}" y="{y + 15}" font-size="12" text-anchor="end">'
                    f"{escape(m.label[:34])}</text>")
        shape = (f'x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="16" '
                 f'fill="{PALETTE[i % len(PALETTE)] if m.series else PALETTE[0]}"')
        body.append(_a(m, shape, f"{m.label}: {_fmt(m.value)}{unit}"))
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 15}" font-size="12">'
                    f"{escape(_fmt(m.value))}{escape(unit)}</text>")
        c = compared[i] if i < len(compared) else None
        if c is not None:
            cw = float(c.value) / peak * (width - left - 90)
            shape = (f'x="{left}" y="{y + 21}" width="{max(cw, 1):.1f}" height="8" '
                     f'fill="{COMPARED}"')
            body.append(_a(c, shape, f"{compared_name} · {c.label}: {_fmt(c.value)}{unit}"))
            body.append(f'<text x="{left + cw + 6:.1f}" y="{y + 29}" font-size="10">'
                        f"{escape(_fmt(c.value))}{escape(unit)}</text>")
    if two:
        y = height - 6
        body.append(f'<rect x="{left}" y="{y - 8}" width="10" height="8" fill="{COMPARED}"/>'
                    f'<text x="{left + 14}" y="{y}" font-size="10">{escape(compared_name)}'
                    "</text>")
    return _svg(width, height, body, name, title)


def region_map(values: dict[str, tuple[float | int | None, str]], *, name: str, title: str,
               unit: str = "", low_is_good: bool = False) -> SafeString:
    """The tile-grid cartogram: each region a square shaded by its figure (darker: more;
    with ``low_is_good``, e.g. transit days, red is slow), linking to its shipments."""
    cells = tilegrid.layout()
    size = 34
    cols = max(c for c, _r in cells.values()) + 1
    rows = max(r for _c, r in cells.values()) + 1
    figures = [v for v, _h in values.values() if v is not None]
    lo, hi = (min(figures), max(figures)) if figures else (0, 0)
    body = []
    for region, (c, r) in sorted(cells.items()):
        value, href = values.get(region, (None, ""))
        x, y = c * size, r * size
        if value is None:
            fill = "#edf2f7"
        else:
            t = 1.0 if hi == lo else (float(value) - float(lo)) / (float(hi) - float(lo))
            if low_is_good:
                fill = f"rgb({int(90 + 160 * t)},{int(180 - 120 * t)},90)"
            else:
                fill = f"rgb({int(225 - 190 * t)},{int(235 - 150 * t)},{int(250 - 80 * t)})"
        label = tilegrid.CAPITALS[region][0]
        shape = (f'x="{x + 1}" y="{y + 1}" width="{size - 2}" height="{size - 2}" '
                 f'rx="3" fill="{fill}"')
        text = (f'<text x="{x + size / 2}" y="{y + size / 2 + 4}" font-size="9" '
                f'text-anchor="middle" pointer-events="none">{escape(label)}</text>')
        if value is None:
            body.append(f'<rect {shape} data-label="{escape(region)}"/>' + text)
            continue
        mark = Mark(region, value, href)
        body.append(_a(mark, shape, f"{region}: {_fmt(value)}{unit}") + text)
    # the regions' names are geographic reference data (Russian proper names, as the
    # directory holds them), marked so like the organization's own data
    return _svg(cols * size, rows * size, body, name, title, css_class="chart stored-text")
