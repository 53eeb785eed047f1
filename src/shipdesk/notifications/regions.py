"""The recipient's time zone from the delivery index (the first three digits give the
region), and the sending window in that zone."""

from __future__ import annotations

import datetime as dt
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_TZ = "Europe/Moscow"
# (first prefix, last prefix, zone): everything not listed is on Moscow time
_RANGES: tuple[tuple[int, int, str], ...] = (
    (236, 238, "Europe/Kaliningrad"),
    (400, 404, "Europe/Volgograd"),
    (410, 413, "Europe/Saratov"),
    (414, 416, "Europe/Astrakhan"),
    (426, 427, "Europe/Samara"),
    (432, 433, "Europe/Ulyanovsk"),
    (443, 446, "Europe/Samara"),
    (450, 457, "Asia/Yekaterinburg"),
    (460, 462, "Asia/Yekaterinburg"),
    (614, 629, "Asia/Yekaterinburg"),
    (640, 641, "Asia/Yekaterinburg"),
    (644, 646, "Asia/Omsk"),
    (630, 633, "Asia/Novosibirsk"),
    (634, 636, "Asia/Tomsk"),
    (649, 649, "Asia/Barnaul"),
    (650, 654, "Asia/Novokuznetsk"),
    (655, 655, "Asia/Krasnoyarsk"),
    (656, 659, "Asia/Barnaul"),
    (660, 663, "Asia/Krasnoyarsk"),
    (664, 666, "Asia/Irkutsk"),
    (667, 668, "Asia/Krasnoyarsk"),
    (670, 671, "Asia/Irkutsk"),
    (672, 674, "Asia/Chita"),
    (675, 678, "Asia/Yakutsk"),
    (679, 682, "Asia/Vladivostok"),
    (683, 684, "Asia/Kamchatka"),
    (685, 686, "Asia/Magadan"),
    (689, 689, "Asia/Anadyr"),
    (690, 692, "Asia/Vladivostok"),
    (693, 694, "Asia/Sakhalin"),
)


@cache
def zone_for_index(index: str) -> ZoneInfo:
    """The time zone of a 6-digit Russian postal index (Moscow when unknown)."""
    if len(index) >= 3 and index[:3].isdigit():
        prefix = int(index[:3])
        for first, last, zone in _RANGES:
            if first <= prefix <= last:
                return ZoneInfo(zone)
    return ZoneInfo(DEFAULT_TZ)


def next_in_window(moment: dt.datetime, zone: ZoneInfo, start: dt.time,
                   end: dt.time) -> dt.datetime:
    """``moment`` if it is inside [start, end) local time, else the next window start (UTC)."""
    local = moment.astimezone(zone)
    t = local.time()
    if start <= t < end:
        return moment
    day = local.date() if t < start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, start, tzinfo=zone).astimezone(dt.UTC)
