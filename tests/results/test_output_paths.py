"""Where `export` and `results` write: never over the experiment itself, never over what is not theirs,
and an unwritable `--out` is one line (exit 2) before any scoring, not an unexpected error after it."""

from __future__ import annotations

import errno
import os
import re
import signal
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from seqsweep import cli
from seqsweep._fs import move_into_place, writable_folder
from seqsweep.errors import ConfigError
from seqsweep.results import bundle_format as fmt
from seqsweep.results.export import check_replaceable


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    """runs/demo (an experiment with a trial folder) beside runs/datasets."""
    (tmp_path / "runs" / "demo" / "train_trial_0").mkdir(parents=True)
    (tmp_path / "runs" / "datasets").mkdir()
    return tmp_path / "runs"


@pytest.mark.parametrize("out", ["demo", "."], ids=["the experiment", "its storage path"])
def test_force_never_replaces_the_experiment_being_exported(storage: Path, out: str) -> None:
    """`export runs/demo --out runs/demo --force` deleted every trial and checkpoint of runs/demo."""
    with pytest.raises(
        ConfigError, match=r"holds the experiment .*demo being exported; choose a path outside"
    ):
        check_replaceable((storage / out).resolve(), storage / "demo", force=True)
    assert (storage / "demo" / "train_trial_0").is_dir()


def test_force_replaces_only_an_earlier_bundle_or_an_empty_folder(storage: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "notes").mkdir(parents=True)
    with pytest.raises(
        ConfigError, match=r"is not a seqsweep bundle \(no bundle.json\); --force replaces only"
    ):
        check_replaceable(home, storage / "demo", force=True)
    with pytest.raises(ConfigError, match="already exists; choose another path or pass --force"):
        check_replaceable(home, storage / "demo", force=False)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    check_replaceable(bundle, storage / "demo", force=True)  # empty: fine
    (bundle / fmt.MANIFEST).write_text("{}")
    check_replaceable(bundle, storage / "demo", force=True)  # an earlier bundle: fine
    check_replaceable(tmp_path / "new", storage / "demo", force=False)  # absent: fine


def test_an_out_that_cannot_be_a_folder_is_one_line(tmp_path: Path) -> None:
    file = tmp_path / "report.txt"
    file.write_text("mine")
    with pytest.raises(ConfigError, match=r"^--out .*report.txt: is a file; give a folder$"):
        writable_folder(file, "--out")
    with pytest.raises(ConfigError, match=r"^--out /proc/nope/rep: cannot write there"):
        writable_folder(Path("/proc/nope/rep"), "--out")
    made = writable_folder(tmp_path / "a" / "b", "--out")
    assert made.is_dir() and made.is_absolute() and list(made.iterdir()) == []


def test_exported_folders_take_the_umask_not_mkdtemps_0700(tmp_path: Path) -> None:
    from seqsweep._fs import with_umask_mode

    folder = tmp_path / "t"
    folder.mkdir(mode=0o700)
    mode = stat.S_IMODE(with_umask_mode(folder).stat().st_mode)
    plain = tmp_path / "plain"
    plain.mkdir()
    assert mode == stat.S_IMODE(plain.stat().st_mode)


