from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse

from shipdesk.core.views_support import public_route


@public_route
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up (no dependency checked: a liveness probe)."""
    return JsonResponse({"status": "ok"})


@public_route
def readyz(request: HttpRequest) -> JsonResponse:
    """The database and the broker answer: this process can take traffic."""
    checks: dict[str, str] = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {exc.__class__.__name__}"
    try:
        from shipdesk.celery import app

        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception as exc:
        checks["broker"] = f"error: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks,
                         "mode": settings.SHIPDESK_MODE},
                        status=200 if ready else 503)
