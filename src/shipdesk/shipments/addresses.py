"""A Russian address written on one line, split into its parts: region, district, place,
street, house, building and flat.

Rule-based and pure (no database, no network, no model). The line is cut at its commas;
each piece is cut into words and numbers, and one pass over them places each run of words
by its type word (``ул.``, ``обл.``, ``р-н``, ``пос.``, before or after the name) and each
number by its marker (``д.``, ``корп.``, ``стр.``, ``кв.``, ``оф.``). A piece's reading is
cached (pieces such as "кв. 12" or "Свердловская обл." recur over a file far more than
whole lines); the pieces' items are then combined: the first bare number is the house, the
next one the flat; names without a type word are placed by position (the one right before
the house is the street, the ones before it the place, then the district and the region;
an address written small to big works too). About 10 µs a line of a big file on a quiet
machine (``bench/bench_addresses.py``), and a line seen before comes from a cache.

What the parser cannot place is never dropped silently: a line without a house number
whose names could not all be placed by their type words is reported as not split
(``ParsedAddress.split`` false), and names left over beside a house are listed in
``unplaced``; the caller keeps the line as given and warns the operator.

The values are returned as written in the line, type words included ("ул. Мира",
"Белоярский р-н"); :func:`shipdesk.shipments.validation.normalize_address_part` puts them
in the form Russian Post prints.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

# --- type words, as data: the word as written (lower case, no dot) → the abbreviation ------
# Russian Post prints (the FIAS short names). Also used by normalisation.

STREET_TYPES: dict[str, str] = {
    "улица": "ул.", "ул": "ул.",
    "проспект": "пр-кт", "пр-т": "пр-кт", "пр-кт": "пр-кт", "просп": "пр-кт", "пр": "пр-кт",
    "переулок": "пер.", "пер": "пер.",
    "бульвар": "б-р", "б-р": "б-р", "бул": "б-р",
    "шоссе": "ш.", "ш": "ш.",
    "набережная": "наб.", "наб": "наб.",
    "площадь": "пл.", "пл": "пл.",
    "проезд": "проезд", "пр-д": "проезд",
    "микрорайон": "мкр.", "мкр": "мкр.", "мкрн": "мкр.", "мк-н": "мкр.",
    "тупик": "туп.", "туп": "туп.",
    "аллея": "аллея", "ал": "аллея",
    "линия": "линия", "лн": "линия",
    "квартал": "кв-л", "кв-л": "кв-л",
    "тракт": "тракт", "спуск": "спуск", "въезд": "въезд", "просек": "просек",
    "проулок": "проулок", "дорога": "дор.", "дор": "дор.",
    "территория": "тер.", "тер": "тер.", "снт": "СНТ", "днт": "ДНТ",
}
PLACE_TYPES: dict[str, str] = {
    "город": "г.", "г": "г.", "гор": "г.",
    "поселок": "п.", "посёлок": "п.", "пос": "п.", "п": "п.",
    "пгт": "пгт", "рабочий поселок": "рп", "рп": "рп",
    "село": "с.", "с": "с.",
    "деревня": "д.", "дер": "д.", "д": "д.",
    "станица": "ст-ца", "ст-ца": "ст-ца",
    "хутор": "х.", "х": "х.",
    "аул": "аул", "улус": "улус", "слобода": "сл.", "сл": "сл.",
}
REGION_TYPES: dict[str, str] = {
    "область": "обл.", "обл": "обл.",
    "республика": "Респ.", "респ": "Респ.",
    "край": "край",
    "автономный округ": "АО", "ао": "АО", "аобл": "Аобл",
    "г": "г.", "город": "г.",  # "г. Москва" as a region
}
DISTRICT_TYPES: dict[str, str] = {
    "район": "р-н", "р-н": "р-н", "р-он": "р-н", "округ": "округ", "улус": "улус",
    "кожуун": "кожуун", "г.о": "г.о.", "го": "г.о.", "м.р-н": "м.р-н",
}
# the words after which a number is the house, the building, the flat ...
_NUMBER_MARKERS: dict[str, str] = {
    "дом": "house", "д": "house", "вл": "house", "влд": "house", "владение": "house",
    "участок": "house", "уч": "house",
    "корпус": "corpus", "корп": "corpus", "кор": "corpus", "к": "corpus",
    "строение": "structure", "стр": "structure", "с": "structure",
    "литера": "letter", "литер": "letter", "лит": "letter",
    "квартира": "apartment", "кв": "apartment", "офис": "office", "оф": "office",
    "помещение": "room", "пом": "room", "комната": "room", "комн": "room",
    # told to the courier, not part of the postal address: read over
    "подъезд": "skip", "под": "skip", "п-д": "skip", "этаж": "skip", "эт": "skip",
    "домофон": "skip", "код": "skip",
}
_ROOM_PREFIX = {"office": "оф. ", "room": "пом. "}
_BUILDING_PREFIX = {"corpus": "корп. ", "structure": "стр. ", "letter": "лит. "}
_COUNTRY_WORDS = frozenset({"россия", "рф", "российская", "федерация"})
# cities that are regions of their own: named without a type word and without a region
FEDERAL_CITIES = frozenset({"москва", "санкт-петербург", "спб", "с-пб", "севастополь"})

_AREA_KIND: dict[str, str] = {}
for _kind, _types in (("region", REGION_TYPES), ("district", DISTRICT_TYPES),
                      ("city", PLACE_TYPES), ("street", STREET_TYPES)):
    for _word in _types:
        if " " not in _word:
            _AREA_KIND[_word] = _kind  # later tables win: "г" is a place, "улус" a place
_AREA_KIND["улус"] = "district"
# a part of town that holds streets or houses itself: kept with the street
# ("мкр. Сходня, ул. Мичурина"; Otpravka's location-to)
for _word in ("микрорайон", "мкр", "мкрн", "мк-н", "квартал", "кв-л", "территория", "тер",
              "снт", "днт"):
    _AREA_KIND[_word] = "location"
# type words written after the name far more often than before it
_POSTFIX_FIRST = frozenset({"область", "обл", "край", "ао", "район", "р-н", "р-он", "улус",
                            "округ", "кожуун"})  # "Намский улус" (after a name) far more often than a village

_WORD, _NUMBER, _PAREN = 1, 2, 3  # the kinds of token
_GLUED = re.compile(r"([^\W\d_]+)\.?(\d.*)")  # "д5", "кв12"
# what needs a closer look than the first sign of each token: a word glued to a number,
# signs other than letters, digits and the usual punctuation
_ODD = re.compile(r"[^\w\s,.;()/\\-]|[^\W\d_]\d")
_FIRST = {**dict.fromkeys("0123456789", _NUMBER), "(": _PAREN}
_ORDINAL = re.compile(r"\d+-[^\W\d_]+")  # "6-я", "1-й", "50-летия": part of a name
_HOUSE_FLAT = re.compile(r"(\d+[^\W\d_]?)-(\d+)")  # "5-12": house 5, flat 12
_HOUSE_GLUED = re.compile(
    r"(\d+[^\W\d_]?(?:/\d+[^\W\d_]?)?)(?:(?:к|корп)(\d+))?(?:(?:с|стр)(\d+))?", re.IGNORECASE)

ADDRESS_PARTS = ("index", "region", "district", "city", "street", "house", "building",
                 "apartment")


class ParsedAddress(NamedTuple):  # a tuple: made for every line of a file, cheaply
    postcode: str = ""  # the index (a tuple has its own .index)
    region: str = ""
    district: str = ""
    city: str = ""
    street: str = ""
    house: str = ""
    building: str = ""  # "корп. 2", "стр. 1", "корп. 2 стр. 1", "лит. А"
    apartment: str = ""  # "12", "оф. 3", "пом. 5"
    # False: no house, and names the type words did not place (the line is not understood)
    split: bool = True
    unplaced: tuple[str, ...] = ()  # what was read over, as written

    def parts(self) -> dict[str, str]:
        """The parts by the names of the shipment's fields ("index" for the postcode)."""
        return {"index": self.postcode, **{name: getattr(self, name)
                                           for name in ADDRESS_PARTS[1:]}}


