// Which VM a caller means by a vmid (and maybe a cluster): the one lookup behind the VM routes,
// consoles, provisioning and class pools. Who may see the result is the caller's decision.
import type { Vm } from '../../contract/vm.js';
import { conflict } from '../../contract/errors.js';
import type { InventoryReader } from './reader.js';

/** The live VMs a vmid may mean: the one on `cluster`, or every cluster's (none, one or several). */
export async function vmsMatching(inventory: Pick<InventoryReader, 'get' | 'findByVmid'>, vmid: number, cluster?: string): Promise<Vm[]> {
  if (!cluster) return inventory.findByVmid(vmid);
  const vm = await inventory.get(cluster, vmid);
  return vm ? [vm] : [];
}

/** The one VM a vmid meant, or 409 naming the clusters to choose from; undefined when none. */
export function onlyMatch(vms: readonly Vm[], vmid: number): Vm | undefined {
  if (vms.length > 1) throw conflict(`VM ${vmid} exists on clusters ${vms.map((x) => x.cluster).join(', ')}: add ?cluster=`);
  return vms[0];
}
