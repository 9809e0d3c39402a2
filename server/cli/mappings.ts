// `labdeck import-mappings <file> --class <id|name>`: reads a legacy mappings.json
// ({"username": [vmid, ...]}) and shows what matches. A dry run plans against the database
// directly (nothing is written); --apply sends it to the running server, which applies it
// (so its permission caches and connected browsers learn of the new assignments at once).
import { readFile } from 'node:fs/promises';
import * as v from 'valibot';
import type { AppConfig } from '../config.js';
import type { Db } from '../db/index.js';
import { MappingsSchema, planMappingsImport, type MappingsReport } from '../classes/mappings-import.js';
import { ClassesRepo } from '../classes/repository.js';
import { UsersRepo } from '../auth/users.js';
import { Access } from '../auth/permissions.js';
import { AccessFeed } from '../auth/access-feed.js';
import { vmKey } from '../../contract/vm.js';
import { callServer, type ServerTarget } from './server-api.js';
import { UsageError } from './usage-error.js';

const Key = { username: v.string(), cluster: v.string(), vmid: v.number() };
/** The server's answer to an import, as the CLI reads it (anything else is reported as unexpected). */
const ImportAnswer = v.object({
  report: v.object({
    assigned: v.array(v.object(Key)),
    alreadyAssigned: v.array(v.object(Key)),
    unknownUsers: v.array(v.string()),
    notStudents: v.array(v.string()),
    unknownVms: v.array(v.object({ username: v.string(), vmid: v.number() })),
    ambiguous: v.array(v.object({ username: v.string(), vmid: v.number(), clusters: v.array(v.string()) })),
    takenByOther: v.array(v.object({ ...Key, assignedTo: v.string() })),
    refused: v.optional(v.array(v.object({ ...Key, reason: v.string() })), []),
  }),
});

/** The report as lines a person reads. */
export function formatMappingsReport(r: MappingsReport, applied: boolean): string {
  const out: string[] = [];
  const verb = applied ? 'Assigned' : 'Would assign';
  out.push(`${verb}: ${r.assigned.length}`);
  for (const a of r.assigned) out.push(`  ${a.username} ← ${a.cluster}:${a.vmid}`);
  if (r.alreadyAssigned.length) out.push(`Already assigned (unchanged): ${r.alreadyAssigned.length}`);
  if (r.unknownUsers.length) out.push(`Unknown users (create them first): ${r.unknownUsers.join(', ')}`);
  if (r.notStudents.length) out.push(`Not students (skipped): ${r.notStudents.join(', ')}`);
  for (const u of r.unknownVms) out.push(`No such VM: ${u.vmid} (for ${u.username})`);
  for (const a of r.ambiguous) out.push(`VM ${a.vmid} (for ${a.username}) is on clusters ${a.clusters.join(', ')}: add --cluster`);
  for (const tkn of r.takenByOther) out.push(`${tkn.cluster}:${tkn.vmid} (for ${tkn.username}) is assigned to ${tkn.assignedTo}: left as it is`);
  for (const x of r.refused ?? []) out.push(`${x.cluster}:${x.vmid} (for ${x.username}) refused: ${x.reason}`);
  if (!applied) out.push('', 'Dry run: nothing was changed. Run again with --apply to make these assignments.');
  return out.join('\n');
}

async function readMappings(file: string) {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  const r = v.safeParse(MappingsSchema, raw);
  if (!r.success) throw new UsageError(`${file}: ${v.getDotPath(r.issues[0]) ?? 'file'}: ${r.issues[0].message} (expected {"username": [vmid, ...]})`);
  return r.output;
}

/** Runs the command; returns the text to print. */
export async function importMappingsCommand(
  config: AppConfig, db: Db, file: string | undefined,
  opts: { class?: string; cluster?: string; apply?: boolean } & ServerTarget,
): Promise<string> {
  if (!file) throw new UsageError('which file? import-mappings <mappings.json> --class <id or name>');
  if (!opts.class) throw new UsageError('which class? give --class <id or name>');
  const mappings = await readMappings(file);
  const classesRepo = new ClassesRepo(db);
  const classes = await classesRepo.list();
  const cls = classes.find((c) => String(c.id) === opts.class) ?? classes.find((c) => c.name === opts.class);
  if (!cls) throw new UsageError(`no class "${opts.class}" (classes: ${classes.map((c) => `${c.id} ${c.name}`).join(', ') || 'none'})`);
  const header = `Class ${cls.id} "${cls.name}", ${Object.keys(mappings).length} user(s) in ${file}`;

  if (opts.apply) {
    const q = opts.cluster ? `?cluster=${encodeURIComponent(opts.cluster)}` : '';
    const res = await callServer(config, db, opts, 'POST', `/api/classes/${cls.id}/import-mappings${q}`, mappings, ImportAnswer);
    return `${header}\n${formatMappingsReport(res.body.report, true)}`;
  }

  const users = await new UsersRepo(db).list();
  const access = new Access(db, new AccessFeed());
  await access.reload();
  const vmids = [...new Set(Object.values(mappings).flat())];
  const rows = vmids.length
    ? await db.selectFrom('vm_inventory').select(['cluster_id', 'vmid']).where('deleted', '=', 0).where('vmid', 'in', vmids).execute()
    : [];
  const clustersOfVmid = new Map<number, string[]>();
  for (const r of rows) clustersOfVmid.set(r.vmid, [...(clustersOfVmid.get(r.vmid) ?? []), r.cluster_id]);
  const assignments = await classesRepo.assignments(cls.id);
  const plan = planMappingsImport(mappings, {
    users: new Map(users.filter((u) => !u.disabled).map((u) => [u.username, u])),
    clustersOfVmid,
    cluster: opts.cluster,
    members: new Set((await classesRepo.members(cls.id)).map((m) => m.id)),
    assignments: new Map(assignments.map((a) => [vmKey(a.cluster, a.vmid), a.userId])),
    inPool: (c, vmid) => access.poolHoldsVm(cls.id, c, vmid),
    usernameOf: (id) => users.find((u) => u.id === id)?.username ?? String(id),
  });
  return `${header}\n${formatMappingsReport(plan.report, false)}`;
}
