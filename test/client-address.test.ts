/**
 * The client address (docs/protocol.md, "Behind a reverse proxy"): the peer, or what trusted
 * proxies forwarded in X-Forwarded-For or RFC 7239 Forwarded; requests forwarded by an untrusted
 * peer never publish by address. Here the test itself plays the proxy on loopback.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { createAddressSet } from '../lib/http/address';
import { createClientOf, expandTrustList, forwardedHops, parseHop, pickClient, xForwardedForHops } from '../lib/http/client-address';
import { type CreateHoldpushOptions, createHoldpush, createHoldpushServer, signJwt } from '../lib/index';
import { errorOf, pub, serve } from './support/f2-helpers';
import { multipart, request } from './support/http';

const T = { timeout: 10_000 };

describe('reading one hop', () => {
  test('IPv4 and IPv6, with or without a port, bracketed or quoted the way RFC 7239 writes them', () => {
    const cases: [string, string | null][] = [
      ['192.0.2.60', '192.0.2.60'],
      [' 192.0.2.60 ', '192.0.2.60'],
      ['192.0.2.60:4711', '192.0.2.60'],
      ['2001:db8:cafe::17', '2001:db8:cafe::17'],
      ['[2001:db8:cafe::17]', '2001:db8:cafe::17'],
      ['[2001:db8:cafe::17]:4711', '2001:db8:cafe::17'],
      ['[::1]:1234', '::1'],
      ['::ffff:10.1.2.3', '::ffff:10.1.2.3'],
      // Not addresses: the hop cannot be believed.
      ['', null],
      ['unknown', null],
      ['_hidden', null],
      ['example.com', null],
      ['192.0.2.60:', null],
      ['192.0.2.60:123456', null],
      ['192.0.2.999', null],
      ['[192.0.2.60]', null],
      ['[::1', null],
      ['[::1]x', null],
      ['fe80::1%eth0', null],
      ['"[::1]"', null],
      ['1.2.3.4 5.6.7.8', null],
    ];
    for (const [text, want] of cases) assert.equal(parseHop(text), want, JSON.stringify(text));
  });

  test('X-Forwarded-For splits on commas, nearest the client first', () => {
    assert.deepEqual(xForwardedForHops('203.0.113.9, 10.0.0.2,10.0.0.3'), ['203.0.113.9', ' 10.0.0.2', '10.0.0.3']);
  });

  test('Forwarded: the for= of each element, quoted strings, escapes, any case, other pairs ignored', () => {
    assert.deepEqual(forwardedHops('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
    assert.deepEqual(forwardedHops('for="[2001:db8:cafe::17]:4711", For=198.51.100.17'), ['[2001:db8:cafe::17]:4711', '198.51.100.17']);
    assert.deepEqual(forwardedHops('proto=https;FOR="192.0.2.1:80" , for="[::1]"'), ['192.0.2.1:80', '[::1]']);
    // A comma inside quotes is not an element boundary; a backslash escapes.
    assert.deepEqual(forwardedHops('by="a,b";for=192.0.2.1, for="\\[::1\\]"'), ['192.0.2.1', '[::1]']);
    // An element without for= is a hop that said nothing.
    assert.deepEqual(forwardedHops('proto=http, for=192.0.2.1'), ['', '192.0.2.1']);
    assert.deepEqual(forwardedHops(''), ['']);
    assert.deepEqual(forwardedHops('for="unterminated'), ['unterminated']);
  });
});

describe('choosing the client from the hops', () => {
  const trusted = createAddressSet(expandTrustList(['loopback', '10.0.0.0/8']));
  const pick = (hops: string) => pickClient(xForwardedForHops(hops), trusted);

  test('the right-most hop that is not a trusted proxy', () => {
    assert.equal(pick('203.0.113.9'), '203.0.113.9');
    assert.equal(pick('198.51.100.7, 203.0.113.9, 10.0.0.2, 127.0.0.1'), '203.0.113.9');
    assert.equal(pick('203.0.113.9, ::1, [::1]:80'), '203.0.113.9');
    assert.equal(pick('2001:db8::5, 10.1.1.1:3000'), '2001:db8::5');
  });

  test('the left-most when every hop is trusted', () => {
    assert.equal(pick('10.0.0.5, 10.0.0.2, 127.0.0.1'), '10.0.0.5');
    // An IPv4-mapped hop is the IPv4 address it carries.
    assert.equal(pick('::ffff:10.0.0.5, ::ffff:127.0.0.1'), '::ffff:10.0.0.5');
    assert.equal(pick('::ffff:203.0.113.9, 127.0.0.1'), '::ffff:203.0.113.9');
  });

  test('unknown when a hop on the way is not an address: nothing left of it can be believed', () => {
    assert.equal(pick('198.51.100.7, garbage, 127.0.0.1'), undefined);
    assert.equal(pick('unknown'), undefined);
    assert.equal(pick(''), undefined);
    assert.equal(pick('198.51.100.7,,10.0.0.2'), undefined);
    // Garbage left of the client is never reached.
    assert.equal(pick('garbage, 203.0.113.9, 127.0.0.1'), '203.0.113.9');
  });

  test('`loopback` is 127.0.0.0/8 and ::1', () => {
    assert.deepEqual(expandTrustList(['loopback', ' loopback ', '10.0.0.1']), ['127.0.0.0/8', '::1', '127.0.0.0/8', '::1', '10.0.0.1']);
  });
});

describe('createClientOf on requests', () => {
  /** A request as node:http hands it over, reduced to what is read: headers and the peer. */
  function fake(peer: string | undefined, headers: Record<string, string>): IncomingMessage {
    return { headers, socket: { remoteAddress: peer } } as unknown as IncomingMessage;
  }

  test('no forwarding header: the peer, trusted or not', () => {
    const clientOf = createClientOf(['loopback']);
    assert.deepEqual(clientOf(fake('203.0.113.9', {})), { address: '203.0.113.9', viaUntrustedProxy: false });
    assert.deepEqual(clientOf(fake('127.0.0.1', {})), { address: '127.0.0.1', viaUntrustedProxy: false });
  });

  test('forwarding headers from a peer that is not trusted: the peer, marked as behind an unknown proxy', () => {
    for (const trust of [[], ['10.0.0.0/8']]) {
      const clientOf = createClientOf(trust);
      for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip']) {
        assert.deepEqual(clientOf(fake('127.0.0.1', { [header]: 'for=198.51.100.7' })), { address: '127.0.0.1', viaUntrustedProxy: true }, `${header} with ${trust}`);
      }
    }
  });

  test('a trusted peer: X-Forwarded-For first, else Forwarded; X-Real-IP alone names nobody', () => {
    const clientOf = createClientOf(['loopback']);
    assert.equal(clientOf(fake('127.0.0.1', { 'x-forwarded-for': '198.51.100.7', forwarded: 'for=203.0.113.9' })).address, '198.51.100.7');
    assert.equal(clientOf(fake('::ffff:127.0.0.1', { forwarded: 'for="[2001:db8::7]:4711";proto=https' })).address, '2001:db8::7');
    assert.equal(clientOf(fake('::1', { 'x-real-ip': '198.51.100.7' })).address, undefined);
    assert.equal(clientOf(fake('127.0.0.1', { 'x-forwarded-for': 'nonsense' })).viaUntrustedProxy, false);
  });

  test('one answer per request: asked twice, the same object', () => {
    const clientOf = createClientOf(['loopback']);
    const req = fake('127.0.0.1', { 'x-forwarded-for': '198.51.100.7' });
    assert.equal(clientOf(req), clientOf(req));
  });
});

