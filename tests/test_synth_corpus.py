"""Synthesis over every component schema of real public documents (Stripe 3.0, Adyen 3.1).

Each synthesized value must validate against its schema (Draft 2020-12 with
format checks). Stripe is OpenAPI 3.0: the *validator* gets a 3.1 view of it
(``nullable`` -> type arrays, boolean exclusive bounds -> numbers); synthesis
itself reads the document unconverted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from unispec.synth import synthesize

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
if not CORPUS.is_dir():  # the checkout may live elsewhere; the corpus sits next to it
    CORPUS = Path("/work/shared/corpus")

ADYEN = sorted((CORPUS / "adyen" / "json").glob("*.json"))
STRIPE = CORPUS / "stripe" / "openapi" / "spec3.yaml"

# Schemas no value can satisfy, so synthesis cannot either (checked by hand):
UNSATISFIABLE = {
    # format: time together with pattern "HH:mm:SS" (a literal the time cannot contain)
    ("BalancePlatformConfigurationNotification-v2.json", "AccountPayoutConfigWebhookData"),
    ("BalancePlatformConfigurationNotification-v2.json", "PayoutScheduleBANotificationRequest"),
}


def to_31(node: Any) -> Any:
    """A JSON Schema 2020-12 view of OpenAPI 3.0 schema objects (for the validator only)."""
    if isinstance(node, list):
        return [to_31(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_31(v) for k, v in node.items()}
    if out.pop("nullable", False) is True:
        if isinstance(out.get("type"), str):
            out["type"] = [out["type"], "null"]
        if isinstance(out.get("enum"), list) and None not in out["enum"]:
            out["enum"] = [*out["enum"], None]
        if any(k in out for k in ("$ref", "allOf", "anyOf", "oneOf")):
            out = {"anyOf": [out, {"type": "null"}]}
    for key, base in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(key), bool):
            flag = out.pop(key)
            if flag and base in out:
                out[key] = out.pop(base)
    return out


def check_document(document: dict[str, Any], label: str) -> tuple[int, float, list[str]]:
    components = document.get("components", {})
    if str(document.get("openapi", "")).startswith("3.0"):
        components = to_31(components)
    cls = jsonschema.Draft202012Validator
    failures: list[str] = []
    synth_seconds = 0.0
    names = list(document.get("components", {}).get("schemas", {}))
    for name in names:
        ref = {"$ref": f"#/components/schemas/{name}"}
        start = time.perf_counter()
        value = synthesize(ref, document)
        synth_seconds += time.perf_counter() - start
        json.dumps(value)  # JSON-serialisable
        errors = list(
            cls({**ref, "components": components}, format_checker=cls.FORMAT_CHECKER).iter_errors(
                value
            )
        )
        if errors and (label, name) not in UNSATISFIABLE:
            failures.append(f"{label} {name}: {errors[0].message[:200]}")
        if not errors and (label, name) in UNSATISFIABLE:
            failures.append(f"{label} {name}: now satisfiable, drop it from UNSATISFIABLE")
    return len(names), synth_seconds, failures


def test_adyen_component_schemas() -> None:
    assert len(ADYEN) == 8
    total = 0
    failures: list[str] = []
    seconds = 0.0
    for path in ADYEN:
        document = json.loads(path.read_text(encoding="utf-8"))
        count, spent, bad = check_document(document, path.name)
        total += count
        seconds += spent
        failures.extend(bad)
    print(f"adyen: {total} schemas synthesized in {seconds:.2f}s")
    assert total > 1000
    assert failures == []


@pytest.mark.slow
def test_stripe_component_schemas() -> None:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load(STRIPE.read_text(encoding="utf-8"), Loader=loader)
    count, seconds, failures = check_document(document, "stripe")
    print(f"stripe: {count} schemas synthesized in {seconds:.2f}s")
    assert count > 800
    assert failures == []
    # deterministic: the same document gives the same values
    sample = ["charge", "customer", "invoice", "account"]
    first = [synthesize({"$ref": f"#/components/schemas/{n}"}, document) for n in sample]
    synthesize({"type": "string"}, {})  # another document: synth's per-document cache is dropped
    assert first == [synthesize({"$ref": f"#/components/schemas/{n}"}, document) for n in sample]
