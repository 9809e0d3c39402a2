// The HTTP layer under proxmox-api: its typed path builder calls `doRequest` here. Written on
// undici because the library's own engine fights us: its errors carry no status field, it has no
// TLS option, its timeout does not cover reading the body (a stalled body silently yields null),
// and it re-sends on network errors, POSTs included. Here: one dispatcher per cluster (so
// verifyTls:false touches only that cluster), a timeout over the whole call, typed PveErrors,
// and a non-GET is sent exactly once. Idle connections are dropped before pveproxy drops them
// (it closes a connection idle for 5 s, without saying so in a Keep-Alive header), and a write
// always opens its own connection: so a write that fails to connect provably never left, and is
// tried once more, while one that left is never repeated.
import type { Dispatcher } from 'undici';
import { Agent, request } from './undici.js';
import type { ApiRequestable } from 'proxmox-api';
import { PveError } from './errors.js';
import { LatencyWindow } from './latency.js';
import { OneConnection, type BodyScratch, type ConnectionError } from './one-connection.js';

export type PveAuth =
  | { kind: 'token'; tokenId: string; tokenSecret: string }
  | { kind: 'ticket'; ticket: string; csrf: string }
  | { kind: 'none' };

export interface PveHttpOptions {
  cluster: string;
  /** Base URL like https://pve1:8006 (path, if any, is ignored). */
  url: string;
  auth: PveAuth;
  timeoutMs: number;
  verifyTls: boolean;
  /** Shared with another PveHttp of the same cluster (e.g. a ticket session), so it reuses sockets. */
  dispatcher?: Dispatcher;
  /** The writes' dispatcher to share with it (no keep-alive). */
  writeDispatcher?: Dispatcher;
  /**
   * The reads (GETs) go one at a time over one keep-alive connection of their own, spoken directly
   * on the socket (one-connection.ts): for the live signals' small, frequent reads. Other methods
   * stay on undici.
   */
  oneConnection?: boolean;
  latency?: LatencyWindow;
  /** Told of every finished call (the metrics); none by default. */
  calls?: PveCalls;
}

const USER_AGENT = 'labdeck';

/** Below pveproxy's idle timeout (5 s): we close a quiet connection before it can close it under a request. */
export const KEEP_ALIVE_MS = 2_500;

/** Errors raised before a connection existed: a write that meets one was never sent. */
const NOT_CONNECTED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/** One finished call to Proxmox, as observers (the metrics) see it. */
export interface PveCallRecord { cluster: string; method: string; path: string; ms: number; status: number; error: string | null }

/**
 * Listeners of the Proxmox calls of one labdeck (the metrics): the composition root makes one and
 * hands it to every client it builds, so two labdecks in one process (tests) count apart.
 */
export class PveCalls {
  private readonly listeners = new Set<(call: PveCallRecord) => void>();

  /** Adds a listener; returns the function that removes it. */
  on(fn: (call: PveCallRecord) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  notify(cluster: string, method: string, url: URL, started: number, status: number, error: string | null): void {
    if (this.listeners.size === 0) return;
    const call = { cluster, method, path: url.pathname, ms: performance.now() - started, status, error };
    for (const fn of this.listeners) fn(call);
  }
}

/** Proxmox error text: reason phrase first, then the body's message or per-field errors. */
function reasonOf(statusText: string, body: string): string {
  let reason = statusText.trim();
  try {
    const parsed = JSON.parse(body) as { message?: unknown; errors?: unknown };
    if (typeof parsed.message === 'string' && parsed.message.trim() && !reason) reason = parsed.message.trim();
    if (parsed.errors && typeof parsed.errors === 'object') {
      const fields = Object.entries(parsed.errors as Record<string, unknown>).map(([k, m]) => `${k}: ${String(m).trim()}`);
      if (fields.length) reason = `${reason || 'error'} (${fields.join('; ')})`;
    }
  } catch {
    if (!reason && body.trim()) reason = body.trim().slice(0, 200);
  }
  return reason || 'error';
}

/** One cluster's HTTP access, pluggable into proxmoxApi(engine). */
export class PveHttp implements ApiRequestable {
  readonly cluster: string;
  readonly dispatcher: Dispatcher;
  readonly writeDispatcher: Dispatcher;
  readonly latency: LatencyWindow;
  requests = 0;
  private readonly origin: string;
  private readonly ownsDispatcher: boolean;
  private readonly ownsWriteDispatcher: boolean;
  private readonly inFlightWrites = new Set<string>();
  private readonly reader: OneConnection | null = null;

