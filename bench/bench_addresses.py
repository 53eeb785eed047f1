"""One-line addresses split into parts (shipments/addresses.py): 100,000 varied, realistic
lines (every one distinct: the cache does not help), parsed cold. Prints µs per line
(target <= 20: an upload's every row may carry one), timed in this process's CPU time (a
parse is pure CPU; the machine's other processes then weigh less on the figure), and, as
information, the same with no cache at all.

    .venv/bin/python bench/bench_addresses.py
    BENCH_ROWS=20000 .venv/bin/python bench/bench_addresses.py
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
REGIONS = ["Свердловская обл.", "Московская область", "Респ. Татарстан", "Краснодарский край",
           "Республика Саха (Якутия)", "Новосибирская обл", "Ханты-Мансийский автономный округ"]
DISTRICTS = ["Белоярский р-н", "Намский улус", "район Раменский", "Сысертский район"]
CITIES = ["г. Екатеринбург", "Екатеринбург", "г Казань", "пос. Растущий", "с. Намцы",
          "дер. Ивановка", "г. Сочи", "пгт Белоярский", "Новосибирск", "г. Сургут"]
FEDERAL = ["Москва", "г. Москва", "Санкт-Петербург", "г. Санкт-Петербург"]
STREETS = ["ул. {n}", "улица {n}", "{n} ул.", "пр-т {n}", "проспект {n}", "пер. {n}",
           "наб. реки {n}", "ш. {n}", "{n} шоссе", "б-р {n}", "пл. {n}", "мкр. {n}",
           "проезд {n}", "тупик {n}", "аллея {n}", "{k}-я линия", "кв-л {n}", "{n}"]
NAMES = ["Ленина", "Мира", "Гагарина", "Мойки", "им. 50-летия Октября", "8 Марта",
         "Карла Маркса", "Тверская", "Садовая", "Первомайская", "Малышева", "Сибирский тракт",
         "Фонтанки", "Комсомольская", "Победы", "Заречная", "Лесная", "Набережная"]
HOUSES = ["д. {h}", "{h}", "д.{h}", "дом {h}", "{h}А", "д. {h}/2", "{h}к2", "д. {h} корп. 1",
          "д. {h}, стр. 3", "{h} к. 2 стр. 1"]
FLATS = ["кв. {f}", "{f}", "кв.{f}", "квартира {f}", "оф. {f}", "", ""]


SYLLABLES = ["ка", "ли", "но", "ва", "ро", "ми", "ту", "ше", "за", "бе", "го", "ле", "да"]


def street_name(rng: random.Random) -> str:
    """A name from the list, or (half the time) one of ~10,000 made-up surnames: a big
    file's streets are many, and a piece seen before is answered from the cache."""
    if rng.random() < 0.5:
        return rng.choice(NAMES)
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randrange(2, 5))).title() + "а"


def address(rng: random.Random, n: int) -> str:
    street = rng.choice(STREETS).format(n=street_name(rng), k=rng.randrange(1, 27))
    house = rng.choice(HOUSES).format(h=rng.randrange(1, 300))
    flat = rng.choice(FLATS).format(f=rng.randrange(1, 500))
    parts = [street, house] + ([flat] if flat else [])
    shape = n % 6
    if shape == 0:  # the street part of an export beside «Регион» and «Город» columns
        pass
    elif shape == 1:
        parts = [rng.choice(FEDERAL), *parts]
    elif shape == 2:
        parts = [f"{rng.randrange(100000, 999999)}", rng.choice(REGIONS), rng.choice(CITIES),
                 *parts]
    elif shape == 3:
        parts = [rng.choice(REGIONS), rng.choice(DISTRICTS), rng.choice(CITIES), *parts]
    elif shape == 4:  # small to big
        parts = [*parts, rng.choice(CITIES), rng.choice(REGIONS)]
    else:  # no commas
        return " ".join([rng.choice(CITIES), street, house, flat]).strip()
    return ", ".join(parts)


def main() -> None:
    from shipdesk.shipments import addresses

    rng = random.Random(7)
    lines = list(dict.fromkeys(address(rng, n) for n in range(ROWS * 2)))[:ROWS]
    parse = addresses._parse.__wrapped__  # no line is seen twice: the lines' cache is off
    known: frozenset[str] = frozenset()
    started = time.process_time()
    for line in lines:
        parse(line, known)
    per_line = (time.process_time() - started) / len(lines) * 1e6
    print(f"RESULT address_parse {per_line:.1f} us/line target <= 20 "
          f"({len(lines)} distinct lines; pieces cached as over a file)")
    pieces = addresses._piece
    addresses._piece = pieces.__wrapped__  # type: ignore[assignment]
    try:
        started = time.process_time()
        for line in lines:
            parse(line, known)
        cold = (time.process_time() - started) / len(lines) * 1e6
    finally:
        addresses._piece = pieces
    print(f"INFO address_parse_uncached {cold:.1f} us/line (no cache at all)")
    split = sum(1 for line in lines if parse(line, known).house)
    print(f"INFO address_split {split * 100 / len(lines):.1f} % lines with a house found")


if __name__ == "__main__":
    main()
