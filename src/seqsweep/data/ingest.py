"""The one reading of dates, numbers and symbols, on every path into the project.

`seqsweep data load-csv`, `dataset.csv` and every SQL read (`data/sources.py`) call these readers, so
the same text or the same database values always give the same instants, floats and symbols:

- dates: `date_reading` (`parse_dates`, `DateReader`): naive UTC `datetime64[ns]`, epoch numbers in
  their unit (`epoch_times`), other text with one format for the whole column;
- numbers: `number_reading` (`parse_numeric`, `NumberReader`): float64, thousands separators read,
  anything else refused;
- symbols (here: `normalize_symbols`, `canonical_symbol`): stripped and upper-cased; one input holding
  one pair spelled two ways (`ETH/USDT` beside `ETHUSDT`: `pair_form`) is refused.

`FrameReader` (here) reads the chunks of one input with one reader per column, so a unit or format
decided on the first chunk holds for the rest. Every refusal is a `DataError` whose message is one
line naming the column and a bad value.
"""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import pandas as pd

from seqsweep.data.csv_header import INVISIBLE_CATEGORIES, invisible_character
from seqsweep.data.date_reading import DateReader
from seqsweep.data.number_reading import NumberReader
from seqsweep.data.tables import DATE, SYMBOL, SYMBOL_LENGTH
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)


# --- symbols -------------------------------------------------------------------------------------


def canonical_symbol(symbol: str) -> str:
    """A symbol as the project stores and matches it: Unicode NFC (an accent typed as a combining mark
    and the precomposed letter are one symbol; Unicode Standard Annex #15), no surrounding blanks, upper
    case, in NFC again (`'ΐ'.upper()` is three code points that NFC composes into two: without it the
    symbol as stored did not match the symbol as asked for, and the function gave another result when
    applied to its own result)."""
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", symbol).strip().upper())


def look_alike_form(symbol: str) -> str:
    """`symbol` as it looks: Unicode compatibility form (NFKD: full-width `Ａ` is `A`), case folded, without
    control or format characters (`AAAUSDT\u200b` prints as `AAAUSDT`) and surrounding blanks. Two symbols
    of one form print alike though `canonical_symbol` keeps them apart."""
    folded = unicodedata.normalize("NFKD", symbol).casefold()
    return "".join(c for c in folded if unicodedata.category(c) not in INVISIBLE_CATEGORIES).strip()


SEPARATOR_CATEGORIES: Final = ("Pd", "Pc", "Zs")
"""Unicode categories of characters written between a pair's two names: dashes (`ETH-USDT`, an en dash a
spreadsheet put for it), connectors (`ETH_USDT`) and spaces."""
SEPARATOR_MARKS: Final = "/\\.:|\u2212"
"""Further separators: `ETH/USDT`, `ETH.USDT`, `ETH:USDT`, `ETH|USDT`, a minus sign for a hyphen."""


def pair_form(symbol: str) -> str:
    """`symbol`'s `look_alike_form` without separators (`SEPARATOR_CATEGORIES`, `SEPARATOR_MARKS`): `ETH/USDT`,
    `ETH-USDT`, `eth_usdt` and `ETHUSDT` name one pair. Two symbols of one pair form are one instrument
    spelled two ways, though `canonical_symbol` keeps them apart. A symbol of separators only keeps them."""
    form = look_alike_form(symbol)
    bare = "".join(
        c for c in form if unicodedata.category(c) not in SEPARATOR_CATEGORIES and c not in SEPARATOR_MARKS
    )
    return bare or form


