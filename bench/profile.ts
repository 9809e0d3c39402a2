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
