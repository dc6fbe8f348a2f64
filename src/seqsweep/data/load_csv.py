"""`seqsweep data load-csv`: CSV(.gz) files named after tables → any SQLAlchemy database, in chunks.

A folder laid out like `shared/data/seed_schema/` (`crypto_price.csv.gz`, ...) loads every
`<table>.csv` in it, plain or compressed (`.gz`, `.bz2`, `.zip`, `.xz`; another compression is
refused); one file with `table=` loads under that name (the GRU-ow candles as `ohlcv`). Every header
is checked before anything is written, and the tables are swapped in only once every chunk of every
file is in, all at once (a folder loads whole or not at all, even when the command is killed:
`tables.write_tables`).

Every chunk is read by `ingest.FrameReader`, the project's one reading of the input: `date` becomes
naive UTC (offsets converted, epoch numbers read in their unit, decided once per file), `crypto_symbol`
is stripped and upper-cased (the log says how many changed), every other column is a float (text
numbers with thousands separators parsed). A value that cannot be read fails the file, naming the
column and the value, and leaves the database as it was; so do one symbol spelled two ways in a file
(`ETH/USDT` beside `ETHUSDT`), a nonzero number below float64's range (`1e-400`, read as 0 otherwise), and
files of one load of which some write their dates with a UTC offset and some without (`OffsetUse`). SQLite tables are ANALYZEd after loading.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from seqsweep.data.csv_header import (
    READ_ERRORS,
    check_row_widths,
    read_header,
    require_columns,
    unreadable,
)
from seqsweep.data.date_reading import DateReader
from seqsweep.data.engines import db_errors, open_engine
from seqsweep.data.float_range import lost_in_text, parsed_with_candidates
from seqsweep.data.ingest import FrameReader
from seqsweep.data.number_reading import CSV_MISSING
from seqsweep.data.tables import DATE, REQUIRED_COLUMNS, SYMBOL, check_table_name, write_tables
from seqsweep.errors import AmbiguousDateError, ConfigError, DataError

logger = logging.getLogger(__name__)

COMPRESSIONS: Final = (".gz", ".bz2", ".zip", ".xz")
"""Compressions of a `.csv` that load-csv reads (pandas infers each from the suffix, with the standard
library alone)."""
CSV_SUFFIXES: Final = (*(f".csv{c}" for c in COMPRESSIONS), ".csv")
READ_SUFFIXES: Final = ", ".join((".csv", *CSV_SUFFIXES[:-1]))
"""The suffixes load-csv reads, as messages name them."""
UNREAD_COMPRESSIONS: Final = (
    ".zst", ".zstd", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz", ".7z", ".rar", ".lz4", ".lz", ".lzma",
    ".br", ".z", ".sz",
)  # fmt: skip
"""Compressions and archives of a `.csv` that load-csv does not read: a folder's `crypto_price.csv.zst`
is refused, naming it, where it was skipped and its table kept its old rows without a word."""
CHUNK_ROWS = 50_000
"""Rows read per chunk: bounded memory whatever the file size."""


def table_name(file: Path) -> str:
    """`crypto_price.csv.gz` → `crypto_price` (the suffix in any case: `.CSV` too)."""
    name = file.name
    for suffix in CSV_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return file.stem


def _unread_compression(file: Path) -> str | None:
    """The suffix after `.csv` of `file` when it is a compression or archive load-csv does not read
    (`UNREAD_COMPRESSIONS`), else None."""
    name = file.name.lower()
    at = name.rfind(".csv.")
    if at < 0:
        return None
    rest = name[at + len(".csv") :]
    return rest if rest in UNREAD_COMPRESSIONS else None


def _refuse_unread_compression(file: Path) -> None:
    """DataError (one line) for a `.csv` compressed in a form load-csv does not read."""
    rest = _unread_compression(file)
    if rest is not None:
        raise DataError(
            f"load-csv: {file.name} is compressed as {rest}, which load-csv does not read (it reads "
            f"{READ_SUFFIXES}); decompress it or compress it with gzip"
        )


def find_csv_files(path: Path, table: str | None = None) -> dict[str, Path]:
    """Table name → file, for a folder of `<table>.csv` files (plain or `COMPRESSIONS`) or for one file
    (named by `table` if given). Raises DataError for a `.csv` compressed in a form not read
    (`UNREAD_COMPRESSIONS`) whose table no file read gives: skipped, its table kept its old rows without a
    word. Other files are not read; a `<table>.csv.<something>` among them (`crypto_price.csv.bak`, or a
    `.csv.zst` beside the `.csv` of its table) is named in the log."""
    if not path.exists():
        raise DataError(f"load-csv: {path} does not exist")
    if path.is_file():
        _refuse_unread_compression(path)
        # `--table ''` is a name given (and refused), not a name left out: it loaded under the file's name
        return {check_table_name(table if table is not None else table_name(path)): path}
    if table is not None:
        raise DataError(f"load-csv: --table names the table of one file, but {path} is a folder")
    # `.CSV` too: a file skipped for its suffix's case would leave its table as it was without a word
    entries = sorted(path.iterdir())
    for entry in entries:
        if not entry.is_file() and entry.name.lower().endswith(CSV_SUFFIXES):
            # a link whose target is gone: its table kept its old rows without a word
            raise DataError(
                f"load-csv: {entry.name} in {path} is not a file that can be read (a broken link?); "
                "fix or remove it"
            )
    present = [p for p in entries if p.is_file()]
    files = [p for p in present if p.name.lower().endswith(CSV_SUFFIXES)]
    readable = {table_name(p).lower() for p in files}
    for file in present:
        # refused unless a file load-csv reads gives its table (then it is a copy kept aside, as `.bak` is)
        if file.name.lower()[: file.name.lower().rfind(".csv.")] not in readable:
            _refuse_unread_compression(file)
    skipped = [p.name for p in present if p not in files and ".csv." in p.name.lower()]
    if skipped:
        logger.info("load-csv: not read (not %s): %s", READ_SUFFIXES, ", ".join(skipped))
    if not files:
        raise DataError(f"load-csv: no .csv or .csv.gz files in {path} (nor .csv.bz2, .csv.zip or .csv.xz)")
    found: dict[str, Path] = {}
    for file in files:
        name = table_name(file)
        twin = next((table for table in found if table.lower() == name.lower()), None)
        if twin == name:
            raise DataError(
                f"load-csv: two files for table {name!r} in {path}: {found[name].name} and {file.name}"
            )
        if twin is not None:
            # SQLite (and MariaDB on some systems) take table names ignoring case: the second table
            # would replace the first, or the swap would drop it, on some databases only
            raise DataError(
                f"load-csv: {found[twin].name} and {file.name} in {path} name tables that differ only in "
                f"case, which some databases take for one table; rename or remove one"
            )
        try:
            found[check_table_name(name)] = file
        except ConfigError:
            raise DataError(
                f"load-csv: {file.name} is not named after a table (letters, digits, underscores); "
                "load it alone with --table NAME"
            ) from None
    return found


def _check_header(table: str, file: Path) -> None:
    """DataError (one line) for a header load-csv cannot take as it is (`csv_header.read_header`) or
    one without the table's required columns."""
    who = f"load-csv: {file.name}"
    header = read_header(file, who)
    require_columns(header, REQUIRED_COLUMNS.get(table, ()), who)
    check_row_widths(file, len(header), who)


