/*! holdpush.js: browser and Node client for a holdpush server. MIT. No dependencies, no build step.
 *
 *   const sub = Holdpush.subscribe('news', (m) => console.log(m.id, m.data), { onStatus, onGap });
 *   sub.position  // last message id seen (or null)
 *   sub.stop()    // aborts the request in flight; leaves no timers behind
 *
 * In a page: <script src="holdpush.js"></script> defines the global `Holdpush`.
 * In Node 18+: const Holdpush = require('./holdpush.js'); pass options.base (and options.EventSource
 * for transport 'eventsource', e.g. from the `eventsource` package).
 */
(function (root, factory) {
  'use strict';
  var api = factory();
  if (typeof module === 'object' && module && module.exports) module.exports = api;
  else root.Holdpush = api;
})(typeof self !== 'undefined' ? self : this, function () {
  'use strict';

  var NAME = /^[A-Za-z0-9_.@~-]{1,128}$/;
  var TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;
  var MAX_CHANNELS = 16;
  // A long-poll still pending after this long has been accepted and is being held by the server.
  var SETTLE_MS = 1000;
  var TRANSPORTS = ['batch', 'longpoll', 'eventsource'];

  function validName(s) {
    return typeof s === 'string' && NAME.test(s) && s !== '.' && s !== '..';
  }

  function typeError(msg) {
    return new TypeError('Holdpush.subscribe: ' + msg);
  }

  /** Reads `T` out of an Etag value: bare, `"T"`, or `W/"T"`; null when it is not a token. */
  function etagToken(value) {
    if (!value) return null;
    var v = String(value).trim();
    if (v.slice(0, 2) === 'W/') v = v.slice(2);
    if (v.length >= 2 && v.charAt(0) === '"' && v.charAt(v.length - 1) === '"') v = v.slice(1, -1);
    return TOKEN.test(v) ? v : null;
  }

  /** Unix milliseconds from a message id "<unix s>:<T>", or null. */
  function timeFromId(id) {
    var m = /^(\d{1,12}):/.exec(id || '');
    return m ? Number(m[1]) * 1000 : null;
  }

  /** Retry-After as milliseconds (delta seconds or HTTP date), or null. */
  function retryAfterMs(value) {
    if (!value) return null;
    var v = String(value).trim();
    if (/^\d+$/.test(v)) return Number(v) * 1000;
    var t = Date.parse(v);
    return isNaN(t) ? null : Math.max(0, t - Date.now());
  }

  function normalizeTarget(target) {
    if (target && typeof target === 'object' && !Array.isArray(target)) {
      if (!validName(target.uid)) throw typeError('uid must be 1-128 characters of A-Z a-z 0-9 _ - . @ ~');
      return { uid: target.uid, channels: null };
    }
    var list = typeof target === 'string' ? [target] : target;
    if (!Array.isArray(list) || list.length === 0) {
      throw typeError("target must be a channel name, an array of 1-16 channel names, or { uid: '...' }");
    }
    if (list.length > MAX_CHANNELS) throw typeError('at most ' + MAX_CHANNELS + ' channels per subscription');
    for (var i = 0; i < list.length; i++) {
      if (!validName(list[i])) throw typeError('bad channel name ' + JSON.stringify(String(list[i]).slice(0, 40)));
    }
    return { uid: null, channels: list.slice() };
  }

  function defaultBase() {
    if (typeof location !== 'undefined' && location && location.href && typeof URL === 'function') {
      return new URL('.', location.href).href;
    }
    return null;
  }

  /**
   * Subscribes to channels (or to a uid on the original demo's face) and calls onMessage for
   * every message, in publish order. See README / the header of this file for the options.
   */
  function subscribe(target, onMessage, options) {
    var opts = options || {};
    var t = normalizeTarget(target);
    if (typeof onMessage !== 'function') throw typeError('onMessage must be a function');

    var base = opts.base != null ? String(opts.base) : defaultBase();
    if (!base) throw typeError('options.base is required outside a browser (the server mount URL)');
    if (base.charAt(base.length - 1) !== '/') base += '/';

    var transport = opts.transport || (t.uid ? 'longpoll' : 'batch');
    if (TRANSPORTS.indexOf(transport) < 0) throw typeError("transport must be 'batch', 'longpoll' or 'eventsource'");
    if (t.uid && transport !== 'longpoll') throw typeError("a { uid } subscription only supports transport 'longpoll'");

    var fetchFn = opts.fetch || (typeof fetch === 'function' ? fetch : null);
    var ESClass = opts.EventSource || (typeof EventSource === 'function' ? EventSource : null);
    if (transport === 'eventsource') {
      if (!ESClass) throw typeError('no EventSource here: pass options.EventSource');
    } else if (!fetchFn) {
      throw typeError('no fetch here: pass options.fetch');
    }
    if (typeof AbortController !== 'function' && transport !== 'eventsource') {
      throw typeError('AbortController is required');
    }

    var backoff = opts.backoff || {};
    var minDelay = backoff.min != null ? Number(backoff.min) : 500;
    var maxDelay = backoff.max != null ? Number(backoff.max) : 30000;
    if (!(minDelay >= 0) || !(maxDelay >= minDelay)) throw typeError('backoff needs 0 <= min <= max');

    var onGap = typeof opts.onGap === 'function' ? opts.onGap : null;
    var onStatus = typeof opts.onStatus === 'function' ? opts.onStatus : null;
    var onError = typeof opts.onError === 'function' ? opts.onError : null;
    var extraHeaders = opts.headers || {};
    var token = opts.token ? String(opts.token) : null;
    var events = Array.isArray(opts.events) ? opts.events.slice() : [];

    var position = opts.position != null && opts.position !== '' ? String(opts.position) : null;
    var stopped = false;
    var failures = 0; // consecutive errors, for the backoff
    var status = null;
    var controller = null; // AbortController of the request in flight
    var sleepTimer = null;
    var sleepDone = null;
    var settleTimer = null;
    var es = null;
    var esEverOpen = false;
    var singleChannel = t.channels && t.channels.length === 1 ? t.channels[0] : null;

    // ---- helpers -------------------------------------------------------------------------------

    function report(err) {
      if (onError) {
        try { onError(err); } catch (e) { /* nothing left to tell */ }
      } else if (typeof console !== 'undefined' && console.error) {
        console.error(err);
      }
    }

    function call(fn, arg) {
      try { fn(arg); } catch (err) { report(err); }
    }

    function setStatus(s, detail) {
      if (s === status && s !== 'reconnecting') return;
      status = s;
      if (onStatus) call(function () { onStatus(s, detail || {}); });
    }

    function deliver(msg) {
      if (stopped) return;
      call(onMessage, msg);
    }

    function gap(info) {
      if (onGap && !stopped) call(onGap, info);
    }

    function url(withToken) {
      var u = base;
      var q = [];
      if (t.uid) {
        q.push('uid=' + encodeURIComponent(t.uid));
      } else {
        u += 'sub/' + t.channels.join(',');
      }
      if (position) q.push('last_event_id=' + encodeURIComponent(position));
      if (withToken && token) q.push('token=' + encodeURIComponent(token));
      return q.length ? u + '?' + q.join('&') : u;
    }

    function requestHeaders() {
      var h = {};
      for (var k in extraHeaders) {
        if (Object.prototype.hasOwnProperty.call(extraHeaders, k)) h[k] = extraHeaders[k];
      }
      if (transport === 'batch') h.Accept = 'application/json';
      if (token) h.Authorization = 'Bearer ' + token;
      return h;
    }

    function nextDelay(retryAfter) {
      var cap = Math.min(maxDelay, minDelay * Math.pow(2, Math.min(failures, 30)));
      var d = Math.round(Math.random() * cap); // full jitter
      failures++;
      if (retryAfter != null) d = Math.max(d, retryAfter);
      return d;
    }

    function sleep(ms) {
      return new Promise(function (resolve) {
        sleepDone = resolve;
        sleepTimer = setTimeout(function () {
          sleepTimer = null;
          sleepDone = null;
          resolve();
        }, ms);
      });
    }

    function clearTimers() {
      if (sleepTimer !== null) { clearTimeout(sleepTimer); sleepTimer = null; }
      if (sleepDone) { var r = sleepDone; sleepDone = null; r(); }
      if (settleTimer !== null) { clearTimeout(settleTimer); settleTimer = null; }
    }

    function finish(detail) {
      if (stopped) return;
      stopped = true;
      clearTimers();
      if (controller) { try { controller.abort(); } catch (e) { /* ignore */ } controller = null; }
      if (es) { try { es.close(); } catch (e) { /* ignore */ } es = null; }
      setStatus('stopped', detail);
    }

    function readText(res) {
      return res.text().then(null, function () { return ''; });
    }

    function errorDetail(res, text) {
      var d = { status: res.status, error: null, message: null };
      try {
        var body = JSON.parse(text);
        if (body && typeof body === 'object') {
          d.error = typeof body.error === 'string' ? body.error : null;
          d.message = typeof body.message === 'string' ? body.message.slice(0, 200) : null;
        }
      } catch (e) { /* not JSON */ }
      return d;
    }

    // ---- fetch transports (batch, longpoll, uid face) ---------------------------------------------

    /** Handles one response; resolves to a delay in ms before the next poll (0 = at once). */
    function handle(res) {
      var st = res.status;
      if (st === 200) {
        return (transport === 'batch' ? handleBatch(res) : handleOne(res)).then(function () {
          failures = 0;
          return 0;
        });
      }
      if (st === 204 || st === 408) {
        // The hold timed out; come back from the same place, or, with no position yet, from the
        // head the server names (batch too: asking again with none would start at the newest
        // message under --first-message newest and skip what came in between).
        var head = etagToken(res.headers.get('Etag'));
        if (head && !position) position = head;
        return readText(res).then(function () { failures = 0; return 0; });
      }
      return readText(res).then(function (text) {
        var detail = errorDetail(res, text);
        if (st === 410) {
          detail.reason = 'gone';
          finish(detail);
          return -1;
        }
        if (st >= 400 && st < 500 && st !== 429) {
          detail.reason = 'error';
          finish(detail);
          return -1;
        }
        var delay = nextDelay(retryAfterMs(res.headers.get('Retry-After')));
        detail.delay = delay;
        setStatus('reconnecting', detail);
        return delay;
      });
    }

    function handleBatch(res) {
      return res.text().then(function (text) {
        var body = JSON.parse(text); // a broken body is an error, retried with backoff
        if (!body || !Array.isArray(body.messages)) throw new Error('batch response without messages');
        var list = body.messages;
        var before = position;
        if (body.gap) gap({ position: before, oldest: list.length ? list[0].id : null });
        for (var i = 0; i < list.length && !stopped; i++) {
          var m = list[i] || {};
          var msg = {
            id: m.id,
            channel: m.channel != null ? m.channel : singleChannel,
            time: typeof m.time === 'number' ? m.time : timeFromId(m.id),
            contentType: m.contentType || null,
            data: m.data,
            gap: Boolean(body.gap) && i === 0
          };
          if (m.encoding) msg.encoding = m.encoding; // 'base64': data is the raw bytes in base64
          if (typeof m.id === 'string' && m.id) position = m.id;
          deliver(msg);
        }
        if (typeof body.last === 'string' && body.last) position = body.last;
      });
    }

    function handleOne(res) {
      return res.text().then(function (data) {
        var tag = etagToken(res.headers.get('Etag'));
        var lm = Date.parse(res.headers.get('Last-Modified') || '');
        var isGap = res.headers.get('X-Holdpush-Gap') === '1';
        var id = tag ? (isNaN(lm) ? tag : Math.floor(lm / 1000) + ':' + tag) : null;
        var before = position;
        if (isGap) gap({ position: before, oldest: id });
        if (tag) {
          position = id;
        } else if (t.uid) {
          position = null; // no Etag (stripped by a proxy?): wait for the next message, as the original did
        }
        deliver({
          id: id,
          channel: singleChannel,
          time: isNaN(lm) ? null : lm,
          contentType: res.headers.get('Content-Type'),
          data: data,
          gap: isGap
        });
        if (!tag && !t.uid && !stopped) {
          // Without a position every poll would replay the oldest message: stop instead of looping.
          finish({ reason: 'error', status: 200, error: 'no_etag',
            message: "the response had no Etag (a proxy may strip it); use transport 'batch'" });
        }
      });
    }

    function poll() {
      if (stopped) return Promise.resolve();
      var ac = new AbortController();
      controller = ac;
      if (status !== 'open') {
        settleTimer = setTimeout(function () {
          settleTimer = null;
          if (controller === ac && !stopped) setStatus('open', {});
        }, SETTLE_MS);
      }
      return Promise.resolve()
        .then(function () {
          return fetchFn(url(false), { method: 'GET', headers: requestHeaders(), cache: 'no-store', signal: ac.signal });
        })
        .then(function (res) {
          if (settleTimer !== null) { clearTimeout(settleTimer); settleTimer = null; }
          if (stopped) return -1;
          if (res.status === 200 || res.status === 204 || res.status === 408) setStatus('open', {});
          return handle(res);
        })
        .then(null, function (err) {
          if (settleTimer !== null) { clearTimeout(settleTimer); settleTimer = null; }
          if (stopped) return -1;
          var delay = nextDelay(null);
          setStatus('reconnecting', { delay: delay, error: 'network', message: String(err && err.message || err).slice(0, 200) });
          return delay;
        })
        .then(function (delay) {
          if (controller === ac) controller = null;
          if (stopped || delay < 0) return undefined;
          return (delay > 0 ? sleep(delay) : Promise.resolve()).then(poll);
        });
    }

    // ---- EventSource transport --------------------------------------------------------------------

    var pendingGap = false;

    function esMessage(source, e) {
      if (stopped || es !== source) return;
      var id = e.lastEventId || null;
      if (id) position = id;
      var msg = {
        id: id,
        channel: singleChannel,
        time: timeFromId(id),
        contentType: null,
        data: e.data,
        gap: pendingGap
      };
      if (e.type && e.type !== 'message') msg.event = e.type;
      pendingGap = false;
      deliver(msg);
    }

    function esGap(source, e) {
      if (stopped || es !== source) return;
      var info = { position: position, oldest: null };
      try {
        var d = JSON.parse(e.data);
        if (d && typeof d === 'object') {
          if (typeof d.position === 'string') info.position = d.position;
          if (typeof d.oldest === 'string') info.oldest = d.oldest;
        }
      } catch (err) { /* keep the defaults */ }
      pendingGap = true;
      gap(info);
    }

    function openEventSource() {
      if (stopped) return;
      var source = new ESClass(url(true));
      es = source;
      source.onopen = function () {
        if (stopped || es !== source) return;
        esEverOpen = true;
        failures = 0;
        setStatus('open', {});
      };
      var onMsg = function (e) { esMessage(source, e); };
      source.onmessage = onMsg;
      source.addEventListener('gap', function (e) { esGap(source, e); });
      for (var i = 0; i < events.length; i++) {
        if (events[i] !== 'message' && events[i] !== 'gap') source.addEventListener(String(events[i]), onMsg);
      }
      source.onerror = function () {
        if (stopped || es !== source) return;
        if (source.readyState === 2) {
          // CLOSED: the browser gave up (an HTTP error or a wrong content type). Come back ourselves,
          // from our own position, with backoff.
          try { source.close(); } catch (e) { /* ignore */ }
          es = null;
          var delay = nextDelay(null);
          setStatus('reconnecting', { delay: delay, error: 'eventsource', message: esEverOpen ? 'stream closed' : 'could not open the stream' });
          sleep(delay).then(openEventSource);
        } else {
          // CONNECTING: the EventSource reconnects by itself with Last-Event-ID.
          setStatus('reconnecting', { delay: null, error: 'eventsource', message: 'reconnecting' });
        }
      };
    }

    // ---- start -----------------------------------------------------------------------------------

    setStatus('connecting', {});
    if (transport === 'eventsource') openEventSource();
    else poll();

    return {
      stop: function () { finish({ reason: 'stopped' }); },
      get position() { return position; },
      get status() { return status; },
      get transport() { return transport; }
    };
  }

  return { subscribe: subscribe, version: '1' };
});
