(function (root) {
  "use strict";
  var data = JSON.parse(root.querySelector("script.kv-data").textContent);
  var columns = data.columns, numeric = data.numeric, rows = data.rows;
  var search = root.querySelector(".kv-search"), count = root.querySelector(".kv-count");
  var pageInfo = root.querySelector(".kv-page"), size = root.querySelector(".kv-size");
  var thead = root.querySelector("thead"), tbody = root.querySelector("tbody");
  var view = rows.map(function (_, i) { return i; });
  var haystack = null, page = 0, sortColumn = -1, sortDir = 1;
  function esc(v) {
    if (v === null || v === undefined) return "";
    return String(v).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function pageSize() { return parseInt(size.value, 10); }
  function head() {
    var html = "<tr>";
    for (var c = 0; c < columns.length; c++) {
      var cls = "kv-sortable" + (numeric[c] ? "" : " kv-text") +
        (c === sortColumn ? (sortDir > 0 ? " kv-asc" : " kv-desc") : "");
      html += '<th class="' + cls + '" data-col="' + c + '">' + esc(columns[c]) + "</th>";
    }
    thead.innerHTML = html + "</tr>";
  }
  function draw() {
    var pages = Math.max(1, Math.ceil(view.length / pageSize()));
    page = Math.min(page, pages - 1);
    var start = page * pageSize(), end = Math.min(view.length, start + pageSize()), html = "";
    for (var i = start; i < end; i++) {
      var row = rows[view[i]];
      html += "<tr>";
      for (var c = 0; c < columns.length; c++) {
        html += numeric[c] ? "<td>" + esc(row[c]) + "</td>" : '<td class="kv-text">' + esc(row[c]) + "</td>";
      }
      html += "</tr>";
    }
    tbody.innerHTML = html;
    count.textContent = view.length === rows.length ? rows.length + " rows"
      : view.length + " of " + rows.length + " rows";
    pageInfo.textContent = "page " + (page + 1) + " of " + pages;
  }
  function filter() {
    var needle = search.value.trim().toLowerCase();
    if (!needle) { view = rows.map(function (_, i) { return i; }); }
    else {
      if (haystack === null) {
        haystack = rows.map(function (row) { return row.join("\u0001").toLowerCase(); });
      }
      view = [];
      for (var i = 0; i < haystack.length; i++) if (haystack[i].indexOf(needle) >= 0) view.push(i);
    }
    if (sortColumn >= 0) order();
    page = 0;
    draw();
  }
  function compare(a, b) {
    var x = rows[a][sortColumn], y = rows[b][sortColumn];
    if (x === null || x === undefined) return (y === null || y === undefined) ? a - b : 1;
    if (y === null || y === undefined) return -1;
    var r = numeric[sortColumn] ? x - y : (x < y ? -1 : x > y ? 1 : 0);
    return r === 0 ? a - b : r * sortDir;
  }
  function order() { view.sort(compare); }
  thead.addEventListener("click", function (event) {
    var th = event.target.closest("th");
    if (!th) return;
    var c = parseInt(th.getAttribute("data-col"), 10);
    sortDir = c === sortColumn ? -sortDir : 1;
    sortColumn = c;
    order();
    head();
    draw();
  });
  var timer = null;
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(filter, 120); });
  size.addEventListener("change", function () { page = 0; draw(); });
  root.querySelector(".kv-prev").addEventListener("click", function () { if (page > 0) { page--; draw(); } });
  root.querySelector(".kv-next").addEventListener("click", function () { page++; draw(); });
  head();
  draw();
})(document.currentScript.parentNode);
