"""Configuration: read once from TOML, overlaid with WXSHOP_<SECTION>__<KEY> env vars, validated into typed objects.

Nothing else in the project reads files or the environment for settings; `load()` returns a frozen `Config`
that is passed down. Any problem raises `ConfigError` with one line naming the key.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.process.redis_urls import SCHEME as SENTINEL_SCHEME
from bot.process.redis_urls import sentinel_target
from bot.web.forwarded import valid_networks
from store.after_sales.sla import parse_holidays
from store.orders.pricing import parse_stacking
from store.outbox.templates import TemplateConfigError, parse_templates
from store.promotions.configured_templates import ConfiguredTemplate, parse_configured_templates
from store.promotions.coupons import TemplateInvalid

ENV_PREFIX = "WXSHOP_"
DEFAULT_PATH = Path("config.toml")


class ConfigError(Exception):
    """A config value is missing, malformed or out of range; the message names the key."""


def _check(predicate: Callable[[Any], bool], expected: str) -> dict[str, Any]:
    return {"check": (predicate, expected)}


def _port(v: int) -> bool:
    return 0 <= v <= 65535


def _positive(v: int | float) -> bool:
    return v > 0


def _non_negative(v: int | float) -> bool:
    return v >= 0


def _fraction(v: float) -> bool:
    return 0 <= v <= 1


def _db_url(v: str) -> bool:
    return v == "" or re.match(r"^(sqlite|postgres|postgresql)(\+pool)?://", v) is not None


def _redis_url(v: str) -> bool:
    if v.startswith(SENTINEL_SCHEME):
        try:
            return sentinel_target(v) is not None
        except ValueError:
            return False
    return v == "" or re.match(r"^(redis|rediss|unix)://", v) is not None


def _http_url(v: str) -> bool:
    return re.match(r"^https?://[^\s/]+", v) is not None


def _aes_key(v: str) -> bool:
    return v == "" or re.fullmatch(r"[A-Za-z0-9]{43}", v) is not None


def _token(v: str) -> bool:
    return re.fullmatch(r"[A-Za-z0-9]{3,32}", v) is not None


def _stacking(v: tuple[str, ...]) -> bool:
    try:
        parse_stacking(v)
    except ValueError:
        return False
    return True


def _optional_url(v: str) -> bool:
    return v == "" or _http_url(v)


def _coupon_codes(v: tuple[str, ...]) -> bool:
    return all(re.fullmatch(r"[A-Za-z0-9_-]{1,32}", code) for code in v)


def _kf_account(v: str) -> bool:
    """WeChat's customer-service account: prefix@the account's WeChat id (KfAccount)."""
    return v == "" or re.fullmatch(r"[\w.\-]+@[\w.\-]+", v) is not None


def _clock_time(v: str) -> bool:
    return re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", v) is not None


def _path(v: str) -> bool:
    return v.startswith("/") and " " not in v


@dataclass(frozen=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = field(default=8080, metadata=_check(_port, "a port number 0..65535"))
    wechat_path: str = field(default="/wechat", metadata=_check(_path, "a path starting with /"))
    public_url: str = field(default="http://127.0.0.1:8080", metadata=_check(_http_url, "an http(s) URL"))
    reply_deadline_ms: int = field(default=4500, metadata=_check(lambda v: 100 <= v <= 4900, "100..4900"))
    max_body_bytes: int = field(default=1048576, metadata=_check(_positive, "a positive integer"))
    handler_threads: int = field(default=16, metadata=_check(lambda v: 1 <= v <= 256, "1..256"))
    workers: int = field(default=1, metadata=_check(lambda v: 1 <= v <= 64, "1..64"))
    shutdown_timeout_s: float = field(default=10.0, metadata=_check(_positive, "a positive number"))
    metrics_token: str = ""  # when set, /metrics needs `Authorization: Bearer …` or `?token=…`
    # /healthz answers 503 when the worker's last heartbeat is older than this (0 = not checked)
    worker_heartbeat_max_age_s: int = field(default=120, metadata=_check(lambda v: v >= 0, "0 or more seconds"))


@dataclass(frozen=True)
class WechatConfig:
    app_id: str = "wxd0000000000sandbox"
    app_secret: str = "sandbox-app-secret-0000000000000"
    token: str = field(default="wxshopdemo", metadata=_check(_token, "3..32 letters or digits"))
    encoding_aes_key: str = field(default="", metadata=_check(_aes_key, "43 letters or digits, or empty"))
    previous_encoding_aes_key: str = field(
        default="", metadata=_check(_aes_key, "43 letters or digits, or empty")
    )
    # With an EncodingAESKey: "safe" refuses plaintext requests (their signature does not cover the body),
    # "compatible" takes both while the console is switched over. Without a key every request is plaintext.
    mode: str = field(default="safe", metadata=_check(lambda v: v in ("safe", "compatible"), "safe or compatible"))
    # A signed callback is good this long either side of our clock, and its nonce is remembered for as long.
    timestamp_window_s: int = field(default=300, metadata=_check(lambda v: 1 <= v <= 3600, "1..3600"))
    original_id: str = "gh_wxshopdemo00"
    api_base_url: str = field(default="http://127.0.0.1:8081", metadata=_check(_http_url, "an http(s) URL"))
    # Web OAuth's authorize page; empty = open.weixin.qq.com for the real API, else api_base_url (the sandbox).
    oauth_base_url: str = field(default="", metadata=_check(_optional_url, "an http(s) URL, or empty"))
    timeout_s: float = field(default=5.0, metadata=_check(_positive, "a positive number"))


@dataclass(frozen=True)
class PayConfig:
    mch_id: str = "1900000109"
    api_key: str = field(
        default="sandboxpayapikey0000000000000000",
        metadata=_check(lambda v: len(v) == 32, "the 32-character API key"),
    )
    api_base_url: str = field(default="http://127.0.0.1:8081", metadata=_check(_http_url, "an http(s) URL"))
    cert_path: str = ""  # apiclient_cert.pem: WeChat Pay requires the merchant certificate for refunds
    key_path: str = ""  # apiclient_key.pem


@dataclass(frozen=True)
class DatabaseConfig:
    url: str = field(default="", metadata=_check(_db_url, "sqlite:///… or postgresql://…, or empty"))


@dataclass(frozen=True)
class RedisConfig:
    url: str = field(default="", metadata=_check(
        _redis_url, "redis://… or unix://…, redis+sentinel://host:port[,host:port…]/master[/db], or empty"
    ))
    prefix: str = "wxshop:"


@dataclass(frozen=True)
class AdminConfig:
    api_token: str = ""
    # The role a bearer-token call has (admin / operator / viewer); the audit log names it "api-token".
    api_token_role: str = field(default="admin", metadata=_check(lambda v: v in ("admin", "operator", "viewer"),
                                                                   "admin, operator or viewer"))  # fmt: skip
    # Console sessions end after this long without a request (each request starts the time again).
    session_ttl_minutes: int = field(default=480, metadata=_check(lambda v: 5 <= v <= 43200, "5..43200"))
    # Sign-in attempts that may fail per username, and per client address, within the window.
    login_max_failures: int = field(default=5, metadata=_check(_positive, "a positive integer"))
    login_max_failures_per_address: int = field(default=20, metadata=_check(_positive, "a positive integer"))
    login_window_minutes: int = field(default=15, metadata=_check(_positive, "a positive integer"))
    # Reverse proxies whose X-Forwarded-For names the client (addresses or CIDRs); empty = the peer is the client.
    trusted_proxies: tuple[str, ...] = field(default=(), metadata=_check(valid_networks, "addresses or CIDRs"))


@dataclass(frozen=True)
class LogisticsConfig:
    key: str = "sandbox-kuaidi-key"
    salt: str = "sandbox-salt"
    api_base_url: str = field(default="http://127.0.0.1:8081", metadata=_check(_http_url, "an http(s) URL"))
    customer: str = ""  # the real-time query's customer id (实时查询), for the polling fallback
    stall_hours: int = field(default=24, metadata=_check(_positive, "a positive integer"))
    not_collected_hours: int = field(default=72, metadata=_check(_positive, "a positive integer"))
    apology_coupon: str = ""  # coupon template code sent with an apology for a parcel in trouble; empty = none


def _dates(v: tuple[str, ...]) -> bool:
    try:
        parse_holidays(v)
    except ValueError:
        return False
    return all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", d) for d in v)


_METHODS = "points, coupon, refund or transfer"


def _method(v: str) -> bool:
    return v in ("points", "coupon", "refund", "transfer")


@dataclass(frozen=True)
class AfterSalesConfig:
    answer_hours: int = field(default=48, metadata=_check(_positive, "a positive integer"))
    exchange_hours: int = field(default=72, metadata=_check(_positive, "a positive integer"))
    dispute_working_days: int = field(default=3, metadata=_check(_positive, "a positive integer"))
    dispute_max_working_days: int = field(default=5, metadata=_check(_positive, "a positive integer"))
    holidays: tuple[str, ...] = field(default=(), metadata=_check(_dates, "dates like 2026-10-01"))
    eligible_days: int = field(default=30, metadata=_check(_positive, "a positive integer"))
    no_reason_return_days: int = field(default=7, metadata=_check(_non_negative, ">= 0"))  # 七天无理由; 0 = none
    # Compensation (补偿): an approved return's 运费险补贴, an approved complaint's 纠纷赔付, paid as points, a coupon,
    # a refund, or a transfer record (store.after_sales.compensation); one per ticket, at most compensation_max_fen.
    return_subsidy_fen: int = field(default=1000, metadata=_check(_non_negative, ">= 0"))
    return_subsidy_method: str = field(default="points", metadata=_check(_method, _METHODS))
    dispute_goodwill_fen: int = field(default=0, metadata=_check(_non_negative, ">= 0"))
    dispute_goodwill_method: str = field(default="refund", metadata=_check(_method, _METHODS))
    compensation_coupon: str = field(
        default="", metadata=_check(lambda v: v == "" or _coupon_codes((v,)), "a coupon template code, or empty")
    )
    compensation_max_fen: int = field(default=20000, metadata=_check(_positive, "a positive integer"))
    rating_days: int = field(default=7, metadata=_check(lambda v: 1 <= v <= 60, "1..60"))

    def __post_init__(self) -> None:
        for key in ("return_subsidy_method", "dispute_goodwill_method"):
            if getattr(self, key) == "coupon" and not self.compensation_coupon:
                raise ConfigError(f"config: [after_sales] {key}: coupon needs [after_sales] compensation_coupon")
        for key in ("return_subsidy_fen", "dispute_goodwill_fen"):
            if getattr(self, key) > self.compensation_max_fen:
                raise ConfigError(f"config: [after_sales] {key}: more than compensation_max_fen")


def _kf_account(v: str) -> bool:
    return v == "" or re.fullmatch(r"[\w.-]{1,30}@[\w.-]{1,64}", v) is not None


@dataclass(frozen=True)
class ShopConfig:
    name: str = "微选小店"
    operator_openids: tuple[str, ...] = ()
    unpaid_timeout_minutes: int = field(default=30, metadata=_check(_positive, "a positive integer"))
    dialog_ttl_minutes: int = field(default=30, metadata=_check(_positive, "a positive integer"))
    default_reply_interval_minutes: int = field(default=60, metadata=_check(_non_negative, ">= 0"))
    ship_within_hours: int = field(default=48, metadata=_check(_positive, "a positive integer"))
    gift_claim_hours: int = field(default=24, metadata=_check(_positive, "a positive integer"))
    gift_reminder_hours_before: int = field(default=4, metadata=_check(_positive, "a positive integer"))
    gift_coupons: tuple[str, ...] = field(
        default=("NEW20",), metadata=_check(_coupon_codes, "coupon template codes (letters, digits, _ -)")
    )
    full_reduction_threshold_fen: int = field(default=20000, metadata=_check(_non_negative, ">= 0"))
    full_reduction_fen: int = field(default=2000, metadata=_check(_non_negative, ">= 0"))
    vip_spend_fen: int = field(default=500000, metadata=_check(_positive, "a positive integer"))
    vip_discount: float = field(default=0.95, metadata=_check(_fraction, "0..1"))
    black_gold_annual_spend_fen: int = field(default=5000000, metadata=_check(_positive, "a positive integer"))
    black_gold_discount: float = field(default=0.88, metadata=_check(_fraction, "0..1"))
    vip_kf_account: str = field(default="", metadata=_check(_kf_account, '"" or an agent account such as vip01@shop'))
    black_gold_kf_account: str = field(
        default="", metadata=_check(_kf_account, '"" or an agent account such as vip01@shop')
    )
    tier_year: str = field(
        default="rolling", metadata=_check(lambda v: v in ("rolling", "calendar"), "rolling or calendar")
    )
    points_per_yuan: int = field(default=100, metadata=_check(_positive, "a positive integer"))
    points_max_share: float = field(default=0.5, metadata=_check(_fraction, "0..1"))
    points_earn_per_yuan: int = field(default=1, metadata=_check(_non_negative, ">= 0"))
    stacking: tuple[str, ...] = field(
        default=("满减+折扣",), metadata=_check(_stacking, "pairs such as 满减+折扣 of 满减, 折扣, 立减")
    )
    points_valid_days: int = field(default=365, metadata=_check(lambda v: 365 <= v <= 730, "365..730"))
    birthday_sweep_at: str = field(
        default="09:00", metadata=_check(lambda v: re.fullmatch(r"\d\d:\d\d", v) is not None, "HH:MM")
    )
    birthday_coupon: str = field(
        default="BDAY30", metadata=_check(lambda v: v == "" or _coupon_codes((v,)), "a coupon template code, or empty")
    )
    points_reminder_days_before: int = field(default=7, metadata=_check(lambda v: 1 <= v <= 60, "1..60"))
    template_daily_quota: int = field(default=100000, metadata=_check(_positive, "a positive integer"))
    cs_quota_after_message: int = field(default=5, metadata=_check(_non_negative, ">= 0"))
    cs_quota_after_click: int = field(default=3, metadata=_check(_non_negative, ">= 0"))
    template_quota_share_service: float = field(default=0.95, metadata=_check(_fraction, "0..1"))
    template_quota_share_member_care: float = field(default=0.9, metadata=_check(_fraction, "0..1"))
    outbox_rate_per_second: int = field(default=3000, metadata=_check(_positive, "a positive integer"))
    outbox_concurrency: int = field(default=200, metadata=_check(lambda v: 1 <= v <= 2000, "1..2000"))
    aov_band: float = field(default=0.15, metadata=_check(_fraction, "0..1"))
    cancellation_alert_rate: float = field(default=0.08, metadata=_check(_fraction, "0..1"))
    payment_success_alert_rate: float = field(default=0.9, metadata=_check(_fraction, "0..1"))
    payment_success_window_minutes: int = field(default=60, metadata=_check(lambda v: 5 <= v <= 1440, "5..1440"))
    payment_success_grace_minutes: int = field(default=10, metadata=_check(lambda v: 0 <= v <= 120, "0..120"))
    payment_success_min_orders: int = field(default=20, metadata=_check(_positive, "a positive integer"))
    complaint_alert_rate: float = field(default=0.02, metadata=_check(_fraction, "0..1"))
    complaint_min_orders: int = field(default=20, metadata=_check(_positive, "a positive integer"))
    metrics_check_at: str = field(default="00:45", metadata=_check(_clock_time, "HH:MM, 00:00..23:59"))
    search_lexicon: str = ""  # operator synonyms/hypernyms TOML merged on the shipped lexicon; relative to config

    def __post_init__(self) -> None:
        if self.payment_success_grace_minutes >= self.payment_success_window_minutes:
            raise ConfigError("config: [shop] payment_success_grace_minutes: expected less than "
                              f"payment_success_window_minutes ({self.payment_success_window_minutes})")  # fmt: skip

    @property
    def search_lexicon_file(self) -> Path | None:
        return Path(self.search_lexicon) if self.search_lexicon else None


@dataclass(frozen=True)
class MarketingConfig:
    """Growth tools: 拼团 defaults for offers that do not set their own size or window; campaigns' default
    attribution window; how many 到货/降价提醒 notices a follower gets a day."""

    group_size: int = field(default=3, metadata=_check(lambda v: 2 <= v <= 100, "2..100"))
    group_window_hours: int = field(default=48, metadata=_check(lambda v: 1 <= v <= 720, "1..720"))
    attribution_days: int = field(default=7, metadata=_check(lambda v: 1 <= v <= 90, "1..90"))
    bargain_helpers: int = field(default=5, metadata=_check(lambda v: 1 <= v <= 100, "1..100"))
    bargain_window_hours: int = field(default=24, metadata=_check(lambda v: 1 <= v <= 720, "1..720"))
    alerts_per_day: int = field(default=3, metadata=_check(lambda v: 1 <= v <= 50, "1..50"))


@dataclass(frozen=True)
class CommissionConfig:
    """分销: whether followers may become promoters, and from which member tier ("normal" = every member). The
    rate is each SKU's commission_rate; commissions are confirmed when [after_sales] eligible_days have passed."""

    enabled: bool = True
    min_tier: str = field(default="normal", metadata=_check(lambda v: v in ("normal", "vip", "black_gold"),
                                                            "normal, vip or black_gold"))  # fmt: skip


