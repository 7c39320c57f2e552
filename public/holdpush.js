/*! holdpush client. MIT. Built by scripts/build-client.js from client/*.ts: edit those, not this file. */
"use strict";
var Holdpush = (() => {
  var __defProp = Object.defineProperty;
  var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
  var __getOwnPropNames = Object.getOwnPropertyNames;
  var __hasOwnProp = Object.prototype.hasOwnProperty;
  var __export = (target, all) => {
    for (var name in all)
      __defProp(target, name, { get: all[name], enumerable: true });
  };
  var __copyProps = (to, from, except, desc) => {
    if (from && typeof from === "object" || typeof from === "function") {
      for (let key of __getOwnPropNames(from))
        if (!__hasOwnProp.call(to, key) && key !== except)
          __defProp(to, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
    }
    return to;
  };
  var __toCommonJS = (mod) => __copyProps(__defProp({}, "__esModule", { value: true }), mod);

  // client/index.ts
  var index_exports = {};
  __export(index_exports, {
    subscribe: () => subscribe,
    version: () => version
  });

  // client/backoff.ts
  function createBackoff(min, max, random = Math.random) {
    let failures = 0;
    return {
      next(retryAfter) {
        const cap = Math.min(max, min * 2 ** Math.min(failures, 30));
        failures++;
        const delay = Math.round(random() * cap);
        return retryAfter === null ? delay : Math.max(delay, retryAfter);
      },
      reset() {
        failures = 0;
      }
    };
  }

  // client/wire.ts
  var TOKEN = /^[0-9A-Za-z._~-]{1,512}$/;
  function etagToken(value) {
    if (!value) return null;
    let v = value.trim();
    if (v.slice(0, 2) === "W/") v = v.slice(2);
    if (v.length >= 2 && v.charAt(0) === '"' && v.charAt(v.length - 1) === '"') v = v.slice(1, -1);
    return TOKEN.test(v) ? v : null;
  }
  function timeFromId(id) {
    const m = /^(\d{1,12}):/.exec(id != null ? id : "");
    return m ? Number(m[1]) * 1e3 : null;
  }
  function retryAfterMs(value, now) {
    if (!value) return null;
    const v = value.trim();
    if (/^\d+$/.test(v)) return Number(v) * 1e3;
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : Math.max(0, t - now);
  }
  function errorDetail(status, text) {
    const detail = { status, error: null, message: null };
    try {
      const body = JSON.parse(text);
      if (body !== null && typeof body === "object") {
        const { error, message } = body;
        detail.error = typeof error === "string" ? error : null;
        detail.message = typeof message === "string" ? message.slice(0, 200) : null;
      }
    } catch {
    }
    return detail;
  }
  function parseBatch(text) {
    const body = JSON.parse(text);
    if (body === null || typeof body !== "object" || !Array.isArray(body.messages)) {
      throw new Error("batch response without messages");
    }
    const { messages, last, gap } = body;
    return {
      messages: messages.map((m) => m !== null && typeof m === "object" ? m : {}),
      last: typeof last === "string" && last !== "" ? last : null,
      gap: gap === true
    };
  }

  // client/connection.ts
  var SETTLE_MS = 1e3;
  function openConnection(settings, events) {
    const { wanted, transport, token, events: eventNames } = settings;
    const backoff = createBackoff(settings.backoff.min, settings.backoff.max);
    const channels = wanted.channels;
    let position = settings.position;
    let stopped = false;
    let lastStatus = null;
    let controller = null;
    let sleepTimer = null;
    let wake = null;
    let settleTimer = null;
    let source = null;
    let sourceEverOpen = false;
    function single() {
      return channels !== null && channels.length === 1 ? channels[0] : null;
    }
    function setStatus(status, detail = {}) {
      if (stopped && status !== "stopped") return;
      lastStatus = status;
      events.status(status, detail);
    }
    function url(withToken) {
      const query = [];
      let u = settings.base;
      if (wanted.uid !== null) query.push(`uid=${encodeURIComponent(wanted.uid)}`);
      else u += `sub/${channels.join(",")}`;
      if (position) query.push(`last_event_id=${encodeURIComponent(position)}`);
      if (withToken && token) query.push(`token=${encodeURIComponent(token)}`);
      return query.length ? `${u}?${query.join("&")}` : u;
    }
    function requestHeaders() {
      const h = { ...settings.headers };
      if (transport === "batch") h.Accept = "application/json";
      if (token) h.Authorization = `Bearer ${token}`;
      return h;
    }
    function sleep(ms) {
      return new Promise((resolve2) => {
        wake = resolve2;
        sleepTimer = setTimeout(() => {
          sleepTimer = null;
          wake = null;
          resolve2();
        }, ms);
      });
    }
    function clearSettle() {
      if (settleTimer !== null) {
        clearTimeout(settleTimer);
        settleTimer = null;
      }
    }
    function release() {
      clearSettle();
      if (sleepTimer !== null) {
        clearTimeout(sleepTimer);
        sleepTimer = null;
      }
      if (wake) {
        const resolve2 = wake;
        wake = null;
        resolve2();
      }
      if (controller) {
        controller.abort();
        controller = null;
      }
      if (source) {
        source.close();
        source = null;
      }
    }
    function end(detail) {
      if (stopped) return;
      stopped = true;
      release();
      setStatus("stopped", detail);
    }
    function hand(batch) {
      events.received(batch);
      if (!stopped && batch.to !== null) position = batch.to;
    }
    function readText(res) {
      return res.text().then(null, () => "");
    }
    function handle(res) {
      const status = res.status;
      if (status === 200) {
        return res.text().then((text) => {
          if (transport === "batch") handleBatch(text);
          else handleOne(res, text);
          backoff.reset();
          return 0;
        });
      }
      if (status === 204 || status === 408) {
        const head = etagToken(res.headers.get("Etag"));
        return readText(res).then(() => {
          if (head && !position) hand({ messages: [], to: head, gap: null });
          backoff.reset();
          return 0;
        });
      }
      return readText(res).then((text) => {
        const detail = errorDetail(status, text);
        if (status === 410) {
          end({ ...detail, reason: "gone" });
          return -1;
        }
        if (status >= 400 && status < 500 && status !== 429) {
          end({ ...detail, reason: "error" });
          return -1;
        }
        const delay = backoff.next(retryAfterMs(res.headers.get("Retry-After"), Date.now()));
        setStatus("reconnecting", { ...detail, delay });
        return delay;
      });
    }
    function handleBatch(text) {
      var _a, _b, _c, _d, _e;
      const body = parseBatch(text);
      const from = position;
      const fallback = single();
      const messages = body.messages.map((m, i) => {
        const id = typeof m.id === "string" && m.id !== "" ? m.id : null;
        const message = {
          id,
          channel: typeof m.channel === "string" ? m.channel : fallback,
          time: typeof m.time === "number" ? m.time : timeFromId(id),
          contentType: typeof m.contentType === "string" ? m.contentType : null,
          data: typeof m.data === "string" ? m.data : "",
          gap: body.gap && i === 0
        };
        if (m.encoding === "base64") message.encoding = "base64";
        return message;
      });
      const lastId = messages.length > 0 ? (_b = (_a = messages[messages.length - 1]) == null ? void 0 : _a.id) != null ? _b : null : null;
      hand({
        messages,
        to: (_c = body.last) != null ? _c : lastId,
        gap: body.gap ? { position: from, oldest: (_e = (_d = messages[0]) == null ? void 0 : _d.id) != null ? _e : null } : null
      });
    }
    function handleOne(res, data) {
      var _a;
      const tag = etagToken(res.headers.get("Etag"));
      const modified = Date.parse((_a = res.headers.get("Last-Modified")) != null ? _a : "");
      const isGap = res.headers.get("X-Holdpush-Gap") === "1";
      const id = tag ? Number.isNaN(modified) ? tag : `${Math.floor(modified / 1e3)}:${tag}` : null;
      const from = position;
      const message = {
        id,
        channel: single(),
        time: Number.isNaN(modified) ? null : modified,
        contentType: res.headers.get("Content-Type"),
        data,
        gap: isGap
      };
      if (!tag && wanted.uid !== null) position = null;
      hand({ messages: [message], to: id, gap: isGap ? { position: from, oldest: id } : null });
      if (!tag && wanted.uid === null) {
        end({ reason: "error", status: 200, error: "no_etag", message: "the response had no Etag (a proxy may strip it); use transport 'batch'" });
      }
    }
    function poll() {
      if (stopped) return Promise.resolve();
      const ac = new AbortController();
      controller = ac;
      if (lastStatus !== "open") {
        settleTimer = setTimeout(() => {
          settleTimer = null;
          if (controller === ac && !stopped) setStatus("open");
        }, SETTLE_MS);
      }
      const fetchFn = settings.fetch;
      return Promise.resolve().then(() => fetchFn(url(false), { method: "GET", headers: requestHeaders(), cache: "no-store", signal: ac.signal })).then((res) => {
        clearSettle();
        if (stopped) return -1;
        if (res.status === 200 || res.status === 204 || res.status === 408) setStatus("open");
        return handle(res);
      }).then(null, (error) => {
        clearSettle();
        if (stopped) return -1;
        const delay = backoff.next(null);
        const text = error instanceof Error ? error.message : String(error);
        setStatus("reconnecting", { delay, error: "network", message: text.slice(0, 200) });
        return delay;
      }).then((delay) => {
        if (controller === ac) controller = null;
        if (stopped || delay < 0) return void 0;
        return (delay > 0 ? sleep(delay) : Promise.resolve()).then(poll);
      });
    }
    let pendingGap = false;
    function streamMessage(es, event) {
      if (stopped || source !== es) return;
      const id = event.lastEventId || null;
      const message = {
        id,
        channel: single(),
        time: timeFromId(id),
        contentType: null,
        data: typeof event.data === "string" ? event.data : "",
        gap: pendingGap
      };
      if (event.type && event.type !== "message") message.event = event.type;
      pendingGap = false;
      hand({ messages: [message], to: id, gap: null });
    }
    function streamGap(es, event) {
      if (stopped || source !== es) return;
      const info = { position, oldest: null };
      try {
        const d = JSON.parse(String(event.data));
        if (d !== null && typeof d === "object") {
          const { position: p, oldest } = d;
          if (typeof p === "string") info.position = p;
          if (typeof oldest === "string") info.oldest = oldest;
        }
      } catch {
      }
      pendingGap = true;
      hand({ messages: [], to: null, gap: info });
    }
    function openStream() {
      if (stopped) return;
      const EventSourceFn = settings.EventSource;
      const es = new EventSourceFn(url(true));
      source = es;
      es.addEventListener("open", () => {
        if (stopped || source !== es) return;
        sourceEverOpen = true;
        backoff.reset();
        setStatus("open");
      });
      const onMessage = (event) => streamMessage(es, event);
      es.addEventListener("message", onMessage);
      es.addEventListener("gap", (event) => streamGap(es, event));
      for (const name of eventNames) {
        if (name !== "message" && name !== "gap") es.addEventListener(name, onMessage);
      }
      es.addEventListener("error", () => {
        if (stopped || source !== es) return;
        if (es.readyState === 2) {
          es.close();
          source = null;
          const delay = backoff.next(null);
          setStatus("reconnecting", { delay, error: "eventsource", message: sourceEverOpen ? "stream closed" : "could not open the stream" });
          sleep(delay).then(openStream);
        } else {
          setStatus("reconnecting", { delay: null, error: "eventsource", message: "reconnecting" });
        }
      });
    }
    setStatus("connecting");
    if (transport === "eventsource") openStream();
    else void poll();
    return {
      get position() {
        return position;
      },
      stop() {
        if (stopped) return;
        stopped = true;
        release();
      }
    };
  }

  // client/options.ts
  var NAME = /^[A-Za-z0-9_.@~-]{1,128}$/;
  var MAX_CHANNELS = 16;
  var TRANSPORTS = ["batch", "longpoll", "eventsource"];
  var KNOWN = /* @__PURE__ */ new Set([
    "base",
    "transport",
    "position",
    "token",
    "headers",
    "backoff",
    "events",
    "fetch",
    "EventSource",
    "onStatus",
    "onGap",
    "onError"
  ]);
  function typeError(message) {
    return new TypeError(`Holdpush.subscribe: ${message}`);
  }
  function validName(s) {
    return typeof s === "string" && NAME.test(s) && s !== "." && s !== "..";
  }
  function normalizeTarget(target) {
    if (target !== null && typeof target === "object" && !Array.isArray(target)) {
      const uid = target.uid;
      if (!validName(uid)) throw typeError("uid must be 1-128 characters of A-Z a-z 0-9 _ - . @ ~");
      return { uid, channels: null };
    }
    const list = typeof target === "string" ? [target] : target;
    if (!Array.isArray(list) || list.length === 0) {
      throw typeError("target must be a channel name, an array of 1-16 channel names, or { uid: '...' }");
    }
    if (list.length > MAX_CHANNELS) throw typeError(`at most ${MAX_CHANNELS} channels per subscription`);
    for (const name of list) {
      if (!validName(name)) throw typeError(`bad channel name ${JSON.stringify(String(name).slice(0, 40))}`);
    }
    return { uid: null, channels: list.slice() };
  }
  function defaultBase() {
    const here = globalThis.location;
    if (here && typeof here.href === "string" && typeof URL === "function") return new URL(".", here.href).href;
    return null;
  }
  function fn(value, name) {
    if (value == null) return null;
    if (typeof value !== "function") throw typeError(`options.${name} must be a function`);
    return value;
  }
  function resolve(target, onMessage, options) {
    var _a, _b, _c, _d, _e, _f;
    const opts = options != null ? options : {};
    if (typeof opts !== "object") throw typeError("options must be an object");
    for (const key of Object.keys(opts)) {
      if (!KNOWN.has(key)) throw typeError(`unknown option ${JSON.stringify(key.slice(0, 40))}`);
    }
    const wanted = normalizeTarget(target);
    if (typeof onMessage !== "function") throw typeError("onMessage must be a function");
    let base = opts.base != null ? String(opts.base) : defaultBase();
    if (!base) throw typeError("options.base is required outside a browser (the server mount URL)");
    if (base.charAt(base.length - 1) !== "/") base += "/";
    const transport = (_a = opts.transport) != null ? _a : wanted.uid !== null ? "longpoll" : "batch";
    if (!TRANSPORTS.includes(transport)) throw typeError("options.transport must be 'batch', 'longpoll' or 'eventsource'");
    if (wanted.uid !== null && transport !== "longpoll") throw typeError("a { uid } subscription only supports transport 'longpoll'");
    const globalFetch = typeof fetch === "function" ? fetch : null;
    const globalEventSource = (_b = globalThis.EventSource) != null ? _b : null;
    const fetchFn = (_c = fn(opts.fetch, "fetch")) != null ? _c : globalFetch;
    const EventSourceFn = (_d = fn(opts.EventSource, "EventSource")) != null ? _d : globalEventSource;
    if (transport === "eventsource") {
      if (!EventSourceFn) throw typeError("no EventSource here: pass options.EventSource");
    } else {
      if (!fetchFn) throw typeError("no fetch here: pass options.fetch");
      if (typeof AbortController !== "function") throw typeError("AbortController is required");
    }
    const min = ((_e = opts.backoff) == null ? void 0 : _e.min) != null ? Number(opts.backoff.min) : 500;
    const max = ((_f = opts.backoff) == null ? void 0 : _f.max) != null ? Number(opts.backoff.max) : 3e4;
    if (!(min >= 0) || !(max >= min)) throw typeError("options.backoff needs 0 <= min <= max");
    const headers = {};
    if (opts.headers != null) {
      if (typeof opts.headers !== "object") throw typeError("options.headers must be an object of header names to values");
      for (const key of Object.keys(opts.headers)) headers[key] = String(opts.headers[key]);
    }
    if (opts.events != null && !Array.isArray(opts.events)) throw typeError("options.events must be an array of event names");
    return {
      settings: {
        wanted,
        base,
        transport,
        position: opts.position != null && opts.position !== "" ? String(opts.position) : null,
        token: opts.token ? String(opts.token) : null,
        headers,
        events: opts.events ? opts.events.map(String) : [],
        backoff: { min, max },
        fetch: fetchFn,
        EventSource: EventSourceFn
      },
      callbacks: {
        onMessage,
        onStatus: fn(opts.onStatus, "onStatus"),
        onGap: fn(opts.onGap, "onGap"),
        onError: fn(opts.onError, "onError")
      }
    };
  }

  // client/sink.ts
  function createSink(callbacks, position) {
    let status = null;
    let stopped = false;
    function report(error) {
      if (callbacks.onError) {
        try {
          callbacks.onError(error);
        } catch {
        }
      } else if (typeof console !== "undefined") {
        console.error(error);
      }
    }
    function call(run) {
      try {
        run();
      } catch (error) {
        report(error);
      }
    }
    function announce(next, detail) {
      if (next === status && next !== "reconnecting") return;
      status = next;
      const { onStatus } = callbacks;
      if (onStatus) call(() => onStatus(next, detail));
    }
    return {
      get stopped() {
        return stopped;
      },
      get position() {
        return position;
      },
      get status() {
        return status != null ? status : "connecting";
      },
      receive(batch) {
        if (stopped) return;
        const { gap } = batch;
        const { onGap, onMessage } = callbacks;
        if (gap && onGap) call(() => onGap(gap));
        for (const message of batch.messages) {
          if (stopped) return;
          if (message.id !== null) position = message.id;
          call(() => onMessage(message));
        }
        if (!stopped && batch.to !== null) position = batch.to;
      },
      setStatus(next, detail) {
        if (!stopped) announce(next, detail);
      },
      end(detail) {
        if (stopped) return;
        stopped = true;
        announce("stopped", detail);
      }
    };
  }

  // client/subscribe.ts
  var subscribe = (target, onMessage, options) => {
    const { settings, callbacks } = resolve(target, onMessage, options);
    const sink = createSink(callbacks, settings.position);
    let connection = null;
    connection = openConnection(settings, {
      received: (batch) => sink.receive(batch),
      status: (status, detail) => {
        if (status === "stopped") sink.end(detail);
        else sink.setStatus(status, detail);
      }
    });
    if (sink.stopped) connection.stop();
    return {
      stop() {
        connection == null ? void 0 : connection.stop();
        sink.end({ reason: "stopped" });
      },
      get position() {
        return sink.position;
      },
      get status() {
        return sink.status;
      },
      get transport() {
        return settings.transport;
      }
    };
  };

  // client/index.ts
  var version = "2";
  return __toCommonJS(index_exports);
})();
if (typeof module === 'object' && module && module.exports) module.exports = Holdpush;
