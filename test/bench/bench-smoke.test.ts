// Runs the benchmark harness in its tiniest mode, end to end, so that it cannot rot: the simulator
// and labdeck in their own processes, sockets, reads, push, freshness, the polling comparison.
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = resolve(import.meta.dirname, '../..');
const out = mkdtempSync(join(tmpdir(), 'labdeck-bench-smoke-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run bench -- --tiny', () => {
  it('runs every measurement and writes a JSON result in which no change reached a client not entitled to it', async () => {
    let output = '';
    const code = await new Promise<number | null>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--tiny', '--out', out], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
      child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
      child.on('exit', done);
    });
    // On failure the harness's own report says which stage broke.
    expect(code, output.slice(-4000)).toBe(0);
    const file = readdirSync(out).find((f) => f.endsWith('.json'));
    expect(file).toBeDefined();
    const r = JSON.parse(readFileSync(join(out, file!), 'utf8'));
    expect(r.connections.connected).toBe(r.connections.clients);
    expect(r.reconnect.allBack).toBe(true);
    expect(r.leaks.total).toBe(0);
    expect(r.pushSingle.unexpectedReceivers).toBe(0);
    expect(r.pushSingle.missingDeliveries).toBe(0);
    expect(r.pushSingle.commitToArrivalMs.n).toBeGreaterThan(0);
    expect(r.pushBatch.allDelivered).toBe(true);
    expect(r.reads.student.errors + r.reads.teacher.errors + r.reads.admin.errors).toBe(0);
    expect(r.quickPasses['0%'].proxmoxRequests.every((n: number) => n === r.scale.clusters)).toBe(true);
    expect(r.targets.length).toBeGreaterThanOrEqual(10);
    // Section 6: outside changes of both kinds reached every entitled client, and the soak ended on the truth.
    expect(r.liveSignals.uiTask.notArrived + r.liveSignals.inGuest.notArrived).toBe(0);
    expect(r.liveSignals.uiTask.endToClientMs.n).toBeGreaterThan(0);
    expect(r.liveSignals.inGuest.changeToClientMs.n).toBeGreaterThan(0);
    expect(r.liveSignals.soak).toMatchObject({ missed: 0, wrongAtEnd: 0, revisionsBackwards: 0 });
    // Section 7: every console opened through the relay and carried frames; section 8: every VM made, never above the bound.
    expect(r.console.relay.errors + r.console.direct.errors).toBe(0);
    expect(r.console.openMs.relay.n).toBe(r.console.shape.openSamples);
    expect(r.console.relay.framesPerSecond).toBeGreaterThan(0);
    expect(r.provision.done).toBe(r.provision.shape.vms);
    expect(Math.max(...Object.values(r.provision.maxClonesAtOncePerNode as Record<string, number>))).toBeLessThanOrEqual(r.provision.shape.perNode);
  }, 240_000);
});
