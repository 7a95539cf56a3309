/* The waiting-room TV (/queue/display) and a patient's ticket (/queue/ticket/<token>).
 *
 * Both poll their JSON (data-state-url) every data-poll-seconds, and fetch it at once when the page
 * gets the "realtime:queue" DOM event (sent by the Socket.IO layer when a queue changes). The TV
 * plays a chime (Web Audio API: two tones made here, no sound file) and speaks the call in
 * Vietnamese (speechSynthesis, lang vi-VN) when a doctor's current number changes; browsers allow
 * sound only after a click, hence the "Turn on sound" button. Texts come translated from the page
 * (data-label-* attributes); numbers, initials and doctor names come from the server.
 */
(function () {
  "use strict";

  function fill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : all;
    });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function poller(root, render) {
    var url = root.getAttribute("data-state-url");
    var seconds = Math.max(1, parseFloat(root.getAttribute("data-poll-seconds")) || 3);
    var timer = null;
    var busy = false;
    var again = false;

    function schedule() {
      if (timer) { clearTimeout(timer); }
      timer = setTimeout(refresh, seconds * 1000);
    }

    function refresh() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(url, {headers: {"Accept": "application/json"}, credentials: "same-origin", cache: "no-store"})
        .then(function (response) {
          return response.json().then(function (body) { return {status: response.status, body: body}; });
        })
        .then(function (result) { render(result.status, result.body, false); })
        .catch(function () { render(0, null, true); })
        .then(function () {
          busy = false;
          if (again) { again = false; refresh(); } else { schedule(); }
        });
    }

    function onRealtime() { refresh(); }
    document.addEventListener("realtime:queue", onRealtime);
    window.addEventListener("realtime:queue", onRealtime);
    schedule();
    return refresh;
  }

  /* --- sound ------------------------------------------------------------------------------- */

  var audio = null;
  var soundOn = false;

  function chime() {
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) { return; }
    if (!audio) { audio = new Context(); }
    var start = audio.currentTime + 0.05;
    [[880, 0], [660, 0.45]].forEach(function (tone) {
      var oscillator = audio.createOscillator();
      var gain = audio.createGain();
      oscillator.type = "sine";
      oscillator.frequency.value = tone[0];
      gain.gain.setValueAtTime(0.0001, start + tone[1]);
      gain.gain.exponentialRampToValueAtTime(0.4, start + tone[1] + 0.03);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + tone[1] + 0.9);
      oscillator.connect(gain).connect(audio.destination);
      oscillator.start(start + tone[1]);
      oscillator.stop(start + tone[1] + 1);
    });
  }

  function speak(text) {
    if (!text || !("speechSynthesis" in window) || typeof SpeechSynthesisUtterance === "undefined") { return; }
    var utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = "vi-VN";
    var voices = window.speechSynthesis.getVoices() || [];
    var voice = voices.filter(function (v) { return /^vi/i.test(v.lang || ""); })[0];
    if (voice) { utterance.voice = voice; }
    utterance.rate = 0.9;
    window.speechSynthesis.speak(utterance);
  }

  function announce(texts) {
    if (!soundOn || !texts.length) { return; }
    try { chime(); } catch (e) { /* no audio output: the numbers are still on screen */ }
    setTimeout(function () {
      texts.forEach(function (text) { try { speak(text); } catch (e) { /* no speech here */ } });
    }, 1200);
  }

  /* --- the TV ------------------------------------------------------------------------------- */

  function startDisplay(root) {
    var label = function (name) { return root.getAttribute("data-label-" + name) || ""; };
    var shown = parseInt(root.getAttribute("data-shown"), 10) || 5;
    var grid = document.getElementById("qd-grid");
    var offline = document.getElementById("qd-offline");
    var clock = document.getElementById("qd-clock");
    var sound = document.getElementById("qd-sound");
    var zone = root.getAttribute("data-zone") || undefined;
    var lang = root.getAttribute("data-lang") || "vi";
    var lastCalls = null;  // doctor id -> "number@called_at" of the last state seen

    function tick() {
      try {
        clock.textContent = new Intl.DateTimeFormat(lang, {hour: "2-digit", minute: "2-digit", hour12: false,
                                                           timeZone: zone}).format(new Date());
      } catch (e) {
        var now = new Date();
        clock.textContent = ("0" + now.getHours()).slice(-2) + ":" + ("0" + now.getMinutes()).slice(-2);
      }
    }
    tick();
    setInterval(tick, 1000);

    if (sound) {
      sound.addEventListener("click", function () {
        soundOn = !soundOn;
        sound.setAttribute("aria-pressed", soundOn ? "true" : "false");
        sound.textContent = soundOn ? sound.getAttribute("data-on") : sound.getAttribute("data-off");
        if (soundOn) { chime(); }
      });
    }

    function wait(item) {
      return item.wait_minutes ? fill(label("minutes"), {n: item.wait_minutes}) : label("any-moment");
    }

    function doctorCard(doctor) {
      var card = element("section", "qd-doctor");
      card.setAttribute("data-doctor-id", doctor.doctor_id);
      card.appendChild(element("h2", "qd-doctor-name", doctor.doctor));
      if (doctor.department) { card.appendChild(element("p", "qd-doctor-department", doctor.department)); }
      var current = element("div", "qd-current" + (doctor.current && !doctor.current.in_room ? " qd-current-finished" : ""));
      current.appendChild(element("span", "qd-label", label("now")));
      if (doctor.current) {
        var number = element("span", "qd-number", doctor.current.number);
        number.setAttribute("data-current-number", "");
        current.appendChild(number);
        current.appendChild(element("span", "qd-initials", doctor.current.initials));
      } else {
        current.appendChild(element("span", "qd-none", label("none")));
      }
      card.appendChild(current);
      var next = element("div", "qd-next");
      next.appendChild(element("span", "qd-label", label("next")));
      if (doctor.next.length) {
        var list = element("ol", "qd-next-list");
        doctor.next.slice(0, shown).forEach(function (item) {
          var row = element("li");
          row.appendChild(element("span", "qd-next-number", item.number));
          row.appendChild(document.createTextNode(" "));
          row.appendChild(element("span", "qd-initials", item.initials));
          row.appendChild(document.createTextNode(" "));
          row.appendChild(element("span", "qd-wait", wait(item)));
          list.appendChild(row);
        });
        next.appendChild(list);
        if (doctor.next.length > shown) {
          next.appendChild(element("p", "qd-more", fill(label("more"), {n: doctor.next.length - shown})));
        }
      } else {
        next.appendChild(element("p", "qd-empty", label("empty")));
      }
      card.appendChild(next);
      return card;
    }

    function calls(state) {
      var seen = {};
      state.doctors.forEach(function (doctor) {
        if (doctor.current && doctor.current.in_room) {
          seen[doctor.doctor_id] = doctor.current.number + "@" + (doctor.current.called_at || "");
        }
      });
      return seen;
    }

    function render(status, state, failed) {
      if (failed || status !== 200 || !state || !state.doctors) {
        offline.hidden = false;
        return;
      }
      offline.hidden = true;
      var now = calls(state);
      var fresh = [];
      if (lastCalls) {
        state.doctors.forEach(function (doctor) {
          var key = now[doctor.doctor_id];
          if (key && key !== lastCalls[doctor.doctor_id]) { fresh.push(doctor); }
        });
      }
      lastCalls = now;
      var cards = document.createDocumentFragment();
      state.doctors.forEach(function (doctor) {
        var card = doctorCard(doctor);
        if (fresh.indexOf(doctor) >= 0) { card.classList.add("qd-called"); }
        cards.appendChild(card);
      });
      if (!state.doctors.length) {
        var nobody = element("p", "qd-nobody", document.getElementById("qd-nobody-text").textContent);
        nobody.setAttribute("data-nobody", "");
        cards.appendChild(nobody);
      }
      grid.replaceChildren(cards);
      announce(fresh.map(function (doctor) { return doctor.announce; }).filter(Boolean));
    }

    var refresh = poller(root, render);
    refresh();
  }

  /* --- a patient's ticket ----------------------------------------------------------------------- */

  function startTicket(root) {
    var label = function (name) { return root.getAttribute("data-label-" + name) || ""; };
    var stateText = root.querySelector("[data-ticket-state]");
    var waitText = root.querySelector("[data-ticket-wait]");
    var current = root.querySelector("[data-ticket-current]");
    var offline = root.querySelector("[data-ticket-offline]");

    function render(status, ticket, failed) {
      if (failed || !ticket) { offline.hidden = false; return; }
      offline.hidden = true;
      if (status !== 200) {  // the ticket was cancelled or expired meanwhile: the page says why
        window.location.reload();
        return;
      }
      var text;
      if (ticket.state === "called") { text = fill(label("called"), {doctor: ticket.doctor}); }
      else if (ticket.state === "done") { text = label("done"); }
      else if (ticket.position === 1) { text = label("next"); }
      else { text = fill(label("waiting"), {position: ticket.position}); }
      stateText.textContent = text;
      stateText.setAttribute("data-state", ticket.state);
      waitText.textContent = ticket.state !== "waiting" ? "–"
        : ticket.wait_minutes ? fill(label("minutes"), {n: ticket.wait_minutes}) : label("any-moment");
      current.textContent = ticket.current_number ? String(ticket.current_number) : "–";
    }

    poller(root, render);
  }

  function start() {
    var display = document.querySelector("[data-role=display]");
    if (display) { startDisplay(display); }
    var ticket = document.querySelector("[data-role=ticket]");
    if (ticket) { startTicket(ticket); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
}());
