/* riskmgr shared helpers: API calls with the CSRF token, number and time formatting, the state banner. */
"use strict";

const RM = (() => {
  const tz = document.body.dataset.displayTz || "UTC";
  const csrf = document.querySelector('meta[name="csrf-token"]')?.content || "";

  // Connection listeners (liveness.js): told after every call whether the server answered.
  const connectionListeners = [];
  function onConnection(fn) { connectionListeners.push(fn); }
  function notifyConnection(ok, reason, res) {
    connectionListeners.forEach((fn) => { try { fn(ok, reason, res); } catch (e) { console.warn("connection listener failed", e); } });
  }

  async function api(path, { method = "GET", body = undefined } = {}) {
    const opts = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRFToken"] = csrf;
    let res;
    try {
      res = await fetch(path, opts);
    } catch (e) {  // the server did not answer at all: say so (banner), never an uncaught "Failed to fetch"
      const reason = `the server did not answer (${e && e.message ? e.message : e})`;
      notifyConnection(false, reason, null);
      return { ok: false, status: 0, data: { error: "connection lost", detail: reason } };
    }
    const gatewayDown = res.status === 502 || res.status === 504;  // a proxy in front answered for a dead server
    notifyConnection(!gatewayDown, gatewayDown ? `the server is unreachable (HTTP ${res.status})` : null, res);
    let data = null;
    try { data = await res.json(); } catch (e) { data = { error: `HTTP ${res.status}`, detail: res.statusText }; }
    if (res.status === 401 && !path.startsWith("/login")) { window.location.href = "/login?next=" + encodeURIComponent(location.pathname); }
    return { ok: res.ok, status: res.status, data };
  }

  // numbers through static/js/format.js: decimal strings are rounded as text, never through float
  function num(value, digits = 2) { return FMT.decimal(value, digits); }

  function price(value, tick = null) { return FMT.price(value, tick); }

  function qty(value) { return FMT.qty(value); }

  function signed(value, digits = 2, suffix = "") {
    if (value === null || value === undefined) return { text: "—", cls: "" };
    const n = Number(value);
    const text = num(value, digits);
    return { text: (n > 0 && text !== "—" ? "+" : "") + text + suffix, cls: n > 0 ? "pos" : n < 0 ? "neg" : "" };
  }

  // one date format everywhere (format.js): "2026-12-02 14:40:53 UTC"
  function time(iso) { return FMT.time(iso); }
  function dateTime(iso) { return FMT.dateTime(iso); }

  function setBanner(status) {
    const el = document.getElementById("state-banner");
    if (!el || !status) return;
    el.className = `state-banner state-${status.state.toLowerCase()}`;
    el.dataset.state = status.state;
    document.getElementById("state-banner-state").textContent = `Trading ${status.state}`;
    document.getElementById("state-banner-reason").textContent =
      status.state === "ACTIVE" ? "" : ` — ${status.reason} (since ${time(status.changed_at)} by ${status.changed_by})`;
  }

  return { api, num, price, qty, signed, time, dateTime, setBanner, tz, onConnection };  // markup: RM.html (dom.js)
})();
