"""Ratio 3: training throughput (windows/s) of each family per trial against the notebook's Keras code.

Same data (the real ETHUSDT join, read from the same SQLite file by both sides), same batch size (50,
the notebook's example call), same CPUs (TensorFlow / torch capped to 1 thread, a trial's share of
the 2 cores). Each run is a fresh process:

- seqsweep: `seqsweep.trainables.loop.train` with an in-memory reporter (the loop a Tune trial runs:
  shuffled batches gathered from the shared feature matrix, validation, metrics, a checkpoint per epoch).
  On a CPU its Keras LSTMs over the 24-step lookback are unrolled (`keras_networks.unroll_recurrence`:
  the same cell and masking, no while-loop; a trial of 4 epochs of 112 batches plans 448, above
  `UNROLL_MIN_BATCHES`), each training batch is one compiled step traced once per
  batch shape (`keras_common.CompiledTrainingStep`: `train_on_batch`'s steps without its per-batch
  Python work; its Adadelta update is TensorFlow's fused kernel, `keras_common.FusedAdadelta`), validation takes one
  forward pass per batch for both the loss and the probabilities (`keras_common.evaluation_step`), and a
  batch without a masked step runs the network's twin without its Masking (`keras_masking`); the
  network's math is unchanged;
- the notebook: `benchmarks.notebook_reference` (`model.fit` on materialised windows, validation each epoch).

Throughput of an epoch = training windows / wall time from one epoch's end to the next (training plus
validation on both sides, plus seqsweep's checkpoint). The first epoch (graph tracing) is left out; the
value is the median over the remaining epochs of every run (`ROUNDS` fresh processes a side at the
`full` scale, alternating, the order reversed each round). lstm and lstm_vae are compared with the notebook's own
version of the same network; gru (PyTorch, no notebook counterpart) with the notebook's base LSTM.
"""

from __future__ import annotations

import argparse
import itertools
import json
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.common import Context, Row, median, run_python, spread

BATCH_SIZE = 50
THREADS = 1
CELL_SIZE = 80
FAMILY_CONFIGS: dict[str, dict[str, Any]] = {
    "lstm": {"cell_size": CELL_SIZE, "dropout_rate_1": 0.3, "dropout_rate_2": 0.1},
    "lstm_vae": {"cell_size": CELL_SIZE, "dropout_rate_1": 0.3, "latent_divisor": 10, "kl_weight": 0.1},
    "gru": {"hidden_size": 64, "num_layers": 1, "patience": None},
}
"""The notebook's example calls: cell 80, dropouts 0.3 / 0.1, VAE latent divisor 10; GRU-ow's defaults."""
GOALS = {"lstm": 1.5, "lstm_vae": 1.5, "gru": 1.0}
"""Throughput goal per family over its notebook counterpart (issue 15: the Keras families ≥ 1.5×)."""
NOTEBOOK_MODEL = {"lstm": "lstm", "lstm_vae": "lstm_vae", "gru": "lstm"}
"""Which notebook network each family is compared with."""
ROUNDS = {"small": 1, "full": 2}
"""Runs a side per `--scale` (fresh processes, alternating); the ratio is of the medians over all their epochs."""


def dataset_spec(max_rows: int | None) -> Any:
    from seqsweep.data import DatasetSpec

    return DatasetSpec(
        join="notebook",
        symbols=("ETHUSDT",),
        targets=("lending_rate", "borrowing_rate"),
        lookback=24,
        horizon=3,
        max_rows_per_symbol=max_rows,
    )


class TimingReporter:
    """A `Reporter` that notes the wall clock at every epoch's report (checkpoints are not kept)."""

    trial_id = "throughput"

    def __init__(self) -> None:
        self.times: list[float] = []
        self.reports: list[dict[str, Any]] = []

    def restored_checkpoint(self) -> None:
        return None

    def report(self, metrics: Any, checkpoint_dir: Path | None) -> None:
        self.times.append(time.perf_counter())
        self.reports.append(dict(metrics))


def train_family(
    family: str,
    db_url: str,
    cache_dir: str,
    max_rows: int | None,
    epochs: int,
    threads: int,
    gpu_fraction: float,
) -> dict[str, Any]:
    """One trial of `family`, outside Ray, on the cached bundle (`gpu_fraction` of one GPU, 0 = CPU, as
    `resources.gpu`); epoch end times from its start."""
    from seqsweep.data import build_dataset
    from seqsweep.trainables.base import DeviceSettings, TrialSettings
    from seqsweep.trainables.loop import train

    bundle = build_dataset(dataset_spec(max_rows), db_url=db_url, cache_dir=cache_dir)
    reporter = TimingReporter()
    config = {**FAMILY_CONFIGS[family], "epochs": epochs, "batch_size": BATCH_SIZE}
    started = time.perf_counter()
    train(
        config,
        bundle,
        TrialSettings(model=family, seed=0),
        reporter,
        DeviceSettings(cpus=threads, gpu_fraction=gpu_fraction),
    )
    return {
        "family": family,
        "epoch_end_times": [t - started for t in reporter.times],
        "train_windows": len(bundle.splits["train"]),
        "val_macro_f1": [r.get("val_macro_f1") for r in reporter.reports],
    }


