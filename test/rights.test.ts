import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { createAddressSet, parseAddressRule, unmapAddress } from '../lib/http/address';
import { signJwt, verifyJwt } from '../lib/jwt';
import { isValidName, parseChannelList, parsePosition } from '../lib/names';
import { errorOf, pub, requestPath, serve } from './support/f2-helpers';
import { held, multipart, request } from './support/http';

const T = { timeout: 10_000 };
const JSON_TYPE = 'application/json; charset=utf-8';
const SECRET = 'test-subscribe-secret';

function b64url(value: object | string): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

/** A compact JWT built by hand: any header, any claims, signed with `alg` (HS256/HS512) or not at all. */
function handJwt(header: object, claims: object, secret: string, hash: 'sha256' | 'sha512' | null = 'sha256'): string {
  const head = b64url(header);
  const body = b64url(claims);
  const signature = hash === null ? '' : createHmac(hash, secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${signature}`;
}

const now = () => Math.floor(Date.now() / 1000);

function assertUnauthorized(reply: { status: number; headers: Record<string, unknown>; text: string }, what: string): void {
  assert.equal(reply.status, 401, `${what}: ${reply.text}`);
  assert.match(String(reply.headers['www-authenticate']), /^Bearer\b/, what);
  assert.equal(reply.headers['content-type'], JSON_TYPE, what);
  assert.equal((JSON.parse(reply.text) as { error: string }).error, 'unauthorized', what);
}

describe('publishing rights by address', () => {
  test('by default a loopback publisher may publish, read info and delete', T, async (t) => {
    const s = await serve(t);
    assert.equal((await pub(s, 'c', 'x')).status, 202);
    assert.equal((await request(`${s.url}/pub/c`)).status, 200);
    const sent = await request(`${s.url}/send`, { method: 'POST', body: 'hello', headers: { 'Content-Type': 'text/plain' } });
    assert.equal(sent.status, 200);
    assert.equal((await request(`${s.url}/pub/c`, { method: 'DELETE' })).status, 200);
  });

  test('publishAllow without loopback: 403 JSON on every /pub method and on /send', T, async (t) => {
    const s = await serve(t, { publishAllow: ['10.0.0.1'] });
    for (const method of ['POST', 'PUT', 'GET', 'DELETE']) {
      const reply = await request(`${s.url}/pub/c`, { method, body: method === 'POST' || method === 'PUT' ? 'x' : undefined });
      assert.equal(reply.status, 403, method);
      assert.equal(reply.headers['content-type'], JSON_TYPE);
      assert.equal(reply.headers['www-authenticate'], undefined);
      assert.equal(errorOf(reply).error, 'forbidden');
    }
    const form = multipart({ message: 'hi' });
    const sent = await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } });
    assert.equal(sent.status, 403);
    assert.equal(errorOf(sent).error, 'forbidden');
    assert.equal(s.holdpush.stats().messages.published, 0);
    // Subscribing is not publishing; the embedding API is not address-bound.
    await s.holdpush.publish('c', 'in-process');
    const sub = await request(`${s.url}/sub/c`);
    assert.equal(sub.status, 200);
    assert.equal(sub.text, 'in-process');
  });

  test('a CIDR that holds loopback allows it; an IPv6-only list does not', T, async (t) => {
    const wide = await serve(t, { publishAllow: ['10.0.0.0/8', '127.0.0.0/30'] });
    assert.equal((await pub(wide, 'c', 'x')).status, 202);
    const v6 = await serve(t, { publishAllow: ['::1'] });
    assert.equal((await pub(v6, 'c', 'x')).status, 403);
  });
});

describe('publishing rights by token', () => {
  const TOKEN = 's3cret-publish-token';

  test('401 with WWW-Authenticate: Bearer without it or with a wrong one, even from loopback', T, async (t) => {
    const s = await serve(t, { publishToken: TOKEN });
    assertUnauthorized(await pub(s, 'c', 'x'), 'none');
    assertUnauthorized(await pub(s, 'c', 'x', { Authorization: 'Bearer wrong' }), 'wrong');
    assertUnauthorized(await pub(s, 'c', 'x', { Authorization: `Bearer ${TOKEN}x` }), 'longer');
    assertUnauthorized(await pub(s, 'c', 'x', { Authorization: `Bearer ${TOKEN.slice(0, -1)}` }), 'shorter');
    assertUnauthorized(await pub(s, 'c', 'x', { Authorization: `Basic ${TOKEN}` }), 'basic');
    assertUnauthorized(await pub(s, 'c', 'x', { Authorization: 'Bearer' }), 'empty bearer');
    assertUnauthorized(await request(`${s.url}/pub/c`), 'info');
    assertUnauthorized(await request(`${s.url}/pub/c`, { method: 'DELETE' }), 'delete');
    assertUnauthorized(await request(`${s.url}/send`, { method: 'POST', body: 'x', headers: { 'Content-Type': 'text/plain' } }), 'send');
    assert.equal(s.holdpush.stats().messages.published, 0);
  });

  test('2xx with Authorization: Bearer <token>', T, async (t) => {
    const s = await serve(t, { publishToken: TOKEN });
    assert.equal((await pub(s, 'c', 'x', { Authorization: `Bearer ${TOKEN}` })).status, 202);
    assert.equal((await pub(s, 'c', 'x', { Authorization: `bearer   ${TOKEN}` })).status, 202);
    assert.equal((await request(`${s.url}/pub/c`, { headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
    const sent = await request(`${s.url}/send`, { method: 'POST', body: '{"message":"hi"}', headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${TOKEN}` } });
    assert.equal(sent.status, 200);
    assert.equal((await request(`${s.url}/pub/c`, { method: 'DELETE', headers: { Authorization: `Bearer ${TOKEN}` } })).status, 200);
  });

  test('/send takes the token from the form (multipart, urlencoded, JSON)', T, async (t) => {
    const s = await serve(t, { publishToken: TOKEN });
    const form = multipart({ message: 'from a form', token: TOKEN });
    const multi = await request(`${s.url}/send`, { method: 'POST', body: form.body, headers: { 'Content-Type': form.type } });
    assert.equal(multi.status, 200);
    assert.match((multi.json() as { id: string }).id, /^\d+:/);
    const url = await request(`${s.url}/send`, { method: 'POST', body: `message=hi&token=${encodeURIComponent(TOKEN)}`, headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    assert.equal(url.status, 200);
    const json = await request(`${s.url}/send`, { method: 'POST', body: JSON.stringify({ message: 'hi', token: TOKEN }), headers: { 'Content-Type': 'application/json' } });
    assert.equal(json.status, 200);
    const behindBasic = multipart({ message: 'behind basic auth', token: TOKEN });
    const basic = `Basic ${Buffer.from('user:pass').toString('base64')}`;
    const viaForm = await request(`${s.url}/send`, { method: 'POST', body: behindBasic.body, headers: { 'Content-Type': behindBasic.type, Authorization: basic } });
    assert.equal(viaForm.status, 200);
    const wrong = multipart({ message: 'x', token: 'nope' });
    assertUnauthorized(await request(`${s.url}/send`, { method: 'POST', body: wrong.body, headers: { 'Content-Type': wrong.type } }), 'wrong form token');
    // Only /send reads a token from the body or the query: /pub needs the header.
    assertUnauthorized(await request(`${s.url}/pub/c?token=${TOKEN}`, { method: 'POST', body: 'x' }), '/pub ?token=');
    assert.equal(s.holdpush.stats().messages.published, 4);
  });
});

