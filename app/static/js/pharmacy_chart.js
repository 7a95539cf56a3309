// The usage chart of a medicine's page (clinic/pharmacy/medicine.html): the figure comes as JSON
// in data-figure, drawn by plotly's own bundle served from the installed package.
(function () {
  var box = document.getElementById("usage-chart");
  if (!box || !window.Plotly) { return; }
  var figure = JSON.parse(box.getAttribute("data-figure"));
  window.Plotly.newPlot(box, figure.data, figure.layout, {displayModeBar: false, responsive: true});
})();
