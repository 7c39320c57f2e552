import { type Socket, connect } from 'node:net';
import { until } from './http';

export interface RawAnswer {
  statusLine: string;
  headers: Map<string, string>;
  body: Buffer;
  /** The answer exactly as it came off the socket, head and body. */
  bytes: Buffer;
}

/** A raw keep-alive connection that splits what it receives into answers by Content-Length. */
export class RawConnection {
  readonly socket: Socket;
  readonly answers: RawAnswer[] = [];
  ended = false;
  private pending = Buffer.alloc(0);
  /** Answers to HEAD requests have no body, whatever their Content-Length says. */
  private heads: boolean[] = [];

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.on('data', (chunk: Buffer) => {
      this.pending = Buffer.concat([this.pending, chunk]);
      this.split();
    });
    this.socket.on('end', () => {
      this.ended = true;
    });
  }

  send(text: string, head = false): void {
    this.heads.push(head);
    this.socket.write(text);
  }

  /** Bytes received that are not (yet) a whole answer. */
  get rest(): Buffer {
    return this.pending;
  }

  private split(): void {
    for (;;) {
      const end = this.pending.indexOf('\r\n\r\n');
      if (end < 0) return;
      const lines = this.pending.subarray(0, end).toString('latin1').split('\r\n');
      const headers = new Map<string, string>();
      for (const line of lines.slice(1)) {
        const colon = line.indexOf(':');
        headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
      }
      const length = this.heads[this.answers.length] === true ? 0 : Number(headers.get('content-length') ?? 0);
      if (this.pending.length < end + 4 + length) return;
      this.answers.push({
        statusLine: lines[0] as string,
        headers,
        body: Buffer.from(this.pending.subarray(end + 4, end + 4 + length)),
        bytes: Buffer.from(this.pending.subarray(0, end + 4 + length)),
      });
      this.pending = this.pending.subarray(end + 4 + length);
    }
  }

  async answer(index: number): Promise<RawAnswer> {
    await until(() => this.answers.length > index, 5000, `answer ${index + 1}`);
    return this.answers[index] as RawAnswer;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** An answer's bytes as text with its `Date` value blanked (it is the only line that moves with the clock). */
export function undated(bytes: Buffer): string {
  return bytes.toString('latin1').replace(/\r\nDate: [^\r\n]*\r\n/, '\r\nDate: -\r\n');
}
