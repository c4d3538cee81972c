"""Canonical serialisation: same document, same bytes, on every machine.

Object keys keep a fixed, readable order where order means something to a
reader (the OpenAPI root, an operation) and are otherwise written as merge
produced them (merge sorts what has no meaningful order: paths, components).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

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


def to_json(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")


class _Dumper(yaml.CSafeDumper):
    """Block style, no aliases (anchors would make diffs of the output unreadable)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _str_representer(dumper: _Dumper, value: str) -> yaml.Node:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_representer)


def to_yaml(data: Any) -> bytes:
    text = yaml.dump(
        data,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=100,
        default_flow_style=False,
    )
    return text.encode("utf-8")


def emit_document(document: dict[str, Any]) -> dict[str, bytes]:
    doc = order_root(document)
    return {"openapi.json": to_json(doc), "openapi.yaml": to_yaml(doc)}