describe('trustProxy is checked', () => {
  test('a TypeError naming trustProxy for anything but an array of addresses, CIDRs or loopback', () => {
    for (const bad of ['loopback', ['nope'], ['10.0.0.0/40'], [1], ['fe80::1%eth0'], null]) {
      assert.throws(() => createHoldpush({ log: 'off', trustProxy: bad as never }), (error: unknown) => error instanceof TypeError && /trustProxy/.test(error.message), JSON.stringify(bad));
    }
    for (const good of [[], ['loopback'], ['10.0.0.0/8', '::1', ' 192.0.2.1 ']]) {
      const push = createHoldpush({ log: 'off', trustProxy: good });
      assert.deepEqual(push.options.trustProxy, good);
      void push.close();
    }
  });
});

describe('publishing through a proxy, over real requests', () => {
  const LOCAL_PROXY = { trustProxy: ['loopback'] };

  test('default flags: any forwarding header refuses a loopback publisher with 403 naming both fixes', T, async (t) => {
    const s = await serve(t);
    const forwarded: Record<string, string>[] = [{ 'X-Forwarded-For': '127.0.0.1' }, { Forwarded: 'for=127.0.0.1' }, { 'X-Real-IP': '127.0.0.1' }];
    for (const headers of forwarded) {
      const reply = await pub(s, 'c', 'x', headers);
      assert.equal(reply.status, 403, JSON.stringify(headers));
      assert.equal(errorOf(reply).error, 'forbidden');
      assert.match(errorOf(reply).message, /--publish-token.*--trust-proxy/);
    }
    const form = multipart({ message: 'hi' });
    const sent = await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type, 'X-Forwarded-For': '127.0.0.1' } });
    assert.equal(sent.status, 403);
    assert.equal(s.holdpush.stats().messages.published, 0);
    assert.equal((await pub(s, 'c', 'x')).status, 202, 'without the header the same peer may');
  });

  test('a publish token, or a JWT publish grant, works through an untrusted proxy', T, async (t) => {
    const withToken = await serve(t, { publishToken: 'tok' });
    assert.equal((await pub(withToken, 'c', 'x', { 'X-Forwarded-For': '203.0.113.9', Authorization: 'Bearer tok' })).status, 202);
    assert.equal((await pub(withToken, 'c', 'x', { 'X-Forwarded-For': '203.0.113.9' })).status, 401);
    const secret = 'proxy-secret';
    const withGrant = await serve(t, { subscribeSecret: secret });
    const grant = signJwt({ holdpush: { publish: ['c'] } }, secret);
    assert.equal((await pub(withGrant, 'c', 'x', { 'X-Forwarded-For': '203.0.113.9', Authorization: `Bearer ${grant}` })).status, 202);
    assert.equal((await pub(withGrant, 'c', 'x', { 'X-Forwarded-For': '203.0.113.9' })).status, 403);
  });

  test('a trusted proxy: --publish-allow judges the forwarded client (X-Forwarded-For or Forwarded)', T, async (t) => {
    const s = await serve(t, { ...LOCAL_PROXY, publishAllow: ['198.51.100.0/24', '2001:db8::/32'] });
    const cases: [Record<string, string>, number][] = [
      [{ 'X-Forwarded-For': '198.51.100.7' }, 202],
      [{ 'X-Forwarded-For': '203.0.113.9' }, 403],
      [{ 'X-Forwarded-For': '198.51.100.7, 203.0.113.9' }, 403],
      [{ 'X-Forwarded-For': '203.0.113.9, 198.51.100.7' }, 202],
      [{ 'X-Forwarded-For': '::ffff:198.51.100.7' }, 202],
      [{ 'X-Forwarded-For': '198.51.100.7:5555, 127.0.0.1' }, 202],
      [{ Forwarded: 'for="[2001:db8::7]:4711";proto=https' }, 202],
      [{ Forwarded: 'for=198.51.100.7, for=203.0.113.9' }, 403],
      // Not a source: only X-Real-IP says who the client is, and it is not believed.
      [{ 'X-Real-IP': '198.51.100.7' }, 403],
      [{ 'X-Forwarded-For': 'garbage' }, 403],
      [{}, 403],
    ];
    for (const [headers, status] of cases) assert.equal((await pub(s, 'c', 'x', headers)).status, status, JSON.stringify(headers));
  });

  /** A server of its own on `host` (the shared helper listens on 127.0.0.1 only). */
  async function listenOn(t: TestContext, host: string, options: CreateHoldpushOptions): Promise<string> {
    const { server, holdpush } = createHoldpushServer({ log: 'off', ...options });
    await new Promise<void>((resolve) => server.listen(0, host, resolve));
    t.after(async () => {
      await holdpush.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    return `http://${host.includes(':') ? `[${host}]` : host}:${(server.address() as AddressInfo).port}`;
  }

  test('an IPv4-mapped peer (::ffff:127.0.0.1) and an IPv6 peer (::1) are trusted loopback proxies', T, async (t) => {
    const options = { ...LOCAL_PROXY, publishAllow: ['198.51.100.0/24'] };
    const dual = await listenOn(t, '::', options);
    const v4 = dual.replace('[::]', '127.0.0.1');
    const v6 = await listenOn(t, '::1', options);
    for (const base of [v4, v6]) {
      assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '198.51.100.7' } })).status, 202, base);
      assert.equal((await request(`${base}/pub/c`, { method: 'POST', body: 'x', headers: { 'X-Forwarded-For': '203.0.113.9' } })).status, 403, base);
    }
  });

});