def epoch_throughputs(result: dict[str, Any]) -> list[float]:
    """Windows/s of every epoch after the first."""
    ends = result["epoch_end_times"]
    return [result["train_windows"] / (b - a) for a, b in itertools.pairwise(ends)]


def first_epoch(runs: list[dict[str, Any]]) -> str:
    """The runs' first-epoch seconds (tracing included), e.g. "17.0 s" or "16.6 / 16.8 s"."""
    return f"{spread([run['epoch_end_times'][0] for run in runs], '{:.1f}')} s"


def gpu_available() -> bool:
    """A GPU TensorFlow can use (the installed tensorflow-cpu never sees one; TF is imported only if a driver is there)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    except Exception:
        return False


def measure(ctx: Context) -> list[Row]:
    from seqsweep.data import build_dataset

    scale = ctx.scale
    url = ctx.real_db_url()
    cache = ctx.workdir / "throughput_cache"
    bundle = build_dataset(dataset_spec(scale.throughput_rows), db_url=url, cache_dir=cache)  # once, with Ray
    rows_text = "all 24,001" if scale.throughput_rows is None else f"latest {scale.throughput_rows:,}"
    data_args = ["--db", url, "--epochs", str(scale.throughput_epochs)]
    if scale.throughput_rows is not None:
        data_args += ["--max-rows-per-symbol", str(scale.throughput_rows)]
    common = [*data_args, "--threads", str(THREADS)]

    notebook: dict[str, list[dict[str, Any]]] = {name: [] for name in set(NOTEBOOK_MODEL.values())}
    family_runs: dict[str, list[dict[str, Any]]] = {name: [] for name in FAMILY_CONFIGS}
    # side by side: each notebook run next to the family it is compared with, the order reversed in every
    # other round, so a machine that drifts faster or slower during the row favours neither side
    order = [("notebook", "lstm"), ("family", "lstm"), ("notebook", "lstm_vae"), ("family", "lstm_vae")]
    for round_ in range(ROUNDS[scale.name]):
        for kind, name in [*(order if round_ % 2 == 0 else order[::-1]), ("family", "gru")]:
            out = ctx.workdir / f"throughput_{kind}_{name}_{round_}.json"
            if kind == "notebook":
                notebook[name].append(
                    run_python(
                        "benchmarks.notebook_reference",
                        [
                            *common,
                            "--model",
                            name,
                            "--batch-size",
                            str(BATCH_SIZE),
                            "--cell-size",
                            str(CELL_SIZE),
                        ],
                        out,
                    )[0]
                )
            else:
                family_runs[name].append(
                    run_python(
                        "benchmarks.throughput", [*common, "--family", name, "--cache", str(cache)], out
                    )
                )

    rows = []
    rounds = ROUNDS[scale.name]
    for key, family in zip(("3a", "3b", "3c"), FAMILY_CONFIGS, strict=True):
        ours = [value for run in family_runs[family] for value in epoch_throughputs(run)]
        ref_runs = notebook[NOTEBOOK_MODEL[family]]
        theirs = [value for run in ref_runs for value in epoch_throughputs(run)]
        ratio = median(ours) / median(theirs)
        nb_name = (
            "LSTM_base_model" if NOTEBOOK_MODEL[family] == "lstm" else "LSTM_autoencoder_rates_and_class"
        )
        rows.append(
            Row(
                key=key,
                measured=(
                    f"training throughput per trial, `{family}` vs the notebook's `{nb_name}` "
                    f"(use_cudnn=False), CPU, {THREADS} thread each, batch {BATCH_SIZE}, real ETHUSDT join "
                    f"({rows_text} rows: {family_runs[family][0]['train_windows']:,} vs "
                    f"{ref_runs[0]['train_windows']:,} train windows), {rounds} run(s) a side alternating, "
                    f"median over the runs' epochs 2–{scale.throughput_epochs} (windows/s per epoch: ours "
                    f"{spread(ours, '{:.0f}')}, notebook {spread(theirs, '{:.0f}')}). Left out of the ratio: "
                    f"the first epoch, graph tracing included, took ours {first_epoch(family_runs[family])} "
                    f"(from the trial's start), the notebook {first_epoch(ref_runs)} (from `fit`'s start); the "
                    f"notebook also spent {median([r['prepare_s'] for r in ref_runs]):.1f} s rebuilding its "
                    f"inputs for the config"
                ),
                value=f"{ratio:.2f}× ({median(ours):.0f} vs {median(theirs):.0f} windows/s)",
                goal=f"≥ {GOALS[family]:.1f}×",
                met=ratio >= GOALS[family],
                command=ctx.command("throughput"),
            )
        )
    del bundle
    rows.append(gpu_row(ctx, data_args, cache))
    rows.append(gpu_sharing_row(ctx, data_args, cache))
    return rows


def no_gpu() -> str:
    """What a GPU row says where it cannot be measured, with the reason and the day (UTC) it was run."""
    today = time.strftime("%Y-%m-%d", time.gmtime())
    return f"not measured (no GPU on this machine; no device machine was lent to the session of {today})"


def gpu_row(ctx: Context, data_args: list[str], cache: Path) -> Row:
    """On a GPU: the `lstm` family (fused cuDNN kernel where the mask allows) vs the notebook's use_cudnn=False."""
    measured = "GPU: `lstm` (Keras picks the fused cuDNN kernel) vs the notebook's `LSTM_base_model` (use_cudnn=False)"
    if not gpu_available():
        return Row("3d", measured, no_gpu(), "≥ 5×", None, ctx.command("throughput"))
    gpu_args = [*data_args, "--threads", "2"]  # the whole machine, as on a GPU box
    ours = epoch_throughputs(
        run_python(
            "benchmarks.throughput",
            [*gpu_args, "--family", "lstm", "--cache", str(cache), "--gpu"],
            ctx.workdir / "throughput_gpu_lstm.json",
        )
    )
    theirs = epoch_throughputs(
        run_python(
            "benchmarks.notebook_reference",
            [*gpu_args, "--model", "lstm", "--batch-size", str(BATCH_SIZE), "--cell-size", str(CELL_SIZE)],
            ctx.workdir / "throughput_gpu_notebook.json",
        )[0]
    )
    ratio = median(ours) / median(theirs)
    return Row(
        "3d",
        f"{measured}, batch {BATCH_SIZE}; windows/s per epoch: ours {spread(ours, '{:.0f}')}, notebook "
        f"{spread(theirs, '{:.0f}')}",
        f"{ratio:.2f}× ({median(ours):.0f} vs {median(theirs):.0f} windows/s)",
        "≥ 5×",
        ratio >= 5.0,
        ctx.command("throughput"),
    )


