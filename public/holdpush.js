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
    let channels = wanted.channels;
    let position = settings.position;
    let stopped = false;
    let lastStatus = null;
    let controller = null;
    let sleepTimer = null;
    let wake = null;
    let settleTimer = null;
    let source = null;
    let sourceEverOpen = false;
    let generation = 0;
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
    function handle(res, mine) {
      const status = res.status;
      if (status === 200) {
        return res.text().then((text) => {
          if (mine !== generation) return 0;
          if (transport === "batch") handleBatch(text);
          else handleOne(res, text);
          backoff.reset();
          return 0;
        });
      }
      if (status === 204 || status === 408) {
        const head = etagToken(res.headers.get("Etag"));
        return readText(res).then(() => {
          if (mine === generation && head && !position) hand({ messages: [], to: head, gap: null });
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
      const mine = generation;
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
        if (mine !== generation) return 0;
        if (res.status === 200 || res.status === 204 || res.status === 408) setStatus("open");
        return handle(res, mine);
      }).then(null, (error) => {
        clearSettle();
        if (stopped) return -1;
        if (mine !== generation) return 0;
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
      },
      retarget(list) {
        if (stopped || transport !== "batch" || wanted.uid !== null) return;
        channels = list.slice();
        generation++;
        if (controller) {
          controller.abort();
          controller = null;
        }
      }
    };
  }

  // client/alone.ts
  function runAlone(settings, sink) {
    return openConnection(settings, {
      received: (batch) => sink.receive(batch),
      status: (status, detail) => {
        if (status === "stopped") sink.end({ ...detail, role: "alone" });
        else sink.setStatus(status, { ...detail, role: "alone" });
      }
    });
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
    "onError",
    "shared"
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
    if (opts.shared != null && typeof opts.shared !== "boolean") throw typeError("options.shared must be true or false");
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
      },
      shared: opts.shared !== false && transport === "batch" && wanted.uid === null && opts.fetch == null
    };
  }

  // client/share/log.ts
  function samePosition(a, b) {
    if (a === null || b === null) return a === b;
    return a.replace(/^\d{1,12}:/, "") === b.replace(/^\d{1,12}:/, "");
  }
  function continuation(batch, position) {
    if (samePosition(batch.from, position)) return batch.messages;
    if (position === null) return null;
    for (let i = 0; i < batch.messages.length; i++) {
      const id = batch.messages[i].id;
      if (id !== null && samePosition(id, position)) return batch.messages.slice(i + 1);
    }
    return samePosition(batch.to, position) ? [] : null;
  }
  function createStreamLog(maxMessages = 2e3, maxBatches = 500) {
    let batches = [];
    let held = 0;
    let anchored;
    function head() {
      const last = batches[batches.length - 1];
      return last === void 0 ? anchored : last.to;
    }
    function locate(position) {
      for (let i = 0; i < batches.length; i++) {
        const batch = batches[i];
        if (samePosition(batch.from, position)) return { batch: i, skip: 0 };
        if (position === null) continue;
        for (let j = 0; j < batch.messages.length; j++) {
          const id = batch.messages[j].id;
          if (id !== null && samePosition(id, position)) return j + 1 < batch.messages.length ? { batch: i, skip: j + 1 } : { batch: i + 1, skip: 0 };
        }
        if (samePosition(batch.to, position)) return { batch: i + 1, skip: 0 };
      }
      return null;
    }
    return {
      get head() {
        return head();
      },
      get channels() {
        var _a, _b;
        return (_b = (_a = batches[batches.length - 1]) == null ? void 0 : _a.channels) != null ? _b : [];
      },
      add(batch) {
        const end = head();
        if (end === void 0 || !samePosition(batch.from, end)) {
          batches = [];
          held = 0;
        }
        anchored = void 0;
        batches.push(batch);
        held += batch.messages.length;
        while (batches.length > 1 && (held > maxMessages || batches.length > maxBatches)) {
          held -= batches.shift().messages.length;
        }
      },
      anchor(position) {
        if (head() === void 0) anchored = position;
      },
      after(position, channels) {
        const end = head();
        if (end !== void 0 && samePosition(end, position)) return [];
        const at = locate(position);
        if (at === null) return null;
        const wanted = new Set(channels);
        const out = [];
        for (let i = at.batch; i < batches.length; i++) {
          const batch = batches[i];
          for (const channel of wanted) if (!batch.channels.includes(channel)) return null;
          const messages = i === at.batch ? batch.messages.slice(at.skip) : batch.messages;
          for (const message of messages) if (message.channel !== null && wanted.has(message.channel)) out.push(message);
        }
        return out;
      }
    };
  }

  // client/share/leader.ts
  var RESERVE_MS = 2e3;
  var PRUNE_MS = 5e3;
  function createLeader(context) {
    const { tab, settings, log } = context;
    const entries = /* @__PURE__ */ new Map();
    let position = log.head;
    let stream = null;
    let asked = [];
    let status = "connecting";
    let detail = {};
    let reserved = log.channels;
    let reserveTimer = null;
    let lastPrune = Date.now();
    let stopped = false;
    function union() {
      const own = /* @__PURE__ */ new Set();
      for (const entry of entries.values()) for (const channel of entry.channels) own.add(channel);
      const all = new Set(own);
      for (const channel of reserved) all.add(channel);
      return [...all.size <= MAX_CHANNELS ? all : own].sort();
    }
    function retarget() {
      if (stopped) return;
      const list = union();
      if (stream !== null && list.join(",") === asked.join(",")) return;
      asked = list;
      if (list.length === 0 || position === void 0) {
        stream == null ? void 0 : stream.stop();
        stream = null;
      } else if (stream !== null) {
        stream.retarget(list);
      } else {
        stream = openConnection(
          { ...settings, wanted: { uid: null, channels: list }, transport: "batch", position },
          { received: answered, status: streamStatus }
        );
      }
    }
    function answered(received) {
      const from = position != null ? position : null;
      if (received.to !== null) position = received.to;
      context.emit({ t: "batch", tab, batch: { from, to: position != null ? position : null, channels: asked, messages: received.messages }, gap: received.gap });
      for (const entry of [...entries.values()]) splice(entry);
      prune();
    }
    function allAlike() {
      const key = asked.join(",");
      for (const entry of entries.values()) if ([...entry.channels].sort().join(",") !== key) return false;
      return true;
    }
    function streamStatus(next, said) {
      var _a;
      if (next !== "stopped") {
        status = next;
        detail = said;
        context.emit({ t: "status", tab, status, detail });
        return;
      }
      stream = null;
      if (said.reason === "gone" && !allAlike()) {
        context.emit({ t: "status", tab, status: "reconnecting", detail: { ...said, delay: 0 } });
        retarget();
        return;
      }
      const alike = allAlike();
      const ended = [...entries.values()].sort((x, y) => Number(x.tab === tab) - Number(y.tab === tab));
      for (const entry of ended) (_a = entry.catchup) == null ? void 0 : _a.stop();
      entries.clear();
      for (const entry of ended) {
        if (alike) context.emit({ t: "stopped", tab, member: entry.member, detail: said });
        else context.emit({ t: "alone", tab, member: entry.member });
      }
    }
    function joined(entry, replay) {
      context.emit({ t: "joined", tab, member: entry.member, seq: entry.seq, at: position != null ? position : null, replay, status, detail });
    }
    function splice(entry) {
      if (entry.catchup === null || entries.get(entry.member) !== entry) return;
      const replay = log.after(entry.at, entry.channels);
      if (replay === null) return;
      entry.catchup.stop();
      entry.catchup = null;
      joined(entry, replay);
    }
    function catchUp(entry, from) {
      entry.at = from;
      entry.catchup = openConnection(
        { ...settings, wanted: { uid: null, channels: entry.channels }, transport: "batch", position: from },
        {
          received(received) {
            if (received.to !== null) entry.at = received.to;
            context.emit({ t: "catchup", tab, member: entry.member, seq: entry.seq, messages: received.messages, to: received.to, gap: received.gap });
            splice(entry);
          },
          status(next, said) {
            if (next !== "stopped" || entries.get(entry.member) !== entry) return;
            entry.catchup = null;
            entries.delete(entry.member);
            context.emit({ t: "stopped", tab, member: entry.member, detail: said });
            retarget();
          }
        }
      );
    }
    function drop(member) {
      var _a;
      const entry = entries.get(member);
      if (entry === void 0) return;
      (_a = entry.catchup) == null ? void 0 : _a.stop();
      entries.delete(member);
    }
    function prune() {
      if (Date.now() - lastPrune < PRUNE_MS) return;
      lastPrune = Date.now();
      void context.liveTabs().then((live) => {
        if (stopped || live === null) return;
        let changed = false;
        for (const entry of [...entries.values()]) {
          if (entry.tab !== tab && !live.has(entry.tab)) {
            drop(entry.member);
            changed = true;
          }
        }
        if (changed) retarget();
      });
    }
    if (reserved.length > 0) {
      reserveTimer = setTimeout(() => {
        reserveTimer = null;
        reserved = [];
        retarget();
      }, RESERVE_MS);
    }
    return {
      join(join) {
        if (stopped) return;
        drop(join.member);
        const channels = [...new Set(join.channels)];
        const own = /* @__PURE__ */ new Set();
        for (const entry2 of entries.values()) for (const channel of entry2.channels) own.add(channel);
        for (const channel of channels) own.add(channel);
        if (own.size > MAX_CHANNELS) {
          context.emit({ t: "alone", tab, member: join.member });
          return;
        }
        const entry = { member: join.member, tab: join.tab, seq: join.seq, channels, catchup: null, at: null };
        entries.set(join.member, entry);
        if (position === void 0) position = join.position;
        const replay = join.position === null || samePosition(join.position, position) ? [] : log.after(join.position, channels);
        retarget();
        if (entries.get(join.member) !== entry) return;
        if (replay !== null) joined(entry, replay);
        else catchUp(entry, join.position);
      },
      leave(member) {
        if (!entries.has(member)) return;
        drop(member);
        retarget();
      },
      stop() {
        var _a;
        if (stopped) return;
        stopped = true;
        if (reserveTimer !== null) clearTimeout(reserveTimer);
        stream == null ? void 0 : stream.stop();
        stream = null;
        for (const entry of entries.values()) (_a = entry.catchup) == null ? void 0 : _a.stop();
        entries.clear();
      }
    };
  }

  // client/share/hub.ts
  var counter = 0;
  function newId() {
    const bytes = new Uint8Array(8);
    const crypto = globalThis.crypto;
    if (crypto == null ? void 0 : crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    return `${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}-${(counter++).toString(36)}`;
  }
  function createHub(name, settings, environment, onClose) {
    var _a, _b, _c, _d;
    const tab = newId();
    const tabLock = `${name} tab ${tab}`;
    const channel = new environment.BroadcastChannel(name);
    const members = /* @__PURE__ */ new Map();
    const log = createStreamLog();
    let leaderTab = null;
    let leader = null;
    let ready = false;
    let frozen = false;
    let closed = false;
    let releaseTab = null;
    let releaseLead = null;
    let asking = null;
    function role() {
      return leader !== null ? "leader" : "follower";
    }
    function post(message) {
      try {
        channel.postMessage(message);
      } catch {
      }
    }
    function emit(message) {
      post(message);
      handle(message);
    }
    function announce(member) {
      member.seq++;
      member.state = "waiting";
      const join = { t: "join", tab, member: member.id, seq: member.seq, channels: member.channels, position: member.sink.position };
      if (leader !== null) leader.join(join);
      else post(join);
    }
    function announceAll() {
      if (!ready || frozen) return;
      for (const member of [...members.values()]) if (members.get(member.id) === member) announce(member);
    }
    function liveTabs() {
      const prefix = `${name} tab `;
      return environment.locks.query().then(
        (snapshot) => {
          var _a2;
          return new Set(((_a2 = snapshot.held) != null ? _a2 : []).map((lock) => {
            var _a3;
            return (_a3 = lock.name) != null ? _a3 : "";
          }).filter((n) => n.startsWith(prefix)).map((n) => n.slice(prefix.length)));
        },
        () => null
      );
    }
    function lead() {
      leaderTab = tab;
      leader = createLeader({ tab, settings, log, emit, liveTabs });
      emit({ t: "lead", tab });
      announceAll();
    }
    function askToLead() {
      if (closed || frozen || !ready || asking !== null || leader !== null) return;
      const ask = new AbortController();
      asking = ask;
      environment.locks.request(name, { signal: ask.signal }, () => {
        if (asking === ask) asking = null;
        if (closed || frozen) return void 0;
        return new Promise((resolve2) => {
          releaseLead = resolve2;
          lead();
        });
      }).catch(() => {
        if (asking === ask) asking = null;
      });
    }
    function stepDown() {
      if (asking !== null) {
        asking.abort();
        asking = null;
      }
      if (leader === null) return;
      leader.stop();
      leader = null;
      leaderTab = null;
      releaseLead == null ? void 0 : releaseLead();
      releaseLead = null;
    }
    function close() {
      var _a2, _b2, _c2, _d2;
      if (closed) return;
      closed = true;
      stepDown();
      releaseTab == null ? void 0 : releaseTab();
      releaseTab = null;
      channel.onmessage = null;
      channel.close();
      (_a2 = environment.window) == null ? void 0 : _a2.removeEventListener("pagehide", onPageHide);
      (_b2 = environment.window) == null ? void 0 : _b2.removeEventListener("pageshow", onPageShow);
      (_c2 = environment.document) == null ? void 0 : _c2.removeEventListener("freeze", onFreeze);
      (_d2 = environment.document) == null ? void 0 : _d2.removeEventListener("resume", onResume);
      onClose();
    }
    function forget(member) {
      if (members.get(member.id) !== member) return;
      members.delete(member.id);
      leader == null ? void 0 : leader.leave(member.id);
      if (members.size === 0) close();
    }
    function current(id, seq) {
      const member = members.get(id);
      return member !== void 0 && member.seq === seq ? member : void 0;
    }
    function handle(message) {
      if (closed) return;
      switch (message.t) {
        case "join":
          leader == null ? void 0 : leader.join(message);
          return;
        case "leave":
          leader == null ? void 0 : leader.leave(message.member);
          return;
        case "lead":
          if (message.tab === tab) return;
          leaderTab = message.tab;
          announceAll();
          return;
        case "alone": {
          const member = members.get(message.member);
          if (member === void 0) return;
          forget(member);
          member.goAlone();
          return;
        }
        case "stopped": {
          const member = members.get(message.member);
          if (member === void 0) return;
          const was = role();
          forget(member);
          member.sink.end({ ...message.detail, role: was });
          return;
        }
        default:
          break;
      }
      if (leaderTab === null && leader === null) leaderTab = message.tab;
      if (message.tab !== leaderTab) return;
      switch (message.t) {
        case "batch": {
          log.add(message.batch);
          for (const member of [...members.values()]) {
            if (member.state !== "synced" || members.get(member.id) !== member) continue;
            const taken = continuation(message.batch, member.sink.position);
            if (taken === null) {
              announce(member);
              continue;
            }
            const wanted = new Set(member.channels);
            const mine = taken.filter((m) => m.channel !== null && wanted.has(m.channel));
            const gap = message.gap !== null && taken === message.batch.messages ? message.gap : null;
            const first = mine[0];
            if (gap !== null && first !== void 0 && !first.gap) mine[0] = { ...first, gap: true };
            member.sink.receive({ messages: mine, to: message.batch.to, gap });
          }
          return;
        }
        case "joined": {
          const member = current(message.member, message.seq);
          if (member === void 0) return;
          log.anchor(message.at);
          member.state = "synced";
          member.sink.receive({ messages: message.replay, to: message.at, gap: null });
          member.sink.setStatus(message.status, { ...message.detail, role: role() });
          return;
        }
        case "catchup": {
          const member = current(message.member, message.seq);
          if (member === void 0) return;
          member.state = "catchup";
          member.sink.receive({ messages: message.messages, to: message.to, gap: message.gap });
          return;
        }
        case "status":
          for (const member of [...members.values()]) {
            if (member.state !== "waiting") member.sink.setStatus(message.status, { ...message.detail, role: role() });
          }
          return;
      }
    }
    function onFreeze() {
      frozen = true;
      stepDown();
    }
    function onResume() {
      frozen = false;
      askToLead();
      announceAll();
    }
    function onPageHide(event) {
      if (event.persisted) {
        onFreeze();
        return;
      }
      if (leader === null) for (const member of members.values()) post({ t: "leave", tab, member: member.id });
    }
    function onPageShow(event) {
      if (event.persisted) onResume();
    }
    channel.onmessage = (event) => handle(event.data);
    (_a = environment.window) == null ? void 0 : _a.addEventListener("pagehide", onPageHide);
    (_b = environment.window) == null ? void 0 : _b.addEventListener("pageshow", onPageShow);
    (_c = environment.document) == null ? void 0 : _c.addEventListener("freeze", onFreeze);
    (_d = environment.document) == null ? void 0 : _d.addEventListener("resume", onResume);
    environment.locks.request(tabLock, () => {
      if (closed) return void 0;
      return new Promise((resolve2) => {
        releaseTab = resolve2;
        ready = true;
        askToLead();
        announceAll();
      });
    }).catch(() => {
      for (const member of [...members.values()]) {
        forget(member);
        member.goAlone();
      }
    });
    return {
      get role() {
        return role();
      },
      add(member) {
        members.set(member.id, member);
        if (ready && !frozen) announce(member);
      },
      remove(member) {
        if (members.get(member.id) !== member) return;
        if (leader === null) post({ t: "leave", tab, member: member.id });
        forget(member);
      }
    };
  }

  // client/sink.ts
  function createSink(callbacks, position, role) {
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
      if (next === status && detail.role === role && next !== "reconnecting") return;
      status = next;
      role = detail.role;
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
      get role() {
        return role;
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

  // client/shared.ts
  var hubs = /* @__PURE__ */ new Map();
  function sharing() {
    var _a, _b, _c;
    const g = globalThis;
    if (typeof g.BroadcastChannel !== "function" || !((_a = g.navigator) == null ? void 0 : _a.locks) || typeof ((_b = g.location) == null ? void 0 : _b.href) !== "string") return null;
    return {
      BroadcastChannel: g.BroadcastChannel,
      locks: g.navigator.locks,
      window: typeof g.addEventListener === "function" ? globalThis : null,
      document: (_c = g.document) != null ? _c : null
    };
  }
  function groupName(settings, href) {
    const headers = Object.keys(settings.headers).sort().map((key2) => [key2.toLowerCase(), settings.headers[key2]]);
    const key = [new URL(settings.base, href).href, settings.token, headers, settings.backoff.min, settings.backoff.max];
    return `holdpush ${JSON.stringify(key)}`;
  }
  function subscribeShared(settings, callbacks, environment) {
    const name = groupName(settings, String(globalThis.location.href));
    let hub = hubs.get(name);
    if (hub === void 0) {
      let created;
      try {
        created = createHub(name, { ...settings, position: null }, environment, () => {
          if (hubs.get(name) === created) hubs.delete(name);
        });
      } catch {
        return null;
      }
      hub = created;
      hubs.set(name, created);
    }
    const sink = createSink(callbacks, settings.position, "follower");
    let alone = null;
    let ended = false;
    const channels = settings.wanted.channels;
    const member = {
      id: newId(),
      channels,
      sink,
      seq: 0,
      state: "waiting",
      goAlone() {
        if (ended || sink.stopped) return;
        alone = runAlone({ ...settings, position: sink.position }, sink);
      }
    };
    const home = hub;
    sink.setStatus("connecting", { role: home.role });
    home.add(member);
    return {
      stop() {
        if (ended) return;
        ended = true;
        if (alone !== null) alone.stop();
        else home.remove(member);
        sink.end({ reason: "stopped", role: alone !== null ? "alone" : home.role });
      },
      get position() {
        return sink.position;
      },
      get status() {
        return sink.status;
      },
      get transport() {
        return settings.transport;
      },
      get role() {
        return alone !== null ? "alone" : sink.stopped ? sink.role : home.role;
      }
    };
  }

  // client/subscribe.ts
  var subscribe = (target, onMessage, options) => {
    const { settings, callbacks, shared } = resolve(target, onMessage, options);
    const environment = shared ? sharing() : null;
    const together = environment !== null ? subscribeShared(settings, callbacks, environment) : null;
    if (together !== null) return together;
    const sink = createSink(callbacks, settings.position, "alone");
    let connection = null;
    connection = runAlone(settings, sink);
    if (sink.stopped) connection.stop();
    return {
      stop() {
        connection == null ? void 0 : connection.stop();
        sink.end({ reason: "stopped", role: "alone" });
      },
      get position() {
        return sink.position;
      },
      get status() {
        return sink.status;
      },
      get transport() {
        return settings.transport;
      },
      get role() {
        return sink.role;
      }
    };
  };

  // client/index.ts
  var version = "2";
  return __toCommonJS(index_exports);
})();
if (typeof module === 'object' && module && module.exports) module.exports = Holdpush;
