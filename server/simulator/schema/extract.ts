// Extracts, from the official Proxmox VE API schema, the method definitions of the endpoints the
// simulator serves, into the committed pve-schema-subset.json (a fresh clone has no full schema).
// Usage: npx tsx server/simulator/schema/extract.ts [path/to/pve-api-schema.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SERVED_ENDPOINTS } from './endpoints.js';

/** A node of the official schema tree. */
interface SchemaNode {
  path: string;
  info?: Record<string, unknown>;
  children?: SchemaNode[];
}

/** The subset format: schema path → HTTP method → the method's info object, unchanged. */
export type SchemaSubset = Record<string, Record<string, unknown>>;

/** Builds the subset for the served endpoints from the full schema tree; throws on a missing one. */
export function extractSubset(tree: SchemaNode[]): SchemaSubset {
  const byPath = new Map<string, SchemaNode>();
  const walk = (n: SchemaNode): void => {
    byPath.set(n.path, n);
    for (const c of n.children ?? []) walk(c);
  };
  tree.forEach(walk);
  const subset: SchemaSubset = {};
  for (const { path, method } of SERVED_ENDPOINTS) {
    const info = byPath.get(path)?.info?.[method];
    if (!info) throw new Error(`schema has no ${method} ${path}`);
    (subset[path] ??= {})[method] = info;
  }
  return subset;
}

const here = dirname(fileURLToPath(import.meta.url));
/** Where the full schema lives next to the repository, if it does. */
export const DEFAULT_FULL_SCHEMA = resolve(here, '../../../../shared/pve-api/pve-api-schema.json');
export const SUBSET_FILE = join(here, 'pve-schema-subset.json');

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const source = process.argv[2] ?? DEFAULT_FULL_SCHEMA;
  const subset = extractSubset(JSON.parse(readFileSync(source, 'utf8')) as SchemaNode[]);
  writeFileSync(SUBSET_FILE, JSON.stringify(subset, null, 1) + '\n');
  console.log(`wrote ${Object.keys(subset).length} paths to ${SUBSET_FILE}`);
}
