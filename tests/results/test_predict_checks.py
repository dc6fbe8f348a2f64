"""`predict` refuses inputs it would predict wrongly from: a unit change, an all-NULL column, a `--db` it
would ignore. Tiny datasets built in this process (no Ray); the model is replaced by a recorder."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqsweep.constants import MASK_VALUE
from seqsweep.data import DatasetSpec, build_dataset
from seqsweep.errors import ConfigError, DataError
from seqsweep.results import bundle_format as fmt
from seqsweep.results.model_bundle import ModelBundle, load_bundle
from seqsweep.results.predict import MAX_SCALED_INPUT, check_window, predict_from_db
from tests.crafted_bundle import crafted_bundle
from tests.data.tiny_prices import INPUTS, price_frame, write_db

SPEC = DatasetSpec(
    join="prices", symbols=("AAAUSDT", "BBBUSDT"), targets=("close",), lookback=4, horizon=2, pca_components=1
)


@pytest.fixture(autouse=True)
def recorder(monkeypatch: pytest.MonkeyPatch) -> list[np.ndarray]:
    seen: list[np.ndarray] = []

    def predict_proba(self: ModelBundle, x: np.ndarray) -> np.ndarray:
        seen.append(np.asarray(x))
        return np.full((len(x), self.horizon, len(self.target_names), 3), 1 / 3)

    monkeypatch.setattr(ModelBundle, "predict_proba", predict_proba)
    return seen


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("predict_checks")


@pytest.fixture(scope="module")
def url(folder: Path) -> str:
    return write_db(folder / "db", [price_frame("AAAUSDT", seed=1), price_frame("BBBUSDT", seed=2)])


@pytest.fixture(scope="module")
def bundle(url: str, folder: Path) -> ModelBundle:
    dataset = build_dataset(SPEC, db_url=url, cache_dir=folder / "cache", in_process=True)
    return load_bundle(crafted_bundle(dataset, folder / "bundle"))


def _edited(url: str, tmp_path: Path, sql: str) -> str:
    """A copy of the database at `url` with `sql` applied."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / "edited.db"
    copy.write_bytes(Path(url.removeprefix("sqlite:///")).read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute(sql)
    return f"sqlite:///{copy}"


def test_the_intact_database_predicts_without_a_note(bundle: ModelBundle, url: str) -> None:
    prediction = predict_from_db(bundle, url, ["AAAUSDT"])
    assert prediction.symbols[0].observed_rows == bundle.lookback
    assert prediction.symbols[0].note == ""


def test_a_unit_change_is_refused_naming_the_column_and_its_size(
    bundle: ModelBundle, url: str, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    edited = _edited(url, tmp_path, "UPDATE crypto_price SET volume = volume * 1000")
    with pytest.raises(DataError) as caught:
        predict_from_db(bundle, edited, ["AAAUSDT"])
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("volume of AAAUSDT is ")
    size = float(message.split(" is ")[1].split()[0])
    assert size > MAX_SCALED_INPUT
    assert "training standard deviations from its training mean at 2024-01-" in message
    assert "a unit changed?" in message
    assert recorder == []  # the model never saw the window


def test_a_column_null_for_the_symbol_is_refused_as_the_build_refuses_it(
    bundle: ModelBundle, url: str, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    edited = _edited(url, tmp_path, "UPDATE crypto_price SET close = NULL WHERE crypto_symbol = 'AAAUSDT'")
    with pytest.raises(DataError, match=r"^symbol AAAUSDT: column 'close' is all NaN \(NULL\)") as caught:
        predict_from_db(bundle, edited, ["AAAUSDT"])
    assert "\n" not in str(caught.value)
    assert recorder == []
    with pytest.raises(DataError, match=r"symbol AAAUSDT: column 'close' is all NaN \(NULL\)"):
        build_dataset(SPEC, db_url=edited, cache_dir=tmp_path / "cache", in_process=True)


def test_a_column_missing_only_in_the_window_is_named_in_the_note(
    bundle: ModelBundle, url: str, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    # the yield is LEFT JOINed: hours without one (a weekend) are masked in training windows too
    edited = _edited(url, tmp_path, "DELETE FROM US_Bond_Yield WHERE date >= '2024-01-10 20:00:00'")
    prediction = predict_from_db(bundle, edited, ["AAAUSDT"])
    note = prediction.symbols[0].note
    assert "no observed value in the window for yield (last observed 2024-01-10 19:00:00)" in note
    assert (recorder[-1][0][:, INPUTS.index("yield")] == MASK_VALUE).all()


def test_a_cell_masked_in_an_observed_row_is_named_in_the_note(
    bundle: ModelBundle, url: str, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    """A NULL close at the last row was masked and predicted from with an empty note ("4/4 rows
    observed"): only a column with no value in the whole window was named."""
    last = "(SELECT MAX(date) FROM crypto_price WHERE crypto_symbol = 'AAAUSDT')"
    edited = _edited(
        url,
        tmp_path,
        f"UPDATE crypto_price SET close = NULL WHERE crypto_symbol = 'AAAUSDT' AND date = {last}",
    )
    prediction = predict_from_db(bundle, edited, ["AAAUSDT", "BBBUSDT"])
    first, second = prediction.symbols
    assert first.note == "masked cells in observed rows of the window: close 1 of 4 (the last row among them)"
    assert first.observed_rows == 4  # the row holds its other values
    assert recorder[-2][0][-1, INPUTS.index("close")] == MASK_VALUE  # AAAUSDT, then BBBUSDT
    assert second.note == ""


def test_check_window_passes_large_real_moves_and_refuses_beyond_the_limit(bundle: ModelBundle) -> None:
    preprocessing = bundle.preprocessing
    width = len(preprocessing.feature_names)
    times = pd.date_range("2024-01-01", periods=4, freq="1h").to_numpy("datetime64[ns]").astype(np.int64)
    window = np.zeros((4, width), dtype=np.float32)
    window[2, INPUTS.index("volume")] = 30.0  # a big spike: accepted
    window[1, INPUTS.index("close")] = MASK_VALUE  # a masked cell is no value
    assert check_window(window, times, "AAAUSDT", preprocessing) == ()
    window[3, INPUTS.index("high")] = -(MAX_SCALED_INPUT + 1)
    with pytest.raises(DataError, match=r"^high of AAAUSDT is 101 training standard deviations .* 03:00:00"):
        check_window(window, times, "AAAUSDT", preprocessing)


def test_db_is_refused_for_a_bundle_trained_on_a_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = price_frame("AAAUSDT", seed=4)
    csv = tmp_path / "candles.csv"
    frame.drop(columns="crypto_symbol").rename(
        columns={
            "open": "open_price",
            "high": "highest_price",
            "low": "lowest_price",
            "close": "closing_price",
        }
    ).to_csv(csv, index=False, date_format="%Y-%m-%d %H:%M:%S")
    spec = dataclasses.replace(
        DatasetSpec(join="ohlcv", csv=str(csv), lookback=4, horizon=2, frequency="1h"), pca_components=None
    )
    dataset = build_dataset(spec, cache_dir=tmp_path / "cache", in_process=True)
    bundle = load_bundle(crafted_bundle(dataset, tmp_path / "bundle"))
    with pytest.raises(ConfigError, match=r"^predict: --db does not apply to this bundle") as caught:
        predict_from_db(bundle, f"sqlite:///{tmp_path / 'does_not_exist.db'}")
    assert str(csv) in str(caught.value) and "\n" not in str(caught.value)
    # without --db: the bundle's CSV, and no database is resolved for it (a malformed $SEQSWEEP_DB_URL
    # was refused, and the sample database generated, for a URL nothing reads)
    monkeypatch.setenv("SEQSWEEP_DB_URL", "not a url")
    prediction = predict_from_db(bundle, None)
    assert prediction.symbols[0].window_end == str(frame["date"].iloc[-1])


@pytest.mark.parametrize("at", ["05/01/2024", "01.05.2024 10:00", "June"])
def test_an_at_that_is_not_iso_is_refused(bundle: ModelBundle, url: str, at: str) -> None:
    """`--at 05/01/2024` was read month first (1 May) without a word; `--at` reads as `dataset.end` does."""
    with pytest.raises(ConfigError, match=rf"^--at: not a date or datetime: '{at}'"):
        predict_from_db(bundle, url, ["AAAUSDT"], at=at)


@pytest.mark.parametrize(("at", "kind"), [("2024", "year"), ("2024-01", "month"), ("2024-01-05 10", "hour")])
def test_an_at_naming_a_whole_period_is_refused(bundle: ModelBundle, url: str, at: str, kind: str) -> None:
    """`--at 2024-01` was read as 2024-01-01 00:00 (the period's first instant), before every row of
    January, without a word; a date alone stays its midnight."""
    with pytest.raises(ConfigError, match=rf"^--at: '{at}' names a whole {kind}, .* write the time in full"):
        predict_from_db(bundle, url, ["AAAUSDT"], at=at)
    assert predict_from_db(bundle, url, ["AAAUSDT"], at="2024-01-05").at == "2024-01-05 00:00:00"


def test_an_at_after_the_rows_is_refused_and_an_offset_is_converted(bundle: ModelBundle, url: str) -> None:
    """The rows end 2024-01-10 23:00: `--at` a month later predicted from them, labelled with `--at`."""
    last = predict_from_db(bundle, url, ["AAAUSDT"]).symbols[0].window_end
    later = pd.Timestamp(last) + pd.Timedelta(days=30)
    with pytest.raises(DataError, match=rf"^--at {later}: the rows of AAAUSDT end at {last}, 30 days"):
        predict_from_db(bundle, url, ["AAAUSDT"], at=str(later))
    shifted = predict_from_db(bundle, url, ["AAAUSDT"], at="2024-01-05T02:00+02:00")
    assert shifted.at == "2024-01-05 00:00:00" and shifted.symbols[0].window_end == "2024-01-05 00:00:00"


def _rewritten(url: str, tmp_path: Path, date: str) -> str:
    """A copy of the database at `url` with every table's `date` set to the SQL expression `date`."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    copy = tmp_path / "rewritten.db"
    copy.write_bytes(Path(url.removeprefix("sqlite:///")).read_bytes())
    with sqlite3.connect(copy) as conn:
        for table in ("crypto_price", '"US_Bond_Yield"'):
            conn.execute(f"UPDATE {table} SET date = {date}")
    return f"sqlite:///{copy}"


def test_at_on_epoch_integers_in_a_datetime_column_reads_the_text_dates_window(
    bundle: ModelBundle, url: str, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    """The DATETIME `date` rewritten as epoch seconds by another tool: `--at` was refused ("number values
    ... compared as text") though an INTEGER column of the same values took it."""
    epoch = _rewritten(url, tmp_path, "CAST(strftime('%s', date) AS INTEGER)")
    at = "2024-01-05T12:00:00"
    expected = predict_from_db(bundle, url, ["AAAUSDT"], at=at)
    got = predict_from_db(bundle, epoch, ["AAAUSDT"], at=at)
    assert got.symbols[0].window_end == expected.symbols[0].window_end == "2024-01-05 12:00:00"
    np.testing.assert_array_equal(recorder[-1], recorder[-2])


def test_a_date_text_at_cannot_cut_is_refused_naming_at(
    bundle: ModelBundle, url: str, tmp_path: Path
) -> None:
    """The refusal named `dataset.start/end`, a key the user never gave: predict's bound is `--at`."""
    suffixed = _rewritten(url, tmp_path, "date || ' UTC'")
    with pytest.raises(DataError, match=r"^--at: SQLite holds crypto_price\.date as text values like"):
        predict_from_db(bundle, suffixed, ["AAAUSDT"], at="2024-01-05T12:00:00")


def test_a_bundle_of_a_database_with_a_password_asks_for_it_not_for_the_sample(
    bundle: ModelBundle, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Export dropped a `dataset.db` with a password, so `predict` without `--db` read the generated
    sample database and printed its prediction (exit 0)."""
    import yaml

    from seqsweep.results import bundle_format as fmt
    from seqsweep.results.export import bundle_sweep_copy

    sweep = bundle_sweep_copy({"name": "x", "dataset": {"db": "mysql+pymysql://u:Sekret42@db.example/prod"}})
    assert sweep["dataset"]["db"] == "mysql+pymysql://u:***@db.example/prod"
    copy = bundle.path / fmt.SWEEP_YAML
    copy.write_text(yaml.safe_dump(sweep))
    try:
        monkeypatch.delenv("SEQSWEEP_DB_URL", raising=False)
        with pytest.raises(
            ConfigError, match=r"password is never stored .*pass --db URL or set \$SEQSWEEP_DB_URL"
        ):
            predict_from_db(bundle, None, ["AAAUSDT"])
        # a variable naming another database is not taken for the stored one (only its password may be)
        monkeypatch.setenv("SEQSWEEP_DB_URL", url)
        with pytest.raises(ConfigError, match=r"SEQSWEEP_DB_URL names another database \(sqlite:///"):
            predict_from_db(bundle, None, ["AAAUSDT"])
        assert predict_from_db(bundle, url, ["AAAUSDT"]).symbols[0].symbol == "AAAUSDT"  # --db, on purpose
    finally:
        copy.unlink()


def _bundle_json_list(folder: Path) -> None:
    (folder / "bundle.json").write_text("[]")


def _bundle_json_cut(folder: Path) -> None:
    (folder / "bundle.json").write_text("{")


def _no_framework(folder: Path) -> None:
    import json

    manifest = json.loads((folder / "bundle.json").read_text())
    del manifest["framework"]
    (folder / "bundle.json").write_text(json.dumps(manifest))


def _no_preprocessing(folder: Path) -> None:
    (folder / "preprocessing.npz").unlink()


def _cut_preprocessing(folder: Path) -> None:
    path = folder / "preprocessing.npz"
    path.write_bytes(path.read_bytes()[:200])


def _dataset_not_yaml(folder: Path) -> None:
    (folder / "dataset.yaml").write_text(": : :")


@pytest.mark.parametrize(
    ("damage", "part"),
    [
        (_bundle_json_list, "bundle.json"),
        (_bundle_json_cut, "bundle.json"),
        (_no_framework, "bundle.json"),
        (_no_preprocessing, "preprocessing"),
        (_cut_preprocessing, "preprocessing"),
        (_dataset_not_yaml, "dataset.yaml"),
    ],
    ids=lambda v: getattr(v, "__name__", v),
)
def test_a_damaged_bundle_is_one_line_naming_the_file(
    bundle: ModelBundle, tmp_path: Path, damage: object, part: str
) -> None:
    """Each of these ended as `unexpected error: ...` (exit 3): AttributeError, JSONDecodeError, KeyError,
    FileNotFoundError, BadZipFile, a YAML ParserError."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bundle.path, copy)
    damage(copy)  # type: ignore[operator]
    with pytest.raises(
        ConfigError, match=rf"the bundle's {part} is damaged or was edited .*export the bundle again"
    ):
        load_bundle(copy)


def test_a_bundle_that_does_not_record_its_database_asks_for_one(
    bundle: ModelBundle, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sweep that took its database from $SEQSWEEP_DB_URL exported `db: null`; `predict` in a new shell
    then read the generated sample database (same symbols and dates, other rows) and exited 0. `run`
    now records the database it read (`with_resolved_database`); an older bundle is refused."""
    import yaml

    from seqsweep.results import bundle_format as fmt
    from seqsweep.search_spaces.sweep import parse_sweep
    from seqsweep.tuning.runner import with_resolved_database

    monkeypatch.setenv("SEQSWEEP_DB_URL", url)
    spec = parse_sweep(
        {"name": "x", "model": "gru", "params": {"hidden_size": {"type": "choice", "values": [4, 8]}}}
    )
    assert spec.file.dataset.db is None and with_resolved_database(spec).file.dataset.db == url
    copy = bundle.path / fmt.SWEEP_YAML
    copy.write_text(yaml.safe_dump({"name": "x", "dataset": {"db": None, "join": "prices"}}))
    try:
        assert (
            predict_from_db(bundle, None, ["AAAUSDT"]).symbols[0].symbol == "AAAUSDT"
        )  # the variable is set
        monkeypatch.delenv("SEQSWEEP_DB_URL")
        with pytest.raises(
            ConfigError, match=r"does not say which database its model was trained on; pass --db"
        ):
            predict_from_db(bundle, None, ["AAAUSDT"])
    finally:
        copy.unlink()


@pytest.mark.parametrize("where", ["environment", "sweep file"])
def test_a_relative_sqlite_path_is_recorded_absolute(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`SEQSWEEP_DB_URL=sqlite:///gappy.db seqsweep run` recorded `sqlite:///gappy.db`: `predict` on the
    bundle then read whichever gappy.db was in its current folder (other rows, other probabilities)."""
    from seqsweep.db_url import absolute_sqlite
    from seqsweep.search_spaces.sweep import parse_sweep
    from seqsweep.tuning.runner import with_resolved_database

    monkeypatch.chdir(tmp_path)
    dataset: dict[str, object] = {"join": "prices"}
    if where == "environment":
        monkeypatch.setenv("SEQSWEEP_DB_URL", "sqlite:///gappy.db")
    else:
        dataset["db"] = "sqlite:///data/gappy.db"
    spec = parse_sweep(
        {
            "name": "x",
            "model": "gru",
            "dataset": dataset,
            "params": {"hidden_size": {"type": "choice", "values": [4, 8]}},
        }
    )
    recorded = with_resolved_database(spec).file.dataset.db
    expected = tmp_path / ("gappy.db" if where == "environment" else "data/gappy.db")
    assert recorded == f"sqlite:///{expected}"
    assert absolute_sqlite(recorded) == recorded  # already absolute: kept
    assert absolute_sqlite("mysql+pymysql://root@127.0.0.1:3306/x") == "mysql+pymysql://root@127.0.0.1:3306/x"
    assert absolute_sqlite("sqlite://") == "sqlite://"


def test_a_relative_dataset_csv_is_recorded_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`dataset: {join: ohlcv, csv: candles.csv}` was recorded as written: `predict` (and `resume`, and a
    `results` whose cache was gone) run from another folder read that folder's candles.csv, another series,
    without a word."""
    from seqsweep.search_spaces.sweep import parse_sweep
    from seqsweep.tuning.runner import with_resolved_database

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    raw = {"name": "x", "model": "gru", "params": {"hidden_size": {"type": "choice", "values": [4, 8]}}}
    for written, expected in [
        ("candles.csv", tmp_path / "candles.csv"),
        ("data/../candles.csv", tmp_path / "candles.csv"),
        ("~/candles.csv", tmp_path / "home" / "candles.csv"),
        (str(tmp_path / "abs.csv"), tmp_path / "abs.csv"),
    ]:
        spec = parse_sweep({**raw, "dataset": {"join": "ohlcv", "csv": written}})
        resolved = with_resolved_database(spec)
        assert resolved.file.dataset.csv == str(expected)
        assert resolved.file.dataset.db is None


def test_a_relative_embedding_model_folder_is_recorded_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dataset.embedding_model: ./minilm` was recorded as written: `resume`, or `predict` of a symbol new
    to the bundle, from another folder found no model there, or another model of that name."""
    from seqsweep.search_spaces.sweep import parse_sweep
    from seqsweep.tuning.runner import with_resolved_database

    monkeypatch.chdir(tmp_path)
    (tmp_path / "models" / "minilm").mkdir(parents=True)
    raw = {"name": "x", "model": "gru", "params": {"hidden_size": {"type": "choice", "values": [4, 8]}}}
    for written, expected in [
        ("./models/minilm", str(tmp_path / "models" / "minilm")),
        ("models/../models/minilm", str(tmp_path / "models" / "minilm")),
        ("all-MiniLM-L6-v2", "all-MiniLM-L6-v2"),  # the bundled model, by name
        ("no-such-folder", "no-such-folder"),  # left for the build to refuse, naming it as written
    ]:
        spec = parse_sweep({**raw, "dataset": {"join": "ohlcv", "csv": "c.csv", "embedding_model": written}})
        assert with_resolved_database(spec).file.dataset.embedding_model == expected


def test_rows_off_the_bundles_grid_are_refused_naming_its_spacing_not_the_sweep_key(
    bundle: ModelBundle, url: str, tmp_path: Path
) -> None:
    """An extra row at 22:30 among hourly rows was refused with "set dataset.frequency to the data's
    spacing": a sweep-file key that cannot change a trained model's grid."""
    edited = _edited(
        url,
        tmp_path,
        "INSERT INTO crypto_price (date, crypto_symbol, open, high, low, close, volume) "
        "SELECT '2024-01-10 22:30:00.000000', crypto_symbol, open, high, low, close, volume FROM crypto_price "
        "WHERE crypto_symbol = 'AAAUSDT' AND date LIKE '2024-01-10 22:00%'",
    )
    with pytest.raises(DataError) as info:
        predict_from_db(bundle, edited, ["AAAUSDT"])
    message = str(info.value)
    assert message.startswith("predict: AAAUSDT has two rows in the 1h step at 2024-01-10 22:00:00"), message
    assert message.endswith(
        "remove the extra rows; the bundle's model was trained on rows 1h apart: give it rows at that "
        "spacing, or export a model trained at theirs"
    ), message
    assert "dataset.frequency" not in message


def test_an_unknown_symbol_is_named_as_the_flag_that_asked_for_it(bundle: ModelBundle, url: str) -> None:
    """`predict --symbols ZRXUSDT` said "dataset.symbols: unknown symbol", a sweep-file key the user never
    wrote."""
    with pytest.raises(DataError, match=r"^--symbols: unknown symbol 'ZRXUSDT': not in table 'crypto_price'"):
        predict_from_db(bundle, url, ["ZRXUSDT"])


def test_predict_reads_only_the_models_columns(
    bundle: ModelBundle, url: str, folder: Path, tmp_path: Path, recorder: list[np.ndarray]
) -> None:
    """A text column added to the price table since training (`'listed on exchange X' is not a number`),
    or the column training excluded dropped since (`dataset.exclude_columns: 'volume' is not a column`),
    refused a valid bundle; the model reads its own columns only, by name."""
    predict_from_db(bundle, url, ["AAAUSDT"])
    added = _edited(
        url, tmp_path, "ALTER TABLE crypto_price ADD COLUMN note TEXT DEFAULT 'listed on exchange X'"
    )
    predict_from_db(bundle, added, ["AAAUSDT"])
    assert len(recorder) == 2 and np.array_equal(recorder[0], recorder[1])

    spec = dataclasses.replace(SPEC, exclude_columns=("volume",))
    excluding = load_bundle(
        crafted_bundle(
            build_dataset(spec, db_url=url, use_cache=False, in_process=True), folder / "excluding"
        )
    )
    predict_from_db(excluding, url, ["AAAUSDT"])
    dropped = _edited(url, tmp_path / "dropped", "ALTER TABLE crypto_price DROP COLUMN volume")
    predict_from_db(excluding, dropped, ["AAAUSDT"])
    assert np.array_equal(recorder[2], recorder[3])
    with pytest.raises(
        DataError, match=r"has no column 'volume' any more; the model reads open, high, low, close, volume"
    ):
        predict_from_db(bundle, dropped, ["AAAUSDT"])  # a column the model reads: refused, naming it


@pytest.mark.parametrize(
    ("column", "sql", "size"),  # size: "1/" for a column now smaller
    [
        ("volume", "UPDATE crypto_price SET volume = volume / 1000", "1/"),
        ("close", "UPDATE crypto_price SET close = close / 100", "1/"),
        ("open", "UPDATE crypto_price SET open = open / 100, high = high / 100, low = low / 100", "1/"),
    ],
)
def test_a_unit_change_the_scaled_check_misses_is_refused_by_the_columns_size(
    bundle: ModelBundle,
    url: str,
    tmp_path: Path,
    recorder: list[np.ndarray],
    column: str,
    sql: str,
    size: str,
) -> None:
    """x / k scales toward −mean / std (a floor), so only a column's size in its own units shows it."""
    with pytest.raises(DataError) as caught:
        predict_from_db(bundle, _edited(url, tmp_path, sql), ["AAAUSDT"])
    message = str(caught.value)
    assert "\n" not in message
    assert re.match(rf"{column} of AAAUSDT is {size}[0-9.e+]+ (of|times) its training size ", message), (
        message
    )
    assert message.endswith("a unit changed? give the column in the units it was trained on")
    assert recorder == []


def test_a_bundle_without_recorded_sizes_still_predicts(
    bundle: ModelBundle, url: str, tmp_path: Path, folder: Path
) -> None:
    """A bundle exported before the sizes were recorded reads and predicts (without the size check)."""
    import shutil

    from seqsweep.results import bundle_format as fmt

    old = tmp_path / "old"
    shutil.copytree(bundle.path, old)
    with np.load(old / fmt.PREPROCESSING_NPZ) as arrays:
        kept = {name: arrays[name] for name in arrays.files if name != "raw_magnitude"}
    assert len(kept) < len(bundle.preprocessing.to_arrays(bundle.symbols))
    np.savez(old / fmt.PREPROCESSING_NPZ, **kept)
    (old / fmt.CHECKSUMS).unlink(missing_ok=True)
    assert fmt.read_preprocessing(old).raw_magnitude == {}
    monkey = dataclasses.replace(bundle, path=old, preprocessing=fmt.read_preprocessing(old))
    prediction = predict_from_db(monkey, url, ["AAAUSDT"])
    assert prediction.symbols[0].note == ""
    edited = _edited(url, tmp_path, "UPDATE crypto_price SET volume = volume / 1000")
    assert predict_from_db(monkey, edited, ["AAAUSDT"]).symbols[0].seen  # no check without sizes


def test_predict_prints_the_models_test_verdict_beside_its_probabilities(
    url: str, folder: Path, tmp_path: Path
) -> None:
    """A bundle whose model does not beat persistence on test says so above the probabilities (and in
    `--json`), in the sentence its model card and `results` print; one without metrics.json says nothing."""
    verdict = "does not beat persistence on test (−0.084, interval −0.131 to −0.040)"
    dataset = build_dataset(SPEC, db_url=url, cache_dir=folder / "cache", in_process=True)
    path = crafted_bundle(dataset, tmp_path / "bundle")
    fmt.write_json(path / fmt.METRICS_JSON, {"test": {"model": {"name": "crafted", "verdict": verdict}}})
    prediction = predict_from_db(load_bundle(path), url, ["AAAUSDT"])
    lines = prediction.describe().splitlines()
    assert lines[1] == f"verdict at export: the model {verdict}."
    assert json.loads(prediction.to_json())["test_verdict"] == verdict
    (path / fmt.METRICS_JSON).unlink()
    plain = predict_from_db(load_bundle(path), url, ["AAAUSDT"])
    assert "verdict" not in plain.describe() and json.loads(plain.to_json())["test_verdict"] is None
    fmt.write_json(path / fmt.METRICS_JSON, ["not", "a", "mapping"])
    with pytest.raises(ConfigError, match=r"metrics\.json is damaged or was edited"):
        predict_from_db(load_bundle(path), url, ["AAAUSDT"]).describe()
