import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { multipart, request } from './support/http';
import { held, startServer, suiteServer } from './support/servers';

describe('the original demo: GET /?uid= and POST /send', () => {
  const server = suiteServer({ holdTimeout: 0.3 });

  test('a held uid gets a multipart form post, with its headers', async () => {
    const waiting = request(`${server.url}/?uid=1252473`);
    await held(server, 1);
    const form = multipart({ message: 'hello from the form' });
    const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': form.type }, body: form.body });
    assert.equal(sent.status, 200);
    const result = sent.json() as { id: string; delivered: number };
    assert.equal(result.delivered, 1);
    assert.match(result.id, /^\d+:[0-9A-Za-z._~-]+$/);
    const got = await waiting;
    assert.equal(got.status, 200);
    assert.equal(got.text, 'hello from the form');
    assert.equal(got.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(got.headers.etag, result.id.slice(result.id.indexOf(':') + 1));
    assert.equal(got.headers['cache-control'], 'no-store');
    assert.ok(got.headers['last-modified']);
    assert.equal(server.holdpush.stats().held.total, 0);
  });

  for (const [name, type, body] of [
    ['urlencoded', 'application/x-www-form-urlencoded', 'message=caf%C3%A9+ok'],
    ['JSON', 'application/json', JSON.stringify({ message: 'café ok' })],
    ['text/plain', 'text/plain; charset=utf-8', 'café ok'],
  ] as const) {
    test(`POST /send with a ${name} body`, async () => {
      const waiting = request(`${server.url}/?uid=u-${name.length}`);
      await held(server, 1);
      const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': type }, body });
      assert.equal(sent.status, 200, sent.text);
      assert.equal((await waiting).text, name === 'urlencoded' ? 'café ok' : 'café ok');
    });
  }

  test('targeting one uid reaches its tabs only; several tabs all get it', async () => {
    const tab1 = request(`${server.url}/?uid=alice`);
    const tab2 = request(`${server.url}/?uid=alice`);
    const other = request(`${server.url}/?uid=bob`, { headers: {} });
    await held(server, 3);
    const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ message: 'for alice', uid: 'alice' }) });
    assert.deepEqual({ delivered: (sent.json() as { delivered: number }).delivered }, { delivered: 2 });
    assert.equal((await tab1).text, 'for alice');
    assert.equal((await tab2).text, 'for alice');
    assert.equal(server.holdpush.stats().held.total, 1);
    const timedOut = await other;
    assert.equal(timedOut.status, 204);
    assert.ok(timedOut.headers.etag, 'a 204 still tells the client where it stands');
  });

  test('a tab that re-polls with its position misses nothing published in between', async () => {
    const first = request(`${server.url}/?uid=carol`);
    await held(server, 1);
    await server.holdpush.publish('uid:carol', 'one');
    const one = await first;
    await server.holdpush.publish('uid:carol', 'two');
    await server.holdpush.publish('uid:*', 'three (to everyone)');
    const positions: Record<string, string>[] = [
      { 'If-None-Match': one.headers.etag as string },
      { 'Last-Event-ID': `123:${one.headers.etag as string}` },
    ];
    for (const headers of positions) {
      const two = await request(`${server.url}/?uid=carol`, { headers });
      assert.equal(two.text, 'two');
      const three = await request(`${server.url}/?uid=carol`, { headers: { 'If-None-Match': two.headers.etag as string } });
      assert.equal(three.text, 'three (to everyone)');
    }
    const byQuery = await request(`${server.url}/?uid=carol&last_event_id=${encodeURIComponent(one.headers.etag as string)}`);
    assert.equal(byQuery.text, 'two');
    const byEtag = await request(`${server.url}/?uid=carol`, { headers: { Etag: one.headers.etag as string } });
    assert.equal(byEtag.text, 'two');
  });

  test('without a position a uid waits for the next message, as the original did', async () => {
    await server.holdpush.publish('uid:dave', 'old news');
    const waiting = request(`${server.url}/?uid=dave`);
    await held(server, 1);
    await server.holdpush.publish('uid:dave', 'fresh');
    assert.equal((await waiting).text, 'fresh');
  });

  test('a position the store never issued is a gap, not a hang: the oldest held message comes', async () => {
    const fresh = await startServer();
    try {
      await fresh.holdpush.publish('uid:erin', 'still held');
      await fresh.holdpush.publish('uid:erin', 'and the next');
      const got = await request(`${fresh.url}/?uid=erin`, { headers: { 'If-None-Match': 'from-before-a-restart-42' } });
      assert.equal(got.status, 200);
      assert.equal(got.headers['x-holdpush-gap'], '1');
      assert.equal(got.text, 'still held');
      const next = await request(`${fresh.url}/?uid=erin`, { headers: { 'If-None-Match': got.headers.etag as string } });
      assert.equal(next.text, 'and the next');
      assert.equal(next.headers['x-holdpush-gap'], undefined);
    } finally {
      await fresh.close();
    }
  });

  test('a browser tab gets a page that reloads itself with its position at the timeout', async () => {
    const got = await request(`${server.url}/?uid=frank&x=1`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    assert.equal(got.status, 200);
    assert.match(String(got.headers['content-type']), /^text\/html/);
    const match = /content="0;url=([^"]+)"/.exec(got.text);
    assert.ok(match, got.text);
    const url = (match[1] as string).replace(/&#38;/g, '&');
    assert.match(url, /^\/\?uid=frank&x=1&last_event_id=[0-9A-Za-z._~-]+$/);
    const reloaded = request(`${server.url}${url}`, { headers: { Accept: 'text/html' } });
    await held(server, 1);
    await server.holdpush.publish('uid:frank', 'waited long enough');
    assert.equal((await reloaded).text, 'waited long enough');
  });

  test('a browser form post is sent back to /send with the result', async () => {
    const form = multipart({ message: 'from a browser', uid: 'gina' });
    const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': form.type, Accept: 'text/html,application/xhtml+xml' }, body: form.body });
    assert.equal(sent.status, 303);
    assert.match(String(sent.headers.location), /^\/send\?sent=\d+%3A[^&]+&delivered=0&uid=gina$/);
  });

  test('a refused browser form post is sent back to /send with the error shown there', async () => {
    const form = multipart({ message: '', uid: 'gina' });
    const sent = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': form.type, Accept: 'text/html' }, body: form.body });
    assert.equal(sent.status, 303);
    const location = new URL(String(sent.headers.location), server.url);
    assert.equal(location.pathname, '/send');
    assert.equal(location.searchParams.get('error'), 'missing_message');
    assert.match(String(location.searchParams.get('message')), /missing or empty/);
    assert.equal(location.searchParams.get('uid'), 'gina');
  });

  test('bad input gets a precise status and a JSON error', async () => {
    const cases: [string, Parameters<typeof request>[1], number, string][] = [
      ['/?uid=a%20b', {}, 400, 'bad_uid'],
      ['/?uid=x', { headers: { 'If-None-Match': 'W/"x"' } }, 400, 'bad_position'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"message": ""}' }, 400, 'missing_message'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"uid": "x"}' }, 400, 'missing_message'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{not json' }, 400, 'bad_body'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'multipart/form-data; boundary=zz' }, body: 'garbage' }, 400, 'bad_body'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'application/xml' }, body: '<m/>' }, 415, 'unsupported_media_type'],
      ['/send', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"message": "x", "uid": "no/slash"}' }, 400, 'bad_uid'],
      ['/send', { method: 'DELETE' }, 405, 'method_not_allowed'],
      ['/nope', {}, 404, 'not_found'],
    ];
    for (const [path, options, status, code] of cases) {
      const got = await request(`${server.url}${path}`, options);
      assert.equal(got.status, status, `${path} ${got.text}`);
      assert.match(String(got.headers['content-type']), /^application\/json/);
      assert.equal((got.json() as { error: string }).error, code, path);
    }
    const wrongMethod = await request(`${server.url}/send`, { method: 'DELETE' });
    assert.equal(wrongMethod.headers.allow, 'GET, POST, OPTIONS');
  });

  test('broken multipart bodies get 400, never a crash or a hang (Node 18\'s parser does both)', async () => {
    const part = '--zz\r\nContent-Disposition: form-data; name="message"; filename="a.txt"\r\n';
    for (const body of [`${part}Content-Type: text/plain\r\n\r\nhello`, `${part}\r\n--zz--\r\n`, '--zz\r\nBroken\r\n\r\nx\r\n--zz--\r\n', 'no framing at all']) {
      const got = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': 'multipart/form-data; boundary=zz' }, body });
      assert.equal(got.status, 400, JSON.stringify(body));
      assert.ok(['bad_body', 'missing_message'].includes((got.json() as { error: string }).error), got.text);
    }
    const file = await request(`${server.url}/send`, { method: 'POST', headers: { 'Content-Type': 'multipart/form-data; boundary="zz"' }, body: `${part}\r\nsent as a file\r\n--zz--\r\n` });
    assert.equal(file.status, 200, 'a message field sent as a file part still reads');
    assert.equal((await request(`${server.url}/healthz`)).status, 200);
  });

  test('a message over --max-message gets 413', async () => {
    const small = await startServer({ maxMessage: 10 });
    try {
      const got = await request(`${small.url}/send`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x'.repeat(11) });
      assert.equal(got.status, 413);
      assert.equal((got.json() as { error: string }).error, 'payload_too_large');
      const huge = await request(`${small.url}/send`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: 'x'.repeat(40000) });
      assert.equal(huge.status, 413);
    } finally {
      await small.close();
    }
  });

  test('the pages are served with their types; nothing outside public/ is reachable', async () => {
    const index = await request(`${server.url}/`);
    assert.equal(index.status, 200);
    assert.match(String(index.headers['content-type']), /^text\/html/);
    assert.equal(index.headers['cache-control'], 'no-cache');
    const again = await request(`${server.url}/`, { headers: { 'If-None-Match': index.headers.etag as string } });
    assert.equal(again.status, 304);
    const send = await request(`${server.url}/send`);
    assert.match(send.text, /<form[^>]+enctype="multipart\/form-data"/);
    const client = await request(`${server.url}/holdpush.js`);
    assert.match(String(client.headers['content-type']), /^text\/javascript/);
    for (const path of ['/../package.json', '/%2e%2e/package.json', '/..%2fpackage.json', '/.gitignore', '/%E0%A4%A']) {
      const got = await request(`${server.url}${path}`);
      assert.ok(got.status === 404 || got.status === 400, `${path} -> ${got.status}`);
    }
  });
});

describe('leaving and shutdown', () => {
  test('a client that goes away while held is forgotten at once', async () => {
    const server = await startServer();
    try {
      const controller = new AbortController();
      const waiting = request(`${server.url}/?uid=leaver`, { signal: controller.signal });
      await held(server, 1);
      controller.abort();
      await assert.rejects(waiting);
      await held(server, 0);
      assert.equal((await server.holdpush.publish('uid:leaver', 'nobody home')).delivered, 0);
    } finally {
      await server.close();
    }
  });

  test('close() answers every held request 503 with Retry-After: 1, and is idempotent', async () => {
    const server = await startServer();
    const waiting = [request(`${server.url}/?uid=a`), request(`${server.url}/sub/c`), request(`${server.url}/sub/c`, { headers: { Accept: 'application/json' } })];
    await held(server, 3);
    const closing = server.holdpush.close();
    assert.equal(server.holdpush.close(), closing);
    for (const reply of await Promise.all(waiting)) {
      assert.equal(reply.status, 503);
      assert.equal(reply.headers['retry-after'], '1');
    }
    assert.equal(server.holdpush.stats().held.total, 0);
    await server.close();
  });
});
