/**
 * Property tests of the parsers that stand at the edge: names, channel
 * lists, positions and publish-allow rules, each against an independent reference written
 * from docs/protocol.md, over thousands of seeded random inputs. Replay with FUZZ_SEED=<seed>.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createAddressSet, parseAddressRule } from '../lib/http/address';
import { createMemoryStore } from '../lib/stores/memory/store';
import { isValidName, parseChannelList, parsePosition } from '../lib/names';
import { requestPath } from './support/http';
import { serve } from './support/servers';
import { NAME_CHARS, NASTY_CHARS, type Rng, TOKEN_CHARS, createRng, runSeed } from './support/rng';

const SEED = runSeed();
const ROUNDS = Number(process.env.PROPERTY_ROUNDS ?? 20_000);

/** Runs `check` on `rounds` inputs; the first disagreement fails with the seed and the input. */
function property<T>(name: string, rounds: number, generate: (r: Rng) => T, check: (input: T) => string | undefined): void {
  const r = createRng(SEED ^ hash(name));
  for (let i = 0; i < rounds; i++) {
    const input = generate(r);
    const wrong = check(input);
    if (wrong !== undefined) assert.fail(`${name}, seed ${SEED} (replay with FUZZ_SEED=${SEED}), round ${i}, input ${JSON.stringify(input, (_key, value: unknown) => (typeof value === 'bigint' ? `0x${value.toString(16)}` : value))}: ${wrong}`);
  }
}

function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

// ---- references, written from docs/protocol.md without the implementation's regexes ----

const NAME_SET = new Set(NAME_CHARS);
const TOKEN_SET = new Set(TOKEN_CHARS);

/** "1-128 characters of A-Z a-z 0-9 _ - . @ ~ ... not `.` or `..`". */
function referenceName(name: string): boolean {
  if (name.length < 1 || name.length > 128 || name === '.' || name === '..') return false;
  for (const c of name) if (!NAME_SET.has(c)) return false;
  return true;
}

