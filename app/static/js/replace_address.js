// A page shown as the answer to a POST (a new webhook endpoint and its secret): the address bar
// takes the page's own address (data-url of this script tag), so a reload reads it again with a
// GET instead of posting the form a second time.
(function () {
  var script = document.currentScript;
  var url = script && script.getAttribute("data-url");
  if (url && window.history && window.history.replaceState) {
    window.history.replaceState(null, "", url);
  }
})();
