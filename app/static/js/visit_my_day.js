/* My day (templates/clinic/my_day.html): finishing a visit whose record is not signed yet asks
   first (it stays allowed: the draft is then listed under "Drafts to sign"). The list follows the
   waiting list live: when the desk checks someone in, calls or marks a no-show (the
   "realtime:queue" event of realtime.js, for this doctor's own room), the page loads again, unless
   the doctor is typing or the tab is hidden, in which case it does so once they are done, and
   never once a form was sent: "Start visit" changes the queue too, and a reload then would cancel
   the way to the visit and land back on My day. */
(function () {
    "use strict";
    var root = document.querySelector(".my-day");
    if (!root) { return; }
    document.querySelectorAll("form.my-day-finish").forEach(function (form) {
        form.addEventListener("submit", function (event) {
            if (form.dataset.unsigned === "true" && !window.confirm(root.dataset.msgFinishUnsigned)) {
                event.preventDefault();
            }
        });
    });
    var pending = false;
    var timer = null;
    var leaving = false;
    document.addEventListener("submit", function (event) { if (!event.defaultPrevented) { leaving = true; } });
    window.addEventListener("pagehide", function () { leaving = true; });
    function busy() {
        var active = document.activeElement;
        return document.hidden || Boolean(active && active.matches("input, textarea, select"));
    }
    function refresh() {
        timer = null;
        if (leaving) { return; }
        if (busy()) {
            pending = true;
            return;
        }
        window.location.reload();
    }
    document.addEventListener("realtime:queue", function () {
        if (timer === null) {
            timer = window.setTimeout(refresh, 300);  // several changes at once: one reload
        }
    });
    document.addEventListener("visibilitychange", function () { if (pending && !busy()) { refresh(); } });
    document.addEventListener("focusout", function () { if (pending) { window.setTimeout(refresh, 0); } });
}());
