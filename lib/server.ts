#!/usr/bin/env node
import type { AddressInfo } from 'node:net';
import { type CliConfig, ConfigError, helpText, parseCli } from './config';
import { createHoldpushServer } from './http-server';

function fail(message: string): never {
  process.stderr.write(`holdpush: ${message}\n`);
  process.exit(2);
}

function readConfig(): CliConfig {
  try {
    const request = parseCli(process.argv.slice(2), process.env);
    if (request.help) {
      process.stdout.write(helpText());
      process.exit(0);
    }
    return request.config;
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}

function start(config: CliConfig): void {
  const { port, host, workers: _workers, redis: _redis, ...options } = config;
  let running: ReturnType<typeof createHoldpushServer>;
  try {
    running = createHoldpushServer(options);
  } catch (error) {
    if (error instanceof TypeError) fail(error.message);
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

start(readConfig());
