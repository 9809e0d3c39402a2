// A shortened soak: random outside changes of both kinds (Proxmox UI tasks, shutdowns from inside
// guests, migrations) against a simulator whose snapshot lags as pvestatd's does, with labdeck at
// its default signal cadence. Every socket.io client (admin, teacher, two students) must end up
// showing exactly the simulator's truth, and must have shown every transition of every guest it
// sees, in order. A guest is changed again only once every client shows its last change (people
// do not toggle faster than they can see), so that every transition is one a client could miss.
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { io as connect, type Socket } from 'socket.io-client';
import { startStack, type Stack } from '../e2e/harness.js';
import { prng } from '../../server/simulator/generator.js';
import type { Vm } from '../../contract/vm.js';

const SOAK_MS = Number(process.env.LABDECK_SOAK_MS ?? 10_000);
const IN_FLIGHT = 10;

/** What one client shows: the VMs it was given, kept current from the pushes. */
class Client extends EventEmitter {
  readonly vms = new Map<string, { state: string; revision: number }>();
  /** Every state each VM was shown in, consecutive repeats folded. */
  readonly shown = new Map<string, string[]>();
  outOfOrder = 0;
  private readonly lastPushed = new Map<string, number>();
  private readonly early: Vm[] = [];
  private loaded = false;
  socket!: Socket;

  constructor(readonly name: string, private readonly url: string, private readonly cookie: string) {
    super();
  }

  async open(): Promise<void> {
    this.socket = connect(this.url, { path: '/socket.io', transports: ['websocket'], reconnection: false, forceNew: true, extraHeaders: { cookie: this.cookie } });
    this.socket.on('vm:changed', (m: { vms: Vm[] }) => {
      for (const vm of m.vms) {
        if (vm.revision < (this.lastPushed.get(vm.id) ?? 0)) this.outOfOrder++;
        this.lastPushed.set(vm.id, vm.revision);
        if (this.loaded) this.apply(vm);
        else this.early.push(vm);
      }
      this.emit('update');
    });
    await new Promise<void>((resolve, reject) => {
      this.socket.once('connect', () => resolve());
      this.socket.once('connect_error', reject);
    });
    const res = await fetch(`${this.url}/api/vms?since=0`, { headers: { cookie: this.cookie } });
    const body = (await res.json()) as { vms: Vm[] };
    for (const vm of body.vms) this.apply(vm);
    this.loaded = true;
    for (const vm of this.early.splice(0)) this.apply(vm);
  }

  private apply(vm: Vm): void {
    const have = this.vms.get(vm.id);
    if (have && have.revision >= vm.revision) return;
    const state = `${vm.status}@${vm.node}`;
    this.vms.set(vm.id, { state, revision: vm.revision });
    const seq = this.shown.get(vm.id) ?? [];
    if (seq[seq.length - 1] !== state) seq.push(state);
    this.shown.set(vm.id, seq);
  }

  /** Resolves once `check` holds, re-checked at every push; fails after `ms`. */
  when(check: () => boolean, ms: number, what: string): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.off('update', on); reject(new Error(`${this.name}: ${what} not shown within ${ms} ms`)); }, ms);
      const on = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.off('update', on);
        resolve();
      };
      this.on('update', on);
    });
  }
}

describe('soak: outside changes of both kinds', () => {
  let stack: Stack;
  const clients: Client[] = [];
  beforeAll(async () => {
    stack = await startStack({ guests: 30, pvestatdIntervalMs: 10_000, quickIntervalSeconds: 15 });
    for (const u of ['admin', 'teacher', 'student1', 'student2']) clients.push(new Client(u, stack.url, await stack.login(u)));
    await Promise.all(clients.map((c) => c.open()));
  });
  afterAll(async () => {
    for (const c of clients) c.socket?.disconnect();
    await stack?.close();
  });

  it('every client ends on the truth and showed every transition in order', async () => {
    const sim = stack.cluster;
    const key = (vmid: number) => `lab-a:${vmid}`;
    const truthOf = (vmid: number) => { const g = sim.guest(vmid)!; return `${g.status}@${g.node}`; };
    const guests = sim.guests().filter((g) => !g.template).map((g) => g.vmid);
    // Every client starts from the truth (the stack synced before the clients loaded).
    await Promise.all(clients.map((c) => c.when(() => [...c.vms].every(([id, v]) => v.state === truthOf(Number(id.split(':')[1]))), 20_000, 'the start state')));
    const truth = new Map<number, string[]>(guests.map((vmid) => [vmid, [truthOf(vmid)]]));
    const rnd = prng(1212);
    const busy = new Set<number>();
    const counts = { ui: 0, guest: 0, migrate: 0 };

    const change = async (vmid: number): Promise<void> => {
      const g = sim.guest(vmid)!;
      const r = rnd();
      let upid: string | null = null;
      if (g.status === 'stopped' && r < 0.2) {
        upid = sim.migrate(vmid, sim.nodes.find((n) => n !== g.node)!, 'ui');
        counts.migrate++;
      } else if (g.status === 'stopped') {
        upid = sim.powerOutside(vmid, 'start', 'ui');
        counts.ui++;
      } else if (r < 0.45) {
        sim.powerOutside(vmid, 'shutdown', 'guest');
        counts.guest++;
      } else {
        upid = sim.powerOutside(vmid, r < 0.75 ? 'shutdown' : 'stop', 'ui');
        counts.ui++;
      }
      if (upid) await sim.taskDone(upid);
      const now = truthOf(vmid);
      truth.get(vmid)!.push(now);
      const watching = clients.filter((c) => c.vms.has(key(vmid)));
      await Promise.all(watching.map((c) => c.when(() => c.vms.get(key(vmid))?.state === now, 20_000, `${key(vmid)} as ${now}`)));
    };

    const end = Date.now() + SOAK_MS;
    const running = new Set<Promise<void>>();
    while (Date.now() < end) {
      while (running.size < IN_FLIGHT) {
        const idle = guests.filter((v) => !busy.has(v));
        const vmid = idle[Math.floor(rnd() * idle.length)];
        busy.add(vmid);
        const p: Promise<void> = change(vmid).finally(() => { busy.delete(vmid); running.delete(p); });
        running.add(p);
      }
      await Promise.race(running);
    }
    await Promise.all(running);

    expect(counts.ui, JSON.stringify(counts)).toBeGreaterThanOrEqual(4);
    expect(counts.guest, JSON.stringify(counts)).toBeGreaterThanOrEqual(2);
    for (const c of clients) {
      expect(c.vms.size, c.name).toBeGreaterThan(0);
      for (const [id, v] of c.vms) {
        const vmid = Number(id.split(':')[1]);
        expect(v.state, `${c.name} ${id}`).toBe(truthOf(vmid));
        const expected = (truth.get(vmid) ?? [truthOf(vmid)]).filter((s, i, a) => i === 0 || a[i - 1] !== s);
        expect(c.shown.get(id), `${c.name} ${id}: transitions`).toEqual(expected);
      }
      expect(c.outOfOrder, c.name).toBe(0);
    }
  });
});
