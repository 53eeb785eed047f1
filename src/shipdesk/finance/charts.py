"""The debt-ageing chart over time as inline SVG, drawn on the server (no scripts, no CDN)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from xml.sax.saxutils import escape

from django.utils.translation import gettext as _

from shipdesk.core.templatetags.words import money_text, number_text
from shipdesk.finance.models import DebtSnapshot
from shipdesk.finance.selectors import BUCKET_LABELS

COLOURS = ("#4caf50", "#ffc107", "#ff7043", "#c62828")


def days_label(bucket: str) -> str:
    """An age bucket as read: «8–14 дн.»."""
    return _("%(days)s дн.") % {"days": bucket}


def ageing_svg(snapshots: list[DebtSnapshot], *, width: int = 720, height: int = 240) -> str:
    """Stacked bars: one per day, the four age buckets summed over carriers."""
    per_day: dict[dt.date, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    for s in snapshots:
        b = per_day[s.day]
        for i, v in enumerate((s.age_0_7, s.age_8_14, s.age_15_30, s.age_over_30)):
            b[i] += v
    days = sorted(per_day)
    pad, chart_h = 40, height - 40
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" class="ageing-chart">']
    if not days:
        parts.append(f'<text x="{pad}" y="{height // 2}">—</text></svg>')
        return "".join(parts)
    top = max(sum(v) for v in per_day.values()) or Decimal(1)
    bar_w = max((width - pad) / len(days), 1.0)
    for n, day in enumerate(days):
        y = float(chart_h)
        for i, value in enumerate(per_day[day]):
            h = float(value / top) * (chart_h - 10)
            if h <= 0:
                continue
            y -= h
            parts.append(f'<rect x="{pad + n * bar_w:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[i]}"><title>{day:%d.%m.%Y} '
                         f'{escape(days_label(BUCKET_LABELS[i]))}: {escape(money_text(value))}'
                         '</title></rect>')
    parts.append(f'<text x="0" y="12" font-size="11">{escape(number_text(top))}</text>')
    parts.append(f'<text x="{pad}" y="{height - 22}" font-size="11">{days[0]:%d.%m}</text>')
    parts.append(f'<text x="{width - 40}" y="{height - 22}" font-size="11">{days[-1]:%d.%m}'
                 '</text>')
    for i, label in enumerate(BUCKET_LABELS):
        x = pad + i * 110
        parts.append(f'<rect x="{x}" y="{height - 14}" width="10" height="10" '
                     f'fill="{COLOURS[i]}"/><text x="{x + 14}" y="{height - 5}" font-size="11">'
                     f'{escape(days_label(label))}</text>')
    parts.append("</svg>")
    return "".join(parts)
