// The one place provisioning asks "may this class use this cluster, template, pool or VM?" and
// "where must its new VMs go to stay inside its scope?". Every provisioning, picker, revert and
// remove decision goes through it.

/** What a class wants to use (the shape the class scope decides on). */
export interface ScopeTarget {
  cluster: string;
  vmid?: number;
  tags?: readonly string[];
  pool?: string | null;
  template?: boolean;
  /** 'pool': a class VM; 'clone-source': a template to clone from. */
  use?: 'pool' | 'clone-source';
}

export type ScopeDecision = { allowed: true } | { allowed: false; reason: string };

/** Where a class's new VMs must land to stay in its scope. */
export interface Placement {
  /** A Proxmox pool the clones go into. */
  pool: string | null;
  /** A vmid range they must take their ids from. */
  range: { min: number; max: number } | null;
}

export interface ScopeGate {
  decide(classId: number, target: ScopeTarget): ScopeDecision;
  placement(classId: number, cluster: string): Placement;
}

/**
 * Until classes carry an admin-defined scope, a class may use what a teacher can already add to
 * its pool by id: anything on a configured cluster; templates only as clone sources.
 */
export function openScope(clusters: () => string[]): ScopeGate {
  return {
    decide(_classId, t) {
      if (!clusters().includes(t.cluster)) return { allowed: false, reason: `cluster ${t.cluster} is not configured` };
      if (t.template && t.use !== 'clone-source') return { allowed: false, reason: `VM ${t.cluster}:${t.vmid} is a template; templates are cloned from, never handed out as class VMs` };
      return { allowed: true };
    },
    placement: () => ({ pool: null, range: null }),
  };
}
