"""`GET /k/{bargain_no}`: the 砍价 share page a starter's card links to — the product, the price reached, the floor,
how many friends have helped and how long is left, and how to help (follow the official account and reply
“帮砍 砍价号”). Every value rendered is escaped."""

from __future__ import annotations

from html import escape

from aiohttp import web

from bot.web.runtime import run_blocking
from dialogs.replies import yuan
from store.bargain.models import COMPLETE, OPEN
from store.bargain.operations import bargain_view
from store.catalog.products import Sku

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">
<title>{title}</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#222}}
.box{{background:#fff;padding:14px 16px;margin-bottom:8px}} h1{{font-size:18px;margin:0 0 8px}}
.price{{color:#e4393c;font-size:20px;font-weight:600}} .was{{color:#999;text-decoration:line-through}}
.bar{{height:8px;background:#fde2e2;border-radius:4px}} .bar i{{display:block;height:8px;background:#e4393c;
border-radius:4px}} .tip{{color:#888;font-size:13px}} code{{font-size:16px;background:#fff3f3;padding:2px 6px}}
</style></head><body>
<div class="box"><h1>{title}</h1><div class="price">现价 ¥{price} <span class="was">¥{start}</span></div>
<div class="tip">底价 ¥{floor}</div></div>
<div class="box" data-state="{status}">{state}<div class="bar"><i style="width:{percent}%"></i></div></div>
<div class="box tip">{how}</div>
</body></html>"""


def setup_bargain_pages(app: web.Application) -> None:
    app.router.add_get("/k/{bargain_no}", bargain_page)


def _load(bargain_no: str) -> dict[str, str] | None:
    found = bargain_view(bargain_no)
    if found is None:
        return None
    bargain, cuts = found
    sku = Sku.get_or_none(Sku.id == bargain.sku_id)
    return {"title": sku.product.title if sku is not None else "砍价商品", "status": bargain.status,
            "price": yuan(bargain.price_fen), "start": yuan(bargain.start_fen), "floor": yuan(bargain.floor_fen),
            "helped": str(len(cuts)), "left": str(bargain.helpers - bargain.cuts),
            "percent": str(100 * bargain.cuts // bargain.helpers),
            "until": f"{bargain.expires_at:%m月%d日 %H:%M}"}  # fmt: skip


async def bargain_page(request: web.Request) -> web.Response:
    bargain_no = request.match_info["bargain_no"]
    v = await run_blocking(request.app, _load, bargain_no)
    if v is None:
        return web.Response(status=404, text="砍价不存在", content_type="text/plain")
    if v["status"] == OPEN:
        state = f"已有{v['helped']}位好友帮砍，还差{v['left']}位砍到底价，{v['until']}截止"
        how = f"关注公众号后回复 <code>帮砍 {escape(bargain_no)}</code> 帮好友砍一刀（每人一次）"
    elif v["status"] == COMPLETE:
        state, how = f"{v['helped']}位好友已砍到底价！", "回复“砍价”也可以自己发起一个砍价"
    else:
        state, how = "这个砍价已结束", "回复“砍价”可以自己发起一个砍价"
    body = PAGE.format(title=escape(v["title"]), price=escape(v["price"]), start=escape(v["start"]),
                       floor=escape(v["floor"]), status=escape(v["status"]), state=escape(state),
                       percent=escape(v["percent"]), how=how)  # fmt: skip
    return web.Response(text=body, content_type="text/html")
