"""RM.poll and RM.html in the real browser, under the app's CSP (issue 12): one call in flight per poller, back-off
on failure (capped, reset on success), nothing while the tab is hidden and a call at once when it shows; every
interpolation escaped, nested RM.html kept as markup."""

import pytest

pytestmark = pytest.mark.slow

IN_FLIGHT = """async () => {
  let active = 0, most = 0, calls = 0;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const p = RM.poll(async () => {
    calls += 1; active += 1; most = Math.max(most, active);
    await sleep(150);
    active -= 1;
  }, { every: 10 });
  p.now(); p.now(); p.now();
  await sleep(700);
  p.stop();
  return { most, calls };
}"""

BACK_OFF = """async () => {
  let fail = true;
  const at = [];
  const until = (cond) => new Promise((resolve) => { const t = () => (cond() ? resolve() : setTimeout(t, 10)); t(); });
  const p = RM.poll(() => { at.push(performance.now()); return !fail; }, { every: 20, backoffMax: 100 });
  await until(() => p.failures() >= 4);
  const capped = p.delay();
  const gaps = at.slice(1, 4).map((t, i) => t - at[i]);
  fail = false;
  await until(() => p.failures() === 0);
  const reset = p.delay();
  p.stop();
  return { capped, reset, gaps };
}"""

HIDDEN = """async () => {
  let calls = 0;
  let hidden = false;
  Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
  const until = (cond) => new Promise((resolve) => { const t = () => (cond() ? resolve() : setTimeout(t, 20)); t(); });
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  const p = RM.poll(() => { calls += 1; }, { every: 50 });
  await until(() => calls >= 2);
  hidden = true;
  document.dispatchEvent(new Event("visibilitychange"));
  const atHide = calls;
  await sleep(400);
  const whileHidden = calls - atHide;
  hidden = false;
  document.dispatchEvent(new Event("visibilitychange"));
  const right = calls;  // the visible call starts at once (synchronously up to its first await)
  p.stop();
  delete document.hidden;
  return { whileHidden, shownAtOnce: right - atHide };
}"""

HTML = """() => {
  const evil = '<img src=x id="pwned">"\\'&';
  const box = document.createElement("div");
  const bolds = [1, 2].map((n) => RM.html`<b>${n}</b>`);
  RM.fill(box, RM.html`<span class="a" title="${evil}" data-no="${false}">${evil}</span>${bolds}${null}`);
  return { text: box.querySelector("span").textContent, title: box.querySelector("span").title,
           bolds: box.querySelectorAll("b").length,
           no: box.querySelector("span").dataset.no, img: box.querySelectorAll("img").length, html: box.innerHTML };
}"""


def test_poll_never_runs_two_calls_at_once(page, server):
    result = page.evaluate(IN_FLIGHT)
    assert result["most"] == 1
    assert result["calls"] >= 3


def test_poll_backs_off_on_failure_up_to_the_cap_and_resets_on_success(page, server):
    result = page.evaluate(BACK_OFF)
    assert result["capped"] == 100  # 20 ms doubled per failure (40, 80, 160...), capped at backoffMax
    first, second, third = result["gaps"]
    assert first >= 38 and second >= 78 and third >= 98
    assert result["reset"] == 20


def test_poll_waits_while_the_tab_is_hidden_and_calls_at_once_when_shown(page, server):
    result = page.evaluate(HIDDEN)
    assert result["whileHidden"] == 0
    assert result["shownAtOnce"] == 1


def test_html_escapes_every_interpolation_and_keeps_nested_markup(page, server):
    result = page.evaluate(HTML)
    assert result["text"] == '<img src=x id="pwned">"\'&'
    assert result["title"] == result["text"]
    assert result["img"] == 0
    assert result["bolds"] == 2
    assert result["no"] == "false"  # a boolean is written as such (data-allowed="false"), null as nothing
