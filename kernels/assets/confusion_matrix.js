/* confusion_matrix: switch the cells between counts and row-normalised rates (each count
   over its true class's total), and name a cell's classes when the pointer is on it. */
(function (root) {
  "use strict";
  var kv = window.kvViz, table = root.querySelector("table.kv-cm"), buttons = root.querySelectorAll(".kv-mode");
  var predicted = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent; });
  var cells = table.querySelectorAll("td.kv-cell");
  cells.forEach(function (td) { td.setAttribute("data-n", td.textContent); });
  function total(td) { return parseFloat(td.parentNode.lastElementChild.textContent.replace(/,/g, "")); }
  function count(td) { return parseFloat(td.getAttribute("data-n").replace(/,/g, "")); }
  function rate(td) { var t = total(td); return t ? count(td) / t : 0; }
  function show(mode) {
    buttons.forEach(function (b) { b.setAttribute("aria-pressed", String(b.getAttribute("data-mode") === mode)); });
    cells.forEach(function (td) {
      td.textContent = mode === "rates" ? (100 * rate(td)).toFixed(1) + "%" : td.getAttribute("data-n");
    });
    root.setAttribute("data-mode", mode);
  }
  kv.scrollCues(root);
  buttons.forEach(function (b) { b.addEventListener("click", function () { show(b.getAttribute("data-mode")); }); });
  table.addEventListener("mouseover", function (event) {
    var td = event.target.closest("td.kv-cell");
    if (!td || td.title) return;
    var label = td.parentNode.firstElementChild.textContent;
    td.title = "true " + label + ", predicted " + predicted[td.cellIndex] + ": " + td.getAttribute("data-n") +
      " (" + (100 * rate(td)).toFixed(1) + "% of true " + label + ")";
  });
})(document.currentScript.parentNode);
