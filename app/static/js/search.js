/* The search box (templates/search/_box.html): search as you type, results grouped by kind,
   keyboard navigation (arrows move, Enter opens the chosen result or the full results page,
   Escape closes). Reads GET <data-url>?q=... (JSON); no inline script (the site's CSP). */
(function () {
  "use strict";
  var DEBOUNCE_MS = 200;
  var MIN_CHARS = 2;

  function setup(form) {
    if (form.dataset.searchReady) { return; }
    form.dataset.searchReady = "1";
    var input = form.querySelector(".clinic-search-input");
    var panel = form.querySelector(".clinic-search-results");
    var status = form.querySelector(".clinic-search-status");
    var url = form.dataset.url;
    var timer = null;
    var controller = null;
    var options = [];
    var active = -1;
    var lastQuery = null;

    function close() {
      panel.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      panel.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function setActive(index) {
      if (!options.length) { return; }
      if (active >= 0 && options[active]) { options[active].classList.remove("active"); options[active].setAttribute("aria-selected", "false"); }
      active = (index + options.length) % options.length;
      var option = options[active];
      option.classList.add("active");
      option.setAttribute("aria-selected", "true");
      input.setAttribute("aria-activedescendant", option.id);
      option.scrollIntoView({block: "nearest"});
    }

    function message(text, css) {
      var p = document.createElement("div");
      p.className = "clinic-search-message " + (css || "");
      p.textContent = text;
      return p;
    }

    function render(data) {
      panel.textContent = "";
      options = [];
      active = -1;
      var unavailable = data.state !== "ok";  // the index is down: say so; the log events may still come
      if (unavailable) {
        panel.appendChild(message(data.message || form.dataset.labelError, "clinic-search-unavailable"));
      }
      var count = 0;
      data.groups.forEach(function (group) {
        var heading = document.createElement("div");
        heading.className = "clinic-search-group";
        heading.setAttribute("role", "presentation");
        heading.textContent = group.label;
        panel.appendChild(heading);
        group.results.forEach(function (result) {
          var link = document.createElement("a");
          link.className = "clinic-search-option";
          link.href = result.url;
          link.id = panel.id + "-" + group.kind + "-" + result.id;
          link.setAttribute("role", "option");
          link.setAttribute("aria-selected", "false");
          link.dataset.kind = group.kind;
          var title = document.createElement("span");
          title.className = "clinic-search-title";
          title.textContent = result.title;
          link.appendChild(title);
          if (result.detail) {
            var detail = document.createElement("span");
            detail.className = "clinic-search-detail";
            detail.textContent = result.detail;
            link.appendChild(detail);
          }
          panel.appendChild(link);
          options.push(link);
          count += 1;
        });
      });
      if (!count && !unavailable) {
        panel.appendChild(message(form.dataset.labelEmpty));
      } else if (count && data.more_url) {
        var more = document.createElement("a");
        more.className = "clinic-search-more";
        more.href = data.more_url;
        more.textContent = form.dataset.labelMore;
        panel.appendChild(more);
      }
      status.textContent = unavailable ? (data.message || "") : (count ? String(count) : form.dataset.labelEmpty);
      open();
    }

    function run() {
      var q = input.value.trim();
      if (q.length < MIN_CHARS) { lastQuery = null; close(); panel.textContent = ""; options = []; return; }
      if (q === lastQuery && !panel.hidden) { return; }
      lastQuery = q;
      if (controller) { controller.abort(); }
      controller = window.AbortController ? new AbortController() : null;
      form.classList.add("clinic-search-busy");
      fetch(url + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin",
        headers: {"Accept": "application/json"},
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      }).then(function (answer) {
        if (input.value.trim() !== q) { return; }  // typed on meanwhile: a newer answer is coming
        form.classList.remove("clinic-search-busy");
        if (!answer.ok) { render({state: "error", message: answer.data.message}); return; }
        render(answer.data);
      }).catch(function (error) {
        if (error && error.name === "AbortError") { return; }
        form.classList.remove("clinic-search-busy");
        render({state: "error", message: form.dataset.labelError});
      });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(run, DEBOUNCE_MS);
    });
    input.addEventListener("focus", function () {
      if (options.length || panel.childNodes.length) { open(); }
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "ArrowDown" || event.key === "Down") {
        event.preventDefault();
        if (panel.hidden) {
          // The same text's results are still here: reopen them. Asking again re-rendered the list
          // when the answer came and dropped the option chosen meanwhile (Enter then opened the
          // full results page instead).
          if (!(options.length && input.value.trim() === lastQuery)) { run(); }
          open();
        }
        setActive(active + 1);
      } else if (event.key === "ArrowUp" || event.key === "Up") {
        event.preventDefault();
        setActive(active - 1);
      } else if (event.key === "Enter") {
        if (!panel.hidden && active >= 0 && options[active]) {
          event.preventDefault();
          window.location.assign(options[active].href);
        } else if (!input.value.trim()) {
          event.preventDefault();
        }  // otherwise the form goes to the full results page
      } else if (event.key === "Escape" || event.key === "Esc") {
        if (!panel.hidden) { event.preventDefault(); close(); }
      }
    });
    panel.addEventListener("mousemove", function (event) {
      var option = event.target.closest ? event.target.closest(".clinic-search-option") : null;
      if (option) { setActive(options.indexOf(option)); }
    });
    document.addEventListener("click", function (event) {
      if (!form.contains(event.target)) { close(); }
    });
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-search-box]"), setup);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
