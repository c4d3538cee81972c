"""``unispec.yaml`` -> frozen settings.

Only the parts every stage needs are typed here (services, info, servers);
sections owned by one consumer (``gateway``, ``portal``, ``fuzz``) are kept
raw and validated by that consumer, so adding a gateway option never touches
the core.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unispec import yamlio
from unispec.errors import ConfigError, Problem
from unispec.model import ServiceConfig, Source

CONFIG_FILE = "unispec.yaml"
_NAME_RE = re.compile(r"^[a-z][a-z0-9_-]*$")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_KNOWN_TOP = {"info", "servers", "services", "gateway", "portal", "fuzz", "merge", "lint", "diff"}
_KNOWN_SERVICE = {
    "spec",
    "upstream",
    "path_prefix",
    "operation_id_prefix",
    "timeouts",
    "enabled",
    "title",
}


@dataclass(frozen=True)
class ProjectConfig:
    """The whole of unispec.yaml, with paths made relative to ``root``."""

    root: Path
    info: dict[str, Any]
    servers: list[dict[str, Any]]
    services: tuple[ServiceConfig, ...]
    gateway: Mapping[str, Any] = field(default_factory=dict)
    portal: Mapping[str, Any] = field(default_factory=dict)
    fuzz: Mapping[str, Any] = field(default_factory=dict)
    merge: Mapping[str, Any] = field(default_factory=dict)
    lint: Mapping[str, Any] = field(default_factory=dict)

    def service(self, name: str) -> ServiceConfig:
        for svc in self.services:
            if svc.name == name:
                return svc
        raise ConfigError(f"{CONFIG_FILE}: no service named {name!r}")


def _expand_env(value: Any, env: Mapping[str, str]) -> Any:
    """``${VAR}`` / ``${VAR:-default}`` in strings, so secrets stay out of the file."""
    if isinstance(value, str):
        return _ENV_RE.sub(lambda m: env.get(m.group(1), m.group(2) or ""), value)
    if isinstance(value, dict):
        return {k: _expand_env(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env) for v in value]
    return value


def find_project(start: Path | None = None) -> Path:
    """The folder holding unispec.yaml: ``start`` itself or its nearest parent."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_FILE).is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_FILE} in {here} or its parents; run unispec from a project folder "
        "or pass --project DIR"
    )


