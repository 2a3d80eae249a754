"""Vocabulary of the synthetic world: regions, cities, hotel-name parts, staff names, titles.

Kept apart from ``world.py`` so that the generator reads as an algorithm, not as a word list.
Names carry real diacritics (Zoë Ørsted, Jürgen Weiß, Iñaki Ibáñez) because the pipeline's
name and email logic must survive them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    """A city by its local name, with the other names a search query may use."""

    name: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Region:
    """One market: country, cities, how its hotels are named and who works there."""

    code: str
    country: str
    country_name: str
    language: str
    cities: tuple[City, ...]
    templates: tuple[str, ...]
    cores: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    local_titles: tuple[str, ...] = ()
    expands_umlauts: bool = False


TITLES = (
    "General Manager",
    "Director of Sales",
    "Sales Manager",
    "Revenue Manager",
    "Front Office Manager",
    "Receptionist",
    "Marketing Manager",
    "Hotel Manager",
    "Owner",
    "Director of Operations",
    "Events Manager",
)

REGIONS: tuple[Region, ...] = (
    Region(
        code="ch",
        country="CH",
        country_name="Switzerland",
        language="de",
        cities=(
            City("Genève", ("Geneva", "Genf")),
            City("Zürich", ("Zurich",)),
            City("Luzern", ("Lucerne",)),
            City("Interlaken"),
            City("Zermatt"),
            City("Lausanne"),
            City("Lugano"),
            City("St. Moritz", ("Sankt Moritz",)),
        ),
        templates=("Hotel {core}", "Hôtel {core}", "Berghotel {core}", "{core} Swiss Quality Hotel"),
        cores=("Bellevue", "Alpenblick", "Edelweiss", "Rössli", "Beau-Rivage", "Schweizerhof", "Bären", "Du Lac"),
        first_names=("Urs", "Reto", "Séverine", "Nicolò", "Corinne", "Beat", "Zoë", "Jürg", "Mélanie", "Gian-Luca"),
        last_names=("Brunner", "Zürcher", "Käser", "Rochat", "Favre", "Bernasconi", "Müller", "Gerber", "Huber"),
        local_titles=("Directeur Général", "Geschäftsführerin", "Direttore"),
        expands_umlauts=True,
    ),
    Region(
        code="fr",
        country="FR",
        country_name="France",
        language="fr",
        cities=(
            City("Paris"),
            City("Lyon"),
            City("Nice"),
            City("Bordeaux"),
            City("Annecy"),
            City("Marseille"),
        ),
        templates=("Hôtel {core}", "Le {core}", "La Maison {core}", "Hôtel du {core}"),
        cores=("Lumière", "Belle Époque", "Cèdre", "Tilleul", "Château Blanc", "Vieux Port", "Saint-Germain"),
        first_names=("Amélie", "Hélène", "François", "Jérôme", "Céline", "Benoît", "Élodie", "Gaëlle", "Loïc"),
        last_names=("Dubois", "Lefèvre", "Moreau", "Girard", "Rousseau", "Lemaître", "Dupré", "Chevalier"),
        local_titles=("Directeur Général", "Responsable Commercial", "Chef de Réception"),
    ),
    Region(
        code="de",
        country="DE",
        country_name="Germany",
        language="de",
        cities=(
            City("Berlin"),
            City("München", ("Munich",)),
            City("Hamburg"),
            City("Köln", ("Cologne",)),
            City("Dresden"),
            City("Freiburg"),
        ),
        templates=("Hotel {core}", "{core} Hof", "Gasthof {core}", "Landhotel {core}"),
        cores=("Schwanen", "Sonnenhof", "Löwen", "Seeblick", "Krone", "Hirschen", "Weißes Rössl"),
        first_names=("Jürgen", "Jörg", "Björn", "Katharina", "Sönke", "Mareike", "Uwe", "Ingrid", "Lena"),
        last_names=("Müller", "Schröder", "Weiß", "Groß", "Köhler", "Bäcker", "Krüger", "Böhm", "Hoffmann"),
        local_titles=("Geschäftsführer", "Hoteldirektorin", "Verkaufsleiter"),
        expands_umlauts=True,
    ),
    Region(
        code="it",
        country="IT",
        country_name="Italy",
        language="it",
        cities=(
            City("Roma", ("Rome",)),
            City("Firenze", ("Florence",)),
            City("Venezia", ("Venice",)),
            City("Milano", ("Milan",)),
            City("Como"),
            City("Napoli", ("Naples",)),
        ),
        templates=("Albergo {core}", "Hotel {core}", "Locanda {core}", "Palazzo {core}"),
        cores=("Bellavista", "del Lago", "Sole", "Stella d'Oro", "San Marco", "Villa Fiorita", "Miramare"),
        first_names=("Giulia", "Niccolò", "Lucrezia", "Matteo", "Chiara", "Federica", "Lorenzo", "Ilaria"),
        last_names=("Rossi", "Bianchi", "Esposito", "Romano", "Colombo", "D'Angelo", "De Luca", "Ricci"),
        local_titles=("Direttore Generale", "Responsabile Commerciale"),
    ),
    Region(
        code="es",
        country="ES",
        country_name="Spain",
        language="es",
        cities=(
            City("Madrid"),
            City("Barcelona"),
            City("Sevilla", ("Seville",)),
            City("Valencia"),
            City("Málaga", ("Malaga",)),
            City("San Sebastián", ("Donostia",)),
        ),
        templates=("Hotel {core}", "Hostal {core}", "Casa {core}", "Parador {core}"),
        cores=("Sol y Mar", "La Giralda", "Alhambra", "El Patio", "Mirador", "Las Dunas", "Peñón"),
        first_names=("José", "María", "Álvaro", "Lucía", "Sofía", "Iñaki", "Begoña", "Raúl", "Inés", "Joaquín"),
        last_names=("García", "Fernández", "Martínez", "Ibáñez", "Muñoz", "Núñez", "de la Fuente", "Gómez"),
        local_titles=("Director General", "Jefa de Ventas"),
    ),
    Region(
        code="nordic",
        country="DK",
        country_name="Denmark",
        language="da",
        cities=(
            City("København", ("Copenhagen",)),
            City("Aarhus", ("Århus",)),
            City("Skagen"),
        ),
        templates=("Hotel {core}", "{core} Hotel", "Hotel {core} Brygge"),
        cores=("Nordlys", "Fjord", "Bjørk", "Havblik", "Søpavillon", "Strandlyst"),
        first_names=("Zoë", "Søren", "Åsa", "Mikkel", "Freja", "Ørjan", "Linnéa", "Kristoffer"),
        last_names=("Ørsted", "Jørgensen", "Sørensen", "Bjørnstad", "Halvorsen", "Nyström", "Åström"),
        local_titles=("Hoteldirektør", "Salgschef"),
    ),
    Region(
        code="se",
        country="SE",
        country_name="Sweden",
        language="sv",
        cities=(City("Stockholm"), City("Göteborg", ("Gothenburg",)), City("Malmö", ("Malmo",))),
        templates=("Hotell {core}", "{core} Hotell", "Hotel {core}"),
        cores=("Sjöudden", "Skärgården", "Björkliden", "Norrsken", "Ekudden"),
        first_names=("Märta", "Björn", "Ingrid", "Linnéa", "Åke", "Sigrid", "Mattias"),
        last_names=("Lindqvist", "Ekström", "Åkesson", "Nyström", "Sjöberg", "Lindgren"),
        local_titles=("Hotellchef", "Försäljningschef"),
    ),
    Region(
        code="uk",
        country="GB",
        country_name="United Kingdom",
        language="en",
        cities=(City("London"), City("Edinburgh"), City("Bath"), City("York"), City("Manchester")),
        templates=("The {core} Hotel", "{core} House", "The {core} Arms", "{core} Inn"),
        cores=("Grosvenor", "Kensington", "Abbey", "Thistle", "Old Mill", "Royal Crescent", "Harbour"),
        first_names=("Oliver", "Charlotte", "Harriet", "Alistair", "Siobhán", "Niamh", "Rhys", "Eleanor"),
        last_names=("O'Brien", "Fitzgerald", "Whitmore", "Ashworth", "MacLeod", "Pemberton", "Hughes"),
    ),
    Region(
        code="us",
        country="US",
        country_name="United States",
        language="en",
        cities=(
            City("New York", ("NYC",)),
            City("San Francisco"),
            City("Chicago"),
            City("Austin"),
            City("Boston"),
            City("Miami"),
        ),
        templates=("The {core}", "{core} Hotel", "{core} Inn & Suites", "Hotel {core}"),
        cores=("Magnolia", "Hudson", "Lakeshore", "Mission", "Pine Ridge", "Liberty", "Golden Gate"),
        first_names=("Michael", "Jennifer", "Carlos", "Mei", "Aaliyah", "Tyler", "Jamal", "Sarah", "Renée"),
        last_names=("Johnson", "Nguyen", "Rodriguez", "Kim", "Patel", "O'Connor", "Washington", "Smith-Jones"),
    ),
)

# Words that name the kind of business, not the business: ignored when matching a query to a hotel.
# fmt: off
GENERIC_WORDS = frozenset({
    "hotel", "hotell", "hostal", "albergo", "locanda", "gasthof", "landhotel", "berghotel", "parador", "inn",
    "suites", "house", "arms", "the", "le", "la", "les", "du", "de", "des", "del", "di", "da", "el", "y", "and",
    "swiss", "quality", "maison", "casa", "palazzo", "hof", "brygge", "official", "site", "website", "www",
    "homepage",
})
# fmt: on
