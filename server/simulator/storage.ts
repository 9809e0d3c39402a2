// The guest storage of a simulated cluster: what its kind allows (linked clones, cloning to
// another node, rolling back to an older snapshot), as pve-storage's plugins decide it.

/** The storages a simulated cluster can put its guest disks on. */
export type StorageId = 'local-lvm' | 'local-zfs' | 'ceph' | 'nfs';

export interface StorageInfo {
  id: StorageId;
  /** pve-storage plugin type. */
  type: 'lvmthin' | 'zfspool' | 'rbd' | 'nfs';
  /** Shared between nodes: clones may target another node. */
  shared: boolean;
  /** Volumes support the 'clone' feature (linked clones of a template's base volume). */
  linkedClones: boolean;
  /** ZFS keeps snapshots in a line: a rollback works only to the most recent one. */
  rollbackOnlyLatest: boolean;
}

export const STORAGES: Record<StorageId, StorageInfo> = {
  'local-lvm': { id: 'local-lvm', type: 'lvmthin', shared: false, linkedClones: true, rollbackOnlyLatest: false },
  'local-zfs': { id: 'local-zfs', type: 'zfspool', shared: false, linkedClones: true, rollbackOnlyLatest: true },
  ceph: { id: 'ceph', type: 'rbd', shared: true, linkedClones: true, rollbackOnlyLatest: false },
  // qcow2 on NFS would clone; raw images (the default here) have no clone feature.
  nfs: { id: 'nfs', type: 'nfs', shared: true, linkedClones: false, rollbackOnlyLatest: false },
};

/** The volume id of a guest's first disk, as configs and error texts name it. */
export function diskVolid(storage: StorageId, type: 'qemu' | 'lxc', vmid: number, template: boolean): string {
  const name = `${template ? 'base' : 'vm'}-${vmid}-disk-0`;
  if (storage === 'nfs') return `nfs:${vmid}/${name}.raw`;
  return `${storage}:${type === 'lxc' && storage === 'local-zfs' ? `subvol-${vmid}-disk-0` : name}`;
}
