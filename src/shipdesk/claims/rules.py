"""The candidate rules' knobs per carrier and kind, and each rule in words.

Defaults (shared/domain.md §8.4, all configurable per organization and carrier):
Russian Post domestic — a claim within 6 months (180 days) of posting, answered within 30
days (FZ-176 art. 37); CDEK — a transport-expedition claim within 6 months, answered
within 30 days (FZ-87 art. 12; not verified against CDEK's offer). Other carriers take the
same until told otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from shipdesk.claims.models import ClaimRule, Kind


@dataclass(frozen=True)
class Rule:
    kind: str
    carrier_code: str
    enabled: bool
    margin_days: int  # the rule's own threshold beyond the term it watches
    file_window_days: int
    answer_days: int
    remind_days: int
    min_amount: Decimal


# kind -> margin days: past the control term (stuck), past the payout term (COD unpaid),
# since the return started (return missing); 0 for facts that need no waiting
_MARGIN = {Kind.STUCK: 5, Kind.LOST: 0, Kind.DAMAGED: 0, Kind.PARTIAL: 0,
           Kind.COD_UNPAID: 10, Kind.RETURN_MISSING: 30, Kind.OVERCHARGE: 0}
# carrier -> (filing window, answer term) in days
CARRIER_TERMS: dict[str, tuple[int, int]] = {"russian_post": (180, 30), "cdek": (180, 30)}
DEFAULT_TERMS = (180, 30)
REMIND_DAYS = 7
CONTROL_DAYS_FALLBACK = 14  # a parcel with no expected delivery: days from acceptance
PAYOUT_DAYS_FALLBACK = 7  # the payout term when the contract's terms say none


def default_rule(kind: str, carrier_code: str) -> Rule:
    window, answer = CARRIER_TERMS.get(carrier_code, DEFAULT_TERMS)
    return Rule(kind=kind, carrier_code=carrier_code, enabled=True,
                margin_days=_MARGIN[Kind(kind)], file_window_days=window, answer_days=answer,
                remind_days=REMIND_DAYS, min_amount=Decimal("0.00"))


def _apply(rule: Rule, row: ClaimRule) -> Rule:
    return replace(rule, enabled=row.enabled, margin_days=row.margin_days,
                   file_window_days=row.file_window_days, answer_days=row.answer_days,
                   remind_days=row.remind_days, min_amount=row.min_amount)


def rules_for(*, organization_id: int, carrier_codes: list[str]) -> dict[tuple[str, str], Rule]:
    """The effective rule for every (kind, carrier): the organization's row for the carrier,
    else its row for any carrier, else the installation's, else the defaults."""
    rows = list(ClaimRule.objects.filter(
        Q(organization_id=organization_id) | Q(organization__isnull=True)))

    def rank(row: ClaimRule) -> int:
        return (2 if row.organization_id else 0) + (1 if row.carrier_code else 0)

    rows.sort(key=rank)
    out: dict[tuple[str, str], Rule] = {}
    for carrier in carrier_codes:
        for kind in Kind.values:
            rule = default_rule(kind, carrier)
            for row in rows:  # least specific first: the most specific is applied last
                if row.kind == kind and row.carrier_code in ("", carrier):
                    rule = _apply(rule, row)
            out[(kind, carrier)] = rule
    return out


def explain(rule: Rule) -> str:
    """The rule in words, as the rules page and the API show it."""
    m = rule.margin_days
    texts = {
        Kind.STUCK: _("Посылка принята, но не двигается: контрольный срок доставки по "
                      "маршруту (или %(fallback)d дн. от приёма, если срок неизвестен) "
                      "прошёл больше %(m)d дн. назад, и с тех пор нет ни одной операции.")
        % {"m": m, "fallback": CONTROL_DAYS_FALLBACK},
        Kind.LOST: _("Перевозчик сообщил об утрате посылки (операция «Утрачено»)."),
        Kind.DAMAGED: _("Перевозчик отметил повреждение или недостачу вложения."),
        Kind.PARTIAL: _("Посылка вручена частично: получатель взял не всё вложение."),
        Kind.COD_UNPAID: _("Посылка с наложенным платежом вручена, но деньги не перечислены "
                           "больше %(m)d дн. сверх срока выплаты по договору.") % {"m": m},
        Kind.RETURN_MISSING: _("Посылка отправлена обратно больше %(m)d дн. назад, но так и "
                               "не вернулась отправителю.") % {"m": m},
        Kind.OVERCHARGE: _("В отчёте перевозчика о выплате сумма меньше ожидаемой: удержано "
                           "больше, чем по тарифу и весу."),
    }
    text = str(texts[Kind(rule.kind)])
    if rule.min_amount:
        text += " " + _("Только если на кону не меньше %(sum)s ₽.") % {"sum": rule.min_amount}
    text += " " + _("Претензия подаётся в течение %(w)d дн. от приёма, ответ — %(a)d дн.; "
                    "напоминание за %(r)d дн. до каждого срока.") % {
        "w": rule.file_window_days, "a": rule.answer_days, "r": rule.remind_days}
    if not rule.enabled:
        text = _("Не ищется.") + " " + text
    return text
