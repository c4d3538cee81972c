"""Reading one side of a comparison: ``$ref`` chasing and the "unchanged" index.

Both helpers exist for speed as much as for correctness. ``Doc.deref``
follows local ``$ref`` chains (cached, cycle-safe); ``clean_refs`` finds the
components whose whole reference closure is byte-for-byte identical in both
documents, so the schema walker can skip them without looking inside: on a
4 MiB document with a handful of edits almost everything is clean.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from unispec.refs import escape, unescape

JSON = Any


class Doc:
    """A read-only OpenAPI document with cached local-reference lookups."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.doc = document
        self._targets: dict[str, tuple[bool, Any]] = {}

    def lookup(self, ref: str) -> tuple[bool, Any]:
        """(found, node) for a local ``#/...`` reference."""
        hit = self._targets.get(ref)
        if hit is not None:
            return hit
        node: Any = self.doc
        found = True
        if not ref.startswith("#"):
            found = False
        else:
            body = ref[1:]
            tokens = [unescape(t) for t in body[1:].split("/")] if body else []
            for token in tokens:
                if isinstance(node, dict) and token in node:
                    node = node[token]
                elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                    node = node[int(token)]
                else:
                    found = False
                    break
        result = (found, node if found else None)
        self._targets[ref] = result
        return result

    def deref(self, node: Any, pointer: str) -> tuple[Any, str, str | None]:
        """Follow ``$ref`` chains: (target, its pointer, the last ref followed or None)."""
        last: str | None = None
        for _ in range(64):
            if not isinstance(node, dict):
                break
            ref = node.get("$ref")
            if not isinstance(ref, str):
                break
            found, target = self.lookup(ref)
            if not found:
                break
            last = ref
            node, pointer = target, ref[1:]
        return node, pointer, last


def refs_in(node: Any) -> set[str]:
    """Every ``$ref`` string anywhere under ``node``."""
    out: set[str] = set()
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            ref = cur.get("$ref")
            if isinstance(ref, str):
                out.add(ref)
            stack.extend(v for v in cur.values() if isinstance(v, dict | list))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, dict | list))
    return out


def clean_refs(base: dict[str, Any], revision: dict[str, Any]) -> frozenset[str]:
    """References (``#/components/<kind>/<name>``) unchanged together with all they reach."""
    bc = base.get("components") if isinstance(base.get("components"), dict) else {}
    rc = revision.get("components") if isinstance(revision.get("components"), dict) else {}
    assert isinstance(bc, dict) and isinstance(rc, dict)
    pairs: dict[str, tuple[Any, Any]] = {}
    for kind in set(bc) & set(rc):
        bk, rk = bc.get(kind), rc.get(kind)
        if not isinstance(bk, dict) or not isinstance(rk, dict):
            continue
        for name in set(bk) & set(rk):
            pairs[f"#/components/{escape(kind)}/{escape(name)}"] = (bk[name], rk[name])
    dirty: set[str] = set()
    users: dict[str, set[str]] = defaultdict(set)
    for ref, (b, r) in pairs.items():
        if b != r:
            dirty.add(ref)
            continue
        for target in refs_in(r):
            if target not in pairs:
                dirty.add(ref)
            users[target].add(ref)
    stack = list(dirty)
    while stack:
        t = stack.pop()
        for user in users.get(t, ()):
            if user not in dirty:
                dirty.add(user)
                stack.append(user)
    return frozenset(set(pairs) - dirty)


def all_refs_clean(node: Any, clean: frozenset[str]) -> bool:
    """True when every reference under ``node`` is in the clean set."""
    return all(r in clean for r in refs_in(node))


class CleanCheck:
    """``all_refs_clean`` with a per-comparison cache keyed by node identity.

    The documents are alive and unchanged for the whole comparison, so the
    identity of a node is a safe key; the cache keeps the node referenced so an
    id can never be reused by another object meanwhile.
    """

    def __init__(self, clean: frozenset[str]) -> None:
        self.clean = clean
        self._cache: dict[int, tuple[Any, bool]] = {}

    def __call__(self, node: Any) -> bool:
        if not isinstance(node, dict | list):
            return True
        hit = self._cache.get(id(node))
        if hit is not None:
            return hit[1]
        ok = all(r in self.clean for r in refs_in(node))
        self._cache[id(node)] = (node, ok)
        return ok
