"""The demo warehouse's personas: fixed people with hand-made records, the same for every seed.

They are written first (``person_id`` 1 to 15): the demo and the tests file
requests as them, each showing one case the portal must handle (see
``demonstrates``). ``HOSTILE`` holds the markup and formulas some of their
(and a few random citizens') texts carry.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Protocol

from app.demo.schema import Rows
from app.nir import nir_key

# Inès Benali, the youngest persona, is born in 2015; her records and the
# other personas' "recent" ones must come after the births.
EARLIEST_AS_OF = date(2020, 1, 1)

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
    died_on: date | None = None
    # Refused, while alive, that the relatives see the record after the death (L.1110-4 V).
    refused_access_after_death: bool = False


def with_key(body: str) -> str:
    """A NIR from its first 13 characters: the body and its control key."""
    return f"{body}{nir_key(body):02d}"


_CAMILLE_NIR = with_key("2780575056123")
_KARIM_NIR = with_key("1800369123045")

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
        with_key("2900113055210"),
        "marie.martin@example.org",
        "homonym of the next Marie Martin (same name and birth date, other number)",
        "F",
    ),
    Persona(
        5,
        "Marie",
        "Martin",
        date(1990, 1, 1),
        with_key("2900159350087"),
        "marie.martin@example.net",
        "homonym of the previous Marie Martin",
        "F",
    ),
    Persona(
        6,
        "Lucas",
        "Petit",
        date(1985, 7, 7),
        with_key("1850733063141"),
        None,
        "homonym without an email (with the next Lucas Petit): only the number tells them apart",
        "M",
    ),
    Persona(
        7,
        "Lucas",
        "Petit",
        date(1985, 7, 7),
        with_key("1850744109032"),
        None,
        "homonym without an email (with the previous Lucas Petit)",
        "M",
    ),
    Persona(
        8,
        "Jean-Baptiste",
        "Santoni",
        date(1962, 9, 30),
        with_key("162092A004117"),
        "jb.santoni@example.org",
        "born in Ajaccio, Corse-du-Sud: a 2A number",
        "M",
    ),
    Persona(
        9,
        "Maëlys",
        "Céleste",
        date(1995, 11, 11),
        with_key("2951197120321"),
        "maelys.celeste@example.org",
        "born in Guadeloupe: a 971 number (3-digit department, 2-digit commune)",
        "F",
    ),
    Persona(
        10,
        "Hélène",
        "Mercier-Lagarde",
        date(1940, 4, 4),
        with_key("2400435238012"),
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
        with_key("1701267482078"),
        "thomas.roux@example.org",
        "a transfusion ten years ago (kept 30 years) and an objection to research",
        "M",
    ),
    Persona(
        13,
        "Georges",
        "Moreau",
        date(1948, 2, 19),
        with_key("1480249007215"),
        None,
        "died on 3 November 2019 in hospital; his daughter Claire Moreau (born 9 July 1976) "
        "asks for his record to know the cause of death: only the hospital record is sent, "
        "his reimbursements are neither sent nor erased",
        "M",
        died_on=date(2019, 11, 3),
    ),
    Persona(
        14,
        "Simone",
        "Garnier",
        date(1936, 10, 5),
        with_key("2361075112048"),
        None,
        "died on 14 June 2019; refused while alive that her relatives see her record",
        "F",
        died_on=date(2019, 6, 14),
        refused_access_after_death=True,
    ),
    Persona(
        15,
        "Léa",
        "Fontaine",
        date(2011, 4, 18),
        with_key("2110469123077"),
        None,
        "a minor: one stay she asked to keep secret from her parents (CSP L.1111-5), "
        "one they may see",
        "F",
    ),
)
MIN_CITIZENS = len(PERSONAS)


class Writer(Protocol):
    """What writing the personas' records needs of the generator (``app.demo.population``)."""

    rows: Rows
    rng: random.Random

    def day(self, days_back: int) -> str: ...

    def back(self, when: date) -> int: ...

    def stay(
        self,
        person_id: int,
        hospital: str,
        ward: str,
        admitted_back: int,
        nights: int,
        diagnoses: Iterable[tuple[str, str]],
        *,
        secret: bool = False,
    ) -> None: ...

    def reimbursement(
        self, person_id: int, code: str, amount: float, paid_back: int, fraud: int = 0
    ) -> None: ...


