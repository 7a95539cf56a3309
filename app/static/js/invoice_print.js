/* The printable invoice (templates/clinic/invoice/print.html): the Print button. */
(function () {
    "use strict";
    var button = document.getElementById("print-button");
    if (button) { button.addEventListener("click", function () { window.print(); }); }
})();
