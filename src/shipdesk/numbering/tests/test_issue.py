from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, connections, transaction

from shipdesk.core.errors import Conflict, ValidationFailed
from shipdesk.numbering import selectors, services
from shipdesk.numbering.models import NumberPool
from shipdesk.numbering.validation import rp14_compose, s10_compose, validate_tracking_number
from shipdesk.tenancy.models import AuditEntry


def make_pool(actor: Any, carrier: str = "russian_post", index: str = "800847",
              code: str = "40", first: int = 0, last: int = 99, **kw: Any) -> NumberPool:
    return services.pool_create(actor=actor, carrier_code=carrier,
                                first_number=rp14_compose(index, code, first),
                                last_number=rp14_compose(index, code, last), **kw)


def test_issues_consecutive_valid_numbers(actor: Any) -> None:
    make_pool(actor, first=10, last=99)
    numbers = services.numbers_issue(organization=actor.organization,
                                     carrier_code="russian_post", count=5)
    assert numbers == [rp14_compose("800847", "40", s) for s in range(10, 15)]
    assert all(validate_tracking_number(n) == n for n in numbers)
    more = services.numbers_issue(organization=actor.organization,
                                  carrier_code="russian_post", count=3)
    assert more[0] == rp14_compose("800847", "40", 15)


def test_s10_pool_issues_s10_numbers(actor: Any) -> None:
    services.pool_create(actor=actor, carrier_code="russian_post",
                         first_number=s10_compose("RA", 1000, "RU"),
                         last_number=s10_compose("RA", 1999, "RU"))
    numbers = services.numbers_issue(organization=actor.organization,
                                     carrier_code="russian_post", count=3, international=True,
                                     service_code="SMALL_PACKET")
    assert numbers == [s10_compose("RA", s, "RU") for s in (1000, 1001, 1002)]


def test_spills_over_into_the_next_pool_and_never_repeats(actor: Any) -> None:
    make_pool(actor, first=0, last=4)
    make_pool(actor, code="41", first=0, last=9)
    numbers = services.numbers_issue(organization=actor.organization,
                                     carrier_code="russian_post", count=8)
    assert len(set(numbers)) == 8
    assert numbers[:5] == [rp14_compose("800847", "40", s) for s in range(5)]
    assert numbers[5:] == [rp14_compose("800847", "41", s) for s in range(3)]


def test_no_pool_is_a_conflict_in_russian(actor: Any) -> None:
    with pytest.raises(Conflict, match="Нет активного пула трек-номеров"):
        services.numbers_issue(organization=actor.organization, carrier_code="sandbox", count=1)


def test_another_organizations_pool_is_not_used(actor: Any, other_org: Any) -> None:
    make_pool(actor)
    with pytest.raises(Conflict, match="Нет активного пула"):
        services.numbers_issue(organization=other_org, carrier_code="russian_post", count=1)


def test_exhausted_pool_issues_nothing(actor: Any) -> None:
    pool = make_pool(actor, first=0, last=9)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=7)
    with pytest.raises(Conflict, match="исчерпан: нужно 5, осталось 3"):
        services.numbers_issue(organization=actor.organization,
                               carrier_code="russian_post", count=5)
    pool.refresh_from_db()
    assert pool.remaining == 3  # all or nothing


def test_deactivated_pool_is_not_used(actor: Any) -> None:
    pool = make_pool(actor)
    services.pool_update(actor=actor, pool_id=pool.pk, is_active=False)
    with pytest.raises(Conflict):
        services.numbers_issue(organization=actor.organization,
                               carrier_code="russian_post", count=1)


def test_counter_rolls_back_with_the_callers_transaction(actor: Any) -> None:
    make_pool(actor)
    with pytest.raises(RuntimeError), transaction.atomic():
        services.numbers_issue(organization=actor.organization,
                               carrier_code="russian_post", count=4)
        raise RuntimeError("the import failed after numbering")
    numbers = services.numbers_issue(organization=actor.organization,
                                     carrier_code="russian_post", count=1)
    assert numbers == [rp14_compose("800847", "40", 0)]


def test_low_pool_is_flagged_once_with_an_audit_row(actor: Any) -> None:
    pool = make_pool(actor, first=0, last=99, low_threshold=20)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=79)
    pool.refresh_from_db()
    assert pool.low_since is None
    assert not selectors.pools_low(actor=actor).exists()
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=1)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=1)
    pool.refresh_from_db()
    assert pool.low_since is not None
    assert list(selectors.pools_low(actor=actor)) == [pool]
    assert AuditEntry.objects.filter(organization=actor.organization,
                                     action="numbering.pool_low").count() == 1


def test_overlapping_ranges_are_refused(actor: Any, other_org: Any) -> None:
    make_pool(actor, first=0, last=99)
    with pytest.raises(Conflict, match="пересекается"):
        make_pool(actor, first=50, last=150)
    make_pool(actor, first=100, last=150)


