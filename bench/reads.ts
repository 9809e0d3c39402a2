// Side-by-side read benchmark of GET /api/vms at 20,000 guests: the read model against the database
// path, each in its own labdeck process on the same seeded SQLite file (no sync loop, so only reads
// are measured). `npx tsx bench/reads.ts [--guests 20000] [--seconds 5] [--rounds 1] [--modes model,db]
// [--child-args '--cpu-prof --cpu-prof-dir=/tmp/prof']` (flags for the labdeck processes)
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createDb } from '../server/db/index.js';
import { migrateToLatest } from '../server/db/migrate.js';
import { parseFileConfig, type AppConfig } from '../server/config.js';
import { startLabdeck } from '../server/server.js';
import { UsersRepo } from '../server/auth/users.js';
import { ClassesRepo } from '../server/classes/repository.js';
import type { InventoryRow } from '../server/inventory/row.js';
import { request } from 'undici';
import { runReadLoad } from './load.js';
import { summarize } from './stats.js';

const PASSWORD = 'bench-password-1';

/** Writes `guests` rows over 10 clusters, fresh cluster states, an admin and one student with 5 VMs. */
async function seed(file: string, guests: number): Promise<void> {
  const db = createDb(file);
  await migrateToLatest(db);
  const now = Date.now();
  const clusters = 10;
  const rows: InventoryRow[] = [];
  for (let i = 0; i < guests; i++) {
    const cluster = `pve-${i % clusters}`;
    const vmid = 100 + Math.floor(i / clusters);
    const running = i % 3 !== 0;
    rows.push({
      cluster_id: cluster, vmid, name: `lab-${String(vmid).padStart(5, '0')}-${i % 7 === 0 ? 'win' : 'deb'}`, node: `node-${i % 4}`,
      type: i % 9 === 0 ? 'lxc' : 'qemu', status: running ? 'running' : 'stopped', started_at: running ? now - 3_600_000 : null,
      cpu_usage: running ? 0.05 : null, memory_usage: running ? 0.4 : null, ip: running ? `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}` : null,
      ip_reason: running ? null : 'stopped', mac_address: 'BC:24:11:00:00:01', rdp_available: i % 7 === 0 ? 1 : 0, ssh_available: 1,
      memory: 4294967296, cores: 2, disk_size: 34359738368, is_template: 0, tags: 'class-1;linux', category: i % 7 === 0 ? 'windows' : 'linux',
      ostype: 'l26', pool: `pool-${i % 50}`, lock: null, last_updated: now, last_seen: now, last_status_check: now, sync_error: null,
      revision: i + 1, deleted: 0,
    });
  }
  for (let i = 0; i < rows.length; i += 500) await db.insertInto('vm_inventory').values(rows.slice(i, i + 500)).execute();
  await db.updateTable('revision_counter').set({ value: guests }).where('id', '=', 1).execute();
  for (let c = 0; c < clusters; c++) {
    await db.insertInto('cluster_state').values({
      cluster_id: `pve-${c}`, last_success_at: now + 3_600_000, last_full_at: now, last_quick_at: now,
      last_error: null, last_error_at: null, consecutive_failures: 0, error_count: 0,
    }).execute();
  }
  const users = new UsersRepo(db);
  const admin = await users.create({ username: 'admin', role: 'admin', password: PASSWORD });
  const teacher = await users.create({ username: 'teacher', role: 'teacher', password: PASSWORD });
  const student = await users.create({ username: 'student', role: 'student', password: PASSWORD });
  void admin;
  const classes = new ClassesRepo(db);
  const classId = await classes.create('bench', teacher.id);
  await classes.addMember(classId, student.id);
  for (let k = 0; k < 5; k++) {
    const r = rows[k * 997];
    await classes.addPoolEntry(classId, { kind: 'vm', cluster: r.cluster_id, vmid: r.vmid, value: null });
    await classes.assign(classId, r.cluster_id, r.vmid, student.id);
  }
  await db.destroy();
}

