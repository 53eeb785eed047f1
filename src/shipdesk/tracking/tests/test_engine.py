"""The status engine: pure, so tested without a database."""

import dataclasses
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from shipdesk.tracking import engine
from shipdesk.tracking.engine import Context, EventFact, derive
from shipdesk.tracking.statuses import FINAL_STATUSES, Status, Substatus

T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
NOW = T0 + timedelta(days=40)
CTX = Context()


def ev(day: float, status: Status | None, sub: str = "", code: str = "", place: str = "") -> EventFact:
    return EventFact(T0 + timedelta(days=day), status, sub, code or (status or "??"), place)


def test_plain_history_ends_delivered():
    v = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT), ev(3, Status.ARRIVED_AT_PICKUP),
                ev(4, Status.DELIVERED)], now=NOW, context=CTX)
    assert v.status is Status.DELIVERED and v.final
    assert v.arrived_at_pickup_at == T0 + timedelta(days=3) and not v.arrival_inferred


def test_out_of_order_events_give_the_same_status():
    history = [ev(4, Status.DELIVERED), ev(0, Status.ACCEPTED), ev(3, Status.ARRIVED_AT_PICKUP)]
    assert derive(history, now=NOW, context=CTX).status is Status.DELIVERED


def test_in_transit_after_delivered_is_a_contradiction_not_a_step_back():
    v = derive([ev(0, Status.ACCEPTED), ev(2, Status.DELIVERED), ev(3, Status.IN_TRANSIT)],
               now=NOW, context=CTX)
    assert v.status is Status.DELIVERED
    assert any(r.code == "contradiction" for r in v.reasons)
    assert [t.ignored for t in v.timeline if t.status is Status.IN_TRANSIT] == [True]


def test_return_flow_ends_returned():
    v = derive([ev(0, Status.ACCEPTED), ev(2, Status.ARRIVED_AT_PICKUP),
                ev(33, Status.RETURNING, Substatus.STORAGE_EXPIRED),
                ev(34, Status.IN_TRANSIT), ev(38, Status.ARRIVED_AT_PICKUP),
                ev(39, Status.DELIVERED)], now=NOW, context=CTX)
    assert v.status is Status.RETURNED and v.final
    assert any(r.code == "delivered_while_returning" for r in v.reasons)
    assert engine.RETURNED_FLAG in v.flags


def test_delivered_to_sender_is_a_return():
    v = derive([ev(0, Status.ACCEPTED), ev(9, Status.DELIVERED, Substatus.TO_SENDER)],
               now=NOW, context=CTX)
    assert v.status is Status.RETURNED


def test_returning_while_in_transit_stays_returning():
    v = derive([ev(0, Status.ACCEPTED), ev(1, Status.REFUSED), ev(2, Status.IN_TRANSIT)],
               now=NOW, context=CTX)
    assert v.status is Status.RETURNING


def test_duplicates_count_once():
    once = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT)], now=NOW, context=CTX)
    twice = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT), ev(1, Status.IN_TRANSIT)],
                   now=NOW, context=CTX)
    assert once.timeline == twice.timeline


def test_forgotten_arrival_is_inferred_from_storage_expiry():
    v = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT),
                ev(33, Status.RETURNING, Substatus.STORAGE_EXPIRED)], now=NOW,
               context=Context(transit_days=4))
    assert v.arrival_inferred and v.arrived_at_pickup_at == T0 + timedelta(days=4)
    inferred = [t for t in v.timeline if t.inferred]
    assert [t.status for t in inferred] == [Status.ARRIVED_AT_PICKUP]
    assert any(r.code == "inferred_arrival" for r in v.reasons)


def test_forgotten_acceptance_is_inferred():
    v = derive([ev(1, Status.IN_TRANSIT)], now=NOW, context=CTX)
    assert v.accepted_at == T0 + timedelta(days=1)
    assert [t.status for t in v.timeline if t.inferred] == [Status.ACCEPTED]


def test_no_arrival_inferred_for_door_delivery():
    v = derive([ev(0, Status.ACCEPTED), ev(3, Status.DELIVERED)], now=NOW,
               context=Context(to_pickup_point=False))
    assert v.arrived_at_pickup_at is None


def test_unknown_code_is_kept_and_does_not_move_status():
    v = derive([ev(0, Status.ACCEPTED), ev(1, None, code="99.9")], now=NOW, context=CTX)
    assert v.status is Status.ACCEPTED and v.unknown_codes == ("99.9",)


def test_lost_then_moving_is_found():
    v = derive([ev(0, Status.ACCEPTED), ev(10, Status.LOST), ev(12, Status.ARRIVED_AT_PICKUP)],
               now=NOW, context=CTX)
    assert v.status is Status.ARRIVED_AT_PICKUP


def test_storage_deadline_and_flags():
    arrived = T0 + timedelta(days=2)
    v = derive([ev(0, Status.ACCEPTED), ev(2, Status.ARRIVED_AT_PICKUP)],
               now=arrived + timedelta(days=29), context=Context(storage_days=30))
    # arrived on the 3rd (Moscow): 30 free days from the 4th, the last one the 3rd of December
    assert v.storage_deadline == datetime.combine(date(2026, 12, 3), time.max,
                                                  tzinfo=Context().zone)
    assert engine.STORAGE_ENDING in v.flags and engine.STUCK not in v.flags


def test_stuck_and_overdue():
    v = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT)],
               now=T0 + timedelta(days=9), context=Context(stuck_days=7, control_days=6))
    assert {engine.STUCK, engine.OVERDUE} <= v.flags
    fresh = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT)],
                   now=T0 + timedelta(days=3), context=Context(stuck_days=7, control_days=6))
    assert not fresh.flags


