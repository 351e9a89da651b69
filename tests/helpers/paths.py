"""Where things are: the repository, and the captures of Docker's own log drivers."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# what Docker's own syslog, gelf and fluentd drivers sent (tests/data/docker-log-drivers/README.md)
DRIVER_CAPTURES = ROOT / "tests" / "data" / "docker-log-drivers"