@dataclass
class SymbolReader:
    """Normalises one symbol column, possibly in chunks, counting the values it changed."""

    column: str
    changed: int = 0
    examples: dict[str, str] = field(default_factory=dict)
    """A few original spellings → their canonical form, for the log."""
    pairs: dict[str, str] = field(default_factory=dict)
    """`pair_form` → the first canonical symbol of that form read, over every chunk: a second spelling of
    one pair (`ETH/USDT` beside `ETHUSDT`) is refused (`_refuse_second_spelling`)."""

    def __call__(self, values: pd.Series) -> pd.Series:
        """Symbols → stripped, upper-cased text. Raises DataError for a missing or blank symbol."""
        if values.isna().any():
            raise DataError(f"column {self.column!r}: a row has no symbol; fill it or drop the row")
        text = values.astype(str)
        # `canonical_symbol` on each distinct value: one definition for what is stored and what is
        # matched (pandas' own upper-casing, pyarrow's for a string dtype, writes ß as ẞ, Python's as SS)
        codes, distinct = pd.factorize(text)
        canonical = np.array([canonical_symbol(str(value)) for value in distinct], dtype=object)
        out = pd.Series(canonical[codes], index=text.index, dtype=object)
        if (out == "").any():
            raise DataError(f"column {self.column!r}: a row has a blank symbol; fill it or drop the row")
        for value in canonical:
            char = invisible_character(value)
            if char is not None:
                # `AAAUSDT\u200b` prints as AAAUSDT but is another symbol: its rows left AAAUSDT's silently
                raise DataError(
                    f"column {self.column!r}: symbol {value!r} holds the invisible character "
                    f"U+{ord(char):04X} ({unicodedata.name(char, 'a control or format character')}); remove it"
                )
        self._refuse_second_spelling(canonical)
        too_long = out.str.len() > SYMBOL_LENGTH
        if too_long.any():  # MariaDB and PostgreSQL refuse it in their VARCHAR(64); SQLite would store it
            raise DataError(
                f"column {self.column!r}: symbol {out[too_long].iloc[0][:80]!r}... is longer than "
                f"{SYMBOL_LENGTH} characters; shorten it"
            )
        changed = out != text
        if changed.any():
            self.changed += int(changed.sum())
            pairs = pd.DataFrame({"before": text[changed], "after": out[changed]}).drop_duplicates("before")
            for before, after in pairs.head(3).itertuples(index=False):
                self.examples.setdefault(str(before), str(after))
        return out

    def _refuse_second_spelling(self, canonical: np.ndarray) -> None:
        """DataError (one line naming both) when a symbol of `canonical` and one read before (this chunk or an
        earlier one) are one pair spelled two ways (`pair_form`: separators, Unicode form): stored as two
        symbols, a build asking for one leaves the other's rows out (`sources` refuses it only then)."""
        for value in map(str, canonical):
            first = self.pairs.setdefault(pair_form(value), value)
            if first != value:
                how = (
                    "print alike but differ in Unicode form"
                    if look_alike_form(first) == look_alike_form(value)
                    else "differ only in separators (/, -, _, spaces, dots), case or Unicode form"
                )
                raise DataError(
                    f"column {self.column!r}: symbols {first!a} and {value!a} {how}, so one instrument would be "
                    f"stored as two symbols; write every row of it one way (or rename one if they are two "
                    f"instruments)"
                )

    def describe(self) -> str | None:
        """The log line saying what was changed, or None when every symbol was already canonical."""
        if not self.changed:
            return None
        shown = ", ".join(f"{k!r} → {v!r}" for k, v in list(self.examples.items())[:3])
        return f"column {self.column}: {self.changed} symbol{'' if self.changed == 1 else 's'} stripped and upper-cased ({shown})"


def normalize_symbols(values: pd.Series, column: str) -> pd.Series:
    """Symbols → stripped, upper-cased text (what load-csv stores). Raises DataError for a blank one."""
    reader = SymbolReader(column)
    out = reader(values)
    message = reader.describe()
    if message:
        logger.info("%s", message)
    return out


# --- whole frames --------------------------------------------------------------------------------


@dataclass
class FrameReader:
    """Reads the chunks of one input (a CSV file) the same way: `date` by one DateReader (its epoch
    unit decided once), `crypto_symbol` by one SymbolReader, every other column by its NumberReader."""

    source: str = ""
    """The input's name (a file name), for the log."""
    dates: DateReader = field(init=False)
    symbols: SymbolReader = field(init=False)
    numbers: dict[str, NumberReader] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.dates = DateReader(DATE, source=self.source)
        self.symbols = SymbolReader(SYMBOL)

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        """A chunk → `date` naive UTC datetime64[ns], `crypto_symbol` canonical, the rest float64.

        Raises DataError (one line) naming the column and a bad value.
        """
        # the date first: a chunk refused there (AmbiguousDateError, read again once settled) has
        # changed no other column's reader
        columns: dict[str, pd.Series] = {DATE: self.dates(frame[DATE])} if DATE in frame.columns else {}
        for name in frame.columns:
            if name == DATE:
                continue
            if name == SYMBOL:
                columns[name] = self.symbols(frame[name])
            else:
                reader = self.numbers.setdefault(str(name), NumberReader(str(name), source=self.source))
                columns[name] = reader(frame[name])
        return pd.DataFrame({name: columns[name] for name in frame.columns}, index=frame.index)

    def finish(self) -> None:
        """After the last chunk: DataError for a column whose every chunk left a decision open."""
        for reader in self.numbers.values():
            reader.finish()
