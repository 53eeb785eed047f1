"""Shop-editable templates in a sandbox, and the SMS length/segment counter.

A template may use only its macros (plain strings), literals, ``if``/``else`` and a few text
filters. Anything else — attribute or item access (``x.__class__``), calls, loops,
arithmetic, unknown names — is refused when the template is saved, with its line and
column; rendering is done by Jinja2's ``SandboxedEnvironment`` with attribute access and
calls switched off as a second wall.

Limits, by construction (every source goes through :func:`validate_template` before Jinja2
compiles it, and :func:`render` checks them again for sources stored before they existed):

- size: :data:`MAX_SOURCE_CHARS` for any template (the services hold each field to its
  channel's lower limit, :data:`SOURCE_LIMITS`);
- nesting: :data:`MAX_DEPTH` levels, counted first on the token stream (blocks and
  brackets, without recursion) and then on the parsed tree; a ``RecursionError`` from the
  parser, the compiler or the renderer becomes a refusal, never a server error;
- output: :data:`MAX_OUTPUT_CHARS`, counted while rendering (the rendering stops there);
- the compiled-template cache: at most :data:`CACHE_MAX_BYTES` of template source, least
  recently used evicted first, keyed by the source's hash.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, nodes
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


# The largest template source of any channel, in characters. The services hold each field to
# its own limit below; rendering refuses anything above this one outright.
MAX_SOURCE_CHARS = 20_000
SOURCE_LIMITS: dict[str, int] = {
    "email": 20_000,  # an HTML letter with its markup: the default ones are under 600
    "webhook": 20_000,
    "sms": 2_000,  # far above what a shop's segment limit lets out (20 parts ≈ 1,340)
    "subject": 300,  # the column's width
}
# Levels of nesting: blocks inside blocks, brackets inside brackets, filters and operators
# applied to each other. Real templates use fewer than ten; Jinja2's generated Python stays
# far below the interpreter's own limits (100 levels of indentation, the recursion limit).
MAX_DEPTH = 30
# Characters a rendering may produce: macros are short strings, so only a template that
# repeats them thousands of times gets there.
MAX_OUTPUT_CHARS = 100_000
# Source bytes the compiled-template cache may hold (a compiled template takes a few times
# its source in memory).
CACHE_MAX_BYTES = 2_000_000
_OPENING_TAGS = frozenset({"if", "for", "macro", "call", "filter", "with", "block",
                           "autoescape", "trans"})


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
    if len(source) > MAX_SOURCE_CHARS:
        return [TemplateProblem(1, 1, too_long_message(len(source), MAX_SOURCE_CHARS))]
    too_deep = _token_depth_problem(source)
    if too_deep is not None:
        return [too_deep]
    try:
        tree = _TEXT_ENV.parse(source)
    except TemplateSyntaxError as exc:
        lineno = exc.lineno or 1
        return [TemplateProblem(lineno, 1, _("синтаксическая ошибка: %s") % exc.message)]
    except RecursionError:
        return [TemplateProblem(1, 1, _too_deep_message())]
    too_deep = _tree_depth_problem(tree)
    if too_deep is not None:
        return [too_deep]
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


def too_long_message(length: int, limit: int) -> str:
    return _("шаблон слишком длинный: %(n)s символов при пределе %(m)s") % {
        "n": length, "m": limit}


def _too_deep_message() -> str:
    return _("слишком глубокая вложенность: больше %s уровней условий, скобок или фильтров") \
        % MAX_DEPTH


def _token_depth_problem(source: str) -> TemplateProblem | None:
    """Blocks inside blocks and brackets inside brackets, counted on Jinja2's token stream
    (the lexer does not recurse), before the parser (which does) sees them."""
    blocks = brackets = 0
    after_block_begin = False
    try:
        for lineno, kind, value in _TEXT_ENV.lex(source):
            if kind == "whitespace":
                continue
            if kind == "block_begin":
                after_block_begin = True
                continue
            if after_block_begin and kind == "name":
                if value in _OPENING_TAGS:
                    blocks += 1
                elif value.startswith("end"):
                    blocks = max(blocks - 1, 0)
            after_block_begin = False
            if kind == "operator" and value in {"(", "[", "{"}:
                brackets += 1
            elif kind == "operator" and value in {")", "]", "}"}:
                brackets = max(brackets - 1, 0)
            if blocks + brackets > MAX_DEPTH:
                return TemplateProblem(lineno, 1, _too_deep_message())
    except TemplateSyntaxError:
        return None  # the parser reports it with its own words
    return None


def _tree_depth_problem(tree: nodes.Node) -> TemplateProblem | None:
    """The parsed tree's depth, measured without recursion: chains the parser builds in a
    loop (``a and b and c …``, ``x|upper|lower|…``) nest as deeply as brackets do."""
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH + 2:  # Template and Output hold every template's content
            return TemplateProblem(getattr(node, "lineno", 1) or 1, 1, _too_deep_message())
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return None


class TemplateRefused(ValueError):
    """A template that did not pass :func:`validate_template`."""

    def __init__(self, problems: list[TemplateProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class _CompiledCache:
    """Compiled templates, least recently used evicted first once their sources together
    exceed ``max_bytes``. Keyed by the source's SHA-256 (a key of fixed size, however long
    the source); shared by the threads of a worker."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.total_bytes = 0
        self._items: OrderedDict[tuple[str, bool], tuple[Any, int]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: tuple[str, bool]) -> Any:
        with self._lock:
            item = self._items.get(key)
            if item is None:
                return None
            self._items.move_to_end(key)
            return item[0]

    def put(self, key: tuple[str, bool], template: Any, size: int) -> None:
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self.total_bytes -= old[1]
            self._items[key] = (template, size)
            self.total_bytes += size
            while self.total_bytes > self.max_bytes:
                _key, (_template, evicted) = self._items.popitem(last=False)
                self.total_bytes -= evicted

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.total_bytes = 0


