"""Time ``unispec diff`` on two versions of the Stripe document (4 MiB, circular schemas).

The revision is made by a scripted set of edits (breaking and not) on a deep
copy of the base, so the benchmark needs nothing but the shared corpus. Load
(YAML parse) time is reported apart from diff time; medians of N runs.

    .venv/bin/python bench/diff.py [--runs 5]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from unispec.diff import diff_documents

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
STRIPE = CORPUS / "stripe" / "openapi" / "spec3.yaml"


CACHE = Path(__file__).resolve().parent / ".work"


def load(path: Path = STRIPE) -> dict[str, Any]:
    """Parse the document; a JSON copy in bench/.work/ (git-ignored) makes reruns fast."""
    cached = CACHE / (path.stem + ".json")
    if cached.is_file() and cached.stat().st_mtime >= path.stat().st_mtime:
        data = json.loads(cached.read_bytes())
        assert isinstance(data, dict)
        return data
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with path.open("rb") as fh:
        doc = yaml.load(fh, Loader=loader)
    assert isinstance(doc, dict)
    try:
        CACHE.mkdir(exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(doc, default=str), encoding="utf-8")
        tmp.replace(cached)
    except OSError:
        pass
    return doc


def edit(base: dict[str, Any], *, in_place: bool = False) -> dict[str, Any]:
    """A realistic release: removals, new required inputs, shared-schema changes, additions."""
    rev = base if in_place else copy.deepcopy(base)
    paths = rev["paths"]
    schemas = rev["components"]["schemas"]
    # 1. remove an operation and a whole path
    del paths["/v1/customers/{customer}"]["delete"]
    victim = sorted(p for p in paths if p.startswith("/v1/radar/"))[0]
    del paths[victim]
    # 2. a shared schema used by many operations changes (customer is in the big cycle)
    customer = schemas["customer"]
    customer["properties"].pop("balance", None)
    customer["properties"]["loyalty_tier"] = {"type": "string", "enum": ["gold", "silver"]}
    customer["required"] = sorted({*customer.get("required", []), "loyalty_tier"})
    # 3. an enum loses a value and a string gets shorter
    charge = schemas["charge"]["properties"]
    if "status" in charge and "enum" in charge["status"]:
        charge["status"]["enum"] = charge["status"]["enum"][:-1]
    # 4. a new required query parameter on a list operation
    paths["/v1/charges"]["get"].setdefault("parameters", []).append(
        {"name": "region", "in": "query", "required": True, "schema": {"type": "string"}}
    )
    # 5. a request body property becomes required, another gets a maxLength
    body = paths["/v1/customers"]["post"]["requestBody"]["content"][
        "application/x-www-form-urlencoded"
    ]["schema"]
    body.setdefault("required", []).append("email")
    body["properties"]["description"]["maxLength"] = 100
    # 6. a response status disappears, an endpoint is added, an endpoint is deprecated
    del paths["/v1/balance"]["get"]["responses"]["default"]
    paths["/v1/loyalty"] = {"get": copy.deepcopy(paths["/v1/balance"]["get"])}
    paths["/v1/balance"]["get"]["deprecated"] = True
    # 7. path parameter renamed (not a change)
    old = "/v1/invoices/{invoice}"
    item = paths.pop(old)
    for op in item.values():
        for param in op.get("parameters", []) if isinstance(op, dict) else []:
            if param.get("in") == "path" and param.get("name") == "invoice":
                param["name"] = "invoice_id"
    paths[old.replace("{invoice}", "{invoice_id}")] = item
    return rev


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    t0 = time.perf_counter()
    base = load()
    t_load = time.perf_counter() - t0
    rev = edit(base)
    times = []
    cpu = []
    n = 0
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        report = diff_documents(base, rev)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
        n = len(report.findings)
    same = []
    for _ in range(args.runs):
        t = time.perf_counter()
        diff_documents(base, base)
        same.append(time.perf_counter() - t)
    print(f"stripe load (CSafeLoader): {t_load:.2f} s")
    print(
        f"diff base vs edited revision: median {statistics.median(times):.3f} s "
        f"(min {min(times):.3f}, max {max(times):.3f}, runs {args.runs}), {n} findings"
    )
    print(f"diff base vs edited revision: median CPU {statistics.median(cpu):.3f} s")
    print(f"diff base vs itself: median {statistics.median(same):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
