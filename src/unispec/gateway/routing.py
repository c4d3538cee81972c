"""The route table: a segment trie compiled once from the contract's path templates.

Matching walks one node per path segment with a dict lookup for static
segments, so its cost depends on the depth of the path, not on the number of
operations (FastAPI/Starlette check routes one by one). At every node static
segments win over partially templated ones (``{name}.json``), which win over
whole-segment parameters (``{id}``): the same resolution order ``lint`` reports
for ambiguous paths. When a more specific branch dead-ends, matching backtracks
to the next candidate, so ``/a/{x}/c`` still matches when ``/a/b/...`` exists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from urllib.parse import unquote

T = TypeVar("T")

_PARAM = re.compile(r"\{([^{}]+)\}")


class RouteConflict(ValueError):
    """Two templates match exactly the same requests (same shape, same method)."""


@dataclass
class _Node(Generic[T]):
    static: dict[str, _Node[T]] = field(default_factory=dict)
    partial: list[tuple[re.Pattern[str], tuple[str, ...], _Node[T]]] = field(default_factory=list)
    param: tuple[str, _Node[T]] | None = None
    methods: dict[str, tuple[T, str, tuple[str, ...]]] | None = None
    """method -> (target, template, parameter names in path order)."""
    template: str = ""
    allowed: tuple[str, ...] = ()


class Match(Generic[T]):
    """A matched path: the target for the method (or None) and what the path allows."""

    __slots__ = ("allowed", "params", "target", "template")

    def __init__(
        self, target: T | None, template: str, params: dict[str, str], allowed: tuple[str, ...]
    ) -> None:
        self.target = target
        self.template = template
        self.params = params
        self.allowed = allowed


def _partial_regex(segment: str) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    pattern = ""
    pos = 0
    for m in _PARAM.finditer(segment):
        pattern += re.escape(segment[pos : m.start()])
        pattern += "(.+?)"
        names.append(m.group(1))
        pos = m.end()
    pattern += re.escape(segment[pos:])
    return re.compile(f"^{pattern}$", re.S), tuple(names)


def split_path(path: str) -> list[str]:
    """Segments of a path ("/a/b" -> ["a", "b"]; "/" -> [""])."""
    return path[1:].split("/") if path.startswith("/") else path.split("/")


class Router(Generic[T]):
    """Maps (method, path) to targets compiled from OpenAPI path templates."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()
        self._static: dict[str, _Node[T]] = {}
        """Templates without parameters, by path: one dict lookup instead of a walk."""
        self.size = 0

    def add(self, method: str, template: str, target: T) -> None:
        node = self._root
        for segment in split_path(template):
            names = _PARAM.findall(segment)
            if not names:
                node = node.static.setdefault(segment, _Node())
            elif segment == "{" + names[0] + "}":
                # Same shape with another name ({id} vs {userId}) shares the node;
                # names are kept per (template, method) below.
                if node.param is None:
                    node.param = (names[0], _Node())
                node = node.param[1]
            else:
                regex, pnames = _partial_regex(segment)
                for existing, _, child in node.partial:
                    if existing.pattern == regex.pattern:
                        node = child
                        break
                else:
                    child = _Node()
                    node.partial.append((regex, pnames, child))
                    node.partial.sort(key=lambda item: -len(item[0].pattern))
                    node = child
        if node.methods is None:
            node.methods = {}
            node.template = template
        key = method.upper()
        if key in node.methods:
            raise RouteConflict(f"{key} {template} collides with {key} {node.template}")
        param_names = tuple(n for seg in split_path(template) for n in _PARAM.findall(seg))
        node.methods[key] = (target, template, param_names)
        if not param_names:
            self._static[template] = node
        allowed = set(node.methods)
        if "GET" in allowed:
            allowed.add("HEAD")  # RFC 9110 9.3.2: a GET resource answers HEAD too
        node.allowed = tuple(sorted(allowed))
        self.size += 1

    def match(self, method: str, raw_path: str) -> Match[T] | None:
        """Match a raw (still percent-encoded) request path; None when no template fits."""
        values: list[str] = []
        node = self._static.get(raw_path)
        if node is None:
            node = self._find(self._root, split_path(raw_path), 0, values)
        if node is None or node.methods is None:
            return None
        entry = node.methods.get(method)
        if entry is None and method == "HEAD":
            entry = node.methods.get("GET")
        if entry is None:
            return Match(None, node.template, {}, node.allowed)
        target, template, names = entry
        params = {
            name: unquote(value) if "%" in value else value
            for name, value in zip(names, values, strict=True)
        }
        return Match(target, template, params, node.allowed)

    def _find(
        self, node: _Node[T], segments: list[str], i: int, values: list[str]
    ) -> _Node[T] | None:
        if i == len(segments):
            return node if node.methods is not None else None
        segment = segments[i]
        child = node.static.get(segment)
        if child is not None:
            found = self._find(child, segments, i + 1, values)
            if found is not None:
                return found
        for regex, _names, pchild in node.partial:
            m = regex.match(segment)
            if m is not None:
                mark = len(values)
                values.extend(m.groups())
                found = self._find(pchild, segments, i + 1, values)
                if found is not None:
                    return found
                del values[mark:]
        if node.param is not None and segment:
            values.append(segment)
            found = self._find(node.param[1], segments, i + 1, values)
            if found is not None:
                return found
            values.pop()
        return None

    def templates(self) -> Iterable[str]:
        stack = [self._root]
        while stack:
            node = stack.pop()
            if node.methods is not None:
                yield node.template
            stack.extend(node.static.values())
            stack.extend(child for _, _, child in node.partial)
            if node.param is not None:
                stack.append(node.param[1])
