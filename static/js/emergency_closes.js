/* Emergency panel: the fill price and realized P&L of each close of the sequence shown (journal feature).
   A close whose fill is not reported yet says "pending"; one whose venue history cannot be read says why. */
"use strict";

(() => {
  const table = document.getElementById("em-closes");
  if (!table) return;
  const tbody = table.querySelector("tbody");
  const BADGE = { filled: "success", pending: "warning", unknown: "secondary" };

  function shownSequence() {
    const row = document.querySelector("#em-history tr.table-active[data-id]");
    return row ? row.dataset.id : null;
  }

  function render(closes) {
    if (!closes.length) {
      RM.fill(tbody, RM.html`<tr><td colspan="9" class="text-body-secondary">No close sent yet.</td></tr>`);
      return;
    }
    RM.fill(tbody, closes.map((c) => {
      const pnl = RM.signed(c.realized_pnl, 2);
      const price = c.fill_price === null ? (c.status === "filled" ? "unknown" : "pending") : RM.price(c.fill_price);
      const money = c.realized_pnl === null ? (c.status === "unknown" ? "unknown" : "pending") : pnl.text;
      return RM.html`<tr data-client-id="${c.client_id}"><td>${c.account}</td><td>${c.symbol}</td>
        <td>${c.side}</td><td><span class="badge text-bg-${BADGE[c.status] || "secondary"}">${c.status}</span></td>
        <td class="text-end num">${c.qty === null ? "—" : RM.qty(c.qty)}</td><td class="text-end num em-fill">${price}</td>
        <td class="text-end num em-pnl ${c.realized_pnl === null ? "" : pnl.cls}">${money}</td>
        <td class="small">${c.closed_at ? RM.time(c.closed_at) : "—"}</td><td class="small">${c.note}</td></tr>`;
    }));
  }

  async function refresh() {
    const seq = shownSequence();
    try {
      const res = await RM.api(`/api/emergency-stop/closes${seq ? `?seq=${encodeURIComponent(seq)}` : ""}`);
      if (res.ok) render(res.data.closes);
      return res.ok;
    } catch (err) {
      // the connection banner (liveness) says the server is unreachable; keep the last rows, marked as such
      tbody.querySelectorAll(".em-fill, .em-pnl").forEach((el) => el.classList.add("text-body-secondary"));
      return false;
    }
  }

  RM.poll(refresh, { every: 3000 });
})();