def test_range_bounds_must_be_valid_and_of_one_range(actor: Any) -> None:
    with pytest.raises(ValidationFailed) as info:
        services.pool_create(actor=actor, carrier_code="russian_post",
                             first_number="80084740000000", last_number="80084740000990")
    assert info.value.errors[0].loc == ("first_number",)
    with pytest.raises(ValidationFailed, match="одного диапазона"):
        services.pool_create(actor=actor, carrier_code="russian_post",
                             first_number=rp14_compose("800847", "40", 0),
                             last_number=rp14_compose("800847", "41", 9))
    with pytest.raises(ValidationFailed, match="меньше первого"):
        make_pool(actor, first=9, last=0)


def test_pool_with_issued_numbers_cannot_be_deleted(actor: Any) -> None:
    pool = make_pool(actor)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=1)
    with pytest.raises(Conflict, match="только отключить"):
        services.pool_delete(actor=actor, pool_id=pool.pk)
    empty = make_pool(actor, code="77")
    services.pool_delete(actor=actor, pool_id=empty.pk)
    assert not NumberPool.objects.filter(pk=empty.pk).exists()


def test_demo_pools_are_created_once(org: Any, other_org: Any) -> None:
    created = services.demo_pools_create(organization=org)
    assert {p.carrier_code for p in created} == {"sandbox", "russian_post"}
    assert services.demo_pools_create(organization=org) == []
    other = services.demo_pools_create(organization=other_org)
    assert {p.prefix for p in other}.isdisjoint({p.prefix for p in created})
    assert len(services.numbers_issue(organization=org, carrier_code="sandbox", count=10)) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_issuers_never_get_the_same_number(actor: Any) -> None:
    """Eight threads, each with its own database connection and transactions, issue at
    once; on PostgreSQL the pool row lock serialises them, on SQLite the IMMEDIATE
    transactions do."""
    make_pool(actor, first=0, last=99999)
    make_pool(actor, code="41", first=0, last=99999)
    organization = actor.organization
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)
    lock = threading.Lock()

    def worker() -> None:
        try:
            barrier.wait()
            mine: list[str] = []
            for _ in range(15):
                with transaction.atomic():
                    mine.extend(services.numbers_issue(
                        organization=organization, carrier_code="russian_post", count=97))
            with lock:
                results.append(mine)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    every = [n for mine in results for n in mine]
    assert len(every) == 8 * 15 * 97
    assert len(set(every)) == len(every)
    pools = NumberPool.objects.filter(organization=organization).order_by("id")
    assert sum(p.issued for p in pools) == len(every)
    assert connection.vendor in ("postgresql", "sqlite")


class _StubAdapter:
    """Stands in for a carrier adapter that allots numbers (the Russian Post adapter does
    not expose allotment yet); the registry call is what is replaced, not our service."""

    from shipdesk.carriers.base import Capability as _C

    capabilities = frozenset({_C.NUMBER_POOL})

    def __init__(self, ranges: list[Any]) -> None:
        self.ranges = ranges
        self.asked: list[int] = []

    def allot_numbers(self, count: int) -> list[Any]:
        self.asked.append(count)
        return self.ranges


def _account(org: Any) -> Any:
    from shipdesk.carriers.models import CarrierAccount

    return CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                         name="Почта России", base_url="http://127.0.0.1:9")


def test_pools_received_from_the_carrier(actor: Any, monkeypatch: Any) -> None:
    from shipdesk.carriers import registry
    from shipdesk.carriers.base import NumberRange

    stub = _StubAdapter([NumberRange(first=rp14_compose("800847", "55", 0),
                                     last=rp14_compose("800847", "55", 4999), kind="rp14")])
    monkeypatch.setattr(registry, "adapter_for_account", lambda account: stub)
    account = _account(actor.organization)
    [pool] = services.pools_request_from_carrier(actor=actor, carrier_account_id=account.pk,
                                                 count=5000)
    assert stub.asked == [5000]
    assert (pool.source, pool.size, pool.carrier_code) == ("carrier", 5000, "russian_post")
    assert services.numbers_issue(organization=actor.organization, carrier_code="russian_post",
                                  count=1) == [rp14_compose("800847", "55", 0)]


def test_carrier_ranges_in_an_unknown_format_are_refused(actor: Any, monkeypatch: Any) -> None:
    from shipdesk.carriers import registry
    from shipdesk.carriers.base import NumberRange

    stub = _StubAdapter([NumberRange(first="SBX000000001RU", last="SBX000000010RU",
                                     kind="sandbox")])
    monkeypatch.setattr(registry, "adapter_for_account", lambda account: stub)
    account = _account(actor.organization)
    with pytest.raises(Conflict, match="в формате «sandbox»"):
        services.pools_request_from_carrier(actor=actor, carrier_account_id=account.pk, count=10)
    assert not NumberPool.objects.exists()


