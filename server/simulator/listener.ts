// The network side of one simulated cluster: a raw node:http(s) listener that parses requests,
// applies the switchable faults (latency, 500s, down, hang), delays 401s like pve-http-server,
// and counts what it served.
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApiResponse, PveApi } from './api.js';
import type { RawParams } from './schema/validate.js';

/** Run-time faults of one cluster (see SimFault in index.ts). */
export interface Fault {
  latencyMs?: number;
  jitterMs?: number;
  errorRate?: number;
  mode?: 'ok' | 'down' | 'hang';
  tokenRevoked?: boolean;
}

/** Request counters since start or the last reset. */
export interface ListenerStats {
  requests: number;
  byPath: Record<string, number>;
  bytesOut: number;
}

const BASE = '/api2/json';
const MAX_BODY = 64 * 1024;
const JSON_TYPE = 'application/json;charset=UTF-8';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Adds a parameter, turning repeated keys into arrays as Perl's CGI does. */
function addParam(params: RawParams, k: string, v: string): void {
  const old = params[k];
  params[k] = old === undefined ? v : Array.isArray(old) ? [...old, v] : [old, v];
}

/** Parses a request body (form-encoded, or JSON as newer clients send) into parameters. */
export function parseBody(contentType: string | undefined, body: string, into: RawParams): boolean {
  if (!body) return true;
  if (contentType?.startsWith('application/json')) {
    let obj: unknown;
    try {
      obj = JSON.parse(body);
    } catch {
      return false;
    }
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return false;
    for (const [k, v] of Object.entries(obj)) {
      const scalar = (x: unknown): string => (x === true ? '1' : x === false ? '0' : typeof x === 'object' ? JSON.stringify(x) : String(x));
      if (Array.isArray(v)) v.forEach((x) => addParam(into, k, scalar(x)));
      else if (v !== null) addParam(into, k, scalar(v));
    }
    return true;
  }
  for (const [k, v] of new URLSearchParams(body)) addParam(into, k, v);
  return true;
}

/** One cluster's listener. */
export class PveListener {
  readonly server: http.Server;
  port: number;
  private fault: Fault = {};
  private readonly hung = new Set<Socket>();
  private stats: ListenerStats = { requests: 0, byPath: {}, bytesOut: 0 };
  private listening = false;

