"""The Otpravka endpoints around the order → batch path, for the emulator: name and phone
normalisation, editing an order, batches (get, search, re-date, add orders, return orders),
orders in batches (search, get, delete), the archive, and the post-office service's lookups
beyond "an office by index" (nearby, a settlement's offices, services).

Shapes from Otpravka's published specification (https://otpravka.pochta.ru/specification,
sections named beside each function) as restated in shared/domain.md §1.2–1.9.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shipdesk.carriers.russian_post.emulator import Handler


def _error3(code: int, sub: str, desc: str) -> dict[str, Any]:
    from shipdesk.carriers.russian_post.emulator import _error3 as error3

    return error3(code, sub, desc)


def clean_fio(item: dict[str, Any]) -> dict[str, Any]:
    """``POST /1.0/clean/physical`` ("Нормализация ФИО"): surname, name, middle-name."""
    original = str(item.get("original-fio", ""))
    words = [w.capitalize() for w in re.findall(r"[A-Za-zА-Яа-яЁё-]+", original)]
    row: dict[str, Any] = {"id": item.get("id"), "original-fio": original}
    if 2 <= len(words) <= 3:
        row.update(surname=words[0], name=words[1])
        if len(words) == 3:
            row["middle-name"] = words[2]
        row["quality-code"] = "CONFIRMED_MANUALLY" if " ".join(words) == original.strip() else "EDITED"
    else:
        row["quality-code"] = "NOT_SURE"
    return row


def clean_phone(item: dict[str, Any]) -> dict[str, Any]:
    """``POST /1.0/clean/phone`` ("Нормализация телефона"): country, city code, number."""
    original = str(item.get("original-phone", ""))
    digits = "".join(ch for ch in original if ch.isdigit())
    row: dict[str, Any] = {"id": item.get("id"), "original-phone": original}
    if len(digits) == 11 and digits[0] in "78":
        digits = digits[1:]
    if not digits:
        quality = "EMPTY"
    elif len(digits) == 10:
        quality = "GOOD"
        row.update({"phone-country-code": "7", "phone-city-code": digits[:3],
                    "phone-number": digits[3:], "phone-extension": ""})
    elif re.search(r"[A-Za-zА-Яа-я]", original) and len(digits) < 5:
        quality = "GARBAGE"
    else:
        quality = "INCORRECT_DATA"
    row["quality-code"] = quality
    return row


def unreliable(item: dict[str, Any]) -> dict[str, Any]:
    """``POST /1.0/unreliable-recipient``: every recipient reliable (the only value seen)."""
    return {**item, "unreliability": "RELIABLE"}


def route(h: Handler, method: str, parts: list[str], query: dict[str, list[str]],
          data: Any) -> bool:
    """Answers one of this module's endpoints; False when the path is not one of them."""
    st = h.state
    arg = lambda name, default="": (query.get(name) or [default])[0]  # noqa: E731
    if method == "POST" and parts[1:3] == ["clean", "physical"]:
        h.send_json(200, [clean_fio(i) for i in data])
    elif method == "POST" and parts[1:3] == ["clean", "phone"]:
        h.send_json(200, [clean_phone(i) for i in data])
    elif method == "POST" and parts[1:] == ["unreliable-recipient"]:
        h.send_json(200, [unreliable(i) for i in data])
    elif method == "PUT" and len(parts) == 3 and parts[1] == "backlog":
        edit_order(h, int(parts[2]), data)
    elif method == "POST" and parts[1:] == ["user", "backlog"]:
        return_to_backlog(h, [int(i) for i in data])
    elif method == "GET" and parts[1:] == ["batch"]:
        rows = [public_batch(b) for b in st.batches.values()
                if arg("mailType") in ("", b["mail-type"])
                and arg("mailCategory") in ("", b["mail-category"])]
        h.send_json(200, _page(rows, query))
    elif method == "POST" and len(parts) == 7 and parts[1] == "batch" and parts[3] == "sending":
        redate(h, parts[2], parts[4:7])
    elif len(parts) == 4 and parts[1] == "batch" and parts[3] == "shipment" and method in ("POST", "PUT"):
        into_batch(h, parts[2], data, create=method == "PUT")
    elif method == "GET" and parts[1:] == ["shipment", "search"]:
        wanted = arg("query")
        h.send_json(200, [_public(o) for o in st.orders.values() if o.get("batch-name")
                          and wanted in (str(o.get("barcode")), str(o.get("order-num")))])
    elif method == "GET" and parts[1:] == ["long-term-archive", "shipment", "search"]:
        wanted = arg("query")
        archived = {n for n, b in st.batches.items() if b["batch-status"] == "ARCHIVED"}
        h.send_json(200, [_public(o) for o in st.orders.values() if o.get("batch-name") in archived
                          and wanted in (str(o.get("barcode")), str(o.get("order-num")))])
    elif method == "GET" and len(parts) == 3 and parts[1] == "shipment":
        order = st.orders.get(int(parts[2])) if parts[2].isdigit() else None
        if order is None or not order.get("batch-name"):
            h.send_json(404, _error3(404, "NOT_FOUND", "Заказ в партии не найден"))
        else:
            h.send_json(200, _public(order))
    elif method == "DELETE" and parts[1:] == ["shipment"]:
        delete_from_batches(h, [int(i) for i in data])
    elif parts[1:] == ["archive"] and method in ("GET", "PUT"):
        if method == "GET":
            h.send_json(200, [public_batch(b) for b in st.batches.values()
                              if b["batch-status"] == "ARCHIVED"])
        else:
            h.send_json(200, [archive(h, str(name), True) for name in data])
    elif method == "POST" and parts[1:] == ["archive", "revert"]:
        h.send_json(200, [archive(h, str(name), False) for name in data])
    else:
        return False
    return True


