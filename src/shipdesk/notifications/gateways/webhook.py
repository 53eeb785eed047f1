"""A generic webhook: POST JSON, signed with HMAC-SHA256, with an ``Idempotency-Key``
header (our attempt id) so that the receiver can drop a repeat."""

from __future__ import annotations

import hashlib
import hmac
import json

from shipdesk.notifications.gateways.base import (
    RESEND,
    Gateway,
    GatewayError,
    Outgoing,
    SendResult,
    post_with_retry,
)


class Webhook(Gateway):
    name = "webhook"
    idempotent = True
    after_crash = RESEND
    concurrency = 4

    def send_one(self, m: Outgoing) -> SendResult:
        body = json.dumps({"recipient": m.to, "subject": m.subject, "text": m.text,
                           "id": m.attempt_id}, ensure_ascii=False).encode()
        sig = hmac.new(str(self.config.get("secret", "")).encode(), body,
                       hashlib.sha256).hexdigest()
        try:
            resp = post_with_retry(self.http, self.config.get("url", ""), content=body, headers={
                "Content-Type": "application/json", "Idempotency-Key": m.attempt_id,
                "X-Shipdesk-Signature": f"sha256={sig}"})
        except GatewayError as exc:
            return SendResult(m.key, False, error=str(exc), uncertain=exc.uncertain)
        if 200 <= resp.status_code < 300:
            return SendResult(m.key, True, provider_id=m.attempt_id)
        return SendResult(m.key, False, error=f"вебхук: HTTP {resp.status_code}",
                          permanent=400 <= resp.status_code < 500 and resp.status_code != 429)

    def check(self) -> str:
        if not str(self.config.get("url", "")).startswith(("http://", "https://")):
            raise GatewayError("укажите адрес вебхука (http/https)", permanent=True)
        return "адрес задан"
