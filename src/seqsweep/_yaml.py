"""Read user-written YAML (sweep files, dataset specs) strictly: a key written twice is refused.

PyYAML's `safe_load` keeps the last of two equal keys in a mapping without a word (YAML 1.2 says
keys must be unique, and PyYAML does not enforce it: yaml/pyyaml#41), so a sweep file with
`epochs: 20` and, further down the same section, `epochs: 2` would silently train 2. Files the
project writes itself are read with plain `yaml.safe_load`.

PyYAML also reads YAML 1.1, where a few plain scalars mean something else than in YAML 1.2 (the
version every other current parser reads; YAML 1.2 spec, section 10.3 "Core Schema"): `010` is 8
(octal), `1:30` is 90 (base 60), `yes`/`no`/`on`/`off` are booleans. A user who writes `epochs: 010`
or `symbols: [ON]` gets another value without a word, so those forms are refused with the line and
what to write instead.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice; `problem_mark` is the second occurrence."""


class _StrictLoader(yaml.SafeLoader):
    """`SafeLoader` that raises `DuplicateKeyError` on a repeated mapping key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Node] = {}
        merge: yaml.Node | None = None
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                if merge is not None:  # PyYAML would take each in turn, the later one's values winning
                    raise DuplicateKeyError(
                        None,
                        None,
                        f"the merge key '<<' is written twice (first at line {merge.start_mark.line + 1}); "
                        f"merge several mappings with one `<<: [*first, *second]`",
                        key_node.start_mark,
                    )
                merge = key_node
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                continue
            if first is not None:
                raise DuplicateKeyError(
                    None,
                    None,
                    f"key {key!r} is written twice (first at line {first.start_mark.line + 1})",
                    key_node.start_mark,
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = str(node.value)
        if _OCTAL_11.fullmatch(value):
            _ambiguous(
                node,
                "an octal number in YAML 1.1 and a decimal one in YAML 1.2",
                "write it without the leading 0",
            )
        if ":" in value:
            _ambiguous(node, *_BASE_60)
        return super().construct_yaml_int(node)  # type: ignore[no-untyped-call,no-any-return]

    def construct_yaml_float(self, node: yaml.ScalarNode) -> float:
        if ":" in str(node.value):
            _ambiguous(node, *_BASE_60)
        return super().construct_yaml_float(node)  # type: ignore[no-untyped-call,no-any-return]

    def construct_yaml_bool(self, node: yaml.ScalarNode) -> bool:
        if str(node.value).lower() not in ("true", "false"):
            _ambiguous(
                node, "a boolean in YAML 1.1 and text in YAML 1.2", "write true or false, or quote text"
            )
        return super().construct_yaml_bool(node)  # type: ignore[no-untyped-call,no-any-return]


_BASE_60 = ("a base-60 number in YAML 1.1 and text in YAML 1.2", "write the number itself, or quote text")
"""What `1:30` (an int) and `1:30.5` (a float) read as, and the fix: one message for both."""

_OCTAL_11 = re.compile(r"[-+]?0[0-7_]+")
"""PyYAML's YAML 1.1 octal form (`010`, `-017`); YAML 1.2 writes octal `0o10` and reads `010` as 10."""

_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _StrictLoader.construct_yaml_bool)


class AmbiguousScalarError(yaml.constructor.ConstructorError):
    """A plain scalar that YAML 1.1 (PyYAML) and YAML 1.2 read as different values; `problem_mark` is where."""


def _ambiguous(node: yaml.ScalarNode, reads_as: str, fix: str) -> None:
    raise AmbiguousScalarError(None, None, f"{node.value!r} is {reads_as}: {fix}", node.start_mark)


def load_strict(text: str) -> Any:
    """Parse one YAML document like `yaml.safe_load`, refusing a key repeated within a mapping.

    Raises `yaml.YAMLError` (a `DuplicateKeyError` for a repeated key, whose `problem_mark`
    gives the line of the second occurrence).
    """
    return yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass: no arbitrary objects


def describe_error(exc: yaml.YAMLError) -> str:
    """One line for a YAML error: the problem and its line, e.g. "key 'epochs' is written twice ... at line 9"."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or " ".join(str(exc).split())[:200]
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"{problem}{where}"


def read_yaml_file(path: Path, what: str) -> str:
    """The text of the YAML file at `path` (UTF-8); ConfigError (one line) naming the file when it cannot
    be read or is not UTF-8 (`what` says what to save it as, e.g. "the sweep file")."""
    from seqsweep.errors import ConfigError

    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}: {exc.object[exc.start : exc.start + 1]!r}); save "
            f"{what} as UTF-8 YAML"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror or exc})") from None
