/* A data table over rows embedded once as JSON: paged, searchable, filterable per column,
   sortable from the keyboard (header buttons, aria-sort), with column summaries on demand
   (a small histogram or top-value bars, and quantiles) and the rows shown exported as CSV.
   Each column shows its values as its format says (kfp_viz_kernels.columns): numbers with
   separators to the column's decimals (so points line up), booleans, dates, text. Missing
   values show a visible marker. */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root);
  var columns = data.columns, formats = data.formats, rows = data.rows;
  var search = root.querySelector(".kv-search"), count = root.querySelector(".kv-count");
  var pageInfo = root.querySelector(".kv-page"), size = root.querySelector(".kv-size");
  var summaryButton = root.querySelector(".kv-summarize"), exportButton = root.querySelector(".kv-export");
  var exportBox = root.querySelector(".kv-export-box"), exportText = root.querySelector(".kv-export-text");
  var thead = root.querySelector("thead"), tbody = root.querySelector("tbody");
  var all = rows.map(function (_, i) { return i; }), view = all;
  var haystack = null, page = 0, sortColumn = -1, sortDir = 1, filters = [], times = [];
  var EN = "en-US", BARS = 20, TOP = 5;

  function kind(c) { return formats[c].kind; }
  function isNum(c) { return kind(c) === "num"; }
  /* Dates compare as times (ms since 1970), computed once per column when first needed. */
  function timesOf(c) {
    if (!times[c]) times[c] = rows.map(function (row) { return row[c] === null ? null : Date.parse(row[c]); });
    return times[c];
  }
  function valueOf(c, i) { return kind(c) === "date" ? timesOf(c)[i] : rows[i][c]; }
  function showNumber(c, v) {
    var f = formats[c];
    if (Math.abs(v) >= 1e15) return kv.fmt(v);
    return v.toLocaleString(EN, {minimumFractionDigits: f.decimals, maximumFractionDigits: f.decimals,
                                 useGrouping: !f.plain});
  }
  function shown(c, v) {
    if (v === null || v === undefined) return "NA";
    if (isNum(c) && typeof v === "number") return showNumber(c, v);
    if (kind(c) === "bool") return v ? "\u2713 True" : "\u2717 False";
    return String(v);
  }
  function cell(c, v) {
    if (v === null || v === undefined) return '<td class="kv-missing' + (isNum(c) ? "" : " kv-text") + '">NA</td>';
    if (isNum(c) && typeof v === "number") {
      var text = showNumber(c, v), exact = String(v);
      var title = exact.replace(/,/g, "") !== text.replace(/,/g, "") ? ' title="' + exact + '"' : "";
      return '<td class="kv-num"' + title + ">" + text + "</td>";
    }
    if (kind(c) === "bool") return '<td class="kv-bool">' + shown(c, v) + "</td>";
    return '<td class="kv-text">' + kv.esc(v) + "</td>";
  }
  var PLACEHOLDER = {num: "&gt;, &lt;, a..b", date: "&gt;2024-01-01, a..b", bool: "true / false", text: "contains"};
  function head() {
    var top = "<tr>", filterRow = '<tr class="kv-filters">';
    for (var c = 0; c < columns.length; c++) {
      var cls = isNum(c) ? "" : ' class="kv-text"';
      var sort = c === sortColumn ? ' aria-sort="' + (sortDir > 0 ? "ascending" : "descending") + '"' : "";
      top += "<th" + cls + sort + ' scope="col"><button type="button" class="kv-sort" data-col="' + c + '">' +
        kv.esc(columns[c]) + "</button></th>";
      filterRow += '<th scope="col"><input class="kv-filter" data-col="' + c + '" aria-label="Filter ' +
        kv.esc(columns[c]) + '" placeholder="' + PLACEHOLDER[kind(c)] + '"></th>';
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
    count.textContent = view.length === rows.length ? rows.length.toLocaleString(EN) + " rows"
      : view.length.toLocaleString(EN) + " of " + rows.length.toLocaleString(EN) + " rows";
    pageInfo.textContent = "page " + (page + 1) + " of " + pages;
    if (summaryButton.getAttribute("aria-pressed") === "true") summarize();
    if (!exportBox.hidden) exported();
  }
  function pageSize() { return parseInt(size.value, 10); }

  /* A column filter: "missing", a comparison (>5, <=2, =3, >2024-01-01), a range (1..5,
     2024-01..2024-03), true/false for booleans, or a case-insensitive "contains". */
  function predicate(c, text) {
    var t = text.trim().toLowerCase(), m;
    if (!t) return null;
    if (t === "missing") return function (v) { return v === null || v === undefined; };
    var parse = isNum(c) ? parseFloat : kind(c) === "date" ? Date.parse : null;
    if (parse) {
      var operand = isNum(c) ? "(-?[\\d.e+-]+)" : "(\\d{4}[\\d\\-:t.z ]*)";
      if ((m = new RegExp("^(>=|<=|>|<|=)\\s*" + operand + "$").exec(t)) && isFinite(parse(m[2].toUpperCase()))) {
        var x = parse(m[2].toUpperCase()), op = m[1];
        return function (v) {
          if (typeof v !== "number" || !isFinite(v)) return false;
          return op === ">" ? v > x : op === "<" ? v < x : op === ">=" ? v >= x : op === "<=" ? v <= x : v === x;
        };
      }
      if ((m = new RegExp("^" + operand + "\\s*\\.\\.\\s*" + operand + "$").exec(t))) {
        var lo = parse(m[1].toUpperCase()), hi = parse(m[2].toUpperCase());
        return function (v) { return typeof v === "number" && v >= lo && v <= hi; };
      }
      if (kind(c) === "date") {
        return function (v, raw) { return raw !== null && String(raw).toLowerCase().indexOf(t) >= 0; };
      }
    }
    if (kind(c) === "bool" && /^(true|false|yes|no)$/.test(t)) {
      var want = t === "true" || t === "yes";
      return function (v) { return v === want; };
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
        for (var a = 0; a < active.length && keep; a++) {
          var c = active[a][0];
          keep = active[a][1](valueOf(c, i), rows[i][c]);
        }
        if (keep) view.push(i);
      }
    }
    if (sortColumn >= 0) order();
    page = 0;
    draw();
  }
  function compare(a, b) {
    var x = valueOf(sortColumn, a), y = valueOf(sortColumn, b);
    if (x === null || x === undefined) return (y === null || y === undefined) ? a - b : 1;
    if (y === null || y === undefined) return -1;
    var r = typeof x === "number" && typeof y === "number" ? x - y
      : typeof x === "boolean" ? (x === y ? 0 : x ? 1 : -1) : (x < y ? -1 : x > y ? 1 : 0);
    return r === 0 ? a - b : r * sortDir;
  }
  function order() { view.sort(compare); }

  /* The p-quantile of sorted numbers, interpolated linearly (numpy's and pandas' default). */
  function quantile(sorted, p) {
    var at = p * (sorted.length - 1), lo = Math.floor(at), hi = Math.ceil(at);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
  }
  function histogram(c, sorted) {
    var lo = sorted[0], hi = sorted[sorted.length - 1], counts = [], n = hi > lo ? BARS : 1;
    for (var b = 0; b < n; b++) counts.push(0);
    sorted.forEach(function (v) { counts[n === 1 ? 0 : Math.min(n - 1, Math.floor((v - lo) / (hi - lo) * n))]++; });
    var most = Math.max.apply(null, counts), W = 120, H = 28, step = W / n, bars = "";
    counts.forEach(function (k, b) {
      var h = k ? Math.max(1, k / most * H) : 0;
      bars += '<rect x="' + (b * step).toFixed(1) + '" y="' + (H - h).toFixed(1) + '" width="' +
        Math.max(step - 1, 1).toFixed(1) + '" height="' + h.toFixed(1) + '"></rect>';
    });
    var ends = kind(c) === "date" ? [day(lo), day(hi)] : [kv.fmt(lo), kv.fmt(hi)];
    return '<svg class="kv-spark" width="' + W + '" height="' + H + '" viewBox="0 0 ' + W + " " + H +
      '" role="img" aria-label="' + kv.esc("Histogram of " + columns[c] + ", " + ends[0] + " to " + ends[1] + ", " + n + " equal buckets") +
      '">' + bars + "</svg>";
  }
  /* How a summary shows a column's figures: dates as dates (days when every value is one,
     so a median between two days is a day), identifiers whole and without separators,
     other numbers as everywhere else. */
  function summaryFormat(c, sorted) {
    if (kind(c) === "date") {
      var DAY = 86400000, days = sorted.every(function (v) { return v % DAY === 0; });
      return function (ms) { return day(days ? Math.round(ms / DAY) * DAY : ms); };
    }
    if (formats[c].plain) {
      return function (x) { return x.toLocaleString(EN, {useGrouping: false, maximumFractionDigits: 1}); };
    }
    return function (x) { return kv.fmt(x); };
  }
  function day(ms) { return new Date(ms).toISOString().replace("T00:00:00.000Z", "").replace(".000Z", "Z"); }
  function topBars(c, seen, total) {
    var top = [];
    seen.forEach(function (k, value) { top.push([value, k]); });
    top.sort(function (a, b) { return b[1] - a[1] || (a[0] < b[0] ? -1 : 1); });
    return top.slice(0, TOP).map(function (t) {
      var share = t[1] / total;
      return '<span class="kv-topbar"><span class="kv-toplabel">' + kv.esc(shown(c, t[0])) + "</span> " +
        kv.pct(share, 0) + '<span class="kv-topfill" style="width:' + (100 * share).toFixed(1) + '%"></span></span>';
    }).join("");
  }
  function summarize() {
    var html = "";
    for (var c = 0; c < columns.length; c++) {
      var missing = 0, seen = new Map(), numbers = [], dates = kind(c) === "date";
      for (var i = 0; i < view.length; i++) {
        var raw = rows[view[i]][c];
        if (raw === null || raw === undefined) { missing++; continue; }
        seen.set(raw, (seen.get(raw) || 0) + 1);
        var v = valueOf(c, view[i]);
        if (typeof v === "number" && isFinite(v)) numbers.push(v);
      }
      var lines = [], chart = "";
      if ((isNum(c) || dates) && numbers.length) {
        var sorted = Float64Array.from(numbers).sort(), show = summaryFormat(c, sorted);
        chart = histogram(c, sorted);
        lines.push("min " + show(sorted[0]), "25% " + show(quantile(sorted, 0.25)),
                   "median " + show(quantile(sorted, 0.5)), "75% " + show(quantile(sorted, 0.75)),
                   "max " + show(sorted[sorted.length - 1]));
        if (!dates) lines.push("mean " + kv.fmt(numbers.reduce(function (s, x) { return s + x; }, 0) / numbers.length));
      } else if (seen.size) {
        chart = topBars(c, seen, view.length - missing);
      }
      lines.push("unique " + seen.size.toLocaleString(EN), "missing " + missing.toLocaleString(EN));
      html += '<td data-col="' + c + '">' + chart + '<span class="kv-lines">' + lines.join("<br>") + "</span></td>";
    }
    var row = thead.querySelector(".kv-summary");
    row.innerHTML = html;
    row.hidden = false;
  }

  /* The rows shown (search and filters applied, in the order shown) as CSV, exact values. */
  function csvField(v) {
    if (v === null || v === undefined) return "";
    var s = typeof v === "boolean" ? (v ? "True" : "False") : String(v);
    return /[",\n\r]|^\s|\s$/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
  }
  function csv() {
    var lines = [columns.map(csvField).join(",")];
    for (var i = 0; i < view.length; i++) lines.push(rows[view[i]].map(csvField).join(","));
    return lines.join("\n") + "\n";
  }
  var blobUrl = null;
  function exported() {
    var text = csv(), link = root.querySelector(".kv-download");
    exportText.value = text;
    root.querySelector(".kv-export-note").textContent = view.length.toLocaleString(EN) + " of " +
      rows.length.toLocaleString(EN) + " rows (the search and filters applied, in the order shown). " +
      "Inside Kubeflow's frame downloads are blocked: copy the text instead.";
    if (blobUrl) URL.revokeObjectURL(blobUrl);
    blobUrl = URL.createObjectURL(new Blob([text], {type: "text/csv"}));
    link.href = blobUrl;
  }
  exportButton.addEventListener("click", function () {
    var open = exportBox.hidden;
    exportBox.hidden = !open;
    exportButton.setAttribute("aria-expanded", String(open));
    if (open) exported();
  });
  root.querySelector(".kv-copy").addEventListener("click", function () {
    var status = root.querySelector(".kv-copied");
    function fallback() {
      exportText.focus();
      exportText.select();
      var done = false;
      try { done = document.execCommand("copy"); } catch (e) { done = false; }
      status.textContent = done ? "Copied." : "Select the text and copy it (Ctrl+C).";
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(exportText.value).then(function () { status.textContent = "Copied."; }, fallback);
    } else fallback();
  });

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
  kv.scrollCues(root);
})(document.currentScript.parentNode);
