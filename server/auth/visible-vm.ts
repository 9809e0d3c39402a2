// Which VM a caller means by a vmid (and maybe a cluster), among the VMs they may see: the one
// lookup behind the VM routes, consoles, provisioning and VM history, so each answers an unknown
// VM and someone else's VM alike.
import type { Vm } from '../../contract/vm.js';
import { forbidden, notFound, type DomainError } from '../../contract/errors.js';
import { onlyMatch, vmsMatching } from '../inventory/resolve.js';
import type { InventoryReader } from '../inventory/reader.js';
import type { Access } from './permissions.js';
import type { SessionUser } from './session.js';

/**
 * The one refusal a non-admin gets for a VM they may not see, whether it exists or not: the same
 * status and words for both, so nobody can probe which cluster/vmid pairs exist.
 */
export function notYourVm(vmid: number, cluster?: string | null, verb = 'use'): DomainError {
  return forbidden(`you may not ${verb} VM ${cluster ? `${cluster}:` : ''}${vmid}`);
}

/**
 * Finds the VM a caller means by vmid (and cluster): 403 unknown or not theirs (the same answer
 * for both, see notYourVm; an admin gets 404 for an unknown one), 409 ambiguous.
 */
export async function resolveVisibleVm(
  deps: { inventory: Pick<InventoryReader, 'get' | 'findByVmid'>; access: Pick<Access, 'canSeeVm'> },
  user: SessionUser, vmid: number, cluster?: string,
): Promise<Vm> {
  const candidates = await vmsMatching(deps.inventory, vmid, cluster);
  if (candidates.length === 0 && user.role === 'admin') throw notFound(cluster ? `VM ${vmid} does not exist on cluster ${cluster}` : `VM ${vmid} does not exist`);
  const vm = onlyMatch(candidates.filter((x) => deps.access.canSeeVm(user, x.cluster, x.vmid)), vmid);
  if (!vm) throw notYourVm(vmid, cluster);
  return vm;
}
