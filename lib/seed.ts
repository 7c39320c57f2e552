// The seed face (docs/protocol.md, "The demo face"): `GET /?uid=`, and the page that reloads itself.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Core } from './core';
import { echo } from './errors';
import { accepts } from './http/accept';
import type { Query } from './http/router';
import { EVERY_UID, isValidName, uidChannel } from './names';
import { admitSubscriber, startSubscription } from './subscribe';

/** `GET /?uid=<uid>`: the uid's messages and those sent to every uid (no uid: the page). */
export function handleSeed(core: Core, req: IncomingMessage, res: ServerResponse, query: Query, page: () => void): void {
  const uid = query.get('uid');
  if (uid === null || uid === '') {
    page();
    return;
  }
  if (!isValidName(uid)) {
    core.error(res, 400, 'bad_uid', `not a uid: ${echo(uid)} (1-128 of A-Z a-z 0-9 _ - . @ ~)`);
    return;
  }
  const channels = [uidChannel(uid), EVERY_UID];
  let reloadUrl: string | undefined;
  if (accepts(req, 'text/html')) {
    const again = new URLSearchParams(query.toString());
    again.delete('last_event_id');
    reloadUrl = `${core.options.prefix}/?${again.toString()}`;
  }
  admitSubscriber(core, req, res, [channels[0] as string], query, () => startSubscription(core, req, res, channels, 'seed', query, true, reloadUrl));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A browser tab's answer at the timeout: a page that asks again from `position` at once. */
export function reloadPage(reloadUrl: string, position: string): string {
  const url = `${reloadUrl}${reloadUrl.includes('?') ? '&' : '?'}last_event_id=${encodeURIComponent(position)}`;
  return `<!doctype html><html lang="en"><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=${escapeHtml(url)}"><title>Waiting for a message</title><p>Waiting for a message&hellip;</p></html>`;
}
