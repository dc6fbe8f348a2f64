"""Wording shared by the messages seqsweep prints."""

from __future__ import annotations


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`n` and `noun` in agreement: "1 trial", "2 trials", "0 trials"; `plural` for a noun whose plural
    is not `noun` + "s" ("1 parameter searched" stays the caller's to word)."""
    return f"{n} {noun if n == 1 else (plural or noun + 's')}"
