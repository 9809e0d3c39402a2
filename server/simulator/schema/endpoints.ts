// The Proxmox VE API methods the simulator serves: the one list that both the schema extractor
// and the router read, so the committed schema subset always covers exactly what is served.
import { LIFECYCLE_ENDPOINTS } from './lifecycle-endpoints.js';

/** One served API method: schema path template (as in pve-api-schema.json) and HTTP method. */
export interface ServedEndpoint {
  path: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
}

const guestEndpoints = (kind: 'qemu' | 'lxc'): ServedEndpoint[] => {
  const base = `/nodes/{node}/${kind}/{vmid}`;
  const actions = ['start', 'stop', 'shutdown', 'reboot', 'suspend', 'resume', ...(kind === 'qemu' ? ['reset'] : [])];
  return [
    { path: `/nodes/{node}/${kind}`, method: 'GET' },
    { path: base, method: 'DELETE' },
    { path: `${base}/status/current`, method: 'GET' },
    ...actions.map((a): ServedEndpoint => ({ path: `${base}/status/${a}`, method: 'POST' })),
    { path: `${base}/config`, method: 'GET' },
    { path: `${base}/clone`, method: 'POST' },
    { path: `${base}/snapshot`, method: 'GET' },
    { path: `${base}/snapshot`, method: 'POST' },
    { path: `${base}/snapshot/{snapname}/rollback`, method: 'POST' },
  ];
};

/** Every method the simulator answers; anything else gets the real 501. */
export const SERVED_ENDPOINTS: ServedEndpoint[] = [
  { path: '/version', method: 'GET' },
  { path: '/cluster/status', method: 'GET' },
  { path: '/cluster/resources', method: 'GET' },
  { path: '/cluster/tasks', method: 'GET' },
  { path: '/cluster/nextid', method: 'GET' },
  { path: '/nodes', method: 'GET' },
  { path: '/nodes/{node}/tasks/{upid}/status', method: 'GET' },
  ...guestEndpoints('qemu'),
  { path: '/nodes/{node}/qemu/{vmid}/agent/network-get-interfaces', method: 'GET' },
  { path: '/nodes/{node}/qemu/{vmid}/vncproxy', method: 'POST' },
  { path: '/nodes/{node}/qemu/{vmid}/vncwebsocket', method: 'GET' },
  ...guestEndpoints('lxc'),
  { path: '/nodes/{node}/lxc/{vmid}/interfaces', method: 'GET' },
  { path: '/nodes/{node}/lxc/{vmid}/termproxy', method: 'POST' },
  { path: '/nodes/{node}/lxc/{vmid}/vncwebsocket', method: 'GET' },
  { path: '/access/ticket', method: 'GET' },
  { path: '/access/ticket', method: 'POST' },
  { path: '/access/users', method: 'GET' },
  { path: '/access/users/{userid}', method: 'GET' },
  { path: '/access/permissions', method: 'GET' },
  ...LIFECYCLE_ENDPOINTS,
];
