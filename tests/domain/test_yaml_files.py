"""The one loader of operator-written YAML (campaigns, inboxes): keys given twice are refused, every number has a
range, and each problem names the file, the line and the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from jengu_pipeline.domain.campaigns import Campaign, CampaignFileError, parse_campaign
from jengu_pipeline.domain.inboxes import InboxFile, InboxFileError, parse_inbox_file
from jengu_pipeline.domain.yaml_files import ConfigFileError

CAMPAIGN = """\
name: spring
status: active
starts_on: 2027-03-01
ends_on: 2027-05-31
sender:
  sender_name: Mia
  sender_email: mia@jengu.test
  postal_address: 1 Example Street, Nowhere
  unsubscribe_text: Reply stop to opt out.
steps:
  - delay_days: 0
    prompt: first_touch_v1
  - delay_days: 3
    template: follow_up_1.txt.j2
variants:
  - {name: a, weight: 3}
  - {name: b, weight: 1}
"""
INBOXES = """\
inboxes:
  - address: mia@jengu.test
    display_name: Mia
    smtp: {host: smtp.jengu.test, port: 587, username: mia, password_env: MIA_PW}
    warmup_start: 2027-01-04
sending:
  min_gap_seconds: 60
  warmup_stages: [5, 10]
"""


def campaign_problems(text: str) -> list[str]:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaign(text, "campaigns/spring.yaml")
    return caught.value.problems


def inbox_problems(text: str) -> list[str]:
    with pytest.raises(InboxFileError) as caught:
        parse_inbox_file(text, "inboxes.yaml")
    return caught.value.problems


def test_both_files_load_as_written() -> None:
    assert parse_campaign(CAMPAIGN, "campaigns/spring.yaml").steps[1].delay_days == 3
    assert parse_inbox_file(INBOXES, "inboxes.yaml").sending.warmup_stages == [5, 10]


def test_a_key_given_twice_is_refused_with_its_path_and_both_lines() -> None:
    twice = CAMPAIGN.replace("  - delay_days: 3\n", "  - delay_days: 3\n    delay_days: 4\n")
    assert campaign_problems(twice) == [
        "campaigns/spring.yaml: line 14: steps.1.delay_days: given twice in one mapping (first on line 13)"
    ]
    top = CAMPAIGN + "status: draft\n"
    assert campaign_problems(top) == [
        "campaigns/spring.yaml: line 18: status: given twice in one mapping (first on line 2)"
    ]
    inbox = INBOXES.replace("  min_gap_seconds: 60\n", "  min_gap_seconds: 60\n  min_gap_seconds: 0\n")
    assert inbox_problems(inbox) == [
        "inboxes.yaml: line 8: sending.min_gap_seconds: given twice in one mapping (first on line 7)"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("delay_days: 3", "delay_days: 10000000000000000000000000000"),
            "campaigns/spring.yaml: line 13: steps.1.delay_days: Input should be less than or equal to 365",
        ),
        (
            ("{name: b, weight: 1}", "{name: b, weight: 1e30}"),
            "campaigns/spring.yaml: line 17: variants.1.weight: Input should be less than or equal to 1000",
        ),
        (
            ("{name: b, weight: 1}", "{name: b, weight: .inf}"),
            "campaigns/spring.yaml: line 17: variants.1.weight: Input should be a finite number",
        ),
        (
            ("{name: b, weight: 1}", "{name: b, weight: .nan}"),
            "campaigns/spring.yaml: line 17: variants.1.weight: Input should be a finite number",
        ),
    ],
)
def test_a_campaign_number_out_of_range_is_refused_with_its_line(change: tuple[str, str], expected: str) -> None:
    assert campaign_problems(CAMPAIGN.replace(*change)) == [expected]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("min_gap_seconds: 60", "min_gap_seconds: 100000000"),
            "inboxes.yaml: line 7: sending.min_gap_seconds: Input should be less than or equal to 3600",
        ),
        (
            ("warmup_stages: [5, 10]", "warmup_stages: [5, 1000]"),
            "inboxes.yaml: line 8: sending.warmup_stages.1: Input should be less than or equal to 50",
        ),
        (
            ("min_gap_seconds: 60", "skip_probability: .nan"),
            "inboxes.yaml: line 7: sending.skip_probability: Input should be a finite number",
        ),
    ],
)
def test_an_inbox_number_out_of_range_is_refused_with_its_line(change: tuple[str, str], expected: str) -> None:
    assert inbox_problems(INBOXES.replace(*change)) == [expected]


def numbers(schema: dict[str, Any], node: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every integer or number in a JSON schema, with its path (references followed once)."""
    if isinstance(node, dict):
        if "$ref" in node:
            yield from numbers(schema, schema["$defs"][node["$ref"].rsplit("/", 1)[1]], path)
            return
        if node.get("type") in {"integer", "number"}:
            yield path, node
        for key, value in node.items():
            if key in {"properties", "items", "anyOf", "additionalProperties"} or isinstance(value, (dict, list)):
                yield from numbers(schema, value, f"{path}.{key}" if key != "properties" else path)
    elif isinstance(node, list):
        for item in node:
            yield from numbers(schema, item, path)


@pytest.mark.parametrize("model", [Campaign, InboxFile])
def test_every_number_an_operator_writes_has_a_range(model: type[BaseModel]) -> None:
    schema = model.model_json_schema()
    found = list(numbers(schema, schema, model.__name__))
    assert len(found) >= 2
    unbounded = [
        path
        for path, number in found
        if not ({"minimum", "exclusiveMinimum"} & number.keys() and {"maximum", "exclusiveMaximum"} & number.keys())
    ]
    assert unbounded == []


def test_every_problem_is_a_config_file_error() -> None:
    assert issubclass(CampaignFileError, ConfigFileError)
    assert issubclass(InboxFileError, ConfigFileError)