@dataclass(frozen=True)
class NluConfig:
    """The understanding layer: operators' examples file (TOML, `[[examples]] intent text`), and how sure the
    classifier must be to act rather than ask which of the two likeliest intents the shopper meant."""

    examples_file: str = ""
    min_confidence: float = field(default=0.55, metadata=_check(_fraction, "0..1"))
    min_margin: float = field(default=0.2, metadata=_check(_fraction, "0..1"))


def _edges(v: str) -> bool:
    return v == "" or re.fullmatch(r"\d+(,\d+){3}", v.replace(" ", "")) is not None


@dataclass(frozen=True)
class ProfilesConfig:
    """The nightly member profiles: RFM edges ("" = quintiles; else four ascending numbers), lifecycle rules, when
    it runs, how long behaviour events are kept."""

    nightly_at: str = field(default="04:10", metadata=_check(_clock_time, "HH:MM"))
    recency_days_edges: str = field(default="", metadata=_check(_edges, 'four numbers like "7,30,90,180"'))
    frequency_edges: str = field(default="", metadata=_check(_edges, 'four numbers like "1,2,4,8"'))
    monetary_fen_edges: str = field(
        default="", metadata=_check(_edges, 'four numbers like "10000,50000,100000,500000" (fen)')
    )
    mature_orders: int = field(default=3, metadata=_check(lambda v: v >= 2, "an integer >= 2"))
    lapse_days: int = field(default=60, metadata=_check(_positive, "a positive integer"))
    churn_days: int = field(default=180, metadata=_check(_positive, "a positive integer"))
    events_keep_days: int = field(default=90, metadata=_check(_positive, "a positive integer"))
    clusters: int = field(default=6, metadata=_check(lambda v: 2 <= v <= 20, "2..20"))
    cluster_seed: int = field(default=7, metadata=_check(lambda v: v >= 0, "a non-negative integer"))


