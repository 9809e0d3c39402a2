// The consoles of one simulated cluster, as qemu-server, pve-container and pveproxy serve them:
// `vncproxy` (qemu) and `termproxy` (LXC) hand out a port in 5900-5999 and a VNC ticket bound to
// the caller, the guest and that port; the port waits 10 s (qemu) or 30 s (termproxy) for one
// connection; `vncwebsocket` checks the ticket against the caller and the port, and the upgrade
// then reaches the guest's RFB server or terminal. A stopped guest's console closes at once, and
// an open console closes when its guest stops.
//
// An API token's ticket belongs to `user@realm!token`. termproxy checks the login line's ticket
// through pvedaemon: PVE since libpve-access-control 9.0.4 (the /access/vncticket endpoint that
// termproxy's --vncticket-endpoint calls) accepts token-owned tickets; older releases check it as
// a user name and refuse the `!` (go-proxmox #221). `termproxyTokenLogin: false` models those.
import { WebSocketServer, type WebSocket } from 'ws';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { PveError, fail } from '../errors.js';
import type { ClusterState } from '../cluster.js';
import type { Principal } from '../auth.js';
import { VncTickets, generateVncPassword } from './vnc-ticket.js';
import { Framebuffer } from './framebuffer.js';
import { RfbServer } from './rfb-server.js';
import { TermSession } from './terminal.js';

const PORT_MIN = 5900;
const PORT_MAX = 5999;
const VNC_ACCEPT_MS = 10_000;
const TERM_ACCEPT_MS = 30_000;
/** How often an open console looks whether its guest still runs. */
const WATCH_MS = 200;

type Params = Record<string, string | string[]>;
/** What a handler of the API table receives (the same shape as api.ts's context). */
export interface ConsoleCtx { params: Params; principal: Principal | null; cluster: ClusterState }

interface Pending {
  port: number;
  kind: 'vnc' | 'term';
  node: string;
  vmid: number;
  user: string;
  password: string | null;
  timer: NodeJS.Timeout;
}

const str = (v: string | string[] | undefined): string => (Array.isArray(v) ? v[v.length - 1] : v) ?? '';

/** Console state of one cluster. */
export class ConsoleHub {
  private readonly tickets = new VncTickets();
  private readonly pending = new Map<number, Pending>();
  private readonly framebuffers = new Map<number, Framebuffer>();
  private readonly open = new Set<{ close(): void }>();
  private readonly wss = new WebSocketServer({
    noServer: true,
    // pveproxy answers with the subprotocol the client asked for (noVNC asks for "binary").
    handleProtocols: (protocols) => protocols.values().next().value ?? false,
    perMessageDeflate: false,
  });

  constructor(
    private readonly cluster: ClusterState,
    private readonly termproxyTokenLogin: boolean,
  ) {}

  /** Consoles open now (tests and the bench read it). */
  get openCount(): number {
    return this.open.size;
  }

  /** The framebuffer of a qemu guest (made on first use). */
  framebuffer(vmid: number): Framebuffer {
    let fb = this.framebuffers.get(vmid);
    if (!fb) this.framebuffers.set(vmid, (fb = new Framebuffer(vmid)));
    return fb;
  }

  private allocate(kind: 'vnc' | 'term', node: string, vmid: number, user: string, password: string | null): Pending {
    for (let port = PORT_MIN; port <= PORT_MAX; port++) {
      if (this.pending.has(port)) continue;
      const p: Pending = {
        port, kind, node, vmid, user, password,
        timer: setTimeout(() => this.pending.delete(port), kind === 'vnc' ? VNC_ACCEPT_MS : TERM_ACCEPT_MS),
      };
      p.timer.unref();
      this.pending.set(port, p);
      return p;
    }
    throw fail(`unable to find free port (${PORT_MIN}-${PORT_MAX})`);
  }

  /** POST /nodes/{node}/qemu/{vmid}/vncproxy. */
  vncproxy(ctx: ConsoleCtx): Record<string, unknown> {
    const node = str(ctx.params.node), vmid = Number(str(ctx.params.vmid));
    ctx.cluster.guestOn(node, vmid, 'qemu');
    const user = ctx.principal?.id ?? 'root@pam';
    const password = generateVncPassword();
    const p = this.allocate('vnc', node, vmid, user, password);
    const ticket = this.tickets.assemble(user, `/vms/${vmid}`, p.port);
    const upid = ctx.cluster.tasks.run({ node, type: 'vncproxy', id: String(vmid), user, durationMs: VNC_ACCEPT_MS, finish: () => undefined });
    return { user, ticket: `${password}:${ticket}`, password, port: p.port, upid, cert: SIM_CA_PEM };
  }

