"""The catalogue of health data sources (``sources.toml``), read and checked.

``load_catalogue`` reads the file and checks its shape; ``check_live``
compares it with the databases it names. Both collect every problem before
failing, and each message names the file, the key and the fix, because the
person reading it is a data protection officer or an operator at start-up,
not the author of this code.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

# Text is part of this module's interface too (a category's label, a source's title).
from app.rules.columns import CodeLists, Column, read_code_lists, read_columns
from app.rules.toml_checks import Problems, Text, read_text, unknown_keys

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENTITY_FIELDS = (
    "table",
    "key",
    "nir",
    "last_name",
    "first_name",
    "birth_date",
    "email",
    "died_on",
    "refused_access_after_death",
)
# died_on: the date of death (R.1112-7 retention; heirs' requests). refused_access_after_death:
# the person refused, while alive, that their relatives see their record (CSP L.1110-4 V).
_OPTIONAL_IDENTITY = ("nir", "email", "died_on", "refused_access_after_death")
_TABLE_FIELDS = (
    "category",
    "label",
    "primary_key",
    "subject",
    "date_column",
    "link",
    "columns",
    "minor_secret",
)
_INFO_TEXTS = (
    "label",
    "purposes",
    "legal_basis",
    "transfers",
    "retention",
    "origin",
    "automated_decisions",
)
_SOURCE_FIELDS = ("title", "url", "identity", "tables", "categories")
_CATEGORY_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class CatalogueError(Exception):
    """The catalogue cannot be used; ``problems`` lists every reason found."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Recipient:
    """Someone the data is disclosed to: told of erasures and corrections (Art. 19)."""

    name: str
    email: str


@dataclass(frozen=True)
class CategoryInfo:
    """What Art. 15(1) requires us to tell about one category held by one source."""

    label: Text
    purposes: Text
    legal_basis: Text
    transfers: Text
    retention: Text
    origin: Text
    automated_decisions: Text
    recipients: tuple[Recipient, ...]
    # Access to it follows the Public Health Code's 8-day track (L.1111-7).
    medical_record: bool = False


@dataclass(frozen=True)
class Identity:
    """The table that identifies people in a source, and its identity columns."""

    table: str
    key: str
    last_name: str
    first_name: str
    birth_date: str
    nir: str | None = None
    email: str | None = None
    died_on: str | None = None
    refused_access_after_death: str | None = None


@dataclass(frozen=True)
class Link:
    """A linkage table from a pseudonym to the person it stands for."""

    table: str
    key: str
    subject: str


@dataclass(frozen=True)
class DataTable:
    name: str
    category: str
    primary_key: tuple[str, ...]
    subject: str
    date_column: str
    link: Link | None = None
    # The heading people read above these records, and what each column shows.
    label: Text | None = None
    columns: tuple[Column, ...] = ()
    # A yes/no column: a minor asked to keep this record secret from the holders of
    # parental authority (CSP L.1111-5); it is never sent to a parent.
    minor_secret: str | None = None

    @property
    def shown(self) -> tuple[Column, ...]:
        """The columns people see, in the catalogue's order."""
        return tuple(c for c in self.columns if c.shown)


@dataclass(frozen=True)
class Source:
    name: str
    title: Text
    url: str
    identity: Identity
    tables: tuple[DataTable, ...]
    categories: Mapping[str, CategoryInfo]

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, fit for a message or a log line."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except ArgumentError:
            return "(unreadable URL)"


@dataclass(frozen=True)
class Catalogue:
    path: Path
    sources: tuple[Source, ...]
    digest: str
    categories: frozenset[str] = field(default=frozenset())
    # Code lists (``[code_lists.NAME]``): a code's meaning in both languages.
    code_lists: CodeLists = field(default_factory=dict)

    def source(self, name: str) -> Source:
        return next(s for s in self.sources if s.name == name)

    def info(self, source: str, category: str) -> CategoryInfo:
        return self.source(source).categories[category]

    @property
    def medical_categories(self) -> frozenset[str]:
        """The categories some source marks ``medical_record`` (CSP L.1111-7, R.1112-7)."""
        return frozenset(
            c for s in self.sources for c, info in s.categories.items() if info.medical_record
        )

    def tables_of(self, category: str) -> list[tuple[Source, DataTable]]:
        return [(s, t) for s in self.sources for t in s.tables if t.category == category]

    def label(self, category: str) -> Text:
        """The category's name for people: the first source's label."""
        for source in self.sources:
            if category in source.categories:
                return source.categories[category].label
        return Text(category, category)


def _string(table: Mapping[str, Any], name: str, key: str, p: Problems) -> str | None:
    value = table.get(name)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None:
        p.add(f"{key}.{name}", f'missing. Add {name} = "...".')
    else:
        p.add(f"{key}.{name}", "must be a non-empty string.")
    return None


