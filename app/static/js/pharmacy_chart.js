// The usage chart of a medicine's page (clinic/pharmacy/medicine.html): the figure comes as JSON
// in data-figure, drawn by plotly's own bundle served from the installed package. Numbers and dates
// follow the page's language (Vietnamese: 1.234,5 and 22/11/2026).
(function () {
  var box = document.getElementById("usage-chart");
  if (!box || !window.Plotly) { return; }
  var figure = JSON.parse(box.getAttribute("data-figure"));

  function pageLanguage() {  // data-lang if the page gives it, else <html lang>, else the navbar's language menu
    var given = box.getAttribute("data-lang") || document.documentElement.lang;
    if (given) { return given.toLowerCase().split(/[-_]/)[0]; }
    var menu = document.querySelector(".navbar .dropdown-toggle .f16");
    return menu ? menu.textContent.trim().toLowerCase() : "en";
  }

  var layout = figure.layout || {};
  var xaxis = layout.xaxis = layout.xaxis || {};
  if (pageLanguage() === "vi") {
    layout.separators = ",.";
    xaxis.tickformat = xaxis.hoverformat = "%d/%m/%Y";
  } else {
    xaxis.hoverformat = "%Y-%m-%d";
  }
  window.Plotly.newPlot(box, figure.data, layout, {displayModeBar: false, responsive: true});
})();
