import type { StoreKind } from './stores/store';

/** The figures of `/stats` (docs/protocol.md, "Operations"). */
export interface Stats {
  uptime: number;
  held: { longpoll: number; stream: number; total: number };
  channels: number;
  messages: { published: number; delivered: number; expired: number; evicted: number };
  bufferBytes: number;
  /** Bytes written to this process's subscribers but not yet taken by them. */
  pendingBytes: number;
  /** Subscriber connections this process cut: past --max-pending-bytes, or a stream past its own bound. */
  cut: { pendingBudget: number; slowReader: number };
  store: StoreKind;
}

function metric(lines: string[], name: string, type: 'counter' | 'gauge', help: string, samples: [string, number][]): void {
  lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
}

/** The same figures in the Prometheus text exposition format. */
export function prometheus(stats: Stats): string {
  const lines: string[] = [];
  metric(lines, 'holdpush_uptime_seconds', 'gauge', 'Seconds since the server started.', [['', stats.uptime]]);
  metric(lines, 'holdpush_held', 'gauge', 'Held subscriber connections by kind.', [
    ['{kind="longpoll"}', stats.held.longpoll],
    ['{kind="stream"}', stats.held.stream],
  ]);
  metric(lines, 'holdpush_channels', 'gauge', 'Channels alive.', [['', stats.channels]]);
  metric(lines, 'holdpush_messages_published_total', 'counter', 'Messages published.', [['', stats.messages.published]]);
  metric(lines, 'holdpush_messages_delivered_total', 'counter', 'Messages written to held subscribers.', [['', stats.messages.delivered]]);
  metric(lines, 'holdpush_messages_expired_total', 'counter', 'Messages dropped at the end of their TTL.', [['', stats.messages.expired]]);
  metric(lines, 'holdpush_messages_evicted_total', 'counter', 'Messages dropped because a channel buffer or the whole buffer budget was full.', [['', stats.messages.evicted]]);
  metric(lines, 'holdpush_buffer_bytes', 'gauge', 'Bytes of message bodies held in buffers.', [['', stats.bufferBytes]]);
  metric(lines, 'holdpush_pending_bytes', 'gauge', 'Bytes written to subscribers but not yet taken by them.', [['', stats.pendingBytes]]);
  metric(lines, 'holdpush_cut_total', 'counter', 'Subscriber connections cut: the most behind when all passed --max-pending-bytes, or a stream past its own bound.', [
    ['{reason="pending_budget"}', stats.cut.pendingBudget],
    ['{reason="slow_reader"}', stats.cut.slowReader],
  ]);
  return `${lines.join('\n')}\n`;
}
