from __future__ import annotations

import re

import polars as pl
import pytest

from jengu_pipeline.domain.scoring import NO_TITLE, TITLE_RULES, UNMATCHED, fold_title, score_title, score_titles

# (title, tier, score): at least one example per rule of the table, in several languages.
EXAMPLES = [
    ("Marketing Intern", "cold", 5),
    ("Stagiaire Réception", "cold", 5),
    ("Werkstudentin Revenue Management", "cold", 5),
    ("Becario de Ventas", "cold", 5),
    ("Receptionist", "cold", 10),
    ("Réceptionniste de nuit", "cold", 10),
    ("Assistant General Manager", "warm", 60),
    ("Directeur Général Adjoint", "warm", 60),
    ("Stellvertretender Hoteldirektor", "warm", 60),
    ("Executive Assistant to the CEO", "cold", 25),
    ("Assistante de direction", "cold", 25),
    ("Product Owner", "cold", 20),
    ("Owner", "hot", 100),
    ("Co-Founder & CEO", "hot", 100),
    ("Propriétaire", "hot", 100),
    ("Inhaberin", "hot", 100),
    ("Propietario", "hot", 100),
    ("Titolare", "hot", 100),
    ("CEO", "hot", 95),
    ("Managing Director", "hot", 95),
    ("Geschäftsführerin", "hot", 95),
    ("Amministratore Delegato", "hot", 95),
    ("General Manager", "hot", 90),
    ("GM - Hotel Bellevue", "hot", 90),
    ("Hotel Manager", "hot", 90),
    ("Directeur Général", "hot", 90),
    ("Directrice Générale", "hot", 90),
    ("Hoteldirektor", "hot", 90),
    ("Director General", "hot", 90),
    ("Direttore Generale", "hot", 90),
    ("Gérant", "hot", 90),
    ("Vice President Sales", "hot", 80),
    ("CFO", "hot", 85),
    ("Chief Commercial Officer", "hot", 85),
    ("Director of Sales & Marketing", "hot", 75),
    ("International Sales Director", "hot", 75),
    ("Commercial Director", "hot", 75),
    ("Head of Sales", "hot", 75),
    ("Directeur Commercial", "hot", 75),
    ("Verkaufsleiterin", "hot", 75),
    ("Director Comercial", "hot", 75),
    ("Direttore Commerciale", "hot", 75),
    ("Director of Revenue", "hot", 75),
    ("Director of Marketing", "hot", 70),
    ("Directrice Marketing", "hot", 70),
    ("Revenue Manager", "warm", 65),
    ("Cluster Revenue Manager", "warm", 65),
    ("F&B Director", "warm", 60),
    ("Food and Beverage Director", "warm", 60),
    ("Directeur de la Restauration", "warm", 60),
    ("Rooms Division Manager", "warm", 60),
    ("Directrice de l'Hébergement", "warm", 60),
    ("Director of Human Resources", "warm", 55),
    ("Head of Spa", "warm", 55),
    ("Responsable Qualité", "warm", 55),
    ("Sales Manager", "warm", 50),
    ("Key Account Manager", "warm", 50),
    ("Front Office Manager", "warm", 40),
    ("Chef de Réception", "warm", 40),
    ("Gerente", "warm", 40),
    ("Sales Coordinator", "cold", 25),
    ("Guest Relations Agent", "cold", 25),
    ("Banana Enthusiast", *UNMATCHED),
    ("   ", *NO_TITLE),
    (None, *NO_TITLE),
]


@pytest.mark.parametrize(("title", "tier", "score"), EXAMPLES)
def test_score_title(title: str | None, tier: str, score: int) -> None:
    assert score_title(title) == (tier, score)


def test_every_rule_is_exercised_by_an_example() -> None:
    folded = [fold_title(title) for title, _, _ in EXAMPLES if title]
    for rule in TITLE_RULES:
        assert any(re.search(rule.pattern, text) for text in folded), rule.label


def test_table_is_well_formed() -> None:
    assert len({rule.label for rule in TITLE_RULES}) == len(TITLE_RULES)
    for rule in TITLE_RULES:
        assert rule.tier in ("hot", "warm", "cold")
        assert 0 <= rule.score <= 100
        re.compile(rule.pattern)
        assert pl.select(pl.lit("x").str.contains(rule.pattern)).item() is False  # polars reads it too


def test_folding_makes_accents_and_punctuation_irrelevant() -> None:
    assert fold_title("Directeur-Général / F&B") == "directeur general f&b"
    assert fold_title("GESCHÄFTSFÜHRER") == "geschaftsfuhrer"


def test_vectorised_scores_keep_order_and_nulls_and_match_scalar() -> None:
    titles = [title for title, _, _ in EXAMPLES] * 2
    scored = score_titles(pl.Series(titles, dtype=pl.Utf8))
    assert scored.columns == ["tier", "score"]
    assert scored.rows() == [(tier, score) for _, tier, score in EXAMPLES] * 2
    assert score_titles(pl.Series([], dtype=pl.Utf8)).height == 0
