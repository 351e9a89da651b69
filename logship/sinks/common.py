"""Option types several destinations share and only destinations use."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from logship.protocol.template import TagTemplate


def _valid_tag(value: str) -> str:
    TagTemplate(value)  # raises ValueError naming an unknown placeholder
    return value


DockerTag = Annotated[str, AfterValidator(_valid_tag)]
"""A Docker log tag template ({{.ID}}, {{.Name}}, ...), checked when the config is read."""
