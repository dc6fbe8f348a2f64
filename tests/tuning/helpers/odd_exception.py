"""A user model whose builder raises an exception class that takes two arguments, not a message: Ray Tune
cannot copy such an error, and the trial's line must still show it (not Tune's TypeError about it)."""

from __future__ import annotations

from typing import Any


class ShapeProblem(Exception):
    def __init__(self, got: tuple[int, ...], want: tuple[int, ...]) -> None:
        super().__init__(f"got {got}, want {want}")


def build(config: dict[str, Any], shape: Any) -> Any:
    raise ShapeProblem((1, 2), (3, 4))
