"""Worked examples shipped with the package (each used by a built-in sweep)."""
