/* tfma: a bar chart of one metric across the slices, each bar with the slice's example
   count, in the chosen order. The slices come from the slice table's data (column 0 the
   slice, 1 the example count); bars are scaled from 0 (from the lowest value when one is
   negative). */
(function (root) {
  "use strict";
  var kv = window.kvViz, charted = JSON.parse(root.querySelector("script.kv-chart-data").textContent).charted;
  var rows = JSON.parse(root.querySelector(".kv-datatable script.kv-data").textContent).rows;
  var metric = root.querySelector(".kv-metric"), order = root.querySelector(".kv-chart-order");
  var body = root.querySelector(".kv-hbars tbody");
  function draw() {
    var column = charted[metric.selectedIndex][1];
    var values = rows.map(function (row) { return row[column]; }), index = values.map(function (_, i) { return i; });
    var known = values.filter(function (v) { return v !== null; });
    var lo = Math.min(0, Math.min.apply(null, known)), hi = Math.max(0, Math.max.apply(null, known));
    var span = hi - lo || 1;
    var missingLast = function (f) {
      return function (a, b) {
        if (values[a] === null) return values[b] === null ? a - b : 1;
        if (values[b] === null) return -1;
        return f(a, b) || a - b;
      };
    };
    var sorts = {
      desc: missingLast(function (a, b) { return values[b] - values[a]; }),
      asc: missingLast(function (a, b) { return values[a] - values[b]; }),
      count: function (a, b) { return (rows[b][1] || 0) - (rows[a][1] || 0) || a - b; },
      slice: null,
    };
    if (sorts[order.value]) index.sort(sorts[order.value]);
    body.innerHTML = index.map(function (i) {
      var v = values[i], width = v === null ? 0 : 100 * (v - lo) / span;
      var count = rows[i][1] === null ? "" : "n = " + kv.fmt(rows[i][1]);
      return '<tr class="kv-slice-bar"><th scope="row" class="kv-text">' + kv.esc(rows[i][0]) + "</th>" +
        '<td class="kv-track"><span class="kv-fill" style="width:' + width.toFixed(2) + '%"></span></td>' +
        '<td class="kv-value">' + kv.fmt(v) + '</td><td class="kv-count">' + count + "</td></tr>";
    }).join("");
  }
  metric.addEventListener("change", draw);
  order.addEventListener("change", draw);
  draw();
})(document.currentScript.parentNode);
