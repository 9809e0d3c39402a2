// The typed path builder the PVE client uses (server/pve/paths.ts) sends what proxmox-api's own
// builder sends: the same method, path and template for the same chain of steps.
import { describe, expect, it } from 'vitest';
import { proxmoxApi, type ApiRequestable } from 'proxmox-api';
import { typedPaths } from '../../server/pve/paths.js';

function recorder(): ApiRequestable & { calls: unknown[][] } {
  const calls: unknown[][] = [];
  return { calls, doRequest: async (...args: unknown[]) => { calls.push(args); return { ok: true }; } } as never;
}

describe('typed PVE paths', () => {
  it('builds the same requests as proxmox-api for the calls the client makes', async () => {
    const ours = recorder();
    const theirs = recorder();
    for (const [engine, api] of [[ours, typedPaths(ours)], [theirs, proxmoxApi(theirs)]] as const) {
      expect(await api.cluster.resources.$get()).toEqual({ ok: true });
      await api.nodes.$('pve1').qemu.$(101).status.start.$post();
      await api.nodes.$('pve1').lxc.$(200).config.$put({ description: 'x' });
      await api.nodes.$('pve1').tasks.$('UPID:pve1:0000/1:x').status.$get();
      await api.nodes.$('pve1').qemu.$(101).agent['network-get-interfaces'].$get();
      await api.access.ticket.$post({ username: 'u@pve', password: 'p' });
      await api.nodes.$('pve1').qemu.$(102).$delete({ purge: true });
      expect(engine.calls).toHaveLength(7);
    }
    expect(ours.calls).toEqual(theirs.calls);
    expect(ours.calls[1]).toEqual(['post', '/api2/json/nodes/pve1/qemu/101/status/start', '/api2/json/nodes/*/qemu/*/status/start', undefined]);
    expect(ours.calls[3][1]).toBe('/api2/json/nodes/pve1/tasks/UPID:pve1:0000%2F1:x/status');
  });

  it('is not a thenable, so a path can be passed around and awaited by mistake safely', async () => {
    const api = typedPaths(recorder());
    const node = api.nodes.$('pve1');
    expect(typeof (node as unknown as { then?: unknown }).then).not.toBe('function');
  });
});
