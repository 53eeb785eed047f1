from __future__ import annotations

from celery import shared_task

from shipdesk.integrations.shops import intake


@shared_task(name="shipdesk.integrations.shops.tasks.push_orders", ignore_result=True)
def push_orders(ids: list[int]) -> None:
    intake.shop_orders_push(ids=ids)
