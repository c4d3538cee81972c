"""Resolve one side of a diff to a unified OpenAPI document.

A side is written the way CI naturally has it at hand:

- a document file (``.yaml``/``.yml``/``.json``), used as is;
- a project directory holding ``unispec.yaml`` (or that file itself), which is
  loaded and merged exactly like ``unispec build`` would;
- ``git:REF[:path]``: the same two, but as they were at a commit, read with
  ``git show`` / ``git archive`` into a temporary directory, never by checking
  anything out (the working tree is not touched). ``path`` is relative to the
  project directory and defaults to it.

Everything a user can get wrong raises ``DiffInputError`` (exit code 2).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from unispec import yamlio
from unispec.errors import DiffInputError
from unispec.model import Locator, Source, UnifiedSpec

CONFIG_NAME = "unispec.yaml"
GIT_TIMEOUT = 60


@dataclass(frozen=True)
class Side:
    """A resolved side: the document plus, when it came from specs/, its source map."""

    label: str
    document: dict[str, Any]
    sources: Locator | Mapping[str, Source] | None = None

    @property
    def version(self) -> str:
        info = self.document.get("info")
        return str(info.get("version", "")) if isinstance(info, dict) else ""


def parse_document(text: str | bytes, name: str) -> dict[str, Any]:
    """Parse YAML or JSON text into a document dict; errors name the file and line."""
    try:
        data = json.loads(text) if name.endswith(".json") else yamlio.load(text)
    except json.JSONDecodeError as exc:
        raise DiffInputError(f"{name}:{exc.lineno}: not valid JSON ({exc.msg})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark is not None else name
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise DiffInputError(f"{where}: {problem}") from exc
    if not isinstance(data, dict) or not ("openapi" in data or "swagger" in data):
        raise DiffInputError(f"{name}: not an OpenAPI document (no top-level `openapi` key)")
    return data


def _load_project(directory: Path, label: str) -> Side:
    from unispec.build import load_unified

    spec = load_unified(directory)
    return Side(label, spec.document, spec.sources)


def _load_path(path: Path, label: str) -> Side:
    if path.is_dir():
        if not (path / CONFIG_NAME).is_file():
            raise DiffInputError(f"{label}: directory has no {CONFIG_NAME}")
        return _load_project(path, label)
    if not path.is_file():
        raise DiffInputError(f"{label}: no such file or directory")
    if path.name == CONFIG_NAME:
        return _load_project(path.parent, label)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DiffInputError(f"{label}: cannot read ({exc.strerror})") from exc
    return Side(label, parse_document(data, str(path)))


def _git(args: list[str], cwd: Path) -> bytes:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, timeout=GIT_TIMEOUT, check=False
        )
    except FileNotFoundError as exc:
        raise DiffInputError("git: the git executable is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise DiffInputError(f"git {' '.join(args)}: timed out") from exc
    if proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise DiffInputError(f"git {' '.join(args)}: {msg[-1] if msg else 'failed'}")
    return proc.stdout


def parse_git_spec(spec: str) -> tuple[str, str]:
    """``git:REF[:path]`` -> (REF, path or "")."""
    body = spec[len("git:") :]
    ref, _, path = body.partition(":")
    if not ref:
        raise DiffInputError(f"{spec}: expected git:REF[:path], e.g. git:origin/main")
    return ref, path


def _load_git(spec: str, project: Path) -> Side:
    ref, rel = parse_git_spec(spec)
    top = Path(_git(["rev-parse", "--show-toplevel"], project).decode().strip())
    prefix = _git(["rev-parse", "--show-prefix"], project).decode().strip()
    target = PurePosixPath(prefix or ".") / (rel or ".")
    parts: list[str] = []
    for part in target.parts:
        if part == "..":
            if not parts:
                raise DiffInputError(f"{spec}: path leaves the repository")
            parts.pop()
        elif part != ".":
            parts.append(part)
    repo_path = "/".join(parts)
    _git(["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], top)
    kind = _git(["cat-file", "-t", f"{ref}:{repo_path}"], top).decode().strip()
    if kind == "blob":
        data = _git(["show", f"{ref}:{repo_path}"], top)
        if PurePosixPath(repo_path).name == CONFIG_NAME:
            repo_path = str(PurePosixPath(repo_path).parent)
            if repo_path == ".":
                repo_path = ""
        else:
            return Side(spec, parse_document(data, f"{ref}:{repo_path}"))
    archive = _git(["archive", "--format=tar", ref, *([repo_path] if repo_path else [])], top)
    with tempfile.TemporaryDirectory(prefix="unispec-git-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # Python < 3.11.4: git archive output, but check the paths anyway
                for member in tar.getmembers():
                    if member.name.startswith("/") or ".." in PurePosixPath(member.name).parts:
                        raise DiffInputError(f"{spec}: unsafe path in archive: {member.name}")
                tar.extractall(tmp)
        root = Path(tmp, repo_path) if repo_path else Path(tmp)
        if not (root / CONFIG_NAME).is_file():
            raise DiffInputError(
                f"{spec}: {repo_path or 'the repository root'} has no {CONFIG_NAME}"
            )
        return _load_project(root, spec)


def resolve_side(spec: str, project: Path | None = None) -> Side:
    """Load a diff side (file, project directory or ``git:REF[:path]``)."""
    project = (project or Path.cwd()).resolve()
    if spec.startswith("git:"):
        return _load_git(spec, project)
    path = Path(spec)
    return _load_path(path if path.is_absolute() else Path.cwd() / path, spec)


def breaking_check_against(
    project: Path | None,
    base: str,
    spec: UnifiedSpec,
    *,
    fail_on: str = "ERR",
    fmt: str = "text",
    ignore: Path | None = None,
    write: Callable[[str], object] = sys.stdout.write,
) -> int:
    """The breaking-change half of ``unispec check --base``: print, return 0/1.

    ``spec`` is the project's freshly merged contract (the revision); its
    source map gives every finding a ``specs/file:line``.
    """
    from unispec.diff import breaking_check, load_ignore, render

    base_side = resolve_side(base, project)
    entries = load_ignore(ignore) if ignore is not None else None
    report = breaking_check(
        base_side.document,
        spec.document,
        revision_sources=spec.sources,
        fail_on=fail_on,
        ignore=entries,
    )
    write(render(report, fmt if fmt in ("text", "json", "github") else "text"))
    return report.exit_code


__all__ = ["Side", "breaking_check_against", "parse_document", "parse_git_spec", "resolve_side"]