def load_csv(
    path: str | Path, url: str, *, table: str | None = None, chunk_rows: int = CHUNK_ROWS
) -> dict[str, int]:
    """Load the CSV file(s) at `path` into the database at `url`, replacing same-named tables; rows per table.

    Every file is staged before any table is replaced, and the tables are swapped in at once (one
    transaction; MariaDB: one RENAME TABLE), so a folder loads whole or not at all, a killed load included.
    Raises DataError (one line naming the file, the column and a bad value) for input that cannot be
    read, or naming a PostgreSQL view over a table that cannot read the new one; every table keeps its
    old rows then.
    """
    files = find_csv_files(Path(path).expanduser(), table)
    for name, file in files.items():
        _check_header(name, file)
    readers = {name: FrameReader(source=file.name) for name, file in files.items()}
    offsets = OffsetUse()
    engine = open_engine(url, must_exist=False)
    try:
        with db_errors(url, f"loading {', '.join(file.name for file in files.values())}"):
            loaded = write_tables(
                engine,
                {
                    name: _read_chunks(file, readers[name], chunk_rows, offsets)
                    for name, file in files.items()
                },
            )
    finally:
        engine.dispose()
    for name, file in files.items():
        changed = readers[name].symbols.describe()
        if changed:
            logger.info("%s: %s", file.name, changed)
    return loaded


@dataclass
class OffsetUse:
    """Which file of one load first wrote its text dates with a UTC offset, and which first without one.

    `DateReader` refuses a column mixing both; across the files of one load (a folder) the naive dates of one
    table were taken as UTC beside another's converted from their offset, and the join on date matched
    rows hours apart without a word (prices at +02:00 beside a yield written in the same local time)."""

    with_offset: tuple[str, Any] | None = None
    without_offset: tuple[str, Any] | None = None

    def note(self, file: Path, dates: DateReader) -> None:
        """Notes `file`'s date column as read (`dates`, after its last chunk). Raises DataError (one line
        naming both files and a date of each) once one file of the load has offsets and another has none."""
        if self.with_offset is None and dates.with_offset is not None:
            self.with_offset = (file.name, dates.with_offset)
        if self.without_offset is None and dates.without_offset is not None:
            self.without_offset = (file.name, dates.without_offset)
        if self.with_offset is not None and self.without_offset is not None:
            (zoned, one), (naive, other) = self.with_offset, self.without_offset
            raise DataError(
                f"load-csv: {zoned} writes its dates with a UTC offset ({str(one)!r}) and {naive} without one "
                f"({str(other)!r}), which would be taken as UTC whatever zone they were written in, and the "
                "tables joined at other hours; write every file's dates with their offset (or Z), or every "
                "one in UTC"
            )


