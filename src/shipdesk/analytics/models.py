"""Rollups: figures kept current as shipments are written and as tracking changes their
status, so that the statistics pages read a few thousand summed rows, never the
shipments or events themselves.

Every figure of a shipment is filed under the day it was *created* and its dimensions
(carrier account, kind, destination region, sender): a period's delivery rate is then the
share of the period's parcels that were delivered, and every figure links to exactly the
shipments list filtered the same way.

**Days are the organization's local days** (its ``timezone``, Moscow by default): a parcel
created at 23:30 Moscow on the 5th is the 5th's, as the pages and the shipments list's
date filter read it. The zone is applied when a row is written; an organization that
changes its zone keeps its older figures under the days they were filed with until
``shipdesk analytics_rebuild --organization ID`` files them again.

**Grains.** Each figure is written at several grains in the same upsert, so that a chart
reads a few thousand rows whatever the period (see ``selectors._spans``):

- ``DAY``: per day, with every dimension (the fine rows: a region filter or a region's
  figures over a few days);
- ``MONTH``: per calendar month (``day`` = its first day), with every dimension: the
  whole months inside a long period, for the charts by region and route;
- ``DAY_NO_REGION``: per day, with the region folded away (``region`` = ""): every
  chart that neither filters nor groups by region (totals, volumes, carriers, weeks,
  reasons, reminders) — about a dozen rows per day for a whole organization;
- ``DAY_CARRIER`` / ``MONTH_CARRIER`` (transit only): the routes' histograms with the
  account, kind and sender folded away, for the transit charts without those filters.

A route is the pair of regions (the sender's, from the index the carrier accepted the
parcel at, and the recipient's): a few hundred routes a country, not the tens of
thousands of index-prefix pairs."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel

# the dimensions every rollup is keyed by, in this order (0 / "" when not known)
DIMENSIONS = ("organization_id", "day", "carrier_account_id", "carrier_code", "kind",
              "region", "sender_id")


class Grain(models.IntegerChoices):
    DAY = 0, "day"
    MONTH = 1, "month"
    DAY_NO_REGION = 2, "day without region"
    # the routes' histograms with the account, kind and sender folded away (0 / ""):
    # per carrier, route and region only, for the charts with none of those filters
    DAY_CARRIER = 3, "day per carrier"
    MONTH_CARRIER = 4, "month per carrier"


class _Keyed(models.Model):
    # No database-level constraints, as for tracking's tables: written in bulk by the
    # services only, with ids they resolved themselves.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False, db_constraint=False)
    grain = models.SmallIntegerField(default=Grain.DAY, choices=Grain.choices)
    day = models.DateField()
    carrier_account_id = models.BigIntegerField(default=0)  # 0: no account
    carrier_code = models.CharField(max_length=32, blank=True)
    kind = models.CharField(max_length=64, blank=True)  # mail type / tariff
    region = models.CharField(max_length=100, blank=True)  # destination region's name
    sender_id = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ShipmentRollup(_Keyed):
    """Counts and sums per (organization, day, account, kind, region, sender)."""

    # plain integers: an upsert adds deltas, and an edit's delta is negative
    created = models.IntegerField(default=0)
    cost_count = models.IntegerField(default=0)  # created with a known cost
    cost_sum = models.DecimalField(max_digits=16, decimal_places=2, default=Decimal("0"))
    handed_over = models.IntegerField(default=0)
    delivered = models.IntegerField(default=0)
    returned = models.IntegerField(default=0)
    lost = models.IntegerField(default=0)
    # outcomes of recipients who were told the parcel waits for them (SMS / e-mail sent)
    delivered_notified = models.IntegerField(default=0)
    returned_notified = models.IntegerField(default=0)
    # arrivals with the carrier's control term known, and those after it (the on-time
    # share per carrier without reading the routes' histograms)
    with_term = models.IntegerField(default=0)
    late = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=[
            "organization", "grain", "day", "carrier_account_id", "carrier_code", "kind",
            "region", "sender_id"], name="analytics_shipment_rollup_key")]
        # a region filter reads only its region's rows
        indexes = [models.Index(fields=["organization", "grain", "region", "day"],
                                name="analytics_shipment_region")]


class TransitRollup(_Keyed):
    """A histogram of transit times (whole days from acceptance to arrival) per route."""

    route = models.CharField(max_length=100, blank=True)  # the origin's region name
    days = models.SmallIntegerField()
    n = models.IntegerField(default=0)
    with_term = models.IntegerField(default=0)  # the carrier's control term was known
    late = models.IntegerField(default=0)  # arrived after the control term

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["organization", "grain", "day", "carrier_account_id", "carrier_code",
                    "kind", "region", "sender_id", "route", "days"],
            name="analytics_transit_rollup_key")]
        indexes = [models.Index(fields=["organization", "grain", "region", "day"],
                                name="analytics_transit_region")]


class ReturnReasonRollup(_Keyed):
    reason = models.CharField(max_length=64, blank=True)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["organization", "grain", "day", "carrier_account_id", "carrier_code",
                    "kind", "region", "sender_id", "reason"],
            name="analytics_reason_rollup_key")]
        indexes = [models.Index(fields=["organization", "grain", "region", "day"],
                                name="analytics_reason_region")]


class UserRollup(models.Model):
    """Shipments each member created per day (by any path: form, API, upload)."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False, db_constraint=False)
    day = models.DateField()
    user_id = models.BigIntegerField(default=0)  # 0: API keys and system work
    created = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "day", "user_id"],
                                               name="analytics_user_rollup_key")]


class AnalyticsSettings(TenantModel):
    """Who gets the weekly report, and when it goes next (due work)."""

    weekly_emails = models.CharField(_("еженедельный отчёт получают"), max_length=1000,
                                     blank=True)
    next_report_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_report_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="analytics_settings_one_per_org")]
