// Front desk (app/views/front_desk.py): the buttons post with the CSRF token and refresh the board
// in place; the board refreshes itself every 10 seconds (when the board's JSON changed) and at once
// on the "realtime:queue" DOM event the socket client dispatches. Without JavaScript the forms post
// normally and the page comes back with a message.
(function () {
    "use strict";
    var root = document.getElementById("front-desk");
    if (!root) {
        return;
    }
    var board = document.getElementById("fd-board");
    var message = document.getElementById("fd-message");
    var live = document.getElementById("fd-live");
    var last = null;
    var busy = false;
    // A poll asked for while one is in flight runs after it (forced if any asker forced it): two
    // board fetches never overlap, so an older answer can never land after a newer one and leave
    // the board showing a state from before the last click.
    var again = null;

    function say(text, kind) {
        message.textContent = text || "";
        message.className = "fd-message" + (text ? " alert alert-" + (kind || "info") : "");
    }

    // The clinic's time (data-zone), as every time on the board, whatever the computer's zone.
    function stamp() {
        var now = new Date();
        var text;
        try {
            text = new Intl.DateTimeFormat("en-GB", {hour: "2-digit", minute: "2-digit", second: "2-digit",
                                                     hour12: false, timeZone: root.dataset.zone || undefined})
                .format(now);
        } catch (e) {
            var pad = function (n) { return (n < 10 ? "0" : "") + n; };
            text = pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds());
        }
        live.textContent = root.dataset.msgUpdated.replace("{time}", text);
    }

    function reloadBoard() {
        return fetch(root.dataset.pageUrl, {credentials: "same-origin", headers: {"Accept": "text/html"}})
            .then(function (response) { return response.text(); })
            .then(function (html) {
                var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("fd-board");
                if (fresh) {
                    board.innerHTML = fresh.innerHTML;
                }
                stamp();
            });
    }

    function poll(force) {
        if (busy) {
            again = again || force;
            return Promise.resolve();
        }
        busy = true;
        return fetch(root.dataset.boardUrl, {credentials: "same-origin", headers: {"Accept": "application/json"}})
            .then(function (response) { return response.ok ? response.text() : null; })
            .then(function (text) {
                if (text === null) {
                    return null;
                }
                if (force || (last !== null && text !== last)) {
                    last = text;
                    return reloadBoard();
                }
                last = text;
                stamp();
                return null;
            })
            .catch(function () { /* offline for a moment: the next round tries again */ })
            .then(function () {
                busy = false;
                if (again !== null) {
                    var forced = again;
                    again = null;
                    return poll(forced);
                }
                return null;
            });
    }

    board.addEventListener("submit", function (event) {
        var form = event.target;
        if (!form.classList.contains("fd-action")) {
            return;
        }
        event.preventDefault();
        var button = form.querySelector("button");
        button.disabled = true;
        fetch(form.action, {
            method: "POST", credentials: "same-origin", body: new FormData(form),
            headers: {"Accept": "application/json", "X-CSRFToken": root.dataset.csrf}
        }).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (answer) {
                var text = answer.message;
                if (text && typeof text === "object") {
                    text = Object.keys(text).map(function (k) { return [].concat(text[k]).join(" "); }).join(" ");
                }
                say(text || root.dataset.msgFailed, response.ok ? "success" : (response.status === 409 ? "warning" : "danger"));
            });
        }).catch(function () {
            say(root.dataset.msgFailed, "danger");
        }).then(function () {
            return poll(true);
        });
    });

    document.addEventListener("realtime:queue", function () { poll(true); });
    poll(false);
    window.setInterval(function () { poll(false); }, 10000);
}());
