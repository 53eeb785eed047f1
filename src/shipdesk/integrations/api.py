"""The integrations REST API (/api/v1/integrations/)."""

from ninja import Router

router = Router(tags=["integrations"])
