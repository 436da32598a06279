"""Reading the health data sources the catalogue describes.

One ``Warehouse`` per process holds an engine per distinct URL and the
reflected tables. Every query selects by an indexed column (the number, the
birth date, the subject key), so one subject costs the same whatever the size
of the source. Only keys, dates and flags are read here: routing needs no
health data, so none is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, create_engine, select

from app.rules.catalogue import Catalogue, DataTable, Source, check_live
from app.rules.matching import Applicant, Candidate, Match, choose


@dataclass(frozen=True)
class Record:
    """One row of a data table, as routing sees it: its key and its dates."""

    table: str
    key: tuple[Any, ...]
    date: date | None
    flagged: bool = False
    # A minor asked to keep it secret from the holders of parental authority (L.1111-5).
    secret: bool = False


@dataclass(frozen=True)
class Facts:
    """What a source's identity table says of a person beyond who they are."""

    died_on: date | None = None
    # The person refused, while alive, that their relatives see their record (L.1110-4 V).
    refused_access_after_death: bool = False


class Warehouse:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self._engines: dict[str, Engine] = {}
        self._metadata: dict[str, MetaData] = {}

    def engine(self, source: Source) -> Engine:
        if source.url not in self._engines:
            # hide_parameters: a failed query's message would otherwise quote
            # the number or the name it looked for, into logs and job errors.
            options: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
            if source.url.startswith("sqlite"):
                options["connect_args"] = {"timeout": 30}
            self._engines[source.url] = create_engine(source.url, **options)
            self._metadata[source.url] = MetaData()
        return self._engines[source.url]

    def table(self, source: Source, name: str) -> Table:
        metadata = self._metadata.get(source.url, None)
        if metadata is None:
            self.engine(source)
            metadata = self._metadata[source.url]
        if name not in metadata.tables:
            return Table(name, metadata, autoload_with=self.engine(source))
        return metadata.tables[name]

    def check(self) -> list[str]:
        """Problems between the catalogue and the live databases (empty when fine)."""
        return check_live(self.catalogue, self.engine)

    def dispose(self) -> None:
        for engine in self._engines.values():
            engine.dispose()
        self._engines.clear()
        self._metadata.clear()

    def match(
        self,
        connection: Connection,
        source: Source,
        applicant: Applicant,
        *,
        confirmed: bool = False,
    ) -> Match:
        ident = source.identity
        people = self.table(source, ident.table)
        wanted = [
            people.c[ident.key],
            people.c[ident.last_name],
            people.c[ident.first_name],
            people.c[ident.birth_date],
            people.c[ident.email] if ident.email else None,
            people.c[ident.nir] if ident.nir else None,
        ]
        columns = [c for c in wanted if c is not None]

        def candidates(condition: Any) -> list[Candidate]:
            rows = connection.execute(select(*columns).where(condition)).all()
            found = []
            for row in rows:
                values = dict(zip([c.name for c in columns], row, strict=True))
                found.append(
                    Candidate(
                        key=values[ident.key],
                        last_name=values[ident.last_name],
                        first_name=values[ident.first_name],
                        birth_date=values[ident.birth_date],
                        email=values.get(ident.email) if ident.email else None,
                        nir=values.get(ident.nir) if ident.nir else None,
                    )
                )
            return found

        if applicant.nir and ident.nir:
            by_number = candidates(people.c[ident.nir] == applicant.nir)
            if by_number:
                # The number decides on its own: the birth-date lookup, whose
                # result grows with the source, is not needed.
                return choose(applicant, by_number, [], confirmed=confirmed)
        by_birth_date = candidates(people.c[ident.birth_date] == applicant.birth_date)
        return choose(applicant, [], by_birth_date, confirmed=confirmed)

    def facts(self, connection: Connection, source: Source, subject_key: Any) -> Facts:
        """The person's date of death and refusal during life, where the source holds them."""
        ident = source.identity
        names = [n for n in (ident.died_on, ident.refused_access_after_death) if n]
        if not names:
            return Facts()
        people = self.table(source, ident.table)
        row = connection.execute(
            select(*[people.c[n] for n in names]).where(people.c[ident.key] == subject_key)
        ).first()
        if row is None:
            return Facts()
        values = dict(zip(names, row, strict=True))
        died = values.get(ident.died_on) if ident.died_on else None
        flag = ident.refused_access_after_death
        refused = bool(values.get(flag)) if flag else False
        return Facts(_as_date(died), refused)

    def records(
        self,
        connection: Connection,
        source: Source,
        spec: DataTable,
        subject_key: Any,
        flag_column: str | None = None,
    ) -> list[Record]:
        """Keys and dates of one subject's rows in one table, in key order."""
        table = self.table(source, spec.name)
        columns = [table.c[c] for c in spec.primary_key] + [table.c[spec.date_column]]
        flag = flag_column if flag_column and flag_column in table.c else None
        if flag:
            columns.append(table.c[flag])
        secret = spec.minor_secret
        if secret:
            columns.append(table.c[secret])
        query = select(*columns)
        if spec.link:
            link = self.table(source, spec.link.table)
            query = query.join(link, table.c[spec.subject] == link.c[spec.link.key]).where(
                link.c[spec.link.subject] == subject_key
            )
        else:
            query = query.where(table.c[spec.subject] == subject_key)
        query = query.order_by(*[table.c[c] for c in spec.primary_key])
        width = len(spec.primary_key)
        return [
            Record(
                table=spec.name,
                key=tuple(row[:width]),
                date=_as_date(row[width]),
                flagged=bool(row[width + 1]) if flag else False,
                secret=bool(row[-1]) if secret else False,
            )
            for row in connection.execute(query)
        ]

    def connections(self, sources: Iterable[Source]) -> dict[str, Connection]:
        """One connection per distinct URL, so sources in one database share it."""
        opened: dict[str, Connection] = {}
        for source in sources:
            if source.url not in opened:
                opened[source.url] = self.engine(source).connect()
        return opened


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
