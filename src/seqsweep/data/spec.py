"""What dataset a sweep trains on: tables, symbols, targets, window, horizon, split and labels.

The spec decides the tensors; the search space decides the model. A different window is a different
dataset, built once and cached under the hash of this spec (the database URL is not part of the hash:
the same rows give the same dataset whether they come from SQLite or MariaDB).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

from seqsweep._config import from_mapping, key_text, to_mapping
from seqsweep.constants import NOTEBOOK_SYMBOLS
from seqsweep.data.joins import DEFAULT_OHLCV_TABLE, JOINS, Join, get_join
from seqsweep.data.tables import DATE, SYMBOL
from seqsweep.errors import ConfigError

LABEL_METHODS = ("tertiles", "dead_band")

TRANSFORMS: Final[dict[str, str]] = {
    "level": "x[t] as stored (the default)",
    "diff": "x[t] - x[t-1]",
    "log_return": "ln(x[t] / x[t-1]); x must be > 0",
    "pct_change": "x[t] / x[t-1] - 1; x[t-1] must not be 0",
    "log1p": "ln(1 + x[t]); x must be >= 0 (zero volume is fine)",
}
"""Per-column input transforms of `dataset.transform`, applied per symbol on the grid before scaling.
`diff`, `log_return` and `pct_change` need the previous grid step: a symbol's first row (and a row after a
missing one) is masked for that column. Labels always come from the target's untransformed level."""

MAX_STEPS: Final = 1_000_000
"""The most grid steps `dataset.lookback` or `dataset.horizon` may take (`dataset.split.gap`: twice
that): a window of a million steps is far beyond any model, and larger numbers overflowed the dry
build's bounded query (`int too large for SQLite INTEGER`)."""

MAX_ROWS_PER_SYMBOL: Final = 10**12
"""The most rows `dataset.max_rows_per_symbol` may keep: a database integer holds at most 2**63 - 1."""

MAX_FREQUENCY: Final = pd.Timedelta(days=3650)
"""The longest `dataset.frequency` step (ten years): the grid's dates must stay within what a timestamp
holds (1677 to 2262), and a longer step overflowed pandas."""

DEFAULT_OHLCV_SYMBOL: Final = "ETHUSDT"
"""What `dataset.ohlcv_symbol` names the one instrument of `join: ohlcv` when left out."""

KEY_COLUMNS: Final[tuple[str, ...]] = (DATE, SYMBOL)
"""Columns every join is keyed on; `dataset.exclude_columns` cannot leave them out."""


_COARSE: Final = (
    ("year", "Y", re.compile(r"\s*[+-]?\d{4}\s*")),
    ("month", "M", re.compile(r"\s*[+-]?\d{4}-\d{1,2}\s*")),
    (
        "hour",
        "h",
        re.compile(r"\s*\d{4}-?\d{1,2}-?\d{1,2}[Tt ]\d{1,2}\s*(?:[Zz]|[+-]\d{1,2}(?::?\d{2})?)?\s*"),
    ),
)
"""ISO 8601 forms coarser than a day or a minute that pandas reads as their period's first instant
(`2024` as 2024-01-01 00:00): the kind of period, its pandas frequency and the form."""