def parse_config(
    data: Any, root: Path, env: Mapping[str, str] | None = None, file: str = CONFIG_FILE
) -> ProjectConfig:
    """Validate the parsed YAML; every problem is collected before raising."""
    env = os.environ if env is None else env
    problems: list[Problem] = []

    def bad(pointer: str, message: str) -> None:
        problems.append(Problem(Source(file, pointer), message))

    if not isinstance(data, dict):
        raise ConfigError(f"{file}: expected a mapping at the top level, got {type(data).__name__}")
    data = _expand_env(data, env)
    for key in sorted(set(data) - _KNOWN_TOP):
        bad(f"/{key}", f"unknown key {key!r} (known: {', '.join(sorted(_KNOWN_TOP))})")

    info = data.get("info") or {}
    if not isinstance(info, dict):
        bad("/info", "must be a mapping like {title: My API, version: 1.0.0}")
        info = {}
    info = {"title": "Unified API", "version": "0.0.0", **info}
    servers = data.get("servers") or []
    if not isinstance(servers, list) or not all(
        isinstance(s, dict) and isinstance(s.get("url"), str) for s in servers
    ):
        bad("/servers", "must be a list of {url: ..., description: ...}")
        servers = []

    raw_services = data.get("services")
    services: list[ServiceConfig] = []
    if not isinstance(raw_services, dict) or not raw_services:
        bad("/services", "required: a mapping of service name -> {spec: path/to/openapi.yaml}")
        raw_services = {}
    for name, raw in raw_services.items():
        ptr = f"/services/{name}"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            bad(
                ptr,
                "service names are lower-case letters, digits, '-' or '_', starting with a letter",
            )
            continue
        if not isinstance(raw, dict):
            bad(ptr, "must be a mapping with at least `spec: path/to/openapi.yaml`")
            continue
        for key in sorted(set(raw) - _KNOWN_SERVICE):
            bad(f"{ptr}/{key}", f"unknown key {key!r} (known: {', '.join(sorted(_KNOWN_SERVICE))})")
        spec = raw.get("spec")
        if not isinstance(spec, str) or not spec:
            bad(f"{ptr}/spec", "required: the path of the service's OpenAPI document")
            continue
        spec_path = Path(spec)
        if spec_path.is_absolute():
            try:
                spec = spec_path.resolve().relative_to(root.resolve()).as_posix()
            except ValueError:
                spec = spec_path.as_posix()
        elif not (root / spec).is_file():
            bad(f"{ptr}/spec", f"file not found: {spec}")
        upstream = raw.get("upstream")
        force_mock = upstream == "mock"
        if upstream is None or force_mock:
            upstreams: tuple[str, ...] = ()
        elif isinstance(upstream, str):
            upstreams = (upstream,)
        elif isinstance(upstream, list) and all(isinstance(u, str) for u in upstream):
            upstreams = tuple(upstream)
        else:
            bad(f"{ptr}/upstream", "must be a URL, a list of URLs, or `mock`")
            upstreams = ()
        for i, url in enumerate(upstreams):
            if not re.match(r"^https?://[^/\s]+", url):
                bad(f"{ptr}/upstream/{i}", f"not an http(s) URL: {url!r}")
        timeouts = {"connect": 2.0, "read": 30.0}
        raw_t = raw.get("timeouts") or {}
        if not isinstance(raw_t, dict):
            bad(f"{ptr}/timeouts", "must be a mapping like {connect: 2, read: 30}")
        else:
            for key, value in raw_t.items():
                if key not in ("connect", "read", "write", "pool", "total"):
                    bad(
                        f"{ptr}/timeouts/{key}", "known timeouts: connect, read, write, pool, total"
                    )
                elif not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                    bad(f"{ptr}/timeouts/{key}", "must be a positive number of seconds")
                else:
                    timeouts[key] = float(value)
        prefix = raw.get("path_prefix", "") or ""
        if not isinstance(prefix, str) or (prefix and not prefix.startswith("/")):
            bad(f"{ptr}/path_prefix", "must start with '/' (e.g. /billing)")
            prefix = ""
        op_prefix = raw.get("operation_id_prefix", "") or ""
        if not isinstance(op_prefix, str):
            bad(f"{ptr}/operation_id_prefix", "must be a string")
            op_prefix = ""
        enabled = raw.get("enabled", True)
        if not isinstance(enabled, bool):
            bad(f"{ptr}/enabled", "must be true or false")
            enabled = True
        services.append(
            ServiceConfig(
                name=name,
                spec=Path(spec).as_posix(),
                upstreams=upstreams,
                path_prefix=prefix.rstrip("/"),
                operation_id_prefix=op_prefix,
                timeouts=timeouts,
                enabled=enabled,
                force_mock=force_mock,
            )
        )

    # "pets-api" and "pets_api" both become PetsApi_<Name> for namespaced components and
    # client.pets_api / PetsApiService in the client: one would silently replace the other.
    spelled: dict[str, str] = {}
    for svc in sorted(services, key=lambda s: s.name):
        key = re.sub(r"[-_]+", "_", svc.name).strip("_")
        other = spelled.setdefault(key, svc.name)
        if other != svc.name:
            bad(
                f"/services/{svc.name}",
                f"differs from service {other!r} only in '-'/'_' separators; both would get "
                "the same generated names (component prefix, client attribute): rename one",
            )

    sections: dict[str, Mapping[str, Any]] = {}
    for key in ("gateway", "portal", "fuzz", "merge", "lint"):
        value = data.get(key) or {}
        if not isinstance(value, dict):
            bad(f"/{key}", "must be a mapping")
            value = {}
        sections[key] = value

    if problems:
        raise ConfigError(f"{file} is invalid ({len(problems)} problem(s)):", problems)
    return ProjectConfig(
        root=root,
        info=info,
        servers=servers,
        services=tuple(sorted(services, key=lambda s: s.name)),
        gateway=sections["gateway"],
        portal=sections["portal"],
        fuzz=sections["fuzz"],
        merge=sections["merge"],
        lint=sections["lint"],
    )


def load_config(
    project_dir: Path | None = None, env: Mapping[str, str] | None = None
) -> ProjectConfig:
    """Read ``unispec.yaml`` from ``project_dir`` (or find it upwards from the cwd)."""
    root = find_project(project_dir) if project_dir is None else Path(project_dir).resolve()
    path = root / CONFIG_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: not found; a project needs a {CONFIG_FILE} (see README)")
    try:
        data = yamlio.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{CONFIG_FILE}:{mark.line + 1}" if mark is not None else CONFIG_FILE
        raise ConfigError(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, root, env)
