"""The balance is never overdrawn by marks issued from many processes at once (PostgreSQL:
8 processes, each with its own connection, racing for one balance)."""

from __future__ import annotations

import itertools
import multiprocessing
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection, connections

from shipdesk.postage import services
from shipdesk.postage.models import Mark, Movement, MovementKind

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql",
                       reason="processes share a database only on PostgreSQL"),
]
PROCESSES = 8


def _issue_each(actor: Any, account_id: int, ids: list[int], out: Any) -> None:
    connections.close_all()  # the forked child opens its own connection
    ok = refused = 0
    for i in range(0, len(ids), 2):  # two letters per issue: a debit of 2 × 7.30
        try:
            services.marks_issue(actor=actor, account_id=account_id, shipment_ids=ids[i:i + 2])
            ok += 1
        except services.InsufficientBalance:
            refused += 1
    connections.close_all()
    out.put((ok, refused))


def test_eight_processes_never_overdraw_and_debits_equal_the_balance_movement(
        actor, postage_account, letters):
    start = Decimal("146.00")  # 10 issues of 14.60
    services.balance_correct(actor=actor, account_id=postage_account.pk, amount=start,
                             reason="аванс")
    ids = letters(PROCESSES * 8, cost="7.30")
    services.signing_key(actor.organization_id)
    context = multiprocessing.get_context("fork")
    out = context.SimpleQueue()
    connections.close_all()
    workers = [context.Process(target=_issue_each,
                               args=(actor, postage_account.pk, ids[n::PROCESSES], out))
               for n in range(PROCESSES)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    results = [out.get() for _w in workers]
    assert all(w.exitcode == 0 for w in workers)
    assert sum(ok for ok, _r in results) == 10
    assert sum(r for _ok, r in results) == PROCESSES * 4 - 10
    postage_account.refresh_from_db()
    debits = Movement.objects.filter(kind=MovementKind.DEBIT)
    debited = -sum(m.amount for m in debits)
    assert postage_account.balance == Decimal("0.00")
    assert debited == start - postage_account.balance
    assert Mark.objects.count() == 20 == sum(m.marks_count for m in debits)
    assert sum(m.amount for m in Mark.objects.all()) == debited
    # each movement's balance after it chains from the one before (no lost update)
    chain = list(Movement.objects.filter(account=postage_account).order_by("pk"))
    for before, after in itertools.pairwise(chain):
        assert after.balance_after == before.balance_after + after.amount