def interpolate(url: str, variables: Mapping[str, str], key: str, p: Problems) -> str:
    """Replace ``${NAME}`` with its value, so that secrets stay out of the file."""

    def _value(match: re.Match[str]) -> str:
        name = match.group(1)
        value = variables.get(name, "")
        if not value:
            p.add(key, f"uses ${{{name}}}, which is not set. Set the environment variable {name}.")
        return value

    return _VARIABLE.sub(_value, url)


def _identity(raw: Any, key: str, p: Problems) -> Identity | None:
    if not isinstance(raw, Mapping):
        p.add(key, "missing. Add a [" + key + "] table naming the table and identity columns.")
        return None
    unknown_keys(raw, _IDENTITY_FIELDS, key, p)
    values: dict[str, str | None] = {}
    for name in _IDENTITY_FIELDS:
        if name in _OPTIONAL_IDENTITY and name not in raw:
            values[name] = None
            continue
        values[name] = _string(raw, name, key, p)
    if any(values[n] is None for n in _IDENTITY_FIELDS if n not in _OPTIONAL_IDENTITY):
        return None
    return Identity(**values)  # type: ignore[arg-type]


def _table(name: str, raw: Any, key: str, code_lists: CodeLists, p: Problems) -> DataTable | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be a table.")
        return None
    unknown_keys(raw, _TABLE_FIELDS, key, p)
    category = _string(raw, "category", key, p)
    if category and not _CATEGORY_NAME.match(category):
        p.add(f"{key}.category", f"'{category}' is not a category name such as 'hospital.stay'.")
        category = None
    pk = raw.get("primary_key")
    if not (isinstance(pk, list) and pk and all(isinstance(c, str) and c for c in pk)):
        p.add(f"{key}.primary_key", 'must list the primary key columns, e.g. ["id"].')
        pk = None
    subject = _string(raw, "subject", key, p)
    date_column = _string(raw, "date_column", key, p)
    label = None
    if "label" not in raw:
        p.add(
            f"{key}.label",
            'missing. Add label = { fr = "...", en = "..." }: the heading people read above '
            "these records in their access package.",
        )
    else:
        label = read_text(raw["label"], f"{key}.label", p)
    internal = (*(pk or ()), *([subject] if subject else []))
    columns = read_columns(raw.get("columns"), f"{key}.columns", internal, code_lists, p)
    link = None
    if "link" in raw:
        spec = raw["link"]
        lkey = f"{key}.link"
        if not isinstance(spec, Mapping):
            p.add(lkey, '{ table = "...", key = "...", subject = "..." } expected.')
            return None
        unknown_keys(spec, ("table", "key", "subject"), lkey, p)
        parts = [_string(spec, n, lkey, p) for n in ("table", "key", "subject")]
        if all(parts):
            link = Link(*parts)  # type: ignore[arg-type]
        else:
            return None
    secret = None
    if "minor_secret" in raw:
        secret = _string(raw, "minor_secret", key, p)
        if secret and secret not in {c.name for c in columns or ()}:
            p.add(
                f"{key}.minor_secret",
                f"'{secret}' is not a column of this table: describe it in [{key}.columns].",
            )
    if not (category and pk and subject and date_column and label and columns):
        return None
    return DataTable(name, category, tuple(pk), subject, date_column, link, label, columns, secret)


def _category_info(raw: Any, key: str, p: Problems) -> CategoryInfo | None:
    if not isinstance(raw, Mapping):
        p.add(key, "must be a table of the Art. 15 information.")
        return None
    unknown_keys(raw, (*_INFO_TEXTS, "recipients", "medical_record"), key, p)
    medical = raw.get("medical_record", False)
    if not isinstance(medical, bool):
        p.add(f"{key}.medical_record", "must be true or false.")
    texts = {}
    for name in _INFO_TEXTS:
        if name not in raw:
            p.add(f"{key}.{name}", f'missing. Add {name} = {{ fr = "...", en = "..." }}.')
            continue
        texts[name] = read_text(raw[name], f"{key}.{name}", p)
    recipients = []
    listed = raw.get("recipients")
    if not isinstance(listed, list):
        p.add(
            f"{key}.recipients",
            'missing. List who receives the data: [{ name = "...", email = "..." }], '
            "or [] if nobody does.",
        )
    else:
        for index, item in enumerate(listed):
            rkey = f"{key}.recipients[{index}]"
            if not isinstance(item, Mapping):
                p.add(rkey, '{ name = "...", email = "..." } expected.')
                continue
            who, email = _string(item, "name", rkey, p), _string(item, "email", rkey, p)
            if email and "@" not in email:
                p.add(f"{rkey}.email", f"'{email}' is not an email address.")
            elif who and email:
                recipients.append(Recipient(who, email))
    if len(texts) != len(_INFO_TEXTS) or any(t is None for t in texts.values()):
        return None
    return CategoryInfo(
        recipients=tuple(recipients),
        medical_record=medical is True,
        **texts,  # type: ignore[arg-type]
    )


