/* My day (templates/clinic/my_day.html): finishing a visit whose record is not signed yet asks
   first (it stays allowed: the draft is then listed under "Drafts to sign"). */
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
}());
