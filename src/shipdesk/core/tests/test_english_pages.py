"""English complete: every page of a demo organization in English, read node by node (a
label, a cell, a button), shows no Russian except the organization's own data (names,
addresses, its accounts' names: every Cyrillic value of its rows is taken out first, and
what templates mark ``user-data`` / ``stored-text``).

One walk, two checks in order, because the English catalogue is filled after merging
(``scripts/messages.sh``):

- first, a node that the catalogue *can* translate yet shows in Russian: a string evaluated
  before the language was known (a module-level ``gettext``) or never passed through gettext;
- then the whole check: a string added without its English (``scripts/messages.sh``, then
  the msgstr) fails it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import trans_real

from shipdesk.core.tests import pagewalk

pytestmark = pytest.mark.django_db

PER_ROUTE = 3


@pytest.fixture
def english_pages(make_org: Any) -> list[tuple[str, list[str]]]:
    """(path, Russian nodes) of every English page of a demo organization."""
    site = pagewalk.demo_site(make_org)
    data = pagewalk.user_strings(site.organization)
    client = Client()
    client.force_login(site.owner)
    client.cookies["django_language"] = "en"
    pages = [(path, pagewalk.cyrillic_nodes(response.content.decode(), data))
             for path, response in pagewalk.html_pages(client, site.organization,
                                                       per_route=PER_ROUTE)]
    assert len(pages) > 40
    return pages


def _translated_msgids() -> set[str]:
    with translation.override("en"):
        catalog = trans_real.translation("en")._catalog  # type: ignore[attr-defined]
        return {key for key, value in catalog.items()
                if isinstance(key, str) and value and value != key and pagewalk.CYRILLIC.search(key)}


def test_english_pages_have_no_russian_outside_user_data(
        english_pages: list[tuple[str, list[str]]]) -> None:
    translated = _translated_msgids()
    assert len(translated) > 100  # the catalogue is there
    untranslated_in_use = [f"{path}: «{node}»" for path, nodes in english_pages for node in nodes
                           if node.rstrip(":.…*").strip() in translated]
    assert not untranslated_in_use, "shown in Russian though the catalogue has English:\n" + (
        "\n".join(sorted(set(untranslated_in_use))[:80]))
    problems = [f"{path}: «{node}»" for path, nodes in english_pages for node in nodes]
    assert not problems, f"{len(problems)} Russian nodes on English pages:\n" + "\n".join(
        sorted(set(problems))[:150])
