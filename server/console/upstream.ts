// The Proxmox side of a console: `vncproxy` (qemu, websocket=1) or `termproxy` (LXC), then the
// `vncwebsocket` upgrade with the same credentials, then the first protocol steps labdeck takes
// itself so that nothing of Proxmox's reaches the browser: for VNC the RFB version and VNC
// authentication with vncproxy's password; for a terminal the `user:ticket` login line up to `OK`.
//
// Credentials: the cluster's API token, or the cluster's console user when one is configured
// (`console: {username, password}`), logged in with a password ticket. Proxmox before
// libpve-access-control 9.0.4 refuses a token's ticket at the termproxy login (go-proxmox #221).
import type { PveCalls } from '../pve/http.js';
import { WebSocket } from 'ws';
import * as v from 'valibot';
import type { ClusterConfig } from '../config.js';
import { PveHttp } from '../pve/http.js';
import { PveError } from '../pve/errors.js';
import { normaliseTicket } from '../pve/normalise.js';
import { ByteQueue } from './byte-queue.js';
import { vncResponse } from './vnc-auth.js';
import type { VmType } from '../../contract/vm.js';

export type ConsoleKind = 'vnc' | 'terminal';

/** An open, authenticated Proxmox console ready to be relayed. */
export interface Upstream {
  ws: WebSocket;
  kind: ConsoleKind;
  /** Holds what Proxmox sent beyond the steps labdeck took (for VNC: its SecurityResult and on). */
  queue: ByteQueue;
}

/** Hands Proxmox's bytes to `onData` from now on, those already buffered first. */
export function takeOver(u: Upstream, onData: (b: Buffer) => void): void {
  u.ws.removeAllListeners('message');
  const rest = u.queue.rest();
  u.ws.on('message', (d: Buffer) => onData(d));
  if (rest.length) onData(rest);
}

/** Why a console could not be opened, in words for the person who asked. */
export class UpstreamError extends Error {
  constructor(message: string, readonly status: 409 | 502 | 504 = 502) {
    super(message);
  }
}

const ProxyAnswer = v.object({
  user: v.pipe(v.string(), v.minLength(1)),
  ticket: v.pipe(v.string(), v.minLength(1), v.maxLength(512)),
  port: v.pipe(v.union([v.number(), v.pipe(v.string(), v.regex(/^\d+$/), v.transform(Number))]), v.integer(), v.minValue(1), v.maxValue(65535)),
  password: v.optional(v.string()),
});

interface Credentials {
  http: PveHttp;
  headers: Record<string, string>;
  via: 'token' | 'console user';
}

async function credentials(c: ClusterConfig, calls?: PveCalls): Promise<Credentials> {
  const base = { cluster: c.id, url: c.url, timeoutMs: c.timeoutMs, verifyTls: c.verifyTls, calls };
  if (!c.console) {
    return {
      http: new PveHttp({ ...base, auth: { kind: 'token', tokenId: c.tokenId, tokenSecret: c.tokenSecret } }),
      headers: { Authorization: `PVEAPIToken=${c.tokenId}=${c.tokenSecret}` }, via: 'token',
    };
  }
  const anon = new PveHttp({ ...base, auth: { kind: 'none' } });
  let ticket: ReturnType<typeof normaliseTicket>;
  try {
    ticket = normaliseTicket(await anon.doRequest('POST', '/api2/json/access/ticket', '', { username: c.console.username, password: c.console.password }));
  } catch (err) {
    if (err instanceof PveError && err.status === 401) throw new UpstreamError(`Proxmox refused the console user ${c.console.username} of cluster ${c.id} (check console.username and console.password)`);
    throw err;
  } finally {
    await anon.close();
  }
  return {
    http: new PveHttp({ ...base, auth: { kind: 'ticket', ticket: ticket.ticket, csrf: ticket.csrf } }),
    headers: { Cookie: `PVEAuthCookie=${encodeURIComponent(ticket.ticket)}` }, via: 'console user',
  };
}

