// The connected audience: one socket.io client per user (students, teachers, admins), each with
// its own session cookie and byte-counting TCP agent. Records when each VM change arrives where,
// and flags any change that reaches a client not entitled to it.
import { io, type Socket } from 'socket.io-client';
import { ByteCountingAgent } from './byte-agent.js';
import { now, sleep } from './stats.js';

export interface FleetUser { username: string; role: 'admin' | 'teacher' | 'student'; cookie: string }

export interface Arrival { username: string; at: number; status: string; revision: number }

interface Member extends FleetUser {
  socket: Socket;
  agent: ByteCountingAgent;
  connected: boolean;
  everConnected: boolean;
  vmEvents: number;
  removedEvents: number;
  statusEvents: number;
}

interface VmPayload { id: string; status?: string; revision?: number; [field: string]: unknown }

/** A field of a VM that changed between two pushes (or the initial read and a push). */
export interface FieldChange { vm: string; at: number; revision: number; field: string; from: unknown; to: unknown }

/** Fields that move on every write by design; a diff of them says nothing. */
const bookkeeping = new Set(['revision', 'lastUpdated', 'lastSeen', 'stale']);

export class Fleet {
  private readonly members: Member[] = [];
  private readonly arrivals = new Map<string, Arrival[]>();
  readonly leaks: Array<{ username: string; vm: string; at: number }> = [];
  readonly connectErrors = new Map<string, number>();
  /** One user's full view (initial read + pushes), to tell which fields each push changed. */
  private mirror: { username: string; vms: Map<string, VmPayload> } | null = null;
  readonly fieldChanges: FieldChange[] = [];
  private closing = false;

  /** entitled(username, vmKey) says whether that user may receive that VM. */
  constructor(private readonly url: string, private readonly entitled: (username: string, vm: string) => boolean) {}

  /** Opens every socket (at most `parallel` handshakes at once); resolves when all are connected or timeout passed. */
  async connect(users: FleetUser[], opts: { parallel: number; timeoutMs: number }): Promise<{ connected: number; failed: number; ms: number }> {
    const t0 = now();
    let next = 0;
    const worker = async () => {
      while (next < users.length) {
        const u = users[next++];
        await this.open(u, opts.timeoutMs);
      }
    };
    await Promise.all(Array.from({ length: opts.parallel }, worker));
    const connected = this.members.filter((m) => m.connected).length;
    return { connected, failed: users.length - connected, ms: now() - t0 };
  }

  private open(u: FleetUser, timeoutMs: number): Promise<void> {
    const agent = new ByteCountingAgent({ keepAlive: false });
    const socket = io(this.url, {
      transports: ['websocket'],
      extraHeaders: { cookie: u.cookie, origin: this.url },
      agent: agent as unknown as string,
      reconnection: true,
      reconnectionDelay: 300,
      reconnectionDelayMax: 2000,
      timeout: timeoutMs,
    });
    const m: Member = { ...u, socket, agent, connected: false, everConnected: false, vmEvents: 0, removedEvents: 0, statusEvents: 0 };
    this.members.push(m);
    socket.on('vm:changed', (p: { revision: number; vms: VmPayload[] }) => {
      const at = now();
      m.vmEvents++;
      for (const vm of p.vms ?? []) {
        this.record(m, vm.id, at, vm.status ?? '', vm.revision ?? p.revision);
        if (this.mirror?.username === m.username) this.diff(vm, at, vm.revision ?? p.revision);
      }
    });
    socket.on('vm:removed', (p: { revision: number; ids: string[] }) => {
      const at = now();
      m.removedEvents++;
      for (const id of p.ids ?? []) {
        this.record(m, id, at, 'removed', p.revision);
      }
    });
    socket.on('sync:status', () => { m.statusEvents++; });
    socket.on('disconnect', (reason: string) => {
      m.connected = false;
      // A server that shuts down disconnects every socket on purpose, and socket.io-client does not
      // reconnect after that by itself; a browser tab of labdeck would, so the bench does too.
      if (reason === 'io server disconnect' && !this.closing) setTimeout(() => { if (!this.closing) socket.connect(); }, 200 + Math.random() * 800);
    });
    return new Promise<void>((resolve) => {
      const done = () => { clearTimeout(timer); resolve(); };
      const timer = setTimeout(done, timeoutMs);
      socket.on('connect', () => { m.connected = true; m.everConnected = true; done(); });
      socket.on('connect_error', (err: Error) => {
        this.connectErrors.set(err.message, (this.connectErrors.get(err.message) ?? 0) + 1);
      });
    });
  }

  private record(m: Member, vm: string, at: number, status: string, revision: number): void {
    if (!this.entitled(m.username, vm)) this.leaks.push({ username: m.username, vm, at });
    const a: Arrival = { username: m.username, at, status, revision };
    const list = this.arrivals.get(vm);
    if (list) list.push(a);
    else this.arrivals.set(vm, [a]);
  }

  /** Starts tracking one user's view from its initial GET /api/vms answer. */
  setMirror(username: string, vms: VmPayload[]): void {
    this.mirror = { username, vms: new Map(vms.map((v) => [v.id, v])) };
  }

  private diff(vm: VmPayload, at: number, revision: number): void {
    const prev = this.mirror!.vms.get(vm.id);
    this.mirror!.vms.set(vm.id, vm);
    if (!prev) return;
    for (const field of Object.keys(vm)) {
      if (bookkeeping.has(field)) continue;
      if (JSON.stringify(prev[field]) !== JSON.stringify(vm[field])) this.fieldChanges.push({ vm: vm.id, at, revision, field, from: prev[field], to: vm[field] });
    }
  }

  /** Every arrival of a VM key (all users), in arrival order. */
  arrivalsOf(vm: string): Arrival[] {
    return this.arrivals.get(vm) ?? [];
  }

  /** First arrival per user of a VM at or after `since`, optionally only with a given status. */
  firstArrivals(vm: string, since: number, status?: string): Map<string, number> {
    const out = new Map<string, number>();
    for (const a of this.arrivalsOf(vm)) {
      if (a.at < since || (status && a.status !== status) || out.has(a.username)) continue;
      out.set(a.username, a.at);
    }
    return out;
  }

  /** Sockets connected right now. */
  connectedCount(): number {
    return this.members.filter((m) => m.connected).length;
  }

  /** Bytes each client has received so far, by username. */
  bytesByUser(): Map<string, { read: number; written: number; role: FleetUser['role']; events: number }> {
    return new Map(this.members.map((m) => [m.username, { read: m.agent.bytesRead(), written: m.agent.bytesWritten(), role: m.role, events: m.vmEvents + m.removedEvents }]));
  }

  /** Waits until every socket is connected again (after a server restart). */
  async waitAllConnected(timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.members.every((m) => m.connected)) return true;
      await sleep(100);
    }
    return false;
  }

  /** Closes every socket. */
  close(): void {
    this.closing = true;
    for (const m of this.members) m.socket.close();
  }
}
