import assert from 'node:assert/strict';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { StatusReport } from '../status/report.js';
import type { ApiClient } from './client.js';
import { assertMatchesContract } from './contract.js';

/** The METRICS_TOKEN the status tests start their servers with. */
export const METRICS_TOKEN = 'metrics-token-0123456789';

/**
 * statusAfter polls GET /api/v1/status until its latest interval ended after `time` (the server
 * samples every 2 s); the server counts a request when its response closes, a moment after the
 * client has it, hence the margin.
 */
export async function statusAfter(api: ApiClient, token: string, time: number, marginMs = 100): Promise<StatusReport> {
  for (let i = 0; i < 100; i++) {
    const response = await api.get<StatusReport>('/api/v1/status', { token });
    assert.equal(response.status, 200, response.text);
    if (response.body.sampledAt !== null && Date.parse(response.body.sampledAt) > time + marginMs) return response.body;
    await sleep(200);
  }
  throw new Error('no status sampled after the traffic');
}

/** scrapeMetrics returns the /metrics text of a server started with METRICS_TOKEN. */
export async function scrapeMetrics(url: string): Promise<string> {
  const response = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  assert.equal(response.status, 200);
  return response.text();
}

/**
 * oneConnection sends every request over one keep-alive connection, so that under PM2 (which
 * spreads connections, not requests) they all reach the same instance. Responses are checked
 * against openapi.yaml, as ApiClient's are.
 */
export function oneConnection(baseUrl: string) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string, token: string) =>
    new Promise<{ status: number; headers: IncomingHttpHeaders; text: string; body: any }>((resolve, reject) => {
      const req = request(new URL(path, baseUrl), { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          const type = res.headers['content-type'] ?? null;
          const body: unknown = /json/.test(type ?? '') ? JSON.parse(text) : text;
          assertMatchesContract('GET', new URL(path, baseUrl).pathname, res.statusCode ?? 0, type, body);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        });
      });
      req.on('error', reject).end();
    });
  return { get, close: () => agent.destroy() };
}
