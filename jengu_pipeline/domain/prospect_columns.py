"""Which column of a prospect file holds which field: the canonical fields, the header names (in several
languages and export tools) that mean each, and the mapping of a file's header onto them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

CANONICAL_FIELDS = (
    "first_name",
    "last_name",
    "full_name",
    "title",
    "company",
    "website",
    "linkedin_url",
    "location",
    "city",
    "region",
    "country",
    "email",
    "phone",
)

# Header synonyms per canonical field, most preferred first. Headers are compared without case,
# accents, spaces or punctuation ("First Name" = "firstName" = "first_name", "Prénom" = "prenom").
# When several columns map to one field, a row takes the first non-empty value in this order,
# ties broken by column order: "Email" before "Work Email", a LinkedIn profile URL before a
# Sales Navigator one (PhantomBuster's "profileUrl" is the Sales Navigator link).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "first_name": ("First Name", "Given Name", "Prénom", "Vorname", "Nombre"),
    "last_name": (
        "Last Name",
        "Surname",
        "Family Name",
        "Nom",
        "Nom de famille",
        "Nachname",
        "Familienname",
        "Apellido",
        "Apellidos",
    ),
    "full_name": (
        "Full Name",
        "Name",
        "Contact",
        "Contact Name",
        "Nom complet",
        "Vollständiger Name",
        "Nombre completo",
    ),
    "title": (
        "Title",
        "Job Title",
        "Current Title",
        "Position",
        "Current Position",
        "Organization Title 1",
        "Poste",
        "Fonction",
        "Titre",
        "Intitulé du poste",
        "Berufsbezeichnung",
        "Jobtitel",
        "Cargo",
        "Puesto",
    ),
    "company": (
        "Company",
        "Company Name",
        "Current Company",
        "Hotel",
        "Hotel Name",
        "Organization",
        "Organisation",
        "Organization 1",
        "Account Name",
        "Employer",
        "Entreprise",
        "Société",
        "Nom de l'entreprise",
        "Firma",
        "Unternehmen",
        "Firmenname",
        "Empresa",
    ),
    "website": (
        "Website",
        "Company Website",
        "Hotel Website",
        "Organization Website 1",
        "Domain",
        "Company Domain",
        "Site",
        "Web",
        "Site web",
        "Site internet",
        "Webseite",
        "Sitio web",
        "URL",
        "Company URL",
    ),
    "linkedin_url": (
        "LinkedIn Profile URL",
        "LinkedIn URL",
        "LinkedIn Profile",
        "LinkedIn",
        "Person Linkedin Url",
        "defaultProfileUrl",
        "Profile URL",
        "Profile",
        "Sales Navigator Profile URL",
        "Sales Navigator URL",
        "Sales Navigator",
    ),
    "location": ("Location", "Person Location", "Geography", "Location Name", "Localisation", "Standort", "Ubicación"),
    "city": ("City", "Ville", "Stadt", "Ort", "Ciudad"),
    "region": ("State", "Region", "Province", "Bundesland", "Provincia", "Estado"),
    "country": ("Country", "Pays", "Land", "País"),
    "email": (
        "Email",
        "Email Address",
        "Work Email",
        "Professional Email",
        "Business Email",
        "Courriel",
        "Adresse e-mail",
        "E-Mail-Adresse",
        "Correo",
        "Correo electrónico",
    ),
    "phone": (
        "Phone",
        "Phone Number",
        "Telephone",
        "Mobile",
        "Mobile Phone",
        "Work Phone",
        "Portable",
        "Telefon",
        "Telefonnummer",
        "Handy",
        "Teléfono",
        "Móvil",
    ),
}
# At least one of these must be mapped, or the file cannot name a single prospect.
IDENTITY_FIELDS = frozenset({"first_name", "last_name", "full_name", "company", "linkedin_url", "email"})

Columns = dict[int, tuple[str, int]]
"""Column index -> (canonical field, preference rank among that field's synonyms)."""


def header_key(name: str) -> str:
    """A header without case, accents, spaces or punctuation."""
    return "".join(char for char in unicodedata.normalize("NFKD", name) if char.isalnum()).casefold()


_SYNONYM_KEYS = {
    header_key(name): (field, rank) for field, names in SYNONYMS.items() for rank, name in enumerate(names)
}


def map_columns(header: Sequence[str], sample_rows: Sequence[Sequence[str]]) -> Columns:
    """Column index -> (canonical field, preference rank) for every recognised header.

    A website-like column ("URL", "Company URL", even "Website") whose sample values are mostly
    LinkedIn links is not a website: a person's profile link makes it a LinkedIn URL column
    (ranked after the named ones), a company page (PhantomBuster's companyUrl) leaves it unmapped.
    """
    columns: Columns = {}
    for index, name in enumerate(header):
        found = _SYNONYM_KEYS.get(header_key(name))
        if found is None:
            continue
        if found[0] == "website":
            values = [row[index].lower() for row in sample_rows if index < len(row) and row[index].strip()]
            linkedin = [value for value in values if "linkedin." in value]
            if values and len(linkedin) * 2 > len(values):
                if any("/company/" in value or "/school/" in value for value in linkedin):
                    continue
                found = ("linkedin_url", len(SYNONYMS["linkedin_url"]))
        columns[index] = found
    return columns


def duplicate_columns(header: Sequence[str], columns: Columns) -> tuple[int, int] | None:
    """The first two recognised columns of one name, as the mapping compares names ("E-mail" = "email").

    Columns the import does not read (unrecognised ones, Excel's unnamed trailing columns) may repeat.
    """
    seen: dict[str, int] = {}
    for index in sorted(columns):
        key = header_key(header[index])
        if key in seen:
            return seen[key], index
        seen[key] = index
    return None
