"""/api/v1/documents/: batches (list, create, auto-group, add, remove, move, close) and
their documents (generate, status, download), a courier for a batch, signing certificates."""

from __future__ import annotations

import base64
import binascii

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Router, Status

from shipdesk.core.apitypes import DbId, PositiveInt
from shipdesk.core.errors import FieldError, ValidationFailed
from shipdesk.core.typing import ApiRequest
from shipdesk.documents import courier, selectors, services
from shipdesk.documents.models import Batch, CourierPickup, GeneratedDocument
from shipdesk.documents.schemas import (
    AutoGroupIn,
    BatchCreateIn,
    BatchOut,
    CertificateIn,
    CertificateOut,
    CourierOrderIn,
    CourierPickupOut,
    DocumentIn,
    DocumentOut,
    MoveIn,
    ShipmentIdsIn,
)

router = Router(tags=["documents"])


def _batch_out(batch: Batch) -> BatchOut:
    count = getattr(batch, "parcel_count", None)
    return BatchOut(
        id=batch.pk, number=batch.display_number, carrier_code=batch.carrier_code,
        carrier_account_id=batch.carrier_account_id, mail_type=batch.mail_type,
        mail_category=batch.mail_category, shipping_date=batch.shipping_date,
        drop_off_point=batch.drop_off_point, state=batch.state,
        carrier_batch_id=batch.carrier_batch_id, closed_at=batch.closed_at,
        parcel_count=batch.entries.count() if count is None else count,
        created_at=batch.created_at,
        document_kinds=[kind for kind, _name in services.batch_document_kinds(batch)])


def _document_out(doc: GeneratedDocument) -> DocumentOut:
    done = doc.status == "done"
    return DocumentOut(
        id=doc.pk, batch_id=doc.batch_id, kind=doc.kind, status=doc.status,
        progress=doc.progress, frozen=doc.frozen, stale=services.document_is_stale(doc),
        error=doc.error, filename=doc.filename, size=doc.size, content_hash=doc.content_hash,
        generated_at=doc.generated_at,
        download_url=reverse("api:document_download", args=[doc.pk]) if done else None)


@router.get("/batches", response=list[BatchOut])
def batch_list(request: ApiRequest, state: str | None = None, limit: PositiveInt = 100,
               before_id: DbId | None = None):
    qs = selectors.batch_list(actor=request.auth, state=state)
    if before_id:
        qs = qs.filter(pk__lt=before_id)
    return [_batch_out(b) for b in qs[:max(1, min(limit, 500))]]


@router.post("/batches", response={201: list[BatchOut]})
def batch_create(request: ApiRequest, payload: BatchCreateIn):
    batches = services.batch_create(actor=request.auth, shipment_ids=payload.shipment_ids,
                                    shipping_date=payload.shipping_date)
    return Status(201, [_batch_out(b) for b in batches])


@router.post("/batches/auto-group", response=list[BatchOut])
def batch_auto_group(request: ApiRequest, payload: AutoGroupIn):
    batches = services.batch_auto_group(actor=request.auth, shipping_date=payload.shipping_date)
    return [_batch_out(b) for b in batches]


@router.get("/batches/{batch_id}", response=BatchOut)
def batch_get(request: ApiRequest, batch_id: DbId):
    return _batch_out(selectors.batch_get(actor=request.auth, batch_id=batch_id))


@router.post("/batches/{batch_id}/add", response=list[BatchOut])
def batch_add(request: ApiRequest, batch_id: DbId, payload: ShipmentIdsIn):
    batches = services.batch_add(actor=request.auth, batch_id=batch_id,
                                 shipment_ids=payload.shipment_ids)
    return [_batch_out(b) for b in batches]


@router.post("/batches/{batch_id}/remove", response=BatchOut)
def batch_remove(request: ApiRequest, batch_id: DbId, payload: ShipmentIdsIn):
    return _batch_out(services.batch_remove(actor=request.auth, batch_id=batch_id,
                                            shipment_ids=payload.shipment_ids))