def _read_chunks(
    file: Path, reader: FrameReader, chunk_rows: int, offsets: OffsetUse | None = None
) -> Iterator[pd.DataFrame]:
    """`file`'s rows, `chunk_rows` at a time, each read by `reader`; errors name the file (DataError also
    for a file without a row). `offsets`: the load's files' use of UTC offsets, which must agree."""
    logger.info("loading %s", file)
    rows = 0
    suspects: set[str] = set()
    try:
        for chunk in _raw_chunks(file, chunk_rows):
            rows += len(chunk)
            suspects |= parsed_with_candidates(chunk.drop(columns=[DATE, SYMBOL], errors="ignore"))
            try:
                read = reader(chunk)
            except AmbiguousDateError:
                # this chunk's dates fit day-first and month-first; a later one may decide (13/01/2024):
                # settle the order over the whole column, then read the chunk again (the earlier chunks
                # read alike in both orders, or they would have decided it)
                reader.dates.text_formats = _settled_date_formats(file, chunk_rows)
                read = reader(chunk)
            yield read
        reader.finish()  # a decision left open by every chunk (6,406: thousands or decimal comma?)
        _note_lost_text(file, reader, sorted(suspects), chunk_rows)
        if rows == 0:  # it would replace a table with an empty one (a header-only export, a cut file)
            raise DataError("it holds a header and no rows; nothing was loaded, every table keeps its rows")
    except DataError as exc:
        raise DataError(f"load-csv: {file.name}: {exc}") from None
    # not UTF-8 past the header, a row of the wrong width, a compressed file cut short or damaged
    except READ_ERRORS as exc:
        raise unreadable(f"load-csv: {file.name}", exc) from None
    if offsets is not None:
        offsets.note(file, reader.dates)


def _note_lost_text(file: Path, reader: FrameReader, columns: list[str], chunk_rows: int) -> None:
    """Reads `columns` of `file` again as text (pandas typed them as floats, some 0.0 or beyond 2^53, their
    text gone) and has each column's reader act on what float64 changed (`NumberReader.note`): DataError
    for a nonzero value read as 0 (`1e-400`), a warning for integers that lost digits (`float_range`)."""
    if columns:
        found = lost_in_text(
            _raw_chunks(file, chunk_rows, usecols=columns, text=True), {c: c for c in columns}
        )
        for column, lost in found.items():
            reader.numbers[column].note(lost)


def _settled_date_formats(file: Path, chunk_rows: int) -> tuple[str, ...] | None:
    """The text formats that read every `date` of `file` (`DateReader.settled`), its date column read
    `chunk_rows` at a time. Raises AmbiguousDateError when day-first and month-first both do, differently."""
    dates = DateReader(DATE, source=file.name, settle=True)
    for chunk in _raw_chunks(file, chunk_rows, usecols=[DATE]):
        dates(chunk[DATE])
    return dates.settled()


def _raw_chunks(
    file: Path, chunk_rows: int, usecols: list[str] | None = None, *, text: bool = False
) -> Iterator[pd.DataFrame]:
    """`file`'s rows as written, `chunk_rows` at a time (every column as text with `text`).

    Symbols are read as text (as numbers, 0050 and 050 would both become 50), and only an empty cell is a
    missing one: `NA` (National Bank of Canada), `NAN` or `NULL` are tickers there, as they are in SQL,
    while every other column reads `number_reading.MISSING_TEXT` as missing. A comma ending every row
    is dropped (`index_col=False`; pandas would otherwise take the first column as the index and shift
    every value one column left); a row with more values than the header has names is refused before
    (`csv_header.check_row_widths`), and again here should pandas meet one.
    """
    header = read_header(file, file.name)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        chunks = pd.read_csv(
            file,
            chunksize=chunk_rows,
            dtype=str if text else {SYMBOL: str},
            index_col=False,
            # the header's names, as `_check_header` counted them: with per-column `na_values` pandas
            # would otherwise warn at the comma ending every row
            usecols=usecols if usecols is not None else header,
            keep_default_na=False,
            na_values={name: [""] if name == SYMBOL else CSV_MISSING["na_values"] for name in header},
        )
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            try:
                chunk = next(chunks, None)
            except pd.errors.ParserWarning:
                raise DataError(
                    "a row has more values than the header has column names; name every column or drop "
                    "the extra values"
                ) from None
        if chunk is None:
            return
        yield chunk
