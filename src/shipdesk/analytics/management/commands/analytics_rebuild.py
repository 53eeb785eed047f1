from typing import Any

from django.core.management.base import BaseCommand

from shipdesk.analytics.services import analytics_rebuild


class Command(BaseCommand):
    help = "Recomputes the statistics' rollups from the stored shipments and status changes."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--organization", type=int, action="append",
                            help="only this organization (repeatable)")

    def handle(self, *args: Any, **options: Any) -> None:
        done = analytics_rebuild(organization_ids=options["organization"])
        self.stdout.write(f"shipments: {done['shipments']}, "
                          f"status changes: {done['status_changes']}")
