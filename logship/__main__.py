"""``python -m logship``: the same as the ``logship`` command."""

from __future__ import annotations

import sys

from logship.cli import main

sys.exit(main())
