"""Background document generation (queue "documents"): load by id, call the service."""

from __future__ import annotations

from celery import shared_task

from shipdesk.documents import services


@shared_task(name="shipdesk.documents.tasks.generate_document", acks_late=True)
def generate_document(document_id: int, attempt: int) -> None:
    services.document_generate(document_id=document_id, attempt=attempt)
