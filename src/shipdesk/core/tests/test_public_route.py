"""PublicRouteMiddleware: views marked @public_route skip the per-user middleware."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.test import override_settings

from shipdesk.core.middleware import PublicRouteMiddleware


def test_health_check_sets_no_cookie_and_touches_no_session(client, db):
    client.cookies["sessionid"] = "not-a-session"
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert "Cookie" not in r.get("Vary", "") and not r.cookies
    assert r["X-Request-ID"] and r["X-Frame-Options"] == "DENY"


def test_private_page_still_runs_the_whole_chain(client, db):
    r = client.get("/tracking/")
    assert r.status_code == 302 and "/login/" in r["Location"]


def test_middleware_with_view_hooks_cannot_be_put_in_the_public_chain():
    with override_settings(PUBLIC_ROUTE_MIDDLEWARE=[
            "django.middleware.csrf.CsrfViewMiddleware"]), \
            pytest.raises(ImproperlyConfigured, match="process_view"):
        PublicRouteMiddleware(lambda request: HttpResponse())


def test_post_to_a_public_route_goes_through_csrf(db):
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post("/healthz")
    assert r.status_code == 403  # the CSRF check of the whole chain, not the public lane
