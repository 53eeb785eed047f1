"""The errors services raise. The API turns each into one problem+json shape (RFC 9457);
views show the same messages beside the fields they name."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class FieldError:
    """One problem with one field. ``loc`` is the path to it, e.g. ``("items", 2, "weight")``
    or ``("row", 17, "index")`` for an uploaded file."""

    loc: tuple[str | int, ...]
    message: str
    code: str = "invalid"

    def as_dict(self) -> dict[str, Any]:
        return {"loc": list(self.loc), "message": str(self.message), "code": self.code}


class ServiceError(Exception):
    status = 400
    code = "bad_request"
    title: Any = _("Неверный запрос")

    def __init__(self, detail: Any = "", *, errors: Sequence[FieldError] = ()) -> None:
        super().__init__(str(detail))
        self.detail = detail
        self.errors = list(errors)


class ValidationFailed(ServiceError):
    status = 422
    code = "validation_failed"
    title = _("Данные не прошли проверку")


def refuse_unknown_fields(given: Iterable[str], known: Iterable[str]) -> None:
    """A service taking ``**fields`` names every field it does not know, each at its place."""
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise ValidationFailed(gettext("Неизвестные поля"), errors=[
            FieldError((name,), gettext("Неизвестное поле")) for name in unknown])


class NotFound(ServiceError):
    status = 404
    code = "not_found"
    title = _("Не найдено")


class Forbidden(ServiceError):
    status = 403
    code = "forbidden"
    title = _("Недостаточно прав")


class Conflict(ServiceError):
    status = 409
    code = "conflict"
    title = _("Конфликт")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = _("Переход состояния невозможен")


class TransientError(Exception):
    """A failure that may pass if the same work is tried again later (a carrier timing out,
    a rate limit, a locked row). Celery tasks retry it with backoff automatically."""
