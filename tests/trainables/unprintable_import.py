"""A user module whose import raises an exception that cannot be printed (its `__str__` raises)."""

from __future__ import annotations


class Unprintable(Exception):
    def __str__(self) -> str:
        raise ValueError("x")


raise Unprintable()
