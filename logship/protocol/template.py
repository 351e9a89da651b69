"""Docker's log tag templates (``--log-opt tag=...``), checked when the config is read.

Docker renders Go templates over its ``logger.Info``; users' tags use a handful of its
placeholders, and logship accepts exactly those, so a tag that worked with
``--log-driver syslog`` means the same here. Anything else is a config error naming it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from logship.config.labels import container_options
from logship.record import ContainerMeta

log = logging.getLogger("logship")

_PLACEHOLDER = re.compile(r"\{\{\s*\.(\w+)\s*\}\}")

FIELDS: dict[str, Callable[[ContainerMeta], str]] = {
    "ID": lambda m: m.short_id,
    "FullID": lambda m: m.id,
    "Name": lambda m: m.name,
    "ImageID": lambda m: m.short_image_id,
    "ImageFullID": lambda m: m.image_id,
    "ImageName": lambda m: m.image,
    "DaemonName": lambda m: "docker",
    "Hostname": lambda m: m.host.name,
    "Command": lambda m: m.command,
}


class TagTemplate:
    """A parsed tag template; :meth:`render` fills it in for one container."""

    __slots__ = ("_parts", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self._parts: list[str | Callable[[ContainerMeta], str]] = []
        pos = 0
        for m in _PLACEHOLDER.finditer(source):
            name = m.group(1)
            if name not in FIELDS:
                raise ValueError(
                    f"unknown placeholder {m.group(0)!r} in tag template {source!r}; "
                    f"expected one of {', '.join('{{.' + f + '}}' for f in FIELDS)}"
                )
            self._parts.append(source[pos : m.start()])
            self._parts.append(FIELDS[name])
            pos = m.end()
        self._parts.append(source[pos:])
        leftover = "".join(p for p in self._parts if isinstance(p, str))
        if "{{" in leftover or "}}" in leftover:
            raise ValueError(
                f"tag template {source!r} uses template syntax logship does not support; "
                "only placeholders like {{.Name}} are allowed"
            )

    def render(self, meta: ContainerMeta) -> str:
        """The tag of ``meta``: the container's own (label ``logship.tag``, a template too)
        when it has one that can be used, else this template's."""
        own = container_options(meta).tag
        if own is not None:
            template = _own_template(meta, own)
            if template is not None:
                return template.fill(meta)
        return self.fill(meta)

    def fill(self, meta: ContainerMeta) -> str:
        """This template, filled in for ``meta``."""
        return "".join(p if isinstance(p, str) else p(meta) for p in self._parts)

    def __repr__(self) -> str:
        return f"TagTemplate({self.source!r})"


_OWN = "logship.tag.template"  # meta.cache key: the container's own tag, parsed (or False)


def _own_template(meta: ContainerMeta, source: str) -> TagTemplate | None:
    own: TagTemplate | bool | None = meta.cache.get(_OWN)
    if own is None:
        try:
            own = TagTemplate(source)
        except ValueError as exc:
            log.warning("container %s: label logship.tag: %s; the label is ignored", meta.name, exc)
            own = False
        meta.cache[_OWN] = own
    return own if isinstance(own, TagTemplate) else None
