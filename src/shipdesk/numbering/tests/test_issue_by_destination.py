"""Numbers by carrier and destination: pools only for carriers that number from the
sender's ranges; 14-digit numbers at home, S10 abroad with the service indicator that fits
the mail type; a clear error when the pools are of the wrong kind."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connections, transaction

from shipdesk.core.errors import Conflict
from shipdesk.numbering import selectors, services
from shipdesk.numbering.models import NumberPool
from shipdesk.numbering.services import NumbersFromCarrier
from shipdesk.numbering.validation import (
    rp14_compose,
    s10_compose,
    s10_service_letters,
    validate_tracking_number,
)


def rp14_pool(actor: Any, carrier: str = "russian_post", code: str = "40", first: int = 0,
              last: int = 99, **kw: Any) -> NumberPool:
    return services.pool_create(actor=actor, carrier_code=carrier,
                                first_number=rp14_compose("800847", code, first),
                                last_number=rp14_compose("800847", code, last), **kw)


def s10_pool(actor: Any, service: str, carrier: str = "russian_post", first: int = 0,
             last: int = 99, **kw: Any) -> NumberPool:
    return services.pool_create(actor=actor, carrier_code=carrier,
                                first_number=s10_compose(service, first, "RU"),
                                last_number=s10_compose(service, last, "RU"), **kw)


def issue(actor: Any, count: int = 1, carrier: str = "russian_post", **kw: Any) -> list[str]:
    return services.numbers_issue(organization=actor.organization, carrier_code=carrier,
                                  count=count, **kw)


@pytest.mark.parametrize("carrier", ["cdek", "pickpoint"])
def test_a_carrier_that_numbers_its_own_parcels_gets_nothing_from_pools(
        actor: Any, carrier: str) -> None:
    rp14_pool(actor, carrier=carrier)  # even a pool set up by mistake is not used
    with pytest.raises(NumbersFromCarrier, match="присваивает номер сам") as info:
        issue(actor, carrier=carrier)
    assert isinstance(info.value, Conflict)  # callers treating "no number now" as fine
    assert NumberPool.objects.get(carrier_code=carrier).issued == 0


@pytest.mark.parametrize("carrier", ["russian_post", "sandbox"])
def test_carriers_numbering_from_pools_get_pool_numbers(actor: Any, carrier: str) -> None:
    rp14_pool(actor, carrier=carrier)
    assert issue(actor, 2, carrier=carrier) == [rp14_compose("800847", "40", s) for s in (0, 1)]


def test_a_carrier_without_an_adapter_is_numbered_from_its_pools(actor: Any) -> None:
    rp14_pool(actor, carrier="local_courier")
    assert issue(actor, carrier="local_courier") == [rp14_compose("800847", "40", 0)]


def test_domestic_parcels_get_14_digits_and_international_ones_s10(actor: Any) -> None:
    s10_pool(actor, "CA")  # the older pool: must not be taken for a domestic parcel
    rp14_pool(actor)
    domestic = issue(actor, 2)
    assert domestic == [rp14_compose("800847", "40", s) for s in (0, 1)]
    abroad = issue(actor, 2, international=True, service_code="PARCEL_INTERNATIONAL")
    assert abroad == [s10_compose("CA", s, "RU") for s in (0, 1)]
    assert all(validate_tracking_number(n, carrier_code="russian_post") == n
               for n in domestic + abroad)


@pytest.mark.parametrize(("service_code", "letter"), [
    ("PARCEL_INTERNATIONAL", "C"),
    ("POSTAL_PARCEL", "C"),
    ("EMS_INTERNATIONAL", "E"),
    ("EMS", "E"),
    ("SMALL_PACKET", "R"),
    ("LETTER/ORDERED", "R"),
    ("BANDEROL/WITH_DECLARED_VALUE", "V"),
    ("ECOM", "H"),
])
def test_the_s10_pool_is_chosen_by_the_mail_type(actor: Any, service_code: str,
                                                 letter: str) -> None:
    for service in ("RA", "CA", "EA", "VA", "HA"):
        s10_pool(actor, service)
    [number] = issue(actor, international=True, service_code=service_code)
    assert number[0] == letter
    assert number == s10_compose(f"{letter}A", 0, "RU")


def test_the_mail_type_table() -> None:
    assert s10_service_letters("EMS_OPTIMAL") == frozenset("E")
    assert s10_service_letters("standard") is None
    assert s10_service_letters("") is None


def test_an_unknown_mail_type_takes_any_s10_pool_oldest_first(actor: Any) -> None:
    s10_pool(actor, "ZZ", carrier="sandbox")
    assert issue(actor, carrier="sandbox", international=True, service_code="express") == [
        s10_compose("ZZ", 0, "RU")]


def test_only_domestic_pools_for_an_international_parcel_is_a_clear_conflict(
        actor: Any) -> None:
    pool = rp14_pool(actor)
    with pytest.raises(Conflict) as info:
        issue(actor, international=True, service_code="PARCEL_INTERNATIONAL")
    message = str(info.value.detail)
    assert message.startswith("Нет пула номеров S10 для международных отправлений "
                              "перевозчика «Почта России»")
    assert "есть только 14-значные номера" in message
    assert "Добавьте диапазон международных номеров" in message
    pool.refresh_from_db()
    assert pool.issued == 0


def test_no_pool_at_all_for_an_international_parcel_names_s10(actor: Any) -> None:
    with pytest.raises(Conflict, match="Нет пула номеров S10 для международных отправлений"):
        issue(actor, international=True, service_code="EMS_INTERNATIONAL")


def test_s10_pools_of_another_service_are_named_in_the_conflict(actor: Any) -> None:
    s10_pool(actor, "RA")
    with pytest.raises(Conflict) as info:
        issue(actor, international=True, service_code="EMS_INTERNATIONAL")
    message = str(info.value.detail)
    assert "с кодом услуги E… (EMS)" in message and "есть только RA" in message


def test_only_s10_pools_for_a_domestic_parcel_is_a_clear_conflict(actor: Any) -> None:
    s10_pool(actor, "CA")
    with pytest.raises(Conflict, match="Нет пула 14-значных номеров для внутренних"):
        issue(actor)


def test_s10_spills_over_into_the_next_fitting_pool_only(actor: Any) -> None:
    s10_pool(actor, "CA", first=0, last=2)
    s10_pool(actor, "EA", first=0, last=99)
    s10_pool(actor, "CB", first=0, last=9)
    numbers = issue(actor, 5, international=True, service_code="PARCEL_INTERNATIONAL")
    assert numbers == ([s10_compose("CA", s, "RU") for s in range(3)]
                       + [s10_compose("CB", s, "RU") for s in range(2)])
    with pytest.raises(Conflict, match=r"Пул номеров S10 .* исчерпан: нужно 9, осталось 8"):
        issue(actor, 9, international=True, service_code="PARCEL_INTERNATIONAL")


def test_low_warning_is_per_series(actor: Any) -> None:
    rp14_pool(actor, last=99999, low_threshold=10)
    s10_pool(actor, "CA", first=0, last=19, low_threshold=10)
    issue(actor, 10, international=True, service_code="PARCEL_INTERNATIONAL")
    # ten S10 C… numbers left: low, however many 14-digit numbers remain
    assert selectors.carriers_low(actor=actor) == [
        {"carrier_code": "russian_post", "kind": "s10", "series": "C", "remaining": 10,
         "threshold": 10}]
    assert [p.prefix for p in selectors.pools_low(actor=actor)] == ["CA"]


@pytest.mark.django_db(transaction=True)
def test_concurrent_domestic_and_international_issuers_never_repeat(actor: Any) -> None:
    """Threads with their own connections issue 14-digit and S10 numbers of one carrier at
    once: each series is handed out without a gap or a repeat."""
    rp14_pool(actor, last=99999)
    s10_pool(actor, "CA", last=99999)
    organization = actor.organization
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)
    lock = threading.Lock()

    def worker(international: bool) -> None:
        try:
            barrier.wait(timeout=30)
            mine: list[str] = []
            for _ in range(10):
                with transaction.atomic():
                    mine.extend(services.numbers_issue(
                        organization=organization, carrier_code="russian_post", count=37,
                        international=international, service_code="PARCEL_INTERNATIONAL"))
            with lock:
                results.append(mine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(i % 2 == 1,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    every = [n for mine in results for n in mine]
    assert len(every) == len(set(every)) == 6 * 10 * 37
    s10 = sorted(n for n in every if n.startswith("CA"))
    assert s10 == sorted(s10_compose("CA", s, "RU") for s in range(3 * 10 * 37))
    assert len(every) - len(s10) == 3 * 10 * 37
    assert all(len(n) == 14 for n in every if not n.startswith("CA"))
