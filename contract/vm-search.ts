// What a free-text VM search means, everywhere it is offered (the VM list's `q`, the all-VMs
// table, the class page, the provisioning picker): a part of the name, a tag, the node or the
// Proxmox pool, or the start of the vmid or the IP address; case does not matter. The SQL of
// InventoryRepo.list says the same in SQL (its tests hold both to this function).
import type { Vm } from './vm.js';

/** The search text as it is compared: trimmed, lower-case (empty: everything matches). */
export const searchNeedle = (q: string | undefined): string => (q ?? '').trim().toLowerCase();

/** True when the VM matches `needle` (from searchNeedle); `extra` are more texts to search, such as the student a VM is assigned to. */
export function vmMatchesText(vm: Pick<Vm, 'name' | 'vmid' | 'ip' | 'node' | 'pool' | 'tags'>, needle: string, extra: readonly string[] = []): boolean {
  if (!needle) return true;
  return vm.name.toLowerCase().includes(needle)
    || String(vm.vmid).startsWith(needle)
    || (vm.ip ?? '').toLowerCase().startsWith(needle)
    || vm.node.toLowerCase().includes(needle)
    || (vm.pool ?? '').toLowerCase().includes(needle)
    || vm.tags.some((t) => t.toLowerCase().includes(needle))
    || extra.some((x) => x.toLowerCase().includes(needle));
}
