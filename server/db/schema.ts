// Table types for Kysely: the one source of truth for row shapes. Each migration's owner adds its tables.
import type { Generated } from 'kysely';
import type { JobState, JobVmState } from '../../contract/provision.js';
import type { Role } from '../../contract/users.js';
import type { VmType } from '../../contract/vm.js';

export interface VmInventoryTable {
  cluster_id: string;
  vmid: number;
  name: string;
  node: string;
  type: VmType;
  status: string;
  started_at: number | null;
  cpu_usage: number | null;
  memory_usage: number | null;
  ip: string | null;
  ip_reason: string | null;
  mac_address: string | null;
  rdp_available: number | null;
  ssh_available: number | null;
  memory: number | null;
  cores: number | null;
  disk_size: number | null;
  is_template: number;
  /** ';'-joined, sorted, as Proxmox writes them. */
  tags: string;
  category: string;
  ostype: string | null;
  pool: string | null;
  lock: string | null;
  last_updated: number;
  last_seen: number | null;
  last_status_check: number | null;
  sync_error: string | null;
  revision: number;
  deleted: number;
}

export interface RevisionCounterTable { id: number; value: number }

export interface ClusterStateTable {
  cluster_id: string;
  last_success_at: number | null;
  last_full_at: number | null;
  last_quick_at: number | null;
  last_error: string | null;
  last_error_at: number | null;
  consecutive_failures: number;
  error_count: number;
}

export interface SyncRunsTable {
  id: Generated<number>;
  cluster_id: string;
  kind: string;
  started_at: number;
  duration_ms: number;
  guests_seen: number;
  rows_changed: number;
  requests: number;
  error: string | null;
}

export interface VmEventsTable {
  id: Generated<number>;
  cluster_id: string;
  vmid: number;
  at: number;
  kind: string;
  from_value: string | null;
  to_value: string | null;
  detail: string | null;
}

// --- 010_access (api helper): users, classes, links, audit ---
export type { Role };

