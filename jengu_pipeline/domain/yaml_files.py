"""Operator-written YAML files (inboxes, campaigns) read one way, :func:`validate_yaml`: YAML 1.2 booleans, a key
given twice refused, and every error naming the file, the line and the field path, so an operator can fix a file
without reading a stack trace. Their models share a strict base (unknown keys are errors, numbers finite, each
bounded by its field) and one email address check.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from jengu_pipeline.domain.normalise import normalise_email

Model = TypeVar("Model", bound=BaseModel)
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
"""A required piece of text: surrounding blanks stripped, and empty is an error."""


class ConfigFileError(ValueError):
    """One or more problems in configuration files; each line names the file and the line or field."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


class StrictModel(BaseModel):
    """Unknown keys are errors: a misspelt field must not silently fall back to its default. YAML's ``.inf`` and
    ``.nan`` are no numbers an operator means."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def email_address(value: str) -> str:
    """A field validator's check of an operator-written address: normalised, or a ``ValueError`` saying why."""
    address, error = normalise_email(value)
    if address is None:
        raise ValueError(error or "an email address is required")
    return address


class Yaml12Loader(yaml.SafeLoader):
    """Booleans are only true/false as in YAML 1.2: YAML 1.1 would read the country code NO as False."""


Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_yaml(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The document's data and its node tree (which knows every value's line); syntax errors give the line."""
    loader = Yaml12Loader(text)
    try:
        node = loader.get_single_node()
        return (None if node is None else loader.construct_document(node)), node
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigFileError([f"{source}: {line}YAML syntax error: {error.problem or error}"]) from error
    except yaml.YAMLError as error:
        raise ConfigFileError([f"{source}: YAML error: {error}"]) from error
    finally:
        loader.dispose()


def duplicate_keys(node: yaml.Node | None, source: str, path: tuple[str, ...] = ()) -> list[str]:
    """A key given twice in one mapping: YAML loaders silently keep the last, hiding the first from review."""
    problems: list[str] = []
    if isinstance(node, yaml.MappingNode):
        first_lines: dict[str, int] = {}
        for key, value in node.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name is not None:
                line = key.start_mark.line + 1
                if name in first_lines:
                    where, first = ".".join((*path, name)), first_lines[name]
                    problems.append(
                        f"{source}: line {line}: {where}: given twice in one mapping (first on line {first})"
                    )
                first_lines.setdefault(name, line)
            problems += duplicate_keys(value, source, (*path, name or "?"))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            problems += duplicate_keys(item, source, (*path, str(index)))
    return problems


def _node_at(node: yaml.Node, location: tuple[int | str, ...]) -> yaml.Node:
    """The deepest node the field path reaches (a missing field's parent mapping)."""
    for part in location:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            child = node.value[part]
        if child is None:
            break
        node = child
    return node


def validate_yaml(
    model: type[Model], text: str, source: str, root: str, context: dict[str, Any] | None = None
) -> Model:
    """Parse and validate one file as ``model``; ``root`` names the whole document when an error has no field.

    ``context`` reaches the model's validators (``info.context``), for rules that depend on the file itself.
    """
    data, node = load_yaml(text, source)
    if not isinstance(data, dict) or node is None:
        raise ConfigFileError([f"{source}: {root} must be a mapping of fields, got {type(data).__name__}"])
    duplicates = duplicate_keys(node, source)
    if duplicates:
        raise ConfigFileError(duplicates)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            line = _node_at(node, item["loc"]).start_mark.line + 1
            path = ".".join(str(part) for part in item["loc"]) or root
            problems.append(f"{source}: line {line}: {path}: {item['msg'].removeprefix('Value error, ')}")
        raise ConfigFileError(problems) from error
