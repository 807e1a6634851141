/* Audit log page: filters (kind prefix, account, time range in the display time zone), id-cursor paging. */
"use strict";

(() => {
  const form = document.getElementById("audit-filters");
  const tbody = document.querySelector("#audit-table tbody");
  const summary = document.getElementById("audit-summary");
  const errorBox = document.getElementById("audit-error");
  let cursors = [null];   // the "before" cursor of each page seen; the last one is the page shown
  let nextBefore = null;

  // A typed "YYYY-MM-DD HH:MM[:SS]" is wall time in the display time zone (format.js), whatever the browser's locale.
  const zonedToIso = FMT.parseInput;

  function query(before) {
    const params = new URLSearchParams();
    const kind = form.elements.kind.value.trim();
    if (kind) params.set("kind", kind);
    if (form.elements.account.value) params.set("account", form.elements.account.value);
    for (const name of ["since", "until"]) {
      const iso = zonedToIso(form.elements[name].value);
      if (iso === null) throw new Error(`${name === "since" ? "From" : "To"}: "${form.elements[name].value}" is not a time written as YYYY-MM-DD HH:MM:SS (${RM.tz})`);
      if (iso) params.set(name, iso);
    }
    params.set("limit", form.elements.limit.value);
    if (before) params.set("before", before);
    return params;
  }

  function row(e) {
    const data = e.data ? RM.html`<button class="btn btn-link btn-sm p-0" type="button" data-bs-toggle="collapse" data-bs-target="#ev-${e.id}" aria-expanded="false">details</button>` : "";
    const detail = e.data ? RM.html`<tr class="collapse" id="ev-${e.id}"><td></td><td colspan="5"><pre class="small mb-0">${JSON.stringify(e.data, null, 2)}</pre></td></tr>` : "";
    return RM.html`<tr data-id="${e.id}"><td class="num small">${RM.dateTime(e.ts)}</td><td><code>${e.kind}</code></td>
      <td>${e.actor}</td><td>${e.account || "—"}</td><td class="small">${e.message}</td><td>${data}</td></tr>${detail}`;
  }

  async function show() {
    errorBox.textContent = "";
    let params;
    try {
      params = query(cursors[cursors.length - 1]);
    } catch (err) {
      errorBox.textContent = err.message;
      return;
    }
    summary.textContent = "loading…";
    const res = await RM.api(`/api/audit?${params}`);
    if (!res.ok) {
      const d = res.data.detail || {};
      errorBox.textContent = d.field ? `${d.field}: ${d.message}` : `${res.data.error}: ${JSON.stringify(res.data.detail)}`;
      summary.textContent = "not loaded";
      return;
    }
    nextBefore = res.data.next_before;
    const events = res.data.events;
    RM.fill(tbody, RM.join(events.map(row)) || RM.html`<tr><td colspan="6" class="text-body-secondary">No events match these filters.</td></tr>`);
    summary.textContent = events.length
      ? `page ${cursors.length}: ${events.length} event(s), ${RM.dateTime(events[0].ts)} back to ${RM.dateTime(events[events.length - 1].ts)}${res.data.more ? "" : " (oldest reached)"}`
      : `page ${cursors.length}: no events`;
    document.getElementById("page-older").disabled = !res.data.more;
    document.getElementById("page-newer").disabled = cursors.length <= 1;
  }

  form.addEventListener("submit", (ev) => { ev.preventDefault(); cursors = [null]; show(); });
  document.getElementById("page-newest").addEventListener("click", () => { cursors = [null]; show(); });
  document.getElementById("page-newer").addEventListener("click", () => { if (cursors.length > 1) { cursors.pop(); show(); } });
  document.getElementById("page-older").addEventListener("click", () => { if (nextBefore) { cursors.push(nextBefore); show(); } });
  show();
})();
