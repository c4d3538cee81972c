"""The repository's demo contract rendered (pure, no mkdocs): every operation has a
page within budget, the SDK tab follows the generated client's naming."""

from __future__ import annotations

from pathlib import Path

from unispec.build import load_unified
from unispec.codegen.client import snake_case as codegen_snake
from unispec.portal.site import render_for_project, snake_case

REPO = Path(__file__).resolve().parents[2]


def test_demo_renders_every_operation_with_samples_and_errors() -> None:
    spec = load_unified(REPO)
    rendered = render_for_project(spec, REPO)
    assert len(spec.operations) >= 40
    for op in spec.operations:
        page = f"services/{op.service}/{op.operation_id}.md"
        text = rendered.files[page].decode()
        blocks = rendered.blocks.get(page + ".json", b"").decode()
        assert op.operation_id in text and op.path in text
        assert "## Errors" in text and "errors.html#" in blocks
        assert 'data-tab=\\"curl\\"' in blocks
        if (REPO / "generated" / "client" / "__init__.py").is_file():
            assert 'data-tab=\\"Python SDK\\"' in blocks
            assert "from generated.client import Client" in blocks
        size = len(rendered.files[page]) + len(rendered.blocks.get(page + ".json", b""))
        assert size < 2 * 1024 * 1024
    services = {op.service for op in spec.operations}
    home = rendered.files["index.md"].decode()
    for name in services:
        assert f"[{name}](services/{name}/index.md)" in home


def test_sdk_names_match_the_generated_client() -> None:
    names = ["listCourses", "getHTTPStatus", "courseId", "user-id", "2fa", "class", "close", "x"]
    for name in names:
        assert snake_case(name) == codegen_snake(name), name
