// The client's plain words: server errors as a teacher or student reads them, audit entries as
// sentences without Proxmox task ids, and the bulk summary counting skipped and failed VMs.
import { describe, it, expect } from 'vitest';
import { ApiError } from '../../client/src/lib/api.js';
import { plainError } from '../../client/src/lib/errors.js';
import { auditSentence, type AuditRow } from '../../client/src/lib/audit-text.js';
import { summarise, summaryText, type BulkRun } from '../../client/src/lib/bulk-progress.js';
import type { Vm } from '../../contract/vm.js';

describe('plainError', () => {
  it('names the next step instead of developer text', () => {
    expect(plainError(new ApiError(409, 'conflict', 'VM 104 exists on clusters lab-a, lab-b: add ?cluster='), 'start VM 104'))
      .toBe('Could not start VM 104: that VM id exists on several clusters. Pick the cluster.');
    expect(plainError(new ApiError(400, 'bad_request', 'path parameter token: must be a link token', 'token')))
      .toBe('This link is incomplete. Copy the whole link again from your teacher.');
    expect(plainError(new ApiError(403, 'forbidden', 'you may not start VM 104'), 'start lab-a-ws-004')).toMatch(/not allowed.*Ask your teacher/);
    expect(plainError(new ApiError(403, 'forbidden', "VM lab-a:120 is outside this class's scope; this class may use: lab-a vmid 110"), 'add it to the pool'))
      .toBe("Could not add it to the pool: VM lab-a:120 is outside this class's scope; this class may use: lab-a vmid 110.");
    expect(plainError(new ApiError(409, 'conflict', 'Proxmox refused: VM 104 is locked (backup)', null, 'VM 104 is locked (backup)'), 'start it'))
      .toMatch(/locked for another task.*Try again in a minute/);
    expect(plainError(new ApiError(0, 'network', 'The server cannot be reached.'))).toMatch(/cannot be reached.*reconnects by itself/);
    expect(plainError(new ApiError(400, 'bad_request', 'body ttlHours: must be at most 4560 hours (a term)', 'ttlHours')))
      .toBe('check the lifetime: must be at most 4560 hours (a term).');
  });
});

describe('auditSentence', () => {
  const who = (u: string | null) => ({ student2: 'Kim Two', teacher: 'Tess Teacher' } as Record<string, string>)[u ?? ''] ?? u ?? 'labdeck';
  const name = (_c: string, vmid: number) => `lab-a-ws-${String(vmid - 99).padStart(3, '0')}`;
  const row = (over: Partial<AuditRow>): AuditRow => ({ id: 1, at: Date.now(), username: 'student2', action: 'vm.start', outcome: 'ok', detail: null, cluster: 'lab-a', vmid: 104, ...over });

  it('says who did what to which VM, without the task id', () => {
    const s = auditSentence(row({ detail: 'UPID:pve1:000A1B2C:0012D3E4:656F0000:qmstart:104:root@pam:' }), who, name);
    expect(s).toEqual({ text: 'Kim Two started lab-a-ws-005', tone: 'ok' });
    expect(auditSentence(row({ action: 'vm.shutdown', outcome: 'failed', detail: 'Proxmox refused: VM 104 not running' }), who, name).text)
      .toBe('Kim Two could not shut down lab-a-ws-005: VM 104 not running');
    expect(auditSentence(row({ username: 'teacher', action: 'vm.assign', detail: 'student2' }), who, name).text).toBe('Tess Teacher assigned lab-a-ws-005 to Kim Two');
  });

  it('tells a refused bulk request as one line with how many VMs it asked for', () => {
    expect(auditSentence(row({ action: 'vm.stop', outcome: 'denied', cluster: null, vmid: null, count: 500, detail: 'refused 500 VMs: lab-a:100, …' }), who, name))
      .toEqual({ text: 'Kim Two was not allowed to stop 500 VMs', tone: 'bad' });
    expect(auditSentence(row({ action: 'vm.stop', outcome: 'denied', count: 1 }), who, name).text).toBe('Kim Two was not allowed to stop lab-a-ws-005');
  });

  it('does not leave an old "pending" line looking as if it still runs', () => {
    expect(auditSentence(row({ outcome: 'pending' }), who, name)).toEqual({ text: 'Kim Two is starting lab-a-ws-005…', tone: 'busy' });
    expect(auditSentence(row({ outcome: 'pending', at: Date.now() - 3_600_000 }), who, name)).toEqual({ text: 'Kim Two asked to start lab-a-ws-005 (outcome unknown)', tone: 'off' });
  });
});

describe('bulk summary', () => {
  const vm = (id: string, status: string) => ({ id, status } as unknown as Vm);
  it('counts done, failed and skipped, and says why VMs were skipped', () => {
    const run: BulkRun = { action: 'start', results: new Map(), seenPending: new Set(['a:1', 'a:3']), asked: ['a:1', 'a:2', 'a:3'], skippedHere: new Map() };
    run.results.set('a:1', { id: 'a:1', cluster: 'a', vmid: 1, ok: true, httpStatus: 202 });
    run.results.set('a:2', { id: 'a:2', cluster: 'a', vmid: 2, ok: false, httpStatus: 502, error: { code: 'proxmox_error', message: 'Proxmox: timeout' } });
    run.results.set('a:3', { id: 'a:3', cluster: 'a', vmid: 3, ok: true, httpStatus: 202 });
    run.results.set('a:4', { id: 'a:4', cluster: 'a', vmid: 4, ok: true, httpStatus: 200, skipped: 'already running' });
    const states: Record<string, Vm> = { 'a:1': vm('a:1', 'running'), 'a:2': vm('a:2', 'stopped'), 'a:3': vm('a:3', 'starting'), 'a:4': vm('a:4', 'running') };
    let s = summarise(run, (id) => states[id]);
    expect(s).toMatchObject({ total: 4, done: 1, failed: 1, skipped: 1, working: 1 });
    expect(summaryText(run, s)).toBe('Starting 3: 1 done, 1 failed · 1 skipped (1 already running)');
    // a:3's task fails in Proxmox: the VM is back to stopped after passing through "starting".
    states['a:3'] = vm('a:3', 'stopped');
    s = summarise(run, (id) => states[id]);
    expect(summaryText(run, s)).toBe('Starting 3 finished: 1 done, 2 failed · 1 skipped (1 already running)');
  });
});
