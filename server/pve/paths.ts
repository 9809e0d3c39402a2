// proxmox-api's typed path builder (`api.nodes.$(node).qemu.$(vmid).status.start.$post()`) without
// loading the package at run time: only its types are used (`Proxmox.Api`). The package's own entry
// point also loads its HTTP engine, which brings a second, older copy of undici (~5 MB of heap);
// our requests go through PveHttp (http.ts) anyway.
//
// Each property step appends a path segment (a leading `_` is dropped, for segments that are not
// identifiers); `$(id)` appends an id with `/` escaped; `$get/$post/$put/$delete(params)` sends the
// request for the path built so far.
import type { ApiRequestable, Proxmox } from 'proxmox-api';

export function typedPaths(engine: ApiRequestable, base = '/api2/json'): Proxmox.Api {
  const step = (path: string, template: string): unknown => new Proxy(Object.create(null) as object, {
    get(_target, key) {
      if (typeof key === 'symbol') return undefined;
      if (key === '$') return (id: string | number) => step(`${path}/${String(id).replace(/\//g, '%2F')}`, `${template}/*`);
      if (key.startsWith('$')) {
        const method = key.slice(1);
        return (params?: Record<string, unknown>) => engine.doRequest(method, path, template, params);
      }
      const segment = key.startsWith('_') ? key.slice(1) : key;
      return step(`${path}/${segment}`, `${template}/${segment}`);
    },
  });
  return step(base, base) as Proxmox.Api;
}
