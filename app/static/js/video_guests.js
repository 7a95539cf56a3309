// The doctor's invitations of a guest in a video call (templates/video/_guests.html): create a
// one-time link by name, copy it, see whether it was used, withdraw it.
(function () {
    "use strict";

    var root = document.getElementById("call-guests");
    if (!root || root.dataset.ready) {
        return;
    }
    root.dataset.ready = "1";
    var labels = root.dataset;
    var part = function (name) { return root.querySelector('[data-part="' + name + '"]'); };

    function request(url, body) {
        var options = {credentials: "same-origin", headers: {"Accept": "application/json"}};
        if (body !== undefined) {
            options.method = "POST";
            options.headers["Content-Type"] = "application/json";
            options.headers["X-CSRFToken"] = labels.csrf;
            options.body = JSON.stringify(body);
        }
        return fetch(url, options).then(function (response) {
            return response.json().catch(function () { return {}; }).then(function (data) {
                if (!response.ok) {
                    throw new Error(data.message || labels.labelError);
                }
                return data;
            });
        });
    }

    function say(text) {
        var error = part("error");
        error.textContent = text || "";
        error.hidden = !text;
    }

    function render(guests) {
        var list = part("list");
        list.textContent = "";
        guests.forEach(function (guest) {
            var item = document.createElement("li");
            item.className = "call-guest call-guest-" + guest.state;
            item.dataset.guestId = String(guest.id);
            var name = document.createElement("strong");
            name.textContent = guest.name;
            var state = document.createElement("span");
            state.className = "text-muted small";
            state.textContent = " · " + ({invited: labels.labelInvited, joined: labels.labelJoined,
                withdrawn: labels.labelWithdrawn})[guest.state];
            item.appendChild(name);
            item.appendChild(state);
            if (guest.state !== "withdrawn") {
                var withdraw = document.createElement("button");
                withdraw.type = "button";
                withdraw.className = "btn btn-link btn-xs";
                withdraw.textContent = labels.labelWithdraw;
                withdraw.addEventListener("click", function () {
                    request(guest.withdraw_url, {}).then(function () {
                        part("link").hidden = true;
                        refresh();
                    }).catch(function (error) { say(error.message); });
                });
                item.appendChild(withdraw);
            }
            list.appendChild(item);
        });
    }

    function refresh() {
        return request(labels.base).then(function (data) { render(data.guests || []); })
            .catch(function (error) { say(error.message); });
    }

    part("form").addEventListener("submit", function (event) {
        event.preventDefault();
        var input = root.querySelector("#call-guest-name");
        say("");
        request(labels.base, {display_name: input.value}).then(function (data) {
            input.value = "";
            part("link-input").value = data.link;
            part("link").hidden = false;
            part("link-input").select();
            refresh();
        }).catch(function (error) { say(error.message); });
    });

    root.querySelector('[data-action="copy"]').addEventListener("click", function () {
        var input = part("link-input");
        input.select();
        var done = function () { say(""); part("error").hidden = true; input.title = labels.labelCopied; };
        if (navigator.clipboard && window.isSecureContext) {
            navigator.clipboard.writeText(input.value).then(done, function () { document.execCommand("copy"); done(); });
        } else {
            document.execCommand("copy");
            done();
        }
    });

    // Someone came or went (video_call.js tells the tools with "call:streams"): the list again,
    // at most once a second, so "Joined with the link" shows without a reload.
    var pending = null;
    document.addEventListener("call:streams", function () {
        if (pending === null) {
            pending = setTimeout(function () { pending = null; refresh(); }, 1000);
        }
    });
    refresh();
}());
