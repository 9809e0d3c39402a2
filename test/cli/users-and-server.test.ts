// The CLI as an admin uses it: user management on the database, and sync trigger and the
// mappings import against a running labdeck (child processes, real server, real simulator).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { UsersRepo } from '../../server/auth/users.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { runCli } from './run-cli.js';

// Every CLI command here is a tsx child process (about 1 s each idle, several under a 2-core load).
describe('labdeck user …', { timeout: 90_000 }, () => {
  let dir: string;
  let env: Record<string, string>;
  let db: Db;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'labdeck-cli-'));
    env = { DATABASE_URL: join(dir, 'labdeck.db') };
    writeFileSync(join(dir, 'pw'), 'first-password-1\n');
  });
  afterAll(async () => {
    await db?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('adds, lists, changes the password, role and state of a user', async () => {
    const add = await runCli(['user', 'add', 'alice', '--role', 'admin', '--password-file', join(dir, 'pw'), '--display-name', 'Alice A'], env);
    expect(add.stdout).toMatch(/Created admin alice/);
    expect(add.code).toBe(0);
    db = createDb(env.DATABASE_URL);
    await migrateToLatest(db);
    const users = new UsersRepo(db);
    expect(await users.verifyPassword('alice', 'first-password-1')).toMatchObject({ username: 'alice', role: 'admin', displayName: 'Alice A' });

    const dup = await runCli(['user', 'add', 'alice', '--role', 'teacher', '--password-file', join(dir, 'pw')], env);
    expect(dup.code).toBe(2);
    expect(dup.stdout).toMatch(/exists already/);

    const pw = await runCli(['user', 'passwd', 'alice', '--password-file', '-'], env, 'second-password-2\n');
    expect(pw.code).toBe(0);
    expect(await users.verifyPassword('alice', 'first-password-1')).toBeNull();
    expect(await users.verifyPassword('alice', 'second-password-2')).not.toBeNull();

    expect((await runCli(['user', 'role', 'alice', 'teacher'], env)).code).toBe(0);
    expect((await runCli(['user', 'disable', 'alice'], env)).code).toBe(0);
    const list = await runCli(['user', 'list'], env);
    expect(list.stdout).toMatch(/alice\s+teacher\s+local\s+disabled\s+Alice A/);
    expect(await users.verifyPassword('alice', 'second-password-2')).toBeNull();
  });

  it('refuses bad input with a plain message and exit code 2', async () => {
    const cases: Array<[string[], RegExp, string?]> = [
      [['user', 'add', 'bob', '--role', 'wizard', '--password-file', join(dir, 'pw')], /--role/],
      [['user', 'add', 'bad name!', '--role', 'student', '--password-file', join(dir, 'pw')], /username/],
      [['user', 'add', 'bob', '--role', 'student', '--password-file', '-'], /password: must be at least 8/, 'short\n'],
      [['user', 'add', 'bob', '--role', 'student'], /no terminal to type a password/],
      [['user', 'passwd', 'nobody', '--password-file', join(dir, 'pw')], /no user named nobody/],
      [['user', 'frobnicate'], /unknown user command/],
      [['user', 'list', '--bogus'], /Unknown option/],
    ];
    const results = await Promise.all(cases.map(([args, , input]) => runCli(args, env, input)));
    cases.forEach(([args, msg], i) => {
      expect(results[i].code, args.join(' ')).toBe(2);
      expect(results[i].stdout, args.join(' ')).toMatch(msg);
    });
  });
});

