"""Wording shared by the messages seqsweep prints."""

from __future__ import annotations

MINUS = "\u2212"
"""The minus sign of every signed number seqsweep writes (`signed`): U+2212, as typeset, never `-`."""
CELL_DIGITS = 4
"""Decimals of a number in a table cell (`results`' tables, the report's, the model card's), signed or not."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun` in agreement: "1 trial", "2 trials", "0 trials"; `plural` for a noun whose plural
    is not `noun` + "s" ("1 parameter searched" stays the caller's to word)."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"


def signed(value: float, digits: int = 3) -> str:
    """`value` with its sign always written: `+0.031`, `−0.021` (`MINUS`, a true minus sign), `+0.000` for
    zero, to `digits` decimals. The one writer of a signed number (a difference, an interval bound, a
    skill) in the console, the report, the model card and `--json`'s sentences, so each prints a value
    alike. A value that is not zero but rounds to zero keeps its sign with the digits it takes
    (`−0.0004`; `+2e-08` past 6 places): an interval bound just under 0 read `+0.000` beside "the whole
    interval is under 0", one just above it beside "beats"."""
    text = f"{abs(value):.{digits}f}"
    while value != 0 and float(text) == 0 and digits < 6:
        digits += 1
        text = f"{abs(value):.{digits}f}"
    if value != 0 and float(text) == 0:
        text = f"{abs(value):.0e}"
    return f"{MINUS}{text}" if value < 0 else f"+{text}"
