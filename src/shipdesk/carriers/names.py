"""What people read instead of the carriers' codes: carrier names, mail types / tariffs and
mail categories, translatable (Russian first, English through the catalogues).

Pure: no models. Pages, documents, e-mails and exports name a code through these functions
(or the ``label`` template filters of ``core.templatetags.words``), never print the code
itself. An unknown code still reads as words («Тариф 136», «Small packet»), not as
``SMALL_PACKET``."""

from __future__ import annotations

import re

from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

CARRIERS: dict[str, str | Promise] = {
    "russian_post": _("Почта России"),
    "cdek": _("СДЭК"),
    "pickpoint": "PickPoint",
    "sandbox": _("Песочница Shipdesk"),
    "boxberry": "Boxberry",
    "iml": "IML",
}

# Russian Post's mail types (Otpravka ``mail-type``).
MAIL_TYPES: dict[str, str | Promise] = {
    "POSTAL_PARCEL": _("Посылка нестандартная"),
    "ONLINE_PARCEL": _("Посылка онлайн"),
    "ONLINE_COURIER": _("Курьер онлайн"),
    "EMS": _("Отправление EMS"),
    "EMS_OPTIMAL": _("EMS оптимальное"),
    "EMS_RT": _("EMS РТ"),
    "EMS_TENDER": _("EMS тендер"),
    "LETTER": _("Письмо"),
    "LETTER_CLASS_1": _("Письмо 1-го класса"),
    "BANDEROL": _("Бандероль"),
    "BANDEROL_CLASS_1": _("Бандероль 1-го класса"),
    "PARCEL_CLASS_1": _("Посылка 1-го класса"),
    "BUSINESS_COURIER": _("Бизнес курьер"),
    "BUSINESS_COURIER_ES": _("Бизнес курьер экспресс"),
    "SMALL_PACKET": _("Мелкий пакет"),
    "VGPO_CLASS_1": _("ВГПО 1-го класса"),
    "ECOM": _("ЕКОМ"),
    "ECOM_MARKETPLACE": _("ЕКОМ Маркетплейс"),
    "EASY_RETURN": _("Лёгкий возврат"),
    "PARCEL_INTERNATIONAL": _("Посылка международная"),
    "EMS_INTERNATIONAL": _("EMS международное"),
}

# Courier services' tariffs, by carrier (their codes are numbers or short words).
SERVICES: dict[str, dict[str, str | Promise]] = {
    "cdek": {"136": _("Посылка склад-склад"), "137": _("Посылка склад-дверь"),
             "138": _("Посылка дверь-склад"), "139": _("Посылка дверь-дверь"),
             "62": _("Магистральный экспресс склад-склад")},
    "pickpoint": {"STD": _("Стандарт"), "PRIO": _("Приоритет")},
    "sandbox": {"standard": _("Стандарт"), "express": _("Экспресс"),
                "pickup_point": _("До пункта выдачи")},
}

# Russian Post's mail categories (Otpravka ``mail-category``).
MAIL_CATEGORIES: dict[str, str | Promise] = {
    "SIMPLE": _("Простое"),
    "ORDERED": _("Заказное"),
    "ORDINARY": _("Обыкновенное"),
    "WITH_DECLARED_VALUE": _("С объявленной ценностью"),
    "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY": _("С объявленной ценностью и наложенным платежом"),
    "WITH_DECLARED_VALUE_AND_COMPULSORY_PAYMENT": _(
        "С объявленной ценностью и обязательным платежом"),
    "WITH_COMPULSORY_PAYMENT": _("С обязательным платежом"),
    "COMBINED_ORDINARY": _("Комбинированное обыкновенное"),
    "COMBINED_WITH_DECLARED_VALUE": _("Комбинированное с объявленной ценностью"),
}

# Extra services of a parcel (``options`` keys).
OPTIONS: dict[str, str | Promise] = {
    "fragile": _("Хрупкое"), "careful": _("Бережная обработка"),
    "sms_notice": _("SMS-уведомление"), "inventory": _("Опись вложения"),
    "completeness_checking": _("Проверка комплектности"),
    "simple_notice": _("Простое уведомление"), "order_of_notice": _("Заказное уведомление"),
    "courier": _("Курьер"),
}

_CODE_LIKE = re.compile(r"^[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+$|^[A-Z]{3,}$")


def words_of(code: str) -> str:
    """A code nobody named yet, as words: ``SMALL_PACKET`` → «Small packet»."""
    if _CODE_LIKE.match(code):
        return code.replace("_", " ").capitalize()
    return code


def carrier_name(code: str) -> str:
    """The carrier's name for its code («Почта России» for ``russian_post``)."""
    if not code:
        return ""
    name = CARRIERS.get(code)
    if name is not None:
        return str(name)
    from shipdesk.carriers.registry import UnknownCarrier, adapter_class

    try:
        return str(adapter_class(code).name)
    except UnknownCarrier:
        return words_of(code)


def service_name(code: str, *, carrier_code: str = "", fallback: str = "") -> str:
    """A mail type's or tariff's name: «Посылка онлайн», «Посылка склад-склад»; else the
    ``fallback`` (the name the carrier's answer gave), else an unknown numeric tariff as
    «Тариф 136»."""
    if not code:
        return fallback
    name = SERVICES.get(carrier_code, {}).get(code) or MAIL_TYPES.get(code)
    if name is None and not code.isdigit():  # another carrier's service (a word, not a number)
        name = next((names[code] for names in SERVICES.values() if code in names), None)
    if name is not None:
        return str(name)
    if fallback and fallback != code:
        return fallback
    if code.isdigit():
        return gettext("Тариф %(code)s") % {"code": code}
    return words_of(code)


def option_name(key: str) -> str:
    name = OPTIONS.get(key)
    return str(name) if name is not None else words_of(key)


def mail_category_name(code: str) -> str:
    if not code:
        return ""
    name = MAIL_CATEGORIES.get(code)
    return str(name) if name is not None else words_of(code)


# The adapters' credential field labels (``credential_fields``), here so that the
# catalogues hold them: the account form shows ``credential_label(label)``.
CREDENTIAL_LABELS: tuple[str | Promise, ...] = (
    _("Идентификатор клиента (Account)"), _("Секретный ключ (Secure password)"),
    _("Логин"), _("Пароль"), _("ИКН (номер договора)"),
    _("Токен приложения (AccessToken) из настроек Отправки"), _("Логин pochta.ru"),
    _("Пароль pochta.ru"), _("Логин API отслеживания (если отличается)"),
    _("Пароль API отслеживания (если отличается)"), _("Ключ API"),
)


def credential_label(label: str) -> str:
    """A credential field's label in the reader's language."""
    return gettext(label) if label else ""


def service_choices(codes_by_carrier: dict[str, list[str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    """The services to choose from on a form, grouped by carrier and named:
    ``[(carrier name, [(code, name), ...]), ...]``; a carrier's known tariffs are added to
    the codes given."""
    groups = []
    for carrier, codes in codes_by_carrier.items():
        known = list(SERVICES.get(carrier, {}))
        every = list(dict.fromkeys([*codes, *known]))
        options = sorted(((code, service_name(code, carrier_code=carrier)) for code in every),
                         key=lambda option: option[1])
        if options:
            groups.append((carrier_name(carrier), options))
    return groups
