"""The pure renderer: pages, content, links, determinism (no mkdocs here)."""

from __future__ import annotations

import json
from pathlib import Path

from portal_support import page_text

from unispec.build import load_unified
from unispec.portal.render import RenderedPortal
from unispec.portal.site import render_for_project, write_docs


def _render(project: Path) -> RenderedPortal:
    return render_for_project(load_unified(project), project)


def test_pages_exist_and_nav_is_by_service(project: Path) -> None:
    r = _render(project)
    for page in (
        "index.md",
        "authentication.md",
        "rate-limits.md",
        "errors.md",
        "schemas/index.md",
        "changelog.md",
        "try-it.md",
        "services/auth/index.md",
        "services/auth/login.md",
        "services/shop/index.md",
        "services/shop/createPet.md",
        "services/shop/getCategory.md",
        "downloads/openapi.json",
        "downloads/openapi.yaml",
        "assets/swagger-ui/swagger-ui-bundle.js",
        "assets/portal/try-it.js",
    ):
        assert page in r.files, page
    titles = [next(iter(item)) for item in r.nav]
    assert titles == ["Home", "Guides", "API reference", "Schemas", "Changelog", "Try it"]
    services = [next(iter(s)) for s in r.nav[2]["API reference"]]
    assert services == ["auth", "shop"]


def test_render_is_deterministic(project: Path) -> None:
    a, b = _render(project), _render(project)
    assert a.files == b.files
    assert a.blocks == b.blocks
    assert a.nav == b.nav


def test_operation_page_content(project: Path) -> None:
    r = _render(project)
    page = page_text(r, "services/shop/createPet.md")
    # findable by operationId, method and path
    assert "`createPet`" in page and "`/api/v1/pets`" in page and ">POST<" in page
    # roles, rate limit, auth
    assert "`admin`" in page and "10 requests / 60 s per user" in page and "free 2" in page
    # oneOf with discriminator shown as alternatives, the selector value named
    assert "one of</strong>" in page and "selected by <code>petType</code>" in page
    assert "<code>petType</code> = <code>dog</code>" in page
    assert "<code>petType</code> = <code>cat</code>" in page
    # circular Category.parent rendered as a link, not nested forever
    assert "↻" in page and page.count("<code>parent</code>") < 5
    # no spec example -> synthesized one, and said so
    assert "synthesized" in page
    # errors table links to catalog anchors; gateway codes included
    assert "## Errors" in page
    assert 'href="../../errors.html#PET_EXISTS"' in page
    assert 'href="../../errors.html#RATE_LIMIT_EXCEEDED"' in page
    # code samples, runnable as written, as Material tabs
    assert 'data-tab="curl"' in page and 'data-tab="Python (httpx)"' in page
    assert 'data-tab="JavaScript (fetch)"' in page and "tabbed-set" in page
    assert "curl -sS -X POST http://127.0.0.1:8080/api/v1/pets" in page
    assert "Authorization: Bearer $TOKEN" in page
    # the description's image and unknown tag are neutralised (offline portal)
    assert "![logo]" not in page and "<img" not in page


def test_examples_from_spec_and_path_params(project: Path) -> None:
    r = _render(project)
    page = page_text(r, "services/shop/getPet.md")
    assert "Rex" in page  # the spec's own example
    assert "deprecated" in page
    assert "/api/v1/pets/3fa85f64-5717-4562-b3fc-2c963f66afa6" in page  # path param filled
    login = page_text(r, "services/auth/login.md")
    assert "none — public operation" in login
    assert "Authorization" not in login.split("## Code samples")[1]


def test_errors_page_has_anchor_per_code_and_links_back(project: Path) -> None:
    spec = load_unified(project)
    r = render_for_project(spec, project)
    errors = page_text(r, "errors.md")
    for e in spec.errors:
        assert f"### {e.code} {{ #{e.code} }}" in errors
    assert "&quot;code&quot;: &quot;PET_NOT_FOUND&quot;" in errors  # example body per code
    assert "services/shop/getPet.html" in errors  # link to the operation


def test_auth_rate_limit_schemas_changelog(project: Path) -> None:
    r = _render(project)
    auth = page_text(r, "authentication.md")
    assert "<svg" in auth and "POST /api/v1/auth/login" in auth and "/api/v1/auth/refresh" in auth
    assert "http://www.w3.org/2000/svg" in auth  # only the namespace, nothing is fetched
    rl = page_text(r, "rate-limits.md")
    assert "| `enterprise` | 300 |" in rl
    assert "[createPet]" in rl and "[login]" in rl
    assert "Retry-After" in rl and "RATE_LIMIT_EXCEEDED" in rl
    schemas = page_text(r, "schemas/index.md")
    assert "{ #schema-Category }" in schemas and "Used by operations" in schemas
    assert "No releases yet" in page_text(r, "changelog.md")
    # no SDK tab without a generated client
    assert "Python SDK" not in page_text(r, "services/shop/listPets.md")


def test_changelog_history_newest_first(project: Path) -> None:
    history = {  # the diff area's changelog/history.json format
        "format": 1,
        "releases": [
            {"version": "1.0.0", "date": "2026-01-01", "entries": []},
            {
                "version": "2.0.0",
                "date": "2026-02-01",
                "entries": [
                    {
                        "id": "api-removed",
                        "level": "ERR",
                        "operation": "DELETE /x",
                        "message": "gone",
                    },
                    {
                        "id": "endpoint-added",
                        "level": "INFO",
                        "section": "Added",
                        "service": "shop",
                        "operation": "GET /y",
                        "message": "new",
                    },
                ],
            },
        ],
    }
    (project / "changelog").mkdir()
    (project / "changelog" / "history.json").write_text(json.dumps(history))
    page = page_text(_render(project), "changelog.md")
    assert page.index("## 2.0.0") < page.index("## 1.0.0")
    assert '!!! danger "Breaking changes"' in page and "gone" in page
    assert "*Added* — `GET /y`: new" in page


def test_incremental_write_touches_only_changed_pages(project: Path) -> None:
    spec = load_unified(project)
    first, _ = write_docs(spec, project)
    assert first.written
    again, _ = write_docs(spec, project)
    assert again.written == [] and again.removed == []
    shop = project / "specs" / "shop.yaml"
    shop.write_text(shop.read_text().replace("Get a category with", "Fetch a category with"))
    changed, _ = write_docs(load_unified(project), project)
    assert "services/shop/getCategory.md" in changed.written
    assert not any(p.startswith("services/auth/") for p in changed.written)
    assert len(changed.written) <= 4  # the page, its service index, nav-bearing pages at most
