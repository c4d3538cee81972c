"""Benchmark: `unispec build --only contract` vs `redocly join` on a synthetic 100-service platform.

Generates 100 service documents (40,000 operations, 20,000 component schemas,
about 20 MB of JSON) with deliberately identical (`Error`, `Pagination`) and
conflicting (`Money`, `Address`) component names, then times, alternating in one
run on the same inputs:

- `unispec build --only contract` with the validation cache off (load + validate
  + merge + emit of openapi.yaml/json and errors.json: the issue's benchmark);
- the same with the cache warm (what a developer re-running sees);
- `redocly join` (npm @redocly/cli, installed into bench/.work/node when missing),
  which only joins (no validation) and needs `--prefix-components-with-info-prop`
  to get past the conflicting names.

Code generation (`generated/models.py`, datamodel-code-generator) is not part of
the contract build and is much slower on a contract this size; `--models` times
`unispec build --only models` once, separately.

Reports the median wall time and peak RSS of the repetitions, and the ratios.

    .venv/bin/python bench/merge.py [--services 100] [--ops 400] [--schemas 200] [--reps 3]
                                    [--no-redocly] [--models]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
NODE = WORK / "node"


def _schema(i: int, j: int) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["id", "name"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "count": {"type": "integer", "minimum": 0},
            "price": {"$ref": "#/components/schemas/Money"},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 20},
            "createdAt": {"type": "string", "format": "date-time"},
            "owner": {"$ref": f"#/components/schemas/S{i}Thing{(j + 1) % 200}"},
        },
    }


def service_document(i: int, ops: int, schemas: int) -> dict[str, Any]:
    comps: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["success", "error"],
            "properties": {
                "success": {"type": "boolean"},
                "error": {"type": "object", "properties": {"code": {"type": "string"}}},
            },
        },
        "Pagination": {
            "type": "object",
            "properties": {"nextCursor": {"type": "string"}, "hasMore": {"type": "boolean"}},
        },
        # Two variants across the fleet: half the services agree on each.
        "Money": {
            "type": "object",
            "properties": {
                "amount": {"type": "integer"} if i % 2 else {"type": "string"},
                "currency": {"type": "string", "minLength": 3, "maxLength": 3},
            },
        },
        "Address": {
            "type": "object",
            "properties": {"line": {"type": "string"}, "v": {"enum": [i % 3]}},
        },
    }
    for j in range(schemas - len(comps)):
        comps[f"S{i}Thing{j}"] = _schema(i, j)
    # owner refs must resolve: keep them inside the generated range
    n_things = schemas - 4
    for j in range(n_things):
        comps[f"S{i}Thing{j}"]["properties"]["owner"]["$ref"] = (
            f"#/components/schemas/S{i}Thing{(j + 1) % n_things}"
        )
    paths: dict[str, Any] = {}
    per_path = 4
    for k in range(ops // per_path):
        thing = f"#/components/schemas/S{i}Thing{k % n_things}"
        error = {
            "description": "not found",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        ok = {
            "description": "ok",
            "content": {"application/json": {"schema": {"$ref": thing}}},
        }
        id_param = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
        body = {"required": True, "content": {"application/json": {"schema": {"$ref": thing}}}}
        paths[f"/svc{i}/res{k}"] = {
            "get": {
                "operationId": f"s{i}List{k}",
                "summary": "List",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100}}
                ],
                "responses": {"200": ok, "404": error},
            },
            "post": {
                "operationId": f"s{i}Create{k}",
                "summary": "Create",
                "requestBody": body,
                "responses": {"201": ok, "404": error},
            },
        }
        paths[f"/svc{i}/res{k}/{{id}}"] = {
            "get": {
                "operationId": f"s{i}Get{k}",
                "summary": "Get",
                "parameters": [id_param],
                "responses": {"200": ok, "404": error},
            },
            "delete": {
                "operationId": f"s{i}Delete{k}",
                "summary": "Delete",
                "parameters": [id_param],
                "responses": {"204": {"description": "gone"}, "404": error},
            },
        }
    return {
        # redocly join refuses mixed versions, so both tools get 3.1 everywhere.
        "openapi": "3.1.0",
        "info": {"title": f"Service {i}", "version": "1.0.0"},
        "paths": paths,
        "components": {"schemas": comps},
    }


def generate(folder: Path, services: int, ops: int, schemas: int) -> list[Path]:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "specs").mkdir(parents=True)
    files = []
    config_services = {}
    for i in range(services):
        path = folder / "specs" / f"svc{i:03d}.json"
        path.write_text(json.dumps(service_document(i, ops, schemas)))
        files.append(path)
        config_services[f"svc{i:03d}"] = {"spec": f"specs/svc{i:03d}.json"}
    config = {"info": {"title": "Synthetic", "version": "1.0.0"}, "services": config_services}
    (folder / "unispec.yaml").write_text(json.dumps(config))
    return files


def ensure_redocly() -> Path:
    binary = NODE / "node_modules" / ".bin" / "redocly"
    if not binary.exists():
        NODE.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(NODE), "--no-audit", "--no-fund", "@redocly/cli@2"],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return binary


def measure(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, peak RSS in MB) of one command, via GNU time."""
    start = time.perf_counter()
    proc = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-2000:] + proc.stderr[-4000:])
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}")
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return wall, peak_kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--services", type=int, default=100)
    parser.add_argument("--ops", type=int, default=400)
    parser.add_argument("--schemas", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-redocly", action="store_true")
    parser.add_argument(
        "--models", action="store_true", help="also time `build --only models` once (slow)"
    )
    args = parser.parse_args()

    folder = WORK / "merge"
    files = generate(folder, args.services, args.ops, args.schemas)
    print(f"load average before: {os.getloadavg()[0]:.1f} (shared 2 cores: compare ratios)")
    size = sum(f.stat().st_size for f in files) / 1e6
    print(
        f"inputs: {args.services} services, {args.services * args.ops} operations, "
        f"{args.services * args.schemas} schemas, {size:.1f} MB JSON"
    )
    unispec = str(ROOT / ".venv" / "bin" / "unispec")
    redocly = None if args.no_redocly else ensure_redocly()
    no_cache, cached = (
        "unispec build --only contract (no cache)",
        "unispec build --only contract (cached)",
    )
    rows: dict[str, list[tuple[float, float]]] = {no_cache: [], cached: []}
    if redocly:
        rows["redocly join"] = []
    build = [unispec, "build", "--project", str(folder), "--quiet", "--only", "contract"]
    for _ in range(args.reps):
        shutil.rmtree(folder / ".unispec-cache", ignore_errors=True)
        rows[no_cache].append(measure(build, {"UNISPEC_NO_CACHE": "1"}))
        if redocly:
            out = folder / "joined.yaml"
            rows["redocly join"].append(
                measure(
                    [
                        str(redocly),
                        "join",
                        *[str(f) for f in files],
                        "--prefix-components-with-info-prop",
                        "title",
                        "-o",
                        str(out),
                    ]
                )
            )
        measure(build)  # warm the cache
        rows[cached].append(measure(build))
    if args.models:
        models = [unispec, "build", "--project", str(folder), "--quiet", "--only", "models"]
        rows["unispec build --only models (codegen, 1 run)"] = [measure(models)]
    print("\n| command | median s | peak RSS MB | runs (s) |\n|---|---:|---:|---|")
    medians = {}
    for name, runs in rows.items():
        wall = statistics.median(r[0] for r in runs)
        rss = statistics.median(r[1] for r in runs)
        medians[name] = (wall, rss)
        print(f"| {name} | {wall:.2f} | {rss:.0f} | {', '.join(f'{r[0]:.2f}' for r in runs)} |")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    digest = hashlib.sha256((folder / "generated" / "openapi.json").read_bytes()).hexdigest()
    print(f"sha256 generated/openapi.json: {digest}")
    if "redocly join" in medians:
        base = medians["redocly join"]
        for name in (no_cache, cached):
            wall, rss = medians[name]
            speed, memory = base[0] / wall, rss / base[1]
            print(f"{name}: {speed:.2f}x redocly's speed, {memory:.2f}x its peak memory")


if __name__ == "__main__":
    main()
