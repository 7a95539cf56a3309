// The managers' dashboards (clinic/dashboards.html): each figure comes as plotly JSON in
// data-figure (built by app/views/dashboards.py, separators already in the page's language) and is
// drawn with plotly's own bundle served from the installed package (no CDN).
(function () {
  if (!window.Plotly) { return; }
  var boxes = document.querySelectorAll(".dash-chart[data-figure]");
  Array.prototype.forEach.call(boxes, function (box) {
    var figure = JSON.parse(box.getAttribute("data-figure"));
    window.Plotly.newPlot(box, figure.data, figure.layout || {}, {displayModeBar: false, responsive: true});
  });
})();
