/* The receiver page: listen on a uid (the original demo's face) and/or channels. Text only. */
(function () {
  'use strict';

  var NAME = /^[A-Za-z0-9_.@~-]{1,128}$/;
  var MAX_SHOWN = 500;

  var form = document.getElementById('listen');
  var uidInput = document.getElementById('uid');
  var channelsInput = document.getElementById('channels');
  var tokenInput = document.getElementById('token');
  var formError = document.getElementById('form-error');
  var listenButton = document.getElementById('listen-button');
  var stopButton = document.getElementById('stop-button');
  var clearButton = document.getElementById('clear-button');
  var statusLine = document.getElementById('status');
  var gapNotice = document.getElementById('gap');
  var list = document.getElementById('messages');
  var empty = document.getElementById('empty');
  var sendLink = document.getElementById('send-link');

  var subs = []; // { label, sub, text }
  var everListened = false;
  var positions = {}; // target key -> last message id, so Stop then Listen resumes without gaps or repeats

  function validName(s) {
    return NAME.test(s) && s !== '.' && s !== '..';
  }

  function showFormError(text) {
    formError.textContent = text;
    formError.hidden = !text;
  }

  function describe(status, detail) {
    if (status === 'connecting') return 'connecting…';
    if (status === 'open') return 'listening';
    if (status === 'reconnecting') {
      if (detail && typeof detail.delay === 'number') {
        return 'reconnecting in ' + Math.max(1, Math.ceil(detail.delay / 1000)) + ' s';
      }
      return 'reconnecting…';
    }
    if (status === 'stopped') {
      if (!detail || detail.reason === 'stopped') return 'stopped';
      if (detail.reason === 'gone') return 'stopped: the channel was deleted';
      var why = detail.message || detail.error || ('HTTP ' + detail.status);
      return 'stopped: ' + why;
    }
    return String(status);
  }

  function renderStatus() {
    if (!subs.length) {
      statusLine.textContent = everListened ? 'Status: stopped' : 'Not listening.';
      return;
    }
    var parts = subs.map(function (s) {
      return subs.length > 1 ? s.label + ': ' + s.text : s.text;
    });
    statusLine.textContent = 'Status: ' + parts.join(' · ');
  }

  function pad(n) {
    return n < 10 ? '0' + n : String(n);
  }

  function nearBottom() {
    var doc = document.documentElement;
    return window.innerHeight + window.scrollY >= doc.scrollHeight - 120;
  }

  /** `where` names what a message came through when the message does not say (the uid face). */
  function addMessage(where, m) {
    var stick = nearBottom();
    var li = document.createElement('li');
    li.className = 'message';

    var meta = document.createElement('p');
    meta.className = 'meta';
    var when = new Date(typeof m.time === 'number' ? m.time : Date.now());
    var time = document.createElement('time');
    time.dateTime = when.toISOString();
    time.textContent = pad(when.getHours()) + ':' + pad(when.getMinutes()) + ':' + pad(when.getSeconds());
    meta.appendChild(time);
    meta.appendChild(document.createTextNode(' '));
    var whereText = document.createElement('span');
    whereText.className = 'where';
    whereText.textContent = m.channel ? '#' + m.channel : where;
    meta.appendChild(whereText);
    meta.appendChild(document.createTextNode(' '));
    var id = document.createElement('code');
    id.className = 'id';
    id.textContent = m.id || '(no id)';
    meta.appendChild(id);
    if (m.encoding === 'base64') meta.appendChild(document.createTextNode(' (binary, base64)'));

    var body = document.createElement('p');
    body.className = 'body';
    body.textContent = m.data == null ? '' : String(m.data); // text only, never markup

    li.appendChild(meta);
    li.appendChild(body);
    list.appendChild(li);
    while (list.children.length > MAX_SHOWN) list.removeChild(list.firstElementChild);
    empty.hidden = true;
    if (stick) li.scrollIntoView({ block: 'end' });
  }

  function showGap(label, info) {
    gapNotice.textContent = 'Some messages for ' + label + ' were dropped before they reached you' +
      ' (the server no longer holds them). Showing the oldest still held.';
    gapNotice.hidden = false;
  }

  function stopAll() {
    var old = subs;
    subs = [];
    old.forEach(function (s) {
      s.sub.stop();
      if (s.sub.position) positions[s.key] = s.sub.position;
    });
    listenButton.disabled = false;
    stopButton.disabled = true;
    renderStatus();
  }

  function start(target, label, where, token) {
    var key = target.uid ? 'uid:' + target.uid : target.join(',');
    var entry = { label: label, key: key, sub: null, text: 'connecting…' };
    everListened = true;
    subs.push(entry);
    var options = {
      onStatus: function (status, detail) {
        entry.text = describe(status, detail);
        renderStatus();
        if (status === 'stopped' && subs.every(function (s) { return s.sub && s.sub.status === 'stopped'; })) {
          listenButton.disabled = false;
          stopButton.disabled = true;
        }
      },
      onGap: function (info) { showGap(label, info); },
      position: positions[key] || null
    };
    if (token) options.token = token;
    entry.sub = Holdpush.subscribe(target, function (m) { addMessage(where, m); }, options);
  }

  function listen(event) {
    event.preventDefault();
    showFormError('');
    var uid = uidInput.value.trim();
    var token = tokenInput.value.trim();
    var channels = channelsInput.value.split(',').map(function (c) { return c.trim(); })
      .filter(function (c) { return c; });

    if (!uid && !channels.length) {
      showFormError('Type a uid or at least one channel.');
      uidInput.focus();
      return;
    }
    if (uid && !validName(uid)) {
      showFormError('A uid is 1-128 characters of letters, digits and _ - . @ ~');
      uidInput.focus();
      return;
    }
    var bad = channels.filter(function (c) { return !validName(c); });
    if (bad.length) {
      showFormError('Not a channel name: ' + bad[0].slice(0, 40) + ' (use letters, digits and _ - . @ ~)');
      channelsInput.focus();
      return;
    }
    if (channels.length > 16) {
      showFormError('At most 16 channels at once.');
      channelsInput.focus();
      return;
    }

    stopAll();
    gapNotice.hidden = true;
    try {
      // The uid face's answers do not say whether a message was sent to this uid or to everyone.
      if (uid) start({ uid: uid }, 'uid ' + uid, 'to uid ' + uid + ' or everyone', token);
      if (channels.length) {
        var label = channels.length > 1 ? 'channels ' + channels.join(', ') : 'channel ' + channels[0];
        start(channels, label, label, token);
      }
    } catch (err) {
      stopAll();
      showFormError(String(err && err.message || err));
      return;
    }
    listenButton.disabled = true;
    stopButton.disabled = false;
    renderStatus();
    rememberInUrl(uid);
  }

  function rememberInUrl(uid) {
    if (!window.history || !history.replaceState) return;
    try {
      var url = new URL(location.href);
      if (uid) url.searchParams.set('for', uid); else url.searchParams.delete('for');
      history.replaceState(null, '', url.href);
      updateSendLink(uid);
    } catch (e) { /* not worth failing over */ }
  }

  function updateSendLink(uid) {
    sendLink.href = uid ? 'send?uid=' + encodeURIComponent(uid) : 'send';
  }

  form.addEventListener('submit', listen);
  stopButton.addEventListener('click', function () {
    stopAll();
    listenButton.focus();
  });
  clearButton.addEventListener('click', function () {
    while (list.firstChild) list.removeChild(list.firstChild);
    empty.hidden = false;
    gapNotice.hidden = true;
  });
  window.addEventListener('pagehide', function () { stopAll(); });

  var params = new URLSearchParams(location.search);
  var preset = params.get('for');
  if (preset) {
    uidInput.value = preset;
    updateSendLink(preset);
  }
  var presetChannels = params.get('channels');
  if (presetChannels) channelsInput.value = presetChannels;
})();
