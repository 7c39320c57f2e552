/** A worker's calls to the cluster's primary still waiting for their answers, each with a deadline. */
import { StoreUnavailableError, unavailable } from '../store';
import type { Call, PrimaryMessage, WorkerMessage } from './protocol';

interface Pending {
  settle(value: unknown): void;
  reject(error: Error): void;
  readonly timer: NodeJS.Timeout;
}

export type Answer = Extract<PrimaryMessage, { hp: 'res' }>;

export class Calls {
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;

  /** `post` sends a message to the primary (false when it cannot); `timeout` bounds every call. */
  constructor(
    private readonly post: (message: WorkerMessage) => boolean,
    private readonly timeout: number,
  ) {}

  /** Sends a call; resolves with its answer once `check` accepts that, else rejects. */
  call<T>(request: Call, check: (value: unknown) => value is T): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(unavailable('the cluster primary', `did not answer within ${this.timeout} ms`));
      }, this.timeout);
      const settle = (value: unknown): void => {
        if (check(value)) resolve(value);
        else reject(new Error(`the cluster primary's answer to ${request.op} is malformed`));
      };
      this.pending.set(id, { settle, reject, timer });
      if (!this.post({ hp: 'req', id, ...request })) {
        clearTimeout(timer);
        this.pending.delete(id);
        reject(unavailable('the cluster primary', 'cannot be reached'));
      }
    });
  }

  /** The primary's answer to a call (ignored when the call timed out meanwhile). */
  answer(message: Answer): void {
    const waiting = this.pending.get(message.id);
    if (waiting === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.ok) {
      waiting.settle(message.value);
      return;
    }
    const { code, message: text } = message.error;
    if (code === 'too_many_channels' || code === 'store_unavailable') waiting.reject(new StoreUnavailableError(code, text));
    else waiting.reject(new Error(text));
  }

  /** Fails every call still waiting (the primary went away, or the store closed). */
  failAll(): void {
    for (const [id, waiting] of this.pending) {
      clearTimeout(waiting.timer);
      this.pending.delete(id);
      waiting.reject(unavailable('the cluster primary', 'went away'));
    }
  }
}