  constructor(
    private readonly api: PveApi,
    readonly host: string,
    port: number,
    tls: { key: string; cert: string } | null,
    private readonly unauthorizedDelayMs: number,
  ) {
    this.port = port;
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.onRequest(req, res);
    this.server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, handler) : http.createServer(handler);
    this.server.keepAliveTimeout = 5000;
    this.server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void this.onUpgrade(req, socket, head));
  }

  /** Starts listening (port 0 picks a free port, kept for later reopenings). */
  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, this.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    this.port = (this.server.address() as { port: number }).port;
    this.listening = true;
  }

  private async stopListening(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeAllConnections();
    this.dropHung();
    await closed;
  }

  private dropHung(): void {
    for (const s of this.hung) s.destroy();
    this.hung.clear();
  }

  /** Replaces the fault set; resolves once it is in effect (listener closed or reopened on the same port). */
  async setFault(f: Fault): Promise<void> {
    const wasHang = this.fault.mode === 'hang';
    this.fault = { ...f };
    if (f.mode === 'down') await this.stopListening();
    else if (!this.listening) await this.start();
    if (wasHang && f.mode !== 'hang') this.dropHung();
  }

  /** A copy of the counters. */
  getStats(): ListenerStats {
    return { requests: this.stats.requests, byPath: { ...this.stats.byPath }, bytesOut: this.stats.bytesOut };
  }

  /** Starts counting from zero. */
  resetStats(): void {
    this.stats = { requests: 0, byPath: {}, bytesOut: 0 };
  }

  /** Stops for good. */
  async close(): Promise<void> {
    this.api.consoles.close();
    await this.stopListening();
  }

  private async onRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) || '/' : url.pathname;
    this.stats.requests++;
    this.stats.byPath[path] = (this.stats.byPath[path] ?? 0) + 1;
    const fault = this.fault;
    if (fault.mode === 'hang') {
      this.hung.add(req.socket);
      req.socket.once('close', () => this.hung.delete(req.socket));
      return;
    }
    let raw = '';
    let tooBig = false;
    req.setEncoding('utf8');
    for await (const chunk of req) {
      raw += chunk as string;
      if (raw.length > MAX_BODY) {
        tooBig = true;
        break;
      }
    }
    const delay = (fault.latencyMs ?? 0) + Math.random() * (fault.jitterMs ?? 0);
    if (delay > 0) await sleep(delay);
    let answer: ApiResponse;
    const params: RawParams = {};
    for (const [k, v] of url.searchParams) addParam(params, k, v);
    if (tooBig) answer = { status: 413, reason: 'Request Entity Too Large', body: null };
    else if (fault.errorRate && Math.random() < fault.errorRate) {
      answer = { status: 500, reason: 'ipcc_send_rec[1] failed: Connection refused', body: JSON.stringify({ data: null, message: 'ipcc_send_rec[1] failed: Connection refused\n' }) };
    } else if (!url.pathname.startsWith(BASE + '/') || !parseBody(req.headers['content-type'], raw, params)) {
      const ok = url.pathname.startsWith(BASE + '/');
      answer = ok
        ? { status: 400, reason: 'Parameter verification failed.', body: JSON.stringify({ data: null, message: 'Parameter verification failed.\n', errors: { body: 'unable to parse request body' } }) }
        : { status: 501, reason: `Unexpected content for method '${req.method}'`, body: null };
    } else {
      answer = await this.api.handle(req.method ?? 'GET', path, req.headers, params, fault.tokenRevoked ?? false);
    }
    if (answer.status === 401 && this.unauthorizedDelayMs > 0) await sleep(this.unauthorizedDelayMs);
    this.write(res, answer);
  }

  /**
   * A WebSocket upgrade, as pveproxy takes it: only for paths ending in `websocket`, after the
   * same checks as the GET (auth, parameters, privilege, the handler's ticket check); an error is
   * answered as plain HTTP, success hands the socket to the console hub.
   */
  private async onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', 'http://sim');
    const path = url.pathname.startsWith(BASE) ? url.pathname.slice(BASE.length) : '';
    const fault = this.fault;
    if (req.method !== 'GET' || !/websocket$/.test(path) || fault.mode === 'hang') {
      socket.destroy();
      return;
    }
    this.stats.requests++;
    this.stats.byPath[path] = (this.stats.byPath[path] ?? 0) + 1;
    const params: RawParams = {};
    for (const [k, v] of url.searchParams) addParam(params, k, v);
    const answer = await this.api.handle('GET', path, req.headers, params, fault.tokenRevoked ?? false);
    if (answer.status !== 200) {
      if (answer.status === 401 && this.unauthorizedDelayMs > 0) await sleep(this.unauthorizedDelayMs);
      const body = answer.body === null ? Buffer.alloc(0) : Buffer.from(answer.body);
      socket.end(`HTTP/1.1 ${answer.status} ${answer.reason}\r\nServer: pve-api-daemon/3.0\r\nContent-Length: ${body.length}\r\n`
        + `${body.length ? 'Content-Type: ' + JSON_TYPE + '\r\n' : ''}Connection: close\r\n\r\n${body.toString('utf8')}`);
      return;
    }
    const port = Number((JSON.parse(String(answer.body)) as { data: { port: string } }).data.port);
    this.api.consoles.upgrade(port, req, socket, head);
  }

  private write(res: http.ServerResponse, a: ApiResponse): void {
    if (res.destroyed) return;
    const body = a.body === null ? null : typeof a.body === 'string' ? Buffer.from(a.body, 'utf8') : a.body;
    res.statusCode = a.status;
    res.statusMessage = a.reason;
    res.setHeader('Server', 'pve-api-daemon/3.0');
    res.setHeader('Cache-Control', 'max-age=0');
    res.setHeader('Pragma', 'no-cache');
    res.setHeader('Expires', new Date().toUTCString());
    if (body) res.setHeader('Content-Type', JSON_TYPE);
    res.setHeader('Content-Length', body ? body.length : 0);
    // As pveproxy: "Connection: Keep-Alive" without a Keep-Alive timeout hint (it drops a connection
    // idle for 5 s, unannounced).
    res.setHeader('Connection', 'Keep-Alive');
    this.stats.bytesOut += body ? body.length : 0;
    res.end(body ?? undefined);
  }
}
