// Pure filtering, searching and sorting of VM lists (the all-VMs table, the class pool).
import type { Vm } from '../../../contract/vm.js';
import { searchNeedle, vmMatchesText } from '../../../contract/vm-search.js';

export type SortKey = 'name' | 'vmid' | 'cluster' | 'node' | 'status' | 'ip' | 'cpu' | 'memory' | 'lastUpdated';

export interface VmQuery {
  q?: string;
  status?: string;
  cluster?: string;
  type?: string;
  sort?: SortKey;
  dir?: 'asc' | 'desc';
}

/**
 * True when the VM matches the free-text search (contract/vm-search.ts says what that means), or
 * `owner` (the student it is assigned to) contains it.
 */
export function matchesText(vm: Vm, q: string, owner?: string): boolean {
  return vmMatchesText(vm, searchNeedle(q), owner === undefined ? [] : [owner]);
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

function compare(a: Vm, b: Vm, key: SortKey): number {
  switch (key) {
    case 'vmid': return a.vmid - b.vmid;
    case 'cpu': return (a.cpu ?? -1) - (b.cpu ?? -1);
    case 'memory': return (a.memory ?? -1) - (b.memory ?? -1);
    case 'lastUpdated': return a.lastUpdated - b.lastUpdated;
    case 'ip': return collator.compare(a.ip ?? '', b.ip ?? '');
    default: return collator.compare(String(a[key]), String(b[key]));
  }
}

/** Filters and sorts; ties fall back to cluster then vmid so the order is stable. `ownerOf` names who a VM is assigned to, for the search. */
export function queryVms(vms: Iterable<Vm>, query: VmQuery, ownerOf?: (vm: Vm) => string | undefined): Vm[] {
  const out: Vm[] = [];
  for (const vm of vms) {
    if (query.status && vm.status !== query.status) continue;
    if (query.cluster && vm.cluster !== query.cluster) continue;
    if (query.type && vm.type !== query.type) continue;
    if (query.q && !matchesText(vm, query.q, ownerOf?.(vm))) continue;
    out.push(vm);
  }
  const key = query.sort ?? 'name';
  const sign = query.dir === 'desc' ? -1 : 1;
  out.sort((a, b) => sign * compare(a, b, key) || collator.compare(a.cluster, b.cluster) || a.vmid - b.vmid);
  return out;
}

/** The rows of a virtualised list to render for a scroll position. */
export function visibleWindow(total: number, scrollTop: number, viewport: number, rowHeight: number, overscan = 8): { start: number; end: number } {
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - overscan);
  const end = Math.min(total, Math.ceil((scrollTop + viewport) / rowHeight) + overscan);
  return { start, end: Math.max(start, end) };
}