/** "up to 16 channels at once": comma-separated valid names; duplicates count once. */
function referenceList(text: string): string[] | null {
  const names = text.split(',');
  if (names.length > 16) return null;
  const out: string[] = [];
  for (const name of names) {
    if (!referenceName(name)) return null;
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

function isDigits(text: string, max: number): boolean {
  if (text.length < 1 || text.length > max) return false;
  for (const c of text) if (c < '0' || c > '9') return false;
  return true;
}

/**
 * `<digits>:<T>` or a bare `T`, optionally in double quotes; T is 1-512 of `0-9 A-Z a-z . _ ~ -`.
 * The implementation bounds the time part at 20 digits (Unix seconds need 10): so does this.
 */
function referencePosition(text: string): string | null {
  let value = text.trim();
  if (value.length >= 2 && value[0] === '"' && value[value.length - 1] === '"') value = value.slice(1, -1);
  const parts = value.split(':');
  if (parts.length > 2) return null;
  if (parts.length === 2 && !isDigits(parts[0] as string, 20)) return null;
  const token = parts[parts.length - 1] as string;
  if (token.length < 1 || token.length > 512) return null;
  for (const c of token) if (!TOKEN_SET.has(c)) return null;
  return token;
}

function referenceIpv4(text: string): number | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  let value = 0;
  for (const part of parts) {
    if (!isDigits(part, 3) || (part.length > 1 && part[0] === '0')) return null;
    const n = Number(part);
    if (n > 255) return null;
    value = value * 256 + n;
  }
  return value;
}

const HEX = new Set('0123456789abcdefABCDEF');

function hexGroup(text: string): number | null {
  if (text.length < 1 || text.length > 4) return null;
  for (const c of text) if (!HEX.has(c)) return null;
  return Number.parseInt(text, 16);
}

/** RFC 4291 text form: 8 groups, one `::` for one or more zero groups, a dotted IPv4 tail. */
function referenceIpv6(text: string): bigint | null {
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (lastColon < 0) return null;
  const tail = body.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = referenceIpv4(tail);
    if (v4 === null) return null;
    body = `${body.slice(0, lastColon + 1)}${Math.floor(v4 / 65536).toString(16)}:${(v4 % 65536).toString(16)}`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return null;
  const groups = (half: string): number[] | null => {
    if (half === '') return [];
    const out: number[] = [];
    for (const piece of half.split(':')) {
      const n = hexGroup(piece);
      if (n === null) return null;
      out.push(n);
    }
    return out;
  };
  const left = groups(halves[0] as string);
  const right = halves.length === 2 ? groups(halves[1] as string) : [];
  if (left === null || right === null) return null;
  let all: number[];
  if (halves.length === 2) {
    if (left.length + right.length > 7) return null;
    all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    if (left.length !== 8) return null;
    all = left;
  }
  return all.reduce((sum, group) => (sum << 16n) | BigInt(group), 0n);
}

interface ReferenceRule {
  family: 'ipv4' | 'ipv6';
  prefix: number;
  address: string;
  /** The network in the IPv6 space (IPv4 as ::ffff:a.b.c.d), and its prefix there. */
  value: bigint;
  bits: number;
}

function referenceRule(text: string): ReferenceRule | null {
  const pieces = text.split('/');
  if (pieces.length > 2) return null;
  const address = pieces[0] as string;
  const v4 = referenceIpv4(address);
  const v6 = v4 === null ? referenceIpv6(address) : null;
  if (v4 === null && v6 === null) return null;
  const max = v4 !== null ? 32 : 128;
  let prefix = max;
  if (pieces.length === 2) {
    if (!isDigits(pieces[1] as string, 3)) return null;
    prefix = Number(pieces[1]);
    if (prefix > max) return null;
  }
  const value = v4 !== null ? (0xffffn << 32n) | BigInt(v4) : (v6 as bigint);
  return { family: v4 !== null ? 'ipv4' : 'ipv6', prefix, address, value, bits: v4 !== null ? prefix + 96 : prefix };
}

function contains(rule: ReferenceRule, address: bigint): boolean {
  const shift = BigInt(128 - rule.bits);
  return address >> shift === rule.value >> shift;
}

// ---- generators ----

function nameLike(r: Rng): string {
  switch (r.int(0, 9)) {
    case 0:
      return r.pick(['', '.', '..', '...', '.a', 'a.', '~', '@', '-', '_', 'uid:x']);
    case 1:
      return r.string(NAME_CHARS, r.pick([127, 128, 129, 130, 200]));
    case 2:
      return r.string(NAME_CHARS + NASTY_CHARS, r.int(1, 20));
    case 3: {
      const base = r.string(NAME_CHARS, r.int(1, 30));
      const at = r.int(0, base.length);
      return base.slice(0, at) + r.pick([...NASTY_CHARS, '\u212a', '\uff21', '\u0130', '\u00df', 'A\u030a', '\ud800']) + base.slice(at);
    }
    case 4:
      return r.string('.', r.int(1, 4));
    default:
      return r.string(NAME_CHARS, r.int(1, 40));
  }
}

function positionLike(r: Rng): string {
  const token = r.chance(0.1) ? r.string(TOKEN_CHARS, r.pick([511, 512, 513])) : r.string(TOKEN_CHARS, r.int(1, 30));
  const digits = r.string('0123456789', r.pick([1, 10, 19, 20, 21, 30, r.int(1, 12)]));
  const core = r.pick([token, `${digits}:${token}`, `${digits}:`, `:${token}`, `${digits}:${token}:${token}`, `${digits}`, `${r.string('0123456789\u0660\u06f0\uff10', 4)}:${token}`]);
  switch (r.int(0, 9)) {
    case 0:
      return `"${core}"`;
    case 1:
      return `${r.pick([' ', '\t', '\u00a0', '\ufeff', '\n'])}${core}${r.pick(['', ' ', '\t'])}`;
    case 2:
      return r.pick(['"', '""', '"a', 'a"', `W/"${token}"`, '*', `"${core}`, `${core}"`, `'${core}'`]);
    case 3: {
      const at = r.int(0, core.length);
      return core.slice(0, at) + r.pick([...NASTY_CHARS]) + core.slice(at);
    }
    case 4:
      return r.string(TOKEN_CHARS + NASTY_CHARS + '0123456789', r.int(0, 40));
    default:
      return core;
  }
}

function formatIpv4(value: number): string {
  const octets = [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return octets.map((o) => String(o)).join('.');
}

/** An IPv6 text for 128 bits, in one of its many valid spellings (and case). */
function formatIpv6(r: Rng, value: bigint, dottedTail = false): string {
  const groups: number[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  const pad = r.chance(0.2);
  let parts = groups.map((g) => (pad ? g.toString(16).padStart(r.int(1, 4), '0') : g.toString(16)));
  if (r.chance(0.3)) parts = parts.map((p) => p.toUpperCase());
  let tail = '';
  if (dottedTail) {
    const v4 = Number(value & 0xffffffffn);
    parts = parts.slice(0, 6);
    tail = formatIpv4(v4);
  }
  // Compress one run of zero groups, when there is one.
  const zeros: [number, number][] = [];
  for (let i = 0; i < parts.length; i++) {
    if (Number.parseInt(parts[i] as string, 16) !== 0) continue;
    let j = i;
    while (j < parts.length && Number.parseInt(parts[j] as string, 16) === 0) j++;
    zeros.push([i, j]);
    i = j;
  }
  let text: string;
  if (zeros.length > 0 && r.chance(0.8)) {
    const [from, to] = r.pick(zeros);
    text = `${parts.slice(0, from).join(':')}::${parts.slice(to).join(':')}`;
    if (tail !== '') text = text.endsWith(':') ? `${text}${tail}` : `${text}:${tail}`;
  } else {
    text = parts.join(':') + (tail === '' ? '' : `:${tail}`);
  }
  return text;
}

function randomIpv6(r: Rng): bigint {
  let value = 0n;
  for (let i = 0; i < 8; i++) value = (value << 16n) | BigInt(r.chance(0.4) ? 0 : r.chance(0.5) ? r.int(0, 15) : r.int(0, 0xffff));
  return value;
}

function ruleLike(r: Rng): string {
  let address: string;
  switch (r.int(0, 11)) {
    case 0: case 1: case 2:
      address = formatIpv4(r.int(0, 0xffffffff));
      break;
    case 3: {
      const parts = [r.int(0, 999), r.int(0, 300), r.int(0, 255), r.int(0, 255)].map((n) => (r.chance(0.2) ? `0${n}` : String(n)));
      address = r.chance(0.2) ? parts.slice(0, r.int(1, 3)).join('.') : r.chance(0.1) ? `${parts.join('.')}.1` : parts.join('.');
      break;
    }
    case 4: case 5: case 6:
      address = formatIpv6(r, randomIpv6(r));
      break;
    case 7:
      address = formatIpv6(r, r.chance(0.5) ? (0xffffn << 32n) | BigInt(r.int(0, 0xffffffff)) : randomIpv6(r), true);
      break;
    case 8: {
      const good = formatIpv6(r, randomIpv6(r));
      address = r.pick([
        `${good}:1`,
        `${good}::`,
        good.replace('::', ':::'),
        `${good.replace('::', ':')}`,
        `1::2::3`,
        `${r.string('0123456789abcdefg', 5)}::1`,
        `:${good}`,
        `${good}.1`,
        ` ${good}`,
        `[${good}]`,
      ]);
      break;
    }
    case 9:
      address = r.pick(['localhost', '', '::', '::1', '0.0.0.0', '255.255.255.255', '127.0.0.1', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.04', '::ffff:127.0.0.1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8::', '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3.4', '1.2.3.4::']);
      break;
    default:
      address = r.string('0123456789abcdefABCDEF:./ g', r.int(0, 24));
      break;
  }
  const prefix = r.int(0, 9);
  if (prefix < 4) return address;
  if (prefix < 8) return `${address}/${r.pick([String(r.int(0, 32)), String(r.int(0, 128)), String(r.int(129, 999)), '0', '32', '33', '128', '129'])}`;
  return `${address}/${r.pick(['', '08', '008', '0008', '-1', 'a', ' 8', '8 ', '1/2', '+8', '1e1', '\uff18'])}`;
}

describe(`parser properties (seed ${SEED}; replay with FUZZ_SEED=${SEED})`, () => {
  test('isValidName agrees with docs/protocol.md on every generated name', () => {
    property('isValidName', ROUNDS, nameLike, (name) => {
      const got = isValidName(name);
      return got === referenceName(name) ? undefined : `isValidName said ${got}`;
    });
  });

  test('the named cases: 128-character names, 16-channel lists, positions of every shape', () => {
    assert.equal(isValidName('x'.repeat(128)), true);
    assert.equal(isValidName('x'.repeat(129)), false);
    const list = (count: number, name = (i: number) => `c${i}`) => Array.from({ length: count }, (_, i) => name(i)).join(',');
    assert.deepEqual(parseChannelList('a,b,a'), ['a', 'b']);
    assert.equal(parseChannelList(list(16))?.length, 16);
    assert.equal(parseChannelList(list(17)), null, 'a subscription spans at most 16 channels (docs/protocol.md)');
    assert.equal(parseChannelList(list(17, () => 'a')), null, 'a name given 17 times is still 17 names');
    for (const bad of ['', ',', 'a,', ',a', 'a,,b', 'a,b/c', 'a,..']) assert.equal(parseChannelList(bad), null, bad);
    assert.deepEqual(parsePosition('abc'), { ok: true, token: 'abc' });
    assert.deepEqual(parsePosition('1764090000:42'), { ok: true, token: '42' });
    assert.deepEqual(parsePosition('"lz1-7"'), { ok: true, token: 'lz1-7' });
    assert.deepEqual(parsePosition('"0:lz1-7"'), { ok: true, token: 'lz1-7' });
    assert.deepEqual(parsePosition('x'.repeat(512)), { ok: true, token: 'x'.repeat(512) });
    for (const bad of ['', '*', 'W/"x"', 'x'.repeat(513), 'a b', '"', '""', '"abc', 'abc"', '1:', ':a', 'a:b', '1:2:3', '-1:a', '1.5:a', 'é']) {
      assert.deepEqual(parsePosition(bad), { ok: false }, JSON.stringify(bad));
    }
  });

  test('parseChannelList agrees with the reference and keeps its own promises', () => {
    property(
      'parseChannelList',
      ROUNDS / 2,
      (r) => {
        const count = r.pick([0, 1, 2, 3, 15, 16, 17, 20, r.int(1, 30)]);
        const names: string[] = [];
        for (let i = 0; i < count; i++) names.push(r.chance(0.85) ? (r.chance(0.5) ? r.pick(['a', 'b', 'news', 'x.y']) : r.string(NAME_CHARS, r.int(1, 12))) : nameLike(r));
        let text = names.join(',');
        if (r.chance(0.05)) text = r.pick([`,${text}`, `${text},`, text.replace(',', ',,')]);
        return text;
      },
      (text) => {
        const got = parseChannelList(text);
        const want = referenceList(text);
        if (JSON.stringify(got) !== JSON.stringify(want)) return `got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`;
        if (got === null) return undefined;
        if (got.length < 1 || got.length > 16) return `${got.length} channels`;
        if (!got.every(isValidName)) return 'an invalid name came through';
        if (new Set(got).size !== got.length) return 'a duplicate came through';
        if (JSON.stringify(parseChannelList(got.join(','))) !== JSON.stringify(got)) return 'not stable when parsed again';
        return undefined;
      },
    );
  });

  test('parsePosition agrees with the reference: message ids, bare and quoted tokens, nothing else', () => {
    property('parsePosition', ROUNDS, positionLike, (text) => {
      const got = parsePosition(text);
      const want = referencePosition(text);
      if (want === null) return got.ok ? `accepted ${JSON.stringify(got.token)}` : undefined;
      if (!got.ok) return `refused; the reference reads ${JSON.stringify(want)}`;
      return got.token === want ? undefined : `read ${JSON.stringify(got.token)}, want ${JSON.stringify(want)}`;
    });
  });

  test('every message id and token the memory store issues reads back as its token, in every place it may be quoted', async () => {
    const store = createMemoryStore({ buffer: 10, messageTtl: 60, maxChannels: 10, isHeld: () => false });
    try {
      const r = createRng(SEED);
      for (let i = 0; i < 500; i++) {
        const message = await store.append(r.pick(['a', 'b', 'c']), { data: Buffer.from('x'), contentType: 'text/plain' });
        for (const text of [message.id, message.token, `"${message.token}"`, `"${message.id}"`, ` ${message.id} `]) {
          const parsed = parsePosition(text);
          assert.ok(parsed.ok && parsed.token === message.token, `seed ${SEED}: ${text} did not read back as ${message.token}`);
        }
      }
    } finally {
      await store.close();
    }
  });

  test('parseAddressRule agrees with an RFC 4291 / dotted-quad reference', () => {
    property('parseAddressRule', ROUNDS, ruleLike, (text) => {
      const got = parseAddressRule(text);
      const want = referenceRule(text);
      if (want === null) return got === null ? undefined : `accepted as ${JSON.stringify(got)}`;
      if (got === null) return `refused; the reference reads ${want.family}/${want.prefix}`;
      if (got.family !== want.family || got.prefix !== want.prefix || got.address !== want.address) return `read ${JSON.stringify(got)}, want ${want.family} ${want.address}/${want.prefix}`;
      return undefined;
    });
  });

  test('an allow-list of one rule holds exactly the addresses inside it (IPv4-mapped included)', () => {
    property(
      'createAddressSet',
      ROUNDS / 4,
      (r) => {
        const v4 = r.chance(0.5);
        const network = v4 ? (0xffffn << 32n) | BigInt(r.int(0, 0xffffffff)) : randomIpv6(r);
        const prefix = v4 ? r.int(0, 32) : r.int(0, 128);
        const bits = v4 ? prefix + 96 : prefix;
        // An address near the network: same prefix with random low bits, or one bit flipped inside it.
        let address = network;
        for (let bit = 0; bit < 128 - bits; bit++) if (r.chance(0.5)) address ^= 1n << BigInt(bit);
        if (r.chance(0.4) && bits > 0) address ^= 1n << BigInt(128 - r.int(1, bits));
        const rule = v4 ? `${formatIpv4(Number(network & 0xffffffffn))}/${prefix}` : `${formatIpv6(r, network)}/${prefix}`;
        const mapped = address >> 32n === 0xffffn;
        const shown = mapped && r.chance(0.7) ? (r.chance(0.5) ? formatIpv4(Number(address & 0xffffffffn)) : `::ffff:${formatIpv4(Number(address & 0xffffffffn))}`) : formatIpv6(r, address);
        return { rule, address: shown, value: address };
      },
      ({ rule, address, value }) => {
        const reference = referenceRule(rule);
        if (reference === null) return 'the generator made a bad rule';
        const got = createAddressSet([rule])(address);
        const want = contains(reference, value);
        return got === want ? undefined : `said ${got}, want ${want}`;
      },
    );
  });

  test('the server agrees with isValidName on channel names over HTTP', { timeout: 10_000 }, async (t) => {
    const s = await serve(t);
    const r = createRng(SEED ^ hash('over HTTP'));
    for (let i = 0; i < 120; i++) {
      const name = nameLike(r);
      let path: string;
      try {
        path = `/pub/${encodeURIComponent(name)}`;
      } catch {
        continue; // a lone surrogate has no URL form
      }
      const reply = await requestPath(s, path, { method: 'POST', body: 'x' });
      assert.equal(reply.status, isValidName(name) ? 202 : 400, `seed ${SEED} (replay with FUZZ_SEED=${SEED}), round ${i}: ${JSON.stringify(name)}`);
    }
  });
});
