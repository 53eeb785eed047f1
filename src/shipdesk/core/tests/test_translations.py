"""The English catalogue is complete: every user-facing Russian string has its English, with
the same placeholders (a missing one would raise, or show a raw "%(name)s", at run time)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.utils import translation

CATALOGUE = Path(__file__).resolve().parents[2] / "locale" / "en" / "LC_MESSAGES" / "django.po"
PLACEHOLDER = re.compile(r"%\([a-z_]+\)[sd]|%[sd]|\{[a-z_]+\}")


def _entries() -> list[tuple[str, list[str]]]:
    """(msgid, msgstrs) of every entry but the header, strings joined as gettext does."""
    entries: list[tuple[str, list[str]]] = []
    for block in CATALOGUE.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line.startswith("#"):
                continue
            head = re.match(r"(msgid_plural|msgid|msgstr(?:\[\d\])?) (\".*\")$", line)
            if head:
                key, line = head.group(1), head.group(2)
                parts[key] = ""
            if key and line.startswith('"'):
                parts[key] += ast.literal_eval(line)
        if parts.get("msgid"):
            entries.append((parts["msgid"], [v for k, v in parts.items()
                                             if k.startswith("msgstr")]))
    return entries


def test_every_string_has_its_english_with_the_same_placeholders() -> None:
    entries = _entries()
    assert len(entries) > 1000  # the parser read the catalogue
    untranslated = [msgid for msgid, strs in entries if not all(strs)]
    assert untranslated == []
    mismatched = [msgid for msgid, strs in entries
                  if any(sorted(PLACEHOLDER.findall(s)) != sorted(PLACEHOLDER.findall(msgid))
                         for s in strs[:1])]
    assert mismatched == []


@pytest.mark.parametrize("msgid, english", [
    ("Отписка от уведомлений", "Unsubscribe from notifications"),
    ("трек-номер", "tracking number"),
])
def test_the_compiled_catalogue_is_the_one_django_serves(msgid: str, english: str) -> None:
    with translation.override("en"):
        assert translation.gettext(msgid) == english
