"""The control room's pictures, drawn by the statistics charts (server-side SVG)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from shipdesk.analytics.charts import Mark, bars, stacked_columns
from shipdesk.carriers.names import carrier_name


def control_charts(data: dict[str, Any]) -> dict[str, SafeString]:
    rows = data["rows"]
    months = sorted({r["month"] for r in rows})
    carriers = sorted({carrier_name(r["carrier_code"]) for r in rows})
    claims_url = reverse("claims:list")
    out: dict[str, SafeString] = {}
    for key, title in (("at_risk", _("Под риском по месяцам, ₽")),
                       ("claimed", _("Заявлено в претензиях по месяцам, ₽")),
                       ("recovered", _("Возмещено по месяцам, ₽"))):
        out[key] = stacked_columns(
            [Mark(r["month"], r[key], claims_url if key != "at_risk" else reverse(
                "claims:index") + f"?carrier={r['carrier_code']}", carrier_name(
                r["carrier_code"])) for r in rows if r[key]],
            name=f"claims_{key}", title=title, columns=months, series=carriers)
    by_carrier: dict[str, dict[str, Any]] = {}
    for r in rows:
        c = by_carrier.setdefault(r["carrier_code"], {"claimed": 0, "recovered": 0})
        c["claimed"] += r["claimed"]
        c["recovered"] += r["recovered"]
    out["recovery_rate"] = bars(
        [Mark(carrier_name(code), round(100 * float(v["recovered"]) / float(v["claimed"]), 1)
              if v["claimed"] else 0, claims_url + f"?carrier={code}")
         for code, v in sorted(by_carrier.items())],
        name="claims_recovery_rate", title=_("Возмещено от заявленного"), unit="%")
    return out
