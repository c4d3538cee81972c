"""The docs portal: the unified contract rendered as a static mkdocs-material site.

``render`` is pure (UnifiedSpec -> ``{path: markdown bytes}`` + navigation);
``site`` writes the docs folder, vendors the try-it console and runs mkdocs.
"""

from __future__ import annotations

from unispec.portal.render import Release, RenderedPortal, SdkInfo, render_portal
from unispec.portal.site import BuildReport, build_site, serve, write_docs

__all__ = [
    "BuildReport",
    "Release",
    "RenderedPortal",
    "SdkInfo",
    "build_site",
    "render_portal",
    "serve",
    "write_docs",
]
