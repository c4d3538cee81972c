"""The demo portal in headless Chromium, served by a live demo gateway.

Every page loads with no request leaving 127.0.0.1; search finds an operation;
its page shows an example and its errors table; the try-it console sends a
request through the gateway with a minted token and gets a 2xx.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from unispec.tokens import mint_token

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SECRET = "portal-browser-tests-secret-0123456789"


@dataclass
class Gateway:
    url: str
    token: str


@pytest.fixture(scope="module")
def gateway(demo_site: Path) -> Iterator[Gateway]:
    """``unispec serve`` on the demo copy (which holds the built site), always stopped."""
    env = {**os.environ, "UNISPEC_JWT_SECRET": SECRET, "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).with_name("unispec")
    proc = subprocess.Popen(
        [str(exe), "serve", "--project", str(demo_site), "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    url = None
    deadline = time.monotonic() + 60
    try:
        assert proc.stdout is not None
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            ready, _, _ = select.select([proc.stdout], [], [], 1.0)
            if ready:
                line = proc.stdout.readline()
                lines.append(line)
                match = re.search(r"gateway on (http://127\.0\.0\.1:\d+)", line)
                if match:
                    url = match.group(1)
        assert url is not None, "gateway did not start:\n" + "".join(lines[-20:])
        stream = proc.stdout
        threading.Thread(target=lambda: [None for _ in stream], daemon=True).start()
        token = mint_token(SECRET, "7c9e6679-7425-40de-944b-e07fc1f90ae7", ["admin"], "enterprise")
        yield Gateway(url, token)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Guard:
    """Fails the test on any request to a host other than 127.0.0.1 (and on JS errors)."""

    def __init__(self, page: Page) -> None:
        self.foreign: list[str] = []
        self.errors: list[str] = []
        page.route("**/*", self.route)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    def route(self, route: Route, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        if request.url.startswith(("data:", "blob:")) or host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            self.foreign.append(request.url)
            route.abort()


def _page(browser: Browser) -> tuple[Page, Guard]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page, Guard(page)


def search(page: Page, query: str) -> None:
    """Type like a user: Material searches on key events, once its index is loaded."""
    box = page.locator("input.md-search__input")
    box.click()
    page.wait_for_function("() => document.querySelector('.md-search-result__meta') !== null")
    page.keyboard.type(query, delay=20)


def test_every_page_loads_offline(
    browser: Browser, gateway: Gateway, demo_site: Path, tmp_path: Path
) -> None:
    site = demo_site / "site"
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert len(pages) > 50
    page, guard = _page(browser)
    seen_dirs: set[str] = set()
    for rel in pages:
        # Operation pages share one template: the first of each service waits for
        # "load" (every subresource), the others for DOMContentLoaded to save time;
        # the guard stays on throughout, so late requests are still caught.
        folder = rel.rsplit("/", 1)[0] if rel.startswith("services/") else rel
        wait = "domcontentloaded" if folder in seen_dirs else "load"
        seen_dirs.add(folder)
        response = page.goto(f"{gateway.url}/docs/{rel}", wait_until=wait)
        assert response is not None and response.status == 200, rel
    page.goto(f"{gateway.url}/docs/index.html", wait_until="load")
    page.screenshot(path=str(tmp_path / "home.png"))
    assert guard.foreign == [], guard.foreign[:10]
    assert guard.errors == [], guard.errors[:10]
    page.context.close()


def test_search_finds_operation_and_page_shows_example_and_errors(
    browser: Browser, gateway: Gateway, tmp_path: Path
) -> None:
    page, guard = _page(browser)
    page.goto(f"{gateway.url}/docs/index.html", wait_until="load")
    search(page, "listCourses")
    # Material searches on every key stroke: results of a prefix ("listCourse", which
    # also matches listCourseEnrollments) can show before the whole word's. Wait for
    # the operation to be listed, then check it ranks at the top.
    hit = page.locator('.md-search-result__item a[href*="/listCourses.html"]').first
    hit.wait_for()
    hrefs = page.locator(".md-search-result__item a").evaluate_all(
        "els => els.slice(0, 3).map(e => e.getAttribute('href') || '')"
    )
    assert any("/listCourses.html" in href for href in hrefs), hrefs
    hit.click()
    page.wait_for_url(re.compile(r"listCourses\.html"))
    page.screenshot(path=str(tmp_path / "operation.png"), full_page=False)
    assert page.locator("h1").inner_text().strip() != ""
    assert page.locator("code", has_text="/api/v1/courses").count() > 0
    assert page.locator("text=Example").count() > 0
    assert page.locator("pre code.language-json").count() > 0
    errors = page.locator(".op-errors table")
    assert errors.count() == 1 and "UNAUTHORIZED" in errors.inner_text()
    # the errors table deep-links into the catalog
    errors.locator("a", has_text="RATE_LIMIT_EXCEEDED").click()
    page.wait_for_url(re.compile(r"errors\.html#RATE_LIMIT_EXCEEDED"))
    assert page.locator("#RATE_LIMIT_EXCEEDED").is_visible()
    # search by path words and by summary words too
    for query, expected in (
        ("api v1 courses lessons", "Lessons"),
        ("create course", "createCourse"),
    ):
        page.goto(f"{gateway.url}/docs/index.html", wait_until="load")
        search(page, query)
        page.locator(".md-search-result__item").first.wait_for()
        assert expected in page.locator(".md-search-result").inner_text() + "".join(
            page.locator(".md-search-result__item a").evaluate_all("els => els.map(e => e.href)")
        )
    assert guard.foreign == [] and guard.errors == []
    page.context.close()


def test_try_it_sends_a_request_through_the_gateway(
    browser: Browser, gateway: Gateway, tmp_path: Path
) -> None:
    page, guard = _page(browser)
    page.goto(f"{gateway.url}/docs/try-it.html#listCourses", wait_until="load")
    page.locator("#swagger-ui[data-ready='true']").wait_for()
    page.fill("#tryit-token", gateway.token)
    page.click("#tryit-apply")
    block = page.locator("#operations-courses-listCourses, [id$='-listCourses']").first
    block.wait_for()
    if not block.locator(".try-out__btn").is_visible():
        block.locator(".opblock-summary").first.click()
    block.locator(".try-out__btn").click()
    with page.expect_response(lambda r: "/api/v1/courses" in r.url) as info:
        block.locator("button.execute").click()
    response = info.value
    page.screenshot(path=str(tmp_path / "try-it.png"), full_page=False)
    assert 200 <= response.status < 300, response.status
    assert response.request.headers.get("authorization") == f"Bearer {gateway.token}"
    assert urlsplit(response.url).netloc == urlsplit(gateway.url).netloc
    assert guard.foreign == [] and guard.errors == []
    page.context.close()


def _samples(demo_site: Path, page: str) -> dict[str, str]:
    """The code samples of a rendered operation page, by tab name."""
    import html
    import json as _json

    blocks = _json.loads((demo_site / "build/portal/blocks" / (page + ".json")).read_text())
    out = {}
    for block in blocks:
        for match in re.finditer(
            r'data-tab="([^"]+)".*?<code class="language-\w+">(.*?)</code>', block, re.S
        ):
            out[html.unescape(match.group(1))] = html.unescape(match.group(2))
    return out


def test_code_samples_run_against_the_gateway(
    demo_site: Path, gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    """curl and Python (httpx) samples of every GET and JSON-body operation, as written.

    curl runs as a real process; the Python sample is executed in this interpreter
    (same code, no interpreter start-up per operation).
    """
    import contextlib
    import io
    import json as _json

    from unispec.build import load_unified

    spec = load_unified(demo_site)
    env = {**os.environ, "TOKEN": gateway.token}
    failures: list[str] = []
    checked = 0
    for op in spec.operations:
        page = f"services/{op.service}/{op.operation_id}.md"
        node = spec.document["paths"][op.path][op.method]
        content = (node.get("requestBody") or {}).get("content") or {}
        if op.method != "get" and "application/json" not in content:
            continue
        if "logout" in op.operation_id.lower() or "revoke" in op.operation_id.lower():
            continue  # would end the session other samples use
        samples = _samples(demo_site, page)
        curl = samples["curl"].replace("http://127.0.0.1:8080", gateway.url)
        curl = curl.replace("curl -sS", "curl -sS -o /dev/null -w '%{http_code}'", 1)
        result = subprocess.run(
            ["bash", "-c", curl], env=env, capture_output=True, text=True, timeout=30
        )
        if not result.stdout.strip().startswith("2"):
            failures.append(f"curl {op.key}: {result.stdout} {result.stderr[-200:]}")
        code = samples["Python (httpx)"].replace("http://127.0.0.1:8080", gateway.url)
        monkeypatch.setenv("TOKEN", gateway.token)
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            exec(compile(code, page, "exec"), {"__name__": "__sample__"})
        if not printed.getvalue().strip().startswith("2"):
            failures.append(f"python {op.key}: {printed.getvalue()[:200]}")
        checked += 1
    assert checked >= 20
    assert failures == [], _json.dumps(failures, indent=1)
