"""A training function that raises in ways Ray would mishandle, by `config["kind"]`: an exception whose
message quotes a database URL with its password (`password`), or whose cause does (`chained`), a
KeyboardInterrupt (`interrupt`), an exception whose `__str__` raises (`unprintable`). Each raises after
one report."""

from __future__ import annotations

from typing import Any

PASSWORD = "Tr1alSecret"
"""The password the `password` kind's message quotes; no output or file of the sweep may hold it."""


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you")


def train(config: dict[str, Any], data: Any, reporter: Any) -> None:
    import numpy as np

    n, shape = len(data.windows("valid")), data.shape
    probs = np.full((n, shape.horizon, shape.n_targets, 3), 1 / 3, dtype=np.float32)
    reporter.report({**data.validation_metrics(probs), "epoch": 1})
    kind = config["kind"]
    if kind == "password":
        raise ValueError(f"side table at postgresql://bob:{PASSWORD}@pg.example/x refused the read")
    if kind == "chained":
        try:
            raise ConnectionError(f"postgresql://bob:{PASSWORD}@pg.example/x: connection refused")
        except ConnectionError as exc:
            raise RuntimeError("side table unavailable") from exc
    if kind == "interrupt":
        raise KeyboardInterrupt
    raise Unprintable()
