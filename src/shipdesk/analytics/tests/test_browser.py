"""In a real (headless) Chromium: the statistics page draws its charts with the figures
of the generated data, and clicking a region opens its shipments."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest

pytestmark = [pytest.mark.browser]


def test_charts_render_with_their_values_and_click_through(
        transactional_db: Any, live_server: Any, chromium: Any, owner: Any,
        generated: Any) -> None:
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(15_000)
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", owner.email)
    page.fill("input[name=password]", "Vkusnyi-Pirog-42")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    page.goto(f"{live_server.url}/analytics/?" + urlencode(generated["params"]))
    tile = page.locator('svg[data-chart="regions_volume"] rect[data-label="Омская область"]')
    assert tile.get_attribute("data-value") == "12"
    box = tile.bounding_box()
    assert box is not None and box["width"] > 10 and box["height"] > 10  # drawn, visible
    columns = page.locator('svg[data-chart="volume"] a rect')
    assert sum(int(columns.nth(i).get_attribute("data-value") or 0)
               for i in range(columns.count())) == 20
    bar = page.locator('svg[data-chart="carrier_delivery_rate"] a rect').first
    assert bar.get_attribute("data-value") == "40.0"  # 8 of 20 delivered
    assert bar.bounding_box()["width"] > 100  # type: ignore[index]
    on_time = page.locator('svg[data-chart="carrier_on_time"] a rect').first
    assert on_time.get_attribute("data-value") == "20.0"  # 2 of 10 within the control term
    assert on_time.bounding_box()["width"] > 10  # type: ignore[index]
    tile.click()
    page.wait_for_url("**/shipments/**")
    shown = page.locator('a[href^="/shipments/"]').evaluate_all(
        "links => links.map(a => a.getAttribute('href')).filter(h => /^\\/shipments\\/\\d+\\/$/.test(h))")
    assert {int(h.strip("/").split("/")[-1]) for h in shown} == {
        s.pk for s in generated["omsk"]}
