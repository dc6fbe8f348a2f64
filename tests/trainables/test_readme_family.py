"""The README's "Adding a built-in family" example is real: its module, registered with its one line,
passes the whole trainable contract through `seqsweep.testing.check_family`, and its hyperparameter table
refuses a bad value in the sweep file's terms."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seqsweep.errors import ConfigError
from seqsweep.testing import check_family
from seqsweep.trainables import registry

README = Path(__file__).resolve().parents[2] / "README.md"
MODULE_HEADER = "# src/seqsweep/trainables/mlp.py"
REGISTRY_LINE = re.compile(r'^#\s+"(\w+)": "seqsweep\.trainables\.mlp:(\w+)",$', re.MULTILINE)


def readme_family_block() -> str:
    """The python block of the README that starts with the family module's path comment."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    found = [block for block in blocks if block.startswith(MODULE_HEADER)]
    assert len(found) == 1, f"the README should hold one python block starting with {MODULE_HEADER!r}"
    return found[0]


@pytest.fixture
def readme_family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The README's family written as a module and registered under the name its registry line gives."""
    block = readme_family_block()
    line = REGISTRY_LINE.search(block)
    assert line is not None, "the README's example should show its registry line"
    name, class_name = line.groups()
    (tmp_path / "readme_mlp.py").write_text(block)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(registry.FAMILIES, name, f"readme_mlp:{class_name}")  # type: ignore[index]
    return name


def test_the_readme_family_passes_the_contract(readme_family: str) -> None:
    check_family(readme_family)


def test_the_readme_family_refuses_a_bad_value_by_its_table(readme_family: str) -> None:
    family = registry.resolve_family(readme_family)
    with pytest.raises(ConfigError, match=r"^params\.units: must be an integer >= 1, got 0 \(family mlp\)$"):
        family.validate_config({"units": 0})


def test_the_readme_user_model_without_its_config_names_the_key_it_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`check_family('mypkg.models:build')` (the README's call) ended in a raw `KeyError: 'units'`."""
    blocks = re.findall(r"^```python\n(.*?)^```", README.read_text(), re.MULTILINE | re.DOTALL)
    found = [block for block in blocks if block.startswith("# mypkg/models.py")]
    assert len(found) == 1, "the README should hold one python block starting with '# mypkg/models.py'"
    (tmp_path / "mypkg").mkdir()
    (tmp_path / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "mypkg" / "models.py").write_text(found[0])
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(AssertionError, match=r"reads config key 'units', which the config does not give"):
        check_family("mypkg.models:build")
