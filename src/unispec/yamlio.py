"""The one YAML loader of unispec: safe, dates kept as strings, duplicate keys refused.

PyYAML keeps the last of two equal keys in a mapping without a word: two services
named alike in ``unispec.yaml``, or a path written twice in a spec, silently lose
one of them. YAML 1.2 requires unique keys, and Redocly reports them; here the
second one is an error with its line (and the first one's).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError


class Loader(yaml.CSafeLoader):
    """``CSafeLoader`` without timestamps (OpenAPI examples are strings) and with
    unique mapping keys."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        pairs = node.value
        if len({k.value for k, _v in pairs if isinstance(k, yaml.ScalarNode)}) < len(pairs):
            _refuse_duplicates(pairs)  # the set is the fast check; this names the key
        return super().construct_mapping(node, deep)


def _refuse_duplicates(pairs: list[tuple[yaml.Node, yaml.Node]]) -> None:
    seen: dict[str, int] = {}
    for key_node, _value in pairs:
        if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
            continue
        key = key_node.value
        if key in seen:
            raise ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first at line {seen[key] + 1}); YAML keeps only one",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line


Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for key, resolvers in yaml.CSafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str | bytes) -> Any:
    """Parse YAML text (``yaml.YAMLError`` on bad syntax or a duplicate key)."""
    return yaml.load(text, Loader=Loader)