def naive_utc(value: str, where: str, *, instant: bool = False, last_kept: bool = False) -> pd.Timestamp:
    """`value` (ISO 8601) as a naive UTC timestamp, an offset or `Z` converted, as the rows are stored.

    A partial time names a period, read as pandas' partial-string indexing reads it (pandas user
    guide, "Partial string indexing"): a start (the default) is the period's first instant (`2024` is
    2024-01-01 00:00); `last_kept`, an inclusive end, is its last nanosecond (`2024` is
    2024-12-31 23:59:59.999999999, `2023-12-31` that whole day, `2024-03-01 10` that whole hour), so
    `end: 2024` keeps all of 2024 as `df.loc[:"2024"]` does. `instant` (`predict --at`) refuses a year,
    a month or an hour alone, which name no one time; a date alone is its midnight.

    Raises ConfigError naming `where` (e.g. `dataset.end`) for text that is not an ISO date, a date
    outside what nanoseconds hold (1677-09-21 to 2262-04-11), or a period where an instant is needed.
    """
    try:
        stamp = pd.to_datetime(value, format="ISO8601")  # pd.Timestamp("June") would be 0001-06-01
    except (ValueError, TypeError):
        raise ConfigError(f"{where}: not a date or datetime: {value!r} (e.g. 2023-06-01)") from None
    if stamp is pd.NaT:
        raise ConfigError(f"{where}: not a date or datetime: {value!r} (e.g. 2023-06-01)")
    if instant:
        _refuse_period(value, stamp, where)
    try:  # rows are held in nanoseconds: a bound they cannot hold would overflow where it is compared
        stamp = stamp.as_unit("ns")
        if last_kept:
            stamp = _period_end(value, stamp)
    except (pd.errors.OutOfBoundsDatetime, OverflowError):
        way_out = "leave the bound out for an open end"
        if instant:  # `predict --at` is no bound
            way_out = "leave it out to predict from the latest rows"
        raise ConfigError(
            f"{where}: {value!r} lies outside the dates rows can hold ({pd.Timestamp.min:%Y-%m-%d} to "
            f"{pd.Timestamp.max:%Y-%m-%d}); {way_out}"
        ) from None
    return stamp.tz_convert("UTC").tz_localize(None) if stamp.tzinfo is not None else stamp


def _period_end(value: str, first: pd.Timestamp) -> pd.Timestamp:
    """The last nanosecond of the period `value` names (its resolution, as `pd.Period` infers it from
    the text: a year, month, day, hour, minute, second, ...), `first` being that period's first instant
    (tz-aware when `value` carries an offset). Text `pd.Period` cannot read keeps `first`."""
    try:
        freq = pd.Period(value.strip().removesuffix("Z").removesuffix("z")).freq
    except (ValueError, TypeError):
        return first
    naive = first.tz_localize(None) if first.tzinfo is not None else first
    last = (pd.Period(naive, freq=freq) + 1).start_time.as_unit("ns") - pd.Timedelta(1, "ns")
    return last.tz_localize(first.tzinfo) if first.tzinfo is not None else last


def _refuse_period(value: str, stamp: pd.Timestamp, where: str) -> None:
    """ConfigError when `value` names a whole year, month or hour (`_COARSE`) rather than an instant."""
    for kind, freq, form in _COARSE:
        if form.fullmatch(value):
            naive = stamp.tz_localize(None) if stamp.tzinfo is not None else stamp
            first, last = naive, pd.Period(naive, freq=freq).end_time.floor("s")
            if stamp.tzinfo is not None:
                first, last = first.tz_localize(stamp.tzinfo), last.tz_localize(stamp.tzinfo)
            raise ConfigError(
                f"{where}: {value!r} names a whole {kind}, not a time (it would be read as its first "
                f"instant, {first.isoformat(sep=' ')}); write the time in full, e.g. "
                f"{last.isoformat(sep=' ')} for the end of that {kind}"
            )


def _split_date(value: str, key: str) -> pd.Timestamp:
    """`value` as a naive UTC timestamp (an offset is converted); ConfigError naming `dataset.split.<key>`."""
    return naive_utc(value, f"dataset.split.{key}")


DEFAULT_TRAIN_FRACTION: Final = 0.7
DEFAULT_VALID_FRACTION: Final = 0.15


