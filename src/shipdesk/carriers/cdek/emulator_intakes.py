"""The CDEK emulator's courier pick-up requests (``/v2/intakes``): validation as documented
(date, a window within 09:00–22:00 of at least 3 hours, cargo, sender, address), 202 then
statuses on the emulator's clock, deletion, the available days."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from shipdesk.carriers.cdek.reference import INTAKE_STATUS_NAMES, MSK, cdek_time, invalid_answer
from shipdesk.carriers.emulation import Clock, Request, Response, json_response


@dataclass
class Intake:
    uuid: str
    number: str
    body: dict[str, Any]
    created_at: datetime
    removed_at: datetime | None = None


class Intakes:
    """Mixed into the emulator, which owns these."""

    clock: Clock
    lock: threading.RLock
    intakes: dict[str, Intake]
    next_intake_number: int
    orders: dict[str, Any]
    by_number: dict[str, Any]

    @staticmethod
    def _minutes(value: Any) -> int | None:
        text = str(value or "")
        try:
            hours, minutes = text.split(":")[:2]
            return int(hours) * 60 + int(minutes)
        except ValueError:
            return None

    def _validate_intake(self, body: Any) -> list[tuple[str, str]]:
        if not isinstance(body, dict):
            return [("v2_bad_request", "Request body must be an object")]
        errors: list[tuple[str, str]] = []
        today = self.clock.now().astimezone(MSK).date()
        try:
            day = date.fromisoformat(str(body.get("intake_date") or ""))
        except ValueError:
            errors.append(("v2_field_is_empty", "Не задано или неверно поле [intake_date]"))
        else:
            if day < today:
                errors.append(("v2_invalid_value", f"Дата [intake_date] {day} уже прошла"))
            elif day > today + timedelta(days=31):
                errors.append(("v2_invalid_value", "Дата [intake_date] не может быть дальше 31 дня"))
        start, end = self._minutes(body.get("intake_time_from")), self._minutes(body.get("intake_time_to"))
        if start is None or end is None:
            errors.append(("v2_field_is_empty", "Не заданы поля [intake_time_from] и [intake_time_to]"))
        elif start < 9 * 60 or end > 22 * 60 or end - start < 3 * 60:
            errors.append(("v2_wrong_interval", "Интервал [intake_time_from]–[intake_time_to]: с 09:00 "
                                                "до 22:00, не короче 3 часов"))
        if not (body.get("cdek_number") or body.get("order_uuid")):
            sender: dict[str, Any] = body["sender"] if isinstance(body.get("sender"), dict) else {}
            location: dict[str, Any] = (body["from_location"] if isinstance(body.get("from_location"), dict)
                                        else {})
            if not body.get("name"):
                errors.append(("v2_field_is_empty", "Не задано поле [name]"))
            if not isinstance(body.get("weight"), int) or body["weight"] <= 0:
                errors.append(("v2_field_is_empty", "Не задано поле [weight]"))
            if not sender.get("name"):
                errors.append(("v2_field_is_empty", "Не задано поле [sender.name]"))
            if not sender.get("phones"):
                errors.append(("v2_field_is_empty", "Не задано поле [sender.phones]"))
            if not location.get("address"):
                errors.append(("v2_field_is_empty", "Не задано поле [from_location.address]"))
        elif body.get("order_uuid") and body["order_uuid"] not in self.orders:
            errors.append(("v2_entity_not_found", f"Заказ [order_uuid] {body['order_uuid']} не найден"))
        elif body.get("cdek_number") and str(body["cdek_number"]) not in self.by_number:
            errors.append(("v2_order_not_found", f"Заказ [cdek_number] {body['cdek_number']} не найден"))
        return errors

    def intake_create(self, request: Request) -> Response:
        try:
            body = request.json()
        except ValueError:
            return invalid_answer(400, "CREATE", [("v2_bad_request", "Malformed JSON")])
        errors = self._validate_intake(body)
        if errors:
            return invalid_answer(400, "CREATE", errors)
        with self.lock:
            number = str(self.next_intake_number)
            self.next_intake_number += 1
            intake = Intake(uuid=str(uuid.uuid4()), number=number, body=body, created_at=self.clock.now())
            self.intakes[intake.uuid] = intake
        return json_response({"entity": {"uuid": intake.uuid}, "requests": [
            {"request_uuid": str(uuid.uuid4()), "type": "CREATE", "state": "ACCEPTED",
             "date_time": cdek_time(intake.created_at)}]}, 202)

    def _intake_duplicate(self, intake: Intake) -> bool:
        """Another live request for the same day and address, made earlier."""
        def where(one: Intake) -> tuple[Any, Any]:
            return one.body.get("intake_date"), (one.body.get("from_location") or {}).get("address")

        return bool(where(intake)[1]) and any(
            other.uuid != intake.uuid and other.created_at < intake.created_at and not other.removed_at
            and where(other) == where(intake) for other in self.intakes.values())

    def intake_statuses(self, intake: Intake) -> list[tuple[str, datetime]]:
        """Oldest first: accepted, created at once; the courier is appointed two hours before
        the window opens and the request is done when it closes (the emulator's clock)."""
        now = self.clock.now()
        out = [("ACCEPTED", intake.created_at)]
        if self._intake_duplicate(intake):
            return [*out, ("INVALID", intake.created_at)]
        out.append(("CREATED", intake.created_at))
        day = date.fromisoformat(str(intake.body["intake_date"]))
        start = self._minutes(intake.body["intake_time_from"]) or 0
        end = self._minutes(intake.body["intake_time_to"]) or 0
        opens = datetime.combine(day, datetime.min.time(), MSK) + timedelta(minutes=start)
        closes = datetime.combine(day, datetime.min.time(), MSK) + timedelta(minutes=end)
        for code, at in (("READY_FOR_APPOINTMENT", intake.created_at),
                         ("APPOINTED_COURIER", max(intake.created_at, opens - timedelta(hours=2))),
                         ("DONE", closes)):
            if intake.removed_at and at >= intake.removed_at:
                break
            if at <= now:
                out.append((code, at))
        if intake.removed_at:
            out.append(("REMOVED", intake.removed_at))
        return out

    def intake_get(self, request: Request) -> Response:
        intake = self.intakes.get(request.params["uuid"])
        if intake is None:
            return invalid_answer(404, "GET", [("v2_entity_not_found", "Заявка не найдена")])
        statuses = self.intake_statuses(intake)
        invalid = statuses[-1][0] == "INVALID"
        body = intake.body
        entity: dict[str, Any] = {"uuid": intake.uuid}
        if not invalid:
            entity["intake_number"] = intake.number
        for key in ("cdek_number", "order_uuid", "intake_date", "intake_time_from", "intake_time_to",
                    "lunch_time_from", "lunch_time_to", "name", "weight", "length", "width", "height",
                    "comment", "sender", "from_location", "need_call", "courier_power_of_attorney",
                    "courier_identity_card"):
            if body.get(key) is not None:
                entity[key] = body[key]
        entity["statuses"] = [{"code": code, "name": INTAKE_STATUS_NAMES[code], "date_time": cdek_time(at)}
                              for code, at in reversed(statuses)]  # newest first
        req: dict[str, Any] = {"request_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, intake.uuid)),
                               "type": "CREATE", "state": "INVALID" if invalid else "SUCCESSFUL",
                               "date_time": cdek_time(intake.created_at)}
        if invalid:
            req["errors"] = [{"code": "v2_intake_exists_by_date_address",
                              "message": "На переданную дату и в переданный адрес уже есть заявка"}]
        return json_response({"entity": entity, "requests": [req]})

    def intake_delete(self, request: Request) -> Response:
        intake = self.intakes.get(request.params["uuid"])
        if intake is None:
            return invalid_answer(404, "DELETE", [("v2_entity_not_found", "Заявка не найдена")])
        last = self.intake_statuses(intake)[-1][0]
        if last in ("DONE", "REMOVED", "INVALID"):
            return invalid_answer(400, "DELETE", [("v2_entity_forbidden",
                                                 f"Заявку в статусе {last} удалить нельзя")])
        intake.removed_at = self.clock.now()
        return json_response({"entity": {"uuid": intake.uuid}, "requests": [
            {"request_uuid": str(uuid.uuid4()), "type": "DELETE", "state": "ACCEPTED",
             "date_time": cdek_time(intake.removed_at)}]}, 202)

    def intake_days(self, request: Request) -> Response:
        """Days a courier can come (``/v2/intakes/availableDays``): working days (not
        Sunday) from today to ``date`` inclusive, at most 31 days ahead."""
        body = request.json() if request.method == "POST" else {}
        until_text = str((body or {}).get("date") or request.arg("date") or "")
        today = self.clock.now().astimezone(MSK).date()
        try:
            until = date.fromisoformat(until_text[:10])
        except ValueError:
            return json_response({"date": [], "errors": [{"code": "v2_field_is_empty",
                                                           "message": "Не задано поле [date]"}]}, 400)
        last = min(until, today + timedelta(days=31))
        days = [today + timedelta(days=i) for i in range((last - today).days + 1)]
        return json_response({"date": [d.isoformat() for d in days if d.isoweekday() != 7],
                              "all_days": False})
