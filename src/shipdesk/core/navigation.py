"""The main menu: each domain's AppConfig declares ``nav_items = [(order, url_name, label)]``
(or ``(order, url_name, label, group)``) and this collects them, so adding a domain never
edits a shared menu. An item names the group it folds into (:data:`GROUPS`: «Деньги»,
«Интеграции», «Настройки»); one that names none is a top item below ``SETTINGS_FROM`` and
folds into «Настройки» from there on (carriers, senders, rules, number pools, the
organization), so the bar fits one line at 1366 px. A group sits in the bar at its own
order. The item of the current page is marked (the longest URL that the page's path starts
with), and so is its group."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

SETTINGS_FROM = 60

# group key -> (its place in the bar, its label)
GROUPS: dict[str, tuple[int, Any]] = {
    "money": (48, _("Деньги")),  # payouts, statistics, tariffs, postage
    "integrations": (55, _("Интеграции")),  # where orders come from: MoySklad, shops
    "settings": (1000, _("Настройки")),  # set up once
}


@cache
def _items() -> list[tuple[int, str, Any, str]]:
    found: list[tuple[int, str, Any, str]] = []
    for config in apps.get_app_configs():
        for item in getattr(config, "nav_items", ()):
            order, url_name, label = item[:3]
            group = item[3] if len(item) > 3 else ("settings" if order >= SETTINGS_FROM else "")
            if group and group not in GROUPS:
                group = "settings"
            found.append((order, url_name, label, group))
    return sorted(found, key=lambda item: item[0])


def nav_items(request: HttpRequest) -> dict[str, Any]:
    """``nav_entries``: the bar, in order; each a link (``url``, ``label``, ``current``) or a
    group (``group``, ``label``, ``items``, ``current``)."""
    if getattr(request, "actor", None) is None:
        return {}
    links = []
    for order, url_name, label, group in _items():
        try:
            links.append({"url": reverse(url_name), "label": label, "current": False,
                          "order": order, "group": group})
        except NoReverseMatch:
            continue
    path = request.path
    matching = [link for link in links if path.startswith(link["url"])]
    if matching:
        max(matching, key=lambda link: len(link["url"]))["current"] = True
    entries: list[dict[str, Any]] = [link for link in links if not link["group"]]
    for key, (order, label) in GROUPS.items():
        members = [link for link in links if link["group"] == key]
        if members:
            entries.append({"group": key, "label": label, "order": order, "items": members,
                            "current": any(link["current"] for link in members)})
    entries.sort(key=lambda entry: entry["order"])
    return {"nav_entries": entries}
