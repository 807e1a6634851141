/* Safe HTML building (issue 12): RM.html`...${value}...` escapes every interpolation unless it is itself RM.html
   (or an array of them); RM.fill(el, ...parts) puts the result in an element. No page assigns markup it built
   by concatenation, so a symbol, reason or exchange message can never become markup. */
"use strict";

(() => {
  class SafeHTML {
    constructor(text) { this.text = text; }
    toString() { return this.text; }
  }
  const ESCAPES = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;", "`": "&#96;" };

  function escapeText(value) {
    return String(value).replace(/[&<>"'`]/g, (c) => ESCAPES[c]);
  }

  function part(value) {
    if (value === null || value === undefined) return "";  // false stays "false" (data-allowed="false")
    if (value instanceof SafeHTML) return value.text;
    if (Array.isArray(value)) return value.map(part).join("");
    return escapeText(value);
  }

  function html(strings, ...values) {
    let out = strings[0];
    values.forEach((value, i) => { out += part(value) + strings[i + 1]; });
    return new SafeHTML(out);
  }

  // parts joined as markup (each escaped unless RM.html); "" when there are none, so `RM.join(rows) || empty` works
  function join(parts, separator = "") {
    if (!parts || parts.length === 0) return "";
    return new SafeHTML(parts.map(part).join(part(separator)));
  }

  // a rule's human label with its machine name on hover (format.js escapes both)
  function rule(name, label = null) { return new SafeHTML(FMT.rule(name, label)); }

  function fragment(...parts) {
    const tpl = document.createElement("template");
    tpl.innerHTML = part(parts);  // only text that went through html`` (everything else escaped by part)
    return tpl.content;
  }

  function fill(el, ...parts) {
    el.replaceChildren(fragment(...parts));
    return el;
  }

  Object.assign(RM, { html, fill, fragment, join, rule, escapeText, SafeHTML });
})();
