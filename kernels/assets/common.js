/* Shared by the built-in types' scripts: number formatting, escaping, theme colours, and the
   cue that a box scrolls sideways. Inlined once per page, before the type's own script. */
window.kvViz = (function () {
  "use strict";
  var EN = "en-US";
  /* A number as people read it: whole numbers with thousands separators, others to `digits`
     significant digits (4 by default) with separators too; exponents only past 1e15 or
     under 1e-4. */
  function fmt(v, digits) {
    if (v === null || v === undefined) return "\u2014";
    if (typeof v !== "number") return String(v);
    if (!isFinite(v)) return isNaN(v) ? "NaN" : (v > 0 ? "\u221E" : "-\u221E");
    if (Number.isInteger(v) && Math.abs(v) < 1e15) return v.toLocaleString(EN);
    var a = Math.abs(v);
    if (a >= 1e15 || a < 1e-4) return v.toExponential((digits || 4) - 1);
    return v.toLocaleString(EN, {maximumSignificantDigits: digits || 4});
  }
  /* Digits after the point that tell values `step` apart: two significant digits of it. */
  function decimalsFor(step) {
    if (!(step > 0) || !isFinite(step)) return 2;
    return Math.min(10, Math.max(0, 1 - Math.floor(Math.log10(step))));
  }
  /* `v` with at most `decimals` digits after the point, thousands separated. */
  function fixed(v, decimals) {
    if (v === null || v === undefined) return "\u2014";
    if (!isFinite(v)) return fmt(v);
    if (Math.abs(v) >= 1e15 || (v !== 0 && Math.abs(v) < Math.pow(10, -decimals) / 2)) return fmt(v);
    return v.toLocaleString(EN, {maximumFractionDigits: decimals});
  }
  /* A range "low – high", both ends in one format, precise enough to tell apart. */
  function range(lo, hi, step) {
    var d = decimalsFor(step === undefined ? Math.abs(hi - lo) : step);
    return fixed(lo, d) + " \u2013 " + fixed(hi, d);
  }
  function pct(v, decimals) {
    if (v === null || v === undefined || !isFinite(v)) return "\u2014";
    return (100 * v).toFixed(decimals === undefined ? 1 : decimals) + "%";
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
  /* Boxes that scroll sideways (.kv-wrap, .kv-scroll) say so: a line above them while
     columns are out of view, and data-more="left right" for the edge shadows (CSS). */
  function cue(box) {
    var more = [];
    if (box.scrollLeft > 1) more.push("left");
    if (box.scrollLeft + box.clientWidth < box.scrollWidth - 1) more.push("right");
    var value = more.join(" ");
    if (box.getAttribute("data-more") !== value) box.setAttribute("data-more", value);
    var hint = box.previousElementSibling;
    if (!hint || !hint.classList.contains("kv-scroll-hint")) {
      if (!more.length) return;
      hint = document.createElement("p");
      hint.className = "kv-scroll-hint";
      box.parentNode.insertBefore(hint, box);
    }
    hint.hidden = !more.length;
    hint.textContent = more.length ? "\u2194 Wider than the screen: scroll this box sideways (the first column stays)." : "";
  }
  function scrollCues(root) {
    root.querySelectorAll(".kv-wrap, .kv-scroll").forEach(function (box) {
      var update = function () { cue(box); };
      box.addEventListener("scroll", update, {passive: true});
      if (window.ResizeObserver) {
        var watch = new ResizeObserver(update);
        watch.observe(box);
        if (box.firstElementChild) watch.observe(box.firstElementChild);
      }
      update();
    });
  }
  return {fmt: fmt, fixed: fixed, decimalsFor: decimalsFor, range: range, pct: pct, esc: esc, css: css,
          palette: palette, data: data, onScheme: onScheme, cue: cue, scrollCues: scrollCues};
})();
