"""`GET /p/{code}`: the H5 product page a product card links to (opened in WeChat's browser). Records a click for
the funnel; every value rendered is escaped."""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.web.runtime import RESOURCES, run_blocking
from dialogs.replies import yuan
from store.catalog.products import ProductView, product_with_skus
from store.monitoring import funnel

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#222}}
img.hero{{width:100%;max-height:60vw;object-fit:cover;background:#ddd;display:block}}
.box{{background:#fff;padding:14px 16px;margin-bottom:8px}}
h1{{font-size:18px;margin:0 0 8px}} .price{{color:#e4393c;font-size:20px;font-weight:600}}
.desc{{color:#555;font-size:14px;line-height:1.6}} table{{width:100%;border-collapse:collapse;font-size:14px}}
td{{padding:8px 0;border-bottom:1px solid #eee}} td.r{{text-align:right;color:#888}}
.tip{{color:#888;font-size:13px;text-align:center;padding:16px}}
</style></head><body>
<img class="hero" src="{image}" alt="">
<div class="box"><h1>{title}</h1><div class="price">{price}</div></div>
<div class="box desc">{description}</div>
<div class="box"><table>{rows}</table></div>
<div class="tip">返回公众号，回复规格（如“{example}”）即可下单</div>
</body></html>"""


def setup_product_pages(app: web.Application) -> None:
    app.router.add_get("/p/{code}", product_page)


def _load(code: str) -> ProductView | None:
    return product_with_skus(code)


async def product_page(request: web.Request) -> web.Response:
    app = request.app
    view = await run_blocking(app, _load, request.match_info["code"])
    if view is None:
        return web.Response(status=404, text="商品不存在或已下架", content_type="text/plain")
    await run_blocking(app, funnel.record, funnel.CLICK, view.product.id, app[RESOURCES].clock.now())
    prices = view.price_range
    if prices is None:
        price = "暂无在售规格"
    else:
        price = f"¥{yuan(prices[0])}" + (f" - ¥{yuan(prices[1])}" if prices[1] != prices[0] else "")
    rows = []
    for sku in view.skus:
        spec = " ".join(part.split(":", 1)[-1] for part in sku.spec.split(";") if part) or "默认"
        state = "已售罄" if sku.stock <= 0 else f"库存 {sku.stock}"
        if sku.virtual:
            state += " · 无需物流"
        rows.append(f"<tr><td>{escape(spec)}</td><td>¥{yuan(sku.price_fen)}</td><td class=r>{escape(state)}</td></tr>")
    first = next((s for s in view.skus if s.stock > 0), view.skus[0] if view.skus else None)
    example = " ".join(part.split(":", 1)[-1] for part in first.spec.split(";") if part) if first else ""
    body = PAGE.format(
        title=escape(view.product.title),
        image=escape(view.product.image, quote=True),
        price=escape(price),
        description=escape(view.product.description),
        rows="".join(rows),
        example=escape(example or "默认"),
    )
    return web.Response(text=body, content_type="text/html")
