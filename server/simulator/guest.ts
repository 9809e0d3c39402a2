// One simulated guest (qemu VM or LXC container): its config and runtime state, and the
// pure functions that render it the way qemu-server and pve-container answer.
import { createHash } from 'node:crypto';
import { ipFor } from './generator.js';
import { type StorageId, diskVolid } from './storage.js';

/** A snapshot entry in a guest's config. */
export interface GuestSnapshot {
  name: string;
  snaptime: number;
  description: string;
  parent: string | null;
}

/** A guest as the simulator holds it. */
export interface Guest {
  vmid: number;
  type: 'qemu' | 'lxc';
  node: string;
  name: string;
  status: 'running' | 'stopped' | 'paused';
  template: boolean;
  mac: string;
  tags: string[];
  pool: string | null;
  lock: string | null;
  ostype: string;
  cores: number;
  memoryMiB: number;
  agent: boolean;
  /** When the guest OS last booted (ms), null while stopped: drives uptime and the IP delay. */
  bootedAt: number | null;
  /** Busy (a build, an update, a student's workload) rather than idling at a prompt: drives cpu and memory. */
  busy: boolean;
  pid: number | null;
  diskGiB: number;
  snapshots: GuestSnapshot[];
  parent: string | null;
  createdAt: number;
  storage: StorageId;
  description?: string;
  onboot?: boolean;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Whether the guest's process exists (running or paused). */
export const isUp = (g: Guest): boolean => g.status !== 'stopped';

/** Uptime in seconds at `now`. */
export const uptimeOf = (g: Guest, now: number): number => (g.bootedAt === null ? 0 : Math.max(0, Math.floor((now - g.bootedAt) / 1000)));

// The load model, without state or timers. A lab guest mostly idles: cpu a few percent with a
// little jitter from one sample to the next, memory nearly flat at its own level. A busy one
// (about one in ten, plus any the demo activity sets busy) drifts slowly over minutes.

/** A deterministic 0..1 value for (a, b): noise that needs no state. */
export function noise01(a: number, b: number): number {
  let h = Math.imul(a ^ 0x27d4eb2d, 0x9e3779b1) ^ Math.imul(b + 0x165667b1, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 15), 0xc2b2ae35);
  h ^= h >>> 13;
  return (h >>> 0) / 4294967296;
}

/** Whether a guest starts out busy: about 10 %, the same for the same seed and vmid. */
export const seededBusy = (seed: number, vmid: number): boolean => noise01(seed, vmid) < 0.1;

/** Load samples change once a second: each pvestatd snapshot (and each live read) sees fresh jitter. */
const SAMPLE_MS = 1000;

// A slow wave with a per-guest phase.
function wave(vmid: number, now: number, periodMs: number): number {
  return 0.5 + 0.5 * Math.sin(now / periodMs + vmid * 1.7);
}

/** cpu (0..1 of its cores) and memory (0..1 of maxmem) of a running guest at `now`. */
export function loadOf(g: Pick<Guest, 'vmid' | 'busy'>, now: number): { cpu: number; mem: number } {
  const sample = Math.floor(now / SAMPLE_MS);
  const jitter = noise01(g.vmid, sample);
  const level = 0.25 + 0.3 * noise01(g.vmid, -1);
  if (!g.busy) {
    // Mostly around 1 %, now and then up to 4 %; memory within half a percent of its level.
    return { cpu: 0.005 + 0.035 * jitter * jitter, mem: level + 0.01 * (noise01(g.vmid, sample + 0x5bd1) - 0.5) };
  }
  // Busy: cpu between 30 and 90 % over about six minutes, memory up to 30 % above its level over about fifteen.
  return {
    cpu: Math.min(1, 0.3 + 0.6 * wave(g.vmid, now, 60_000) + 0.02 * jitter),
    mem: Math.min(0.95, level + 0.3 * wave(g.vmid, now, 150_000)),
  };
}

