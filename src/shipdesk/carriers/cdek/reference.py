"""The CDEK emulator's reference data: CDEK's published tariff and order-status lists (as
data in ``data/``), a sample of its city, region and office directories, its formats."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from shipdesk.carriers.emulation import Response, json_response

DATA = Path(__file__).resolve().parent / "data"
STATUS_NAMES: dict[str, str] = {
    row["code"]: row["name"]
    for row in json.loads((DATA / "order_statuses.json").read_text(encoding="utf-8"))["statuses"]
}

# scenario step -> (code, reason code)
_TARIFF_DATA = json.loads((DATA / "tariffs.json").read_text(encoding="utf-8"))
DELIVERY_MODE_NAMES: dict[int, str] = {int(k): v for k, v in _TARIFF_DATA["delivery_modes"].items()}
# The emulator's prices: a base per delivery mode (door costs more than a warehouse), a
# family surcharge or discount, plus 45 ₽ per started 500 g above the first 500 g.
_MODE_BASE = {4: 290, 3: 390, 2: 340, 1: 440, 7: 270, 6: 320, 8: 420, 9: 300, 10: 280}
_FAMILY = (("Экономичная", -60, 4, 8), ("Экспресс", 150, 1, 3), ("Магистральный", 230, 1, 2),
           ("Международный", 900, 4, 9), ("E-com", 100, 3, 6), ("CDEK Express", 700, 5, 10),
           ("Сборный", 400, 4, 7))


def _tariff_row(row: dict[str, Any]) -> tuple[str, int, Decimal, int, int]:
    name, mode = str(row["tariff_name"]), int(row["delivery_mode"])
    extra, pmin, pmax = 0, 2, 4
    for prefix, surcharge, low, high in _FAMILY:
        if name.startswith(prefix):
            extra, pmin, pmax = surcharge, low, high
            break
    return name, mode, Decimal(_MODE_BASE[mode] + extra), pmin, pmax


# code: (name, delivery_mode, base price, period_min, period_max): CDEK's published list
TARIFFS: dict[int, tuple[str, int, Decimal, int, int]] = {
    int(row["tariff_code"]): _tariff_row(row) for row in _TARIFF_DATA["tariffs"]
}
TARIFF_ORDER_TYPES: dict[int, int] = {
    int(r["tariff_code"]): int(r["order_type"]) for r in _TARIFF_DATA["tariffs"]
}
SHOP_TARIFFS = tuple(code for code, kind in TARIFF_ORDER_TYPES.items() if kind == 1)  # order type 1

# A sample of CDEK's city directory: code: (city, region, first postal code)
CITIES = {
    44: ("Москва", "Москва", "101000"),
    137: ("Санкт-Петербург", "Санкт-Петербург", "190000"),
    270: ("Новосибирск", "Новосибирская обл.", "630000"),
    268: ("Омск", "Омская обл.", "644000"),
    250: ("Екатеринбург", "Свердловская обл.", "620000"),
    424: ("Казань", "Респ. Татарстан", "420000"),
    414: ("Нижний Новгород", "Нижегородская обл.", "603000"),
    435: ("Краснодар", "Краснодарский край", "350000"),
    438: ("Ростов-на-Дону", "Ростовская обл.", "344000"),
    430: ("Самара", "Самарская обл.", "443000"),
    1095: ("Москворечье", "Московская обл.", "142000"),
}
# city code: (postal codes, longitude, latitude, time zone)
CITY_DETAILS: dict[int, tuple[tuple[str, ...], float, float, str]] = {
    44: (("101000", "119002", "125009"), 37.6176, 55.7558, "Europe/Moscow"),
    137: (("190000", "191025"), 30.3141, 59.9386, "Europe/Moscow"),
    270: (("630000", "630099"), 82.9204, 55.0302, "Asia/Novosibirsk"),
    268: (("644000", "644024", "644099"), 73.3682, 54.9893, "Asia/Omsk"),
    250: (("620000", "620014"), 60.6122, 56.8519, "Asia/Yekaterinburg"),
    424: (("420000", "420111"), 49.1221, 55.7887, "Europe/Moscow"),
    414: (("603000", "603005"), 44.0020, 56.3287, "Europe/Moscow"),
    435: (("350000", "350063"), 38.9760, 45.0355, "Europe/Moscow"),
    438: (("344000", "344002"), 39.7203, 47.2225, "Europe/Moscow"),
    430: (("443000", "443099"), 50.1002, 53.1959, "Europe/Samara"),
    1095: (("142000",), 37.8000, 55.4000, "Europe/Moscow"),
}
# region name: CDEK region code (a sample)
REGION_CODES = {
    "Москва": 81, "Санкт-Петербург": 82, "Новосибирская обл.": 23, "Омская обл.": 27,
    "Свердловская обл.": 41, "Респ. Татарстан": 8, "Нижегородская обл.": 24,
    "Краснодарский край": 7, "Ростовская обл.": 38, "Самарская обл.": 40, "Московская обл.": 9,
}
INTAKE_STATUS_NAMES = {
    "ACCEPTED": "Принят", "CREATED": "Создан", "REMOVED": "Отменена",
    "READY_FOR_APPOINTMENT": "Готова к назначению", "APPOINTED_COURIER": "Назначен курьер",
    "DONE": "Выполнена", "PROBLEM_DETECTED": "Выявлена проблема",
    "PROCESSING_REQUIRED": "Требует обработки", "INVALID": "Некорректная заявка",
}
BARCODE_FORMATS = ("A4", "A5", "A6", "A7")

OFFICES: list[dict[str, Any]] = [
    {
        "code": "MSK5",
        "city_code": 44,
        "type": "PVZ",
        "address": "ул. Большая Дмитровка, 7/5, стр. 1",
        "postal_code": "125009",
        "lat": 55.7601,
        "lon": 37.6150,
        "hours": "Пн-Вс 09:00-21:00",
    },
    {
        "code": "MSK142",
        "city_code": 44,
        "type": "POSTAMAT",
        "address": "ул. Арбат, 24",
        "postal_code": "119002",
        "lat": 55.7500,
        "lon": 37.5920,
        "hours": "Пн-Вс 00:00-23:59",
    },
    {
        "code": "SPB12",
        "city_code": 137,
        "type": "PVZ",
        "address": "Невский пр., 88",
        "postal_code": "191025",
        "lat": 59.9320,
        "lon": 30.3480,
        "hours": "Пн-Вс 10:00-21:00",
    },
    {
        "code": "OMS3",
        "city_code": 268,
        "type": "PVZ",
        "address": "ул. Ленина, 18",
        "postal_code": "644024",
        "lat": 54.9850,
        "lon": 73.3700,
        "hours": "Пн-Сб 10:00-20:00",
    },
]


MSK = timezone(timedelta(hours=3))


def cdek_time(moment: datetime) -> str:
    """CDEK's datetime format: ``2019-07-11T13:07:34+0700``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S%z")


def invalid_answer(status: int, kind: str, errors: list[tuple[str, str]]) -> Response:
    """CDEK's refusal: ``{"requests":[{"state":"INVALID","errors":[{"code","message"}]}]}``."""
    return json_response(
        {
            "requests": [
                {
                    "type": kind,
                    "state": "INVALID",
                    "date_time": cdek_time(datetime.now(UTC)),
                    "errors": [{"code": c, "message": m} for c, m in errors],
                }
            ]
        },
        status,
    )