# What one comma-separated piece of a line holds, in order: (tag, kind, text). A piece
# ("ул. Ленина", "д. 5", "кв. 12", "Свердловская обл.") recurs over the rows of a file far
# more than whole lines do, so pieces are read once and cached; a line is then combined
# from its pieces' items.
_RUN, _NUM, _HOUSE, _FLAT, _BUILDING, _INDEX, _UNPLACED = range(7)
Item = tuple[int, str, str]  # (tag, the run's kind or "" for a bare name, text)


def parse_address(line: str, known: frozenset[str] = frozenset()) -> ParsedAddress:
    """``line`` split into its parts. ``known``: the parts the caller has from elsewhere
    (the spreadsheet's «Город» column): names without a type word are not guessed as
    those."""
    if len(line) > 500:
        line = line[:500]
    return _parse(line, known)


def _tokens(piece: str) -> tuple[list[str], list[int], list[str]]:
    """The words, numbers and bracketed remarks of ``piece``, each token's kind and its
    lower-case form without a dot. (str.split, not a regular expression: three times
    faster.)"""
    split = piece.replace(".", ". ").split()
    if _ODD.search(piece) is None:  # the usual piece: each token is what its first sign says
        return split, [_FIRST.get(t[0], _WORD) for t in split], [
            t.lower().rstrip(".") for t in split]
    tokens: list[str] = []
    kinds: list[int] = []
    lows: list[str] = []
    for token in split:
        first = token[0]
        if first.isalpha():
            if token[-1].isdigit():  # "д5", "кв12"
                glued = _GLUED.fullmatch(token)
                if glued:
                    word = glued.group(1)
                    tokens += (word, glued.group(2))
                    kinds += (_WORD, _NUMBER)
                    lows += (word.lower(), "")
                    continue
            tokens.append(token)
            kinds.append(_WORD)
            lows.append(token.lower().rstrip("."))
        elif first.isdigit() or first == "(":
            tokens.append(token)
            kinds.append(_NUMBER if first != "(" else _PAREN)
            lows.append("")
        else:  # "№5", "«Солнечный»", a lone dash
            rest = token.lstrip("№#\"«'-—–")
            if rest and rest != token:
                tokens.append(rest)
                kinds.append(_NUMBER if rest[0].isdigit() else _WORD)
                lows.append("" if rest[0].isdigit() else rest.lower().rstrip("."))
    return tokens, kinds, lows


