"""No route leaks or changes another organization's objects.

The walker enumerates EVERY operation of the REST API (from its OpenAPI document) and EVERY
web URL pattern (from the URL resolver) that takes an object identifier, fills the
identifiers with objects of organization B, and calls each as organization A's owner (by
API key and by session), with every method the route accepts. Each call must answer 403 or
404 (405 for a web URL that does not take that method), must not show B's data, and B's rows
must be exactly as before. Routes added later are walked automatically; a route whose
parameters cannot be filled with B's objects fails the test with the reason, so that it is
fixed (give the model's app a ``load_demo`` hook, or name the parameter ``<model>_id``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import models, transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from shipdesk.core.demo import demo_load
from shipdesk.tenancy import services as tenancy
from shipdesk.tenancy.models import Membership, Organization, Role

pytestmark = pytest.mark.django_db

B_MARKER = "Организация-Б-7f3c9e"
API_PREFIX = "/api/v1"
API_METHODS = ("get", "post", "put", "patch", "delete")
# Web URLs whose parameters are not object ids of an organization (they are checked by
# their own tests: one-time tokens).
WEB_NOT_OBJECT_ROUTES = {"password_reset_confirm", "tenancy:invitation_accept"}
WEB_SKIPPED_NAMESPACES = {"admin", "api"}  # admin: staff only; api: walked from OpenAPI


def _app_declarations(attribute: str) -> dict[str, str]:
    """What the apps declare for the walker on their AppConfig:

    - ``tenant_walker_params = {"param_name": "app_label.Model" or "app_label.Model.field"}``
      for a path parameter whose name does not say which model it is;
    - ``tenant_walker_exempt = {"url_name" or "METHOD /api/v1/path": "why"}`` for a route
      whose parameters are not object ids (a carrier code, a webhook's secret token).
    """
    found: dict[str, str] = {}
    for config in apps.get_app_configs():
        found.update(getattr(config, attribute, {}) or {})
    return found


# --- what belongs to an organization ---------------------------------------------------

def _org_lookup(model: type[models.Model], depth: int = 0) -> str | None:
    """The ORM path from ``model`` to its organization, following foreign keys."""
    if model is Organization:
        return "pk"
    forward = [f for f in model._meta.get_fields()
               if isinstance(f, (models.ForeignKey, models.OneToOneField)) and f.concrete]
    for field in forward:
        if field.related_model is Organization:
            return field.name
    if depth >= 3:
        return None
    for field in forward:
        if field.related_model is not None and field.related_model is not model:
            rest = _org_lookup(field.related_model, depth + 1)
            if rest is not None:
                return f"{field.name}__{rest}" if rest != "pk" else field.name
    return None


def _tenant_models() -> dict[type[models.Model], str]:
    found = {}
    for model in apps.get_models():
        if not model.__module__.startswith("shipdesk.") or model._meta.abstract:
            continue
        lookup = _org_lookup(model)
        if lookup is not None:
            found[model] = lookup
    return found


def _rows(model: type[models.Model], lookup: str, org: Organization) -> models.QuerySet[Any]:
    return model._default_manager.filter(**{lookup: org.pk}).order_by("pk")


def _snapshot(org: Organization) -> dict[str, list[dict[str, Any]]]:
    return {model._meta.label: list(_rows(model, lookup, org).values())
            for model, lookup in _tenant_models().items()}


# --- rows for models that no demo hook filled ----------------------------------------------

def _dummy(field: models.Field[Any, Any], org: Organization, depth: int) -> Any:
    """A value a column accepts (no validation: only the database's constraints count)."""
    token = uuid.uuid4().hex
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, (models.ForeignKey, models.OneToOneField)):
        return _fabricate_related(field.related_model, org, depth + 1)
    if isinstance(field, models.JSONField):
        return {}
    if isinstance(field, models.EmailField):
        return f"{token[:12]}@example.test"
    if isinstance(field, models.URLField):
        return f"http://127.0.0.1/{token[:8]}"
    if isinstance(field, models.UUIDField):
        return uuid.uuid4()
    if isinstance(field, models.GenericIPAddressField):
        return "127.0.0.1"
    if isinstance(field, models.BooleanField):
        return False
    if isinstance(field, models.DecimalField):
        return Decimal("1")
    if isinstance(field, (models.IntegerField, models.FloatField)):
        return 1 + int(token[:4], 16) % 1000 if field.unique else 1
    if isinstance(field, models.DateTimeField):
        return timezone.now()
    if isinstance(field, models.DateField):
        return timezone.localdate()
    if isinstance(field, models.TimeField):
        return timezone.now().time()
    if isinstance(field, models.DurationField):
        return timedelta(0)
    if isinstance(field, models.BinaryField):
        return b""
    if isinstance(field, models.FileField):
        return f"walker/{token[:8]}.txt"
    if isinstance(field, models.CharField | models.TextField):
        return token[: field.max_length or 32]
    return {}  # custom fields (e.g. encrypted JSON) take a dict


def _fabricate_related(model: type[models.Model], org: Organization, depth: int) -> Any:
    from django.contrib.auth import get_user_model

    if model is Organization:
        return org
    if model is get_user_model():
        return get_user_model().objects.create_user(username=f"walker-{uuid.uuid4().hex[:10]}")
    lookup = _org_lookup(model)
    existing = _rows(model, lookup, org).first() if lookup else None
    return existing or _fabricate(model, org, depth)


def _fabricate(model: type[models.Model], org: Organization, depth: int = 0) -> models.Model:
    if depth > 4:
        raise RuntimeError(f"{model._meta.label}: foreign keys nest too deep")
    values: dict[str, Any] = {}
    for field in model._meta.concrete_fields:
        if field.primary_key or field.null or field.has_default() or getattr(field, "auto_now", False) \
                or getattr(field, "auto_now_add", False):
            continue
        if isinstance(field, models.CharField | models.TextField) and not (field.unique or field.choices):
            continue  # an empty string is stored
        values[field.name] = _dummy(field, org, depth)
    with transaction.atomic():
        return model._default_manager.create(**values)


def _fill_missing_rows(org: Organization) -> dict[str, str]:
    """Makes at least one row of every tenant model for ``org``; returns what could not be made."""
    failed: dict[str, str] = {}
    for model, lookup in _tenant_models().items():
        if model._meta.proxy or not model._meta.managed or _rows(model, lookup, org).exists():
            continue
        try:
            _fabricate(model, org)
        except Exception as exc:  # reported by the routes that need such a row
            failed[model._meta.label] = f"{exc.__class__.__name__}: {exc}"
    return failed


# --- filling parameters with B's objects -------------------------------------------------

def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _singular(word: str) -> str:
    word = _norm(word)
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


class Unfillable(Exception):
    pass


class Filler:
    def __init__(self, org: Organization, not_made: dict[str, str] | None = None) -> None:
        self.org = org
        self.models = _tenant_models()
        self.not_made = not_made or {}

    def _model_named(self, name: str, app_hint: str = "") -> type[models.Model] | None:
        exact = [m for m in self.models if _norm(m.__name__) == name]
        suffix = [m for m in self.models if _norm(m.__name__).endswith(name)]
        for candidates in (exact, suffix):
            in_app = [m for m in candidates if m._meta.app_label == app_hint]
            if len(in_app) == 1:
                return in_app[0]
            if len(candidates) == 1:
                return candidates[0]
        return None

    def _value(self, model: type[models.Model], field: str) -> Any:
        row = _rows(model, self.models[model], self.org).exclude(
            **{f"{field}__isnull": True}).values_list(field, flat=True).first()
        if row is None or row == "":
            why = self.not_made.get(model._meta.label, "")
            raise Unfillable(f"organization B has no {model._meta.label} rows (with {field}):"
                             f" its app should create some in load_demo(organization)"
                             + (f"; the walker could not make one: {why}" if why else ""))
        return row

    def fill(self, name: str, previous_segment: str, app_hint: str = "") -> Any:
        declared = _app_declarations("tenant_walker_params")
        if name in declared:
            parts = declared[name].split(".")
            field = parts[2] if len(parts) > 2 else "pk"
            return self._value(apps.get_model(parts[0], parts[1]), field)
        if name.endswith("_id") or name.endswith("_pk"):
            model = self._model_named(_norm(name[:-3]), app_hint)
            if model is not None:
                return self._value(model, "pk")
        if name in ("id", "pk"):
            model = self._model_named(_singular(previous_segment), app_hint)
            if model is not None:
                return self._value(model, "pk")
        # A natural key, e.g. {tracking_number}: a UNIQUE field of that name on a tenant
        # model (a non-unique one could name an object of A as well).
        for model in self.models:
            if any(f.name == name and f.concrete and getattr(f, "unique", False) and not f.primary_key
                   for f in model._meta.get_fields()):
                try:
                    return self._value(model, name)
                except Unfillable:
                    continue
        raise Unfillable(f"parameter {{{name}}}: no tenant model matches; name it <model>_id, or"
                         " declare it on the AppConfig (tenant_walker_params, or"
                         " tenant_walker_exempt when it is not an object id)")


# --- request bodies from the OpenAPI schema ----------------------------------------------

_STRING_CANDIDATES = ("x", "123456", "+79991234567", "1234567890", "AB", "RU", "a@example.test")


def _example(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    if "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    for key in ("example", "default"):
        if key in schema and schema[key] is not None:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "enum" in schema:
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return _example(options[0], components, depth)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            value = _example(part, components, depth)
            if isinstance(value, dict):
                merged.update(value)
        return merged
    kind = schema.get("type", "object")
    if kind == "object" and depth < 6:
        props = schema.get("properties", {})
        return {name: _example(props[name], components, depth + 1)
                for name in schema.get("required", []) if name in props}
    if kind == "array":
        count = schema.get("minItems", 0)
        return [_example(schema.get("items", {}), components, depth + 1) for _ in range(count)]
    if kind == "integer":
        return max(int(schema.get("minimum", 1)), 1)
    if kind == "number":
        return max(float(schema.get("minimum", 1)), 1)
    if kind == "boolean":
        return True
    if kind == "string":
        fmt = schema.get("format", "")
        if fmt == "email":
            return "walker@example.test"
        if fmt == "date":
            return timezone.localdate().isoformat()
        if fmt == "date-time":
            return timezone.now().isoformat()
        if fmt == "uuid":
            return str(uuid.uuid4())
        if fmt in ("binary", "byte"):
            return "x"
        pattern = schema.get("pattern")
        for candidate in _STRING_CANDIDATES:
            if (not pattern or re.fullmatch(pattern, candidate)) and len(candidate) >= schema.get(
                    "minLength", 0):
                return candidate
        return "x" * max(schema.get("minLength", 1), 1)
    return {}


# --- the routes ---------------------------------------------------------------------------

def _api_operations(client: Client) -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    document = client.get(f"{API_PREFIX}/openapi.json").json()
    components = document.get("components", {}).get("schemas", {})
    for path, item in document["paths"].items():
        for method in API_METHODS:
            if method in item and "{" in path:
                yield path, method, item[method], components


def _web_patterns(resolvers: list[Any] | None = None, prefix: str = "",
                  namespace: str = "") -> Iterator[tuple[str, str | None, list[str]]]:
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace or ""
            if ns in WEB_SKIPPED_NAMESPACES:
                continue
            full_ns = f"{namespace}:{ns}" if namespace and ns else ns or namespace
            yield from _web_patterns(entry.url_patterns, prefix + str(entry.pattern), full_ns)
        elif isinstance(entry, URLPattern):
            params = list(entry.pattern.converters) if hasattr(entry.pattern, "converters") else []
            regex_groups = list(entry.pattern.regex.groupindex)
            name = f"{namespace}:{entry.name}" if namespace and entry.name else entry.name
            yield prefix + str(entry.pattern), name, params or regex_groups


# --- the test -----------------------------------------------------------------------------

@pytest.fixture
def organization_b(make_org: Any, make_user: Any) -> Organization:
    b = make_org(B_MARKER)
    owner = Membership.objects.get(organization=b, role=Role.OWNER).user
    actor = tenancy.Actor(organization=b, role=Role.OWNER, user=owner)
    demo_load(organization=b)
    # The platform's own rows of B: a second member, a pending invitation, an API key.
    Membership.objects.create(user=make_user(), organization=b, role=Role.OPERATOR)
    tenancy.invitation_create(actor=actor, email="b-invitee@example.test", role=Role.VIEWER)
    tenancy.api_key_create(actor=actor, name="B key", role=Role.OPERATOR)
    # Any tenant model still without a row of B gets one made directly in its table.
    b.walker_not_made = _fill_missing_rows(b)  # type: ignore[attr-defined]
    return b


@pytest.fixture
def callers(org: Organization, owner: Any) -> dict[str, Client]:
    actor = tenancy.Actor(organization=org, role=Role.OWNER, user=owner)
    _key, plain = tenancy.api_key_create(actor=actor, name="walker", role=Role.OWNER)
    session = Client()
    session.force_login(owner)
    return {"api key": Client(headers={"X-API-Key": plain}), "session": session}


def _check(response: Any, allowed: set[int]) -> str | None:
    content = response.content.decode("utf-8", "replace")
    if response.status_code not in allowed:
        return f"answered {response.status_code}: {content[:300]}"
    if B_MARKER in content:
        return "shows organization B's name"
    return None


def test_no_api_route_reaches_another_organizations_objects(org, organization_b, callers):
    filler = Filler(organization_b, organization_b.walker_not_made)
    before = _snapshot(organization_b)
    problems: list[str] = []
    walked = 0
    exempt = _app_declarations("tenant_walker_exempt")
    for path, method, operation, components in _api_operations(callers["session"]):
        if f"{method.upper()} {path}" in exempt or path in exempt:
            continue
        app_hint = path.removeprefix(API_PREFIX + "/").split("/", 1)[0]
        try:
            url = re.sub(r"\{(\w+)\}", lambda m, path=path, app_hint=app_hint: str(filler.fill(
                m.group(1), path[:m.start()].rstrip("/").rsplit("/", 1)[-1], app_hint)), path)
        except Unfillable as exc:
            problems.append(f"{method.upper()} {path}: cannot be exercised: {exc}")
            continue
        body: Any = None
        content_type = "application/json"
        request_body = operation.get("requestBody", {}).get("content", {})
        if "application/json" in request_body:
            body = _example(request_body["application/json"]["schema"], components)
        elif request_body:
            content_type, spec = next(iter(request_body.items()))
            body = _example(spec["schema"], components)
        for caller, client in callers.items():
            kwargs: dict[str, Any] = {}
            if body is not None and content_type == "application/json":
                kwargs = {"data": body, "content_type": content_type}
            elif body is not None:
                kwargs = {"data": body}
            response = getattr(client, method)(url, **kwargs)
            walked += 1
            if response.status_code == 422:
                problems.append(f"{method.upper()} {path} ({caller}): 422 before reaching the object —"
                                " the walker's body did not pass the schema; give the schema field"
                                f" an example: {response.content.decode('utf-8', 'replace')[:300]}")
                continue
            problem = _check(response, {403, 404})
            if problem:
                problems.append(f"{method.upper()} {url} ({caller}): {problem}")
    assert not problems, "\n".join(problems)
    assert _snapshot(organization_b) == before, "a call as organization A changed B's rows"
    assert walked >= 2 * 4  # the platform's own id routes are walked at least


def test_no_web_page_reaches_another_organizations_objects(org, organization_b, callers):
    filler = Filler(organization_b, organization_b.walker_not_made)
    before = _snapshot(organization_b)
    client = callers["session"]
    problems: list[str] = []
    walked = 0
    exempt = WEB_NOT_OBJECT_ROUTES | set(_app_declarations("tenant_walker_exempt"))
    for route, name, params in _web_patterns():
        if not params or name in exempt:
            continue
        if name is None:
            problems.append(f"/{route}: takes {params} but has no name, so it cannot be walked")
            continue
        try:
            app_hint = (name or "").split(":", 1)[0] if ":" in (name or "") else ""
            kwargs = {p: filler.fill(p, re.split(r"<[^>]*" + p + ">", route)[0].rstrip("/")
                                     .rsplit("/", 1)[-1], app_hint) for p in params}
            url = reverse(name, kwargs=kwargs)
        except Unfillable as exc:
            problems.append(f"{name} (/{route}): cannot be exercised: {exc}")
            continue
        statuses = []
        for method in ("get", "post", "put", "patch", "delete"):
            response = getattr(client, method)(url)
            walked += 1
            statuses.append(response.status_code)
            problem = _check(response, {403, 404, 405})
            if problem:
                problems.append(f"{method.upper()} {url} ({name}): {problem}")
        if not {403, 404} & set(statuses):
            problems.append(f"{url} ({name}): no method answered 403/404: {statuses}")
    assert not problems, "\n".join(problems)
    assert _snapshot(organization_b) == before, "a page used by organization A changed B's rows"
    assert walked >= 2 * 4


def test_walker_fills_parameters_from_organization_b(organization_b):
    filler = Filler(organization_b)
    membership_id = filler.fill("membership_id", "members")
    assert Membership.objects.get(pk=membership_id).organization == organization_b
    with pytest.raises(Unfillable):
        filler.fill("no_such_thing_id", "things")


def test_every_tenant_model_is_found(organization_b):
    from shipdesk.core.models import TenantModel

    found = _tenant_models()
    concrete = [m for m in apps.get_models() if issubclass(m, TenantModel)]
    assert concrete and all(m in found for m in concrete)
    assert datetime  # (imported for the schema example of date-time fields)
