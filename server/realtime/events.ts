// The socket.io events of labdeck (contract/events.ts, shared with the browser) and what the
// server keeps on each socket.
import type { SessionUser } from '../auth/session.js';

export type {
  Ack, ClientToServer, ClusterStalePush, ServerToClient, SyncAlertPush, VmChangedPush, VmRemovedPush,
} from '../../contract/events.js';

export interface SocketData {
  user: SessionUser | null;
  /** SHA-256 of the projector token, for projector sockets. */
  projectorHash: string | null;
  projectorToken: string | null;
  cookie: string | undefined;
  /** The viewer group (set of rooms) this socket belongs to. */
  group: string;
}
