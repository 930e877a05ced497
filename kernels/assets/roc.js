(function (root) {
  "use strict";
  var data = JSON.parse(root.querySelector("script.kv-data").textContent);
  var W = 520, H = 420, L = 56, T = 14, R = 16, B = 46, PW = W - L - R, PH = H - T - B;
  var NS = "http://www.w3.org/2000/svg";
  function el(name, attrs, parent) {
    var node = document.createElementNS(NS, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }
  function sx(v) { return L + v * PW; }
  function sy(v) { return T + (1 - v) * PH; }
  function fmt(v) {
    if (v === null || v === undefined) return "\u221E";
    if (typeof v === "string") return v;
    return Math.abs(v) >= 1e4 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : String(+v.toFixed(4));
  }
  var box = root.querySelector(".kv-plot");
  var svg = el("svg", {width: W, height: H, viewBox: "0 0 " + W + " " + H, role: "img"}, box);
  for (var i = 0; i <= 5; i++) {
    var v = i / 5;
    el("line", {x1: sx(v), x2: sx(v), y1: T, y2: T + PH, "class": "kv-grid"}, svg);
    el("line", {x1: L, x2: L + PW, y1: sy(v), y2: sy(v), "class": "kv-grid"}, svg);
    el("text", {x: sx(v), y: T + PH + 16, "text-anchor": "middle", "class": "kv-tick"}, svg).textContent = v.toFixed(1);
    el("text", {x: L - 6, y: sy(v) + 4, "text-anchor": "end", "class": "kv-tick"}, svg).textContent = v.toFixed(1);
  }
  el("line", {x1: L, y1: T + PH, x2: L + PW, y2: T + PH, "class": "kv-axis"}, svg);
  el("line", {x1: L, y1: T, x2: L, y2: T + PH, "class": "kv-axis"}, svg);
  el("text", {x: L + PW / 2, y: H - 8, "text-anchor": "middle", "class": "kv-tick"}, svg).textContent = "False positive rate";
  el("text", {x: 14, y: T + PH / 2, "text-anchor": "middle", "class": "kv-tick",
              transform: "rotate(-90 14 " + (T + PH / 2) + ")"}, svg).textContent = "True positive rate";
  el("line", {x1: sx(0), y1: sy(0), x2: sx(1), y2: sy(1), stroke: "#bdbdbd", "stroke-dasharray": "4 4"}, svg);
  var points = [];
  for (var j = 0; j < data.fpr.length; j++) points.push(sx(data.fpr[j]).toFixed(2) + "," + sy(data.tpr[j]).toFixed(2));
  el("polyline", {points: points.join(" "), fill: "none", stroke: "#1a73e8", "stroke-width": 2, "class": "kv-curve"}, svg);
  var marker = el("circle", {r: 4.5, fill: "#1a73e8", stroke: "#fff", "stroke-width": 1.5, visibility: "hidden"}, svg);
  var tip = box.querySelector(".kv-tip");
  svg.addEventListener("mousemove", function (event) {
    var rect = svg.getBoundingClientRect();
    var x = (event.clientX - rect.left) * W / rect.width, y = (event.clientY - rect.top) * H / rect.height;
    var best = -1, bestD = Infinity;
    for (var k = 0; k < data.fpr.length; k++) {
      var dx = sx(data.fpr[k]) - x, dy = sy(data.tpr[k]) - y, d = dx * dx + dy * dy;
      if (d < bestD) { bestD = d; best = k; }
    }
    if (best < 0) return;
    marker.setAttribute("cx", sx(data.fpr[best]));
    marker.setAttribute("cy", sy(data.tpr[best]));
    marker.setAttribute("visibility", "visible");
    tip.textContent = "Threshold: " + fmt(data.thresholds[best]) + "  FPR: " + fmt(data.fpr[best]) + "  TPR: " + fmt(data.tpr[best]);
    tip.style.display = "block";
    tip.style.left = (sx(data.fpr[best]) * rect.width / W + 12) + "px";
    tip.style.top = (sy(data.tpr[best]) * rect.height / H + 8) + "px";
  });
  svg.addEventListener("mouseleave", function () {
    marker.setAttribute("visibility", "hidden");
    tip.style.display = "none";
  });
})(document.currentScript.parentNode);
