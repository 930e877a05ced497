/* tfdv: features as row groups (a line per dataset) with each dataset's distribution,
   overlaid or side by side; sort by missing, zeros or distance; search by name. */
(function (root) {
  "use strict";
  var kv = window.kvViz, data = kv.data(root), datasets = data.datasets;
  var box = root.querySelector(".kv-features"), search = root.querySelector(".kv-search");
  var order = root.querySelector(".kv-order"), count = root.querySelector(".kv-count");
  var view = "overlay", W = 200, H = 48, CLASSES = ["a", "b", "c", "d"];

  function pct(v) { return v === null || v === undefined ? "\u2014" : (100 * v).toFixed(1) + "%"; }
  function most(f, key) {
    var best = -1;
    (f.stats || []).forEach(function (s) { if (s && s[key] !== null && s[key] !== undefined) best = Math.max(best, s[key]); });
    return best;
  }
  var sorts = {
    order: null,
    name: function (a, b) { return a.name < b.name ? -1 : a.name > b.name ? 1 : 0; },
    missing: function (a, b) { return most(b, "missing") - most(a, "missing"); },
    zeros: function (a, b) { return most(b, "zeros") - most(a, "zeros"); },
    distance: function (a, b) {
      var x = a.distance === null ? -1 : a.distance, y = b.distance === null ? -1 : b.distance;
      return y - x;
    },
  };
  function bucketLabel(f, i) {
    return f.kind === "num" ? kv.fmt(f.edges[i]) + " to " + kv.fmt(f.edges[i + 1]) : f.labels[i];
  }
  /* One SVG: each dataset's shares per bucket, overlaid (translucent, full width) or side by
     side (each bucket split between the datasets). */
  function chart(f) {
    var shares = f.shares || [], n = f.kind === "num" ? Math.max(0, f.edges.length - 1) : (f.labels || []).length;
    if (!n) return "";
    var top = 0, k = shares.length;
    shares.forEach(function (s) { (s || []).forEach(function (v) { top = Math.max(top, v); }); });
    top = top || 1;
    var step = W / n, parts = [];
    shares.forEach(function (s, d) {
      if (!s) return;
      var width = view === "side" ? step / k : step, offset = view === "side" ? d * width : 0;
      s.forEach(function (v, i) {
        var h = Math.max(v > 0 ? 1 : 0, v / top * (H - 2));
        parts.push('<rect class="' + CLASSES[d % 4] + '" x="' + (i * step + offset + 0.5).toFixed(1) + '" y="' +
          (H - h).toFixed(1) + '" width="' + Math.max(width - 1, 0.5).toFixed(1) + '" height="' + h.toFixed(1) +
          '"><title>' + kv.esc(datasets[d].name + ": " + bucketLabel(f, i) + ": " + pct(v)) + "</title></rect>");
      });
    });
    return '<svg class="kv-hist' + (view === "overlay" ? " kv-overlay" : "") + '" width="' + W + '" height="' + H +
      '" viewBox="0 0 ' + W + " " + H + '" role="img" aria-label="' + kv.esc("Distribution of " + f.name) + '">' +
      parts.join("") + "</svg>";
  }
  var COLUMNS = {
    num: [["count", "count", kv.fmt], ["missing", "missing", pct], ["mean", "mean", kv.fmt],
          ["std_dev", "std dev", kv.fmt], ["zeros", "zeros", pct], ["min", "min", kv.fmt],
          ["median", "median", kv.fmt], ["max", "max", kv.fmt]],
    str: [["count", "count", kv.fmt], ["missing", "missing", pct], ["unique", "unique", kv.fmt],
          ["top", "top value", kv.esc], ["top_count", "top count", kv.fmt], ["avg_length", "avg length", kv.fmt]],
  };
  function group(f) {
    var columns = COLUMNS[f.kind], rows = "";
    datasets.forEach(function (d, i) {
      var s = f.stats[i];
      rows += "<tr>";
      if (i === 0) {
        rows += '<th scope="rowgroup" class="kv-text kv-name" rowspan="' + datasets.length + '">' + kv.esc(f.name) +
          '<br><span class="kv-note">' + f.type + (f.distance !== null && f.distance !== undefined ?
          ", distance " + kv.fmt(f.distance, 3) : "") + "</span></th>";
      }
      if (datasets.length > 1) {
        rows += '<td class="kv-text"><span class="kv-swatch" style="background:var(--kv-s' + (i % 4) + ')"></span>' +
          kv.esc(d.name) + "</td>";
      }
      columns.forEach(function (c) {
        rows += (c[0] === "top" ? '<td class="kv-text">' : "<td>") + (s ? c[2](s[c[0]]) : "\u2014") + "</td>";
      });
      if (i === 0) rows += '<td rowspan="' + datasets.length + '">' + chart(f) + "</td>";
      rows += "</tr>";
    });
    return '<tbody class="kv-feature" data-feature="' + kv.esc(f.name) + '">' + rows + "</tbody>";
  }
  function table(kind, title, features) {
    if (!features.length) return "";
    var head = '<th scope="col" class="kv-text">feature</th>' +
      (datasets.length > 1 ? '<th scope="col" class="kv-text">dataset</th>' : "") +
      COLUMNS[kind].map(function (c) { return '<th scope="col"' + (c[0] === "top" ? ' class="kv-text"' : "") + ">" + c[1] + "</th>"; }).join("") +
      '<th scope="col">' + (kind === "num" ? "histogram" : "top values") + "</th>";
    return '<h4 id="kv-' + kind + '">' + title + " (" + features.length + ')</h4><div class="kv-wrap" tabindex="0" role="region" aria-labelledby="kv-' + kind + '">' +
      '<table class="kv-' + (kind === "num" ? "numeric" : "categorical") + '"><thead><tr>' + head + "</tr></thead>" +
      features.map(group).join("") + "</table></div>";
  }
  function draw() {
    var needle = search.value.trim().toLowerCase(), sort = sorts[order.value];
    var chosen = data.features.filter(function (f) { return !needle || f.name.toLowerCase().indexOf(needle) >= 0; });
    if (sort) chosen = chosen.slice().sort(sort);
    var others = chosen.filter(function (f) { return f.kind === "other"; });
    box.innerHTML = table("num", "Numeric features", chosen.filter(function (f) { return f.kind === "num"; })) +
      table("str", "Categorical features", chosen.filter(function (f) { return f.kind === "str"; })) +
      (others.length ? '<p class="kv-note">Other features: ' + others.map(function (f) {
        return kv.esc(f.name) + " (" + f.type + ")";
      }).join(", ") + "</p>" : "");
    count.textContent = chosen.length === data.features.length ? data.features.length + " features"
      : chosen.length + " of " + data.features.length + " features";
  }
  var timer = null;
  search.addEventListener("input", function () { clearTimeout(timer); timer = setTimeout(draw, 120); });
  order.addEventListener("change", draw);
  root.querySelectorAll(".kv-view").forEach(function (button) {
    button.addEventListener("click", function () {
      view = button.getAttribute("data-view");
      root.querySelectorAll(".kv-view").forEach(function (b) { b.setAttribute("aria-pressed", String(b === button)); });
      draw();
    });
  });
  draw();
})(document.currentScript.parentNode);
