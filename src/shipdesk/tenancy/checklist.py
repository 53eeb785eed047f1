"""The first-run checklist on a new organization's dashboard: what it needs before its
first parcel, each step done or not, with a link to where it is done. Reads only, through
each domain's selectors."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.translation import gettext as _

from shipdesk.tenancy.services import Actor


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    hint: str
    done: bool
    url: str


def _needs_pool(carrier_code: str) -> bool:
    from shipdesk.carriers.base import Capability
    from shipdesk.carriers.registry import UnknownCarrier, adapter_class

    try:
        return Capability.NUMBER_POOL in adapter_class(carrier_code).capabilities
    except UnknownCarrier:
        return False


def setup_checklist(*, actor: Actor) -> list[Step]:
    from shipdesk.carriers.selectors import carrier_account_list
    from shipdesk.notifications.selectors import channels_list
    from shipdesk.numbering.selectors import pool_list
    from shipdesk.shipments.selectors import sender_profiles

    org = actor.organization
    accounts = [a for a in carrier_account_list(actor=actor) if a.is_active]
    pools = pool_list(actor=actor).exists()
    # a pool is needed only for carriers that number from pools (Russian Post); those
    # that give their own numbers at registration (CDEK, PickPoint) need none
    numbered = pools or (bool(accounts)
                         and not any(_needs_pool(a.carrier_code) for a in accounts))
    return [
        Step("requisites", _("Реквизиты организации"),
             _("Полное наименование и ИНН — для бланков и списков ф.103"),
             bool(org.legal_name and org.inn), reverse("tenancy:settings")),
        Step("sender", _("Адрес отправителя"),
             _("Откуда уходят посылки и куда они возвращаются"),
             bool(sender_profiles(actor=actor)), reverse("shipments:senders")),
        Step("carrier", _("Договор с перевозчиком"),
             _("Подключите Почту России, СДЭК, PickPoint или песочницу"),
             bool(accounts), reverse("carriers:accounts")),
        Step("numbers", _("Трек-номера"),
             _("Диапазон номеров перевозчика, который нумерует из пула"),
             numbered, reverse("numbering:pools")),
        Step("notifications", _("Уведомления получателям"),
             _("Канал e-mail или SMS для писем покупателям"),
             any(c.enabled for c in channels_list(actor=actor)),
             reverse("notifications:settings")),
    ]
