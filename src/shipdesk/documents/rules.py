"""Document rules as data: names of mail types and categories, marks, the customs form rule.
Pure (no database)."""

from __future__ import annotations

from decimal import Decimal

MAIL_TYPES: dict[str, str] = {
    "POSTAL_PARCEL": "Посылка нестандартная", "ONLINE_PARCEL": "Посылка онлайн",
    "ONLINE_COURIER": "Курьер онлайн", "EMS": "Отправление EMS", "EMS_OPTIMAL": "EMS оптимальное",
    "EMS_RT": "EMS РТ", "EMS_TENDER": "EMS тендер", "LETTER": "Письмо",
    "LETTER_CLASS_1": "Письмо 1-го класса", "BANDEROL": "Бандероль",
    "BANDEROL_CLASS_1": "Бандероль 1-го класса", "PARCEL_CLASS_1": "Посылка 1-го класса",
    "BUSINESS_COURIER": "Бизнес курьер", "BUSINESS_COURIER_ES": "Бизнес курьер экспресс",
    "SMALL_PACKET": "Мелкий пакет", "VGPO_CLASS_1": "ВГПО 1-го класса", "ECOM": "ЕКОМ",
    "ECOM_MARKETPLACE": "ЕКОМ Маркетплейс", "EASY_RETURN": "Лёгкий возврат",
}
MAIL_CATEGORIES: dict[str, str] = {
    "SIMPLE": "Простое", "ORDERED": "Заказное", "ORDINARY": "Обыкновенное",
    "WITH_DECLARED_VALUE": "С объявленной ценностью",
    "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY": "С объявленной ценностью и наложенным платежом",
    "WITH_DECLARED_VALUE_AND_COMPULSORY_PAYMENT": "С объявленной ценностью и обязательным платежом",
    "WITH_COMPULSORY_PAYMENT": "С обязательным платежом",
}
# UPU letter post (CN22 possible); everything else is a parcel (always CN23).
LETTER_POST_TYPES = frozenset({"LETTER", "LETTER_CLASS_1", "BANDEROL", "BANDEROL_CLASS_1",
                               "SMALL_PACKET"})
MARKS: dict[str, str] = {
    "fragile": "Осторожно", "inventory": "С описью", "completeness_checking": "Проверка комплектности",
    "sms_notice": "SMS-уведомление", "simple_notice": "С уведомлением",
    "order_of_notice": "С заказным уведомлением", "courier": "Курьер",
}
CN22_LIMIT_SDR = Decimal("300")


def mail_type_name(code: str) -> str:
    return MAIL_TYPES.get(code, code)


def mail_category_name(code: str) -> str:
    return MAIL_CATEGORIES.get(code, code)


def marks_for(options: dict[str, object]) -> tuple[str, ...]:
    return tuple(label for key, label in MARKS.items() if options.get(key))


def customs_form(*, mail_type: str, contents_value_rub: Decimal, sdr_rate_rub: Decimal) -> str:
    """UPU rule: CN22 for letter-post items worth up to 300 SDR, CN23 above that and for
    parcels."""
    if mail_type not in LETTER_POST_TYPES:
        return "CN23"
    return "CN22" if contents_value_rub <= CN22_LIMIT_SDR * sdr_rate_rub else "CN23"