def test_results_out_on_a_file_fails_before_scoring(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    file = tmp_path / "report.txt"
    file.write_text("mine")
    assert cli.main(["results", str(crafted_experiment), "--out", str(file)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "is a file; give a folder" in err
    assert file.read_text() == "mine"


@pytest.mark.parametrize("damage", ["model file deleted", "folder deleted"])
def test_a_damaged_checkpoint_is_one_line_naming_it(damage: str, tmp_path: Path) -> None:
    """A checkpoint whose model file was deleted by hand raised FileNotFoundError for `model.weights.h5`,
    a file it never had (exit 3); a deleted folder was blamed on checkpoints.keep."""
    import shutil

    from seqsweep.results.winner_outputs import load_trial_checkpoint
    from seqsweep.testing import example_configs, make_bundle
    from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, train
    from seqsweep.trainables.checkpoint import KERAS_MODEL_FILE

    reporter = InMemoryReporter(root=tmp_path / "run")
    train({**example_configs()["lstm"], "epochs": 1}, make_bundle(n_rows=300), TrialSettings(model="lstm"),
          reporter, DeviceSettings())  # fmt: skip
    checkpoint = Path(reporter.last_checkpoint)
    load_trial_checkpoint("t0", checkpoint)  # whole: loads
    if damage == "model file deleted":
        (checkpoint / KERAS_MODEL_FILE).unlink()
        match = (
            rf"trial t0: its checkpoint {checkpoint} cannot be loaded \(.*; it holds .*\): damaged or changed"
        )
    else:
        shutil.rmtree(checkpoint)
        match = rf"trial t0: its checkpoint {checkpoint} is gone \(deleted after the run\?\)"
    with pytest.raises(ConfigError, match=match):
        load_trial_checkpoint("t0", checkpoint)


USER_TORCH_MODEL = """
from torch import nn


def build(config, shape):
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(shape.lookback * shape.n_features, shape.horizon * shape.n_targets * 3),
        nn.Unflatten(1, (shape.horizon, shape.n_targets, 3)),
    )
"""


@pytest.mark.parametrize("model", ["gru", "cut_short_user:build"])
def test_a_cut_short_torch_checkpoint_is_one_line_naming_its_file(
    model: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A torch checkpoint's `model.pt` cut short (a full disk, a copy stopped half way) ended `export` and
    `results` with torch's RuntimeError and its sentences of advice as an unexpected error (exit 3); a user's
    torch model's was blamed on the user's model function ("fix the model function")."""
    from seqsweep.results.winner_outputs import load_trial_checkpoint
    from seqsweep.testing import example_configs, make_bundle
    from seqsweep.trainables import DeviceSettings, InMemoryReporter, TrialSettings, train
    from seqsweep.trainables.checkpoint import TORCH_STATE_FILE

    (tmp_path / "cut_short_user.py").write_text(USER_TORCH_MODEL)
    monkeypatch.syspath_prepend(str(tmp_path))
    config = example_configs()["gru"] if model == "gru" else {"learning_rate": 0.01}
    reporter = InMemoryReporter(root=tmp_path / "run")
    train({**config, "epochs": 1}, make_bundle(n_rows=300), TrialSettings(model=model), reporter,
          DeviceSettings())  # fmt: skip
    checkpoint = Path(reporter.last_checkpoint)
    load_trial_checkpoint("t0", checkpoint, family=model)  # whole: loads
    state = checkpoint / TORCH_STATE_FILE
    whole = state.read_bytes()
    for kept, error in (
        (
            100,
            "RuntimeError: PytorchStreamReader failed reading zip archive: failed finding central directory",
        ),
        (len(whole) // 2, r"OSError: \[Errno 22\] Invalid argument"),  # torch's zip reader, no file named
        (0, "EOFError"),
    ):
        state.write_bytes(whole[:kept])
        with pytest.raises(ConfigError) as caught:
            load_trial_checkpoint("t0", checkpoint, family=model)
        assert re.fullmatch(
            rf"trial t0: its checkpoint {re.escape(str(checkpoint))} cannot be loaded \(model.pt cannot be "
            rf"read, {error}; it holds model.json, model.pt, state.json\): damaged or changed after the run; "
            r"go on without it: `results --no-test` reads no checkpoint, `export --trial ID` exports another "
            r"trial",
            str(caught.value),
        ), str(caught.value)
    state.write_bytes(whole)
    info = checkpoint / "model.json"
    info.write_text(info.read_text()[:20])  # seqsweep's own file, never the user's function's fault
    with pytest.raises(ConfigError, match=r"cannot be loaded \(JSONDecodeError; it holds .*\): damaged"):
        load_trial_checkpoint("t0", checkpoint, family=model)


def test_a_training_functions_cut_short_marker_is_the_checkpoints_fault(tmp_path: Path) -> None:
    """A function trainable's `seqsweep_function.json` cut short was blamed on the user's function: "its
    model ... failed outside the trial ... fix the model function"."""
    from seqsweep.results.winner_outputs import load_trial_checkpoint
    from seqsweep.trainables.function import FUNCTION_MARKER

    checkpoint = tmp_path / "checkpoint_000001"
    checkpoint.mkdir()
    (checkpoint / FUNCTION_MARKER).write_text('{"trainable": "mypkg.fi')
    with pytest.raises(
        ConfigError,
        match=rf"^trial t0: its checkpoint {re.escape(str(checkpoint))} cannot be loaded \(JSONDecodeError; "
        rf"it holds {FUNCTION_MARKER}\): damaged or changed after the run",
    ):
        load_trial_checkpoint("t0", checkpoint, family="mypkg.fit:train")


def test_results_never_write_over_a_folder_of_other_files(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`results --out src` wrote index.html, leaderboard.csv and the plots over whatever was there."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text("my own page")
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(site)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err] and "holds other files (no winners.json of an earlier report)" in err
    assert (site / "index.html").read_text() == "my own page"
    report = tmp_path / "report"
    for _ in range(2):  # a new folder, then the same folder again: an earlier report is replaced
        assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(report)]) == 0
    assert (report / "winners.json").is_file()


def test_a_report_written_again_drops_the_figures_it_no_longer_draws(
    crafted_experiment: Path, tmp_path: Path
) -> None:
    """`results --out DIR` into an earlier report's folder kept that report's figures (a parameter's scatter
    it no longer draws, importances now absent) beside a page that does not show them; a user's files stay."""
    report = tmp_path / "report"
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(report)]) == 0
    drawn = {p.name for p in report.glob("*.png")}
    earlier = ["f1_vs_old_param.png", "param_importances.png"]
    for name in earlier:
        assert name not in drawn
        (report / name).write_bytes(b"an earlier report's figure")
    (report / "my_notes.png").write_bytes(b"mine")
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(report)]) == 0
    assert {p.name for p in report.glob("*.png")} == drawn | {"my_notes.png"}