def test_another_organizations_account_is_not_found(actor: Any, other_org: Any) -> None:
    from shipdesk.core.errors import NotFound

    account = _account(other_org)
    with pytest.raises(NotFound):
        services.pools_request_from_carrier(actor=actor, carrier_account_id=account.pk, count=1)


def _issue_in_child(org_id: int, rounds: int, out: Any) -> None:
    from django.db import connections

    from shipdesk.tenancy.models import Organization

    connections.close_all()  # the child opens its own connection
    organization = Organization.objects.get(pk=org_id)
    mine: list[str] = []
    for _ in range(rounds):
        with transaction.atomic():
            mine.extend(services.numbers_issue(organization=organization,
                                               carrier_code="russian_post", count=53))
    connections.close_all()
    out.put(mine)


@pytest.mark.django_db(transaction=True)
def test_concurrent_processes_never_get_the_same_number(actor: Any) -> None:
    """Six forked processes, each with its own connection, issue at once."""
    import multiprocessing

    make_pool(actor, first=0, last=99999)
    connections.close_all()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    children = [ctx.Process(target=_issue_in_child, args=(actor.organization.pk, 20, queue))
                for _ in range(6)]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    every = [n for mine in results for n in mine]
    assert len(every) == 6 * 20 * 53
    assert len(set(every)) == len(every)
    assert NumberPool.objects.get(organization=actor.organization).issued == len(every)


def test_no_warning_while_the_next_range_is_full(actor: Any) -> None:
    make_pool(actor, first=0, last=99, low_threshold=20)
    make_pool(actor, code="41", first=0, last=99, low_threshold=20)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post",
                           count=100)  # the first range is used up, 100 left in the second
    assert not selectors.pools_low(actor=actor).exists()
    assert selectors.carriers_low(actor=actor) == []
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=80)
    assert selectors.carriers_low(actor=actor) == [
        {"carrier_code": "russian_post", "kind": "rp14", "series": "", "remaining": 20,
         "threshold": 20}]
    entry = AuditEntry.objects.get(organization=actor.organization, action="numbering.pool_low")
    assert entry.data["remaining"] == 20


def test_a_new_range_clears_and_rearms_the_warning(actor: Any) -> None:
    make_pool(actor, first=0, last=9, low_threshold=5)
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post", count=6)
    assert selectors.pools_low(actor=actor).count() == 1
    make_pool(actor, code="41", first=0, last=99, low_threshold=5)
    assert not selectors.pools_low(actor=actor).exists()
    assert selectors.carriers_low(actor=actor) == []
    services.numbers_issue(organization=actor.organization, carrier_code="russian_post",
                           count=100)
    assert [w["remaining"] for w in selectors.carriers_low(actor=actor)] == [4]
    assert AuditEntry.objects.filter(organization=actor.organization,
                                     action="numbering.pool_low").count() == 2


def _issue_then_crash(org_id: int) -> None:
    import os

    from django.db import connections

    from shipdesk.tenancy.models import Organization

    connections.close_all()
    organization = Organization.objects.get(pk=org_id)
    with transaction.atomic():
        services.numbers_issue(organization=organization, carrier_code="russian_post", count=500)
        os._exit(3)  # the worker dies mid-import, before its transaction commits


@pytest.mark.django_db(transaction=True)
def test_a_crash_before_commit_consumes_nothing(actor: Any) -> None:
    import multiprocessing

    pool = make_pool(actor, first=0, last=999)
    connections.close_all()
    child = multiprocessing.get_context("fork").Process(target=_issue_then_crash,
                                                        args=(actor.organization.pk,))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 3
    pool.refresh_from_db()
    assert pool.issued == 0
    assert services.numbers_issue(organization=actor.organization, carrier_code="russian_post",
                                  count=1) == [rp14_compose("800847", "40", 0)]


def test_owners_get_one_mail_per_crossing_of_the_low_threshold(
        actor: Any, owner: Any, smtp_server: Any, django_capture_on_commit_callbacks: Any) -> None:
    make_pool(actor, first=0, last=99, low_threshold=20)

    def issue(count: int) -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.numbers_issue(organization=actor.organization,
                                   carrier_code="russian_post", count=count)

    issue(79)
    assert smtp_server.messages == []
    issue(1)  # 20 left: crosses the threshold
    issue(5)  # still low: no second mail
    assert len(smtp_server.messages) == 1
    message = smtp_server.messages[0]
    assert message["To"] == owner.email
    assert "«Почта России»" in message["Subject"] and "осталось 20" in message["Subject"]
    assert "/numbering/" in smtp_server.body()
    # refilled above the threshold (15 + 10 left): the next crossing is news again
    make_pool(actor, code="41", first=0, last=9, low_threshold=20)
    issue(1)
    assert len(smtp_server.messages) == 1
    issue(4)
    assert len(smtp_server.messages) == 2
    assert "осталось 20" in smtp_server.messages[1]["Subject"]
