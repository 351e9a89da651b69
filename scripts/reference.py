"""Write docs/reference.md from the configuration models: every setting and every destination's
options, with type, default and description, as the code defines them.

    .venv/bin/python scripts/reference.py          # rewrite docs/reference.md
    .venv/bin/python scripts/reference.py --check  # exit 1 if it is not current

The models are the documentation (each field's ``description`` and ``examples``); this only
lays them out. tests/unit/test_docs_reference.py fails when docs/reference.md is not what this
writes, so a new option cannot go undocumented.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "docs" / "reference.md"

# settings the command line sets directly (`logship run --FLAG`)
FLAGS = {
    "docker_host": "--docker-host",
    "hostname": "--hostname",
    "host_ip": "--host-ip",
    "destinations": "DESTINATION-URI ...",
    "include": "--include-name/-image/-label",
    "exclude": "--exclude-name/-image/-label",
    "backlog": "--backlog",
    "state_dir": "--state-dir",
    "log_level": "--log-level",
    "honor_ignore": "--[no-]honor-ignore",
    "http.listen": "--http",
    "http.token_file": "--http-token-file",
}


def type_name(annotation: Any) -> str:
    """A field's type as a reader wants it: ``int``, ``text``, ``a | b``, ``list of text``."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{value}`" for value in args)
    if origin in (typing.Union, types.UnionType):
        names = [type_name(arg) for arg in args if arg is not type(None)]
        return " \\| ".join(names) + (" or none" if type(None) in args else "")
    if origin is list:
        return f"list of {type_name(args[0])}" if args else "list"
    if annotation is bool:
        return "true \\| false"
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return "options"
        return {"str": "text", "Path": "path", "SecretStr": "secret"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def default_of(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    if field.default_factory is not None:
        value = field.default_factory()  # type: ignore[call-arg]
        if isinstance(value, BaseModel):
            return ""
    else:
        value = field.default
    if value is None or value is PydanticUndefined:
        return ""
    if value in ([], {}):
        return ""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def para(text: str) -> str:
    """A docstring as one Markdown paragraph (reST's ``code`` as Markdown's `code`)."""
    return " ".join(text.split()).replace("``", "`")


def cell(text: str) -> str:
    """Text in a table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def prose(text: str) -> str:
    """A description in a table cell: also ``<dir>`` shown as written, not taken for HTML."""
    return cell(text.replace("<", "&lt;").replace(">", "&gt;"))


def rows(model: type[BaseModel], prefix: str = "") -> Iterator[tuple[str, FieldInfo]]:
    """Every option of ``model``, nested models' options under ``prefix.``, in field order."""
    for name, field in model.model_fields.items():
        nested = _nested_model(field.annotation)
        if nested is not None:
            yield from rows(nested, f"{prefix}{name}.")
        else:
            yield f"{prefix}{name}", field


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    """The model of a block of options (that may be left out: ``Model | None``)."""
    args = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def describe(field: FieldInfo) -> str:
    text = prose(field.description or "")
    if field.examples:
        shown = ", ".join(f"`{cell(str(example))}`" for example in field.examples)
        text += f" Example: {shown}."
    return text


def settings_section() -> list[str]:
    from logship.settings import Settings

    out = [
        "## Settings",
        "",
        "Given on the command line (the flag, where there is one), as environment variables "
        "(`LOGSHIP_` and the name in capitals, nested with `__`: `LOGSHIP_BUFFER__MAX_RECORDS`), "
        "or in the YAML file of `--config` under the same names (nested blocks for dotted "
        "names), in that order of priority.",
        "",
        "| setting | flag | type | default | description |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, field in rows(Settings):
        if name == "destinations":
            kind = "list of URIs or destination blocks (below)"
        else:
            kind = type_name(field.annotation)
        flag = FLAGS.get(name, FLAGS.get(name.split(".")[0], ""))
        default = default_of(field)
        if default == "required" and "." in name:  # what turns a block that is off by default on
            default = ""
        out.append(
            f"| `{name}` | {f'`{flag}`' if flag else ''} | {kind} | {default} | {describe(field)} |"
        )
    return out


def destination_sections() -> list[str]:
    from logship.config.destination import DestinationConfig
    from logship.sinks.registry import destination_types

    out = [
        "## Destinations",
        "",
        "Each destination is a URI (`logship run URI ...`) or a block in `destinations:` with "
        "its `type`. In a URI the options are query keys, dotted for nested options "
        "(`tls.ca_file=...`); a URI's user, password, host, port and path fill the options of "
        "those names.",
    ]
    shared = set(DestinationConfig.model_fields)
    for kind in destination_types():
        package = importlib.import_module(kind.config.__module__.rpartition(".")[0])
        schemes = ", ".join(
            f"`{scheme}://`" + (f" ({_implied(implied)})" if implied else "")
            for scheme, implied in kind.schemes.items()
        )
        out += [
            "",
            f"### {kind.name}",
            "",
            para(package.__doc__ or ""),
            "",
            f"URI schemes: {schemes}.",
            "",
            "| option | type | default | description |",
            "| --- | --- | --- | --- |",
        ]
        options = [(name, field) for name, field in rows(kind.config) if name != "type"]
        # its own options first, then those every destination has
        options.sort(key=lambda option: option[0].split(".")[0] in shared)
        for name, field in options:
            out.append(
                f"| `{name}` | {type_name(field.annotation)} | {default_of(field)} "
                f"| {describe(field)} |"
            )
    return out


def _implied(implied: Any) -> str:
    return ", ".join(f"{key}={value}" for key, value in implied.items())


def render() -> str:
    lines = [
        "# Reference",
        "",
        "<!-- Written by scripts/reference.py from the configuration models; do not edit by",
        "     hand: change a field's description in the code and run the script. -->",
        "",
        "Every setting and every destination option, with its type and default, as the code "
        "defines them. [configuration.md](configuration.md) and "
        "[destinations.md](destinations.md) explain how they work together.",
        "",
        *settings_section(),
        "",
        *destination_sections(),
    ]
    text = "\n".join(lines)
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text.rstrip() + "\n"


def write_or_check(page: Path, text: str, doc: str, script: str) -> int:
    """A generated page's command line (this script's, scripts/chart_values.py's): write
    ``text`` to ``page``, or with ``--check`` exit 1 when the page is not ``text``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if it is not current")
    args = parser.parse_args()
    if args.check:
        if not page.exists() or page.read_text() != text:
            print(f"{page} is not current: run scripts/{script}", file=sys.stderr)
            return 1
        return 0
    page.write_text(text)
    return 0


def main() -> int:
    return write_or_check(REFERENCE, render(), __doc__ or "", "reference.py")


if __name__ == "__main__":
    sys.exit(main())
