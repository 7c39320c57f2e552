#!/usr/bin/env node
// The holdpush command: reads the flags, then runs one server or a cluster of them.
import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { runCluster, workerCount } from './cluster';
import { createClusterStore } from '../stores/cluster/worker';
import { type CliConfig, ConfigError, cliDefaults, helpText, parseCli, versionText } from './flags';
import { resolveOptions } from '../options';
import type { StoreFactory } from '../holdpush';
import { createHoldpushServer } from '../http/http-server';
import { loadRedis } from '../stores/redis/client';
import { createRedisStore } from '../stores/redis/store';

function fail(message: string): never {
  process.stderr.write(`holdpush: ${message}\n`);
  process.exit(2);
}

/** An option's TypeError in the words of the command line: `webhookUrl` is `--webhook-url`. */
function asFlags(message: string): string {
  return message.replace(/\b[a-z]+(?:[A-Z][a-z]*)+\b/g, (name) => (name in cliDefaults ? `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}` : name));
}

function readConfig(): CliConfig {
  try {
    const request = parseCli(process.argv.slice(2), process.env);
    if (request.print !== undefined) {
      process.stdout.write(request.print === 'help' ? helpText() : versionText());
      process.exit(0);
    }
    return request.config;
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

/** Where messages live: Redis when asked, else the primary's sequencer in a cluster worker. */
function storeFactory(config: CliConfig): StoreFactory | undefined {
  const url = config.redis;
  if (url !== undefined) return (context) => createRedisStore({ url, ...context });
  if (cluster.isWorker) return (context) => createClusterStore({ isHeld: context.isHeld, buffer: context.buffer, messageTtl: context.messageTtl, bufferBudget: context.maxBufferBytes });
  return undefined;
}

function start(config: CliConfig): void {
  const { port, host, workers: _workers, redis: _redis, ...options } = config;
  let running: ReturnType<typeof createHoldpushServer>;
  try {
    running = createHoldpushServer({ ...options, store: storeFactory(config) });
  } catch (error) {
    if (error instanceof TypeError) fail(asFlags(error.message));
    throw error;
  }
  const { server, holdpush } = running;
  server.on('error', (error: NodeJS.ErrnoException) => {
    process.stderr.write(`holdpush: cannot listen on ${host}:${port}: ${error.code ?? error.message}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    const address = server.address() as AddressInfo;
    const shown = address.family === 'IPv6' || address.family === (6 as unknown as string) ? `[${address.address}]` : address.address;
    process.stdout.write(`holdpush listening on http://${shown}:${address.port}\n`);
  });

  let stopping = false;
  function shutdown(signal: NodeJS.Signals): void {
    if (stopping) return;
    stopping = true;
    if (options.log !== 'off') process.stdout.write(`holdpush: ${signal}, shutting down\n`);
    const force = setTimeout(() => {
      server.closeAllConnections();
      process.exit(0);
    }, options.shutdownTimeout * 1000);
    force.unref();
    server.close(() => process.exit(0));
    holdpush.close().then(
      () => server.closeIdleConnections(),
      () => server.closeAllConnections(),
    );
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

function main(config: CliConfig): void {
  if (config.redis !== undefined) {
    if (!/^rediss?:\/\//.test(config.redis)) fail('--redis must be a redis:// or rediss:// URL');
    try {
      loadRedis();
    } catch (error) {
      fail((error as Error).message);
    }
  }
  const { port: _port, host: _host, workers: _workers, redis: _redis, ...options } = config;
  try {
    // Checked before any worker starts, so that a bad value is one line and status 2, not a worker dying.
    resolveOptions(options);
  } catch (error) {
    if (error instanceof TypeError) fail(asFlags(error.message));
    throw error;
  }
  const workers = workerCount(config.workers);
  if (workers > 1 && cluster.isPrimary) {
    if (config.log !== 'off') process.stdout.write(`holdpush: primary ${process.pid} starting ${workers} workers\n`);
    const running = runCluster({
      workers,
      // With --redis the workers share Redis; otherwise the primary keeps the one sequence.
      // The primary decides occupancy for its workers (with --redis, the servers elect one).
      sequencer:
        config.redis === undefined
          ? { buffer: config.buffer, messageTtl: config.messageTtl, maxChannels: config.maxChannels, maxBufferBytes: config.maxBufferBytes, occupancy: config.webhookUrl === undefined ? undefined : config }
          : undefined,
      shutdownTimeout: config.shutdownTimeout,
    });
    void running.done.then((status) => process.exit(status));
    return;
  }
  start(config);
}

main(readConfig());