/** The live usage numbers of a guest at `now` (zero when stopped); load samples may run `loadShiftMs` ahead. */
export function usageOf(g: Guest, now: number, loadShiftMs = 0) {
  const up = uptimeOf(g, now);
  const running = g.status === 'running';
  const maxmem = g.memoryMiB * MiB;
  const load = isUp(g) ? loadOf(g, now + loadShiftMs) : null;
  return {
    cpu: running && load ? Math.round(load.cpu * 1e4) / 1e4 : 0,
    mem: load ? Math.floor(maxmem * load.mem) : 0,
    maxmem,
    maxdisk: g.diskGiB * GiB,
    netin: up * (1200 + (g.vmid % 97) * 13),
    netout: up * (400 + (g.vmid % 89) * 7),
    diskread: isUp(g) ? 180 * MiB + up * 2048 : 0,
    diskwrite: isUp(g) ? 40 * MiB + up * 1024 : 0,
    uptime: up,
  };
}

/** The address the guest reports, or null before the network is up (ipDelayMs after boot). */
export function ipOf(g: Guest, now: number, ipDelayMs: number): string | null {
  if (g.status !== 'running' || g.bootedAt === null) return null;
  return now - g.bootedAt >= ipDelayMs ? ipFor(g.vmid) : null;
}

const isWindows = (g: Guest): boolean => g.ostype.startsWith('win') || g.ostype === 'wxp' || g.ostype === 'w2k8';

/** A config digest: sha1 over the config text, as PVE computes it (here over our fields). */
export function digestOf(g: Guest): string {
  return createHash('sha1').update(JSON.stringify([g.name, g.cores, g.memoryMiB, g.ostype, g.mac, g.tags, g.agent, g.template, g.lock, g.parent, g.snapshots.length, g.description ?? '', g.onboot ?? false])).digest('hex');
}

/** GET .../status/current (live). */
export function statusCurrent(g: Guest, now: number): Record<string, unknown> {
  const u = usageOf(g, now);
  const common: Record<string, unknown> = {
    vmid: g.vmid,
    name: g.name,
    cpus: g.cores,
    cpu: u.cpu,
    mem: u.mem,
    maxmem: u.maxmem,
    disk: 0,
    maxdisk: u.maxdisk,
    netin: u.netin,
    netout: u.netout,
    diskread: u.diskread,
    diskwrite: u.diskwrite,
    uptime: u.uptime,
    ha: { managed: 0 },
  };
  if (g.tags.length) common.tags = g.tags.join(';');
  if (g.lock) common.lock = g.lock;
  if (g.template) common.template = 1;
  if (isUp(g) && g.pid !== null) common.pid = g.pid;
  if (g.type === 'qemu') {
    return {
      ...common,
      status: isUp(g) ? 'running' : 'stopped',
      qmpstatus: g.status,
      ...(g.agent ? { agent: 1 } : {}),
      ...(isUp(g) ? { 'running-machine': 'pc-i440fx-9.2+pve1', 'running-qemu': '9.2.0', memhost: u.mem, balloon: u.maxmem, freemem: u.maxmem - u.mem } : {}),
      serial: 0,
    };
  }
  // pve-container has answered vmid as a string; clients must cope with both spellings.
  return {
    ...common,
    vmid: String(g.vmid),
    type: 'lxc',
    status: isUp(g) ? 'running' : 'stopped',
    disk: isUp(g) ? Math.floor(u.maxdisk * 0.18) : 0,
    swap: 0,
    maxswap: 512 * MiB,
  };
}

