"""logship: ship every Docker container's logs, enriched, to where operators read them."""

from __future__ import annotations

__version__ = "0.1.0"
