"""Read, bundle and validate the services' documents: the only reader of specs/.

A service may spread its document over several files with relative
``$ref``s; bundling pulls every external target into the document's own
``components`` under a stable name (chosen after all targets are known, so
the names do not depend on traversal order) and rewrites the references, so
everything downstream sees one self-contained document per service.

Line numbers are expensive to keep for big documents, so they are computed
lazily (a YAML node tree composed on first use) and only when a message needs
one.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from unispec import refs, yamlio

try:
    import orjson
except ImportError:  # optional: only makes big JSON specs load faster
    orjson = None  # type: ignore[assignment]
from unispec.convert import convert_schema_30, major_minor
from unispec.errors import LoadError, Problem
from unispec.model import Finding, ServiceConfig, ServiceSpec, Source

SUPPORTED_VERSIONS = ("3.0", "3.1")


# --- parsing ----------------------------------------------------------------------


def _stringify_keys(node: Any) -> Any:
    """YAML allows ``200:`` as an int key; OpenAPI means the string "200"."""
    stack = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, dict):
            if any(not isinstance(k, str) for k in cur):
                items = [(_key_str(k), v) for k, v in cur.items()]
                cur.clear()
                cur.update(items)
            stack.extend(v for v in cur.values() if isinstance(v, (dict, list)))
        elif isinstance(cur, list):
            stack.extend(v for v in cur if isinstance(v, (dict, list)))
    return node


def _key_str(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


def parse_text(text: str, display: str) -> Any:
    """Parse JSON or YAML text; a syntax error names the file and line."""
    stripped = text.lstrip()
    if display.endswith(".json") or stripped.startswith("{"):
        fast = _orjson_loads(text)
        if fast is not None:
            return fast
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            if display.endswith(".json"):
                raise LoadError(
                    f"{display}:{exc.lineno}: not valid JSON: {exc.msg} (column {exc.colno})"
                ) from None
    try:
        return _stringify_keys(yamlio.load(text))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise LoadError(f"{display}{line}: not valid YAML: {problem}") from None


_LONG_NUMBER = re.compile(r"\d{19}")


def _orjson_loads(text: str) -> Any:
    """orjson's parse when it equals ``json.loads``'s, else None (then json decides).

    orjson is several times faster but turns integers past 64 bits into floats
    and rejects what json accepts (NaN, lone surrogates, a BOM): any long digit
    run, BOM or orjson error leaves the text to the stdlib.
    """
    if orjson is None or text.startswith("\ufeff") or _LONG_NUMBER.search(text):
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


# --- line numbers -----------------------------------------------------------------


class LineIndex:
    """Pointer -> line for one file, built from a YAML node tree on first use."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lines: dict[str, int] | None = None

    def line(self, pointer: str) -> int | None:
        if self._lines is None:
            self._lines = self._build()
        return self._lines.get(pointer)

    def _build(self) -> dict[str, int]:
        lines: dict[str, int] = {}
        try:
            root = yaml.compose(self._path.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
        except (yaml.YAMLError, OSError, UnicodeDecodeError):
            return lines
        if root is None:
            return lines
        stack: list[tuple[str, yaml.Node]] = [("", root)]
        lines[""] = root.start_mark.line + 1
        while stack:
            ptr, node = stack.pop()
            if isinstance(node, yaml.MappingNode):
                for key_node, value_node in node.value:
                    child = refs.join(ptr, str(key_node.value))
                    lines[child] = key_node.start_mark.line + 1
                    stack.append((child, value_node))
            elif isinstance(node, yaml.SequenceNode):
                for i, item in enumerate(node.value):
                    child = refs.join(ptr, i)
                    lines[child] = item.start_mark.line + 1
                    stack.append((child, item))
        return lines


@dataclass
class BundleLocator:
    """Locates pointers of a bundled document in the files they came from."""

    root_display: str
    root_index: LineIndex
    mounts: dict[str, tuple[str, str, LineIndex]] = field(default_factory=dict)
    """Bundled pointer prefix (/components/schemas/X) -> (display file, pointer there, index)."""

    def get(self, pointer: str) -> Source | None:
        tokens = refs.split(pointer) if pointer else []
        if len(tokens) >= 3 and tokens[0] == "components":
            prefix = refs.join("", *tokens[:3])
            mount = self.mounts.get(prefix)
            if mount is not None:
                display, base, index = mount
                inner = base + pointer[len(prefix) :]
                return Source(display, inner, index.line(inner))
        return Source(self.root_display, pointer, self.root_index.line(pointer))


# --- bundling ---------------------------------------------------------------------

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass(frozen=True, order=True)
class _Target:
    file: Path
    fragment: str


def _infer_kind(tokens: Sequence[str]) -> str | None:
    """Which component kind a ``$ref`` at ``tokens`` must point to (None: inline it)."""
    for i in range(len(tokens) - 1, -1, -1):
        tok = tokens[i]
        if tok == "schema" or (tok == "schemas" and i > 0 and tokens[i - 1] == "components"):
            return "schemas" if i < len(tokens) - 1 or tok == "schema" else None
    if not tokens:
        return None
    last = tokens[-1]
    prev = tokens[-2] if len(tokens) >= 2 else ""
    if prev == "parameters" or (last.isdigit() and prev == "parameters"):
        return "parameters"
    if last == "requestBody":
        return "requestBodies"
    if len(tokens) >= 2 and tokens[-3:-2] == ["components"]:
        return prev if prev in refs.COMPONENT_KINDS else None
    mapping = {
        "responses": "responses",
        "headers": "headers",
        "examples": "examples",
        "links": "links",
        "callbacks": "callbacks",
        "securitySchemes": "securitySchemes",
    }
    if prev in mapping:
        return mapping[prev]
    if prev in ("paths", "webhooks"):
        return None
    return "schemas"


class _Bundler:
    def __init__(self, root: Path, project_root: Path) -> None:
        self.root = root.resolve()
        self.project_root = project_root.resolve()
        self.docs: dict[Path, Any] = {}
        self.indexes: dict[Path, LineIndex] = {}
        self.problems: list[Problem] = []
        self.kinds: dict[_Target, str | None] = {}
        self.names: dict[_Target, str] = {}
        self.hashes: dict[Path, str] = {}
        """sha256 of every file read: the bundle is a function of these (the cache key)."""

    def display(self, path: Path) -> str:
        try:
            return path.relative_to(self.project_root).as_posix()
        except ValueError:  # a spec outside the project: name it as it is
            return path.as_posix()

    def index(self, path: Path) -> LineIndex:
        if path not in self.indexes:
            self.indexes[path] = LineIndex(path)
        return self.indexes[path]

    def doc(self, path: Path) -> Any:
        if path not in self.docs:
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                raise LoadError(f"{self.display(path)}: file not found") from None
            except (OSError, UnicodeDecodeError) as exc:
                raise LoadError(f"{self.display(path)}: cannot read: {exc}") from None
            self.hashes[path] = hashlib.sha256(text.encode("utf-8")).hexdigest()
            self.docs[path] = parse_text(text, self.display(path))
        return self.docs[path]

    def content_digest(self) -> str:
        """One hash of every file the bundle was made from, with their names."""
        h = hashlib.sha256()
        for path in sorted(self.hashes, key=lambda p: p.as_posix()):
            h.update(f"{self.display(path)}\0{self.hashes[path]}\0".encode())
        return h.hexdigest()

    def source(self, path: Path, pointer: str) -> Source:
        return Source(self.display(path), pointer, self.index(path).line(pointer))

    def target_of(self, ref: str, in_file: Path) -> _Target | None:
        """The external target of ``ref`` written in ``in_file``; None for root-local refs."""
        file_part, _, fragment = ref.partition("#")
        if file_part:
            if re.match(r"^[a-z][a-z0-9+.-]*://", file_part):
                raise ValueError("remote $ref (only files next to the spec are supported offline)")
            target_file = (in_file.parent / file_part).resolve()
        else:
            target_file = in_file
        if fragment and not fragment.startswith("/"):
            raise ValueError(f"fragment must be a JSON pointer starting with '/': #{fragment}")
        if target_file == self.root:
            return None
        return _Target(target_file, fragment)

    def discover(self) -> None:
        """Find every external target reachable from the root and its kind."""
        pending: list[tuple[Path, Any, list[str]]] = [(self.root, self.doc(self.root), [])]
        seen: set[_Target] = set()
        while pending:
            file, node, base_tokens = pending.pop()
            for chain, ref in refs.iter_ref_chains(node):
                if ref.startswith("#") and file == self.root:
                    continue
                ptr = refs.chain_pointer("", chain)
                tokens = base_tokens + refs.split(ptr)
                try:
                    target = self.target_of(ref, file)
                except ValueError as exc:
                    self.problems.append(Problem(self.source(file, ptr), f"$ref {ref!r}: {exc}"))
                    continue
                if target is None:
                    continue
                kind = self._kind_for(target, tokens)
                if target not in self.kinds or (self.kinds[target] is None and kind is not None):
                    self.kinds[target] = kind
                if target in seen:
                    continue
                seen.add(target)
                try:
                    content = refs.resolve(self.doc(target.file), target.fragment)
                except LoadError as exc:
                    self.problems.append(Problem(self.source(file, ptr), f"$ref {ref!r}: {exc}"))
                    continue
                except (KeyError, IndexError, ValueError):
                    self.problems.append(
                        Problem(
                            self.source(file, ptr),
                            f"$ref {ref!r}: {self.display(target.file)} has nothing at "
                            f"#{target.fragment}",
                        )
                    )
                    continue
                if not isinstance(content, dict):
                    self.problems.append(
                        Problem(
                            self.source(file, ptr),
                            f"$ref {ref!r} points to a {type(content).__name__}, not an object; "
                            "OpenAPI only allows references to whole objects",
                        )
                    )
                    continue
                target_tokens = refs.split(target.fragment) if target.fragment else []
                if kind is not None and not (
                    len(target_tokens) == 3 and target_tokens[0] == "components"
                ):
                    target_tokens = ["components", kind, "_", *target_tokens]
                pending.append((target.file, content, target_tokens))

    @staticmethod
    def _kind_for(target: _Target, tokens: list[str]) -> str | None:
        frag = refs.split(target.fragment) if target.fragment else []
        if len(frag) == 3 and frag[0] == "components" and frag[1] in refs.COMPONENT_KINDS:
            return frag[1]
        if len(frag) == 2 and frag[0] in ("definitions", "$defs"):
            return "schemas"
        return _infer_kind(tokens)

    def assign_names(self, root_doc: dict[str, Any]) -> None:
        comps = root_doc.get("components") if isinstance(root_doc.get("components"), dict) else {}
        taken: dict[str, set[str]] = {
            kind: set(group) for kind, group in (comps or {}).items() if isinstance(group, dict)
        }
        for target in sorted(self.kinds, key=lambda t: (t.file.as_posix(), t.fragment)):
            kind = self.kinds[target]
            if kind is None:
                continue
            frag = refs.split(target.fragment) if target.fragment else []
            stem = _SAFE_NAME.sub("_", target.file.stem) or "external"
            base = _SAFE_NAME.sub("_", frag[-1]) if frag else stem
            used = taken.setdefault(kind, set())
            name = base
            if name in used:
                name = f"{stem}_{base}"
            n = 2
            while name in used:
                name = f"{stem}_{base}_{n}"
                n += 1
            used.add(name)
            self.names[target] = name

    def rewrite(self, node: Any, file: Path, depth: int = 0) -> Any:
        """Copy of ``node`` (from ``file``) with refs pointing into the bundled document."""
        if depth > 64:
            raise LoadError(f"{self.display(file)}: $refs to inlined objects form a cycle")
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and not (ref.startswith("#") and file == self.root):
                try:
                    target = self.target_of(ref, file)
                except ValueError:
                    return dict(node)
                if target is None:
                    out = dict(node)
                    out["$ref"] = "#" + ref.partition("#")[2]
                    return out
                kind = self.kinds.get(target)
                if target in self.names and kind is not None:
                    out = {k: self.rewrite(v, file, depth) for k, v in node.items()}
                    out["$ref"] = refs.component_ref(kind, self.names[target])
                    return out
                if target in self.kinds:  # inline (e.g. a path item in another file)
                    try:
                        content = refs.resolve(self.doc(target.file), target.fragment)
                    except (KeyError, IndexError, ValueError):
                        return dict(node)
                    return self.rewrite(content, target.file, depth + 1)
                return dict(node)
            return {k: self.rewrite(v, file, depth) for k, v in node.items()}
        if isinstance(node, list):
            return [self.rewrite(v, file, depth) for v in node]
        return node


def bundle(
    spec_path: Path, project_root: Path
) -> tuple[dict[str, Any], BundleLocator, list[Problem]]:
    """Load ``spec_path`` and pull its external ``$ref`` targets into its components."""
    document, locator, problems, _digest = _bundle(spec_path, project_root)
    return document, locator, problems


def _bundle(
    spec_path: Path, project_root: Path
) -> tuple[dict[str, Any], BundleLocator, list[Problem], str]:
    """``bundle`` plus the digest of the files read (hashing them beats serialising the result)."""
    b = _Bundler(spec_path, project_root)
    root_doc = b.doc(b.root)
    display = b.display(b.root)
    if not isinstance(root_doc, dict):
        raise LoadError(
            f"{display}: expected an OpenAPI document (a mapping), got {type(root_doc).__name__}"
        )
    locator = BundleLocator(display, b.index(b.root))
    b.discover()
    if not b.kinds or b.problems:
        return root_doc, locator, b.problems, b.content_digest()
    b.assign_names(root_doc)
    out = b.rewrite(root_doc, b.root)
    comps = out.setdefault("components", {})
    for target, name in sorted(
        b.names.items(), key=lambda kv: (kv[0].file.as_posix(), kv[0].fragment)
    ):
        kind = b.kinds[target]
        assert kind is not None
        try:
            content = refs.resolve(b.doc(target.file), target.fragment)
        except (KeyError, IndexError, ValueError):
            continue
        pulled = b.rewrite(content, target.file)
        if _is_30(b.doc(target.file)) and not _is_30(root_doc):
            _convert_component(kind, pulled)
        comps.setdefault(kind, {})[name] = pulled
        locator.mounts[refs.join("", "components", kind, name)] = (
            b.display(target.file),
            target.fragment,
            b.index(target.file),
        )
    return out, locator, b.problems, b.content_digest()


def _is_30(document: Any) -> bool:
    return isinstance(document, dict) and major_minor(document.get("openapi")) == "3.0"


def _convert_component(kind: str, component: dict[str, Any]) -> None:
    """A 3.1 document pulled a component out of a 3.0 file: give it 3.1 meaning."""
    holder = {"components": {kind: {"_": component}}}
    for _ptr, schema in list(refs.iter_all_schemas(holder)):
        convert_schema_30(schema)


# --- validation -------------------------------------------------------------------


def _validator_for(version: str) -> Any:
    from openapi_spec_validator import OpenAPIV30SpecValidator, OpenAPIV31SpecValidator

    return OpenAPIV30SpecValidator if version == "3.0" else OpenAPIV31SpecValidator


def _find_pointer(document: Any, error: Any) -> str:
    """Best-effort location of a validator error that carries no path."""
    instance = getattr(error, "instance", None)
    keyword = getattr(error, "validator", None)
    expected = getattr(error, "validator_value", None)
    for ptr, schema in refs.iter_all_schemas(document):
        if keyword and schema.get(keyword) == expected:
            for field_name in ("default", "example"):
                if field_name in schema and schema[field_name] == instance:
                    return refs.join(ptr, field_name)
            if keyword == "required" and isinstance(instance, str):
                return ptr
    return ""


def validation_problems(
    document: dict[str, Any], version: str
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(errors, warnings) as (pointer, message): every problem, not only the first.

    The fast validator (``unispec.validate``) is the default;
    ``UNISPEC_VALIDATOR=osv`` uses openapi-spec-validator instead, for comparison.
    """
    if os.environ.get("UNISPEC_VALIDATOR") == "osv":
        return _raw_problems(document, version), []
    from unispec.validate import validate_document

    return validate_document(document, version)


def _raw_problems(document: dict[str, Any], version: str) -> list[tuple[str, str]]:
    validator = _validator_for(version)(document)
    out: list[tuple[str, str]] = []
    for error in validator.iter_errors():
        path = list(getattr(error, "absolute_path", []) or [])
        pointer = refs.join("", *path) if path else _find_pointer(document, error)
        message = str(getattr(error, "message", error)).splitlines()[0]
        if len(message) > 300:
            message = message[:297] + "..."
        out.append((pointer, message))
    return sorted(set(out))


_VALIDATION_RULES_VERSION = "2"
"""Bump when the validation rules change, so cached verdicts are not reused."""


def _digest(content_digest: str, version: str) -> str:
    """Cache key: the validation rules and the files the bundled document came from."""
    h = hashlib.sha256()
    validator = os.environ.get("UNISPEC_VALIDATOR", "fast")
    h.update(f"{_VALIDATION_RULES_VERSION}\0{validator}\0{version}\0".encode())
    h.update(content_digest.encode())
    return h.hexdigest()


class ValidationCache:
    """Content-addressed record of documents already found valid.

    Validating a big document costs seconds; an unchanged one need not be
    validated again. Only successes are cached, keyed by the bundled content
    and the validator's version, so a stale entry can never hide an error.
    """

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def _path(self, digest: str) -> Path | None:
        return None if self.folder is None else self.folder / "valid" / digest

    def is_valid(self, digest: str) -> bool:
        path = self._path(digest)
        return path is not None and path.exists()

    def mark_valid(self, digest: str) -> None:
        path = self._path(digest)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        except OSError:
            pass  # a read-only checkout still works, just slower


# --- services ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Loaded:
    spec: ServiceSpec
    problems: tuple[Problem, ...]
    digest: str
    warnings: tuple[Problem, ...] = ()


def _version_of(document: dict[str, Any], display: str) -> str:
    raw = document.get("openapi")
    if raw is None:
        if "swagger" in document:
            raise LoadError(
                f"{display}: Swagger/OpenAPI 2.0 is not supported; convert it to OpenAPI 3 first"
            )
        raise LoadError(f"{display}: not an OpenAPI document (no `openapi:` version field)")
    version = major_minor(raw)
    if version not in SUPPORTED_VERSIONS:
        raise LoadError(f"{display}: OpenAPI {raw} is not supported (supported: 3.0.x and 3.1.x)")
    return version


def _load_one(config: ServiceConfig, project_root: Path, cache_dir: Path | None) -> _Loaded:
    path = project_root / config.spec
    document, locator, problems, content_digest = _bundle(path, project_root)
    version = _version_of(document, locator.root_display)
    digest = _digest(content_digest, version)
    cache = ValidationCache(cache_dir)
    warnings: list[Problem] = []
    if not problems and not cache.is_valid(digest):
        errors, soft = validation_problems(document, version)
        for pointer, message in errors:
            problems.append(Problem(locator.get(pointer), message))
        for pointer, message in soft:
            warnings.append(Problem(locator.get(pointer), message))
        if not problems and not warnings:
            cache.mark_valid(digest)
    servers = tuple(
        s["url"]
        for s in document.get("servers") or []
        if isinstance(s, dict) and isinstance(s.get("url"), str)
    )
    spec = ServiceSpec(
        config=config,
        document=document,
        openapi_version=version,
        lines=locator,
        servers=servers,
        findings=tuple(
            Finding("pattern-dialect", "warning", w.message, w.source) for w in warnings
        ),
    )
    return _Loaded(spec, tuple(problems), digest, tuple(warnings))


def _load_one_safe(
    config: ServiceConfig, project_root: Path, cache_dir: Path | None
) -> _Loaded | LoadError:
    try:
        return _load_one(config, project_root, cache_dir)
    except LoadError as exc:
        return exc


def load_services(
    services: Iterable[ServiceConfig],
    project_root: Path,
    *,
    cache_dir: Path | None = None,
    jobs: int | None = None,
) -> list[ServiceSpec]:
    """Load every service; all problems of all files are reported together."""
    configs = list(services)
    if jobs is None:
        jobs = min(len(configs), os.cpu_count() or 1, 4) if len(configs) >= 8 else 1
    results: list[_Loaded | LoadError]
    if jobs > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(
                pool.map(
                    _load_one_safe,
                    configs,
                    [project_root] * len(configs),
                    [cache_dir] * len(configs),
                    chunksize=max(1, len(configs) // (jobs * 4)),
                )
            )
    else:
        results = [_load_one_safe(c, project_root, cache_dir) for c in configs]
    problems: list[Problem] = []
    specs: list[ServiceSpec] = []
    for result in results:
        if isinstance(result, LoadError):
            problems.append(Problem(None, result.render()))
            continue
        problems.extend(result.problems)
        specs.append(result.spec)
    if problems:
        raise LoadError(f"{len(problems)} problem(s) in the service specs:", problems)
    return specs


def load_document(path: Path, project_root: Path | None = None) -> dict[str, Any]:
    """One document, bundled but not validated (for diff sides and tools)."""
    root = project_root or path.parent
    document, _locator, problems = bundle(path, root)
    if problems:
        raise LoadError(f"{path.name}: cannot bundle", problems)
    return copy.deepcopy(document) if document is None else document
