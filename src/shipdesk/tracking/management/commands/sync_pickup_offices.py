"""``shipdesk sync_pickup_offices [--account ID ...]``: loads the carriers' pickup points."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from shipdesk.tracking.services import tracking_pickup_offices_sync


class Command(BaseCommand):
    help = ("Loads every active carrier account's pickup points (address, opening hours) "
            "into the office directory shown on the recipient's tracking page.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", type=int, action="append", dest="accounts",
                            help="only this carrier account (may repeat)")

    def handle(self, *args: Any, **options: Any) -> None:
        written = tracking_pickup_offices_sync(account_ids=options["accounts"])
        self.stdout.write(f"pickup points written: {written}")
