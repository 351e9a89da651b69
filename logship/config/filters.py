"""Which records a destination takes, and which containers a source follows: the models.

Matching them against a container lives with whoever matches: the router
(:func:`logship.pipeline.router.wants_container`) and the sources
(:mod:`logship.sources.filters`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from logship.config.values import CommaList, comma_list


class DestinationFilter(BaseModel):
    """Which records this destination takes (logspout's names). All given conditions must hold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str | None = Field(
        default=None, description="Container name glob.", examples=["*_db", "web-*"]
    )
    id: str | None = Field(default=None, description="Container ID prefix.", examples=["5f9a66"])
    sources: Annotated[list[Literal["stdout", "stderr"]], BeforeValidator(comma_list)] = Field(
        default_factory=list, description="Streams to take (default: both).", examples=[["stderr"]]
    )
    labels: Annotated[list[str], BeforeValidator(comma_list)] = Field(
        default_factory=list,
        description="Labels as key:value (value may be a glob); every one must match.",
        examples=[["io.kubernetes.pod.namespace:payments"]],
    )

    @field_validator("labels")
    @classmethod
    def _key_value(cls, value: list[str]) -> list[str]:
        for item in value:
            if ":" not in item:
                raise ValueError(f"label filter {item!r} must be key:value (value may be *)")
        return value

    def __bool__(self) -> bool:
        return bool(self.name or self.id or self.sources or self.labels)


class ContainerSelection(BaseModel):
    """A set of containers, by name glob, image glob and label (``key`` or ``key=value``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    names: CommaList = Field(
        default_factory=list, description="Container name globs.", examples=[["web-*"]]
    )
    images: CommaList = Field(
        default_factory=list,
        description="Image globs (with or without tag).",
        examples=[["nginx*"]],
    )
    labels: CommaList = Field(
        default_factory=list,
        description="Labels: `key` (any value) or `key=value` (value may be a glob).",
        examples=[["com.example.team=payments"]],
    )

    _split = field_validator("names", "images", "labels", mode="before")(comma_list)
