// The simulator's pure pieces: UPID format, addresses and MACs, PVE parameter verification.
import { describe, expect, it } from 'vitest';
import { formatUpid, parseUpid } from '../../server/simulator/tasks.js';
import { ipFor, macFor } from '../../server/simulator/generator.js';
import { verifyParams } from '../../server/simulator/schema/validate.js';
import { SCHEMA } from '../../server/simulator/api.js';

describe('UPID', () => {
  it('formats like PVE::Tools::upid_encode and parses back', () => {
    const u = { node: 'pve1', pid: 0x1a2b, pstart: 0x10cac34, starttime: 0x6560f3a1, type: 'qmstart', id: '100', user: 'root@pam!labdeck' };
    const upid = formatUpid(u);
    expect(upid).toBe('UPID:pve1:00001A2B:010CAC34:6560F3A1:qmstart:100:root@pam!labdeck:');
    expect(parseUpid(upid)).toEqual(u);
    expect(parseUpid('UPID:pve1:xyz')).toBeNull();
  });
});

describe('guest identity', () => {
  it('keeps addresses in 127.0.0.0/8 and MACs unique under BC:24:11', () => {
    const macs = new Set<string>();
    for (const vmid of [100, 255, 256, 65_535, 65_536, 999_999, 999_999_999]) {
      expect(ipFor(vmid)).toMatch(/^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/);
      for (const part of ipFor(vmid).split('.')) expect(Number(part)).toBeLessThan(256);
      macs.add(macFor(vmid));
    }
    expect(macs.size).toBe(7);
  });
});

describe('verifyParams on real endpoint schemas', () => {
  const clone = SCHEMA['/nodes/{node}/qemu/{vmid}/clone'].POST.parameters!;
  it('accepts a valid clone request', () => {
    expect(verifyParams(clone, { node: 'pve1', vmid: '100', newid: '200', name: 'lab-a-ws-200', full: '1', pool: 'class-1' })).toBeNull();
  });
  it('reports every bad field at once', () => {
    expect(verifyParams(clone, { node: 'pve1', vmid: '100', name: 'bad name', newid: 'x', extra: '1' })).toEqual({
      newid: "type check ('integer') failed - got 'x'",
      name: 'invalid format - value does not look like a valid DNS name\n',
      extra: 'property is not defined in schema and the schema does not allow additional properties',
    });
  });
  it('rejects repeated keys for scalar parameters', () => {
    expect(verifyParams(clone, { node: 'pve1', vmid: '100', newid: ['200', '201'] })).toEqual({ newid: "type check ('integer') failed - got ARRAY" });
  });
});
