"""The postage REST API (/api/v1/postage/)."""

from ninja import Router

router = Router(tags=["postage"])
