/* The printable prescription (templates/clinic/visit/prescription_print.html): the Print button. */
(function () {
    "use strict";
    var button = document.getElementById("print-button");
    if (button) { button.addEventListener("click", function () { window.print(); }); }
})();
