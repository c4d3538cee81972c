"""The built site (mkdocs-material): pages, search index, sizes, CLI, real corpus docs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from unispec.build import load_unified
from unispec.cli import app
from unispec.portal.site import build_site, render_for_project

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

MB = 1024 * 1024


def _assert_budgets(site: Path) -> None:
    pages = list(site.rglob("*.html"))
    assert pages
    for page in pages:
        assert page.stat().st_size < 2 * MB, page
    assert (site / "search" / "search_index.json").stat().st_size < 5 * MB


def test_site_builds_with_search_for_operations(project: Path) -> None:
    report = build_site(load_unified(project), project)
    site = project / "site"
    assert report.site_dir == site
    for page in (
        "index.html",
        "authentication.html",
        "rate-limits.html",
        "errors.html",
        "schemas/index.html",
        "changelog.html",
        "try-it.html",
        "services/shop/createPet.html",
        "assets/swagger-ui/swagger-ui-bundle.js",
        "downloads/openapi.json",
    ):
        assert (site / page).is_file(), page
    _assert_budgets(site)
    html = (site / "services/shop/createPet.html").read_text()
    assert "unispec:block:" not in html  # every parked block was put back
    assert 'class="schema-table"' in html and "op-errors" in html
    assert 'id="PET_EXISTS"' in (site / "errors.html").read_text()
    # offline: no font CDN, no absolute external script or stylesheet
    for page in site.rglob("*.html"):
        text = page.read_text()
        assert "fonts.googleapis" not in text and "cdn.jsdelivr" not in text and "unpkg" not in text
    index = json.loads((site / "search" / "search_index.json").read_text())
    docs = index["docs"]
    by_location = {d["location"]: d for d in docs}
    create = by_location["services/shop/createPet.html"]
    assert create["title"] == "Create a pet"
    assert "createPet" in create["text"] and "/api/v1/pets" in create["text"]
    # heavy parts (tables, code) stay out of the index
    assert not any("curl -sS" in d["text"] for d in docs if d["location"].startswith("services/"))


def test_cli_portal_build_and_bad_project(project: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["portal", "build", "--project", str(project), "--no-site"])
    assert result.exit_code == 0, result.output
    assert "pages" in result.output
    assert (project / "build/portal/docs/services/shop/getPet.md").is_file()
    (tmp_path / "empty").mkdir()
    bad = runner.invoke(app, ["portal", "build", "--project", str(tmp_path / "empty")])
    assert bad.exit_code == 2
    assert "unispec.yaml" in bad.output


def _single_spec_project(root: Path, spec: Path, name: str, title: str) -> Path:
    (root / "specs").mkdir(parents=True)
    target = root / "specs" / spec.name
    target.write_bytes(spec.read_bytes())
    (root / "unispec.yaml").write_text(
        f"info: {{title: {title}, version: '1'}}\n"
        f"services:\n  {name}: {{spec: specs/{spec.name}}}\n"
    )
    return root


def test_adyen_checkout_merged_alone_builds(tmp_path: Path) -> None:
    project = _single_spec_project(
        tmp_path / "adyen", CORPUS / "adyen/json/CheckoutService-v71.json", "checkout", "Adyen"
    )
    spec = load_unified(project)
    build_site(spec, project)
    site = project / "site"
    _assert_budgets(site)
    ops = list((site / "services" / "checkout").glob("*.html"))
    assert len(ops) == len(spec.operations) + 1  # + the service index
    payments = (site / "services/checkout/post-payments.html").read_text()
    assert "one of</strong>" in payments  # oneOf payment methods shown as alternatives


@pytest.mark.slow
def test_stripe_renders_within_budgets(tmp_path: Path) -> None:
    """Stripe (468 operations) rendered: page sizes and render time (mkdocs: see bench)."""
    project = _single_spec_project(
        tmp_path / "stripe", CORPUS / "stripe/openapi/spec3.yaml", "stripe", "Stripe"
    )
    spec = load_unified(project)
    t0 = time.process_time()
    rendered = render_for_project(spec, project)
    cpu = time.process_time() - t0
    ops = [p for p in rendered.files if p.startswith("services/stripe/")]
    assert len(ops) == 468 + 1
    for path, data in rendered.files.items():
        if path.endswith(".md"):
            blocks = rendered.blocks.get(path + ".json", b"")
            assert len(data) + len(blocks) < 2 * MB, path
    assert cpu < 60, f"render took {cpu:.1f} s of CPU"
