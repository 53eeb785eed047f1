"""One place that turns a stored code into the words a person reads, in the current
language: ``label("shipment_state", "numbered")`` → «Номер присвоен».

A kind is either a model's ``TextChoices`` (named by its dotted path, imported on first use
so that this module imports no domain) or a function of the code. Templates use it through
``{% load words %}`` ``{{ value|label:"shipment_state" }}``; the page-walk test
(``core/tests/test_page_walk.py``) fails on any code that still reaches a page."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from django.apps import apps
from django.core.exceptions import FieldDoesNotExist
from django.utils.module_loading import import_string
from django.utils.text import camel_case_to_spaces
from django.utils.translation import gettext_lazy as _

CHOICES: dict[str, str] = {
    "shipment_state": "shipdesk.shipments.models.State",
    "registration": "shipdesk.shipments.models.Registration",
    "import_status": "shipdesk.shipments.models.ImportJob.Status",
    "import_mode": "shipdesk.shipments.models.ImportJob.Mode",
    "batch_state": "shipdesk.documents.models.BatchState",
    "document_kind": "shipdesk.documents.models.DocumentKind",
    "document_status": "shipdesk.documents.models.DocumentStatus",
    "role": "shipdesk.tenancy.models.Role",
    "rule_kind": "shipdesk.notifications.models.RuleKind",
    "channel": "shipdesk.notifications.models.Channel",
    "gateway": "shipdesk.notifications.models.Gateway",
    "message_status": "shipdesk.notifications.models.MessageStatus",
    "number_kind": "shipdesk.numbering.models.NumberKind",
    "pool_source": "shipdesk.numbering.models.PoolSource",
    "rating_preference": "shipdesk.tariffs.models.RatingPreference",
}

# Audit log actions («demo.load» → «Загружены демо-данные»). An action not listed reads
# as its object and verb («Договор с перевозчиком: изменение»).
AUDIT_ACTIONS: dict[str, Any] = {
    "demo.load": _("Загружены демо-данные"),
    "organization.create": _("Создана организация"),
    "organization.update": _("Изменены реквизиты организации"),
    "api_key.create": _("Создан ключ API"),
    "api_key.revoke": _("Отозван ключ API"),
    "invitation.create": _("Отправлено приглашение"),
    "invitation.revoke": _("Отозвано приглашение"),
    "membership.remove": _("Участник удалён из организации"),
    "membership.set_role": _("Изменена роль участника"),
    "batch.create": _("Создана партия"),
    "batch.close": _("Партия передана перевозчику"),
    "batch.carrier_numbers_differ": _("Номера перевозчика отличаются от наших"),
    "carrier_account.create": _("Подключён перевозчик"),
    "carrier_account.update": _("Изменены настройки перевозчика"),
    "carrier_account.delete": _("Перевозчик отключён"),
    "carrier_account.test": _("Проверено подключение к перевозчику"),
    "carrier_account.webhooks_subscribe": _("Подписка на события перевозчика"),
    "certificate.store": _("Загружен сертификат подписи"),
    "delivery_rule.create": _("Создано правило выбора перевозчика"),
    "delivery_rule.update": _("Изменено правило выбора перевозчика"),
    "delivery_rule.delete": _("Удалено правило выбора перевозчика"),
    "delivery_rule.move": _("Изменён порядок правил выбора перевозчика"),
    "notifications.channel_save": _("Изменены настройки канала уведомлений"),
    "notifications.requeue": _("Уведомление поставлено в очередь снова"),
    "notifications.resubscribe": _("Получатель снова подписан на уведомления"),
    "notifications.rule_update": _("Изменено правило уведомлений"),
    "notifications.settings_update": _("Изменены настройки уведомлений"),
    "notifications.template_save": _("Изменён шаблон уведомления"),
    "notifications.test_send": _("Отправлено пробное уведомление"),
    "notifications.unsubscribe": _("Получатель отписан от уведомлений"),
    "numbering.issued": _("Выданы трек-номера"),
    "numbering.pool_created": _("Добавлен диапазон трек-номеров"),
    "numbering.pool_deleted": _("Удалён диапазон трек-номеров"),
    "numbering.pool_updated": _("Изменён диапазон трек-номеров"),
    "numbering.pool_low": _("Заканчиваются трек-номера"),
    "sender.create": _("Добавлен отправитель"),
    "sender.update": _("Изменён отправитель"),
    "sender.delete": _("Удалён отправитель"),
    "sender.set_default": _("Выбран отправитель по умолчанию"),
    "shipments.import": _("Загружен файл отправлений"),
    "shipments.export": _("Выгружен список отправлений"),
    "tariffs.rule_set": _("Изменено правило выбора тарифа"),
    "tariffs.upload": _("Загружена тарифная таблица"),
    "tracking.settings_update": _("Изменены настройки отслеживания"),
    "tracking.webhook_endpoint_create": _("Добавлен адрес вебхуков"),
    "tracking.webhook_endpoint_update": _("Изменён адрес вебхуков"),
    "tracking.webhook_endpoint_delete": _("Удалён адрес вебхуков"),
    "tracking.webhook_replay": _("Вебхук отправлен повторно"),
}
_VERBS: dict[str, Any] = {
    "create": _("создание"), "update": _("изменение"), "delete": _("удаление"),
    "remove": _("удаление"), "revoke": _("отзыв"), "close": _("закрытие"),
    "cancel": _("отмена"), "upload": _("загрузка"), "export": _("выгрузка"),
    "import": _("загрузка"), "set_default": _("выбор по умолчанию"),
}
_AUDIT_OBJECTS: dict[str, Any] = {
    "organization": _("Организация"), "api_key": _("Ключ API"), "invitation": _("Приглашение"),
    "membership": _("Участник"), "batch": _("Партия"),
    "carrier_account": _("Договор с перевозчиком"), "certificate": _("Сертификат"),
    "delivery_rule": _("Правило выбора перевозчика"), "notifications": _("Уведомления"),
    "numbering": _("Трек-номера"), "sender": _("Отправитель"), "shipments": _("Отправления"),
    "shipment": _("Отправление"), "tariffs": _("Тарифы"), "tracking": _("Отслеживание"),
    "demo": _("Демо-данные"),
}


@cache
def _choices(kind: str) -> dict[str, Any]:
    return {str(value): label for value, label in import_string(CHOICES[kind]).choices}


def choice_label(kind: str, value: Any) -> str:
    """The label of ``value`` among the choices of ``kind``; the value itself when it is
    not one of them (a stored value the code no longer knows shows, rather than vanishes)."""
    if value is None:
        return ""
    return str(_choices(kind).get(str(value), value))


def audit_action(action: str) -> str:
    known = AUDIT_ACTIONS.get(action)
    if known is not None:
        return str(known)
    subject, _dot, verb = action.partition(".")
    if subject in _AUDIT_OBJECTS:
        return f"{_AUDIT_OBJECTS[subject]}: {_VERBS.get(verb, verb.replace('_', ' '))}"
    return action


def model_name(label_lower: str) -> str:
    """A model's name for its ``app_label.model`` («отправление» for ``shipments.shipment``)."""
    if not label_lower:
        return ""
    try:
        model = apps.get_model(label_lower)
    except (LookupError, ValueError):
        return label_lower
    name = str(model._meta.verbose_name)
    if name == camel_case_to_spaces(model.__name__):  # no name given: its app's
        return str(model._meta.app_config.verbose_name)
    return name