def _public(order: dict[str, Any]) -> dict[str, Any]:
    from shipdesk.carriers.russian_post.emulator import public

    return public(order)


def public_batch(batch: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in batch.items() if k not in ("ids", "status-before-archive")}


def _page(rows: list[Any], query: dict[str, list[str]]) -> list[Any]:
    """``size``/``page`` (from 0) paging; a page past the end is an empty list, never the
    first page again."""
    size = max(1, int((query.get("size") or ["100"])[0]))
    page = max(0, int((query.get("page") or ["0"])[0]))
    return rows[page * size:(page + 1) * size]


def edit_order(h: Handler, oid: int, data: dict[str, Any]) -> None:
    """``PUT /1.0/backlog/{id}`` ("Редактирование заказа"): a new order may be changed; one
    in a batch is read-only."""
    from shipdesk.carriers.russian_post.emulator import validate_order

    st = h.state
    order = st.orders.get(oid)
    if order is None:
        h.send_json(404, _error3(404, "NOT_FOUND", "Заказ не найден"))
        return
    if order.get("batch-name"):
        h.send_json(200, {"errors": [{"error-codes": [
            {"code": "READONLY_STATE", "description": "Заказ в партии нельзя изменить"}],
            "position": 0}]})
        return
    errors = validate_order(data, st.config.shipping_points)
    if errors:
        h.send_json(200, {"errors": [{"error-codes": errors, "position": 0}]})
        return
    keep: dict[str, Any] = {k: order[k] for k in ("id", "scenario") if k in order}
    st.orders[oid] = {**data, **keep, "version": int(order.get("version", 0)) + 1}
    h.send_json(200, {"result-ids": [oid]})


def return_to_backlog(h: Handler, ids: list[int]) -> None:
    """``POST /1.0/user/backlog`` ("Вернуть заказы в Новые"): only from a CREATED batch."""
    st = h.state
    done, errors = [], []
    for pos, oid in enumerate(ids):
        order = st.orders.get(oid)
        batch = st.batches.get(str((order or {}).get("batch-name")))
        if order is None or batch is None:
            errors.append({"error-code": "NOT_FOUND", "position": pos})
            continue
        if batch["batch-status"] != "CREATED":
            errors.append({"error-code": "READONLY_STATE", "position": pos})
            continue
        _leave_batch(h, order, batch)
        done.append(oid)
    h.send_json(200, {"result-ids": done, "errors": errors})