/** Child: one labdeck on the file, answering memory questions over IPC. */
async function serve(file: string, mode: string): Promise<void> {
  const config: AppConfig = {
    ...parseFileConfig({}), port: 0, host: '127.0.0.1', databaseUrl: file, sessionSecret: randomBytes(32).toString('hex'), demo: false, configPath: null,
  };
  const t0 = performance.now();
  const lab = await startLabdeck(config, { port: 0, host: '127.0.0.1', quiet: true, staticRoot: null, noSync: true, readModel: mode === 'model' });
  const startMs = performance.now() - t0;
  process.on('message', (m: string) => {
    // With --child-args --expose-gc, garbage is collected first so what is held shows.
    if (m === 'memory') (globalThis as { gc?: () => void }).gc?.();
    if (m === 'memory') process.send!({ rssMb: process.memoryUsage().rss / 2 ** 20, maxRssMb: process.resourceUsage().maxRSS / 1024, heapMb: process.memoryUsage().heapUsed / 2 ** 20, externalMb: process.memoryUsage().external / 2 ** 20 });
    if (m === 'close') void lab.close().then(() => process.exit(0));
  });
  process.send!({ url: lab.url, startMs });
}

const ask = <T>(child: ChildProcess, msg?: string) => new Promise<T>((resolve) => {
  child.once('message', (m) => resolve(m as T));
  if (msg) child.send(msg);
});

async function login(url: string, username: string): Promise<string> {
  const res = await fetch(`${url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password: PASSWORD }) });
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  if (res.status !== 200) throw new Error(`login ${username}: ${res.status}`);
  return cookie;
}

async function measure(file: string, mode: string, seconds: number, childArgs: string[]) {
  const child = fork(fileURLToPath(import.meta.url), ['--serve', file, mode], { execArgv: ['--import', 'tsx', ...childArgs], stdio: 'inherit', env: { ...process.env, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' } });
  const { url, startMs } = await ask<{ url: string; startMs: number }>(child);
  const admin = await login(url, 'admin');
  const student = await login(url, 'student');
  const ms = seconds * 1000;
  const run = async (cookie: string, concurrency: number) => {
    const r = await runReadLoad({ url, path: '/api/vms', cookies: [cookie], concurrency, durationMs: ms });
    const s = summarize(r.latenciesMs);
    return { p50: +(s.p50 ?? 0).toFixed(2), p99: +(s.p99 ?? 0).toFixed(2), rps: Math.round(r.rps), errors: r.errors, kbPerReq: Math.round(r.bytes / Math.max(1, r.requests) / 1024) };
  };
  /** One client at a time that accepts gzip (the load helper sends no Accept-Encoding). */
  const gz = async (cookie: string) => {
    const lat: number[] = [];
    let bytes = 0;
    const end = performance.now() + ms;
    while (performance.now() < end) {
      const t = performance.now();
      const res = await request(`${url}/api/vms`, { headers: { cookie, 'accept-encoding': 'gzip' } });
      bytes += (await res.body.arrayBuffer()).byteLength;
      lat.push(performance.now() - t);
    }
    const s = summarize(lat);
    return { p50: +(s.p50 ?? 0).toFixed(2), p99: +(s.p99 ?? 0).toFixed(2), n: lat.length, kbPerReq: Math.round(bytes / lat.length / 1024) };
  };
  const out = {
    mode, startMs: Math.round(startMs),
    student1: await run(student, 1), student16: await run(student, 16),
    admin1: await run(admin, 1), admin2: await run(admin, 2), admin1gzip: await gz(admin),
    memory: await ask<{ rssMb: number; maxRssMb: number; heapMb: number; externalMb: number }>(child, 'memory'),
  };
  child.send('close');
  await new Promise((r) => child.once('exit', r));
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { serve: { type: 'boolean' }, guests: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, modes: { type: 'string' }, 'child-args': { type: 'string' } }, allowPositionals: true, strict: false });
  if (values.serve) return serve(process.argv[3], process.argv[4]);
  const dir = mkdtempSync(join(tmpdir(), 'labdeck-reads-'));
  const file = join(dir, 'bench.sqlite');
  try {
    await seed(file, Number(values.guests ?? 20000));
    for (let i = 0; i < Number(values.rounds ?? 1); i++) {
      for (const mode of String(values.modes ?? 'model,db').split(',')) {
        console.log(JSON.stringify(await measure(file, mode, Number(values.seconds ?? 5), values['child-args'] ? String(values['child-args']).split(' ') : [])));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