describe('labdeck sync trigger / import-mappings against the running server', { timeout: 90_000 }, () => {
  let t: TestServer;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    t = await startTestServer();
    await t.createUser('admin1', 'admin');
    await t.createUser('s1', 'student');
    await t.createUser('s2', 'student');
    const teacher = await t.createUser('teach', 'teacher');
    await t.labdeck.classesRepo.create('Networks 1', teacher.id);
    await t.labdeck.access.reload();
    await t.synced();
    dir = mkdtempSync(join(tmpdir(), 'labdeck-cli-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ clusters: [] }));
    env = {
      LABDECK_CONFIG: join(dir, 'config.json'), SESSION_SECRET: t.labdeck.config.sessionSecret,
      DATABASE_URL: t.labdeck.config.databaseUrl, HOST: '127.0.0.1', PORT: String(t.labdeck.port),
    };
  });
  afterAll(async () => {
    await t?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('triggers a pass on the running server and shows each cluster', async () => {
    const before = t.labdeck.sync.status().clusters[0].recentPasses.length;
    const r = await runCli(['sync', 'trigger', '--kind', 'quick'], env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Sync pass finished\.\n {2}lab-a: healthy, last quick pass: \d+ guests/);
    expect(t.labdeck.sync.status().clusters[0].recentPasses.length).toBeGreaterThan(before);
  });

  it('says plainly when the server is not there or the secret differs', async () => {
    const [off, wrong, huge] = await Promise.all([
      runCli(['sync', 'trigger'], { ...env, PORT: '1' }),
      runCli(['sync', 'trigger'], { ...env, SESSION_SECRET: 'b'.repeat(40) }),
      runCli(['sync', 'trigger', '--kind', 'huge'], env),
    ]);
    expect(off.code).toBe(2);
    expect(off.stdout).toMatch(/not answering at http:\/\/127\.0\.0\.1:1/);
    expect(wrong.code).toBe(2);
    expect(wrong.stdout).toMatch(/same SESSION_SECRET/);
    expect(huge.code).toBe(2);
  });

  it('exits as the server\'s error code says: 2 for a cluster that is not configured', async () => {
    const r = await runCli(['sync', 'trigger', '--cluster', 'nope'], env);
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/the server answered 404: cluster nope is not configured/);
  });

  it('dry-runs a mappings import (nothing written), then applies it through the server', async () => {
    const [a, b] = t.cluster.guests().filter((g) => g.type === 'qemu' && !g.template);
    writeFileSync(join(dir, 'mappings.json'), JSON.stringify({ s1: [a.vmid], s2: [b.vmid, 99999], ghost: [a.vmid] }));
    const dry = await runCli(['import-mappings', join(dir, 'mappings.json'), '--class', 'Networks 1'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toMatch(/Would assign: 2/);
    expect(dry.stdout).toContain(`s1 ← lab-a:${a.vmid}`);
    expect(dry.stdout).toMatch(/Unknown users \(create them first\): ghost/);
    expect(dry.stdout).toMatch(/No such VM: 99999 \(for s2\)/);
    expect(dry.stdout).toMatch(/Dry run: nothing was changed/);
    expect(await t.labdeck.db.selectFrom('vm_assignments').selectAll().execute()).toHaveLength(0);

    const applied = await runCli(['import-mappings', join(dir, 'mappings.json'), '--class', 'Networks 1', '--apply'], env);
    expect(applied.code).toBe(0);
    expect(applied.stdout).toMatch(/Assigned: 2/);
    expect(await t.labdeck.db.selectFrom('vm_assignments').selectAll().execute()).toHaveLength(2);
    // The running server knows at once: the student sees the VM.
    const s1 = await t.login('s1');
    const vms = await t.request('GET', '/api/vms', { cookie: s1 });
    expect(vms.body.vms.map((v: { vmid: number }) => v.vmid)).toEqual([a.vmid]);

    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ s1: ['abc'] }));
    const [again, bad, nope] = await Promise.all([
      runCli(['import-mappings', join(dir, 'mappings.json'), '--class', 'Networks 1'], env),
      runCli(['import-mappings', join(dir, 'bad.json'), '--class', 'Networks 1'], env),
      runCli(['import-mappings', join(dir, 'mappings.json'), '--class', 'Nope'], env),
    ]);
    expect(again.stdout).toMatch(/Would assign: 0\nAlready assigned \(unchanged\): 2/);
    expect(bad.code).toBe(2);
    expect(bad.stdout).toMatch(/bad\.json: s1\.0: .*expected \{"username": \[vmid, \.\.\.\]\}/);
    expect(nope.stdout).toMatch(/no class "Nope"/);
  });
});
