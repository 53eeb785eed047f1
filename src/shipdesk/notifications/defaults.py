"""What a new shop gets: rules and Russian templates that work out of the box."""

from __future__ import annotations

from shipdesk.notifications.models import Channel, RuleKind

DEFAULT_RULES: dict[str, dict[str, object]] = {
    RuleKind.ACCEPTED: {"channels": [Channel.EMAIL, Channel.SMS], "fallback": True},
    RuleKind.ARRIVED: {"channels": [Channel.SMS, Channel.EMAIL], "fallback": True},
    RuleKind.REMINDER: {"channels": [Channel.SMS, Channel.EMAIL], "fallback": True,
                        "interval_days": 5, "max_reminders": 3},
    RuleKind.DELIVERED: {"channels": [Channel.EMAIL], "fallback": True},
    RuleKind.RETURNING: {"channels": [Channel.EMAIL], "fallback": True},
}

_SIGN = "{{ shop_name }}"
DEFAULT_TEMPLATES: dict[tuple[str, str], tuple[str, str]] = {
    (RuleKind.ACCEPTED, Channel.EMAIL): (
        "Заказ {{ order_number }} отправлен",
        "Здравствуйте, {{ buyer_name }}!\n\n"
        "Ваш заказ {{ order_number }} передан в службу доставки. Трек-номер: "
        "{{ tracking_number }}.\n"
        "{% if tracking_link %}Следить за посылкой: {{ tracking_link }}\n{% endif %}"
        "{% if expected_delivery %}Ожидаемая дата доставки: {{ expected_delivery }}.\n{% endif %}"
        "\nС уважением, " + _SIGN + "{% if shop_phone %}, тел. {{ shop_phone }}{% endif %}\n\n"
        "Отписаться от уведомлений: {{ unsubscribe_link }}"),
    # SMS texts: one part (70 Cyrillic characters) where it can be, two (134) at most with
    # long real values — a shop's name, an order number, an office's full address (see
    # tests/test_defaults.py). The first message carries the short unsubscribe link; the
    # office's hours and the tracking link are in the e-mails and on the recipient's page.
    (RuleKind.ACCEPTED, Channel.SMS): (
        "", _SIGN + ": заказ {{ order_number }} отправлен, трек {{ tracking_number }}. "
            "Отписка: {{ unsubscribe_link }}"),
    (RuleKind.ARRIVED, Channel.SMS): (
        "", _SIGN + ": заказ {{ order_number }} ждёт"
            "{% if storage_deadline %} до {{ storage_deadline }}{% endif %}: {{ pickup_address }}."
            "{% if amount_to_pay %} К оплате {{ amount_to_pay }} ₽.{% endif %}"),
    (RuleKind.ARRIVED, Channel.EMAIL): (
        "Заказ {{ order_number }} ждёт вас в пункте выдачи",
        "Здравствуйте, {{ buyer_name }}!\n\n"
        "Ваш заказ {{ order_number }} прибыл в пункт выдачи.\n"
        "Адрес: {{ pickup_address }}\n"
        "{% if pickup_hours %}Часы работы: {{ pickup_hours }}\n{% endif %}"
        "{% if storage_deadline %}Срок хранения: до {{ storage_deadline }}"
        "{% if days_left %} ({{ days_left }}){% endif %}\n{% endif %}"
        "{% if amount_to_pay %}К оплате при получении: {{ amount_to_pay }} ₽\n{% endif %}"
        "Трек-номер: {{ tracking_number }}{% if tracking_link %}, {{ tracking_link }}{% endif %}"
        "\n\n"
        "С уважением, " + _SIGN + "\n\nОтписаться от уведомлений: {{ unsubscribe_link }}"),
    (RuleKind.REMINDER, Channel.SMS): (
        "", _SIGN + ": заказ {{ order_number }} ждёт"
            "{% if storage_deadline %} до {{ storage_deadline }}"
            "{% if days_left %}, {{ days_left }}{% endif %}{% endif %}: {{ pickup_address }}"),
    (RuleKind.REMINDER, Channel.EMAIL): (
        "Напоминание: заказ {{ order_number }} ждёт вас",
        "Здравствуйте, {{ buyer_name }}!\n\n"
        "Напоминаем, что заказ {{ order_number }} ждёт вас в пункте выдачи: "
        "{{ pickup_address }}.\n"
        "{% if pickup_hours %}Часы работы: {{ pickup_hours }}\n{% endif %}"
        "{% if storage_deadline %}Заберите его до {{ storage_deadline }}"
        "{% if days_left %} ({{ days_left }}){% endif %}, иначе он вернётся "
        "отправителю.\n{% endif %}"
        "{% if amount_to_pay %}К оплате: {{ amount_to_pay }} ₽\n{% endif %}"
        "\nС уважением, " + _SIGN + "\n\nОтписаться от уведомлений: {{ unsubscribe_link }}"),
    (RuleKind.DELIVERED, Channel.EMAIL): (
        "Спасибо за покупку!",
        "Здравствуйте, {{ buyer_name }}!\n\nЗаказ {{ order_number }} получен. Спасибо, что "
        "выбрали " + _SIGN + "!\n"
        "{% if review_link %}Оставьте, пожалуйста, отзыв: {{ review_link }}\n{% endif %}"
        "\nОтписаться от уведомлений: {{ unsubscribe_link }}"),
    (RuleKind.DELIVERED, Channel.SMS): (
        "", _SIGN + ": заказ {{ order_number }} получен, спасибо!"
            "{% if review_link %} Отзыв: {{ review_link }}{% endif %}"),
    (RuleKind.RETURNING, Channel.EMAIL): (
        "Возврат: заказ {{ order_number }}",
        "Заказ {{ order_number }} (трек {{ tracking_number }}, покупатель {{ buyer_name }}) "
        "не получен и возвращается: {{ status }}.\n"
        "{% if tracking_link %}{{ tracking_link }}\n{% endif %}\n"
        "Отписаться: {{ unsubscribe_link }}"),
    (RuleKind.RETURNING, Channel.SMS): (
        "", "Возврат {{ order_number }} ({{ tracking_number }}): {{ status }}"),
}
for _rule in RuleKind:
    for _ch in (Channel.EMAIL, Channel.SMS):
        DEFAULT_TEMPLATES.setdefault((_rule, _ch), ("", ""))
    DEFAULT_TEMPLATES[(_rule, Channel.WEBHOOK)] = (
        DEFAULT_TEMPLATES[(_rule, Channel.EMAIL)][0] or "{{ order_number }}",
        DEFAULT_TEMPLATES[(_rule, Channel.SMS)][1])
