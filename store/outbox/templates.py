"""The `[templates]` config: for each notice kind, the account's template id and which template key shows which
notice field. Every account's templates differ (WeChat assigns ids and numbered keys per account), so the
mapping is configuration, checked whole at load time:

    [templates.paid]
    template_id = "ngqIpbwh8bUfcSsECmogfXcV14J0tQlEpBO27izEYtY"
    url = "https://shop.example.com/orders"      # optional: where tapping the message leads
    fields = { order_no = "character_string2", amount = "amount1", paid_at = "time3", goods = "thing4" }
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from store.outbox.kinds import KINDS
from store.outbox.template_lint import key_type

_TEMPLATE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
_URL = re.compile(r"^https?://\S+$")
# Which notice field types each template key type may show.
_ACCEPTS: dict[str, frozenset[str] | None] = {
    "thing": None,  # any text within the common rules
    "keyword": None,
    "const": None,
    "amount": frozenset({"amount"}),
    "time": frozenset({"time"}),
    "date": frozenset({"time"}),
    "character_string": frozenset({"character_string", "number", "letter"}),
    "number": frozenset({"number"}),
    "letter": frozenset({"letter"}),
    "phrase": frozenset({"phrase"}),
    "name": frozenset({"name"}),
    "phone_number": frozenset({"phone_number"}),
    "symbol": frozenset(),
    "car_number": frozenset(),
}


@dataclass(frozen=True)
class TemplateSpec:
    kind: str
    template_id: str
    fields: Mapping[str, str]  # notice field → template key
    url: str | None = None

    def data(self, values: Mapping[str, str]) -> dict[str, dict[str, str]]:
        """The template payload's `data` for a notice's field values."""
        return {key: {"value": values[name]} for name, key in self.fields.items()}


class TemplateConfigError(ValueError):
    """`[templates]` is malformed; the message names the table and key."""


def parse_templates(raw: Mapping[str, Any]) -> dict[str, TemplateSpec]:
    """Validate the `[templates]` table into one spec per notice kind."""
    specs: dict[str, TemplateSpec] = {}
    for kind_name, table in raw.items():
        where = f"[templates.{kind_name}]"
        kind = KINDS.get(kind_name)
        if kind is None:
            raise TemplateConfigError(f"{where}: unknown notice kind (known: {', '.join(sorted(KINDS))})")
        if not kind.service:
            raise TemplateConfigError(
                f"{where}: {kind_name} is not a service notice; template messages may not carry it"
            )
        if not isinstance(table, Mapping):
            raise TemplateConfigError(f"{where}: must be a table with template_id and fields")
        unknown = set(table) - {"template_id", "fields", "url"}
        if unknown:
            raise TemplateConfigError(f"{where}: unknown keys {sorted(unknown)} (known: template_id, fields, url)")
        template_id = table.get("template_id")
        if not isinstance(template_id, str) or not _TEMPLATE_ID.match(template_id):
            raise TemplateConfigError(
                f"{where} template_id: expected the template id from 我的模板, got {template_id!r}"
            )
        url = table.get("url") or None
        if url is not None and (not isinstance(url, str) or not _URL.match(url)):
            raise TemplateConfigError(f"{where} url: expected an http(s) URL, got {url!r}")
        specs[kind_name] = TemplateSpec(kind_name, template_id, _fields(where, kind.fields, table.get("fields")), url)
    return specs


def _fields(where: str, declared: Mapping[str, str], mapping: Any) -> dict[str, str]:
    if not isinstance(mapping, Mapping) or not mapping:
        raise TemplateConfigError(f"{where} fields: expected a table of notice field = template key")
    seen: dict[str, str] = {}
    for name, key in mapping.items():
        if name not in declared:
            raise TemplateConfigError(f"{where} fields.{name}: no such field (known: {', '.join(declared)})")
        if not isinstance(key, str):
            raise TemplateConfigError(f"{where} fields.{name}: expected a template key such as thing4")
        try:
            ktype = key_type(key)
        except ValueError as exc:
            raise TemplateConfigError(f"{where} fields.{name}: {exc}") from None
        accepts = _ACCEPTS[ktype]
        if accepts is not None and declared[name] not in accepts:
            raise TemplateConfigError(f"{where} fields.{name}: a {declared[name]} field cannot fill {key}")
        if key in seen:
            raise TemplateConfigError(f"{where} fields: {key} is given to both {seen[key]} and {name}")
        seen[key] = name
    return dict(mapping)
