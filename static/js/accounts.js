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
      ? `<span title="${RM.dateTime(a.fetched_at)}">${duration(a.data_age_seconds)}</span>`
      : `<span class="error-note">never read</span>`;
    const error = a.error
      ? `<span class="${a.status === "error" ? "error-note" : "stale-note"}">${stale && a.fetched_at ? `stale since ${RMLive.since(a.fetched_at)} — ` : ""}${RM.esc(a.error)}</span>` : "";
    const unprotected = a.unprotected ? ` <span class="badge text-bg-danger">${a.unprotected} unprotected</span>` : "";
    const button = `<button class="btn btn-sm btn-outline-primary selftest" data-account="${RM.esc(a.name)}"
      ${running ? "disabled" : ""}>Self-test</button>`;
    return `<tr data-account="${RM.esc(a.name)}" class="${stale ? "stale" : ""}" data-status="${a.status}" data-fetched-at="${a.fetched_at || ""}">
      <td><strong>${RM.esc(a.name)}</strong></td><td>${RM.esc(a.exchange)}</td>
      <td><span class="badge text-bg-${a.mode === "live" ? "danger" : a.mode === "demo" ? "info" : "secondary"}">${RM.esc(a.mode)}</span></td>
      <td><span class="badge text-bg-${badge}" data-live-status>${a.status}</span></td><td class="text-end num">${age}</td>
      <td class="text-end num">${RM.num(a.equity)}${a.equity_estimated ? ` <span class="badge text-bg-secondary estimated-mark" title="estimated: ${RM.esc(a.equity_formula)}">estimated</span>` : ""}</td><td class="text-end num">${RM.num(a.available)}</td>
      <td class="text-end num">${RM.num(a.margin_used)}</td><td class="text-end num ${upnl.cls}">${upnl.text}</td>
      <td class="text-end num">${a.positions}${unprotected}</td><td class="small">${error}</td><td>${button}</td></tr>`;
  }

  function totalsRow(t) {
    if (!t || t.accounts_included === 0) {
      return `<tr id="totals-row"><td colspan="12" class="text-body-secondary">No account has current figures: no sum is shown${t && t.coverage ? ` (${RM.esc(t.coverage)})` : ""}.</td></tr>`;
    }
    const upnl = RM.signed(t.unrealized_pnl);
    const notes = [];
    if (!t.complete) notes.push(RM.esc(t.coverage));
    return `<tr class="table-group-divider fw-semibold" id="totals-row"><td colspan="5">All accounts
        <span class="small text-body-secondary fw-normal">${t.accounts_included} of ${t.accounts_total} account(s)</span>
        ${notes.length ? `<div class="small stale-note fw-normal">${notes.join("; ")}</div>` : ""}</td>
      <td class="text-end num">${RM.num(t.equity)}${(t.estimated_accounts || []).length ? ` <span class="badge text-bg-secondary estimated-mark" title="includes the estimated equity of ${t.estimated_accounts.map(RM.esc).join(", ")}">estimated</span>` : ""}</td><td class="text-end num">${RM.num(t.available)}</td>
      <td class="text-end num">${RM.num(t.margin_used)}</td><td class="text-end num ${upnl.cls}">${upnl.text}</td>
      <td class="text-end num">${t.open_positions}</td><td colspan="2"></td></tr>`;
  }

  function unprotectedRow(u) {
    return `<tr class="unprotected"><td>${RM.esc(u.account)}</td><td>${RM.esc(u.symbol)}</td>
      <td><span class="badge text-bg-${u.side === "long" ? "success" : "danger"}">${u.side}</span></td>
      <td>${RM.esc(u.missing)}</td><td>${RM.dateTime(u.since)}</td><td class="text-end num">${duration(u.seconds)}</td>
      <td class="text-end num">${u.failures}</td><td class="small">${RM.esc(u.last_result || "not tried yet")}
      ${u.escalation ? ` <span class="badge text-bg-warning">escalated: ${RM.esc(u.escalation)}</span>` : ""}</td></tr>`;
  }

  function render(view) {
    RM.setBanner(view.trading_state);
    const body = document.querySelector("#accounts-table tbody");
    body.innerHTML = view.accounts.map(accountRow).join("") ||
      `<tr><td colspan="12" class="text-body-secondary">No accounts configured.</td></tr>`;
    document.querySelector("#accounts-table tfoot").innerHTML = totalsRow(view.totals);
    document.querySelector("#unprotected-table tbody").innerHTML = view.unprotected.map(unprotectedRow).join("") ||
      `<tr><td colspan="8" class="text-body-secondary">Every open position has its exchange-side stop-loss.</td></tr>`;
    document.getElementById("unprotected-count").innerHTML = view.unprotected.length
      ? `<span class="badge text-bg-danger">${view.unprotected.length}</span>` : "";
    const labels = [["detected", "Found unprotected"], ["placed", "Protection placed"], ["restored", "Protected again"],
      ["failed", "Placements rejected"], ["escalated", "Escalations"], ["wrong_side", "Stop already crossed"],
      ["deferred", "Checks deferred (order in flight)"]];
    document.getElementById("watchdog-counts").innerHTML = labels
      .map(([k, label]) => `<dt class="col-8">${label}</dt><dd class="col-4 text-end num">${view.watchdog.counts[k] ?? "—"}</dd>`).join("");
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
    document.querySelector("#selftest-steps tbody").innerHTML = report.steps.map((s) => `<tr>
      <td>${RM.esc(s.name)}</td><td><span class="badge text-bg-${s.ok ? "success" : "danger"}">${s.ok ? "ok" : "failed"}</span></td>
      <td class="text-end num">${s.ms} ms</td><td class="small">${RM.esc(s.detail)}</td></tr>`).join("");
    document.getElementById("selftest-left").innerHTML = report.left_behind.map((item) =>
      `<div class="alert alert-danger py-1 mb-1">Left behind: ${RM.esc(item)}</div>`).join("");
    document.getElementById("selftest-verdict").innerHTML = report.ok
      ? `<span class="badge text-bg-success">passed</span> <span class="small text-body-secondary">${RM.dateTime(report.finished_at)}</span>`
      : `<span class="badge text-bg-danger">FAILED</span> <span class="small text-body-secondary">${RM.dateTime(report.finished_at)}</span>`;
  }

  async function runSelftest(account) {
    running = true;
    document.querySelectorAll("button.selftest").forEach((b) => { b.disabled = true; });
    document.getElementById("selftest-card").classList.remove("d-none");
    document.getElementById("selftest-account").textContent = account;
    document.getElementById("selftest-verdict").innerHTML = "";
    document.querySelector("#selftest-steps tbody").innerHTML = "";
    document.getElementById("selftest-left").innerHTML = "";
    const progress = document.getElementById("selftest-progress");
    progress.classList.remove("d-none");
    try {
      const res = await RM.api(`/api/accounts/${encodeURIComponent(account)}/selftest`, { method: "POST", body: {} });
      if (res.ok) {
        showSteps(res.data);
      } else {
        document.getElementById("selftest-verdict").innerHTML = `<span class="badge text-bg-danger">not run</span>`;
        document.getElementById("selftest-left").innerHTML =
          `<div class="alert alert-danger py-1 mb-0">${RM.esc(res.data.error)} — ${RM.esc(JSON.stringify(res.data.detail || ""))}</div>`;
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
