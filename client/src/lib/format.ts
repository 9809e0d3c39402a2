// Pure presentation helpers: status words and tones, ages, sizes, percentages.
import type { Vm, VmStatus, IpReason } from '../../../contract/vm.js';

export type Tone = 'ok' | 'off' | 'busy' | 'warn' | 'bad';

const STATUS: Record<VmStatus, { label: string; tone: Tone }> = {
  running: { label: 'Running', tone: 'ok' },
  stopped: { label: 'Stopped', tone: 'off' },
  paused: { label: 'Paused', tone: 'warn' },
  suspended: { label: 'Suspended', tone: 'warn' },
  unknown: { label: 'Unknown', tone: 'bad' },
  starting: { label: 'Starting…', tone: 'busy' },
  stopping: { label: 'Stopping…', tone: 'busy' },
  'shutting-down': { label: 'Shutting down…', tone: 'busy' },
  rebooting: { label: 'Rebooting…', tone: 'busy' },
};

/** The words and colour tone for a VM status. */
export function statusInfo(status: VmStatus | string): { label: string; tone: Tone } {
  return STATUS[status as VmStatus] ?? { label: String(status), tone: 'bad' };
}

/** True while a power action is under way (the contract's pending states, shown as "busy"). */
export { isPending } from '../../../contract/vm.js';

/** A VM is a "problem" for class counts when its state is unknown, its sync failed or it is locked. */
export function isProblem(vm: Pick<Vm, 'status' | 'syncError' | 'stale'>): boolean {
  return vm.status === 'unknown' || vm.status === 'paused' || vm.status === 'suspended' || !!vm.syncError || vm.stale;
}

const IP_REASON: Record<IpReason, string> = {
  stopped: 'no address while stopped',
  'no-agent': 'this VM does not report its address',
  'agent-not-running': 'starting up, address soon',
  'no-address': 'waiting for an address',
  'not-checked': 'address not known yet',
  error: 'address unknown (Proxmox did not say)',
};

/** The IP, or a short reason why there is none. */
export function ipText(vm: Pick<Vm, 'ip' | 'ipReason'>): string {
  if (vm.ip) return vm.ip;
  return vm.ipReason ? IP_REASON[vm.ipReason] ?? vm.ipReason : 'no IP';
}

/** "5 s ago", "3 min ago", "2 h ago", "4 d ago". */
export function ago(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

/** "in 12 s" / "now" for a time in the future. */
export function until(ms: number | null | undefined, now = Date.now()): string {
  if (ms === null || ms === undefined) return '—';
  const s = Math.round((ms - now) / 1000);
  if (s <= 0) return 'now';
  if (s < 90) return `in ${s} s`;
  return `in ${Math.round(s / 60)} min`;
}

/** Clock time HH:MM:SS in the browser's locale. */
export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** Bytes as GiB/MiB. */
export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 === 0 ? 0 : 1)} GiB`;
  return `${Math.round(n / 1024 ** 2)} MiB`;
}

/** A 0..1 fraction as a whole percent, or a dash. */
export function percent(f: number | null | undefined): string {
  return f === null || f === undefined ? '—' : `${Math.round(f * 100)} %`;
}

/** The SSH command for a VM, or null when it has no address. */
export function sshCommand(vm: Pick<Vm, 'ip'>, user = 'student'): string | null {
  if (!vm.ip) return null;
  return `ssh ${user}@${vm.ip}`;
}
