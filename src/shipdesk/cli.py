"""The ``shipdesk`` command: Django's management commands under one name.

``shipdesk --help`` lists them; ``shipdesk COMMAND --help`` explains each.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "shipdesk.settings")
    from django.core.management import execute_from_command_line

    argv = sys.argv[:]
    argv[0] = "shipdesk"
    if len(argv) == 1 or argv[1] in ("-h", "--help"):
        argv = ["shipdesk", "help"]
    execute_from_command_line(argv)


if __name__ == "__main__":
    main()