def test_future_event_is_ignored():
    v = derive([ev(0, Status.ACCEPTED), ev(50, Status.DELIVERED)], now=NOW, context=CTX)
    assert v.status is Status.ACCEPTED


def test_poll_never_after_final_and_often_near_delivery():
    done = derive([ev(0, Status.DELIVERED)], now=NOW, context=CTX)
    assert engine.next_poll_delay(done, now=NOW) is None
    courier = derive([ev(0, Status.OUT_FOR_DELIVERY)], now=NOW, context=CTX)
    transit = derive([ev(0, Status.ACCEPTED), ev(1, Status.IN_TRANSIT)], now=T0 + timedelta(days=1),
                     context=Context(transit_days=10))
    assert engine.next_poll_delay(courier, now=NOW) < engine.next_poll_delay(transit, now=NOW)


def test_explanation_names_the_verdict():
    v = derive([ev(0, Status.ACCEPTED), ev(2, Status.DELIVERED), ev(3, Status.IN_TRANSIT)],
               now=NOW, context=CTX)
    lines = engine.explain(v)
    assert lines[-1].startswith("Итог: «Вручено»")
    assert any("противоречие" in line for line in lines)


# ---------------------------------------------------------------- properties

statuses = st.one_of(st.none(), st.sampled_from(list(Status)))
subs = st.sampled_from(["", *[s.value for s in Substatus]])
events = st.builds(lambda d, s, sub, place: ev(d, s, sub, place=place),
                   st.integers(0, 35), statuses, subs, st.sampled_from(["", "101000", "630000"]))
histories = st.lists(events, max_size=12)


@settings(max_examples=300, deadline=None)
@given(histories, st.randoms(use_true_random=False))
def test_permutation_invariance(history, rnd):
    shuffled = list(history)
    rnd.shuffle(shuffled)
    assert derive(history, now=NOW, context=CTX) == derive(shuffled, now=NOW, context=CTX)


forward = st.sampled_from([Status.ACCEPTED, Status.IN_TRANSIT, Status.CUSTOMS,
                           Status.ARRIVED_AT_PICKUP, Status.OUT_FOR_DELIVERY,
                           Status.DELIVERY_FAILED, Status.INFO_RECEIVED])
forward_events = st.builds(lambda d, s, place: ev(d, s, place=place), st.integers(0, 19),
                           forward, st.sampled_from(["", "101000"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(forward_events, max_size=8), st.lists(events, max_size=4), events)
def test_a_late_older_event_never_moves_a_delivered_parcel_backwards(before, after, late):
    history = [*before, ev(20, Status.DELIVERED, place="630000"), *after]
    v = derive(history, now=NOW, context=CTX)
    if v.status is not Status.DELIVERED:
        return  # a later "returned" etc. legitimately changed it
    late = EventFact(min(late.occurred_at, v.status_at), late.status, late.substatus,
                     late.raw_code, late.place)
    result = derive([*history, late], now=NOW, context=CTX)
    assert result.status in FINAL_STATUSES
    if late.status not in (Status.RETURNING, Status.REFUSED, Status.RETURNED, Status.DELIVERED):
        assert result.status is Status.DELIVERED


@settings(max_examples=300, deadline=None)
@given(histories)
def test_final_status_is_sticky_against_later_movement(history):
    v = derive(history, now=NOW, context=CTX)
    if v.status not in (Status.DELIVERED, Status.RETURNED):
        return
    later = [ev(36, s) for s in (Status.IN_TRANSIT, Status.ARRIVED_AT_PICKUP,
                                 Status.OUT_FOR_DELIVERY, Status.INFO_RECEIVED)]
    assert derive([*history, *later], now=NOW, context=CTX).status is v.status


@settings(max_examples=200, deadline=None)
@given(histories)
def test_duplicating_every_event_changes_nothing(history):
    assert derive(history, now=NOW, context=CTX) == derive(history + history, now=NOW, context=CTX)


@settings(max_examples=200, deadline=None)
@given(histories)
def test_bulk_mode_gives_the_same_verdict_without_the_explanation(history):
    full = derive(history, now=NOW, context=CTX)
    bulk = derive(history, now=NOW, context=CTX, explain=False)
    assert bulk.timeline == () and bulk.reasons == ()
    assert dataclasses.replace(full, timeline=(), reasons=()) == bulk


def test_a_later_return_after_delivered_wins_and_the_contradiction_is_noted():
    v = derive([ev(0, Status.ACCEPTED), ev(3, Status.ARRIVED_AT_PICKUP), ev(5, Status.DELIVERED),
                ev(6, Status.REFUSED, "refused")], now=NOW, context=CTX)
    assert v.status is Status.RETURNING and not v.final
    assert [r.other for r in v.reasons if r.code == "return_after_delivered"] == [
        Status.DELIVERED]
    assert any("противоречие" in line for line in engine.explain(v))
    later = derive([ev(0, Status.ACCEPTED), ev(3, Status.ARRIVED_AT_PICKUP),
                    ev(5, Status.DELIVERED), ev(6, Status.RETURNING), ev(8, Status.IN_TRANSIT),
                    ev(12, Status.DELIVERED)], now=NOW, context=CTX)
    assert later.status is Status.RETURNED


@settings(max_examples=300, deadline=None)
@given(st.lists(forward_events, max_size=8),
       st.sampled_from([Status.REFUSED, Status.RETURNING]), st.integers(21, 35))
def test_a_later_return_always_moves_a_delivered_parcel_to_returning(before, back, day):
    history = [*before, ev(20, Status.DELIVERED, place="630000"), ev(day, back)]
    assert derive(history, now=NOW, context=CTX).status is Status.RETURNING
