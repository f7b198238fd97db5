"""Schema versions: an ordered list of idempotent steps, applied by `wxshop db upgrade`, checked at start-up.

Each step only creates what is missing (tables with `safe=True`, columns through `add_column_if_missing`), so a
fresh database built from today's models and an old one upgraded step by step end in the same shape, and running
the upgrade twice, or from two processes at once, is harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import peewee
from playhouse.migrate import SchemaMigrator, migrate

from store.after_sales.compensation import Compensation
from store.after_sales.tickets import Ticket
from store.bargain.models import Bargain, BargainCut, BargainOffer
from store.catalog.inventory import StockAlert
from store.catalog.products import Category, Product, Sku
from store.catalog.watches import ProductWatch
from store.chat.keywords import KeywordRule, RulesVersion, StandingReply
from store.chat.nlu import NluExample, NluVersion, UnansweredUtterance
from store.commission.models import Commission, Promoter
from store.core.db import BaseModel, ShanghaiDateTimeField, database, is_sqlite, write_transaction
from store.group_buy.models import Group, GroupMember, GroupOffer
from store.logistics.shipments import Shipment
from store.members.accounts import Member, PointsEntry, SpendEntry
from store.members.birthdays import BirthdayGift
from store.members.followers import Follower
from store.members.points_expiry import SweepMark
from store.members.qrcodes import QrCode
from store.monitoring.funnel import FunnelEvent
from store.monitoring.heartbeat import Heartbeat
from store.monitoring.watch import FigureReading, MetricAlert
from store.operators.audit import AuditEntry
from store.operators.users import AdminUser
from store.orders.addresses import Address
from store.orders.checkout import Order, OrderLine
from store.orders.payments import Payment, Refund
from store.outbox.notices import DROPPED, FAILED, IN_DOUBT, Notice, TemplateReceipt
from store.outbox.payment_windows import PaymentWindow
from store.profiles.models import CAMPAIGN_MODELS, CLUSTER_MODELS, Campaign, MemberProfile
from store.profiles.models import MODELS as PROFILE_MODELS
from store.promotions.coupons import Coupon, CouponTemplate
from store.promotions.gifts import GiftGrant
from store.promotions.keyword_coupons import KeywordCouponGrant
from store.tags.models import TAG_MODELS


class SchemaVersion(BaseModel):
    version = peewee.IntegerField(primary_key=True)
    description = peewee.CharField(max_length=200)
    applied_at = ShanghaiDateTimeField(null=True)


class SchemaOutOfDate(Exception):
    """The database is behind the code; the message says what to run."""


@dataclass(frozen=True)
class Step:
    version: int
    description: str
    apply: Callable[[], None]


def _create(*models: type[BaseModel]) -> Callable[[], None]:
    def run() -> None:
        database.create_tables(models, safe=True)

    return run


def add_column_if_missing(model: type[BaseModel], name: str) -> None:
    """Add `model.name` to its table when an older database lacks it."""
    table = model._meta.table_name
    existing = {c.name for c in database.get_columns(table)}
    field = model._meta.fields[name]
    if field.column_name not in existing:
        migrate(SchemaMigrator.from_database(database.obj).add_column(table, field.column_name, field))


def _keywords_and_birthdays() -> None:
    database.create_tables([KeywordRule, StandingReply, RulesVersion], safe=True)
    add_column_if_missing(Follower, "birthday")
    add_column_if_missing(Follower, "birthday_set_at")


def _members_side() -> None:
    database.create_tables([GiftGrant, BirthdayGift, QrCode, SweepMark], safe=True)
    for model in (Follower, PointsEntry):  # indexes the sweeps need: birthday, source_scene, expires_at
        model._schema.create_indexes(safe=True)


def _metrics_indexes() -> None:
    Order._schema.create_indexes(safe=True)  # paid_at and created_at, for the shop metrics


def _drop_member_events() -> None:
    database.execute_sql('DROP TABLE IF EXISTS "member_event"')


def _checkout_intent() -> None:
    """The checkout intent was called "cart": operators' examples and the inbox's taught intents follow it."""
    NluExample.update(intent="checkout").where(NluExample.intent == "cart").execute()
    UnansweredUtterance.update(taught_intent="checkout").where(UnansweredUtterance.taught_intent == "cart").execute()


def _nlu() -> None:
    database.create_tables([NluExample, NluVersion, UnansweredUtterance], safe=True)
    add_column_if_missing(KeywordRule, "overrides")


def _windows_and_doubt() -> None:
    database.create_tables([PaymentWindow], safe=True)
    (  # in-doubt notices were failed or dropped with a reason saying so
        Notice.update(status=IN_DOUBT)
        .where(Notice.status.in_([FAILED, DROPPED]), Notice.reason.startswith("in_doubt:"))
        .execute()
    )


_profiles = _create(*PROFILE_MODELS)


def _after_sales_care() -> None:
    database.create_tables([Compensation], safe=True)
    for name in ("handled_by", "rating_asked_at", "rating", "rated_at"):
        add_column_if_missing(Ticket, name)
    add_column_if_missing(Shipment, "source_order_no")


def _campaigns_and_early_access() -> None:
    database.create_tables(CAMPAIGN_MODELS, safe=True)
    for column in ("channel", "coupon", "url", "per_minute", "attribution_days", "starts_at", "cancelled_at"):
        add_column_if_missing(Campaign, column)
    for column in ("early_access_tier", "early_access_until"):
        add_column_if_missing(Product, column)


def _perks() -> None:
    database.create_tables([ProductWatch, KeywordCouponGrant], safe=True)
    add_column_if_missing(CouponTemplate, "stock")


def _operator_roles_and_audit() -> None:
    for column in ("role", "must_change_password", "password_changed_at"):
        add_column_if_missing(AdminUser, column)
    database.create_tables([AuditEntry], safe=True)


def _profiles_clusters() -> None:
    """The spend ledger's (openid, at) index becomes (openid, at, amount_fen); profiles count behaviour events
    (B score); the night's clusters."""
    SpendEntry._schema.create_indexes(safe=True)
    database.execute_sql('DROP INDEX IF EXISTS "spend_entry_openid_at"')
    database.create_tables(CLUSTER_MODELS, safe=True)
    for column in ("events", "b_score"):
        add_column_if_missing(MemberProfile, column)


