/* Position controls on the dashboard: move stop / target (or the stop to break-even), partial close, close with
   its fill price and realized P&L, cancel one order; per-account "pause new entries" and the auto-trading switch.
   Every action goes through the order gate on the server; this file only asks, confirms and reports. */
"use strict";

const RMControls = (() => {
  const closing = new Map();  // "account|symbol|side" -> "closing…" while a close is in flight, then "closed"
  let current = null;  // the position the panel is open for
  const $ = (id) => document.getElementById(id);

  function show(text, kind) {
    const box = $("controls-message");
    if (!box) return;
    box.className = `alert alert-${kind}`;
    box.textContent = text;
  }

  function detail(data) {
    const d = data && data.detail;
    if (d && typeof d === "object") return `${d.field}: ${d.message}`;
    return d || (data && data.error) || "no answer";
  }

  async function call(path, options) {
    try {
      return await RM.api(path, options);
    } catch (err) {  // the server did not answer at all: nothing is known to have happened
      return { ok: false, status: 0, data: { error: "connection failed", detail: `no answer from the server (${err.message}); check the positions before trying again` } };
    }
  }

  function attrs(a, p) {
    return [["account", a.name], ["symbol", p.symbol], ["side", p.side], ["size", p.size], ["entry", p.entry_price],
      ["mark", p.mark_price], ["stop", p.stop_loss.price], ["target", p.take_profit.price]]
      .map(([k, v]) => RM.html`data-${k}="${v === null || v === undefined ? "" : v}"`).reduce((all, one) => RM.html`${all} ${one}`);
  }

  function positionActions(a, p) {
    if (a.status !== "ok") return RM.html`<span class="small text-body-secondary">controls wait for live data</span>`;
    const data = attrs(a, p);
    return RM.html`<button type="button" class="btn btn-sm btn-outline-info pc-open" ${data}>Stop / target / part</button><button type="button" class="btn btn-sm btn-outline-danger close-pos" ${data}>Close</button>`;
  }

  function orderActions(a, o) {
    if (a.status !== "ok") return "";
    const what = `${o.type.replace("_", " ")} ${o.side} ${o.symbol}${o.trigger_price ? " @ " + o.trigger_price : o.price ? " @ " + o.price : ""}`;
    const title = o.type === "stop_market" ? "the last stop-loss of an open position is refused: move it instead" : "cancel this order";
    return RM.html`<button type="button" class="btn btn-sm btn-outline-secondary pc-cancel" title="${title}" data-account="${a.name}"
      data-id="${o.id}" data-what="${what}">Cancel</button>`;
  }

  function afterRender(snap) {
    for (const [key, text] of closing) {
      const row = document.querySelector(`#positions-table tr[data-key="${CSS.escape(key)}"]`);
      if (!row) { if (text !== "closing…") closing.delete(key); continue; }
      row.classList.add("closing");
      row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
      const cell = row.querySelector(".pos-actions");
      if (cell) cell.prepend(RM.fragment(RM.html`<span class="badge text-bg-warning me-1 closing-note">${text}</span>`));
    }
    if (current) {
      const key = `${current.account}|${current.symbol}|${current.side}`;
      const live = snap.accounts.find((a) => a.name === current.account);
      const p = live && live.positions.find((x) => x.symbol === current.symbol && x.side === current.side);
      if (!p) { if (!closing.has(key)) closePanel(); } else { current = { ...current, size: p.size, mark: p.mark_price, stop: p.stop_loss.price, target: p.take_profit.price }; summary(); }
    }
    loadSwitches();
  }

  function summary() {
    const c = current;
    $("pc-title").textContent = `${c.side} ${c.symbol} on ${c.account}`;
    $("pc-summary").textContent = `size ${RM.qty(c.size)} · entry ${RM.price(c.entry)} · mark ${RM.price(c.mark)} · ` +
      `stop ${c.stop ? RM.price(c.stop) : "none"} · target ${c.target ? RM.price(c.target) : "none"}`;
  }

  function openPanel(btn) {
    current = { ...btn.dataset };
    summary();
    $("pc-stop").value = current.stop || "";
    $("pc-target").value = current.target || "";
    $("pc-qty").value = "";
    $("position-controls-panel").classList.remove("d-none");
    $("position-controls-panel").scrollIntoView({ block: "nearest" });
  }

  function closePanel() {
    current = null;
    $("position-controls-panel").classList.add("d-none");
  }

  function where() {
    return { account: current.account, symbol: current.symbol, side: current.side };
  }

  async function act(button, path, body, verb) {
    button.disabled = true;
    show(`${verb}…`, "secondary");
    const res = await call(path, { method: "POST", body });
    button.disabled = false;
    show(res.ok ? res.data.message : `${verb} not done: ${detail(res.data)}`, res.ok ? "success" : "danger");
    if (res.ok && current && "new_stop" in res.data) {  // the levels now resting, before the next poll shows them
      current = { ...current, stop: res.data.new_stop, target: res.data.new_target };
      $("pc-stop").value = res.data.new_stop || "";
      $("pc-target").value = res.data.new_target || "";
      summary();
    }
    if (window.RMDashboard) window.RMDashboard.refresh();
    return res;
  }

  async function closePosition(btn) {
    const { account, symbol, side, size } = btn.dataset;
    if (!window.confirm(`Close the whole ${side} ${RM.qty(size)} ${symbol} on ${account} at market (reduce-only)?`)) return;
    const key = `${account}|${symbol}|${side}`;
    closing.set(key, "closing…");
    const row = btn.closest("tr");
    row.classList.add("closing");
    row.querySelectorAll("button").forEach((b) => { b.disabled = true; });
    btn.before(RM.fragment(RM.html`<span class="badge text-bg-warning me-1 closing-note">closing…</span>`));
    show(`closing the ${side} ${symbol} on ${account}…`, "secondary");
    const res = await call("/api/positions/close", { method: "POST", body: { account, symbol, side } });
    if (res.ok) {
      closing.set(key, "closed");
      show(res.data.message, "success");
    } else {
      closing.delete(key);
      show(`${side} ${symbol} not closed: ${detail(res.data)}`, "danger");
    }
    if (window.RMDashboard) window.RMDashboard.refresh();
  }

  async function cancelOrder(btn) {
    const { account, id, what } = btn.dataset;
    if (!window.confirm(`Cancel ${what} (order ${id}) on ${account}?`)) return;
    btn.disabled = true;
    const res = await call(`/api/orders/${encodeURIComponent(id)}?account=${encodeURIComponent(account)}`, { method: "DELETE" });
    show(res.ok ? res.data.message : `not cancelled: ${detail(res.data)}`, res.ok ? "success" : "danger");
    btn.disabled = false;
    if (window.RMDashboard) window.RMDashboard.refresh();
  }

  // -- account switches -------------------------------------------------------------------------------------
  function switchRow(v) {
    const name = v.account;
    const entries = v.entries_paused
      ? RM.html`<span class="badge text-bg-warning">PAUSED</span> <span class="small">${v.entries_reason || ""} (by ${v.entries_changed_by}, ${RM.dateTime(v.entries_changed_at)})</span>`
      : RM.html`<span class="badge text-bg-success">allowed</span>`;
    const auto = RM.html`<span class="badge text-bg-${v.auto_trading ? "info" : "secondary"}">${v.auto_trading ? "on" : "off"}</span> <span class="small">${v.auto_trading_reason}</span>`;
    return RM.html`<tr data-account="${name}"><td>${name} <span class="small text-body-secondary">${v.mode}</span></td>
      <td data-label="New entries">${entries}</td><td data-label="Auto-trading">${auto}</td><td class="text-nowrap">
      <button type="button" class="btn btn-sm btn-outline-warning pc-pause" data-account="${name}" data-paused="${v.entries_paused ? "false" : "true"}">${v.entries_paused ? "Resume entries" : "Pause new entries"}</button>
      <button type="button" class="btn btn-sm btn-outline-info pc-auto" data-account="${name}" data-enabled="${v.auto_trading ? "off" : "on"}">Auto-trading ${v.auto_trading ? "off" : "on"}</button>
      ${v.auto_trading_switch ? RM.html`<button type="button" class="btn btn-sm btn-link pc-auto" data-account="${name}" data-enabled="default" title="back to AUTO_TRADE_PAPER / AUTO_TRADE_LIVE">use default</button>` : ""}</td></tr>`;
  }

  function setBannerNotes(notes) {
    const box = $("state-banner-switches");
    if (box) RM.fill(box, notes.map((n) => RM.html`<span class="badge text-bg-warning ms-2">${n}</span>`));
  }

  async function loadSwitches() {
    const table = $("account-controls");
    if (!table) return;
    const res = await call("/api/accounts/controls");
    if (!res.ok) return;
    RM.fill(table.querySelector("tbody"), RM.join(res.data.accounts.map(switchRow)) ||
      RM.html`<tr><td colspan="4" class="text-body-secondary">No accounts configured.</td></tr>`);
    setBannerNotes(res.data.notes);
  }

  async function toggle(btn, path, body, verb) {
    btn.disabled = true;
    const res = await call(path, { method: "POST", body });
    show(res.ok ? `${verb} on ${btn.dataset.account}` : `${verb} not done: ${detail(res.data)}`, res.ok ? "success" : "danger");
    loadSwitches();
  }

  function wire() {
    const positions = $("positions-table");
    if (!positions) return;
    positions.addEventListener("click", (ev) => {
      const close = ev.target.closest("button.close-pos");
      if (close) { closePosition(close); return; }
      const open = ev.target.closest("button.pc-open");
      if (open) openPanel(open);
    });
    $("orders-table").addEventListener("click", (ev) => {
      const btn = ev.target.closest("button.pc-cancel");
      if (btn) cancelOrder(btn);
    });
    $("account-controls").addEventListener("click", (ev) => {
      const pause = ev.target.closest("button.pc-pause");
      if (pause) {
        const paused = pause.dataset.paused === "true";
        toggle(pause, `/api/accounts/${encodeURIComponent(pause.dataset.account)}/entries`, { paused },
          paused ? "new entries paused" : "new entries resumed");
      }
      const auto = ev.target.closest("button.pc-auto");
      if (auto) {
        toggle(auto, `/api/accounts/${encodeURIComponent(auto.dataset.account)}/auto-trading`, { enabled: auto.dataset.enabled },
          `auto-trading switched ${auto.dataset.enabled}`);
      }
    });
    $("pc-close-panel").addEventListener("click", closePanel);
    $("pc-move-stop").addEventListener("click", (ev) =>
      act(ev.currentTarget, "/api/positions/protection", { ...where(), stop_loss: $("pc-stop").value.trim() }, "stop move"));
    $("pc-break-even").addEventListener("click", (ev) =>
      act(ev.currentTarget, "/api/positions/protection", { ...where(), break_even: true }, "stop to break-even"));
    $("pc-move-target").addEventListener("click", (ev) =>
      act(ev.currentTarget, "/api/positions/protection", { ...where(), take_profit: $("pc-target").value.trim() }, "target move"));
    $("pc-partial").addEventListener("click", (ev) => {
      const pct = $("pc-percent").value.trim();
      if (!window.confirm(`Close ${pct} % of the ${current.side} ${current.symbol} on ${current.account} at market (reduce-only)?`)) return;
      act(ev.currentTarget, "/api/positions/partial-close", { ...where(), percent: pct }, "partial close");
    });
    $("pc-partial-qty").addEventListener("click", (ev) => {
      const qty = $("pc-qty").value.trim();
      if (!window.confirm(`Close ${qty} of the ${current.side} ${current.symbol} on ${current.account} at market (reduce-only)?`)) return;
      act(ev.currentTarget, "/api/positions/partial-close", { ...where(), qty }, "partial close");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire); else wire();
  return { positionActions, orderActions, afterRender, loadSwitches };
})();
window.RMControls = RMControls;  // dashboard.js renders the rows and asks for their buttons
