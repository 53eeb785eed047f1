"""The intake pipeline: validate → rate → number → store, in bulk, and the writes around it."""

from __future__ import annotations

import multiprocessing
import os
import signal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import translation

from shipdesk.core.errors import InvalidTransition, NotFound, ValidationFailed
from shipdesk.numbering.validation import rp14_compose, validate_tracking_number
from shipdesk.shipments import services
from shipdesk.shipments.models import Shipment, ShipmentEvent, State
from shipdesk.shipments.tests.factories import number_pool, shipment_data
from shipdesk.tenancy.services import Actor


def test_create_without_pool_stays_ready_without_number(actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data())
    assert shipment.state == State.READY
    assert shipment.tracking_number is None
    assert shipment.recipient_phone == "+79123456789"
    assert [(e.from_state, e.to_state) for e in shipment.events.all()] == [("", State.READY)]


def test_create_with_pool_gets_a_valid_number(actor: Actor) -> None:
    number_pool(actor)
    shipment = services.shipment_create(actor=actor, data=shipment_data())
    assert shipment.state == State.NUMBERED
    assert validate_tracking_number(shipment.tracking_number) == shipment.tracking_number


def test_create_reports_every_bad_field(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as info:
        services.shipment_create(actor=actor, data=shipment_data(
            weight_g=-1, cod_amount="1.005", index="000000"))
    assert {e.loc for e in info.value.errors} == {("weight_g",), ("cod_amount",), ("index",)}
    assert Shipment.objects.count() == 0


def test_draft_is_not_numbered(actor: Actor) -> None:
    number_pool(actor)
    shipment = services.shipment_create(actor=actor, data=shipment_data(), draft=True)
    assert (shipment.state, shipment.tracking_number) == (State.DRAFT, None)


def test_many_valid_rows_takes_the_good_and_names_the_bad(actor: Actor) -> None:
    number_pool(actor)
    stored = services.shipment_create(actor=actor, data=shipment_data())
    items = [shipment_data(order_number="A1"), shipment_data(order_number="A2", weight_g=-1),
             shipment_data(order_number="A1"), shipment_data(order_number=stored.order_number),
             shipment_data(order_number="A3")]
    result = services.shipments_create_many(actor=actor, items=items)
    assert [r.ok for r in result.results] == [True, False, False, False, True]
    assert result.results[1].errors[0].loc == ("items", 1, "weight_g")
    assert "повторяется" in result.results[2].errors[0].message
    assert "уже есть" in result.results[3].errors[0].message
    assert (result.created, result.rejected) == (2, 3)
    numbers = set(Shipment.objects.values_list("tracking_number", flat=True))
    assert len(numbers) == 3 and None not in numbers


def test_many_all_or_nothing_stores_nothing_on_one_error(actor: Actor) -> None:
    number_pool(actor)
    items = [shipment_data() for _ in range(5)] + [shipment_data(cod_amount="1.999")]
    result = services.shipments_create_many(actor=actor, items=items, mode="all_or_nothing")
    assert result.rolled_back and result.created == 0 and result.rejected == 1
    assert Shipment.objects.count() == 0
    # the numbers were not consumed either: the next parcel gets the pool's first number
    first = services.shipment_create(actor=actor, data=shipment_data())
    assert first.tracking_number.startswith("800995") and first.tracking_number[8:13] == "00000"


def test_bulk_runs_a_fixed_number_of_queries_per_chunk(actor: Actor) -> None:
    number_pool(actor, size=5000)

    def queries_for(n: int) -> int:
        items = [shipment_data(items=[{"name": "Книга", "quantity": 1, "unit_price": "100"}])
                 for _ in range(n)]
        services.reference_data_reset()
        with CaptureQueriesContext(connection) as captured:
            result = services.shipments_create_many(actor=actor, items=items)
        assert result.created == n
        # INSERTs are split only by the database's parameter limit (SQLite: 999)
        return len([q for q in captured.captured_queries
                    if not q["sql"].startswith("INSERT")])

    queries_for(30)  # once per process: the COPY's column types (PostgreSQL)
    assert queries_for(100) == queries_for(300)


def test_supplied_tracking_number_checked_and_unique(actor: Actor) -> None:
    from shipdesk.numbering.services import pool_create

    pool_create(actor=actor, carrier_code="russian_post", first_number="10944022440000",
                last_number=rp14_compose("109440", "22", 44099))
    result = services.shipments_create_many(actor=actor, items=[
        shipment_data(tracking_number="10944022440321"),
        shipment_data(tracking_number="10944022440322"),
        shipment_data(tracking_number="10944022440321")])
    assert result.results[0].ok and result.results[0].state == State.NUMBERED
    assert result.results[1].errors[0].loc[-1] == "tracking_number"
    assert "повторяется" in result.results[2].errors[0].message
    again = services.shipments_create_many(actor=actor, items=[
        shipment_data(tracking_number="10944022440321")])
    assert "уже занят" in again.results[0].errors[0].message


def test_too_many_items_in_one_call(actor: Actor) -> None:
    with pytest.raises(ValidationFailed):
        services.shipments_create_many(actor=actor, items=[{}] * 10_001)


def test_update_while_ready_and_not_after_numbering(actor: Actor) -> None:
    shipment = services.shipment_create(actor=actor, data=shipment_data())
    updated = services.shipment_update(actor=actor, shipment_id=shipment.pk,
                                       data={"weight_g": 2000, "street": "проспект мира"})
    assert (updated.weight_g, updated.street) == (2000, "пр-кт Мира")
    assert ShipmentEvent.objects.filter(shipment=shipment).count() == 2
    with pytest.raises(ValidationFailed):
        services.shipment_update(actor=actor, shipment_id=shipment.pk, data={"weight_g": -3})
    number_pool(actor)
    numbered = services.shipment_create(actor=actor, data=shipment_data())
    with pytest.raises(InvalidTransition):
        services.shipment_update(actor=actor, shipment_id=numbered.pk, data={"weight_g": 5})


def test_cancel_keeps_the_number_which_is_never_reissued(actor: Actor) -> None:
    number_pool(actor)
    shipment = services.shipment_create(actor=actor, data=shipment_data())
    cancelled = services.shipment_cancel(actor=actor, shipment_id=shipment.pk)
    assert cancelled.state == State.CANCELLED
    shipment.refresh_from_db()
    assert shipment.tracking_number
    other = services.shipment_create(actor=actor, data=shipment_data())
    assert other.tracking_number != shipment.tracking_number


def test_other_organizations_shipment_is_not_found(actor: Actor, other_org: Any) -> None:
    from shipdesk.tenancy.services import system_actor

    theirs = services.shipment_create(actor=system_actor(other_org), data=shipment_data())
    with pytest.raises(NotFound):
        services.shipment_update(actor=actor, shipment_id=theirs.pk, data={"weight_g": 1})
    with pytest.raises(NotFound):
        services.shipment_cancel(actor=actor, shipment_id=theirs.pk)


def test_same_order_number_in_two_organizations(actor: Actor, other_org: Any) -> None:
    from shipdesk.tenancy.services import system_actor

    services.shipment_create(actor=system_actor(other_org), data=shipment_data(order_number="X"))
    assert services.shipment_create(actor=actor, data=shipment_data(order_number="X")).pk


def test_viewer_cannot_create(org: Any, make_user: Any) -> None:
    from shipdesk.conftest import actor_with_role
    from shipdesk.core.errors import Forbidden

    viewer = actor_with_role(org, "viewer", make_user)
    with pytest.raises(Forbidden):
        services.shipment_create(actor=viewer, data=shipment_data())


def test_many_chunks_stored_in_order_with_progress(actor: Actor) -> None:
    # valid_rows over several chunks: a chunk is stored while the next one is validated
    number_pool(actor)
    services.shipment_create(actor=actor, data=shipment_data(order_number="OLD"))
    items = [shipment_data(order_number=f"B{n}") for n in range(7)]
    items[3] = shipment_data(order_number="B3", weight_g=-1)  # chunk 2: invalid
    items[4] = shipment_data(order_number="B0")  # chunk 3: repeats chunk 1
    items[5] = shipment_data(order_number="OLD")  # chunk 3: stored before
    progress: list[tuple[int, int, int]] = []
    result = services.shipments_intake(
        actor=actor, rows=enumerate(items), chunk_size=2,
        progress=lambda n, r, _extra: progress.append((n, r.created, r.rejected)))
    assert [(r.ref, r.ok) for r in result.results] == [
        (0, True), (1, True), (2, True), (3, False), (4, False), (5, False), (6, True)]
    assert "повторяется (уже в позиции 0)" in result.results[4].errors[0].message
    assert "уже есть в системе" in result.results[5].errors[0].message
    assert progress == [(2, 2, 0), (4, 3, 1), (6, 3, 3), (7, 4, 3)]
    stored = dict(Shipment.objects.values_list("order_number", "tracking_number"))
    assert set(stored) == {"OLD", "B0", "B1", "B2", "B6"}
    assert len(set(stored.values())) == 5 and None not in stored.values()
    assert {r.tracking_number for r in result.results if r.ok} <= set(stored.values())


def test_a_failure_while_storing_stops_the_intake(actor: Actor,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    stores: list[int] = []
    original = services._store

    def failing_second(actor: Actor, shipments: list[Any], *rows: Any) -> None:
        stores.append(len(shipments))
        if len(stores) == 2:
            raise RuntimeError("disk full")
        original(actor, shipments, *rows)

    monkeypatch.setattr(services, "_store", failing_second)
    items = [shipment_data(order_number=f"C{n}") for n in range(9)]
    with pytest.raises(RuntimeError, match="disk full"):
        services.shipments_intake(actor=actor, rows=enumerate(items), chunk_size=2)
    # the first chunk was committed, nothing after the failing one was tried
    assert set(Shipment.objects.values_list("order_number", flat=True)) == {"C0", "C1"}
    assert stores == [2, 2]


def test_storing_speaks_the_callers_language(actor: Actor,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    languages: list[str | None] = []
    original = services._store

    def recording(actor: Actor, shipments: list[Any], *rows: Any) -> None:
        languages.append(translation.get_language())
        original(actor, shipments, *rows)

    monkeypatch.setattr(services, "_store", recording)
    items = [shipment_data(order_number=f"L{n}") for n in range(3)]
    with translation.override("en"):
        services.shipments_intake(actor=actor, rows=enumerate(items), chunk_size=1)
    assert languages == ["en", "en", "en"]


@pytest.mark.django_db(transaction=True)
def test_valid_rows_are_stored_chunk_by_chunk_on_a_connection_of_their_own(
        actor: Actor, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside any transaction, a second thread stores each chunk on its own connection
    while the next is validated: every row lands, the caller's connection stays free."""
    from django.db import connections

    number_pool(actor)
    used: list[tuple[int, bool]] = []
    store = services._store

    def spying_store(*args: Any, **kwargs: Any) -> None:
        used.append((id(connections["default"]), connections["default"].in_atomic_block))
        store(*args, **kwargs)

    monkeypatch.setattr(services, "_store", spying_store)
    rows = [(n, shipment_data(order_number=f"C-{n}")) for n in range(7)]
    rows.insert(3, (99, shipment_data(order_number="C-bad", weight_g=-1)))
    result = services.shipments_intake(actor=actor, rows=rows, chunk_size=2)
    assert (result.created, result.rejected) == (7, 1)
    assert [r.ref for r in result.results if r.errors] == [99]
    assert Shipment.objects.filter(order_number__startswith="C-").count() == 7
    assert len(used) == 4 and all(in_transaction for _c, in_transaction in used)
    assert {conn for conn, _t in used} == {used[0][0]} != {id(connections["default"])}
    assert Shipment.objects.filter(state=State.NUMBERED).count() == 7  # caller's connection


def test_a_failure_of_the_reading_child_is_raised_with_its_cause(actor: Actor) -> None:
    def rows() -> Any:
        yield 0, shipment_data(order_number="R-1")
        raise LookupError("the sheet ends abruptly")

    with pytest.raises(services.IntakeReaderFailed, match="the sheet ends abruptly"):
        services.shipments_intake(actor=actor, rows=rows(), chunk_size=1, read_in_child=True)


def _in_a_daemonic_process(work: Any) -> Any:
    """Runs ``work`` in a daemonic process, as a Celery prefork worker runs a task; its
    result, or the repr of what it raised."""
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()

    def run() -> None:
        try:
            out.put(work())
        except BaseException as exc:
            out.put(repr(exc))

    process = context.Process(target=run, daemon=True)
    process.start()
    process.join(60)
    return out.get()


def test_the_reading_child_starts_from_a_daemonic_worker_process() -> None:
    # multiprocessing forbids a daemonic process children: a prefork worker must still read
    # a big file in a child, not fail the import
    assert _in_a_daemonic_process(
        lambda: list(services._checked_in_child(iter(["chunk 1", "chunk 2"])))
    ) == ["chunk 1", "chunk 2"]


def test_a_reading_child_killed_midway_fails_the_intake_with_a_reason() -> None:
    def chunks() -> Any:
        yield "chunk 1"
        os.kill(os.getpid(), signal.SIGKILL)  # in the child: as the OOM killer would
        yield "chunk 2"

    got: list[Any] = []
    with pytest.raises(services.IntakeReaderFailed, match="ended unexpectedly"):
        for chunk in services._checked_in_child(chunks()):
            got.append(chunk)
    assert got == ["chunk 1"]


def test_rows_read_in_a_child_are_stored_as_in_process(actor: Actor) -> None:
    number_pool(actor)
    items = [shipment_data(order_number=f"K-{n}") for n in range(5)]
    items[2]["weight_g"] = "много"
    result = services.shipments_intake(actor=actor, rows=enumerate(items), chunk_size=2,
                                       read_in_child=True,
                                       chunk_extra=lambda refs, bad: {"refs": refs})
    assert (result.created, result.rejected) == (4, 1)
    assert result.results[2].errors[0].loc == ("items", 2, "weight_g")
    assert sorted(Shipment.objects.values_list("order_number", flat=True)) == [
        "K-0", "K-1", "K-3", "K-4"]
