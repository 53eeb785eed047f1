"""Helpers for the web views of every domain."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django import forms
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render

from shipdesk.core.errors import Forbidden, NotFound, ServiceError

T = TypeVar("T")
V = TypeVar("V", bound=Callable[..., Any])


def actor_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Logged in and a member of an organization: ``request.actor`` is set."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if getattr(request, "actor", None) is None:
            return render(request, "no_organization.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def public_route(view: V) -> V:
    """Marks a view that answers anyone the same way (the recipient's tracking page, health
    checks): ``PublicRouteMiddleware`` serves it without the per-user middleware, so it has
    no ``request.session``, ``request.user`` or ``request.actor`` and must not need them.
    Only its GET and HEAD requests take that way (no CSRF check runs there), so it must
    change nothing on them; any other method goes through the whole chain."""
    view.public_route = True  # type: ignore[attr-defined]
    return view


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


def forbidden_page(request: HttpRequest, exc: Forbidden) -> HttpResponse:
    return render(request, "403.html", {"message": str(exc.detail or exc.title)}, status=403)


def service_action(request: HttpRequest, action: Callable[[], T], *,
                   success: str | Callable[[T], str] | None = None) -> T | None:
    """Runs a one-button action (a POST that redirects back).

    A refusal the user can act on (a conflict, a failed check) becomes a message on the
    next page. ``NotFound`` and ``Forbidden`` go on to ``ServiceErrorMiddleware``, which
    answers with the 404 / 403 page: another organization's id never looks like a success.
    """
    try:
        result = action()
    except (NotFound, Forbidden):
        raise
    except ServiceError as exc:
        message_service_error(request, exc)
        return None
    if success is not None:
        messages.success(request, success(result) if callable(success) else success)
    return result


def confirmed(request: HttpRequest) -> bool:
    """Whether a destructive action's POST comes from its confirmation step (the
    ``confirm.html`` page), so that a bare button never destroys anything by itself."""
    return request.method == "POST" and request.POST.get("confirmed") == "1"


def confirm_page(request: HttpRequest, *, title: str, message: str, action: str, button: str,
                 back: str, fields: dict[str, Any] | None = None) -> HttpResponse:
    """The confirmation step of a destructive action: a page (no JavaScript needed) that
    repeats what will happen and posts the action with ``confirmed=1``. ``fields`` are
    carried over as hidden inputs (lists become repeated inputs)."""
    hidden: list[tuple[str, Any]] = []
    for name, value in (fields or {}).items():
        values = value if isinstance(value, list | tuple) else [value]
        hidden.extend((name, v) for v in values)
    return render(request, "confirm.html", {
        "title": title, "message": message, "action": action, "button": button,
        "back": back, "hidden": hidden})
