// The back-office calendar (templates/clinic/calendar.html). Staff who may write appointments
// drag a block to another time (and, in the day view, another doctor's column) and click an empty
// time to book; both go through the REST booking API with the browser session. The server checks
// every rule: on a refusal its message is shown and the block goes back.
(function ($) {
    "use strict";

    var grid = document.querySelector(".cal-grid");
    if (!grid) {
        return;
    }
    var data = grid.dataset;
    var canWrite = data.canWrite === "1";
    var firstMinute = Number(data.startMinute);
    var lastMinute = Number(data.endMinute);
    var perMinute = Number(data.pxPerMinute);
    var step = Number(data.slotMinutes) || 15;
    var columns = Array.prototype.slice.call(grid.querySelectorAll(".cal-col"));
    var banner = document.getElementById("cal-message");
    var suppressClick = false;

    function pad(n) { return (n < 10 ? "0" : "") + n; }
    function clock(minute) { return pad(Math.floor(minute / 60)) + ":" + pad(minute % 60); }

    function minuteAt(column, clientY) {
        var offset = (clientY - column.getBoundingClientRect().top) / perMinute;
        var minute = firstMinute + Math.floor(offset / step) * step;
        return Math.max(firstMinute, Math.min(minute, lastMinute - step));
    }

    function columnAt(clientX) {
        for (var i = 0; i < columns.length; i++) {
            var rect = columns[i].getBoundingClientRect();
            if (clientX >= rect.left && clientX < rect.right) {
                return columns[i];
            }
        }
        return null;
    }

    function instant(column, minute) {
        return column.dataset.date + "T" + clock(minute) + ":00" + column.dataset.offset;
    }

    function errorText(answer) {
        var message = answer && answer.message;
        if (message && typeof message === "object") {
            message = Object.keys(message).map(function (key) {
                var value = message[key];
                return Array.isArray(value) ? value.join(" ") : String(value);
            }).join(" ");
        }
        return message || data.msgFailed;
    }

    function post(url, body) {
        var headers = {"Content-Type": "application/json", "Accept": "application/json"};
        if (data.csrf) {
            headers["X-CSRFToken"] = data.csrf;
        }
        return fetch(url, {method: "POST", credentials: "same-origin", headers: headers, body: JSON.stringify(body)})
            .then(function (response) {
                return response.json().catch(function () { return {}; }).then(function (answer) {
                    return {ok: response.ok, status: response.status, answer: answer};
                });
            }, function () {
                return {ok: false, status: 0, answer: {}};
            });
    }

    function showBanner(text) {
        banner.textContent = text;
        banner.hidden = false;
    }

    // --- moving an appointment ------------------------------------------------------------------

    var drag = null;

    function putBack(state) {
        state.block.classList.remove("cal-dragging");
        if (state.block.parentNode !== state.home) {
            state.home.insertBefore(state.block, state.next);
        }
        state.block.style.top = state.top;
        state.block.style.left = state.left;
        state.block.style.width = state.width;
    }

    if (canWrite) {
        grid.addEventListener("pointerdown", function (event) {
            var block = event.target.closest(".cal-movable");
            if (!block || event.button !== 0) {
                return;
            }
            event.preventDefault();
            drag = {
                block: block, home: block.parentNode, next: block.nextSibling, top: block.style.top,
                left: block.style.left, width: block.style.width, x: event.clientX, y: event.clientY,
                grab: event.clientY - block.getBoundingClientRect().top, moved: false
            };
        });

        document.addEventListener("pointermove", function (event) {
            if (!drag) {
                return;
            }
            if (!drag.moved && Math.abs(event.clientX - drag.x) + Math.abs(event.clientY - drag.y) < 5) {
                return;
            }
            drag.moved = true;
            var block = drag.block;
            block.classList.add("cal-dragging");
            var column = columnAt(event.clientX) || block.parentNode;
            if (column !== block.parentNode) {
                column.appendChild(block);
            }
            block.style.top = (minuteAt(column, event.clientY - drag.grab) - firstMinute) * perMinute + "px";
            block.style.left = "0";
            block.style.width = "100%";
        });

        document.addEventListener("pointerup", function (event) {
            if (!drag) {
                return;
            }
            var state = drag;
            drag = null;
            if (!state.moved) {
                return;
            }
            suppressClick = true;
            window.setTimeout(function () { suppressClick = false; }, 0);
            var block = state.block;
            var column = columnAt(event.clientX) || state.home;
            var start = instant(column, minuteAt(column, event.clientY - state.grab));
            var doctor = column.dataset.doctor || block.dataset.doctor;
            var before = block.dataset.start.slice(0, 16);
            if (start.slice(0, 16) === before && String(doctor) === String(block.dataset.doctor)) {
                putBack(state);
                return;
            }
            banner.hidden = true;
            block.setAttribute("aria-busy", "true");
            var url = data.rescheduleUrl.replace("/0/", "/" + block.dataset.id + "/");
            post(url, {start: start, doctor_id: Number(doctor)}).then(function (result) {
                block.removeAttribute("aria-busy");
                if (result.ok) {
                    window.location.reload();
                    return;
                }
                putBack(state);
                showBanner(errorText(result.answer));
            });
        });
    }

    // --- booking an empty time ------------------------------------------------------------------

    var dialog = document.getElementById("cal-book");
    if (!canWrite || !dialog) {
        return;
    }
    var form = dialog.querySelector("form");
    var note = dialog.querySelector(".cal-book-message");

    function say(text, kind) {
        note.className = "alert cal-book-message alert-" + kind;
        note.textContent = text;
        note.hidden = false;
    }

    function open(column, minute) {
        form.elements.start.value = instant(column, minute);
        dialog.querySelector(".cal-book-when").textContent = column.dataset.date + " " + clock(minute) +
            (column.dataset.doctor ? " · " + column.dataset.label : "");
        if (column.dataset.doctor) {
            form.elements.doctor_id.value = column.dataset.doctor;
        }
        note.hidden = true;
        dialog.hidden = false;
    }

    grid.addEventListener("click", function (event) {
        if (suppressClick || event.target.closest(".cal-appt")) {
            return;
        }
        var column = event.target.closest(".cal-col");
        if (column) {
            open(column, minuteAt(column, event.clientY));
        }
    });

    dialog.querySelector(".cal-book-cancel").addEventListener("click", function () {
        dialog.hidden = true;
    });
    document.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
            dialog.hidden = true;
        }
    });

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = {
            start: form.elements.start.value,
            doctor_id: Number(form.elements.doctor_id.value),
            patient_id: Number($(form.elements.patient_id).val()),
            service_id: Number(form.elements.service_id.value)
        };
        var reason = form.elements.reason.value.trim();
        if (reason) {
            body.reason = reason;
        }
        if (!body.doctor_id || !body.patient_id || !body.service_id) {
            say(data.msgRequired, "warning");
            return;
        }
        var button = form.querySelector(".cal-book-submit");
        button.disabled = true;
        post(data.bookUrl, body).then(function (result) {
            button.disabled = false;
            if (result.ok) {
                say(data.msgBooked, "success");
                window.location.reload();
                return;
            }
            say(errorText(result.answer), "danger");
        });
    });
}(jQuery));
