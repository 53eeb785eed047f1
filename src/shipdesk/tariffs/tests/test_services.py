from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from shipdesk.carriers.base import Address, CarrierError, ParcelRequest, Party, RateQuote
from shipdesk.carriers.models import CarrierAccount
from shipdesk.core.errors import Forbidden, ValidationFailed
from shipdesk.tariffs import services
from shipdesk.tariffs.services import DATA_DIR
from shipdesk.tenancy.models import Role
from shipdesk.tenancy.services import Actor


def rp_data(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(json.loads((DATA_DIR / "russian_post.json").read_text("utf-8")))
    data.update(changes)
    return data


def parcel(service: str = "POSTAL_PARCEL", to: str = "644015", weight: int = 1000,
           **kw: Any) -> ParcelRequest:
    return ParcelRequest(reference="", service_code=service,
                         sender=Party("", address=Address(index="109440")),
                         recipient=Party("", address=Address(index=to)), weight_g=weight, **kw)


def test_rate_many_uses_the_shipped_table_and_keeps_order(org: Any) -> None:
    quotes = services.rate_many(organization=org, carrier_code="russian_post", requests=[
        parcel(), parcel(to="999999"), parcel(weight=1500), parcel(service="NOPE")])
    assert quotes[0] is not None and quotes[0].total == Decimal("367.90")
    assert quotes[1] is None
    assert quotes[2] is not None and quotes[2].total > quotes[0].total
    assert quotes[3] is None
    explained = services.rate_many_explained(organization=org, carrier_code="russian_post",
                                             requests=[parcel(to="999999")])
    assert "не найден в таблице зон" in str(explained[0])


def test_unknown_carrier_rates_nothing(org: Any) -> None:
    assert services.rate_many(organization=org, carrier_code="nobody",
                              requests=[parcel()]) == [None]


def test_a_loaded_table_takes_effect_on_its_date(org: Any) -> None:
    newer = rp_data(effective_from="2026-03-01")
    newer["services"]["POSTAL_PARCEL"]["base"]["4"] = "300.00"
    services.tariff_table_load(data=newer, source="rp-2026-03.json")
    before = services.tariff_table_current(organization=org, carrier_code="russian_post",
                                           on=date(2026, 2, 28))
    after = services.tariff_table_current(organization=org, carrier_code="russian_post",
                                          on=date(2026, 3, 1))
    assert before is not None and after is not None
    assert before.rate(parcel(weight=400)).total == Decimal("314.50")  # type: ignore[union-attr]
    assert after.rate(parcel(weight=400)).total == Decimal("360.00")  # type: ignore[union-attr]


def test_reloading_the_same_date_replaces_and_recompiles(org: Any) -> None:
    first = rp_data(effective_from="2026-02-01")
    services.tariff_table_load(data=first)
    on = date(2026, 2, 2)
    a = services.tariff_table_current(organization=org, carrier_code="russian_post", on=on)
    second = rp_data(effective_from="2026-02-01")
    second["services"]["POSTAL_PARCEL"]["base"]["4"] = "100.00"
    services.tariff_table_load(data=second)
    b = services.tariff_table_current(organization=org, carrier_code="russian_post", on=on)
    assert a is not None and b is not None
    assert a.rate(parcel(weight=400)).total != b.rate(parcel(weight=400)).total  # type: ignore[union-attr]


def test_an_organizations_contract_table_wins_only_for_it(org: Any, other_org: Any) -> None:
    common = rp_data(effective_from="2026-02-01")
    own = rp_data(effective_from="2026-02-01")
    own["services"]["POSTAL_PARCEL"]["base"]["4"] = "100.00"
    services.tariff_table_load(data=common)
    services.tariff_table_load(data=own, organization=org)
    on = date(2026, 2, 2)
    mine = services.tariff_table_current(organization=org, carrier_code="russian_post", on=on)
    theirs = services.tariff_table_current(organization=other_org, carrier_code="russian_post",
                                           on=on)
    assert mine.rate(parcel(weight=400)).total == Decimal("120.00")  # type: ignore[union-attr]
    assert theirs.rate(parcel(weight=400)).total == Decimal("314.50")  # type: ignore[union-attr]


def test_broken_table_is_refused_whole(db: Any) -> None:
    bad = rp_data()
    bad["services"]["EMS"]["per_step"]["2"] = "-1"
    with pytest.raises(ValidationFailed, match=r"services\.EMS\.per_step\.2"):
        services.tariff_table_load(data=bad)
    from shipdesk.tariffs.models import TariffTable

    assert not TariffTable.objects.exists()


def test_load_tariffs_command(db: Any, tmp_path: Path) -> None:
    good = tmp_path / "rp.json"
    good.write_text(json.dumps(rp_data(effective_from="2027-01-01")), "utf-8")
    out = StringIO()
    call_command("load-tariffs", str(good), stdout=out)
    assert "russian_post, действует с 01.01.2027" in out.getvalue()
    broken = tmp_path / "broken.json"
    broken.write_bytes(b"\xff{not json")
    with pytest.raises(CommandError, match="не является JSON"):
        call_command("load-tariffs", str(broken))
    with pytest.raises(CommandError, match="Не удалось прочитать"):
        call_command("load-tariffs", str(tmp_path / "missing.json"))


def test_rule_is_per_organization_and_needs_settings_right(actor: Any, make_user: Any) -> None:
    assert services.rating_rule_get(organization=actor.organization) == "cheapest"
    services.rating_rule_set(actor=actor, prefer="fastest")
    assert services.rating_rule_get(organization=actor.organization) == "fastest"
    with pytest.raises(ValidationFailed):
        services.rating_rule_set(actor=actor, prefer="random")
    operator = Actor(organization=actor.organization, role=Role.OPERATOR, user=make_user())
    with pytest.raises(Forbidden):
        services.rating_rule_set(actor=operator, prefer="cheapest")


# --- rate shopping against the sandbox emulator (loopback HTTP) -------------------------

@pytest.fixture
def sandbox_url() -> Iterator[str]:
    from shipdesk.carriers.emulation import start
    from shipdesk.carriers.sandbox.emulator import SandboxEmulator

    running = start(SandboxEmulator())
    yield running.url
    running.stop()


def _accounts(org: Any, sandbox_url: str) -> None:
    from shipdesk.carriers.sandbox.emulator import API_KEY

    CarrierAccount.objects.create(organization=org, carrier_code="sandbox", name="Песочница",
                                  base_url=sandbox_url, credentials={"api_key": API_KEY},
                                  is_sandbox=True)
    CarrierAccount.objects.create(organization=org, carrier_code="russian_post",
                                  name="Почта России", base_url="http://127.0.0.1:9",
                                  settings={"rate_by_table": True})


def test_rate_shop_compares_api_and_table_and_picks_by_rule(actor: Any, sandbox_url: str) -> None:
    _accounts(actor.organization, sandbox_url)
    offers = services.rate_shop(actor=actor, request=parcel(service="", to="644015", weight=1000))
    by = {(o.carrier_code, o.quote.service_code): o for o in offers if o.quote}
    assert by[("sandbox", "standard")].source == "api"
    assert by[("sandbox", "standard")].quote.total == Decimal("330.00")  # type: ignore[union-attr]
    assert by[("russian_post", "POSTAL_PARCEL")].source == "table"
    assert by[("russian_post", "POSTAL_PARCEL")].quote.lines  # type: ignore[union-attr]
    chosen = [o for o in offers if o.chosen]
    assert len(chosen) == 1 and chosen[0] is offers[0]
    assert offers[0].quote.total == min(o.quote.total for o in offers if o.quote)  # type: ignore[union-attr]

    services.rating_rule_set(actor=actor, prefer="fastest")
    offers = services.rate_shop(actor=actor, request=parcel(service="", to="644015"))
    fastest = min(o.quote.days_max for o in offers if o.quote)  # type: ignore[union-attr,type-var]
    assert offers[0].chosen and offers[0].quote.days_max == fastest  # type: ignore[union-attr]


def test_rate_shop_falls_back_to_the_table_when_the_api_fails(actor: Any) -> None:
    CarrierAccount.objects.create(organization=actor.organization, carrier_code="sandbox",
                                  name="Песочница", base_url="http://127.0.0.1:9",
                                  credentials={"api_key": "x"})
    offers = services.rate_shop(actor=actor, request=parcel(service="standard", weight=1000))
    assert len(offers) == 1
    assert offers[0].source == "table"
    assert offers[0].quote is not None and offers[0].quote.total == Decimal("330.00")
    assert "API перевозчика не ответил" in offers[0].note


def test_rate_shop_sees_only_its_organizations_accounts(actor: Any, other_org: Any,
                                                        sandbox_url: str) -> None:
    _accounts(other_org, sandbox_url)
    assert services.rate_shop(actor=actor, request=parcel()) == []


def test_rate_shop_lists_unrateable_accounts_last_with_the_reason(actor: Any,
                                                                  sandbox_url: str) -> None:
    _accounts(actor.organization, sandbox_url)
    offers = services.rate_shop(actor=actor, request=parcel(service="", weight=50_001))
    assert offers[-1].quote is None
    assert offers[-1].carrier_code == "russian_post"
    assert "Ни один вид отправления" in offers[-1].error


@pytest.fixture
def russian_post_url() -> Iterator[str]:
    """The Russian Post emulator on a port of this package's range (18400–18499)."""
    from shipdesk.carriers.russian_post import emulator

    for port in range(18400, 18500):
        try:
            server = emulator.serve("127.0.0.1", port, config=emulator.Config(), speed=1.0)
            break
        except OSError:
            continue
    else:
        raise RuntimeError("no free port in 18400-18499")
    yield server.url
    server.shutdown()


def test_rate_shop_uses_the_russian_post_tariff_api(actor: Any, russian_post_url: str) -> None:
    CarrierAccount.objects.create(
        organization=actor.organization, carrier_code="russian_post", name="Почта России",
        base_url=russian_post_url,
        credentials={"token": "test-token", "login": "test", "password": "test"},
        settings={"tracking_url": russian_post_url, "index_from": "109440"})
    offers = services.rate_shop(actor=actor, request=parcel(weight=1000))
    assert offers, offers
    assert all(o.source == "api" for o in offers)
    assert offers[0].chosen
    assert offers[0].quote is not None and offers[0].quote.total > 0
    assert offers[0].quote.service_code == "POSTAL_PARCEL"
    # asked from a worker thread, the exchange is still in the organization's log
    from shipdesk.carriers.models import CarrierExchange

    logged = CarrierExchange.objects.filter(organization=actor.organization)
    assert logged.exists() and all(e.status == 200 for e in logged)


class _FakeRatingAdapter:
    """Stands in for a carrier's adapter: answers (after meeting the others at a barrier,
    which only works when they are asked at the same time), blocks, or fails."""

    def __init__(self, behaviour: str, barrier: threading.Barrier, release: threading.Event,
                 total: str) -> None:
        self.behaviour, self.barrier, self.release, self.total = (
            behaviour, barrier, release, total)

    def rate(self, request: ParcelRequest) -> list[RateQuote]:
        if self.behaviour == "slow":
            self.release.wait(30)
            return []
        if self.behaviour == "fails":
            raise CarrierError("503 Service Unavailable")
        self.barrier.wait(5)  # raises BrokenBarrierError if the others are not asked too
        return [RateQuote(service_code="standard", service_name="Стандарт",
                          total=Decimal(self.total), days_min=2, days_max=4)]


@pytest.fixture
def fake_carriers(actor: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from shipdesk.carriers import registry

    barrier, release = threading.Barrier(2), threading.Event()
    behaviour = {"Быстрый А": ("answers", "300.00"), "Быстрый Б": ("answers", "250.00"),
                 "Медленный": ("slow", ""), "Сломанный": ("fails", "")}
    for name in behaviour:
        CarrierAccount.objects.create(organization=actor.organization, carrier_code="sandbox",
                                      name=name, base_url="http://127.0.0.1:9",
                                      credentials={"api_key": "x"})
    monkeypatch.setattr(registry, "adapter_for_account", lambda account: _FakeRatingAdapter(
        behaviour[account.name][0], barrier, release, behaviour[account.name][1]))
    monkeypatch.setattr(services, "tariff_table_current", lambda **kw: None)
    monkeypatch.setattr(services, "RATE_SHOP_DEADLINE_SECONDS", 1.0)
    yield {"release": release}
    release.set()


def test_rate_shop_asks_carriers_concurrently_and_shows_who_did_not_answer(
        actor: Any, fake_carriers: dict[str, Any]) -> None:
    offers = services.rate_shop(actor=actor, request=parcel(service="standard"))
    by_name = {o.account_name: o for o in offers}
    # both fast carriers met at the barrier: they were asked at the same time
    assert by_name["Быстрый Б"].quote.total == Decimal("250.00")  # type: ignore[union-attr]
    assert by_name["Быстрый А"].quote.total == Decimal("300.00")  # type: ignore[union-attr]
    assert offers[0].account_name == "Быстрый Б" and offers[0].chosen
    assert by_name["Медленный"].quote is None
    assert by_name["Медленный"].error == "API перевозчика не ответил: нет ответа за 1 с"
    assert by_name["Сломанный"].quote is None
    assert "503 Service Unavailable" in by_name["Сломанный"].error
    assert [o.quote is None for o in offers] == [False, False, True, True]
