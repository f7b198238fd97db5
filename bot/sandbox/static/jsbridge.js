// WeixinJSBridge for the wxshop sandbox: what WeChat's in-app browser gives a pay page, emulated.
//
// A pay page calls WeixinJSBridge.invoke('getBrandWCPayRequest', params, callback) with the JSAPI parameters
// its server signed. Here a payment sheet shows the order (from the pay emulator) and, when the payer confirms,
// the parameters go to the pay emulator through the shop's same-origin proxy, /sandbox/api/pay/confirm; the
// callback receives WeChat's answer ({err_msg: 'get_brand_wcpay_request:ok' | ':cancel' | ':fail'}). The event
// WeixinJSBridgeReady fires once the bridge exists, as in WeChat. The chat preview injects this script into
// pages its in-page browser opens; a page may also include it itself (<script src="/sandbox/jsbridge.js">).
"use strict";
(() => {
  if (window.WeixinJSBridge) return;
  const CONFIRM_URL = "/sandbox/api/pay/confirm";
  const PREPAY_URL = "/sandbox/api/pay/prepay/";
  const OPENID_PARAM = "sandbox_openid";

  function browsingOpenid() {
    const fromQuery = new URLSearchParams(location.search).get(OPENID_PARAM);
    if (fromQuery) return fromQuery;
    const match = document.cookie.match(new RegExp("(?:^|;\\s*)" + OPENID_PARAM + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : null;
  }

  function styled(tag, style, text) {
    const node = document.createElement(tag);
    Object.assign(node.style, style);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function yuan(fen) {
    return typeof fen === "number" ? "¥" + (fen / 100).toFixed(2) : "";
  }

  // The payment sheet WeChat slides up: amount, what is bought, confirm or cancel.
  function paymentSheet(order, onConfirm, onCancel) {
    const overlay = styled("div", {
      position: "fixed", inset: "0", background: "rgba(0,0,0,.45)", zIndex: "2147483647",
      display: "flex", alignItems: "flex-end", fontFamily: "-apple-system, 'PingFang SC', 'Noto Sans CJK SC', sans-serif",
    });
    overlay.id = "wxshop-pay-sheet";
    const sheet = styled("div", {
      width: "100%", background: "#fff", borderRadius: "12px 12px 0 0", padding: "18px 20px 26px", textAlign: "center",
    });
    // Every property the page's own stylesheet might set on buttons is pinned, so the sheet looks the same anywhere.
    const close = styled("button", {
      display: "block", width: "auto", height: "auto", margin: "0", padding: "0 4px", border: "0",
      background: "transparent", color: "#191919", fontSize: "18px", lineHeight: "1", cursor: "pointer",
    }, "✕");
    close.setAttribute("aria-label", "取消支付");
    sheet.append(close, styled("div", { fontSize: "15px", margin: "-18px 0 16px" }, "微信支付（沙箱）"));
    sheet.append(styled("div", { color: "#666", fontSize: "14px" }, order.body || ""));
    sheet.append(styled("div", { fontSize: "34px", fontWeight: "600", margin: "6px 0 18px" }, yuan(order.total_fee)));
    const pay = styled("button", {
      display: "block", width: "100%", height: "auto", margin: "0", border: "0", borderRadius: "8px",
      background: "#07c160", color: "#fff", fontSize: "17px", lineHeight: "1.4", padding: "12px", cursor: "pointer",
    }, "确认支付");
    pay.id = "wxshop-pay-confirm";
    sheet.append(pay);
    overlay.append(sheet);
    let done = false;
    const finish = (handler) => () => {
      if (done) return;
      done = true;
      overlay.remove();
      handler();
    };
    pay.addEventListener("click", finish(onConfirm));
    close.addEventListener("click", finish(onCancel));
    document.body.append(overlay);
  }

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
    return response.json();
  }

  function payRequest(params, callback) {
    const answer = (result) => { if (typeof callback === "function") callback(result); };
    const fail = (why) => answer({ err_msg: "get_brand_wcpay_request:fail", err_desc: String(why) });
    const request = Object.assign({}, params || {});
    const openid = browsingOpenid();
    if (openid && !request.openid) request.openid = openid;
    const prepayId = String(request.package || "").replace(/^prepay_id=/, "") || request.prepay_id || "";
    fetch(PREPAY_URL + encodeURIComponent(prepayId))
      .then((response) => response.json().then((order) => ({ ok: response.ok, order })))
      .then(({ ok, order }) => {
        if (!ok) { fail(order.error || "unknown prepay_id"); return; }
        paymentSheet(
          order,
          () => postJson(CONFIRM_URL, request).then(answer, fail),
          () => answer({ err_msg: "get_brand_wcpay_request:cancel" }),
        );
      })
      .catch(fail);
  }

  const NO_OPS = new Set(["hideOptionMenu", "showOptionMenu", "hideToolbar", "showToolbar"]);

  const bridge = {
    invoke(name, params, callback) {
      if (name === "getBrandWCPayRequest") { payRequest(params, callback); return; }
      const answer = (result) => { if (typeof callback === "function") setTimeout(() => callback(result), 0); };
      if (name === "getNetworkType") answer({ err_msg: "network_type:wifi" });
      else if (NO_OPS.has(name)) answer({ err_msg: name + ":ok" });
      else answer({ err_msg: name + ":fail, the sandbox does not emulate it" });
    },
    call(name) {
      if (name === "closeWindow" && window.parent !== window) {
        window.parent.postMessage({ wxshop: "closeWindow" }, location.origin);
      }
    },
    on() {},
  };
  window.WeixinJSBridge = bridge;

  const ready = () => document.dispatchEvent(new Event("WeixinJSBridgeReady"));
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready, { once: true });
  else setTimeout(ready, 0);
})();