def test_a_report_interrupted_half_way_leaves_the_earlier_one_whole(
    crafted_experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C (or a full disk) while the report was written left a new `leaderboard.csv` and
    `winners.json` beside the earlier page and plots, or without any page at all."""
    import seqsweep.results.pipeline as pipeline

    report = tmp_path / "report"
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(report)]) == 0
    before = {p.name: p.read_bytes() for p in report.iterdir()}

    def interrupted(*args: object, **kwargs: object) -> Path:
        raise KeyboardInterrupt  # the deterministic stand-in for Ctrl-C after the CSV, JSON and plots

    monkeypatch.setattr(pipeline, "write_report", interrupted)
    assert (
        cli.main(["results", str(crafted_experiment), "--no-test", "--top", "1", "--out", str(report)]) == 130
    )
    assert {p.name: p.read_bytes() for p in report.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging folder left beside it


def _swap_over_an_earlier_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, after_moving_aside: Callable[[], None]
) -> tuple[Path, Path]:
    """`export --force`'s last step: a finished bundle (`.bundle.new`) moved onto an earlier one (`bundle`,
    holding a file `earlier`), `after_moving_aside` called once the earlier bundle is moved aside, before
    the new one is moved in. Returns (the bundle's path, the finished bundle's); exceptions propagate."""
    bundle, new = tmp_path / "bundle", tmp_path / ".bundle.new"
    for folder, extra in ((bundle, "earlier"), (new, "model.keras")):
        folder.mkdir()
        (folder / fmt.MANIFEST).write_text("{}")
        (folder / extra).write_text(folder.name)
        fmt.write_checksums(folder)
    replace = os.replace

    def replace_then(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        replace(src, dst)
        if Path(dst).parent.name.startswith(".bundle.old."):
            after_moving_aside()

    monkeypatch.setattr(os, "replace", replace_then)
    try:
        move_into_place(new, bundle)
    finally:
        monkeypatch.setattr(os, "replace", replace)
    return bundle, new


@pytest.mark.usefixtures("command_signal_handlers")
@pytest.mark.parametrize(
    ("signum", "raised"),
    [(signal.SIGTERM, cli.Terminated), (signal.SIGINT, KeyboardInterrupt)],
    ids=["15", "2"],
)
def test_a_signal_during_the_bundle_swap_keeps_a_whole_bundle(
    signum: signal.Signals, raised: type[BaseException], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (or Ctrl-C) between `export --force`'s two moves left no bundle at all, the earlier one in a
    hidden `.bundle.old.*` folder beside it. The signal now acts after the swap (the command's handler:
    exit 143 / 130): the new bundle whole in place, nothing else left."""

    def signal_ourselves() -> None:
        os.kill(os.getpid(), signum)  # handled between two bytecodes, before this returns

    with cli.sigterm_unwinds(), pytest.raises(raised):
        _swap_over_an_earlier_bundle(tmp_path, monkeypatch, signal_ourselves)
    bundle = tmp_path / "bundle"
    assert [p.name for p in tmp_path.iterdir()] == ["bundle"]
    assert (bundle / "model.keras").is_file() and not (bundle / "earlier").exists()
    assert fmt.changed_file(bundle, listed=True) is None