@router.post("/batches/{batch_id}/move", response=BatchOut)
def batch_move(request: ApiRequest, batch_id: DbId, payload: MoveIn):
    return _batch_out(services.batch_move(actor=request.auth, batch_id=batch_id,
                                          to_batch_id=payload.to_batch_id,
                                          shipment_ids=payload.shipment_ids))


@router.delete("/batches/{batch_id}", response={204: None})
def batch_delete(request: ApiRequest, batch_id: DbId):
    services.batch_delete(actor=request.auth, batch_id=batch_id)
    return Status(204, None)


@router.post("/batches/{batch_id}/close", response=BatchOut)
def batch_close(request: ApiRequest, batch_id: DbId):
    return _batch_out(services.batch_close(actor=request.auth, batch_id=batch_id))


@router.post("/batches/{batch_id}/documents", response={202: DocumentOut, 200: DocumentOut})
def document_request(request: ApiRequest, batch_id: DbId, payload: DocumentIn):
    doc = services.document_request(actor=request.auth, batch_id=batch_id, kind=payload.kind)
    doc.refresh_from_db()
    return Status(200 if doc.status == "done" else 202, _document_out(doc))


@router.get("/documents/{document_id}", response=DocumentOut)
def document_status(request: ApiRequest, document_id: DbId):
    return _document_out(selectors.document_get(actor=request.auth, document_id=document_id))


@router.get("/documents/{document_id}/download", url_name="document_download")
def document_download(request: ApiRequest, document_id: DbId):
    handle, filename, content_type = services.document_open(actor=request.auth,
                                                            document_id=document_id)
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type)


def _pickup_out(p: CourierPickup) -> CourierPickupOut:
    return CourierPickupOut(
        id=p.pk, batch_id=p.batch_id, carrier_id=p.carrier_id, number=p.number, state=p.state,
        state_name=p.state_name, error=p.error, day=p.day, time_from=p.time_from,
        time_to=p.time_to, address=p.address, created_at=p.created_at)


@router.get("/batches/{batch_id}/courier", response=list[CourierPickupOut])
def courier_list(request: ApiRequest, batch_id: DbId):
    batch = selectors.batch_get(actor=request.auth, batch_id=batch_id)
    return [_pickup_out(p) for p in courier.courier_pickups(batch)]


@router.post("/batches/{batch_id}/courier", response={201: CourierPickupOut})
def courier_order(request: ApiRequest, batch_id: DbId, payload: CourierOrderIn):
    return Status(201, _pickup_out(courier.courier_order(
        actor=request.auth, batch_id=batch_id, day=payload.day, time_from=payload.time_from,
        time_to=payload.time_to, comment=payload.comment)))


@router.post("/courier-pickups/{pickup_id}/refresh", response=CourierPickupOut)
def courier_refresh(request: ApiRequest, pickup_id: DbId):
    return _pickup_out(courier.courier_refresh(actor=request.auth, pickup_id=pickup_id))


@router.post("/courier-pickups/{pickup_id}/cancel", response=CourierPickupOut)
def courier_cancel(request: ApiRequest, pickup_id: DbId):
    return _pickup_out(courier.courier_cancel(actor=request.auth, pickup_id=pickup_id))


@router.post("/certificates", response={201: CertificateOut})
def certificate_upload(request: ApiRequest, payload: CertificateIn):
    try:
        data = base64.b64decode(payload.pkcs12_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValidationFailed(_("Файл сертификата должен быть в base64"), errors=[
            FieldError(loc=("pkcs12_base64",), message=_("Неверный base64"))]) from exc
    return Status(201, services.certificate_upload(actor=request.auth, name=payload.name,
                                                   pkcs12_data=data, password=payload.password))


@router.post("/certificates/demo", response={201: CertificateOut})
def certificate_demo(request: ApiRequest):
    return Status(201, services.certificate_create_demo(actor=request.auth))
