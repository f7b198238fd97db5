"""WeChat's side, emulated: the MP API, WeChat Pay v2 and express tracking, over one shared `World`.

Product code used by the demo, the tests and merchants. Nothing here can reach WeChat; the real clients
(wechatpy, unmodified) talk to these emulators over HTTP when pointed at their base URL.
"""

from bot.sandbox.world import Delivered, World

__all__ = ["Delivered", "World"]
