"""The operator's path through the pages: the rules run, candidates shown with their
evidence, claims made from the ticked ones, one filed and paid, a rule changed in words, the
control room's figures and its XLSX."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from python_calamine import CalamineWorkbook

from shipdesk.claims.models import Candidate, Claim
from shipdesk.claims.tests.conftest import NOW, build_world
from shipdesk.core.templatetags.words import money_text


@pytest.mark.django_db
def test_operator_finds_claims_files_one_and_sees_the_money_come_back(org: Any, web: Any,
                                                                     api: Any) -> None:
    world = build_world(org, parcels=300)
    with time_machine.travel(NOW, tick=False):
        assert web.post("/claims/detect/").status_code == 302
        page = web.get("/claims/?kind=lost").content.decode()
        lost = Candidate.objects.filter(organization=org, kind="lost").order_by("id")
        assert lost.count() == len(world.expected["lost"])
        assert all(c.tracking_number in page for c in lost)
        assert "перевозчик сообщил" in page
        # the API says the same, with the evidence in words
        listed = api.get("/api/v1/claims/candidates?kind=lost").json()
        assert {c["tracking_number"] for c in listed} == {c.tracking_number for c in lost}
        assert all(c["evidence"] for c in listed)
        answer = web.post("/claims/candidates/claim/",
                          {"candidate_ids": [c.pk for c in lost]})
        assert answer.status_code == 302 and answer["Location"] == "/claims/list/"
        assert Claim.objects.filter(organization=org, kind="lost").count() == lost.count()
        claim = Claim.objects.filter(organization=org).order_by("id").first()
        assert claim is not None
        web.post(f"/claims/{claim.pk}/", {"action": "file", "reference": "П-123"})
        web.post(f"/claims/{claim.pk}/", {"action": "decide", "approved_amount": "1300,00"})
        web.post(f"/claims/{claim.pk}/", {"action": "pay", "amount": "1300",
                                          "paid_on": "2026-07-10"})
        page = web.get(f"/claims/{claim.pk}/").content.decode()
        assert "Возмещение получено" in page and "91.1" in page and "П-123" in page
        # a rule changed: no lost-parcel search for CDEK, said in words
        web.post("/claims/rules/", {"kind": "lost", "carrier_code": "cdek",
                                    "margin_days": "0", "file_window_days": "180",
                                    "answer_days": "30", "remind_days": "7",
                                    "min_amount": "0"})
        rules = web.get("/claims/rules/").content.decode()
        assert "Не ищется. Перевозчик сообщил об утрате" in rules
        # the control room: claimed, recovered, success rate; the same in XLSX
        control = web.get("/claims/control/?date_from=2026-01-01&date_to=2026-12-31")
        text = control.content.decode()
        assert money_text(Decimal("1300.00")) in text and "100,0%" in text
        assert 'data-chart="claims_recovered"' in text
        xlsx = web.get("/claims/control/claims.xlsx?date_from=2026-01-01&date_to=2026-12-31")
        rows = CalamineWorkbook.from_filelike(io.BytesIO(xlsx.content)).get_sheet_by_index(
            0).to_python()
        assert rows[0][0] == "Месяц" and sum(float(r[4] or 0) for r in rows[1:]) == 1300.0
        figures = api.get("/api/v1/claims/control?date_from=2026-01-01&date_to=2026-12-31").json()
        assert figures["totals"]["recovered"] == "1300.00" and figures["success_rate"] == 100.0