def _source(
    name: str, raw: Any, variables: Mapping[str, str], code_lists: CodeLists, p: Problems
) -> Source | None:
    key = f"sources.{name}"
    if not isinstance(raw, Mapping):
        p.add(key, "must be a table.")
        return None
    unknown_keys(raw, _SOURCE_FIELDS, key, p)
    title = read_text(raw.get("title"), f"{key}.title", p)
    url_raw = _string(raw, "url", key, p)
    url = interpolate(url_raw, variables, f"{key}.url", p) if url_raw else None
    if url:
        try:
            make_url(url).get_dialect()
        except (ArgumentError, ImportError) as error:
            problem = (
                "is not a SQLAlchemy URL"
                if isinstance(error, ArgumentError) and "Could not parse" in str(error)
                else "names a database dialect or driver that is not installed"
            )
            p.add(
                f"{key}.url",
                f"{problem}. Use a URL such as postgresql+psycopg://user@host/db "
                "or sqlite:///path/to/file.",
            )
            url = None
    identity = _identity(raw.get("identity"), f"{key}.identity", p)
    tables_raw = raw.get("tables")
    tables: list[DataTable] = []
    if not isinstance(tables_raw, Mapping) or not tables_raw:
        p.add(f"{key}.tables", f"no table listed. Add a [{key}.tables.NAME] section.")
    else:
        for table_name, spec in tables_raw.items():
            table = _table(table_name, spec, f"{key}.tables.{table_name}", code_lists, p)
            if table:
                tables.append(table)
    infos_raw = raw.get("categories")
    infos: dict[str, CategoryInfo] = {}
    if not isinstance(infos_raw, Mapping):
        infos_raw = {}
    for category, spec in infos_raw.items():
        info = _category_info(spec, f'{key}.categories."{category}"', p)
        if info:
            infos[category] = info
    for table in tables:
        if table.category not in infos_raw:
            p.add(
                f"{key}.tables.{table.name}.category",
                f"'{table.category}' has no Art. 15 information in this source. "
                f'Add a [{key}.categories."{table.category}"] section.',
            )
    held = {
        spec.get("category")
        for spec in (tables_raw.values() if isinstance(tables_raw, Mapping) else [])
        if isinstance(spec, Mapping)
    }
    for category in infos_raw:
        if category not in held and held:
            p.add(f'{key}.categories."{category}"', "no table of this source holds it. Remove it.")
    if not (title and url and identity) or len(tables) != len(tables_raw or {}):
        return None
    return Source(name, title, url, identity, tuple(tables), infos)


def load_catalogue(path: Path, variables: Mapping[str, str] | None = None) -> Catalogue:
    """Read and check ``sources.toml``; raise CatalogueError listing every problem."""
    p = Problems(path)
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CatalogueError(
            [f"{path}: cannot be read ({error.strerror}). Set SOURCES_FILE to the catalogue."]
        ) from None
    try:
        raw = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise CatalogueError([f"{path.name}: not valid TOML: {error}."]) from None
    env = dict(os.environ if variables is None else variables)
    unknown_keys(raw, ("sources", "code_lists"), "(top level)", p)
    code_lists = read_code_lists(raw.get("code_lists"), p)
    sources_raw = raw.get("sources")
    sources: list[Source] = []
    if not isinstance(sources_raw, Mapping) or not sources_raw:
        p.add("sources", "no source described. Add a [sources.NAME] section.")
    else:
        for name, spec in sources_raw.items():
            source = _source(name, spec, env, code_lists, p)
            if source:
                sources.append(source)
    if p.items:
        raise CatalogueError(p.items)
    categories = frozenset(t.category for s in sources for t in s.tables)
    digest = hashlib.sha256(data).hexdigest()
    return Catalogue(path, tuple(sources), digest, categories, code_lists)


def _indexed(inspector: Any, table: str) -> set[str]:
    """Columns that lead an index, a unique constraint or the primary key."""
    leading = {i["column_names"][0] for i in inspector.get_indexes(table) if i["column_names"]}
    leading |= {
        u["column_names"][0] for u in inspector.get_unique_constraints(table) if u["column_names"]
    }
    pk = inspector.get_pk_constraint(table).get("constrained_columns") or []
    if pk:
        leading.add(pk[0])
    return leading


def _missing_sqlite_file(url: str) -> str | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = str(parsed.database)
    if database.startswith("file:"):
        return None
    return None if Path(database).exists() else database


