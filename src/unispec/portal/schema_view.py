"""A schema as rows of a readable nested table.

Readers want one table per body, not a JSON Schema dump. Compositions stay
alternatives (``oneOf``/``anyOf`` options are listed under the field, with the
discriminator value that selects each), ``allOf`` parts are merged because all
of them apply, and a ``$ref`` already being expanded on the current path is
shown as a link, so circular schemas never nest forever. Depth and row budgets
keep pages small on documents like Stripe's where everything references
everything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from unispec import refs
from unispec.portal.text import h, hcode, inline_html

SchemaLink = Callable[[str], str]
"""Component schema name -> HTML link to its definition."""


@dataclass(frozen=True)
class Row:
    """One line of a schema table."""

    depth: int
    name: str
    type: str
    required: bool
    constraints: str
    description: str


_CONSTRAINT_KEYS: tuple[tuple[str, str], ...] = (
    ("minLength", "min length"),
    ("maxLength", "max length"),
    ("minimum", "≥"),
    ("maximum", "≤"),
    ("exclusiveMinimum", ">"),
    ("exclusiveMaximum", "<"),
    ("multipleOf", "multiple of"),
    ("minItems", "min items"),
    ("maxItems", "max items"),
    ("minProperties", "min properties"),
    ("maxProperties", "max properties"),
    ("pattern", "pattern"),
)


def ref_name(schema: Any) -> str | None:
    """Component schema name when ``schema`` is a ``$ref`` to one."""
    if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
        parsed = refs.parse_component_ref(schema["$ref"])
        if parsed and parsed[0] == "schemas":
            return parsed[1]
    return None


def deref(document: Mapping[str, Any], node: Any, limit: int = 20) -> Any:
    """Follow local ``$ref``s (of any component kind) until a real object."""
    seen = 0
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and seen < limit:
        ref = node["$ref"]
        if not ref.startswith("#"):
            return node
        try:
            node = refs.resolve(document, ref)
        except (KeyError, IndexError, ValueError):
            return {}
        seen += 1
    return node


def constraints(schema: Mapping[str, Any]) -> str:
    """Validation keywords a client must respect, in one short line."""
    parts: list[str] = []
    for key, label in _CONSTRAINT_KEYS:
        if key in schema and not isinstance(schema[key], bool):
            parts.append(f"{label} {hcode(schema[key])}")
    if schema.get("exclusiveMinimum") is True and "minimum" in schema:
        parts.append("(exclusive min)")
    if schema.get("exclusiveMaximum") is True and "maximum" in schema:
        parts.append("(exclusive max)")
    enum = schema.get("enum")
    if isinstance(enum, list):
        shown = ", ".join(hcode(v) for v in enum[:12])
        more = f" … (+{len(enum) - 12})" if len(enum) > 12 else ""
        parts.append(f"one of {shown}{more}")
    if "const" in schema:
        parts.append(f"= {hcode(schema['const'])}")
    if "default" in schema:
        parts.append(f"default {hcode(_short(schema['default']))}")
    if schema.get("uniqueItems") is True:
        parts.append("unique items")
    if schema.get("readOnly") is True:
        parts.append("read-only")
    if schema.get("writeOnly") is True:
        parts.append("write-only")
    if schema.get("deprecated") is True:
        parts.append("<strong>deprecated</strong>")
    return ", ".join(parts)


def _short(value: Any) -> Any:
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


class SchemaTable:
    """Walks one schema into rows, with budgets shared by the whole table."""

    def __init__(
        self,
        document: Mapping[str, Any],
        link: SchemaLink,
        *,
        max_depth: int = 5,
        max_rows: int = 150,
        expand_refs_to: int = 3,
    ) -> None:
        self.document = document
        self.link = link
        self.max_depth = max_depth
        self.max_rows = max_rows
        self.expand_refs_to = expand_refs_to
        self.rows: list[Row] = []
        self.truncated = False

    # -- type labels ---------------------------------------------------------------
    def type_label(self, schema: Any, depth: int = 0) -> str:
        """Short human type: ``string (email)``, ``array of [Course]``, ``Course | null``."""
        name = ref_name(schema)
        if name is not None:
            return self.link(name)
        if not isinstance(schema, Mapping):
            return "any"
        if depth > 3:
            return "…"
        for key, word in (("oneOf", "one of"), ("anyOf", "any of")):
            options = schema.get(key)
            if isinstance(options, list) and options:
                labels = [self.type_label(o, depth + 1) for o in options]
                non_null = [lbl for lbl in labels if lbl != "null"]
                if len(non_null) == 1 and len(labels) == 2:
                    return f"{non_null[0]} | null"
                return f"{word} ({len(options)})"
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and all_of:
            if len(all_of) == 1:
                return self.type_label(all_of[0], depth + 1)
            return "all of " + " + ".join(self.type_label(p, depth + 1) for p in all_of)
        typ = schema.get("type")
        types = [t for t in typ if isinstance(t, str)] if isinstance(typ, list) else [typ]
        types = [t for t in types if isinstance(t, str)]
        if not types:
            if "properties" in schema:
                types = ["object"]
            elif "items" in schema:
                types = ["array"]
            elif "enum" in schema or "const" in schema:
                types = ["enum"]
        labels = []
        for t in types:
            if t == "array":
                labels.append("array of " + self.type_label(schema.get("items", {}), depth + 1))
            elif t == "object" and isinstance(schema.get("additionalProperties"), Mapping):
                inner = self.type_label(schema["additionalProperties"], depth + 1)
                labels.append(f"map of {inner}")
            else:
                fmt = schema.get("format")
                labels.append(f"{t} ({fmt})" if isinstance(fmt, str) and t != "null" else t)
        if schema.get("nullable") is True and "null" not in types:
            labels.append("null")
        return " | ".join(labels) if labels else "any"

    # -- walking -------------------------------------------------------------------
    def add(self, row: Row) -> bool:
        if len(self.rows) >= self.max_rows:
            self.truncated = True
            return False
        self.rows.append(row)
        return True

    def walk_root(self, schema: Any) -> list[Row]:
        """Rows for the fields of a body; the root itself is the table's caption."""
        name = ref_name(schema)
        stack: tuple[str, ...] = (name,) if name else ()
        target = deref(self.document, schema)
        self.children(target, 0, stack)
        return self.rows

    def children(self, schema: Any, depth: int, stack: tuple[str, ...]) -> None:
        """Rows for what is inside ``schema`` (properties, items, options)."""
        if not isinstance(schema, Mapping) or depth > self.max_depth:
            return
        for key, word in (("oneOf", "one of"), ("anyOf", "any of")):
            options = schema.get(key)
            if isinstance(options, list) and options:
                self.options(schema, options, word, depth, stack)
        all_of = schema.get("allOf")
        props: dict[str, Any] = {}
        required: set[str] = set()
        parts: list[Any] = [schema]
        if isinstance(all_of, list):
            for part in all_of:
                name = ref_name(part)
                if name is not None and name in stack:
                    self.add(Row(depth, "(all of)", self.link(name) + " ↻", False, "", "circular"))
                    continue
                parts.append(deref(self.document, part))
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            p = part.get("properties")
            if isinstance(p, Mapping):
                for k, v in p.items():
                    props.setdefault(str(k), v)
            r = part.get("required")
            if isinstance(r, list):
                required.update(str(x) for x in r)
            if part is not schema and isinstance(part.get("oneOf") or part.get("anyOf"), list):
                self.children({k: part[k] for k in ("oneOf", "anyOf") if k in part}, depth, stack)
        for prop, sub in props.items():
            if not self.field(prop, sub, prop in required, depth, stack):
                return
        items = schema.get("items")
        if isinstance(items, Mapping) and not props:
            self.nested(items, depth, stack)
        extra = schema.get("additionalProperties")
        if isinstance(extra, Mapping) and extra and props:
            self.field("{key}", extra, False, depth, stack, "any other key")

    def field(
        self,
        name: str,
        schema: Any,
        required: bool,
        depth: int,
        stack: tuple[str, ...],
        fallback: str = "",
    ) -> bool:
        target = deref(self.document, schema)
        target = target if isinstance(target, Mapping) else {}
        ref = ref_name(schema)
        desc = target.get("description") or (
            schema.get("description") if isinstance(schema, Mapping) else ""
        )
        label = self.type_label(schema)
        if ref is not None and ref in stack:
            label += " ↻"
        row = Row(
            depth, name, label, required, constraints(target), inline_html(desc or fallback, 600)
        )
        if not self.add(row):
            return False
        self.nested(schema, depth + 1, stack)
        return True

    def nested(self, schema: Any, depth: int, stack: tuple[str, ...]) -> None:
        """Expand what a field contains, unless that would loop or go too deep."""
        if depth > self.max_depth:
            return
        ref = ref_name(schema)
        if ref is not None:
            if ref in stack or len(stack) >= self.expand_refs_to:
                return  # the type column already links to it
            stack = (*stack, ref)
        target = deref(self.document, schema)
        if not isinstance(target, Mapping):
            return
        items = target.get("items")
        if isinstance(items, Mapping) and "properties" not in target:
            self.nested(items, depth, stack)
            return
        if _has_structure(target):
            self.children(target, depth, stack)

    def options(
        self,
        parent: Mapping[str, Any],
        options: list[Any],
        word: str,
        depth: int,
        stack: tuple[str, ...],
    ) -> None:
        disc = parent.get("discriminator")
        prop = disc.get("propertyName") if isinstance(disc, Mapping) else None
        mapping = disc.get("mapping") if isinstance(disc, Mapping) else None
        by_ref: dict[str, list[str]] = {}
        if isinstance(mapping, Mapping):
            for value, target in mapping.items():
                by_ref.setdefault(str(target), []).append(str(value))
        head = (
            f"<strong>{word}</strong> — exactly one option"
            if word == "one of"
            else f"<strong>{word}</strong>"
        )
        if prop:
            head += f", selected by {hcode(prop)}"
        if not self.add(Row(depth, f"({word})", "", False, "", head)):
            return
        for index, option in enumerate(options, 1):
            name = ref_name(option)
            label = self.type_label(option)
            selector = ""
            if prop:
                ref = option.get("$ref") if isinstance(option, Mapping) else None
                values = by_ref.get(str(ref), []) if ref else []
                if not values and name is not None:
                    values = [name]
                if values:
                    selector = f"{hcode(prop)} = " + " or ".join(hcode(v) for v in values)
            target = deref(self.document, option)
            desc = target.get("description", "") if isinstance(target, Mapping) else ""
            circular = name is not None and name in stack
            row = Row(
                depth + 1,
                f"option {index}",
                label + (" ↻" if circular else ""),
                False,
                selector,
                inline_html(desc, 300),
            )
            if not self.add(row):
                return
            if not circular:
                self.nested(option, depth + 2, stack)


