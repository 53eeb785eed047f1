"""Rollups: figures kept current as shipments are written and as tracking changes their
status, so that the statistics pages read a few thousand summed rows, never the
shipments or events themselves.

Every figure of a shipment is filed under the day it was *created* (UTC) and its
dimensions (carrier account, kind, destination region, sender): a period's delivery rate
is then the share of the period's parcels that were delivered, and every figure links to
exactly the shipments list filtered the same way."""

from __future__ import annotations

from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel

# the dimensions every rollup is keyed by, in this order (0 / "" when not known)
DIMENSIONS = ("organization_id", "day", "carrier_account_id", "carrier_code", "kind",
              "region", "sender_id")


class _Keyed(models.Model):
    # No database-level constraints, as for tracking's tables: written in bulk by the
    # services only, with ids they resolved themselves.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False, db_constraint=False)
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

    class Meta:
        constraints = [models.UniqueConstraint(fields=[
            "organization", "day", "carrier_account_id", "carrier_code", "kind", "region", "sender_id"],
            name="analytics_shipment_rollup_key")]


class TransitRollup(_Keyed):
    """A histogram of transit times (whole days from acceptance to arrival) per route."""

    route = models.CharField(max_length=16, blank=True)  # "101-630": index prefixes
    days = models.SmallIntegerField()
    n = models.IntegerField(default=0)
    with_term = models.IntegerField(default=0)  # the carrier's control term was known
    late = models.IntegerField(default=0)  # arrived after the control term

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["organization", "day", "carrier_account_id", "carrier_code", "kind",
                    "region", "sender_id", "route", "days"],
            name="analytics_transit_rollup_key")]


class ReturnReasonRollup(_Keyed):
    reason = models.CharField(max_length=64, blank=True)
    n = models.IntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["organization", "day", "carrier_account_id", "carrier_code", "kind",
                    "region", "sender_id", "reason"],
            name="analytics_reason_rollup_key")]


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
