"""``shipdesk org create --name NAME --owner-email EMAIL [--password P]``: an organization
and its owner, for the installation operator's first run; prints the organization's id."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from shipdesk.core.errors import ServiceError
from shipdesk.tenancy import services


class Command(BaseCommand):
    help = "Организации установки: create — создать организацию и её владельца."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="создать организацию и её владельца")
        create.add_argument("--name", required=True, help="название организации")
        create.add_argument("--owner-email", required=True, help="e-mail владельца (логин)")
        create.add_argument("--password", default="",
                            help="пароль нового владельца (без него — сгенерированный)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            made = services.organization_create_for_owner(
                operator=None, name=options["name"], owner_email=options["owner_email"],
                password=options["password"])
        except ServiceError as exc:
            lines = [str(exc.detail)] + [f"  {'.'.join(map(str, e.loc))}: {e.message}"
                                         for e in exc.errors]
            raise CommandError("\n".join(lines)) from exc
        org = made.organization
        self.stdout.write(str(org.pk))
        if not made.password:
            who = " (пользователь уже был)"
        elif options["password"]:
            who = ", пароль задан"
        else:
            who = f", пароль: {made.password}"
        self.stderr.write(f"Организация «{org.name}» (id {org.pk}), владелец "
                          f"{made.owner.email}{who}")
