// The name of this labdeck instance: shown as each cluster's sync leader (GET /api/sync/status,
// the sync monitor) and stored as the holder in sync_leader. Config `instance.name` or env
// LABDECK_INSTANCE; by default the host name and process id, unique on one machine.
import { hostname } from 'node:os';
import type { InstanceConfig } from './config.js';

/** hostname-pid (the default name). */
export function defaultInstanceName(): string {
  return `${hostname()}-${process.pid}`;
}

/** The configured name, or the default. */
export function instanceName(config: { instance?: Partial<InstanceConfig> } | undefined): string {
  return config?.instance?.name ?? defaultInstanceName();
}
