"""What the report's sentences say on crafted numbers: signs that rounding would hide, symbols and cells
level with persistence, a test lead that validation did not show, and a #1 that trails #2 in its reruns.

No sweep runs here: every input is built in the test, its answer known."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from seqsweep._text import MINUS
from seqsweep.baselines import baseline_predictions
from seqsweep.results.bootstrap import Interval, settings_for, signed, verdict
from seqsweep.results.evaluate import (
    PERSISTENCE,
    TEST_SPLIT,
    VALID_SPLIT,
    Evaluations,
    ScoreSet,
    evaluate_split,
    score_set,
    with_valid_scores,
)
from seqsweep.results.export import _verdict_paragraph
from seqsweep.results.report import _table
from seqsweep.results.reseed import ReseedOutcome, SeedRow
from seqsweep.results.score_tables import cell_line, symbol_breadth
from seqsweep.results.sections import _test_sections
from seqsweep.results.winner_outputs import WinnerOutput
from seqsweep.testing.bundles import make_bundle

# --- signs kept through rounding ---------------------------------------------------------------------


def test_a_value_that_rounds_to_zero_keeps_its_sign() -> None:
    assert signed(0.0) == "+0.000" and signed(-0.0) == "+0.000"
    assert signed(-0.0004) == "−0.0004" and signed(0.00031) == "+0.0003"
    assert signed(-2e-9).startswith("−") and signed(-2e-9) != "−0.000000"
    assert signed(-0.0421) == "−0.042" and signed(0.0125) == "+0.013"


def test_an_interval_just_under_zero_is_not_printed_as_reaching_zero() -> None:
    """Before: "interval −0.086 to +0.000): it scores below it, the whole interval is under 0", and a
    winner that beats with a lower bound of 0.0003 read "(95 % interval +0.000 to +0.058)"."""
    below = verdict(Interval(-0.04, -0.086, -0.0004, blocks=20, block=24), PERSISTENCE)
    assert "interval −0.086 to −0.0004): it scores below it" in below
    beats = verdict(Interval(0.03, 0.0003, 0.058, blocks=20, block=24), PERSISTENCE)
    assert beats.startswith("beats persistence on test by +0.030 (95 % interval +0.0003 to +0.058)")


def test_the_model_card_and_the_report_write_a_signed_number_alike() -> None:
    """The card's interval list wrote `-0.0417` (ASCII hyphen, `:+.4f`) where the report's sentences wrote
    `−0.042` and its interval table `-0.0417`: one value, three spellings. Every signed number now comes
    from `signed` (U+2212), and a table cell and the card's list use the same digits."""
    bundle = make_bundle(n_rows=600, seed=2)
    outputs = {}
    for split in (VALID_SPLIT, TEST_SPLIT):  # a winner that is always wrong: below persistence
        labels = bundle.splits[split].labels
        outputs[split] = np.where(labels == -50, 1, (labels + 1) % 3).astype(np.int8)
    settings = settings_for(bundle, TEST_SPLIT, draws=50)
    test = evaluate_split(
        bundle, TEST_SPLIT, {"w": ("w", WinnerOutput(outputs[TEST_SPLIT]))}, intervals=settings
    )
    valid = evaluate_split(bundle, VALID_SPLIT, {"w": ("w", WinnerOutput(outputs[VALID_SPLIT]))})
    interval = test.winner("w").vs_baselines[PERSISTENCE]
    assert interval.delta < 0 and interval.low < 0  # the case whose sign was spelled two ways
    card = _verdict_paragraph(
        "w", {"model": test.winner("w").to_dict(), "baselines": [b.to_dict() for b in test.baselines]}
    )
    [line] = [x for x in card.splitlines() if x.startswith(f"- minus {PERSISTENCE}: ")]
    section = next(
        s
        for s in _test_sections(Evaluations(valid=valid, test=test), {"w": 1})
        if s.rows and "delta" in s.rows[0]
    )
    row = next(r for r in section.rows if r["baseline"] == PERSISTENCE)
    page = _table(section.rows)
    console = section.text()
    for key in ("delta", "ci95_low", "ci95_high"):
        cell = signed(row[key], 4)
        assert cell in line and f">{cell}<" in page and cell in console
    assert f"{MINUS}0." in line and "-0." not in card + page + console
    assert signed(interval.delta) in card and signed(interval.delta) in console  # the verdict sentence


# --- symbols and cells level with the baseline --------------------------------------------------------


def test_symbols_level_with_the_baseline_are_counted_not_left_out() -> None:
    """Before: "above on 1 of 3 symbols, below on 1": the third (level to 3 decimals) was in no count."""
    got = symbol_breadth(
        {"A": 0.30, "B": 0.25, "C": 0.2001}, PERSISTENCE, {"A": 0.28, "B": 0.30, "C": 0.2003}
    )
    assert (
        got
        == "scores above persistence on 1 of 3 symbols, below on 1, level on 1 (from B −0.050 to A +0.020)"
    )
    none_level = symbol_breadth({"A": 0.30, "B": 0.25}, PERSISTENCE, {"A": 0.28, "B": 0.30})
    assert none_level is not None and "level" not in none_level


def _one_cell_lead() -> tuple[ScoreSet, ScoreSet]:
    """A winner that knows the answer in one (target, step) cell and copies persistence in the others."""
    bundle = make_bundle(n_rows=600, seed=2)
    labels = bundle.splits[TEST_SPLIT].labels
    persistence = baseline_predictions(bundle, TEST_SPLIT)[PERSISTENCE]
    winner = persistence.copy()
    winner[:, 0, 0] = np.where(labels[:, 0, 0] == -50, 1, labels[:, 0, 0])
    targets = tuple(bundle.target_names)
    return (
        score_set("w", "winner", "one cell", labels, winner, targets),
        score_set(PERSISTENCE, "baseline", "p", labels, persistence, targets),
    )


