"""Delivery rules: the pure matcher (table-driven), the loader, and the checked write side."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from shipdesk.carriers.models import CarrierAccount
from shipdesk.conftest import actor_with_role
from shipdesk.core.errors import Forbidden, NotFound, ValidationFailed
from shipdesk.shipments import delivery_rules as rules
from shipdesk.shipments.delivery_rules import RuleFacts, choose_rule, rule_describe, rule_matches
from shipdesk.shipments.models import DeliveryRule
from shipdesk.tenancy.models import AuditEntry, Role
from shipdesk.tenancy.services import Actor, system_actor

# --- the pure matcher ----------------------------------------------------------------------

MOSCOW = {"index": "101000", "weight_g": 1500, "cod": True, "pickup": False,
          "international": False}


def facts(**conditions: Any) -> RuleFacts:
    return RuleFacts(id=1, position=1, name="r", carrier_account_id=7, carrier_code="cdek",
                     **conditions)


@pytest.mark.parametrize(("conditions", "parcel", "expected"), [
    # no condition: every parcel
    ({}, {}, True),
    ({}, {"index": "", "weight_g": None, "international": True}, True),
    # index prefixes: any of them, a whole prefix, spaces in the index ignored
    ({"index_prefixes": ("101", "190")}, {}, True),
    ({"index_prefixes": ("190", "101")}, {"index": "190121"}, True),
    ({"index_prefixes": ("190",)}, {}, False),
    ({"index_prefixes": ("1010001",)}, {}, False),
    ({"index_prefixes": ("101000",)}, {}, True),
    ({"index_prefixes": ("1",)}, {"index": "101 000"}, True),
    ({"index_prefixes": ("101",)}, {"index": ""}, False),
    # a foreign postcode never matches a Russian index prefix
    ({"index_prefixes": ("101",)}, {"index": "10115", "international": True}, False),
    # weight bounds are inclusive; an unknown weight fails any bound
    ({"min_weight_g": 1500}, {}, True),
    ({"min_weight_g": 1501}, {}, False),
    ({"max_weight_g": 1500}, {}, True),
    ({"max_weight_g": 1499}, {}, False),
    ({"min_weight_g": 1000, "max_weight_g": 2000}, {}, True),
    ({"min_weight_g": 1000, "max_weight_g": 2000}, {"weight_g": 2001}, False),
    ({"max_weight_g": 2000}, {"weight_g": None}, False),
    ({"min_weight_g": 0}, {"weight_g": None}, False),
    ({"max_weight_g": 0}, {"weight_g": 0}, True),
    # cash on delivery
    ({"cod": "with"}, {}, True),
    ({"cod": "with"}, {"cod": False}, False),
    ({"cod": "without"}, {}, False),
    ({"cod": "without"}, {"cod": False}, True),
    # pickup point or door
    ({"delivery": "pickup"}, {}, False),
    ({"delivery": "pickup"}, {"pickup": True}, True),
    ({"delivery": "door"}, {}, True),
    ({"delivery": "door"}, {"pickup": True}, False),
    # destination
    ({"destination": "domestic"}, {}, True),
    ({"destination": "domestic"}, {"international": True}, False),
    ({"destination": "international"}, {"international": True, "index": "10115"}, True),
    ({"destination": "international"}, {}, False),
    # all conditions together: each must hold
    ({"index_prefixes": ("101",), "max_weight_g": 2000, "cod": "with", "delivery": "door",
      "destination": "domestic"}, {}, True),
    ({"index_prefixes": ("101",), "max_weight_g": 2000, "cod": "with", "delivery": "door",
      "destination": "domestic"}, {"weight_g": 2500}, False),
    ({"index_prefixes": ("101",), "max_weight_g": 2000, "cod": "with", "delivery": "door",
      "destination": "domestic"}, {"cod": False}, False),
])
def test_rule_matches(conditions: dict[str, Any], parcel: dict[str, Any], expected: bool) -> None:
    assert rule_matches(facts(**conditions), **{**MOSCOW, **parcel}) is expected


def test_rule_matches_ignores_is_active() -> None:
    assert rule_matches(facts(is_active=False), **MOSCOW) is True


def test_choose_rule_takes_the_first_active_match_by_position() -> None:
    spb = RuleFacts(id=10, position=1, name="spb", carrier_account_id=1, carrier_code="cdek",
                    index_prefixes=("190",))
    off = RuleFacts(id=11, position=2, name="off", carrier_account_id=2, carrier_code="cdek",
                    is_active=False)
    heavy = RuleFacts(id=12, position=3, name="heavy", carrier_account_id=3,
                      carrier_code="russian_post", min_weight_g=1000)
    rest = RuleFacts(id=13, position=4, name="rest", carrier_account_id=4,
                     carrier_code="pickpoint")
    shuffled = [rest, heavy, off, spb]
    assert choose_rule(shuffled, **{**MOSCOW, "index": "190121"}) is spb
    assert choose_rule(shuffled, **MOSCOW) is heavy  # "off" would match, but is off
    assert choose_rule(shuffled, **{**MOSCOW, "weight_g": 300}) is rest
    assert choose_rule([spb, heavy], **{**MOSCOW, "weight_g": 300}) is None
    assert choose_rule([], **MOSCOW) is None


def test_choose_rule_breaks_position_ties_by_id() -> None:
    later = RuleFacts(id=5, position=1, name="b", carrier_account_id=1, carrier_code="cdek")
    earlier = RuleFacts(id=4, position=1, name="a", carrier_account_id=2, carrier_code="cdek")
    assert choose_rule([later, earlier], **MOSCOW) is earlier


@pytest.mark.parametrize(("conditions", "expected"), [
    ({"index_prefixes": ("101", "190"), "max_weight_g": 2000, "cod": "with",
      "service_code": "136"},
     "Индексы 101, 190; вес до 2 кг; с НП → СДЭК (песочница), Посылка склад-склад"),
    ({}, "Все отправления → СДЭК (песочница)"),
    ({"min_weight_g": 500, "max_weight_g": 1500, "cod": "without", "delivery": "pickup",
      "destination": "domestic"},
     "Вес от 500 г до 1,5 кг; без НП; в пункт выдачи; по России → СДЭК (песочница)"),
    ({"min_weight_g": 20000, "delivery": "door", "destination": "international"},
     "Вес от 20 кг; до двери / в отделение; за рубеж → СДЭК (песочница)"),
])
def test_rule_in_plain_words(conditions: dict[str, Any], expected: str) -> None:
    assert rule_describe(facts(carrier_account_name="СДЭК (песочница)", **conditions)) == expected


def test_rule_in_plain_words_names_a_known_mail_type() -> None:
    rule = RuleFacts(id=1, position=1, name="r", carrier_account_id=1, carrier_code="russian_post",
                     carrier_account_name="Почта", service_code="ONLINE_PARCEL")
    names = {("russian_post", "ONLINE_PARCEL"): "Посылка онлайн"}
    assert rule_describe(rule, service_names=names) == "Все отправления → Почта, Посылка онлайн"


# --- the database side ---------------------------------------------------------------------

def account(org: Any, carrier_code: str = "cdek", name: str = "СДЭК (песочница)",
            is_active: bool = True) -> CarrierAccount:
    return CarrierAccount.objects.create(organization=org, carrier_code=carrier_code, name=name,
                                         base_url="http://127.0.0.1:9", credentials={},
                                         is_active=is_active)


def rule_values(account_id: int, **overrides: Any) -> dict[str, Any]:
    values: dict[str, Any] = {"name": "Москва и Петербург", "carrier_account_id": account_id,
                              "index_prefixes": "101, 190", "max_weight_g": 2000, "cod": "with",
                              "service_code": "136"}
    values.update(overrides)
    return values


def errors_of(exc: pytest.ExceptionInfo[ValidationFailed]) -> list[tuple[str, str]]:
    return [(str(e.loc[0]), str(e.message)) for e in exc.value.errors]


def names_in_order(actor: Actor) -> list[tuple[int, str]]:
    return [(r.position, r.name) for r in rules.delivery_rule_list(actor=actor)]


@pytest.mark.django_db
def test_create_stores_a_checked_rule_and_the_loader_reads_it(actor: Actor, org: Any) -> None:
    cdek = account(org)
    rule = rules.delivery_rule_create(actor=actor, **rule_values(
        cdek.pk, index_prefixes="101; 190,101 125"))
    rule.refresh_from_db()
    assert rule.index_prefixes == "101,190,125" and rule.position == 1
    assert AuditEntry.objects.filter(action="delivery_rule.create", object_id=str(rule.pk)).exists()
    with CaptureQueriesContext(connection) as queries:
        loaded = rules.delivery_rules_for(org)
    assert len(queries) == 1
    assert loaded == [RuleFacts(
        id=rule.pk, position=1, name="Москва и Петербург", carrier_account_id=cdek.pk,
        carrier_code="cdek", carrier_account_name="СДЭК (песочница)", service_code="136",
        index_prefixes=("101", "190", "125"), max_weight_g=2000, cod="with")]
    assert choose_rule(loaded, index="125009", weight_g=100, cod=True, pickup=False,
                       international=False) == loaded[0]


@pytest.mark.django_db
def test_loader_marks_rules_of_a_disabled_account_inactive(actor: Actor, org: Any,
                                                           other_org: Any) -> None:
    off = account(org, is_active=False)
    on = account(org, carrier_code="russian_post", name="Почта")
    rules.delivery_rule_create(actor=actor, **rule_values(off.pk, name="A", service_code=""))
    rules.delivery_rule_create(actor=actor, **rule_values(on.pk, name="B", service_code=""))
    rules.delivery_rule_create(actor=system_actor(other_org), **rule_values(
        account(other_org).pk, name="чужое", service_code=""))
    loaded = rules.delivery_rules_for(org.pk)
    assert [(r.name, r.is_active) for r in loaded] == [("A", False), ("B", True)]
    chosen = choose_rule(loaded, **MOSCOW)
    assert chosen is not None and chosen.carrier_account_id == on.pk


@pytest.mark.django_db
def test_bad_conditions_are_named_at_their_fields_in_russian(actor: Actor, org: Any) -> None:
    cdek = account(org)
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(
            cdek.pk, name="", index_prefixes="101, 1234567, 19O", min_weight_g=3000,
            max_weight_g=2000, cod="maybe"))
    assert errors_of(exc) == [
        ("name", "Обязательное поле"),
        ("index_prefixes", "«1234567» — не начало индекса: от 1 до 6 цифр"),
        ("index_prefixes", "«19O» — не начало индекса: от 1 до 6 цифр"),
        ("max_weight_g", "Вес «до» (2000 г) меньше веса «от» (3000 г)"),
        ("cod", "Допустимо: «with», «without» или пусто"),
    ]
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(None, min_weight_g=-1))
    assert errors_of(exc) == [
        ("min_weight_g", "Вес в граммах: целое число не меньше 0"),
        ("carrier_account_id", "Выберите договор с перевозчиком"),
    ]
    assert not DeliveryRule.objects.exists()


@pytest.mark.django_db
def test_service_must_be_a_known_mail_type_of_that_carrier(actor: Actor, org: Any) -> None:
    post = account(org, carrier_code="russian_post", name="Почта")
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(post.pk, service_code="136"))
    [(loc, message)] = errors_of(exc)
    assert loc == "service_code"
    assert message.startswith("У этого перевозчика нет вида отправления «136». Известные: ")
    assert "ONLINE_PARCEL" in message
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(
            post.pk, service_code="SMALL_PACKET", destination="domestic", max_weight_g=None))
    assert errors_of(exc) == [
        ("service_code", "«Мелкий пакет (международный)» — международный вид, а правило — для "
                         "отправлений по России"),
        ("service_code", "«Мелкий пакет (международный)» не принимается с наложенным платежом"),
    ]
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(
            post.pk, service_code="PARCEL_CLASS_1", min_weight_g=3000, max_weight_g=None,
            cod=""))
    assert errors_of(exc) == [("service_code", "«Посылка 1 класса» принимается до 2500 г, "
                                               "а правило — для веса от 3000 г")]
    rule = rules.delivery_rule_create(actor=actor, **rule_values(post.pk,
                                                                 service_code="ONLINE_PARCEL"))
    assert rule.service_code == "ONLINE_PARCEL"
    # a carrier whose mail types are not known takes any tariff code
    assert rules.delivery_rule_create(actor=actor, **rule_values(account(org).pk)).pk


@pytest.mark.django_db
def test_another_organizations_account_is_not_found(actor: Actor, org: Any,
                                                    other_org: Any) -> None:
    alien = account(other_org)
    with pytest.raises(NotFound) as exc:
        rules.delivery_rule_create(actor=actor, **rule_values(alien.pk))
    assert str(exc.value.detail) == "Договор с перевозчиком не найден"
    mine = rules.delivery_rule_create(actor=actor, **rule_values(account(org).pk))
    with pytest.raises(NotFound):
        rules.delivery_rule_update(actor=actor, rule_id=mine.pk, carrier_account_id=alien.pk)
    mine.refresh_from_db()
    assert mine.carrier_account.organization_id == org.pk


@pytest.mark.django_db
def test_another_organizations_rule_is_not_found(actor: Actor, other_org: Any) -> None:
    alien = rules.delivery_rule_create(actor=system_actor(other_org),
                                       **rule_values(account(other_org).pk))
    for call in (lambda: rules.delivery_rule_get(actor=actor, rule_id=alien.pk),
                 lambda: rules.delivery_rule_update(actor=actor, rule_id=alien.pk, name="x"),
                 lambda: rules.delivery_rule_move(actor=actor, rule_id=alien.pk, position=1),
                 lambda: rules.delivery_rule_step(actor=actor, rule_id=alien.pk, up=True),
                 lambda: rules.delivery_rule_delete(actor=actor, rule_id=alien.pk)):
        with pytest.raises(NotFound):
            call()
    assert DeliveryRule.objects.get(pk=alien.pk).name == "Москва и Петербург"


@pytest.mark.django_db
def test_update_changes_given_fields_and_clears_a_bound(actor: Actor, org: Any) -> None:
    rule = rules.delivery_rule_create(actor=actor, **rule_values(account(org).pk))
    rules.delivery_rule_update(actor=actor, rule_id=rule.pk, max_weight_g=None, cod="without")
    rule.refresh_from_db()
    assert (rule.max_weight_g, rule.cod, rule.index_prefixes) == (None, "without", "101,190")
    with pytest.raises(ValidationFailed) as exc:
        rules.delivery_rule_update(actor=actor, rule_id=rule.pk, min_weight_g=10,
                                   max_weight_g=5)
    assert errors_of(exc) == [("max_weight_g", "Вес «до» (5 г) меньше веса «от» (10 г)")]


@pytest.mark.django_db
def test_order_moves_and_stays_without_gaps(actor: Actor, org: Any) -> None:
    cdek = account(org)
    made = {name: rules.delivery_rule_create(actor=actor, **rule_values(cdek.pk, name=name))
            for name in "ABCD"}
    assert names_in_order(actor) == [(1, "A"), (2, "B"), (3, "C"), (4, "D")]
    rules.delivery_rule_move(actor=actor, rule_id=made["D"].pk, position=2)
    assert names_in_order(actor) == [(1, "A"), (2, "D"), (3, "B"), (4, "C")]
    rules.delivery_rule_step(actor=actor, rule_id=made["A"].pk, up=False)
    rules.delivery_rule_step(actor=actor, rule_id=made["C"].pk, up=True)
    assert names_in_order(actor) == [(1, "D"), (2, "A"), (3, "C"), (4, "B")]
    rules.delivery_rule_step(actor=actor, rule_id=made["D"].pk, up=True)  # already first
    rules.delivery_rule_move(actor=actor, rule_id=made["A"].pk, position=99)
    assert names_in_order(actor) == [(1, "D"), (2, "C"), (3, "B"), (4, "A")]
    rules.delivery_rule_delete(actor=actor, rule_id=made["C"].pk)
    assert names_in_order(actor) == [(1, "D"), (2, "B"), (3, "A")]
    rules.delivery_rule_create(actor=actor, position=1, **rule_values(cdek.pk, name="E"))
    assert names_in_order(actor) == [(1, "E"), (2, "D"), (3, "B"), (4, "A")]
    assert AuditEntry.objects.filter(action="delivery_rule.move").count() == 5


@pytest.mark.django_db
def test_an_operator_may_see_but_not_change_rules(actor: Actor, org: Any, make_user: Any) -> None:
    rule = rules.delivery_rule_create(actor=actor, **rule_values(account(org).pk))
    operator = actor_with_role(org, Role.OPERATOR, make_user)
    assert [r.pk for r in rules.delivery_rule_list(actor=operator)] == [rule.pk]
    with pytest.raises(Forbidden):
        rules.delivery_rule_update(actor=operator, rule_id=rule.pk, name="x")
    with pytest.raises(Forbidden):
        rules.delivery_rule_move(actor=operator, rule_id=rule.pk, position=1)
    with pytest.raises(Forbidden):
        rules.delivery_rule_delete(actor=operator, rule_id=rule.pk)
