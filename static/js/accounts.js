/* Accounts page: every account with its status and data age, the sum, unprotected positions, the self-test. */
"use strict";

(() => {
  const status = document.getElementById("accounts-status");
  const pollMs = Math.max(2, Number(status.dataset.pollSeconds || 5)) * 1000;
  const modalEl = document.getElementById("selftest-modal");
  const modal = new bootstrap.Modal(modalEl);
  let pendingAccount = null;
  let running = false;

  function duration(seconds) {
    if (seconds === null || seconds === undefined) return "—";
    if (seconds < 60) return `${seconds} s`;
    if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
    return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
  }

  function accountRow(a) {
    const badge = { ok: "success", stale: "warning", error: "danger" }[a.status] || "secondary";
    const upnl = RM.signed(a.unrealized_pnl);
    const stale = a.status !== "ok";
    const age = a.fetched_at
      ? RM.html`<span title="${RM.dateTime(a.fetched_at)}">${duration(a.data_age_seconds)}</span>`
      : RM.html`<span class="error-note">never read</span>`;
    const error = a.error
      ? RM.html`<span class="${a.status === "error" ? "error-note" : "stale-note"}">${stale && a.fetched_at ? `stale since ${RMLive.since(a.fetched_at)} — ` : ""}${a.error}</span>` : "";
    const unprotected = a.unprotected ? RM.html` <span class="badge text-bg-danger">${a.unprotected} unprotected</span>` : "";
    const button = RM.html`<button class="btn btn-sm btn-outline-primary selftest" data-account="${a.name}"
      ${running ? "disabled" : ""}>Self-test</button>`;
    return RM.html`<tr data-account="${a.name}" class="${stale ? "stale" : ""}" data-status="${a.status}" data-fetched-at="${a.fetched_at || ""}">
      <td><strong>${a.name}</strong></td><td>${a.exchange}</td>
      <td><span class="badge text-bg-${a.mode === "live" ? "danger" : a.mode === "demo" ? "info" : "secondary"}">${a.mode}</span></td>
      <td><span class="badge text-bg-${badge}" data-live-status>${a.status}</span></td><td class="text-end num">${age}</td>
      <td class="text-end num">${RM.num(a.equity)}${a.equity_estimated ? RM.html` <span class="badge text-bg-secondary estimated-mark" title="estimated: ${a.equity_formula}">estimated</span>` : ""}</td><td class="text-end num">${RM.num(a.available)}</td>
      <td class="text-end num">${RM.num(a.margin_used)}</td><td class="text-end num ${upnl.cls}">${upnl.text}</td>
      <td class="text-end num">${a.positions}${unprotected}</td><td class="small">${error}</td><td>${button}</td></tr>`;
  }

  function totalsRow(t) {
    if (!t || t.accounts_included === 0) {
      return RM.html`<tr id="totals-row"><td colspan="12" class="text-body-secondary">No account has current figures: no sum is shown${t && t.coverage ? ` (${t.coverage})` : ""}.</td></tr>`;
    }
    const upnl = RM.signed(t.unrealized_pnl);
    const notes = [];
    if (!t.complete) notes.push(t.coverage);
    return RM.html`<tr class="table-group-divider fw-semibold" id="totals-row"><td colspan="5">All accounts
        <span class="small text-body-secondary fw-normal">${t.accounts_included} of ${t.accounts_total} account(s)</span>
        ${notes.length ? RM.html`<div class="small stale-note fw-normal">${notes.join("; ")}</div>` : ""}</td>
      <td class="text-end num">${RM.num(t.equity)}${(t.estimated_accounts || []).length ? RM.html` <span class="badge text-bg-secondary estimated-mark" title="includes the estimated equity of ${t.estimated_accounts.join(", ")}">estimated</span>` : ""}</td><td class="text-end num">${RM.num(t.available)}</td>
      <td class="text-end num">${RM.num(t.margin_used)}</td><td class="text-end num ${upnl.cls}">${upnl.text}</td>
      <td class="text-end num">${t.open_positions}</td><td colspan="2"></td></tr>`;
  }

  function unprotectedRow(u) {
    return RM.html`<tr class="unprotected"><td>${u.account}</td><td>${u.symbol}</td>
      <td><span class="badge text-bg-${u.side === "long" ? "success" : "danger"}">${u.side}</span></td>
      <td>${u.missing}</td><td>${RM.dateTime(u.since)}</td><td class="text-end num">${duration(u.seconds)}</td>
      <td class="text-end num">${u.failures}</td><td class="small">${u.last_result || "not tried yet"}
      ${u.escalation ? RM.html` <span class="badge text-bg-warning">escalated: ${u.escalation}</span>` : ""}</td></tr>`;
  }

  function render(view) {
    RM.setBanner(view.trading_state);
    const body = document.querySelector("#accounts-table tbody");
    RM.fill(body, RM.join(view.accounts.map(accountRow)) ||
      RM.html`<tr><td colspan="12" class="text-body-secondary">No accounts configured.</td></tr>`);
    RM.fill(document.querySelector("#accounts-table tfoot"), totalsRow(view.totals));
    RM.fill(document.querySelector("#unprotected-table tbody"), RM.join(view.unprotected.map(unprotectedRow)) ||
      RM.html`<tr><td colspan="8" class="text-body-secondary">Every open position has its exchange-side stop-loss.</td></tr>`);
    RM.fill(document.getElementById("unprotected-count"), view.unprotected.length
      ? RM.html`<span class="badge text-bg-danger">${view.unprotected.length}</span>` : "");
    const labels = [["detected", "Found unprotected"], ["placed", "Protection placed"], ["restored", "Protected again"],
      ["failed", "Placements rejected"], ["escalated", "Escalations"], ["wrong_side", "Stop already crossed"],
      ["deferred", "Checks deferred (order in flight)"]];
    RM.fill(document.getElementById("watchdog-counts"), labels
      .map(([k, label]) => RM.html`<dt class="col-8">${label}</dt><dd class="col-4 text-end num">${view.watchdog.counts[k] ?? "—"}</dd>`));
    const w = view.watchdog;
    document.getElementById("watchdog-policy").textContent =
      `After ${w.escalate_after} failed placement(s): ${w.policy}. Take-profit ${w.require_take_profit ? "required" : "not required"}.`;
  }

  async function refresh() {
    const res = await RM.api("/api/accounts");
    if (!res.ok) {
      RM.fill(status, RM.html`<span class="error-note">refresh failed at ${RM.time(new Date().toISOString())}: ${res.data.error}</span>`);
      return false;
    }
    render(res.data);
    status.textContent = `refreshed ${RM.time(res.data.generated_at)} · every ${pollMs / 1000} s`;
  }

  function showSteps(report) {
    RM.fill(document.querySelector("#selftest-steps tbody"), report.steps.map((s) => RM.html`<tr>
      <td>${s.name}</td><td><span class="badge text-bg-${s.ok ? "success" : "danger"}">${s.ok ? "ok" : "failed"}</span></td>
      <td class="text-end num">${s.ms} ms</td><td class="small">${s.detail}</td></tr>`));
    RM.fill(document.getElementById("selftest-left"), report.left_behind.map((item) =>
      RM.html`<div class="alert alert-danger py-1 mb-1">Left behind: ${item}</div>`));
    RM.fill(document.getElementById("selftest-verdict"), report.ok
      ? RM.html`<span class="badge text-bg-success">passed</span> <span class="small text-body-secondary">${RM.dateTime(report.finished_at)}</span>`
      : RM.html`<span class="badge text-bg-danger">FAILED</span> <span class="small text-body-secondary">${RM.dateTime(report.finished_at)}</span>`);
  }

  async function runSelftest(account) {
    running = true;
    document.querySelectorAll("button.selftest").forEach((b) => { b.disabled = true; });
    document.getElementById("selftest-card").classList.remove("d-none");
    document.getElementById("selftest-account").textContent = account;
    document.getElementById("selftest-verdict").replaceChildren();
    document.querySelector("#selftest-steps tbody").replaceChildren();
    document.getElementById("selftest-left").replaceChildren();
    const progress = document.getElementById("selftest-progress");
    progress.classList.remove("d-none");
    try {
      const res = await RM.api(`/api/accounts/${encodeURIComponent(account)}/selftest`, { method: "POST", body: {} });
      if (res.ok) {
        showSteps(res.data);
      } else {
        RM.fill(document.getElementById("selftest-verdict"), RM.html`<span class="badge text-bg-danger">not run</span>`);
        RM.fill(document.getElementById("selftest-left"),
          RM.html`<div class="alert alert-danger py-1 mb-0">${res.data.error} — ${JSON.stringify(res.data.detail || "")}</div>`);
      }
    } finally {
      progress.classList.add("d-none");
      running = false;
      poller.now();
    }
  }

  document.getElementById("accounts-table").addEventListener("click", (ev) => {
    const btn = ev.target.closest("button.selftest");
    if (!btn || running) return;
    pendingAccount = btn.dataset.account;
    document.getElementById("selftest-modal-account").textContent = pendingAccount;
    modal.show();
  });

  document.getElementById("selftest-confirm").addEventListener("click", () => {
    modal.hide();
    if (pendingAccount) runSelftest(pendingAccount);
    pendingAccount = null;
  });

  const poller = RM.poll(refresh, { every: pollMs });
})();
