/* The visit's lab section (templates/clinic/visit/_labs.html): filter the catalogue as you type,
   order the chosen tests, cancel an order, then reload the section's list of orders from the
   server. Calls the REST API with the session cookie and the CSRF header. */
(function () {
    "use strict";
    var section = document.getElementById("visit-labs");
    if (!section) {
        return;
    }
    var data = section.dataset;
    var search = document.getElementById("lab-search");
    var choices = document.getElementById("lab-choices");
    var none = document.getElementById("lab-none");
    var orderButton = document.getElementById("lab-order");
    var message = document.getElementById("lab-message");
    var orders = document.getElementById("lab-orders");

    function fold(text) {
        return (text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").replace(/đ/g, "d")
            .replace(/Đ/g, "d").toLowerCase();
    }

    function say(text, failed) {
        if (message) {
            message.textContent = text || "";
            message.className = "help-block" + (failed ? " text-danger" : "");
        }
    }

    function errorText(answer) {
        var text = answer && answer.message;
        if (text && typeof text === "object") {
            text = Object.keys(text).map(function (key) {
                var value = text[key];
                return Array.isArray(value) ? value.join(" ") : String(value);
            }).join(" ");
        }
        return text || data.msgFailed;
    }

    function post(url, body) {
        return fetch(url, {
            method: "POST", credentials: "same-origin",
            headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": data.csrf},
            body: JSON.stringify(body)
        }).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (answer) {
                return {ok: response.ok, answer: answer};
            });
        }, function () {
            return {ok: false, answer: {}};
        });
    }

    function reload() {
        return fetch(data.sectionUrl, {credentials: "same-origin"}).then(function (response) {
            return response.ok ? response.text() : null;
        }).then(function (html) {
            if (html !== null) {
                orders.innerHTML = html;
            }
        }, function () { /* the list stays as it was */ });
    }

    function filter() {
        var needle = fold(search.value.trim());
        var shown = 0;
        Array.prototype.forEach.call(choices.querySelectorAll("li"), function (item) {
            var match = !needle || fold(item.getAttribute("data-search")).indexOf(needle) !== -1;
            item.hidden = !match;
            if (match) {
                shown += 1;
            }
        });
        none.hidden = shown !== 0;
    }

    if (search) {
        search.addEventListener("input", filter);
        search.addEventListener("keydown", function (event) {
            if (event.key === "Enter") {  // Enter ticks the first test shown
                event.preventDefault();
                var first = choices.querySelector("li:not([hidden]) input:not(:disabled)");
                if (first) {
                    first.checked = !first.checked;
                }
            }
        });
    }

    if (orderButton) {
        orderButton.addEventListener("click", function () {
            var chosen = Array.prototype.map.call(
                choices.querySelectorAll("input[name=lab_test]:checked:not(:disabled)"),
                function (box) { return box.value; });
            if (!chosen.length) {
                say(data.msgChoose, true);
                return;
            }
            orderButton.disabled = true;
            post(data.orderUrl, {encounter_id: Number(data.encounter), test_codes: chosen}).then(function (reply) {
                orderButton.disabled = false;
                if (!reply.ok) {
                    say(errorText(reply.answer), true);
                    return;
                }
                chosen.forEach(function (code) {
                    var box = choices.querySelector("input[value='" + code + "']");
                    if (box) {
                        box.checked = false;
                        box.disabled = true;
                    }
                });
                say(data.msgOrdered, false);
                reload();
            });
        });
    }

    orders.addEventListener("click", function (event) {
        var button = event.target.closest(".lab-cancel");
        if (!button || !window.confirm(data.msgConfirmCancel)) {
            return;
        }
        var url = data.cancelUrl.replace(/\/0\/cancel$/, "/" + button.getAttribute("data-order") + "/cancel");
        button.disabled = true;
        post(url, {}).then(function (reply) {
            if (!reply.ok) {
                button.disabled = false;
                say(errorText(reply.answer), true);
                return;
            }
            var code = reply.answer.result && reply.answer.result.test_code;
            var box = code && choices ? choices.querySelector("input[value='" + code + "']") : null;
            if (box) {
                box.disabled = false;
            }
            reload();
        });
    });
}());
