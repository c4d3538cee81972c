"""Canonical serialisation: same document, same bytes, on every machine.

Object keys keep a fixed, readable order where order means something to a
reader (the OpenAPI root, an operation) and are otherwise written as merge
produced them (merge sorts what has no meaningful order: paths, components).
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

try:
    import orjson
except ImportError:  # optional: only makes big outputs faster
    orjson = None  # type: ignore[assignment]

_ROOT_ORDER = (
    "openapi",
    "info",
    "jsonSchemaDialect",
    "servers",
    "security",
    "tags",
    "x-tagGroups",
    "paths",
    "webhooks",
    "components",
    "externalDocs",
)


def order_root(document: dict[str, Any]) -> dict[str, Any]:
    ordered = {k: document[k] for k in _ROOT_ORDER if k in document}
    for key in sorted(k for k in document if k not in ordered):
        ordered[key] = document[key]
    return ordered


def to_json(data: Any, *, plain_numbers: bool = False) -> bytes:
    """``json.dumps(indent=2, ensure_ascii=False)`` bytes, via orjson when it gives the same.

    The stdlib encoder is pure Python once ``indent`` is set (seconds for a big
    contract). orjson writes the same bytes except for floats in exponent form,
    NaN/Infinity and integers past 64 bits, so it is only used when the caller
    vouches (``plain_numbers``) that the data holds none of those.
    """
    if plain_numbers and orjson is not None:
        try:
            return orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # non-string keys, big integers: the stdlib decides
            pass
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class _Dumper(yaml.CSafeDumper):
    """Block style, no aliases (anchors would make diffs of the output unreadable)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: _Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


_WIDTH = 100


def _dump(data: Any, width: int = _WIDTH) -> str:
    return yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=width,
        default_flow_style=False,
    )


def to_yaml(data: Any) -> bytes:
    return _yaml_text(data)[0].encode("utf-8")


def _yaml_text(data: Any) -> tuple[str, bool]:
    """(YAML text, whether every number is JSON-plain); fast layout, PyYAML's bytes."""
    fast = _FastYaml()
    try:
        return fast.document(data), fast.plain_numbers
    except _Fallback:
        return _dump(data), False


_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./{}-]*(?: [A-Za-z0-9_./{}-]+)*")
_RESOLVED_WORDS = frozenset({"y", "n", "yes", "no", "true", "false", "on", "off", "null"})


def _is_plain(text: str) -> bool:
    """Certainly written as-is by PyYAML: plain-safe characters, no leading digit, sign or
    indicator, single inner spaces, not a word its resolver reads as bool/null (checked
    against PyYAML on every distinct string of the demo, the corpus and the benchmark)."""
    return _PLAIN.fullmatch(text) is not None and text.lower() not in _RESOLVED_WORDS


class _Fallback(Exception):
    """The fast layout does not cover this document; PyYAML writes all of it."""


_NO_RENDER = ""
_SCALARS = (str, int, bool, float, type(None))
_INT64 = 2**63


