"""mkdocs hook: put the portal's parked HTML blocks back into each built page.

`unispec portal build` keeps big tables and examples out of the markdown (a
placeholder comment stays in their place) so that Python-Markdown and the
search indexer only process the light text; this hook substitutes the blocks
into the final HTML, after the search index has been fed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_PLACEHOLDER = re.compile(r"<!--unispec:block:(\d+)-->")
_blocks_dir: Path | None = None


def on_config(config: Any) -> Any:
    global _blocks_dir
    _blocks_dir = Path(config["docs_dir"]).parent / "blocks"
    return config


def on_post_page(output: str, page: Any, config: Any) -> str:
    if "<!--unispec:block:" not in output or _blocks_dir is None:
        return output
    path = _blocks_dir / (page.file.src_uri + ".json")
    try:
        blocks = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return output
    return _PLACEHOLDER.sub(
        lambda m: blocks[int(m.group(1))] if int(m.group(1)) < len(blocks) else "", output
    )
