// The config file and environment: defaults, ${ENV} secrets, and messages that name the bad field.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseFileConfig } from '../../server/config.js';

const SECRET = '12345678-1234-1234-1234-1234567890ab';
const cluster = { id: 'lab-a', url: 'https://pve1.example.edu:8006', tokenId: 'labdeck@pve!sync', tokenSecret: SECRET };

function writeConfig(body: unknown): string {
  const dir = mkdtempSync(join(tmpdir(), 'labdeck-cfg-'));
  const file = join(dir, 'labdeck.json');
  writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

describe('config', () => {
  it('fills defaults for clusters and sync', () => {
    const c = parseFileConfig({ clusters: [cluster] });
    expect(c.clusters[0]).toMatchObject({ verifyTls: true, probePorts: true, timeoutMs: 10_000 });
    expect(c.sync).toEqual({ fullIntervalSeconds: 300, quickIntervalSeconds: 30, taskIntervalSeconds: 2, nodeListIntervalSeconds: 4, fastIntervalMs: 1000, detailConcurrency: 8, staleAfterSeconds: 90, maxBackoffSeconds: 300 });
  });

  it('expands ${ENV} references and says which one is missing', () => {
    const raw = { clusters: [{ ...cluster, tokenSecret: '${LAB_A_TOKEN}' }] };
    expect(parseFileConfig(raw, { LAB_A_TOKEN: SECRET }).clusters[0].tokenSecret).toBe(SECRET);
    expect(() => parseFileConfig(raw, {})).toThrow(/clusters\[0\]\.tokenSecret: environment variable LAB_A_TOKEN is not set/);
  });

  it('names the bad field', () => {
    expect(() => parseFileConfig({ clusters: [{ ...cluster, tokenId: 'nope' }] })).toThrow(/clusters\.0\.tokenId: must look like user@realm!tokenname/);
    expect(() => parseFileConfig({ clusters: [cluster], sync: { quickIntervalSeconds: 'fast' } })).toThrow(/sync\.quickIntervalSeconds/);
    expect(() => parseFileConfig({ clusters: [cluster], sync: { taskIntervalSeconds: 0.1 } })).toThrow(/sync\.taskIntervalSeconds: must be 0 \(off\) or from 0\.5 to 3600/);
    expect(() => parseFileConfig({ clusters: [cluster], sync: { nodeListIntervalSeconds: -1 } })).toThrow(/sync\.nodeListIntervalSeconds/);
    expect(parseFileConfig({ clusters: [cluster], sync: { taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 } }).sync).toMatchObject({ taskIntervalSeconds: 0, nodeListIntervalSeconds: 0 });
    expect(() => parseFileConfig({ clusters: [cluster, cluster] })).toThrow(/duplicate cluster id "lab-a"/);
    expect(() => parseFileConfig({ clusterz: [] })).toThrow(ConfigError);
  });

  it('takes publicUrl as an origin only, and allowedHosts as host names', () => {
    expect(parseFileConfig({ publicUrl: 'https://LabDeck.example.edu/' })).toMatchObject({ publicUrl: 'https://labdeck.example.edu', allowedHosts: [] });
    expect(parseFileConfig({ publicUrl: 'http://10.0.0.5:8080', allowedHosts: ['labdeck', 'labdeck.lan:8443', '[::1]:8080'] }).allowedHosts).toHaveLength(3);
    expect(parseFileConfig({}).publicUrl).toBeUndefined();
    expect(() => parseFileConfig({ publicUrl: 'labdeck.example.edu' })).toThrow(/publicUrl: must be a URL like https:\/\/labdeck\.example\.edu/);
    expect(() => parseFileConfig({ publicUrl: 'ftp://labdeck.example.edu' })).toThrow(/publicUrl: must start with https:\/\//);
    for (const bad of ['https://labdeck.example.edu/labdeck', 'https://labdeck.example.edu/?x=1', 'https://user:pw@labdeck.example.edu']) {
      expect(() => parseFileConfig({ publicUrl: bad }), bad).toThrow(/publicUrl: must be only scheme, host and port/);
    }
    for (const bad of ['evil.example/x', 'https://labdeck', 'a b', '']) {
      expect(() => parseFileConfig({ allowedHosts: [bad] }), bad).toThrow(/allowedHosts\.0: must be a host name/);
    }
  });

  it('no config file means demo mode with a random session secret', async () => {
    const c = await loadConfig({});
    expect(c).toMatchObject({ demo: true, port: 8080, host: '127.0.0.1', databaseUrl: './data/labdeck.db', clusters: [] });
    expect(c.sessionSecret.length).toBeGreaterThanOrEqual(32);
  });

  it('a config file needs a session secret and valid JSON', async () => {
    const file = writeConfig({ clusters: [cluster] });
    await expect(loadConfig({ LABDECK_CONFIG: file })).rejects.toThrow(/SESSION_SECRET/);
    const ok = await loadConfig({ LABDECK_CONFIG: file, SESSION_SECRET: 'x'.repeat(32), PORT: '9000', DATABASE_URL: 'postgres://db/x' });
    expect(ok).toMatchObject({ demo: false, port: 9000, databaseUrl: 'postgres://db/x', configPath: file });
    await expect(loadConfig({ LABDECK_CONFIG: writeConfig('{ nope'), SESSION_SECRET: 'x'.repeat(32) })).rejects.toThrow(/not valid JSON/);
    await expect(loadConfig({ LABDECK_CONFIG: '/nonexistent/labdeck.json' })).rejects.toThrow(/cannot read config file/);
    await expect(loadConfig({ PORT: 'eighty' })).rejects.toThrow(/PORT/);
  });
});
