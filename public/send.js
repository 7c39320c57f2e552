/* The send page: shows what the last post did (from the 303's query) and how many are held now. */
(function () {
  'use strict';

  var POLL_MS = 2000;
  var result = document.getElementById('result');
  var sendError = document.getElementById('send-error');
  var held = document.getElementById('held');
  var uidInput = document.getElementById('uid');
  var message = document.getElementById('message');
  var receiverLink = document.getElementById('receiver-link');

  function clip(s, n) {
    s = String(s);
    return s.length > n ? s.slice(0, n) + '…' : s;
  }

  var params = new URLSearchParams(location.search);
  var sent = params.get('sent');
  var error = params.get('error');
  var uid = params.get('uid') || '';

  if (uid) {
    uidInput.value = clip(uid, 128);
    receiverLink.href = './?for=' + encodeURIComponent(uid);
  }

  // Filled in after load so that screen readers announce it (all text, never markup).
  if (error) {
    var text = params.get('message');
    sendError.textContent = 'Not sent: ' + clip(text || error, 300) + (text ? ' (' + clip(error, 60) + ')' : '');
    sendError.hidden = false;
  } else if (sent) {
    var n = Number(params.get('delivered'));
    var who = isFinite(n) && n >= 0 ? n + (n === 1 ? ' waiting subscriber' : ' waiting subscribers') : 'waiting subscribers';
    result.textContent = 'Sent ' + clip(sent, 600) + ' to ' + who + (uid ? ' (uid ' + clip(uid, 128) + ')' : '') + '.';
  }
  if (error || sent) message.focus();

  // "N subscribers held now", every 2 s; never throws, shows "unknown" when stats can't be read.
  var timer = null;
  var busy = false;

  function show(text) {
    if (held.textContent !== text) held.textContent = text;
  }

  function refresh() {
    timer = null;
    if (document.hidden) return schedule();
    if (busy || typeof fetch !== 'function') return schedule();
    busy = true;
    var done = function () { busy = false; schedule(); };
    fetch('stats', { cache: 'no-store', headers: { Accept: 'application/json' } })
      .then(function (res) {
        if (!res.ok) throw new Error('HTTP ' + res.status);
        return res.json();
      })
      .then(function (body) {
        var total = body && body.held && body.held.total;
        show(typeof total === 'number' && isFinite(total) && total >= 0
          ? total + (total === 1 ? ' subscriber' : ' subscribers') + ' held now'
          : 'Subscribers held now: unknown');
      })
      .then(null, function () { show('Subscribers held now: unknown'); })
      .then(done, done);
  }

  function schedule() {
    if (timer === null) timer = setTimeout(refresh, POLL_MS);
  }

  document.addEventListener('visibilitychange', function () {
    if (!document.hidden && timer !== null) {
      clearTimeout(timer);
      timer = null;
      refresh();
    }
  });
  refresh();
})();
