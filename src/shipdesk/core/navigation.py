"""The main menu: each domain's AppConfig declares ``nav_items = [(order, url_name, label)]``
and this collects them, so adding a domain never edits a shared menu. Items ordered from
``SETTINGS_FROM`` on (carriers, notifications, senders, rules, number pools, the
organization) fold into the «Настройки» group, so the bar fits one line at 1366 px; the item
of the current page is marked (the longest URL that the page's path starts with)."""

from __future__ import annotations

from functools import cache
from typing import Any

from django.apps import apps
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse


@cache
def _items() -> list[tuple[int, str, Any]]:
    found: list[tuple[int, str, Any]] = []
    for config in apps.get_app_configs():
        found.extend(getattr(config, "nav_items", ()))
    return sorted(found, key=lambda item: item[0])


SETTINGS_FROM = 60


def nav_items(request: HttpRequest) -> dict[str, Any]:
    if getattr(request, "actor", None) is None:
        return {}
    items = []
    for order, url_name, label in _items():
        try:
            items.append({"url": reverse(url_name), "label": label, "current": False,
                          "settings": order >= SETTINGS_FROM})
        except NoReverseMatch:
            continue
    path = request.path
    matching = [item for item in items if path.startswith(item["url"])]
    if matching:
        max(matching, key=lambda item: len(item["url"]))["current"] = True
    return {"nav_items": [item for item in items if not item["settings"]],
            "nav_settings": [item for item in items if item["settings"]],
            "nav_settings_current": any(item["current"] for item in items if item["settings"])}
