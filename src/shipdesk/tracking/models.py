from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from shipdesk.core.models import TenantModel


class ShipmentStatusChange(TenantModel):
    """Append-only feed of real-status changes, one row each time the derived status of a
    shipment changes. Other domains (notifications, claims, webhooks out) read it in id
    order through ``tracking.selectors.status_changes_after`` and keep their own cursor."""

    # Written in bulk by the ingest only, which resolves both ids itself: no database-level
    # FK constraints (their deferred per-row checks weighed on every ingest commit); rows go
    # with their shipment through the ORM's cascade. The shipment is the first column of
    # the index below, so it needs no index of its own.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_constraint=False)
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="status_changes", db_index=False,
                                 db_constraint=False)
    previous_status = models.CharField(max_length=32, blank=True)
    status = models.CharField(max_length=32)
    substatus = models.CharField(max_length=64, blank=True)
    changed_at = models.DateTimeField()  # when the carrier says it happened

    class Meta:
        indexes = [models.Index(fields=["shipment", "changed_at"])]


class TrackingEvent(TenantModel):
    """Append-only event store: one row per distinct carrier event of a shipment. The same
    event seen twice (polls overlap, webhooks replay) hits the unique key and is stored once.
    The carrier's raw code and text stay beside our normalised status."""

    # The hot table of the bulk path. One index besides the primary key: the dedup key
    # (shipment first), which also serves reading a shipment's history. No database-level FK
    # constraints (their per-row triggers were a third of the insert cost): rows are only
    # written by the ingest, which resolves both ids itself, and deleted through the ORM's
    # cascade. An append-only row needs no updated_at.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False, db_constraint=False)
    shipment = models.ForeignKey("shipments.Shipment", on_delete=models.CASCADE,
                                 related_name="tracking_events", db_index=False,
                                 db_constraint=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = None  # type: ignore[assignment]
    tracking_number = models.CharField(max_length=32)
    occurred_at = models.DateTimeField()  # UTC
    utc_offset_minutes = models.SmallIntegerField(null=True)  # the zone the carrier gave
    raw_code = models.CharField(max_length=32)
    raw_text = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=32, blank=True)  # "" when the code is unknown
    substatus = models.CharField(max_length=64, blank=True)
    place = models.CharField(max_length=300, blank=True)
    office_index = models.CharField(max_length=12, blank=True)
    unknown_code = models.BooleanField(default=False)
    source = models.CharField(max_length=16, blank=True)  # poll / webhook / import
    raw = models.JSONField(default=dict, blank=True)
    # the carrier's own last day of free storage at the pickup point, when it tells one
    # (CDEK's keep_free_until, Russian Post's "N days left" reminders)
    storage_until = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["shipment", "occurred_at", "raw_code", "place"],
            name="tracking_event_dedup")]


class RejectedEvent(models.Model):
    """An event we could not take (unknown number, impossible date, someone else's
    parcel): kept raw with the reason, so nothing is silently lost."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     null=True, related_name="+")
    tracking_number = models.CharField(max_length=32)
    occurred_at = models.DateTimeField(null=True)
    raw_code = models.CharField(max_length=32, blank=True)
    raw_text = models.CharField(max_length=300, blank=True)
    reason = models.CharField(max_length=32)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class TrackingState(TenantModel):
    """Per-shipment tracking state: the derived verdict, due polling, deadlines, exceptions."""

    # Rewritten for every parcel on every ingest, so every index costs: the organization is
    # served by the (organization, carrier, status) index, the token by its unique
    # constraint (no pattern-ops twin: it is only looked up whole). No database-level FK
    # constraints, as for the event store: only tracking writes these rows, with ids it
    # resolved itself, and they go with their shipment through the ORM's cascade.
    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     related_name="+", db_index=False, db_constraint=False)
    shipment = models.OneToOneField("shipments.Shipment", on_delete=models.CASCADE,
                                    primary_key=True, related_name="tracking_state",
                                    db_constraint=False)
    # nothing looks states up by creation time: no index to keep up on every new state
    created_at = models.DateTimeField(_("создано"), auto_now_add=True)
    public_token = models.CharField(max_length=43)
    carrier_code = models.CharField(max_length=32, blank=True)
    route = models.CharField(max_length=16, blank=True)  # "101-630": index prefixes
    status = models.CharField(max_length=32, blank=True)
    substatus = models.CharField(max_length=64, blank=True)
    status_at = models.DateTimeField(null=True)
    final = models.BooleanField(default=False)
    next_poll_at = models.DateTimeField(null=True, db_index=True)
    last_polled_at = models.DateTimeField(null=True)
    poll_failures = models.PositiveSmallIntegerField(default=0)
    last_event_at = models.DateTimeField(null=True)
    last_movement_at = models.DateTimeField(null=True)
    accepted_at = models.DateTimeField(null=True)
    arrived_at_pickup_at = models.DateTimeField(null=True)
    arrival_inferred = models.BooleanField(default=False)
    storage_deadline = models.DateTimeField(null=True)
    expected_delivery = models.DateTimeField(null=True)  # our forecast; gone at a final status
    # the carrier's control term's end (acceptance + its days), kept after the final status:
    # what "on time" is measured against, by the live rollups and by a rebuild alike
    control_due = models.DateTimeField(null=True)
    transit_recorded = models.BooleanField(default=False)  # counted in RouteTransit
    is_stuck = models.BooleanField(default=False)
    is_overdue = models.BooleanField(default=False)
    is_storage_ending = models.BooleanField(default=False)
    is_returned = models.BooleanField(default=False)
    is_lost = models.BooleanField(default=False)
    has_unknown_codes = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["organization", "carrier_code", "status"])]
        constraints = [models.UniqueConstraint(fields=["public_token"],
                                               name="tracking_state_public_token")]


class TrackingRule(models.Model):
    """Carrier rules as data: storage period, stuck threshold, control term, per carrier,
    mail type and route ("" = any). The most specific row that sets a value wins."""

    organization = models.ForeignKey("tenancy.Organization", on_delete=models.CASCADE,
                                     null=True, blank=True, related_name="+")
    carrier_code = models.CharField(max_length=32, blank=True)
    mail_type = models.CharField(max_length=64, blank=True)
    route = models.CharField(max_length=16, blank=True)
    storage_days = models.PositiveSmallIntegerField(null=True, blank=True)
    stuck_days = models.PositiveSmallIntegerField(null=True, blank=True)
    control_days = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)


class RouteTransit(models.Model):
    """Observed transit times (acceptance → arrival) per carrier and route, for predictions."""

    carrier_code = models.CharField(max_length=32)
    route = models.CharField(max_length=16)
    samples = models.PositiveIntegerField(default=0)
    mean_days = models.FloatField(default=0)  # statistics, not money

    class Meta:
        constraints = [models.UniqueConstraint(fields=["carrier_code", "route"],
                                               name="route_transit_uniq")]


class TrackingSettings(TenantModel):
    """An organization's tracking knobs: when to poll, where the daily report goes."""

    poll_from_hour = models.PositiveSmallIntegerField(default=0)  # local time, inclusive
    poll_to_hour = models.PositiveSmallIntegerField(default=24)  # exclusive
    report_emails = models.CharField(max_length=500, blank=True)
    last_report_on = models.DateField(null=True, blank=True)
    next_report_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization"],
                                               name="tracking_settings_one_per_org")]


