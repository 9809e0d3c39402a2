// Guest details /cluster/resources lacks: config (MAC, ostype → category), IPv4 from the agent or
// LXC interfaces, and a short TCP probe of RDP/SSH. Only for the guests a pass asks about.
import type { GuestDetails } from '../inventory/diff.js';
import type { PveClient } from '../pve/client.js';
import { PveError } from '../pve/errors.js';
import type { GuestType } from '../pve/normalise.js';
import { probeTcp } from '../pve/probe.js';
import { mapLimit } from '../limit.js';

export interface DetailOptions { concurrency: number; probePorts: boolean; probeTimeoutMs?: number }
export interface DetailTarget { vmid: number; node: string; type: GuestType; status: string }

/**
 * A detail call's failure as the VM's sync error, which everyone who sees the VM reads (students
 * too): Proxmox's own answer about the guest ("QEMU guest agent is not running") is kept, but no
 * connection error, whose text names the cluster's host and port.
 */
export function detailError(err: unknown): string {
  if (!(err instanceof PveError)) return 'labdeck could not read it';
  switch (err.kind) {
    case 'http': return err.reason.slice(0, 200);
    case 'timeout': return 'Proxmox did not answer in time';
    case 'invalid-response': return 'Proxmox answered something labdeck cannot read';
    default: return 'Proxmox could not be reached';
  }
}
const message = detailError;

/** Probes RDP and SSH on an address (both at once). */
export async function probeGuest(ip: string, timeoutMs = 600): Promise<{ rdp: boolean; ssh: boolean }> {
  const [rdp, ssh] = await Promise.all([probeTcp(ip, 3389, timeoutMs), probeTcp(ip, 22, timeoutMs)]);
  return { rdp, ssh };
}

/** The address of a running guest plus probes; errors become ip_reason 'error' and a sync_error. */
export async function addressDetails(client: PveClient, t: DetailTarget, opts: DetailOptions): Promise<GuestDetails> {
  if (t.status !== 'running') return {};
  try {
    const address = await client.guestAddress(t.node, t.type, t.vmid);
    const d: GuestDetails = { address, error: null };
    if (address.ip && opts.probePorts) Object.assign(d, await probeGuest(address.ip, opts.probeTimeoutMs));
    return d;
  } catch (err) {
    return { address: { ip: null, reason: 'error' }, error: `address: ${message(err)}` };
  }
}

/** Config + address + probes for each target, `concurrency` guests at a time. */
export async function fetchDetails(client: PveClient, targets: readonly DetailTarget[], opts: DetailOptions): Promise<Map<number, GuestDetails>> {
  const results = await mapLimit(targets, opts.concurrency, async (t): Promise<[number, GuestDetails]> => {
    const d: GuestDetails = { error: null };
    try {
      d.config = await client.guestConfig(t.node, t.type, t.vmid);
    } catch (err) {
      d.error = `config: ${message(err)}`;
    }
    const a = await addressDetails(client, t, opts);
    Object.assign(d, a, { error: d.error ?? a.error ?? null });
    return [t.vmid, d];
  });
  return new Map(results);
}
