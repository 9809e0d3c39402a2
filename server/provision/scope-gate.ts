// The one place provisioning asks "may this class use this cluster, template or VM?" and "where
// must its new VMs go to stay inside its scope?", over the admin-defined class scope
// (server/auth/scope.ts). Every provisioning, picker, revert and remove decision goes through it.
import type { Access } from '../auth/permissions.js';
import { decideScope, type ScopeDecision, type ScopeRule, type ScopeTarget } from '../auth/scope.js';

export type { ScopeDecision, ScopeTarget } from '../auth/scope.js';

/** Where a class's new VMs must land to stay in its scope. */
export interface Placement {
  /** A Proxmox pool the clones go into. */
  pool: string | null;
  /** A tag they get. */
  tag: string | null;
  /** A vmid range they take their ids from. */
  range: { min: number; max: number } | null;
}

export interface ScopeGate {
  /** The scope's decision; admins are not bound by it. */
  decide(classId: number, target: ScopeTarget, admin?: boolean): ScopeDecision;
  placement(classId: number, cluster: string): Placement;
}

/**
 * Where clones land so that the scope holds them (pure): nowhere special when the whole cluster
 * is in scope, else into the first scope pool, else the first vmid range, else with the first tag.
 */
export function placementFor(rules: readonly ScopeRule[], cluster: string): Placement {
  const on = rules.filter((r) => r.cluster === cluster);
  const none: Placement = { pool: null, tag: null, range: null };
  if (on.length === 0 || on.some((r) => r.kind === 'cluster')) return none;
  for (const r of on) if (r.kind === 'pool') return { ...none, pool: r.pool };
  for (const r of on) if (r.kind === 'range') return { ...none, range: { min: r.min, max: r.max } };
  for (const r of on) if (r.kind === 'tag') return { ...none, tag: r.tag };
  return none;
}

/** The gate over the classes' scopes as Access holds them. */
export function classScope(access: Access, clusters: () => string[]): ScopeGate {
  return {
    decide(classId, t, admin = false) {
      if (!clusters().includes(t.cluster)) return { allowed: false, reason: `cluster ${t.cluster} is not configured` };
      if (admin) {
        if (t.template && t.use !== 'clone-source') return { allowed: false, reason: `VM ${t.cluster}:${t.vmid} is a template; templates are cloned from, never handed out as class VMs` };
        return { allowed: true };
      }
      return decideScope(access.scopeOf(classId), t);
    },
    placement: (classId, cluster) => placementFor(access.scopeOf(classId), cluster),
  };
}
