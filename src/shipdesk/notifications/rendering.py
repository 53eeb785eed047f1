"""Shop-editable templates in a sandbox, and the SMS length/segment counter.

A template may use only its macros (plain strings), literals, ``if``/``else`` and a few text
filters. Anything else — attribute or item access (``x.__class__``), calls, loops,
arithmetic, unknown names — is refused when the template is saved, with its line and
column; rendering is done by Jinja2's ``SandboxedEnvironment`` with attribute access and
calls switched off as a second wall.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment

MACROS: dict[str, Any] = {
    "buyer_name": gettext_lazy("имя покупателя"),
    "order_number": gettext_lazy("номер заказа"),
    "amount_to_pay": gettext_lazy("сумма к оплате при получении"),
    "tracking_number": gettext_lazy("трек-номер"),
    "tracking_link": gettext_lazy("ссылка на страницу отслеживания"),
    "pickup_address": gettext_lazy("адрес пункта выдачи"),
    "pickup_hours": gettext_lazy("часы работы пункта выдачи"),
    "storage_deadline": gettext_lazy("срок хранения"),
    "days_left": gettext_lazy("сколько дней осталось хранить («осталось 2 дня»)"),
    "expected_delivery": gettext_lazy("ожидаемая дата доставки"),
    "shop_name": gettext_lazy("название магазина"),
    "shop_phone": gettext_lazy("телефон магазина"),
    "review_link": gettext_lazy("ссылка на отзыв"),
    "unsubscribe_link": gettext_lazy("ссылка для отписки"),
    "status": gettext_lazy("статус отправления"),
}
ALLOWED_FILTERS = ("upper", "lower", "capitalize", "title", "trim", "default", "truncate")
# the expression nodes a template may contain; everything else is refused on save
_ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const,
                  nodes.If, nodes.Filter, nodes.Concat, nodes.CondExpr, nodes.And, nodes.Or,
                  nodes.Not, nodes.Compare, nodes.Operand)


class _Env(SandboxedEnvironment):
    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False


def _make_env(autoescape: bool) -> _Env:
    env = _Env(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=False)
    env.filters = {name: env.filters[name] for name in ALLOWED_FILTERS}
    env.tests = {name: env.tests[name] for name in ("defined", "none")}
    env.globals = {}
    return env


_TEXT_ENV = _make_env(False)
_HTML_ENV = _make_env(True)


@dataclass(frozen=True)
class TemplateProblem:
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return _("строка %(line)s, позиция %(col)s: %(msg)s") % {
            "line": self.line, "col": self.column, "msg": self.message}


def _column(source: str, line: int, needle: str) -> int:
    lines = source.splitlines() or [""]
    text = lines[min(max(line, 1), len(lines)) - 1]
    match = re.search(r"(?<![\w.])" + re.escape(needle) + r"(?!\w)", text) if needle else None
    if match is None and needle:
        pos = text.find(needle)
        return pos + 1 if pos >= 0 else 1
    return match.start() + 1 if match else 1


def validate_template(source: str) -> list[TemplateProblem]:
    """Every problem of a template source, each with its line and column (1-based)."""
    try:
        tree = _TEXT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        lineno = exc.lineno or 1
        return [TemplateProblem(lineno, 1, _("синтаксическая ошибка: %s") % exc.message)]
    problems: list[TemplateProblem] = []
    for node in tree.find_all(nodes.Node):
        lineno = getattr(node, "lineno", 1) or 1
        if isinstance(node, nodes.Name):
            if node.name not in MACROS:
                problems.append(TemplateProblem(lineno, _column(source, lineno, node.name),
                                                _("неизвестный макрос «%s»") % node.name))
        elif isinstance(node, nodes.Filter):
            if node.name not in ALLOWED_FILTERS:
                problems.append(TemplateProblem(lineno, _column(source, lineno, node.name),
                                                _("фильтр «%s» не разрешён") % node.name))
        elif isinstance(node, nodes.Getattr | nodes.Getitem):
            attr = getattr(node, "attr", "") or ""
            problems.append(TemplateProblem(
                lineno, _column(source, lineno, "." + attr if attr else "["),
                _("обращение к атрибутам и элементам запрещено")))
        elif isinstance(node, nodes.Call):
            problems.append(TemplateProblem(lineno, _column(source, lineno, "("),
                                            _("вызов функций запрещён")))
        elif not isinstance(node, _ALLOWED_NODES):
            problems.append(TemplateProblem(lineno, 1, _("конструкция «%s» не разрешена")
                                            % type(node).__name__))
    problems.sort(key=lambda p: (p.line, p.column))
    return problems


class TemplateRefused(ValueError):
    """A template that did not pass :func:`validate_template`."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


_compiled: dict[tuple[str, bool], Any] = {}


def render(source: str, context: dict[str, str], *, html: bool = False) -> str:
    """Renders a template with only the macros (plain strings) in its context."""
    key = (source, html)
    template = _compiled.get(key)
    if template is None:
        problems = validate_template(source)
        if problems:
            raise TemplateRefused(problems)
        template = (_HTML_ENV if html else _TEXT_ENV).from_string(source)
        if len(_compiled) > 2000:
            _compiled.clear()
        _compiled[key] = template
    safe = {k: str(context.get(k, "")) for k in MACROS}
    return str(template.render(safe)).strip()


# --- Russian numerals ------------------------------------------------------------------
def plural_ru(n: int, one: str, few: str, many: str) -> str:
    """The form of a Russian noun after the number ``n``: 1 день, 2 дня, 5 дней, 11 дней,
    21 день, 22 дня."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many


def days_left_text(days: int | None) -> str:
    """«остался 1 день», «осталось 2 дня», «осталось 5 дней»; the deadline's own day is
    «сегодня последний день»; past or unknown: ""."""
    if days is None or days < 0:
        return ""
    if days == 0:
        return "сегодня последний день"
    verb = plural_ru(days, "остался", "осталось", "осталось")
    return f"{verb} {days} {plural_ru(days, 'день', 'дня', 'дней')}"


def sms_length_text(length: SmsLength) -> str:
    """What the template editor shows: «153 символа, 3 SMS (UCS-2)», numerals agreed."""
    from django.utils.translation import get_language

    if (get_language() or "ru").startswith("ru"):
        chars = plural_ru(length.units, "символ", "символа", "символов")
    else:
        chars = "character" if length.units == 1 else "characters"
    return f"{length.units} {chars}, {length.segments} SMS ({length.encoding})"


# --- SMS length ------------------------------------------------------------------------
_GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_EXT = set("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsLength:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets or UTF-16 code units
    segments: int
    per_segment: int

    def as_dict(self) -> dict[str, Any]:
        return {"encoding": self.encoding, "length": self.units, "segments": self.segments,
                "per_segment": self.per_segment}


def sms_length(text: str) -> SmsLength:
    """GSM-7: 160 characters in one SMS, 153 per part; UCS-2 (e.g. Cyrillic): 70 / 67."""
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXT for ch in text):
        units = sum(2 if ch in _GSM7_EXT else 1 for ch in text)
        single, multi, enc = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, enc = 70, 67, "UCS-2"
    if units <= single:
        return SmsLength(enc, units, 1 if units else 0, single)
    return SmsLength(enc, units, -(-units // multi), multi)
