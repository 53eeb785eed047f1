"""Words, not codes: every page and document of a demo organization, in Russian and in
English, is read as its user reads it (visible text, PDF text, spreadsheet cells), and no
stored code (``numbered``, ``POSTAL_PARCEL``, ``russian_post``, ``demo.load``...) may show.
The codes are taken from the models' choices and the carriers' tables, so a new choice is
checked without editing this test."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from shipdesk.core.tests import pagewalk

pytestmark = pytest.mark.django_db


@pytest.fixture
def site(make_org: Any) -> pagewalk.Site:
    return pagewalk.demo_site(make_org)


def _walk(client: Client, site: pagewalk.Site, language: str, codes: dict[str, str]
          ) -> tuple[int, int, list[str]]:
    client.cookies["django_language"] = language
    problems: list[str] = []
    pages = documents = 0
    for name, path in pagewalk.page_urls(site.organization):
        response = client.get(path)
        if response.status_code in (301, 302, 303, 405):
            continue
        if response.status_code >= 500:
            problems.append(f"{language} {path} ({name}): answered {response.status_code}")
            continue
        text = pagewalk.response_text(response)
        if text is None:
            continue
        if response.get("Content-Type", "").startswith("text/html"):
            pages += 1
        else:
            documents += 1
        for code in pagewalk.codes_in(text, codes):
            at = text.find(code)
            problems.append(f"{language} {path} ({name}): «{code}» ({codes[code]}) in "
                            f"«…{text[max(0, at - 60):at + 60]}…»")
    return pages, documents, problems


def test_no_page_or_document_shows_a_raw_code(site: pagewalk.Site) -> None:
    client = Client()
    client.force_login(site.owner)
    codes = pagewalk.raw_codes(site.organization)
    assert {"numbered", "POSTAL_PARCEL", "russian_post", "demo.load",
            "WITH_DECLARED_VALUE_AND_CASH_ON_DELIVERY", "email"} <= set(codes)
    pages, documents, problems = _walk(client, site, "ru", codes)
    assert pages > 40 and documents > 5, (pages, documents)
    english = {code: where for code, where in codes.items() if pagewalk.code_like(code)}
    _pages, _documents, english_problems = _walk(client, site, "en", english)
    problems += english_problems
    assert not problems, f"{len(problems)} raw codes:\n" + "\n".join(problems[:80])


def test_the_walk_sees_a_raw_code_when_a_page_shows_one() -> None:
    """The detector itself: a code in a sentence is found, the same letters inside a word,
    an address or a number are not."""
    codes = {"numbered": "state", "POSTAL_PARCEL": "mail type", "demo.load": "audit"}
    assert pagewalk.codes_in("Было numbered → стало", codes) == ["numbered"]
    assert pagewalk.codes_in("вид POSTAL_PARCEL", codes) == ["POSTAL_PARCEL"]
    assert pagewalk.codes_in("действие demo.load.", codes) == ["demo.load"]
    assert pagewalk.codes_in("renumbered, POSTAL_PARCELS", codes) == []
    text = pagewalk.visible_text('<p>ok <a href="/x?state=numbered">x</a> '
                                 "<code>demo.load</code> http://h/numbered</p>")
    assert pagewalk.codes_in(text, codes) == []
