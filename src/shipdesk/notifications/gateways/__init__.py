"""Notification gateways: SMTP, sms.ru, SMSC, SMS Aero, webhook — each behind one interface."""

from __future__ import annotations

from typing import Any

import httpx

from shipdesk.notifications.gateways.base import DeliveryReport, Gateway, GatewayError, Outgoing, SendResult

__all__ = ["DeliveryReport", "Gateway", "GatewayError", "Outgoing", "SendResult", "get_gateway"]


def gateway_class(name: str) -> type[Gateway]:
    from shipdesk.notifications.gateways.email import Email
    from shipdesk.notifications.gateways.smsaero import SmsAero
    from shipdesk.notifications.gateways.smsc import Smsc
    from shipdesk.notifications.gateways.smsru import SmsRu
    from shipdesk.notifications.gateways.webhook import Webhook

    return {"smtp": Email, "smsru": SmsRu, "smsc": Smsc, "smsaero": SmsAero,
            "webhook": Webhook}[name]


def get_gateway(name: str, config: dict[str, Any], http: httpx.Client | None = None) -> Gateway:
    return gateway_class(name)(config=config, http=http)
