// The API methods a class's provisioning needs beyond the basic guest endpoints: config updates
// (tags, name, description) for qemu and LXC. Kept apart so other endpoint lists merge cleanly.
import type { ServedEndpoint } from './endpoints.js';

export const LIFECYCLE_ENDPOINTS: ServedEndpoint[] = [
  { path: '/nodes/{node}/qemu/{vmid}/config', method: 'PUT' },
  { path: '/nodes/{node}/qemu/{vmid}/config', method: 'POST' },
  { path: '/nodes/{node}/lxc/{vmid}/config', method: 'PUT' },
];
