"""An errored trial's line shows the trial's own exception, whatever its class's constructor takes."""

from __future__ import annotations

from pathlib import Path

import pytest

from seqsweep import cli
from seqsweep.testing.sweeps import no_retry_sweep_file
from seqsweep.trainables.tune_reporter import _as_text, _ray_can_carry


class TwoArguments(Exception):
    def __init__(self, got: int, want: int) -> None:
        super().__init__(f"got {got}, want {want}")


def test_an_exception_ray_cannot_copy_becomes_text_ending_in_its_own_line() -> None:
    assert _ray_can_carry(ValueError("plain"))
    try:
        raise TwoArguments(1, 2)
    except TwoArguments as exc:
        assert not _ray_can_carry(exc)
        text = _as_text(exc)
    assert text.startswith("Traceback (most recent call last):")
    assert "raise TwoArguments(1, 2)" in text  # the frames travel to error.txt
    assert text.splitlines()[-1] == f"{__name__}.TwoArguments: got 1, want 2"


@pytest.mark.slow
def test_a_user_model_raising_an_uncopyable_error_prints_that_error(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = no_retry_sweep_file(
        tmp_path,
        "odd_exception",
        sample_db_url,
        {"model": "odd_exception:build"},
        {"units": {"type": "choice", "values": [4, 8]}, "epochs": 1},
        {"algorithm": "random", "num_samples": 1},
    )
    assert cli.main(["run", str(path)]) == 1
    [line] = [line for line in capsys.readouterr().out.splitlines() if " errored: " in line]
    assert "odd_exception.ShapeProblem: got (1, 2), want (3, 4)" in line
    assert "TypeError" not in line


MESSAGE = "units=4 is not supported by this model\n  hint: give units 8 or more\n  see the docs"


def test_an_error_of_several_lines_is_one_line_that_starts_with_its_first(ray_cluster: object) -> None:
    """`run` and `results` gave such an error's last line only ("see the docs"): its type and the line
    naming the problem were lost."""
    import ray

    from seqsweep.errors import error_line

    def raise_a_message_of_three_lines() -> None:  # defined here: Ray ships it by value
        raise RuntimeError(MESSAGE)

    expected = "RuntimeError: units=4 is not supported by this model hint: give units 8 or more see the docs"
    with pytest.raises(Exception) as caught:  # Ray's RayTaskError(RuntimeError), the exception travelled
        ray.get(ray.remote(raise_a_message_of_three_lines).remote())
    assert error_line(caught.value) == expected
    carried_as_text = Exception(str(caught.value))  # only the text travelled: traceback, then the error
    assert "Traceback" in str(carried_as_text) or 'File "' in str(carried_as_text)
    assert error_line(carried_as_text) == expected
    assert error_line(ValueError("plain")) == "ValueError: plain"


def test_a_message_quoting_a_trace_keeps_its_type_and_first_line() -> None:
    """TensorFlow's "Graph execution error ... defined at: File ..." shape: the `File "` line inside the
    trial's own message was taken for a traceback frame, and the line gave "hint: use units >= 8" only."""
    from seqsweep.errors import error_line

    message = 'units=4 is not supported\nwhile tracing:\n  File "layers.py", line 12, in call\n    y = f(x)\nhint: 8'
    line = error_line(ValueError(message))
    assert line.startswith("ValueError: units=4 is not supported while tracing: File")
    assert line.endswith("hint: 8")


def test_an_error_line_hides_passwords_and_is_cut_to_a_bounded_length() -> None:
    """A user model's exception quoting a DSN printed the password in `run`'s line, `results` and the
    report; a 200,000-character message was printed whole."""
    from seqsweep.errors import ERROR_LINE_LENGTH, error_line

    line = error_line(
        RuntimeError("side data failed; DSN=postgresql://bob:Fwd5ecret@pg/x password=Fwd5ecret")
    )
    assert "Fwd5ecret" not in line and "postgresql://bob:***@pg/x" in line
    long = error_line(ValueError("x" * 200_000))
    assert len(long) == ERROR_LINE_LENGTH and long.startswith("ValueError: xxx") and long.endswith("…")


@pytest.mark.slow
def test_a_trial_error_keeps_its_own_exception_and_hides_passwords_in_error_files(
    ray_cluster: object, sample_db_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A trial's KeyboardInterrupt reached the sweep as Ray's `TaskCancelledError: Task: TaskID(...) was
    cancelled`; an exception whose `__str__` raised as that `RuntimeError`; and an exception quoting a
    database URL, or whose cause did, kept its password in the trial's error.txt and error.pkl (the printed
    line hid it)."""
    from raising_function import PASSWORD

    path = no_retry_sweep_file(
        tmp_path,
        "raising",
        sample_db_url,
        {"trainable": "raising_function:train"},
        {"kind": {"type": "choice", "values": ["password", "chained", "interrupt", "unprintable"]}},
        {"algorithm": "grid", "num_samples": 4, "max_concurrent": 2},
    )
    assert cli.main(["run", str(path)]) == 1
    captured = capsys.readouterr()
    lines = sorted(line for line in captured.out.splitlines() if " errored: " in line)
    assert len(lines) == 4, captured.out
    assert any("RuntimeError: side table unavailable" in line for line in lines), lines
    assert any("KeyboardInterrupt during training" in line for line in lines), lines
    assert any("raising_function.Unprintable: <its str() raised RuntimeError>" in line for line in lines)
    assert any("postgresql://bob:***@pg.example/x refused the read" in line for line in lines), lines
    assert not any("TaskCancelledError" in line for line in lines), lines
    experiment = tmp_path / "runs" / "raising"
    for file in experiment.rglob("*"):
        if file.is_file():
            assert PASSWORD.encode() not in file.read_bytes(), file
    assert PASSWORD not in captured.out + captured.err


def test_an_exception_that_cannot_be_printed_still_gives_its_type() -> None:
    """`error_line` raised the `__str__`'s own error (a user's exception class quoted by a trial or a task)."""
    from raising_function import Unprintable

    from seqsweep.errors import error_line

    assert error_line(Unprintable()) == "Unprintable: <its str() raised RuntimeError>"


def test_a_worker_that_died_is_one_sentence_naming_its_pid_and_what_ends_a_worker() -> None:
    """An `os._exit()` in a user's model (or the OOM killer) printed Ray's text: actor id, namespace, ip,
    then Ray's paragraph of causes, cut at 500 characters in the middle of a word."""
    from ray.core.generated.common_pb2 import ActorDiedErrorContext
    from ray.exceptions import ActorDiedError

    from seqsweep.errors import error_line

    context = ActorDiedErrorContext(
        class_name="ImplicitFunc",
        actor_id=bytes(16),
        pid=5354,
        ray_namespace="21012131-9cec-4daf-94a9-a43f3b946b81",
        node_ip_address="192.0.2.2",
        error_message=(
            "The actor is dead because its worker process has died. Worker exit type: SYSTEM_ERROR Worker "
            "exit detail: Worker unexpectedly exits with a connection error code 2. End of file. Some common "
            "causes include: (1) the process was killed by the OOM killer due to high memory usage, (2) ray "
            "stop --force was called, or (3) the worker crashed unexpectedly due to SIGSEGV."
        ),
    )
    assert error_line(ActorDiedError(context)) == (
        "ActorDiedError: its worker process (pid 5354) died (Worker unexpectedly exits with a connection "
        "error code 2. End of file): killed by the OOM killer (give each trial more memory or run fewer at "
        "once), a crash in native code, or an os._exit() in the trial's code"
    )
    # another death (an actor killed by hand, a failed constructor) keeps Ray's words
    assert error_line(ActorDiedError()) == (
        "ActorDiedError: The actor died unexpectedly before finishing this task."
    )