@dataclass(frozen=True)
class SplitSpec:
    """Chronological split: the same timestamp boundaries for every symbol, by fractions or by dates.

    Fractions (`train`, `valid`) cut the time range every symbol covers; dates (`valid_start`,
    `test_start`) are the boundaries themselves. Give one kind or the other: with neither, the
    fractions default to 0.7 / 0.15; with dates, `train` and `valid` stay None.
    """

    train: float | None = None
    """Fraction of the common time range that is train (earliest); None: 0.7 (unless dates are given)."""
    valid: float | None = None
    """Fraction that is validation, the rest (latest) is test; None: 0.15 (unless dates are given)."""
    valid_start: str | dt.date | None = None
    """First timestamp of the validation split (naive UTC, e.g. "2023-06-01"); with `test_start`, replaces the
    fractions. A YAML date (unquoted 2023-06-01) is kept as its ISO text."""
    test_start: str | dt.date | None = None
    """First timestamp of the test split; after `valid_start`."""
    gap: int = 0
    """Embargo steps dropped after each boundary: 0, or at least lookback + horizon."""

    def __post_init__(self) -> None:
        for key in ("valid_start", "test_start"):
            value = getattr(self, key)
            if isinstance(value, dt.date):  # YAML reads an unquoted 2023-06-01 as a date
                object.__setattr__(
                    self,
                    key,
                    value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat(),
                )
            elif value is not None and not isinstance(value, str):
                raise ConfigError(f"dataset.split.{key}: expected a date such as 2023-06-01, got {value!r}")
        has_dates = self.valid_start is not None or self.test_start is not None
        if has_dates and (self.train is not None or self.valid is not None):
            raise ConfigError(
                "dataset.split: give fractions (train, valid) or dates (valid_start, test_start), not both; "
                f"got train={self.train}, valid={self.valid}, valid_start={self.valid_start}, "
                f"test_start={self.test_start}"
            )
        if has_dates and (self.valid_start is None or self.test_start is None):
            raise ConfigError(
                f"dataset.split: a split by dates needs both valid_start and test_start, "
                f"got valid_start={self.valid_start}, test_start={self.test_start}"
            )
        if not has_dates:  # the default fractions, written out so to_dict() shows what is used
            if self.train is None:
                object.__setattr__(self, "train", DEFAULT_TRAIN_FRACTION)
            if self.valid is None:
                object.__setattr__(self, "valid", DEFAULT_VALID_FRACTION)

    @property
    def fractions(self) -> tuple[float, float] | None:
        """(train, valid) fractions of a split by fractions; None for a split by dates."""
        if self.train is None or self.valid is None:
            return None
        return self.train, self.valid

    @property
    def dates(self) -> tuple[pd.Timestamp, pd.Timestamp] | None:
        """(valid_start, test_start) as naive UTC timestamps for a split by dates; None for fractions.

        Raises ConfigError naming the key when a date does not parse.
        """
        if self.valid_start is None or self.test_start is None:
            return None
        return _split_date(str(self.valid_start), "valid_start"), _split_date(
            str(self.test_start), "test_start"
        )

    folds: int = 1
    """Walk-forward folds (expanding window): 1 = the one train/valid split above. k > 1 adds the k − 1
    validation blocks of `valid`'s length just before the valid block; fold i trains on every row before
    its block (minus the `gap` embargo); the test block is shared and never used to choose. See
    `seqsweep.data.folds`."""


@dataclass(frozen=True)
class LabelSpec:
    """How a move becomes a class: 0 = down, 1 = flat, 2 = up."""

    method: str = "tertiles"
    """`tertiles`: the flat band per target and step is the train split's middle third (balanced classes).
    `dead_band`: |move| <= dead_band (in scaled units) is flat."""
    dead_band: float = 0.0


