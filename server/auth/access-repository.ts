// The SQL behind Access: everything the permission snapshot is built from, read in one go. Access
// decides; this module only reads (classes, rosters, pools, assignments, live projector links,
// scopes, and once at start each VM's tags, pool and template flag).
import type { Db } from '../db/index.js';
import type { SnapshotRows } from './permissions.js';
import { splitTags } from '../inventory/row.js';

/** What Access knows of a VM to decide tag and pool entries and scope. */
export interface VmAttrRow { cluster: string; vmid: number; tags: string[]; pool: string | null; template: boolean }

export class AccessRepo {
  constructor(private readonly db: Db) {}

  /** The rows of one permission snapshot; projector links that are revoked or expired at `now` are left out. */
  async snapshotRows(now: number): Promise<SnapshotRows> {
    const [classes, teachers, members, pool, assignments, projectors, scope] = await Promise.all([
      this.db.selectFrom('classes').select(['id', 'name']).execute(),
      this.db.selectFrom('class_teachers').selectAll().execute(),
      this.db.selectFrom('class_members').select(['class_id', 'user_id']).execute(),
      this.db.selectFrom('class_pool').select(['id', 'class_id', 'kind', 'cluster_id', 'vmid', 'value', 'approved']).execute(),
      this.db.selectFrom('vm_assignments').select(['class_id', 'cluster_id', 'vmid', 'user_id']).execute(),
      this.db.selectFrom('projector_links').select(['class_id', 'token_hash', 'expires_at'])
        .where('revoked', '=', 0).where('expires_at', '>', now).execute(),
      this.db.selectFrom('class_scope').select(['class_id', 'cluster_id', 'kind', 'value', 'vmid_min', 'vmid_max']).orderBy('id').execute(),
    ]);
    return { classes, teachers, members, pool, assignments, projectors, scope };
  }

  /** Tags, pool and template flag of every known VM (read once; the change feed keeps them current after). */
  async vmAttrs(): Promise<VmAttrRow[]> {
    const rows = await this.db.selectFrom('vm_inventory').select(['cluster_id', 'vmid', 'tags', 'pool', 'is_template']).execute();
    return rows.map((v) => ({ cluster: v.cluster_id, vmid: v.vmid, tags: splitTags(v.tags), pool: v.pool, template: Boolean(v.is_template) }));
  }
}
