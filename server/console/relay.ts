// The console relay: takes the WebSocket upgrade of `/api/console/socket?token=…` on labdeck's own
// HTTP server (next to socket.io), checks the one-time token, the session cookie of the same
// user, the Origin and the permission again, opens the Proxmox side (upstream.ts) and passes
// bytes both ways. It closes a console when its user signs out or loses access, when the VM
// stops, and records each console session in the audit log (who, which VM, from when to when).
import type { PveCalls } from '../pve/http.js';
import { hostAllowed, hostPolicy, nodeRequestOrigin, originAllowed, unknownHostMessage } from '../hosts.js';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { createHmac } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppConfig, ClusterConfig } from '../config.js';
import type { Sessions, SessionUser } from '../auth/session.js';
import type { Access } from '../auth/permissions.js';
import type { AccessFeed } from '../auth/access-feed.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { ChangeFeed } from '../inventory/changes.js';
import type { Vm } from '../../contract/vm.js';
import { vmKey } from '../../contract/vm.js';
import { log } from '../log.js';
import type { ConsoleMode, ConsoleTokenRepo } from './token-repo.js';
import { ByteQueue } from './byte-queue.js';
import { openUpstream, takeOver, UpstreamError, type ConsoleKind, type Upstream } from './upstream.js';
import { ViewOnlyFilter, vncGate } from './gate.js';

/** Where browsers connect; the token comes as `?token=`. */
export const CONSOLE_SOCKET_PATH = '/api/console/socket';

/** Close codes the browser sees (4000-4999 are the application's). */
export const CLOSE = {
  sessionEnded: { code: 4001, reason: 'your session ended' },
  accessLost: { code: 4003, reason: 'you no longer have access to this VM' },
  vmStopped: { code: 4009, reason: 'the VM stopped' },
  proxmoxClosed: { code: 4502, reason: 'Proxmox closed the console' },
  shutdown: { code: 1001, reason: 'labdeck is shutting down' },
  protocol: { code: 1002, reason: 'unexpected data' },
} as const;

/** Who else has a VM's console open: what its student is shown. */
export interface ConsoleWatcher { userId: number; name: string; mode: ConsoleMode }

export interface RelayDeps {
  config: AppConfig;
  sessions: Sessions;
  access: Access;
  accessFeed: AccessFeed;
  audit: AuditLog;
  changes: ChangeFeed;
  tokens: ConsoleTokenRepo;
  inventory: { get(cluster: string, vmid: number): Promise<Vm | null> };
  /** The metrics' view of Proxmox calls. */
  pveCalls?: PveCalls;
}

interface LiveConsole {
  user: SessionUser;
  cookie: string | undefined;
  cluster: string;
  vmid: number;
  mode: ConsoleMode;
  kind: ConsoleKind;
  startedAt: number;
  auditId: number | null;
  browser: WebSocket;
  upstream: Upstream;
  bytesUp: number;
  bytesDown: number;
  closed: boolean;
  endedWhy?: string;
}

const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;
/** Past this many bytes waiting to go out, the other side is paused until they drained. */
const HIGH_WATER = 4 * 1024 * 1024;
/** How often open consoles' sessions are checked again (expiry, revocation on another instance). */
const REVALIDATE_MS = 15_000;

/** A refusal before the upgrade: plain HTTP with labdeck's error body. */
class Refusal extends Error {
  constructor(readonly status: 400 | 401 | 403 | 404 | 409 | 421 | 502 | 504, readonly code: string, message: string) {
    super(message);
  }
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 409: 'Conflict', 421: 'Misdirected Request', 502: 'Bad Gateway', 504: 'Gateway Timeout' };

function refuse(socket: Duplex, r: Refusal): void {
  const body = JSON.stringify({ error: { code: r.code, message: r.message } });
  socket.end(`HTTP/1.1 ${r.status} ${REASONS[r.status]}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`
    + `Cache-Control: no-store\r\nConnection: close\r\n\r\n${body}`);
}

/** The origin the browser used to reach us (X-Forwarded-* only behind a trusted proxy). */
function expectedOrigin(req: IncomingMessage, trustProxy: boolean): string {
  return nodeRequestOrigin(req, trustProxy).origin;
}