def app_name(app_label: str) -> str:
    """An app's name for its label («Отправления» for ``shipments``)."""
    try:
        return str(apps.get_app_config(app_label).verbose_name)
    except LookupError:
        return app_label


def _carriers(code: str) -> str:
    from shipdesk.carriers.names import carrier_name

    return carrier_name(code)


def _category(code: str) -> str:
    from shipdesk.carriers.names import mail_category_name

    return mail_category_name(code)


def _tracking_status(code: str) -> str:
    from shipdesk.tracking.statuses import status_label

    return str(status_label(code))


FUNCTIONS: dict[str, Callable[[str], str]] = {
    "audit_action": audit_action,
    "model": model_name,
    "app": app_name,
    "carrier": _carriers,
    "mail_category": _category,
    "tracking_status": _tracking_status,
}


def label(kind: str, value: Any) -> str:
    """The words for ``value`` of ``kind`` (a key of ``CHOICES`` or ``FUNCTIONS``)."""
    if value in (None, ""):
        return ""
    if kind in FUNCTIONS:
        return FUNCTIONS[kind](str(value))
    if kind in CHOICES:
        return choice_label(kind, value)
    raise KeyError(kind)


# The details of an audit entry: each key in words, each value through the label of its kind.
AUDIT_KEYS: dict[str, Any] = {
    "address": _("адрес"), "app": _("раздел"), "carrier_batch_id": _("партия перевозчика"),
    "carrier_code": _("перевозчик"), "channel": _("канал"), "code": _("код"),
    "count": _("количество"), "demo": _("демо"), "email": _("e-mail"), "fields": _("поля"),
    "filename": _("файл"), "first": _("первый"), "gateway": _("шлюз"),
    "is_default": _("по умолчанию"), "kind": _("вид"), "last": _("последний"),
    "mode": _("режим"), "name": _("название"), "number": _("номер"), "numbers": _("номера"),
    "ok": _("успешно"), "organization": _("организация"), "position": _("позиция"),
    "position_from": _("с позиции"), "position_to": _("на позицию"), "prefer": _("выбирать"),
    "remaining": _("осталось"), "role": _("роль"), "rows": _("строк"), "rule": _("событие"),
    "source": _("источник"), "subject": _("тема"), "threshold": _("порог"), "url": _("адрес"),
    "user": _("пользователь"), "user_id": _("пользователь"),
}
_AUDIT_VALUE_KINDS = {"app": "app", "carrier_code": "carrier", "channel": "channel",
                      "gateway": "gateway", "role": "role", "rule": "rule_kind",
                      "prefer": "rating_preference", "mode": "import_mode"}


def _field_name(model_label: str, field: str) -> str:
    try:
        return str(apps.get_model(model_label)._meta.get_field(field).verbose_name)
    except (LookupError, ValueError, FieldDoesNotExist):
        return field


def audit_details(*, object_type: str, data: dict[str, Any]) -> str:
    """«раздел: Отправления; поля: телефон, e-mail» for ``{"app": "shipments", ...}``."""
    from django.utils.translation import gettext

    parts = []
    for key, value in (data or {}).items():
        if value in ("", None, [], {}):
            continue
        if isinstance(value, bool):
            shown = gettext("да") if value else gettext("нет")
        elif key == "fields" and isinstance(value, list | tuple):
            shown = ", ".join(_field_name(object_type, str(f)) for f in value)
        elif key in _AUDIT_VALUE_KINDS and isinstance(value, str):
            shown = label(_AUDIT_VALUE_KINDS[key], value)
        elif key == "kind" and isinstance(value, str):
            shown = _kind_value(value)
        else:
            shown = str(value)
        parts.append(f"{AUDIT_KEYS.get(key, key)}: {shown}")
    return "; ".join(parts)


def _kind_value(value: str) -> str:
    for kind in ("number_kind", "rule_kind", "document_kind"):
        found = _choices(kind).get(value)
        if found is not None:
            return str(found)
    return value
