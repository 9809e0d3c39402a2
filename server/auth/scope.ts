// Class scope: what an admin lets a class draw its VMs from. Kept next to the permissions it feeds
// (a class's VMs are those its scope holds), so auth/ imports nothing of classes/. A scope is a list
// of rules, each on one cluster (a vmid alone, a tag alone, a pool alone are ambiguous across
// clusters): the whole cluster, one Proxmox pool, one tag, or a vmid range. `decideScope` is the
// one pure decision: may this class take this VM, tag or pool? Templates are never taken as class
// VMs (only as the source of a clone, which provisioning asks for with `use: 'clone-source'`).

import type { ScopeRule } from '../../contract/classes.js';

export type { ScopeRule };

/**
 * What a class wants to take. A VM: `vmid` with its `tags`, `pool` and `template` flag as the
 * inventory has them. A tag entry: `tag` alone. A Proxmox pool entry: `pool` alone.
 */
export interface ScopeTarget {
  cluster: string;
  vmid?: number;
  /** A tag entry's tag. */
  tag?: string;
  /** A VM's tags (a VM is in scope when one of them is a scope tag). */
  tags?: readonly string[];
  /** A pool entry's pool, or a VM's Proxmox pool. */
  pool?: string | null;
  template?: boolean;
  /** 'pool' (default): a class VM or pool entry; 'clone-source': a template to clone from. */
  use?: 'pool' | 'clone-source';
}

export type ScopeDecision = { allowed: true } | { allowed: false; reason: string };

/** One rule in plain words ("all of lab-a", "lab-b vmids 200-299"). */
export function describeRule(r: ScopeRule): string {
  switch (r.kind) {
    case 'cluster': return `all of ${r.cluster}`;
    case 'pool': return `${r.cluster} pool ${r.pool}`;
    case 'tag': return `${r.cluster} tag ${r.tag}`;
    case 'range': return r.min === r.max ? `${r.cluster} vmid ${r.min}` : `${r.cluster} vmids ${r.min}-${r.max}`;
  }
}

/** What the scope allows, for messages ("this class may use: all of lab-a; lab-b pool net1"). */
export function describeScope(rules: readonly ScopeRule[]): string {
  if (rules.length === 0) return 'this class has no scope yet: an admin must give it clusters, pools, tags or vmid ranges';
  return `this class may use: ${rules.map(describeRule).join('; ')}`;
}

function ruleHoldsVm(r: ScopeRule, t: ScopeTarget & { vmid: number }): boolean {
  switch (r.kind) {
    case 'cluster': return true;
    case 'range': return t.vmid >= r.min && t.vmid <= r.max;
    case 'pool': return t.pool === r.pool;
    case 'tag': return (t.tags ?? []).includes(r.tag);
  }
}

function ruleHoldsEntry(r: ScopeRule, t: ScopeTarget): boolean {
  if (r.kind === 'cluster') return true;
  if (t.tag !== undefined) return r.kind === 'tag' && r.tag === t.tag;
  return r.kind === 'pool' && r.pool === t.pool;
}

/** Whether the scope lets a class take the target, or why not (in words a teacher can act on). */
export function decideScope(rules: readonly ScopeRule[], target: ScopeTarget): ScopeDecision {
  const what = target.vmid !== undefined ? `VM ${target.cluster}:${target.vmid}`
    : target.tag !== undefined ? `tag ${target.tag} on ${target.cluster}` : `pool ${target.pool ?? ''} on ${target.cluster}`;
  if (target.vmid !== undefined && target.template && target.use !== 'clone-source') {
    return { allowed: false, reason: `${what} is a template; templates are cloned from, never handed out as class VMs` };
  }
  const onCluster = rules.filter((r) => r.cluster === target.cluster);
  const vm = target.vmid !== undefined ? { ...target, vmid: target.vmid } : null;
  const ok = onCluster.some((r) => (vm ? ruleHoldsVm(r, vm) : ruleHoldsEntry(r, target)));
  if (ok) return { allowed: true };
  return { allowed: false, reason: `${what} is outside this class's scope; ${describeScope(rules)}` };
}

/** Whether a VM (as the inventory has it) is inside the scope; the permission checks use this. */
export function scopeHoldsVm(rules: readonly ScopeRule[], cluster: string, vmid: number, attrs: { tags: readonly string[]; pool: string | null; template?: boolean } | undefined): boolean {
  if (attrs?.template) return false;
  for (const r of rules) {
    if (r.cluster !== cluster) continue;
    if (r.kind === 'cluster' || r.kind === 'range') {
      if (ruleHoldsVm(r, { cluster, vmid })) return true;
    } else if (attrs && ruleHoldsVm(r, { cluster, vmid, tags: attrs.tags, pool: attrs.pool })) return true;
  }
  return false;
}
