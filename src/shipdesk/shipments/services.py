"""Shipment writes. Intake (create/update/import) is built on top of these transitions."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from shipdesk.core.errors import InvalidTransition, NotFound
from shipdesk.shipments.models import TRANSITIONS, Shipment, ShipmentEvent, State
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor
from shipdesk.tracking.statuses import Status

# How the carrier's real status moves the back-office lifecycle (final outcomes only).
_STATE_FOR_STATUS: dict[str, str] = {
    Status.DELIVERED: State.DELIVERED,
    Status.RETURNED: State.RETURNED,
    Status.LOST: State.LOST,
}
_HANDED_OVER_OR_LATER = {State.HANDED_OVER, State.DELIVERED, State.RETURNED, State.LOST}


def _event(shipment: Shipment, to_state: str, actor: Actor | None, reason: str,
           from_state: str | None = None, **data: object) -> ShipmentEvent:
    return ShipmentEvent(
        shipment=shipment, from_state=shipment.state if from_state is None else from_state,
        to_state=to_state, reason=reason, data=data,
        user=actor.user if actor and getattr(actor.user, "pk", None) else None,
        api_key=actor.api_key if actor else None,
    )


@transaction.atomic
def shipments_transition(*, actor: Actor, shipment_ids: Sequence[int], to_state: str,
                         reason: str = "") -> list[Shipment]:
    """Moves the given shipments of the actor's organization to ``to_state``, all or none.

    Every move is checked against ``TRANSITIONS`` and written to the history.
    """
    actor.require(Perm.MANAGE_SHIPMENTS)
    shipments = list(Shipment.objects.select_for_update()
                     .filter(organization=actor.organization, pk__in=shipment_ids))
    if len(shipments) != len(set(shipment_ids)):
        raise NotFound(_("Отправление не найдено"))
    bad = [s for s in shipments if to_state not in TRANSITIONS[s.state]]
    if bad:
        raise InvalidTransition(_("Нельзя перевести отправление %(order)s из «%(from)s» в «%(to)s»")
                                % {"order": bad[0].order_number, "from": State(bad[0].state).label,
                                   "to": State(to_state).label})
    events = [_event(s, to_state, actor, reason) for s in shipments]
    Shipment.objects.filter(pk__in=[s.pk for s in shipments]).update(
        state=to_state, updated_at=timezone.now())
    ShipmentEvent.objects.bulk_create(events)
    for shipment in shipments:
        shipment.state = to_state
    return shipments


@dataclass(frozen=True)
class TrackingUpdate:
    """The tracking domain's verdict on one shipment."""

    shipment_id: int
    status: str  # a tracking.statuses.Status value
    substatus: str
    status_at: datetime


def shipments_apply_tracking(*, updates: Iterable[TrackingUpdate], chunk_size: int = 2000) -> int:
    """Writes the derived tracking status onto shipments in bulk, and moves handed-over
    shipments to their final state when the status is a final outcome. Returns the number
    of shipments whose lifecycle state changed. Called by the tracking domain (system work:
    no actor); idempotent."""
    changed = 0
    batch: list[TrackingUpdate] = []
    for update in updates:
        batch.append(update)
        if len(batch) >= chunk_size:
            changed += _apply_tracking_chunk(batch)
            batch = []
    if batch:
        changed += _apply_tracking_chunk(batch)
    return changed


@transaction.atomic
def _apply_tracking_chunk(updates: list[TrackingUpdate]) -> int:
    by_id = {u.shipment_id: u for u in updates}
    shipments = list(Shipment.objects.filter(pk__in=by_id).only(
        "id", "state", "tracking_status", "tracking_substatus", "tracking_status_at"))
    to_save: list[Shipment] = []
    events: list[ShipmentEvent] = []
    for shipment in shipments:
        update = by_id[shipment.pk]
        new_state = shipment.state
        target = _STATE_FOR_STATUS.get(update.status)
        if shipment.state in (State.NUMBERED, State.IN_BATCH) and update.status not in (
            Status.INFO_RECEIVED, Status.CANCELLED):
            new_state = State.HANDED_OVER  # the carrier has it, whatever we were told
        if target and target != new_state and (
            new_state in _HANDED_OVER_OR_LATER and target in TRANSITIONS[new_state]):
            new_state = target
        if new_state != shipment.state:
            events.append(_event(shipment, new_state, None, _("Статус перевозчика"),
                                 status=update.status))
        if (new_state, update.status, update.substatus, update.status_at) == (
            shipment.state, shipment.tracking_status, shipment.tracking_substatus,
            shipment.tracking_status_at):
            continue
        shipment.state = new_state
        shipment.tracking_status = update.status
        shipment.tracking_substatus = update.substatus
        shipment.tracking_status_at = update.status_at
        to_save.append(shipment)
    Shipment.objects.bulk_update(
        to_save, ["state", "tracking_status", "tracking_substatus", "tracking_status_at"])
    ShipmentEvent.objects.bulk_create(events)
    return len(events)
