// The H5 pay page: hands the server-signed JSAPI parameters to WeixinJSBridge's getBrandWCPayRequest, then
// waits for the server to confirm the payment (the bridge's "ok" is not proof: only WeChat Pay's notice is).
"use strict";
(() => {
  const root = document.getElementById("pay");
  if (!root) return;
  const button = document.getElementById("pay-button");
  const message = document.getElementById("message");
  const params = JSON.parse(root.dataset.params);
  const statusUrl = root.dataset.statusUrl;
  const say = (text) => { message.textContent = text; };

  function watch(triesLeft) {
    fetch(statusUrl, { cache: "no-store" })
      .then((response) => response.json())
      .then((state) => {
        if (state.paid) {
          say("支付成功，订单已确认。可以回到公众号聊天窗口了。");
          root.classList.add("paid");
        } else if (triesLeft > 0) {
          setTimeout(() => watch(triesLeft - 1), 1500);
        } else {
          say("支付结果确认中，稍后可在聊天里发送“我的订单”查看。");
        }
      })
      .catch(() => { if (triesLeft > 0) setTimeout(() => watch(triesLeft - 1), 1500); });
  }

  function invoke() {
    if (typeof window.WeixinJSBridge === "undefined") {
      say("请在微信中打开此页面完成支付。");
      return;
    }
    button.disabled = true;
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", params, (res) => {
      button.disabled = false;
      const result = (res && res.err_msg) || "";
      if (result === "get_brand_wcpay_request:ok") {
        button.hidden = true;
        say("支付完成，正在确认…");
        watch(20);
      } else if (result === "get_brand_wcpay_request:cancel") {
        say("已取消支付，可以再次点击“立即支付”。");
      } else {
        say("支付没有完成，请稍后再试。");
      }
    });
  }

  button.addEventListener("click", invoke);
  if (typeof window.WeixinJSBridge === "undefined") {
    document.addEventListener("WeixinJSBridgeReady", invoke, false);
  } else {
    invoke();
  }
})();
