from __future__ import annotations

from datetime import date
from decimal import Decimal

from shipdesk.documents import rules
from shipdesk.documents.rendering.data import (
    CodTransferData,
    CustomsData,
    CustomsItemData,
    InventoryData,
    InventoryItemData,
    PartyData,
)
from shipdesk.documents.rendering.forms import (
    draw_cod_transfer,
    draw_customs,
    draw_inventory,
    render_single,
)
from shipdesk.documents.rendering.layout import LayoutRecorder
from shipdesk.documents.rendering.words import rubles_in_words
from shipdesk.documents.tests import factories as f
from shipdesk.documents.tests.pdfcheck import (
    assert_layout_sane,
    decode,
    page_texts,
    rasterise,
    save_png,
)

SHOP = PartyData(name="ООО «Ромашка»", address="г. Москва, ул. Тверская, д. 1", index="101000",
                 inn="7707083893", phone="+74951234567")
ABROAD = PartyData(name="John Smith", address="10 Downing St, London", index="SW1A 2AA",
                   country="GB", phone="+447700900000")


def test_customs_form_follows_the_300_sdr_rule() -> None:
    sdr = Decimal("120")
    assert rules.customs_form(mail_type="SMALL_PACKET", contents_value_rub=Decimal("36000"),
                              sdr_rate_rub=sdr) == "CN22"
    assert rules.customs_form(mail_type="SMALL_PACKET", contents_value_rub=Decimal("36000.01"),
                              sdr_rate_rub=sdr) == "CN23"
    assert rules.customs_form(mail_type="POSTAL_PARCEL", contents_value_rub=Decimal("10"),
                              sdr_rate_rub=sdr) == "CN23"


def test_cn23_lists_items_hs_codes_origin_and_totals() -> None:
    items = (CustomsItemData("Футболка хлопковая", 2, 400, Decimal("3000.00"), "610910", "RU"),
             CustomsItemData("Книга", 1, 700, Decimal("1250.50"), "490199", "RU"))
    recorder = LayoutRecorder()
    for form in ("CN22", "CN23"):
        pdf = render_single(draw_customs, CustomsData(form, "RA123456785RU", SHOP, ABROAD, items,
                                                      gross_weight_g=1300,
                                                      date=date(2026, 11, 23)),
                            form, recorder=recorder)
        text = " ".join(page_texts(pdf)[0].split())
        assert text.startswith(form)
        for word in ("Футболка хлопковая", "610910", "490199", "Книга", "3 000,00", "1 250,50",
                     "Total value: 4 250,50 RUB", "1,300 кг", "John Smith"):
            assert word in text, (form, word)
        save_png(rasterise(pdf, dpi=100)[0], f.output_dir() / f"{form}.png")
    assert_layout_sane(recorder)


def test_f112ep_shows_the_amount_in_figures_words_and_the_parcel_barcode() -> None:
    number = f.rp14(900)
    recorder = LayoutRecorder()
    pdf = render_single(draw_cod_transfer, CodTransferData(number, Decimal("1521.05"), SHOP, ABROAD,
                                                           (("БИК", "044525225"),)),
                        "f112", recorder=recorder)
    text = " ".join(page_texts(pdf)[0].split())
    assert "1 521,05 руб." in text
    assert "Одна тысяча пятьсот двадцать один рубль 05 копеек" in text
    assert "БИК: 044525225" in text
    (image,) = rasterise(pdf, dpi=300)
    assert decode(image) == [("ITF", number)]
    assert_layout_sane(recorder)


def test_rubles_in_words() -> None:
    assert rubles_in_words(Decimal("0.01")) == "Ноль рублей 01 копейка"
    assert rubles_in_words(Decimal("2002.22")) == "Две тысячи два рубля 22 копейки"
    assert rubles_in_words(Decimal("111")) == "Сто одиннадцать рублей 00 копеек"


def test_f107_two_copies_with_items_and_total() -> None:
    data = InventoryData("10100062009002", SHOP, ABROAD, (
        InventoryItemData("Книга «Война и мир»", 2, Decimal("500.00")),
        InventoryItemData("Закладка", 3, Decimal("30.00"))))
    recorder = LayoutRecorder()
    pdf = render_single(draw_inventory, data, "f107", recorder=recorder)
    texts = [" ".join(t.split()) for t in page_texts(pdf)]
    assert len(texts) == 2
    for text in texts:
        assert "ОПИСЬ ВЛОЖЕНИЯ" in text and "Книга «Война и мир»" in text
        assert "Итого 5 530,00" in text
    assert_layout_sane(recorder)
