"""Make the test-only user families in `helpers/` importable by the driver and by Ray's workers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HELPERS = Path(__file__).parent / "helpers"
# Trials run in Ray worker processes, which inherit this environment when Ray starts.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HELPERS), os.environ.get("PYTHONPATH")]))
sys.path.insert(0, str(HELPERS))
