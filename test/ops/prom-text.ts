// A strict reader of the Prometheus text exposition format (0.0.4), for tests: throws on any line
// a Prometheus server would reject, and returns the samples.
export interface Sample { name: string; labels: Record<string, string>; value: number }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?$/;
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\"n])*)"\s*(,\s*|$)/;

/**
 * A sample value as Prometheus reads it (Go's strconv.ParseFloat): NaN and Inf in any letter case,
 * which matters because prom-client writes an empty event-loop histogram's mean as `Nan`.
 */
function floatValue(raw: string): number | null {
  if (/^nan$/i.test(raw)) return NaN;
  const inf = /^([+-]?)inf(inity)?$/i.exec(raw);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(raw)) return null;
  return Number(raw);
}

/** Parses exposition text; throws naming the first bad line. */
export function parsePrometheusText(text: string): { samples: Sample[]; types: Map<string, string> } {
  const types = new Map<string, string>();
  const helps = new Set<string>();
  const samples: Sample[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return;
      if (!NAME.test(m[2])) throw new Error(`line ${i + 1}: bad metric name ${m[2]}`);
      if (m[1] === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(m[3])) throw new Error(`line ${i + 1}: bad type ${m[3]}`);
        if (types.has(m[2])) throw new Error(`line ${i + 1}: second TYPE for ${m[2]}`);
        types.set(m[2], m[3]);
      } else helps.add(m[2]);
      return;
    }
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`line ${i + 1}: not a sample: ${line}`);
    const labels: Record<string, string> = {};
    let rest = m[3] ?? '';
    while (rest.length) {
      const l = LABEL.exec(rest);
      if (!l) throw new Error(`line ${i + 1}: bad labels: ${m[3]}`);
      labels[l[1]] = l[2];
      rest = rest.slice(l[0].length);
    }
    const raw = m[4];
    const value = floatValue(raw);
    if (value === null) throw new Error(`line ${i + 1}: bad value ${raw}`);
    const base = m[1].replace(/_(bucket|sum|count|total|created)$/, '');
    if (!types.has(m[1]) && !types.has(base)) throw new Error(`line ${i + 1}: sample ${m[1]} without TYPE`);
    samples.push({ name: m[1], labels, value });
  });
  for (const [name, type] of types) {
    if (type !== 'histogram') continue;
    const buckets = new Map<string, number[]>();
    for (const s of samples.filter((x) => x.name === `${name}_bucket`)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      const list = buckets.get(key) ?? [];
      list.push(s.value);
      buckets.set(key, list);
      if (le === undefined) throw new Error(`${name}: bucket without le`);
    }
    for (const [key, list] of buckets) {
      for (let j = 1; j < list.length; j++) if (list[j] < list[j - 1]) throw new Error(`${name}${key}: buckets not cumulative`);
    }
  }
  return { samples, types };
}

/** The value of one series (labels must match exactly the given subset), or undefined. */
export function sampleValue(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}
