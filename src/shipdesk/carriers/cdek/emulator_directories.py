"""The CDEK emulator's directories: delivery points, regions, cities (filters and paging as
documented), city suggestions, the tariff catalogue."""

from __future__ import annotations

import uuid
from typing import Any

from shipdesk.carriers.cdek.reference import (
    CITIES,
    CITY_DETAILS,
    DELIVERY_MODE_NAMES,
    OFFICES,
    REGION_CODES,
    TARIFF_ORDER_TYPES,
    TARIFFS,
)
from shipdesk.carriers.emulation import Request, Response, json_response


class Directories:
    def deliverypoints(self, request: Request) -> Response:
        city_code, postal, kind = (
            request.arg("city_code"),
            request.arg("postal_code"),
            request.arg("type", "ALL"),
        )
        out = []
        for office in OFFICES:
            if city_code and str(office["city_code"]) != city_code:
                continue
            if postal and office["postal_code"][:3] != postal[:3]:
                continue
            if kind not in ("ALL", office["type"]):
                continue
            city, region, _zip = CITIES[office["city_code"]]
            out.append(
                {
                    "code": office["code"],
                    "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, office["code"])),
                    "name": f"{city}, {office['address']}",
                    "work_time": office["hours"],
                    "work_time_list": [{"day": d, "time": "09:00/21:00"} for d in range(1, 8)],
                    "type": office["type"],
                    "owner_code": "cdek",
                    "is_handout": True,
                    "is_reception": True,
                    "is_dressing_room": False,
                    "take_only": False,
                    "have_fast_payment_system": True,
                    "work_time_exception_list": [],
                    "have_cashless": True,
                    "have_cash": True,
                    "allowed_cod": True,
                    "location": {
                        "country_code": "RU",
                        "region": region,
                        "city_code": office["city_code"],
                        "city_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdek-city-{office['city_code']}")),
                        "city": city,
                        "postal_code": office["postal_code"],
                        "longitude": office["lon"],
                        "latitude": office["lat"],
                        "address": office["address"],
                        "address_full": f"{office['postal_code']}, {city}, {office['address']}",
                    },
                }
            )
        return json_response(out)

    @staticmethod
    def _page(request: Request, rows: list[Any]) -> Response:
        """CDEK's paging: ``size`` rows of page ``page`` (from 0); a page past the end is an
        empty list. ``page`` without ``size`` is ignored, as documented."""
        size_arg, page_arg = request.arg("size"), request.arg("page")
        if not size_arg:
            return json_response(rows)
        try:
            size, page = int(size_arg), int(page_arg or 0)
        except ValueError:
            return json_response({"errors": [{"code": "v2_invalid_value_type",
                                              "message": "[size] и [page] должны быть числами"}]}, 400)
        if size <= 0 or page < 0:
            return json_response({"errors": [{"code": "v2_invalid_value",
                                              "message": "Неверное значение [size] или [page]"}]}, 400)
        return json_response(rows[page * size:(page + 1) * size])

    @staticmethod
    def city_row(code: int) -> dict[str, Any]:
        city, region, _zip = CITIES[code]
        postals, lon, lat, tz = CITY_DETAILS[code]
        return {
            "code": code, "city_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"cdek-city-{code}")),
            "city": city, "fias_guid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"fias-city-{code}")),
            "country_code": "RU", "country": "Россия", "region": region,
            "region_code": REGION_CODES[region], "sub_region": "", "postal_codes": list(postals),
            "longitude": lon, "latitude": lat, "time_zone": tz, "payment_limit": -1.0,
        }

    def cities(self, request: Request) -> Response:
        name = request.arg("city").strip().lower()
        postal, code = request.arg("postal_code").strip(), request.arg("code").strip()
        region_code, countries = request.arg("region_code").strip(), request.arg("country_codes").upper()
        rows = []
        for city_code in sorted(CITIES):
            row = self.city_row(city_code)
            if name and row["city"].lower() != name:
                continue
            if postal and postal not in row["postal_codes"]:
                continue
            if code and str(city_code) != code:
                continue
            if region_code and str(row["region_code"]) != region_code:
                continue
            if countries and "RU" not in countries.split(","):
                continue
            rows.append(row)
        return self._page(request, rows)

    def suggest_cities(self, request: Request) -> Response:
        name = request.arg("name").strip().lower()
        if not name:
            return json_response({"errors": [{"code": "v2_field_is_empty",
                                              "message": "Не задано поле [name]"}]}, 400)
        if request.arg("country_code") and request.arg("country_code").upper() != "RU":
            return json_response([])
        return json_response([
            {"city_uuid": row["city_uuid"], "code": row["code"],
             "full_name": f"{row['city']}, {row['region']}, {row['country']}", "country_code": "RU"}
            for row in (self.city_row(c) for c in sorted(CITIES))
            if row["city"].lower().startswith(name)
        ])

    def regions(self, request: Request) -> Response:
        countries = request.arg("country_codes").upper()
        rows = [
            {"country_code": "RU", "country": "Россия", "region": region, "region_code": code,
             "kladr_region_code": f"{code:02d}", "fias_region_guid": str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                                    f"fias-region-{code}"))}
            for region, code in sorted(REGION_CODES.items(), key=lambda kv: kv[1])
        ]
        if countries and "RU" not in countries.split(","):
            rows = []
        return self._page(request, rows)

    def alltariffs(self, request: Request) -> Response:
        """The account's tariffs (``GET /v2/calculator/alltariffs``)."""
        return json_response({"tariff_codes": [
            {"tariff_name": name, "weight_min": 0.0, "weight_max": 30.0 if mode != 4 else 50.0,
             "weight_calc_max": 50.0, "length_min": 1, "length_max": 150, "width_min": 1,
             "width_max": 150, "height_min": 1, "height_max": 150,
             "order_types": ["ONLINE_STORE" if TARIFF_ORDER_TYPES[code] == 1 else "DELIVERY"],
             "payer_contragent_type": ["LEGAL_ENTITY"], "sender_contragent_type": ["LEGAL_ENTITY"],
             "recipient_contragent_type": ["INDIVIDUAL", "LEGAL_ENTITY"],
             "delivery_modes": [{"delivery_mode": str(mode), "delivery_mode_name": DELIVERY_MODE_NAMES[mode],
                                 "tariff_code": code}]}
            for code, (name, mode, _base, _pmin, _pmax) in TARIFFS.items()
        ]})
