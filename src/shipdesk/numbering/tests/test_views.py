from __future__ import annotations

from typing import Any

from shipdesk.numbering import services
from shipdesk.numbering.models import NumberPool
from shipdesk.numbering.validation import rp14_compose, s10_compose


def test_page_shows_pools_remaining_and_low_warning(web: Any, actor: Any) -> None:
    pool = services.pool_create(actor=actor, carrier_code="russian_post",
                                first_number=rp14_compose("800847", "40", 0),
                                last_number=rp14_compose("800847", "40", 99), low_threshold=50)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=60)
    page = web.get("/numbering/").content.decode()
    assert pool.first_number in page
    assert 'id="low-warnings"' in page
    assert "осталось 40" in page
    assert 'href="/numbering/"' in page  # in the main menu


def test_add_range_from_the_form(web: Any, actor: Any) -> None:
    response = web.post("/numbering/add/", {
        "carrier_code": "sandbox", "first_number": "EE 123 456 785 US",
        "last_number": s10_compose("EE", 12345699, "US"), "low_threshold": "5"})
    assert response.status_code == 302
    pool = NumberPool.objects.get(organization=actor.organization)
    assert (pool.kind, pool.size, pool.low_threshold) == ("s10", 22, 5)


def test_bad_range_shows_the_error_beside_the_field(web: Any, actor: Any) -> None:
    response = web.post("/numbering/add/", {
        "carrier_code": "sandbox", "first_number": "EE123456780US",
        "last_number": s10_compose("EE", 12345699, "US")})
    assert response.status_code == 422
    assert "Неверная контрольная цифра" in response.content.decode()
    assert not NumberPool.objects.exists()


def test_check_a_typed_number(web: Any) -> None:
    good = web.get("/numbering/", {"number": "10944022440321"}).content.decode()
    assert "контрольная цифра верна" in good
    bad = web.get("/numbering/", {"number": "10944022440322"}).content.decode()
    assert "должна быть 1" in bad


def test_check_a_typed_number_by_its_carriers_format(web: Any) -> None:
    page = web.get("/numbering/").content.decode()
    assert '<option value="cdek">СДЭК</option>' in page
    good = web.get("/numbering/", {"number": "1106000001", "carrier_code": "cdek"})
    text = good.content.decode()
    assert "✔ <code>1106000001</code> — номер в формате перевозчика" in text
    assert '<option value="cdek" selected>СДЭК</option>' in text
    as_post = web.get("/numbering/", {"number": "1106000001"}).content.decode()
    assert "номер Почты России состоит из 14" in as_post
    bad = web.get("/numbering/", {"number": "11060", "carrier_code": "cdek"}).content.decode()
    assert "Неверная длина номера заказа СДЭК: 5 цифр" in bad


def test_toggle_another_organizations_pool_does_nothing(web: Any, other_org: Any) -> None:
    from shipdesk.tenancy.services import system_actor

    pool = services.pool_create(actor=system_actor(other_org), carrier_code="russian_post",
                                first_number=rp14_compose("800847", "40", 0),
                                last_number=rp14_compose("800847", "40", 9))
    web.post(f"/numbering/{pool.pk}/toggle/")
    pool.refresh_from_db()
    assert pool.is_active is True


def test_request_numbers_from_the_sandbox_carrier_page(web: Any, org: Any) -> None:
    """The sandbox emulator allots real-format numbers of its own: they become a pool."""
    from shipdesk.carriers.emulation import start
    from shipdesk.carriers.models import CarrierAccount
    from shipdesk.carriers.sandbox.emulator import API_KEY, SandboxEmulator

    running = start(SandboxEmulator())
    try:
        account = CarrierAccount.objects.create(
            organization=org, carrier_code="sandbox", name="Песочница", base_url=running.url,
            credentials={"api_key": API_KEY}, is_sandbox=True)
        page = web.get("/numbering/").content.decode()
        assert "Получить номера от перевозчика" in page
        assert f'<option value="{account.pk}">Песочница</option>' in page
        response = web.post("/numbering/from-carrier/", {"account_id": account.pk, "count": 10},
                            follow=True)
        pool = NumberPool.objects.get()
        assert (pool.kind, pool.prefix, pool.serial_last - pool.serial_first) == ("rp14",
                                                                                  "99999901", 9)
        assert response.status_code == 200 and "99999901" in response.content.decode()
    finally:
        running.stop()
