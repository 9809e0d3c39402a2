// Consoles on the wire: the one-time link `POST /api/vm/:vmid/console` answers and who else is
// watching (also pushed as `console:watchers`). The route `satisfies` these types and the
// console page reads them as they are. Types only.
import type { Vm } from './vm.js';

/** Control (keyboard and mouse) or view only (a teacher watching a student's VM). */
export type ConsoleMode = 'control' | 'view';

/** Someone else who has this VM's console open. */
export interface ConsoleWatcher { name: string; mode: ConsoleMode }

/** A one-time console link: where the relay's WebSocket is, and the VNC password noVNC needs. */
export interface ConsoleLink {
  kind: 'vnc' | 'terminal';
  url: string;
  password?: string;
  expiresAt: number;
  mode: ConsoleMode;
  vm: Pick<Vm, 'id' | 'cluster' | 'vmid' | 'name' | 'type' | 'status'>;
  watchers: ConsoleWatcher[];
}
