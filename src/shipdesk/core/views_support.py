"""Helpers for the web views of every domain."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def actor_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Logged in and a member of an organization: ``request.actor`` is set."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "actor", None) is None:
            return render(request, "no_organization.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper
