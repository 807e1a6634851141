/* The emergency stop: the confirm dialog behind the red button on every page, and the live panel on /emergency. */
"use strict";

(() => {
  const STATUS_BADGE = { running: "warning", flat: "success", left_open: "danger", none: "secondary" };
  const STATUS_TEXT = { running: "RUNNING", flat: "FLAT", left_open: "LEFT OPEN", none: "none yet" };
  const STEP_BADGE = { pending: "secondary", running: "warning", done: "success", failed: "danger" };

  // -- the confirm dialog -------------------------------------------------------------------------------
  function setUpDialog() {
    const modal = document.getElementById("emergency-modal");
    const form = document.getElementById("emergency-form");
    if (!modal || !form) return;
    document.body.appendChild(modal); // out of the navbar, so a collapsed menu cannot hide it
    const reason = document.getElementById("emergency-reason");
    const error = document.getElementById("emergency-error");
    const confirm = document.getElementById("emergency-confirm");

    modal.addEventListener("show.bs.modal", () => {
      reason.classList.remove("is-invalid");
      error.classList.add("d-none");
      confirm.disabled = false;
      showExposure();
    });
    modal.addEventListener("shown.bs.modal", () => reason.focus());

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const text = reason.value.trim();
      if (!text) {
        reason.classList.add("is-invalid");
        reason.focus();
        return;
      }
      confirm.disabled = true;
      confirm.textContent = "Starting…";
      const res = await RM.api("/api/emergency-stop", { method: "POST", body: { reason: text } });
      if (res.ok) {
        window.location.href = "/emergency";
        return;
      }
      const detail = res.data && res.data.detail;
      error.textContent = `Not started: ${detail && detail.message ? detail.message : (detail || res.data.error)}`;
      error.classList.remove("d-none");
      confirm.disabled = false;
      confirm.textContent = "Flatten every account now";
    });
  }

  async function showExposure() {
    const el = document.getElementById("emergency-exposure");
    el.textContent = "Checking what is open…";
    const res = await RM.api("/api/snapshot");
    if (!res.ok) {
      el.textContent = "Could not read the current positions; the stop still acts on every account.";
      return;
    }
    const parts = res.data.accounts.map((a) => {
      const n = a.positions.length;
      const orders = a.orders.length;
      const stale = a.status !== "ok" ? ` (data ${a.status}${a.fetched_at ? " since " + RM.time(a.fetched_at) : ""})` : "";
      return `${a.name}: ${n} position(s), ${orders} open order(s)${stale}`;
    });
    const total = res.data.accounts.reduce((sum, a) => sum + a.positions.length, 0);
    RM.fill(el, RM.html`<strong>${total} position(s) will be closed.</strong> As of the last poll — ${parts.join("; ")}.`);
  }

  // -- the live panel -----------------------------------------------------------------------------------
  let shownId = null; // null: follow the running / latest sequence
  let running = false; // the shown sequence is still running: followed every second

  function fmtSeconds(s) { return s === null || s === undefined ? "—" : `${Number(s).toFixed(2)} s`; }

  function setText(id, text) { document.getElementById(id).textContent = text; }

  function rows(tbody, items, cols, empty) {
    RM.fill(document.querySelector(`${tbody} tbody`),
      RM.join(items) || RM.html`<tr><td colspan="${cols}" class="text-body-secondary">${empty}</td></tr>`);
  }

  function renderHeader(v) {
    const badge = document.getElementById("em-status");
    badge.className = `badge text-bg-${STATUS_BADGE[v.status] || "secondary"}`;
    badge.textContent = STATUS_TEXT[v.status] || v.status;
    if (v.id === null) return;
    setText("em-title", `Sequence #${v.id} — ${v.trigger} by ${v.actor}${v.resumed ? ` (resumed ${v.resumed}×)` : ""}`);
    setText("em-times", `started ${RM.dateTime(v.started_at)}` +
      (v.finished_at ? `, finished ${RM.dateTime(v.finished_at)} (${fmtSeconds(v.duration_s)})` : ""));
    setText("em-reason", `Reason: ${v.reason}`);
    setText("em-summary", v.summary || (v.running ? "Running…" : ""));
    const done = v.steps.filter((s) => s.status === "done" || s.status === "failed").length;
    const bar = document.getElementById("em-progress-bar");
    bar.style.width = `${(done / v.steps.length) * 100}%`;
    bar.textContent = `${done} / ${v.steps.length} steps`;
    bar.className = "progress-bar" + (v.running ? " progress-bar-striped progress-bar-animated bg-warning"
      : v.status === "flat" ? " bg-success" : " bg-danger");
    document.getElementById("em-progress").setAttribute("aria-valuenow", String(done));
  }

  function renderSteps(v) {
    rows("#em-steps", v.steps.map((s) => {
      const progress = s.progress.total ? `${s.progress.done} / ${s.progress.total}` : "";
      return RM.html`<tr data-step="${s.number}"><td>${s.number}</td><td>${s.title}</td>
        <td><span class="badge text-bg-${STEP_BADGE[s.status] || "secondary"}">${s.status}</span></td>
        <td class="small">${RM.time(s.started_at)}</td><td class="small">${RM.time(s.finished_at)}</td>
        <td class="text-end num">${fmtSeconds(s.duration_s)}</td><td class="text-end num">${progress}</td>
        <td class="small">${s.detail || ""}</td></tr>`;
    }), 8, "Nothing to show.");
  }

  function renderOpen(v) {
    const finished = !v.running && v.id !== null;
    const list = finished ? (v.left_open || []) : v.open_positions;
    setText("em-open-title", finished ? "Left open when the sequence ended" : "Still open (latest re-read)");
    const empty = v.id === null ? "Nothing to show." : finished ? "Nothing: every account was verified flat."
      : "Nothing open at the latest re-read.";
    rows("#em-open", list.map((p) => {
      const pnl = RM.signed(p.unrealized_pnl);
      return RM.html`<tr class="${finished ? "table-danger" : ""}"><td>${p.account || "all"}</td>
        <td>${p.symbol || "—"}</td><td>${p.side || "—"}</td>
        <td class="text-end num">${RM.qty(p.size)}</td><td class="text-end num">${RM.price(p.entry_price)}</td>
        <td class="text-end num">${RM.price(p.mark_price)}</td><td class="text-end num ${pnl.cls}">${pnl.text}</td>
        <td class="small">${p.reason}</td></tr>`;
    }), 8, empty);
  }

  function renderOrders(v) {
    const failed = v.orders.filter((o) => !o.ok).length;
    setText("em-orders-count", v.orders.length ? `${v.orders.length} action(s), ${failed} failed (retried where it matters)` : "");
    rows("#em-orders", v.orders.map((o) => RM.html`<tr class="${o.ok ? "" : "table-warning"}">
        <td>${o.step}</td><td class="small">${RM.time(o.at)}</td><td>${o.account}</td>
        <td>${o.action}</td><td>${o.symbol || ""}</td><td>${o.side || ""}</td>
        <td class="text-end">${o.attempt}</td>
        <td><span class="badge text-bg-${o.ok ? "success" : "danger"}">${o.ok ? "ok" : "failed"}</span></td>
        <td class="small">${o.order_id || ""}</td><td class="small">${o.message}</td></tr>`),
      10, "No exchange action yet.");
  }

  function renderHistory(v) {
    rows("#em-history", v.history.map((h) => RM.html`<tr role="button" data-id="${h.id}" class="${h.id === v.id ? "table-active" : ""}">
        <td>${h.id}</td><td><span class="badge text-bg-${STATUS_BADGE[h.status] || "secondary"}">${STATUS_TEXT[h.status] || h.status}</span></td>
        <td>${h.trigger}</td><td>${h.actor}</td><td class="small">${h.reason}</td>
        <td class="small">${RM.dateTime(h.started_at)}</td><td class="text-end num">${fmtSeconds(h.duration_s)}</td>
        <td class="text-end">${h.left_open === null ? "—" : h.left_open}</td></tr>`),
      8, "No emergency stop has run yet.");
  }

  async function refresh() {
    const path = shownId === null ? "/api/emergency-stop" : `/api/emergency-stop/${shownId}`;
    const res = await RM.api(path);
    const note = document.getElementById("em-refresh");
    running = false;
    if (res.ok) {
      const v = res.data;
      running = Boolean(v.running);
      renderHeader(v);
      renderSteps(v);
      renderOpen(v);
      renderOrders(v);
      renderHistory(v);
      note.textContent = `updated ${RM.time(v.generated_at || new Date().toISOString())}`;
      note.className = "small text-body-secondary";
      refreshBanner();
    } else {
      note.textContent = `could not refresh (${res.data.error}); retrying`;
      note.className = "small error-note";
    }
    return res.ok;
  }

  async function refreshBanner() {
    const res = await RM.api("/api/snapshot");
    if (res.ok) RM.setBanner(res.data.trading_state);
  }

  function setUpPanel() {
    if (!document.getElementById("emergency-panel")) return;
    document.querySelector("#em-history tbody").addEventListener("click", (event) => {
      const row = event.target.closest("tr[data-id]");
      if (!row) return;
      // the newest row means "follow whatever runs next"; an older one pins that sequence
      shownId = row === row.parentElement.firstElementChild ? null : Number(row.dataset.id);
      poller.now();
    });
    // a running sequence is followed every second, an idle page every five
    const poller = RM.poll(refresh, { every: () => (running ? 1000 : 5000) });
  }

  setUpDialog();
  setUpPanel();
})();