def test_a_lead_won_in_one_cell_is_said_to_come_from_that_cell() -> None:
    winner, persistence = _one_cell_lead()
    assert winner.scores["macro_f1"] > persistence.scores["macro_f1"]
    first = f"{winner.by_step[0]['target']} +1"
    line = cell_line(winner, persistence, 1)
    assert line is not None
    assert line.startswith(
        "#1 w scores above persistence on 1 of 4 (target, step) cells, below on 0, level on 3"
    )
    assert f"to {first} +" in line


def test_the_test_cells_section_says_where_each_winners_lead_is() -> None:
    bundle = make_bundle(n_rows=600, seed=2)
    outputs = {}
    for split in (VALID_SPLIT, TEST_SPLIT):
        labels = bundle.splits[split].labels
        outputs[split] = np.where(labels == -50, 1, labels).astype(np.int8)  # knows every answer
    valid = evaluate_split(bundle, VALID_SPLIT, {"w": ("w", WinnerOutput(outputs[VALID_SPLIT]))})
    test = evaluate_split(bundle, TEST_SPLIT, {"w": ("w", WinnerOutput(outputs[TEST_SPLIT]))})
    sections = {s.key: s for s in _test_sections(Evaluations(valid=valid, test=test), {"w": 1})}
    assert sections["cells_test"].lines == [cell_line(test.winner("w"), test.baseline(PERSISTENCE), 1)]
    assert (
        sections["cells_test"].lines[0].startswith("#1 w scores above persistence on 4 of 4 (target, step)")
    )
    assert sections["cells_valid"].lines == []  # validation chose the winners: no breadth claimed there


# --- a test lead that validation did not show ---------------------------------------------------------


def _winner(valid: tuple[float, float] | None, low: float) -> ScoreSet:
    winner, _ = _one_cell_lead()
    interval = Interval(0.03, low, 0.05, blocks=20, block=24)
    return dataclasses.replace(winner, vs_baselines={PERSISTENCE: interval}, valid_vs_persistence=valid)


def test_a_winner_that_beats_persistence_on_test_only_is_told_so() -> None:
    told = _winner((0.3459, 0.3539), 0.01).verdict()
    assert told is not None and told.startswith("beats persistence on test by +0.030")
    assert told.endswith(
        "; yet on validation, where it was chosen, it scored below persistence (0.3459 vs 0.3539): its lead "
        "shows on test only, not in both periods"
    )
    for quiet in (_winner((0.36, 0.3539), 0.01), _winner((0.3459, 0.3539), -0.01), _winner(None, 0.01)):
        assert "on validation" not in str(quiet.verdict())


def test_the_validation_scores_come_from_the_same_winner_and_persistence() -> None:
    bundle = make_bundle(n_rows=600, seed=2)
    rng = np.random.default_rng(0)
    splits = {}
    for split in (VALID_SPLIT, TEST_SPLIT):
        guess = rng.integers(0, 3, size=bundle.splits[split].labels.shape).astype(np.int8)
        splits[split] = evaluate_split(bundle, split, {"w": ("w", WinnerOutput(guess))})
    tested = with_valid_scores(splits[TEST_SPLIT], splits[VALID_SPLIT])
    valid = splits[VALID_SPLIT]
    assert tested.winner("w").valid_vs_persistence == (
        valid.winner("w").scores["macro_f1"],
        valid.baseline(PERSISTENCE).scores["macro_f1"],
    )
    assert tested.winner("w").scores == splits[TEST_SPLIT].winner("w").scores


# --- reruns: #1 behind #2 ----------------------------------------------------------------------------


def _reseed(first: tuple[float, ...], second: tuple[float, ...], mode: str = "max") -> str:
    rows = (SeedRow("a", 1, 0.5, first, 0), SeedRow("b", 2, 0.49, second, 0))
    return ReseedOutcome("val_macro_f1", mode, len(first), rows, 0, Path("reseed")).conclusion()


def test_a_first_that_trails_the_second_by_more_than_the_seed_spread_is_not_called_noise() -> None:
    """Before: "#1 a leads #2 b by -0.1000 ..., not more than their seed spread: within training noise"."""
    got = _reseed((0.30, 0.31, 0.29), (0.40, 0.41, 0.39))
    assert got.startswith("#1 a trails #2 b by 0.1000 in mean val_macro_f1 over 3 new seeds each")
    assert "#1 ranked first by the luck of its seed" in got and "noise" not in got
    assert "within training noise" in _reseed((0.30, 0.35, 0.25), (0.31, 0.36, 0.26))
    assert "the lead is not seed noise" in _reseed((0.40, 0.41, 0.39), (0.30, 0.31, 0.29))
    # val_mse, mode min: a lower mean is the better one
    assert "trails #2 b" in _reseed((0.40, 0.41, 0.39), (0.30, 0.31, 0.29), mode="min")
    assert "trails #2 b by 0.1000 in mean val_macro_f1, but with fewer than 2" in _reseed((0.3,), (0.4,))


def test_the_model_card_says_where_the_lead_is_as_the_report_does() -> None:
    winner, persistence = _one_cell_lead()
    scored = dataclasses.replace(
        winner, vs_baselines={PERSISTENCE: Interval(0.03, 0.01, 0.05, blocks=20, block=24)}
    )
    card = _verdict_paragraph("w", {"model": scored.to_dict(), "baselines": [persistence.to_dict()]})
    line = cell_line(winner, persistence, 1)
    assert line is not None
    assert f"By (target, step) cell (no intervals), it {line.removeprefix('#1 w ')}" in card
