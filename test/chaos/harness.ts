// The chaos suite's tools beside the labdeck child process (test/helpers/labdeck-child.ts): a
// simulator with fast tasks, JSON requests with the admin cookie, and a socket.io client that
// keeps every event.
import { randomUUID } from 'node:crypto';
import { io as connectSocket, type Socket } from 'socket.io-client';
import { startSimulator, type SimOptions, type Simulator } from '../../server/simulator/index.js';

/** A simulator with fast tasks and no lag, for one or more clusters. */
export function chaosSimulator(clusters: Array<{ id: string; nodes?: number; guests?: number; seed?: number }>, o: Partial<Omit<SimOptions, 'clusters'>> = {}): Promise<Simulator> {
  return startSimulator({
    clusters: clusters.map((c) => ({ id: c.id, nodes: c.nodes ?? 1, guests: c.guests ?? 40, seed: c.seed ?? 11, tokenSecret: randomUUID() })),
    pvestatdIntervalMs: 0, unauthorizedDelayMs: 0, ipDelayMs: 0, agentTimeoutMs: 50, activity: false,
    taskDurationMs: { start: 300, stop: 300, shutdown: 300, reboot: 300 },
    ...o,
  });
}

/** GET/POST with the admin cookie; JSON in and out. */
export async function api<T = any>(url: string, cookie: string, method = 'GET', body?: unknown): Promise<{ status: number; body: T; ms: number }> {
  const t0 = performance.now();
  const r = await fetch(url, {
    method, headers: { cookie, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let parsed: any = text;
  try { parsed = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.status, body: parsed as T, ms: performance.now() - t0 };
}

/** A socket.io client with the admin cookie; every event it gets is kept in order. */
export function adminSocket(url: string, cookie: string): { socket: Socket; events: Array<{ event: string; at: number; msg: any }>; close(): void } {
  const events: Array<{ event: string; at: number; msg: any }> = [];
  const socket = connectSocket(url, { path: '/socket.io', transports: ['websocket'], extraHeaders: { cookie, origin: url }, reconnection: true, reconnectionDelay: 200, reconnectionDelayMax: 500 });
  socket.onAny((event: string, msg: unknown) => events.push({ event, at: Date.now(), msg }));
  return { socket, events, close: () => socket.close() };
}
