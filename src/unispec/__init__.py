"""unispec: one OpenAPI contract from many services, and everything derived from it."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
