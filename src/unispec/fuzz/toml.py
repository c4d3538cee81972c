"""A tiny TOML writer for the Schemathesis configuration (pure).

Python reads TOML (``tomllib``) but cannot write it, and the configuration we
hand to Schemathesis is a small tree of strings, numbers, booleans, lists and
tables; a 60-line writer beats a new dependency. ``tomllib`` round-trips its
output in the tests.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["dumps"]


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"TOML cannot hold {value!r} here")
        return repr(value)
    if isinstance(value, str):
        # A JSON string is a valid TOML basic string for every code point
        # (both escape with \\uXXXX and the same short escapes).
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, Sequence):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_scalar(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _key(key: str) -> str:
    if key and all(c.isalnum() or c in "-_" for c in key) and key.isascii():
        return key
    return json.dumps(key, ensure_ascii=True)


def _is_table_array(value: Any) -> bool:
    return (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and bool(value)
        and all(isinstance(v, Mapping) for v in value)
    )


def _emit(table: Mapping[str, Any], prefix: str, out: list[str]) -> None:
    subtables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, Sequence[Mapping[str, Any]]]] = []
    for key, value in table.items():
        if isinstance(value, Mapping) and not _flat_table(key, value):
            subtables.append((key, value))
        elif _is_table_array(value):
            arrays.append((key, value))
        else:
            out.append(f"{_key(key)} = {_scalar(value)}")
    for key, value in subtables:
        name = f"{prefix}{_key(key)}"
        out.append("")
        out.append(f"[{name}]")
        _emit(value, f"{name}.", out)
    for key, items in arrays:
        name = f"{prefix}{_key(key)}"
        for item in items:
            out.append("")
            out.append(f"[[{name}]]")
            _emit(item, f"{name}.", out)


def _flat_table(key: str, value: Mapping[str, Any]) -> bool:
    """Header maps are written inline so that each ``[[operations]]`` stays one block."""
    return key == "headers"


def dumps(data: Mapping[str, Any]) -> str:
    """TOML for ``data``: nested mappings become tables, lists of mappings arrays of tables."""
    out: list[str] = []
    _emit(data, "", out)
    return "\n".join(out).lstrip("\n") + "\n"
