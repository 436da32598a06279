"""Build the synthetic demo health data warehouse (``catalogue/WAREHOUSE_SCHEMA.md``).

One SQLite file holds every source the demo catalogue describes: identities,
hospital stays and diagnoses, transfusions, reimbursements, care exchanges,
prescriptions, lab results, research linkage and extracts, contact
preferences and the objection registry. Nothing in it is about a real person.

The build is deterministic so that a demo, a test or a bug report can be
reproduced: the same ``(citizens, seed, as_of)`` always gives the same table
contents. Every random draw comes from a ``random.Random`` seeded from a
string (seeded through SHA-512, so unlike ``hash()`` it does not change
between processes), one for the personas and one per chunk of citizens;
chunks are drawn and written in order, rows are numbered in that order, and
nothing iterates over a set. All dates are counted back from ``as_of``, so
"recent" data stays recent whenever the demo is built.

``PERSONAS`` are fixed people written first (``person_id`` 1 to 12) with
hand-made records, the same for every seed: the demo and the tests file
requests as them. They count towards ``citizens``: the warehouse has exactly
``citizens`` rows in ``persons``, so it needs at least ``MIN_CITIZENS``.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import tempfile
import time
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from app.nir import nir_key

Row = tuple[Any, ...]

# Large enough that executemany amortises its overhead, small enough that a
# chunk's rows (about 100,000 tuples) stay a few tens of megabytes.
CHUNK = 10_000
# The oldest day any random row may fall on, in days before as_of.
_HORIZON_DAYS = 112 * 366
# Inès Benali, the youngest persona, is born in 2015; her records and the
# other personas' "recent" ones must come after the births.
EARLIEST_AS_OF = date(2020, 1, 1)

SCHEMA: dict[str, tuple[str, ...]] = {
    "persons": (
        "person_id INTEGER PRIMARY KEY",
        "nir TEXT NULL",
        "last_name TEXT NOT NULL",
        "first_name TEXT NOT NULL",
        "birth_date DATE NOT NULL",
        "sex TEXT NOT NULL CHECK (sex IN ('F', 'M'))",
        "email TEXT NULL",
    ),
    "hospital_stays": (
        "stay_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "hospital TEXT NOT NULL",
        "ward TEXT NOT NULL",
        "admitted_on DATE NOT NULL",
        "discharged_on DATE NOT NULL",
    ),
    "diagnoses": (
        "diagnosis_id INTEGER PRIMARY KEY",
        "stay_id INTEGER NOT NULL",
        "person_id INTEGER NOT NULL",
        "icd10_code TEXT NOT NULL",
        "label TEXT NOT NULL",
        "recorded_on DATE NOT NULL",
    ),
    "transfusions": (
        "transfusion_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "product TEXT NOT NULL",
        "units INTEGER NOT NULL",
        "transfused_on DATE NOT NULL",
    ),
    "reimbursements": (
        "reimbursement_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "act_code TEXT NOT NULL",
        "amount_eur REAL NOT NULL",
        "care_date DATE NOT NULL",
        "paid_on DATE NOT NULL",
        "fraud_suspected INTEGER NOT NULL CHECK (fraud_suspected IN (0, 1))",
    ),
    "referral_letters": (
        "letter_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "sender TEXT NOT NULL",
        "recipient TEXT NOT NULL",
        "specialty TEXT NOT NULL",
        "sent_on DATE NOT NULL",
        "body TEXT NOT NULL",
    ),
    "shared_care_records": (
        "record_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "author TEXT NOT NULL",
        "document_type TEXT NOT NULL",
        "created_on DATE NOT NULL",
        "summary TEXT NOT NULL",
    ),
    "prescriptions": (
        "prescription_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "prescriber TEXT NOT NULL",
        "drug TEXT NOT NULL",
        "dosage TEXT NOT NULL",
        "prescribed_on DATE NOT NULL",
    ),
    "lab_results": (
        "result_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "test_code TEXT NOT NULL",
        "test_label TEXT NOT NULL",
        "value TEXT NOT NULL",
        "unit TEXT NOT NULL",
        "sampled_on DATE NOT NULL",
    ),
    "research_linkage": (
        "pseudonym TEXT PRIMARY KEY",
        "person_id INTEGER NOT NULL",
    ),
    "research_extracts": (
        "extract_row_id INTEGER PRIMARY KEY",
        "pseudonym TEXT NOT NULL",
        "cohort TEXT NOT NULL",
        "extracted_on DATE NOT NULL",
        "variables TEXT NOT NULL",
    ),
    "contact_preferences": (
        "preference_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "channel TEXT NOT NULL CHECK (channel IN ('email', 'sms', 'courrier'))",
        "opted_in INTEGER NOT NULL CHECK (opted_in IN (0, 1))",
        "updated_on DATE NOT NULL",
    ),
    "objection_registry": (
        "entry_id INTEGER PRIMARY KEY",
        "person_id INTEGER NOT NULL",
        "scope TEXT NOT NULL",
        "registered_on DATE NOT NULL",
    ),
}
TABLES = tuple(SCHEMA)

# (name, table, column): created after the inserts, which is several times
# faster than maintaining them row by row.
INDEXES: tuple[tuple[str, str, str], ...] = (
    ("ix_persons_nir", "persons", "nir"),
    ("ix_persons_birth_date", "persons", "birth_date"),
    ("ix_research_linkage_person_id", "research_linkage", "person_id"),
    ("ix_research_extracts_pseudonym", "research_extracts", "pseudonym"),
    *(
        (f"ix_{table}_person_id", table, "person_id")
        for table in (
            "hospital_stays",
            "diagnoses",
            "transfusions",
            "reimbursements",
            "referral_letters",
            "shared_care_records",
            "prescriptions",
            "lab_results",
            "contact_preferences",
            "objection_registry",
        )
    ),
)

# Rows are written without their surrogate key where SQLite may number them
# itself (one more than the largest, so still deterministic); persons and
# stays carry theirs because other rows point at them.
_KEYED_BY_GENERATOR = frozenset({"persons", "hospital_stays", "research_linkage"})


def _insert_sql(table: str) -> str:
    names = [column.split()[0] for column in SCHEMA[table]]
    if table not in _KEYED_BY_GENERATOR:
        names = names[1:]
    marks = ", ".join("?" * len(names))
    # Only names from SCHEMA above are interpolated, never data.
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608


_INSERT_SQL = {table: _insert_sql(table) for table in TABLES}


# Markup and spreadsheet formulas: an export or a page that shows these rows
# without escaping them is a bug the tests must be able to see.
HOSTILE = (
    "<script>alert(1)</script>",
    '=HYPERLINK("http://evil.example","x")',
    "+SUM(1,2)",
    "@cmd",
    "-2+3",
)


@dataclass(frozen=True)
class Persona:
    """A fixed person of the demo warehouse, whom a newcomer can file a request as."""

    person_id: int
    first_name: str
    last_name: str
    birth_date: date
    nir: str | None
    email: str | None
    demonstrates: str
    sex: str


@dataclass(frozen=True)
class BuildSummary:
    """What ``build`` wrote: ``rows`` counts the rows of every table."""

    citizens: int
    rows: dict[str, int]
    seconds: float
    path: Path


def _nir(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


_CAMILLE_NIR = _nir("2780575056123")
_KARIM_NIR = _nir("1800369123045")

PERSONAS: tuple[Persona, ...] = (
    Persona(
        1,
        "Camille",
        "Lefèvre-Dubois",
        date(1978, 5, 14),
        _CAMILLE_NIR,
        "camille.lefevre@example.org",
        "erasure keeps the reimbursements and the recent medical record, erases the rest; "
        "her letters hold markup and spreadsheet formulas",
        "F",
    ),
    Persona(
        2,
        "Karim",
        "Benali",
        date(1980, 3, 2),
        _KARIM_NIR,
        "karim.benali@example.org",
        "his social-security number is shared with his daughter Inès",
        "M",
    ),
    Persona(
        3,
        "Inès",
        "Benali",
        date(2015, 6, 21),
        _KARIM_NIR,
        None,
        "a dependant under her father's number, with no email of her own",
        "F",
    ),
    Persona(
        4,
        "Marie",
        "Martin",
        date(1990, 1, 1),
        _nir("2900113055210"),
        "marie.martin@example.org",
        "homonym of the next Marie Martin (same name and birth date, other number)",
        "F",
    ),
    Persona(
        5,
        "Marie",
        "Martin",
        date(1990, 1, 1),
        _nir("2900159350087"),
        "marie.martin@example.net",
        "homonym of the previous Marie Martin",
        "F",
    ),
    Persona(
        6,
        "Lucas",
        "Petit",
        date(1985, 7, 7),
        _nir("1850733063141"),
        None,
        "homonym without an email (with the next Lucas Petit): only the number tells them apart",
        "M",
    ),
    Persona(
        7,
        "Lucas",
        "Petit",
        date(1985, 7, 7),
        _nir("1850744109032"),
        None,
        "homonym without an email (with the previous Lucas Petit)",
        "M",
    ),
    Persona(
        8,
        "Jean-Baptiste",
        "Santoni",
        date(1962, 9, 30),
        _nir("162092A004117"),
        "jb.santoni@example.org",
        "born in Ajaccio, Corse-du-Sud: a 2A number",
        "M",
    ),
    Persona(
        9,
        "Maëlys",
        "Céleste",
        date(1995, 11, 11),
        _nir("2951197120321"),
        "maelys.celeste@example.org",
        "born in Guadeloupe: a 971 number (3-digit department, 2-digit commune)",
        "F",
    ),
    Persona(
        10,
        "Hélène",
        "Mercier-Lagarde",
        date(1940, 4, 4),
        _nir("2400435238012"),
        "helene.mercier@example.org",
        "only old data (last stay in 1995): retention has ended, everything is erasable",
        "F",
    ),
    Persona(
        11,
        "Zoé",
        "N'Diaye",
        date(1988, 8, 8),
        None,
        "Zoe.NDiaye@Example.org",
        "no social-security number on file; mixed-case email and an apostrophe in the name",
        "F",
    ),
    Persona(
        12,
        "Thomas",
        "Roux",
        date(1970, 12, 1),
        _nir("1701267482078"),
        "thomas.roux@example.org",
        "a transfusion ten years ago (kept 30 years) and an objection to research",
        "M",
    ),
)
MIN_CITIZENS = len(PERSONAS)

# --- Reference lists -------------------------------------------------------
# Repeated entries weight the uniform draws without a bisect per draw.


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_FIRST_F = _words(
    "Camille Élodie Zoé Anaïs Maëlys Léa Chloé Manon Inès Jade Louise Emma Clémence Océane "
    "Mélanie Hélène Géraldine Bérénice Noémie Joséphine Françoise Thérèse Cécile Agnès "
    "Aurélie Sophie Nathalie Isabelle Sylvie Catherine Marie Anne-Sophie Marie-Claire "
    "Marie-Hélène Léonie Célia Sarah Yasmine Fatoumata Aïcha Nadia Amélie Valérie Delphine "
    "Pauline Margaux Lucie Juliette Romane Maëlle Gaëlle Héloïse Solène Ophélie Estelle "
    "Mireille Germaine Odette Christiane Monique Brigitte Danielle Véronique Laëtitia "
    "Nolwenn Anouk Lina Zélie Capucine Eugénie Laure Émilie"
)
_FIRST_M = _words(
    "Jean-Baptiste François Lucas Hugo Théo Louis Gabriel Raphaël Noé Jules Arthur Léo "
    "Mathéo Maël Nathan Enzo Thomas Nicolas Julien Sébastien Stéphane Frédéric Jérôme "
    "Benoît Grégoire Rémi Amaury Loïc Gaël Yannick Hervé Pierre Jean Jean-Pierre Jean-Luc "
    "Jean-François Pierre-Yves Marc-Antoine Michel Philippe Alain Bernard Gérard René "
    "André Joël Noël Cédric Jérémy Aurélien Clément Étienne Émile Côme Anatole Bastien "
    "Quentin Maxime Antoine Karim Mehdi Youssef Mamadou Ibrahim Moussa Kévin Timothée "
    "Baptiste Adrien Valentin Olivier Thierry Pascal Didier Christophe Laurent Éric"
)
_LAST = (
    *_words(
        "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent "
        "Lefèvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André "
        "Lefebvre Mercier Dupont Lambert Bonnet François Martinez Legrand Garnier Faure "
        "Rousseau Blanc Guérin Muller Henry Roussel Nicolas Perrin Morin Mathieu Clément "
        "Gauthier Dumont Lopez Fontaine Chevalier Robin Masson Sanchez Gérard Nguyen Boyer "
        "Denis Lemaire Duval Joly Gautier Roger Roche Roy Noël Meyer Lucas Meunier Pérez "
        "Marchand Dufour Blanchard Barbier Brun Dumas Brunet Schmitt Leroux Colin Fernandez "
        "Renard Arnaud Rolland Caron Aubert Giraud Leclerc Vidal Bourgeois Renaud Lemoine "
        "Picard Gaillard Lacroix Fabre Dupuis Olivier Rodriguez Hubert Rivière Guillaume "
        "Rey Moulin Berger Lecomte Ménard Fleury Deschamps Carpentier Maillard Marchal "
        "Aubry Vasseur Renault Jacquet Prévost Poirier Charpentier Royer Huet Dupuy Carré "
        "Breton Rémy Schneider Perrot Guyot Barré Marty Cousin Lévêque Bélanger Castelli "
        "Santoni Pietri Leca Casanova Diallo Traoré Benali Haddad Bouzid Pham Tran "
        "Müller Öztürk Muñoz Œuvray Bœuf Nguyễn Dupont-Moreau Lefèvre-Dubois"
    ),
    "Le Goff",
    "Le Gall",
    "Le Roux",
    "Le Bihan",
    "Da Silva",
    "Ben Ahmed",
    "N'Diaye",
    "N'Guessan",
    "D'Almeida",
    "O'Neill",
    "De La Fontaine",
)

_SPECIAL_LETTERS = str.maketrans(
    {"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae", "ß": "ss", "ø": "o", "Ø": "O", "'": "", " ": ""}
)


def _ascii(name: str) -> str:
    """The name as people type it in an email address: no accents, apostrophes or spaces."""
    decomposed = unicodedata.normalize("NFKD", name.translate(_SPECIAL_LETTERS))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


_FIRST_F_ASCII = [_ascii(name) for name in _FIRST_F]
_FIRST_M_ASCII = [_ascii(name) for name in _FIRST_M]
_LAST_ASCII = [_ascii(name) for name in _LAST]
# Reserved names (RFC 2606/6761): no mail can reach a real mailbox.
_DOMAINS = (
    *["example.org"] * 4,
    *["example.net"] * 3,
    *["example.com"] * 3,
    "laposte.example",
    "orange.example",
    "free.example",
    "sfr.example",
)

# Metropolitan departments of birth, big ones repeated; 20 is absent since
# Corsica's numbers use 2A and 2B.
_DEPARTMENTS = (
    *[f"{number:02d}" for number in range(1, 96) if number != 20],
    *["75"] * 6,
    *["13", "69", "59"] * 4,
    *["92", "93", "94", "33", "31", "67", "44", "35", "06", "62", "76", "34"] * 2,
    "2A",
    "2B",
)
# (department, number of communes): overseas numbers have a 3-digit
# department and a 2-digit commune.
_OVERSEAS = (
    *[("971", 34)] * 3,
    *[("972", 34)] * 3,
    *[("973", 22)] * 2,
    *[("974", 24)] * 4,
    ("975", 2),
    ("976", 17),
)
# INSEE country codes for people born abroad (after "99").
_COUNTRIES: tuple[str, ...] = (
    *("350", "350", "352", "352", "351", "139", "127", "134", "109", "131"),
    *("132", "140", "208", "341"),
)

_HOSPITALS = (
    "CHU de Rennes",
    "CHU de Rennes — Hôpital Pontchaillou",
    "Hospices Civils de Lyon — Hôpital Édouard-Herriot",
    "Hospices Civils de Lyon — Hôpital de la Croix-Rousse",
    "AP-HP Hôpital Necker-Enfants malades",
    "AP-HP Hôpital de la Pitié-Salpêtrière",
    "AP-HP Hôpital européen Georges-Pompidou",
    "AP-HP Hôpital Bichat-Claude-Bernard",
    "AP-HM Hôpital de la Timone",
    "CHU de Bordeaux — Hôpital Pellegrin",
    "CHU de Lille — Hôpital Claude-Huriez",
    "CHU de Toulouse — Hôpital Purpan",
    "CHU de Nantes — Hôtel-Dieu",
    "Hôpitaux universitaires de Strasbourg",
    "CHU de Montpellier — Hôpital Lapeyronie",
    "CHU Grenoble Alpes",
    "CHU de Nice — Hôpital Pasteur",
    "CHU de Brest — Hôpital de la Cavale Blanche",
    "Centre hospitalier d'Ajaccio",
    "Centre hospitalier de Bastia",
    "CHU de la Guadeloupe",
    "CHU de la Réunion",
    "Centre hospitalier de Saint-Malo",
    "Centre hospitalier Annecy Genevois",
    "Hôpital Foch",
    "Institut Curie",
    "Gustave Roussy",
)

# ward -> diagnoses that make sense there (ICD-10 code, French label).
Ward = tuple[str, tuple[tuple[str, str], ...]]
_WARDS: tuple[Ward, ...] = (
    (
        "Cardiologie",
        (
            ("I21.9", "Infarctus aigu du myocarde, sans précision"),
            ("I48.9", "Fibrillation auriculaire, sans précision"),
            ("I50.9", "Insuffisance cardiaque, sans précision"),
            ("I10", "Hypertension essentielle (primitive)"),
            ("I20.0", "Angine de poitrine instable"),
        ),
    ),
    (
        "Unité neurovasculaire",
        (
            ("I63.9", "Infarctus cérébral, sans précision"),
            ("G45.9", "Accident ischémique cérébral transitoire, sans précision"),
            ("I61.9", "Hémorragie intracérébrale, sans précision"),
        ),
    ),
    (
        "Neurologie",
        (
            ("G40.9", "Épilepsie, sans précision"),
            ("G43.9", "Migraine, sans précision"),
            ("G35", "Sclérose en plaques"),
            ("G20", "Maladie de Parkinson"),
        ),
    ),
    (
        "Pneumologie",
        (
            ("J18.9", "Pneumopathie, sans précision"),
            ("J44.1", "Maladie pulmonaire obstructive chronique avec épisodes aigus"),
            ("J45.9", "Asthme, sans précision"),
            ("U07.1", "COVID-19, virus identifié"),
        ),
    ),
    (
        "Chirurgie orthopédique",
        (
            ("S72.0", "Fracture du col du fémur"),
            ("M17.1", "Autres gonarthroses primaires"),
            ("M16.1", "Autres coxarthroses primaires"),
            ("S82.6", "Fracture de la malléole externe"),
        ),
    ),
    (
        "Chirurgie digestive",
        (
            ("K35.8", "Appendicite aiguë, autre et sans précision"),
            ("K80.2", "Calcul de la vésicule biliaire sans cholécystite"),
            ("K40.9", "Hernie inguinale unilatérale, sans occlusion ni gangrène"),
            ("C18.7", "Tumeur maligne du côlon sigmoïde"),
        ),
    ),
    (
        "Gynécologie-obstétrique",
        (
            ("O80", "Accouchement unique et spontané"),
            ("O82", "Accouchement unique par césarienne"),
            ("O24.4", "Diabète sucré survenant au cours de la grossesse"),
        ),
    ),
    (
        "Pédiatrie",
        (
            ("J21.9", "Bronchiolite aiguë, sans précision"),
            ("A08.0", "Entérite à rotavirus"),
            ("R56.0", "Convulsions fébriles"),
        ),
    ),
    (
        "Endocrinologie-diabétologie",
        (
            ("E11.9", "Diabète sucré de type 2, sans complication"),
            ("E10.9", "Diabète sucré de type 1, sans complication"),
            ("E05.0", "Thyréotoxicose avec goitre diffus"),
            ("E66.0", "Obésité due à un excès calorique"),
        ),
    ),
    (
        "Oncologie médicale",
        (
            ("C50.9", "Tumeur maligne du sein, sans précision"),
            ("C34.9", "Tumeur maligne des bronches ou du poumon, sans précision"),
            ("C61", "Tumeur maligne de la prostate"),
        ),
    ),
    (
        "Psychiatrie adulte",
        (
            ("F32.2", "Épisode dépressif sévère sans symptômes psychotiques"),
            ("F20.0", "Schizophrénie paranoïde"),
            ("F10.2", "Troubles liés à l'utilisation d'alcool : syndrome de dépendance"),
            ("F41.1", "Anxiété généralisée"),
        ),
    ),
    (
        "Néphrologie",
        (
            ("N18.5", "Maladie rénale chronique, stade 5"),
            ("N39.0", "Infection des voies urinaires, siège non précisé"),
            ("N20.0", "Calcul du rein"),
        ),
    ),
    (
        "Urgences",
        (
            ("R07.4", "Douleur thoracique, sans précision"),
            ("R55", "Syncope et collapsus"),
            ("S06.0", "Commotion cérébrale"),
            ("T78.4", "Allergie, sans précision"),
        ),
    ),
    (
        "Gériatrie",
        (
            ("R26.8", "Anomalies de la marche, autres et non précisées"),
            ("F03", "Démence, sans précision"),
            ("E86", "Hypovolémie"),
        ),
    ),
    (
        "Réanimation",
        (
            ("A41.9", "Sepsis, sans précision"),
            ("J96.0", "Insuffisance respiratoire aiguë"),
        ),
    ),
)

# Wards a patient can plausibly be admitted to: children go to paediatrics,
# men and women past 48 are not admitted to obstetrics.
_CHILD_WARDS: tuple[Ward, ...] = tuple(w for w in _WARDS if w[0] == "Pédiatrie")
_WARDS_WITH_OBSTETRICS: tuple[Ward, ...] = tuple(w for w in _WARDS if w[0] != "Pédiatrie")
_WARDS_WITHOUT_OBSTETRICS: tuple[Ward, ...] = tuple(
    w for w in _WARDS_WITH_OBSTETRICS if w[0] != "Gynécologie-obstétrique"
)

_TRANSFUSION_PRODUCTS = (
    "Concentré de globules rouges (CGR)",
    "Concentré de globules rouges (CGR)",
    "Plasma frais congelé sécurisé (PFC-Se)",
    "Concentré de plaquettes d'aphérèse (CPA)",
    "Mélange de concentrés plaquettaires (MCP)",
)

# (act code, lowest, highest amount reimbursed in EUR).
_ACTS: tuple[tuple[str, float, float], ...] = (
    *[("PHA", 1.5, 180.0)] * 8,
    *[("G", 18.0, 30.0)] * 5,
    *[("B", 3.8, 45.0)] * 3,
    ("C", 16.5, 26.5),
    ("CS", 19.0, 30.0),
    ("APC", 37.55, 56.5),
    ("V", 21.0, 35.0),
    ("K", 9.6, 120.0),
    ("AMI", 3.15, 25.0),
    ("AMK", 10.75, 32.0),
    ("DEQP003", 9.98, 14.26),
    ("ZBQK002", 14.9, 21.28),
    ("BFGA004", 190.19, 271.7),
)

_SPECIALTIES = (
    "cardiologie",
    "neurologie",
    "pneumologie",
    "rhumatologie",
    "dermatologie",
    "gastro-entérologie",
    "endocrinologie",
    "psychiatrie",
    "ophtalmologie",
    "oto-rhino-laryngologie",
    "gynécologie",
    "pédiatrie",
    "oncologie",
    "néphrologie",
    "gériatrie",
)

_SPECIALTIES_F = tuple(s for s in _SPECIALTIES if s != "pédiatrie")
_SPECIALTIES_M = tuple(s for s in _SPECIALTIES_F if s != "gynécologie")

_MOTIVES = (
    "une dyspnée d'effort d'aggravation récente",
    "des palpitations récidivantes",
    "des céphalées inhabituelles depuis un mois",
    "des douleurs articulaires inflammatoires",
    "un équilibre glycémique insuffisant malgré le traitement",
    "une lésion cutanée pigmentée qui s'est modifiée",
    "le suivi après son hospitalisation",
    "une toux persistante depuis trois semaines",
    "une perte de poids inexpliquée",
    "des troubles du sommeil et une fatigue persistante",
    "une baisse d'acuité visuelle",
    "une hypertension mal contrôlée",
)

_LETTER_TEMPLATES = (
    "Cher confrère, je vous adresse {patient}, {age} ans, pour un avis en {specialty} "
    "concernant {motive}. Je vous remercie de votre aide. Bien confraternellement.",
    "Chère consœur, merci de bien vouloir recevoir {patient} ({age} ans) en consultation "
    "de {specialty} pour {motive}. Traitement en cours joint. Bien à vous.",
    "Objet : {motive}. {patient}, {age} ans, vous est adressé(e) pour avis en {specialty}. "
    "Examen clinique par ailleurs sans particularité.",
)

_DOCUMENT_TYPES = (
    "Compte rendu d'hospitalisation",
    "Lettre de liaison de sortie",
    "Compte rendu opératoire",
    "Volet de synthèse médicale",
    "Compte rendu de consultation",
    "Compte rendu d'imagerie",
)

_SUMMARIES = (
    "{document} : {motive}. Évolution favorable, traitement poursuivi.",
    "{document} : prise en charge pour {motive}. Surveillance par le médecin traitant.",
    "{document} : bilan réalisé pour {motive}. Pas d'argument pour une cause grave.",
    "{document} : {motive}. Rendez-vous de contrôle dans trois mois.",
)

# (drug with strength and form, usual directions).
_DRUGS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Paracétamol 1 g, comprimé",
        (
            "1 comprimé jusqu'à 3 fois par jour si douleur",
            "1 comprimé toutes les 6 heures pendant 5 jours",
        ),
    ),
    ("Amoxicilline 1 g, comprimé dispersible", ("1 comprimé matin et soir pendant 7 jours",)),
    ("Metformine 850 mg, comprimé", ("1 comprimé matin et soir au cours des repas",)),
    ("Ramipril 5 mg, comprimé", ("1 comprimé le matin",)),
    ("Atorvastatine 20 mg, comprimé", ("1 comprimé le soir",)),
    ("Lévothyroxine sodique 75 µg, comprimé", ("1 comprimé le matin à jeun",)),
    ("Oméprazole 20 mg, gélule", ("1 gélule le matin avant le repas pendant 4 semaines",)),
    ("Salbutamol 100 µg/dose, suspension pour inhalation", ("2 bouffées si gêne respiratoire",)),
    ("Ibuprofène 400 mg, comprimé", ("1 comprimé 3 fois par jour pendant 3 jours",)),
    ("Bisoprolol 2,5 mg, comprimé", ("1 comprimé le matin",)),
    ("Apixaban 5 mg, comprimé", ("1 comprimé matin et soir",)),
    ("Sertraline 50 mg, gélule", ("1 gélule le matin",)),
    ("Insuline glargine 100 U/mL, stylo prérempli", ("18 unités le soir", "24 unités le soir")),
    ("Amlodipine 5 mg, gélule", ("1 gélule le matin",)),
    ("Furosémide 40 mg, comprimé", ("1 comprimé le matin",)),
    ("Prednisolone 20 mg, comprimé orodispersible", ("2 comprimés le matin pendant 5 jours",)),
    ("Tramadol 50 mg, gélule", ("1 gélule toutes les 8 heures si douleur, 5 jours au plus",)),
    ("Méthotrexate 10 mg, comprimé", ("1 comprimé une fois par semaine, le lundi",)),
)

# (code, label, unit, low, high, format): values spread a little beyond the
# normal range so that some results look abnormal.
_LAB_TESTS: tuple[tuple[str, str, str, float, float, str], ...] = (
    ("GLY", "Glycémie à jeun", "g/L", 0.70, 1.60, "%.2f"),
    ("HBA1C", "Hémoglobine glyquée (HbA1c)", "%", 4.8, 9.5, "%.1f"),
    ("CREA", "Créatinine", "µmol/L", 50.0, 140.0, "%.0f"),
    ("HB", "Hémoglobine", "g/dL", 10.5, 17.5, "%.1f"),
    ("PLQ", "Plaquettes", "G/L", 140.0, 420.0, "%.0f"),
    ("LEUCO", "Leucocytes", "G/L", 3.5, 12.0, "%.1f"),
    ("TSH", "TSH ultrasensible", "mUI/L", 0.3, 5.5, "%.2f"),
    ("CRP", "Protéine C réactive", "mg/L", 0.5, 80.0, "%.1f"),
    ("LDL", "Cholestérol LDL", "g/L", 0.6, 2.2, "%.2f"),
    ("NA", "Sodium", "mmol/L", 132.0, 146.0, "%.0f"),
    ("K", "Potassium", "mmol/L", 3.3, 5.4, "%.1f"),
    ("FERR", "Ferritine", "µg/L", 15.0, 400.0, "%.0f"),
    ("VITD", "25-OH vitamine D", "ng/mL", 8.0, 60.0, "%.0f"),
)

_COHORTS = (
    "CONSTANCES",
    "CONSTANCES",
    "E3N",
    "EDS-AVC",
    "NutriNet-Santé",
    "ELFE",
    "EDS-COVID",
)
_CHANNELS = ("email", "sms", "courrier")
_OBJECTION_SCOPES = ("all_research", "all_research", *(f"cohort:{c}" for c in _COHORTS[1:]))


def _body_number(body: str) -> int:
    """The first 13 characters of a NIR as a distinct int (2A and 2B not read as 19, 18)."""
    corsica = _CORSICA_OFFSET.get(body[5:7])
    if corsica is None:
        return int(body)
    return corsica + int(f"{body[:5]}00{body[7:]}")


_CORSICA_OFFSET = {"2A": 10**13, "2B": 2 * 10**13}


def _seeded(seed: int, stream: str) -> random.Random:
    """A generator of its own for each stream, so that streams do not shift each other.

    A str seed goes through SHA-512, the same in every process (``hash()`` is
    salted per process). Not for secrets: this is synthetic data.
    """
    return random.Random(f"demo-warehouse:{seed}:{stream}")  # noqa: S311


@dataclass
class _Rows:
    """The rows of one chunk, table by table, until they are inserted."""

    tables: dict[str, list[Row]]

    @classmethod
    def empty(cls) -> _Rows:
        return cls({table: [] for table in TABLES})


class _Generator:
    """Draws people and their records; owns the state that spans chunks."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.seed = seed
        self.as_of = as_of
        # iso[n] is the date n days before as_of: one list lookup instead of
        # date arithmetic and formatting for each of millions of dates.
        self.iso = [(as_of - timedelta(days=n)).isoformat() for n in range(_HORIZON_DAYS)]
        # NIR bodies already given out, so that a new person never reuses one
        # by chance; kept as ints, half the memory of strings at 1M people.
        self.taken: set[int] = {_body_number(p.nir[:13]) for p in PERSONAS if p.nir}
        self.next_stay = 1
        doctors = _seeded(seed, "doctors")
        self.doctors = [
            f"Dr {doctors.choice(_FIRST_F + _FIRST_M)} {doctors.choice(_LAST)}" for _ in range(400)
        ]
        self.rows = _Rows.empty()
        self.rng = _seeded(seed, "personas")

    def day(self, days_back: int) -> str:
        if 0 <= days_back < _HORIZON_DAYS:
            return self.iso[days_back]
        return (self.as_of - timedelta(days=days_back)).isoformat()

    def back(self, when: date) -> int:
        return (self.as_of - when).days

    # --- People ---------------------------------------------------------

    def new_nir(self, sex: str, birth_iso: str) -> str:
        r = self.rng.random
        place_kind = r()
        if place_kind < 0.90:
            department = _DEPARTMENTS[int(r() * len(_DEPARTMENTS))]
            communes = 366 if department in ("2A", "2B") else 650
            place = f"{department}{1 + int(r() * communes):03d}"
        elif place_kind < 0.94:
            department, communes = _OVERSEAS[int(r() * len(_OVERSEAS))]
            place = f"{department}{1 + int(r() * communes):02d}"
        else:
            place = "99" + _COUNTRIES[int(r() * len(_COUNTRIES))]
        prefix = f"{'2' if sex == 'F' else '1'}{birth_iso[2:4]}{birth_iso[5:7]}{place}"
        order = 1 + int(r() * 999)
        for _ in range(999):
            body = f"{prefix}{order:03d}"
            number = _body_number(body)
            if number not in self.taken:
                self.taken.add(number)
                return _nir(body)
            order = order % 999 + 1
        raise RuntimeError("every order number of a birth place and month is taken")

    def email(self, first_ascii: str, last_ascii: str) -> str:
        r = self.rng.random
        style = r()
        if style < 0.55:
            local = f"{first_ascii}.{last_ascii}"
        elif style < 0.75:
            local = f"{first_ascii}.{last_ascii}{10 + int(r() * 90)}"
        elif style < 0.85:
            local = f"{first_ascii[0]}.{last_ascii}"
        else:
            local = f"{first_ascii}{last_ascii}{1940 + int(r() * 70)}"
        domain = _DOMAINS[int(r() * len(_DOMAINS))]
        # Most people type their address in lower case; a few do not, which
        # is what makes the portal's case folding matter.
        if r() < 0.04:
            return f"{local}@{domain.capitalize()}"
        return f"{local}@{domain}".lower()

    def chunk(self, first_id: int, count: int, index: int) -> None:
        """Draw ``count`` people numbered from ``first_id``, with their records."""
        self.rng = rng = _seeded(self.seed, f"chunk:{index}")
        r = rng.random
        iso = self.iso
        persons = self.rows.tables["persons"]
        person_id = first_id
        end = first_id + count
        while person_id < end:
            sex = "F" if r() < 0.51 else "M"
            if sex == "F":
                pick = int(r() * len(_FIRST_F))
                first, first_ascii = _FIRST_F[pick], _FIRST_F_ASCII[pick]
            else:
                pick = int(r() * len(_FIRST_M))
                first, first_ascii = _FIRST_M[pick], _FIRST_M_ASCII[pick]
            pick = int(r() * len(_LAST))
            last, last_ascii = _LAST[pick], _LAST_ASCII[pick]
            if r() < 0.04:
                pick = int(r() * len(_LAST))
                last = f"{last}-{_LAST[pick]}"
                last_ascii = f"{last_ascii}-{_LAST_ASCII[pick]}"
            age_years = 18 + 81 * r() ** 1.2
            born_back = int(age_years * 365.25)
            birth = iso[born_back]
            nir = self.new_nir(sex, birth) if r() >= 0.01 else None
            email = self.email(first_ascii, last_ascii) if r() >= 0.09 else None
            persons.append((person_id, nir, last, first, birth, sex, email))
            self.records(person_id, born_back, sex, last, email is not None)
            person_id += 1

            # A child covered under this parent's number: in France dependants
            # used the insured parent's NIR on the carte Vitale.
            if nir is not None and person_id < end and r() < 0.02 and age_years >= 20:
                child_sex = "F" if r() < 0.5 else "M"
                names = _FIRST_F if child_sex == "F" else _FIRST_M
                child_first = names[int(r() * len(names))]
                child_last = last if r() < 0.85 else _LAST[int(r() * len(_LAST))]
                child_back = 30 + int(r() * min(17 * 365, born_back - 18 * 365))
                persons.append(
                    (person_id, nir, child_last, child_first, iso[child_back], child_sex, None)
                )
                self.records(person_id, child_back, child_sex, child_last, False)
                person_id += 1

            # A homonym: same names and birth date, another number and address.
            if person_id < end and r() < 0.005:
                twin_nir = self.new_nir(sex, birth)
                twin_email = self.email(first_ascii, last_ascii) if r() < 0.7 else None
                while twin_email is not None and email is not None:
                    if twin_email.casefold() != email.casefold():
                        break
                    twin_email = self.email(first_ascii, last_ascii)
                persons.append((person_id, twin_nir, last, first, birth, sex, twin_email))
                self.records(person_id, born_back, sex, last, twin_email is not None)
                person_id += 1

    def records(self, person_id: int, born_back: int, sex: str, last: str, mail: bool) -> None:
        """Draw one person's records, all between their birth and as_of."""
        r = self.rng.random
        iso = self.iso
        tables = self.rows.tables
        doctors = self.doctors

        def past(low: int, high: int) -> int:
            # A day between low and high days back, but never before birth.
            days = low + int(r() * (high - low))
            return days if days < born_back else int(r() * born_back)

        if r() < 0.88:
            append = tables["reimbursements"].append
            for _ in range(1 + int(r() * 7)):
                care = past(0, 730) if r() < 0.6 else past(0, 5500)
                paid = care - 3 - int(r() * 40)
                code, low, high = _ACTS[int(r() * len(_ACTS))]
                append(
                    (
                        person_id,
                        code,
                        round(low + (high - low) * r(), 2),
                        iso[care],
                        iso[paid if paid > 0 else 0],
                        1 if r() < 0.002 else 0,
                    )
                )

        if r() < 0.45:
            stays = tables["hospital_stays"].append
            diagnoses = tables["diagnoses"].append
            for _ in range(1 + int(r() * r() * 3)):
                kind = r()
                if kind < 0.35:
                    admitted = past(0, 3 * 365)
                elif kind < 0.7:
                    admitted = past(3 * 365, 25 * 365)
                else:
                    admitted = past(25 * 365, 60 * 365)
                discharged = admitted - int(r() * r() * 15)
                discharged = discharged if discharged > 0 else 0
                age = born_back - admitted
                if age < 16 * 365:
                    wards = _CHILD_WARDS
                elif sex == "F" and age < 48 * 365:
                    wards = _WARDS_WITH_OBSTETRICS
                else:
                    wards = _WARDS_WITHOUT_OBSTETRICS
                ward, ward_diagnoses = wards[int(r() * len(wards))]
                stay_id = self.next_stay
                self.next_stay += 1
                stays(
                    (
                        stay_id,
                        person_id,
                        _HOSPITALS[int(r() * len(_HOSPITALS))],
                        ward,
                        iso[admitted],
                        iso[discharged],
                    )
                )
                for _ in range(1 if r() < 0.6 else 2):
                    code, label = ward_diagnoses[int(r() * len(ward_diagnoses))]
                    diagnoses((stay_id, person_id, code, label, iso[discharged]))

        if r() < 0.025:
            product = _TRANSFUSION_PRODUCTS[int(r() * len(_TRANSFUSION_PRODUCTS))]
            tables["transfusions"].append(
                (person_id, product, 1 + int(r() * 4), iso[past(0, 40 * 365)])
            )

        if r() < 0.22:
            patient = f"{'Mme' if sex == 'F' else 'M.'} {last}"
            append = tables["referral_letters"].append
            for _ in range(1 if r() < 0.7 else 2):
                sent = past(0, 10 * 365)
                if born_back - sent < 16 * 365:
                    specialty = "pédiatrie"
                else:
                    specialties = _SPECIALTIES_F if sex == "F" else _SPECIALTIES_M
                    specialty = specialties[int(r() * len(specialties))]
                if r() < 0.002:
                    body = f"{HOSTILE[int(r() * len(HOSTILE))]} {patient}"
                else:
                    body = _LETTER_TEMPLATES[int(r() * len(_LETTER_TEMPLATES))].format(
                        patient=patient,
                        age=(born_back - sent) // 365,
                        specialty=specialty,
                        motive=_MOTIVES[int(r() * len(_MOTIVES))],
                    )
                append(
                    (
                        person_id,
                        doctors[int(r() * len(doctors))],
                        f"{doctors[int(r() * len(doctors))]}, service de {specialty}, "
                        f"{_HOSPITALS[int(r() * len(_HOSPITALS))]}",
                        specialty,
                        iso[sent],
                        body,
                    )
                )

        if r() < 0.25:
            append = tables["shared_care_records"].append
            for _ in range(1 if r() < 0.7 else 2):
                document = _DOCUMENT_TYPES[int(r() * len(_DOCUMENT_TYPES))]
                summary = _SUMMARIES[int(r() * len(_SUMMARIES))].format(
                    document=document, motive=_MOTIVES[int(r() * len(_MOTIVES))]
                )
                append(
                    (
                        person_id,
                        doctors[int(r() * len(doctors))],
                        document,
                        iso[past(0, 12 * 365)],
                        summary,
                    )
                )

        if r() < 0.6:
            append = tables["prescriptions"].append
            for _ in range(1 + int(r() * 4)):
                drug, dosages = _DRUGS[int(r() * len(_DRUGS))]
                append(
                    (
                        person_id,
                        doctors[int(r() * len(doctors))],
                        drug,
                        dosages[int(r() * len(dosages))],
                        iso[past(0, 730) if r() < 0.5 else past(0, 15 * 365)],
                    )
                )

        if r() < 0.45:
            append = tables["lab_results"].append
            sampled = past(0, 3 * 365) if r() < 0.6 else past(0, 20 * 365)
            for _ in range(1 + int(r() * 5)):
                code, label, unit, low, high, shape = _LAB_TESTS[int(r() * len(_LAB_TESTS))]
                spread = (high - low) * 0.15
                value = shape % (low - spread + (high - low + 2 * spread) * r())
                append((person_id, code, label, value, unit, iso[sampled]))

        if born_back >= 18 * 365 and r() < 0.10:
            pseudonym = f"{self.rng.getrandbits(64):016x}"
            tables["research_linkage"].append((pseudonym, person_id))
            append = tables["research_extracts"].append
            for _ in range(1 + int(r() * 3)):
                extracted = past(0, 8 * 365)
                age = (born_back - extracted) // 365
                variables = {
                    "age_band": f"{age // 10 * 10}-{age // 10 * 10 + 9}",
                    "sex": sex,
                    "bmi": round(18 + 17 * r(), 1),
                    "smoker": r() < 0.25,
                }
                append(
                    (
                        pseudonym,
                        _COHORTS[int(r() * len(_COHORTS))],
                        iso[extracted],
                        json.dumps(variables, ensure_ascii=False),
                    )
                )

        if r() < 0.55:
            append = tables["contact_preferences"].append
            first_channel = int(r() * 3)
            for offset in range(1 if r() < 0.6 else 2):
                channel = _CHANNELS[(first_channel + offset) % 3]
                if channel == "email" and not mail:
                    continue
                append((person_id, channel, 1 if r() < 0.7 else 0, iso[past(0, 6 * 365)]))

        if r() < 0.01:
            scope = _OBJECTION_SCOPES[int(r() * len(_OBJECTION_SCOPES))]
            tables["objection_registry"].append((person_id, scope, iso[past(0, 8 * 365)]))

    # --- Personas ---------------------------------------------------------

    def stay(
        self,
        person_id: int,
        hospital: str,
        ward: str,
        admitted_back: int,
        nights: int,
        diagnoses: Iterable[tuple[str, str]],
    ) -> None:
        stay_id = self.next_stay
        self.next_stay += 1
        discharged = self.day(admitted_back - nights)
        self.rows.tables["hospital_stays"].append(
            (stay_id, person_id, hospital, ward, self.day(admitted_back), discharged)
        )
        for code, label in diagnoses:
            self.rows.tables["diagnoses"].append((stay_id, person_id, code, label, discharged))

    def reimbursement(
        self, person_id: int, code: str, amount: float, paid_back: int, fraud: int = 0
    ) -> None:
        self.rows.tables["reimbursements"].append(
            (person_id, code, amount, self.day(paid_back + 12), self.day(paid_back), fraud)
        )

    def personas(self) -> None:
        """Write the personas and their hand-made records (ids 1 to 12)."""
        t = self.rows.tables
        day = self.day
        year = 365
        for p in PERSONAS:
            birth = p.birth_date.isoformat()
            t["persons"].append(
                (p.person_id, p.nir, p.last_name, p.first_name, birth, p.sex, p.email)
            )

        # 1. Camille Lefèvre-Dubois: recent record and reimbursements, older
        # data that erasure may remove, and hostile text.
        cardio = (
            ("I48.9", "Fibrillation auriculaire, sans précision"),
            ("I10", "Hypertension essentielle (primitive)"),
        )
        self.stay(1, "CHU de Rennes — Hôpital Pontchaillou", "Cardiologie", 400, 4, cardio)
        self.stay(
            1,
            "CHU de Rennes",
            "Chirurgie digestive",
            9 * year + 40,
            3,
            (("K35.8", "Appendicite aiguë, autre et sans précision"),),
        )
        for paid, code, amount in (
            (30, "G", 21.0),
            (120, "PHA", 34.62),
            (250, "B", 18.9),
            (4 * year, "CS", 23.0),
            (5 * year + 100, "K", 61.44),
        ):
            self.reimbursement(1, code, amount, paid)
        for drug, dosage, back in (
            ("Apixaban 5 mg, comprimé", "1 comprimé matin et soir", 390),
            ("Bisoprolol 2,5 mg, comprimé", "1 comprimé le matin", 390),
            ("Amoxicilline 1 g, comprimé dispersible", "1 comprimé matin et soir", 6 * year),
        ):
            t["prescriptions"].append((1, "Dr Anne Rousseau", drug, dosage, day(back)))
        for code, label, value, unit, back in (
            ("HB", "Hémoglobine", "13.1", "g/dL", 395),
            ("CREA", "Créatinine", "71", "µmol/L", 395),
            ("TSH", "TSH ultrasensible", "2.14", "mUI/L", 4 * year),
        ):
            t["lab_results"].append((1, code, label, value, unit, day(back)))
        camille = "Mme Lefèvre-Dubois"
        for body, back in (
            (
                f"<script>alert(1)</script> Cher confrère, je vous adresse {camille} pour "
                "des palpitations récidivantes. <b>Merci</b> & à bientôt.",
                420,
            ),
            ('=HYPERLINK("http://evil.example","x")', 2 * year),
            (f"+SUM(1,2) Suivi de {camille} après son appendicectomie.", 9 * year),
        ):
            t["referral_letters"].append(
                (
                    1,
                    "Dr Anne Rousseau",
                    "Dr Paul Le Goff, service de cardiologie, CHU de Rennes",
                    "cardiologie",
                    day(back),
                    body,
                )
            )
        for document, summary, back in (
            (
                "Lettre de liaison de sortie",
                "@cmd Fibrillation auriculaire, retour à domicile",
                396,
            ),
            ("Compte rendu de consultation", "-2+3 <img src=x onerror=alert(1)>", 2 * year),
            ("Compte rendu opératoire", '=1+1 "appendicectomie" sans complication', 9 * year),
        ):
            t["shared_care_records"].append((1, "Dr Paul Le Goff", document, day(back), summary))
        pseudonym = f"{self.rng.getrandbits(64):016x}"
        t["research_linkage"].append((pseudonym, 1))
        for cohort, back in (("CONSTANCES", 3 * year), ("EDS-AVC", 200)):
            variables = json.dumps({"age_band": "40-49", "sex": "F", "bmi": 23.4}, sort_keys=True)
            t["research_extracts"].append((pseudonym, cohort, day(back), variables))
        t["contact_preferences"].append((1, "email", 1, day(500)))

        # 2. Karim Benali and his daughter Inès, under the same number.
        self.stay(
            2,
            "Hospices Civils de Lyon — Hôpital Édouard-Herriot",
            "Urgences",
            2 * year,
            1,
            (("S06.0", "Commotion cérébrale"),),
        )
        self.reimbursement(2, "G", 21.0, 60)
        self.reimbursement(2, "PHA", 12.4, 61)
        self.stay(
            3,
            "Hospices Civils de Lyon — Hôpital Femme Mère Enfant",
            "Pédiatrie",
            self.back(date(2016, 1, 12)),
            3,
            (("J21.9", "Bronchiolite aiguë, sans précision"),),
        )
        self.reimbursement(3, "G", 21.0, 90)
        self.reimbursement(3, "PHA", 4.85, 91)
        t["contact_preferences"].append((2, "sms", 1, day(700)))

        # 3. The homonyms.
        self.reimbursement(4, "G", 21.0, 45)
        t["prescriptions"].append(
            (4, "Dr Sophie Blanc", "Lévothyroxine sodique 75 µg, comprimé", "1 le matin", day(45))
        )
        self.reimbursement(5, "CS", 23.0, 200)
        self.stay(
            5,
            "AP-HM Hôpital de la Timone",
            "Gynécologie-obstétrique",
            3 * year,
            4,
            (("O80", "Accouchement unique et spontané"),),
        )
        self.reimbursement(6, "PHA", 8.1, 15)
        self.reimbursement(7, "AMK", 15.05, 300)
        t["lab_results"].append((7, "GLY", "Glycémie à jeun", "0.94", "g/L", day(300)))

        # 4. Jean-Baptiste Santoni, born in Ajaccio (2A).
        self.stay(
            8,
            "Centre hospitalier d'Ajaccio",
            "Cardiologie",
            700,
            6,
            (("I21.9", "Infarctus aigu du myocarde, sans précision"),),
        )
        self.reimbursement(8, "PHA", 46.2, 20)
        t["prescriptions"].append(
            (8, "Dr Marc Leca", "Atorvastatine 20 mg, comprimé", "1 comprimé le soir", day(20))
        )

        # 5. Maëlys Céleste, born in Guadeloupe (971).
        self.reimbursement(9, "G", 21.0, 10)
        t["lab_results"].append((9, "HB", "Hémoglobine", "12.6", "g/dL", day(11)))
        t["contact_preferences"].append((9, "courrier", 0, day(100)))

        # 6. Hélène Mercier-Lagarde: nothing recent, every retention period over.
        self.stay(
            10,
            "CHU de Rennes",
            "Chirurgie orthopédique",
            self.back(date(1995, 3, 10)),
            9,
            (("M16.1", "Autres coxarthroses primaires"),),
        )
        self.reimbursement(10, "K", 95.4, 6 * year)
        self.reimbursement(10, "PHA", 22.3, 7 * year + 30)

        # 7. Zoé N'Diaye: no number on file.
        self.reimbursement(11, "G", 21.0, 75)
        t["shared_care_records"].append(
            (
                11,
                "Dr Aïcha Diallo",
                "Compte rendu de consultation",
                day(80),
                "Consultation de prévention, rien à signaler.",
            )
        )
        t["contact_preferences"].append((11, "email", 1, day(80)))

        # 8. Thomas Roux: a transfusion ten years ago and an objection.
        self.stay(
            12,
            "Hôpitaux universitaires de Strasbourg",
            "Chirurgie orthopédique",
            10 * year + 2,
            8,
            (("S72.0", "Fracture du col du fémur"),),
        )
        t["transfusions"].append((12, "Concentré de globules rouges (CGR)", 2, day(10 * year)))
        self.reimbursement(12, "PHA", 17.3, 150)
        t["objection_registry"].append((12, "all_research", day(2 * year)))

    def take_rows(self) -> _Rows:
        rows, self.rows = self.rows, _Rows.empty()
        return rows


