"""Catalog admin API: products, SKUs and stock. Writes announce a catalog change so
every serve process rebuilds its search index.

- `GET /admin/api/products?category=服饰/女装&page=1&per_page=20`: products with price range and stock.
- `GET /admin/api/products/{code}`: one product with its SKUs.
- `POST /admin/api/products`: a catalog CSV (the import format, `Content-Type: text/csv`) → upsert by SKU,
  validated whole (422 with every row error, nothing written).
- `PUT /admin/api/skus/{code}/stock`: `{"stock": n, "stock_alert"?: m}` (a stocktake: absolute).
- `POST /admin/api/skus/{code}/restock`: `{"quantity": n}` (units added).
- `PUT /admin/api/products/{code}/early-access`: `{"tier": "vip" | "black_gold", "until": ISO time}` — 优先购权:
  until then only members of that tier or above may buy it (checkout and the pay page refuse others);
  `{"tier": null}` ends it.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.admin.api import error
from bot.admin.params import page_size
from bot.chat.conversation import catalog_channel
from bot.web.runtime import CONFIG, RESOURCES, run_blocking
from store.catalog.csv_format import CatalogFileError, read_catalog
from store.catalog.csv_import import import_rows
from store.catalog.inventory import restock, set_stock
from store.catalog.products import Product, Sku, category_by_path, price_range, set_early_access
from store.core.clock import SHANGHAI

MAX_CSV_BYTES = 20 * 1024 * 1024


def setup(app: web.Application, admin: web.Application) -> None:
    admin.router.add_get("/api/products", list_products)
    admin.router.add_post("/api/products", import_products)
    admin.router.add_get("/api/products/{code}", get_product)
    admin.router.add_put("/api/skus/{code}/stock", put_stock)
    admin.router.add_post("/api/skus/{code}/restock", post_restock)
    admin.router.add_put("/api/products/{code}/early-access", put_early_access)


def _sku_dict(sku: Sku) -> dict[str, Any]:
    return {
        "sku": sku.code, "spec": sku.spec, "price_fen": sku.price_fen, "stock": sku.stock,
        "stock_alert": sku.stock_alert, "virtual": sku.virtual, "on_sale": sku.on_sale,
        "commission_bp": sku.commission_bp,
    }  # fmt: skip


def _product_dict(product: Product, with_skus: bool = False) -> dict[str, Any]:
    prices = price_range(product)
    out: dict[str, Any] = {
        "spu": product.code,
        "title": product.title,
        "category": product.category.path,
        "on_sale": product.on_sale,
        "price_fen": list(prices) if prices else None,
        "tags": product.tag_list,
        "early_access": {"tier": product.early_access_tier, "until": product.early_access_until}
        if product.early_access_tier else None,
    }
    skus = list(Sku.select().where(Sku.product == product.id).order_by(Sku.id))
    out["stock"] = sum(s.stock for s in skus)
    if with_skus:
        out["description"], out["image"] = product.description, product.image
        out["skus"] = [_sku_dict(s) for s in skus]
    return out


def _list(category: str, page: int, per_page: int) -> dict[str, Any] | None:
    query = Product.select().order_by(Product.id)
    if category:
        found = category_by_path(category)
        if found is None:
            return None
        from store.catalog.products import Category

        query = query.join(Category).where((Category.path == found.path) | Category.path.startswith(found.path + "/"))
    total = query.count()
    items = [_product_dict(p) for p in query.paginate(page, per_page)]
    return {"total": total, "page": page, "per_page": per_page, "products": items}


async def list_products(request: web.Request) -> web.Response:
    page = page_size(request.query, "page", 1, 10**6)
    per_page = page_size(request.query, "per_page", 20, 100)
    result = await run_blocking(request.config_dict, _list, request.query.get("category", ""), page, per_page)
    if result is None:
        return error(404, "no such category")
    return web.json_response(result, dumps=_dumps)


async def get_product(request: web.Request) -> web.Response:
    def load() -> dict[str, Any] | None:
        product = Product.get_or_none(Product.code == request.match_info["code"])
        return _product_dict(product, with_skus=True) if product else None

    result = await run_blocking(request.config_dict, load)
    return web.json_response(result, dumps=_dumps) if result else error(404, "no such product")


async def import_products(request: web.Request) -> web.Response:
    if request.content_length is not None and request.content_length > MAX_CSV_BYTES:
        return error(413, "catalog CSV too large")
    try:
        text = (await request.read()).decode("utf-8-sig")
    except UnicodeDecodeError:
        return error(400, "the CSV must be UTF-8")
    try:
        rows = read_catalog(io.StringIO(text))
    except CatalogFileError as exc:
        return error(422, "the catalog has problems; nothing was written", problems=[str(e) for e in exc.errors])
    app = request.config_dict
    marketing = app[CONFIG].marketing
    report = await run_blocking(app, import_rows, rows, None, (marketing.group_size, marketing.group_window_hours),
                                app[RESOURCES].clock.now())  # fmt: skip
    await _announce(request.config_dict)
    return web.json_response({"summary": report.summary()}, dumps=_dumps)


async def _body(request: web.Request) -> dict[str, Any] | web.Response:
    try:
        body = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return error(400, "body is not JSON")
    return body if isinstance(body, dict) else error(400, "body must be a JSON object")


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


async def put_stock(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    stock, alert = body.get("stock"), body.get("stock_alert")
    if not _whole(stock) or (alert is not None and not _whole(alert)):
        return error(400, "stock (and stock_alert) must be whole numbers >= 0")
    return await _on_sku(request, lambda sku: set_stock(sku.id, stock, alert))


async def post_restock(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    quantity = body.get("quantity")
    if not _whole(quantity) or quantity == 0:
        return error(400, "quantity must be a whole number > 0")
    return await _on_sku(request, lambda sku: restock(sku.id, quantity))


async def put_early_access(request: web.Request) -> web.Response:
    body = await _body(request)
    if isinstance(body, web.Response):
        return body
    tier, until = body.get("tier"), None
    if tier is not None:
        if tier not in ("vip", "black_gold"):
            return error(422, "tier: expected vip or black_gold (or null to end early access)")
        try:
            until = datetime.fromisoformat(str(body.get("until")))
        except ValueError:
            return error(422, "until: expected an ISO time such as 2026-12-12T10:00")
        until = until if until.tzinfo else until.replace(tzinfo=SHANGHAI)

    def apply() -> dict[str, Any] | None:
        product = Product.get_or_none(Product.code == request.match_info["code"])
        if product is None:
            return None
        set_early_access(product.id, tier, until)
        return _product_dict(Product.get_by_id(product.id))

    result = await run_blocking(request.config_dict, apply)
    if result is None:
        return error(404, "no such product")
    await _announce(request.config_dict)
    return web.json_response(result, dumps=_dumps)


async def _on_sku(request: web.Request, change: Any) -> web.Response:
    def apply() -> dict[str, Any] | None:
        sku = Sku.get_or_none(Sku.code == request.match_info["code"])
        if sku is None:
            return None
        change(sku)
        return _sku_dict(Sku.get_by_id(sku.id))

    result = await run_blocking(request.config_dict, apply)
    if result is None:
        return error(404, "no such SKU")
    await _announce(request.config_dict)
    return web.json_response(result, dumps=_dumps)


async def _announce(app: web.Application) -> None:
    await app[RESOURCES].aredis.publish(catalog_channel(app[CONFIG].redis.prefix), "admin")


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
