"""The data that flows through the pipeline.

Everything here is plain, immutable data so that each stage can be tested on
its own and nothing downstream can reach back into the files a stage read.
The documents themselves are ordinary ``dict`` trees (JSON-compatible); the
dataclasses are frozen so the *references* cannot change, and stages treat
the documents as read-only by convention (merge copies before it writes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JSONDict = dict[str, Any]

HTTP_METHODS: tuple[str, ...] = (
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
)

Level = Literal["error", "warning", "info"]


@dataclass(frozen=True, order=True)
class Source:
    """Where something came from, precise enough for an editor to jump to it."""

    file: str
    """Path relative to the project root, with forward slashes (never absolute)."""
    pointer: str = ""
    """JSON pointer inside that file ("" is the whole document)."""
    line: int | None = None
    """1-based line of the pointer's node, when the loader knows it."""

    def __str__(self) -> str:
        loc = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{loc}: {self.pointer or '/'}"


@dataclass(frozen=True)
class ServiceConfig:
    """One entry of ``services:`` in unispec.yaml."""

    name: str
    spec: str
    """Spec path relative to the project root."""
    upstreams: tuple[str, ...] = ()
    """Upstream base URLs; empty means "use the spec's servers, else the built-in mock"."""
    force_mock: bool = False
    """``upstream: mock``: serve from the built-in mock even if the spec declares servers."""
    path_prefix: str = ""
    operation_id_prefix: str = ""
    timeouts: Mapping[str, float] = field(default_factory=lambda: {"connect": 2.0, "read": 30.0})
    enabled: bool = True


class Locator(Protocol):
    """Maps a JSON pointer of a loaded document to where it was written."""

    def get(self, pointer: str) -> Source | None: ...


@dataclass(frozen=True)
class ServiceSpec:
    """One service's document after load: external $refs bundled, validated."""

    config: ServiceConfig
    document: JSONDict
    """The bundled document, still in its original OpenAPI version."""
    openapi_version: str
    """"3.0" or "3.1"."""
    lines: Locator
    """JSON pointer in ``document`` -> where that node was written (file and line)."""
    servers: tuple[str, ...] = ()
    """URLs of the document's root ``servers`` (become the default upstreams)."""
    findings: tuple[Finding, ...] = ()
    """Non-fatal problems found while loading (shown by ``lint``)."""

    @property
    def name(self) -> str:
        return self.config.name

    def source(self, pointer: str) -> Source:
        """The best known source location for ``pointer`` (nearest known ancestor)."""
        p = pointer
        while True:
            hit = self.lines.get(p)
            if hit is not None:
                return hit
            if not p:
                return Source(self.config.spec, pointer)
            p = p.rsplit("/", 1)[0]


@dataclass(frozen=True)
class Operation:
    """One (method, path) of the unified document, with where it came from."""

    method: str
    """Lower-case HTTP method."""
    path: str
    """Path as it appears in the unified document (prefix applied)."""
    operation_id: str
    service: str
    source: Source
    pointer: str
    """JSON pointer of the operation object in the unified document."""

    @property
    def key(self) -> str:
        return f"{self.method.upper()} {self.path}"


@dataclass(frozen=True)
class ErrorCode:
    """One entry of the error catalog."""

    code: str
    status: int
    description: str
    hint: str = ""
    origin: str = "gateway"
    """"gateway" or the name of the service that declared it."""
    operations: tuple[str, ...] = ()
    """operationIds that can return this code, sorted."""


@dataclass(frozen=True)
class Finding:
    """A problem or remark about the input; a value, not an exception."""

    rule: str
    level: Level
    message: str
    source: Source | None = None


@dataclass(frozen=True)
class UnifiedSpec:
    """The merged contract: one OpenAPI 3.1 document plus indexes built once."""

    document: JSONDict
    operations: tuple[Operation, ...]
    errors: tuple[ErrorCode, ...]
    services: tuple[ServiceConfig, ...]
    service_servers: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Root ``servers`` URLs each service declared (default upstreams)."""
    findings: tuple[Finding, ...] = ()
    """Non-fatal remarks made while merging (shown by ``lint``)."""
    sources: Locator | None = None
    """Pointer in the unified document -> source location in specs/ (best effort)."""

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.operation_id == operation_id:
                return op
        raise KeyError(operation_id)

    def source_for(self, pointer: str) -> Source | None:
        """Nearest known source location of a unified-document pointer."""
        return None if self.sources is None else self.sources.get(pointer)
