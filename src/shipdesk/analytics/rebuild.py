"""Rebuilding the rollups on PostgreSQL as set-based SQL: one ``INSERT … SELECT … GROUP
BY`` per table over the stored shipments and the whole status-change feed, at the day
grain, then the coarser grains summed from the day rows. The same rules as the
increments in :mod:`shipdesk.analytics.services` (``outcome``, ``return_reason``, the
transit condition, the local day), written once more in SQL; the tests hold the two equal.

This reads the shipments', tracking's and notifications' tables directly (a rebuild is
the one place where going through their selectors row by row costs minutes per 100,000);
the tables are named through their models, read only."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from shipdesk.analytics.models import (
    Grain,
    ReturnReasonRollup,
    ShipmentRollup,
    TransitRollup,
    UserRollup,
)


def _tables() -> dict[str, str]:
    from shipdesk.notifications.models import Message
    from shipdesk.shipments.models import Shipment, ShipmentEvent
    from shipdesk.tenancy.models import Organization
    from shipdesk.tracking.models import ShipmentStatusChange, TrackingState

    return {"s": Shipment._meta.db_table, "e": ShipmentEvent._meta.db_table,
            "ch": ShipmentStatusChange._meta.db_table, "t": TrackingState._meta.db_table,
            "m": Message._meta.db_table, "o": Organization._meta.db_table,
            "sr": ShipmentRollup._meta.db_table, "tr": TransitRollup._meta.db_table,
            "rr": ReturnReasonRollup._meta.db_table, "ur": UserRollup._meta.db_table}


# the rules of services.py in SQL (c: a status change, with its shipment's columns)
_KIND = ("COALESCE(NULLIF(upper(split_part(COALESCE(s.service_code, ''), '/', 1)), ''), "
         "COALESCE(s.mail_category, ''))")
_REGION = ("CASE WHEN COALESCE(s.country, '') NOT IN ('', 'RU') THEN '' "
           "ELSE COALESCE(rg.region, '') END")
_BEFORE = ("CASE WHEN ch.previous_status = 'delivered' THEN 'delivered' "
           "WHEN ch.previous_status IN ('returned', 'lost') THEN ch.previous_status END")
_AFTER = ("CASE WHEN ch.status = 'delivered' AND ch.substatus = 'to_sender' THEN 'returned' "
          "WHEN ch.status = 'delivered' THEN 'delivered' "
          "WHEN ch.status IN ('returned', 'lost') THEN ch.status END")
_KEY_COLUMNS = ("organization_id, grain, day, carrier_account_id, carrier_code, kind, "
                "region, sender_id")


def rebuild_postgresql(*, organization_ids: Sequence[int] | None, zones: dict[int, str],
                       prefixes: dict[str, str]) -> dict[str, int]:
    """Deletes and refills the rollups of ``organization_ids`` (None: all) from the stored
    rows. ``zones``: each organization's zone name (checked by the caller), ``prefixes``:
    index prefix -> region name."""
    from shipdesk.analytics.services import MAX_TRANSIT_DAYS, NOT_HANDED_OVER
    from shipdesk.notifications.selectors import arrival_rules

    t = _tables()
    told = ", ".join(f"'{r}'" for r in arrival_rules())  # literals of our own code
    with connection.cursor() as cur:
        only = ""
        params: list[Any] = []
        if organization_ids is not None:
            only = " AND s.organization_id = ANY(%s)"
            params = [list(organization_ids)]
        for table in ("sr", "tr", "rr", "ur"):
            cur.execute(f"DELETE FROM {t[table]} WHERE TRUE"  # noqa: S608
                        + (" AND organization_id = ANY(%s)" if params else ""), params)
        # a second rebuild in one transaction (tests) finds the first one's tables
        cur.execute("DROP TABLE IF EXISTS analytics_zone, analytics_prefix, analytics_keyed, "
                    "analytics_change, analytics_told, analytics_batched")
        cur.execute("CREATE TEMP TABLE analytics_zone (organization_id bigint PRIMARY KEY, "
                    "zone text) ON COMMIT DROP")
        cur.execute("CREATE TEMP TABLE analytics_prefix (prefix text PRIMARY KEY, "
                    "region text) ON COMMIT DROP")
        with cur.cursor.copy("COPY analytics_zone FROM STDIN") as copy:
            for pk, zone in zones.items():
                copy.write_row((pk, zone))
        with cur.cursor.copy("COPY analytics_prefix FROM STDIN") as copy:
            for prefix, region in prefixes.items():
                copy.write_row((prefix, region))
        # each shipment once, with its key (the day in its organization's zone)
        cur.execute(
            "CREATE TEMP TABLE analytics_keyed ON COMMIT DROP AS "  # noqa: S608
            f"SELECT s.id, s.organization_id, (s.created_at AT TIME ZONE z.zone)::date AS day, "
            "COALESCE(s.carrier_account_id, 0) AS carrier_account_id, "
            f"COALESCE(s.carrier_code, '') AS carrier_code, {_KIND} AS kind, "
            f"{_REGION} AS region, COALESCE(s.sender_id, 0) AS sender_id, s.shipping_cost "
            f"FROM {t['s']} s JOIN analytics_zone z ON z.organization_id = s.organization_id "
            "LEFT JOIN analytics_prefix rg ON rg.prefix = left(s.\"index\", 3) "
            f"WHERE TRUE{only}", params)
        cur.execute("CREATE INDEX ON analytics_keyed (id)")
        cur.execute("ANALYZE analytics_keyed")
        cur.execute("SELECT COUNT(*) FROM analytics_keyed")
        shipments = cur.fetchone()[0]
        # every status change with what the increments derive from it
        cur.execute(
            "CREATE TEMP TABLE analytics_change ON COMMIT DROP AS "  # noqa: S608
            "SELECT k.organization_id, k.day, k.carrier_account_id, k.carrier_code, k.kind, "
            "k.region, k.sender_id, COALESCE(origin.region, '') AS route, "
            "ch.previous_status AS prev, ch.status, ch.substatus, "
            f"{_BEFORE} AS before, {_AFTER} AS after, "
            "COALESCE(st.arrived_at_pickup_at, ch.changed_at) AS arrival, "
            "st.accepted_at, st.control_due, ch.shipment_id "
            f"FROM {t['ch']} ch JOIN analytics_keyed k ON k.id = ch.shipment_id "
            f"LEFT JOIN {t['t']} st ON st.shipment_id = ch.shipment_id "
            "LEFT JOIN analytics_prefix origin ON origin.prefix = left(st.route, 3)")
        cur.execute("SELECT COUNT(*) FROM analytics_change")
        changes = cur.fetchone()[0]
        # who was told their parcel waits (as shipments_notified_of_arrival asks it)
        cur.execute(
            "CREATE TEMP TABLE analytics_told ON COMMIT DROP AS "  # noqa: S608
            f"SELECT DISTINCT m.shipment_id FROM {t['m']} m "
            "JOIN analytics_keyed k ON k.id = m.shipment_id "
            f"WHERE m.rule IN ({told}) AND m.status IN ('sent', 'delivered')")
        cur.execute("CREATE INDEX ON analytics_told (shipment_id)")
        # handed over by a closed batch: counted once, there, not again by tracking
        cur.execute(
            "CREATE TEMP TABLE analytics_batched ON COMMIT DROP AS "  # noqa: S608
            f"SELECT DISTINCT e.shipment_id FROM {t['e']} e "
            "JOIN analytics_keyed k ON k.id = e.shipment_id "
            "WHERE e.from_state = 'in_batch' AND e.to_state = 'handed_over'")
        cur.execute("CREATE INDEX ON analytics_batched (shipment_id)")
        not_handed = ", ".join(f"'{st}'" for st in sorted(NOT_HANDED_OVER))
        transit_ok = ("c.prev IN ('', 'info_received', 'accepted', 'in_transit', 'customs') "
                      "AND c.accepted_at IS NOT NULL AND (c.status = 'arrived_at_pickup' "
                      "OR c.after = 'delivered')")
        spent = "floor(extract(epoch FROM c.arrival - c.accepted_at) / 86400)::int"
        in_range = f"{spent} BETWEEN 0 AND {MAX_TRANSIT_DAYS}"

        def delta(name: str, notified: bool = False) -> str:
            d = (f"((c.after IS NOT DISTINCT FROM '{name}')::int "
                 f"- (c.before IS NOT DISTINCT FROM '{name}')::int)")
            return f"{d} * (tl.shipment_id IS NOT NULL)::int" if notified else d

        key = ("organization_id, day, carrier_account_id, carrier_code, kind, region, "
               "sender_id")
        cur.execute(
            f"INSERT INTO {t['sr']} ({_KEY_COLUMNS}, created, cost_count, cost_sum, "  # noqa: S608
            "handed_over, delivered, returned, lost, delivered_notified, returned_notified, "
            f"with_term, late) SELECT organization_id, {int(Grain.DAY)}, day, "
            "carrier_account_id, carrier_code, kind, region, sender_id, SUM(created), "
            "SUM(cost_count), SUM(cost_sum), SUM(handed_over), SUM(delivered), "
            "SUM(returned), SUM(lost), SUM(delivered_notified), SUM(returned_notified), "
            "SUM(with_term), SUM(late) FROM ("
            f"  SELECT {', '.join('k.' + k for k in key.split(', '))}, COUNT(*) AS created, "
            "  COUNT(k.shipping_cost) AS cost_count, "
            "  COALESCE(SUM(k.shipping_cost), 0) AS cost_sum, "
            "  COUNT(b.shipment_id) AS handed_over, "
            "  0 AS delivered, 0 AS returned, 0 AS lost, 0 AS delivered_notified, "
            "  0 AS returned_notified, 0 AS with_term, 0 AS late "
            "  FROM analytics_keyed k "
            "  LEFT JOIN analytics_batched b ON b.shipment_id = k.id "
            f"  GROUP BY {', '.join('k.' + k for k in key.split(', '))} "
            "  UNION ALL "
            f"  SELECT {', '.join('c.' + k for k in key.split(', '))}, 0, 0, 0, "
            "  SUM(CASE WHEN b.shipment_id IS NOT NULL THEN 0 "
            f"      WHEN c.prev IN ({not_handed}) AND c.status NOT IN ({not_handed}) THEN 1 "
            f"      WHEN c.status IN ({not_handed}) AND c.prev NOT IN ({not_handed}) THEN -1 "
            "      ELSE 0 END), "
            f"  SUM({delta('delivered')}), SUM({delta('returned')}), SUM({delta('lost')}), "
            f"  SUM({delta('delivered', True)}), SUM({delta('returned', True)}), "
            f"  SUM(({transit_ok} AND {in_range} AND c.control_due IS NOT NULL)::int), "
            f"  SUM(({transit_ok} AND {in_range} AND c.arrival > c.control_due)::int) "
            "  FROM analytics_change c "
            "  LEFT JOIN analytics_told tl ON tl.shipment_id = c.shipment_id "
            "  LEFT JOIN analytics_batched b ON b.shipment_id = c.shipment_id "
            f"  GROUP BY {', '.join('c.' + k for k in key.split(', '))}"
            f") u GROUP BY {key}")
        cur.execute(
            f"INSERT INTO {t['tr']} ({_KEY_COLUMNS}, route, days, n, with_term, late) "  # noqa: S608
            f"SELECT c.organization_id, {int(Grain.DAY)}, c.day, c.carrier_account_id, "
            f"c.carrier_code, c.kind, c.region, c.sender_id, c.route, {spent}, COUNT(*), "
            "COUNT(c.control_due), "
            "COALESCE(SUM((c.arrival > c.control_due)::int), 0) "
            f"FROM analytics_change c WHERE {transit_ok} AND {in_range} "
            f"GROUP BY c.organization_id, c.day, c.carrier_account_id, c.carrier_code, "
            f"c.kind, c.region, c.sender_id, c.route, {spent}")
        reason = ("CASE WHEN c.substatus <> '' AND c.substatus <> 'to_sender' "
                  "THEN left(c.substatus, 64) ELSE COALESCE(NULLIF(c.prev, ''), 'unknown') END")
        cur.execute(
            f"INSERT INTO {t['rr']} ({_KEY_COLUMNS}, reason, n) "  # noqa: S608
            f"SELECT c.organization_id, {int(Grain.DAY)}, c.day, c.carrier_account_id, "
            f"c.carrier_code, c.kind, c.region, c.sender_id, {reason}, COUNT(*) "
            "FROM analytics_change c WHERE (c.status IN ('returning', 'returned') "
            "OR c.after IS NOT DISTINCT FROM 'returned') "
            "AND c.prev NOT IN ('returning', 'returned') "
            "AND c.before IS DISTINCT FROM 'returned' "
            "GROUP BY c.organization_id, c.day, c.carrier_account_id, c.carrier_code, "
            f"c.kind, c.region, c.sender_id, {reason}")
        # who created each shipment: the user of its first "created" event
        cur.execute(
            f"INSERT INTO {t['ur']} (organization_id, day, user_id, created) "  # noqa: S608
            "SELECT k.organization_id, k.day, COALESCE(first.user_id, 0), COUNT(*) "
            "FROM analytics_keyed k LEFT JOIN ("
            f"  SELECT DISTINCT ON (e.shipment_id) e.shipment_id, e.user_id FROM {t['e']} e "
            "  JOIN analytics_keyed k2 ON k2.id = e.shipment_id WHERE e.from_state = '' "
            "  ORDER BY e.shipment_id, e.id) first ON first.shipment_id = k.id "
            "GROUP BY k.organization_id, k.day, COALESCE(first.user_id, 0)")
        _coarser(cur, t, params)
    return {"shipments": shipments, "status_changes": changes}


def _coarser(cur: Any, t: dict[str, str], params: list[Any]) -> None:
    """The month and region-less grains summed from the day rows just written."""
    only = " AND organization_id = ANY(%s)" if params else ""
    shipment = ["created", "cost_count", "cost_sum", "handed_over", "delivered", "returned",
                "lost", "delivered_notified", "returned_notified", "with_term", "late"]
    plans: tuple[tuple[str, list[str], list[str], tuple[Grain, ...]], ...] = (
        ("sr", shipment, [], (Grain.MONTH, Grain.DAY_NO_REGION)),
        ("tr", ["n", "with_term", "late"], ["route", "days"],
         (Grain.MONTH, Grain.DAY_CARRIER, Grain.MONTH_CARRIER)),
        ("rr", ["n"], ["reason"], (Grain.DAY_NO_REGION,)))
    for table, measures, extra, grains in plans:
        for grain in grains:
            monthly = grain in (Grain.MONTH, Grain.MONTH_CARRIER)
            folded = grain in (Grain.DAY_CARRIER, Grain.MONTH_CARRIER)
            # (column, as written): a folded column is a constant, not grouped by
            shape = [("organization_id", "organization_id"),
                     ("day", "date_trunc('month', day)::date" if monthly else "day"),
                     ("carrier_account_id", "0" if folded else "carrier_account_id"),
                     ("carrier_code", "carrier_code"), ("kind", "''" if folded else "kind"),
                     ("region", "''" if grain == Grain.DAY_NO_REGION else "region"),
                     ("sender_id", "0" if folded else "sender_id"),
                     *((e, e) for e in extra)]
            written = ", ".join(w for _c, w in shape)
            group = ", ".join(w for _c, w in shape if w not in ("0", "''"))
            rest = ", ".join(extra)
            cur.execute(
                f"INSERT INTO {t[table]} ({_KEY_COLUMNS}{', ' + rest if rest else ''}, "  # noqa: S608
                f"{', '.join(measures)}) SELECT organization_id, {int(grain)}, "
                f"{written.removeprefix('organization_id, ')}, "
                + ", ".join(f"SUM({m})" for m in measures)
                + f" FROM {t[table]} WHERE grain = {int(Grain.DAY)}{only} GROUP BY {group}",
                params)