class PickupOffice(models.Model):
    """A carrier's office / pickup point, for the address and hours shown to recipients.

    Carriers that list their points are loaded whole, daily. Russian Post's offices are
    loaded one by one when a parcel arrives at one: the row is made empty and due
    (``next_fetch_at``, due work), then filled from the carrier's post-office service, or
    from the postal-index directory while the service cannot answer."""

    CARRIER, DIRECTORY = "carrier", "directory"

    carrier_code = models.CharField(max_length=32)
    code = models.CharField(max_length=64)  # office index or pickup point code
    name = models.CharField(max_length=200, blank=True)
    address = models.CharField(max_length=500, blank=True)
    work_hours = models.CharField(max_length=300, blank=True)
    # where the name and address come from: the carrier, the postal-index directory (no
    # hours), or "" while nothing is loaded yet
    source = models.CharField(max_length=16, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)  # last asked: not again before it is stale
    next_fetch_at = models.DateTimeField(null=True, blank=True, db_index=True)
    fetch_failures = models.PositiveSmallIntegerField(default=0)
    fetch_error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["carrier_code", "code"],
                                               name="pickup_office_uniq")]


class WebhookEndpoint(TenantModel):
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=200, blank=True)
    secret = models.TextField()  # "whsec_…", encrypted with core.crypto
    is_active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=200, blank=True)


class WebhookDelivery(TenantModel):
    PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE,
                                 related_name="deliveries")
    status_change = models.ForeignKey(ShipmentStatusChange, on_delete=models.CASCADE,
                                      null=True, related_name="+")
    msg_id = models.CharField(max_length=64)
    event_type = models.CharField(max_length=64)
    payload = models.JSONField()
    state = models.CharField(max_length=16, default=PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, db_index=True)
    last_status_code = models.PositiveSmallIntegerField(null=True)
    last_error = models.CharField(max_length=300, blank=True)
    delivered_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(
            fields=["endpoint", "status_change"], name="webhook_delivery_once")]


class TrackingTicket(TenantModel):
    """A batch tracking request the carrier answers later (Russian Post's getTicket): the
    shipments asked for and when to fetch the answer. Due work on ``next_fetch_at``; the row
    is deleted once its answer is ingested, or its numbers are queued again when it expires."""

    account = models.ForeignKey("carriers.CarrierAccount", on_delete=models.CASCADE,
                                related_name="+")
    ticket = models.CharField(max_length=100)
    shipment_ids = models.JSONField(default=list)
    numbers = models.JSONField(default=list)  # aligned with shipment_ids
    requested_at = models.DateTimeField()
    next_fetch_at = models.DateTimeField(null=True, db_index=True)
    fetch_interval = models.DurationField()
    expires_at = models.DateTimeField()
    fetches = models.PositiveIntegerField(default=0)
