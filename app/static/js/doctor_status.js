// "Doctors now" (templates/clinic/doctor_status.html): when a waiting list or an appointment
// changes (realtime.js's events), the table's rows are fetched again from this same page and put
// in place, without reloading the page. A burst of events fetches once.
(function () {
    "use strict";

    var table = document.getElementById("doctor-status");
    if (!table) {
        return;
    }
    var timer = null;
    var asked = 0;

    // Only the answer to the latest fetch is put in place: an older one arriving late would show
    // the rows as they were before the last change.
    function reloadRows() {
        var mine = ++asked;
        fetch(window.location.href, {credentials: "same-origin", headers: {"Accept": "text/html"}})
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (html) {
                if (!html || mine !== asked) {
                    return;
                }
                var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("#doctor-status tbody");
                var current = table.querySelector("tbody");
                if (fresh && current) {
                    current.replaceWith(document.importNode(fresh, true));
                    table.dispatchEvent(new CustomEvent("doctor-status:updated", {bubbles: true}));
                }
            })
            .catch(function () { /* offline: the next event or reconnect tries again */ });
    }

    function soon() {
        window.clearTimeout(timer);
        timer = window.setTimeout(reloadRows, 300);
    }

    document.addEventListener("realtime:queue", soon);
    document.addEventListener("realtime:appointment", soon);
}());
