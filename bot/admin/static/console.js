// The wxshop console: one page over the admin JSON API (/admin/api/...). No dependencies, no innerHTML:
// every value reaches the page as text. Tables are drawn from the JSON itself, so fields added later show up
// (behind 全部字段) instead of breaking them. Changes send the session's CSRF token in X-CSRF-Token.
"use strict";

(() => {
  const state = { csrf: null, user: null, role: null };
  const main = document.getElementById("main");

  // Every word the page shows for a key or a code comes from one table, labels.json (loaded before the first view).
  let L = { fields: {}, sections: {}, values: {}, value_keys: {}, carriers: {} };
  const TIME = new Intl.DateTimeFormat("zh-CN", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false });

  // ---- building blocks --------------------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "class") node.className = value;
      else if (key === "value") node.value = value;
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  class ApiError extends Error {
    constructor(status, body) {
      // `message` is the server's Chinese for the console (the English `error` is for API clients)
      super((body && (body.message || body.error)) || `HTTP ${status}`);
      this.status = status;
      this.problems = (body && (body.problems_zh || body.problems)) || [];
    }
  }

  async function api(method, path, body, contentType) {
    const headers = { Accept: "application/json" };
    if (method !== "GET" && state.csrf) headers["X-CSRF-Token"] = state.csrf;
    let payload;
    if (body !== undefined) {
      headers["Content-Type"] = contentType || "application/json";
      payload = contentType ? body : JSON.stringify(body);
    }
    const response = await fetch(`/admin/api/${path}`, { method, headers, body: payload, credentials: "same-origin" });
    if (response.status === 401) {
      location.assign("/admin/login");
      throw new ApiError(401, { error: "登录已过期，请重新登录" });
    }
    let data = null;
    try { data = await response.json(); } catch (_) { data = null; }
    if (!response.ok) throw new ApiError(response.status, data);
    return data;
  }

  function flash(message, bad) {
    const box = document.getElementById("flash");
    const note = el("div", { class: bad ? "bad" : "" }, message);
    box.replaceChildren(note);
    setTimeout(() => { if (note.parentNode === box) note.remove(); }, bad ? 12000 : 6000);
  }

  function problems(error) {
    return error.problems && error.problems.length ? el("ul", { class: "problems" }, error.problems.map((p) => el("li", {}, p))) : null;
  }

  // Runs an action from a button: disables it meanwhile, shows the outcome, reports errors with their problems.
  async function act(button, work, done) {
    if (button) button.disabled = true;
    try {
      const result = await work();
      if (done) flash(typeof done === "function" ? done(result) : done);
      return result;
    } catch (error) {
      const count = (error.problems || []).length;
      flash(count ? `操作未完成：发现 ${count} 个问题，见下方列表，改正后再试` : `操作未完成：${failure(error)}`, true);
      throw error;
    } finally {
      if (button) button.disabled = false;
    }
  }

  // The server's errors are for API clients (English); the page says in Chinese what happened.
  function failure(error) {
    const byStatus = { 400: "提交的内容有误", 403: "没有权限或页面已过期，请刷新", 404: "找不到这条记录",
      409: "当前状态不允许这个操作", 429: "操作太频繁，请稍后再试", 502: "微信接口暂时不可用，请稍后再试" };
    if (/[\u4e00-\u9fff]/.test(error.message)) return error.message;
    return byStatus[error.status] || (error.status >= 500 ? "服务器出错，请稍后再试" : "请求失败");
  }

  function yuan(fen) {
    const sign = fen < 0 ? "-" : "";
    const abs = Math.abs(Math.round(fen));
    return `${sign}¥${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, "0")}`;
  }

  function fenOf(text) {
    const match = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(text);
    if (!match) return null;
    return Number(match[1]) * 100 + Number((match[2] || "0").padEnd(2, "0"));
  }

  const isMoney = (key) => key === "fen" || key.endsWith("_fen") || key === "total_fee";
  const isRatio = (key) => key === "growth" || key === "band" || key === "threshold" || key.endsWith("rate");
  const ISO = /^\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:\d\d|Z)?$/;

  function show(key, value) {
    if (value === null || value === undefined) return "";
    if (isMoney(key) && typeof value === "number") return yuan(value);
    if (isMoney(key) && Array.isArray(value) && value.every((v) => typeof v === "number")) {
      return [...new Set(value)].map(yuan).join(" – ");
    }
    if (isRatio(key) && typeof value === "number") return `${(value * 100).toFixed(2)}%`;
    if (typeof value === "boolean") return value ? "是" : "否";
    if (typeof value === "string" && ISO.test(value)) return shanghai(value);
    const codes = L.value_keys[key] && L.values[L.value_keys[key]];
    if (codes && typeof value === "string" && codes[value]) return codes[value];
    if (key === "carrier" && L.carriers[value]) return L.carriers[value];
    if (key === "reply" && Array.isArray(value)) return replies(value);
    if (Array.isArray(value) && value.every((v) => typeof v !== "object" || v === null)) return value.join("、");
    if (Array.isArray(value)) return value.map((item) => (item && typeof item === "object" ? kv(item) : show(key, item)));
    if (typeof value === "object") return kv(value);
    return String(value);
  }

  // An ISO time as Asia/Shanghai to the minute ("2026-12-04 09:30"); a time without offset is already local.
  function shanghai(text) {
    if (!/([+-]\d\d:\d\d|Z)$/.test(text)) return text.slice(0, 16).replace("T", " ");
    const parts = Object.fromEntries(TIME.formatToParts(new Date(text.replace(" ", "T"))).map((p) => [p.type, p.value]));
    return `${parts.year}-${parts.month}-${parts.day} ${parts.hour === "24" ? "00" : parts.hour}:${parts.minute}`;
  }

  // Keyword replies as the follower sees them: text bubbles, news cards (title, description, image), product and
  // coupon cards.
  function replies(items) {
    return el("div", { class: "replies" }, items.map((raw) => {
      const item = typeof raw === "string" ? { type: "text", content: raw } : raw || {};
      const kind = L.values.reply_type[item.type || "text"] || "回复";
      if ((item.type || "text") === "text") return el("div", { class: "reply text", title: kind }, item.content);
      if (item.type === "news") {
        return el("div", { class: "reply news", title: kind },
          item.image ? el("img", { src: /^https?:|^\/|^data:/.test(item.image) ? item.image : null, alt: item.title }) : null,
          el("div", {}, el("strong", {}, item.title), item.description ? el("p", {}, item.description) : null,
            el("span", { class: "muted" }, item.url)));
      }
      if (item.type === "image") return el("div", { class: "reply image", title: kind }, el("img", { src: item.url, alt: kind }));
      const what = item.spu || item.code || "";
      return el("div", { class: `reply card ${item.type}` }, el("span", { class: "tag" }, kind), " ", what);
    }));
  }

  const label = (key) => L.fields[key] || L.sections[key] || key;

  // A table of `rows` (objects): `columns` first, the other fields behind 全部字段; `actions(row)` gives buttons.
  // `empty` says what to do when there is nothing to show; `values` maps a column to its code table in labels.json.
  function table(rows, { columns = [], actions, rowKey, empty, values = {} } = {}) {
    const wrap = el("div", { class: "table-wrap" });
    if (!rows.length) {
      wrap.append(el("p", { class: "muted empty" }, empty || "暂无数据"));
      return wrap;
    }
    const cell = (key, value) => (values[key] && L.values[values[key]][value]) || show(key, value);
    const all = [];
    for (const row of rows) for (const key of Object.keys(row)) if (!all.includes(key)) all.push(key);
    const preferred = columns.filter((key) => all.includes(key));
    let showAll = !preferred.length;
    const toggle = el("label", { class: "muted" }, el("input", { type: "checkbox" }), " 全部字段");
    const holder = el("div");
    const draw = () => {
      const keys = showAll ? preferred.concat(all.filter((key) => !preferred.includes(key))) : preferred;
      const head = el("tr", {}, keys.map((key) => el("th", { title: key }, label(key))), actions ? el("th", {}, "操作") : null);
      const body = rows.map((row) => el("tr", { "data-key": rowKey ? row[rowKey] : null },
        keys.map((key) => el("td", { class: typeof row[key] === "object" || key === "reply" ? "wrap" : null }, cell(key, row[key]))),
        actions ? el("td", {}, actions(row)) : null));
      holder.replaceChildren(el("table", {}, el("thead", {}, head), el("tbody", {}, body)));
    };
    toggle.firstChild.checked = showAll;
    toggle.firstChild.addEventListener("change", (event) => { showAll = event.target.checked; draw(); });
    draw();
    if (preferred.length && preferred.length < all.length) wrap.append(toggle);
    wrap.append(holder);
    return wrap;
  }

  // Key → value rows of an object; nested objects become nested tables.
  function kv(object, skip = []) {
    const rows = Object.entries(object || {}).filter(([key]) => !skip.includes(key)).map(([key, value]) =>
      el("tr", {}, el("th", { title: key }, label(key)), el("td", {}, show(key, value))));
    return el("table", { class: "kv" }, el("tbody", {}, rows));
  }

  function panel(title, ...children) {
    return el("section", { class: "panel" }, title ? el("h3", {}, title) : null, ...children);
  }

  function notAvailable(what) {
    return panel(what, el("p", { class: "muted not-available" }, "该功能尚未在服务器上启用，请升级服务端后刷新本页"));
  }

  // Loads `path`; a 404 means the server does not have that API yet.
  async function optional(path) {
    try {
      return await api("GET", path);
    } catch (error) {
      if (error.status === 404) return null;
      throw error;
    }
  }

  function input(name, attrs) { return el("input", { name, ...attrs }); }

  function select(name, options, value) {
    return el("select", { name }, Object.entries(options).map(([key, text]) =>
      el("option", { value: key, selected: key === value }, text)));
  }

  function query(params) {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) if (value !== "" && value !== null && value !== undefined) search.set(key, value);
    const text = search.toString();
    return text ? `?${text}` : "";
  }

  // ---- views ------------------------------------------------------------------------------------------------

  // ---- dashboard: charts drawn by the vendored ECharts (static/echarts.min.js, window.echarts) --------------

  const pct = (rate) => (rate === null || rate === undefined ? null : Math.round(rate * 10000) / 100);
  const toYuan = (fen) => Math.round(fen) / 100;
  const GREEN = "#1aad19";
  const GREY = "#b5bcc4";
  const RED = "#c0392b";

  // A chart panel: the option is built from the figures, the caption says the same in words for the exact values.
  function chart(id, title, option, caption) {
    const box = el("div", { class: "chart", id });
    const card = panel(title, box, caption ? el("p", { class: "muted caption" }, caption) : null);
    charts.push([box, option]);
    return card;
  }
  let charts = [];

  function alertLine(rate, text) {
    return { symbol: "none", silent: true, lineStyle: { color: RED, type: "dashed" },
      label: { formatter: `${text} ${pct(rate)}%`, position: "insideEndTop", color: RED }, data: [{ yAxis: pct(rate) }] };
  }

  function rateChart(id, title, rows, threshold, lineText, caption, low) {
    // `low`: the alert fires below the line (payment success), otherwise above it (cancellation, complaints).
    const values = rows.map(([, rate]) => pct(rate));
    const bad = (v) => v !== null && threshold !== undefined && (low ? v < pct(threshold) : v > pct(threshold));
    return chart(id, title, {
      grid: { left: 48, right: 24, top: 24, bottom: 28 },
      xAxis: { type: "category", data: rows.map(([name]) => name) },
      yAxis: { type: "value", max: 100, axisLabel: { formatter: "{value}%" } },
      series: [{ type: "bar", name: title, barMaxWidth: 48, data: values.map((v) => ({ value: v, itemStyle: { color: bad(v) ? RED : GREEN } })),
        label: { show: true, position: "top", formatter: (p) => (p.value === null ? "无数据" : `${p.value}%`) },
        markLine: threshold === undefined ? undefined : alertLine(threshold, lineText) }],
    }, caption);
  }

  async function dashboard() {
    const [figures, gifts] = await Promise.all([optional("metrics"), optional("gifts")]);
    if (!figures) return [el("h2", {}, "经营概况"), notAvailable("经营数据")];
    charts = [];
    const periods = ["week", "month", "quarter"];
    const gmv = figures.gmv || {};
    const growth = (span) => (gmv[span] && gmv[span].growth !== null && gmv[span].growth !== undefined ? `${pct(gmv[span].growth)}%` : "无上期数据");
    const gmvChart = chart("chart-gmv", "GMV（成交额）趋势与环比", {
      legend: { data: ["本期", "上期同期"] },
      grid: { left: 64, right: 24, top: 36, bottom: 28 },
      tooltip: { trigger: "axis" },
      xAxis: { type: "category", data: periods.map((span) => L.values.period[span]) },
      yAxis: { type: "value", axisLabel: { formatter: "¥{value}" } },
      series: [
        { name: "本期", type: "bar", itemStyle: { color: GREEN }, data: periods.map((span) => toYuan((gmv[span] || {}).fen || 0)),
          label: { show: true, position: "top", formatter: (p) => `环比 ${growth(periods[p.dataIndex])}` } },
        { name: "上期同期", type: "bar", itemStyle: { color: GREY }, data: periods.map((span) => toYuan((gmv[span] || {}).previous_fen || 0)) },
      ],
    }, periods.map((span) => `${L.values.period[span]} ${yuan((gmv[span] || {}).fen || 0)}（上期同期 ${yuan((gmv[span] || {}).previous_fen || 0)}，环比 ${growth(span)}，退款 ${yuan((gmv[span] || {}).refunded_fen || 0)}）`).join("；"));
    const aov = figures.average_order_value || {};
    const base = toYuan(aov.baseline_fen || 0);
    const band = aov.band || 0;
    const aovChart = chart("chart-aov", "客单价与 ±" + Math.round(band * 100) + "% 波动范围", {
      grid: { left: 64, right: 24, top: 24, bottom: 28 },
      xAxis: { type: "category", data: ["前 28 天基线", "近 7 天"] },
      yAxis: { type: "value", axisLabel: { formatter: "¥{value}" } },
      series: [{ type: "bar", barMaxWidth: 56,
        data: [{ value: base, itemStyle: { color: GREY } },
          { value: toYuan(aov.fen || 0), itemStyle: { color: aov.within_band === false ? RED : GREEN } }],
        label: { show: true, position: "top", formatter: "¥{c}" },
        markArea: base ? { silent: true, itemStyle: { color: "rgba(26,173,25,.12)" },
          data: [[{ yAxis: Math.round(base * (1 - band) * 100) / 100, name: "正常范围" }, { yAxis: Math.round(base * (1 + band) * 100) / 100 }]] } : undefined }],
    }, base ? `近 7 天 ${yuan(aov.fen || 0)}，基线 ${yuan(aov.baseline_fen)}，正常范围 ${yuan(aov.baseline_fen * (1 - band))} – ${yuan(aov.baseline_fen * (1 + band))}${aov.within_band === false ? "，已超出范围" : ""}`
      : "前 28 天没有支付订单，暂无基线：有订单后自动出现");
    const funnel = figures.funnel || {};
    const funnelChart = chart("chart-funnel", "转化漏斗（曝光 → 点击 → 支付）", {
      tooltip: { trigger: "item" },
      series: [{ type: "funnel", sort: "none", left: "10%", width: "80%", minSize: "8%", gap: 2,
        label: { show: true, position: "inside", formatter: "{b} {c}" },
        data: [{ name: "曝光", value: funnel.exposure || 0 }, { name: "点击", value: funnel.click || 0 }, { name: "支付", value: funnel.paid || 0 }] }],
    }, `近 7 天：点击率 ${funnel.click_rate === null || funnel.click_rate === undefined ? "无数据" : pct(funnel.click_rate) + "%"}，支付率 ${funnel.pay_rate === null || funnel.pay_rate === undefined ? "无数据" : pct(funnel.pay_rate) + "%"}`);
    const pay = figures.payment_success_rate || {};
    const payThreshold = (pay.today || pay.hour || {}).threshold;
    const payChart = rateChart("chart-payment", "支付成功率", [["近 1 小时", (pay.hour || {}).rate], ["今天", (pay.today || {}).rate]],
      payThreshold, "告警线", `今天发起 ${(pay.today || {}).attempts || 0} 笔，支付 ${(pay.today || {}).paid || 0} 笔；低于告警线标红`, true);
    const cancel = figures.cancellation_rate || {};
    const cancelChart = rateChart("chart-cancel", "取消率", [[cancel.day || "今天", cancel.rate]], cancel.threshold, "告警线",
      `${cancel.day || "今天"}下单 ${cancel.created || 0} 笔，取消 ${cancel.cancelled || 0} 笔；高于告警线时通知运营`);
    const complaint = figures.complaint_rate || {};
    const complaintChart = rateChart("chart-complaint", "投诉率（本周）", [["本周", complaint.rate]],
      complaint.threshold === null ? undefined : complaint.threshold, "告警线",
      `本周投诉 ${complaint.complaints || 0} 起，支付订单 ${complaint.paid_orders || 0} 笔`);
    const giftChart = gifts ? rateChart("chart-gift", "新人礼包领取率", [[`近 ${gifts.days || "全部"} 天`, gifts.claim_rate]], undefined, "",
      `发放 ${gifts.issued || 0} 份，已领取 ${gifts.claimed || 0} 份，已过期 ${gifts.expired || 0} 份`) : null;
    const wide = [gmvChart];
    for (const card of wide) card.classList.add("wide");
    return [el("h2", {}, "经营概况"), el("p", { class: "muted" }, `数据截至 ${shanghai(figures.as_of)}`),
      alertList(figures.alerts),
      el("div", { class: "cards", id: "metrics" }, gmvChart, aovChart, funnelChart, payChart, cancelChart, complaintChart, giftChart)];
  }

  // The figures' alerts: firing ones first (operators were told once), then the latest that cleared.
  function alertList(alerts) {
    if (alerts === undefined) return null;
    if (!alerts.length) return panel("告警", el("p", { class: "muted empty", id: "alerts" }, "暂无告警：支付成功率、取消率、客单价和投诉率都在正常范围内"));
    const line = (alert) => {
      const figure = L.values.figure[alert.figure] || "指标";
      const since = `自 ${shanghai(alert.raised_at)} 起`;
      const state = alert.firing ? `进行中，已通知 ${alert.notified} 位运营` : `已于 ${shanghai(alert.cleared_at)} 恢复`;
      return el("li", { class: alert.firing ? "firing" : "cleared" }, `${figure}：${alert.subject}（${since}，${state}）`);
    };
    return panel("告警", el("ul", { class: "alerts", id: "alerts" }, alerts.map(line)));
  }

  // Draws the charts of the view just put on the page (ECharts needs the boxes laid out to size them).
  function drawCharts() {
    if (!window.echarts) return;
    for (const [box, option] of charts) window.echarts.init(box, null, { renderer: "canvas" }).setOption({ animation: false, ...option });
    charts = [];
  }

  async function orders(params) {
    const filters = { status: params.get("status") || "", openid: params.get("openid") || "" };
    const list = el("div", { id: "order-list" });
    let before = null;
    const more = el("button", { type: "button", class: "secondary", onclick: () => load(more) }, "更多");
    async function load(button) {
      const page = await act(button, () => api("GET", `orders${query({ ...filters, before_id: before, limit: 50 })}`));
      list.append(table(page.orders, {
        rowKey: "order_no",
        columns: ["order_no", "status_label", "title", "payable_fen", "refunded_fen", "openid", "created_at", "paid_at"],
        actions: (row) => el("a", { href: `#order/${encodeURIComponent(row.order_no)}` }, "详情"),
        empty: before ? "没有更早的订单" : "没有符合条件的订单：换个状态筛选，或等待粉丝下单",
      }));
      before = page.next_before_id;
      more.hidden = !before;
    }
    const form = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#orders${query({ status: form.status.value, openid: form.openid.value.trim() })}`;
    } }, "状态", select("status", L.values.order_status, filters.status), "粉丝 openid",
    input("openid", { value: filters.openid, placeholder: "买家 openid" }), el("button", {}, "筛选"));
    await load();
    return [el("h2", {}, "订单"), form, list, el("div", { class: "pager" }, more)];
  }

  async function order(orderNo) {
    const detail = await api("GET", `orders/${encodeURIComponent(orderNo)}`);
    const tracking = await optional(`orders/${encodeURIComponent(orderNo)}/tracking`);
    const reload = () => route();
    const ship = el("form", { class: "inline", id: "ship-form", onsubmit: async (event) => {
      event.preventDefault();
      await act(ship.querySelector("button"), () => api("POST", `orders/${encodeURIComponent(orderNo)}/ship`,
        { carrier: ship.carrier.value.trim(), tracking_no: ship.tracking_no.value.trim() }), "已发货");
      reload();
    } }, "快递公司", input("carrier", { list: "carriers", value: "yuantong", required: true, size: 12 }),
    el("datalist", { id: "carriers" }, Object.entries(L.carriers).map(([code, name]) => el("option", { value: code }, name))),
    "运单号", input("tracking_no", { required: true, placeholder: "YT1234567890" }), el("button", {}, "发货"));
    const refund = el("form", { class: "inline", id: "refund-form", onsubmit: async (event) => {
      event.preventDefault();
      const text = refund.amount.value.trim();
      const fen = text ? fenOf(text) : null;
      if (text && !fen) return flash("金额格式：元，最多两位小数", true);
      if (!confirm(`确认退款 ${fen ? yuan(fen) : "全部剩余金额"}？`)) return;
      const body = { reason: refund.reason.value.trim() || "商家退款" };
      if (fen) body.amount_fen = fen;
      await act(refund.querySelector("button"), () => api("POST", `orders/${encodeURIComponent(orderNo)}/refund`, body),
        (r) => `退款 ${yuan(r.amount_fen)}：${r.status}`);
      reload();
    } }, "金额（元，空=全部剩余）", input("amount", { size: 8, inputmode: "decimal" }), "原因", input("reason", { placeholder: "商家退款" }),
    el("button", { class: "danger" }, "退款"));
    return [
      el("h2", {}, el("a", { href: "#orders" }, "订单"), " / ", orderNo),
      panel("订单", kv(detail, ["lines", "payments", "refunds", "pricing", "shipping", "status"])),
      panel("商品", table(detail.lines, { columns: ["sku_code", "title", "spec", "quantity", "unit_price_fen", "subtotal_fen", "paid_fen"] })),
      detail.shipping ? panel("收货信息", kv(detail.shipping)) : null,
      panel("价格说明", el("ul", {}, (detail.pricing || []).map((line) => el("li", {}, line)))),
      panel("物流", tracking ? kv(tracking, ["trace", "carrier", "order_no", "openid"]) : el("p", { class: "muted" }, "尚未发货：填写快递公司和运单号后点“发货”"),
        tracking && tracking.trace ? table(tracking.trace, { empty: "还没有物流轨迹：包裹揽收后会自动更新" }) : null, tracking ? null : ship),
      panel("支付", table(detail.payments, { empty: "还没有支付记录" })),
      panel("退款", table(detail.refunds, { empty: "没有退款；需要退款时在下方填写金额和原因" }), refund),
    ];
  }

  async function products(params) {
    const page = Number(params.get("page") || 1);
    const list = await api("GET", `products${query({ page, per_page: 20, category: params.get("category") || "" })}`);
    const pages = Math.max(1, Math.ceil(list.total / list.per_page));
    const upload = el("form", { class: "inline", onsubmit: async (event) => {
      event.preventDefault();
      const file = upload.file.files[0];
      if (!file) return flash("请选择 CSV 文件", true);
      const out = upload.querySelector(".out");
      out.replaceChildren();
      try {
        const result = await act(upload.querySelector("button"), async () => api("POST", "products", await file.text(), "text/csv; charset=utf-8"),
          (r) => `导入完成：${r.summary}`);
        out.append(result.summary);
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "导入商品 CSV", input("file", { type: "file", accept: ".csv,text/csv" }), el("button", {}, "导入"), el("div", { class: "out" }));
    return [
      el("h2", {}, "商品"), panel(null, upload),
      table(list.products, { rowKey: "spu", columns: ["spu", "title", "category", "price_fen", "stock", "on_sale"],
        empty: "还没有商品：在上方选择商品 CSV 文件后点“导入”",
        actions: (row) => el("a", { href: `#product/${encodeURIComponent(row.spu)}` }, "SKU 与库存") }),
      el("div", { class: "pager" }, page > 1 ? el("a", { href: `#products${query({ page: page - 1 })}` }, "上一页") : null,
        `第 ${page} / ${pages} 页，共 ${list.total} 个商品`,
        page < pages ? el("a", { href: `#products${query({ page: page + 1 })}` }, "下一页") : null),
    ];
  }

  async function product(code) {
    const detail = await api("GET", `products/${encodeURIComponent(code)}`);
    const stockControls = (sku) => {
      const path = `skus/${encodeURIComponent(sku.sku)}`;
      const set = input("stock", { type: "number", min: 0, size: 5, value: sku.stock });
      const add = input("quantity", { type: "number", min: 1, size: 5, placeholder: "数量" });
      return el("span", { class: "row" }, set,
        el("button", { type: "button", class: "secondary", onclick: async (event) => {
          await act(event.target, () => api("PUT", `${path}/stock`, { stock: Number(set.value) }), `${sku.sku} 库存已设为 ${set.value}`);
          route();
        } }, "盘点"), add,
        el("button", { type: "button", onclick: async (event) => {
          await act(event.target, () => api("POST", `${path}/restock`, { quantity: Number(add.value) }), (r) => `${sku.sku} 补货后库存 ${r.stock}`);
          route();
        } }, "补货"));
    };
    return [
      el("h2", {}, el("a", { href: "#products" }, "商品"), " / ", detail.title),
      panel("商品", kv(detail, ["skus"])),
      panel("SKU 与库存", table(detail.skus, { rowKey: "sku", columns: ["sku", "spec", "price_fen", "stock", "stock_alert", "on_sale"], actions: stockControls })),
    ];
  }

  // ---- keyword rules: the list, a form for one rule (its replies previewed as the follower sees them), and the
  // "who answers this" probe (GET keywords/test: a rule, a built-in before it, or the dialog engine). ----------

  const REPLY_FIELDS = { text: ["content"], news: ["title", "description", "url", "image"], product: ["spu"], coupon: ["code"] };
  const REPLY_FIELD_NAMES = { content: "文字", title: "标题", description: "摘要", url: "链接", image: "图片地址（https）",
    spu: "商品编码", code: "优惠券模板编码" };
  const MAX_REPLIES = 5;

  function ruleWindow(rule) {
    if (!rule.starts && !rule.ends) return "长期有效";
    return `${rule.starts ? shanghai(rule.starts) : "即日起"} 至 ${rule.ends ? shanghai(rule.ends) : "长期"}`;
  }

  function shadowNotes(warnings) {
    return warnings.length ? el("ul", { class: "notes" }, warnings.map((w) =>
      el("li", { class: "note" }, `“${w.word}”也是内置功能“${w.label}”的说法：${L.values.shadow_effect[w.effect]}`))) : null;
  }

  function conflictText(c) {
    if (c.kind === "never_fires") return `规则「${c.rule}」永远不会触发：${L.values.conflict_reason[c.reason] || ""}`;
    if (c.kind === "exact_shadowed") return `规则「${c.rule}」收不到“${c.keyword}”：规则「${c.other}」也完全匹配这个词，且排在前面`;
    return `规则「${c.rule}」永远轮不到：它的每个关键词（如“${c.keyword}”）都包含规则「${c.other}」排在前面的关键词`;
  }

  function probeResult(answer) {
    if (answer.rule) {
      const r = answer.rule;
      return [el("p", { class: "verdict" }, `由规则「${r.name}」回答：${L.values.match[r.mode]}“${r.keyword}”，优先级 ${r.priority}，${L.values.reply_mode[r.reply_mode]}`),
        replies(r.reply)];
    }
    const e = answer.engine;
    let step = L.values.probe_kind[e.kind];
    if (e.kind === "understanding") step += `“${e.label}”（把握 ${Math.round(e.confidence * 100)}%）`;
    else if (e.kind === "global" || e.kind === "builtin") step += `“${e.label}”${e.argument ? `（搜索“${e.argument}”）` : ""}`;
    return [
      answer.hijacked_by ? el("p", { class: "note" }, `规则「${answer.matched_rule.name}」也匹配这句话，但“${answer.hijacked_by.label}”优先回答（全局指令永远优先；查订单这类读取粉丝自己数据的功能，可在规则中勾选“优先于内置功能”改由规则回答）`) : null,
      el("p", { class: "verdict" }, `没有规则回答，由${step}回答`),
      e.transfer ? el("p", { class: "note" }, "对话转给人工客服") : null,
      e.replies.length ? replies(e.replies) : el("p", { class: "muted" }, "机器人不回复"),
    ];
  }

  const localTime = (iso) => (iso ? shanghai(iso).replace(" ", "T") : "");

  // The form for one rule (`original` null: a new one). Replies are edited as fields, never as JSON.
  function ruleForm(original) {
    const rule = original ? JSON.parse(JSON.stringify(original))
      : { name: "", keywords: [], match: "contains", priority: 0, reply_mode: "all", enabled: true, overrides: false,
        starts: null, ends: null, reply: [{ type: "text", content: "" }] };
    rule.reply = rule.reply.map((item) => (typeof item === "string" ? { type: "text", content: item } : item));
    const preview = el("div", { class: "rule-preview", id: "rule-preview" });
    const editors = el("div", { class: "reply-editors" });
    const out = el("div", { class: "out" });
    const redraw = () => preview.replaceChildren(replies(rule.reply.filter((item) => Object.values(item).some((v) => v && v !== item.type))));

    function drawReplies() {
      editors.replaceChildren(...rule.reply.map((item, i) => {
        const kind = select("type", L.values.reply_type, item.type);
        kind.querySelectorAll("option").forEach((option) => { if (!REPLY_FIELDS[option.value]) option.remove(); });
        kind.addEventListener("change", () => { rule.reply[i] = { type: kind.value }; drawReplies(); });
        const fields = REPLY_FIELDS[item.type].map((name) => {
          const attrs = { value: item[name] || "", oninput: (event) => { item[name] = event.target.value; redraw(); } };
          const box = name === "content" ? el("textarea", { name, rows: 3, class: "short", ...attrs }) : input(name, { size: name === "url" || name === "image" ? 36 : 16, ...attrs });
          if (name === "content") box.value = item.content || "";
          return el("label", { class: "field" }, REPLY_FIELD_NAMES[name], box);
        });
        return el("fieldset", { class: "reply-editor", "data-index": i }, el("legend", {}, `第 ${i + 1} 条回复`),
          el("div", { class: "row" }, "类型", kind, rule.reply.length > 1 ? el("button", { type: "button", class: "danger", onclick: () => { rule.reply.splice(i, 1); drawReplies(); } }, "删除这条") : null),
          fields);
      }), rule.reply.length < MAX_REPLIES ? el("button", { type: "button", class: "secondary", id: "reply-add", onclick: () => { rule.reply.push({ type: "text", content: "" }); drawReplies(); } }, "添加一条回复") : null);
      redraw();
    }

    const form = el("form", { class: "rule-form", id: "rule-form", onsubmit: async (event) => {
      event.preventDefault();
      const body = {
        name: form.name.value.trim(),
        keywords: form.keywords.value.split("\n").map((k) => k.trim()).filter(Boolean),
        match: form.match.value,
        priority: Number(form.priority.value || 0),
        reply_mode: form.reply_mode.value,
        enabled: form.enabled.checked,
        overrides: form.overrides.checked,
        starts: form.starts.value || null,
        ends: form.ends.value || null,
        reply: rule.reply.map((item) => Object.fromEntries(Object.entries(item).filter(([, v]) => v !== ""))),
      };
      out.replaceChildren();
      try {
        const path = original ? `keywords/${encodeURIComponent(original.name)}` : "keywords/rules";
        await act(form.querySelector("button[type=submit]"), () => api(original ? "PUT" : "POST", path, body),
          (r) => `规则「${r.rule.name}」已保存，立即生效`);
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } },
    el("div", { class: "row" }, el("label", { class: "field" }, "名称", input("name", { value: rule.name, required: true, size: 20 })),
      el("label", { class: "field" }, "匹配方式", select("match", L.values.match, rule.match)),
      el("label", { class: "field" }, "优先级", input("priority", { type: "number", value: rule.priority, min: -1000, max: 1000, size: 5 })),
      el("label", { class: "field" }, "回复方式", select("reply_mode", L.values.reply_mode, rule.reply_mode))),
    el("label", { class: "field" }, "关键词（每行一个）", el("textarea", { name: "keywords", rows: 3, class: "short" })),
    el("div", { class: "row" }, el("label", {}, input("enabled", { type: "checkbox", checked: rule.enabled }), " 启用"),
      el("label", {}, input("overrides", { type: "checkbox", checked: rule.overrides }), " 优先于内置功能（查订单、查物流等）"),
      el("label", { class: "field" }, "开始", input("starts", { type: "datetime-local", value: localTime(rule.starts) })),
      el("label", { class: "field" }, "结束", input("ends", { type: "datetime-local", value: localTime(rule.ends) }))),
    el("div", { class: "rule-edit" }, editors, el("div", {}, el("p", { class: "muted" }, "粉丝看到的回复"), preview)),
    el("div", { class: "row" }, el("button", { type: "submit" }, original ? "保存修改" : "创建规则"),
      el("button", { type: "button", class: "secondary", onclick: () => route() }, "取消")), out);
    form.keywords.value = rule.keywords.join("\n");
    drawReplies();
    return panel(original ? `编辑规则「${original.name}」` : "新建规则", form);
  }

  async function keywords() {
    const rules = await api("GET", "keywords");
    const editor = el("div", { id: "rule-editor" });
    const edit = (rule) => {
      editor.replaceChildren(ruleForm(rule));
      editor.scrollIntoView({ block: "start" });
    };
    const output = el("div");
    const importer = el("form", { onsubmit: async (event) => {
      event.preventDefault();
      output.replaceChildren();
      const replace = importer.replace.checked ? "?replace=1" : "";
      try {
        await act(importer.querySelector("button"), () => api("POST", `keywords${replace}`, importer.toml.value, "application/toml; charset=utf-8"),
          (r) => `已导入：新增 ${r.created}，更新 ${r.updated}，删除 ${r.deleted}`);
        route();
      } catch (error) {
        output.append(problems(error) || "");
      }
    } }, el("textarea", { name: "toml", placeholder: "[[rules]]\nname = \"营业时间\"\nkeywords = [\"营业时间\"]\nmatch = \"contains\"\nreply = \"每天 9:00-21:00\"" }),
    el("div", { class: "row" }, input("file", { type: "file", accept: ".toml", onchange: async (event) => {
      const file = event.target.files[0];
      if (file) importer.toml.value = await file.text();
    } }), el("label", {}, input("replace", { type: "checkbox" }), " 删除文件中没有的规则"), el("button", {}, "导入")), output);
    const result = el("div", { id: "probe-result" });
    const tester = el("form", { class: "inline", id: "probe", onsubmit: async (event) => {
      event.preventDefault();
      result.replaceChildren();
      const answer = await act(tester.querySelector("button"), () => api("GET", `keywords/test${query({ text: tester.text.value })}`));
      result.replaceChildren(...probeResult(answer).filter(Boolean));
    } }, input("text", { placeholder: "粉丝发来的文字", required: true, size: 30 }), el("button", {}, "测试"));
    const list = rules.rules.length ? el("div", { class: "table-wrap" }, el("table", { id: "rules" },
      el("thead", {}, el("tr", {}, ["名称", "关键词", "匹配方式", "优先级", "有效期", "回复内容", "启用", "操作"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rules.rules.map((rule) => el("tr", { "data-key": rule.name, class: rule.enabled ? null : "off" },
        el("td", { class: "wrap" }, el("strong", {}, rule.name), shadowNotes(rule.warnings)),
        el("td", { class: "wrap" }, rule.keywords.join("、")),
        el("td", {}, L.values.match[rule.match]),
        el("td", {}, rule.priority),
        el("td", {}, ruleWindow(rule)),
        el("td", { class: "wrap" }, replies(rule.reply), rule.reply.length > 1 ? el("span", { class: "muted" }, L.values.reply_mode[rule.reply_mode]) : null),
        el("td", {}, el("input", { type: "checkbox", class: "toggle", checked: rule.enabled, title: "启用或停用", onchange: async (event) => {
          const on = event.target.checked;
          try {
            await act(event.target, () => api("PATCH", `keywords/${encodeURIComponent(rule.name)}`, { enabled: on }),
              `规则「${rule.name}」已${on ? "启用" : "停用"}`);
          } catch (_) {
            event.target.checked = !on;
          }
          route();
        } })),
        el("td", {}, el("button", { type: "button", class: "secondary", onclick: () => edit(rule) }, "编辑"), " ",
          el("button", { type: "button", class: "danger", onclick: async (event) => {
            if (!confirm(`删除规则「${rule.name}」？`)) return;
            await act(event.target, () => api("DELETE", `keywords/${encodeURIComponent(rule.name)}`), `规则「${rule.name}」已删除`);
            route();
          } }, "删除"))))))) : el("p", { class: "muted empty" }, "还没有关键词规则：点“新建规则”填写一条，或在下方粘贴 TOML 规则文件后点“导入”");
    const conflicts = rules.conflicts.length ? el("ul", { class: "problems", id: "conflicts" }, rules.conflicts.map((c) => el("li", {}, conflictText(c)))) : null;
    const standing = [["follow_reply", "关注时回复"], ["default_reply", "默认回复（没听懂时）"]].map(([key, name]) =>
      el("tr", {}, el("th", {}, name), el("td", {}, rules[key] ? replies(rules[key]) : el("span", { class: "muted" }, "未设置：在下方导入的规则文件中设置"))));
    return [
      el("h2", {}, "关键词回复"),
      panel("测试一句话：机器人会怎么回答", tester, result),
      editor,
      panel(`规则（${rules.rules.length} 条）`, el("div", { class: "row" }, el("button", { type: "button", id: "rule-new", onclick: () => edit(null) }, "新建规则")),
        conflicts, list),
      panel("关注回复与默认回复", el("table", { class: "kv" }, el("tbody", {}, standing))),
      panel("导入规则文件（TOML）", importer),
    ];
  }

  // ---- the unanswered-questions inbox: what followers said that the bot could not place, grouped by similarity;
  // a group is taught to an intent (every wording becomes an example: the model retrains at once), answered by a
  // keyword rule, or dismissed. -------------------------------------------------------------------------------

  async function inbox() {
    const [data, known] = await Promise.all([api("GET", "nlu/unanswered/groups"), api("GET", "nlu/intents")]);
    const intents = Object.fromEntries(known.intents.map((i) => [i.intent, i.label]));
    const intro = el("p", { class: "muted" }, "粉丝说了机器人没听懂的话（收到兜底回复，或被追问想办哪件事）会出现在这里，意思相近的说法归成一组，问得最多的在前。教会机器人后，下一条同样的话立刻就能答对。");
    if (!data.groups.length) {
      return [el("h2", {}, "没听懂的问题"), intro, el("p", { class: "muted empty" },
        "没有待处理的问题。粉丝说了机器人听不懂的话，会自动出现在这里；也可以在", el("a", { href: "#keywords" }, "关键词回复"),
        "页测试一句话，看看机器人会怎么回答。")];
    }
    const cards = data.groups.map((group, g) => {
      const lead = group.questions[0];
      const texts = group.questions.map((q) => q.text);
      const dismiss = async () => {
        for (const q of group.questions) await api("DELETE", `nlu/unanswered/${q.id}`);
      };
      const teach = el("form", { class: "inline teach", onsubmit: async (event) => {
        event.preventDefault();
        const intent = teach.intent.value;
        await act(teach.querySelector("button"), async () => {
          for (const text of texts) await api("POST", "nlu/examples", { text, intent });
        }, `已教会机器人：${texts.length} 种说法归入“${intents[intent]}”，立即生效`);
        route();
      } }, "归入意图", select("intent", intents, group.guess.intent), el("button", {}, "教会机器人"),
      el("span", { class: "muted" }, `机器人猜是“${group.guess.label || intents[group.guess.intent] || ""}”（把握 ${Math.round(group.guess.confidence * 100)}%）`));
      const answer = el("form", { class: "inline answer", onsubmit: async (event) => {
        event.preventDefault();
        const reply = answer.reply.value.trim();
        if (!reply) return flash("请填写回复内容", true);
        const rule = { name: `问答：${lead.text}`.slice(0, 100), keywords: texts, match: "exact", reply };
        await act(answer.querySelector("button"), async () => {
          await api("POST", "keywords/rules", rule);
          await dismiss();
        }, `已添加关键词规则「${rule.name}」，这些说法会直接收到这条回复`);
        route();
      } }, "直接回答", input("reply", { size: 40, placeholder: "粉丝会收到的回复" }), el("button", { class: "secondary" }, "用关键词规则回答"));
      return el("section", { class: "panel inbox-group", "data-group": g },
        el("h3", {}, `“${lead.text}”`, group.questions.length > 1 ? ` 等 ${group.questions.length} 种说法` : "", `，共 ${group.total} 次`),
        el("table", {}, el("thead", {}, el("tr", {}, ["粉丝的原话", "次数", "最近一次", "当时机器人"].map((h) => el("th", {}, h)))),
          el("tbody", {}, group.questions.map((q) => el("tr", { "data-key": q.id }, el("td", { class: "wrap" }, q.text), el("td", {}, q.count),
            el("td", {}, shanghai(q.last_seen)), el("td", {}, L.values.unanswered_outcome[q.outcome] || ""))))),
        teach, answer,
        el("div", { class: "row" }, el("button", { type: "button", class: "danger", onclick: async (event) => {
          await act(event.target, dismiss, `已忽略“${lead.text}”这一组；粉丝再问时会重新出现`);
          route();
        } }, "忽略这一组")));
    });
    return [el("h2", {}, "没听懂的问题"), intro, cards];
  }

  // ---- coupons: templates (create, switch off), what became of the coupons each issued, one given to a follower --

  function couponValue(t) {
    if (t.kind === "percent") return `${t.value / 10} 折`;
    return yuan(t.value);
  }

  async function coupons() {
    const data = await api("GET", "coupon-templates");
    const out = el("div", { class: "out" });
    const create = el("form", { class: "inline", id: "coupon-form", onsubmit: async (event) => {
      event.preventDefault();
      const kind = create.kind.value;
      const value = kind === "percent" ? Math.round(Number(create.value.value) * 10) : fenOf(create.value.value);
      const threshold = create.threshold.value.trim() ? fenOf(create.threshold.value) : 0;
      if (!value || threshold === null) return flash("金额格式：元，最多两位小数；折扣填 1-9.9 之间的数，如 8.5 表示 85 折", true);
      const body = { code: create.code.value.trim(), title: create.title.value.trim(), kind, value,
        threshold_fen: threshold, valid_days: Number(create.valid_days.value || 30) };
      out.replaceChildren();
      try {
        await act(create.querySelector("button"), () => api("POST", "coupon-templates", body), (r) => `优惠券「${r.title}」已创建`);
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "编码", input("code", { required: true, size: 10, placeholder: "如 NEW10" }), "名称", input("title", { size: 12, placeholder: "空=自动生成" }),
    "类型", select("kind", L.values.coupon_kind, "threshold"), el("span", { id: "coupon-value-label" }, "面额（元）"), input("value", { required: true, size: 6 }),
    "门槛（元，空=无门槛）", input("threshold", { size: 6 }), "有效天数", input("valid_days", { type: "number", min: 1, value: 30, size: 4 }),
    el("button", {}, "创建"), out);
    create.kind.addEventListener("change", () => {
      create.querySelector("#coupon-value-label").textContent = create.kind.value === "percent" ? "折扣（如 8.5）" : "面额（元）";
    });
    const rows = data.templates.map((t) => el("tr", { "data-key": t.code, class: t.active ? null : "off" },
      el("td", {}, el("strong", {}, t.title)), el("td", {}, t.code), el("td", {}, L.values.coupon_kind[t.kind] || ""),
      el("td", {}, couponValue(t)), el("td", {}, t.threshold_fen ? yuan(t.threshold_fen) : "无门槛"), el("td", {}, `${t.valid_days} 天`),
      ["issued", "available", "locked", "used", "expired"].map((key) => el("td", { class: `n-${key}` }, t[key])),
      el("td", { class: "n-use_rate" }, t.use_rate === null ? "—" : `${(t.use_rate * 100).toFixed(1)}%`),
      el("td", {}, el("input", { type: "checkbox", class: "toggle", checked: t.active, title: "停用后不再发放，已发的券仍可使用", onchange: async (event) => {
        const on = event.target.checked;
        try {
          await act(event.target, () => api("PATCH", `coupon-templates/${encodeURIComponent(t.code)}`, { active: on }), `「${t.title}」已${on ? "启用" : "停用"}`);
        } catch (_) {
          event.target.checked = !on;
        }
        route();
      } })),
      el("td", {}, t.active ? el("form", { class: "inline issue", onsubmit: async (event) => {
        event.preventDefault();
        const form = event.target;
        await act(form.querySelector("button"), () => api("POST", `coupon-templates/${encodeURIComponent(t.code)}/issue`, { openid: form.openid.value.trim() }),
          (r) => `已发给粉丝 ${r.openid}，券码 ${r.code}`);
        route();
      } }, input("openid", { size: 14, required: true, placeholder: "粉丝 openid" }), el("button", { class: "secondary" }, "发放")) : el("span", { class: "muted" }, "已停用"))));
    const list = data.templates.length ? el("div", { class: "table-wrap" }, el("table", { id: "coupon-templates" },
      el("thead", {}, el("tr", {}, ["名称", "编码", "类型", "面额", "门槛", "有效期", "已发放", "可使用", "待支付占用", "已使用", "已过期", "使用率", "启用", "发给粉丝"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows))) : el("p", { class: "muted empty" }, "还没有优惠券模板：在上方填写编码和面额后点“创建”，再发给粉丝或用于新人礼包");
    return [el("h2", {}, "优惠券"), panel("新建优惠券模板", create), panel(`优惠券模板（${data.templates.length} 个）`, list)];
  }

  // ---- segments: a rule built in a form, its size previewed, saved under a name ---------------------------------

  const LIFECYCLE = ["引入", "成长", "成熟", "衰退", "流失"];
  const listOf = (text) => text.split(/[,，、\s]+/).map((s) => s.trim()).filter(Boolean);

  function describeRule(rule) {
    const parts = [];
    if (rule.lifecycle && rule.lifecycle.length) parts.push(`生命周期：${rule.lifecycle.join("、")}`);
    if (rule.tier_at_least) parts.push(`${L.values.tier[rule.tier_at_least]}及以上`);
    for (const [key, name] of [["r_min", "最近购买"], ["f_min", "购买频次"], ["m_min", "消费金额"]]) if (rule[key]) parts.push(`${name}评分 ≥ ${rule[key]}`);
    if (rule.region && rule.region.length) parts.push(`地区：${rule.region.join("、")}`);
    if (rule.birthday_month && rule.birthday_month.length) parts.push(`生日在 ${rule.birthday_month.join("、")} 月`);
    if (rule.source && rule.source.length) parts.push(`来源：${rule.source.join("、")}`);
    if (rule.bought_category) parts.push(`近 ${rule.bought_within_days || 180} 天买过“${rule.bought_category}”`);
    return parts.length ? parts.join("；") : "全部会员";
  }

  async function segments() {
    const data = await api("GET", "segments");
    const size = el("p", { class: "verdict", id: "segment-size" });
    const out = el("div", { class: "out" });
    const scores = { 0: "不限", 1: "≥ 1", 2: "≥ 2", 3: "≥ 3", 4: "≥ 4", 5: "≥ 5" };
    const tiers = { "": "不限", normal: L.values.tier.normal, vip: L.values.tier.vip, black_gold: L.values.tier.black_gold };
    const form = el("form", { id: "segment-form", onsubmit: (event) => event.preventDefault() },
      el("div", { class: "row" }, "生命周期", LIFECYCLE.map((stage) => el("label", {}, input("lifecycle", { type: "checkbox", value: stage }), ` ${stage}`))),
      el("div", { class: "row" }, el("label", { class: "field" }, "会员等级至少", select("tier_at_least", tiers, "")),
        el("label", { class: "field" }, "最近购买评分", select("r_min", scores, "0")), el("label", { class: "field" }, "购买频次评分", select("f_min", scores, "0")),
        el("label", { class: "field" }, "消费金额评分", select("m_min", scores, "0"))),
      el("div", { class: "row" }, el("label", { class: "field" }, "地区（省份，逗号分开）", input("region", { size: 20, placeholder: "广东省，浙江省" })),
        el("label", { class: "field" }, "生日月份（逗号分开）", input("birthday_month", { size: 10, placeholder: "3，4" })),
        el("label", { class: "field" }, "来源渠道码", input("source", { size: 12 }))),
      el("div", { class: "row" }, el("label", { class: "field" }, "买过的类目", input("bought_category", { size: 12, placeholder: "如 服饰" })),
        el("label", { class: "field" }, "最近多少天内", input("bought_within_days", { type: "number", min: 1, value: 180, size: 5 }))),
      el("div", { class: "row" }, el("button", { type: "button", id: "segment-preview", onclick: async (event) => {
        out.replaceChildren();
        try {
          const r = await act(event.target, () => api("POST", "segments/preview", rule()));
          size.textContent = `符合条件的会员：${r.size} 人`;
        } catch (error) {
          out.append(problems(error) || "");
        }
      } }, "预估人数"), "保存为", input("name", { size: 12, placeholder: "人群名称" }),
      el("button", { type: "button", class: "secondary", id: "segment-save", onclick: async (event) => {
        const name = form.name.value.trim();
        if (!name) return flash("请填写人群名称", true);
        out.replaceChildren();
        try {
          await act(event.target, () => api("PUT", `segments/${encodeURIComponent(name)}`, rule()), (r) => `人群「${r.name}」已保存：${r.size} 人`);
          route();
        } catch (error) {
          out.append(problems(error) || "");
        }
      } }, "保存人群")), size, out);

    function rule() {
      const body = {};
      const stages = [...form.querySelectorAll("input[name=lifecycle]:checked")].map((box) => box.value);
      if (stages.length) body.lifecycle = stages;
      if (form.tier_at_least.value) body.tier_at_least = form.tier_at_least.value;
      for (const key of ["r_min", "f_min", "m_min"]) if (Number(form[key].value)) body[key] = Number(form[key].value);
      for (const key of ["region", "source"]) if (listOf(form[key].value).length) body[key] = listOf(form[key].value);
      if (listOf(form.birthday_month.value).length) body.birthday_month = listOf(form.birthday_month.value).map(Number);
      if (form.bought_category.value.trim()) {
        body.bought_category = form.bought_category.value.trim();
        body.bought_within_days = Number(form.bought_within_days.value || 180);
      }
      return body;
    }

    const list = data.segments.length ? el("div", { class: "table-wrap" }, el("table", { id: "segments" },
      el("thead", {}, el("tr", {}, ["名称", "条件", "人数", "操作"].map((h) => el("th", {}, h)))),
      el("tbody", {}, data.segments.map((s) => el("tr", { "data-key": s.name }, el("td", {}, el("strong", {}, s.name)),
        el("td", { class: "wrap" }, describeRule(s.rule)), el("td", {}, `${s.size} 人`),
        el("td", {}, el("a", { href: `#campaigns${query({ segment: s.name })}` }, "向这群人发活动"))))))) :
      el("p", { class: "muted empty" }, "还没有保存的人群：在上方勾选条件，点“预估人数”看看有多少人，再填名称后点“保存人群”");
    return [el("h2", {}, "人群"), el("p", { class: "muted" }, "人数按每晚更新的会员画像计算。"), panel("圈选会员", form), panel(`已保存的人群（${data.segments.length} 个）`, list)];
  }

  // ---- campaigns: a notice to a segment; the dry run says who it would reach; results from the outbox -----------

  async function campaigns(params) {
    const [data, segs] = await Promise.all([api("GET", "campaigns"), api("GET", "segments")]);
    const out = el("div", { class: "out" });
    const names = Object.fromEntries(segs.segments.map((s) => [s.name, `${s.name}（${s.size} 人）`]));
    const create = el("form", { class: "inline", id: "campaign-form", onsubmit: async (event) => {
      event.preventDefault();
      const body = { name: create.name.value.trim(), segment: create.segment.value, subject: create.subject.value.trim(), detail: create.detail.value.trim() };
      out.replaceChildren();
      try {
        await act(create.querySelector("button"), () => api("POST", "campaigns", body), (r) => `活动「${r.name}」已创建（草稿）：先“试算”，再“开始发送”`);
        location.hash = "#campaigns";
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "名称", input("name", { required: true, size: 10 }), "人群", segs.segments.length ? select("segment", names, params.get("segment") || "") : el("span", { class: "muted" }, "（先到“人群”页保存一个人群）"),
    "标题", input("subject", { required: true, size: 14, placeholder: "如 会员权益更新" }), "内容", input("detail", { required: true, size: 24 }),
    el("button", { disabled: !segs.segments.length }, "创建"), out);
    const counts = ["targeted", "queued", "pending", "sent", "delivered", "failed"];
    const rows = data.campaigns.map((c) => el("tr", { "data-key": c.name },
      el("td", {}, el("strong", {}, c.name)), el("td", {}, c.segment), el("td", {}, L.values.campaign_status[c.status] || ""),
      counts.map((key) => el("td", { class: `n-${key}` }, c[key])),
      el("td", {}, el("button", { type: "button", class: "secondary", onclick: async (event) => {
        const plan = await act(event.target, () => api("POST", `campaigns/${encodeURIComponent(c.name)}/dry-run`));
        flash(`试算：人群中关注着的会员 ${plan.targeted} 人，已排队 ${plan.already_queued} 人，开始后将新发 ${plan.would_queue} 人（没有真的发送）`);
      } }, "试算"), " ", el("button", { type: "button", onclick: async (event) => {
        if (!confirm(`向人群「${c.segment}」发送活动「${c.name}」？每位会员只会收到一次。`)) return;
        await act(event.target, () => api("POST", `campaigns/${encodeURIComponent(c.name)}/start`), (r) => `活动「${c.name}」：本次排队 ${r.queued_now} 条，由消息队列按额度发送`);
        route();
      } }, "开始发送"))));
    const list = data.campaigns.length ? el("div", { class: "table-wrap" }, el("table", { id: "campaigns" },
      el("thead", {}, el("tr", {}, ["名称", "人群", "状态", "目标人数", "已排队", "待发送", "已发送", "已送达", "失败", "操作"].map((h) => el("th", {}, h)))),
      el("tbody", {}, rows))) : el("p", { class: "muted empty" }, "还没有营销活动：在上方选择人群、填写标题和内容后点“创建”");
    charts = [];
    const started = data.campaigns.filter((c) => c.queued);
    const results = started.length ? chart("chart-campaigns", "活动效果", {
      legend: { data: ["待发送", "已发送", "已送达", "失败"] }, tooltip: { trigger: "axis" },
      grid: { left: 48, right: 24, top: 36, bottom: 28 },
      xAxis: { type: "category", data: started.map((c) => c.name) }, yAxis: { type: "value", minInterval: 1 },
      series: [["待发送", "pending", GREY], ["已发送", "sent", "#5b8ff9"], ["已送达", "delivered", GREEN], ["失败", "failed", RED]].map(([name, key, color]) =>
        ({ name, type: "bar", itemStyle: { color }, data: started.map((c) => c[key]) })),
    }, started.map((c) => `${c.name}：目标 ${c.targeted} 人，已发送 ${c.sent}，已送达 ${c.delivered}，失败 ${c.failed}`).join("；")) : null;
    return [el("h2", {}, "营销活动"), el("p", { class: "muted" }, "活动以模板消息发给人群中关注着的会员，每人一次，占用每日模板消息额度中的会员关怀份额。"),
      panel("新建活动", create), panel(`活动（${data.campaigns.length} 个）`, list), results];
  }

  async function afterSales(params) {
    const filters = { status: params.get("status") || "" };
    const [list, stats] = await Promise.all([api("GET", `after-sales${query({ ...filters, limit: 100 })}`), optional("after-sales/stats")]);
    const decide = el("div");
    const form = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#after-sales${query({ status: form.status.value })}`;
    } }, "状态", select("status", L.values.ticket_status, filters.status), el("button", {}, "筛选"));
    const open = (ticket, approve) => {
      const path = `after-sales/${encodeURIComponent(ticket.case_no)}/${approve ? "approve" : "refuse"}`;
      const box = el("form", { class: "inline", onsubmit: async (event) => {
        event.preventDefault();
        let body;
        if (approve) {
          body = { note: box.note.value.trim() };
          const text = box.amount.value.trim();
          if (text) {
            body.amount_fen = fenOf(text);
            if (body.amount_fen === null) return flash("金额格式：元，最多两位小数", true);
          }
        } else {
          body = { reason: box.reason.value.trim() };
        }
        await act(box.querySelector("button"), () => api("POST", path, body), (r) => `${r.case_no}：${r.status_label}`);
        route();
      } }, `${ticket.case_no}（${ticket.kind_label}）`,
      approve ? ["金额（元，空=全部）", input("amount", { size: 8 }), "备注", input("note")] : ["拒绝原因（告知买家）", input("reason", { required: true, size: 30 })],
      el("button", { class: approve ? null : "danger" }, approve ? "同意" : "拒绝"));
      decide.replaceChildren(panel(approve ? "同意售后" : "拒绝售后", box));
    };
    // An approved exchange's replacement goes out free of shipping, as a parcel of its own.
    const ship = (ticket) => {
      const box = el("form", { class: "inline", id: "reship-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { carrier: box.carrier.value.trim(), tracking_no: box.tracking_no.value.trim() };
        await act(box.querySelector("button"), () => api("POST", `after-sales/${encodeURIComponent(ticket.case_no)}/ship`, body),
          (r) => `换货已发出：${r.carrier_name} ${r.tracking_no}`);
        route();
      } }, `${ticket.case_no}（换货）`, "快递公司代码", input("carrier", { required: true, size: 12, placeholder: "yuantong" }),
      "运单号", input("tracking_no", { required: true, size: 20 }), el("button", {}, "发出"));
      decide.replaceChildren(panel("发出换货（包邮）", box));
    };
    // One compensation per ticket; an empty method or amount takes the [after_sales] default for its kind.
    const compensate = (ticket) => {
      const box = el("form", { class: "inline", id: "compensate-form", onsubmit: async (event) => {
        event.preventDefault();
        const body = { note: box.note.value.trim() };
        if (box.method.value) body.method = box.method.value;
        const text = box.amount.value.trim();
        if (text) {
          body.amount_fen = fenOf(text);
          if (body.amount_fen === null) return flash("金额格式：元，最多两位小数", true);
        }
        await act(box.querySelector("button"), () => api("POST", `after-sales/${encodeURIComponent(ticket.case_no)}/compensate`, body),
          (r) => `${ticket.case_no}：已补偿 ${r.shown_to_buyer}`);
        route();
      } }, `${ticket.case_no}（${ticket.kind_label}）`, "方式", select("method", L.values.compensation_method, ""),
      "金额（元，空=默认）", input("amount", { size: 8 }), "备注", input("note"), el("button", {}, "补偿"));
      decide.replaceChildren(panel("售后补偿", box));
    };
    return [
      el("h2", {}, "售后"), stats ? panel("近 7 天", kv(stats)) : null, form, decide,
      table(list.tickets, {
        rowKey: "case_no",
        columns: ["case_no", "kind_label", "status_label", "order_no", "amount_fen", "reason", "created_at", "due_at", "overdue", "rating"],
        empty: "没有售后单：粉丝在对话中申请退货、退款或投诉后会出现在这里",
        actions: (row) => [
          ...(row.status === "open" ? [el("button", { type: "button", onclick: () => open(row, true) }, "同意"), " ",
            el("button", { type: "button", class: "danger", onclick: () => open(row, false) }, "拒绝"), " "] : []),
          ...(row.status === "reshipping" ? [el("button", { type: "button", onclick: () => ship(row) }, "发出换货"), " "] : []),
          el("button", { type: "button", class: "secondary", onclick: () => compensate(row) }, "补偿"),
        ],
      }),
    ];
  }

  async function members(params) {
    const openid = params.get("openid") || "";
    const lookup = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#members${query({ openid: lookup.openid.value.trim() })}`;
    } }, "粉丝 openid", input("openid", { value: openid, required: true, size: 32 }), el("button", {}, "查询"));
    let found = null;
    if (openid) {
      try {
        const member = await api("GET", `members/${encodeURIComponent(openid)}`);
        found = [panel("会员", kv(member, ["coupons"])), panel("优惠券", table(member.coupons, { values: { status: "coupon_status" }, empty: "这位会员还没有优惠券" }))];
      } catch (error) {
        if (error.status !== 404) throw error;
        found = el("p", { class: "muted empty" }, "没有这个会员或粉丝：检查 openid 是否完整（在订单详情里可以复制）");
      }
    }
    const [codes, gifts] = await Promise.all([api("GET", "qrcodes"), optional("gifts")]);
    const create = el("form", { class: "inline", onsubmit: async (event) => {
      event.preventDefault();
      const body = { purpose: create.purpose.value, name: create.name.value.trim() };
      if (create.referrer.value.trim()) body.referrer = create.referrer.value.trim();
      if (create.expire_seconds.value) body.expire_seconds = Number(create.expire_seconds.value);
      const out = create.querySelector(".out");
      out.replaceChildren();
      try {
        await act(create.querySelector("button"), () => api("POST", "qrcodes", body), (r) => `二维码已创建：${r.scene}`);
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "用途", select("purpose", { channel: "渠道码", referrer: "推荐码" }, "channel"), "名称", input("name", { required: true }),
    "推荐人 openid", input("referrer"), "有效期（秒，空=永久）", input("expire_seconds", { type: "number", min: 60, size: 8 }),
    el("button", {}, "创建"), el("div", { class: "out" }));
    return [
      el("h2", {}, "会员"), panel("查询会员", lookup), found,
      gifts ? panel("新人礼包", kv(gifts)) : null,
      panel("渠道与推荐二维码", table(codes.qrcodes, { rowKey: "scene", columns: ["scene", "purpose", "name", "referrer", "permanent", "expires_at", "created_at", "url"],
        empty: "还没有二维码：在下方填写名称后点“创建”" }), create),
    ];
  }

  async function outbox(params) {
    const filters = { status: params.get("status") || "", kind: params.get("kind") || "", openid: params.get("openid") || "" };
    const page = Number(params.get("page") || 1);
    const [stats, list] = await Promise.all([optional("outbox/stats"), optional(`outbox${query({ ...filters, page, per_page: 50 })}`)]);
    if (!list) return [el("h2", {}, "消息队列"), notAvailable("消息队列")];
    const form = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `#outbox${query({ status: form.status.value.trim(), kind: form.kind.value.trim(), openid: form.openid.value.trim() })}`;
    } }, "状态", select("status", L.values.notice_status, filters.status), "类型", select("kind", L.values.notice_kind, filters.kind),
    "粉丝 openid", input("openid", { value: filters.openid }), el("button", {}, "筛选"));
    const pages = Math.max(1, Math.ceil((list.total || 0) / (list.per_page || 50)));
    const to = (n) => `#outbox${query({ ...filters, page: n })}`;
    const doubt = stats ? stats.in_doubt || 0 : 0;
    // in doubt: nobody knows whether the follower got it; queueing it again may deliver it twice
    const inDoubt = el("p", { class: doubt ? "in-doubt warn" : "in-doubt muted" },
      `待确认：${doubt} 条`, doubt ? " — " : null,
      doubt ? el("a", { href: `#outbox${query({ status: "in_doubt" })}` }, "查看") : null,
      doubt ? "（先向顾客确认是否已收到，再决定是否重发）" : null);
    return [
      el("h2", {}, "消息队列"), inDoubt, stats ? panel("统计", outboxStats(stats)) : null, form,
      table(list.items, {
        rowKey: "id",
        columns: ["id", "openid", "kind", "priority", "status", "channel", "reason", "attempts", "created_at", "sent_at", "delivery_status"],
        values: { status: "notice_status" },
        empty: "没有符合条件的消息：下单、发货等事件会在这里排队发送",
        // Only a notice that did not go out, or may not have, can be queued again; one sent shows no button.
        actions: (row) => ["failed", "dropped", "in_doubt"].includes(row.status) ? el("button", { type: "button", class: "secondary", onclick: async (event) => {
          if (row.status === "in_doubt" && !window.confirm(`消息 ${row.id} 可能已送达，重发可能让顾客收到两次。确认重发？`)) return;
          await act(event.target, () => api("POST", `outbox/${encodeURIComponent(row.id)}/retry`), `消息 ${row.id} 已重新排队`);
          route();
        } }, "重试") : null,
      }),
      el("div", { class: "pager" }, page > 1 ? el("a", { href: to(page - 1) }, "上一页") : null,
        `第 ${page} / ${pages} 页，共 ${list.total} 条`, page < pages ? el("a", { href: to(page + 1) }, "下一页") : null),
    ];
  }

  function outboxStats(stats) {
    const counts = (codes, object) => Object.entries(object || {}).map(([code, n]) => `${codes[code] || label(code)} ${n}`).join("，");
    const quota = stats.template_quota || {};
    const age = stats.oldest_pending_age_s;
    return el("table", { class: "kv" }, el("tbody", {},
      el("tr", {}, el("th", {}, "按状态"), el("td", {}, counts(L.values.notice_status, stats.by_status) || "暂无")),
      el("tr", {}, el("th", {}, "按渠道"), el("td", {}, counts(L.values.channel, stats.by_channel) || "暂无")),
      el("tr", {}, el("th", {}, "今日模板消息额度"), el("td", {}, `已用 ${quota.used ?? 0} / ${quota.limit ?? "不限"}`)),
      el("tr", {}, el("th", {}, "最久待发"), el("td", {}, age === null || age === undefined ? "没有待发消息" : `${Math.floor(age / 60)} 分钟`))));
  }

  // ---- menu editor: WeChat's limits (from GET menu, bot.wechat.menu.LIMITS) checked as the operator types; the
  // server checks again with the CLI's build_menu before menu/create. --------------------------------------------

  const bytes = (text) => new TextEncoder().encode(text || "").length;

  // Problems of one button, by field ("name", "key", "url", "sub"), in Chinese.
  function menuProblems(button, top, limits, keys) {
    const out = {};
    const nameMax = top ? limits.top_name_bytes : limits.sub_name_bytes;
    const size = bytes(button.name);
    if (!size) out.name = "请填写名称";
    else if (size > nameMax) out.name = `名称 ${size} 字节，超出微信上限 ${nameMax} 字节（一个汉字 3 字节）`;
    const subs = button.sub_button || [];
    if (top && subs.length) {
      if (subs.length > limits.sub_buttons) out.sub = `子菜单最多 ${limits.sub_buttons} 个`;
      return out;
    }
    if (limits.key_types.includes(button.type)) {
      const n = bytes(button.key);
      if (!n) out.key = "请选择或填写菜单键";
      else if (n > limits.key_bytes) out.key = `菜单键 ${n} 字节，超出上限 ${limits.key_bytes} 字节`;
      else if (!(button.key in keys)) out.keyNote = "机器人不认识这个键：粉丝点击后会收到默认回复";
    } else if (limits.url_types.includes(button.type)) {
      const n = bytes(button.url);
      if (!/^https?:\/\//.test(button.url || "")) out.url = "请填写以 http:// 或 https:// 开头的网址";
      else if (n > limits.url_bytes) out.url = `网址 ${n} 字节，超出上限 ${limits.url_bytes} 字节`;
    }
    return out;
  }

  async function menu(params) {
    // A tag's personalised menu (?tag=NAME) is edited the same way; the selector switches between them.
    const tag = (params && params.get("tag")) || "";
    const data = await api("GET", `menu${query({ tag })}`);
    const { limits, keys } = data;
    const buttons = JSON.parse(JSON.stringify(data.menu.button || []));
    const editor = el("div", { class: "menu-editor", id: "menu-editor" });
    const phone = el("div", { class: "phone", id: "menu-preview" });
    const summary = el("p", { class: "muted", id: "menu-summary" });
    const out = el("div", { class: "out" });
    const publish = el("button", { type: "button", id: "menu-publish", onclick: async () => {
      if (!confirm(tag ? `发布后，带“${tag}”标签的粉丝会看到这个菜单。确认发布？` : "发布后，粉丝重新进入公众号时会看到新菜单。确认发布？")) return;
      out.replaceChildren();
      try {
        await act(publish, () => api("POST", `menu${query({ tag })}`, { button: buttons }),
          (r) => tag ? `“${tag}”个性化菜单已发布：${r.published} 个一级菜单` : `菜单已发布：${r.published} 个一级菜单`);
      } catch (error) {
        out.append(problems(error) || "");
      }
      check();
    } }, "发布菜单");
    const typeNames = L.values.menu_type;
    const types = [...limits.key_types, ...limits.url_types].filter((t) => typeNames[t]);

    // Re-checks every field and redraws the preview; inputs are kept (focus stays while typing).
    function check() {
      let count = 0;
      for (const node of editor.querySelectorAll("[data-problem]")) {
        const [i, j, field] = node.dataset.problem.split(":");
        const top = j === "";
        const button = top ? buttons[i] : buttons[i].sub_button[j];
        const found = button ? menuProblems(button, top, limits, keys) : {};
        node.textContent = found[field] || (field === "key" && found.keyNote) || "";
        node.className = found[field] ? "problem" : "note";
        if (found[field]) count += 1;
      }
      for (const node of editor.querySelectorAll("[data-bytes]")) {
        const [i, j] = node.dataset.bytes.split(":");
        const button = j === "" ? buttons[i] : buttons[i].sub_button[j];
        node.textContent = `${bytes(button.name)}/${j === "" ? limits.top_name_bytes : limits.sub_name_bytes} 字节`;
      }
      if (!buttons.length) count += 1;
      publish.disabled = count > 0;
      summary.textContent = !buttons.length ? "至少需要一个一级菜单：点“添加一级菜单”"
        : count ? `还有 ${count} 处需要修改，改好后才能发布` : "检查通过，可以发布";
      phone.replaceChildren(el("div", { class: "phone-screen" }, el("div", { class: "phone-title" }, "公众号"),
        el("div", { class: "phone-chat" }, el("span", { class: "muted" }, "菜单预览")),
        el("div", { class: "phone-bar" }, buttons.map((button) => el("div", { class: "phone-button" },
          (button.sub_button || []).length ? el("ul", { class: "phone-sub" }, button.sub_button.map((sub) => el("li", {}, sub.name || "（未命名）"))) : null,
          el("span", {}, (button.sub_button || []).length ? "≡ " : "", button.name || "（未命名）"))))));
    }

    function field(button, name, i, j, attrs) {
      return input(name, { value: button[name] || "", ...attrs, oninput: (event) => { button[name] = event.target.value; check(); } });
    }

    function action(button, i, j) {
      const kind = select("type", typeNames, button.type || "click");
      kind.querySelectorAll("option").forEach((option) => { if (!types.includes(option.value)) option.remove(); });
      kind.addEventListener("change", () => {
        button.type = kind.value;
        if (limits.url_types.includes(kind.value)) delete button.key; else delete button.url;
        draw();
      });
      const isUrl = limits.url_types.includes(button.type || "click");
      if (!button.type) button.type = "click";
      return el("span", { class: "row" }, "动作", kind,
        isUrl ? ["网址", field(button, "url", i, j, { size: 36, placeholder: "https://" })]
          : ["菜单键", field(button, "key", i, j, { list: "menu-keys", size: 14 })],
        el("span", { "data-problem": `${i}:${j}:${isUrl ? "url" : "key"}` }));
    }

    function draw() {
      const rows = buttons.map((button, i) => {
        const subs = button.sub_button || [];
        const head = el("div", { class: "row" }, `一级菜单 ${i + 1}`, field(button, "name", i, "", { size: 10 }),
          el("span", { class: "muted", "data-bytes": `${i}:` }), el("span", { "data-problem": `${i}::name` }),
          el("label", {}, el("input", { type: "checkbox", checked: subs.length > 0, onchange: (event) => {
            if (event.target.checked) {
              button.sub_button = [{ name: "", type: "click", key: "" }];
              delete button.type; delete button.key; delete button.url;
            } else {
              delete button.sub_button;
              button.type = "click";
            }
            draw();
          } }), " 有子菜单"),
          el("button", { type: "button", class: "danger", onclick: () => { buttons.splice(i, 1); draw(); } }, "删除"));
        const body = subs.length ? el("ol", { class: "subs" }, subs.map((sub, j) => el("li", {},
          el("div", { class: "row" }, "名称", field(sub, "name", i, j, { size: 14 }), el("span", { class: "muted", "data-bytes": `${i}:${j}` }),
            el("span", { "data-problem": `${i}:${j}:name` }),
            el("button", { type: "button", class: "danger", onclick: () => { subs.splice(j, 1); if (!subs.length) { delete button.sub_button; button.type = "click"; } draw(); } }, "删除")),
          action(sub, i, j))),
        subs.length < limits.sub_buttons ? el("li", { class: "add" }, el("button", { type: "button", class: "secondary",
          onclick: () => { subs.push({ name: "", type: "click", key: "" }); draw(); } }, "添加子菜单")) : null,
        el("span", { "data-problem": `${i}::sub` })) : action(button, i, "");
        return el("fieldset", { class: "menu-button", "data-index": i }, head, body);
      });
      editor.replaceChildren(...rows, buttons.length < limits.buttons ? el("button", { type: "button", class: "secondary",
        id: "menu-add", onclick: () => { buttons.push({ name: "", type: "click", key: "" }); draw(); } }, "添加一级菜单") : null,
      el("datalist", { id: "menu-keys" }, Object.keys(keys).map((key) => el("option", { value: key }, L.values.menu_key[key] || ""))));
      check();
    }
    draw();
    const sources = {
      wechat: "当前是公众号正在使用的菜单", config: tag ? "下面是配置文件中这个标签的菜单，修改后发布" : "公众号还没有菜单：下面是配置文件中的菜单，修改后发布",
      saved: "当前是这个标签已发布的个性化菜单", default: "这个标签还没有个性化菜单：下面从默认菜单开始，修改后发布",
    };
    const source = sources[data.source] || "";
    const selector = el("select", { id: "menu-tag", onchange: (e) => { location.hash = `#menu${query({ tag: e.target.value })}`; } },
      el("option", { value: "" }, "默认菜单"),
      (data.tags || []).map((name) => el("option", { value: name, selected: name === tag }, `标签：${name}`)));
    return [el("h2", {}, "自定义菜单"),
      el("p", { class: "row" }, el("label", {}, "编辑 ", selector), el("span", { class: "muted" }, " 个性化菜单只给带这个微信标签的粉丝看（标签由会员等级和同步到标签的人群而来）")),
      el("p", { class: "muted" }, `${source}。最多 ${limits.buttons} 个一级菜单、每个最多 ${limits.sub_buttons} 个子菜单；一级菜单名称不超过 ${limits.top_name_bytes} 字节（约 5 个汉字），子菜单不超过 ${limits.sub_name_bytes} 字节。`),
      el("div", { class: "menu-layout" }, panel("编辑", editor, summary, el("div", { class: "row" }, publish), out), panel("手机预览", phone))];
  }

  // ---- accounts (admins), the audit log (admins), one's own password (everyone) ----------------------------

  const ROLES = () => L.values.role;

  async function accounts() {
    const data = await api("GET", "operators");
    const out = el("div", { class: "out" });
    const create = el("form", { class: "inline", id: "account-form", onsubmit: async (event) => {
      event.preventDefault();
      const body = { username: create.username.value.trim(), password: create.password.value, role: create.role.value };
      out.replaceChildren();
      try {
        await act(create.querySelector("button"), () => api("POST", "operators", body), (r) => `账号 ${r.username} 已创建，首次登录需修改密码`);
        route();
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "账号", input("username", { required: true, size: 12, autocomplete: "off" }),
    "初始密码", input("password", { type: "password", required: true, size: 14, autocomplete: "new-password" }),
    "角色", select("role", ROLES(), "operator"), el("button", {}, "新建账号"), out);
    const change = (row, body, done) => async (event) => {
      await act(event.target, () => api("PATCH", `operators/${encodeURIComponent(row.username)}`, body), done);
      route();
    };
    const reset = (row) => {
      const box = el("form", { class: "inline reset-form", onsubmit: async (event) => {
        event.preventDefault();
        await act(box.querySelector("button"), () => api("POST", `operators/${encodeURIComponent(row.username)}/reset-password`,
          { password: box.password.value }), `${row.username} 的密码已重置，下次登录需修改`);
        route();
      } }, input("password", { type: "password", required: true, size: 14, placeholder: "新的临时密码", autocomplete: "new-password" }),
      el("button", { class: "secondary" }, "确认重置"));
      return box;
    };
    const rows = data.operators.map((u) => ({ username: u.username, role: u.role, disabled: u.disabled,
      must_change_password: u.must_change_password, created_at: u.created_at }));
    return [el("h2", {}, "账号管理"),
      el("p", { class: "muted" }, "管理员可管理账号和查看操作记录；运营可处理订单、商品和营销；只读账号只能查看。"),
      panel("新建账号", create),
      panel(`账号（${rows.length} 个）`, table(rows, { columns: ["username", "role", "disabled", "must_change_password", "created_at"],
        rowKey: "username", empty: "还没有账号：用上面的表单新建",
        actions: (row) => row.username === state.user ? el("span", { class: "muted" }, "当前登录") : [
          el("select", { class: "role-select", "aria-label": "角色", onchange: async (event) => {
            await act(event.target, () => api("PATCH", `operators/${encodeURIComponent(row.username)}`, { role: event.target.value }),
              `${row.username} 的角色已改为${ROLES()[event.target.value]}`);
            route();
          } }, Object.entries(ROLES()).map(([key, text]) => el("option", { value: key, selected: key === row.role }, text))), " ",
          row.disabled ? el("button", { type: "button", onclick: change(row, { disabled: false }, `${row.username} 已启用`) }, "启用")
            : el("button", { type: "button", class: "danger", onclick: change(row, { disabled: true }, `${row.username} 已停用`) }, "停用"),
          " ", reset(row)] }))];
  }

  function auditRows(entries) {
    return entries.map((e) => ({ at: e.at, username: e.username, role: e.role,
      action: L.actions[`${e.method} ${e.route}`] || "其他操作", target: e.target.replace(/([\w]+)=/g, (_, key) => `${label(key)} `),
      summary: e.summary.replace(/(^|, )([\w]+)=/g, (_, sep, key) => `${sep}${label(key)}：`), result: e.status < 400 ? "成功" : `失败（${e.status}）` }));
  }

  async function audit(params) {
    const filters = { user: params.get("user") || "", since: params.get("since") || "", until: params.get("until") || "" };
    const form = el("form", { class: "inline", onsubmit: (event) => {
      event.preventDefault();
      location.hash = `audit${query({ user: form.user.value.trim(), since: form.since.value, until: form.until.value })}`;
    } }, "账号", input("user", { value: filters.user, size: 12 }), "从", input("since", { type: "date", value: filters.since }),
    "到", input("until", { type: "date", value: filters.until }), el("button", {}, "筛选"));
    const columns = ["at", "username", "role", "action", "target", "summary", "result"];
    const first = await api("GET", `audit${query({ ...filters, limit: 50 })}`);
    let entries = first.entries;
    let next = first.next_before_id;
    const holder = el("div", { id: "audit-list" });
    const more = el("button", { type: "button", class: "secondary", onclick: async () => {
      const page = await act(more, () => api("GET", `audit${query({ ...filters, limit: 50, before_id: next })}`));
      entries = entries.concat(page.entries);
      next = page.next_before_id;
      draw();
    } }, "更多");
    const draw = () => {
      holder.replaceChildren(table(auditRows(entries), { columns, empty: "还没有操作记录：后台的每次修改都会记在这里" }));
      more.hidden = next === null;
    };
    draw();
    return [el("h2", {}, "操作记录"), el("p", { class: "muted" }, "后台每一次修改（谁、什么角色、做了什么、何时、结果）；密码等敏感内容不记录。"),
      panel(null, form), holder, more];
  }

  async function password() {
    const out = el("div", { class: "out" });
    const form = el("form", { class: "inline", id: "password-form", onsubmit: async (event) => {
      event.preventDefault();
      if (form.new_password.value !== form.repeat.value) return flash("两次输入的新密码不一致", true);
      out.replaceChildren();
      try {
        await act(form.querySelector("button"), () => api("POST", "password",
          { old_password: form.old_password.value, new_password: form.new_password.value }), "密码已修改");
        state.mustChange = false;
        location.hash = "dashboard";
      } catch (error) {
        out.append(problems(error) || "");
      }
    } }, "当前密码", input("old_password", { type: "password", required: true, autocomplete: "current-password" }),
    "新密码", input("new_password", { type: "password", required: true, autocomplete: "new-password" }),
    "再输一次", input("repeat", { type: "password", required: true, autocomplete: "new-password" }),
    el("button", {}, "修改密码"), out);
    return [el("h2", {}, "修改密码"),
      state.mustChange ? el("p", { class: "warn", id: "must-change" }, "管理员重置了您的密码：请先设置自己的新密码，之后才能使用后台。") : null,
      el("p", { class: "muted" }, "新密码至少 10 个字符，至少 4 种不同的字符，不能包含账号名。"), panel(null, form)];
  }

  // A viewer (只读) sees no button or form that would change something: the server refuses those anyway.
  const READ_BUTTONS = new Set(["更多", "筛选", "查询", "测试", "取消", "修改密码"]);
  function readOnly(root) {
    if (state.role !== "viewer") return;
    for (const button of root.querySelectorAll("button")) {
      if (READ_BUTTONS.has(button.textContent.trim())) continue;
      const holder = button.closest("form") || button;
      if (holder.querySelector && [...holder.querySelectorAll("button")].some((b) => READ_BUTTONS.has(b.textContent.trim()))) button.hidden = true;
      else holder.hidden = true;
    }
  }

  // ---- routing ----------------------------------------------------------------------------------------------

  const VIEWS = { dashboard, orders, products, keywords, inbox, "after-sales": afterSales, members, coupons, segments, campaigns, outbox, menu,
    accounts, audit, password };
  const DETAILS = { order, product };

  let routing = 0;  // a view still loading when the operator moves on must not replace the newer one

  async function route() {
    const turn = ++routing;
    const hash = state.mustChange ? "password" : location.hash.replace(/^#/, "") || "dashboard";
    const [path, search] = hash.split("?");
    const [name, ...rest] = path.split("/");
    const params = new URLSearchParams(search || "");
    const arg = decodeURIComponent(rest.join("/"));
    const view = DETAILS[name] && arg ? () => DETAILS[name](arg) : VIEWS[name] || dashboard;
    const section = DETAILS[name] ? `${name}s` : name;
    for (const link of document.querySelectorAll("#nav a")) link.classList.toggle("active", link.dataset.view === section);
    document.body.dataset.view = name;
    document.body.dataset.ready = "false";
    try {
      const content = await view(params);
      if (turn !== routing) return;
      for (const box of main.querySelectorAll(".chart")) if (window.echarts) window.echarts.dispose(box);
      main.replaceChildren(...[content].flat(Infinity).filter(Boolean));
      readOnly(main);
      drawCharts();
    } catch (error) {
      if (turn !== routing) return;
      main.replaceChildren(el("p", { class: "error" }, `加载失败：${error.message}`), problems(error) || "");
    } finally {
      if (turn === routing) document.body.dataset.ready = "true";
    }
  }

  async function start() {
    const labels = await fetch("/admin/static/labels.json", { credentials: "same-origin" });
    L = await labels.json();
    const session = await api("GET", "session");
    state.csrf = session.csrf_token;
    state.user = session.username;
    state.role = session.role;
    state.mustChange = session.must_change_password;
    document.body.dataset.role = session.role || "";
    document.getElementById("user").textContent = state.user || "";
    document.getElementById("role").textContent = session.role_label ? `（${session.role_label}）` : "";
    for (const link of document.querySelectorAll("#nav a[data-role=admin]")) link.hidden = session.role !== "admin";
    if (state.role === "viewer") new MutationObserver(() => readOnly(main)).observe(main, { childList: true, subtree: true });
    document.getElementById("logout").addEventListener("click", async () => {
      await fetch("/admin/logout", { method: "POST", headers: { "X-CSRF-Token": state.csrf }, credentials: "same-origin" });
      location.assign("/admin/login");
    });
    window.addEventListener("hashchange", route);
    await route();
  }

  start().catch((error) => {
    main.replaceChildren(el("p", { class: "error" }, `加载失败：${error.message}`));
  });
})();
