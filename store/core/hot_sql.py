"""Checkout's hottest writes as SQL built once per shape, instead of by peewee on every call.

Building a wide INSERT (`Order` has 25 columns) costs peewee ~150 µs of Python per statement — more than
SQLite or a local PostgreSQL take to run it — and create_order runs several on the handler threads, under one
GIL. These helpers keep the peewee model as the definition (table, columns, `db_value` conversions) and cache
only the statement text, keyed by backend and row count; the values go through each field's `db_value`
exactly as peewee would convert them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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

    def _statement(self, rows: int) -> str:
        db = database.obj
        key = (db.__class__.__name__, rows)
        sql = self._sql.get(key)
        if sql is None:
            table = _quote(self.model._meta.table_name)
            names = ", ".join(_quote(f.column_name) for f in self.fields)
            one = "(" + ", ".join([db.param] * len(self.fields)) + ")"
            sql = f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * rows)}"
            if isinstance(db, peewee.PostgresqlDatabase):
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
