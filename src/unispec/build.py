"""The pipeline, and the only writer of ``generated/``.

``load_unified`` is what every command needs (load + merge, nothing written);
``render`` produces every generated file as bytes so that ``build`` can write
them and ``check`` can compare them without touching the disk.
"""

from __future__ import annotations

import difflib
import gc
import os
import re
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from unispec import emit
from unispec.config import ProjectConfig, load_config
from unispec.errors import ConfigError
from unispec.load import load_services
from unispec.merge import errors_document, merge
from unispec.model import UnifiedSpec

GENERATED = "generated"
CACHE_DIR = ".unispec-cache"

Generator = Callable[[UnifiedSpec], Mapping[str, bytes]]


def cache_dir(root: Path) -> Path | None:
    if os.environ.get("UNISPEC_NO_CACHE"):
        return None
    return root / CACHE_DIR


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic GC while big acyclic trees are built (a third of merge's time at 30 services).

    Loading, merging and emitting allocate millions of dicts and lists that live
    until the end; every full collection rescans all of them, for no garbage
    (specs are trees). Reference counting still frees everything as usual.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_unified(
    project_dir: Path | None = None, *, config: ProjectConfig | None = None
) -> UnifiedSpec:
    """Load every service of the project and merge them (no files written)."""
    cfg = config or load_config(project_dir)
    with _gc_paused():
        specs = load_services(cfg.services, cfg.root, cache_dir=cache_dir(cfg.root))
        return merge(specs, cfg, consume=True)  # nobody else sees these specs


def _contract_files(spec: UnifiedSpec) -> dict[str, bytes]:
    with _gc_paused():
        files = dict(emit.emit_document(spec.document))
        files["errors.json"] = emit.to_json(errors_document(spec.errors))
    return files


TARGETS: tuple[str, ...] = ("contract", "models", "client")
"""What ``build``/``check`` can be limited to; codegen is slow on huge contracts."""


def generators(targets: Collection[str] | None = None) -> list[Generator]:
    """The generators of generated/ files for ``targets`` (None: all), in a fixed order."""
    wanted = set(TARGETS if targets is None else targets)
    unknown = wanted - set(TARGETS)
    if unknown:
        raise ConfigError(
            f"unknown build target(s) {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(TARGETS)}"
        )
    gens: list[Generator] = [_contract_files] if "contract" in wanted else []
    if wanted & {"models", "client"}:
        try:
            from unispec.codegen import generate_client, generate_models
        except ImportError:
            pass
        else:
            if "models" in wanted:
                gens.append(generate_models)
            if "client" in wanted:
                gens.append(generate_client)
    return gens


def render(spec: UnifiedSpec, targets: Collection[str] | None = None) -> dict[str, bytes]:
    """Every generated file of ``targets`` (None: all): path relative to generated/ -> bytes."""
    files: dict[str, bytes] = {}
    for gen in generators(targets):
        files.update(gen(spec))
    return dict(sorted(files.items()))


@dataclass(frozen=True)
class BuildResult:
    spec: UnifiedSpec
    files: dict[str, bytes]
    written: tuple[str, ...]
    removed: tuple[str, ...]


def _existing(out: Path) -> set[str]:
    if not out.is_dir():
        return set()
    return {
        p.relative_to(out).as_posix()
        for p in out.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }


def build(
    project_dir: Path | None = None, *, targets: Collection[str] | None = None
) -> BuildResult:
    """Write generated/ from specs/; rewrites only files whose bytes changed.

    With ``targets`` only those outputs are rendered, and nothing is removed:
    the files of the other targets are unknown without running their generators.
    """
    cfg = load_config(project_dir)
    generators(targets)  # an unknown target fails before the (slow) load
    spec = load_unified(config=cfg)
    files = render(spec, targets)
    out = cfg.root / GENERATED
    written: list[str] = []
    for rel, data in files.items():
        path = out / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(rel)
    stale = sorted(_existing(out) - set(files) - _KEEP) if targets is None else []
    for rel in stale:
        (out / rel).unlink()
    return BuildResult(spec, files, tuple(written), tuple(stale))


_KEEP = {"README.md", ".gitattributes", "changelog.json"}


_HUNK = re.compile(r"^@@ -(\d+)")


def _first_line(diff_lines: list[str]) -> int | None:
    """The committed file's line where the first hunk starts (past its context lines)."""
    for i, text in enumerate(diff_lines):
        m = _HUNK.match(text)
        if m:
            start = int(m.group(1))
            for offset, body in enumerate(diff_lines[i + 1 :]):
                if body.startswith(("-", "+")):
                    return max(1, start + offset)
            return start
    return None


@dataclass(frozen=True)
class Drift:
    """One generated file that does not match what the specs produce."""

    path: str
    """Relative to the project root."""
    state: str
    """"stale" (content differs), "missing" or "extra"."""
    diff: str
    line: int | None = None
    """First line of the committed file that differs (for CI annotations)."""


@dataclass(frozen=True)
class CheckResult:
    spec: UnifiedSpec
    drift: tuple[Drift, ...]

    @property
    def ok(self) -> bool:
        return not self.drift


def check(
    project_dir: Path | None = None,
    *,
    max_diff_lines: int = 40,
    targets: Collection[str] | None = None,
) -> CheckResult:
    """Rebuild in memory and compare with generated/ on disk (only ``targets``' files if given)."""
    cfg = load_config(project_dir)
    generators(targets)
    spec = load_unified(config=cfg)
    files = render(spec, targets)
    out = cfg.root / GENERATED
    drift: list[Drift] = []
    for rel, data in files.items():
        path = out / rel
        if not path.is_file():
            drift.append(Drift(f"{GENERATED}/{rel}", "missing", ""))
            continue
        current = path.read_bytes()
        if current != data:
            diff = difflib.unified_diff(
                current.decode("utf-8", "replace").splitlines(),
                data.decode("utf-8", "replace").splitlines(),
                f"{GENERATED}/{rel} (committed)",
                f"{GENERATED}/{rel} (from specs/)",
                lineterm="",
                n=2,
            )
            lines = list(diff)
            if len(lines) > max_diff_lines:
                lines = [*lines[:max_diff_lines], f"... ({len(lines) - max_diff_lines} more lines)"]
            drift.append(Drift(f"{GENERATED}/{rel}", "stale", "\n".join(lines), _first_line(lines)))
    extra = sorted(_existing(out) - set(files) - _KEEP) if targets is None else []
    for rel in extra:
        drift.append(Drift(f"{GENERATED}/{rel}", "extra", ""))
    return CheckResult(spec, tuple(drift))
