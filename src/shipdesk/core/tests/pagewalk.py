"""Walking every page of a demo organization, for the tests that read pages as people do
(raw codes, English, layout in Chromium).

``demo_site`` loads the demo data the way ``shipdesk demo`` / ``make run`` does
(``core.demo.demo_load``), then adds what the sandbox carriers would have made of it in a
while (numbered parcels, open and closed batches with their documents, parcels on their way,
a cancelled one, a parcel abroad), so that every kind of page has something to show.

``page_urls`` lists every GET page of the site (from the URL resolver, so a new page is
walked without editing this file), its path parameters filled with the organization's own
objects: ``<model>_id`` (or its tail, ``account_id`` → ``CarrierAccount``) by model name;
the few other parameters by ``PARAMS``.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.apps import apps
from django.db import models
from django.test import TestCase
from django.utils import timezone

from shipdesk.core.demo import demo_load
from shipdesk.core.tests.test_tenant_isolation import _web_patterns
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Membership, Organization, Role

# Routes that are not the shop's pages (admin and the API are left out by the walker).
SKIPPED_ROUTES = {
    "logout", "set_language", "password_reset_confirm", "tenancy:invitation_accept",
    "tenancy:switch", "notifications:unsubscribe", "notifications:callback", "healthz", "readyz",
    "password_reset", "password_reset_done", "password_reset_complete", "login",
    # a form to fill in, not a page: its example row holds the codes a file may carry
    "shipments:import_template",
}
# Path parameters of routes that are no page of the shop's (short unsubscribe links).
SKIPPED_PARAMS = {"code"}
# How many objects of one model a route is walked with (the first by state, see _objects).
PER_MODEL = 12


@dataclass
class Site:
    organization: Organization
    owner: Any


def _numbered_rp(org: Organization, sender: Any, n: int, **kw: Any) -> Any:
    from shipdesk.numbering.validation import rp14_compose
    from shipdesk.shipments.models import Shipment, ShipmentItem, State

    defaults: dict[str, Any] = {
        "order_number": f"WALK-{n:04d}", "state": State.NUMBERED, "carrier_code": "russian_post",
        "service_code": "ONLINE_PARCEL", "mail_category": "WITH_DECLARED_VALUE",
        "recipient_surname": "Иванов", "recipient_given_name": "Иван",
        "recipient_phone": "+79161234567", "index": "141400", "region": "Московская обл.",
        "city": "г. Химки", "street": "ул. Молодёжная", "house": str(n), "apartment": "1",
        "weight_g": 1234, "declared_value": Decimal("3000.00"), "cod_amount": Decimal("0"),
        "shipping_cost": Decimal("1350.40"), "sender": sender,
        "rate_breakdown": [{"name": "Пересылка", "amount": "1125.33"},
                           {"name": "НДС 20 %", "amount": "225.07"}],
        "tracking_number": rp14_compose("101000", "62", 90000 + n),
    }
    defaults.update(kw)
    shipment = Shipment.objects.create(organization=org, **defaults)
    ShipmentItem.objects.create(shipment=shipment, name="Книга", quantity=2,
                                unit_price=Decimal("1500.00"), weight_g=600, hs_code="490199",
                                origin_country="RU")
    return shipment


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def demo_site(make_org: Any, name: str = "Ромашка-обход") -> Site:
    """An organization with the demo data and a bit of every later stage."""
    from shipdesk.documents import services as documents
    from shipdesk.documents.models import DocumentKind
    from shipdesk.numbering.validation import s10_compose
    from shipdesk.shipments import services as shipments
    from shipdesk.shipments.models import SenderProfile, Shipment, State

    org = make_org(name)
    owner = Membership.objects.get(organization=org, role=Role.OWNER).user
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=owner)
    demo_load(organization=org)
    # The sandbox accounts point at emulators that are not running here: at a closed port
    # of our own (never at another session's emulator on the default ports)
    from shipdesk.carriers.models import CarrierAccount

    for account in CarrierAccount.objects.filter(organization=org):
        account.base_url = f"http://127.0.0.1:{_closed_port()}"
        account.save(update_fields=["base_url"])
    sender = SenderProfile.objects.filter(organization=org).first()
    # Parcels numbered from our pools (no carrier account): Russian Post's forms
    domestic = [_numbered_rp(org, sender, n, cod_amount=Decimal("3000.00") if n < 3 else 0,
                             mail_category="WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY"
                             if n < 3 else "WITH_DECLARED_VALUE") for n in range(1, 5)]
    abroad = _numbered_rp(org, sender, 9, country="DE", index="10115", region="", city="Berlin",
                          street="Unter den Linden", house="5", service_code="PARCEL_INTERNATIONAL",
                          mail_category="ORDERED", options={"customs_category": "gift"},
                          tracking_number=s10_compose("CA", 123, "RU"))
    open_batches = documents.batch_create(actor=actor, shipment_ids=[s.pk for s in domestic[:2]])
    closed_batches = documents.batch_create(actor=actor, shipment_ids=[s.pk for s in domestic[2:]])
    documents.batch_create(actor=actor, shipment_ids=[abroad.pk])
    # the documents are made after the commit (the test's transaction never commits)
    with TestCase.captureOnCommitCallbacks(execute=True):
        for batch in open_batches + closed_batches:
            for kind, _label in documents.batch_document_kinds(batch):
                if kind != DocumentKind.F103_SIGNED:
                    documents.document_request(actor=actor, batch_id=batch.pk, kind=kind)
    for batch in closed_batches:
        documents.batch_close(actor=actor, batch_id=batch.pk)
    # Parcels on their way and at their end, and a cancelled one
    handed = [s.pk for s in Shipment.objects.filter(pk__in=[s.pk for s in domestic[2:]])]
    now = timezone.now()
    shipments.shipments_apply_tracking(updates=[
        shipments.TrackingUpdate(shipment_id=handed[0], status="arrived_at_pickup", substatus="",
                                 status_at=now - timedelta(hours=3)),
        shipments.TrackingUpdate(shipment_id=handed[1], status="delivered", substatus="",
                                 status_at=now - timedelta(hours=1)),
    ])
    ready = Shipment.objects.filter(organization=org, state=State.READY).order_by("pk")
    shipments.shipment_cancel(actor=actor, shipment_id=ready.first().pk, reason="")
    return Site(organization=org, owner=owner)


# --- the pages ------------------------------------------------------------------------------

def _org_path(model: type[models.Model]) -> str | None:
    """How a model's rows reach their organization: ``organization`` itself, or through
    their shipment; None for a model of no organization."""
    names = {f.name: f for f in model._meta.get_fields() if f.is_relation and f.many_to_one}
    if "organization" in names and names["organization"].related_model is Organization:
        return "organization"
    for name, field in names.items():
        if field.related_model is not None and field.related_model.__name__ == "Shipment" \
                and field.related_model._meta.app_label == "shipments":
            return f"{name}__organization"
    return None


def _tenant_models() -> list[type[models.Model]]:
    return [m for m in apps.get_models() if _org_path(m) is not None]


def _model_for(param: str) -> type[models.Model] | None:
    stem = param.removesuffix("_id").replace("_", "")
    tenant = _tenant_models()
    for model in tenant:
        if model.__name__.lower() == stem:
            return model
    for model in tenant:
        if model.__name__.lower().endswith(stem):
            return model
    return None


def _objects(model: type[models.Model], org: Organization) -> list[Any]:
    qs = model.objects.filter(**{_org_path(model) or "organization": org})
    fields = {f.name for f in model._meta.get_fields()}
    # one object per state / status / kind first, then the newest up to PER_MODEL
    picked: dict[Any, Any] = {}
    for key in ("state", "kind", "status", "registration"):
        if key in fields:
            for obj in qs.order_by("pk"):
                picked.setdefault((key, getattr(obj, key)), obj)
    chosen = {o.pk: o for o in picked.values()}
    for obj in qs.order_by("-pk")[:PER_MODEL]:
        chosen.setdefault(obj.pk, obj)
    return list(chosen.values())[:PER_MODEL * 2]


def _param_values(param: str, org: Organization) -> list[str]:
    from shipdesk.carriers import registry

    if param == "carrier_code":
        return list(registry.all_codes())
    if param == "token":
        from shipdesk.tracking.models import TrackingState

        return list(TrackingState.objects.filter(shipment__organization=org)
                    .values_list("public_token", flat=True)[:2])
    if param in ("rule", "channel"):
        from shipdesk.notifications.models import Channel, RuleKind

        return list(RuleKind.values if param == "rule" else Channel.values)
    if param == "fmt":  # the exports' file formats
        return ["csv", "xlsx"]
    if param == "name":  # the statistics' tables
        from shipdesk.analytics.selectors import TABLES

        return list(TABLES)
    model = _model_for(param)
    if model is None:
        raise LookupError(f"pagewalk: no objects for the path parameter {{{param}}}:"
                          " name it <model>_id or add it to pagewalk._param_values")
    return [str(o.pk) for o in _objects(model, org)]


def page_urls(org: Organization) -> list[tuple[str, str]]:
    """(route name, path) of every GET page of the organization."""
    out: list[tuple[str, str]] = []
    for route, name_or_none, params in _web_patterns():  # the tenant walker's routes
        name = name_or_none or ""
        if name in SKIPPED_ROUTES or SKIPPED_PARAMS & set(params) or route.startswith(
                ("static/", "media/")):
            continue
        path = "/" + re.sub(r"^\^|\$$", "", route)
        if not params:
            out.append((name, _clean(path)))
            continue
        combos: list[dict[str, str]] = [{}]
        for param in params:
            values = _param_values(param, org)
            combos = [{**c, param: v} for c in combos for v in values][:PER_MODEL * 4]
        for combo in combos:
            filled = re.sub(r"<(?:\w+:)?(\w+)>", lambda m, c=combo: c[m.group(1)], path)
            out.append((name, _clean(filled)))
    return out


def _clean(path: str) -> str:
    return path.replace("\\", "")


# --- reading a page -------------------------------------------------------------------------

_HIDDEN = re.compile(r"(?is)<(script|style|code|pre|textarea|template|head)\b.*?</\1>")
_TAG = re.compile(r"(?s)<[^>]+>")
# addresses, and the operating system's own words in a network error ("[Errno 111]
# Connection refused")
_URL = re.compile(r"\b\w+://\S+|\S+@\S+\.\w+|\[Errno \d+\][^.;«»<]*")


def visible_text(page: str, *, without_class: str = "") -> str:
    """What a person reads on the page: tags, scripts, code samples, editable template
    sources and addresses (URLs, e-mails) left out; ``without_class``: the elements of that
    class left out too."""
    if without_class:
        page = strip_class(page, without_class)
    text = _TAG.sub(" ", _HIDDEN.sub(" ", page))
    return _URL.sub(" ", re.sub(r"\s+", " ", html.unescape(text)))


def strip_class(page: str, css_class: str) -> str:
    """The page without the elements carrying ``css_class`` (non-nested elements of one tag:
    what the templates mark is a cell or a span)."""
    pattern = re.compile(
        r'(?is)<(\w+)\b[^>]*\bclass="[^"]*\b' + re.escape(css_class) + r'\b[^"]*"[^>]*>.*?</\1>')
    return pattern.sub(" ", page)


def pdf_text(data: bytes) -> str:
    from shipdesk.documents.tests.pdfcheck import page_texts

    return "\n".join(page_texts(data))


def xlsx_text(data: bytes) -> str:
    import io

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data), read_only=True)
    return "\n".join(" ".join(str(v) for v in row if v is not None)
                     for sheet in book.worksheets for row in sheet.iter_rows(values_only=True))


def response_text(response: Any, *, without_class: str = "") -> str | None:
    """The text of a page or document as its reader sees it; None for other answers."""
    kind = response.get("Content-Type", "")
    body = b"".join(response.streaming_content) if getattr(response, "streaming", False) \
        else response.content
    if kind.startswith("text/html"):
        return visible_text(body.decode("utf-8", "replace"), without_class=without_class)
    if kind.startswith("application/pdf"):
        return pdf_text(body)
    if "spreadsheetml" in kind:
        return xlsx_text(body)
    if kind.startswith(("text/csv", "text/plain")):
        return body.decode("utf-8", "replace")
    return None


# --- raw codes ------------------------------------------------------------------------------

def raw_codes(org: Organization) -> dict[str, str]:
    """Every stored code a page might leak, with where it comes from: the values of every
    model field's choices, the carriers', mail types', tariffs' and categories' codes, the
    tracking statuses, the carriers' capabilities and the audit actions of the organization.
    A code that is a word of its own label («EMS») is left out."""
    from django.utils import translation

    from shipdesk.carriers import names, registry
    from shipdesk.carriers.base import Capability
    from shipdesk.shipments.models import MailTypeLimit
    from shipdesk.tenancy.models import AuditEntry
    from shipdesk.tracking.statuses import Status

    codes: dict[str, str] = {}
    labels: dict[str, set[str]] = {}

    def add(code: Any, where: str, label: Any = "") -> None:
        if not isinstance(code, str) or not code or code.isdigit() or len(code) < 3:
            return
        codes.setdefault(code, where)
        for language in ("ru", "en"):
            with translation.override(language):
                labels.setdefault(code, set()).add(str(label))

    for model in apps.get_models():
        for field in model._meta.get_fields():
            for value, label in getattr(field, "flatchoices", None) or ():
                add(value, f"{model._meta.label}.{field.name}", label)
    for code in registry.all_codes():
        add(code, "carrier", names.CARRIERS.get(code, ""))
    for code, label in names.MAIL_TYPES.items():
        add(code, "mail type", label)
    for carrier, services in names.SERVICES.items():
        for code, label in services.items():
            add(code, f"{carrier} tariff", label)
    for code in MailTypeLimit.objects.values_list("service_code", flat=True):
        add(code, "mail type", names.MAIL_TYPES.get(code, ""))
    for code, label in names.MAIL_CATEGORIES.items():
        add(code, "mail category", label)
    for status in Status:
        add(status.value, "tracking status")
    for capability in Capability:
        add(capability.value, "carrier capability")
    for action in AuditEntry.objects.filter(organization=org).values_list("action", flat=True):
        add(action, "audit action")
    return {code: where for code, where in codes.items()
            if not any(re.search(rf"\b{re.escape(code)}\b", label) for label in labels[code])}


def code_like(code: str) -> bool:
    """A code no English sentence has: with an underscore or a dot, or in capitals."""
    return "_" in code or "." in code or (code.isupper() and len(code) >= 3)


def codes_in(text: str, codes: dict[str, str]) -> list[str]:
    found = []
    for code in codes:
        if code in text and re.search(rf"(?<![\w.\-/]){re.escape(code)}(?![\w\-/]|\.\w)", text):
            found.append(code)
    return found


# --- English pages --------------------------------------------------------------------------

CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_NODE_SPLIT = re.compile(r"(?s)<[^>]+>")


def text_nodes(page: str, *, without_classes: tuple[str, ...] = ()) -> list[str]:
    """The page's text, node by node (a label, a cell, a button's words), as read."""
    for css_class in without_classes:
        page = strip_class(page, css_class)
    page = _HIDDEN.sub("<x>", page)
    nodes = (re.sub(r"\s+", " ", html.unescape(part)).strip() for part in _NODE_SPLIT.split(page))
    return [_URL.sub(" ", node).strip() for node in nodes if node.strip()]


def user_strings(org: Organization) -> re.Pattern[str] | None:
    """A pattern matching the organization's own words (names, addresses, its accounts' and
    senders' names...) and the shared data tables' names: every Cyrillic value of a text
    column of its rows. Demo data is Russian user data: an English page may show it."""
    from django.contrib.auth import get_user_model

    found: set[str] = set()

    def collect(qs: Any, model: type[models.Model]) -> None:
        fields = [f.name for f in model._meta.concrete_fields
                  if isinstance(f, models.CharField | models.TextField)]
        if not fields:
            return
        for row in qs.values_list(*fields):
            found.update(v.strip() for v in row if isinstance(v, str) and CYRILLIC.search(v))

    for model in _tenant_models():
        collect(model.objects.filter(**{_org_path(model) or "organization": org}), model)
    collect(Organization.objects.filter(pk=org.pk), Organization)
    User = get_user_model()
    collect(User.objects.filter(memberships__organization=org), User)
    for label in ("tariffs.TariffTable", "shipments.MailTypeLimit"):
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        collect(model.objects.all(), model)
    words = sorted((w for w in found if len(w) > 1), key=len, reverse=True)
    return re.compile("|".join(re.escape(w) for w in words)) if words else None


def cyrillic_nodes(page: str, data: re.Pattern[str] | None) -> list[str]:
    """The nodes of an English page still in Russian once the organization's own data is
    taken out (and what templates mark as data: ``user-data``, ``stored-text``)."""
    out = []
    for node in text_nodes(page, without_classes=("user-data", "stored-text")):
        if not CYRILLIC.search(node):
            continue
        rest = data.sub(" ", node) if data is not None else node
        if CYRILLIC.search(rest):
            out.append(node)
    return out


def html_pages(client: Any, org: Organization, *, per_route: int) -> list[tuple[str, Any]]:
    """(path, response) of the whole HTML pages of the organization, each route with at most
    ``per_route`` of its objects (the first: one per state)."""
    seen: dict[str, int] = {}
    pages = []
    for name, path in page_urls(org):
        if seen.get(name, 0) >= per_route:
            continue
        response = client.get(path)
        if response.status_code == 200 and response.get("Content-Type", "").startswith(
                "text/html") and b"<html" in response.content[:400]:
            seen[name] = seen.get(name, 0) + 1
            pages.append((path, response))
    return pages
