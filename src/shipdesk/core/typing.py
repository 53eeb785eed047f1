"""Request types for annotations: what the middleware and the API's auth put on a request.

Use ``request: ActorRequest`` in web views behind ``actor_required`` and
``request: ApiRequest`` in django-ninja handlers, so that ``request.actor`` /
``request.auth`` are typed (mypy) instead of unknown attributes of ``HttpRequest``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from shipdesk.tenancy.services import Actor


class ActorRequest(HttpRequest):
    actor: Actor
    htmx: HtmxDetails


class ApiRequest(HttpRequest):
    auth: Actor
