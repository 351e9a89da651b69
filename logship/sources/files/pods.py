"""Where the kubelet has the runtime write pod logs, and what a log file's place there says
of its container: ``<pods_dir>/<namespace>_<pod>_<pod uid>/<container>/<restart>.log``, linked
as ``<links_dir>/<pod>_<namespace>_<container>-<container id>.log``. No reading of logs here."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from logship.record import KubernetesMeta

POD_DIR = re.compile(r"(?P<namespace>[^_/]+)_(?P<pod>[^_/]+)_(?P<uid>[^_/]+)")
LOG_FILE = re.compile(r"(?P<restart>\d+)\.log")
_LINK = re.compile(
    r"(?P<pod>[^_/]+)_(?P<namespace>[^_/]+)_(?P<container>.+)-(?P<id>[0-9a-f]{64})\.log"
)


@dataclass(frozen=True)
class PodLog:
    """What a log file's place under the pods directory says of its container."""

    namespace: str
    pod: str
    uid: str
    container: str
    restart: int

    @classmethod
    def of(cls, path: Path) -> PodLog | None:
        """``.../<namespace>_<pod>_<uid>/<container>/<restart>.log``; None for other paths."""
        parts = path.parts
        if len(parts) < 3:
            return None
        pod_dir, container, name = parts[-3], parts[-2], parts[-1]
        pod_match, file_match = POD_DIR.fullmatch(pod_dir), LOG_FILE.fullmatch(name)
        if pod_match is None or file_match is None:
            return None
        return cls(
            pod_match["namespace"],
            pod_match["pod"],
            pod_match["uid"],
            container,
            int(file_match["restart"]),
        )

    def labels(self) -> dict[str, str]:
        """The labels the kubelet puts on a container, as the Engine API source reads them."""
        return {
            "io.kubernetes.pod.namespace": self.namespace,
            "io.kubernetes.pod.name": self.pod,
            "io.kubernetes.pod.uid": self.uid,
            "io.kubernetes.container.name": self.container,
        }

    def kubernetes(self) -> KubernetesMeta:
        return KubernetesMeta(self.namespace, self.pod, self.uid, self.container, self.restart)

    def fallback_id(self) -> str:
        """An ID for a container whose link (and so whose runtime ID) is not known: stable
        for the same file, never one a runtime would give."""
        key = f"{self.uid}/{self.container}/{self.restart}".encode()
        return "cri-" + hashlib.sha256(key).hexdigest()[:60]


def container_ids(links_dir: Path) -> dict[tuple[str, str, str], str]:
    """``(pod directory, container, file name)`` -> container ID, from the kubelet's links
    (read as links: their targets are paths on the node, which may be mounted elsewhere
    here)."""
    ids: dict[tuple[str, str, str], str] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir(links_dir):
            match = _LINK.fullmatch(entry.name)
            if match is None:
                continue
            try:
                target = Path(os.readlink(entry.path))
            except OSError:
                continue
            if len(target.parts) >= 3:
                ids[target.parts[-3], target.parts[-2], target.parts[-1]] = match["id"]
    return ids


def read_path(path: Path) -> tuple[Path, bool]:
    """The file to read for a pod log, and whether it is in Docker's json-file format: on a
    node whose runtime is Docker (cri-dockerd), the kubelet's pod log is a link to the
    container's ``<id>-json.log``, which rotates as json-file does, next to its target."""
    if path.is_symlink():
        with contextlib.suppress(OSError):
            target = path.resolve(strict=True)
            if target.name.endswith("-json.log"):
                return target, True
    return path, False
