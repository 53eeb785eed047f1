"""The main menu: each domain's AppConfig declares ``nav_items = [(order, url_name, label)]``
and this collects them, so adding a domain never edits a shared menu."""

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


def nav_items(request: HttpRequest) -> dict[str, Any]:
    if getattr(request, "actor", None) is None:
        return {}
    items = []
    for _order, url_name, label in _items():
        try:
            items.append({"url": reverse(url_name), "label": label})
        except NoReverseMatch:
            continue
    return {"nav_items": items}
