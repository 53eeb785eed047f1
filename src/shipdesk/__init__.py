"""Shipdesk: the shipping back-office for online shops and large senders."""

from shipdesk.celery import app as celery_app

__all__ = ["celery_app"]
