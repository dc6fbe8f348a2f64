"""One process at a time per experiment: a second `run` (or `resume`) is refused at once and touches
nothing, and a study a racing start created without an owner yet is never taken by another start."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import optuna
import pytest

from seqsweep import cli
from seqsweep.errors import ConfigError
from seqsweep.search_spaces.sweep import load_sweep
from seqsweep.tuning.experiment_lock import experiment_lock, new_folder
from seqsweep.tuning.study_owner import OWNER_ATTR, claim_study


def test_the_lock_is_exclusive_names_its_holder_and_is_released(tmp_path: Path) -> None:
    assert new_folder(tmp_path / "exp") and not new_folder(tmp_path / "exp")
    with (
        experiment_lock(tmp_path / "exp"),
        pytest.raises(ConfigError, match=rf"being run by another seqsweep process \(pid {os.getpid()}\)"),
        experiment_lock(tmp_path / "exp"),
    ):
        pass
    with experiment_lock(tmp_path / "exp"):  # released when the block ended
        pass


def test_a_run_while_another_process_holds_the_experiment_touches_nothing(
    write_sweep: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two `run` of one sweep started together: the loser overwrote the winner's identity file (every
    later resume refused) or deleted the folder the winner was training in."""
    path = write_sweep(name="busy")
    experiment = Path(load_sweep(path).file.storage_path) / "busy"
    assert new_folder(experiment)
    with experiment_lock(experiment):  # as the first run holds it while it starts and trains
        (experiment / "marker").write_text("the first run's")
        assert cli.main(["run", str(path)]) == 2
        assert "is being run by another seqsweep process" in capsys.readouterr().err
        assert sorted(p.name for p in experiment.iterdir()) == [".seqsweep.lock", "marker"]


def test_a_study_created_by_a_racing_start_without_its_owner_yet_is_not_taken(
    write_sweep: Callable[..., Path], tmp_path: Path
) -> None:
    """Two starts with one name in a shared storage both took the study about one round in four: the
    other had created it and not yet written itself in as its owner."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    spec = load_sweep(write_sweep(name="raced", search={"storage": url}))
    optuna.create_study(study_name="raced", storage=url, direction="maximize")  # the other start, mid-claim
    with pytest.raises(ConfigError, match=r"study 'raced' .*\(a study no experiment owns\)"):
        claim_study(url, spec, "mine", tmp_path / "mine")
    assert OWNER_ATTR not in optuna.load_study(study_name="raced", storage=url).user_attrs
    claim_study(url, spec, "legacy", tmp_path / "legacy", unowned_is_ours=True)  # resume of an old experiment
    assert optuna.load_study(study_name="raced", storage=url).user_attrs[OWNER_ATTR] == "legacy"
    claim_study(url, spec, "legacy", tmp_path / "legacy")  # its own study: taken back


def test_a_signal_while_the_tuner_is_set_up_is_acted_on_after_it() -> None:
    """A Ctrl-C while `run` set up the tuner landed in a weakref callback, was printed as "Exception
    ignored" and dropped: the sweep ran to the end and exited 0. It is now held, then raised in plain code."""
    import signal
    import time

    from seqsweep._fs import signals_held

    reached = []
    # the handler a command runs under (an earlier test or Ray may have left another one in place)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), signals_held():
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)  # Python runs handlers between bytecodes: it would have raised here
            reached.append("the set-up went on to its end")
        assert reached == ["the set-up went on to its end"]
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    finally:
        signal.signal(signal.SIGINT, previous)
