"""Campaign definitions: version-controlled YAML files, one per campaign, validated before anything is stored.

A campaign says who it is for (audience rules), who writes (sending identity), what goes out when (steps)
and how the audience is split (A/B variants). Errors name the file and the field path, so an operator can
fix a definition without reading a stack trace.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

import pycountry
from pydantic import Field, StringConstraints, ValidationInfo, field_validator, model_validator

from jengu_pipeline.domain.compose import PROMPTS, known_templates
from jengu_pipeline.domain.senders import SendingIdentity
from jengu_pipeline.domain.sequences import CampaignHealthRules, StepVariant
from jengu_pipeline.domain.yaml_files import ConfigFileError, StrictModel, Text, validate_yaml

CampaignStatus = Literal["draft", "active", "paused", "completed"]
StopCondition = Literal["replied", "bounced", "unsubscribed", "meeting_booked", "complained", "company_reply"]
Tier = Literal["hot", "warm", "cold"]
Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]

MAX_DELAY_DAYS = 365
"""A follow-up a year after the previous step is the longest wait a sequence may have."""
MAX_VARIANT_WEIGHT = 1000
"""Weights are proportions: 1000 to 1 is already a split no A/B test can read."""
MAX_STEPS = 20
MAX_VARIANTS = 20
MAX_DAILY_NEW_PROSPECTS = 10_000

DEFAULT_STOP_CONDITIONS: tuple[StopCondition, ...] = ("replied", "bounced", "unsubscribed", "meeting_booked")
CAMPAIGN_FILE_SUFFIXES = (".yaml", ".yml")


class AudienceRules(StrictModel):
    """Who a campaign is for: every kind given must match (AND), any value within a kind may (OR)."""

    tiers: list[Tier] = Field(default_factory=list)
    countries: list[str] = Field(default_factory=list, description="ISO 3166-1 alpha-2 codes")
    tags: list[Text] = Field(default_factory=list)
    batch_ids: list[Text] = Field(default_factory=list)
    title_keywords: list[Text] = Field(default_factory=list, description="case-insensitive substrings of the title")

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, codes: list[str]) -> list[str]:
        upper = [code.strip().upper() for code in codes]
        unknown = [code for code in upper if pycountry.countries.get(alpha_2=code) is None]
        if unknown:
            raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {', '.join(unknown)}")
        return upper

    def matches(self, prospect: Mapping[str, Any]) -> bool:
        """Whether a prospect row (tier, country, title, batch_id, tags) falls in this audience."""
        title = (prospect.get("title") or "").casefold()
        tags = {tag.casefold() for tag in prospect.get("tags") or []}
        return (
            (not self.tiers or prospect.get("tier") in self.tiers)
            and (not self.countries or (prospect.get("country") or "").upper() in self.countries)
            and (not self.batch_ids or prospect.get("batch_id") in self.batch_ids)
            and (not self.tags or any(tag.casefold() in tags for tag in self.tags))
            and (not self.title_keywords or any(word.casefold() in title for word in self.title_keywords))
        )


class Step(StrictModel):
    """One message of the sequence, sent ``delay_days`` after the previous one unless a stop condition occurred.

    A reply, an unsubscribe, a bounce or a suppression always stop the sequence; ``stop_on`` adds
    ``company_reply`` (anyone at the prospect's company domain replied).
    """

    delay_days: int = Field(ge=0, le=MAX_DELAY_DAYS)
    stop_on: list[StopCondition] = Field(default_factory=lambda: list(DEFAULT_STOP_CONDITIONS))
    prompt: Text | None = None
    template: Text | None = Field(default=None, description="a Jinja2 template name")
    subject: Text | None = Field(default=None, description="a follow-up's own subject; none: Re: the previous one")
    variants: list[StepVariant] = Field(default_factory=list, description="what an A/B arm gets at this step")

    def for_variant(self, variant: str | None) -> Step:
        """The step as this A/B arm writes it: the arm's prompt or template and subject where it gives one."""
        arm = next((arm for arm in self.variants if arm.name == variant), None)
        if arm is None:
            return self
        update = {"prompt": arm.prompt, "template": arm.template, "subject": arm.subject or self.subject}
        return self.model_copy(update={**update, "variants": []})

    def variant_description(self, variant: str | None) -> str | None:
        """The angle this arm's writer gets at this step, when the step gives one."""
        return next((arm.description for arm in self.variants if arm.name == variant and arm.description), None)

    @model_validator(mode="after")
    def _prompt_or_template(self) -> Step:
        if (self.prompt is None) == (self.template is None):
            raise ValueError("give exactly one of prompt or template")
        return self

    @field_validator("prompt")
    @classmethod
    def _known_prompt(cls, prompt: str | None) -> str | None:
        if prompt is not None and prompt not in PROMPTS:
            raise ValueError(f"unknown prompt {prompt!r}; known: {', '.join(sorted(PROMPTS))}")
        return prompt

    @field_validator("template")
    @classmethod
    def _known_template(cls, template: str | None) -> str | None:
        if template is not None and template not in known_templates():
            raise ValueError(f"unknown template {template!r}; known: {', '.join(known_templates())}")
        return template


class Variant(StrictModel):
    """An A/B arm; prospects are split across arms in proportion to the weights."""

    name: Slug
    weight: float = Field(default=1.0, gt=0, le=MAX_VARIANT_WEIGHT)
    description: str | None = None


class Campaign(StrictModel):
    """A campaign as written in ``campaigns/<name>.yaml``."""

    name: Slug
    title: str | None = None
    status: CampaignStatus
    starts_on: date
    ends_on: date
    value_proposition: str | None = None
    audience: AudienceRules = Field(default_factory=AudienceRules)
    sender: SendingIdentity
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    variants: list[Variant] = Field(default_factory=list, max_length=MAX_VARIANTS)
    requires_approval: bool = Field(default=False, description="messages wait for `jengu messages approve`")
    business_days: bool = Field(default=False, description="count delay_days in the prospect's working days")
    daily_new_prospects: int | None = Field(
        default=None, ge=1, le=MAX_DAILY_NEW_PROSPECTS, description="first touches a sending day, at most"
    )
    stop_on: list[StopCondition] = Field(default_factory=list, description="stop conditions of every step")
    health: CampaignHealthRules = Field(default_factory=CampaignHealthRules)
    allowed_link_domains: list[str] = Field(
        default_factory=list, description="domains a message may link to, besides the sender's own"
    )

    @field_validator("name")
    @classmethod
    def _named_as_its_file(cls, name: str, info: ValidationInfo) -> str:
        stem = (info.context or {}).get("file_stem")
        if stem is not None and name != stem:
            raise ValueError(f"should be the file's name {stem!r} (one file per campaign)")
        return name

    @field_validator("allowed_link_domains")
    @classmethod
    def _bare_domains(cls, domains: list[str]) -> list[str]:
        cleaned = [domain.strip().lower().removeprefix("www.") for domain in domains]
        bad = [domain for domain in cleaned if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", domain)]
        if bad:
            raise ValueError(f"not bare domain names (no scheme or path): {', '.join(bad)}")
        return cleaned

    def link_domains(self) -> frozenset[str]:
        """Where a message may link: the sender's domain and the ones the campaign allows."""
        return frozenset({self.sender.sender_email.rpartition("@")[2], *self.allowed_link_domains})

    @field_validator("steps")
    @classmethod
    def _first_step_now(cls, steps: list[Step]) -> list[Step]:
        if steps and steps[0].delay_days != 0:
            raise ValueError("the first step must have delay_days 0")
        return steps

    @field_validator("variants")
    @classmethod
    def _unique_variant_names(cls, variants: list[Variant]) -> list[Variant]:
        names = [variant.name for variant in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {', '.join(names)}")
        return variants

    @model_validator(mode="after")
    def _dates_in_order(self) -> Campaign:
        if self.ends_on < self.starts_on:
            raise ValueError(f"ends_on ({self.ends_on}) is before starts_on ({self.starts_on})")
        return self

    @model_validator(mode="after")
    def _step_variants_are_arms(self) -> Campaign:
        arms = {variant.name for variant in self.variants}
        for number, step in enumerate(self.steps, start=1):
            unknown = [arm.name for arm in step.variants if arm.name not in arms]
            if unknown:
                raise ValueError(f"step {number}: variants not among the campaign's variants: {', '.join(unknown)}")
        return self

    def stops_on(self, condition: StopCondition) -> bool:
        """Whether the campaign, or any of its steps, lists this stop condition."""
        return condition in self.stop_on or any(condition in step.stop_on for step in self.steps)

    def assign_variant(self, prospect_id: str) -> str | None:
        """This prospect's A/B arm in this campaign (None without variants); see :func:`assign_variant`."""
        return assign_variant(self.name, prospect_id, [(v.name, v.weight) for v in self.variants])


class CampaignFileError(ConfigFileError):
    """One or more campaign files are invalid; each line names the file, the line and the field."""


@dataclass(frozen=True)
class CampaignFile:
    """A validated definition with where it came from and a hash of its bytes (to tell a changed file)."""

    campaign: Campaign
    source_file: str
    content_hash: str


def parse_campaign(text: str, source: str) -> Campaign:
    """Validate one file's text; ``source`` is the name used in error messages (with the line of each field)."""
    try:
        return validate_yaml(Campaign, text, source, "(campaign)", context={"file_stem": Path(source).stem})
    except ConfigFileError as error:
        raise CampaignFileError(error.problems) from error


def read_campaign_folder(folder: Path) -> list[CampaignFile]:
    """Every ``*.yaml``/``*.yml`` campaign in ``folder``: all valid, or a :class:`CampaignFileError` listing all."""
    if not folder.is_dir():
        raise CampaignFileError([f"{folder}: no such campaign folder"])
    found: list[CampaignFile] = []
    problems: list[str] = []
    for path in sorted(p for p in folder.iterdir() if p.suffix in CAMPAIGN_FILE_SUFFIXES):
        raw = path.read_bytes()
        try:
            campaign = parse_campaign(raw.decode("utf-8"), str(path))
        except CampaignFileError as error:
            problems += error.problems
            continue
        except UnicodeDecodeError as error:
            problems.append(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})")
            continue
        found.append(CampaignFile(campaign, str(path), hashlib.sha256(raw).hexdigest()))
    if problems:
        raise CampaignFileError(problems)
    return found


def assign_variant(campaign_id: str, prospect_id: str, weights: Sequence[tuple[str, float]]) -> str | None:
    """The A/B arm for a prospect: a hash of (campaign, prospect) placed on the cumulative weights.

    Pure and stable, so re-runs, other processes and later analysis all agree on the split without storing
    randomness; a prospect in two campaigns is split independently in each.
    """
    if not weights:
        return None
    digest = hashlib.sha256(f"{campaign_id}\x00{prospect_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") / 2**64 * sum(weight for _, weight in weights)
    cumulative = 0.0
    for name, weight in weights:
        cumulative += weight
        if point < cumulative:
            return name
    return weights[-1][0]
