/** subscribe(): checks its arguments, then runs the subscription on a connection of its own. */
import { type Connection, openConnection } from './connection';
import { resolve } from './options';
import { createSink } from './sink';
import type { Subscribe } from './types';

export const subscribe: Subscribe = (target, onMessage, options) => {
  const { settings, callbacks } = resolve(target, onMessage, options);
  const sink = createSink(callbacks, settings.position);
  let connection: Connection | null = null;
  connection = openConnection(settings, {
    received: (batch) => sink.receive(batch),
    status: (status, detail) => {
      if (status === 'stopped') sink.end(detail);
      else sink.setStatus(status, detail);
    },
  });
  // A callback may have stopped it while it opened.
  if (sink.stopped) connection.stop();
  return {
    stop() {
      connection?.stop();
      sink.end({ reason: 'stopped' });
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
  };
};