def _leave_batch(h: Handler, order: dict[str, Any], batch: dict[str, Any]) -> None:
    batch["ids"].remove(order["id"])
    batch["shipment-count"] = len(batch["ids"])
    batch["shipment-mass"] = sum(int(h.state.orders[i]["mass"]) for i in batch["ids"])
    h.state.by_barcode.pop(str(order.get("barcode")), None)
    for key in ("barcode", "batch-name", "batch-status", "last-oper-type", "last-oper-attr"):
        order.pop(key, None)


def delete_from_batches(h: Handler, ids: list[int]) -> None:
    """``DELETE /1.0/shipment``: orders leave their (CREATED) batch and are deleted."""
    st = h.state
    done, errors = [], []
    for pos, oid in enumerate(ids):
        order = st.orders.get(oid)
        batch = st.batches.get(str((order or {}).get("batch-name")))
        if order is None or batch is None:
            errors.append({"error-code": "NOT_FOUND", "error-description": "Заказ не найден",
                           "position": pos})
        elif batch["batch-status"] != "CREATED":
            errors.append({"error-code": "READONLY_STATE",
                           "error-description": "Партия уже передана", "position": pos})
        else:
            _leave_batch(h, order, batch)
            del st.orders[oid]
            done.append(oid)
    h.send_json(200, {"result-ids": done, "errors": errors})


def redate(h: Handler, name: str, ymd: list[str]) -> None:
    """``POST /1.0/batch/{name}/sending/{yyyy}/{mm}/{dd}`` ("Изменение дня отправки"):
    no ``error-code`` on success, else ``{"error-code"}``; a day in the past is PAST_DUE_DATE."""
    from shipdesk.carriers.russian_post.emulator import EARLIEST_RU

    st = h.state
    batch = st.batches.get(name)
    if batch is None:
        h.send_json(404, {"error-code": "NOT_FOUND"})
        return
    try:
        day = date(int(ymd[0]), int(ymd[1]), int(ymd[2]))
    except ValueError:
        h.send_json(400, _error3(400, "BAD_REQUEST", "Неверная дата"))
        return
    if day < st.clock().astimezone(EARLIEST_RU).date():
        h.send_json(200, {"error-code": "PAST_DUE_DATE"})
        return
    if batch["batch-status"] != "CREATED":
        h.send_json(200, {"error-code": "ALL_SHIPMENTS_SENT"})
        return
    batch["list-number-date"] = day.isoformat()
    # no error-code: done (an empty object, which clients that parse the answer read too)
    h.send_json(200, {})


def into_batch(h: Handler, name: str, data: list[Any], *, create: bool) -> None:
    """``POST /1.0/batch/{name}/shipment`` (move new orders in: ids) and ``PUT`` (create
    orders directly in it): those of another kind are refused per position."""
    from shipdesk.carriers.russian_post.emulator import scenario_for, validate_order

    st = h.state
    batch = st.batches.get(name)
    if batch is None:
        h.send_json(404, {"error-code": "NOT_FOUND"})
        return
    if batch["batch-status"] != "CREATED":
        h.send_json(200, {"result-ids": [], "errors": [
            {"error-code": "ALL_SHIPMENTS_SENT", "position": p} for p in range(len(data))]})
        return
    moved, errors = [], []
    for pos, entry in enumerate(data):
        if create:
            problems = validate_order(entry, st.config.shipping_points)
            if problems:
                errors.append({"error-codes": problems, "position": pos})
                continue
            with st.lock:
                oid = st.next_id
                st.next_id += 1
            st.orders[oid] = {**entry, "id": oid, "version": 0, "scenario": ""}
        else:
            oid = int(entry)
        order = st.orders.get(oid)
        if order is None or order.get("batch-name"):
            errors.append({"error-code": "NOT_FOUND" if order is None else "READONLY_STATE",
                           "position": pos})
            continue
        if (order.get("mail-type"), order.get("mail-category")) != (batch["mail-type"],
                                                                      batch["mail-category"]):
            code = ("DIFFERENT_MAIL_TYPE" if order.get("mail-type") != batch["mail-type"]
                    else "DIFFERENT_MAIL_CATEGORY")
            errors.append({"error-code": code, "error-description": "Другой вид или категория РПО",
                           "position": pos})
            continue
        order["barcode"] = st.new_barcode(order)
        order.update({"batch-name": name, "batch-status": "CREATED",
                      "last-oper-type": "ID_ASSIGNMENT", "last-oper-attr": "ID_ASSIGNED"})
        order["scenario"] = order.get("scenario") or scenario_for(order["barcode"])
        st.by_barcode[order["barcode"]] = oid
        batch["ids"].append(oid)
        moved.append(oid)
    batch["shipment-count"] = len(batch["ids"])
    batch["shipment-mass"] = sum(int(st.orders[i]["mass"]) for i in batch["ids"])
    h.send_json(200, {"result-ids": moved, "errors": errors})