/** GET .../config. */
export function guestConfig(g: Guest): Record<string, unknown> {
  const extra: Record<string, unknown> = {};
  if (g.tags.length) extra.tags = g.tags.join(';');
  if (g.lock) extra.lock = g.lock;
  if (g.template) extra.template = 1;
  if (g.parent) extra.parent = g.parent;
  if (g.description) extra.description = g.description;
  if (g.onboot) extra.onboot = 1;
  const disk = diskVolid(g.storage, g.type, g.vmid, g.template);
  if (g.type === 'qemu') {
    const win = isWindows(g);
    return {
      name: g.name,
      cores: g.cores,
      sockets: 1,
      // qemu-server returns memory as a property string since PVE 8.1.
      memory: String(g.memoryMiB),
      ostype: g.ostype,
      net0: `virtio=${g.mac},bridge=vmbr0,firewall=1`,
      scsihw: 'virtio-scsi-single',
      scsi0: `${disk},iothread=1,size=${g.diskGiB}G`,
      boot: 'order=scsi0;net0',
      cpu: 'x86-64-v2-AES',
      numa: 0,
      ...(g.agent ? { agent: '1' } : {}),
      ...(win ? { machine: 'pc-q35-9.2', bios: 'ovmf', efidisk0: `${disk.replace(/disk-0/, 'disk-1')},efitype=4m,size=4M` } : {}),
      smbios1: `uuid=${uuidFor(g.vmid)}`,
      vmgenid: uuidFor(g.vmid + 7),
      meta: `creation-qemu=9.2.0,ctime=${Math.floor(g.createdAt / 1000)}`,
      ...extra,
      digest: digestOf(g),
    };
  }
  return {
    hostname: g.name,
    arch: 'amd64',
    cores: g.cores,
    memory: g.memoryMiB,
    swap: 512,
    ostype: g.ostype,
    net0: `name=eth0,bridge=vmbr0,firewall=1,hwaddr=${g.mac},ip=dhcp,type=veth`,
    rootfs: `${disk},size=${g.diskGiB}G`,
    unprivileged: 1,
    features: 'nesting=1',
    ...extra,
    digest: digestOf(g),
  };
}

function uuidFor(n: number): string {
  const h = createHash('md5').update(`sim-${n}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The link-local IPv6 address derived from a MAC (EUI-64), as guests configure it. */
function linkLocal(mac: string): string {
  const b = mac.split(':').map((x) => parseInt(x, 16));
  b[0] ^= 2;
  const words = [(b[0] << 8) | b[1], (b[2] << 8) | 0xff, (0xfe << 8) | b[3], (b[4] << 8) | b[5]];
  return `fe80::${words.map((w) => w.toString(16)).join(':')}`;
}

/** The guest agent's network-get-interfaces result for a running guest with an address. */
export function agentInterfaces(g: Guest, ip: string | null): Record<string, unknown> {
  const win = isWindows(g);
  const mac = g.mac.toLowerCase();
  const nic: Record<string, unknown> = {
    name: win ? 'Ethernet' : 'ens18',
    'hardware-address': mac,
    'ip-addresses': [
      ...(ip ? [{ 'ip-address-type': 'ipv4', 'ip-address': ip, prefix: 8 }] : []),
      { 'ip-address-type': 'ipv6', 'ip-address': linkLocal(g.mac), prefix: 64 },
    ],
    statistics: { 'rx-bytes': 123456, 'rx-packets': 1234, 'rx-errs': 0, 'rx-dropped': 0, 'tx-bytes': 65432, 'tx-packets': 654, 'tx-errs': 0, 'tx-dropped': 0 },
  };
  const lo: Record<string, unknown> = win
    ? { name: 'Loopback Pseudo-Interface 1', 'ip-addresses': [{ 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 }, { 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] }
    : { name: 'lo', 'hardware-address': '00:00:00:00:00:00', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }, { 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 }] };
  return { result: [lo, nic] };
}

/** LXC GET .../interfaces for a running container. */
export function lxcInterfaces(g: Guest, ip: string | null): Record<string, unknown>[] {
  const mac = g.mac.toLowerCase();
  const v6 = linkLocal(g.mac);
  return [
    {
      name: 'lo', hwaddr: '00:00:00:00:00:00', 'hardware-address': '00:00:00:00:00:00', inet: '127.0.0.1/8', inet6: '::1/128',
      'ip-addresses': [{ 'ip-address-type': 'inet', 'ip-address': '127.0.0.1', prefix: 8 }, { 'ip-address-type': 'inet6', 'ip-address': '::1', prefix: 128 }],
    },
    {
      name: 'eth0', hwaddr: mac, 'hardware-address': mac, ...(ip ? { inet: `${ip}/8` } : {}), inet6: `${v6}/64`,
      'ip-addresses': [...(ip ? [{ 'ip-address-type': 'inet', 'ip-address': ip, prefix: 8 }] : []), { 'ip-address-type': 'inet6', 'ip-address': v6, prefix: 64 }],
    },
  ];
}
