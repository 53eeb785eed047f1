"""Russian legal identifiers: INN, KPP, OGRN, BIK and bank account control keys."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_INN10_WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_1 = (7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_INN12_WEIGHTS_2 = (3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8)
_ACCOUNT_WEIGHTS = (7, 1, 3) * 7 + (7, 1)


def _control(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11 % 10


def inn_is_valid(inn: str) -> bool:
    if not inn.isdigit() or len(inn) not in (10, 12):
        return False
    if len(inn) == 10:
        return _control(inn, _INN10_WEIGHTS) == int(inn[9])
    return _control(inn, _INN12_WEIGHTS_1) == int(inn[10]) and _control(
        inn, _INN12_WEIGHTS_2
    ) == int(inn[11])


def validate_inn(value: str) -> None:
    if not inn_is_valid(value):
        raise ValidationError(
            _("ИНН должен состоять из 10 или 12 цифр с верным контрольным числом"), code="inn"
        )


_KPP = re.compile(r"^\d{4}[\dA-Z]{2}\d{3}$")


def validate_kpp(value: str) -> None:
    if not _KPP.match(value):
        raise ValidationError(_("КПП: 9 символов, например 773601001"), code="kpp")


def validate_ogrn(value: str) -> None:
    ok = (value.isdigit() and len(value) == 13 and int(value[:12]) % 11 % 10 == int(value[12])) or (
        value.isdigit() and len(value) == 15 and int(value[:14]) % 13 % 10 == int(value[14])
    )
    if not ok:
        raise ValidationError(_("ОГРН: 13 цифр (ОГРНИП: 15) с верным контрольным числом"),
                              code="ogrn")


def validate_bik(value: str) -> None:
    if not (value.isdigit() and len(value) == 9 and value.startswith("04")):
        raise ValidationError(_("БИК: 9 цифр, начинается с 04"), code="bik")


def bank_account_is_valid(account: str, bik: str) -> bool:
    """Settlement account control key: the last three digits of the BIK before the
    20-digit account, weighted 7-1-3, must sum to a multiple of 10."""
    if not (account.isdigit() and len(account) == 20 and bik.isdigit() and len(bik) == 9):
        return False
    digits = bik[-3:] + account
    return sum(int(d) * w for d, w in zip(digits, _ACCOUNT_WEIGHTS, strict=True)) % 10 == 0
