// CPU profiles of labdeck's own process (inspector, no restart): the harness profiles a window
// (one quick pass, a read load) and keeps the functions with the most self time, grouped by
// function and file, so the findings can say what limits a figure instead of guessing.
import { Session } from 'node:inspector/promises';
import { writeFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: ProfileNode[]; startTime: number; endTime: number; samples?: number[]; timeDeltas?: number[] }

export interface HotSpot { where: string; selfMs: number; percent: number }

/** Self time per function (idle left out), most first (pure). */
export function hotSpots(profile: Profile, root: string, top = 15): { totalMs: number; spots: HotSpot[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  let total = 0;
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]);
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000;
    // Idle is waiting, not work: left out so shares are of CPU time.
    if (!n || n.callFrame.functionName === '(idle)') continue;
    total += dt;
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const file = url ? (url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : relative(root, url)) : '';
    const where = `${n.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${n.callFrame.lineNumber + 1}` : ''}`;
    self.set(where, (self.get(where) ?? 0) + dt);
  }
  const spots = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top)
    .map(([where, ms]) => ({ where, selfMs: Math.round(ms * 10) / 10, percent: total ? Math.round((ms / total) * 1000) / 10 : 0 }));
  return { totalMs: Math.round(total), spots };
}

/**
 * The longest stretches the thread worked without going idle (what a request arriving then waits
 * behind), each with the deepest frame that most of its samples were under (pure). A stretch with
 * far fewer samples than its length allows was mostly spent off the CPU (another process ran).
 */
export function busyStretches(profile: Profile, root: string, top = 8): Array<{ ms: number; samples: number; where: string }> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes as Array<ProfileNode & { children?: number[] }>) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  const runs: Array<{ ms: number; ids: number[] }> = [];
  let cur: { ms: number; ids: number[] } | null = null;
  for (let i = 0; i < samples.length; i++) {
    const n = byId.get(samples[i]);
    const dt = (deltas[i + 1] ?? 0) / 1000;
    if (!n || n.callFrame.functionName === '(idle)') {
      if (cur) runs.push(cur);
      cur = null;
      continue;
    }
    cur ??= { ms: 0, ids: [] };
    cur.ms += dt;
    cur.ids.push(samples[i]);
  }
  if (cur) runs.push(cur);
  const label = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^file:\/\//, '');
    const file = url ? (url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 14) : relative(root, url)) : '';
    return `${n.callFrame.functionName || '(anonymous)'}${file ? ` ${file}:${n.callFrame.lineNumber + 1}` : ''}`;
  };
  return runs.sort((a, b) => b.ms - a.ms).slice(0, top).map((r) => {
    // Frames by how many of the stretch's samples they are on the stack of; the deepest one on most.
    const count = new Map<number, { n: number; depth: number }>();
    for (const id of r.ids) {
      const stack: number[] = [];
      for (let x: number | undefined = id; x !== undefined; x = parent.get(x)) stack.push(x);
      stack.reverse().forEach((x, depth) => {
        const c = count.get(x) ?? { n: 0, depth };
        c.n++;
        count.set(x, c);
      });
    }
    let best: number | null = null;
    for (const [x, c] of count) {
      if (c.n < r.ids.length * 0.6 || c.depth === 0) continue;
      if (best === null || c.depth > count.get(best)!.depth) best = x;
    }
    // And where its samples were themselves (the top three by share).
    const self = new Map<string, number>();
    for (const id of r.ids) self.set(label(byId.get(id)!), (self.get(label(byId.get(id)!)) ?? 0) + 1);
    const mostly = [...self].sort((a, b) => b[1] - a[1]).slice(0, 3).map(([w, n]) => `${Math.round((100 * n) / r.ids.length)}% ${w}`).join('; ');
    return { ms: Math.round(r.ms * 10) / 10, samples: r.ids.length, where: `${best === null ? 'several places' : label(byId.get(best)!)} (${mostly})` };
  });
}

/** One profiling session of this process. */
export class Profiler {
  private session: Session | null = null;

  /** Starts sampling (every 200 µs). */
  async start(): Promise<void> {
    this.session = new Session();
    this.session.connect();
    await this.session.post('Profiler.enable');
    await this.session.post('Profiler.setSamplingInterval', { interval: 200 });
    await this.session.post('Profiler.start');
  }

  /** Stops, writes the .cpuprofile (for Chrome DevTools) and returns the hot spots. */
  async stop(file: string, root: string): Promise<{ totalMs: number; spots: HotSpot[]; file: string }> {
    if (!this.session) throw new Error('profiler not started');
    const { profile } = (await this.session.post('Profiler.stop')) as { profile: Profile };
    await this.session.post('Profiler.disable');
    this.session.disconnect();
    this.session = null;
    writeFileSync(file, JSON.stringify(profile));
    return { ...hotSpots(profile, root), file };
  }
}
