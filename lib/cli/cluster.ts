// The cluster runner: forks the workers of `--workers`, replaces any that dies, drains them on a signal.
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism, cpus } from 'node:os';
import { type ClusterPrimary, type ClusterPrimaryOptions, createClusterPrimary } from '../stores/cluster/primary';

/** `--workers 0` means one per core. */
export function workerCount(requested: number): number {
  if (requested > 0) return requested;
  const cores = typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
  return Math.max(1, cores);
}

export interface RunClusterOptions {
  /** Workers to keep running (already resolved: at least 1). */
  workers: number;
  /**
   * The sequencer's limits: the primary keeps every channel's buffer and workers use
   * `createClusterStore`. Leave out when the workers share a Redis instead.
   */
  sequencer?: ClusterPrimaryOptions;
  /** Seconds a worker has to drain after SIGTERM before it is killed. */
  shutdownTimeout: number;
  /** Where the primary's lines go. @defaultValue standard error */
  log?: (line: string) => void;
  /** Milliseconds before a dead worker is replaced. @defaultValue 100 */
  restartDelay?: number;
  /** Whether to stop on SIGTERM and SIGINT (the CLI's choice). @defaultValue true */
  handleSignals?: boolean;
}

export interface RunningCluster {
  /** The sequencer, when there is one. */
  readonly primary: ClusterPrimary | undefined;
  /** Process ids of the live workers. */
  pids(): number[];
  /** Tells every worker to drain (SIGTERM) and resolves once all have exited. */
  stop(): Promise<void>;
  /** Resolves with the exit status for the primary once every worker has exited after a stop. */
  readonly done: Promise<number>;
}

/**
 * Runs in the cluster's primary: forks the workers (which run the same program, and find
 * `cluster.isWorker` true), replaces any that dies, and on SIGTERM/SIGINT lets every worker
 * drain before it resolves `done`. One closure (longer than a function should be) over the
 * live workers and the stop state that fork, finish and stop share.
 */
export function runCluster(options: RunClusterOptions): RunningCluster {
  if (!cluster.isPrimary) throw new Error('runCluster runs in the primary process only');
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const restartDelay = options.restartDelay ?? 100;
  // Bodies cross IPC as bytes (structured clone), not as JSON arrays of numbers.
  cluster.setupPrimary({ serialization: 'advanced' });
  const primary = options.sequencer === undefined ? undefined : createClusterPrimary(options.sequencer);
  const live = new Set<Worker>();
  let stopping = false;
  let finished = false;
  let forceTimer: NodeJS.Timeout | undefined;
  /** The primary's exit status once all workers are gone. */
  let status = 0;
  /** Workers in a row that died before they listened: too many, and the primary gives up. */
  let failedStarts = 0;
  let resolveDone: (status: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => {
    resolveDone = resolve;
  });

  function fork(): void {
    const worker = cluster.fork();
    live.add(worker);
    primary?.attach(worker);
    let listened = false;
    worker.once('listening', () => {
      listened = true;
      failedStarts = 0;
    });
    worker.on('exit', (code, signal) => {
      live.delete(worker);
      primary?.detach(worker.id);
      if (stopping) {
        if (live.size === 0) void finish();
        return;
      }
      if (!listened) failedStarts += 1;
      if (failedStarts >= 3 * options.workers) {
        // Workers die as fast as they start (a port in use, a bad --redis): stop trying.
        log(`holdpush: workers keep exiting (last: ${signal ?? `status ${code}`}); giving up`);
        status = 1;
        void stop();
        return;
      }
      log(`holdpush: worker ${worker.process.pid ?? '?'} exited (${signal ?? `status ${code}`}); starting another`);
      setTimeout(() => {
        if (!stopping) fork();
      }, restartDelay);
    });
  }

  async function finish(): Promise<void> {
    if (finished) return;
    finished = true;
    if (forceTimer !== undefined) clearTimeout(forceTimer);
    await primary?.close();
    removeSignals();
    resolveDone(status);
  }

  function stop(): Promise<void> {
    if (!stopping) {
      stopping = true;
      for (const worker of live) worker.process.kill('SIGTERM');
      forceTimer = setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, options.shutdownTimeout * 1000 + 1000);
      forceTimer.unref();
      if (live.size === 0) void finish();
    }
    return done.then(() => undefined);
  }

  function primaryOnSignal(signal: NodeJS.Signals): void {
    if (!stopping) log(`holdpush: ${signal}, stopping ${live.size} workers`);
    void stop();
  }
  function removeSignals(): void {
    process.removeListener('SIGTERM', primaryOnSignal);
    process.removeListener('SIGINT', primaryOnSignal);
  }
  if (options.handleSignals !== false) {
    process.on('SIGTERM', primaryOnSignal);
    process.on('SIGINT', primaryOnSignal);
  }

  for (let i = 0; i < options.workers; i++) fork();

  return {
    primary,
    pids: () => [...live].map((worker) => worker.process.pid ?? 0),
    stop,
    done,
  };
}
