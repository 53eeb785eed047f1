"""A finished look, checked in Chromium on every page of a demo organization, on a laptop
(1366 px) and a phone (390 px): the page never scrolls sideways (a wide table scrolls in its
own box), no two form controls overlap, no card's value is cut off, and at 1366 px the menu
stays on one line, clear of the organization switch."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from shipdesk.core.tests import pagewalk

pytestmark = [pytest.mark.browser]

WIDTHS = ((1366, 768), (390, 844))
# A route is looked at with this many of its objects (the first ones: one per state).
PER_ROUTE = 3

PROBLEMS_JS = """() => {
  const out = [];
  const overflow = document.documentElement.scrollWidth - window.innerWidth;
  if (overflow > 0) {
    const wide = [...document.querySelectorAll('body *')]
      .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
      .filter(e => !e.closest('.table-wrap') || e.classList.contains('table-wrap'))
      .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : ''));
    out.push(`scrolls sideways by ${overflow}px (${wide.join(', ')})`);
  }
  const controls = [...document.querySelectorAll(
      'input:not([type=hidden]):not([type=checkbox]):not([type=radio]), select, textarea, button')]
    .filter(e => e.checkVisibility({checkOpacity: true, checkVisibilityCSS: true}))
    .map(e => [e, e.getBoundingClientRect()]).filter(([, r]) => r.width > 0 && r.height > 0);
  const name = e => e.name || e.id || e.textContent.trim().slice(0, 20) || e.tagName;
  for (let i = 0; i < controls.length; i++) {
    for (let j = i + 1; j < controls.length; j++) {
      const a = controls[i][1], b = controls[j][1];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 2 && h > 2) out.push(`«${name(controls[i][0])}» overlaps «${name(controls[j][0])}»`);
    }
  }
  for (const e of document.querySelectorAll('.card-value')) {
    if (e.scrollWidth > e.clientWidth + 1) out.push(`cut off: «${e.textContent.trim()}»`);
  }
  if (window.innerWidth >= 1366) {
    const tops = new Set([...document.querySelectorAll('.mainnav > a, .mainnav > .nav-group')]
      .map(e => Math.round(e.getBoundingClientRect().top)));
    if (tops.size > 1) out.push('the menu wraps onto a second line');
    const right = Math.max(...[...document.querySelectorAll('.mainnav > a, .mainnav > .nav-group')]
      .map(e => e.getBoundingClientRect().right));
    const next = document.querySelector('.topbar .org-switch');
    if (next && next.offsetWidth && right > next.getBoundingClientRect().left + 1)
      out.push('the menu runs under the organization switch');
  }
  return out;
}"""


def test_every_page_fits_a_laptop_and_a_phone(transactional_db: Any, live_server: Any,
                                              chromium: Any, make_org: Any) -> None:
    site = pagewalk.demo_site(make_org)
    client = Client()
    client.force_login(site.owner)
    # whole pages only: a fragment htmx puts into a page is looked at inside it
    paths = [path for path, _response in pagewalk.html_pages(client, site.organization,
                                                             per_route=PER_ROUTE)]
    assert len(paths) > 40
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    problems: list[str] = []
    for width, height in WIDTHS:
        context = chromium.new_context(viewport={"width": width, "height": height},
                                       locale="ru-RU")
        context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session,
                              "url": live_server.url}])
        page = context.new_page()
        page.set_default_timeout(20_000)
        for path in paths:
            page.goto(live_server.url + path, wait_until="load")
            if page.locator("[hx-trigger*=revealed], [hx-trigger*=load]").count():
                page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                page.wait_for_load_state("networkidle")
                page.evaluate("window.scrollTo(0, 0)")
            problems += [f"{width}px {path}: {p}" for p in page.evaluate(PROBLEMS_JS)]
        context.close()
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_page_that_scrolls_sideways(chromium: Any) -> None:
    """The check itself, on a page made to fail it."""
    page = chromium.new_page(viewport={"width": 390, "height": 844})
    page.set_content('<div style="width:600px">wide</div><input style="position:absolute;'
                     'left:0;top:0"><input style="position:absolute;left:5px;top:2px">'
                     '<div class="card-value" style="width:50px;overflow:hidden;white-space:'
                     'nowrap">12345678901234567890</div>')
    found = page.evaluate(PROBLEMS_JS)
    assert any("scrolls sideways" in p for p in found)
    assert any("overlaps" in p for p in found)
    assert any("cut off" in p for p in found)