export interface UsersTable {
  id: Generated<number>;
  username: string;
  display_name: string;
  role: Role;
  /** scrypt hash; null for users who sign in through Proxmox. */
  password_hash: string | null;
  /** 'local' or 'pve:<cluster>'. */
  source: string;
  /** Bumped to end every session of the user (sign-out, password change, disable). */
  session_version: Generated<number>;
  disabled: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface ClassesTable { id: Generated<number>; name: string; created_by: number | null; created_at: number }
export interface ClassTeachersTable { class_id: number; user_id: number; is_owner: number }
export interface ClassMembersTable { class_id: number; user_id: number; joined_at: number }

export interface ClassPoolTable {
  id: Generated<number>;
  class_id: number;
  /** 'vm' (cluster_id + vmid), 'tag' or 'pool' (value; cluster_id null = any cluster). */
  kind: 'vm' | 'tag' | 'pool';
  cluster_id: string | null;
  vmid: number | null;
  value: string | null;
  added_at: number;
  /** 1 when an admin added it (or it predates scopes): it holds its VMs whatever the class's scope. */
  approved: Generated<number>;
}

// --- 030_class_scope: what a class may draw from, removals that stick ---
export type ScopeKind = 'cluster' | 'pool' | 'tag' | 'range';

export interface ClassScopeTable {
  id: Generated<number>;
  class_id: number;
  cluster_id: string;
  kind: ScopeKind;
  /** Pool or tag name. */
  value: string | null;
  vmid_min: number | null;
  vmid_max: number | null;
  created_by: number | null;
  created_at: number;
}

export interface ClassRemovalsTable { class_id: number; user_id: number; removed_at: number }

export interface VmAssignmentsTable { class_id: number; cluster_id: string; vmid: number; user_id: number; assigned_at: number }

export interface LinkTable {
  id: Generated<number>;
  class_id: number;
  token_hash: string;
  created_by: number | null;
  created_at: number;
  expires_at: number;
  revoked: Generated<number>;
  uses: Generated<number>;
  /** Invites only (030): how many enrolments the link allows; null = no limit. */
  max_uses?: number | null;
  /** The token sealed with the server's key (AES-GCM), so its teachers can copy the link again; null for older links. */
  token_sealed: string | null;
}

export interface ConsoleTokensTable {
  token_hash: string;
  user_id: number;
  cluster_id: string;
  vmid: number;
  /** 'control' | 'view'. */
  mode: string;
  created_at: number;
  expires_at: number;
  used: Generated<number>;
}

export interface AuditLogTable {
  id: Generated<number>;
  at: number;
  user_id: number | null;
  username: string | null;
  action: string;
  /** 'vm' | 'class' | 'user' | 'sync' | 'session'. */
  target: string;
  cluster_id: string | null;
  vmid: number | null;
  class_id: number | null;
  /** 'ok' | 'failed' | 'pending' | 'denied'. */
  outcome: string;
  detail: string | null;
  /** The Proxmox task (UPID) a power action's entry waits for; null for others. */
  task: string | null;  /** How many targets one entry stands for (a refused bulk request); null = one. */
  count: number | null;
}

/** One row readiness rewrites to prove the database takes writes. */
export interface HealthProbeTable {
  id: number;
  at: number;
}

export interface AlertEventsTable {
  id: Generated<number>;
  cluster_id: string;
  kind: 'down' | 'recovered';
  at: number;
  reason: string;
  /** JSON {channel: "ok" | "error: ..." | "pending"}. */
  deliveries: string;
}

/** A provisioning job (server/provision): clones of one template for one class. */
export interface ProvisionJobsTable {
  id: Generated<number>;
  class_id: number;
  cluster_id: string;
  template_vmid: number;
  template_type: VmType;
  template_node: string;
  template_name: string;
  count: number;
  name_prefix: string;
  full_clone: number;
  baseline: number;
  pve_pool: string | null;
  scope_tag: string | null;
  state: JobState;
  cancel_requested: number;
  created_by: number | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
  /** The instance running the job (migration 173); null when none claimed it yet or its owner let go. */
  owner: string | null;
  /** When the owner last renewed its lease (ms). */
  renewed_at: number | null;
}

/** One VM a provisioning job makes (or made): the record of what labdeck created for a class. */
export interface ProvisionVmsTable {
  id: Generated<number>;
  job_id: number;
  class_id: number;
  cluster_id: string;
  idx: number;
  name: string;
  vmid: number | null;
  node: string | null;
  type: VmType;
  state: JobVmState;
  upid: string | null;
  error: string | null;
  attempts: number;
  assign_user_id: number | null;
  has_baseline: number;
  updated_at: number;
  /** 140_reclone: the row of the VM this one re-creates (removed first); null for a plain clone. */
  replaces_id: number | null;
}

/** Several instances on one PostgreSQL database: each cluster's sync leader and its epoch (migration 171). */
export interface SyncLeaderTable {
  cluster_id: string;
  holder: string;
  epoch: number;
  renewed_at: number;
  status: string | null;
}

export interface Database {
  vm_inventory: VmInventoryTable;
  revision_counter: RevisionCounterTable;
  cluster_state: ClusterStateTable;
  sync_runs: SyncRunsTable;
  vm_events: VmEventsTable;
  users: UsersTable;
  classes: ClassesTable;
  class_teachers: ClassTeachersTable;
  class_members: ClassMembersTable;
  class_pool: ClassPoolTable;
  vm_assignments: VmAssignmentsTable;
  invites: LinkTable;
  projector_links: LinkTable;
  audit_log: AuditLogTable;
  alert_events: AlertEventsTable;
  class_scope: ClassScopeTable;
  class_removals: ClassRemovalsTable;
  console_tokens: ConsoleTokensTable;
  provision_jobs: ProvisionJobsTable;
  provision_vms: ProvisionVmsTable;
  health_probe: HealthProbeTable;
  sync_leader: SyncLeaderTable;
}
