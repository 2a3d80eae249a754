"""Campaign YAML: valid files load, every mistake names the file and the field (or line); A/B split is stable."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jengu_pipeline.domain.campaigns import (
    AudienceRules,
    CampaignFileError,
    assign_variant,
    parse_campaign,
    read_campaign_folder,
)
from jengu_pipeline.instance import PROJECT_ROOT

VALID = """\
name: spring
status: active
starts_on: 2027-03-01
ends_on: 2027-05-31
audience:
  countries: [no, DK]
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


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(text: str) -> list[str]:
    with pytest.raises(CampaignFileError) as caught:
        parse_campaign(text, "campaigns/spring.yaml")
    return caught.value.problems


def test_a_valid_file_loads_with_defaults_and_norway_stays_a_country() -> None:
    campaign = parse_campaign(VALID, "campaigns/spring.yaml")
    assert campaign.audience.countries == ["NO", "DK"]
    assert campaign.steps[0].stop_on == ["replied", "bounced", "unsubscribed", "meeting_booked"]
    assert campaign.steps[1].template == "follow_up_1.txt.j2"
    assert [v.weight for v in campaign.variants] == [3, 1]


def test_the_example_campaign_in_the_repository_is_valid() -> None:
    files = read_campaign_folder(PROJECT_ROOT / "campaigns")
    assert files
    for item in files:
        assert item.campaign.sender.sender_email.endswith((".test", ".example"))


def test_a_negative_delay_names_file_and_field_path() -> None:
    assert problems(VALID.replace("delay_days: 3", "delay_days: -1")) == [
        "campaigns/spring.yaml: line 15: steps.1.delay_days: Input should be greater than or equal to 0"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("status: active", "status: running"),
            "campaigns/spring.yaml: line 2: status: Input should be 'draft', 'active',",
        ),
        (
            ("ends_on: 2027-05-31", "ends_on: 2027-01-01"),
            "campaigns/spring.yaml: line 1: (campaign): ends_on (2027-01-01) is before",
        ),
        (
            ("delay_days: 0", "delay_days: 2"),
            "campaigns/spring.yaml: line 13: steps: the first step must have delay_days 0",
        ),
        (
            ("    template: follow_up_1.txt.j2", "    template: follow_up_1.txt.j2\n    prompt: first_touch_v1"),
            "campaigns/spring.yaml: line 15: steps.1: give exactly one of prompt or template",
        ),
        (
            ("{name: b, weight: 1}", "{name: b, weight: 0}"),
            "campaigns/spring.yaml: line 19: variants.1.weight: Input should be greater than 0",
        ),
        (
            ("{name: b, weight: 1}", "{name: a, weight: 1}"),
            "campaigns/spring.yaml: line 18: variants: variant names must be unique",
        ),
        (
            ("countries: [no, DK]", "countries: [XX]"),
            "campaigns/spring.yaml: line 6: audience.countries: not ISO 3166-1 alpha-2",
        ),
        (
            ("sender_email: mia@jengu.test", "sender_email: not-an-address"),
            "campaigns/spring.yaml: line 9: sender.sender_email: ",
        ),
        (
            ("    prompt: first_touch_v1", "    prompt: x\n    stop_on: [replied, sunny]"),
            "campaigns/spring.yaml: line 15: steps.0.stop_on.1: Input should be 'replied'",
        ),
        (("name: spring", "name: autumn"), "campaigns/spring.yaml: line 1: name: should be the file's name 'spring'"),
        (
            ("status: active", "status: active\nstatuss: draft"),
            "campaigns/spring.yaml: line 3: statuss: Extra inputs are not permitted",
        ),
    ],
)
def test_each_mistake_names_file_and_field(change: tuple[str, str], expected: str) -> None:
    found = problems(VALID.replace(*change))
    assert any(problem.startswith(expected) for problem in found), found


def test_a_missing_field_is_named() -> None:
    text = "\n".join(line for line in VALID.splitlines() if not line.startswith("starts_on"))
    assert problems(text) == ["campaigns/spring.yaml: line 1: starts_on: Field required"]


def test_a_yaml_syntax_error_names_file_and_line() -> None:
    broken = VALID.replace("status: active", "status: [active")
    (problem,) = problems(broken)
    assert problem.startswith("campaigns/spring.yaml: line ")
    assert "YAML syntax error" in problem
    assert problems("- just\n- a list\n") == ["campaigns/spring.yaml: (campaign) must be a mapping of fields, got list"]


def test_a_folder_reports_every_bad_file_and_loads_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "campaigns"
    write(folder, "spring.yaml", VALID)
    write(folder, "bad.yaml", VALID.replace("name: spring", "name: bad").replace("delay_days: 3", "delay_days: x"))
    write(folder, "worse.yml", "name: [")
    write(folder, "README.md", "not a campaign")
    with pytest.raises(CampaignFileError) as caught:
        read_campaign_folder(folder)
    assert [p.split(":")[0] for p in caught.value.problems] == [str(folder / "bad.yaml"), str(folder / "worse.yml")]
    assert "line 15: steps.1.delay_days: Input should be a valid integer" in caught.value.problems[0]


def test_audience_rules_are_and_across_kinds_and_or_within() -> None:
    rules = AudienceRules(tiers=["hot", "warm"], countries=["dk"], title_keywords=["Manager", "owner"], tags=["spa"])
    zoe = {"tier": "hot", "country": "DK", "title": "General MANAGER", "batch_id": "b1", "tags": ["Spa", "city"]}
    assert rules.matches(zoe)
    assert not rules.matches({**zoe, "tier": "cold"})
    assert not rules.matches({**zoe, "country": "SE"})
    assert not rules.matches({**zoe, "title": "Receptionist"})
    assert not rules.matches({**zoe, "tags": None})
    assert rules.model_copy(update={"tags": []}).matches({**zoe, "tags": None})
    assert AudienceRules().matches({"tier": "cold"})


def test_no_variants_means_no_arm() -> None:
    assert assign_variant("spring", "p1", []) is None


@settings(max_examples=200, deadline=None)
@given(
    campaign=st.text(min_size=1, max_size=20),
    prospect=st.text(min_size=1, max_size=40),
    weights=st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=5),
)
def test_variant_assignment_is_stable_and_always_an_arm(campaign: str, prospect: str, weights: list[float]) -> None:
    arms = [(f"v{i}", w) for i, w in enumerate(weights)]
    first = assign_variant(campaign, prospect, arms)
    assert first in {name for name, _ in arms}
    assert assign_variant(campaign, prospect, list(arms)) == first


@settings(max_examples=20, deadline=None)
@given(
    campaign=st.text(min_size=1, max_size=12),
    weights=st.lists(st.integers(min_value=1, max_value=5), min_size=2, max_size=4),
)
def test_variant_proportions_follow_the_weights(campaign: str, weights: list[int]) -> None:
    arms = [(f"v{i}", float(w)) for i, w in enumerate(weights)]
    ids = 4000
    counts = Counter(assign_variant(campaign, f"prospect-{n}", arms) for n in range(ids))
    total = sum(weights)
    for name, weight in arms:
        assert abs(counts[name] / ids - weight / total) < 0.04, (counts, arms)
