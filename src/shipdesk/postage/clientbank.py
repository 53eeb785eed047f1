"""Reading bank statements in 1C's "Client Bank" exchange format (``1CClientBankExchange``),
domain.md §7. Pure: bytes in, typed documents out. ``Кодировка=DOS`` is CP866, ``Windows``
CP1251; unknown keys and document types are kept, never a failure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

MAGIC = "1CClientBankExchange"


class StatementError(ValueError):
    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class BankDocument:
    kind: str
    line: int  # where its section starts (1-based), for messages
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, key: str) -> str:
        return self.fields.get(key, "").strip()

    @property
    def purpose(self) -> str:
        parts = [self.get("НазначениеПлатежа")] + [self.get(f"НазначениеПлатежа{i}")
                                                   for i in range(1, 7)]
        return " ".join(p for p in parts if p)

    def amount(self) -> Decimal:
        try:
            return Decimal(self.get("Сумма").replace(",", ".")).quantize(Decimal("0.01"))
        except InvalidOperation as exc:
            raise StatementError(f"Сумма={self.get('Сумма')!r}", self.line) from exc

    def date(self, key: str) -> dt.date | None:
        value = self.get(key)
        if not value:
            return None
        try:
            return _date(value)
        except ValueError as exc:
            raise StatementError(f"{key}={value!r}", self.line) from exc

    def dedupe_key(self) -> str:
        """(Номер, Дата, Сумма, ПлательщикИНН, ПлательщикСчет) — §7."""
        payer_account = self.get("ПлательщикСчет") or self.get("ПлательщикРасчСчет")
        return "|".join((self.get("Номер"), self.get("Дата"), f"{self.amount():.2f}",
                         self.get("ПлательщикИНН"), payer_account))


@dataclass
class BankStatement:
    encoding: str
    header: dict[str, str]
    accounts: list[str]
    documents: list[BankDocument]

    def incoming(self) -> list[BankDocument]:
        """Documents credited to one of the statement's own accounts."""
        own = set(self.accounts)
        return [d for d in self.documents
                if (d.get("ПолучательСчет") or d.get("ПолучательРасчСчет")) in own
                and d.get("ДатаПоступило")]


def _date(value: str) -> dt.date:
    day, month, year = value.split(".")
    return dt.date(int(year), int(month), int(day))


def _decode(content: bytes) -> tuple[str, str]:
    # The declaration is ASCII-safe in neither encoding, so look for both spellings.
    head = content[:2000]
    for encoding in ("cp866", "cp1251"):
        try:
            text = head.decode(encoding)
        except UnicodeDecodeError:
            continue
        for line in text.splitlines():
            if line.startswith("Кодировка="):
                declared = line.partition("=")[2].strip().upper()
                enc = "cp866" if declared == "DOS" else "cp1251"
                return content.decode(enc, errors="replace"), enc
    if content.startswith(b"\xef\xbb\xbf"):
        return content[3:].decode("utf-8", errors="replace"), "utf-8"
    return content.decode("cp1251", errors="replace"), "cp1251"


def is_statement(content: bytes) -> bool:
    return content.lstrip(b"\xef\xbb\xbf").startswith(MAGIC.encode())


def parse(content: bytes) -> BankStatement:
    if not is_statement(content):
        raise StatementError("first line is not 1CClientBankExchange", 1)
    text, encoding = _decode(content)
    header: dict[str, str] = {}
    accounts: list[str] = []
    documents: list[BankDocument] = []
    current: BankDocument | None = None
    in_account = False
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line == MAGIC:
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if key == "СекцияДокумент":
            current = BankDocument(kind=value.strip(), line=number)
            continue
        if key == "КонецДокумента":
            if current is None:
                raise StatementError("КонецДокумента without СекцияДокумент", number)
            documents.append(current)
            current = None
            continue
        if key == "СекцияРасчСчет":
            in_account = True
            continue
        if key == "КонецРасчСчет":
            in_account = False
            continue
        if key == "КонецФайла":
            break
        if not sep:
            raise StatementError(f"not Key=Value: {line[:60]!r}", number)
        if current is not None:
            current.fields[key] = value
        elif key == "РасчСчет":
            if value.strip() and value.strip() not in accounts:
                accounts.append(value.strip())
        elif not in_account:
            header[key] = value
    if current is not None:
        raise StatementError("document section not closed", current.line)
    return BankStatement(encoding=encoding, header=header, accounts=accounts,
                         documents=documents)


def header_date(statement: BankStatement, key: str) -> dt.date | None:
    try:
        return _date(statement.header.get(key, "").strip())
    except ValueError:
        return None
