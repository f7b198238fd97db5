"""`GET /g/{group_no}`: the 拼团 share page a leader's card links to — the product, the group price, who is in and
how long is left, and how to join (reply “参团 团号” in the official account, or scan its code). Every value
rendered is escaped."""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.web.runtime import run_blocking
from dialogs.replies import yuan
from store.catalog.products import Sku
from store.group_buy.models import FULL, OPEN
from store.group_buy.operations import group_view

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#222}}
.box{{background:#fff;padding:14px 16px;margin-bottom:8px}} h1{{font-size:18px;margin:0 0 8px}}
.price{{color:#e4393c;font-size:20px;font-weight:600}} .state{{font-size:15px}} .tip{{color:#888;font-size:13px}}
code{{font-size:16px;background:#fff3f3;padding:2px 6px}}
</style></head><body>
<div class="box"><h1>{title}</h1><div class="price">{size}人团 ¥{price}</div></div>
<div class="box state" data-state="{status}">{state}</div>
<div class="box tip">{how}</div>
</body></html>"""


def setup_group_pages(app: web.Application) -> None:
    app.router.add_get("/g/{group_no}", group_page)


def _load(group_no: str) -> tuple[str, dict[str, str]] | None:
    found = group_view(group_no)
    if found is None:
        return None
    group, members = found
    sku = Sku.get_or_none(Sku.id == group.sku_id)
    title = sku.product.title if sku is not None else "拼团商品"
    return group.status, {"title": title, "size": str(group.size), "price": yuan(group.price_fen),
                          "paid": str(len(members)), "left": str(group.size - len(members)),
                          "until": f"{group.expires_at:%m月%d日 %H:%M}" if group.expires_at else ""}  # fmt: skip


async def group_page(request: web.Request) -> web.Response:
    group_no = request.match_info["group_no"]
    loaded = await run_blocking(request.app, _load, group_no)
    if loaded is None:
        return web.Response(status=404, text="拼团不存在", content_type="text/plain")
    status, v = loaded
    if status == OPEN:
        state = f"已有{v['paid']}人参团，还差{v['left']}人，{v['until']}截止"
        how = f"关注公众号后回复 <code>参团 {escape(group_no)}</code> 即可按拼团价参团"
    elif status == FULL:
        state, how = "拼团成功，已满员", "回复“开团”也可以自己发起一个新团"
    else:
        state, how = "这个团已结束", "回复“开团”可以自己发起一个新团"
    body = PAGE.format(title=escape(v["title"]), size=escape(v["size"]), price=escape(v["price"]),
                       status=escape(status), state=escape(state), how=how)  # fmt: skip
    return web.Response(text=body, content_type="text/html")
