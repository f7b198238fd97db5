// The chat preview page: pick a follower, chat with the account, tap its menu, open its links, watch notices
// arrive live. Every piece of text comes from the server as data and is rendered with textContent: replies and
// deliveries are written by the merchant, the bot and anyone who types, never trusted as HTML.
"use strict";
(() => {
  const STORE_KEY = "wxshop.sandbox.openid";
  const $ = (selector) => document.querySelector(selector);
  const ui = {
    select: $("#follower-select"), chat: $("#chat"), empty: $("#empty-hint"), menu: $("#menu"),
    menuBar: $("#menu-bar"), inputBar: $("#input-bar"), followBar: $("#follow-bar"), message: $("#message"),
    submenu: $("#submenu"), browser: $("#browser"), frame: $("#browser-frame"), toast: $("#toast"),
  };
  const state = {
    shop: { name: "公众号", mode: "plain" }, menu: [], followers: [], oauthParam: "sandbox_openid",
    openid: null, follower: null, rendered: new Set(), lastId: 0, source: null, typing: false, browserUrl: "",
  };

  // -- helpers ------------------------------------------------------------------------------------------
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function api(method, path, body) {
    const options = { method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch("/sandbox/api/" + path, options);
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) throw new Error((data && (data.error || data.err_desc)) || "HTTP " + response.status);
    return data;
  }

  let toastTimer = null;
  function toast(message) {
    ui.toast.textContent = message;
    ui.toast.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { ui.toast.hidden = true; }, 2600);
  }

  function safeUrl(raw) {
    try {
      const url = new URL(String(raw).replace(/&amp;/g, "&"), location.href);
      return url.protocol === "http:" || url.protocol === "https:" ? url : null;
    } catch (_) {
      return null;
    }
  }

  function hhmm(iso) {
    const d = new Date(iso);  // business time is Asia/Shanghai, wherever the browser is
    return Number.isNaN(d.getTime()) ? ""
      : d.toLocaleTimeString("zh-CN", { timeZone: "Asia/Shanghai", hour: "2-digit", minute: "2-digit", hour12: false });
  }

  function decodeEntities(text) {
    return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, "\"").replace(/&#39;/g, "'")
      .replace(/&amp;/g, "&");
  }

  // -- rich text: WeChat shows <a href> anchors in text replies as links, and links bare URLs ------------
  const ANCHOR = /<a\s+[^>]*?href\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>/gi;
  const BARE_URL = /https?:\/\/[^\s<>"'，。！？、）)]+/g;

  function appendLink(parent, href, label) {
    const url = safeUrl(href);
    if (!url) { parent.append(document.createTextNode(label)); return; }
    const a = el("a", "link", label);
    a.href = url.href;
    a.addEventListener("click", (event) => { event.preventDefault(); openBrowser(url.href); });
    parent.append(a);
  }

  function appendPlain(parent, text) {
    let last = 0;
    for (const match of text.matchAll(BARE_URL)) {
      parent.append(document.createTextNode(text.slice(last, match.index)));
      appendLink(parent, match[0], match[0]);
      last = match.index + match[0].length;
    }
    parent.append(document.createTextNode(text.slice(last)));
  }

  function richText(parent, text) {
    let last = 0;
    for (const match of text.matchAll(ANCHOR)) {
      appendPlain(parent, text.slice(last, match.index));
      appendLink(parent, decodeEntities(match[2]), decodeEntities(match[3].replace(/<[^>]*>/g, "")));
      last = match.index + match[0].length;
    }
    appendPlain(parent, text.slice(last));
  }

  function picture(src, className) {
    const url = src ? safeUrl(src) : null;
    const img = el("img", className);
    img.alt = "";
    img.loading = "lazy";
    if (url) img.src = url.href;
    img.addEventListener("error", () => img.removeAttribute("src"));
    return img;
  }

  // -- rendering entries ---------------------------------------------------------------------------------
  const CHANNEL_LABELS = { custom: "客服消息", template: "模板消息" };

  function avatar(mine) {
    return el("div", "avatar", mine ? "我" : (state.shop.name || "号").slice(0, 1));
  }

  function bubbleRow(entry, content) {
    const mine = entry.from === "follower";
    const row = el("div", "msg" + (mine ? " mine" : ""));
    const col = el("div", "bubble-col");
    col.append(content);
    if (CHANNEL_LABELS[entry.channel]) col.append(el("div", "channel", CHANNEL_LABELS[entry.channel]));
    row.append(avatar(mine), col);
    return row;
  }

  function textBubble(entry) {
    const bubble = el("div", "bubble");
    if (entry.kind === "location") bubble.textContent = "📍 " + (entry.text || "位置");
    else richText(bubble, entry.text || "");
    return bubble;
  }

  function newsCard(entry) {
    const articles = entry.articles || [];
    const card = el("div", "news");
    if (articles.length === 1) {
      const a = articles[0];
      card.classList.add("news-single");
      const body = el("div", "news-body");
      body.append(el("p", "news-desc", a.description));
      if (a.picurl) body.append(picture(a.picurl, "thumb"));
      card.append(el("p", "news-title", a.title), body);
      card.addEventListener("click", () => openBrowser(a.url));
      return card;
    }
    articles.forEach((a, index) => {
      let part;
      if (index === 0) {
        part = el("div", "cover");
        part.append(picture(a.picurl, ""), el("p", "news-title", a.title));
      } else {
        part = el("div", "news-row");
        part.append(el("p", "news-title", a.title), picture(a.picurl, "thumb"));
      }
      part.addEventListener("click", () => openBrowser(a.url));
      card.append(part);
    });
    return card;
  }

  function templateCard(entry) {
    const card = el("div", "template");
    card.append(el("p", "template-title", entry.title || "服务通知"));
    const when = new Date(entry.at);
    const date = Number.isNaN(when.getTime()) ? ""
      : when.toLocaleDateString("zh-CN", { timeZone: "Asia/Shanghai", month: "long", day: "numeric" });
    card.append(el("p", "template-date", date));
    const fields = el("dl", "template-fields");
    for (const field of entry.fields || []) fields.append(el("dt", "", field.key), el("dd", "", field.value));
    card.append(fields);
    if (entry.url) {
      const more = el("div", "template-more");
      more.append(el("span", "", "详情"), el("span", "", "›"));
      more.addEventListener("click", () => openBrowser(entry.url));
      card.append(more);
    }
    return card;
  }

  function entryNode(entry) {
    const node = el("div", "entry");
    node.dataset.id = entry.id;
    node.dataset.from = entry.from;
    node.dataset.kind = entry.kind;
    if (entry.channel) node.dataset.channel = entry.channel;
    if (entry.from === "system" || entry.kind === "event") {
      const notice = el("div", "notice" + (entry.error ? " error" : ""));
      notice.append(el("span", "", entry.text));
      if (entry.error) notice.title = entry.error;
      node.append(notice);
    } else if (entry.kind === "news") {
      node.append(bubbleRow(entry, newsCard(entry)));
    } else if (entry.kind === "template") {
      node.append(bubbleRow(entry, templateCard(entry)));
    } else if (entry.kind === "image" && entry.src) {
      const picture = el("img", "bubble-image");
      picture.src = entry.src;
      picture.alt = entry.text || "[图片]";
      node.append(bubbleRow(entry, picture));
    } else {
      node.append(bubbleRow(entry, textBubble(entry)));
    }
    return node;
  }

  function render(entry) {
    if (!entry || entry.openid !== state.openid || state.rendered.has(entry.id)) return;
    state.rendered.add(entry.id);
    state.lastId = Math.max(state.lastId, entry.id);
    ui.empty.hidden = true;
    const node = entryNode(entry);
    const later = [...ui.chat.querySelectorAll(".entry")].find((n) => Number(n.dataset.id) > entry.id);
    const before = later ? later.previousElementSibling : ui.chat.lastElementChild;
    const previousAt = before && before.dataset.at ? new Date(before.dataset.at) : null;
    const at = new Date(entry.at);
    node.dataset.at = entry.at;
    if (!previousAt || at - previousAt > 5 * 60 * 1000) node.prepend(el("div", "time", hhmm(entry.at)));
    ui.chat.insertBefore(node, later || null);
    ui.chat.scrollTop = ui.chat.scrollHeight;
  }

  // -- the follower and the controls ---------------------------------------------------------------------
  function updateFollower(follower) {
    state.follower = follower;
    if (follower) {
      const index = state.followers.findIndex((f) => f.openid === follower.openid);
      if (index >= 0) state.followers[index] = follower;
    }
    renderPicker();
    const following = Boolean(follower && follower.subscribed);
    $("#fact-status").textContent = follower ? (following ? "已关注" : "未关注") : "—";
    const allowance = follower ? follower.cs_allowance : undefined;
    $("#fact-allowance").textContent = allowance === undefined ? "—"
      : allowance === null ? "不限（付款后 48 小时）" : `${allowance} 条`;
    $("#fact-mode").textContent = { plain: "明文模式", compatible: "兼容模式", safe: "安全模式" }[state.shop.mode]
      || state.shop.mode;
    $("#follow-btn").disabled = !follower || following;
    $("#unfollow-btn").disabled = !following;
    $("#location-btn").disabled = !following;
    ui.followBar.hidden = !follower || following;
    const hasMenu = state.menu.length > 0;
    ui.menuBar.hidden = !following || !hasMenu || state.typing;
    ui.inputBar.hidden = !following || (hasMenu && !state.typing);
    $("#to-menu").hidden = !hasMenu;
    if (!following) closeSubmenu();
  }

  function renderPicker() {
    ui.select.replaceChildren();
    if (!state.followers.length) ui.select.append(el("option", "", "（还没有粉丝）"));
    for (const f of state.followers) {
      const option = el("option", "", `${f.openid}${f.subscribed ? "（已关注）" : "（未关注）"}`);
      option.value = f.openid;
      option.selected = f.openid === state.openid;
      ui.select.append(option);
    }
  }

  async function loadState() {
    const data = await api("GET", "state");
    state.shop = data.shop;
    state.menu = data.menu || [];
    state.followers = data.followers || [];
    state.oauthParam = data.oauth_param || state.oauthParam;
    $("#account-name").textContent = data.shop.name;
    document.title = `${data.shop.name} · 公众号预览`;
    $("#status-time").textContent = hhmm(data.now) || "9:41";
    renderMenu();
  }

  async function selectFollower(openid) {
    if (state.source) { state.source.close(); state.source = null; }
    state.openid = openid;
    state.rendered = new Set();
    state.lastId = 0;
    ui.chat.replaceChildren(ui.empty);
    ui.empty.hidden = Boolean(openid);
    closeBrowser();
    if (!openid) { updateFollower(null); return; }
    localStorage.setItem(STORE_KEY, openid);
    document.cookie = `${state.oauthParam}=${encodeURIComponent(openid)}; path=/; SameSite=Lax`;
    const data = await api("GET", "state?openid=" + encodeURIComponent(openid));
    state.followers = data.followers;
    state.menu = data.menu || [];  // a follower whose tags match a personalised menu sees that one
    renderMenu();
    updateFollower(data.follower);
    if (!data.history.length) ui.empty.hidden = true;
    data.history.forEach(render);
    connect(openid);
  }

  function connect(openid) {
    const source = new EventSource(
      `/sandbox/api/events?openid=${encodeURIComponent(openid)}&after=${state.lastId}`);
    source.addEventListener("entry", (event) => {
      const entry = JSON.parse(event.data);
      render(entry);
      if (entry.from !== "follower" || entry.kind === "event") refreshFollower();
    });
    state.source = source;
    ui.chat.dataset.live = "connecting";
    source.addEventListener("open", () => { ui.chat.dataset.live = "open"; });
  }

  async function refreshFollower() {
    if (!state.openid) return;
    try {
      const data = await api("GET", `state?openid=${encodeURIComponent(state.openid)}&after=${state.lastId}`);
      state.followers = data.followers;
      if (JSON.stringify(data.menu || []) !== JSON.stringify(state.menu)) { state.menu = data.menu || []; renderMenu(); }
      updateFollower(data.follower);
      data.history.forEach(render);
    } catch (error) {
      toast(error.message);
    }
  }

  async function send(payload) {
    if (!state.openid) { toast("先新建或选择一个粉丝"); return null; }
    try {
      const data = await api("POST", "send", { openid: state.openid, ...payload });
      data.entries.forEach(render);
      updateFollower(data.follower);
      return data;
    } catch (error) {
      toast(error.message);
      return null;
    }
  }

  // -- the custom menu -------------------------------------------------------------------------------------
  function renderMenu() {
    ui.menu.replaceChildren();
    for (const button of state.menu) {
      const item = el("button", "menu-item", button.name);
      item.type = "button";
      if (button.sub_button && button.sub_button.length) {
        item.classList.add("has-sub");
        item.addEventListener("click", (event) => { event.stopPropagation(); toggleSubmenu(button, item); });
      } else {
        item.addEventListener("click", () => tap(button));
      }
      ui.menu.append(item);
    }
  }

  function toggleSubmenu(button, anchor) {
    if (!ui.submenu.hidden && ui.submenu.dataset.owner === button.name) { closeSubmenu(); return; }
    ui.submenu.replaceChildren();
    ui.submenu.dataset.owner = button.name;
    for (const sub of button.sub_button) {
      const item = el("button", "", sub.name);
      item.type = "button";
      item.addEventListener("click", (event) => { event.stopPropagation(); tap(sub); });
      ui.submenu.append(item);
    }
    ui.submenu.hidden = false;
    const phone = document.querySelector(".phone").getBoundingClientRect();
    const box = anchor.getBoundingClientRect();
    const width = ui.submenu.offsetWidth;
    const left = Math.min(Math.max(box.left - phone.left + box.width / 2 - width / 2, 8), phone.width - width - 28);
    ui.submenu.style.left = `${left}px`;
  }

  function closeSubmenu() { ui.submenu.hidden = true; ui.submenu.dataset.owner = ""; }

  function tap(button) {
    closeSubmenu();
    if (button.type === "click") {
      send({ kind: "click", key: button.key });
    } else if (button.type === "view") {
      send({ kind: "view", url: button.url });
      openBrowser(button.url);
    } else {
      toast(`沙箱暂不支持“${button.type}”类型的菜单`);
    }
  }

  // -- the in-page WeChat browser ---------------------------------------------------------------------------
  function openBrowser(raw) {
    const url = safeUrl(raw);
    if (!url) { toast("无法打开这个链接"); return; }
    if (state.openid) url.searchParams.set(state.oauthParam, state.openid);
    state.browserUrl = url.href;
    $("#browser-title").textContent = "加载中…";
    $("#browser-url").textContent = url.host + url.pathname;
    ui.frame.src = url.href;
    ui.browser.hidden = false;
  }

  function closeBrowser() {
    ui.browser.hidden = true;
    ui.frame.removeAttribute("src");
    state.browserUrl = "";
  }

  ui.frame.addEventListener("load", () => {
    if (ui.browser.hidden) return;
    let title = "";
    try {
      const doc = ui.frame.contentDocument;
      const win = ui.frame.contentWindow;
      title = doc.title;
      $("#browser-url").textContent = win.location.host + win.location.pathname;
      if (!win.WeixinJSBridge && doc.head) {  // pay pages need not know they are in the sandbox
        const script = doc.createElement("script");
        script.src = "/sandbox/jsbridge.js";
        doc.head.append(script);
      }
    } catch (_) {
      title = "";  // another origin (e.g. the OAuth page on the sandbox port): nothing to read there
    }
    $("#browser-title").textContent = title || "网页";
  });

  window.addEventListener("message", (event) => {
    if (event.origin === location.origin && event.data && event.data.wxshop === "closeWindow") {
      closeBrowser();
      refreshFollower();
    }
  });

  // -- wiring ----------------------------------------------------------------------------------------------
  ui.select.addEventListener("change", () => selectFollower(ui.select.value).catch((e) => toast(e.message)));
  ui.select.addEventListener("focus", async () => {
    try {
      const data = await api("GET", "state");
      state.followers = data.followers;
      renderPicker();
    } catch (_) { /* the list stays as it was */ }
  });
  $("#new-follower").addEventListener("click", async () => {
    try {
      const data = await api("POST", "followers", {});
      state.followers.push(data.follower);
      await selectFollower(data.follower.openid);
    } catch (error) {
      toast(error.message);
    }
  });
  const follow = () => send({ kind: "follow" });
  $("#follow-btn").addEventListener("click", follow);
  $("#follow-cta").addEventListener("click", follow);
  $("#unfollow-btn").addEventListener("click", () => send({ kind: "unfollow" }));
  $("#location-btn").addEventListener("click", () => send({ kind: "location" }));
  $("#to-keyboard").addEventListener("click", () => {
    state.typing = true;
    updateFollower(state.follower);
    ui.message.focus();
  });
  $("#to-menu").addEventListener("click", () => { state.typing = false; updateFollower(state.follower); });
  ui.inputBar.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = ui.message.value;
    if (!text.trim()) return;
    ui.message.value = "";
    const sent = await send({ kind: "text", text });
    if (!sent) ui.message.value = text;
  });
  $("#browser-close").addEventListener("click", () => { closeBrowser(); refreshFollower(); });
  $("#browser-reload").addEventListener("click", () => { if (state.browserUrl) ui.frame.src = state.browserUrl; });
  document.addEventListener("click", (event) => {
    if (!ui.submenu.hidden && !ui.submenu.contains(event.target)) closeSubmenu();
  });

  (async () => {
    try {
      await loadState();
      const stored = localStorage.getItem(STORE_KEY);
      const known = state.followers.map((f) => f.openid);
      const wanted = new URLSearchParams(location.search).get("openid");
      const openid = [wanted, stored, known[0]].find((o) => o && known.includes(o)) || null;
      await selectFollower(openid);
      document.body.dataset.ready = "true";
    } catch (error) {
      toast("预览加载失败：" + error.message);
    }
  })();
})();
