"""The sending window in the recipient's time zone (``shipments.regions.zone_for_index``)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo


def next_in_window(moment: dt.datetime, zone: ZoneInfo, start: dt.time,
                   end: dt.time) -> dt.datetime:
    """``moment`` if it is inside [start, end) local time, else the next window start (UTC)."""
    local = moment.astimezone(zone)
    t = local.time()
    if start <= t < end:
        return moment
    day = local.date() if t < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)