class _LiveSource:
    """The checks of one source against one live database; appends to ``problems``."""

    def __init__(self, file: str, source: Source, inspector: Any, problems: list[str]) -> None:
        self.file, self.source, self.inspector, self.problems = file, source, inspector, problems
        self.present = set(inspector.get_table_names())

    def columns(self, table: str) -> set[str]:
        return {c["name"] for c in self.inspector.get_columns(table)}

    def need(self, table: str, wanted: dict[str, str], where: str) -> set[str]:
        """The table's columns, after reporting the table or any wanted column missing."""
        if table not in self.present:
            self.problems.append(
                f"{self.file}: {where}: table '{table}' does not exist in {self.source.safe_url}. "
                "Check the table name in the catalogue, or the URL."
            )
            return set()
        have = self.columns(table)
        for field_name, column in wanted.items():
            if column not in have:
                guess = difflib.get_close_matches(column, sorted(have), n=1)
                hint = f" Did you mean '{guess[0]}'?" if guess else ""
                self.problems.append(
                    f"{self.file}: {where}.{field_name}: column '{column}' is not in "
                    f"table '{table}'.{hint}"
                )
        return have

    def described(
        self, table: str, columns: tuple[Column, ...], have: set[str], where: str
    ) -> None:
        """Every live column is described, and every described column is live."""
        listed = {c.name for c in columns}
        for name in sorted(have - listed):
            self.problems.append(
                f"{self.file}: {where}: column '{name}' of table '{table}' is not described, "
                "so people would see its database name. Add "
                f'{name} = {{ fr = "...", en = "...", kind = "text" }}, '
                f"or {name} = {{ shown = false }} if it is a technical key."
            )
        for name in sorted(listed - have):
            guess = difflib.get_close_matches(name, sorted(have), n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else " Remove it."
            self.problems.append(
                f"{self.file}: {where}.{name}: column '{name}' is not in table '{table}'.{hint}"
            )

    def need_index(self, table: str, column: str, where: str) -> None:
        if column not in _indexed(self.inspector, table):
            self.problems.append(
                f"{self.file}: {where}: column {table}.{column} has no index, so lookups would "
                f"read the whole table. Fix: CREATE INDEX ix_{table}_{column} "
                f"ON {table} ({column});"
            )

    def run(self) -> None:
        key = f"sources.{self.source.name}"
        ident = self.source.identity
        wanted = {f: getattr(ident, f) for f in _IDENTITY_FIELDS[1:] if getattr(ident, f)}
        if self.need(ident.table, wanted, f"{key}.identity"):
            for f in ("nir", "birth_date"):
                column = getattr(ident, f)
                if column:
                    self.need_index(ident.table, column, f"{key}.identity.{f}")
        for table in self.source.tables:
            tkey = f"{key}.tables.{table.name}"
            wanted = {"subject": table.subject, "date_column": table.date_column}
            wanted.update({f"primary_key[{i}]": c for i, c in enumerate(table.primary_key)})
            have = self.need(table.name, wanted, tkey)
            if table.subject in have:
                self.need_index(table.name, table.subject, f"{tkey}.subject")
            # A key column already reported missing is one drift: say it once.
            if have and set(wanted.values()) <= have:
                self.described(table.name, table.columns, have, f"{tkey}.columns")
            if table.link:
                link = table.link
                linked = self.need(link.table, {"key": link.key, "subject": link.subject}, tkey)
                if link.subject in linked:
                    self.need_index(link.table, link.subject, f"{tkey}.link.subject")


def check_live(catalogue: Catalogue, engine_for: Any) -> list[str]:
    """Compare the catalogue with the live databases; return the problems found.

    ``engine_for(source)`` gives the engine of a source. Identity and subject
    columns must be indexed: a lookup that scans would grow with the warehouse.
    """
    problems: list[str] = []
    name = catalogue.path.name
    reported: set[str] = set()
    for source in catalogue.sources:
        key = f"sources.{source.name}"
        missing = _missing_sqlite_file(source.url)
        if missing:
            # Connecting would create an empty file and hide the real problem.
            if missing not in reported:
                reported.add(missing)
                sharing = [s.name for s in catalogue.sources if s.url == source.url]
                problems.append(
                    f"{name}: {key}.url: the database file {missing} does not exist "
                    f"(used by {', '.join(sharing)}). For the demo warehouse, run: "
                    "flask demo-data"
                )
            continue
        try:
            engine: Engine = engine_for(source)
            _LiveSource(name, source, inspect(engine), problems).run()
        except (SQLAlchemyError, ImportError) as error:
            problems.append(
                f"{name}: {key}.url: cannot reach {source.safe_url} "
                f"({type(error).__name__}). Check the URL and that the database runs."
            )
    return problems
