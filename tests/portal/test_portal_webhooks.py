"""Webhooks (top-level ``webhooks``) and callbacks in the portal: the requests the
platform sends to its clients' endpoints, documented like operations."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from portal_support import page_text

from unispec.build import load_unified
from unispec.portal.site import build_site, render_for_project

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus"

EVENTS_SPEC = """
openapi: 3.1.0
info: {title: Events, version: 1.0.0}
paths:
  /api/v1/subscriptions:
    post:
      operationId: subscribe
      summary: Subscribe to order events
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              required: [callbackUrl]
              properties:
                callbackUrl: {type: string, format: uri}
      responses:
        '201': {description: Subscribed.}
      callbacks:
        orderShipped:
          '{$request.body#/callbackUrl}':
            post:
              summary: An order left the warehouse
              requestBody:
                content:
                  application/json:
                    schema: {$ref: '#/components/schemas/Shipment'}
                    example: {orderId: ord_callback_42, carrier: DHL}
              responses:
                '204': {description: Received.}
webhooks:
  orderPaid:
    post:
      operationId: orderPaidWebhook
      summary: An order was paid
      description: Sent once per order, **after** the payment settled.
      parameters:
        - {name: X-Signature, in: header, required: true, schema: {type: string},
           description: HMAC-SHA256 of the body with your webhook secret.}
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Payment'}
            example: {orderId: ord_paid_17, amount: 1250}
      responses:
        '200': {description: Acknowledged.}
        '410': {description: Gone; stop sending.}
  orderRefunded:
    $ref: '#/components/pathItems/Refunded'
components:
  pathItems:
    Refunded:
      post:
        summary: An order was refunded
        requestBody:
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Payment'}
        responses:
          '200': {description: Acknowledged.}
  schemas:
    Payment:
      type: object
      required: [orderId, amount]
      properties:
        orderId: {type: string}
        amount: {type: integer, minimum: 0, description: Amount in cents.}
    Shipment:
      type: object
      properties:
        orderId: {type: string}
        carrier: {type: string}
