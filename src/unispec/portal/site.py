"""The portal's I/O: write the rendered docs, vendor assets, run mkdocs.

Rendering is pure (``render.py``); this module is the only part of the portal
that touches the disk. It writes ``<project>/build/portal/docs`` comparing
content hashes so an unchanged page keeps its bytes and mtime (a rebuild after
a change to one service rewrites only that service's pages), then builds the
static site into ``<project>/site`` with mkdocs-material in-process.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import keyword
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

from unispec.errors import ConfigError
from unispec.model import UnifiedSpec
from unispec.portal.render import Release, RenderedPortal, SdkInfo, render_portal

DOCS_SUBDIR = Path("build") / "portal"
SITE_DIR = "site"
HISTORY_CANDIDATES = (
    "changelog/history.json",
    "changelog/history.yaml",
    "changelog/history.yml",
    "generated/changelog.json",
    "CHANGELOG.json",
)
SWAGGER_FILES = ("swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE")


@dataclass
class BuildReport:
    """What a build did, for the CLI summary and the benchmark."""

    docs_dir: Path
    site_dir: Path | None
    pages: int = 0
    written: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0
    render_seconds: float = 0.0
    write_seconds: float = 0.0
    mkdocs_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


def default_portal_dir() -> Path:
    """The portal folder shipped with unispec (templates and assets).

    It lives at the repository root next to ``src/``; a project may override any
    template by placing a file of the same name in its own ``portal/templates``.
    """
    return Path(__file__).resolve().parents[3] / "portal"


def portal_dirs(project: Path) -> list[Path]:
    dirs = []
    own = project / "portal"
    if own.is_dir():
        dirs.append(own)
    default = default_portal_dir()
    if default.is_dir() and default.resolve() not in [d.resolve() for d in dirs]:
        dirs.append(default)
    if not any((d / "templates").is_dir() for d in dirs):
        raise ConfigError(
            f"{project}: no portal templates found (looked in portal/templates and "
            f"{default}/templates); restore the portal/ folder of unispec"
        )
    return dirs


def template_loader(project: Path) -> jinja2.BaseLoader:
    return jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(str(d / "templates")) for d in portal_dirs(project)]
    )


def load_history(project: Path) -> list[Release]:
    """Releases recorded by ``unispec changelog`` (the diff area's history file).

    Accepts a list of releases or ``{"releases": [...]}``; each release has
    ``version``, optional ``date``, and ``entries``/``changes``/``findings``
    (items with ``level``, ``id``, ``operation``, ``message``) or ``markdown``.
    """
    for name in HISTORY_CANDIDATES:
        path = project / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            raise ConfigError(f"{name}: cannot read the changelog history: {exc}") from exc
        if isinstance(data, Mapping):
            data = data.get("releases") or data.get("versions") or []
        if not isinstance(data, list):
            raise ConfigError(f"{name}: the changelog history must be a list of releases")
        out = []
        for item in data:
            if not isinstance(item, Mapping) or "version" not in item:
                continue
            entries = item.get("entries") or item.get("changes") or item.get("findings") or []
            out.append(
                Release(
                    version=str(item["version"]),
                    date=str(item.get("date") or ""),
                    entries=tuple(e for e in entries if isinstance(e, Mapping)),
                    markdown=str(item.get("markdown") or ""),
                )
            )
        return out
    return []


def detect_sdk(project: Path) -> SdkInfo | None:
    """The generated Python client, when the codegen area has produced one.

    The tab is only rendered when ``generated/client`` exists, so the samples
    never show an import that would fail.
    """
    client = project / "generated" / "client"
    if not (client / "__init__.py").is_file():
        return None
    calls: dict[str, Any] = {}
    try:
        data = json.loads((client / "operations.json").read_text(encoding="utf-8"))
        calls = data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        pass  # a client generated before the manifest: names by the snake_case rule
    return SdkInfo(
        import_line="from generated.client import Client",
        client_expr='Client("http://127.0.0.1:8080", token=os.environ["TOKEN"])',
        snake=snake_case,
        calls=calls,
    )


def snake_case(name: str) -> str:
    """The generated client's naming rule (kept in step with ``codegen.client``).

    Portal and codegen are siblings and may not import each other, so the rule is
    repeated here; a test compares the two.
    """
    text = re.sub(r"[^0-9A-Za-z]+", "_", name)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"_+", "_", text).strip("_").lower() or "operation"
    if text[0].isdigit():
        text = "op_" + text
    if keyword.iskeyword(text) or text in {"self", "close"}:
        text += "_"
    return text


def vendored_assets(project: Path) -> dict[str, bytes]:
    """Swagger UI (from the ``mkdocs-swagger-ui-tag`` wheel) and the portal's own assets."""
    files: dict[str, bytes] = {}
    spec = importlib.util.find_spec("mkdocs_swagger_ui_tag")
    if spec is None or spec.origin is None:
        raise ConfigError(
            "the try-it console needs Swagger UI: install the PyPI package "
            "'mkdocs-swagger-ui-tag' (it ships swagger-ui-dist)"
        )
    base = Path(spec.origin).parent / "swagger-ui"
    for name in SWAGGER_FILES:
        for sub in ("javascripts", "stylesheets", ""):
            path = base / sub / name
            if path.is_file():
                files[f"assets/swagger-ui/{name}"] = path.read_bytes()
                break
    for d in reversed(portal_dirs(project)):
        assets = d / "assets"
        if assets.is_dir():
            for path in sorted(assets.rglob("*")):
                if path.is_file():
                    files[f"assets/portal/{path.relative_to(assets).as_posix()}"] = (
                        path.read_bytes()
                    )
    return files


def extra_downloads(project: Path) -> dict[str, bytes]:
    out = {}
    models = project / "generated" / "models.py"
    if models.is_file():
        out["models.py"] = models.read_bytes()
    errors = project / "generated" / "errors.json"
    if errors.is_file():
        out["errors.json"] = errors.read_bytes()
    return out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_tree(files: Mapping[str, bytes], root: Path) -> tuple[list[str], list[str], int]:
    """Make ``root`` hold exactly ``files``, rewriting only files whose bytes changed."""
    root.mkdir(parents=True, exist_ok=True)
    written, unchanged = [], 0
    for rel, data in sorted(files.items()):
        path = root / rel
        try:
            if path.stat().st_size == len(data) and _digest(path.read_bytes()) == _digest(data):
                unchanged += 1
                continue
        except FileNotFoundError:
            pass
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        written.append(rel)
    removed = []
    wanted = set(files)
    for path in sorted(root.rglob("*"), reverse=True):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in wanted:
            path.unlink()
            removed.append(rel)
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    return written, removed, unchanged


def base_config(project: Path) -> dict[str, Any]:
    """The project's mkdocs.yml (or unispec's own) as a dict, without python tags."""
    for candidate in (project / "mkdocs.yml", default_portal_dir().parent / "mkdocs.yml"):
        if candidate.is_file():
            try:
                data = yaml.safe_load(candidate.read_text(encoding="utf-8"))
            except yaml.YAMLError as exc:
                raise ConfigError(f"{candidate}: invalid YAML: {exc}") from exc
            if not isinstance(data, dict):
                raise ConfigError(f"{candidate}: must be a mapping")
            return data
    raise ConfigError(f"{project}: no mkdocs.yml found")


def mkdocs_config(
    project: Path, rendered: RenderedPortal, docs_dir: Path, site_dir: Path
) -> dict[str, Any]:
    cfg = base_config(project)
    cfg["site_name"] = rendered.site_name
    cfg["docs_dir"] = str(docs_dir)
    cfg["site_dir"] = str(site_dir)
    cfg["nav"] = rendered.nav
    # Parked blocks carry final .html links: directory URLs would break them.
    cfg["use_directory_urls"] = False
    hooks = [d / "hooks" / "blocks.py" for d in portal_dirs(project)]
    cfg["hooks"] = [str(next(p for p in hooks if p.is_file()))]
    theme = cfg.setdefault("theme", {"name": "material"})
    if isinstance(theme, dict):
        theme["font"] = False
        custom = theme.get("custom_dir")
        if isinstance(custom, str) and not Path(custom).is_absolute():
            theme["custom_dir"] = str((project / custom).resolve())
    return cfg


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def render_for_project(
    spec: UnifiedSpec, project: Path, *, park_blocks: bool = True
) -> RenderedPortal:
    """Render with everything the project folder provides (templates, history, SDK)."""
    from unispec.config import load_config

    gateway: Mapping[str, Any] = {}
    if (project / "unispec.yaml").is_file():
        gateway = load_config(project).gateway
    rendered = render_portal(
        spec,
        template_loader(project),
        history=load_history(project),
        gateway=gateway,
        sdk=detect_sdk(project),
        downloads=extra_downloads(project),
        park_blocks=park_blocks,
    )
    rendered.files.update(vendored_assets(project))
    return rendered


def write_docs(
    spec: UnifiedSpec, project: Path, *, park_blocks: bool = True
) -> tuple[BuildReport, Path]:
    """Render and write ``build/portal/docs`` plus the mkdocs config beside it."""
    project = project.resolve()
    out_dir = project / DOCS_SUBDIR
    docs_dir = out_dir / "docs"
    site_dir = project / SITE_DIR
    t0 = time.perf_counter()
    rendered = render_for_project(spec, project, park_blocks=park_blocks)
    t1 = time.perf_counter()
    written, removed, unchanged = write_tree(rendered.files, docs_dir)
    # Each page embeds a digest of its blocks, so a block change also rewrites the page.
    write_tree(rendered.blocks, out_dir / "blocks")
    cfg = mkdocs_config(project, rendered, docs_dir, site_dir)
    cfg_path = out_dir / "mkdocs.yml"
    text = yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)
    if not cfg_path.is_file() or cfg_path.read_text(encoding="utf-8") != text:
        cfg_path.write_text(text, encoding="utf-8")
    report = BuildReport(
        docs_dir=docs_dir,
        site_dir=site_dir,
        pages=sum(1 for p in rendered.files if p.endswith(".md")),
        written=written,
        removed=removed,
        unchanged=unchanged,
        render_seconds=t1 - t0,
        write_seconds=time.perf_counter() - t1,
    )
    return report, cfg_path