@dataclass(frozen=True)
class DatasetSpec:
    """The dataset section of a sweep file."""

    join: str = "notebook"
    """Which tables take part; see `seqsweep.data.joins.JOINS`."""
    symbols: tuple[str, ...] = NOTEBOOK_SYMBOLS
    targets: tuple[str, ...] | None = None
    """Columns whose future moves are labelled; None takes the join's `default_targets`."""
    lookback: int = 24
    """L: observed steps per window."""
    horizon: int = 3
    """H: future steps labelled per window."""
    frequency: str | None = "1h"
    """Each symbol is put on this regular grid (pandas offset) so gaps become masked rows; None keeps rows as they are."""
    pca_components: int | None = None
    """Symbol-embedding size after PCA; None takes min(15, number of symbols)."""
    start: str | None = None
    """First time kept (ISO 8601, naive UTC, an offset converted); `2024` or `2024-03` is its first instant."""
    end: str | None = None
    """Last time kept, inclusive; a partial time keeps its whole period, as pandas' `df.loc[:end]`
    (`end: 2024` keeps all of 2024, `end: 2023-12-31` all of that day; `naive_utc`)."""
    max_rows_per_symbol: int | None = None
    """Keep only the latest N rows per symbol (a bounded query, for dry runs and small demos)."""
    split: SplitSpec = field(default_factory=SplitSpec)
    labels: LabelSpec = field(default_factory=LabelSpec)
    ohlcv_table: str = DEFAULT_OHLCV_TABLE
    """Table read by `join: ohlcv` (it has no symbol column: the data is one instrument)."""
    ohlcv_symbol: str = DEFAULT_OHLCV_SYMBOL
    """The name that instrument carries in the dataset."""
    csv: str | None = None
    """For `join: ohlcv`: read this CSV(.gz) file instead of a table."""
    embedding_model: str = "all-MiniLM-L6-v2"
    transform: dict[str, str] = field(default_factory=dict)
    """Input column → transform (see `TRANSFORMS`), e.g. {close: log_return, volume: log1p}; unlisted columns
    stay levels. Only the input feature is transformed: labels and moves come from the target's level."""
    exclude_columns: tuple[str, ...] = ()
    """Value columns of the join left out of the query and the features (e.g. [volume] when it is all NULL)."""
    db: str | None = None
    """SQLAlchemy URL; None reads $SEQSWEEP_DB_URL, then the generated sample database. Not hashed."""

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def from_dict(cls, data: Any, where: str = "dataset") -> DatasetSpec:
        return from_mapping(cls, data, where)

    def to_dict(self) -> dict[str, Any]:
        return to_mapping(self)

    @property
    def join_spec(self) -> Join:
        """The join `dataset.join` names (`seqsweep.data.joins`)."""
        return JOINS[self.join]

    @property
    def target_columns(self) -> tuple[str, ...]:
        return self.targets if self.targets is not None else self.join_spec.default_targets

    @property
    def symbol_list(self) -> tuple[str, ...]:
        """The symbols the dataset holds (`join: ohlcv` holds one instrument)."""
        return (self.ohlcv_symbol,) if self.join_spec.single_instrument else self.symbols

    @property
    def n_pca_components(self) -> int:
        return self.pca_components if self.pca_components is not None else min(15, len(self.symbol_list))

    def content_hash(self) -> str:
        """Hash of everything that shapes the tensors (not where the rows come from)."""
        payload = self.to_dict()
        payload.pop("db")
        payload["targets"] = list(self.target_columns)
        payload["pca_components"] = self.n_pca_components
        # new keys at their defaults leave the key a dataset always had
        transforms = {column: name for column, name in self.transform.items() if name != "level"}
        if transforms:
            payload["transform"] = transforms
        else:
            payload.pop("transform")
        if not self.exclude_columns:
            payload.pop("exclude_columns")
        else:
            payload["exclude_columns"] = sorted(self.exclude_columns)
        for key in ("valid_start", "test_start"):
            if payload["split"].get(key) is None:
                payload["split"].pop(key, None)
        if payload["split"].get("folds") == 1:  # one fold is the plain split: the key it always had
            payload["split"].pop("folds")
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def validate(self) -> None:
        """Rules that need no data; each error names the key, the rule and the value."""
        get_join(self.join)
        for key, steps in (("lookback", self.lookback), ("horizon", self.horizon)):
            if not 1 <= steps <= MAX_STEPS:
                raise ConfigError(f"dataset.{key}: must be from 1 to {MAX_STEPS:_} steps, got {steps}")
        if not self.symbols:
            raise ConfigError("dataset.symbols: name at least one symbol")
        if any(not symbol.strip() for symbol in self.symbols):
            raise ConfigError(f"dataset.symbols: a symbol is blank in {list(self.symbols)}; name each symbol")
        if len(set(self.symbols)) != len(self.symbols):
            raise ConfigError(f"dataset.symbols: a symbol is listed twice in {list(self.symbols)}")
        self._validate_symbols_and_dates()
        if not self.target_columns:
            raise ConfigError("dataset.targets: name at least one target column")
        if len(set(self.target_columns)) != len(self.target_columns):
            # each copy was labelled and scored again: the column weighed double in the loss and in
            # val_macro_f1's mean over (target, step) cells
            raise ConfigError(
                f"dataset.targets: a column is listed twice in {list(self.target_columns)}; list each target once"
            )
        self._validate_instrument()
        if self.pca_components is not None and not 1 <= self.pca_components <= len(self.symbol_list):
            raise ConfigError(
                f"dataset.pca_components: must be between 1 and the number of symbols "
                f"({len(self.symbol_list)}), got {self.pca_components}"
            )
        split = self.split
        fractions = split.fractions
        if fractions is not None and not (
            0 < fractions[0] < 1 and 0 < fractions[1] < 1 and fractions[0] + fractions[1] < 1
        ):
            raise ConfigError(
                f"dataset.split: train and valid must be in (0, 1) with train + valid < 1 so that no split "
                f"is empty, got train={split.train}, valid={split.valid}"
            )
        dates = split.dates
        if dates is not None and dates[0] >= dates[1]:
            raise ConfigError(
                f"dataset.split: valid_start must be before test_start, got valid_start={split.valid_start}, "
                f"test_start={split.test_start}"
            )
        self._validate_columns()
        if split.gap < 0 or 0 < split.gap < self.lookback + self.horizon or split.gap > 2 * MAX_STEPS:
            raise ConfigError(
                f"dataset.split.gap: must be 0 or from lookback + horizon ({self.lookback + self.horizon}) "
                f"to {2 * MAX_STEPS:_} steps, got {split.gap}"
            )
        if split.folds < 1:
            raise ConfigError(
                f"dataset.split.folds: must be >= 1 (1 = no walk-forward folds), got {split.folds}"
            )
        if self.labels.method not in LABEL_METHODS:
            raise ConfigError(
                f"dataset.labels.method: must be one of {', '.join(LABEL_METHODS)}, got {self.labels.method!r}"
            )
        if self.labels.method != "dead_band" and self.labels.dead_band != 0:
            # `labels: {dead_band: 0.1}` kept the tertiles' band without a word
            raise ConfigError(
                f"dataset.labels.dead_band: read only by `method: dead_band`, but labels.method is "
                f"{self.labels.method}; add method: dead_band, or leave dead_band out"
            )
        if not (math.isfinite(self.labels.dead_band) and self.labels.dead_band >= 0):
            # NaN passed `< 0`, and a NaN or infinite band labelled every move flat
            raise ConfigError(
                f"dataset.labels.dead_band: must be a finite number >= 0, got {self.labels.dead_band}"
            )
        rows = self.max_rows_per_symbol
        if rows is not None and not self.lookback + self.horizon <= rows <= MAX_ROWS_PER_SYMBOL:
            raise ConfigError(
                f"dataset.max_rows_per_symbol: must be from lookback + horizon "
                f"({self.lookback + self.horizon}) to {MAX_ROWS_PER_SYMBOL:_}, got {rows}"
            )
        if self.csv is not None and not self.join_spec.reads_csv:
            readers = " or ".join(f"`join: {j.name}`" for j in JOINS.values() if j.reads_csv)
            raise ConfigError(f"dataset.csv: only {readers} reads a CSV file, but join is {self.join!r}")
        grid_step(self.frequency)  # `abc`, `0h`, `-1h`: refused without data too (`validate --no-data`)

    def _validate_symbols_and_dates(self) -> None:
        """Refused without data too (`validate --no-data`), as the build refuses them: two symbols that are
        one once stripped and upper-cased (`[ethusdt, ETHUSDT]`), a `start` or `end` that is no date, and
        a `start` not before `end`."""
        from seqsweep.data.ingest import canonical_symbol

        if len({canonical_symbol(s) for s in self.symbols}) != len(self.symbols):
            raise ConfigError(
                f"dataset.symbols: {list(self.symbols)} names a symbol twice once stripped and upper-cased"
            )
        start = None if self.start is None else naive_utc(str(self.start), "dataset.start")
        end = None if self.end is None else naive_utc(str(self.end), "dataset.end", last_kept=True)
        if start is not None and end is not None and start >= end:
            raise ConfigError(f"dataset.start must be before dataset.end, got {self.start} >= {self.end}")

    def _validate_instrument(self) -> None:
        """A single-instrument join (`ohlcv`) names its series by `ohlcv_symbol`: `symbols` naming another
        was left unread, and the rows trained (and were embedded) as ETHUSDT; under a join of several
        symbols, an `ohlcv_symbol` other than the default was left unread alike."""
        from seqsweep.data.ingest import canonical_symbol

        if self.join_spec.single_instrument:
            named = {canonical_symbol(s) for s in self.symbols if isinstance(s, str)}
            if self.symbols != NOTEBOOK_SYMBOLS and named != {canonical_symbol(self.ohlcv_symbol)}:
                raise ConfigError(
                    f"dataset.symbols: join {self.join!r} reads one instrument, named by dataset.ohlcv_symbol "
                    f"({self.ohlcv_symbol}), got symbols {list(self.symbols)}; write ohlcv_symbol: "
                    f"{self.symbols[0] if self.symbols else 'NAME'} (--ohlcv-symbol on the command line) and "
                    "leave symbols out"
                )
        elif self.ohlcv_symbol != DEFAULT_OHLCV_SYMBOL:
            raise ConfigError(
                f"dataset.ohlcv_symbol: read only by a single-instrument join (ohlcv), but join is "
                f"{self.join!r}; list the symbols in dataset.symbols and leave ohlcv_symbol out"
            )

    def _validate_columns(self) -> None:
        """`transform` and `exclude_columns` rules that need no data (names of transforms, key columns)."""
        if not isinstance(self.transform, Mapping):
            raise ConfigError(
                f"dataset.transform: expected a mapping of column to transform, e.g. {{close: log_return}}, "
                f"got {self.transform!r}"
            )
        for column, name in self.transform.items():
            if not isinstance(column, str):  # `{1: diff}` was blamed on the transform's name
                raise ConfigError(
                    f"dataset.transform: {key_text(column)} cannot name a column; write its name"
                )
            if name not in TRANSFORMS:
                raise ConfigError(
                    f"dataset.transform.{column}: unknown transform {name!r} (valid: {', '.join(TRANSFORMS)})"
                )
        for column in self.exclude_columns:
            if column in KEY_COLUMNS:
                raise ConfigError(
                    f"dataset.exclude_columns: {column!r} is a key column of every join and cannot be left out"
                )
            if column in self.target_columns:
                raise ConfigError(
                    f"dataset.exclude_columns: {column!r} is a target (dataset.targets: "
                    f"{', '.join(self.target_columns)}); a target cannot be left out"
                )
            if column in self.transform:
                raise ConfigError(
                    f"dataset.exclude_columns: {column!r} also has a dataset.transform; drop one of the two"
                )
        if len(set(self.exclude_columns)) != len(self.exclude_columns):
            raise ConfigError(
                f"dataset.exclude_columns: a column is listed twice in {list(self.exclude_columns)}"
            )

    def check_columns(self, columns: tuple[str, ...], available: tuple[str, ...]) -> None:
        """Check `transform` and `exclude_columns` against the join's columns (data-dependent rules).

        `available`: every value column the join offers, before exclusion; `columns`: those kept (the
        features). Raises ConfigError naming the unknown column and the valid ones.
        """
        for column in self.exclude_columns:
            if column not in available:
                raise ConfigError(
                    f"dataset.exclude_columns: {column!r} is not a column of the {self.join} join "
                    f"(columns: {', '.join(available)})"
                )
        for column in self.transform:
            if column not in columns:
                raise ConfigError(
                    f"dataset.transform: {column!r} is not an input column of the {self.join} join "
                    f"(columns: {', '.join(columns)}; transforms: {', '.join(TRANSFORMS)})"
                )


def grid_step(frequency: str | None) -> pd.Timedelta | None:
    """The fixed step of `dataset.frequency` ('1h', '5min', ...), None to keep rows as they come."""
    if frequency is None:
        return None
    try:
        step = pd.Timedelta(pd.tseries.frequencies.to_offset(frequency))
    except OverflowError:  # `99999999999999999999h`: more than pandas holds, so past MAX_FREQUENCY
        step = pd.Timedelta.min if frequency.lstrip().startswith("-") else pd.Timedelta.max
    except (ValueError, TypeError):
        raise ConfigError(
            f"dataset.frequency: must be a fixed pandas step such as '1h' or '5min', got {frequency!r}"
        ) from None
    if step <= pd.Timedelta(0):
        raise ConfigError(f"dataset.frequency: must be positive, got {frequency!r}")
    if step > MAX_FREQUENCY:
        raise ConfigError(
            f"dataset.frequency: must be at most {MAX_FREQUENCY.days} days (3650D), got {frequency!r}"
        )
    return step
