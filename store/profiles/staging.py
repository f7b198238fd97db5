"""Tonight's profiles are written into a staging table and swapped in at the end of the rebuild's transaction:
readers see last night's profiles or tonight's, never half, and no million-row DELETE leaves dead rows behind."""

from __future__ import annotations

from store.core.db import database, is_sqlite
from store.profiles.models import MemberProfile

STAGING = "member_profile_next"  # tonight's profiles, written without indexes, then swapped in


def create_staging() -> None:
    """An empty table shaped as the profiles' own. On PostgreSQL it has no index while it fills (a million
    inserts into a primary key in hash-join order cost 5 s; building the key afterwards, one sort); on SQLite it
    keeps its primary key, which the rows reach in key order."""
    table = MemberProfile._meta.table_name
    database.execute_sql(f"DROP TABLE IF EXISTS {STAGING}")
    if is_sqlite():
        ddl = database.execute_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,))
        create = ddl.fetchone()[0]
        database.execute_sql(create.replace(f'"{table}"', f'"{STAGING}"', 1))
    else:
        database.execute_sql(f"CREATE TABLE {STAGING} (LIKE {table} INCLUDING DEFAULTS)")


def swap_in_staging() -> None:
    """Tonight's table takes the profiles' name and index names; the old one is dropped. On PostgreSQL readers
    wait only for the drop and the renames (catalog changes), not for the fill."""
    table = MemberProfile._meta.table_name
    if is_sqlite():
        database.execute_sql(f"DROP TABLE {table}")
        database.execute_sql(f"ALTER TABLE {STAGING} RENAME TO {table}")
        MemberProfile._schema.create_indexes(safe=False)
        return
    database.execute_sql(f"ALTER TABLE {STAGING} ADD CONSTRAINT {STAGING}_pkey PRIMARY KEY (openid)")
    database.execute_sql(f"CREATE INDEX {STAGING}_lifecycle ON {STAGING} (lifecycle)")
    database.execute_sql(f"DROP TABLE {table}")
    database.execute_sql(f"ALTER TABLE {STAGING} RENAME TO {table}")
    database.execute_sql(f"ALTER INDEX {STAGING}_pkey RENAME TO {table}_pkey")
    database.execute_sql(f"ALTER INDEX {STAGING}_lifecycle RENAME TO {table}_lifecycle")
