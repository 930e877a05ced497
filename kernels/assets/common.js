/* Shared by the built-in types' scripts: number formatting, escaping, theme colours.
   Inlined once per page, before the type's own script. */
window.kvViz = (function () {
  "use strict";
  function fmt(v, digits) {
    if (v === null || v === undefined) return "\u2014";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return isNaN(v) ? "NaN" : (v > 0 ? "\u221E" : "-\u221E");
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString("en-US");
    var a = Math.abs(v);
    if (a >= 1e6 || a < 1e-4) return v.toExponential((digits || 4) - 1);
    return String(+v.toPrecision(digits || 4));
  }
  function esc(v) {
    return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
  }
  function css(root, name) { return getComputedStyle(root).getPropertyValue(name).trim(); }
  function palette(root) {
    var colours = [];
    for (var i = 0; i < 6; i++) colours.push(css(root, "--kv-s" + i));
    return colours;
  }
  function data(root) { return JSON.parse(root.querySelector("script.kv-data").textContent); }
  /* Call `redraw` again when the colour scheme changes (charts drawn on canvas keep colours). */
  function onScheme(redraw) {
    var query = window.matchMedia && window.matchMedia("(prefers-color-scheme: dark)");
    if (query && query.addEventListener) query.addEventListener("change", redraw);
  }
  return {fmt: fmt, esc: esc, css: css, palette: palette, data: data, onScheme: onScheme};
})();