  constructor(private readonly opts: PveHttpOptions) {
    this.cluster = opts.cluster;
    this.origin = new URL(opts.url).origin;
    this.ownsDispatcher = !opts.dispatcher;
    this.ownsWriteDispatcher = !opts.writeDispatcher && !opts.dispatcher;
    this.dispatcher = opts.dispatcher ?? new Agent({
      connect: { rejectUnauthorized: opts.verifyTls },
      keepAliveTimeout: KEEP_ALIVE_MS,
    });
    // pipelining 0: no keep-alive, every write on a connection of its own.
    this.writeDispatcher = opts.writeDispatcher ?? opts.dispatcher ?? new Agent({
      connect: { rejectUnauthorized: opts.verifyTls },
      pipelining: 0,
    });
    this.latency = opts.latency ?? new LatencyWindow();
    if (opts.oneConnection) {
      const lines = Object.entries(this.headers('GET')).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      this.reader = new OneConnection({ url: new URL(opts.url), verifyTls: opts.verifyTls, headerLines: lines, keepAliveMs: KEEP_ALIVE_MS });
    }
  }

  private headers(method: string): Record<string, string> {
    const h: Record<string, string> = { Accept: 'application/json', 'User-Agent': USER_AGENT };
    const a = this.opts.auth;
    if (a.kind === 'token') h.Authorization = `PVEAPIToken=${a.tokenId}=${a.tokenSecret}`;
    if (a.kind === 'ticket') {
      h.Cookie = `PVEAuthCookie=${a.ticket}`;
      if (method !== 'GET') h.CSRFPreventionToken = a.csrf;
    }
    return h;
  }

  /** Sends one request and returns the `data` of the answer; throws PveError. */
  async doRequest(httpMethod: string, path: string, _template: string, params?: Record<string, unknown>): Promise<unknown> {
    return this.parse(await this.request(httpMethod, path, params));
  }

  /**
   * A GET whose answer comes back as the raw body bytes (status and content type checked), for a
   * caller that compares answers byte for byte before it pays for parsing them.
   */
  async getRaw(path: string, params?: Record<string, unknown>, scratch?: BodyScratch): Promise<Buffer> {
    return this.request('GET', path, params, scratch);
  }

  /** The `data` of a JSON answer body; throws PveError when it is not JSON. */
  parse(body: Buffer): unknown {
    try {
      return (JSON.parse(body.toString('utf8')) as { data?: unknown }).data ?? null;
    } catch {
      throw new PveError(this.cluster, 200, 'answer is not valid JSON', 'invalid-response');
    }
  }

  private async request(httpMethod: string, path: string, params?: Record<string, unknown>, scratch?: BodyScratch): Promise<Buffer> {
    const method = httpMethod.toUpperCase();
    const url = new URL(path, this.origin);
    const form = new URLSearchParams();
    for (const [k, val] of Object.entries(params ?? {})) {
      if (val === undefined || val === null) continue;
      const vals = Array.isArray(val) ? val : [val];
      for (const x of vals) {
        const s = x === true ? '1' : x === false ? '0' : String(x);
        if (method === 'GET' || method === 'DELETE') url.searchParams.append(k, s);
        else form.append(k, s);
      }
    }
    const headers = this.headers(method);
    const body = method === 'POST' || method === 'PUT' ? form.toString() : undefined;
    if (body !== undefined) headers['Content-Type'] = 'application/x-www-form-urlencoded';

    if (method === 'GET') {
      try {
        return await this.send(method, url, headers, body, this.dispatcher, scratch);
      } catch (err) {
        // A reused keep-alive socket may have been closed under us: one fresh try, but never after a timeout.
        if (err instanceof PveError && err.kind === 'network') return this.send(method, url, headers, body, this.dispatcher, scratch);
        throw err;
      }
    }
    // Writes go out exactly once, and an identical write still in flight is refused, not repeated.
    const key = `${method} ${url.pathname}${url.search} ${body ?? ''}`;
    if (this.inFlightWrites.has(key)) throw new PveError(this.cluster, 0, 'the same request is already in flight; not sent again', 'refused');
    this.inFlightWrites.add(key);
    try {
      try {
        return await this.send(method, url, headers, body, this.writeDispatcher);
      } catch (err) {
        // It never reached Proxmox (no connection could be made): one more try cannot do it twice.
        if (err instanceof PveError && err.kind === 'network' && err.notConnected) return await this.send(method, url, headers, body, this.writeDispatcher);
        throw err;
      }
    } finally {
      this.inFlightWrites.delete(key);
    }
  }

