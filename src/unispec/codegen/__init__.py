"""Code generated from the unified contract: Pydantic models and a typed client.

Layer 4: takes a ``UnifiedSpec``, returns ``{path: bytes}``; ``build`` writes them.
"""

from __future__ import annotations

from unispec.codegen.client import generate_client
from unispec.codegen.models import generate_models

__all__ = ["generate_client", "generate_models"]
