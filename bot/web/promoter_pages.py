"""`GET /promo/{scene}`: a promoter's code page, the card "我的推广码" links to — their permanent referral QR code
(WeChat's ticket, fetched on the first visit) for friends to scan and follow. 404 for a scene that is no
promoter's; 502 with a Chinese sentence when WeChat refuses the code."""

from __future__ import annotations

from html import escape

import requests
from aiohttp import web
from wechatpy.exceptions import WeChatClientException

from bot.web.runtime import CONFIG, run_blocking
from bot.wechat.gateway import WECHAT
from store.commission.promoters import ensure_ticket
from store.core.wechat_errors import WeChatError
from store.members.qrcodes import image_url

PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1, maximum-scale=1">
<title>{shop} · 推广码</title>
<style>
body{{margin:0;font-family:-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;background:#f5f5f5;color:#222;
text-align:center}} .box{{background:#fff;padding:18px 16px;margin:12px}} h1{{font-size:18px;margin:0 0 10px}}
img{{width:240px;height:240px}} .tip{{color:#888;font-size:13px}}
</style></head><body>
<div class="box"><h1>扫码关注{shop}</h1><img src="{image}" alt="推广二维码" data-ticket="{ticket}">
<p class="tip">长按识别二维码关注，好友下单后您将获得佣金</p></div>
</body></html>"""


def setup_promoter_pages(app: web.Application) -> None:
    app.router.add_get("/promo/{scene}", promoter_page)


async def promoter_page(request: web.Request) -> web.Response:
    scene = request.match_info["scene"]
    try:
        code = await run_blocking(request.app, ensure_ticket, scene, request.app[WECHAT].create_qrcode)
    except (WeChatError, WeChatClientException, requests.RequestException):
        return web.Response(status=502, text="推广码暂时生成失败，请稍后再试", content_type="text/plain")
    if code is None:
        return web.Response(status=404, text="推广码不存在", content_type="text/plain")
    html = PAGE.format(shop=escape(request.app[CONFIG].shop.name), image=escape(image_url(code.ticket)),
                       ticket=escape(code.ticket))  # fmt: skip
    return web.Response(text=html, content_type="text/html")
