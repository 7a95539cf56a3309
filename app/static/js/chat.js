/* Chat (portal and staff inbox; app/templates/public/chat_log.html). New messages are fetched when
   the socket helper's realtime.js dispatches `realtime:chat` on the document, every 5 seconds as a
   fallback, and after a reconnect, going back online or the page becoming visible again: always
   "since the last id I have" (catch-up), dropping ids already shown; each fetch also says up to when
   the other side has read, and the "Seen" receipts of messages already shown follow. Text is set with textContent:
   never HTML. Posting, taps on the assistant's buttons, read receipts and "typing" go through
   fetch with the page's CSRF token; without JavaScript the forms still post. */
(function () {
  'use strict';
  var POLL_MS = 5000;
  var TYPING_EVERY_MS = 3000;
  var TYPING_SHOWN_MS = 5000;

  var inbox = document.getElementById('chat-inbox');
  if (inbox) {  // the inbox list: reload when a conversation changes (pushed) or the tab comes back
    var reload = function () { if (!document.hidden) { window.location.reload(); } };
    document.addEventListener('realtime:chat', reload);
    document.addEventListener('visibilitychange', function () { if (!document.hidden) { reload(); } });
    return;
  }

  var root = document.getElementById('chat');
  if (!root) { return; }
  var log = document.getElementById('chat-log');
  var form = root.querySelector('.chat-form');
  var input = root.querySelector('.chat-input');
  var fileInput = root.querySelector('.chat-file-input');
  var fileName = root.querySelector('.chat-file-name');
  var errorBox = root.querySelector('.chat-error');
  var statusBox = root.querySelector('.chat-status');
  var typingBox = root.querySelector('.chat-typing');
  var empty = root.querySelector('.chat-empty');
  var side = root.dataset.side;
  var csrf = form.querySelector('input[name=csrf_token]').value;
  var lastId = root.dataset.lastId || '';
  var firstId = root.dataset.firstId || '';
  var seen = {};
  var busy = false;
  var again = false;
  var lastTyping = 0;
  var typingTimer = null;

  Array.prototype.forEach.call(log.querySelectorAll('.chat-msg[data-id]'), function (el) { seen[el.dataset.id] = true; });

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  // Times in the clinic's zone, as the server writes them (dd/mm/yyyy for other days).
  var zone = root.dataset.timezone || undefined;
  var parts = function (d) {
    var out = {};
    try {
      new Intl.DateTimeFormat('en-GB', {timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit',
                                        hour: '2-digit', minute: '2-digit', hour12: false})
        .formatToParts(d).forEach(function (p) { out[p.type] = p.value; });
    } catch (e) {
      out = {year: String(d.getFullYear()), month: String(d.getMonth() + 1), day: String(d.getDate()),
             hour: String(d.getHours()), minute: String(d.getMinutes())};
    }
    return out;
  };

  function clock(iso) {
    var at = parts(new Date(iso));
    var today = parts(new Date());
    var time = at.hour + ':' + at.minute;
    if (at.year === today.year && at.month === today.month && at.day === today.day) { return time; }
    return at.day + '/' + at.month + '/' + at.year + ' ' + time;
  }

  function render(m) {
    var mine = m.sender === side;
    var row = el('div', 'chat-msg chat-' + m.sender + (mine ? ' chat-mine' : ''));
    row.dataset.id = m.id;
    row.dataset.sender = m.sender;
    var bubble = el('div', 'chat-bubble');
    if (m.sender === 'assistant') { bubble.appendChild(el('div', 'chat-name', root.dataset.lAssistant)); }
    else if (!mine && m.name) { bubble.appendChild(el('div', 'chat-name', m.name)); }
    if (m.text) { bubble.appendChild(el('div', 'chat-text', m.text)); }
    if (m.attachment && m.attachment.url) {
      if (m.attachment.content_type.indexOf('image/') === 0) {
        var link = el('a');
        link.href = m.attachment.url; link.target = '_blank'; link.rel = 'noopener';
        var img = el('img', 'chat-img');
        img.src = m.attachment.url; img.alt = m.attachment.name;
        link.appendChild(img);
        bubble.appendChild(link);
      } else {
        var file = el('a', 'chat-file', m.attachment.name);
        file.href = m.attachment.url;
        bubble.appendChild(file);
      }
    }
    if (m.choices && m.choices.length) {
      var choices = el('div', 'chat-choices');
      m.choices.forEach(function (c, i) {
        if (side === 'patient' && root.dataset.choiceUrl) {
          var button = el('button', 'btn btn-sm chat-choice' + (m.chosen === i ? ' chat-chosen' : ''), c.label);
          button.type = 'button';
          button.dataset.messageId = m.id;
          button.dataset.choice = String(i);
          button.disabled = m.chosen !== null && m.chosen !== undefined;
          choices.appendChild(button);
        } else {
          choices.appendChild(el('span', 'label label-default chat-choice-label' + (m.chosen === i ? ' chat-chosen' : ''), c.label));
        }
      });
      bubble.appendChild(choices);
    }
    var meta = el('div', 'chat-meta');
    var time = el('time', null, clock(m.created_at));
    time.setAttribute('datetime', m.created_at);
    meta.appendChild(time);
    if (mine && m.read_at) { meta.appendChild(document.createTextNode(' · ')); meta.appendChild(el('span', 'chat-read', root.dataset.lRead)); }
    bubble.appendChild(meta);
    row.appendChild(bubble);
    return row;
  }

  // The other side has read everything up to `until` (the messages endpoint says so on every
  // fetch: after a `realtime:chat` read push, and on the 5-second poll): my messages already
  // shown up to then get their "Seen" receipt without a reload.
  function markSeen(until) {
    var limit = until ? Date.parse(until) : NaN;
    if (isNaN(limit)) { return; }
    Array.prototype.forEach.call(log.querySelectorAll('.chat-msg.chat-mine'), function (row) {
      var meta = row.querySelector('.chat-meta');
      var time = meta && meta.querySelector('time[datetime]');
      if (!time || meta.querySelector('.chat-read') || Date.parse(time.getAttribute('datetime')) > limit) { return; }
      meta.appendChild(document.createTextNode(' · '));
      meta.appendChild(el('span', 'chat-read', root.dataset.lRead));
    });
  }

  function nearBottom() { return log.scrollHeight - log.scrollTop - log.clientHeight < 80; }
  function toBottom() { log.scrollTop = log.scrollHeight; }

  function add(messages) {
    var stick = nearBottom();
    var fromOthers = false;
    messages.forEach(function (m) {
      lastId = m.id;
      if (seen[m.id]) {  // a receipt or a tapped button may have changed: redraw it in place
        var old = log.querySelector('.chat-msg[data-id="' + CSS.escape(m.id) + '"]');
        if (old) { old.replaceWith(render(m)); }
        return;
      }
      seen[m.id] = true;
      if (!firstId) { firstId = m.id; }
      if (m.sender !== side) { fromOthers = true; }
      log.appendChild(render(m));
    });
    if (messages.length && empty) { empty.classList.add('hidden'); }
    if (stick || messages.some(function (m) { return m.sender === side; })) { toBottom(); }
    if (fromOthers) { markRead(); }
  }

  function getJson(url) {
    return fetch(url, {credentials: 'same-origin', headers: {'Accept': 'application/json', 'X-Requested-With': 'fetch'}})
      .then(function (r) { if (!r.ok) { throw new Error(String(r.status)); } return r.json(); });
  }

  function post(url, data) {
    data.append('csrf_token', csrf);
    return fetch(url, {method: 'POST', body: data, credentials: 'same-origin',
                       headers: {'Accept': 'application/json', 'X-Requested-With': 'fetch', 'X-CSRFToken': csrf}})
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (body) { return {ok: r.ok, status: r.status, body: body}; }); });
  }

  function showStatus(text) { statusBox.textContent = text || ''; statusBox.hidden = !text; }

  function fetchNew() {
    if (busy) { again = true; return; }
    busy = true;
    var url = root.dataset.messagesUrl + (lastId ? '?since_id=' + encodeURIComponent(lastId) : '');
    getJson(url).then(function (data) {
      showStatus('');
      add(data.result || []);
      markSeen(data.read_until);
      if (data.has_more) { again = true; }
    }).catch(function () {
      showStatus(root.dataset.lOffline);
    }).then(function () {
      busy = false;
      if (again) { again = false; fetchNew(); }
    });
  }

  function markRead() {
    if (document.hidden) { return; }
    post(root.dataset.readUrl, new FormData()).then(function () {}, function () {});
  }

  function fetchOlder(link) {
    if (!firstId) { return; }
    getJson(root.dataset.messagesUrl + '?before_id=' + encodeURIComponent(firstId)).then(function (data) {
      var before = log.scrollHeight;
      var anchor = link.nextSibling;
      (data.result || []).forEach(function (m) {
        if (seen[m.id]) { return; }
        seen[m.id] = true;
        log.insertBefore(render(m), anchor);
      });
      if (data.result && data.result.length) { firstId = data.result[0].id; }
      if (!data.has_more) { link.remove(); }
      log.scrollTop += log.scrollHeight - before;
    }).catch(function () { showStatus(root.dataset.lOffline); });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var hasFile = fileInput && fileInput.files && fileInput.files.length;
    if (!input.value.trim() && !hasFile) { input.focus(); return; }
    var button = form.querySelector('.chat-send');
    button.disabled = true;
    errorBox.hidden = true;
    var data = new FormData(form);
    data.delete('csrf_token');
    post(root.dataset.sendUrl, data).then(function (res) {
      if (res.ok) {
        input.value = '';
        if (fileInput) { fileInput.value = ''; fileName.textContent = ''; }
        add(res.body.result || []);
        if (res.body.conversation_id && !root.dataset.conversationId) {
          root.dataset.conversationId = String(res.body.conversation_id);
          joinRoom();
        }
      } else {
        errorBox.textContent = res.body.message || root.dataset.lFailed;
        errorBox.hidden = false;
      }
    }, function () {
      errorBox.textContent = root.dataset.lFailed;
      errorBox.hidden = false;
    }).then(function () { button.disabled = false; });
  });

  input.addEventListener('keydown', function (event) {  // Ctrl/Cmd+Enter sends; Enter is a new line
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) { event.preventDefault(); form.requestSubmit(); }
  });

  input.addEventListener('input', function () {
    var now = Date.now();
    if (now - lastTyping < TYPING_EVERY_MS || !input.value) { return; }
    lastTyping = now;
    post(root.dataset.typingUrl, new FormData()).then(function () {}, function () {});
  });

  if (fileInput) {
    fileInput.addEventListener('change', function () {
      fileName.textContent = fileInput.files && fileInput.files.length ? fileInput.files[0].name : '';
    });
  }

  log.addEventListener('click', function (event) {
    var older = event.target.closest('.chat-older');
    if (older) { event.preventDefault(); fetchOlder(older); return; }
    var button = event.target.closest('.chat-choice');
    if (!button || button.disabled) { return; }
    event.preventDefault();
    var formEl = button.closest('form');
    var data = new FormData();
    data.append('message_id', button.dataset.messageId || (formEl && formEl.querySelector('[name=message_id]').value));
    data.append('choice', button.dataset.choice || (formEl && formEl.querySelector('[name=choice]').value));
    Array.prototype.forEach.call(button.parentNode.querySelectorAll('.chat-choice'), function (b) { b.disabled = true; });
    post(root.dataset.choiceUrl, data).then(function (res) {
      if (res.ok) { button.classList.add('chat-chosen'); add(res.body.result || []); }
      else { errorBox.textContent = res.body.message || root.dataset.lFailed; errorBox.hidden = false; }
    }, function () { errorBox.textContent = root.dataset.lFailed; errorBox.hidden = false; });
  });

  var canned = document.getElementById('chat-canned');
  if (canned) {
    canned.addEventListener('change', function () {
      if (!canned.value) { return; }
      input.value = input.value ? input.value + '\n' + canned.value : canned.value;
      canned.value = '';
      input.focus();
    });
  }

  // Pushed by realtime.js (the socket helper): a message in this conversation, or someone typing.
  document.addEventListener('realtime:chat', function (event) {
    var detail = event.detail || {};
    var mineId = root.dataset.conversationId;
    if (detail.conversation_id && mineId && String(detail.conversation_id) !== mineId) { return; }
    if (detail.typing && detail.side !== side) {
      typingBox.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(function () { typingBox.hidden = true; }, TYPING_SHOWN_MS);
      return;
    }
    fetchNew();
  });
  document.addEventListener('realtime:reconnect', fetchNew);
  // This conversation's pushes (new messages, typing, receipts): its room, checked by the server.
  // A patient's first message makes the conversation: its room is joined then.
  function joinRoom() {
    if (root.dataset.conversationId && window.clinicRealtime) {
      window.clinicRealtime.join('conversation:' + root.dataset.conversationId);
    }
  }
  joinRoom();
  window.addEventListener('online', fetchNew);
  document.addEventListener('visibilitychange', function () { if (!document.hidden) { fetchNew(); markRead(); } });
  setInterval(function () { if (!document.hidden) { fetchNew(); } }, POLL_MS);

  toBottom();
  if (log.querySelector('.chat-msg')) { markRead(); }
}());
