"""The weekly report reaches the chosen members through a real SMTP server, once a week."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.analytics import reports
from shipdesk.analytics.models import AnalyticsSettings
from shipdesk.core.errors import ValidationFailed
from shipdesk.shipments.models import Shipment
from shipdesk.tracking.tests.factories import shipment

pytestmark = pytest.mark.django_db


def test_weekly_report_goes_to_chosen_members_once(smtp_server: Any, actor: Any, org: Any,
                                                   owner: Any) -> None:
    monday = datetime.fromisoformat("2026-11-30T09:00:00+00:00")
    from shipdesk.analytics.services import analytics_rebuild
    from shipdesk.analytics.tests.data import track
    from shipdesk.finance.models import CashDaily, DebtSnapshot
    from shipdesk.tracking.models import TrackingRule

    friday = monday - timedelta(days=3)
    made = [shipment(org, shipping_cost="300.00") for _ in range(4)]
    Shipment.objects.filter(pk__in=[s.pk for s in made]).update(created_at=friday)
    # the carrier's term is 2 days: one parcel arrives in 1 day, three in 3 (late)
    TrackingRule.objects.create(control_days=2)
    track(made[:1], "delivered", base=friday, transit_days=1)
    track(made[1:], "", base=friday, transit_days=3)
    CashDaily.objects.create(organization=org, carrier_code="russian_post",
                             day=friday.date(), collected=Decimal("1500.00"),
                             paid=Decimal("400.00"))
    DebtSnapshot.objects.create(organization=org, carrier_code="russian_post",
                                day=(monday - timedelta(days=1)).date(),
                                age_0_7=Decimal("1100.00"))

    analytics_rebuild()
    with pytest.raises(ValidationFailed):
        reports.weekly_report_recipients_set(actor=actor, emails=["stranger@example.test"])
    reports.weekly_report_recipients_set(actor=actor, emails=[owner.email])
    assert reports.weekly_report_send(organization_id=org.pk, now=monday)
    assert not reports.weekly_report_send(organization_id=org.pk, now=monday)  # once a week
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == owner.email
    assert "23.11.2026–29.11.2026" in message["Subject"]
    body = smtp_server.body(0)
    assert "Создано: 4" in body and "1200,00" in body
    assert "В контрольный срок перевозчика: 25,0% (3 опоздания)" in body, body
    assert ("Наложенный платёж, ₽: получено 1500,00, перечислено нам 400,00, "
            "долг перевозчиков на конец недели 1100,00") in body, body
    row = AnalyticsSettings.objects.get(organization=org)
    assert row.next_report_at == datetime.fromisoformat("2026-12-07T05:00:00+00:00")


def test_members_are_chosen_on_the_page_and_through_the_api(web: Any, api: Any, owner: Any,
                                                            org: Any) -> None:
    page = web.get("/analytics/").content.decode()
    assert f'value="{owner.email}"' in page
    web.post("/analytics/weekly-report/", {"emails": [owner.email]})
    assert AnalyticsSettings.objects.get(organization=org).weekly_emails == owner.email
    assert f'value="{owner.email}" checked' in web.get("/analytics/").content.decode()
    refused = api.put("/api/v1/analytics/weekly-report", {"emails": ["x@example.test"]},
                      content_type="application/json")
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["loc"] == ["emails"]
    cleared = api.put("/api/v1/analytics/weekly-report", {"emails": []},
                      content_type="application/json")
    assert cleared.json()["emails"] == []