def gpu_sharing_row(ctx: Context, data_args: list[str], cache: Path) -> Row:
    """On a GPU: two `lstm` trials at `resources.gpu: 0.5` each, side by side, vs one trial with the whole
    GPU; the value is their summed windows/s over the lone trial's (both must finish under the memory cap)."""
    measured = (
        "GPU sharing: two `lstm` trials at `gpu: 0.5` at once (memory capped at half each) vs one alone"
    )
    if not gpu_available():
        return Row("3e", measured, no_gpu(), "both finish, ≥ 1.0× together", None, ctx.command("throughput"))
    from concurrent.futures import ThreadPoolExecutor

    args = [*data_args, "--family", "lstm", "--cache", str(cache)]
    alone = median(
        epoch_throughputs(
            run_python("benchmarks.throughput", [*args, "--gpu"], ctx.workdir / "throughput_gpu_alone.json")
        )
    )
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda i: run_python(
                    "benchmarks.throughput",
                    [*args, "--gpu-fraction", "0.5"],
                    ctx.workdir / f"throughput_gpu_half_{i}.json",
                ),
                range(2),
            )
        )
    shared = [median(epoch_throughputs(run)) for run in runs]
    ratio = sum(shared) / alone
    return Row(
        "3e",
        f"{measured}, batch {BATCH_SIZE}; windows/s: halves {shared[0]:.0f} + {shared[1]:.0f}, alone {alone:.0f}",
        f"{ratio:.2f}× ({sum(shared):.0f} vs {alone:.0f} windows/s)",
        "both finish, ≥ 1.0× together",
        ratio >= 1.0,
        ctx.command("throughput"),
    )


def main(argv: list[str] | None = None) -> int:
    """Worker: one family's trial in this process (the runner starts it with `python -m benchmarks.throughput`)."""
    parser = argparse.ArgumentParser(description="one throughput run of a seqsweep family (worker)")
    parser.add_argument("--family", required=True, choices=tuple(FAMILY_CONFIGS))
    parser.add_argument("--db", required=True)
    parser.add_argument("--cache", required=True)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--threads", type=int, default=THREADS)
    parser.add_argument("--gpu", action="store_true", help="train on the GPU (a whole one)")
    parser.add_argument("--gpu-fraction", type=float, default=None, help="train on this share of one GPU")
    parser.add_argument("--max-rows-per-symbol", type=int, default=None)
    parser.add_argument("--json", type=Path, required=True)
    args = parser.parse_args(argv)
    fraction = args.gpu_fraction if args.gpu_fraction is not None else (1.0 if args.gpu else 0.0)
    result = train_family(
        args.family, args.db, args.cache, args.max_rows_per_symbol, args.epochs, args.threads, fraction
    )
    args.json.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
