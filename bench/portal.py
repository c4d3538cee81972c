"""Portal benchmark: build time (demo, Stripe, a synthetic 1,500-operation contract),
rebuild after a one-service change, page/search-index sizes, and time-to-content of an
operation page in headless Chromium.

Run: ``.venv/bin/python bench/portal.py [--quick] [--skip-stripe] [--skip-synthetic]``

Every figure is printed with wall and CPU seconds (the machine is shared: CPU time is
the stable one). The baseline, built side by side in the same run, is the same portal
with its big tables and examples left inline in the markdown ("inline") instead of
parked outside it ("parked", the default), which is what makes large contracts fast.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
MB = 1024 * 1024

from unispec.build import load_unified  # noqa: E402
from unispec.portal.site import build_site, run_mkdocs, write_docs  # noqa: E402


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    out: dict[str, float] = {}
    w, c = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["wall"] = time.perf_counter() - w
        out["cpu"] = time.process_time() - c


def copy_demo(dest: Path) -> Path:
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "unispec.yaml", dest / "unispec.yaml")
    shutil.copytree(REPO / "specs", dest / "specs")
    if (REPO / "generated").is_dir():
        shutil.copytree(REPO / "generated", dest / "generated")
    return dest


def single_spec(dest: Path, spec: Path, name: str) -> Path:
    (dest / "specs").mkdir(parents=True)
    (dest / "specs" / spec.name).write_bytes(spec.read_bytes())
    (dest / "unispec.yaml").write_text(
        f"info: {{title: {name}, version: '1'}}\nservices:\n  {name}: {{spec: specs/{spec.name}}}\n"
    )
    return dest


def synthetic(dest: Path, services: int = 10, per_service: int = 150) -> Path:
    """A contract of services x per_service operations with nested, shared schemas."""
    (dest / "specs").mkdir(parents=True)
    config = ["info: {title: Synthetic, version: '1'}", "services:"]
    for s in range(services):
        name = f"svc{s:02d}"
        schemas: dict[str, Any] = {
            "Address": {
                "type": "object",
                "required": ["street", "city"],
                "properties": {
                    "street": {"type": "string", "maxLength": 120},
                    "city": {"type": "string"},
                    "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                },
            },
            "Node": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "children": {"type": "array", "items": {"$ref": "#/components/schemas/Node"}},
                },
            },
        }
        paths: dict[str, Any] = {}
        for i in range(per_service // 3):
            res = f"Item{i}"
            schemas[res] = {
                "type": "object",
                "required": ["id", "name"],
                "properties": {
                    "id": {"type": "string", "format": "uuid"},
                    "name": {"type": "string", "minLength": 1, "maxLength": 80},
                    "status": {"type": "string", "enum": ["active", "archived"]},
                    "address": {"$ref": "#/components/schemas/Address"},
                    "tree": {"$ref": "#/components/schemas/Node"},
                    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
                    "createdAt": {"type": "string", "format": "date-time"},
                },
            }
            ref = {"$ref": f"#/components/schemas/{res}"}
            ok = {
                "description": "OK",
                "content": {"application/json": {"schema": ref}},
            }
            base = f"/api/v1/{name}/items{i}"
            paths[base] = {
                "get": {
                    "operationId": f"{name}List{i}",
                    "summary": f"List items {i} of {name}",
                    "tags": [f"group{i % 5}"],
                    "parameters": [
                        {"name": "limit", "in": "query", "schema": {"type": "integer"}},
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": {
                            "description": "A page",
                            "content": {
                                "application/json": {"schema": {"type": "array", "items": ref}}
                            },
                        }
                    },
                },
                "post": {
                    "operationId": f"{name}Create{i}",
                    "summary": f"Create an item {i} in {name}",
                    "tags": [f"group{i % 5}"],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": ref}},
                    },
                    "responses": {"201": ok},
                },
            }
            paths[base + "/{id}"] = {
                "get": {
                    "operationId": f"{name}Get{i}",
                    "summary": f"Get one item {i} of {name}",
                    "tags": [f"group{i % 5}"],
                    "parameters": [
                        {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
                    ],
                    "responses": {"200": ok},
                }
            }
        doc = {
            "openapi": "3.1.0",
            "info": {"title": name, "version": "1"},
            "paths": paths,
            "components": {"schemas": schemas},
        }
        (dest / "specs" / f"{name}.json").write_text(json.dumps(doc))
        config.append(f"  {name}: {{spec: specs/{name}.json}}")
    (dest / "unispec.yaml").write_text("\n".join(config) + "\n")
    return dest


def sizes(site: Path) -> tuple[int, int, int]:
    pages = list(site.rglob("*.html"))
    biggest = max(p.stat().st_size for p in pages)
    index = (site / "search" / "search_index.json").stat().st_size
    return len(pages), biggest, index


def build_case(label: str, project: Path, park: bool = True) -> dict[str, Any]:
    with timer() as load_t:
        spec = load_unified(project)
    with timer() as t:
        report = build_site(spec, project, park_blocks=park)
    n, biggest, index = sizes(project / "site")
    row = {
        "case": label,
        "ops": len(spec.operations),
        "load_s": round(load_t["wall"], 2),
        "portal_wall_s": round(t["wall"], 2),
        "portal_cpu_s": round(t["cpu"], 2),
        "render_s": round(report.render_seconds, 2),
        "mkdocs_s": round(report.mkdocs_seconds, 2),
        "pages": n,
        "max_page_kb": round(biggest / 1024),
        "search_index_kb": round(index / 1024),
    }
    print(json.dumps(row), flush=True)
    return row


def rebuild_case(label: str, project: Path, edit: Callable[[Path], None]) -> dict[str, Any]:
    spec = load_unified(project)
    build_site(spec, project)
    edit(project)
    spec = load_unified(project)
    with timer() as t:
        report, cfg = write_docs(spec, project)
    with timer() as m:
        run_mkdocs(cfg)
    row = {
        "case": label,
        "rerender_wall_s": round(t["wall"], 2),
        "pages_rewritten": len(report.written),
        "pages_unchanged": report.unchanged,
        "mkdocs_wall_s": round(m["wall"], 2),
        "mkdocs_cpu_s": round(m["cpu"], 2),
    }
    print(json.dumps(row), flush=True)
    return row


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def time_to_content(site: Path, pages: list[str], runs: int = 5) -> dict[str, Any]:
    """Median ms until an operation page's content is on screen.

    The browser's own paint timings (first and largest contentful paint, from
    navigation start) are the figures; the Playwright-side time until the h1 is
    visible adds the driver's round trips and polling and is shown for reference.
    """
    from playwright.sync_api import sync_playwright

    handler = functools.partial(_Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    out: dict[str, Any] = {}
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium",
                args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            for rel in pages:
                samples, fcp, dom, lcps = [], [], [], []
                for i in range(runs + 1):
                    context = browser.new_context(viewport={"width": 1400, "height": 1000})
                    page = context.new_page()
                    t0 = time.perf_counter()
                    page.goto(base + rel, wait_until="commit")
                    page.locator("article h1").wait_for(state="visible", timeout=120_000)
                    ms = (time.perf_counter() - t0) * 1000
                    page.wait_for_load_state("domcontentloaded", timeout=120_000)
                    full = (time.perf_counter() - t0) * 1000
                    paint = page.evaluate(
                        "() => (performance.getEntriesByName('first-contentful-paint')[0]"
                        " || {startTime: -1}).startTime"
                    )
                    lcp = page.evaluate(
                        "() => new Promise(r => new PerformanceObserver(l => {"
                        " const e = l.getEntries(); r(e[e.length - 1].startTime); })"
                        ".observe({type: 'largest-contentful-paint', buffered: true}))"
                    )
                    context.close()
                    if i:  # the first load warms the browser's caches of the theme's assets
                        samples.append(ms)
                        fcp.append(paint)
                        dom.append(full)
                        lcps.append(lcp)
                out[rel] = {
                    "largest_contentful_paint_ms_median": round(statistics.median(lcps)),
                    "first_contentful_paint_ms_median": round(statistics.median(fcp)),
                    "playwright_h1_visible_ms_median": round(statistics.median(samples)),
                    "dom_content_loaded_ms_median": round(statistics.median(dom)),
                    "html_kb": round((site / rel).stat().st_size / 1024),
                }
            browser.close()
    finally:
        server.shutdown()
    print(json.dumps({"case": "time-to-content", **out}), flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-stripe", action="store_true")
    parser.add_argument("--skip-synthetic", action="store_true")
    parser.add_argument("--only-ttc", type=Path, help="just time-to-content on a built site")
    parser.add_argument("--ops", type=int, default=1500, help="synthetic contract size")
    args = parser.parse_args()
    if args.only_ttc:
        pages = sorted(
            p.relative_to(args.only_ttc).as_posix() for p in args.only_ttc.glob("services/*/*.html")
        )
        pages = [p for p in pages if not p.endswith("index.html")]
        biggest = max(pages, key=lambda p: (args.only_ttc / p).stat().st_size)
        time_to_content(args.only_ttc, [pages[0], biggest])
        return
    with tempfile.TemporaryDirectory(prefix="portal-bench-") as tmp:
        root = Path(tmp)
        demo = copy_demo(root / "demo")
        build_case("demo (parked)", demo)
        demo_inline = copy_demo(root / "demo-inline")
        build_case("demo (inline baseline)", demo_inline, park=False)

        def touch_chat(project: Path) -> None:
            spec = project / "specs" / "chat.yaml"
            spec.write_text(spec.read_text().replace("summary: ", "summary: Now ", 1))

        rebuild_case("demo rebuild after one chat summary edit", demo, touch_chat)
        ops = sorted((demo / "site" / "services").rglob("*.html"))
        picks = [p.relative_to(demo / "site").as_posix() for p in ops if p.name != "index.html"]
        if not args.skip_stripe:
            stripe = single_spec(root / "stripe", CORPUS / "stripe/openapi/spec3.yaml", "stripe")
            build_case("stripe (parked)", stripe)
            biggest = max(
                (
                    p
                    for p in (stripe / "site/services/stripe").glob("*.html")
                    if p.name != "index.html"
                ),
                key=lambda p: p.stat().st_size,
            )
            time_to_content(
                stripe / "site",
                ["services/stripe/GetCustomers.html", f"services/stripe/{biggest.name}"],
            )
        if not args.skip_synthetic:
            per = 150
            syn = synthetic(root / "synthetic", services=max(1, args.ops // per), per_service=per)
            build_case(f"synthetic {args.ops} ops (parked)", syn)
            syn_inline = synthetic(
                root / "synthetic-inline", services=max(1, args.ops // per), per_service=per
            )
            build_case(f"synthetic {args.ops} ops (inline baseline)", syn_inline, park=False)

            def touch_one(project: Path) -> None:
                spec = project / "specs" / "svc03.json"
                spec.write_text(spec.read_text().replace("List items 1 of", "List the items 1 of"))

            rebuild_case(f"synthetic {args.ops} rebuild after one-service edit", syn, touch_one)
        time_to_content(demo / "site", [picks[0], "services/courses/createCourse.html"])


if __name__ == "__main__":
    sys.exit(main())
