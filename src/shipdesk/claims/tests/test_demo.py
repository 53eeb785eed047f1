"""The claims pages of a fresh demo: one parcel of the demo stopped moving weeks ago, so the
first check finds it; an empty list says when candidates appear and offers the check."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from shipdesk.claims.demo import STUCK_ORDER
from shipdesk.core import demo

pytestmark = pytest.mark.django_db


def test_the_first_check_of_a_fresh_demo_finds_the_stuck_parcel(org: Any, web: Client) -> None:
    from shipdesk.shipments.models import Shipment

    demo.demo_load(organization=org)
    stuck = Shipment.objects.get(organization=org, order_number=STUCK_ORDER)
    before = web.get("/claims/").content.decode()
    assert stuck.tracking_number not in before
    checked = web.post("/claims/detect/", follow=True).content.decode()
    assert "Найдено кандидатов: 1" in checked
    row = checked.split(f"<td>{stuck.tracking_number}</td>")[1].split("</tr>")[0]
    assert "Нет движения дольше контрольного срока" in row
    # loading the demo again adds nothing
    demo.demo_load(organization=org)
    assert Shipment.objects.filter(organization=org, order_number=STUCK_ORDER).count() == 1


def test_an_empty_list_says_when_candidates_appear_and_offers_the_check(web: Client) -> None:
    page = web.get("/claims/").content.decode()
    empty = page.split('id="no-candidates">')[1].split("</td>")[0]
    assert "раз в сутки" in empty and "Первая проверка пройдёт в ближайшие минуты" in empty
    assert 'form="detect-form"' in empty and "Проверить сейчас" in empty
    web.post("/claims/detect/")
    again = web.get("/claims/").content.decode().split('id="no-candidates">')[1]
    assert "Первая проверка" not in again.split("</td>")[0]
