// Shared test helpers: start a simulator with fast settings and talk to it through the real
// proxmox-api client (HTTP, or HTTPS without certificate verification via an undici Agent).
import { proxmoxApi } from 'proxmox-api';
import { Agent, fetch as undiciFetch } from 'undici';
import { waitFor } from '../helpers/wait.js';
import { startSimulator, type SimCluster, type SimOptions, type Simulator } from '../../server/simulator/index.js';

/** Options for quick tests: no 401 delay, short tasks, short IP and agent delays, manual pvestatd. */
export const FAST: Omit<SimOptions, 'clusters'> = {
  unauthorizedDelayMs: 0,
  pvestatdIntervalMs: 60_000,
  ipDelayMs: 150,
  agentTimeoutMs: 0,
  taskDurationMs: { start: 60, stop: 40, shutdown: 60, reboot: 60, suspend: 30, resume: 30, reset: 30, clone: 120, linkedClone: 60, destroy: 60, rollback: 60, snapshot: 60, config: 20, migrate: 60 },
};

/** Starts a simulator with FAST settings plus overrides. */
export function startFast(overrides: Partial<SimOptions> & Pick<SimOptions, 'clusters'>): Promise<Simulator> {
  return startSimulator({ ...FAST, ...overrides });
}

const insecure = new Agent({ connect: { rejectUnauthorized: false } });

/** A fetch that skips certificate checks (the self-signed simulator) and can observe responses. */
export function testFetch(observe?: (method: string, url: string, status: number, body: string) => void) {
  return async (url: string | URL, init?: Parameters<typeof undiciFetch>[1]) => {
    const res = await undiciFetch(url, { ...init, dispatcher: insecure });
    if (!observe) return res;
    const text = await res.text();
    observe(init?.method ?? 'GET', String(url), res.status, text);
    return new Response(text, { status: res.status, statusText: res.statusText, headers: res.headers }) as unknown as typeof res;
  };
}

type ClientOptions = Parameters<typeof proxmoxApi>[0];

/** A proxmox-api client for the cluster, authenticated with its API token. */
export function tokenClient(c: SimCluster, extra: Partial<Record<string, unknown>> = {}) {
  return proxmoxApi({
    host: c.host, port: c.port, schema: c.protocol, tokenID: c.tokenId, tokenSecret: c.tokenSecret,
    fetch: testFetch() as never, ...extra,
  } as ClientOptions);
}

/** A proxmox-api client that logs in with a password (ticket + CSRF token). */
export function passwordClient(c: SimCluster, username: string, password: string) {
  return proxmoxApi({ host: c.host, port: c.port, schema: c.protocol, username, password, fetch: testFetch() as never } as ClientOptions);
}

/** Raw request to the simulated API (for wire details the client hides). */
export async function raw(c: SimCluster, method: string, path: string, opts: { headers?: Record<string, string>; body?: string; token?: boolean } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token !== false) headers.Authorization = `PVEAPIToken=${c.tokenId}=${c.tokenSecret}`;
  const res = await testFetch()(`${c.url}/api2/json${path}`, { method, headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, statusText: res.statusText, contentType: res.headers.get('content-type'), text, json: text ? (JSON.parse(text) as { data: unknown; message?: string; errors?: Record<string, string> }) : null };
}

/** Waits for a task to stop and returns its status. */
export async function waitTask(api: ReturnType<typeof tokenClient>, node: string, upid: string) {
  return waitFor(async () => {
    const s = (await api.nodes.$(node).tasks.$(upid).status.$get()) as { status: string; exitstatus?: string };
    return s.status === 'stopped' ? s : undefined;
  });
}
