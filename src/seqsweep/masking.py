"""Missing cells carry MASK_VALUE; an observed value never does.

Every array the data plane hands a model or a metric (scaled features, moves, labels) marks a missing
cell with `MASK_VALUE` (-50, the notebook's), and everything downstream reads `== MASK_VALUE` as "not
observed": Keras' Masking layer, the masked losses, the metrics, the build's gap counts and `predict`'s
window check. A real value that lands exactly on -50 after scaling (a price 50 standard deviations below
the train mean, or a move of that size) would be taken for a gap and silently dropped from the loss and
the scores, so observed values are kept apart: one that rounds to MASK_VALUE in float32 is stored as the
next float32 towards zero (-49.999996, 4e-6 of a standard deviation away).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from seqsweep.constants import MASK_VALUE

OBSERVED_AT_MASK: Final = float(np.nextafter(np.float32(MASK_VALUE), np.float32(0.0)))
"""Where an observed float32 value equal to MASK_VALUE is stored instead (-49.999996)."""


def mask_missing(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """float32 copy of `values` with MASK_VALUE where a cell is missing, and nowhere else.

    `values` any shape, float; `missing` a boolean array broadcastable to it (default: `values` is
    NaN). An observed value that is MASK_VALUE in float32 becomes `OBSERVED_AT_MASK`.
    """
    out = np.asarray(values, dtype=np.float32).copy()
    gaps = np.isnan(out) if missing is None else np.broadcast_to(missing, out.shape)
    out[out == MASK_VALUE] = OBSERVED_AT_MASK
    out[gaps] = MASK_VALUE
    return out
