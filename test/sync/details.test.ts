// A VM's sync error is read by everyone who sees the VM, students too: Proxmox's answer about the
// guest is kept, connection errors (whose text names the cluster's host and port) are not.
import { describe, expect, it } from 'vitest';
import { detailError } from '../../server/sync/details.js';
import { PveError } from '../../server/pve/errors.js';

describe('detail errors as a VM shows them', () => {
  it('keeps what Proxmox said about the guest and drops where Proxmox is', () => {
    expect(detailError(new PveError('lab-a', 500, 'QEMU guest agent is not running'))).toBe('QEMU guest agent is not running');
    for (const [kind, text] of [['network', 'Proxmox could not be reached'], ['refused', 'Proxmox could not be reached'],
      ['timeout', 'Proxmox did not answer in time'], ['invalid-response', 'Proxmox answered something labdeck cannot read']] as const) {
      const e = detailError(new PveError('lab-a', 0, 'connect ECONNREFUSED 10.0.0.5:8006', kind));
      expect(e).toBe(text);
    }
    expect(detailError(new Error('getaddrinfo ENOTFOUND pve1.internal.example'))).toBe('labdeck could not read it');
    expect(detailError(new PveError('lab-a', 500, 'x'.repeat(5000))).length).toBe(200);
  });
});
