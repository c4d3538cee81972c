"""The rule vocabulary: oasdiff's rule IDs with their default levels.

unispec speaks oasdiff's vocabulary so that teams moving over keep their
ignore files and CI gates. The table ships with the package (``rules.tsv``, a
copy of the shared vocabulary) and is the single place levels come from: the
engine never hard-codes a level, it asks for a rule ID and drops any ID the
table does not know, so a typo can never invent a rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

LevelName = Literal["ERR", "WARN", "INFO"]
LEVELS: tuple[LevelName, ...] = ("INFO", "WARN", "ERR")
LEVEL_RANK: dict[str, int] = {"INFO": 0, "WARN": 1, "ERR": 2}


@dataclass(frozen=True)
class Rule:
    """One row of the vocabulary."""

    id: str
    level: LevelName
    direction: str
    area: str
    description: str


@cache
def all_rules() -> dict[str, Rule]:
    """Every known rule, keyed by ID, in the table's order."""
    text = (Path(__file__).with_name("rules.tsv")).read_text(encoding="utf-8")
    rules: dict[str, Rule] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#") or line.startswith("id\t"):
            continue
        parts = line.split("\t")
        if len(parts) < 5 or parts[1] not in LEVEL_RANK:
            continue
        level: LevelName = "ERR" if parts[1] == "ERR" else "WARN" if parts[1] == "WARN" else "INFO"
        rules[parts[0]] = Rule(parts[0], level, parts[2], parts[3], parts[4])
    return rules


def level_of(rule_id: str) -> LevelName:
    """Default level of ``rule_id`` (KeyError for an unknown ID)."""
    return all_rules()[rule_id].level


def is_rule(rule_id: str) -> bool:
    return rule_id in all_rules()


def parse_level(text: str) -> LevelName:
    """Accept ERR/WARN/INFO in any case (and the long forms) for CLI flags."""
    t = text.strip().upper()
    aliases = {"ERROR": "ERR", "WARNING": "WARN", "BREAKING": "ERR"}
    t = aliases.get(t, t)
    if t == "ERR":
        return "ERR"
    if t == "WARN":
        return "WARN"
    if t == "INFO":
        return "INFO"
    raise ValueError(f"unknown level {text!r}; use ERR, WARN or INFO")
