"""Docker's tag templates: every placeholder Docker offers, and nothing else."""

from __future__ import annotations

import pytest

from logship.protocol.template import FIELDS, TagTemplate
from logship.record import HostMeta
from tests.helpers.records import make_meta

WEB_2 = make_meta(
    id="5f9a6638b642" + "0123456789abcdef" * 3 + "0123",
    name="web-2",
    image="logship-test/busybox:1.35",
    image_id="sha256:d4e5f6a7b8c9" + "1" * 52,
    host=HostMeta("vm", "10.0.0.1"),
    command="/bin/sh -c echo hello",
)


@pytest.mark.parametrize(
    ("template", "rendered"),
    [
        ("{{.ID}}", "5f9a6638b642"),
        ("{{.FullID}}", WEB_2.id),
        ("{{.Name}}", "web-2"),
        ("{{.ImageID}}", "d4e5f6a7b8c9"),
        ("{{.ImageFullID}}", "sha256:d4e5f6a7b8c9" + "1" * 52),
        ("{{.ImageName}}", "logship-test/busybox:1.35"),
        ("{{.DaemonName}}", "docker"),
        ("{{.Hostname}}", "vm"),
        ("{{.Command}}", "/bin/sh -c echo hello"),
    ],
)
def test_each_docker_placeholder_renders_the_same_field_docker_would(
    template: str, rendered: str
) -> None:
    assert TagTemplate(template).render(WEB_2) == rendered


def test_the_parametrized_table_covers_every_placeholder_logship_accepts() -> None:
    assert set(FIELDS) == {
        "ID",
        "FullID",
        "Name",
        "ImageID",
        "ImageFullID",
        "ImageName",
        "DaemonName",
        "Hostname",
        "Command",
    }


def test_placeholders_mix_with_literal_text() -> None:
    template = TagTemplate("{{.ImageName}}/{{.Name}}/{{.ID}}")
    assert template.render(WEB_2) == "logship-test/busybox:1.35/web-2/5f9a6638b642"


def test_literal_text_around_and_between_placeholders_is_kept() -> None:
    assert TagTemplate("app-{{.Name}}.{{.Hostname}}!").render(WEB_2) == "app-web-2.vm!"


def test_spaces_inside_the_braces_are_allowed_as_in_go_templates() -> None:
    assert TagTemplate("{{ .Name }}|{{.ID }}").render(WEB_2) == "web-2|5f9a6638b642"


def test_a_template_without_placeholders_is_its_own_text() -> None:
    assert TagTemplate("static-tag").render(WEB_2) == "static-tag"
    assert TagTemplate("").render(WEB_2) == ""


def test_the_same_template_renders_each_container_its_own_way() -> None:
    other = make_meta(id="ea9c3d8e1c86" + "f" * 52, name="web-4")
    template = TagTemplate("{{.Name}}/{{.ID}}")
    assert [template.render(WEB_2), template.render(other)] == [
        "web-2/5f9a6638b642",
        "web-4/ea9c3d8e1c86",
    ]


def test_a_template_keeps_its_source_for_messages() -> None:
    template = TagTemplate("{{.Name}}")
    assert template.source == "{{.Name}}"
    assert repr(template) == "TagTemplate('{{.Name}}')"


@pytest.mark.parametrize(
    "placeholder", ["{{.Nope}}", "{{.name}}", "{{.ContainerName}}", "{{ .X }}"]
)
def test_an_unknown_placeholder_is_an_error_naming_it_and_the_known_ones(placeholder: str) -> None:
    source = f"app/{placeholder}"
    with pytest.raises(ValueError) as info:
        TagTemplate(source)
    message = str(info.value)
    assert f"unknown placeholder {placeholder!r}" in message
    assert repr(source) in message
    for name in FIELDS:
        assert "{{." + name + "}}" in message


@pytest.mark.parametrize(
    "source",
    [
        "{{.Name | printf}}",
        "{{if .Name}}x{{end}}",
        '{{index .ContainerLabels "app"}}',
        "{{json .}}",
        "{{.}}",
        "{{.Name.Short}}",
        "{{.Name}",
        "{.Name}}",
        "{{Name}}",
        "{{",
        "}}",
        "{{.Name}}}}",
    ],
)
def test_other_go_template_syntax_is_rejected(source: str) -> None:
    with pytest.raises(ValueError) as info:
        TagTemplate(source)
    message = str(info.value)
    assert f"tag template {source!r} uses template syntax logship does not support" in message
    assert "{{.Name}}" in message
