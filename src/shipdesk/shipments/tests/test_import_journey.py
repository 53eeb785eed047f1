"""A shop operator's import in Chromium: the shop's own export (headed «Вес, кг», its own
words), one column fixed by hand, progress watched, the error report downloaded, the
corrected rows sent again and counted as skipped and stored."""

from __future__ import annotations

import csv
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from openpyxl import Workbook, load_workbook

from shipdesk.shipments import importing
from shipdesk.shipments.models import ImportJob, Shipment
from shipdesk.tenancy import services as tenancy

PASSWORD = "Import-Journey-2024"
HEADERS = ["№ заказа", "Клиент", "Телефон", "Индекс", "Город", "Адрес доставки", "Вес, кг"]


def shop_file(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Заказы"
    sheet.append(HEADERS)
    for order, index, kilos in rows:
        sheet.append([order, "Петрова Анна Сергеевна", "+7 912 000-00-01", index, "Москва",
                      "ул. Мясницкая, д. 1, кв. 5", kilos])
    workbook.save(path)
    return path


@pytest.mark.browser
def test_shop_file_mapped_by_hand_watched_reported_and_sent_again(
        transactional_db: Any, live_server: Any, chromium: Any, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, mail_type_limits: None) -> None:
    user = tenancy.user_create(email="shop@example.test", password=PASSWORD)
    tenancy.organization_create(owner=user, name="Ромашка")
    queued: list[int] = []
    # the job is queued, not run at once: the test runs it, so the page is seen waiting
    monkeypatch.setattr(importing, "_dispatch", lambda job: queued.append(job.pk))
    page = chromium.new_page(locale="ru-RU")
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/login/")
    page.fill("#id_username", "shop@example.test")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector(".mainnav")

    first = shop_file(tmp_path / "export.xlsx", [
        ("S-1", "101000", "14,954"), ("S-2", "101000", "10"),
        ("S-3", "101000", "60"),  # 60 kg: over the parcel's 50 kg
        ("S-4", "000111", "1,5")])  # no such index
    page.goto(live_server.url + "/shipments/import/")
    page.set_input_files("#id_file", str(first))
    page.click("text=Проверить файл")
    page.wait_for_selector("#mapping-form")
    text = page.inner_text("body")
    assert "Колонка G «Вес, кг»: вес в килограммах, переводим в граммы (так сказано в " \
           "заголовке)" in text
    assert "Нет колонки «ФИО получателя»: выберите её в списке" in text
    assert page.input_value("select[name=col_6]") == "weight_g"
    assert page.input_value("select[name=col_1]") == ""  # «Клиент»: not known

    page.select_option("select[name=col_1]", "recipient_name")  # fixed by hand
    page.click("#mapping-form button.primary")
    page.wait_for_selector("#progress[data-status=pending]")
    assert Shipment.objects.count() == 0
    (job_id,) = queued

    reached, release = threading.Event(), threading.Event()

    def hold(done: int, total: int) -> None:
        reached.set()
        release.wait(30)

    def work() -> None:
        try:
            importing.import_job_run(job_id=job_id, progress=hold)
        finally:
            connection.close()

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert reached.wait(30)
        # the page polls itself: the job running, its rows read, checked and stored
        page.wait_for_selector("#progress[data-status=running]"
                               ":has-text('Прочитано 4, проверено 4, сохранено 4 из 4')")
    finally:
        release.set()
        worker.join(30)
    page.wait_for_selector("#progress[data-status=done]")
    assert ("Строк в файле: 4; загружено: 2; пропущено как уже загруженные: 0; отклонено: 2"
            in page.inner_text("#progress"))
    assert dict(Shipment.objects.values_list("order_number", "weight_g")) == {
        "S-1": 14954, "S-2": 10000}

    with page.expect_download() as download:
        page.click("text=Все ошибки (CSV)")
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8-sig")),
                           delimiter=";"))
    assert rows[0] == ["Лист", "Строка файла", "Колонка", "Поле", "Ошибка"]
    by_row = {r[1]: r for r in rows[1:]}
    assert by_row["4"][2:4] == ["G", "Вес, кг"] and "Вес 60000 г вне пределов" in by_row["4"][4]
    assert by_row["5"][2] == "D" and "000111" in " ".join(by_row["5"])
    with page.expect_download() as download:
        page.click("text=Строки с ошибками (XLSX")
    marked = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    assert [r[0].value for r in marked.iter_rows(min_row=2)] == [4, 5]

    # the corrected rows sent again with the ones already stored: those are skipped
    corrected = shop_file(tmp_path / "export-fixed.xlsx", [
        ("S-1", "101000", "14,954"), ("S-2", "101000", "10"),
        ("S-3", "101000", "6"), ("S-4", "101000", "1,5")])
    page.goto(live_server.url + "/shipments/import/")
    page.set_input_files("#id_file", str(corrected))
    page.click("text=Проверить файл")
    page.wait_for_selector("#mapping-form")
    assert page.input_value("select[name=col_1]") == "recipient_name"  # remembered
    assert page.locator("#mapping-form ~ p.error, p.error[role=alert]").count() == 0
    page.click("#mapping-form button.primary")
    page.wait_for_selector("#progress[data-status=pending]")
    importing.import_job_run(job_id=queued[-1])
    page.wait_for_selector("#progress[data-status=done]")
    assert ("Строк в файле: 4; загружено: 2; пропущено как уже загруженные: 2; отклонено: 0"
            in page.inner_text("#progress"))
    assert dict(Shipment.objects.values_list("order_number", "weight_g")) == {
        "S-1": 14954, "S-2": 10000, "S-3": 6000, "S-4": 1500}

    page.click("text=История загрузок")
    page.wait_for_selector("#import-history")
    history = page.locator("#import-history tbody tr").all_inner_texts()
    assert len(history) == 2 and "export-fixed.xlsx" in history[0]
    assert "shop@example.test" in history[1] and "export.xlsx" in history[1]
    assert ImportJob.objects.count() == 2
