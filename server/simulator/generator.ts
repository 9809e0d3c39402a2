// Deterministic guest generator: the same seed always yields the same classroom of guests,
// so tests, demos and benchmarks see identical clusters run after run.

/** A guest as generated, before it lives in a cluster. */
export interface GeneratedGuest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name: string;
  template: boolean;
  running: boolean;
  ostype: string;
  cores: number;
  memoryMiB: number;
  tags: string[];
  pool: string | null;
  agent: boolean;
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rnd: () => number, list: readonly T[]): T => list[Math.floor(rnd() * list.length)];

/** Names guests like 'lab-a-ws-001' (qemu), 'lab-a-ct-002' (lxc), 'lab-a-tpl-003' (templates). */
export function guestName(clusterId: string, kind: 'ws' | 'ct' | 'tpl', n: number): string {
  return `${clusterId}-${kind}-${String(n).padStart(3, '0')}`;
}

/** Generates `count` guests over `nodes`, vmids from 100, deterministically from `seed`. */
export function generateGuests(clusterId: string, nodes: string[], count: number, seed: number): GeneratedGuest[] {
  const rnd = prng(seed);
  const classes = Math.max(1, Math.ceil(count / 25));
  const out: GeneratedGuest[] = [];
  for (let i = 0; i < count; i++) {
    const type = rnd() < 0.8 ? 'qemu' : 'lxc';
    const template = type === 'qemu' ? rnd() < 0.05 : rnd() < 0.02;
    const windows = type === 'qemu' && rnd() < 0.25;
    const ostype = type === 'lxc' ? pick(rnd, ['debian', 'ubuntu', 'alpine'] as const) : windows ? pick(rnd, ['win10', 'win11'] as const) : 'l26';
    const klass = 1 + Math.floor(rnd() * classes);
    const inPool = rnd() < 0.6;
    const running = !template && rnd() < 0.6;
    const cores = type === 'lxc' ? pick(rnd, [1, 2] as const) : pick(rnd, [1, 2, 4] as const);
    const memoryMiB = type === 'lxc' ? pick(rnd, [512, 1024, 2048] as const) : windows ? pick(rnd, [4096, 8192] as const) : pick(rnd, [1024, 2048, 4096] as const);
    const agent = type === 'qemu' && rnd() < 0.9;
    const node = nodes[Math.floor(rnd() * nodes.length)];
    const kind = template ? 'tpl' : type === 'qemu' ? 'ws' : 'ct';
    out.push({
      vmid: 100 + i,
      type,
      node,
      name: guestName(clusterId, kind, i + 1),
      template,
      running,
      ostype,
      cores,
      memoryMiB,
      tags: [`class-${klass}`, windows ? 'windows' : 'linux'],
      pool: inPool ? `class-${klass}` : null,
      agent,
    });
  }
  return out;
}

/** A stable, unique-per-vmid MAC under Proxmox's BC:24:11 prefix (upper case, as PVE writes it). */
export function macFor(vmid: number, salt = 0): string {
  // Multiplying by an odd constant is a bijection mod 2^24, so distinct vmids get distinct MACs.
  const x = (Math.imul(vmid + salt * 7919, 0x9e3779b1) >>> 0) & 0xffffff;
  const hex = (n: number): string => n.toString(16).toUpperCase().padStart(2, '0');
  return `BC:24:11:${hex(x >> 16)}:${hex((x >> 8) & 0xff)}:${hex(x & 0xff)}`;
}

/** The guest's address: always inside 127.0.0.0/8, so probing it never leaves this machine. */
export function ipFor(vmid: number): string {
  const second = 20 + (Math.floor(vmid / 65536) % 230);
  return `127.${second}.${Math.floor(vmid / 256) % 256}.${vmid % 256}`;
}
