"""Helpers shared by the portal tests (plain module: conftest cannot be imported)."""

from __future__ import annotations

import json
import re

from unispec.portal.render import RenderedPortal


def page_text(r: RenderedPortal, path: str) -> str:
    """What the built page shows: the markdown with its parked blocks put back."""
    text = r.files[path].decode()
    blocks = r.blocks.get(path + ".json")
    if blocks:
        items = json.loads(blocks)
        text = re.sub(r"<!--unispec:block:(\d+)-->", lambda m: items[int(m.group(1))], text)
    return text