def test_a_failed_bundle_swap_puts_the_earlier_bundle_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new bundle's move failing after the earlier one was moved aside left no bundle, the earlier one
    in a hidden `.bundle.old.*` folder; it is put back and the error raised (one line, exit 2)."""
    real_replace = os.replace

    def refuse_the_new_bundle(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(src).name == ".bundle.new":
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        real_replace(src, dst)

    def the_disk_fills() -> None:
        monkeypatch.setattr(os, "replace", refuse_the_new_bundle)

    with pytest.raises(OSError, match="No space left on device"):
        _swap_over_an_earlier_bundle(tmp_path, monkeypatch, the_disk_fills)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".bundle.new", "bundle"]  # export removes its own
    assert (tmp_path / "bundle" / "earlier").read_text() == "bundle"
    assert fmt.changed_file(tmp_path / "bundle", listed=True) is None


@pytest.mark.usefixtures("command_signal_handlers")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["15", "2"])
def test_a_signal_while_the_report_moves_in_leaves_one_whole_report(
    signum: signal.Signals, crafted_experiment: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (or Ctrl-C) once the report's files were written, while they were moved into the report
    folder one by one: the new `leaderboard.csv` stood beside the earlier page and `winners.json`. The
    signal now acts after the last move (exit 143 / 130): every file the run wrote is in place."""
    report = tmp_path / "report"
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(report)]) == 0
    moved: dict[str, bytes] = {}
    replace = os.replace

    def replace_then_signal(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).parent == report:
            moved[Path(dst).name] = Path(src).read_bytes()
            replace(src, dst)
            if len(moved) == 1:
                os.kill(os.getpid(), signum)  # handled between two bytecodes, before this returns
            return
        replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_signal)
    args = ["results", str(crafted_experiment), "--no-test", "--top", "1", "--out", str(report)]
    assert cli.main(args) == 128 + signum
    monkeypatch.setattr(os, "replace", replace)
    assert {"leaderboard.csv", "winners.json", "index.html"} <= moved.keys()
    assert {name: (report / name).read_bytes() for name in moved} == moved
    assert [p.name for p in tmp_path.iterdir()] == ["report"]  # no staging folder left beside it


def test_a_refused_report_leaves_no_folder_it_made(
    crafted_experiment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`results --out NEW` refused after it made NEW (the database changed since the run) left NEW
    behind, empty; a folder that was there before stays."""
    import seqsweep.results.pipeline as pipeline
    from seqsweep.errors import DataError

    def changed(*args: object, **kwargs: object) -> object:
        raise DataError("the database no longer gives the rows this experiment trained on")

    monkeypatch.setattr(pipeline, "load_dataset", changed)
    out = tmp_path / "new" / "nested" / "report"
    assert cli.main(["results", str(crafted_experiment), "--out", str(out)]) == 2
    assert "no longer gives the rows" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    kept = tmp_path / "mine"
    kept.mkdir()
    assert cli.main(["results", str(crafted_experiment), "--out", str(kept / "report")]) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["mine"] and list(kept.iterdir()) == []


def test_results_never_write_over_another_experiments_report(
    crafted_experiment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`results runs/expB --out runs/expA/report` replaced expA's report with expB's without a word."""
    import json

    other = tmp_path / "runs" / "expA"
    (other / "report").mkdir(parents=True)
    (other / "experiment_state-2026-01-01_00-00-00.json").write_text("{}")
    mine = {"experiment": str(other), "winners": []}
    (other / "report" / "winners.json").write_text(json.dumps(mine))
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "winners.json").write_text(json.dumps(mine))
    for out, why in (
        (other / "report", r"is inside another experiment, .*expA; give a folder of its own"),
        (other / "fresh", r"is inside another experiment, .*expA"),
        (shared, r"holds the report of another experiment, .*expA; give a new or empty folder"),
    ):
        assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == [err] and re.search(why, err), err
    assert json.loads((other / "report" / "winners.json").read_text()) == mine
    assert json.loads((shared / "winners.json").read_text()) == mine
    assert not (other / "fresh").exists()
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(tmp_path / "own")]) == 0
    assert cli.main(["results", str(crafted_experiment), "--no-test", "--out", str(tmp_path / "own")]) == 0


def test_a_storage_path_given_for_its_experiment_names_the_experiments_in_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`results runs` (or `resume runs`) said only "not an experiment directory"; it now names the
    experiments one level down."""
    from seqsweep.layout import TUNER_FILE

    for name in ("demo", "lstm_base"):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / TUNER_FILE).write_bytes(b"")
    (tmp_path / "runs" / "notes").mkdir()
    for command in ("results", "resume"):
        assert cli.main([command, str(tmp_path / "runs")]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert f"it holds the experiments demo, lstm_base: name one ({tmp_path / 'runs' / 'demo'})" in err
    assert cli.main(["results", str(tmp_path / "runs" / "notes")]) == 2
    assert "it holds" not in capsys.readouterr().err
