"""Background document generation (queue "documents"): load by id, call the service."""

from __future__ import annotations

from celery import shared_task

from shipdesk.documents import services


@shared_task(name="shipdesk.documents.tasks.generate_document", acks_late=True)
def generate_document(document_id: int, attempt: int) -> None:
    services.document_generate(document_id=document_id, attempt=attempt)


@shared_task(name="shipdesk.documents.tasks.generate_documents", acks_late=True)
def generate_documents(ids: list[int]) -> None:
    """The due-work sweep's retry of documents whose generation never finished."""
    for document_id in ids:
        services.document_retry(document_id=document_id)