/** Opens the WebSocket; resolves once it is open, with its reader attached before any byte arrives. */
function connect(url: string, headers: Record<string, string>, c: ClusterConfig): Promise<{ ws: WebSocket; queue: ByteQueue }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary'], { headers, rejectUnauthorized: c.verifyTls, handshakeTimeout: c.timeoutMs, perMessageDeflate: false });
    const queue = new ByteQueue();
    ws.on('message', (d: Buffer) => queue.push(d));
    ws.on('close', () => queue.end(new UpstreamError('Proxmox closed the console')));
    ws.on('unexpected-response', (_req, res) => {
      reject(new UpstreamError(`Proxmox refused the console connection: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
      res.resume();
      ws.terminate();
    });
    ws.once('error', (err) => reject(new UpstreamError(`cannot reach cluster ${c.id} for the console: ${err.message}`)));
    ws.once('open', () => resolve({ ws, queue }));
  });
}

/** Resolves or rejects within `ms`, whatever the promise does. */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => { timer = setTimeout(() => reject(new UpstreamError(`Proxmox did not answer the ${what} in time`, 504)), ms); }),
  ]);
}

/** RFB as a client up to the VNC authentication answer; Proxmox's verdict stays in the queue. */
async function vncLogin(queue: ByteQueue, ws: WebSocket, password: string): Promise<void> {
  const version = (await queue.read(12)).toString('latin1');
  if (!/^RFB 003\.00[78]\n$/.test(version)) throw new UpstreamError(`the guest's VNC server speaks ${JSON.stringify(version.trim())}, not RFB 3.8`);
  ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
  const count = (await queue.read(1))[0];
  if (count === 0) {
    const len = (await queue.read(4)).readUInt32BE(0);
    throw new UpstreamError(`the guest's VNC server refused: ${(await queue.read(len)).toString('latin1')}`);
  }
  const types = [...(await queue.read(count))];
  if (!types.includes(2)) throw new UpstreamError(`the guest's VNC server offers no VNC authentication (types ${types.join(', ')})`);
  ws.send(Buffer.from([2]));
  ws.send(vncResponse(password, await queue.read(16)));
}

/** termproxy's login: `user:ticket\n`, answered `OK`. */
async function termLogin(queue: ByteQueue, user: string, ticket: string, ws: WebSocket, via: Credentials['via'], cluster: string): Promise<void> {
  ws.send(Buffer.from(`${user}:${ticket}\n`, 'utf8'));
  try {
    const ok = (await queue.read(2)).toString('latin1');
    if (ok !== 'OK') throw new UpstreamError(`the container's terminal answered ${JSON.stringify(ok)} instead of OK`);
  } catch (err) {
    if (via === 'token') {
      throw new UpstreamError(`Proxmox refused the terminal login of API token ${user}; clusters before Proxmox VE 9.0.4 need a console user (console.username/password of cluster ${cluster})`);
    }
    throw err;
  }
}

/** Opens and authenticates the Proxmox side of a console for one guest. */
export async function openUpstream(c: ClusterConfig, guest: { node: string; type: VmType; vmid: number }, calls?: PveCalls): Promise<Upstream> {
  const creds = await credentials(c, calls);
  const path = `/api2/json/nodes/${encodeURIComponent(guest.node)}/${guest.type}/${guest.vmid}`;
  let answer: v.InferOutput<typeof ProxyAnswer>;
  try {
    const raw = guest.type === 'qemu'
      ? await creds.http.doRequest('POST', `${path}/vncproxy`, '', { websocket: 1 })
      : await creds.http.doRequest('POST', `${path}/termproxy`, '', {});
    const parsed = v.safeParse(ProxyAnswer, raw);
    if (!parsed.success) throw new UpstreamError(`unreadable answer to ${guest.type === 'qemu' ? 'vncproxy' : 'termproxy'}: ${parsed.issues[0].message}`);
    answer = parsed.output;
  } catch (err) {
    if (err instanceof PveError) throw new UpstreamError(`Proxmox refused the console: ${err.message}`);
    throw err;
  } finally {
    await creds.http.close();
  }
  const origin = new URL(c.url);
  const wsUrl = `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}${path}/vncwebsocket?port=${answer.port}&vncticket=${encodeURIComponent(answer.ticket)}`;
  const { ws, queue } = await connect(wsUrl, creds.headers, c);
  try {
    if (guest.type === 'qemu') {
      // Older releases use the ticket itself as the VNC password and send no `password`.
      await within(vncLogin(queue, ws, answer.password ?? answer.ticket), c.timeoutMs, 'VNC handshake');
    } else {
      await within(termLogin(queue, answer.user, answer.ticket, ws, creds.via, c.id), c.timeoutMs, 'terminal login');
    }
  } catch (err) {
    ws.terminate();
    if (err instanceof UpstreamError && /closed the console/.test(err.message)) {
      throw new UpstreamError(guest.type === 'qemu' ? 'the VM closed its console (is it running?)' : 'the container closed its console (is it running?)', 409);
    }
    throw err;
  }
  return { ws, kind: guest.type === 'qemu' ? 'vnc' : 'terminal', queue };
}