def run_mkdocs(cfg_path: Path) -> tuple[float, list[str]]:
    """Build the site in-process (no interpreter start-up); returns seconds and warnings."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.build import build as mkdocs_build
    from mkdocs.config import load_config as mkdocs_load_config
    from mkdocs.exceptions import MkDocsException

    handler = _Collect()
    logger = logging.getLogger("mkdocs")
    logger.addHandler(handler)
    t0 = time.perf_counter()
    try:
        cfg = mkdocs_load_config(str(cfg_path))
        mkdocs_build(cfg)
    except MkDocsException as exc:
        raise ConfigError(f"{cfg_path}: mkdocs failed: {exc}") from exc
    finally:
        logger.removeHandler(handler)
    return time.perf_counter() - t0, handler.messages


def build_site(
    spec: UnifiedSpec, project: Path, *, site: bool = True, park_blocks: bool = True
) -> BuildReport:
    """Render the docs and (unless ``site=False``) build the static site."""
    report, cfg_path = write_docs(spec, project, park_blocks=park_blocks)
    if site:
        report.mkdocs_seconds, report.warnings = run_mkdocs(cfg_path)
    else:
        report.site_dir = None
    return report


def _snapshot(paths: list[Path]) -> dict[str, float]:
    snap: dict[str, float] = {}
    for base in paths:
        if base.is_file():
            snap[str(base)] = base.stat().st_mtime
        elif base.is_dir():
            for p in base.rglob("*"):
                if p.is_file():
                    snap[str(p)] = p.stat().st_mtime
    return snap


def watch_inputs(
    project: Path,
    reload: Callable[[], UnifiedSpec],
    stop: threading.Event,
    on_error: Callable[[Exception], None],
    interval: float = 0.5,
) -> Iterator[BuildReport]:
    """Re-render the docs whenever specs/ or unispec.yaml change (polling, no deps).

    mkdocs' own watcher sees the rewritten pages in docs_dir and rebuilds the
    site and reloads the browser; only pages whose bytes changed are touched.
    """
    inputs = [project / "specs", project / "unispec.yaml", project / "portal"]
    last = _snapshot(inputs)
    while not stop.wait(interval):
        now = _snapshot(inputs)
        if now == last:
            continue
        last = now
        try:
            report, _ = write_docs(reload(), project)
        except Exception as exc:  # a broken spec while editing must not stop the server
            on_error(exc)
            continue
        yield report


def serve(
    project: Path,
    reload: Callable[[], UnifiedSpec],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log: Callable[[str], None] = print,
) -> None:
    """``mkdocs serve`` on the rendered docs plus a watcher on the project's specs."""
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")
    from mkdocs.commands.serve import serve as mkdocs_serve

    project = project.resolve()
    _, cfg_path = write_docs(reload(), project)
    stop = threading.Event()

    def loop() -> None:
        for report in watch_inputs(project, reload, stop, lambda e: log(f"portal: {e}")):
            log(f"portal: re-rendered {len(report.written)} page(s), removed {len(report.removed)}")

    thread = threading.Thread(target=loop, name="portal-watch", daemon=True)
    thread.start()
    try:
        mkdocs_serve(str(cfg_path), dev_addr=f"{host}:{port}", livereload=True)
    finally:
        stop.set()
        thread.join(timeout=5)