STEPS: list[Step] = [
    Step(1, "followers and worker heartbeats", _create(Follower, Heartbeat)),
    Step(2, "catalog, inventory and stock alerts", _create(Category, Product, Sku, StockAlert)),
    Step(3, "keyword rules, standing replies and follower birthdays", _keywords_and_birthdays),
    Step(4, "funnel events", _create(FunnelEvent)),
    Step(
        5,
        "orders, payments, refunds, addresses, coupons and members",
        _create(
            Order, OrderLine, Payment, Refund, Address, CouponTemplate, Coupon, Member, SpendEntry, PointsEntry,
        ),
    ),
    Step(6, "outbox: notices and early template receipts", _create(Notice, TemplateReceipt)),
    Step(7, "shipments with their traces, and after-sales tickets", _create(Shipment, Ticket)),
    Step(8, "members: gift ledger, birthday gifts, QR codes, sweep marks; sweep indexes", _members_side),
    Step(9, "admin console users", _create(AdminUser)),
    Step(10, "orders: paid_at and created_at indexes for the shop metrics", _metrics_indexes),
    Step(11, "understanding: operators' examples, the unanswered inbox; rules that override built-ins", _nlu),
    Step(12, "drop member_event: rows nothing read", _drop_member_events),
    Step(13, "understanding: the intent \"cart\" is now \"checkout\"", _checkout_intent),
    Step(14, "outbox: payments' customer-service windows in the database; in-doubt notices", _windows_and_doubt),
    Step(15, "profiles: member profiles (RFM, lifecycle), behaviour events, segments, campaigns", _profiles),
    Step(16, "拼团: group offers, groups and their members", _create(GroupOffer, Group, GroupMember)),
    Step(17, "到货提醒 / 降价提醒 watches; keyword coupon grants; coupon template stock", _perks),
    Step(18, "砍价: bargain offers, bargains and friends' cuts", _create(BargainOffer, Bargain, BargainCut)),
    Step(19, "分销: promoters and their commissions", _create(Promoter, Commission)),
    Step(20, "WeChat user tags for segments and tiers, who carries them, menus per tag", _create(*TAG_MODELS)),
    Step(21, "profiles: ledger index covering amount_fen, behaviour (B) score, clusters", _profiles_clusters),
    Step(
        22, "campaigns: channel, coupon, link, throttle, schedule, cancel; 退订; link clicks; 优先购 on products",
        _campaigns_and_early_access,
    ),
    Step(23, "console: operators' roles and forced password changes; the audit log", _operator_roles_and_audit),
    Step(25, "monitoring: the figures' last readings and their alerts", _create(FigureReading, MetricAlert)),
    Step(26, "after-sales: compensations, who decided, ratings; reshipments' source order", _after_sales_care),
]

LATEST = STEPS[-1].version


def current_version() -> int:
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    return SchemaVersion.select(peewee.fn.MAX(SchemaVersion.version)).scalar() or 0


def upgrade(now: datetime | None = None) -> list[Step]:
    """Apply every missing step in order, all in one transaction under the schema lock (nothing half-applied,
    and a second process upgrading at the same moment waits, then finds nothing to do); the steps applied."""
    with _schema_lock():
        return _apply_missing(now)


def prepare(now: datetime | None = None) -> None:
    """At start-up: create the schema in an empty database (nothing to lose), else insist it is current.

    The emptiness check and the creation run under the lock `upgrade` takes, so a serve and a worker starting
    together on an empty database do not see each other's half-made schema: the second waits, then finds it
    current."""
    with _schema_lock():
        if not database.get_tables():
            _apply_missing(now)
    check_current()


@contextmanager
def _schema_lock() -> Iterator[None]:
    """One schema changer at a time: SQLite's write lock taken up front, PostgreSQL's advisory lock."""
    with write_transaction():
        if not is_sqlite():
            database.execute_sql("SELECT pg_advisory_xact_lock(7242001)")
        yield


def _apply_missing(now: datetime | None) -> list[Step]:
    database.create_tables([SchemaVersion], safe=True)
    done = {v for (v,) in SchemaVersion.select(SchemaVersion.version).tuples()}
    applied: list[Step] = []
    for step in STEPS:
        if step.version in done:
            continue
        step.apply()
        SchemaVersion.create(version=step.version, description=step.description, applied_at=now)
        applied.append(step)
    return applied


def missing_steps() -> list[Step]:
    """The code's steps this database has not applied (steps from branches merged out of order included)."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return list(STEPS)
    applied = {v for (v,) in SchemaVersion.select(SchemaVersion.version).tuples()}
    return [step for step in STEPS if step.version not in applied]


def check_current() -> None:
    """Refuse to run on a database the code does not match, saying exactly what to do."""
    version = current_version()
    if version > LATEST:
        raise SchemaOutOfDate(
            f"database schema is at version {version}, newer than this code ({LATEST}): upgrade wxshop"
        )
    missing = missing_steps()
    if missing:
        names = ", ".join(str(step.version) for step in missing)
        raise SchemaOutOfDate(
            f"database schema is at version {version} without step(s) {names} this code needs: run `wxshop db upgrade`"
        )
