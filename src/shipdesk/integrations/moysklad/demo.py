"""The demo shop of ``make run`` is connected to the MoySklad emulator started beside it
(``shipdesk emulate moysklad``, the demo token), never to the real service.

* :func:`demo_connection_create` (the app's ``load_demo``): the connection's address and
  token, written without asking the emulator (it is not running yet);
* :func:`demo_connections_repoint` (``embedded_prepare``): a connection left on another
  instance's emulator port moves to this instance's one;
* :func:`demo_connection_start` (once the web app answers, on every start: a restarted
  emulator has forgotten its webhooks): the token is checked, the account's states read,
  the webhook subscribed and the rule "«Собран» ships" chosen if none was;
* :func:`demo_order_move`: in the sandbox only, the page's button that does what a person
  does in MoySklad's own screen, one order moved to the trigger state.
"""

from __future__ import annotations

import logging

import httpx
from django.utils.translation import gettext as _

from shipdesk.core.errors import Conflict
from shipdesk.integrations.models import MoySkladConnection
from shipdesk.integrations.moysklad.emulator import DEFAULT_PORT, PREFIX, SANDBOX_TOKEN
from shipdesk.tenancy.models import Organization
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor, audit, system_actor

log = logging.getLogger(__name__)

SANDBOX = "moysklad"  # its name in core.sandbox_ports
DEMO_TRIGGER = "Собран"  # the emulator's state that ships an order in the demo
DEMO_FROM = "Новый"  # where the emulator's orders wait
LOOPBACK = "http://127.0.0.1:"


def demo_base_url() -> str:
    """This instance's MoySklad emulator, as the connection's API address."""
    from shipdesk.core import sandbox_ports

    return f"{LOOPBACK}{sandbox_ports.port(SANDBOX, DEFAULT_PORT)}{PREFIX}"


def is_sandbox(connection: MoySkladConnection | None) -> bool:
    return connection is not None and connection.base_url == demo_base_url()


def demo_connection_create(*, organization: Organization) -> MoySkladConnection:
    """The demo organization's connection to the emulator (no request is made)."""
    connection, _created = MoySkladConnection.objects.get_or_create(  # type: ignore[misc]
        organization=organization,
        defaults={"name": _("МойСклад (песочница)"), "base_url": demo_base_url(),
                  "credentials": {"token": SANDBOX_TOKEN}})
    return connection


def demo_connections_repoint() -> int:
    """Moves connections that talk to a local emulator onto this instance's one (see
    ``core.sandbox_ports``); returns how many moved."""
    url = demo_base_url()
    return (MoySkladConnection.objects
            .filter(base_url__startswith=LOOPBACK, base_url__endswith=PREFIX)
            .exclude(base_url=url).update(base_url=url))


def demo_connection_start(*, organization: Organization,
                          public_url: str) -> MoySkladConnection | None:
    """Connects the demo organization's sandbox connection for real (states, fields, webhook
    to ``public_url``) and sets the demo rule when none was chosen. A connection the
    operator pointed elsewhere is left alone. Raises ValidationFailed while the emulator
    does not answer."""
    from shipdesk.integrations.moysklad import services

    connection = MoySkladConnection.objects.filter(organization=organization).first()
    if not is_sandbox(connection):
        return None
    actor = system_actor(organization)
    connection = services.connection_connect(
        actor=actor, base_url=demo_base_url(), token=SANDBOX_TOKEN, public_url=public_url)
    if not connection.trigger_state_id:
        trigger = next((s["id"] for s in connection.states if s["name"] == DEMO_TRIGGER), "")
        if trigger:
            connection = services.connection_configure(
                actor=actor, trigger_state_id=trigger,
                problem_state_id=connection.problem_state_id,
                completed_state_id=connection.completed_state_id,
                returned_state_id=connection.returned_state_id,
                state_map=dict(connection.state_map),
                tracking_attribute_id=connection.tracking_attribute_id,
                delivery_attribute_id=connection.delivery_attribute_id,
                delivery_map=dict(connection.delivery_map))
    return connection


def demo_order_move(*, actor: Actor) -> int:
    """The sandbox's stand-in for MoySklad's own screen: one of the emulator's new orders
    is moved to the trigger state as a person would, and its webhook reaches us. Refused
    for a connection that is not this instance's emulator. Returns how many moved."""
    from shipdesk.core.outbound import guarded_client

    actor.require(Perm.MANAGE_SETTINGS)
    connection = MoySkladConnection.objects.filter(organization=actor.organization).first()
    if connection is None or not is_sandbox(connection):
        raise Conflict(_("Это можно только с песочницей МоегоСклада"))
    trigger = connection.state_name(connection.trigger_state_id)
    if not trigger:
        raise Conflict(_("Сначала выберите состояние-триггер"))
    control = connection.base_url.removesuffix(PREFIX) + "/__emulator__/move"
    try:
        with guarded_client(timeout=10) as http:
            answer = http.post(control, json={"count": 1, "from_state": DEMO_FROM,
                                              "state": trigger})
            answer.raise_for_status()
    except httpx.HTTPError as exc:
        log.warning("moysklad sandbox: order not moved: %s", exc)
        raise Conflict(_("Песочница МоегоСклада не отвечает")) from exc
    moved = int(answer.json().get("moved", 0))
    audit(actor, "moysklad.sandbox_move", connection, moved=moved, state=trigger)
    return moved