def archive(h: Handler, name: str, into: bool) -> dict[str, Any]:
    """``PUT /1.0/archive`` / ``POST /1.0/archive/revert``: per batch ``{"batch-name"}`` or
    with an ``error-code``. Only a sent (checked-in) batch goes to the archive."""
    batch = h.state.batches.get(name)
    if batch is None:
        return {"batch-name": name, "error-code": "NOT_FOUND"}
    if into and batch["batch-status"] == "CREATED":
        return {"batch-name": name, "error-code": "READONLY_STATE"}
    if not into and batch["batch-status"] != "ARCHIVED":
        return {"batch-name": name, "error-code": "NOT_FOUND"}
    if into:
        batch["status-before-archive"] = batch["batch-status"]
        batch["batch-status"] = "ARCHIVED"
    else:
        batch["batch-status"] = batch.pop("status-before-archive", "SENT")
    return {"batch-name": name}


# -- the post-office service -------------------------------------------------------------------
def _km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p = math.pi / 180
    a = (0.5 - math.cos((lat2 - lat1) * p) / 2
         + math.cos(lat1 * p) * math.cos(lat2 * p) * (1 - math.cos((lon2 - lon1) * p)) / 2)
    return 12742 * math.asin(math.sqrt(a))


SERVICES = [  # an office's service groups (``/postoffice/1.0/{index}/services``)
    {"code": "1", "name": "Почтовые услуги", "group-id": 1},
    {"code": "2", "name": "Выдача отправлений", "group-id": 2},
    {"code": "3", "name": "Финансовые услуги", "group-id": 3},
]


def postoffice_route(h: Handler, parts: list[str], query: dict[str, list[str]]) -> bool:
    """``/postoffice/1.0/nearby``, ``/settlement.offices.codes``, ``/{index}/services[/{group}]``."""
    from shipdesk.carriers.russian_post.emulator import OFFICES, post_office

    arg = lambda name, default="": (query.get(name) or [default])[0]  # noqa: E731
    if parts[2:] == ["nearby"]:
        lat, lon = float(arg("latitude", "0")), float(arg("longitude", "0"))
        top = int(arg("top", "3"))
        radius = float(arg("search-radius", "0") or 0)
        near = sorted(OFFICES, key=lambda r: _km(lat, lon, r[5], r[6]))
        if radius:
            near = [r for r in near if _km(lat, lon, r[5], r[6]) <= radius]
        h.send_json(200, [{**(post_office(r[0]) or {}), "distance": round(_km(lat, lon, r[5], r[6]) * 1000)}
                          for r in near[:top]])
        return True
    if parts[2:] == ["settlement.offices.codes"]:
        settlement = arg("settlement").lower()
        h.send_json(200, [r[0] for r in OFFICES if r[2].lower() == settlement])
        return True
    if len(parts) in (4, 5) and parts[3] == "services":
        if post_office(parts[2]) is None:
            h.send_json(404, _error3(404, "NOT_FOUND", f"Отделение {parts[2]} не найдено"))
        elif len(parts) == 5:
            h.send_json(200, [s for s in SERVICES if str(s["group-id"]) == parts[4]])
        else:
            h.send_json(200, SERVICES)
        return True
    return False
