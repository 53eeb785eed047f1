"""Rubles in Russian words, for the amount line of the money-transfer form."""

from __future__ import annotations

from decimal import Decimal

_ONES_M = ("", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_ONES_F = ("", "одна", "две", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_TEENS = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
          "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
         "восемьдесят", "девяносто")
_HUNDREDS = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
             "восемьсот", "девятьсот")
# (forms for 1, 2-4, 5+; feminine?)
_SCALES = ((("", "", ""), False), (("тысяча", "тысячи", "тысяч"), True),
           (("миллион", "миллиона", "миллионов"), False),
           (("миллиард", "миллиарда", "миллиардов"), False))


def plural(n: int, forms: tuple[str, str, str]) -> str:
    n = abs(n) % 100
    if 11 <= n <= 19:
        return forms[2]
    n %= 10
    if n == 1:
        return forms[0]
    if 2 <= n <= 4:
        return forms[1]
    return forms[2]


def _triad(n: int, feminine: bool) -> list[str]:
    words = [_HUNDREDS[n // 100]]
    rest = n % 100
    if 10 <= rest <= 19:
        words.append(_TEENS[rest - 10])
    else:
        words.append(_TENS[rest // 10])
        words.append((_ONES_F if feminine else _ONES_M)[rest % 10])
    return [w for w in words if w]


def integer_in_words(n: int) -> str:
    if n == 0:
        return "ноль"
    parts: list[str] = []
    scale = 0
    while n:
        n, triad = divmod(n, 1000)
        if triad:
            forms, feminine = _SCALES[scale]
            words = _triad(triad, feminine)
            if scale:
                words.append(plural(triad, forms))
            parts = words + parts
        scale += 1
    return " ".join(parts)


def rubles_in_words(amount: Decimal) -> str:
    """``Decimal("1521.05")`` → ``"Одна тысяча пятьсот двадцать один рубль 05 копеек"``."""
    kopecks_total = int((amount * 100).quantize(Decimal("1")))
    rubles, kopecks = divmod(kopecks_total, 100)
    text = (f"{integer_in_words(rubles)} {plural(rubles, ('рубль', 'рубля', 'рублей'))} "
            f"{kopecks:02d} {plural(kopecks, ('копейка', 'копейки', 'копеек'))}")
    return text[0].upper() + text[1:]