"""


@pytest.fixture
def events(tmp_path: Path) -> Path:
    root = tmp_path / "events"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "events.yaml").write_text(textwrap.dedent(EVENTS_SPEC))
    (root / "unispec.yaml").write_text(
        "info: {title: Shop, version: '1'}\nservices:\n  events: {spec: specs/events.yaml}\n"
    )
    return root


def test_each_webhook_gets_a_page_with_payload_headers_and_responses(events: Path) -> None:
    r = render_for_project(load_unified(events), events)
    titles = [next(iter(item)) for item in r.nav]
    assert titles[titles.index("API reference") + 1] == "Webhooks"
    hooks_nav = r.nav[titles.index("Webhooks")]["Webhooks"]
    assert hooks_nav == [
        "webhooks/index.md",
        {"An order was paid": "webhooks/orderPaid.md"},
        {"An order was refunded": "webhooks/orderRefunded.md"},  # via components/pathItems
    ]
    index = page_text(r, "webhooks/index.md")
    assert "2 webhooks" in index
    assert 'href="orderPaid.html"' in index and 'href="orderRefunded.html"' in index
    paid = page_text(r, "webhooks/orderPaid.md")
    assert "webhook `orderPaid`" in paid and "operationId `orderPaidWebhook`" in paid
    assert "service [events](../services/events/index.md)" in paid
    assert "**after** the payment settled" in paid
    assert "X-Signature" in paid and "HMAC-SHA256" in paid  # header parameter table
    assert "ord_paid_17" in paid  # the spec's own payload example
    assert "Amount in cents." in paid  # the payload schema
    assert "### 200" in paid and "### 410" in paid and "Gone; stop sending." in paid
    refunded = page_text(r, "webhooks/orderRefunded.md")
    assert "Amount in cents." in refunded and "orderId" in refunded  # synthesized payload
    assert "synthesized" in refunded
    home = page_text(r, "index.md")
    assert "**2 webhooks**" in home and "(webhooks/index.md)" in home


def test_callbacks_are_shown_on_their_operation(events: Path) -> None:
    r = render_for_project(load_unified(events), events)
    page = page_text(r, "services/events/subscribe.md")
    assert "## Callbacks { #callbacks }" in page
    assert "### orderShipped { #callback-orderShipped-post data-search-exclude }" in page
    assert "`{$request.body#/callbackUrl}`" in page
    assert "An order left the warehouse" in page and "ord_callback_42" in page
    assert "Received." in page  # the responses the client's endpoint should give
    # An operation without callbacks has no such section.
    assert load_unified(events).operations[0].operation_id == "subscribe"


def test_no_webhooks_no_webhook_pages(project: Path) -> None:
    r = render_for_project(load_unified(project), project)
    assert not any(p.startswith("webhooks/") for p in r.files)
    assert "Webhooks" not in [next(iter(item)) for item in r.nav]
    assert "webhook" not in page_text(r, "index.md")


def test_webhook_pages_build_into_the_site_and_search(events: Path) -> None:
    build_site(load_unified(events), events)
    site = events / "site"
    html = (site / "webhooks/orderPaid.html").read_text()
    assert "unispec:block:" not in html and "ord_paid_17" in html
    assert (site / "webhooks/index.html").is_file()
    docs = json.loads((site / "search/search_index.json").read_text())["docs"]
    assert any(d["location"] == "webhooks/orderPaid.html" for d in docs)


def test_adyen_webhook_only_document_renders_every_webhook(tmp_path: Path) -> None:
    """A real webhook-only document (3.1, no paths): one page per webhook."""
    source = CORPUS / "adyen/json/BalancePlatformConfigurationNotification-v2.json"
    root = tmp_path / "adyen"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / source.name).write_bytes(source.read_bytes())
    (root / "unispec.yaml").write_text(
        f"info: {{title: Adyen, version: '1'}}\nservices:\n  notifications: "
        f"{{spec: specs/{source.name}}}\n"
    )
    doc = json.loads(source.read_text())
    expected = sum(1 for item in doc["webhooks"].values() for m in item if m == "post")
    r = render_for_project(load_unified(root), root)
    pages = [p for p in r.files if p.startswith("webhooks/") and p != "webhooks/index.md"]
    assert len(pages) == expected == 26
    created = page_text(r, "webhooks/balancePlatform-accountHolder-created.md")
    assert "Account holder created" in created and "## Payload" in created
    assert "accountHolder" in created


def test_many_webhooks_are_linked_from_their_index_not_from_every_page(
    tmp_path: Path,
) -> None:
    """Material renders the navigation into every page: past NAV_OPERATIONS_LIMIT the
    webhooks are reached through their index (like operations through services)."""
    from unispec.portal.render import NAV_OPERATIONS_LIMIT

    hook = {"post": {"requestBody": {"content": {"application/json": {"schema": {}}}}}}
    count = NAV_OPERATIONS_LIMIT + 1
    spec = {
        "openapi": "3.1.0",
        "info": {"title": "Hooks", "version": "1"},
        "webhooks": {f"event{i:03d}": hook for i in range(count)},
    }
    root = tmp_path / "many"
    (root / "specs").mkdir(parents=True)
    (root / "specs" / "hooks.json").write_text(json.dumps(spec))
    (root / "unispec.yaml").write_text(
        "info: {title: Hooks, version: '1'}\nservices:\n  hooks: {spec: specs/hooks.json}\n"
    )
    r = render_for_project(load_unified(root), root)
    titles = [next(iter(item)) for item in r.nav]
    assert r.nav[titles.index("Webhooks")]["Webhooks"] == ["webhooks/index.md"]
    assert sum(p.startswith("webhooks/event") for p in r.files) == count
    assert f"{count} webhooks" in page_text(r, "webhooks/index.md")
