// Files sent during a video call (templates/video/_files.html): send a PDF or an image (it lands in
// the patient's record), and the list of the files shared in this call, kept current by the
// server's "call:file" event to the call's room (and after each send from here).
(function () {
    "use strict";

    var root = document.getElementById("call-files");
    if (!root || root.dataset.ready) {
        return;
    }
    root.dataset.ready = "1";
    var base = root.dataset.base;
    var labels = root.dataset;
    var part = function (name) { return root.querySelector('[data-part="' + name + '"]'); };
    var form = part("form");
    var input = form.querySelector('input[type="file"]');
    var sendButton = form.querySelector('button[type="submit"]');

    function say(text, bad) {
        var message = part("message");
        message.textContent = text || "";
        message.classList.toggle("text-danger", Boolean(bad));
    }

    function answerOf(response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
            if (!response.ok) {
                throw new Error(data.message || labels.labelError);
            }
            return data;
        });
    }

    function render(files) {
        var list = part("list");
        list.textContent = "";
        files.forEach(function (file) {
            var item = document.createElement("li");
            item.className = "call-file";
            item.setAttribute("data-attachment-id", String(file.attachment_id));
            var icon = document.createElement("span");
            icon.className = "fa " + (file.is_image ? "fa-file-image-o" : "fa-file-pdf-o");
            icon.setAttribute("aria-hidden", "true");
            var link = document.createElement("a");
            link.href = file.url;
            link.textContent = file.name;
            link.setAttribute("download", file.name);
            var meta = document.createElement("span");
            meta.className = "text-muted small";
            meta.textContent = " " + file.size + " · " + (file.mine ? labels.labelMine : labels.labelTheirs);
            item.appendChild(icon);
            item.appendChild(document.createTextNode(" "));
            item.appendChild(link);
            item.appendChild(meta);
            list.appendChild(item);
        });
        part("empty").hidden = files.length > 0;
    }

    function refresh() {
        return fetch(base + "/files", {headers: {"Accept": "application/json"}, credentials: "same-origin"})
            .then(answerOf).then(function (data) { render(data.files || []); })
            .catch(function (error) { say(error.message, true); });
    }

    form.addEventListener("submit", function (event) {
        event.preventDefault();
        if (!input.files || !input.files.length) {
            say(labels.labelChoose, true);
            return;
        }
        var body = new FormData();
        body.append("file", input.files[0]);
        sendButton.disabled = true;
        say("");
        fetch(base + "/files", {method: "POST", body: body, credentials: "same-origin",
                                headers: {"Accept": "application/json", "X-CSRFToken": root.dataset.csrf}})
            .then(answerOf)
            .then(function () {
                form.reset();
                say(labels.labelSent, false);
                return refresh();
            })
            .catch(function (error) { say(error.message, true); })
            .then(function () { sendButton.disabled = false; });
    });

    var hooked = false;
    function hook() {
        var socket = window.ClinicCall && window.ClinicCall.socket;
        if (!hooked && socket && typeof socket.on === "function") {
            hooked = true;
            socket.on("call:file", function (data) {
                if (!data || base === "/video-call/" + data.appointment_id) {
                    refresh();
                }
            });
        }
        return hooked;
    }
    if (!hook()) {
        var tries = 0;
        var waiting = setInterval(function () {
            tries += 1;
            if (hook() || tries > 60) {
                clearInterval(waiting);
            }
        }, 500);
    }
    window.ClinicCallFiles = {refresh: refresh};
    refresh();
}());
