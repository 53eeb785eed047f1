"""Postage test data: an organization with an INN, a balance with the payee's details,
letters with numbers and prices, and 1C "Client Bank" statements made to order."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from shipdesk.postage import services
from shipdesk.postage.models import PostageAccount
from shipdesk.tenancy.models import Organization

ORG_INN = "7707083893"
PAYEE_ACCOUNT = "40702810900000000001"


def fast_user(email: str) -> Any:
    """An owner who never logs in with a password: no password hashing (a second a user on a
    loaded machine); pages are reached with ``force_login``."""
    from django.contrib.auth import get_user_model

    user = get_user_model()(username=email, email=email)
    user.set_unusable_password()
    user.save()
    return user


@pytest.fixture
def org(make_org: Any) -> Organization:
    return make_org(owner=fast_user("owner@postage.test"), inn=ORG_INN,
                    legal_name="ООО «Рога и копыта»")


@pytest.fixture
def other_org(make_org: Any) -> Organization:
    return make_org(owner=fast_user("other@postage.test"), name="Чужой магазин")


@pytest.fixture
def postage_account(actor: Any) -> PostageAccount:
    from shipdesk.carriers.models import CarrierAccount

    carrier = CarrierAccount.objects.create(organization=actor.organization,
                                            carrier_code="russian_post", name="Почта",
                                            base_url="http://127.0.0.1:9/")
    account = services.account_open(actor=actor, carrier_account_id=carrier.pk)
    return services.account_set_payee(
        actor=actor, account_id=account.pk, payee_name="АО «Франкинг»", payee_inn="7724261610",
        payee_kpp="772401001", payee_account=PAYEE_ACCOUNT, payee_bank="ПАО Сбербанк",
        payee_bik="044525225", payee_corr_account="30101810400000000225")


@pytest.fixture
def letters(postage_account: PostageAccount) -> Callable[..., list[int]]:
    """``n`` registered letters on the balance's contract; returns their ids."""
    from shipdesk.shipments.models import Shipment, State

    def make(n: int, cost: str = "87.50", org_id: int | None = None,
             start: int = 0) -> list[int]:
        org_id = org_id or postage_account.organization_id
        rows = [Shipment(organization_id=org_id, order_number=f"L{start + i}",
                         tracking_number=f"8008{start + i:010d}", state=State.NUMBERED,
                         carrier_code="russian_post", service_code="LETTER",
                         carrier_account_id=postage_account.carrier_account_id,
                         shipping_cost=Decimal(cost), recipient_surname="Петров",
                         index="190000", city="Санкт-Петербург",
                         street="Невский пр.", house="1", weight_g=20)
                for i in range(n)]
        return [s.pk for s in Shipment.objects.bulk_create(rows)]

    return make


def statement(docs: list[dict[str, str]], *, account: str = PAYEE_ACCOUNT,
              encoding: str = "Windows") -> bytes:
    lines = ["1CClientBankExchange", "ВерсияФормата=1.03", f"Кодировка={encoding}",
             "Отправитель=Бухгалтерия", "Получатель=", "ДатаНачала=01.12.2026",
             "ДатаКонца=06.12.2026", f"РасчСчет={account}", "СекцияРасчСчет",
             f"РасчСчет={account}", "НачальныйОстаток=0.00", "КонецРасчСчет"]
    for d in docs:
        lines.append("СекцияДокумент=Платежное поручение")
        fields = {"Номер": "1", "Дата": "05.12.2026", "Сумма": "1000.00",
                  "ПлательщикСчет": "40702810100000000009", "ПлательщикИНН": ORG_INN,
                  "Плательщик1": "ООО \"Рога и копыта\"", "ПолучательСчет": account,
                  "ДатаПоступило": "05.12.2026", "ПолучательИНН": "7724261610",
                  "НазначениеПлатежа": "Оплата по счёту № ПМ-000001", "НеизвестныйКлюч": "x"}
        fields.update(d)
        lines += [f"{k}={v}" for k, v in fields.items()]
        lines.append("КонецДокумента")
    lines.append("КонецФайла")
    return "\r\n".join(lines).encode("cp866" if encoding == "DOS" else "cp1251")
