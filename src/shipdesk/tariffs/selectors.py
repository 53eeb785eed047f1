from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q
from django.utils import timezone

from shipdesk.tariffs import services
from shipdesk.tariffs.models import TariffTable as TariffTableRow
from shipdesk.tenancy.permissions import Perm
from shipdesk.tenancy.services import Actor


def tables_in_force(*, actor: Actor, on: date | None = None) -> list[dict[str, Any]]:
    """For every carrier with a table (shipped or loaded, common or the organization's
    own): the table in force on the date and the next one already loaded, if any."""
    actor.require(Perm.VIEW)
    on = on or timezone.localdate()
    scope = Q(organization__isnull=True) | Q(organization=actor.organization)
    codes = {p.stem for p in services.DATA_DIR.glob("*.json")}
    codes |= set(TariffTableRow.objects.filter(scope).values_list("carrier_code", flat=True))
    out = []
    for code in sorted(codes):
        table = services.tariff_table_current(organization=actor.organization,
                                              carrier_code=code, on=on)
        upcoming = (TariffTableRow.objects.filter(scope, carrier_code=code, effective_from__gt=on)
                    .order_by("effective_from").values_list("effective_from", flat=True).first())
        out.append({
            "carrier_code": code,
            "name": table.name if table else "",
            "version": table.version if table else "",
            "effective_from": table.effective_from if table else None,
            "services": sorted(table.services) if table else [],
            "next_effective_from": upcoming,
        })
    return out
