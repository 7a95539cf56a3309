/* The patient chart (templates/clinic/chart.html): draws the vitals and the chosen analyte's trend
   with plotly.js (served by the app) from the JSON the page carries in #chart-data's data-chart. */
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.Plotly) { return; }
  var data = JSON.parse(source.getAttribute("data-chart"));
  var config = {responsive: true, displaylogo: false, displayModeBar: false};
  // The page's language: Vietnamese writes 62,5 and 22/11/2026; otherwise 62.5 and 2026-11-22.
  var vi = data.lang === "vi";
  var dateFormat = vi ? "%d/%m/%Y" : "%Y-%m-%d";

  function day(text, shift) {  // "YYYY-MM-DD HH:MM" moved by ``shift`` days, as "YYYY-MM-DD"
    var moment = new Date(text.slice(0, 10) + "T00:00:00Z");
    moment.setUTCDate(moment.getUTCDate() + shift);
    return moment.toISOString().slice(0, 10);
  }

  function layout(title, unit, traces, width) {
    // dd/mm/yyyy is wide: as many ticks as fit flat (a phone gets 3), margins that hold them
    var xaxis = {type: "date", hoverformat: dateFormat, automargin: true, tickangle: 0,
                 nticks: Math.max(2, Math.floor((width || 400) / 110))};
    if (vi) { xaxis.tickformat = dateFormat; }
    var times = [];
    traces.forEach(function (t) { times = times.concat(t.x); });
    times.sort();
    if (times.length && times[0].slice(0, 10) === times[times.length - 1].slice(0, 10)) {
      xaxis.range = [day(times[0], -15), day(times[0], 15)];  // one day only: a month around it, not hours
    }
    return {
      title: {text: title, font: {size: 14}},
      separators: vi ? ",." : ".,",
      margin: {l: 45, r: 15, t: 35, b: 40},
      height: 260,
      showlegend: false,
      xaxis: xaxis,
      yaxis: {title: {text: unit || ""}, zeroline: false}
    };
  }

  function trace(series, name, color) {
    return {x: series.x, y: series.y, name: name, type: "scatter", mode: "lines+markers",
            line: {color: color, width: 2}, marker: {size: 6},
            hovertemplate: "%{x|" + dateFormat + "}: %{y}" + (series.unit ? " " + series.unit : "") + "<extra>" + name + "</extra>"};
  }

  function draw(element, traces, title, unit) {
    var points = traces.reduce(function (n, t) { return n + t.x.length; }, 0);
    if (!points) {
      element.classList.add("chart-plot-empty");
      element.innerHTML = "";
      var heading = document.createElement("strong");
      heading.textContent = title;
      var note = document.createElement("p");
      note.className = "text-muted";
      note.textContent = data.names.empty;
      element.appendChild(heading);
      element.appendChild(note);
      return;
    }
    element.classList.remove("chart-plot-empty");
    window.Plotly.react(element, traces, layout(title, unit, traces, element.clientWidth), config);
  }

  var v = data.vitals;
  var plots = {
    weight: function (el) { draw(el, [trace(v.weight, data.titles.weight, "#337ab7")], data.titles.weight, "kg"); },
    bmi: function (el) { draw(el, [trace(v.bmi, data.titles.bmi, "#5cb85c")], data.titles.bmi, "kg/m²"); },
    bp: function (el) {
      var bp = [trace(v.systolic, data.names.systolic, "#d9534f"), trace(v.diastolic, data.names.diastolic, "#f0ad4e")];
      draw(el, bp, data.titles.bp, "mmHg");
      if (v.systolic.x.length) { window.Plotly.relayout(el, {showlegend: true, legend: {orientation: "h", y: -0.25}}); }
    },
    temperature: function (el) {
      draw(el, [trace(v.temperature, data.titles.temperature, "#8e44ad")], data.titles.temperature, "°C");
    }
  };
  Object.keys(plots).forEach(function (name) {
    var element = document.getElementById("plot-" + name);
    if (element) { plots[name](element); }
  });

  var select = document.getElementById("analyte-select");
  var labPlot = document.getElementById("plot-lab");
  function drawLab() {
    var name = select.value;
    var series = data.labs[name];
    if (!series) { return; }
    var title = name + (series.range ? " (" + series.range + ")" : "");
    draw(labPlot, [trace(series, name, "#16a085")], title, series.unit);
  }
  if (select && labPlot) {
    select.addEventListener("change", drawLab);
    drawLab();
  }
})();