  private async send(method: string, url: URL, headers: Record<string, string>, body: string | undefined, dispatcher = this.dispatcher, scratch?: BodyScratch): Promise<Buffer> {
    if (method === 'GET' && this.reader) return this.sendOnReader(this.reader, url, scratch);
    const started = performance.now();
    // Not AbortSignal.timeout(): its timer lives the whole timeout (10 s) after a call that took
    // milliseconds, so every call's signal and timer outlived the young generation and became
    // old-space garbage (labdeck makes a couple of calls a second per cluster). Cleared at the end.
    const abort = new AbortController();
    const signal = abort.signal;
    const timer = setTimeout(() => abort.abort(), this.opts.timeoutMs);
    timer.unref();
    this.requests++;
    let status: number;
    let statusText: string;
    let contentType: string;
    let bytes: Buffer;
    try {
      // undici's request, not its fetch: the same dispatcher and errors, without WHATWG streams,
      // which cost well over a millisecond of CPU per call (labdeck makes ~150 a minute per cluster).
      const res = await request(url, { method: method as Dispatcher.HttpMethod, headers, body, signal, dispatcher });
      status = res.statusCode;
      statusText = res.statusText ?? '';
      const ct = res.headers['content-type'];
      contentType = (Array.isArray(ct) ? ct[0] : ct) ?? '';
      // Bytes, not text: an unchanged big answer is then compared without being decoded.
      bytes = scratch ? await scratch.fill(res.body) : Buffer.from(await res.body.arrayBuffer());
    } catch (err) {
      const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
      const code = e.code && e.code !== 'UND_ERR_ABORTED' ? e.code : e.cause?.code;
      throw this.unanswered(method, url, started, signal.aborted, code, code ?? e.cause?.message ?? e.message);
    } finally {
      clearTimeout(timer);
    }
    return this.answered(method, url, started, status, statusText, contentType, bytes);
  }

  /** A GET over the connection of its own (see oneConnection). */
  private async sendOnReader(reader: OneConnection, url: URL, scratch?: BodyScratch): Promise<Buffer> {
    const started = performance.now();
    this.requests++;
    let answer;
    try {
      answer = await reader.get(url.search ? `${url.pathname}${url.search}` : url.pathname, this.opts.timeoutMs, scratch);
    } catch (err) {
      const e = err as ConnectionError;
      // A socket error by its code (ECONNREFUSED), an answer that is not HTTP by what is wrong with it.
      throw this.unanswered('GET', url, started, e.timedOut, e.code, /^E[A-Z]+$/.test(e.code) ? e.code : e.message);
    }
    return this.answered('GET', url, started, answer.status, answer.statusText, answer.contentType, answer.body);
  }

  /** Records a call that got no answer (timed out, or `why` it could not be made) and returns its PveError. */
  private unanswered(method: string, url: URL, started: number, timedOut: boolean, code: string | undefined, why: string): PveError {
    this.latency.add(performance.now() - started);
    this.opts.calls?.notify(this.cluster, method, url, started, 0, timedOut ? 'timeout' : 'network');
    if (timedOut) return new PveError(this.cluster, 0, `no answer within ${this.opts.timeoutMs} ms (${method} ${url.pathname})`, 'timeout');
    const pe = new PveError(this.cluster, 0, `cannot reach ${url.host}: ${why}`, 'network');
    pe.notConnected = NOT_CONNECTED.has(code ?? '');
    return pe;
  }

  /** Records a call that got an answer and returns its body; throws PveError for anything but a 200 with JSON. */
  private answered(method: string, url: URL, started: number, status: number, statusText: string, contentType: string, bytes: Buffer): Buffer {
    this.latency.add(performance.now() - started);
    this.opts.calls?.notify(this.cluster, method, url, started, status, status === 200 ? null : `http_${status}`);
    if (status !== 200) throw new PveError(this.cluster, status, reasonOf(statusText, bytes.toString('utf8')), 'http');
    if (!contentType.startsWith('application/json')) {
      throw new PveError(this.cluster, status, `unexpected content type "${contentType}"`, 'invalid-response');
    }
    return bytes;
  }

  /** Closes the sockets now, aborting calls still waiting (only of the dispatchers this instance made). */
  async close(): Promise<void> {
    this.reader?.close();
    await Promise.all([
      this.ownsDispatcher ? this.dispatcher.destroy().catch(() => undefined) : undefined,
      this.ownsWriteDispatcher ? this.writeDispatcher.destroy().catch(() => undefined) : undefined,
    ]);
  }
}