@lru_cache(maxsize=50_000)
def _piece(piece: str) -> tuple[Item, ...]:
    """The items of one comma-separated piece: runs of words (a name with its type word,
    or a bare name), numbers by their markers, bare numbers (the house or the flat, as the
    whole line decides)."""
    tokens, kinds, lows = _tokens(piece)
    count = len(tokens)
    items: list[Item] = []
    kind: str | None = None  # the open run's kind ("" bare), None: no run open
    words: list[str] = []
    worded = False  # the open run holds a word, not only numbers ("6-я" before "линия")
    pending = ""  # the number marker waiting for its number
    for i in range(count):
        group = kinds[i]
        text = tokens[i]
        if group == _PAREN:
            if words:
                words.append(text)
            continue
        next_group = kinds[i + 1] if i + 1 < count else 0
        next_low = lows[i + 1] if i + 1 < count else ""
        if group == _WORD:
            low = lows[i]
            marker = _NUMBER_MARKERS.get(low)
            if marker is not None and (next_group == _NUMBER or marker == "skip" or (
                    marker == "letter" and next_group == _WORD)):
                if words:
                    items.append((_RUN, kind or "", " ".join(words)))
                kind, words, pending = None, [], marker
                continue
            if pending == "letter":
                items.append((_BUILDING, "", "лит. " + text.rstrip(".")))
                pending = ""
                continue
            if pending == "skip":
                continue
            if items and not words and len(low) == 1 and items[-1][0] in (_NUM, _HOUSE) and (
                    next_group == 0 or next_low in _NUMBER_MARKERS):
                tag, _k, number = items[-1]
                items[-1] = (tag, "", number + text.rstrip("."))  # "5 А" → "5А"
                continue
            pending = ""
            area = _AREA_KIND.get(low)
            if area is None:
                if not words and low in _COUNTRY_WORDS:
                    continue
                if not words:
                    kind = ""
                words.append(text)
                worded = True
                continue
            if words and not kind:
                if low == "округ" and words[-1].lower() == "автономный":
                    area = "region"
                if not worded:  # "6-я линия В.О.", "2-й Сельскохозяйственный пр-д"
                    kind = area
                    words.append(text)
                    continue
                if low in _POSTFIX_FIRST or next_group != _WORD or (
                        next_low in _AREA_KIND or next_low in _NUMBER_MARKERS):
                    # after its name: "Тверская ул.", "Свердловская обл."
                    words.append(text)
                    items.append((_RUN, area, " ".join(words)))
                    kind, words = None, []
                    continue
            if words:
                items.append((_RUN, kind or "", " ".join(words)))
            kind, words, worded = area, [text], False
            continue
        # a number
        text = text.rstrip(".")
        if pending:
            if pending == "house":
                tag = _HOUSE
            elif pending in _BUILDING_PREFIX:
                tag, text = _BUILDING, _BUILDING_PREFIX[pending] + text
            elif pending == "skip":
                pending = ""
                continue
            else:
                tag, text = _FLAT, _ROOM_PREFIX.get(pending, "") + text
            items.append((tag, "", text))
            pending = ""
            continue
        if not words and len(text) == 6 and text.isdecimal():
            items.append((_INDEX, "", text))
            continue
        if (next_group == _WORD and len(next_low) > 1 and next_low not in _AREA_KIND
                and next_low not in _NUMBER_MARKERS) or ("-" in text and _ORDINAL.fullmatch(
                text)) or (not words and _AREA_KIND.get(next_low) in ("street", "location")):
            # part of a name: "6-я линия", "ул. 8 Марта", "им. 50-летия Октября", "7 мкр"
            if not words:
                kind, worded = "", False
            words.append(text)
            continue
        if words:
            items.append((_RUN, kind or "", " ".join(words)))
            kind, words = None, []
        items.append((_NUM, "", text))
    if words:
        items.append((_RUN, kind or "", " ".join(words)))
    return tuple(items)


