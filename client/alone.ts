/** A subscription on a connection of its own. */
import { type Connection, openConnection } from './connection';
import type { Settings } from './options';
import type { Sink } from './sink';

/** Opens the connection that feeds `sink`; its statuses say `alone`, its own end stops the sink. */
export function runAlone(settings: Settings, sink: Sink): Connection {
  return openConnection(settings, {
    received: (batch) => sink.receive(batch),
    status: (status, detail) => {
      if (status === 'stopped') sink.end({ ...detail, role: 'alone' });
      else sink.setStatus(status, { ...detail, role: 'alone' });
    },
  });
}
