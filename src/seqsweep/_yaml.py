"""Read user-written YAML (sweep files, dataset specs) strictly: a key written twice is refused.

PyYAML's `safe_load` keeps the last of two equal keys in a mapping without a word (YAML 1.2 says
keys must be unique, and PyYAML does not enforce it: yaml/pyyaml#41), so a sweep file with
`epochs: 20` and, further down the same section, `epochs: 2` would silently train 2. Files the
project writes itself are read with plain `yaml.safe_load`.

PyYAML also reads YAML 1.1, where a few plain scalars mean something else than in YAML 1.2 (the
version every other current parser reads; YAML 1.2 spec, section 10.3 "Core Schema"): `010` is 8
(octal), `1:30` is 90 (base 60), `yes`/`no`/`on`/`off` are booleans. A user who writes `epochs: 010`
or `symbols: [ON]` gets another value without a word, so those forms are refused with the line and
what to write instead. A merge key reads as the YAML merge key type says (`<<: [*a, *b]`: a key of both
takes `a`'s value; PyYAML 6 took `a`'s for `l` and `b`'s for `lookback`), and a key written twice
inside a merged mapping is refused like any other.

A value its tag cannot build (`2024-02-30`, an explicit `!!int "abc"`) made PyYAML's constructors raise
ValueError, TypeError or AttributeError, which no reader caught: it is an `UnreadableValueError` (a
`yaml.YAMLError`) naming the value and its line, and so is an integer of over `MAX_INT_CHARS` characters.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Final

import yaml


class DuplicateKeyError(yaml.constructor.ConstructorError):
    """A mapping names the same key twice; `problem_mark` is the second occurrence."""


_MERGE_TAG: Final = "tag:yaml.org,2002:merge"


class _StrictLoader(yaml.SafeLoader):
    """`SafeLoader` that raises `DuplicateKeyError` on a repeated mapping key."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self._refuse_repeated_keys(node)
        return super().construct_mapping(node, deep=deep)

    def _refuse_repeated_keys(self, node: yaml.MappingNode) -> None:
        """DuplicateKeyError for a key, or the merge key `<<`, written twice in `node` itself."""
        seen: dict[Any, yaml.Node] = {}
        merge: yaml.Node | None = None
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:
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
            key = self.construct_object(key_node, deep=True)
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

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's, reading `<<: [*first, *second]` as the YAML merge key type says: a key of several
        merged mappings takes the value of the first (PyYAML 6 kept the first or the last depending on
        whether Python shared the key's string: `l` from the first mapping, `lookback` from the last), and
        a key written twice inside a merged mapping (`<<: {cpu: 1, cpu: 2}`, never built on its own) is
        refused like any other repeated key."""
        own = sum(1 for key_node, _ in node.value if key_node.tag != _MERGE_TAG)
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
                for source in sources:
                    if isinstance(source, yaml.MappingNode):  # anything else: PyYAML's own error follows
                        self._refuse_repeated_keys(source)
        super().flatten_mapping(node)  # type: ignore[no-untyped-call]
        merged_count = len(node.value) - own  # PyYAML puts the merged pairs before the mapping's own
        # the mapping's own keys win over merged ones, and of those the first: each key then appears once,
        # so a mapping merged in turn into another brings the values it reads as, not ones it overrides
        kept: list[tuple[yaml.Node, yaml.Node]] = []
        taken: set[Any] = set()
        for key_node, value_node in [*node.value[merged_count:], *node.value[:merged_count]]:
            key = self.construct_object(key_node, deep=True)
            try:
                if key in taken:
                    continue
                taken.add(key)
            except TypeError:  # an unhashable key: SafeLoader's own error follows
                pass
            kept.append((key_node, value_node))
        node.value = kept[own:] + kept[:own]

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        """PyYAML's, with what its constructors raise for a value they cannot build (`2024-02-30`, an
        explicit `!!int "abc"` or `!!timestamp "abc"`: ValueError, TypeError, AttributeError) turned
        into an `UnreadableValueError` at the value's line, so that every reader reports it as bad YAML."""
        try:
            return super().construct_object(node, deep=deep)  # type: ignore[no-untyped-call]
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:
            what = _TAG_NAMES.get(str(node.tag), f"a {node.tag} value")
            value = _shown(node.value) if isinstance(node, yaml.ScalarNode) else "the value"
            # a ValueError says why (`day is out of range for month`); the others name PyYAML's internals
            reason = f" ({' '.join(str(exc).split())[:120]})" if isinstance(exc, ValueError) else ""
            raise UnreadableValueError(
                None, None, f"{value} is not {what}{reason}: correct it, or quote it as text", node.start_mark
            ) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        value = str(node.value)
        if len(value) > MAX_INT_CHARS:  # Python refuses to read an integer of over 4300 digits
            raise UnreadableValueError(
                None,
                None,
                f"{_shown(value)} is a number of {len(value)} characters: too long to be a setting "
                f"(at most {MAX_INT_CHARS})",
                node.start_mark,
            )
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