def _has_structure(schema: Mapping[str, Any]) -> bool:
    return any(k in schema for k in ("properties", "oneOf", "anyOf", "allOf")) or (
        isinstance(schema.get("additionalProperties"), Mapping)
        and bool(schema["additionalProperties"])
    )


def render_rows(rows: list[Row], truncated: bool, more_link: str = "") -> str:
    """HTML table of rows (nesting shown by indentation), one raw-HTML block.

    Raw HTML skips Python-Markdown's inline pass, the slowest part of building
    pages whose bodies have hundreds of fields.
    """
    if not rows:
        return ""
    out = [
        '<table class="schema-table"><thead><tr><th>Field</th><th>Type</th><th>Required</th>'
        "<th>Constraints</th><th>Description</th></tr></thead><tbody>"
    ]
    for row in rows:
        indent = "&emsp;" * row.depth + ("└ " if row.depth else "")
        name = row.name if row.name.startswith(("(", "option")) else hcode(row.name)
        if row.name.startswith("("):
            name = h(row.name)
        req = "<strong>yes</strong>" if row.required else ""
        out.append(
            f"<tr><td>{indent}{name}</td><td>{row.type}</td><td>{req}</td>"
            f"<td>{row.constraints}</td><td>{row.description}</td></tr>"
        )
    if truncated:
        tail = f" — see {more_link}" if more_link else ""
        out.append(f'<tr><td>…</td><td colspan="4">more fields not shown{tail}</td></tr>')
    out.append("</tbody></table>")
    return "\n".join(out)


def schema_table(
    document: Mapping[str, Any],
    schema: Any,
    link: SchemaLink,
    *,
    max_rows: int = 150,
    expand_refs_to: int = 3,
) -> str:
    """The markdown for one body schema: caption line and nested table."""
    table = SchemaTable(document, link, max_rows=max_rows, expand_refs_to=expand_refs_to)
    caption = f'<p class="schema-caption">Schema: {table.type_label(schema)}</p>'
    rows = table.walk_root(schema)
    name = ref_name(schema)
    body = render_rows(rows, table.truncated, link(name) if name else "")
    return caption + ("\n\n" + body if body else "")
