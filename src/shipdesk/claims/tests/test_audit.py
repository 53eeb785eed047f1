"""The first-day audit of an uploaded list against the carriers' emulators: Russian Post by
ticket (batch), CDEK one by one; lost, stuck and unpaid parcels found by carrier, the money
at stake, the numbers of an unknown format and of a carrier with no contract listed as
not checked; the page, the API and the PDF say the same."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.carriers.cdek.adapter import Adapter as CdekAdapter
from shipdesk.carriers.cdek.emulator import CLIENT_ID, CLIENT_SECRET, CdekEmulator
from shipdesk.carriers.emulation import Running, start
from shipdesk.carriers.models import CarrierAccount
from shipdesk.carriers.russian_post import barcodes
from shipdesk.carriers.russian_post.emulator import scenario_for
from shipdesk.carriers.russian_post.tests.conftest import Admin, start_emulator
from shipdesk.carriers.tests.helpers import control, fast_client, parcel
from shipdesk.claims import audits
from shipdesk.core.templatetags.words import money_text
from shipdesk.documents.tests.pdfcheck import page_texts


@pytest.fixture
def carriers() -> Iterator[tuple[Any, Running]]:
    rp = start_emulator()
    cdek = start(CdekEmulator())
    yield rp, cdek
    rp.shutdown()
    cdek.stop()


def _rp_number(scenario: str, skip: int = 0) -> str:
    for i in range(10_000):
        number = barcodes.rp14_make(f"8008474{i:06d}")
        if scenario_for(number) == scenario:
            if skip == 0:
                return number
            skip -= 1
    raise AssertionError(scenario)


@pytest.mark.django_db
def test_audit_of_an_uploaded_list_against_the_emulators(carriers: Any, actor: Any, org: Any,
                                                         web: Any, api: Any) -> None:
    rp, cdek = carriers
    CarrierAccount.objects.create(
        organization=org, carrier_code="russian_post", name="Почта", base_url=rp.url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": rp.url, "max_attempts": 1, "ticket_first_fetch_after": 0})
    CarrierAccount.objects.create(
        organization=org, carrier_code="cdek", name="СДЭК", base_url=f"{cdek.url}/v2",
        credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    CdekAdapter.tokens._local.clear()
    made = CdekAdapter(credentials={"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET},
                       base_url=f"{cdek.url}/v2", http=fast_client()).create_parcels(
        [parcel(f"A-{s}", service_code="136", comment=f"scenario:{s}")
         for s in ("lost", "stuck", "delivered")])
    cdek_lost, cdek_stuck, cdek_ok = (p.tracking_number for p in made.created)
    rp_lost, rp_stuck = _rp_number("lost"), _rp_number("stuck")
    rp_paid, rp_unpaid = _rp_number("delivered"), _rp_number("delivered", skip=1)
    # forty days on, for the carriers and for us
    control(cdek.url, "clock", advance_hours=24 * 40)
    Admin(rp.url).clock(advance=40 * 24 * 3600)

    rows = [("Трек-номер", "Наложенный платёж"), (rp_lost, "1000"), (rp_stuck, "0"),
            (rp_paid, "0"), (rp_unpaid, "2500,50"), (cdek_lost, "700"), (cdek_stuck, ""),
            (cdek_ok, ""), ("12345678901", ""), ("ABC-1", "")]
    content = "\n".join(";".join(r) for r in rows).encode()
    audit = audits.audit_create_from_file(actor=actor, filename="list.csv", content=content)
    while audit.state != "done":  # the due work's turns: tickets asked, then fetched
        audit = audits.audit_run(audit_id=audit.pk)
    report = audits.audit_report(actor=actor, audit_id=audit.pk)
    by = {c["carrier_code"]: c for c in report.by_carrier}
    verdicts = {i.tracking_number: i.verdict for i in report.problems}
    assert verdicts == {rp_lost: "lost", rp_stuck: "stuck", rp_unpaid: "cod_unpaid",
                        cdek_lost: "lost", cdek_stuck: "stuck"}
    assert (by["russian_post"]["lost"], by["russian_post"]["stuck"],
            by["russian_post"]["cod_unpaid"], by["russian_post"]["ok"]) == (1, 1, 1, 1)
    assert (by["cdek"]["lost"], by["cdek"]["stuck"], by["cdek"]["ok"]) == (1, 1, 1)
    assert str(report.totals["stake"]) == "4200.50"
    not_checked = {i.tracking_number: i.note for i in report.not_checked}
    assert "нет договора" in not_checked["12345678901"]
    assert "PickPoint" in not_checked["12345678901"]
    assert "формат номера" in not_checked["ABC1"]

    page = web.get(f"/claims/audits/{audit.pk}/").content.decode()
    assert rp_lost in page and "нет договора" in page
    assert money_text(Decimal("4200.50")) in page
    pdf = "\n".join(page_texts(web.get(f"/claims/audits/{audit.pk}/audit.pdf").content))
    assert cdek_stuck in pdf and "Не проверено" in pdf
    answer = api.get(f"/api/v1/claims/audits/{audit.pk}").json()
    assert answer["state"] == "done" and answer["totals"]["lost"] == 2