def write_records(out: Writer) -> None:
    """Write the personas and their hand-made records (ids 1 to 15)."""
    t = out.rows.tables
    day = out.day
    year = 365
    for p in PERSONAS:
        birth = p.birth_date.isoformat()
        died = p.died_on.isoformat() if p.died_on else None
        t["persons"].append(
            (
                p.person_id,
                p.nir,
                p.last_name,
                p.first_name,
                birth,
                p.sex,
                p.email,
                died,
                int(p.refused_access_after_death),
            )
        )

    # 1. Camille Lefèvre-Dubois: recent record and reimbursements, older
    # data that erasure may remove, and hostile text.
    cardio = (
        ("I48.9", "Fibrillation auriculaire, sans précision"),
        ("I10", "Hypertension essentielle (primitive)"),
    )
    out.stay(1, "CHU de Rennes — Hôpital Pontchaillou", "Cardiologie", 400, 4, cardio)
    out.stay(
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
        out.reimbursement(1, code, amount, paid)
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
    pseudonym = f"{out.rng.getrandbits(64):016x}"
    t["research_linkage"].append((pseudonym, 1))
    for cohort, back in (("CONSTANCES", 3 * year), ("EDS-AVC", 200)):
        variables = json.dumps({"age_band": "40-49", "sex": "F", "bmi": 23.4}, sort_keys=True)
        t["research_extracts"].append((pseudonym, cohort, day(back), variables))
    t["contact_preferences"].append((1, "email", 1, day(500)))

    # 2. Karim Benali and his daughter Inès, under the same number.
    out.stay(
        2,
        "Hospices Civils de Lyon — Hôpital Édouard-Herriot",
        "Urgences",
        2 * year,
        1,
        (("S06.0", "Commotion cérébrale"),),
    )
    out.reimbursement(2, "G", 21.0, 60)
    out.reimbursement(2, "PHA", 12.4, 61)
    out.stay(
        3,
        "Hospices Civils de Lyon — Hôpital Femme Mère Enfant",
        "Pédiatrie",
        out.back(date(2016, 1, 12)),
        3,
        (("J21.9", "Bronchiolite aiguë, sans précision"),),
    )
    out.reimbursement(3, "G", 21.0, 90)
    out.reimbursement(3, "PHA", 4.85, 91)
    t["contact_preferences"].append((2, "sms", 1, day(700)))

    # 3. The homonyms.
    out.reimbursement(4, "G", 21.0, 45)
    t["prescriptions"].append(
        (4, "Dr Sophie Blanc", "Lévothyroxine sodique 75 µg, comprimé", "1 le matin", day(45))
    )
    out.reimbursement(5, "CS", 23.0, 200)
    out.stay(
        5,
        "AP-HM Hôpital de la Timone",
        "Gynécologie-obstétrique",
        3 * year,
        4,
        (("O80", "Accouchement unique et spontané"),),
    )
    out.reimbursement(6, "PHA", 8.1, 15)
    out.reimbursement(7, "AMK", 15.05, 300)
    t["lab_results"].append((7, "GLY", "Glycémie à jeun", "0.94", "g/L", day(300)))

    # 4. Jean-Baptiste Santoni, born in Ajaccio (2A).
    out.stay(
        8,
        "Centre hospitalier d'Ajaccio",
        "Cardiologie",
        700,
        6,
        (("I21.9", "Infarctus aigu du myocarde, sans précision"),),
    )
    out.reimbursement(8, "PHA", 46.2, 20)
    t["prescriptions"].append(
        (8, "Dr Marc Leca", "Atorvastatine 20 mg, comprimé", "1 comprimé le soir", day(20))
    )

    # 5. Maëlys Céleste, born in Guadeloupe (971).
    out.reimbursement(9, "G", 21.0, 10)
    t["lab_results"].append((9, "HB", "Hémoglobine", "12.6", "g/dL", day(11)))
    t["contact_preferences"].append((9, "courrier", 0, day(100)))

    # 6. Hélène Mercier-Lagarde: nothing recent, every retention period over.
    out.stay(
        10,
        "CHU de Rennes",
        "Chirurgie orthopédique",
        out.back(date(1995, 3, 10)),
        9,
        (("M16.1", "Autres coxarthroses primaires"),),
    )
    out.reimbursement(10, "K", 95.4, 6 * year)
    out.reimbursement(10, "PHA", 22.3, 7 * year + 30)

    # 7. Zoé N'Diaye: no number on file.
    out.reimbursement(11, "G", 21.0, 75)
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
    out.stay(
        12,
        "Hôpitaux universitaires de Strasbourg",
        "Chirurgie orthopédique",
        10 * year + 2,
        8,
        (("S72.0", "Fracture du col du fémur"),),
    )
    t["transfusions"].append((12, "Concentré de globules rouges (CGR)", 2, day(10 * year)))
    out.reimbursement(12, "PHA", 17.3, 150)
    t["objection_registry"].append((12, "all_research", day(2 * year)))
    _write_deceased_and_minor(out)


def _write_deceased_and_minor(out: Writer) -> None:
    """Requests made for someone else (docs/demo.md): two deceased people and a minor."""
    t = out.rows.tables
    day, back = out.day, out.back

    # 9. Georges Moreau: died in hospital on 3 November 2019, after a first stay in 2017.
    out.stay(
        13,
        "CHU de Nantes — Hôtel-Dieu",
        "Cardiologie",
        back(date(2017, 3, 6)),
        7,
        (("I50.0", "Insuffisance cardiaque congestive"),),
    )
    out.stay(
        13,
        "CHU de Nantes — Hôtel-Dieu",
        "Soins intensifs de cardiologie",
        back(date(2019, 10, 22)),
        12,
        (
            ("I21.0", "Infarctus transmural aigu du myocarde, de la paroi antérieure"),
            ("R57.0", "Choc cardiogénique"),
        ),
    )
    t["transfusions"].append(
        (13, "Concentré de globules rouges (CGR)", 2, day(back(date(2019, 10, 24))))
    )
    for paid_on, code, amount in (
        (date(2019, 4, 2), "G", 25.0),
        (date(2019, 6, 18), "PHA", 42.1),
        (date(2019, 9, 9), "CS", 30.0),
    ):
        out.reimbursement(13, code, amount, back(paid_on))
    t["prescriptions"].append(
        (
            13,
            "Dr Yves Le Bihan",
            "Furosémide 40 mg, comprimé",
            "1 comprimé le matin",
            day(back(date(2019, 6, 18))),
        )
    )
    t["lab_results"].append(
        (
            13,
            "BNP",
            "Peptide natriurétique de type B",
            "1250",
            "pg/mL",
            day(back(date(2019, 10, 22))),
        )
    )

    # 10. Simone Garnier: refused, while alive, that her relatives see her record.
    out.stay(
        14,
        "CHU de Bordeaux — Hôpital Saint-André",
        "Médecine interne",
        back(date(2019, 6, 1)),
        13,
        (("C34.9", "Tumeur maligne des bronches ou du poumon, sans précision"),),
    )
    out.reimbursement(14, "PHA", 18.4, back(date(2019, 5, 20)))

    # 11. Léa Fontaine, a minor: a stay her parents may see, and one she keeps secret.
    out.stay(
        15,
        "CHU de Montpellier — Hôpital Lapeyronie",
        "Pédiatrie",
        back(date(2021, 2, 3)),
        2,
        (("J18.9", "Pneumopathie, sans précision"),),
    )
    out.stay(
        15,
        "CHU de Montpellier — Hôpital Arnaud-de-Villeneuve",
        "Gynécologie",
        60,
        0,
        (("Z30.0", "Conseils et avis généraux concernant la contraception"),),
        secret=True,
    )
    out.reimbursement(15, "G", 26.5, back(date(2021, 2, 10)))
