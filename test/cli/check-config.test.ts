// check-config against the simulator with faults: each broken layer is named, with its fix.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../server/simulator/index.js';
import { ALL_PRIVILEGES } from '../../server/simulator/auth.js';
import { createDb } from '../../server/db/index.js';
import { migrateToLatest } from '../../server/db/migrate.js';
import { ClassesRepo } from '../../server/classes/repository.js';
import { runCli, type CliResult } from './run-cli.js';
import { checkExposure } from '../../server/cli/check-config.js';

/** The block of output lines of one cluster. */
function section(out: string, id: string): string {
  const start = out.indexOf(`Cluster ${id} `);
  if (start < 0) throw new Error(`no section for ${id} in:\n${out}`);
  const end = out.indexOf('\n\n', start);
  return out.slice(start, end < 0 ? undefined : end);
}

// check-config runs as a tsx child process.
describe('labdeck check-config', { timeout: 60_000 }, () => {
  let plain: Simulator;
  let tls: Simulator;
  let dir: string;
  let result: CliResult;
  const secret = 'a'.repeat(40);

  beforeAll(async () => {
    const privs = ['Sys.Audit', 'VM.Audit', 'VM.GuestAgent.Audit'];
    plain = await startSimulator({
      clusters: [
        { id: 'good', nodes: 1, guests: 3, tokenSecret: randomUUID() },
        { id: 'nopower', nodes: 1, guests: 3, tokenSecret: randomUUID(), tokenPrivileges: privs },
        { id: 'revoked', nodes: 1, guests: 3, tokenSecret: randomUUID() },
        { id: 'down', nodes: 1, guests: 3, tokenSecret: randomUUID() },
        { id: 'consoleok', nodes: 1, guests: 3, tokenSecret: randomUUID(), users: [{ userid: 'console@pve', password: 'right-pass', privileges: ['VM.Audit', 'VM.Console'] }] },
        { id: 'consolebad', nodes: 1, guests: 3, tokenSecret: randomUUID(), users: [{ userid: 'console@pve', password: 'right-pass', privileges: ['VM.Audit', 'VM.Console'] }] },
        { id: 'consolenopriv', nodes: 1, guests: 3, tokenSecret: randomUUID(), users: [{ userid: 'console@pve', password: 'right-pass', privileges: ['VM.Audit'] }] },
        // Everything but what cloning, storage and the class's pool need.
        { id: 'noprov', nodes: 1, guests: 3, tokenSecret: randomUUID(), tokenPrivileges: ALL_PRIVILEGES.filter((p) => !['VM.Clone', 'VM.Snapshot.Rollback', 'Datastore.AllocateSpace', 'Pool.Allocate'].includes(p)) },
      ],
      unauthorizedDelayMs: 0, pvestatdIntervalMs: 0, activity: false,
    });
    tls = await startSimulator({
      clusters: [
        { id: 'tlsstrict', nodes: 1, guests: 3, tokenSecret: randomUUID() },
        { id: 'tlsloose', nodes: 1, guests: 3, tokenSecret: randomUUID() },
      ],
      tls: true, unauthorizedDelayMs: 0, pvestatdIntervalMs: 0, activity: false,
    });
    await plain.cluster('revoked').setFault({ tokenRevoked: true });
    await plain.cluster('down').setFault({ mode: 'down' });
    dir = mkdtempSync(join(tmpdir(), 'labdeck-cc-'));
    const entry = (c: { id: string; url: string; tokenId: string; tokenSecret: string }, extra: Record<string, unknown> = {}) =>
      ({ id: c.id, url: c.url, tokenId: c.tokenId, tokenSecret: c.tokenSecret, timeoutMs: 3000, ...extra });
    const consoleUser = (password: string) => ({ console: { username: 'console@pve', password } });
    const extra: Record<string, Record<string, unknown>> = { consoleok: consoleUser('right-pass'), consolebad: consoleUser('wrong-pass'), consolenopriv: consoleUser('right-pass') };
    // labdeck's database, with a class whose scope clones into the Proxmox pool 'lab-pool' of cluster noprov.
    const dbFile = join(dir, 'l.db');
    const db = createDb(dbFile);
    await migrateToLatest(db);
    const t = await db.insertInto('users').values({ username: 'teach', display_name: 'Teach', role: 'teacher', password_hash: 'x', source: 'local', created_at: 0, updated_at: 0 }).returning('id').executeTakeFirstOrThrow();
    const classes = new ClassesRepo(db);
    await classes.setScope(await classes.create('Networks', t.id), [{ kind: 'pool', cluster: 'noprov', pool: 'lab-pool' }], null);
    await db.destroy();
    const config = {
      clusters: [
        ...plain.clusters.map((c) => entry(c, extra[c.id])),
        entry(tls.cluster('tlsstrict'), { verifyTls: true }),
        entry(tls.cluster('tlsloose'), { verifyTls: false }),
        { id: 'nodns', url: 'https://labdeck-no-such-host.invalid:8006', tokenId: 'root@pam!x', tokenSecret: randomUUID(), timeoutMs: 2000 },
      ],
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    result = await runCli(['check-config'], { LABDECK_CONFIG: join(dir, 'config.json'), SESSION_SECRET: secret, DATABASE_URL: dbFile });
  });

  afterAll(async () => {
    await plain?.close();
    await tls?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('exits 1 and reports the config as valid', () => {
    expect(result.stdout).toMatch(/\[ ok \] config .*valid, 11 cluster\(s\)/);
    expect(result.code).toBe(1);
  });

  it('passes a healthy cluster on every layer (plain HTTP only warned about)', () => {
    const s = section(result.stdout, 'good');
    expect(s).toMatch(/\[ ok \] DNS/);
    expect(s).toMatch(/\[ ok \] TCP .*connected/);
    expect(s).toMatch(/\[warn\] TLS .*plain HTTP/);
    expect(s).toMatch(/\[ ok \] token .*accepted \(Proxmox VE \d/);
    expect(s).toMatch(/\[ ok \] read/);
    expect(s).toMatch(/\[ ok \] actions/);
    expect(s).toMatch(/\[ ok \] console +consoles open with the API token/);
    expect(s).toMatch(/\[ ok \] provision +making class VMs from templates allowed/);
  });

  it('logs in as the console user: accepted, wrong password, or without VM.Console', () => {
    expect(section(result.stdout, 'consoleok')).toMatch(/\[ ok \] console +console user console@pve logs in and may open consoles/);
    const bad = section(result.stdout, 'consolebad');
    expect(bad).toMatch(/\[FAIL\] console +Proxmox refused the console user console@pve: wrong user name or password/);
    expect(bad).toMatch(/fix: check console\.username .* pveum passwd console@pve/);
    const nopriv = section(result.stdout, 'consolenopriv');
    expect(nopriv).toMatch(/\[FAIL\] console +console user console@pve logs in but lacks VM\.Console/);
    expect(nopriv).toMatch(/fix: pveum acl modify \/vms --users 'console@pve' --roles PVEVMUser/);
  });

  it('names what provisioning lacks, path by path, including the pool a class clones into, with the pveum commands', () => {
    const s = section(result.stdout, 'noprov');
    expect(s).toMatch(/\[ ok \] actions/);
    expect(s).toMatch(/\[warn\] provision +making class VMs from templates not allowed: missing VM\.Clone on \/vms, VM\.Snapshot\.Rollback on \/vms, Datastore\.AllocateSpace on \/storage, Pool\.Allocate on \/pool\/lab-pool \(pools lab-pool included\)/);
    expect(s).toContain("fix: pveum role add LabdeckProvision --privs 'VM.Clone,VM.Allocate,VM.Config.Options,VM.Snapshot,VM.Snapshot.Rollback' && pveum acl modify /vms --tokens 'root@pam!labdeck' --roles LabdeckProvision");
    expect(s).toMatch(/\n +pveum acl modify \/storage --tokens 'root@pam!labdeck' --roles PVEDatastoreUser/);
    expect(s).toMatch(/\n +pveum acl modify \/pool\/lab-pool --tokens 'root@pam!labdeck' --roles PVEPoolAdmin/);
    // A cluster no class clones into a pool on is not asked for Pool.Allocate.
    expect(section(result.stdout, 'good')).not.toContain('Pool.Allocate');
  });

  it('names a cluster that is down, with the fix', () => {
    const s = section(result.stdout, 'down');
    expect(s).toMatch(/\[FAIL\] TCP .*ECONNREFUSED/);
    expect(s).toMatch(/fix: nothing listens on port \d+/);
    expect(s).toMatch(/\[skip\] token/);
  });

  it('names a rejected token, with the fix', () => {
    const s = section(result.stdout, 'revoked');
    expect(s).toMatch(/\[ ok \] TCP/);
    expect(s).toMatch(/\[FAIL\] token .*refused the token/);
    expect(s).toMatch(/fix: check tokenId/);
  });

  it('names missing privileges for power actions, with the pveum command', () => {
    const s = section(result.stdout, 'nopower');
    expect(s).toMatch(/\[ ok \] read/);
    expect(s).toMatch(/\[warn\] actions .*missing VM\.PowerMgmt/);
    expect(s).toMatch(/fix: pveum acl modify \/vms --tokens 'root@pam!labdeck' --roles PVEVMUser/);
  });

  it('fails an untrusted self-signed certificate with its fingerprint, and warns when verification is off', () => {
    const fp = tls.cluster('tlsstrict').fingerprint!;
    const strict = section(result.stdout, 'tlsstrict');
    expect(strict).toMatch(/\[FAIL\] TLS .*self-signed certificate/);
    expect(strict).toContain(fp);
    expect(strict).toMatch(/fix: .*verifyTls/);
    expect(strict).toMatch(/\[skip\] token/);
    const loose = section(result.stdout, 'tlsloose');
    expect(loose).toMatch(/\[warn\] TLS .*not verified/);
    expect(loose).toContain(tls.cluster('tlsloose').fingerprint!);
    expect(loose).toMatch(/\[ ok \] token/);
  });

  it('names a host that does not resolve', () => {
    const s = section(result.stdout, 'nodns');
    expect(s).toMatch(/\[FAIL\] DNS .*cannot resolve labdeck-no-such-host\.invalid/);
  });

  it('warns that /metrics has no token and that links follow the Host header (no publicUrl)', () => {
    const s = result.stdout.slice(result.stdout.indexOf('\nExposure\n'));
    expect(s).toMatch(/\[warn\] publicUrl +publicUrl is not set: invite and projector links are built from the Host header/);
    expect(s).toMatch(/\[warn\] metrics +\/metrics has no token: anyone who reaches labdeck can read/);
    expect(s).toMatch(/fix: add "metrics": \{"token": "\$\{METRICS_TOKEN\}"\}/);
  });

  it('says what a config with publicUrl and a metrics token leaves open: nothing to warn about', () => {
    expect(checkExposure({ publicUrl: 'https://labdeck.example.edu', allowedHosts: ['labdeck'], metrics: { token: 'x'.repeat(16) }, demo: false }))
      .toEqual([
        { step: 'publicUrl', level: 'ok', message: 'links point at https://labdeck.example.edu; only requests for labdeck.example.edu, labdeck, loopback are answered' },
        { step: 'metrics', level: 'ok', message: '/metrics asks for the bearer token' },
      ]);
    // Demo mode is for one machine: nothing to warn about.
    expect(checkExposure({ allowedHosts: [], metrics: {}, demo: true })).toEqual([]);
  });

  it('rejects an invalid config file naming the field (exit 2)', async () => {
    writeFileSync(join(dir, 'bad.json'), JSON.stringify({ clusters: [{ id: 'x', url: 'nope', tokenId: 'a@b!c', tokenSecret: randomUUID() }] }));
    const r = await runCli(['check-config'], { LABDECK_CONFIG: join(dir, 'bad.json'), SESSION_SECRET: secret });
    expect(r.code).toBe(2);
    expect(r.stdout).toMatch(/\[FAIL\] config +clusters\.0\.url: must be a URL/);
  });
});
