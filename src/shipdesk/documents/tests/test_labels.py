from __future__ import annotations

import io
from decimal import Decimal

import pytest

from shipdesk.documents.rendering.barcodes import human_text, symbology
from shipdesk.documents.rendering.data import LabelData, PartyData
from shipdesk.documents.rendering.labels import render_labels
from shipdesk.documents.rendering.layout import LayoutRecorder, TextDoesNotFit
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import (
    assert_layout_sane,
    decode,
    page_texts,
    rasterise,
    save_png,
)

SENDER = PartyData(name="ООО «Ромашка»", address="г. Москва, ул. Тверская, д. 1, офис 5",
                   index="101000", phone="+74951234567")


def label(number: str, *, address: str = "Московская обл., г. Химки, ул. Молодёжная, д. 12, кв. 45",
          order: str = "ORD-1", cod: str = "0") -> LabelData:
    return LabelData(
        tracking_number=number, order_number=order, carrier_name="Почта России",
        mail_type="Посылка онлайн", mail_category="Обыкновенное", sender=SENDER,
        recipient=PartyData(name="Иванова Мария Сергеевна", address=address, index="141400",
                            phone="+79161234567"),
        weight_g=1250, declared_value=Decimal("1500.00"), cod_amount=Decimal(cod),
        marks=("Осторожно",))


def test_symbology_follows_the_number_format() -> None:
    assert symbology(f.rp14(5)) == "I2of5"
    assert symbology(f.s10(5)) == "Code128"
    assert human_text("10100062000052") == "101000 62 00005 2"
    assert human_text("RA123456785RU") == "RA 123 456 785 RU"


def test_thermal_labels_scan_back_to_the_exact_tracking_numbers() -> None:
    numbers = [f.rp14(10 + i) for i in range(3)] + [f.s10(20 + i) for i in range(3)]
    out = io.BytesIO()
    recorder = LayoutRecorder()
    count = render_labels([label(n, order=f"ORD-{i}", cod="250.50") for i, n in enumerate(numbers)],
                          out, layout="thermal", recorder=recorder)
    assert count == len(numbers)
    pages = rasterise(out.getvalue(), dpi=300)
    assert len(pages) == len(numbers)
    for i, (number, image) in enumerate(zip(numbers, pages, strict=True)):
        found = decode(image)
        linear = [text for fmt, text in found if fmt != "QRCode"]
        qr = [text for fmt, text in found if fmt == "QRCode"]
        expected_format = "ITF" if len(number) == 14 else "Code128"
        assert [fmt for fmt, _t in found if fmt != "QRCode"] == [expected_format]
        assert linear == [number]
        assert qr == [f"SD*{number}*141400*1250*1500.00*250.50*ORD-{i}"]
    save_png(pages[0], f.output_dir() / "label-thermal-rp14.png")
    save_png(pages[3], f.output_dir() / "label-thermal-s10.png")
    texts = page_texts(out.getvalue())
    assert human_text(numbers[0]) in texts[0] and human_text(numbers[3]) in texts[3]
    assert "Иванова Мария Сергеевна" in texts[0] and "141400" in texts[0]
    assert "Наложенный платёж: 250,50 руб." in texts[0]
    assert assert_layout_sane(recorder) >= len(numbers) * 7


def test_a4_sheet_holds_four_labels_all_readable() -> None:
    numbers = [f.rp14(30 + i) for i in range(4)] + [f.s10(40 + i) for i in range(2)]
    out = io.BytesIO()
    recorder = LayoutRecorder()
    render_labels([label(n) for n in numbers], out, layout="a4", recorder=recorder)
    pages = rasterise(out.getvalue(), dpi=300)
    assert len(pages) == 2
    found = sorted(t for image in pages for fmt, t in decode(image) if fmt != "QRCode")
    assert found == sorted(numbers)
    assert len(recorder.pages[0].boxes) == 4 * 8  # 7 blocks + the bars, per label
    assert_layout_sane(recorder)
    save_png(pages[0], f.output_dir() / "labels-a4.png")


def test_long_address_is_wrapped_or_shrunk_never_cut() -> None:
    long_address = ("Российская Федерация, Республика Саха (Якутия), Усть-Янский улус, "
                    "посёлок городского типа Депутатский, микрорайон Арктический, улица "
                    "Полярников-Первопроходцев, дом 17, корпус 3, строение 2, подъезд 4, "
                    "этаж 9, квартира 321, домофон 321К, позвонить за час до доставки")
    out = io.BytesIO()
    render_labels([label(f.rp14(50), address=long_address)], out, layout="a4")
    text = " ".join(page_texts(out.getvalue())[0].split())
    for word in long_address.split():
        assert word in text, f"{word!r} was cut off"
    (image,) = rasterise(out.getvalue(), dpi=300)
    assert [t for fmt, t in decode(image) if fmt != "QRCode"] == [f.rp14(50)]


def test_an_address_pasted_without_spaces_wraps_between_characters() -> None:
    glued = "Московскаяобл.,г.Химки,ул.Молодёжная,д.12,корп.3,кв.45,подъезд2,этаж7,домофон45К"
    out = io.BytesIO()
    render_labels([label(f.rp14(52), address=glued)], out, layout="a4")
    text = "".join(page_texts(out.getvalue())[0].split())
    assert glued in text


def test_an_address_that_cannot_fit_is_an_error_not_a_cut() -> None:
    with pytest.raises(TextDoesNotFit) as exc:
        render_labels([label(f.rp14(51), address="очень длинный адрес " * 200)], io.BytesIO())
    assert "recipient.address" in exc.value.block


def test_courier_layout_shows_the_pickup_point_and_scans_as_code128() -> None:
    courier = LabelData(
        tracking_number="1234567890", order_number="ORD-9", carrier_name="СДЭК",
        mail_type="Посылка склад-склад", mail_category="", sender=SENDER,
        recipient=PartyData(name="Петров Пётр", address="г. Казань, ул. Баумана, д. 1",
                            index="420111", phone="+79161234567"),
        weight_g=900, style="courier", form_code="", pickup_point="KZN45", city="г. Казань")
    out = io.BytesIO()
    recorder = LayoutRecorder()
    render_labels([courier], out, layout="thermal", recorder=recorder)
    text = " ".join(page_texts(out.getvalue())[0].split())
    assert "Пункт выдачи / город" in text and "KZN45" in text and "Ф7п" not in text
    (image,) = rasterise(out.getvalue(), dpi=300)
    assert [(fmt, t) for fmt, t in decode(image) if fmt != "QRCode"] == [("Code128", "1234567890")]
    assert_layout_sane(recorder)
    save_png(image, f.output_dir() / "label-courier.png")


def test_labels_drawn_with_a_helper_process_are_the_same_as_in_line() -> None:
    numbers = [f.rp14(600 + i) if i % 2 else f.s10(600 + i) for i in range(300)]
    in_line, helped = io.BytesIO(), io.BytesIO()
    assert render_labels((label(n) for n in numbers), in_line, layout="a4", workers=1) == 300
    assert render_labels((label(n) for n in numbers), helped, layout="a4", workers=2) == 300
    assert helped.getvalue() == in_line.getvalue()
    last = rasterise(helped.getvalue(), dpi=300, pages=[74])[0]
    assert sorted(t for fmt, t in decode(last) if fmt != "QRCode") == sorted(numbers[-4:])
