"""What a dataset's cache key holds of the code that built it.

`seqsweep.__version__` alone did not tell two builds apart: it stays the same between commits, and a
dataset cached by code that featurised otherwise (before a new check, another mask value) was served by
code that would have refused or built it differently. The key therefore holds a digest of the code
itself: every module of `seqsweep.data` plus the top-level modules it builds with (`BUILD_MODULES`).

Each module counts by its syntax tree without its bare strings (docstrings, `ast.dump`), so comments, docstrings
and formatting do not change a key; any statement, constant or name does. Python's minor version may
dump a tree differently, so another Python also keys its own datasets.

The libraries that compute a dataset's values count too (`build_libraries`): another scikit-learn may
orient the embeddings' PCA otherwise, another pandas grid or resample otherwise, another torch or
transformers round the sentence embeddings otherwise; the same key must never name two datasets.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path
from typing import Final

BUILD_MODULES: Final = ("constants.py", "masking.py")
"""Top-level modules of the `seqsweep` package that the dataset build's values depend on, beside the
whole `seqsweep.data` package."""

BUILD_LIBRARIES: Final = (
    "numpy",
    "pandas",
    "scikit-learn",
    "sentence-transformers",
    "tokenizers",
    "torch",
    "transformers",
)
"""Distributions whose code computes a dataset's values (arrays, grids and calendars, PCA, the sentence
embeddings). The drivers are not among them: the rows' digest (`cache.rows_digest`) already covers the
values they read."""
NOT_INSTALLED: Final = "not installed"


@functools.lru_cache(maxsize=1)
def build_libraries() -> dict[str, str]:
    """Installed version of each `BUILD_LIBRARIES` distribution (`NOT_INSTALLED` for one that is not),
    read from the installation's metadata without importing it (about 1 ms each), once per process."""
    versions = {}
    for name in BUILD_LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = NOT_INSTALLED
    return versions


def library_change(recorded: object) -> tuple[str, str, str] | None:
    """The first library of `build_libraries` whose version differs from `recorded` (a {name: version}
    mapping written when a dataset was built) as (name, recorded version, installed version); None when
    they agree or nothing usable was recorded."""
    if not isinstance(recorded, dict):
        return None
    installed = build_libraries()
    for name in BUILD_LIBRARIES:
        was = recorded.get(name)
        if isinstance(was, str) and was != installed[name]:
            return name, was, installed[name]
    return None


def build_code_files() -> list[Path]:
    """The source files whose code builds a dataset: every `seqsweep/data/*.py` and `BUILD_MODULES`,
    sorted by their path inside the package."""
    package = Path(__file__).resolve().parents[1]  # .../seqsweep
    files = sorted(Path(__file__).resolve().parent.glob("*.py"))
    return sorted([*files, *(package / name for name in BUILD_MODULES)], key=lambda p: p.relative_to(package))


@functools.lru_cache(maxsize=1)
def build_code_digest() -> str:
    """16 hex digits naming this installation's dataset-building code (`code_digest` of
    `build_code_files`), computed once per process (about 50 ms)."""
    files = build_code_files()
    package = Path(__file__).resolve().parents[1]
    return code_digest(
        (path.relative_to(package).as_posix(), path.read_text(encoding="utf-8")) for path in files
    )


def code_digest(sources: Iterable[tuple[str, str]]) -> str:
    """16 hex digits of a SHA-256 over (name, syntax tree without docstrings) of each (name, source text).

    Raises SyntaxError for a source that is not Python."""
    digest = hashlib.sha256()
    for name, text in sources:
        tree = _without_docstrings(ast.parse(text, filename=name))
        digest.update(f"{name}\0{ast.dump(tree, include_attributes=False)}\0".encode())
    return digest.hexdigest()[:16]


class _DropStrings(ast.NodeTransformer):
    """Removes every statement that is a bare string (docstrings of modules, classes, functions and
    attributes): it has no effect on what the code computes."""

    def visit_Expr(self, node: ast.Expr) -> ast.Expr | None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return None
        return node


def _without_docstrings(tree: ast.Module) -> ast.AST:
    """`tree` without its bare string statements (`_DropStrings`)."""
    return _DropStrings().visit(tree)
