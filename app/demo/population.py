"""The demo warehouse's citizens: people drawn at random, with their records.

Every random draw comes from a ``random.Random`` seeded from a string
(``_seeded``), one stream for the personas and one per chunk of citizens, so
that the same ``(citizens, seed, as_of)`` always gives the same rows. The
lists drawn from are in ``app.demo.names``; the personas' hand-made records
in ``app.demo.personas``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable
from datetime import date, timedelta

from app.demo import personas
from app.demo.names import (
    ACTS,
    CHANNELS,
    CHILD_WARDS,
    COHORTS,
    COUNTRIES,
    DEPARTMENTS,
    DOCUMENT_TYPES,
    DOMAINS,
    DRUGS,
    FIRST_F,
    FIRST_F_ASCII,
    FIRST_M,
    FIRST_M_ASCII,
    HOSPITALS,
    LAB_TESTS,
    LAST,
    LAST_ASCII,
    LETTER_TEMPLATES,
    MOTIVES,
    OBJECTION_SCOPES,
    OVERSEAS,
    SPECIALTIES_F,
    SPECIALTIES_M,
    SUMMARIES,
    TRANSFUSION_PRODUCTS,
    WARDS_WITH_OBSTETRICS,
    WARDS_WITHOUT_OBSTETRICS,
)
from app.demo.personas import HOSTILE, PERSONAS, with_key
from app.demo.schema import Rows

# The oldest day any random row may fall on, in days before as_of.
HORIZON_DAYS = 112 * 366


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


class Generator:
    """Draws people and their records; owns the state that spans chunks."""

    def __init__(self, seed: int, as_of: date) -> None:
        self.seed = seed
        self.as_of = as_of
        # iso[n] is the date n days before as_of: one list lookup instead of
        # date arithmetic and formatting for each of millions of dates.
        self.iso = [(as_of - timedelta(days=n)).isoformat() for n in range(HORIZON_DAYS)]
        # NIR bodies already given out, so that a new person never reuses one
        # by chance; kept as ints, half the memory of strings at 1M people.
        self.taken: set[int] = {_body_number(p.nir[:13]) for p in PERSONAS if p.nir}
        self.next_stay = 1
        doctors = _seeded(seed, "doctors")
        self.doctors = [
            f"Dr {doctors.choice(FIRST_F + FIRST_M)} {doctors.choice(LAST)}" for _ in range(400)
        ]
        self.rows = Rows.empty()
        self.rng = _seeded(seed, "personas")

    def day(self, days_back: int) -> str:
        if 0 <= days_back < HORIZON_DAYS:
            return self.iso[days_back]
        return (self.as_of - timedelta(days=days_back)).isoformat()

    def back(self, when: date) -> int:
        return (self.as_of - when).days

    # --- People ---------------------------------------------------------

    def new_nir(self, sex: str, birth_iso: str) -> str:
        r = self.rng.random
        place_kind = r()
        if place_kind < 0.90:
            department = DEPARTMENTS[int(r() * len(DEPARTMENTS))]
            communes = 366 if department in ("2A", "2B") else 650
            place = f"{department}{1 + int(r() * communes):03d}"
        elif place_kind < 0.94:
            department, communes = OVERSEAS[int(r() * len(OVERSEAS))]
            place = f"{department}{1 + int(r() * communes):02d}"
        else:
            place = "99" + COUNTRIES[int(r() * len(COUNTRIES))]
        prefix = f"{'2' if sex == 'F' else '1'}{birth_iso[2:4]}{birth_iso[5:7]}{place}"
        order = 1 + int(r() * 999)
        for _ in range(999):
            body = f"{prefix}{order:03d}"
            number = _body_number(body)
            if number not in self.taken:
                self.taken.add(number)
                return with_key(body)
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
        domain = DOMAINS[int(r() * len(DOMAINS))]
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
                pick = int(r() * len(FIRST_F))
                first, first_ascii = FIRST_F[pick], FIRST_F_ASCII[pick]
            else:
                pick = int(r() * len(FIRST_M))
                first, first_ascii = FIRST_M[pick], FIRST_M_ASCII[pick]
            pick = int(r() * len(LAST))
            last, last_ascii = LAST[pick], LAST_ASCII[pick]
            if r() < 0.04:
                pick = int(r() * len(LAST))
                last = f"{last}-{LAST[pick]}"
                last_ascii = f"{last_ascii}-{LAST_ASCII[pick]}"
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
                names = FIRST_F if child_sex == "F" else FIRST_M
                child_first = names[int(r() * len(names))]
                child_last = last if r() < 0.85 else LAST[int(r() * len(LAST))]
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
                code, low, high = ACTS[int(r() * len(ACTS))]
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
                    wards = CHILD_WARDS
                elif sex == "F" and age < 48 * 365:
                    wards = WARDS_WITH_OBSTETRICS
                else:
                    wards = WARDS_WITHOUT_OBSTETRICS
                ward, ward_diagnoses = wards[int(r() * len(wards))]
                stay_id = self.next_stay
                self.next_stay += 1
                stays(
                    (
                        stay_id,
                        person_id,
                        HOSPITALS[int(r() * len(HOSPITALS))],
                        ward,
                        iso[admitted],
                        iso[discharged],
                    )
                )
                for _ in range(1 if r() < 0.6 else 2):
                    code, label = ward_diagnoses[int(r() * len(ward_diagnoses))]
                    diagnoses((stay_id, person_id, code, label, iso[discharged]))

        if r() < 0.025:
            product = TRANSFUSION_PRODUCTS[int(r() * len(TRANSFUSION_PRODUCTS))]
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
                    specialties = SPECIALTIES_F if sex == "F" else SPECIALTIES_M
                    specialty = specialties[int(r() * len(specialties))]
                if r() < 0.002:
                    body = f"{HOSTILE[int(r() * len(HOSTILE))]} {patient}"
                else:
                    body = LETTER_TEMPLATES[int(r() * len(LETTER_TEMPLATES))].format(
                        patient=patient,
                        age=(born_back - sent) // 365,
                        specialty=specialty,
                        motive=MOTIVES[int(r() * len(MOTIVES))],
                    )
                append(
                    (
                        person_id,
                        doctors[int(r() * len(doctors))],
                        f"{doctors[int(r() * len(doctors))]}, service de {specialty}, "
                        f"{HOSPITALS[int(r() * len(HOSPITALS))]}",
                        specialty,
                        iso[sent],
                        body,
                    )
                )

        if r() < 0.25:
            append = tables["shared_care_records"].append
            for _ in range(1 if r() < 0.7 else 2):
                document = DOCUMENT_TYPES[int(r() * len(DOCUMENT_TYPES))]
                summary = SUMMARIES[int(r() * len(SUMMARIES))].format(
                    document=document, motive=MOTIVES[int(r() * len(MOTIVES))]
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
                drug, dosages = DRUGS[int(r() * len(DRUGS))]
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
                code, label, unit, low, high, shape = LAB_TESTS[int(r() * len(LAB_TESTS))]
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
                        COHORTS[int(r() * len(COHORTS))],
                        iso[extracted],
                        json.dumps(variables, ensure_ascii=False),
                    )
                )

        if r() < 0.55:
            append = tables["contact_preferences"].append
            first_channel = int(r() * 3)
            for offset in range(1 if r() < 0.6 else 2):
                channel = CHANNELS[(first_channel + offset) % 3]
                if channel == "email" and not mail:
                    continue
                append((person_id, channel, 1 if r() < 0.7 else 0, iso[past(0, 6 * 365)]))

        if r() < 0.01:
            scope = OBJECTION_SCOPES[int(r() * len(OBJECTION_SCOPES))]
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
        *,
        secret: bool = False,
    ) -> None:
        stay_id = self.next_stay
        self.next_stay += 1
        discharged = self.day(admitted_back - nights)
        self.rows.tables["hospital_stays"].append(
            (stay_id, person_id, hospital, ward, self.day(admitted_back), discharged, int(secret))
        )
        for code, label in diagnoses:
            self.rows.tables["diagnoses"].append(
                (stay_id, person_id, code, label, discharged, int(secret))
            )

    def reimbursement(
        self, person_id: int, code: str, amount: float, paid_back: int, fraud: int = 0
    ) -> None:
        self.rows.tables["reimbursements"].append(
            (person_id, code, amount, self.day(paid_back + 12), self.day(paid_back), fraud)
        )

    def personas(self) -> None:
        """Write the personas and their hand-made records (ids 1 to 15)."""
        personas.write_records(self)

    def take_rows(self) -> Rows:
        rows, self.rows = self.rows, Rows.empty()
        return rows
