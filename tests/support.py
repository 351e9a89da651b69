"""Left only for tests/unit/test_docs_reference.py (``from tests.support import ROOT``), which
is not ours to edit now: once it imports ``ROOT`` from tests.helpers.paths, delete this file.
Everything else the tests share is in tests/helpers/."""

from __future__ import annotations

from tests.helpers.paths import ROOT

__all__ = ["ROOT"]
