"""SQL on the hot paths built once per kind of database, instead of by peewee on every call.

peewee renders a query's SQL from its expression tree each time it runs, and wraps every result row in a model
instance: for a wide INSERT (`Order` has 25 columns) that is ~150 µs of Python, for one SKU's row ~60 µs —
more than SQLite or a local PostgreSQL take to run them, on handler threads that share one GIL. The one
mechanism here keeps the peewee model as the definition (table, columns, `db_value` / `python_value`
conversions) and caches only the statement text, keyed by backend (and row count); parameters and results go
through each field's conversions exactly as peewee would apply them:

- `Insert`: multi-row inserts (checkout's lines, a sweep's notices), returning the first new id or, skipping rows
  already there, how many were new;
- `InsertIfNew`: a one-row insert that does nothing when the row exists (ON CONFLICT DO NOTHING);
- `Select`: a read whose rows come back as a small named tuple instead of model instances;
- `Statement`: hand-written SQL (an UPDATE with a guard, say) with the backend's parameter style.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, NamedTuple, TypeVar

import peewee

from store.core.db import database


def _quote(name: str) -> str:
    return f'"{name}"'


class Insert:
    """`INSERT INTO table (columns) VALUES (…)[, (…)]`, returning the first new id."""

    def __init__(self, model: type[peewee.Model], columns: Sequence[str]) -> None:
        self.model = model
        self.fields = [model._meta.fields[name] for name in columns]
        self._sql: dict[tuple[str, int], str] = {}

    def _statement(self, rows: int, new_only: bool = False) -> str:
        db = database.obj
        key = (db.__class__.__name__, rows, new_only)
        sql = self._sql.get(key)
        if sql is None:
            table = _quote(self.model._meta.table_name)
            names = ", ".join(_quote(f.column_name) for f in self.fields)
            one = "(" + ", ".join([db.param] * len(self.fields)) + ")"
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * rows)}"
            if new_only:
                sql += " ON CONFLICT DO NOTHING"
            elif isinstance(db, peewee.PostgresqlDatabase):
                sql += f" RETURNING {_quote(self.model._meta.primary_key.column_name)}"
            self._sql[key] = sql
        return sql

    def execute(self, rows: Sequence[Mapping[str, Any]]) -> int:
        """Insert `rows` (dicts keyed by field name) in one statement; returns the first row's id."""
        params = [f.db_value(row.get(f.name)) for row in rows for f in self.fields]
        cursor = database.execute_sql(self._statement(len(rows)), params)
        if isinstance(database.obj, peewee.PostgresqlDatabase):
            return int(cursor.fetchone()[0])
        return int(cursor.lastrowid) - len(rows) + 1  # SQLite: the last id of a multi-row insert

    def execute_new(self, rows: Sequence[Mapping[str, Any]], chunk: int = 500) -> int:
        """Insert `rows`, skipping any that a unique column already holds (ON CONFLICT DO NOTHING), `chunk` to a
        statement; how many were inserted."""
        inserted = 0
        for start in range(0, len(rows), chunk):
            part = rows[start : start + chunk]
            params = [f.db_value(row.get(f.name)) for row in part for f in self.fields]
            inserted += database.execute_sql(self._statement(len(part), new_only=True), params).rowcount
        return inserted


class Statement:
    """Hand-written SQL with `{p}` for each parameter (`?` on SQLite, `%s` on PostgreSQL) and `{t}` for the
    model's quoted table name."""

    def __init__(self, model: type[peewee.Model], template: str) -> None:
        self.model = model
        self.template = template
        self._sql: dict[str, str] = {}

    def execute(self, params: Sequence[Any]) -> Any:
        db = database.obj
        sql = self._sql.get(db.__class__.__name__)
        if sql is None:
            sql = self.template.format(p=db.param, t=_quote(self.model._meta.table_name))
            self._sql[db.__class__.__name__] = sql
        return database.execute_sql(sql, list(params))


class InsertIfNew:
    """A one-row INSERT of fixed columns that does nothing when `unique` already holds the value (ON CONFLICT
    DO NOTHING, SQLite and PostgreSQL alike). If peewee would add columns of its own (defaults of fields not
    listed), nothing is cached."""

    def __init__(self, model: type[peewee.Model], fields: Sequence[peewee.Field], unique: peewee.Field) -> None:
        self.model = model
        self.fields = tuple(fields)
        self.unique = unique
        self._db: peewee.Database | None = None
        self._sql: str | None = None

    def _query(self, values: tuple[object, ...]) -> tuple[str, list]:
        query = self.model.insert_many([values], fields=self.fields)
        return query.on_conflict(conflict_target=[self.unique], action="NOTHING").sql()

    def execute(self, *values: object) -> int | None:
        """Insert the row; its id, or None when such a row exists already."""
        db = database.obj
        params = [field.db_value(value) for field, value in zip(self.fields, values, strict=True)]
        if self._db is not db:
            sql, built = self._query(values)
            self._db, self._sql = db, (sql if list(built) == params else None)
        if self._sql is None:
            sql, params = self._query(values)
        else:
            sql = self._sql
        cursor = db.execute_sql(sql, params)
        if cursor.rowcount != 1:
            return None
        row = cursor.fetchone() if cursor.description else None  # PostgreSQL: RETURNING id
        return row[0] if row else cursor.lastrowid


R = TypeVar("R", bound=NamedTuple)

_AS_STORED = (peewee.AutoField, peewee.IntegerField, peewee.BigIntegerField, peewee.CharField, peewee.TextField)


class Select(Generic[R]):
    """`build(*args)` (a peewee select of some columns) rendered once per database class; each call binds new
    arguments and returns the rows as `row` tuples, whose fields are the selected columns in order, each value
    converted by its field's `python_value` (a boolean is a bool on SQLite too).

    The arguments must be the query's only parameters, in order (constants go in as SQL: `Sku.on_sale`, not
    `Sku.on_sale == True`); the first build checks that, so a query that cannot be prepared fails at once."""

    def __init__(self, build: Callable[..., peewee.ModelSelect], row: type[R]) -> None:
        self.build = build
        self.row = row
        self._sql: dict[type, tuple[str, tuple[Callable[[Any], Any] | None, ...]]] = {}

    def __call__(self, *args: Any) -> list[R]:
        kind = type(database.obj)
        prepared = self._sql.get(kind)
        if prepared is None:
            prepared = self._sql[kind] = self._prepare(args)
        sql, converters = prepared
        rows = database.execute_sql(sql, list(args)).fetchall()
        make = self.row._make
        if not any(converters):
            return [make(r) for r in rows]
        return [make(v if c is None else c(v) for c, v in zip(converters, r, strict=True)) for r in rows]

    def _prepare(self, args: tuple[Any, ...]) -> tuple[str, tuple[Callable[[Any], Any] | None, ...]]:
        query = self.build(*args)
        sql, params = query.sql()
        if list(params) != list(args):
            raise ValueError(f"arguments {args!r} are not the query's parameters {params!r}")
        columns = query.selected_columns
        if len(columns) != len(self.row._fields) or not all(isinstance(c, peewee.Field) for c in columns):
            raise ValueError(f"select exactly the fields of {self.row.__name__}: {self.row._fields}")
        converters = tuple(None if type(c) in _AS_STORED else c.python_value for c in columns)
        return sql, converters
