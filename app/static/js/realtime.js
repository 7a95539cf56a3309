// Live updates for every signed-in page (templates/realtime/client.html): one Socket.IO
// connection (the session cookie logs it in). It keeps the bell count current, shows a toast for a
// new notification, and tells the page what changed with DOM events on `document`:
//   realtime:queue        {doctor_id, day}          a doctor's waiting list changed
//   realtime:appointment  {appointment_id, change, doctor_id, start_at, status, ...}
//   realtime:chat         {conversation_id, message_id, inbox}
//   realtime:dispensing   {prescription_id}
//   realtime:reconnect    {}                        back online after a drop: fetch what was missed
// After a reconnect it asks GET /api/v1/realtime/state what it missed (notifications after the
// last one it saw, the waiting lists' versions) and sends the events a page needs to reload
// (`detail.catchup` is true). Pages join further rooms with window.clinicRealtime.join(room).
// On the waiting-room TV (no login) it joins that screen's display rooms and sends realtime:queue.
(function () {
    "use strict";

    if (typeof window.io !== "function") {
        return;
    }
    var host = document.getElementById("realtime-client");
    var screen = document.querySelector('[data-role="display"][data-departments]');
    if (!host && screen) {
        // The waiting-room TV (templates/realtime/display.html): no login, the /display namespace,
        // one room per department it shows (display:all when it names none).
        var ids = (screen.getAttribute("data-departments") || "").split(",").filter(function (id) {
            return /^\d+$/.test(id.trim());
        });
        var rooms = ids.length ? ids.map(function (id) { return "display:" + id.trim(); }) : ["display:all"];
        var tv = window.io("/display", {transports: ["websocket", "polling"], tryAllTransports: true});
        var display = {socket: tv, rooms: rooms, joined: []};
        tv.on("connect", function () {
            display.joined = [];
            var pending = rooms.length;
            rooms.forEach(function (room) {
                tv.emit("join", {room: room}, function (answer) {
                    if (answer && answer.ok) {
                        display.joined.push(room);
                    }
                    pending -= 1;
                    if (pending === 0) {
                        // Catch up once the server has put this screen in its rooms: a change made
                        // between the connect and the join is then read, not missed.
                        document.dispatchEvent(new CustomEvent("realtime:queue", {detail: {catchup: true}}));
                    }
                });
            });
        });
        tv.on("disconnect", function () { display.joined = []; });
        tv.on("queue", function (data) {
            document.dispatchEvent(new CustomEvent("realtime:queue", {detail: data || {}}));
        });
        window.clinicRealtime = display;
        return;
    }
    if (!host) {
        return;
    }
    var labels = host.dataset;
    var toasts = document.getElementById("realtime-toasts");
    // The newest notification this page knows: the one it was rendered with, so that anything
    // newer gets its toast once, whether the event or the first catch-up brings it first.
    var lastId = labels.lastId ? Number(labels.lastId) : null;
    var versions = null;    // doctor id -> waiting-list version, from the last state
    // Notification pushes heard so far: a catch-up answer computed before a push that arrived while
    // it was in flight would put the bell back to the older count, so its count is then not used.
    var pushes = 0;
    var everConnected = false;
    var extraRooms = [];
    // Once the page is leaving (a form sent, such as "Log out", or the tab gone) it asks nothing
    // more: a catch-up sent after the logout would only meet a 401.
    var leaving = false;
    document.addEventListener("submit", function (event) { if (!event.defaultPrevented) { leaving = true; } });
    window.addEventListener("pagehide", function () { leaving = true; });

    function fire(name, detail) {
        document.dispatchEvent(new CustomEvent("realtime:" + name, {detail: detail || {}}));
    }

    function setCount(unread) {
        var n = Math.max(0, Number(unread) || 0);
        document.querySelectorAll(".bell-count[data-unread-count]").forEach(function (badge) {
            badge.textContent = String(n);
            badge.setAttribute("data-unread-count", String(n));
            badge.classList.toggle("bell-zero", n === 0);
            var link = badge.closest("a");
            if (link && link.hasAttribute("aria-label")) {
                link.setAttribute("aria-label", (labels.labelUnread || "") + ": " + n);
            }
        });
    }

    function toast(title, link) {
        if (!toasts) {
            return;
        }
        var box = document.createElement("div");
        box.className = "realtime-toast";
        var heading = document.createElement("p");
        heading.className = "realtime-toast-title";
        heading.textContent = title || labels.labelNew || "";
        box.appendChild(heading);
        var actions = document.createElement("div");
        actions.className = "realtime-toast-actions";
        if (link && link.charAt(0) === "/" && link.charAt(1) !== "/") {
            var open = document.createElement("a");
            open.className = "btn btn-primary btn-xs";
            open.href = link;
            open.textContent = labels.labelOpen || "";
            actions.appendChild(open);
        }
        var close = document.createElement("button");
        close.type = "button";
        close.className = "btn btn-default btn-xs";
        close.textContent = labels.labelClose || "";
        close.addEventListener("click", function () { box.remove(); });
        actions.appendChild(close);
        box.appendChild(actions);
        toasts.appendChild(box);
        while (toasts.children.length > 3) {
            toasts.removeChild(toasts.firstChild);
        }
        window.setTimeout(function () { box.remove(); }, 12000);
    }

    function notice(text) {
        if (toasts) {
            var line = document.createElement("div");
            line.className = "realtime-toast";
            line.textContent = text;
            toasts.appendChild(line);
            window.setTimeout(function () { line.remove(); }, 5000);
        }
    }

    function catchUp(first) {
        if (leaving) {
            return Promise.resolve();
        }
        var url = labels.stateUrl + (lastId !== null ? "?since_id=" + encodeURIComponent(lastId) : "");
        var pushesBefore = pushes;
        return fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
            .then(function (response) { return response.ok ? response.json() : null; })
            .then(function (state) {
                if (!state) {
                    return;
                }
                if (pushes === pushesBefore) {
                    setCount(state.unread);
                }
                var rows = (state.notifications || []).filter(function (row) {
                    return lastId === null || row.id > lastId;
                });
                if (!first || lastId !== null) {
                    rows.slice(-3).forEach(function (row) {
                        if (!row.read) {
                            toast(row.title, row.link);
                        }
                    });
                }
                if (rows.length) {
                    lastId = Math.max(lastId || 0, rows[rows.length - 1].id);
                } else if (lastId === null) {
                    lastId = 0;
                }
                var old = versions;
                versions = state.queue_versions || {};
                if (!first && old) {
                    var doctors = {};
                    Object.keys(versions).concat(Object.keys(old)).forEach(function (id) {
                        if (versions[id] !== old[id]) {
                            doctors[id] = true;
                        }
                    });
                    Object.keys(doctors).forEach(function (id) {
                        fire("queue", {doctor_id: Number(id), day: state.day, catchup: true});
                    });
                    if (Object.keys(doctors).length) {
                        fire("appointment", {catchup: true, day: state.day});
                    }
                }
            })
            .catch(function () { /* offline again: the next reconnect asks once more */ });
    }

    // WebSocket first; where a proxy refuses it, long-polling (tryAllTransports).
    var socket = window.io({transports: ["websocket", "polling"], tryAllTransports: true, withCredentials: true});

    socket.on("connect", function () {
        var first = !everConnected;
        if (everConnected) {
            notice(labels.labelOnline || "");
        }
        everConnected = true;
        extraRooms.forEach(function (room) { socket.emit("join", {room: room}); });
        catchUp(first);
        if (!first) {
            fire("reconnect", {});  // pages fetch what they missed (the chat: messages since its last id)
        }
    });
    socket.on("disconnect", function (reason) {
        if (reason !== "io client disconnect") {
            notice(labels.labelOffline || "");
        }
    });
    socket.on("notification", function (data) {
        pushes += 1;
        setCount(data.unread);
        if (data.id && (lastId === null || data.id > lastId)) {
            lastId = data.id;
            toast(data.title, data.link);
        }
    });
    socket.on("queue", function (data) { fire("queue", data); });
    socket.on("appointment", function (data) { fire("appointment", data); });
    socket.on("chat", function (data) { fire("chat", data); });
    socket.on("inbox", function (data) { data.inbox = true; fire("chat", data); });
    socket.on("dispensing", function (data) { fire("dispensing", data); });
    socket.on("refused", function (data) { fire("refused", data); });

    window.clinicRealtime = {
        socket: socket,
        join: function (room) {
            if (extraRooms.indexOf(room) < 0) {
                extraRooms.push(room);
            }
            return new Promise(function (resolve) {
                socket.emit("join", {room: room}, function (answer) { resolve(answer); });
            });
        },
        setCount: setCount
    };
}());
