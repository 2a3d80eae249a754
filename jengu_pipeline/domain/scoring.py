"""Lead tier and score from a job title: who can say yes to a hotel deal.

The rules live in ONE ordered table, :data:`TITLE_RULES`; the first rule whose pattern
matches wins, so exclusions ("assistant general manager", "intern") come before the
senior roles they contain. Patterns run on the title folded to lower-case ASCII
(anyascii) with punctuation other than ``&`` turned into spaces, so "Directeur Général",
"Geschäftsführerin" and "F&B-Director" need no accent or spelling variants.

One implementation only: :func:`score_titles` evaluates the table with polars over the
distinct titles of a column; :func:`score_title` runs it on a one-element column, so
the scalar and the batch answer can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import polars as pl
from anyascii import anyascii

Tier = Literal["hot", "warm", "cold"]


@dataclass(frozen=True, slots=True)
class TitleRule:
    """One row of the scoring table: a regex over the folded title and what it is worth."""

    pattern: str
    tier: Tier
    score: int
    label: str


# Ordered: first match wins. Patterns are written for the folded title (see module doc),
# use only syntax that Python's re and polars' Rust regex read the same way, and are
# anchored on word boundaries so that "international" is not an "intern".
TITLE_RULES: tuple[TitleRule, ...] = (
    TitleRule(
        r"\b(?:intern|internship|trainee|student|werkstudent(?:in)?|stagiaire|praktikant(?:in)?"
        r"|auszubildende[r]?|azubi|apprenti|apprentie|alternante?|becari[oa]|practicante|stagista"
        r"|tirocinante)\b",
        "cold",
        5,
        "trainee or student",
    ),
    TitleRule(
        r"\b(?:receptionist|front desk (?:agent|clerk|associate)|night auditor|concierge|bellman"
        r"|receptionniste|rezeptionist(?:in)?|recepcionista|housekeeper|waiter|waitress)\b",
        "cold",
        10,
        "front-line staff",
    ),
    TitleRule(
        r"\b(?:(?:assistant|deputy) (?:general|hotel) manager|deputy gm|agm|executive assistant manager"
        r"|directeur general adjoint|directrice generale adjointe|directeur adjoint|directrice adjointe"
        r"|stellvertretende[rn]? (?:geschaftsfuhrer|geschaeftsfuehrer|direktor|hoteldirektor)(?:in)?"
        r"|vicedirettore|vice direttore|subdirector(?:a)?(?: general)?)\b",
        "warm",
        60,
        "deputy general manager",
    ),
    TitleRule(
        r"\b(?:assistant|assistante|assistent(?:in)?|assistenz|asistente|assistente|secretary"
        r"|secretaire|sekretar(?:in)?|secretari[ao]|segretari[ao])\b",
        "cold",
        25,
        "assistant",
    ),
    TitleRule(r"\bproduct owner\b", "cold", 20, "product owner (software)"),
    TitleRule(
        r"\b(?:owner|co owner|proprietor|founder|co founder|cofounder|proprietaire|fondateur|fondatrice"
        r"|fondatore|fondatrice|fundador(?:a)?|inhaber(?:in)?|eigentumer(?:in)?|eigentuemer(?:in)?"
        r"|grunder(?:in)?|gruender(?:in)?|propietari[oa]|proprietari[oa]|duen[oa]|titolare)\b",
        "hot",
        100,
        "owner or founder",
    ),
    TitleRule(
        r"\b(?:ceo|chief executive(?: officer)?|managing director|managing partner|geschaftsfuhrer(?:in)?"
        r"|geschaeftsfuehrer(?:in)?|pdg|president directeur general|amministratore delegato"
        r"|consejer[oa] delegad[oa])\b",
        "hot",
        95,
        "chief executive",
    ),
    TitleRule(
        r"\b(?:general manager|gm|hotel manager|hotel director|hoteldirektor(?:in)?|hotelmanager(?:in)?"
        r"|resort manager|directeur general|directrice generale|directeur d hotel|directrice d hotel"
        r"|direttore generale|direttrice generale|direttore d albergo|director(?:a)? general"
        r"|gerente general|director(?:a)? de hotel|generaldirektor(?:in)?|gerante?|hotelier|hoteliere)\b",
        "hot",
        90,
        "general manager",
    ),
    TitleRule(
        r"\b(?:vice president|vp|svp|evp|avp|vizeprasident(?:in)?|vicepresident(?:e)?|vice presidente)\b",
        "hot",
        80,
        "vice president",
    ),
    TitleRule(
        r"\b(?:chief [a-z]+(?: [a-z]+)? officer|c[fmorst]o|president|presidente|prasident(?:in)?)\b",
        "hot",
        85,
        "C-level",
    ),
    TitleRule(
        r"\b(?:(?:director|head) of (?:sales|commercial|business development|revenue)|(?:sales|commercial"
        r"|revenue) director|dosm|directeur commercial|directrice commerciale|directeur des ventes"
        r"|directrice des ventes|directeur (?:du )?revenue|verkaufsleiter(?:in)?|vertriebsleiter(?:in)?"
        r"|leiter(?:in)? (?:verkauf|vertrieb)|director(?:a)? (?:comercial|de ventas)|jef[ea] de ventas"
        r"|direttore commerciale|direttrice commerciale|direttore vendite|responsabile commerciale)\b",
        "hot",
        75,
        "commercial director",
    ),
    TitleRule(
        r"\b(?:(?:director|head) of (?:marketing|e commerce|ecommerce|digital)|marketing director"
        r"|directeur (?:du )?marketing|directrice (?:du )?marketing|marketingleiter(?:in)?"
        r"|leiter(?:in)? marketing|director(?:a)? de marketing|direttore marketing)\b",
        "hot",
        70,
        "marketing director",
    ),
    TitleRule(
        r"\b(?:revenue manager(?:in)?|revenue management|yield manager|responsable revenue"
        r"|gerente de ingresos)\b",
        "warm",
        65,
        "revenue manager",
    ),
    TitleRule(
        r"\b(?:(?:f ?& ?b|food (?:and|&) beverage) (?:director|directeur|directrice|direktor(?:in)?)"
        r"|(?:director|head) of (?:f ?& ?b|food (?:and|&) beverage)|directeur (?:de la )?restauration"
        r"|directrice (?:de la )?restauration|gastronomieleiter(?:in)?|director(?:a)? de alimentos)\b",
        "warm",
        60,
        "F&B director",
    ),
    TitleRule(
        r"\b(?:rooms division|director of rooms|rooms director|directeur (?:de l )?hebergement"
        r"|directrice (?:de l )?hebergement|leiter(?:in)? logis|director(?:a)? de alojamiento"
        r"|direttore (?:delle )?camere)\b",
        "warm",
        60,
        "rooms division",
    ),
    TitleRule(
        r"\b(?:director|directora|directeur|directrice|direktor(?:in)?|direttore|direttrice|head of|head"
        r"|leiter(?:in)?|responsable|responsabile|jef[ea])\b",
        "warm",
        55,
        "department head",
    ),
    TitleRule(
        r"\b(?:(?:sales|marketing|commercial|business development|distribution|e commerce|ecommerce"
        r"|key account|account) (?:manager(?:in)?|executive)|gerente de (?:ventas|marketing)"
        r"|verkaufsmanager(?:in)?|vertriebsmanager(?:in)?|charge d affaires)\b",
        "warm",
        50,
        "sales or marketing manager",
    ),
    TitleRule(r"\b(?:manager(?:in)?|gerente|gestor(?:a)?|chef de [a-z]+)\b", "warm", 40, "manager"),
    TitleRule(
        r"\b(?:coordinator|coordinatrice|coordinateur|koordinator(?:in)?|coordinador(?:a)?|coordinatore"
        r"|supervisor|superviseur|specialist|officer|executive|associate|agent|consultant|analyst)\b",
        "cold",
        25,
        "staff",
    ),
)

#: Tier and score of a title that matched no rule, and of a missing title.
UNMATCHED: tuple[Tier, int] = ("cold", 15)
NO_TITLE: tuple[Tier, int] = ("cold", 0)

_NON_WORD = re.compile(r"[^a-z0-9&]+")


def fold_title(title: str) -> str:
    """Lower-case ASCII with punctuation (except ``&``) as single spaces: what the rules read."""
    return _NON_WORD.sub(" ", anyascii(title).lower()).strip()


def score_titles(titles: pl.Series) -> pl.DataFrame:
    """``tier`` and ``score`` for every title of a column, in order (blank titles score 0).

    The rules are evaluated once per distinct title, as vectorised regexes over the
    folded text (first match wins), then joined back.
    """
    distinct = titles.drop_nulls().unique().to_list()
    folded = pl.DataFrame(
        {"title": distinct, "folded": [fold_title(t) for t in distinct]},
        schema={"title": pl.Utf8, "folded": pl.Utf8},
    ).filter(pl.col("folded") != "")
    # coalesce keeps the first non-null, i.e. the first rule that matches
    first_match = pl.coalesce(
        pl.when(pl.col("folded").str.contains(rule.pattern)).then(pl.lit(index, dtype=pl.Int32))
        for index, rule in enumerate(TITLE_RULES)
    )
    rule_index = folded.select("title", first_match.alias("rule"))
    table = pl.DataFrame(
        {
            "rule": pl.Series(range(len(TITLE_RULES)), dtype=pl.Int32),
            "rule_tier": [rule.tier for rule in TITLE_RULES],
            "rule_score": [rule.score for rule in TITLE_RULES],
        }
    )
    scored = rule_index.join(table, on="rule", how="left").select(
        "title",
        pl.col("rule_tier").fill_null(UNMATCHED[0]).alias("tier"),
        pl.col("rule_score").fill_null(UNMATCHED[1]).cast(pl.Int64).alias("score"),
    )
    return (
        pl.DataFrame({"title": titles.cast(pl.Utf8)})
        .join(scored, on="title", how="left", maintain_order="left")
        .select(
            pl.col("tier").fill_null(NO_TITLE[0]),
            pl.col("score").fill_null(NO_TITLE[1]),
        )
    )


def score_title(title: str | None) -> tuple[Tier, int]:
    """(tier, score 0..100) for one title; a missing or blank title is cold with score 0."""
    row = score_titles(pl.Series([title], dtype=pl.Utf8)).row(0)
    tier: Tier = row[0]
    return tier, int(row[1])
