from __future__ import annotations

from decimal import Decimal
from typing import Any

from ninja import Router

from shipdesk.carriers.base import Address, ParcelRequest, Party
from shipdesk.core.typing import ApiRequest
from shipdesk.tariffs import selectors, services
from shipdesk.tariffs.schemas import LineOut, OfferOut, RateIn, RateOut, TableOut, TariffRuleIn, TariffRuleOut
from shipdesk.tenancy.permissions import Perm

router = Router(tags=["tariffs"])


def parcel_from(data: RateIn) -> ParcelRequest:
    options: dict[str, Any] = {key: True for key in ("fragile", "careful", "sms_notice", "inventory")
               if getattr(data, key)}
    if data.mail_category:
        options["mail_category"] = data.mail_category
    return ParcelRequest(
        reference="", service_code=data.service_code,
        sender=Party(name="", address=Address(index=data.from_index)),
        recipient=Party(name="", address=Address(index=data.to_index)),
        weight_g=data.weight_g, length_cm=data.length_cm, width_cm=data.width_cm,
        height_cm=data.height_cm, declared_value=data.declared_value,
        cod_amount=data.cod_amount, options=options)


def offer_out(offer: services.Offer) -> OfferOut:
    quote = offer.quote
    vat = quote.raw.get("vat") if quote is not None else None
    return OfferOut(
        account_id=offer.account_id, account_name=offer.account_name,
        carrier_code=offer.carrier_code, source=offer.source, chosen=offer.chosen,
        service_code=quote.service_code if quote else None,
        service_name=quote.service_name if quote else None,
        total=quote.total if quote else None,
        vat=vat if isinstance(vat, Decimal) else None,
        days_min=quote.days_min if quote else None, days_max=quote.days_max if quote else None,
        lines=[LineOut(name=line.name, amount=line.amount) for line in quote.lines] if quote else [],
        error=offer.error, note=offer.note)


@router.post("/rate", response=RateOut)
def rate(request: ApiRequest, payload: RateIn):
    """Prices and delivery terms from every connected carrier, best first by the
    organization's rule (``chosen`` marks the pick)."""
    offers = services.rate_shop(actor=request.auth, request=parcel_from(payload))
    return RateOut(rule=services.rating_rule_get(organization=request.auth.organization),
                   offers=[offer_out(o) for o in offers])


@router.get("/rule", response=TariffRuleOut)
def rule_get(request: ApiRequest):
    request.auth.require(Perm.VIEW)
    return TariffRuleOut(prefer=services.rating_rule_get(organization=request.auth.organization))


@router.put("/rule", response=TariffRuleOut)
def rule_set(request: ApiRequest, payload: TariffRuleIn):
    rule = services.rating_rule_set(actor=request.auth, prefer=payload.prefer)
    return TariffRuleOut(prefer=rule.prefer)


@router.get("/tables", response=list[TableOut])
def tables(request: ApiRequest):
    """The tariff table in force for each carrier, and the next one already loaded."""
    return selectors.tables_in_force(actor=request.auth)
