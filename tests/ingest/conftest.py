"""A JENGU_HOME + DAGSTER_HOME per test, on the DuckDB or the PostgreSQL CRM store."""

from __future__ import annotations

from pathlib import Path

import pytest

PROSPECTS_CSV = """\
First Name,Last Name,Title,Company,LinkedIn URL,Email,Location
Zoë,Ørsted,Director of Sales,Nordlys Hotel,https://www.linkedin.com/in/zoe-orsted,zoe.orsted@nordlys-hotel.test,"Copenhagen, Denmark"
Jean-Luc,Picard,General Manager,Hôtel Bellevue,https://fr.linkedin.com/in/jlpicard/,,"Geneva, Geneva, Switzerland"
Anna,Berg,Receptionist,Hotel Alpina,https://www.linkedin.com/in/annaberg,,"Zermatt, Switzerland"
Zoe,Orsted,Director of Sales,Nordlys Hotel,http://linkedin.com/in/zoe-orsted/?trk=x,,Denmark
Hans,Müller,Owner,Gasthof Sonne,,hans@gasthof-sonne.example,Germany
Hans,Mueller,Inhaber,Gasthof Sonne,,HANS@gasthof-sonne.example,Germany
Nobody,Known,Consultant,,,,
Bad,Email,Manager,Hotel Rex,,not-an-email,Italy
"""
"""8 data rows: 4 new prospects, 2 duplicates (LinkedIn variant, email case), 2 rejected."""


@pytest.fixture
def prospects_file(tmp_path: Path) -> Path:
    path = tmp_path / "Sales Nav export – Nov.csv"
    path.write_text(PROSPECTS_CSV, encoding="utf-8")
    return path
