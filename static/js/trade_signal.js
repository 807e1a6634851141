/* The order ticket opened from a signal (/trade?…&signal=KEY): re-read the signal when the ticket opens, so its stop
   and target are re-centred on the mark of this moment (not of the Signals page's last refresh), and say where the
   levels came from. If the signal cannot be traded now, say why; the receipt and the order gate judge the order. */
"use strict";

(() => {
  const form = document.getElementById("ticket");
  const key = new URLSearchParams(window.location.search).get("signal");
  if (!form || !key) return;
  const note = document.createElement("div");
  note.id = "signal-note";
  note.className = "alert alert-secondary small py-2";
  note.setAttribute("aria-live", "polite");
  note.textContent = "Reading the signal…";
  form.prepend(note);

  function setLevel(name, value) {
    const el = form.querySelector(`[name="${name}"]`);
    if (!el || value === null || value === undefined) return;
    el.value = value;
    el.dispatchEvent(new Event("input", { bubbles: true }));  // the ticket keeps typed levels and re-previews
  }

  async function load() {
    const res = await RM.api(`/api/signals/plan?key=${encodeURIComponent(key)}`);
    if (!res.ok) {
      note.className = "alert alert-warning small py-2";
      note.textContent = `The signal could not be read (${res.data.error}${res.data.detail ? ": " + (typeof res.data.detail === "string" ? res.data.detail : JSON.stringify(res.data.detail)) : ""}); the levels below are the link's.`;
      return;
    }
    const s = res.data;
    const n = s.now;
    const what = `${s.side} ${s.symbol} signal of the bar closed ${RM.time(s.created_at)} (recorded: ${s.status}${s.status_at ? " as of " + RM.time(s.status_at) : ""})`;
    note.dataset.allowed = String(n.allowed);
    if (!n.allowed) {
      note.className = "alert alert-warning small py-2";
      note.textContent = `${what} cannot be traded now: ${n.reason}${n.until ? ` (until ${RM.time(n.until)})` : ""} — as of ${RM.time(n.as_of)}. The levels below are the link's; the receipt still judges them.`;
      return;
    }
    setLevel("stop_loss", n.levels.stop_loss);
    setLevel("take_profit", n.levels.take_profit);
    note.className = "alert alert-info small py-2";
    note.textContent = `From the ${what}: ${n.levels.message} at ${RM.time(n.as_of)}. The receipt below shows the size and every rule; nothing is sent until you place the order.`;
  }

  load();
})();
