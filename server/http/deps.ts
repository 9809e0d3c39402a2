// Everything the routes use, built once by the composition root (server.ts).
import type { AppConfig } from '../config.js';
import type { Access } from '../auth/permissions.js';
import type { AuditLog } from '../auth/audit-log.js';
import type { Sessions } from '../auth/session.js';
import type { LoginThrottle } from '../auth/throttle.js';
import type { UsersRepo } from '../auth/users.js';
import type { ClassesService } from '../classes/service.js';
import type { InventoryReader } from '../inventory/reader.js';
import type { SyncControl } from '../sync/control.js';
import type { PowerActions } from '../actions/power.js';
import type { ReadModel } from '../inventory/read-model.js';

export interface ApiDeps {
  config: AppConfig;
  users: UsersRepo;
  sessions: Sessions;
  throttle: LoginThrottle;
  access: Access;
  audit: AuditLog;
  classes: ClassesService;
  power: PowerActions;
  sync: SyncControl;
  inventory: InventoryReader;
  /** The in-memory live inventory `GET /api/vms` answers from; without it, the database answers. */
  reads?: ReadModel;
  /** Directory of the built client (index.html + assets); null serves no static files. */
  staticRoot: string | null;
}
