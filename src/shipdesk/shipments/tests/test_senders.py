"""Senders: checked fields, exactly one default, refused deletion while shipments name it."""

from __future__ import annotations

from typing import Any

import pytest

from shipdesk.conftest import actor_with_role
from shipdesk.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shipdesk.shipments import senders, services
from shipdesk.shipments.models import SenderProfile
from shipdesk.shipments.tests.factories import shipment_data
from shipdesk.tenancy.models import AuditEntry, Role
from shipdesk.tenancy.services import Actor, system_actor

pytestmark = pytest.mark.django_db


def sender_values(**overrides: Any) -> dict[str, Any]:
    values = {"name": "Склад на Мясницкой", "company": "ООО Ромашка", "phone": "8 (495) 123-45-67",
              "email": "sklad@example.test", "index": "101000", "city": "Москва",
              "street": "улица мясницкая", "house": "1"}
    values.update(overrides)
    return values


def messages(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {str(e.loc[0]): str(e.message) for e in exc.value.errors}


def defaults(actor: Actor) -> list[str]:
    return list(SenderProfile.objects.filter(organization=actor.organization, is_default=True)
                .values_list("name", flat=True))


def test_create_normalises_phone_region_and_address(actor: Actor) -> None:
    sender = senders.sender_create(actor=actor, **sender_values())
    sender.refresh_from_db()
    assert sender.phone == "+74951234567"
    assert sender.region == "Москва"  # from the index
    assert sender.street == "ул. Мясницкая"
    assert sender.drop_off_point == ""
    entry = AuditEntry.objects.get(action="sender.create")
    assert entry.object_id == str(sender.pk) and entry.organization_id == actor.organization_id


def test_required_fields_and_bad_values_each_at_their_field(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as exc:
        senders.sender_create(actor=actor, name=" ", city="", index="")
    assert messages(exc) == {"name": "Обязательное поле", "city": "Обязательное поле",
                             "index": "Обязательное поле"}
    with pytest.raises(ValidationFailed) as exc:
        senders.sender_create(actor=actor, **sender_values(
            index="10100", phone="12", email="sklad@", drop_off_point="1010"))
    found = messages(exc)
    assert found["index"] == "Индекс «10100»: нужно ровно 6 цифр"
    assert found["phone"] == "Номер телефона «12» не существует"
    assert found["email"] == "«sklad@» — не адрес e-mail"
    assert found["drop_off_point"] == "Индекс отделения сдачи «1010»: нужно ровно 6 цифр"
    assert not SenderProfile.objects.exists()


def test_index_of_no_region_and_index_against_given_region(actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as exc:
        senders.sender_create(actor=actor, **sender_values(index="000001"))
    assert "нет региона" in messages(exc)["index"]
    with pytest.raises(ValidationFailed) as exc:
        senders.sender_create(actor=actor, **sender_values(region="Омская обл"))
    assert messages(exc)["index"] == "Индекс 101000 относится к региону «Москва», а указан «Омская обл»"


def test_drop_off_point_office_index_or_courier_point_code(actor: Actor) -> None:
    office = senders.sender_create(actor=actor, **sender_values(drop_off_point="101 700"))
    courier = senders.sender_create(actor=actor, **sender_values(name="Б", drop_off_point="MSK123"))
    assert (office.drop_off_point, courier.drop_off_point) == ("101700", "MSK123")


def test_first_sender_is_default_and_exactly_one_default_stays(actor: Actor) -> None:
    first = senders.sender_create(actor=actor, **sender_values(name="Первый"))
    second = senders.sender_create(actor=actor, **sender_values(name="Второй"))
    assert first.is_default and not second.is_default
    assert defaults(actor) == ["Первый"]
    senders.sender_set_default(actor=actor, sender_id=second.pk)
    assert defaults(actor) == ["Второй"]
    third = senders.sender_create(actor=actor, is_default=True, **sender_values(name="Третий"))
    assert third.is_default and defaults(actor) == ["Третий"]
    assert [s.name for s in senders.sender_list(actor=actor)] == ["Третий", "Второй", "Первый"]


def test_default_is_per_organization(actor: Actor, other_org: Any) -> None:
    other = system_actor(other_org)
    senders.sender_create(actor=other, **sender_values(name="Чужой"))
    mine = senders.sender_create(actor=actor, **sender_values(name="Мой"))
    assert mine.is_default  # the other organization's default does not count
    assert defaults(other) == ["Чужой"]


def test_update_changes_only_given_fields_and_checks_the_whole(actor: Actor) -> None:
    sender = senders.sender_create(actor=actor, **sender_values())
    updated = senders.sender_update(actor=actor, sender_id=sender.pk, phone="+7 903 111-22-33")
    assert updated.phone == "+79031112233" and updated.city == "Москва"
    with pytest.raises(ValidationFailed) as exc:
        senders.sender_update(actor=actor, sender_id=sender.pk, city="")
    assert messages(exc) == {"city": "Обязательное поле"}
    assert AuditEntry.objects.filter(action="sender.update").count() == 1


def test_delete_refused_while_shipments_name_it(actor: Actor) -> None:
    sender = senders.sender_create(actor=actor, **sender_values())
    services.shipment_create(actor=actor, data=shipment_data(sender_id=sender.pk), draft=True)
    with pytest.raises(Conflict) as exc:
        senders.sender_delete(actor=actor, sender_id=sender.pk)
    assert "указан в отправлениях (1)" in str(exc.value.detail)
    assert "Оставьте его" in str(exc.value.detail)
    assert SenderProfile.objects.filter(pk=sender.pk).exists()


def test_deleting_the_default_makes_the_oldest_other_the_default(actor: Actor) -> None:
    first = senders.sender_create(actor=actor, **sender_values(name="Первый"))
    senders.sender_create(actor=actor, **sender_values(name="Второй"))
    senders.sender_create(actor=actor, **sender_values(name="Третий"))
    senders.sender_delete(actor=actor, sender_id=first.pk)
    assert defaults(actor) == ["Второй"]
    assert AuditEntry.objects.filter(action="sender.delete", object_id=str(first.pk)).exists()


def test_another_organizations_sender_is_not_found(actor: Actor, other_org: Any) -> None:
    alien = senders.sender_create(actor=system_actor(other_org), **sender_values(name="Чужой"))
    for call in (lambda: senders.sender_get(actor=actor, sender_id=alien.pk),
                 lambda: senders.sender_update(actor=actor, sender_id=alien.pk, name="Мой"),
                 lambda: senders.sender_set_default(actor=actor, sender_id=alien.pk),
                 lambda: senders.sender_delete(actor=actor, sender_id=alien.pk)):
        with pytest.raises(NotFound):
            call()
    alien.refresh_from_db()
    assert alien.name == "Чужой" and alien.is_default


def test_an_operator_may_not_change_senders(actor: Actor, org: Any, make_user: Any) -> None:
    sender = senders.sender_create(actor=actor, **sender_values())
    operator = actor_with_role(org, Role.OPERATOR, make_user)
    assert [s.pk for s in senders.sender_list(actor=operator)] == [sender.pk]
    with pytest.raises(Forbidden):
        senders.sender_create(actor=operator, **sender_values(name="Ещё"))
    with pytest.raises(Forbidden):
        senders.sender_update(actor=operator, sender_id=sender.pk, name="Другое")
    with pytest.raises(Forbidden):
        senders.sender_delete(actor=operator, sender_id=sender.pk)
