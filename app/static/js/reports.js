// The reports page (app/views/reports.py): show the period fields of the chosen report only.
(function () {
  var select = document.getElementById("report");
  if (!select) { return; }
  function show() {
    var kind = select.value === "takings" || select.value === "medicines" ? "range" : select.value;
    document.querySelectorAll(".report-period").forEach(function (el) { el.hidden = el.dataset.kind !== kind; });
  }
  select.addEventListener("change", show);
  show();
})();
