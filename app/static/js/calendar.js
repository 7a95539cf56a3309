// The back-office calendar (templates/clinic/calendar.html). Staff who may write appointments
// drag a block to another time (and, in the day view, another doctor's column) and click an empty
// time to book; both go through the REST booking API with the browser session. The server checks
// every rule: on a refusal its message is shown and the block goes back.
// Without a mouse: Tab to an appointment and press Enter (or Space) to open the "Move" form (a date
// and time in clinic time, and in the day view a doctor); Tab to a column, choose a time with the
// arrow keys and press Enter to book. Both use the same API calls and refresh as the mouse.
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
    var status = document.getElementById("cal-status");
    var suppressClick = false;
    var FOCUS_KEY = "cal-focus";

    function pad(n) { return (n < 10 ? "0" : "") + n; }
    function clock(minute) { return pad(Math.floor(minute / 60)) + ":" + pad(minute % 60); }

    // The slot under a click: the one whose row holds the pointer.
    function minuteAt(column, clientY) {
        var offset = (clientY - column.getBoundingClientRect().top) / perMinute;
        var minute = firstMinute + Math.floor(offset / step) * step;
        return clampMinute(minute);
    }

    // Where a dragged block's top edge lands: the nearest slot line (a drop a little above 10:00
    // is 10:00, not 09:45). The block shows this time while it moves and is saved at it.
    function snapMinute(column, clientY) {
        var offset = (clientY - column.getBoundingClientRect().top) / perMinute;
        return clampMinute(firstMinute + Math.round(offset / step) * step);
    }

    function clampMinute(minute) {
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

    // The clinic's UTC offset in minutes at the instant `ms` (its zone comes from the server).
    function zoneOffset(ms) {
        var parts = {};
        new Intl.DateTimeFormat("en-US", {
            timeZone: data.timezone, hourCycle: "h23", year: "numeric", month: "numeric", day: "numeric",
            hour: "numeric", minute: "numeric"
        }).formatToParts(new Date(ms)).forEach(function (part) { parts[part.type] = Number(part.value); });
        var wall = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour % 24, parts.minute);
        return Math.round((wall - ms) / 60000);
    }

    // "2027-01-04T09:30" in clinic time (a datetime-local value) -> "2027-01-04T09:30:00+07:00".
    function localInstant(value) {
        var local = value.slice(0, 16);
        var wall = Date.parse(local + ":00Z");
        if (isNaN(wall)) {
            return local;  // the server answers why
        }
        var minutes = zoneOffset(wall - zoneOffset(wall) * 60000);
        var sign = minutes < 0 ? "-" : "+";
        minutes = Math.abs(minutes);
        return local + ":00" + sign + pad(Math.floor(minutes / 60)) + ":" + pad(minutes % 60);
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

    function announce(text) {
        if (status) {
            status.textContent = text;
        }
    }

    // Reload the page after a change (on `day`'s week or day when given) and put the keyboard focus
    // back on the appointment `focusId`.
    function refresh(focusId, day) {
        try {
            if (focusId) {
                window.sessionStorage.setItem(FOCUS_KEY, String(focusId));
            }
        } catch (ignored) { /* storage off: no focus to restore */ }
        var url = new URL(window.location.href);
        if (day) {
            url.searchParams.set("date", day);
        }
        if (url.href === window.location.href) {
            window.location.reload();
        } else {
            window.location.assign(url.href);
        }
    }

    (function restoreFocus() {
        var id = null;
        try {
            id = window.sessionStorage.getItem(FOCUS_KEY);
            window.sessionStorage.removeItem(FOCUS_KEY);
        } catch (ignored) { /* storage off */ }
        var block = id && grid.querySelector('.cal-appt[data-id="' + id.replace(/\D/g, "") + '"]');
        if (block) {
            block.focus();
        }
    }());

    // --- the pop-over and the two forms (booking, moving): one open at a time; Escape or Close
    // shuts it --------------------------------------------------------------------------------

    var dialogs = Array.prototype.slice.call(document.querySelectorAll(".cal-dialog"));
    var opener = null;

    function openDialog(dialog, from) {
        dialogs.forEach(function (d) { d.hidden = true; });
        opener = from || null;
        dialog.hidden = false;
        var first = dialog.querySelector("input:not([type=hidden]), select, textarea, button");
        if (first) {
            first.focus();
        }
    }

    function closeDialogs() {
        var wasOpen = dialogs.some(function (d) { return !d.hidden; });
        dialogs.forEach(function (d) { d.hidden = true; });
        if (wasOpen && opener && document.body.contains(opener)) {
            opener.focus();
        }
        opener = null;
    }

    dialogs.forEach(function (dialog) {
        dialog.querySelector(".cal-dialog-close").addEventListener("click", closeDialogs);
    });
    document.addEventListener("keydown", function (event) {
        if (event.key === "Escape") {
            closeDialogs();
        }
    });

    // --- the details of an appointment: a click (or Enter on one that cannot move) -------------

    var detail = document.getElementById("cal-detail");
    var shown = null;

    function fill(selector, text) {
        var element = detail.querySelector(selector);
        if (element) {
            element.textContent = text;
        }
    }

    function link(selector, pattern, id) {
        var element = detail.querySelector(selector);
        if (element) {
            element.href = pattern.replace(/\/0(?=$|[?#])/, "/" + id);
        }
    }

    function openDetail(block) {
        var d = block.dataset;
        shown = block;
        fill(".cal-detail-patient", d.patient);
        fill(".cal-detail-code", d.patientCode);
        fill(".cal-detail-when", d.when);
        fill(".cal-detail-doctor", d.doctorName);
        fill(".cal-detail-service", d.service);
        fill(".cal-detail-status", d.queue ? d.statusLabel + " · #" + d.queue : d.statusLabel);
        link(".cal-detail-open", data.showUrl, d.id);
        link(".cal-detail-workflow", data.workflowUrl, d.id);
        if (data.patientUrl) {
            link(".cal-detail-patient-link", data.patientUrl, d.patientId);
        }
        var move = detail.querySelector(".cal-detail-move");
        if (move) {
            move.hidden = !block.classList.contains("cal-movable");
        }
        openDialog(detail, block);
    }

    grid.addEventListener("click", function (event) {
        var block = event.target.closest(".cal-appt");
        if (block && !suppressClick) {
            openDetail(block);
        }
    });

    grid.addEventListener("keydown", function (event) {
        var block = event.target.closest(".cal-appt");
        if (block && block === event.target && !block.classList.contains("cal-movable") &&
                (event.key === "Enter" || event.key === " ")) {
            event.preventDefault();
            openDetail(block);
        }
    });

    if (!canWrite) {
        return;
    }

    // --- moving an appointment ------------------------------------------------------------------

    // The one reschedule call, for dragging and for the "Move" form.
    function reschedule(block, start, doctor) {
        var url = data.rescheduleUrl.replace("/0/", "/" + block.dataset.id + "/");
        block.setAttribute("aria-busy", "true");
        return post(url, {start: start, doctor_id: Number(doctor)}).then(function (result) {
            block.removeAttribute("aria-busy");
            return result;
        });
    }

    var drag = null;

    function putBack(state) {
        state.block.classList.remove("cal-dragging");
        if (state.block.parentNode !== state.home) {
            state.home.insertBefore(state.block, state.next);
        }
        state.block.style.top = state.top;
        state.block.style.left = state.left;
        state.block.style.width = state.width;
        if (state.label) {
            state.label.textContent = state.time;
        }
    }

    grid.addEventListener("pointerdown", function (event) {
        var block = event.target.closest(".cal-movable");
        if (!block || event.button !== 0) {
            return;
        }
        event.preventDefault();
        var label = block.querySelector(".cal-appt-time");
        drag = {
            block: block, home: block.parentNode, next: block.nextSibling, top: block.style.top,
            left: block.style.left, width: block.style.width, x: event.clientX, y: event.clientY,
            grab: event.clientY - block.getBoundingClientRect().top, moved: false,
            label: label, time: label ? label.textContent : "", column: null, minute: null
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
        var minute = snapMinute(column, event.clientY - drag.grab);
        drag.column = column;
        drag.minute = minute;
        block.style.top = (minute - firstMinute) * perMinute + "px";
        block.style.left = "0";
        block.style.width = "100%";
        if (drag.label) {
            drag.label.textContent = clock(minute);  // the time it will have if dropped here
        }
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
        var column = state.column || state.home;
        var start = instant(column, state.minute);
        var doctor = column.dataset.doctor || block.dataset.doctor;
        var before = block.dataset.start.slice(0, 16);
        if (start.slice(0, 16) === before && String(doctor) === String(block.dataset.doctor)) {
            putBack(state);
            return;
        }
        banner.hidden = true;
        reschedule(block, start, doctor).then(function (result) {
            if (result.ok) {
                refresh(block.dataset.id);
                return;
            }
            putBack(state);
            showBanner(errorText(result.answer));
        });
    });

    // The "Move" form: Enter or Space on an appointment that can move.
    var mover = document.getElementById("cal-move");
    var moveForm = mover.querySelector("form");
    var moveNote = mover.querySelector(".cal-move-message");
    var moving = null;
    var FIELDS = {start: "start", start_at: "start", doctor_id: "doctor_id", doctor: "doctor_id"};

    function sayMove(text, field) {
        moveNote.textContent = text;
        Object.keys(FIELDS).forEach(function (key) {
            var input = moveForm.elements[FIELDS[key]];
            if (input) {
                input.removeAttribute("aria-invalid");
            }
        });
        var invalid = field && FIELDS[field] && moveForm.elements[FIELDS[field]];
        if (invalid) {
            invalid.setAttribute("aria-invalid", "true");
        }
        return invalid;
    }

    function openMove(block) {
        moving = block;
        var start = block.dataset.start;
        moveForm.elements.start.value = start.slice(0, 16);
        if (moveForm.elements.doctor_id) {
            moveForm.elements.doctor_id.value = block.dataset.doctor;
        }
        mover.querySelector(".cal-move-who").textContent =
            start.slice(0, 10) + " " + start.slice(11, 16) + " · " + block.dataset.patient;
        sayMove("");
        openDialog(mover, block);
    }

    var detailMove = detail.querySelector(".cal-detail-move");
    if (detailMove) {
        detailMove.addEventListener("click", function () {
            if (shown) {
                openMove(shown);
            }
        });
    }

    grid.addEventListener("keydown", function (event) {
        var block = event.target.closest(".cal-movable");
        if (block && block === event.target && (event.key === "Enter" || event.key === " ")) {
            event.preventDefault();
            openMove(block);
        }
    });

    moveForm.addEventListener("submit", function (event) {
        event.preventDefault();
        var value = moveForm.elements.start.value;
        if (!value) {
            sayMove(data.msgWhen, "start").focus();
            return;
        }
        var doctor = moveForm.elements.doctor_id ? moveForm.elements.doctor_id.value : moving.dataset.doctor;
        var button = moveForm.querySelector(".cal-move-submit");
        var block = moving;
        button.disabled = true;
        sayMove("");
        announce(data.msgMoving);
        reschedule(block, localInstant(value), doctor).then(function (result) {
            button.disabled = false;
            if (result.ok) {
                refresh(block.dataset.id, value.slice(0, 10));
                return;
            }
            announce("");
            var invalid = sayMove(errorText(result.answer), result.answer && result.answer.field);
            if (invalid) {
                invalid.focus();
            }
        });
    });

    // --- booking an empty time ------------------------------------------------------------------

    var dialog = document.getElementById("cal-book");
    var form = dialog.querySelector("form");
    var note = dialog.querySelector(".cal-book-message");

    function say(text, kind) {
        note.className = "alert cal-book-message alert-" + kind;
        note.textContent = text;
        note.hidden = false;
    }

    function open(column, minute, from) {
        form.elements.start.value = instant(column, minute);
        dialog.querySelector(".cal-book-when").textContent = column.dataset.date + " " + clock(minute) +
            (column.dataset.doctor ? " · " + column.dataset.label : "");
        if (column.dataset.doctor) {
            form.elements.doctor_id.value = column.dataset.doctor;
        }
        note.hidden = true;
        openDialog(dialog, from);
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

    // A focused column has a slot cursor: arrow keys move it (left and right to the next column),
    // Enter or Space books there.
    function cursorOf(column) {
        return column.dataset.cursor ? Number(column.dataset.cursor) : firstMinute;
    }

    function showCursor(column, minute) {
        column.dataset.cursor = String(minute);
        var mark = column.querySelector(".cal-cursor");
        mark.style.top = (minute - firstMinute) * perMinute + "px";
        mark.style.height = step * perMinute + "px";
        announce(data.msgSlot.replace("{time}", clock(minute)));
    }

    columns.forEach(function (column, index) {
        column.addEventListener("focus", function () {
            showCursor(column, cursorOf(column));
        });
        column.addEventListener("keydown", function (event) {
            if (event.target !== column) {
                return;
            }
            var minute = cursorOf(column);
            var moves = {ArrowUp: -step, ArrowDown: step, PageUp: -60, PageDown: 60};
            if (moves[event.key]) {
                showCursor(column, clampMinute(minute + moves[event.key]));
            } else if (event.key === "Home" || event.key === "End") {
                showCursor(column, event.key === "Home" ? firstMinute : clampMinute(lastMinute));
            } else if (event.key === "ArrowLeft" || event.key === "ArrowRight") {
                var next = columns[index + (event.key === "ArrowLeft" ? -1 : 1)];
                if (next) {
                    next.dataset.cursor = String(minute);
                    next.focus();
                }
            } else if (event.key === "Enter" || event.key === " ") {
                open(column, minute, column);
            } else {
                return;
            }
            event.preventDefault();
        });
    });

    // In person or video: a service offered one way only sets it (and the other is disabled).
    function followService() {
        var option = form.elements.service_id.selectedOptions[0];
        var modes = option ? option.getAttribute("data-modes") || "" : "";
        Array.prototype.forEach.call(form.elements.mode.options, function (choice) {
            choice.disabled = modes !== "" && modes !== "both" && choice.value !== modes;
        });
        if (modes === "in_person" || modes === "video") {
            form.elements.mode.value = modes;
        }
    }
    form.elements.service_id.addEventListener("change", followService);
    followService();

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        var body = {
            start: form.elements.start.value,
            doctor_id: Number(form.elements.doctor_id.value),
            patient_id: Number($(form.elements.patient_id).val()),
            service_id: Number(form.elements.service_id.value),
            mode: form.elements.mode.value
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
                refresh(result.answer.result && result.answer.result.id);
                return;
            }
            say(errorText(result.answer), "danger");
        });
    });
    // --- live updates (realtime.js): a booking, move or cancellation made elsewhere, or a waiting
    // list that changed, reloads the view; while a form is open or a block is being dragged, once
    // that is over --------------------------------------------------------------------------------

    var stale = false;
    var liveTimer = null;

    function busy() {
        return Boolean(drag) || dialogs.some(function (d) { return !d.hidden; });
    }

    function reloadWhenIdle() {
        if (busy()) {
            stale = true;
            return;
        }
        window.clearTimeout(liveTimer);
        liveTimer = window.setTimeout(function () {
            if (busy()) {
                stale = true;
            } else {
                refresh(null);
            }
        }, 400);  // a burst of events (a series, a move) reloads once
    }

    document.addEventListener("realtime:appointment", reloadWhenIdle);
    document.addEventListener("realtime:queue", reloadWhenIdle);
    document.addEventListener("pointerup", function () {
        if (stale && !busy()) {
            stale = false;
            reloadWhenIdle();
        }
    });
    dialogs.forEach(function (dialog) {
        dialog.querySelector(".cal-dialog-close").addEventListener("click", function () {
            if (stale) {
                stale = false;
                reloadWhenIdle();
            }
        });
    });
}(jQuery));
