/** subscribe(): checks its arguments, then shares a connection with other tabs or runs alone. */
import { runAlone } from './alone';
import type { Connection } from './connection';
import { resolve } from './options';
import { sharing, subscribeShared } from './shared';
import { createSink } from './sink';
import type { Subscribe } from './types';

export const subscribe: Subscribe = (target, onMessage, options) => {
  const { settings, callbacks, shared } = resolve(target, onMessage, options);
  const environment = shared ? sharing() : null;
  const together = environment !== null ? subscribeShared(settings, callbacks, environment) : null;
  if (together !== null) return together;
  const sink = createSink(callbacks, settings.position, 'alone');
  let connection: Connection | null = null;
  connection = runAlone(settings, sink);
  // A callback may have stopped it while it opened.
  if (sink.stopped) connection.stop();
  return {
    stop() {
      connection?.stop();
      sink.end({ reason: 'stopped', role: 'alone' });
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
    },
  };
};
