"""`record_follow`: a first follow is one insert; everyone else is updated; concurrent first contacts end with one
row and one "first time"; on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from bot.process.config import Config
from store.core.clock import SHANGHAI
from store.core.db import database, open_database
from store.core.hot_sql import InsertIfNew
from store.members.followers import Follower, get_or_create_follower, record_follow

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=SHANGHAI)


def _open(config: Config) -> None:
    open_database(config.database.url, config.var_dir)


def test_first_follow_then_again(migrated: Config) -> None:
    _open(migrated)
    follower, first = record_follow("o_a", NOW, "poster")
    assert first and follower.id == Follower.get(Follower.openid == "o_a").id
    row = Follower.get(Follower.openid == "o_a")
    assert row.subscribed and row.first_followed_at == NOW and row.followed_at == NOW and row.source_scene == "poster"

    later = NOW + timedelta(days=1)
    _, first = record_follow("o_a", later, "other")
    row = Follower.get(Follower.openid == "o_a")
    assert not first and row.first_followed_at == NOW and row.followed_at == later and row.source_scene == "poster"


def test_a_known_but_never_followed_row_is_a_first_follow(migrated: Config) -> None:
    _open(migrated)
    get_or_create_follower("o_b", NOW)  # e.g. a birthday set before following
    _, first = record_follow("o_b", NOW, None)
    assert first and Follower.get(Follower.openid == "o_b").subscribed


def test_concurrent_first_contacts_make_one_row_and_one_first_time(migrated: Config) -> None:
    _open(migrated)
    firsts: list[bool] = []
    start = threading.Barrier(8)

    def follow() -> None:
        start.wait()
        try:
            firsts.append(record_follow("o_c", NOW, None)[1])
        finally:
            database.close()

    threads = [threading.Thread(target=follow) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(firsts) == [False] * 7 + [True]
    assert Follower.select().where(Follower.openid == "o_c").count() == 1


def test_the_insert_builds_its_sql_once_per_database(migrated: Config) -> None:
    _open(migrated)
    fields = [Follower.openid, Follower.subscribed, Follower.created_at]
    insert = InsertIfNew(Follower, fields, unique=Follower.openid)
    assert insert.execute("o_d", False, NOW) is not None
    cached = insert._sql
    assert cached is not None and "DO NOTHING" in cached
    assert insert.execute("o_d", False, NOW) is None, "the row exists: nothing inserted"
    assert insert.execute("o_e", False, NOW) is not None and insert._sql is cached
    assert Follower.get(Follower.openid == "o_e").created_at == NOW

    defaulted = InsertIfNew(Follower, [Follower.openid, Follower.created_at], unique=Follower.openid)
    assert defaulted.execute("o_f", NOW) is not None and defaulted._sql is None, "peewee adds `subscribed`: no cache"
    assert not Follower.get(Follower.openid == "o_f").subscribed
