"""The test containers on the shared engine: their image, their label, and who removes them."""

from __future__ import annotations

import os
import uuid
from typing import Any

IMAGE = os.environ.get("LOGSHIP_TEST_IMAGE", "logship-test/busybox:1.35")
RUN_ID = uuid.uuid4().hex[:10]  # this test run's; every test container's label value starts so
TEST_LABEL = "logship.test"


class Containers:
    """Starts test containers (labelled, no network) and removes them all afterwards."""

    def __init__(self, client: Any, label: str) -> None:
        self.client = client
        self.label = label
        self.started: list[Any] = []

    def run(
        self,
        command: str,
        *,
        name: str | None = None,
        labels: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        container = self.client.containers.run(
            IMAGE,
            ["sh", "-c", command],
            name=name or f"lt-{uuid.uuid4().hex[:8]}",
            labels={TEST_LABEL: self.label, **(labels or {})},
            network_mode="none",
            detach=True,
            **kwargs,
        )
        self.started.append(container)
        return container

    def cleanup(self) -> None:
        for container in self.started:
            try:
                container.remove(force=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