export class ConsoleRelay {
  private readonly live = new Set<LiveConsole>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: 1024 * 1024,
    handleProtocols: (protocols) => (protocols.has('binary') ? 'binary' : false),
  });
  private readonly revalidate: NodeJS.Timeout;
  private readonly offs: Array<() => void> = [];
  private server: HttpServer | null = null;
  private readonly onUpgradeBound = (req: IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head);
  /** Told whenever the set of people looking at a VM's console changes (the realtime push). */
  onWatchers: ((cluster: string, vmid: number, watchers: ConsoleWatcher[]) => void) | null = null;

  constructor(private readonly deps: RelayDeps) {
    const onRevoked = ({ userId }: { userId: number }) => this.closeWhere((c) => c.user.id === userId, CLOSE.sessionEnded);
    const onAccess = () => this.closeWhere((c) => !deps.access.canActOnVm(c.user, c.cluster, c.vmid), CLOSE.accessLost);
    const onVms = ({ vms }: { vms: Vm[] }) => {
      const stopped = new Set(vms.filter((vm) => vm.status === 'stopped').map((vm) => vm.id));
      if (stopped.size) this.closeWhere((c) => stopped.has(vmKey(c.cluster, c.vmid)), CLOSE.vmStopped);
    };
    const onRemoved = ({ ids }: { ids: string[] }) => {
      const gone = new Set(ids);
      this.closeWhere((c) => gone.has(vmKey(c.cluster, c.vmid)), CLOSE.accessLost);
    };
    deps.accessFeed.on('session:revoked', onRevoked);
    deps.accessFeed.on('access:changed', onAccess);
    deps.changes.on('vm:changed', onVms);
    deps.changes.on('vm:removed', onRemoved);
    this.offs.push(
      () => deps.accessFeed.off('session:revoked', onRevoked), () => deps.accessFeed.off('access:changed', onAccess),
      () => deps.changes.off('vm:changed', onVms), () => deps.changes.off('vm:removed', onRemoved),
    );
    this.revalidate = setInterval(() => void this.revalidateSessions(), REVALIDATE_MS);
    this.revalidate.unref();
  }

  /** The VNC password of a token: derived, so any instance with the same secret knows it. */
  passwordFor(tokenHash: string): string {
    const mac = createHmac('sha256', this.deps.config.sessionSecret).update(`labdeck-console:${tokenHash}`).digest();
    return [...mac.subarray(0, 8)].map((b) => String.fromCharCode(0x21 + (b % 64))).join('');
  }

  /** Takes console upgrades on the server; socket.io keeps its own path. */
  attach(server: HttpServer): void {
    this.server = server;
    server.on('upgrade', this.onUpgradeBound);
  }

  /** Consoles open now on this instance. */
  get openCount(): number {
    return this.live.size;
  }

  /** Who, other than the VM's own students, has its console open. */
  watchers(cluster: string, vmid: number): ConsoleWatcher[] {
    const own = new Set((this.deps.access.snapshot().assignmentsOfVm.get(vmKey(cluster, vmid)) ?? []).map((a) => a.userId));
    const out = new Map<number, ConsoleWatcher>();
    for (const c of this.live) {
      if (c.cluster !== cluster || c.vmid !== vmid || own.has(c.user.id)) continue;
      const prev = out.get(c.user.id);
      if (!prev || c.mode === 'control') out.set(c.user.id, { userId: c.user.id, name: c.user.displayName || c.user.username, mode: c.mode });
    }
    return [...out.values()];
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '').split('?')[0];
    if (path.startsWith('/socket.io/')) return;
    if (path !== CONSOLE_SOCKET_PATH) {
      socket.destroy();
      return;
    }
    socket.on('error', () => socket.destroy());
    void this.open(req, socket, head).catch((err: unknown) => {
      const r = err instanceof Refusal ? err
        : err instanceof UpstreamError ? new Refusal(err.status, err.status === 409 ? 'conflict' : 'proxmox_error', err.message)
          : new Refusal(502, 'proxmox_error', 'the console could not be opened');
      if (!(err instanceof Refusal) && !(err instanceof UpstreamError)) log.warn({ err: (err as Error).message }, 'console open failed');
      if (socket.writable) refuse(socket, r);
      else socket.destroy();
    });
  }

  private async open(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://labdeck');
    const token = url.searchParams.get('token') ?? '';
    if (!TOKEN_RE.test(token)) throw new Refusal(400, 'bad_request', 'token: missing or malformed');
    const origin = req.headers.origin;
    const hosts = hostPolicy(this.deps.config);
    if (!hostAllowed(hosts, nodeRequestOrigin(req, this.deps.config.auth.trustProxy).host)) {
      throw new Refusal(421, 'bad_request', unknownHostMessage(hosts, req.headers.host));
    }
    if (!origin || !originAllowed(hosts, origin, expectedOrigin(req, this.deps.config.auth.trustProxy))) {
      throw new Refusal(403, 'forbidden', 'cross-origin console connection refused');
    }
    const cookie = req.headers.cookie;
    const user = await this.deps.sessions.getSessionUser(cookie);
    if (!user) throw new Refusal(401, 'unauthorized', 'sign in first');
    // Redeeming spends the token whatever follows: a link is never good twice.
    const grant = await this.deps.tokens.redeem(token);
    if (!grant) throw new Refusal(403, 'forbidden', 'this console link has expired or was already used');
    const deny = async (message: string) => {
      await this.deps.audit.record({ actor: user, action: 'console', target: 'vm', cluster: grant.cluster, vmid: grant.vmid, outcome: 'denied', detail: message });
      return new Refusal(403, 'forbidden', message);
    };
    if (grant.userId !== user.id) throw await deny('this console link belongs to someone else');
    if (!this.deps.access.canActOnVm(user, grant.cluster, grant.vmid)) throw await deny(`you may not use VM ${grant.vmid}`);
    const vm = await this.deps.inventory.get(grant.cluster, grant.vmid);
    if (!vm || (vm as Vm & { deleted?: boolean }).deleted) throw new Refusal(404, 'not_found', `VM ${grant.vmid} does not exist on cluster ${grant.cluster}`);
    if (vm.status === 'stopped') throw new Refusal(409, 'conflict', `VM ${vm.name} is stopped: start it first`);
    const cluster: ClusterConfig | undefined = this.deps.config.clusters.find((c) => c.id === grant.cluster);
    if (!cluster) throw new Refusal(404, 'not_found', `cluster ${grant.cluster} is not configured`);

    const upstream = await openUpstream(cluster, { node: vm.node, type: vm.type, vmid: vm.vmid }, this.deps.pveCalls).catch((err: unknown) => {
      // Proxmox's words (hosts, ports, console users) are for admins; the log keeps them for everyone.
      if (!(err instanceof UpstreamError) || user.role === 'admin') throw err;
      log.warn({ err: err.message, cluster: grant.cluster, vmid: grant.vmid }, 'console open failed');
      throw new UpstreamError(err.status === 504 ? 'Proxmox did not answer in time; try again' : 'Proxmox could not open the console; try again, and tell an admin if it keeps failing', err.status);
    });
    if (!socket.writable) {
      upstream.ws.terminate();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (browser) => void this.relay(browser, upstream, user, cookie, vm, grant.mode, this.passwordFor(grant.tokenHash)));
  }

  private async relay(browser: WebSocket, upstream: Upstream, user: SessionUser, cookie: string | undefined, vm: Vm, mode: ConsoleMode, password: string): Promise<void> {
    // Listeners go on at once: the browser's first bytes may follow the upgrade immediately.
    const gateQueue = new ByteQueue();
    browser.on('message', (d: Buffer) => gateQueue.push(d));
    const c: LiveConsole = {
      user, cookie, cluster: vm.cluster, vmid: vm.vmid, mode, kind: upstream.kind, startedAt: Date.now(), auditId: null,
      browser, upstream, bytesUp: 0, bytesDown: 0, closed: false,
    };
    this.live.add(c);
    browser.on('close', () => {
      gateQueue.end(new Error('viewer left'));
      void this.end(c, 'closed by the viewer');
    });
    browser.on('error', () => browser.terminate());
    upstream.ws.on('close', () => void this.end(c, CLOSE.proxmoxClosed.reason, CLOSE.proxmoxClosed));
    upstream.ws.on('error', () => upstream.ws.terminate());
    if (upstream.kind === 'vnc') {
      const ok = await vncGate(browser, gateQueue, password).catch(() => false);
      if (!ok || c.closed) {
        await this.end(c, 'VNC authentication failed', CLOSE.protocol);
        return;
      }
    }
    browser.removeAllListeners('message');
    this.splice(c, gateQueue.rest(), upstream.kind === 'vnc');
    if (c.closed) return;
    const auditId = await this.deps.audit.record({
      actor: user, action: 'console', target: 'vm', cluster: vm.cluster, vmid: vm.vmid, outcome: 'pending',
      detail: `${upstream.kind === 'vnc' ? 'VNC' : 'terminal'}, ${mode === 'view' ? 'view only' : 'control'}, open since ${new Date(c.startedAt).toISOString()}`,
    }).catch(() => null);
    c.auditId = auditId;
    // Ended while the entry was being written: settle it now.
    if (c.closed && auditId !== null) await this.settle(c, c.endedWhy ?? 'closed');
    this.announce(vm.cluster, vm.vmid);
  }

  /** Passes bytes both ways; the first browser byte of VNC is ClientInit, always sent as shared. */
  private splice(c: LiveConsole, early: Buffer, vnc: boolean): void {
    const filter = c.mode === 'view' && vnc ? new ViewOnlyFilter() : null;
    let clientInitSent = !vnc;
    const toUpstream = (data: Buffer) => {
      let d = data;
      if (!clientInitSent && d.length) {
        // Shared, always: an exclusive ClientInit would throw the student off their own console.
        c.upstream.ws.send(Buffer.from([1]));
        clientInitSent = true;
        d = d.subarray(1);
      }
      if (filter) {
        const passed = filter.push(d);
        if (passed === null) {
          void this.end(c, 'unexpected data from the viewer', CLOSE.protocol);
          return;
        }
        d = passed;
      }
      if (!d.length) return;
      c.bytesUp += d.length;
      this.send(c.upstream.ws, d, c.browser);
    };
    c.browser.on('message', (d: Buffer) => toUpstream(d));
    if (early.length) toUpstream(early);
    takeOver(c.upstream, (d) => {
      c.bytesDown += d.length;
      this.send(c.browser, d, c.upstream.ws);
    });
  }

  /** Sends, pausing the source while the target's queue is long (a slow browser, a fast screen). */
  private send(to: WebSocket, data: Buffer, from: WebSocket): void {
    if (to.readyState !== to.OPEN) return;
    to.send(data, { binary: true }, () => {
      if (to.bufferedAmount < HIGH_WATER && from.isPaused) from.resume();
    });
    if (to.bufferedAmount >= HIGH_WATER && !from.isPaused) from.pause();
  }

  private end(c: LiveConsole, why: string, close: { code: number; reason: string } = CLOSE.proxmoxClosed): Promise<void> {
    if (c.closed) return Promise.resolve();
    c.closed = true;
    c.endedWhy = why;
    this.live.delete(c);
    if (c.browser.readyState === c.browser.OPEN || c.browser.readyState === c.browser.CONNECTING) c.browser.close(close.code, close.reason);
    c.upstream.ws.close();
    // A peer that does not answer the close handshake is cut off.
    setTimeout(() => {
      c.browser.terminate();
      c.upstream.ws.terminate();
    }, 2000).unref();
    this.announce(c.cluster, c.vmid);
    return c.auditId !== null ? this.settle(c, why) : Promise.resolve();
  }

  private async settle(c: LiveConsole, why: string): Promise<void> {
    const endedAt = Date.now();
    const secs = Math.round((endedAt - c.startedAt) / 1000);
    await this.deps.audit.settle(c.auditId!, 'ok',
      `${c.kind === 'vnc' ? 'VNC' : 'terminal'}, ${c.mode === 'view' ? 'view only' : 'control'}, `
      + `${new Date(c.startedAt).toISOString()} to ${new Date(endedAt).toISOString()} (${secs} s), ended: ${why}`).catch(() => undefined);
  }

  private closeWhere(pred: (c: LiveConsole) => boolean, why: { code: number; reason: string }): void {
    for (const c of [...this.live]) if (pred(c)) void this.end(c, why.reason, why);
  }

  private async revalidateSessions(): Promise<void> {
    for (const c of [...this.live]) {
      const u = await this.deps.sessions.getSessionUser(c.cookie).catch(() => null);
      if (!u || u.id !== c.user.id) void this.end(c, CLOSE.sessionEnded.reason, CLOSE.sessionEnded);
    }
  }

  private announce(cluster: string, vmid: number): void {
    try {
      this.onWatchers?.(cluster, vmid, this.watchers(cluster, vmid));
    } catch (err) {
      log.warn({ err: (err as Error).message, cluster, vmid }, 'console watcher push failed');
    }
  }

  /** Ends every console (shutdown) and lets go of the server. */
  async close(): Promise<void> {
    clearInterval(this.revalidate);
    for (const off of this.offs.splice(0)) off();
    this.server?.off('upgrade', this.onUpgradeBound);
    const settling = [...this.live].map((c) => this.end(c, CLOSE.shutdown.reason, CLOSE.shutdown));
    await Promise.all(settling);
    for (const ws of this.wss.clients) ws.terminate();
    this.wss.close();
  }
}
