"""Every lost, stuck, damaged, partly delivered, unpaid, unreturned and overcharged parcel of
a generated history is found, with its evidence, and no healthy parcel or near miss is."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

from shipdesk.claims import services
from shipdesk.claims.models import Candidate, ClaimRule
from shipdesk.claims.tests.conftest import NOW


def _found(org: Any) -> dict[str, set[int]]:
    found: dict[str, set[int]] = defaultdict(set)
    for shipment_id, kind in Candidate.objects.filter(organization=org).values_list(
            "shipment_id", "kind"):
        found[kind].add(shipment_id)
    return found


def test_every_problem_parcel_is_found_and_no_healthy_one(world: Any, actor: Any) -> None:
    counts = services.candidates_detect(actor=actor, now=NOW)
    found = _found(world.org)
    for kind, ids in world.expected.items():
        assert found[kind] == ids, (kind, len(found[kind]), len(ids))
        assert counts[kind] == len(ids)
    flagged = set().union(*found.values())
    assert not flagged & world.healthy
    assert not flagged & world.near_misses
    # the evidence, in words, of one of each
    stuck = Candidate.objects.filter(organization=world.org, kind="stuck").first()
    assert stuck is not None and stuck.term_ended is not None
    words = " ".join(services.evidence_words(stuck))
    assert "Контрольный срок доставки истёк" in words and "Последняя операция" in words
    unpaid = Candidate.objects.filter(organization=world.org, kind="cod_unpaid").first()
    assert unpaid is not None and unpaid.at_stake == Decimal("1500.00")
    over = Candidate.objects.filter(organization=world.org, kind="overcharge").first()
    assert over is not None and over.at_stake == Decimal("50.00") and over.payout_row_id

    # the same history (built once: it is the costly part), rules changed per carrier:
    # no COD-unpaid search for CDEK; a 20-day margin for Russian Post's stuck parcels
    services.rule_set(actor=actor, kind="cod_unpaid", carrier_code="cdek", enabled=False,
                      margin_days=10, file_window_days=180, answer_days=30, remind_days=7)
    services.rule_set(actor=actor, kind="stuck", carrier_code="russian_post", margin_days=20,
                      file_window_days=180, answer_days=30, remind_days=7)
    assert ClaimRule.objects.filter(organization=world.org).count() == 2
    services.candidates_detect(actor=actor, now=NOW)
    found = _found(world.org)
    carrier = dict(Candidate.objects.filter(organization=world.org).values_list(
        "shipment_id", "carrier_code"))
    assert found["cod_unpaid"] and {carrier[i] for i in found["cod_unpaid"]} == {"russian_post"}
    assert found["stuck"] and {carrier[i] for i in found["stuck"]} == {"cdek"}
    # a dismissed candidate stays dismissed on the next run
    cand = Candidate.objects.filter(organization=world.org, kind="lost").first()
    assert cand is not None
    services.candidate_dismiss(actor=actor, candidate_id=cand.pk)
    services.candidates_detect(actor=actor, now=NOW)
    assert Candidate.objects.get(pk=cand.pk).state == "dismissed"
