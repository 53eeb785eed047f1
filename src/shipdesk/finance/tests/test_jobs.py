"""The domain's periodic job, handed out by the due-work sweep: tracking's feed read into
receivables, overdue marked, the day's debt snapshot taken."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from shipdesk.core import duework
from shipdesk.finance.models import DebtSnapshot, FinanceJob, Receivable, ReceivableState
from shipdesk.finance.tests.conftest import make_shipment
from shipdesk.tracking.models import ShipmentStatusChange

pytestmark = pytest.mark.django_db


def test_the_sweep_runs_the_finance_job(org: Any, django_capture_on_commit_callbacks: Any
                                        ) -> None:
    s = make_shipment(org, tracking="1500000321", order="SHOP-321", cod="800")
    long_ago = timezone.now() - dt.timedelta(days=40)
    ShipmentStatusChange.objects.create(organization=org, shipment=s, status="delivered",
                                        changed_at=long_ago)
    FinanceJob.objects.update(due_at=timezone.now() - dt.timedelta(minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        assert duework.sweep(names=["finance.jobs"]) == {"finance.jobs": 1}
    r = Receivable.objects.get(shipment=s)
    assert r.state == ReceivableState.OVERDUE  # delivered 40 days ago, never paid
    snap = DebtSnapshot.objects.get(organization=org, day=timezone.now().date())
    assert snap.age_over_30 == 800 and snap.age_0_7 == 0
    job = FinanceJob.objects.get(name="feed")
    assert job.due_at is not None and job.due_at > timezone.now()