describe('subscribing rights (JWT HS256)', () => {
  const grant = (subscribe: string[], extra: object = {}) => ({ holdpush: { subscribe }, ...extra });

  test('missing, malformed, badly signed, expired, not yet valid, alg none, HS512: 401 with WWW-Authenticate', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET });
    const good = grant(['news']);
    const cases: [string, string | undefined][] = [
      ['missing', undefined],
      ['empty bearer', ''],
      ['not a JWT', 'not-a-jwt'],
      ['two parts', 'aaa.bbb'],
      ['four parts', `${signJwt(good, SECRET)}.x`],
      ['bad base64 header', `!!!.${b64url(good)}.sig`],
      ['header not JSON', `${b64url('not json')}.${b64url(good)}.sig`],
      ['claims not an object', handJwt({ alg: 'HS256' }, [1, 2] as unknown as object, SECRET)],
      ['bad signature', signJwt(good, 'another-secret')],
      ['tampered claims', (() => {
        const [h, , sig] = signJwt(good, SECRET).split('.');
        return `${h}.${b64url(grant(['news', 'other']))}.${sig}`;
      })()],
      ['signature missing', (() => signJwt(good, SECRET).split('.').slice(0, 2).join('.') + '.')()],
      ['expired', signJwt(grant(['news'], { exp: now() - 10 }), SECRET)],
      ['exp not a number', signJwt(grant(['news'], { exp: 'tomorrow' }), SECRET)],
      ['nbf in the future', signJwt(grant(['news'], { nbf: now() + 60 }), SECRET)],
      ['alg none', handJwt({ alg: 'none', typ: 'JWT' }, good, SECRET, null)],
      ['alg none, signed anyway', handJwt({ alg: 'none' }, good, SECRET)],
      ['alg HS512', handJwt({ alg: 'HS512', typ: 'JWT' }, good, SECRET, 'sha512')],
      ['alg hs256 lower case', handJwt({ alg: 'hs256' }, good, SECRET)],
      ['no alg', handJwt({ typ: 'JWT' }, good, SECRET)],
    ];
    for (const [what, token] of cases) {
      const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
      assertUnauthorized(await request(`${s.url}/sub/news`, { headers }), what);
      if (token !== undefined && token !== '') {
        assertUnauthorized(await request(`${s.url}/sub/news?token=${encodeURIComponent(token)}`), `${what} (?token=)`);
      }
    }
    assert.equal(s.holdpush.stats().held.total, 0);
  });

  test('a valid token: 200, as a header or ?token=, with exp and nbf that hold', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET });
    await s.holdpush.publish('news', 'hello');
    const tokens = [
      signJwt(grant(['news']), SECRET),
      signJwt(grant(['other', 'news'], { exp: now() + 60, nbf: now() - 5 }), SECRET),
      handJwt({ alg: 'HS256', typ: 'JWT', kid: 'k1' }, grant(['news']), SECRET),
    ];
    for (const token of tokens) {
      const header = await request(`${s.url}/sub/news`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(header.status, 200);
      assert.equal(header.text, 'hello');
      const query = await request(`${s.url}/sub/news?token=${token}`);
      assert.equal(query.status, 200);
      assert.equal(query.text, 'hello');
    }
    const stream = await request(`${s.url}/sub/news?token=${tokens[0]}`, { headers: { Accept: 'application/json' } });
    assert.equal(stream.status, 200);
  });

  test('a Basic Authorization header (a site behind HTTP auth) does not hide ?token=', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET });
    await s.holdpush.publish('news', 'hello');
    const basic = { Authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` };
    const token = signJwt(grant(['news']), SECRET);
    const reply = await request(`${s.url}/sub/news?token=${token}`, { headers: basic });
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'hello');
    assertUnauthorized(await request(`${s.url}/sub/news`, { headers: basic }), 'basic alone');
    // A malformed Bearer header is still an answer of its own: 401, whatever the query says.
    assertUnauthorized(await request(`${s.url}/sub/news?token=${token}`, { headers: { Authorization: 'Bearer a b' } }), 'malformed bearer');
  });

  test('valid but not naming the channel (or one of several): 403 without a challenge', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET });
    const token = signJwt(grant(['news']), SECRET);
    for (const path of ['/sub/other', '/sub/news,other', '/?uid=news']) {
      const reply = await request(`${s.url}${path}`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(reply.status, 403, path);
      assert.equal(reply.headers['www-authenticate'], undefined);
      assert.equal(errorOf(reply).error, 'forbidden');
    }
    await s.holdpush.publish('news', 'n');
    await s.holdpush.publish('other', 'o');
    const none = await request(`${s.url}/sub/news`, { headers: { Authorization: `Bearer ${signJwt({ sub: 'x' }, SECRET)}` } });
    assert.equal(none.status, 403);
    const both = await request(`${s.url}/sub/news,other`, { headers: { Authorization: `Bearer ${signJwt(grant(['news', 'other']), SECRET)}` } });
    assert.equal(both.status, 200);
  });

  test('uid:<uid> grants the seed face /?uid=', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET });
    const token = signJwt(grant(['uid:alice']), SECRET);
    const waiting = request(`${s.url}/?uid=alice&token=${token}`);
    await held(s, 1);
    await s.holdpush.publish('uid:alice', 'for alice');
    const reply = await waiting;
    assert.equal(reply.status, 200);
    assert.equal(reply.text, 'for alice');
    assert.equal((await request(`${s.url}/?uid=bob&token=${token}`)).status, 403);
    assertUnauthorized(await request(`${s.url}/?uid=alice`), 'seed without a token');
    // A uid grant is not a channel grant of the same name.
    assert.equal((await request(`${s.url}/sub/alice?token=${token}`)).status, 403);
  });

  test('the holdpush.publish claim lets a non-allowed address publish to the named channel only', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET, publishAllow: ['10.0.0.1'] });
    const token = signJwt({ holdpush: { subscribe: [], publish: ['news'] } }, SECRET);
    const auth = { Authorization: `Bearer ${token}` };
    assert.equal((await pub(s, 'news', 'x', auth)).status, 202);
    assert.equal((await request(`${s.url}/pub/news`, { headers: auth })).status, 200);
    assert.equal((await pub(s, 'other', 'x', auth)).status, 403);
    assert.equal((await pub(s, 'news', 'x')).status, 403);
    const expired = signJwt({ holdpush: { publish: ['news'] }, exp: now() - 1 }, SECRET);
    assert.equal((await pub(s, 'news', 'x', { Authorization: `Bearer ${expired}` })).status, 403);
    const forged = signJwt({ holdpush: { publish: ['news'] } }, 'not-the-secret');
    assert.equal((await pub(s, 'news', 'x', { Authorization: `Bearer ${forged}` })).status, 403);
    // /send names no channel: the claim does not reach it.
    const sent = await request(`${s.url}/send`, { method: 'POST', body: 'x', headers: { ...auth, 'Content-Type': 'text/plain' } });
    assert.equal(sent.status, 403);
    // A publish grant is not a subscribe grant.
    assert.equal((await request(`${s.url}/sub/news`, { headers: auth })).status, 403);
  });

  test('with a publish token too, the claim still publishes to its channel', T, async (t) => {
    const s = await serve(t, { subscribeSecret: SECRET, publishToken: 'pt' });
    const token = signJwt({ holdpush: { publish: ['news'] } }, SECRET);
    assert.equal((await pub(s, 'news', 'x', { Authorization: `Bearer ${token}` })).status, 202);
    assertUnauthorized(await pub(s, 'other', 'x', { Authorization: `Bearer ${token}` }), 'other channel');
  });

  test('verifyJwt and signJwt agree; now is in seconds', () => {
    const token = signJwt({ holdpush: { subscribe: ['a', 'uid:b', 3], publish: ['c'] }, exp: 100, nbf: 50 }, SECRET);
    const ok = verifyJwt(token, SECRET, 75);
    assert.ok(ok.ok);
    assert.deepEqual([...ok.grant.subscribe], ['a', 'uid:b']);
    assert.deepEqual([...ok.grant.publish], ['c']);
    assert.deepEqual(verifyJwt(token, SECRET, 100), { ok: false, reason: 'token expired' });
    assert.deepEqual(verifyJwt(token, SECRET, 49.9), { ok: false, reason: 'token not yet valid' });
    assert.equal(verifyJwt(token, SECRET, 50).ok, true);
    const bare = verifyJwt(signJwt({}, SECRET), SECRET, 0);
    assert.ok(bare.ok);
    assert.equal(bare.grant.subscribe.size, 0);
  });
});

describe('addresses', () => {
  test('parseAddressRule: IPv4, IPv6, CIDR', () => {
    assert.deepEqual(parseAddressRule('10.0.0.1'), { address: '10.0.0.1', family: 'ipv4', prefix: 32 });
    assert.deepEqual(parseAddressRule('127.0.0.0/8'), { address: '127.0.0.0', family: 'ipv4', prefix: 8 });
    assert.deepEqual(parseAddressRule('0.0.0.0/0'), { address: '0.0.0.0', family: 'ipv4', prefix: 0 });
    assert.deepEqual(parseAddressRule('::1'), { address: '::1', family: 'ipv6', prefix: 128 });
    assert.deepEqual(parseAddressRule('fd00::/8'), { address: 'fd00::', family: 'ipv6', prefix: 8 });
    assert.deepEqual(parseAddressRule('::ffff:127.0.0.1'), { address: '::ffff:127.0.0.1', family: 'ipv6', prefix: 128 });
    for (const bad of ['', 'not-an-ip', 'localhost', '10.0.0', '256.0.0.1', '10.0.0.1/33', '10.0.0.1/', '10.0.0.1/-1', '10.0.0.1/8/8', '::1/129', '::1/abc', '1.2.3.4 ', ' 1.2.3.4', '10.0.0.0/0008']) {
      assert.equal(parseAddressRule(bad), null, JSON.stringify(bad));
    }
  });

  test('unmapAddress strips ::ffff: only from IPv4-mapped addresses', () => {
    assert.equal(unmapAddress('::ffff:127.0.0.1'), '127.0.0.1');
    assert.equal(unmapAddress('::FFFF:10.1.2.3'), '10.1.2.3');
    assert.equal(unmapAddress('::ffff:abcd'), '::ffff:abcd');
    assert.equal(unmapAddress('::1'), '::1');
    assert.equal(unmapAddress('10.0.0.1'), '10.0.0.1');
  });

  test('createAddressSet: the default loopback list, mapped addresses, CIDRs', () => {
    const loopback = createAddressSet(['127.0.0.0/8', '::1']);
    for (const yes of ['127.0.0.1', '127.255.255.254', '127.1.2.3', '::1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2', '0:0:0:0:0:0:0:1']) assert.equal(loopback(yes), true, yes);
    for (const no of ['128.0.0.1', '10.0.0.1', '::2', 'fe80::1', '::ffff:10.0.0.1', 'garbage', '', undefined]) assert.equal(loopback(no), false, String(no));
    const mixed = createAddressSet(['10.0.0.0/8', 'fd00::/8', '192.168.1.7', ' 172.16.0.0/12 ']);
    assert.equal(mixed('10.200.3.4'), true);
    assert.equal(mixed('::ffff:10.200.3.4'), true);
    assert.equal(mixed('11.0.0.1'), false);
    assert.equal(mixed('fd12:3456::1'), true);
    assert.equal(mixed('fe80::1'), false);
    assert.equal(mixed('192.168.1.7'), true);
    assert.equal(mixed('192.168.1.8'), false);
    assert.equal(mixed('172.31.255.255'), true);
    assert.equal(mixed('172.32.0.0'), false);
    assert.equal(createAddressSet([])('127.0.0.1'), false);
    assert.equal(createAddressSet(['0.0.0.0/0'])('203.0.113.9'), true);
  });

  test('createAddressSet throws a TypeError naming the entry it cannot read', () => {
    assert.throws(() => createAddressSet(['127.0.0.1', 'not-an-ip']), (error: unknown) => error instanceof TypeError && /not-an-ip/.test(error.message));
    assert.throws(() => createAddressSet(['10.0.0.0/40']), TypeError);
  });

  test('an unreadable publishAllow entry is a TypeError at construction', async () => {
    const { createHoldpush } = await import('../lib/index');
    assert.throws(() => createHoldpush({ log: 'off', publishAllow: ['nope'] }), TypeError);
  });
});

/** mulberry32: a small seeded PRNG, so a failure names a case that can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let r = Math.imul(a ^ (a >>> 15), 1 | a);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKEN_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._~-';
const NAME_CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz._~-@';
const NOISE = Array.from(' \t:/,"*W@%+=\u0000\u00e9\u2603\u{1f600}#?&;\'\\<>!$()[]{}|^`');

function randomString(next: () => number, alphabet: string | readonly string[], max: number): string {
  const length = Math.floor(next() * (max + 1));
  let out = '';
  for (let i = 0; i < length; i++) {
    const pool = next() < 0.9 ? alphabet : NOISE;
    out += pool[Math.floor(next() * pool.length)];
  }
  return out;
}

/** docs/protocol.md, "Positions and gaps": `<digits>:<T>` or a bare `T`, `T` = 1-512 of the token set, optionally in double quotes. */
const POSITION = /^(?:\d{1,20}:)?([0-9A-Za-z._~-]{1,512})$/;

function referencePosition(text: string): string | null {
  let value = text.trim();
  const quoted = /^"(.*)"$/s.exec(value);
  if (quoted !== null) value = quoted[1] as string;
  const match = POSITION.exec(value);
  return match === null ? null : (match[1] as string);
}

/** docs/protocol.md, "Channels, messages and ids": 1-128 of `A-Z a-z 0-9 _ - . @ ~`, not `.` or `..`. */
function referenceName(text: string): boolean {
  return /^[A-Za-z0-9_\-.@~]{1,128}$/.test(text) && text !== '.' && text !== '..';
}

describe('parsePosition and isValidName against docs/protocol.md (seeded random cases)', () => {
  test('parsePosition agrees with the protocol regex', () => {
    const next = prng(0x5eed);
    let accepted = 0;
    const shapes: ((n: () => number) => string)[] = [
      (n) => randomString(n, TOKEN_CHARS, 12),
      (n) => `${Math.floor(n() * 1e10)}:${randomString(n, TOKEN_CHARS, 12)}`,
      (n) => `"${randomString(n, TOKEN_CHARS, 10)}"`,
      (n) => `"${Math.floor(n() * 1e6)}:${randomString(n, TOKEN_CHARS, 10)}"`,
      (n) => randomString(n, TOKEN_CHARS + ':"', 16),
      (n) => 'x'.repeat(505 + Math.floor(n() * 12)),
      (n) => `${'9'.repeat(15 + Math.floor(n() * 10))}:${randomString(n, TOKEN_CHARS, 4)}`,
      (n) => (n() < 0.5 ? 'W/' : '') + randomString(n, NOISE, 4),
    ];
    for (let i = 0; i < 20_000; i++) {
      const shape = shapes[Math.floor(next() * shapes.length)] as (n: () => number) => string;
      const text = shape(next);
      const expected = referencePosition(text);
      const parsed = parsePosition(text);
      assert.deepEqual(parsed, expected === null ? { ok: false } : { ok: true, token: expected }, `case ${i}: ${JSON.stringify(text)}`);
      if (expected !== null) accepted += 1;
    }
    // Both sides of the line were exercised.
    assert.ok(accepted > 5000 && accepted < 15_000, `accepted ${accepted}`);
  });

  test('parsePosition on the named cases', () => {
    assert.deepEqual(parsePosition('abc'), { ok: true, token: 'abc' });
    assert.deepEqual(parsePosition('1764090000:42'), { ok: true, token: '42' });
    assert.deepEqual(parsePosition('"lz1-7"'), { ok: true, token: 'lz1-7' });
    assert.deepEqual(parsePosition('"0:lz1-7"'), { ok: true, token: 'lz1-7' });
    assert.deepEqual(parsePosition('x'.repeat(512)), { ok: true, token: 'x'.repeat(512) });
    for (const bad of ['', '*', 'W/"x"', 'x'.repeat(513), 'a b', '"', '""', '"abc', 'abc"', '1:', ':a', 'a:b', '1:2:3', '-1:a', '1.5:a', 'é']) {
      assert.deepEqual(parsePosition(bad), { ok: false }, JSON.stringify(bad));
    }
  });

  test('isValidName agrees with the protocol regex', () => {
    const next = prng(0xc0ffee);
    let accepted = 0;
    for (let i = 0; i < 20_000; i++) {
      const text = i % 50 === 0 ? ['.', '..', '...', '.a', 'a.'][i % 5] as string : randomString(next, NAME_CHARS, i % 7 === 0 ? 140 : 10);
      assert.equal(isValidName(text), referenceName(text), `case ${i}: ${JSON.stringify(text)}`);
      if (referenceName(text)) accepted += 1;
    }
    assert.ok(accepted > 3000 && accepted < 17_000, `accepted ${accepted}`);
    assert.equal(isValidName('x'.repeat(128)), true);
    assert.equal(isValidName('x'.repeat(129)), false);
  });

  test('parseChannelList: up to 16 valid names, duplicates folded', () => {
    assert.deepEqual(parseChannelList('a,b,a'), ['a', 'b']);
    assert.equal(parseChannelList(Array.from({ length: 16 }, (_, i) => `c${i}`).join(','))?.length, 16);
    assert.equal(parseChannelList(Array.from({ length: 17 }, (_, i) => `c${i}`).join(',')), null);
    for (const bad of ['', ',', 'a,', ',a', 'a,,b', 'a,b/c', 'a,..']) assert.equal(parseChannelList(bad), null, bad);
  });

  test('the server agrees with isValidName for random channel names over HTTP', T, async (t) => {
    const s = await serve(t, { holdTimeout: 0.2 });
    const next = prng(42);
    for (let i = 0; i < 120; i++) {
      const name = randomString(next, NAME_CHARS, i % 10 === 0 ? 135 : 8);
      const reply = await requestPath(s, `/pub/${encodeURIComponent(name)}`, { method: 'POST', body: 'x' });
      assert.equal(reply.status, isValidName(name) ? 202 : 400, `case ${i}: ${JSON.stringify(name)}`);
    }
  });
});