_compiled = _CompiledCache(CACHE_MAX_BYTES)


def render(source: str, context: dict[str, str], *, html: bool = False,
           max_output: int | None = None) -> str:
    """Renders a template with only the macros (plain strings) in its context.

    Raises :class:`TemplateRefused` for a template that breaks the rules or a limit
    (size, nesting, output), whenever it was stored."""
    key = _cache_key(source, html=html)
    template = _compiled.get(key)
    if template is None:
        problems = validate_template(source)
        if problems:
            raise TemplateRefused(problems)
        try:
            template = (_HTML_ENV if html else _TEXT_ENV).from_string(source)
        except (RecursionError, SyntaxError, MemoryError, TemplateError) as exc:
            # Jinja2's compiler recurses and the Python it generates nests as the template
            # does: whatever slipped past the checks above is still a refusal.
            raise TemplateRefused([_render_problem(exc)]) from None
        _compiled.put(key, template, _source_bytes(source))
    safe = {k: str(context.get(k, "")) for k in MACROS}
    max_output = MAX_OUTPUT_CHARS if max_output is None else max_output
    parts: list[str] = []
    produced = 0
    try:
        for chunk in template.generate(safe):
            produced += len(chunk)
            if produced > max_output:
                raise TemplateRefused([TemplateProblem(1, 1, _(
                    "текст после подстановки длиннее %s символов") % max_output)])
            parts.append(chunk)
    except (RecursionError, TemplateError) as exc:
        raise TemplateRefused([_render_problem(exc)]) from None
    return "".join(parts).strip()


def _source_bytes(source: str) -> int:
    return len(source.encode("utf-8", "surrogatepass"))


def _cache_key(source: str, *, html: bool) -> tuple[str, bool]:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest(), html


def _render_problem(exc: BaseException) -> TemplateProblem:
    if isinstance(exc, RecursionError | SyntaxError | MemoryError):
        return TemplateProblem(1, 1, _too_deep_message())
    return TemplateProblem(getattr(exc, "lineno", None) or 1, 1,
                           _("шаблон не отрисован: %s") % exc)


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
