// Administration → Logs (templates/clinic/log_viewer.html): the live tail. With "Live" ticked the
// page joins the admins' room logtail:all on the page's Socket.IO connection (realtime.js) and
// puts each new event at the top of the table, built with textContent only (never as HTML: a log
// message is text a user may have influenced). The search filters are not applied to the tail;
// what arrives is every kept event, as it happens.
(function () {
    "use strict";

    var root = document.getElementById("log-viewer");
    var box = document.getElementById("log-tail");
    var rows = document.getElementById("log-rows");
    var state = document.getElementById("log-tail-state");
    if (!root || !box || !rows) {
        return;
    }
    var labels = root.dataset;
    var MAX_ROWS = 500;
    var listening = false;
    var joined = false;

    function cell(label, className) {
        var td = document.createElement("td");
        td.setAttribute("data-label", label);
        if (className) {
            td.className = className;
        }
        return td;
    }

    function small(text, muted) {
        var el = document.createElement("small");
        if (muted) {
            el.className = "text-muted";
        }
        el.textContent = text;
        return el;
    }

    function when(iso) {
        var at = new Date(iso);
        if (isNaN(at.getTime())) {
            return iso || "";
        }
        var pad = function (n) { return (n < 10 ? "0" : "") + n; };
        return pad(at.getHours()) + ":" + pad(at.getMinutes()) + ":" + pad(at.getSeconds());
    }

    function levelClass(level) {
        return {ERROR: "danger", CRITICAL: "danger", WARNING: "warning"}[level] || "default";
    }

    function row(event) {
        var tr = document.createElement("tr");
        var level = String(event.level || "");
        tr.className = "log-event log-new log-" + level.toLowerCase();
        tr.setAttribute("data-level", level);
        tr.setAttribute("data-request", event.request_id || "");
        var td = cell(labels.labelWhen, "log-when");
        td.textContent = when(event.created_at);
        tr.appendChild(td);
        td = cell(labels.labelLevel);
        var badge = document.createElement("span");
        badge.className = "label label-" + levelClass(level);
        badge.textContent = level;
        td.appendChild(badge);
        tr.appendChild(td);
        td = cell(labels.labelSource);
        var source = String(event.source || "");
        td.textContent = labels["source" + source.charAt(0).toUpperCase() + source.slice(1)] || source;
        if (event.job) {
            td.appendChild(document.createElement("br"));
            td.appendChild(small(event.job, true));
        }
        tr.appendChild(td);
        td = cell(labels.labelMessage, "log-message");
        var logger = document.createElement("code");
        logger.className = "log-logger";
        logger.textContent = event.logger || "";
        td.appendChild(logger);
        td.appendChild(document.createTextNode(" " + (event.message || "")));
        tr.appendChild(td);
        td = cell(labels.labelUser);
        td.textContent = event.user_id != null ? "#" + event.user_id + (event.role ? " (" + event.role + ")" : "") : "—";
        tr.appendChild(td);
        td = cell(labels.labelRequest, "log-request");
        if (event.route) {
            var code = document.createElement("code");
            code.textContent = (event.method || "") + " " + event.route;
            td.appendChild(code);
        }
        if (event.status) {
            var status = document.createElement("span");
            status.className = "label label-" + (event.status >= 500 ? "danger" : event.status >= 400 ? "warning" : "success");
            status.textContent = " " + event.status;
            td.appendChild(document.createTextNode(" "));
            td.appendChild(status);
        }
        if (event.request_id && /^[A-Za-z0-9._:\-]{1,64}$/.test(event.request_id)) {
            td.appendChild(document.createElement("br"));
            var link = document.createElement("a");
            link.className = "log-request-link";
            link.href = labels.requestUrl.replace("REQUEST", encodeURIComponent(event.request_id));
            link.appendChild(small(event.request_id, false));
            td.appendChild(link);
        }
        tr.appendChild(td);
        return tr;
    }

    function received(data) {
        if (!box.checked || !data || !Array.isArray(data.events)) {
            return;
        }
        var empty = document.getElementById("log-empty");
        if (empty) {
            empty.remove();
        }
        data.events.forEach(function (event) {
            rows.insertBefore(row(event), rows.firstChild);
        });
        while (rows.children.length > MAX_ROWS) {
            rows.removeChild(rows.lastChild);
        }
        if (data.more && state) {
            state.textContent = labels.more.replace("NUM", String(data.more));
        }
    }

    function start() {
        var realtime = window.clinicRealtime;
        if (!realtime || !realtime.socket) {
            return false;
        }
        if (!listening) {
            realtime.socket.on("log:events", received);
            listening = true;
        }
        if (!joined) {
            joined = true;
            realtime.join("logtail:all");
        }
        return true;
    }

    box.addEventListener("change", function () {
        if (box.checked && !start()) {
            box.checked = false;
        }
        root.classList.toggle("log-live", box.checked);
    });
})();
