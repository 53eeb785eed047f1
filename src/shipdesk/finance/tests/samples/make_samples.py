"""Writes the anonymised sample payout reports the tests read (run once; the files are kept
in the repository). Names, numbers and sums are invented; the layouts follow the carriers'
reports as described in each carrier's ``payout_format.md``.

    uv run --no-project --with xlwt==1.3.0 python make_samples.py
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cdek_xls() -> None:
    import xlwt

    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("Реестр")
    ws.write(0, 0, "ООО «СДЭК-Глобал»")
    ws.write(1, 0, "Реестр наложенных платежей № 4711 от 05.12.2026")
    ws.write(2, 0, "Клиент: ИП Образцов (договор ИМ-000)")
    headers = ["№ п/п", "Номер заказа СДЭК", "Номер отправления ИМ", "Дата доставки",
               "Сумма наложенного платежа", "Агентское вознаграждение", "Сумма к перечислению",
               "Сумма возврата"]
    # a merged group title over the money columns, the usual two-level header
    ws.write_merge(3, 3, 4, 7, "Суммы, руб.")
    for col, title in enumerate(headers):
        ws.write(4, col, title)
    date_style = xlwt.easyxf(num_format_str="DD.MM.YYYY")
    rows = [
        ("1500000001", "SHOP-1001", dt.date(2026, 12, 1), 1234.5, 37.04, 1197.46, 0),
        ("1500000002", "SHOP-1002", dt.date(2026, 12, 2), 2000, 60, 1940, 0),
        ("1500000003", "SHOP-1003", dt.date(2026, 12, 2), 1500, 45, 1455, 1000),
        ("1500000099", "SHOP-9999", dt.date(2026, 12, 3), 700, 21, 679, 0),
        ("1500000004", "SHOP-1004", dt.date(2026, 12, 3), 900, 27, 873, 0),
    ]
    for i, (num, order, day, cod, fee, paid, ret) in enumerate(rows, start=1):
        r = 4 + i
        ws.write(r, 0, i)
        ws.write(r, 1, num)
        ws.write(r, 2, order)
        ws.write(r, 3, day, date_style)
        for c, v in enumerate((cod, fee, paid, ret), start=4):
            ws.write(r, c, v)
    ws.write(4 + len(rows) + 1, 1, "Итого")
    ws.write(4 + len(rows) + 1, 4, sum(r[3] for r in rows))
    book.save(str(HERE / "cdek_registry.xls"))


def russian_post_csv() -> None:
    lines = [
        "Список переводов наложенного платежа № 77-0512 от 05.12.2026",
        "Отправитель;ИП Образцов",
        "",
        "ШПИ;Номер заказа;Дата оплаты;Сумма НП;Плата за перевод;Сумма перевода",
        "80099500000011;SHOP-2001;04.12.2026;1 234,50;18,52;1 215,98",
        "80099500000028;SHOP-2002;04.12.2026;3 000,00;45,00;2 955,00",
        "80099500000035;;05.12.2026;499,99;7,50;492,49",
        ";Итого;;4 734,49;71,02;4 663,47",
    ]
    (HERE / "russian_post_transfers.csv").write_bytes("\r\n".join(lines).encode("cp1251"))


def _ods_cell(value: object) -> str:
    if isinstance(value, int | float):
        return (f'<table:table-cell office:value-type="float" office:value="{value}">'
                f"<text:p>{value}</text:p></table:table-cell>")
    if isinstance(value, dt.date):
        return (f'<table:table-cell office:value-type="date" office:date-value="{value:%Y-%m-%d}">'
                f"<text:p>{value:%d.%m.%Y}</text:p></table:table-cell>")
    if value in (None, ""):
        return "<table:table-cell/>"
    return f'<table:table-cell office:value-type="string"><text:p>{value}</text:p></table:table-cell>'


def pickpoint_ods() -> None:
    rows: list[list[object]] = [
        ["Отчёт агента № PP-2026-48 о принятых платежах"],
        [],
        ["Номер отправления", "Номер заказа магазина", "Дата выдачи", "Сумма к оплате",
         "Вознаграждение агента", "К перечислению", "Возврат товара"],
        ["19900000101", "SHOP-3001", dt.date(2026, 12, 1), 2500, 62.5, 2437.5, 0],
        ["19900000102", "SHOP-3002", dt.date(2026, 12, 2), 1800, 45, 1755, 0],
        ["Итого", "", "", 4300, 107.5, 4192.5, 0],
    ]
    body = "".join("<table:table-row>" + "".join(_ods_cell(c) for c in r) + "</table:table-row>"
                   for r in rows)
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="Отчёт">{body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" manifest:version="1.2" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    with zipfile.ZipFile(HERE / "pickpoint_report.ods", "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        z.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)


def sandbox_csv() -> None:
    lines = ["# SHIPDESK SANDBOX PAYOUT REPORT",
             "tracking_number;order_reference;cod_amount;fee;paid_amount;paid_on",
             "SB000000001RU;SHOP-4001;1000.00;20.00;980.00;2026-12-04",
             "SB000000002RU;SHOP-4002;555.55;11.11;544.44;2026-12-04"]
    (HERE / "sandbox_payouts.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    cdek_xls()
    russian_post_csv()
    pickpoint_ods()
    sandbox_csv()
