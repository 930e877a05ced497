/* tfma: one metric across the slices, each with its example count, in the chosen order. The
   value axis fits the values (and their confidence intervals) so close slices look apart;
   "axis from zero" draws bars from a zero baseline instead. Intervals show as whiskers.
   Slices under the minimum example count are marked (and can be hidden). The slices come
   from the slice table's data (column 0 the slice, 1 the example count). */
(function (root) {
  "use strict";
  var kv = window.kvViz, chart = JSON.parse(root.querySelector("script.kv-chart-data").textContent);
  var charted = chart.charted, minimum = chart.min_examples;
  var table = JSON.parse(root.querySelector(".kv-datatable script.kv-data").textContent);
  var rows = table.rows, intervals = table.intervals || {};
  var metric = root.querySelector(".kv-metric"), order = root.querySelector(".kv-chart-order");
  var zero = root.querySelector(".kv-zero"), hideSmall = root.querySelector(".kv-hide-small");
  var body = root.querySelector(".kv-hbars tbody"), axisCell = root.querySelector(".kv-hbars th.kv-axis");
  var axisNote = root.querySelector(".kv-axis-note");

  function small(i) { return rows[i][1] !== null && rows[i][1] < minimum; }
  /* Round the ends of the axis out to a step of about a tenth of the span, never past 0
     for values that are all positive, nor past 1 for values within 0 and 1 (rates, AUC). */
  function nice(lo, hi) {
    var span = hi - lo, ends;
    if (!(span > 0)) { var pad = Math.abs(lo) * 0.05 || 1; ends = [lo - pad, hi + pad]; }
    else {
      var step = Math.pow(10, Math.floor(Math.log10(span / 10)));
      ends = [Math.floor((lo - span * 0.04) / step) * step, Math.ceil((hi + span * 0.04) / step) * step];
    }
    if (lo >= 0) ends[0] = Math.max(ends[0], 0);
    if (lo >= 0 && hi <= 1) ends[1] = Math.min(ends[1], 1);
    return ends;
  }
  function draw() {
    var column = charted[metric.selectedIndex][1], bounds = intervals[String(column)] || [];
    var values = rows.map(function (row) { return typeof row[column] === "number" ? row[column] : null; });
    var index = values.map(function (_, i) { return i; }).filter(function (i) { return !(hideSmall && hideSmall.checked && small(i)); });
    var ends = [];
    index.forEach(function (i) {
      if (values[i] !== null) ends.push(values[i]);
      if (bounds[i]) bounds[i].forEach(function (b) { if (b !== null) ends.push(b); });
    });
    var lo = Math.min.apply(null, ends), hi = Math.max.apply(null, ends), fromZero = zero.checked;
    if (!ends.length) { lo = 0; hi = 1; }
    var axis = fromZero ? [Math.min(0, lo), Math.max(0, hi)] : nice(lo, hi);
    if (axis[1] === axis[0]) axis[1] = axis[0] + 1;
    var span = axis[1] - axis[0], decimals = kv.decimalsFor(span / 4);
    function at(v) { return Math.min(100, Math.max(0, 100 * (v - axis[0]) / span)); }
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
    axisCell.innerHTML = '<span class="kv-ticks">' + [0, 0.5, 1].map(function (f) {
      return '<span style="left:' + (100 * f) + '%">' + kv.fixed(axis[0] + f * span, decimals) + "</span>";
    }).join("") + "</span>";
    axisNote.textContent = fromZero ? "Bars from zero: differences to scale."
      : "Axis from " + kv.fixed(axis[0], decimals) + " to " + kv.fixed(axis[1], decimals) +
        " (fitted to the values, not from zero: small differences look large)." +
        (bounds.some(function (b) { return b; }) ? " Whiskers: confidence intervals." : "");
    body.innerHTML = index.map(function (i) {
      var v = values[i], b = bounds[i], mark = "";
      if (v !== null) {
        mark = fromZero ? '<span class="kv-fill" style="left:' + at(Math.min(0, v)).toFixed(2) + "%;width:" +
          Math.abs(at(v) - at(0)).toFixed(2) + '%"></span>'
          : '<span class="kv-dot" style="left:' + at(v).toFixed(2) + '%"></span>';
      }
      if (b && b[0] !== null && b[1] !== null) {
        mark = '<span class="kv-whisker" style="left:' + at(b[0]).toFixed(2) + "%;width:" +
          (at(b[1]) - at(b[0])).toFixed(2) + '%"></span>' + mark;
      }
      var flagged = small(i), count = rows[i][1] === null ? "" : (flagged ? "\u26A0 " : "") + "n = " + kv.fmt(rows[i][1]);
      var interval = b && b[0] !== null ? " (" + kv.fmt(b[0]) + " \u2013 " + kv.fmt(b[1]) + ")" : "";
      return '<tr class="kv-slice-bar' + (flagged ? " kv-small" : "") + '"><th scope="row" class="kv-text">' + kv.esc(rows[i][0]) + "</th>" +
        '<td class="kv-track">' + mark + '</td><td class="kv-value">' + kv.fmt(v) + interval + "</td>" +
        '<td class="kv-count"' + (flagged ? ' title="fewer than ' + minimum + ' examples"' : "") + ">" + count + "</td></tr>";
    }).join("");
  }
  metric.addEventListener("change", draw);
  order.addEventListener("change", draw);
  zero.addEventListener("change", draw);
  if (hideSmall) hideSmall.addEventListener("change", draw);
  draw();
  kv.scrollCues(root.querySelector(".kv-slice-chart"));
})(document.currentScript.parentNode);
