/**
 * The HTTP probe opens a new TCP connection per attempt: a local server counts the
 * connections it accepts (ground truth), whatever the probe believes.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { httpProbe } from '../../../runners/probes/http.js';

let server: http.Server;
let connections = 0;
let url = '';
beforeEach(async () => {
  connections = 0;
  // keepAliveTimeout long: a client that wanted to reuse the connection could.
  server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => res.writeHead(req.url === '/down' ? 503 : 200).end('ok'));
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const env = () => ({ signal: AbortSignal.timeout(2_000), timeoutMs: 2_000, baseDir: '.', addSecret: () => undefined });

it('opens one TCP connection per attempt (5 probes, 5 connections)', async () => {
  for (let i = 0; i < 5; i++) await httpProbe.check({ url: `${url}/healthz`, status: 200 }, env());
  expect(connections).toBe(5);
});

it('rejects another status with the status it got', async () => {
  await expect(httpProbe.check({ url: `${url}/down`, status: 200 }, env())).rejects.toThrow('HTTP 503 (expected 200)');
});

it('rejects when the attempt is cut by its signal', async () => {
  const hang = http.createServer(() => undefined);
  await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
  try {
    const started = Date.now();
    await expect(httpProbe.check({ url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`, status: 200 }, { ...env(), signal: AbortSignal.timeout(200) })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(1_500);
  } finally {
    hang.closeAllConnections();
    await new Promise<void>((resolve) => hang.close(() => resolve()));
  }
});
