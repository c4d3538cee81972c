"""The pipeline, and the only writer of ``generated/``.

``load_unified`` is what every command needs (load + merge, nothing written);
``render`` produces every generated file as bytes so that ``build`` can write
them and ``check`` can compare them without touching the disk.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from unispec import emit
from unispec.config import ProjectConfig, load_config
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


def load_unified(
    project_dir: Path | None = None, *, config: ProjectConfig | None = None
) -> UnifiedSpec:
    """Load every service of the project and merge them (no files written)."""
    cfg = config or load_config(project_dir)
    specs = load_services(cfg.services, cfg.root, cache_dir=cache_dir(cfg.root))
    return merge(specs, cfg)


def _contract_files(spec: UnifiedSpec) -> dict[str, bytes]:
    files = dict(emit.emit_document(spec.document))
    files["errors.json"] = emit.to_json(errors_document(spec.errors))
    return files


def generators() -> list[Generator]:
    """Every generator of generated/ files, in a fixed order."""
    gens: list[Generator] = [_contract_files]
    try:
        from unispec.codegen import generate_client, generate_models
    except ImportError:
        pass
    else:
        gens.extend([generate_models, generate_client])
    return gens


def render(spec: UnifiedSpec) -> dict[str, bytes]:
    """Every generated file: path relative to generated/ -> bytes."""
    files: dict[str, bytes] = {}
    for gen in generators():
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


def build(project_dir: Path | None = None) -> BuildResult:
    """Write generated/ from specs/; rewrites only files whose bytes changed."""
    cfg = load_config(project_dir)
    spec = load_unified(config=cfg)
    files = render(spec)
    out = cfg.root / GENERATED
    written: list[str] = []
    for rel, data in files.items():
        path = out / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(rel)
    stale = sorted(_existing(out) - set(files) - _KEEP)
    for rel in stale:
        (out / rel).unlink()
    return BuildResult(spec, files, tuple(written), tuple(stale))


_KEEP = {"README.md", ".gitattributes", "changelog.json"}


@dataclass(frozen=True)
class Drift:
    """One generated file that does not match what the specs produce."""

    path: str
    """Relative to the project root."""
    state: str
    """"stale" (content differs), "missing" or "extra"."""
    diff: str


@dataclass(frozen=True)
class CheckResult:
    spec: UnifiedSpec
    drift: tuple[Drift, ...]

    @property
    def ok(self) -> bool:
        return not self.drift


def check(project_dir: Path | None = None, *, max_diff_lines: int = 40) -> CheckResult:
    """Rebuild in memory and compare with generated/ on disk."""
    cfg = load_config(project_dir)
    spec = load_unified(config=cfg)
    files = render(spec)
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
            drift.append(Drift(f"{GENERATED}/{rel}", "stale", "\n".join(lines)))
    for rel in sorted(_existing(out) - set(files) - _KEEP):
        drift.append(Drift(f"{GENERATED}/{rel}", "extra", ""))
    return CheckResult(spec, tuple(drift))
