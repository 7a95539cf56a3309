/* The cashier's counter (templates/billing/counter_invoice.html): the change for the cash typed,
   live; the catalogue's price when a service, medicine or lab test is picked; one click per
   payment (the button is disabled once the form is sent; the server also keeps one payment per
   form key). Numbers are read and written the user's way (data-decimal, data-group). */
(function () {
  "use strict";
  var root = document.getElementById("cashier-invoice");
  if (!root) { return; }
  var decimal = root.getAttribute("data-decimal") || ".";
  var group = root.getAttribute("data-group") || ",";
  var language = root.getAttribute("data-language") || "en";
  var currency = root.getAttribute("data-currency") || "VND";
  var places = parseInt(root.getAttribute("data-places") || "0", 10);

  function parse(text) {
    text = (text || "").replace(/[\s\u00a0\u202f']/g, "");
    if (!text) { return null; }
    text = text.split(group).join("");
    if (decimal !== ".") { text = text.split(decimal).join("."); }
    if (!/^-?\d+(\.\d+)?$/.test(text)) { return NaN; }
    return parseFloat(text);
  }

  function money(value) {
    try {
      return new Intl.NumberFormat(language === "vi" ? "vi-VN" : language, {
        style: "currency", currency: currency, minimumFractionDigits: places, maximumFractionDigits: places
      }).format(value);
    } catch (e) {
      return value.toFixed(places) + " " + currency;
    }
  }

  var cash = document.getElementById("cash-form");
  if (cash) {
    var amount = cash.querySelector(".cashier-amount");
    var tendered = cash.querySelector(".cashier-tendered");
    var output = cash.querySelector(".cashier-change");
    var showChange = function () {
      var a = parse(amount.value), t = parse(tendered.value);
      output.classList.remove("text-danger");
      if (t === null || a === null || isNaN(a) || isNaN(t)) { output.textContent = "—"; return; }
      var change = Math.round((t - a) * Math.pow(10, places)) / Math.pow(10, places);
      if (change < 0) {
        output.classList.add("text-danger");
        output.textContent = (output.getAttribute("data-short") || "") + " " + money(-change);
      } else {
        output.textContent = money(change);
      }
    };
    amount.addEventListener("input", showChange);
    tendered.addEventListener("input", showChange);
    showChange();
  }

  var addLine = document.querySelector("form.cashier-add-line");
  if (addLine) {
    var kind = addLine.querySelector(".cashier-kind");
    var price = addLine.querySelector(".cashier-price");
    var mayChange = addLine.getAttribute("data-change-price") === "1";
    var picks = addLine.querySelectorAll(".cashier-pick");
    var showKind = function (fill) {
      var chosen = kind.value;
      for (var i = 0; i < picks.length; i++) {
        picks[i].style.display = picks[i].getAttribute("data-kind") === chosen ? "" : "none";
      }
      price.readOnly = chosen !== "other" && !mayChange;
      if (fill) {
        var select = addLine.querySelector(".cashier-pick[data-kind='" + chosen + "'] select");
        var option = select ? select.options[select.selectedIndex] : null;
        price.value = option && option.getAttribute("data-price") ? option.getAttribute("data-price") : "";
      }
    };
    kind.addEventListener("change", function () { showKind(true); });
    var items = addLine.querySelectorAll(".cashier-item");
    for (var i = 0; i < items.length; i++) {
      items[i].addEventListener("change", function () { showKind(true); });
    }
    showKind(!price.value);
  }

  // The VietQR code follows the amount typed in the transfer tab (redrawn by the server, after a
  // pause in typing); an amount it refuses (above what is owed, fractions of a đồng) is said
  // under the code, which is hidden meanwhile so that a wrong code is never scanned.
  var qr = document.getElementById("vietqr");
  var transferAmount = document.querySelector(".cashier-transfer-amount");
  if (qr && transferAmount && window.fetch) {
    var caption = document.getElementById("vietqr-caption");
    var shown = document.getElementById("vietqr-amount");
    var template = caption.getAttribute("data-for") || "__AMOUNT__";
    var timer = null, asked = 0;
    var redraw = function () {
      var value = parse(transferAmount.value);
      var query = value === null ? "" : "?amount=" + encodeURIComponent(isNaN(value) ? transferAmount.value : String(value));
      var ticket = ++asked;
      fetch(qr.getAttribute("data-url") + query, { credentials: "same-origin", headers: { "Accept": "image/svg+xml" } })
        .then(function (response) {
          return response.text().then(function (text) { return { ok: response.ok, text: text, amount: response.headers.get("X-Amount") }; });
        })
        .then(function (answer) {
          if (ticket !== asked) { return; }
          if (answer.ok) {
            qr.innerHTML = answer.text;
            qr.style.visibility = "";
            caption.classList.remove("text-danger");
            var label = money(parseFloat(answer.amount));
            caption.textContent = template.replace("__AMOUNT__", label);
            if (shown) { shown.textContent = label; }
          } else {
            qr.style.visibility = "hidden";
            caption.classList.add("text-danger");
            caption.textContent = answer.text;
          }
        })
        .catch(function () { /* offline: the code drawn last stays */ });
    };
    transferAmount.addEventListener("input", function () {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(redraw, 400);
    });
  }

  var forms = document.querySelectorAll("form.cashier-pay");
  for (var j = 0; j < forms.length; j++) {
    forms[j].addEventListener("submit", function (event) {
      var form = event.currentTarget;
      if (form.getAttribute("data-sent")) { event.preventDefault(); return; }
      form.setAttribute("data-sent", "1");
      var buttons = form.querySelectorAll("button[type=submit]");
      for (var k = 0; k < buttons.length; k++) { buttons[k].disabled = true; }
    });
  }
}());