def _create_schema(connection: sqlite3.Connection) -> None:
    for table, columns in SCHEMA.items():
        connection.execute(f"CREATE TABLE {table} ({', '.join(columns)})")


def _insert(connection: sqlite3.Connection, rows: _Rows, counts: dict[str, int]) -> None:
    for table, table_rows in rows.tables.items():
        if table_rows:
            connection.executemany(_INSERT_SQL[table], table_rows)
            counts[table] += len(table_rows)


def build(
    path: Path,
    *,
    citizens: int,
    seed: int,
    as_of: date,
    progress: Callable[[int], None] | None = None,
) -> BuildSummary:
    """Write a warehouse of ``citizens`` people to ``path``, replacing any file there.

    The file appears only once complete: it is built next to ``path`` and
    renamed into place, so a build that is killed leaves at most a stray
    ``.building`` file, never a half warehouse. ``progress`` is called with
    the number of people written since its previous call.
    """
    if citizens < MIN_CITIZENS:
        raise ValueError(
            f"the demo warehouse needs at least {MIN_CITIZENS} citizens "
            f"(its {len(PERSONAS)} personas come first), not {citizens}"
        )
    if as_of < EARLIEST_AS_OF:
        raise ValueError(
            f"as_of must be {EARLIEST_AS_OF.isoformat()} or later: "
            "the personas' records come after their births"
        )
    started = time.monotonic()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".building", dir=path.parent
    )
    os.close(handle)
    temporary = Path(temporary_name)
    counts = dict.fromkeys(TABLES, 0)
    try:
        connection = sqlite3.connect(temporary)
        try:
            # The file is thrown away if the build fails, so neither a journal
            # nor waiting for the disk buys anything here.
            connection.execute("PRAGMA journal_mode=OFF")
            connection.execute("PRAGMA synchronous=OFF")
            _create_schema(connection)
            generator = _Generator(seed, as_of)
            generator.personas()
            _insert(connection, generator.take_rows(), counts)
            if progress is not None:
                progress(len(PERSONAS))
            first_id = len(PERSONAS) + 1
            index = 0
            while first_id <= citizens:
                count = min(CHUNK, citizens - first_id + 1)
                generator.chunk(first_id, count, index)
                _insert(connection, generator.take_rows(), counts)
                if progress is not None:
                    progress(count)
                first_id += count
                index += 1
            for name, table, column in INDEXES:
                connection.execute(f"CREATE INDEX {name} ON {table} ({column})")
            connection.commit()
        finally:
            connection.close()
        # synchronous=OFF skipped every flush: make the content durable before
        # the rename publishes it.
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return BuildSummary(
        citizens=citizens,
        rows=counts,
        seconds=time.monotonic() - started,
        path=path,
    )
