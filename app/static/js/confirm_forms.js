// A form with data-confirm asks before it is sent (no inline handler: the Content-Security-Policy
// allows no inline script). Without JavaScript the form is sent as is.
document.addEventListener("submit", function (event) {
  var form = event.target.closest ? event.target.closest("form[data-confirm]") : null;
  if (form && !window.confirm(form.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});
