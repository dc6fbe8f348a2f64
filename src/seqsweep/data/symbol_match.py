"""Each requested symbol's stored spellings, per table, matched one way on every database.

Symbols compare stripped and upper-cased (`ingest.canonical_symbol`) in Python, never by a database's
collation: `resolve_symbols` lists, per table, the stored spellings of each requested symbol
(`aaausdt`, `'BBBUSDT '`) so that the per-symbol query binds exactly those and the (symbol, date)
index still serves it (`symbol_index_usable`). A stored spelling that only prints like a requested
symbol (a zero-width character, full-width letters) or differs from it in separators (`ETH/USDT`) is
refused, as are binary and fractional-number symbol columns (`check_symbol_type`) and, for sources
of one instrument, a table or CSV holding several (`refuse_several_instruments`, `refuse_another_instrument`).
Every refusal is one `DataError` line that shows the stored names quoted (`symbol_text`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as postgresql_types
from sqlalchemy.engine import Engine

from seqsweep.data.column_types import exact_text
from seqsweep.data.engines import masked_url
from seqsweep.data.ingest import (
    canonical_symbol,
    look_alike_form,
    pair_form,
)
from seqsweep.data.joins import JoinTables
from seqsweep.data.tables import (
    SYMBOL,
    YIELD_TABLE,
)
from seqsweep.errors import DataError

logger = logging.getLogger(__name__)


def symbol_index_usable(dialect: str, spellings: Mapping[str, Mapping[str, tuple[str, ...]]]) -> bool:
    """Whether the query also compares the symbol columns as stored (`sources._select_sql`'s `indexed`).

    On MariaDB/MySQL the exact comparison (`exact_text`: the column cast to bytes) cannot use an index,
    and MariaDB has no hash join: the notebook join on the real tables (95,659 rates × 382,860 prices)
    ran as a block nested loop, 90 s against 0.3 s with the (symbol, date) index. A comparison in the
    column's own collation folds case, accents and trailing blanks, so it keeps every row the exact one
    keeps (and more, which the exact one then drops); it is added only for ASCII spellings, which every
    connection character set sends as they are."""
    return dialect in ("mysql", "mariadb") and all(
        spelling.isascii()
        for per_table in spellings.values()
        for spelled in per_table.values()
        for spelling in spelled
    )


def resolve_symbols(
    engine: Engine,
    url: str,
    join: JoinTables,
    symbols: tuple[str, ...],
    q: Any,
    symbol_types: Mapping[str, Any],
) -> dict[str, dict[str, tuple[str, ...]]]:
    """Canonical symbol → SQL parameter → the spellings stored in that table (one GROUP BY per table).

    Matching is `canonical_symbol` in Python, so it does not depend on the database's collation
    (MariaDB's folds case, accents and trailing blanks, SQLite's and PostgreSQL's do not): the stored
    spellings are read byte for byte (`exact_text`).
    A requested symbol a table lacks is named here, before any task starts; a table the join reads
    without a symbol (the yield, an OHLCV table) must hold rows. `symbol_types`: each table's declared
    SQL type of its symbol column (SQLite's storage classes are checked against it).
    """
    spellings: dict[str, dict[str, tuple[str, ...]]] = {symbol: {} for symbol in symbols}
    exact = exact_text(engine.dialect.name)
    tables = {"b_symbols": join.base, "p_symbols": join.partner} if join.by_symbol else {}
    sqlite = engine.dialect.name == "sqlite"
    # SQLite keeps each value's own storage class: how it is stored decides whether a text parameter equals it
    stored_as = f", typeof({q(SYMBOL)})" if sqlite else ""
    with engine.connect() as conn:
        for param, table in tables.items():
            if table is None:
                continue
            rows = conn.execute(
                sa.text(f"SELECT DISTINCT {exact(q(SYMBOL))}{stored_as} FROM {q(table)}")
            ).all()
            if sqlite:
                _check_sqlite_symbol_storage(
                    table, [(row[0], row[1]) for row in rows], symbol_types.get(table)
                )
            stored = [symbol_text(table, row[0]) for row in rows if row[0] is not None]
            found: dict[str, list[str]] = {}
            for spelled in stored:
                found.setdefault(canonical_symbol(spelled), []).append(spelled)
            missing = [s for s in symbols if s not in found]
            if missing:
                raise DataError(_unknown_symbols(table, missing, stored, url))
            _refuse_look_alike_spellings(table, symbols, found)
            for symbol in symbols:
                spellings[symbol][param] = tuple(sorted(found[symbol]))
                if len(found[symbol]) > 1:  # two stored spellings read as one symbol: say so, never silently
                    logger.warning(
                        "table %r: symbol %s is stored as %d spellings (%s), read together as one symbol",
                        table,
                        symbol,
                        len(found[symbol]),
                        ", ".join(repr(s) for s in sorted(found[symbol])),
                    )
        for table in [join.base] if not join.by_symbol else []:
            if conn.execute(sa.text(f"SELECT 1 FROM {q(table)} LIMIT 1")).first() is None:
                raise DataError(f"table {table!r} in {masked_url(url)} has no rows")
            if symbol_types.get(table) is not None:  # a one-instrument table with a symbol column
                distinct = conn.execute(
                    sa.text(f"SELECT DISTINCT {exact(q(SYMBOL))} FROM {q(table)} LIMIT {_SYMBOLS_SHOWN * 20}")
                ).all()
                held = [symbol_text(table, row[0]) for row in distinct if row[0] is not None]
                refuse_several_instruments(f"table {table!r}", held)
                refuse_another_instrument(f"table {table!r}", held, symbols[0])
        if (
            join.with_yield
            and conn.execute(sa.text(f"SELECT 1 FROM {q(YIELD_TABLE)} LIMIT 1")).first() is None
        ):
            raise DataError(f"table {YIELD_TABLE!r} in {masked_url(url)} has no rows")
    return spellings


def _refuse_look_alike_spellings(
    table: str, symbols: tuple[str, ...], found: Mapping[str, Sequence[str]]
) -> None:
    """DataError (one line) when `table` also holds a requested symbol under a spelling that prints like
    it but is another symbol (`look_alike_form`: `AAAUSDT\u200b`, full-width `ＡAAUSDT`), or that differs
    from it only in separators (`pair_form`: `ETH/USDT`, `ETH-USDT` beside `ETHUSDT`), not itself
    requested. Those rows were left out of the symbol's without a word (half its hours became gaps),
    where `load-csv` refuses such a symbol. `found`: canonical symbol → its stored spellings."""
    wanted = set(symbols)
    forms: dict[str, list[str]] = {}
    for name in found:
        if name not in wanted:
            forms.setdefault(pair_form(name), []).append(name)
    for symbol in symbols:
        twins = forms.get(pair_form(symbol))
        if twins:
            twin = sorted(found[twins[0]])[0]
            raise DataError(
                f"table {table!r} holds rows of {symbol} under {twin!a} too, which {_differs(symbol, twin)}, "
                f"so they would be left out of {symbol}'s: store them as {symbol!a} (or delete them, or ask "
                f"for both symbols if they are two instruments)"
            )


def _differs(asked: str, stored: str) -> str:
    """How two spellings of one `pair_form` differ, for a message."""
    if look_alike_form(asked) == look_alike_form(stored):
        return "prints alike but differs in Unicode form or an invisible character"
    return "differs only in separators (/, -, _, spaces, dots) or Unicode form"


def check_symbol_type(table: str, kind: Any) -> None:
    """DataError (one line) for a binary (BLOB, BYTEA, BINARY, VARBINARY) or fractional-number (REAL,
    FLOAT, DOUBLE, DECIMAL, NUMERIC, MONEY) symbol column.

    Symbols are matched as text, and neither kind reads as the same text on every database: bytes
    (SQLite never equals a BLOB to text, PostgreSQL reads BYTEA as its hex, MariaDB compares the bytes),
    nor numbers (a DOUBLE 7 is '7.0' to SQLite's driver and '7' to MariaDB and PostgreSQL; a DECIMAL(10,2)
    7 is '7' to SQLite and '7.00' to the others; 1e20 is '1e+20' or '1e20'), so the same rows built three
    different datasets or refusals. Whole-number types (INTEGER, BIGINT) read alike and are kept.
    """
    if isinstance(kind, sa.types._Binary):
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} is binary ({kind}); symbols are matched as text, which "
            f"bytes are not alike on every database: store them as text (VARCHAR)"
        )
    if isinstance(kind, sa.types.Numeric | sa.types.Float | postgresql_types.MONEY):
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} is a fractional number ({kind}); symbols are matched as "
            f"text, which such numbers are not alike on every database: store them as text (VARCHAR)"
        )


def _check_sqlite_symbol_storage(table: str, stored: Sequence[tuple[Any, str]], declared: Any) -> None:
    """DataError (one line) for SQLite symbols a text parameter never equals: a value stored as a BLOB
    (`CAST(... AS BLOB)`, bytes written by a driver), or a number in a column declared without a type
    (no affinity turns the parameter '7' into the number 7). Those rows dropped out of the query
    without a word while the same bytes as text were read."""
    for value, storage in stored:
        untyped_number = storage in ("integer", "real") and isinstance(declared, sa.types.NullType)
        if storage == "blob" or untyped_number:
            raise DataError(
                f"table {table!r}: column {SYMBOL!r} holds symbols stored as {storage} (e.g. {value!r}) that "
                f"SQLite never equals to text; store every symbol as text (UPDATE {table} SET {SYMBOL} = "
                f"CAST({SYMBOL} AS TEXT)) or load the table with `seqsweep data load-csv`"
            )


def symbol_text(table: str, value: Any) -> str:
    """A stored symbol as text: bytes (MariaDB's byte-for-byte read, `exact_text`) as UTF-8."""
    if not isinstance(value, bytes | bytearray):
        return str(value)
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise DataError(
            f"table {table!r}: column {SYMBOL!r} holds {bytes(value)!r}, which is not UTF-8 text; fix the symbol"
        ) from None


def _unknown_symbols(table: str, missing: list[str], stored: list[str], url: str) -> str:
    """One line naming the missing symbols and what the table holds, quoted so a blank is visible."""
    held = sorted(set(stored))
    shown = ", ".join(repr(s) for s in held[:20]) + (" ..." if len(held) > 20 else "")
    noun = "symbol" if len(missing) == 1 else "symbols"
    alike = next(((m, h) for m in missing for h in held if pair_form(m) == pair_form(h)), None)
    how = (
        "Unicode form (full-width or compatibility characters) or invisible characters"
        if alike is None or look_alike_form(alike[0]) == look_alike_form(alike[1])
        else "separators (/, -, _, spaces, dots) or Unicode form"
    )
    hint = (
        ""
        if alike is None
        else f"; {alike[0]!a} and the stored {alike[1]!a} differ only in {how}: write the symbol as stored"
    )
    return (
        f"dataset.symbols: unknown {noun} {', '.join(repr(s) for s in missing)}: not in table {table!r} of "
        f"{masked_url(url)} (it holds: {shown or 'no rows'}){hint}"
    )


_SYMBOLS_SHOWN: Final = 5
"""The most symbols `refuse_several_instruments` names."""


def refuse_several_instruments(where: str, symbols: Sequence[Any]) -> None:
    """DataError (one line) when `symbols`, the `crypto_symbol` values of a one-instrument source (the
    ohlcv join's table or `dataset.csv`), name more than one symbol once stripped and upper-cased.

    The ohlcv join reads every row as one instrument's: a candles file of two symbols was read as one
    series, their hours interleaved or one symbol's after the other's (a close of 10 jumping to 500), or
    refused as rows at one time with different values, naming neither symbol.
    """
    distinct = sorted({canonical_symbol(str(s)) for s in symbols if s is not None and str(s).strip()})
    if len(distinct) > 1:
        shown = ", ".join(distinct[:_SYMBOLS_SHOWN]) + (", ..." if len(distinct) > _SYMBOLS_SHOWN else "")
        raise DataError(
            f"{where} holds the rows of several symbols in column {SYMBOL!r} ({shown}), and the ohlcv join "
            f"reads one instrument: their rows would be read as one series; keep one symbol's rows (a file "
            f"or table per instrument)"
        )


def refuse_another_instrument(where: str, symbols: Sequence[Any], ohlcv_symbol: str) -> None:
    """DataError (one line) when `symbols`, the `crypto_symbol` values of a one-instrument source (the
    ohlcv join's table or `dataset.csv`), name one symbol that is not `ohlcv_symbol`, both stripped and
    upper-cased (`canonical_symbol`). Call after `refuse_several_instruments`; blank or missing values
    name none, and a source without the column is not checked.

    The join names its series `dataset.ohlcv_symbol` (ETHUSDT by default), whose name picks the symbol
    embedding: BTCUSDT's rows read under the default were ETHUSDT's series without a word.
    """
    distinct = sorted({canonical_symbol(str(s)) for s in symbols if s is not None and str(s).strip()})
    wanted = canonical_symbol(ohlcv_symbol)
    if len(distinct) == 1 and distinct[0] != wanted:
        raise DataError(
            f"{where} holds the rows of {distinct[0]} in column {SYMBOL!r}, but dataset.ohlcv_symbol is "
            f"{wanted}, whose name and symbol embedding the series would carry: set "
            f"`dataset.ohlcv_symbol: {distinct[0]}` (or read {wanted}'s rows)"
        )
