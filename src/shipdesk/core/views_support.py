"""Helpers for the web views of every domain."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from shipdesk.core.errors import ServiceError


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


def form_add_service_error(form: forms.BaseForm, exc: ServiceError) -> None:
    """Puts a service error's field errors beside the form fields they name (the first
    element of ``loc``); the rest, and the error's own message, above the form."""
    placed = False
    for error in exc.errors:
        field = str(error.loc[0]) if error.loc else None
        if field in form.fields:
            form.add_error(field, str(error.message))
            placed = True
        else:
            form.add_error(None, str(error.message))
    if (exc.detail and not placed) or not exc.errors:
        form.add_error(None, str(exc.detail or exc.title))


def message_service_error(request: HttpRequest, exc: ServiceError) -> None:
    """A service error as a message on the next page (for one-button forms)."""
    messages.error(request, str(exc.detail or exc.title))
