"""Numbers written in a form the project does not read, recognised so that a refusal names the fix.

`number_reading.NumberReader` reads plain numbers and comma thousands separators only, and refuses every other
value. A spreadsheet's formatting (`5%`, `(12.5)`, `$100`, `1 234,5`, `12.5 USD`, `1.2M`) was refused with
the same generic hint, and a column of numbers with a unit was even called a column of text to drop from
the features. `number_fix` says what such a value is and how to write it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from typing import Final

_NUMBER: Final = r"(?P<num>[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+)"
"""A number as the project reads it: plain, or with comma thousands separators."""
_DASHES: Final = "\u2212\u2010\u2011\u2012\u2013\u2014\ufe63\uff0d"
"""Minus signs and dashes that are not the ASCII hyphen-minus a number reader takes."""
_GROUP_MARKS: Final = " \u00a0\u2009\u202f\u2007'\u2019"
"""Spaces (plain, no-break, thin, narrow no-break, figure) and apostrophes written between thousands."""
MAGNITUDES: Final = {
    "k": 10**3,
    "K": 10**3,
    "M": 10**6,
    "MM": 10**6,
    "B": 10**9,
    "bn": 10**9,
    "Bn": 10**9,
    "T": 10**12,
}
"""Suffixes that scale a number (`1.2M`): dropping one would read a million as 1.2."""

_MISSING_MARK = re.compile(rf"^(?:[-{_DASHES}.?*_/]+|n\.\s?[ad]\.?)$", re.IGNORECASE)
"""Marks a spreadsheet writes in an empty cell (`-`, `--`, `?`, `n.a.`), which are no missing value to
every reader: only an empty cell, `NaN`, `N/A`, `null` and pandas' other spellings are (`number_reading.MISSING_TEXT`)."""
_PERCENT = re.compile(rf"^{_NUMBER}\s*%$")
_PARENTHESES = re.compile(rf"^\(\s*[$€£¥]?\s*{_NUMBER}\s*\)$")
_DASHED = re.compile(rf"^[{_DASHES}]\s*(?P<num>(?:\d+(?:\.\d*)?|\.\d+))$")
_SPACED = re.compile(rf"^[+-]?\d{{1,3}}(?:[{_GROUP_MARKS}]\d{{3}})+(?:[.,]\d+)?$")
_DECIMAL_COMMA = re.compile(r"^[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+$")
_SCALED = re.compile(rf"^{_NUMBER}\s*(?P<unit>{'|'.join(sorted(MAGNITUDES, key=len, reverse=True))})$")
_WITH_UNIT = re.compile(
    rf"^(?:(?P<pre>[^\d\s.,+\-()%]{{1,6}})(?P<pre_gap>\s*))?{_NUMBER}(?:(?P<post_gap>\s*)(?P<post>[^\d\s.,()%]{{1,8}}))?$"
)


def _plain(text: str) -> str:
    """`text` (a matched number) without thousands separators: `1,234.5` → `1234.5`."""
    return text.replace(",", "")


def _scaled(match: re.Match[str]) -> str:
    value = float(_plain(match["num"])) * MAGNITUDES[match["unit"]]
    return f"a number with the magnitude suffix {match['unit']!r}: write it in full ({value:.15g})"


def _is_unit(text: str, gap: str) -> bool:
    """Whether `text`, written `gap` apart from a number, can be its currency or unit: currency signs
    (`$100`, `US$100`, `100 €`), or two letters or more set apart by a blank (`12.5 USD`, `USD 12.5`); not
    one stray letter (`x1` is a typo, not an amount of x), nor letters joined to the digits (`1INCH` is a
    ticker)."""
    currency = any(unicodedata.category(c) == "Sc" for c in text)
    letters = all(c.isalpha() or unicodedata.category(c) == "Sc" for c in text)
    return letters and (currency or (len(text) >= 2 and bool(gap)))


def _with_unit(match: re.Match[str]) -> str | None:
    sides = [(match[side], match[f"{side}_gap"]) for side in ("pre", "post") if match[side]]
    if len(sides) != 1 or not _is_unit(*sides[0]):  # one unit, before or after: `AAA 5 BBB` is words
        return None
    unit = sides[0][0]
    return f"a number with a currency or unit ({unit!r}): write the number alone ({_plain(match['num'])})"


def _spaced(text: str) -> str:
    digits = "".join(c for c in text if c not in _GROUP_MARKS).replace(",", ".")
    return f"a space or apostrophe separates its thousands: write it without ({digits})"


def _dashed(match: re.Match[str]) -> str:
    sign = match.string[0]
    name = unicodedata.name(sign, "a dash").lower()
    return f"its minus sign is U+{ord(sign):04X} ({name}), not '-': write -{match['num']}"


_FIXES: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str | None]], ...]] = (
    (_MISSING_MARK, lambda m: "a mark for a missing value? leave the cell empty (or write NaN)"),
    (_PERCENT, lambda m: f"a percentage: write it as a plain number ({float(_plain(m['num'])) / 100:.15g} or {_plain(m['num'])})"),
    (_PARENTHESES, lambda m: f"an accounting negative: write -{_plain(m['num']).lstrip('+-')}"),
    (_DASHED, _dashed),
    (_SPACED, lambda m: _spaced(m.string)),
    (_DECIMAL_COMMA, lambda m: f"a decimal comma: write {m.string.replace('.', '').replace(',', '.')} (a decimal point, no thousands dots)"),
    (_SCALED, _scaled),
    (_WITH_UNIT, _with_unit),
)  # fmt: skip
"""Each recognised form and the fix it names, the first that matches taken."""


def number_fix(value: object) -> str | None:
    """What a value the number reader refused is, when it is a number in a recognised form (`_FIXES`),
    and how to write it (`'12.5 USD'` → "a number with a currency or unit ('USD'): write the number
    alone (12.5)"), or `-` ("a mark for a missing value?"); None for anything else (a word, a date)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    for pattern, fix in _FIXES:
        match = pattern.match(text)
        if match is not None:
            described = fix(match)
            if described is not None:
                return described
    return None
