"""Load plain mappings (from YAML) into frozen dataclasses, rejecting unknown keys by name.

Both the dataset spec and the sweep file go through `from_mapping`, so every section of a sweep file
reports a misspelt key the same way: ``dataset: unknown key 'lookbak' (valid keys: ...)``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Final, TypeVar

from seqsweep._yaml import number_text_hint
from seqsweep.errors import ConfigError

T = TypeVar("T")


def from_mapping(cls: type[T], data: Any, where: str) -> T:
    """Build dataclass `cls` from `data`; `where` names the section in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = unknown_keys(data, fields)
    if unknown:
        raise ConfigError(
            f"{where}: unknown key {key_text(unknown[0])} (valid keys: {', '.join(sorted(fields))})"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {name: _coerce(hints[name], value, f"{where}.{name}") for name, value in data.items()}
    try:
        return cls(**kwargs)
    except TypeError as exc:  # a required key is missing
        raise ConfigError(f"{where}: {exc}") from None


def unknown_keys(keys: Iterable[Any], allowed: Iterable[str]) -> list[Any]:
    """The `keys` that `allowed` does not hold, in the order of their text.

    YAML keys may be numbers, booleans or null (`1: 2`), which `sorted` cannot compare with text, so
    the order is that of `str(key)`."""
    return sorted(set(keys) - set(allowed), key=lambda key: (str(key), type(key).__name__))


_KEY_KINDS: Final = {bool: "a boolean", int: "a number", float: "a number", type(None): "null"}


def key_text(key: Any) -> str:
    """A mapping key for a message: `'lookbak'`, or for a key YAML did not read as text, what it read as
    YAML writes it, e.g. `1 (a number, not a name)`, `null (not a name)`."""
    if isinstance(key, str):
        return repr(key)
    if key is None:
        return "null (not a name)"
    if isinstance(key, dt.date):
        return f"{key.isoformat()} (a date, not a name)"
    shown = str(key).lower() if isinstance(key, bool) else repr(key)
    return f"{shown} ({_KEY_KINDS.get(type(key), f'a {type(key).__name__}')}, not a name)"


def to_mapping(obj: Any) -> Any:
    """The inverse of `from_mapping`: plain dicts, lists and scalars, ready for YAML or JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_mapping(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple | list):
        return [to_mapping(v) for v in obj]
    if isinstance(obj, Mapping):
        return {k: to_mapping(v) for k, v in obj.items()}
    return obj


def _read_as(value: Any) -> str:
    """A value YAML read as other than text, for a message: a number or true/false says that YAML read
    it so (`symbols: [0x10, TRUE]` are 16 and True) and that quotes keep the text as written; null says
    which plain values YAML reads as no value (`symbols: [NULL]`)."""
    if isinstance(value, bool | int | float):
        shown = str(value).lower() if isinstance(value, bool) else repr(value)
        kind = "true or false" if isinstance(value, bool) else "a number"
        return f"{shown} (YAML reads the plain value as {kind}: quote it to keep the text as written)"
    if value is None:  # `~`, `null`, `Null`, `NULL` or nothing at all
        return (
            "null (YAML reads an empty value, ~ and null as no value: write the text, quoted if it is null)"
        )
    return repr(value)


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        if len(non_none) == 1:
            return _coerce(non_none[0], value, where)
        return value
    if dataclasses.is_dataclass(hint):
        return from_mapping(hint, value, where)  # type: ignore[arg-type]
    if origin is tuple:
        if isinstance(value, str):  # `--set dataset.symbols=A,B`, or `symbols: A, B` in the file
            written = ", ".join(part.strip() for part in value.split(","))
            raise ConfigError(f"{where}: expected a list, got {value!r}: write it as a list, [{written}]")
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
    if hint is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if hint is float:  # text, a list, true/false: a later comparison would fail without the field's name
        raise ConfigError(f"{where}: expected a number, got {value!r}{number_text_hint(value)}")
    if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(
            f"{where}: expected an integer, got {value!r}{number_text_hint(value, integer=True)}"
        )
    if hint is str and isinstance(value, dt.date):
        # YAML reads an unquoted 2024-01-03 (or 2024-01-08 12:00:00) as a date: the text it was
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if hint is str and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {_read_as(value)}")
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    return value
