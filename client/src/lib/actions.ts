// Power actions from the client: one VM, or many with a result per VM.
import { apiPost, qs } from './api.js';
import type { Vm } from '../../../server/inventory/vm.js';

export type PowerAction = 'start' | 'stop' | 'shutdown' | 'reboot';

/** Asks the server to act on one VM; resolves when the server accepted (200 or 202). */
export async function powerAction(vm: Pick<Vm, 'cluster' | 'vmid'>, action: PowerAction): Promise<void> {
  await apiPost(`/api/vm/${vm.vmid}/${action}${qs({ cluster: vm.cluster })}`);
}

/** Acts on many VMs with bounded concurrency, reporting each outcome as it lands. */
export async function powerMany(
  vms: Array<Pick<Vm, 'id' | 'cluster' | 'vmid'>>,
  action: PowerAction,
  onResult: (id: string, ok: boolean, message: string) => void,
  concurrency = 4,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < vms.length) {
      const vm = vms[next++];
      try {
        await powerAction(vm, action);
        onResult(vm.id, true, 'sent');
      } catch (err) {
        onResult(vm.id, false, (err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, vms.length) }, worker));
}
