"""Recorded shapes of the platforms' webhook bodies and API answers (see shops/doc.md for
where each shape comes from), one order each, to Omsk 644010."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

INSALES_ORDER: dict[str, Any] = {
    "id": 41234567, "number": 1051, "key": "7b4a7f0e2d", "fulfillment_status": "accepted",
    "financial_status": "pending", "total_price": "2490.0", "items_price": "2190.0",
    "delivery_price": "300.0", "delivery_title": "Почта России", "comment": "",
    "payment_gateway_title": "Наложенный платёж",
    "client": {"id": 5512, "name": "Анна", "surname": "Петрова", "middlename": "Сергеевна",
               "phone": "+79123456789", "email": "anna@example.test"},
    "shipping_address": {"full_name": "Петрова Анна Сергеевна", "phone": "+79123456789",
                         "country": "RU", "zip": "644010", "state": "Омская обл",
                         "city": "Омск", "full_locality_name": "г. Омск",
                         "address": "ул. Ленина, д. 5, кв. 12"},
    "order_lines": [{"id": 1, "title": "Чайник", "sku": "KT-1", "quantity": 1,
                     "sale_price": "1790.0", "weight": None},
                    {"id": 2, "title": "Кружка", "sku": "MG-2", "quantity": 2,
                     "sale_price": "200.0", "weight": None}],
}

AMO_WEBHOOK = urlencode({
    "leads[status][0][id]": "2740213", "leads[status][0][status_id]": "142",
    "leads[status][0][pipeline_id]": "3301", "leads[status][0][old_status_id]": "141",
    "account[id]": "29085912", "account[subdomain]": "romashka"})
AMO_LEAD: dict[str, Any] = {
    "id": 2740213, "name": "Заказ с сайта", "price": 3200, "status_id": 142,
    "pipeline_id": 3301,
    "custom_fields_values": [
        {"field_id": 501, "field_name": "Индекс", "field_code": None,
         "values": [{"value": "644010"}]},
        {"field_id": 502, "field_name": "Город", "field_code": None,
         "values": [{"value": "Омск"}]},
        {"field_id": 503, "field_name": "Адрес", "field_code": None,
         "values": [{"value": "ул. Ленина, д. 5, кв. 12"}]}],
    "_embedded": {"contacts": [{"id": 901, "is_main": True}]},
}
AMO_CONTACT: dict[str, Any] = {
    "id": 901, "name": "Сидоров Пётр",
    "custom_fields_values": [
        {"field_id": 11, "field_name": "Телефон", "field_code": "PHONE",
         "values": [{"value": "+79120000002", "enum_code": "WORK"}]},
        {"field_id": 12, "field_name": "Email", "field_code": "EMAIL",
         "values": [{"value": "petr@example.test", "enum_code": "WORK"}]}],
}

BITRIX_TOKEN = "51856fefc120afa4b628cc82d3935cce"
BITRIX_WEBHOOK = urlencode({
    "event": "ONSALEORDERSAVED", "event_handler_id": "17", "data[FIELDS][ID]": "388",
    "ts": "1736405807", "auth[domain]": "shop.example.test", "auth[member_id]": "a223c6b3",
    "auth[application_token]": BITRIX_TOKEN})
BITRIX_ORDER: dict[str, Any] = {"result": {"order": {
    "id": 388, "accountNumber": "388", "statusId": "P", "price": "1500.00", "payed": "N",
    "propertyValues": [
        {"code": "FIO", "value": "Кузнецова Мария"}, {"code": "PHONE", "value": "89120000003"},
        {"code": "EMAIL", "value": "maria@example.test"}, {"code": "ZIP", "value": "644010"},
        {"code": "CITY", "value": "Омск"}, {"code": "ADDRESS", "value": "ул. Ленина, д. 5"}],
    "basketItems": [{"name": "Плед", "quantity": "1", "price": "1500.00", "weight": "0"}],
}}}

SHOPSCRIPT_WEBHOOK: dict[str, Any] = {"event": "order.pay", "order": {
    "id": "123", "id_str": "#100123", "state_id": "paid", "total": "990.00",
    "paid_date": "2026-12-01",
    "contact": {"name": "Орлов Илья", "phone": "+79120000004", "email": "ilya@example.test"},
    "params": {"shipping_address.zip": "644010", "shipping_address.country": "rus",
               "shipping_address.region": "55", "shipping_address.city": "Омск",
               "shipping_address.street": "ул. Ленина, д. 5", "shipping_name": "Почта"},
    "items": [{"name": "Книга", "quantity": "1", "price": "990.00", "sku_code": "BK-1"}],
}}

GENERIC_WEBHOOK: dict[str, Any] = {"order_id": "WEB-77", "order": {
    "recipient_name": "Лебедева Ольга", "recipient_phone": "+79120000005",
    "index": "644010", "city": "Омск", "street": "ул. Ленина", "house": "5",
    "items": [{"name": "Шарф", "quantity": 1, "unit_price": "1200"}]}}