@dataclass(frozen=True)
class TagsConfig:
    """WeChat user tags kept in step with segments and tiers, and the personalised menus per tag."""

    sync_at: str = field(default="04:40", metadata=_check(_clock_time, "HH:MM"))
    batch_size: int = field(default=50, metadata=_check(lambda v: 1 <= v <= 50, "1..50 (WeChat takes 50)"))
    batches_per_run: int = field(default=400, metadata=_check(_positive, "a positive integer"))
    tier_tags: bool = True
    segments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    wechat: WechatConfig = WechatConfig()
    pay: PayConfig = PayConfig()
    database: DatabaseConfig = DatabaseConfig()
    redis: RedisConfig = RedisConfig()
    admin: AdminConfig = AdminConfig()
    logistics: LogisticsConfig = LogisticsConfig()
    after_sales: AfterSalesConfig = AfterSalesConfig()
    shop: ShopConfig = ShopConfig()
    nlu: NluConfig = NluConfig()
    profiles: ProfilesConfig = ProfilesConfig()
    marketing: MarketingConfig = MarketingConfig()
    commission: CommissionConfig = CommissionConfig()
    tags: TagsConfig = TagsConfig()
    menu: tuple[Mapping[str, Any], ...] = ()
    tag_menus: Mapping[str, tuple[Mapping[str, Any], ...]] = field(default_factory=dict)  # [[menu.conditional]]
    templates: Mapping[str, Any] = field(default_factory=dict)
    coupons: tuple[ConfiguredTemplate, ...] = ()  # [[coupons]]: coupon templates created at start-up when missing
    var_dir: Path = Path("var")

    @property
    def aes_mode(self) -> bool:
        return bool(self.wechat.encoding_aes_key)