_OCTAL_12 = re.compile(r"[-+]?0o[0-7]+")
"""YAML 1.2's octal form (`0o17`, an int there), which PyYAML reads as text."""

_StrictLoader.add_constructor("tag:yaml.org,2002:int", _StrictLoader.construct_yaml_int)
_StrictLoader.add_constructor("tag:yaml.org,2002:float", _StrictLoader.construct_yaml_float)
_StrictLoader.add_constructor("tag:yaml.org,2002:bool", _StrictLoader.construct_yaml_bool)


MAX_INT_CHARS: Final = 100
"""The longest integer a YAML file may write (sign and `_` included): no setting needs more, and Python
refuses to read one of over 4300 digits (a ValueError PyYAML does not catch)."""

_TAG_NAMES: Final = {
    "tag:yaml.org,2002:int": "an integer",
    "tag:yaml.org,2002:float": "a number",
    "tag:yaml.org,2002:bool": "true or false",
    "tag:yaml.org,2002:timestamp": "a date (YYYY-MM-DD, with an optional time)",
    "tag:yaml.org,2002:binary": "base64 data",
}
"""What a standard tag's value must be, in the words of an error message."""


def _shown(value: Any) -> str:
    """`value`'s repr, cut to 40 characters (a 5000-digit number stays readable in one line)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


class UnreadableValueError(yaml.constructor.ConstructorError):
    """A scalar that its tag (implicit or explicit) cannot build, e.g. `2024-02-30` (a date with no such
    day) or `!!int "abc"`; `problem_mark` is where."""


class AmbiguousScalarError(yaml.constructor.ConstructorError):
    """A plain scalar that YAML 1.1 (PyYAML) and YAML 1.2 read as different values; `problem_mark` is where."""


def _ambiguous(node: yaml.ScalarNode, reads_as: str, fix: str) -> None:
    raise AmbiguousScalarError(None, None, f"{node.value!r} is {reads_as}: {fix}", node.start_mark)


def number_text_hint(value: Any, *, integer: bool = False) -> str:
    """For text that YAML 1.2 (and Python) read as a number but YAML 1.1 (PyYAML) reads as text, how to
    write it, e.g. " (YAML reads 1.5e2 as text: ...; write 1.5e+2 or 150.0)"; "" for anything else.

    A YAML 1.1 float needs a decimal point in the mantissa and a sign in the exponent: `1e-3` and `1.5e2`
    are text, `1.0e-3` and `1.5e+2` numbers. YAML 1.2's octal `0o17` is text too (" (YAML reads 0o17 as
    text: ...; write 15)"). With `integer` (a key that takes whole numbers only) a whole number is written
    plainly (`1e3`: "write 1000"), as `1.0e+3` and `1000.0` are not whole numbers to YAML."""
    if isinstance(value, str) and _OCTAL_12.fullmatch(value.strip()):
        return f" (YAML reads {value} as text: it writes no 0o octal numbers; write {int(value.strip(), 8)})"
    if not isinstance(value, str) or "e" not in value.lower():
        return ""
    text = value.strip()
    try:
        number = float(text)
    except ValueError:
        return ""
    if not math.isfinite(number):  # `1e999` overflows: no spelling reads as that number
        return ""
    if integer and number.is_integer():
        return f" (YAML reads {value} as text; write {int(number)})"
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if not exponent.startswith(("+", "-")):
        exponent = f"+{exponent}"
    spelled, plain = f"{mantissa}e{exponent}", repr(number)
    write = spelled if "e" in plain else f"{spelled} or {plain}"
    return (
        f" (YAML reads {value} as text: a number with an exponent needs a decimal point and a signed "
        f"exponent; write {write})"
    )


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