  /** POST /nodes/{node}/lxc/{vmid}/termproxy. */
  termproxy(ctx: ConsoleCtx): Record<string, unknown> {
    const node = str(ctx.params.node), vmid = Number(str(ctx.params.vmid));
    ctx.cluster.guestOn(node, vmid, 'lxc');
    const user = ctx.principal?.id ?? 'root@pam';
    const p = this.allocate('term', node, vmid, user, null);
    const ticket = this.tickets.assemble(user, `/vms/${vmid}`, p.port);
    const upid = ctx.cluster.tasks.run({ node, type: 'vncproxy', id: String(vmid), user, durationMs: TERM_ACCEPT_MS, finish: () => undefined });
    return { user, ticket, port: p.port, upid };
  }

  /** GET /nodes/{node}/{qemu,lxc}/{vmid}/vncwebsocket: the ticket must be the caller's, for this guest and port. */
  vncwebsocket(ctx: ConsoleCtx, kind: 'qemu' | 'lxc'): { port: string } {
    const node = str(ctx.params.node), vmid = Number(str(ctx.params.vmid)), port = Number(str(ctx.params.port));
    const user = ctx.principal?.id ?? 'root@pam';
    if (!this.tickets.verify(str(ctx.params.vncticket), user, `/vms/${vmid}`, port)) {
      throw new PveError(401, 'permission denied - invalid PVEVNC ticket');
    }
    ctx.cluster.guestOn(node, vmid, kind);
    return { port: String(port) };
  }

  /**
   * The upgrade after vncwebsocket answered: like pveproxy, connect to the port first (nobody
   * waiting there: the connection just drops), then answer 101 and relay.
   */
  upgrade(port: number, req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const p = this.pending.get(port);
    if (!p) {
      socket.destroy();
      return;
    }
    // One connection per port: the worker stops listening once it accepted.
    this.pending.delete(port);
    clearTimeout(p.timer);
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, p));
  }

  private attach(ws: WebSocket, p: Pending): void {
    const guest = () => {
      const g = this.cluster.guests.get(p.vmid);
      return g && g.node === p.node ? g : undefined;
    };
    const link = {
      send: (b: Buffer) => { if (ws.readyState === ws.OPEN) ws.send(b); },
      close: () => ws.close(),
    };
    const up = () => {
      const g = guest();
      return Boolean(g && g.status !== 'stopped');
    };
    let session: { receive(b: Buffer): void; close(): void };
    if (p.kind === 'vnc') {
      // `qm vncproxy` fails on a guest that is not running: the connection closes unanswered.
      if (!up()) {
        ws.close();
        return;
      }
      session = new RfbServer(link, this.framebuffer(p.vmid), guest()!.name, p.password!);
    } else {
      session = new TermSession(link, guest()?.name ?? `CT${p.vmid}`, (user, ticket) => this.termLogin(p, user, ticket), () => guest()?.status === 'running');
    }
    this.open.add(session);
    const watch = setInterval(() => {
      if (!up()) session.close();
    }, WATCH_MS);
    watch.unref();
    ws.on('message', (data: Buffer, isBinary: boolean) => session.receive(isBinary ? data : Buffer.from(data)));
    ws.on('close', () => {
      clearInterval(watch);
      this.open.delete(session);
      session.close();
    });
    ws.on('error', () => ws.terminate());
  }

  private termLogin(p: Pending, user: string, ticket: string): boolean {
    if (user !== p.user) return false;
    if (user.includes('!') && !this.termproxyTokenLogin) return false;
    return this.tickets.verify(ticket, user, `/vms/${p.vmid}`, p.port);
  }

  /** Closes every console (simulator shutdown). */
  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    for (const s of [...this.open]) s.close();
    for (const c of this.wss.clients) c.terminate();
    this.wss.close();
  }
}

/** The `cert` field of a vncproxy answer (the cluster CA in real PVE); a fixed placeholder here. */
const SIM_CA_PEM = '-----BEGIN CERTIFICATE-----\nU2ltdWxhdGVkIFByb3htb3ggVkUgY2x1c3RlciBDQQ==\n-----END CERTIFICATE-----\n';

/** The API table entries of the console endpoints. */
export function consoleHandlers(hub: ConsoleHub): Record<string, (ctx: ConsoleCtx) => unknown> {
  return {
    'POST /nodes/{node}/qemu/{vmid}/vncproxy': (ctx) => hub.vncproxy(ctx),
    'GET /nodes/{node}/qemu/{vmid}/vncwebsocket': (ctx) => hub.vncwebsocket(ctx, 'qemu'),
    'POST /nodes/{node}/lxc/{vmid}/termproxy': (ctx) => hub.termproxy(ctx),
    'GET /nodes/{node}/lxc/{vmid}/vncwebsocket': (ctx) => hub.vncwebsocket(ctx, 'lxc'),
  };
}
