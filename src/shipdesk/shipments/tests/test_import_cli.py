"""``shipdesk import``: its exit code tells success, partial and failure apart; its progress
goes to stderr, its summary to stdout."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command, load_command_class

from shipdesk.shipments.models import Shipment
from shipdesk.shipments.tests.test_importing import HEADERS, row, xlsx
from shipdesk.tenancy.services import Actor


def run(actor: Actor, path: Path, *args: str, **options: object) -> int:
    try:
        call_command("import", str(path), *args, org=str(actor.organization.pk), **options)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_every_row_stored_exits_0_with_a_progress_line(
        actor: Actor, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ok.xlsx"
    path.write_bytes(xlsx([row(1), row(2)]))
    assert run(actor, path, json=True) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["created"] == 2
    assert "2/2 строк" in err and "строк/с" in err


def test_some_rows_rejected_exits_2(actor: Actor, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "some.xlsx"
    path.write_bytes(xlsx([row(1), row(2, weight=-1)]))
    assert run(actor, path) == 2
    out = capsys.readouterr().out
    assert "Загружено 1" in out and "строка 3, H" in out and "Все ошибки:" in out
    assert Shipment.objects.count() == 1


def test_all_or_nothing_with_errors_exits_1(actor: Actor, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "aon.xlsx"
    path.write_bytes(xlsx([row(1), row(2, weight=-1)]))
    assert run(actor, path, mode="all_or_nothing", json=True) == 1
    summary = json.loads(capsys.readouterr().out)
    assert (summary["created"], summary["rejected"]) == (0, 1)
    assert Shipment.objects.count() == 0


def test_a_file_of_only_bad_rows_exits_1(actor: Actor, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    path.write_bytes(xlsx([row(1, weight=-1)]))
    assert run(actor, path) == 1


def test_a_file_refused_whole_exits_1(actor: Actor, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04broken")
    assert run(actor, path) == 1
    assert "повреждён" in capsys.readouterr().err


def test_the_weight_unit_told_on_the_command_line(actor: Actor, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    headers = [*HEADERS[:7], "Вес"]
    path = tmp_path / "kilos.xlsx"
    path.write_bytes(xlsx([row(1, weight=2)[:8]], headers))
    assert run(actor, path) == 1
    assert "не понять, вес в килограммах или в граммах" in capsys.readouterr().err
    assert run(actor, path, weight_unit="kg") == 0
    assert Shipment.objects.get().weight_g == 2000


def test_help_tells_the_exit_codes() -> None:
    command = load_command_class("shipdesk.shipments", "import")
    text = " ".join(command.create_parser("shipdesk", "import").format_help().split())
    assert "0 — все строки загружены" in text and "2 — часть строк отклонена" in text
    assert "1 — ничего не загружено" in text
