"""Which containers to follow: include/exclude by name glob, image glob and label.

A container is followed when it matches every *include* list that is not empty (any entry of a
list will do) and no entry of any *exclude* list. Whatever the lists say, a container opts out
with the label ``logship.ignore=true`` or the environment variable ``LOGSHIP=ignore`` (or
``LOGSPOUT=ignore``, for people coming from logspout). The kubelet's pod sandboxes ("pause"
containers, label ``io.kubernetes.docker.type=podsandbox``) are never followed: they write
nothing, and following them would double the log streams on a Kubernetes node.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from logship.record import ContainerMeta

IGNORE_LABEL = "logship.ignore"
IGNORE_ENV = ("LOGSHIP=ignore", "LOGSPOUT=ignore")
K8S_SANDBOX = ("io.kubernetes.docker.type", "podsandbox")


def label_matches(spec: str, labels: dict[str, str]) -> bool:
    """``key`` (present, any value) or ``key=value`` (value may be a glob)."""
    key, sep, value = spec.partition("=")
    if key not in labels:
        return False
    return not sep or fnmatchcase(labels[key], value)


def _image_matches(glob: str, meta: ContainerMeta) -> bool:
    """``nginx*`` matches ``nginx:1.25``; ``app`` matches ``app:latest`` too."""
    return fnmatchcase(meta.image, glob) or fnmatchcase(meta.image_name, glob)


@dataclass(frozen=True)
class Selector:
    names: Sequence[str] = ()
    images: Sequence[str] = ()
    labels: Sequence[str] = ()

    def __bool__(self) -> bool:
        return bool(self.names or self.images or self.labels)


@dataclass(frozen=True)
class ContainerFilter:
    include: Selector = field(default_factory=Selector)
    exclude: Selector = field(default_factory=Selector)
    honor_ignore: bool = True  # a container's own opt-out (label or environment) counts

    def reason_to_skip(self, meta: ContainerMeta) -> str | None:
        """None when the container is to be followed, else why not (for the log)."""
        if self.honor_ignore:
            if meta.labels.get(IGNORE_LABEL, "").lower() in ("true", "1", "yes"):
                return f"it opts out with label {IGNORE_LABEL}={meta.labels[IGNORE_LABEL]}"
            for opt_out in IGNORE_ENV:
                if opt_out in meta.env:
                    return f"it opts out with environment {opt_out}"
        if meta.labels.get(K8S_SANDBOX[0]) == K8S_SANDBOX[1]:
            return "a Kubernetes pod sandbox (pause container)"
        inc, exc = self.include, self.exclude
        if inc.names and not any(fnmatchcase(meta.name, g) for g in inc.names):
            return "name not included"
        if inc.images and not any(_image_matches(g, meta) for g in inc.images):
            return "image not included"
        if inc.labels and not any(label_matches(s, meta.labels) for s in inc.labels):
            return "labels not included"
        for glob in exc.names:
            if fnmatchcase(meta.name, glob):
                return f"name excluded by {glob!r}"
        for glob in exc.images:
            if _image_matches(glob, meta):
                return f"image excluded by {glob!r}"
        for spec in exc.labels:
            if label_matches(spec, meta.labels):
                return f"label excluded by {spec!r}"
        return None
