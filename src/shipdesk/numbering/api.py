from __future__ import annotations

from ninja import Router, Status

from shipdesk.core.apitypes import DbId
from shipdesk.core.errors import NotFound
from shipdesk.core.typing import ApiRequest
from shipdesk.numbering import selectors, services
from shipdesk.numbering.models import NumberPool
from shipdesk.numbering.schemas import (
    IssueIn,
    IssueOut,
    LowOut,
    PoolIn,
    PoolOut,
    PoolPatch,
    PoolRequestIn,
    ValidateOut,
)
from shipdesk.tenancy.permissions import Perm

router = Router(tags=["numbering"])


def _out(pool: NumberPool) -> PoolOut:
    return PoolOut(
        id=pool.pk, carrier_code=pool.carrier_code, kind=pool.kind, source=pool.source,
        first_number=pool.first_number, last_number=pool.last_number, size=pool.size,
        issued=pool.issued, remaining=pool.remaining, low_threshold=pool.low_threshold,
        is_low=pool.is_low, low_since=pool.low_since, is_active=pool.is_active,
        comment=pool.comment, created_at=pool.created_at)


@router.get("/pools", response=list[PoolOut])
def pool_list(request: ApiRequest, carrier_code: str = "", low: bool = False):
    qs = (selectors.pools_low(actor=request.auth) if low
          else selectors.pool_list(actor=request.auth, carrier_code=carrier_code))
    if carrier_code:
        qs = qs.filter(carrier_code=carrier_code)
    return [_out(p) for p in qs]


@router.get("/warnings", response=list[LowOut])
def warnings(request: ApiRequest):
    """Carriers whose tracking numbers run low (remaining at or below the threshold)."""
    return selectors.carriers_low(actor=request.auth)


@router.post("/pools", response={201: PoolOut})
def pool_create(request: ApiRequest, payload: PoolIn):
    return Status(201, _out(services.pool_create(actor=request.auth, **payload.dict())))


@router.post("/pools/from-carrier", response={201: list[PoolOut]})
def pool_request_from_carrier(request: ApiRequest, payload: PoolRequestIn):
    pools = services.pools_request_from_carrier(
        actor=request.auth, carrier_account_id=payload.carrier_account_id, count=payload.count)
    return Status(201, [_out(p) for p in pools])


@router.get("/pools/{pool_id}", response=PoolOut)
def pool_get(request: ApiRequest, pool_id: DbId):
    pool = selectors.pool_get(actor=request.auth, pool_id=pool_id)
    if pool is None:
        raise NotFound()
    return _out(pool)


@router.patch("/pools/{pool_id}", response=PoolOut)
def pool_update(request: ApiRequest, pool_id: DbId, payload: PoolPatch):
    return _out(services.pool_update(actor=request.auth, pool_id=pool_id,
                                     **payload.dict(exclude_unset=True)))


@router.delete("/pools/{pool_id}", response={204: None})
def pool_delete(request: ApiRequest, pool_id: DbId):
    services.pool_delete(actor=request.auth, pool_id=pool_id)
    return Status(204, None)


@router.post("/issue", response={201: IssueOut})
def numbers_issue(request: ApiRequest, payload: IssueIn):
    """Issues numbers for parcels registered elsewhere (e.g. a shop system that prints its
    own labels): they are consumed for good once returned."""
    numbers = services.numbers_issue_manual(actor=request.auth, carrier_code=payload.carrier_code,
                                            count=payload.count,
                                            international=payload.international,
                                            service_code=payload.service_code)
    return Status(201, IssueOut(carrier_code=payload.carrier_code, numbers=numbers))


@router.get("/validate", response=ValidateOut)
def number_validate(request: ApiRequest, number: str, carrier_code: str = ""):
    """Checks a number by its carrier's own format (``carrier_code``; without it, a Russian
    Post 14-digit number or an S10 identifier)."""
    request.auth.require(Perm.VIEW)
    return ValidateOut(**services.number_check(value=number, carrier_code=carrier_code))