_FREEFORM = {"menu", "templates", "coupons"}


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Read `path` (or $WXSHOP_CONFIG, or ./config.toml when present), apply env overrides, validate."""
    env = os.environ if env is None else env
    explicit = path is not None or bool(env.get("WXSHOP_CONFIG"))
    chosen = Path(path) if path is not None else Path(env.get("WXSHOP_CONFIG") or DEFAULT_PATH)
    raw: dict[str, Any] = {}
    if chosen.exists():
        try:
            raw = tomllib.loads(chosen.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config: {chosen}: not valid TOML: {exc}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config: {chosen}: cannot read: {exc}") from None
    elif explicit:
        raise ConfigError(f"config: {chosen}: no such file")
    base = chosen.resolve().parent if chosen.exists() else Path.cwd()
    _apply_env(raw, env)
    return _build(raw, base)


def _apply_env(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    sections = {f.name for f in dataclasses.fields(Config)}
    for name, value in env.items():
        if name == f"{ENV_PREFIX}VAR_DIR":
            raw["var_dir"] = value
            continue
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in sections or section in _FREEFORM:
            raise ConfigError(f"config: {name}: no such section [{section}]")
        table = raw.setdefault(section, {})
        if not isinstance(table, dict):
            raise ConfigError(f"config: [{section}] must be a table")
        table[key] = _EnvValue(value, name)


@dataclass(frozen=True)
class _EnvValue:
    text: str
    origin: str


def _build(raw: dict[str, Any], base: Path) -> Config:
    known = {f.name: f for f in dataclasses.fields(Config) if f.name != "tag_menus"}
    for name in raw:
        if name not in known:
            raise ConfigError(f"config: [{name}]: unknown section (known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, _fld in known.items():
        if name not in raw:
            continue
        if name == "menu":
            values["menu"] = _menu(raw["menu"])
            values["tag_menus"] = _tag_menus(raw["menu"])
        elif name == "templates":
            if not isinstance(raw["templates"], dict):
                raise ConfigError("config: [templates] must be a table")
            try:
                parse_templates(raw["templates"])
            except TemplateConfigError as exc:
                raise ConfigError(f"config: {exc}") from None
            values["templates"] = raw["templates"]
        elif name == "coupons":
            values["coupons"] = _coupons(raw["coupons"])
        elif name == "var_dir":
            values["var_dir"] = Path(str(raw["var_dir"]))
        else:
            values[name] = _section(name, raw[name])
    config = Config(**values)
    var_dir = config.var_dir if config.var_dir.is_absolute() else base / config.var_dir
    lexicon = config.shop.search_lexicon
    if lexicon and not Path(lexicon).is_absolute():
        config = dataclasses.replace(config, shop=dataclasses.replace(config.shop, search_lexicon=str(base / lexicon)))
    return dataclasses.replace(config, var_dir=var_dir)


def _menu(value: Any) -> tuple[Mapping[str, Any], ...]:
    if not isinstance(value, dict) or not isinstance(value.get("button", []), list):
        raise ConfigError("config: [menu]: expected [[menu.button]] tables")
    return tuple(value.get("button", []))


def _tag_menus(value: dict[str, Any]) -> dict[str, tuple[Mapping[str, Any], ...]]:
    """`[[menu.conditional]]` tables: `tag` (a tag's name) and its `[[menu.conditional.button]]`."""
    menus: dict[str, tuple[Mapping[str, Any], ...]] = {}
    entries = value.get("conditional", [])
    if not isinstance(entries, list):
        raise ConfigError("config: [menu]: expected [[menu.conditional]] tables")
    for entry in entries:
        tag, buttons = (entry.get("tag"), entry.get("button")) if isinstance(entry, dict) else (None, None)
        if not isinstance(tag, str) or not tag.strip() or not isinstance(buttons, list):
            raise ConfigError("config: [[menu.conditional]]: expected tag = \"NAME\" and [[menu.conditional.button]]")
        if tag in menus:
            raise ConfigError(f"config: [[menu.conditional]]: tag {tag!r} has two menus")
        menus[tag] = tuple(buttons)
    return menus


def _coupons(value: Any) -> tuple[ConfiguredTemplate, ...]:
    if not isinstance(value, list):
        raise ConfigError("config: [[coupons]]: expected [[coupons]] tables")
    try:
        return parse_configured_templates(value)
    except TemplateInvalid as exc:
        raise ConfigError(f"config: [[coupons]]: {'; '.join(exc.problems)}") from None


def _section(name: str, table: Any) -> Any:
    cls = _SECTIONS[name]
    if not isinstance(table, dict):
        raise ConfigError(f"config: [{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = value.origin if isinstance(value, _EnvValue) else f"[{name}] {key}"
        if key not in fields:
            raise ConfigError(f"config: {where}: unknown key (known: {', '.join(fields)})")
        out[key] = _coerce(where, hints[key], value)
        check = fields[key].metadata.get("check")
        if check and not check[0](out[key]):
            raise ConfigError(f"config: {where}: expected {check[1]}, got {out[key]!r}")
    return cls(**out)


def _coerce(where: str, hint: Any, value: Any) -> Any:
    text = value.text if isinstance(value, _EnvValue) else None
    try:
        if hint is bool:
            if text is not None:
                if text.lower() in ("1", "true", "yes", "on"):
                    return True
                if text.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError
            if not isinstance(value, bool):
                raise ValueError
            return value
        if hint is int:
            if isinstance(value, bool):
                raise ValueError
            return int(text) if text is not None else _strict(value, int)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(text) if text is not None else float(_strict(value, (int, float)))
        if hint is str:
            return text if text is not None else _strict(value, str)
        if typing.get_origin(hint) is tuple:
            items = [s.strip() for s in text.split(",") if s.strip()] if text is not None else value
            if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
                raise ValueError
            return tuple(items)
        if isinstance(hint, types.UnionType):
            raise ValueError
    except (ValueError, TypeError):
        pass
    else:
        return value
    shown = text if text is not None else value
    raise ConfigError(f"config: {where}: expected {_type_name(hint)}, got {shown!r}")


def _strict(value: Any, kinds: type | tuple[type, ...]) -> Any:
    if not isinstance(value, kinds):
        raise TypeError
    return value


def _type_name(hint: Any) -> str:
    if typing.get_origin(hint) is tuple:
        return "a list of strings"
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(hint, str(hint))


_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "wechat": WechatConfig,
    "pay": PayConfig,
    "database": DatabaseConfig,
    "redis": RedisConfig,
    "admin": AdminConfig,
    "logistics": LogisticsConfig,
    "after_sales": AfterSalesConfig,
    "shop": ShopConfig,
    "nlu": NluConfig,
    "profiles": ProfilesConfig,
    "tags": TagsConfig,
    "marketing": MarketingConfig,
    "commission": CommissionConfig,
}