@lru_cache(maxsize=100_000)
def _parse(line: str, known: frozenset[str]) -> ParsedAddress:
    runs: list[tuple[str, str, int]] = []  # (kind or "" bare, text, position)
    locations: list[str] = []  # "мкр. Сходня": written before the street
    found: dict[str, str] = {}
    building: list[str] = []
    unplaced: list[str] = []
    house_marked = False
    house_run = -1  # runs[house_run] stands right before the house
    house_at = 1 << 30  # the position of the house number
    position = 0
    for piece in (line.replace(";", ",") if ";" in line else line).split(","):
        for tag, kind, text in _piece(piece):  # " ул. Ленина" recurs with its space too
            position += 1
            if tag == _RUN:
                if kind == "location":
                    locations.append(text)
                else:
                    runs.append((kind, text, position))
            elif tag in (_NUM, _HOUSE):
                if "house" not in found:
                    found["house"] = text
                    house_marked, house_run, house_at = tag == _HOUSE, len(runs) - 1, position
                elif tag == _NUM and "apartment" not in found:
                    found["apartment"] = text
                else:
                    unplaced.append(text if tag == _NUM else "д. " + text)
            elif tag == _FLAT:
                if "apartment" not in found:
                    found["apartment"] = text
                else:
                    unplaced.append("кв. " + text if text[0].isdigit() else text)
            elif tag == _BUILDING:
                building.append(text)
            elif tag == _INDEX and "index" not in found:
                found["index"] = text
            else:
                unplaced.append(text)

    house = found.get("house", "")
    if house and not house.isdecimal():
        pair = _HOUSE_FLAT.fullmatch(house)
        glued = _HOUSE_GLUED.fullmatch(house)
        if pair and not house_marked and "apartment" not in found:
            house, found["apartment"] = pair.group(1), pair.group(2)
        elif glued and (glued.group(2) or glued.group(3)):  # "3к2", "5с1"
            house = glued.group(1)
            extra = [f"корп. {glued.group(2)}"] if glued.group(2) else []
            extra += [f"стр. {glued.group(3)}"] if glued.group(3) else []
            building[:0] = extra
    parts: dict[str, str] = {"postcode": found.get("index", ""), "house": house,
                             "building": " ".join(building),
                             "apartment": found.get("apartment", "")}
    bare: list[tuple[str, int, bool]] = []  # (text, position, right before the house)
    for n, (kind, text, at) in enumerate(runs):
        if not kind:
            bare.append((text, at, n == house_run))
        elif not parts.get(kind):
            parts[kind] = text
        else:
            unplaced.append(text)
    if bare:
        if not house:
            # no house: only what the type words placed is trusted (and a federal city)
            for text, _at, _before in bare:
                if text.lower() in FEDERAL_CITIES and not parts.get("city") and (
                        "city" not in known):
                    parts["city"] = text
                else:
                    unplaced.append(text)
            _with_locations(parts, locations)
            return ParsedAddress(**parts, split=not unplaced, unplaced=tuple(unplaced))
        _place_bare(bare, house_at, parts, known, unplaced)
    _with_locations(parts, locations)
    return ParsedAddress(**parts, split=True, unplaced=tuple(unplaced))


def _with_locations(parts: dict[str, str], locations: list[str]) -> None:
    """A micro-district or a gardening partnership goes before the street ("мкр. Сходня,
    ул. Мичурина") or is the street where there is none ("мкр. Юбилейный, д. 5")."""
    if locations:
        street = parts.get("street", "")
        parts["street"] = ", ".join([*locations, street] if street else locations)


def _place_bare(bare: list[tuple[str, int, bool]], house_at: int, parts: dict[str, str],
                known: frozenset[str], unplaced: list[str]) -> None:
    """Names without a type word, by position: right before the house, the street; before
    that (nearest first) the place, the district, the region; after the house (an address
    written small to big), the place, the district, the region."""
    def free(kind: str) -> bool:
        return not parts.get(kind) and kind not in known

    rest: list[tuple[str, int]] = []
    for text, at, before_house in bare:
        if text.lower() in FEDERAL_CITIES and free("city"):
            parts["city"] = text
        elif before_house and free("street"):
            parts["street"] = text
        else:
            rest.append((text, at))
    before = [text for text, at in rest if at < house_at]
    after = [text for text, at in rest if at > house_at]
    for group in (before[::-1], after):
        kinds = ["city", "district", "region"] if len(group) > 2 else ["city", "region"]
        for text in group:
            kind = next((k for k in kinds if free(k)), None)
            if kind is None:
                unplaced.append(text)
            else:
                parts[kind] = text
                kinds.remove(kind)
