// The printable goods receipt (clinic/pharmacy/receipt.html): its Print button.
(function () {
  var button = document.getElementById("print");
  if (button) { button.addEventListener("click", function () { window.print(); }); }
})();