class _FastYaml:
    """Lays out block mappings and sequences itself; every scalar is rendered by PyYAML.

    PyYAML's representer is pure Python and costs most of ``build`` on a big
    contract. The block layout of a JSON-shaped tree is simple (two-space
    mappings, indentless sequences under keys); what is subtle is each scalar's
    style, quoting and line folding, so those come from PyYAML itself, once per
    distinct value: on one line when the value cannot reach the fold width,
    otherwise rendered in an equivalent nesting so the fold happens at the same
    column. Anything else (lists of lists, complex keys, a trailing ``...``)
    makes the whole document fall back to PyYAML, so the bytes never differ.
    """

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}
        self.values: dict[Any, str] = {}
        self.folded: dict[tuple[Any, ...], str] = {}
        self.plain_numbers = True
        self.chunks: list[str] = []
        """Joined runs of lines: millions of one-line strings would cost more than the text."""

    def document(self, data: Any) -> str:
        if type(data) is not dict:
            raise _Fallback
        if not data:
            return "{}\n"
        out: list[str] = []
        self.mapping(data, 0, "", out)
        self.chunks.append("".join(out))
        return "".join(self.chunks)

    def key(self, key: Any) -> str:
        if type(key) is not str:
            raise _Fallback
        rendered = self.keys.get(key)
        if rendered is None and len(key) <= 100 and _is_plain(key):
            rendered = self.keys[key] = key
        if rendered is None:
            text = _dump({key: 0})
            rendered = text[:-4]
            if not text.endswith(": 0\n") or "\n" in rendered or rendered.startswith("?"):
                raise _Fallback
            self.keys[key] = rendered
        return rendered

    def value(self, value: Any) -> str:
        """One-line rendering at unlimited width, or ``_NO_RENDER`` if it spans lines."""
        kind = type(value)
        if kind not in _SCALARS:
            raise _Fallback
        cache_key = value if kind is str else (kind, value)
        rendered = self.values.get(cache_key)
        if rendered is None and kind is str and _is_plain(value):
            rendered = self.values[cache_key] = value
        if rendered is None:
            if kind is float:
                text = repr(value)
                if "e" in text or "n" in text:  # exponent, inf, nan
                    self.plain_numbers = False
            elif kind is int and not -_INT64 <= value < _INT64:
                self.plain_numbers = False
            text = _dump([value], width=1_000_000)
            one_line = text.startswith("- ") and text.count("\n") == 1
            rendered = text[2:-1] if one_line else _NO_RENDER
            self.values[cache_key] = rendered
        return rendered

    def mapping(self, node: dict[str, Any], indent: int, first: str, out: list[str]) -> None:
        # Hot loop (millions of entries): caches and methods are bound to locals.
        pad = " " * indent
        prefix = first
        keys, values, append = self.keys, self.values, out.append
        for key, value in node.items():
            k = keys.get(key)
            if k is None:
                k = self.key(key)
            kind = type(value)
            if kind is dict:
                if value:
                    append(f"{prefix}{k}:\n")
                    self.mapping(value, indent + 2, pad + "  ", out)
                else:
                    append(f"{prefix}{k}: {{}}\n")
            elif kind is list:
                if value:
                    append(f"{prefix}{k}:\n")
                    self.sequence(value, indent, out)
                else:
                    append(f"{prefix}{k}: []\n")
            else:
                r = values.get(value) if kind is str else None
                if r is None:
                    r = self.value(value)
                if r and indent + len(k) + 2 + len(r) <= _WIDTH:
                    append(f"{prefix}{k}: {r}\n")
                else:
                    append(prefix + self.folded_entry(key, value, indent))
            prefix = pad
            if indent <= 4 and len(out) > 20_000:
                self.chunks.append("".join(out))
                out.clear()

    def sequence(self, items: list[Any], indent: int, out: list[str]) -> None:
        pad = " " * indent
        item_pad = pad + "- "
        values, append = self.values, out.append
        for item in items:
            kind = type(item)
            if kind is dict:
                if item:
                    self.mapping(item, indent + 2, item_pad, out)
                else:
                    append(pad + "- {}\n")
            elif kind is list:
                if item:
                    raise _Fallback
                append(pad + "- []\n")
            else:
                r = values.get(item) if kind is str else None
                if r is None:
                    r = self.value(item)
                if r and indent + 2 + len(r) <= _WIDTH:
                    append(f"{item_pad}{r}\n")
                else:
                    append(pad + self.folded_item(item, indent))

    def folded_entry(self, key: str, value: Any, indent: int) -> str:
        """``key: value`` as PyYAML writes it in a mapping indented by ``indent``."""
        cache_key = ("entry", key, type(value), value, indent)
        text = self.folded.get(cache_key)
        if text is None:
            text = self._nested({key: value}, indent, 0)
            self.folded[cache_key] = text
        return text

    def folded_item(self, value: Any, indent: int) -> str:
        """``- value`` as PyYAML writes it in a sequence under a key at ``indent``."""
        cache_key = ("item", type(value), value, indent)
        text = self.folded.get(cache_key)
        if text is None:
            text = self._nested({"k": [value]}, indent, 1)
            self.folded[cache_key] = text
        return text

    @staticmethod
    def _nested(node: dict[str, Any], indent: int, skip: int) -> str:
        depth = indent // 2
        for _ in range(depth):
            node = {"a": node}
        text = _dump(node)
        if text.endswith("\n...\n"):  # an open-ended scalar: the document end marker follows
            raise _Fallback
        for _ in range(depth + skip):
            text = text[text.index("\n") + 1 :]
        if not text.startswith(" " * indent):
            raise _Fallback
        return text[indent:]


def emit_document(document: dict[str, Any]) -> dict[str, bytes]:
    doc = order_root(document)
    text, plain_numbers = _yaml_text(doc)
    return {
        "openapi.json": to_json(doc, plain_numbers=plain_numbers),
        "openapi.yaml": text.encode(),
    }
