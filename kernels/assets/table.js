/* A data table over rows embedded once as JSON: paged, searchable, filterable per column,
   sortable from the keyboard (header buttons, aria-sort), with column summaries on demand.
   Missing values show a visible marker; numbers are right- and decimal-aligned. */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root);
  var columns = data.columns, numeric = data.numeric, rows = data.rows, digits = data.digits || [];
  var search = root.querySelector(".kv-search"), count = root.querySelector(".kv-count");
  var pageInfo = root.querySelector(".kv-page"), size = root.querySelector(".kv-size");
  var summaryButton = root.querySelector(".kv-summarize");
  var thead = root.querySelector("thead"), tbody = root.querySelector("tbody");
  var all = rows.map(function (_, i) { return i; }), view = all;
  var haystack = null, page = 0, sortColumn = -1, sortDir = 1, filters = [], fraction = [];

  function shownNumber(c, v) { return digits[c] ? String(+v.toPrecision(digits[c])) : String(v); }
  /* Digits after the decimal point, at most, per numeric column: shorter values are padded
     with figure spaces (and a punctuation space for the point), so points line up. */
  function fractionDigits(c) {
    if (fraction[c] === undefined) {
      var most = 0;
      for (var i = 0; i < rows.length; i++) {
        var v = rows[i][c];
        if (typeof v !== "number") continue;
        var s = shownNumber(c, v), dot = s.indexOf(".");
        if (dot >= 0 && s.indexOf("e") < 0) most = Math.max(most, s.length - dot - 1);
      }
      fraction[c] = Math.min(most, 12);
    }
    return fraction[c];
  }
  function numberCell(c, v) {
    var s = shownNumber(c, v), most = fractionDigits(c);
    if (most && s.indexOf("e") < 0) {
      var dot = s.indexOf("."), have = dot < 0 ? 0 : s.length - dot - 1;
      s += (dot < 0 ? "\u2008" : "") + "\u2007".repeat(Math.max(0, most - have));
    }
    return '<td class="kv-num">' + s + "</td>";
  }
  function cell(c, v) {
    if (v === null || v === undefined) return '<td class="kv-missing' + (numeric[c] ? "" : " kv-text") + '">NA</td>';
    if (numeric[c] && typeof v === "number") return numberCell(c, v);
    return '<td class="kv-text">' + kv.esc(v) + "</td>";
  }
  function head() {
    var top = "<tr>", filterRow = '<tr class="kv-filters">';
    for (var c = 0; c < columns.length; c++) {
      var cls = numeric[c] ? "" : ' class="kv-text"';
      var sort = c === sortColumn ? ' aria-sort="' + (sortDir > 0 ? "ascending" : "descending") + '"' : "";
      top += "<th" + cls + sort + ' scope="col"><button type="button" class="kv-sort" data-col="' + c + '">' +
        kv.esc(columns[c]) + "</button></th>";
      filterRow += '<th scope="col"><input class="kv-filter" data-col="' + c + '" aria-label="Filter ' +
        kv.esc(columns[c]) + '" placeholder="' + (numeric[c] ? "&gt;, &lt;, a..b" : "contains") + '"></th>';
    }
    thead.innerHTML = top + "</tr>" + filterRow + "</tr>" + '<tr class="kv-summary" hidden></tr>';
    thead.querySelectorAll(".kv-filter").forEach(function (box) {
      box.value = filters[box.getAttribute("data-col")] ? filters[box.getAttribute("data-col")].text : "";
    });
  }
  function draw() {
    var pages = Math.max(1, Math.ceil(view.length / pageSize()));
    page = Math.min(page, pages - 1);
    var start = page * pageSize(), end = Math.min(view.length, start + pageSize()), html = "";
    for (var i = start; i < end; i++) {
      var row = rows[view[i]];
      html += "<tr>";
      for (var c = 0; c < columns.length; c++) html += cell(c, row[c]);
      html += "</tr>";
    }
    tbody.innerHTML = html;
    count.textContent = view.length === rows.length ? rows.length + " rows" : view.length + " of " + rows.length + " rows";
    pageInfo.textContent = "page " + (page + 1) + " of " + pages;
    if (summaryButton.getAttribute("aria-pressed") === "true") summarize();
  }
  function pageSize() { return parseInt(size.value, 10); }

  /* A column filter: "missing", a comparison (>5, <=2, =3), a range (1..5), or, for text
     and anything else, a case-insensitive "contains". */
  function predicate(c, text) {
    var t = text.trim().toLowerCase(), m;
    if (!t) return null;
    if (t === "missing") return function (v) { return v === null || v === undefined; };
    if (numeric[c]) {
      if ((m = /^(>=|<=|>|<|=)\s*(-?[\d.e+-]+)$/.exec(t)) && isFinite(parseFloat(m[2]))) {
        var x = parseFloat(m[2]), op = m[1];
        return function (v) {
          if (typeof v !== "number") return false;
          return op === ">" ? v > x : op === "<" ? v < x : op === ">=" ? v >= x : op === "<=" ? v <= x : v === x;
        };
      }
      if ((m = /^(-?[\d.e+-]+)\s*\.\.\s*(-?[\d.e+-]+)$/.exec(t))) {
        var lo = parseFloat(m[1]), hi = parseFloat(m[2]);
        return function (v) { return typeof v === "number" && v >= lo && v <= hi; };
      }
    }
    return function (v) { return v !== null && v !== undefined && String(v).toLowerCase().indexOf(t) >= 0; };
  }
  function filter() {
    var needle = search.value.trim().toLowerCase(), active = [];
    filters.forEach(function (f, c) { if (f && f.test) active.push([c, f.test]); });
    if (!needle && !active.length) view = all.slice();
    else {
      if (needle && haystack === null) {
        haystack = rows.map(function (row) { return row.join("\u0001").toLowerCase(); });
      }
      view = [];
      for (var i = 0; i < rows.length; i++) {
        if (needle && haystack[i].indexOf(needle) < 0) continue;
        var keep = true;
        for (var a = 0; a < active.length && keep; a++) keep = active[a][1](rows[i][active[a][0]]);
        if (keep) view.push(i);
      }
    }
    if (sortColumn >= 0) order();
    page = 0;
    draw();
  }
  function compare(a, b) {
    var x = rows[a][sortColumn], y = rows[b][sortColumn];
    if (x === null || x === undefined) return (y === null || y === undefined) ? a - b : 1;
    if (y === null || y === undefined) return -1;
    var r = numeric[sortColumn] && typeof x === "number" && typeof y === "number" ? x - y : (x < y ? -1 : x > y ? 1 : 0);
    return r === 0 ? a - b : r * sortDir;
  }
  function order() { view.sort(compare); }

  function summarize() {
    var html = "";
    for (var c = 0; c < columns.length; c++) {
      var missing = 0, seen = new Map(), lo = Infinity, hi = -Infinity, sum = 0, n = 0;
      for (var i = 0; i < view.length; i++) {
        var v = rows[view[i]][c];
        if (v === null || v === undefined) { missing++; continue; }
        seen.set(v, (seen.get(v) || 0) + 1);
        if (typeof v === "number") { lo = Math.min(lo, v); hi = Math.max(hi, v); sum += v; n++; }
      }
      var lines = [];
      if (numeric[c] && n) lines.push("min " + kv.fmt(lo), "max " + kv.fmt(hi), "mean " + kv.fmt(sum / n));
      else {
        var top = null;
        seen.forEach(function (k, value) { if (!top || k > top[1]) top = [value, k]; });
        if (top) lines.push("top " + kv.esc(top[0]) + " (" + top[1] + ")");
      }
      lines.push("unique " + seen.size, "missing " + missing);
      html += '<td data-col="' + c + '">' + lines.join("<br>") + "</td>";
    }
    var row = thead.querySelector(".kv-summary");
    row.innerHTML = html;
    row.hidden = false;
  }

  thead.addEventListener("click", function (event) {
    var button = event.target.closest("button.kv-sort");
    if (!button) return;
    var c = parseInt(button.getAttribute("data-col"), 10);
    sortDir = c === sortColumn ? -sortDir : 1;
    sortColumn = c;
    order();
    head();
    thead.querySelector('button.kv-sort[data-col="' + c + '"]').focus();
    draw();
  });
  var timer = null;
  function later() { clearTimeout(timer); timer = setTimeout(filter, 120); }
  thead.addEventListener("input", function (event) {
    var box = event.target.closest(".kv-filter");
    if (!box) return;
    var c = parseInt(box.getAttribute("data-col"), 10);
    filters[c] = {text: box.value, test: predicate(c, box.value)};
    later();
  });
  search.addEventListener("input", later);
  size.addEventListener("change", function () { page = 0; draw(); });
  summaryButton.addEventListener("click", function () {
    var on = summaryButton.getAttribute("aria-pressed") !== "true";
    summaryButton.setAttribute("aria-pressed", String(on));
    if (on) summarize(); else thead.querySelector(".kv-summary").hidden = true;
  });
  root.querySelector(".kv-prev").addEventListener("click", function () { if (page > 0) { page--; draw(); } });
  root.querySelector(".kv-next").addEventListener("click", function () { page++; draw(); });
  head();
  draw();
})(document.currentScript.parentNode);
