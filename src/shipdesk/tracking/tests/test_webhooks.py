"""Webhooks out, against a local HTTP receiver that verifies the Standard Webhooks signature."""

import base64
import hashlib
import hmac
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.utils import timezone

from shipdesk.core.errors import NotFound
from shipdesk.tenancy.services import system_actor
from shipdesk.tracking import services
from shipdesk.tracking.models import WebhookDelivery, WebhookEndpoint
from shipdesk.tracking.services import tracking_events_ingest
from shipdesk.tracking.statuses import Status
from shipdesk.tracking.tests.factories import T0, event, shipment

pytestmark = pytest.mark.django_db(transaction=True)
NOW = T0 + timedelta(days=10)


class Receiver:
    """Accepts a POST only if its signature verifies with the endpoint's secret."""

    def __init__(self, fail_first: int = 0) -> None:
        self.secret = b""
        self.received: list[dict] = []
        self.rejected = 0
        self.fail_first = fail_first
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                msg_id, ts = self.headers["webhook-id"], self.headers["webhook-timestamp"]
                expected = base64.b64encode(hmac.new(
                    receiver.secret, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())
                given = [s.split(",", 1)[1].encode()
                         for s in self.headers["webhook-signature"].split()]
                ok = any(hmac.compare_digest(expected, g) for g in given)
                if not ok:
                    receiver.rejected += 1
                    code = 401
                elif receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    code = 500
                else:
                    receiver.received.append({"id": msg_id, **json.loads(body)})
                    code = 204
                self.send_response(code)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _endpoint(actor, receiver):
    endpoint, secret = services.webhook_endpoint_create(actor=actor, url=receiver.url)
    assert secret.startswith("whsec_")
    receiver.secret = base64.b64decode(secret.removeprefix("whsec_"))
    return endpoint


def test_status_change_is_posted_signed_to_the_shop(actor, org, receiver):
    _endpoint(actor, receiver)
    s = shipment(org)
    tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED),
                                   event(s.tracking_number, 2, Status.DELIVERED)], now=NOW)
    assert receiver.rejected == 0
    assert [m["data"]["status"] for m in receiver.received] == [Status.DELIVERED]
    data = receiver.received[0]["data"]
    assert data["tracking_number"] == s.tracking_number and data["order_number"] == s.order_number
    d = WebhookDelivery.objects.get()
    assert d.state == WebhookDelivery.SUCCEEDED and d.attempts == 1 and d.last_status_code == 204


def test_wrong_secret_is_refused_by_the_receiver(actor, org, receiver):
    _endpoint(actor, receiver)
    receiver.secret = b"not the secret"
    s = shipment(org)
    tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED)], now=NOW)
    assert receiver.rejected == 1 and not receiver.received
    d = WebhookDelivery.objects.get()
    assert d.state == WebhookDelivery.PENDING and d.last_status_code == 401
    assert d.next_attempt_at is not None


def test_failed_delivery_is_retried_with_backoff_then_succeeds(actor, org):
    receiver = Receiver(fail_first=2)
    try:
        _endpoint(actor, receiver)
        s = shipment(org)
        tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED)], now=NOW)
        d = WebhookDelivery.objects.get()
        assert d.attempts == 1 and d.state == WebhookDelivery.PENDING
        first_gap = d.next_attempt_at - d.updated_at
        now = timezone.now()
        assert services.webhook_deliveries_send(now=now) == 0  # not due yet
        services.webhook_deliveries_send(now=d.next_attempt_at + timedelta(seconds=1))
        d.refresh_from_db()
        assert d.attempts == 2 and d.next_attempt_at - d.updated_at > first_gap
        services.webhook_deliveries_send(now=d.next_attempt_at + timedelta(seconds=1))
        d.refresh_from_db()
        assert d.state == WebhookDelivery.SUCCEEDED and d.attempts == 3
        assert len(receiver.received) == 1
    finally:
        receiver.close()


def test_replay_sends_the_same_message_again(actor, org, receiver):
    _endpoint(actor, receiver)
    s = shipment(org)
    tracking_events_ingest(events=[event(s.tracking_number, 0, Status.ACCEPTED)], now=NOW)
    d = WebhookDelivery.objects.get()
    services.webhook_delivery_replay(actor=actor, delivery_id=d.pk)
    assert [m["id"] for m in receiver.received] == [d.msg_id, d.msg_id]


def test_endpoint_is_disabled_after_persistent_failure(actor, org, monkeypatch):
    monkeypatch.setattr(services, "DISABLE_AFTER_FAILURES", 3)
    receiver = Receiver(fail_first=100)
    try:
        endpoint = _endpoint(actor, receiver)
        s = shipment(org)
        n = s.tracking_number
        for day in range(3):
            tracking_events_ingest(events=[event(n, day, [Status.ACCEPTED, Status.IN_TRANSIT,
                                                          Status.ARRIVED_AT_PICKUP][day])],
                                   now=NOW)
        endpoint.refresh_from_db()
        assert not endpoint.is_active and endpoint.disabled_reason
        tracking_events_ingest(events=[event(n, 4, Status.DELIVERED)], now=NOW)
        assert WebhookDelivery.objects.count() == 3  # nothing queued for a disabled endpoint
    finally:
        receiver.close()


def test_signature_matches_the_standard_webhooks_example():
    # The example from the Standard Webhooks specification.
    sig = services.webhook_sign(
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", msg_id="msg_p5jXN8AQM9LWM0D4loKWxJek",
        timestamp=1614265330, body=b'{"test": 2432232314}')
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_endpoints_are_scoped_to_the_organization(api, other_api, actor, other_org):
    r = api.post("/api/v1/tracking/webhooks/", {"url": "https://shop.example/hook"},
                 content_type="application/json")
    assert r.status_code == 201 and r.json()["secret"].startswith("whsec_")
    eid = r.json()["id"]
    assert other_api.get("/api/v1/tracking/webhooks/").json() == []
    assert other_api.delete(f"/api/v1/tracking/webhooks/{eid}/").status_code in (403, 404)
    with pytest.raises(NotFound):  # even the other organization's owner does not see it
        services.webhook_endpoint_delete(actor=system_actor(other_org), endpoint_id=eid)
    assert WebhookEndpoint.objects.filter(pk=eid).exists()
    assert api.patch(f"/api/v1/tracking/webhooks/{eid}/", {"is_active": False},
                     content_type="application/json").json()["is_active"] is False
    bad = api.post("/api/v1/tracking/webhooks/", {"url": "ftp://x"},
                   content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["url"]
    assert api.delete(f"/api/v1/tracking/webhooks/{eid}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
