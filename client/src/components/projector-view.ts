// Projector view of one class: full screen, readable from the back of the room, one tile per
// student (name, VM, status, IP) and one per pool VM nobody is assigned ("Unassigned"), counts and
// a clock, no controls. Opened by /projector/<token> with nobody signed in; it sees that class and
// nothing else.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { LiveLink } from '../lib/live.js';
import { LiveController, TickController } from '../lib/controllers.js';
import { apiGet } from '../lib/api.js';
import { statusInfo, ipText, isProblem, isPending, clock, ago } from '../lib/format.js';
import type { ProjectorView as ProjectorViewAnswer, ProjectorVm } from '../../../contract/classes.js';
import type { SinceResponse } from '../lib/vm-store.js';

/** How a tile reads from afar: each kind has its own icon and background, not just a colour. */
type Kind = 'problem' | 'busy' | 'running' | 'stopped' | 'none';
const ICON: Record<Kind, string> = { problem: '⚠', busy: '⟳', running: '▶', stopped: '■', none: '–' };
// Problems first, then VMs on their way; the rest keeps the roster order.
const RANK: Record<Kind, number> = { problem: 0, busy: 1, running: 2, stopped: 2, none: 2 };

function tileKind(vm: ProjectorVm | undefined, vmKey: string | null): Kind {
  if (!vm) return vmKey ? 'problem' : 'none';
  if (isProblem(vm)) return 'problem';
  if (isPending(vm.status)) return 'busy';
  return vm.status === 'running' ? 'running' : vm.status === 'stopped' ? 'stopped' : 'problem';
}

/** `student` is null for a pool VM nobody is assigned. */
interface Tile { student: string | null; vmKey: string | null }

/** Student → VM keys from the projector answer, one tile per VM (or one "No VM yet" tile). */
function tilesFrom(res: ProjectorViewAnswer): Tile[] {
  const tiles: Tile[] = [];
  for (const s of res.students) {
    if (s.vms.length === 0) tiles.push({ student: s.displayName, vmKey: null });
    for (const k of new Set(s.vms)) tiles.push({ student: s.displayName, vmKey: k });
  }
  return tiles.sort((a, b) => (a.student ?? '').localeCompare(b.student ?? '', undefined, { numeric: true }));
}

@customElement('ld-projector')
export class ProjectorView extends LitElement {
  static override styles = [base, css`
    :host { min-height: 100vh; padding: 1.5vw 2vw; display: flex; flex-direction: column; gap: 1.2vw; font-size: clamp(14px, 1.35vw, 40px); }
    header { display: flex; align-items: center; gap: 2vw; flex-wrap: wrap; }
    h1 { font-size: 2.2em; margin: 0; }
    /* Smaller than the class name: the class is what the room looks for. */
    .clock { margin-left: auto; font-size: 1.5em; font-variant-numeric: tabular-nums; color: var(--muted); }
    .counts { display: flex; gap: 1.5vw; font-size: 1.3em; flex-wrap: wrap; }
    .counts b { font-weight: 700; }
    ul.tiles { list-style: none; margin: 0; padding: 0; display: grid; grid-template-columns: repeat(auto-fill, minmax(max(14em, 15vw), 1fr)); gap: 1vw; }
    /* A full class (more than 12 tiles) still fits one 1080p wall without scrolling. */
    ul.tiles.dense { font-size: .8em; grid-template-columns: repeat(auto-fill, minmax(max(11em, 11vw), 1fr)); gap: .8vw; }
    .tile { border-radius: 10px; padding: .7em .9em; border: 3px solid var(--border); background: var(--surface); display: grid; gap: .2em; min-width: 0; }
    /* Background, border style and icon differ per state, so the wall reads in greyscale too. */
    .tile.k-running { background: var(--ok-bg); border-color: var(--ok); }
    .tile.k-stopped { background: var(--surface); border-color: var(--border); border-style: dashed; }
    .tile.k-busy { background: repeating-linear-gradient(135deg, var(--busy-bg) 0 .6em, var(--surface) .6em 1.2em); border-color: var(--busy); }
    .tile.k-problem { background: var(--bad-bg); border-color: var(--bad); border-width: 6px; }
    .tile.k-none { background: var(--surface-2); border-color: transparent; }
    .student { font-size: 1.35em; font-weight: 700; overflow-wrap: anywhere; }
    .student.unassigned { font-weight: 600; font-style: italic; }
    /* Secondary text: at least 24 px on a 1080p wall. */
    .vm, .ip, .noip, .stale { font-size: max(1em, 1.25vw); overflow-wrap: anywhere; }
    .state { font-size: 1.2em; font-weight: 700; display: flex; gap: .35em; align-items: center; overflow-wrap: anywhere; min-width: 0; }
    .k-running .state { color: var(--ok); }
    .k-busy .state { color: var(--busy); }
    .k-problem .state { color: var(--bad); }
    .icon { font-size: 1.1em; width: 1.2em; text-align: center; flex: none; }
    .ip { font-family: var(--mono); }
    .empty { font-size: 1.4em; }
    .gone { display: grid; place-items: center; min-height: 80vh; text-align: center; font-size: 1.6em; }
    /* Over the tiles, not above them: the last row stays on a 720p screen. */
    .conn { position: fixed; top: .6em; left: 50%; transform: translateX(-50%); z-index: 5; background: var(--warn-bg); color: var(--warn); border: 2px solid var(--warn); border-radius: 999px; padding: .3em 1em; font-weight: 700; box-shadow: 0 4px 16px rgb(0 0 0 / 25%); }
    .stale { color: var(--warn); font-weight: 600; }
  `];

  @property() token = '';
  @state() private classTitle = '';
  @state() private tiles: Tile[] = [];
  private link?: LiveLink<ProjectorVm>;
  private readonly live = new LiveController(this, () => this.link);
  private readonly tick = new TickController(this, 1000);

  /** F or a double click toggles full screen (there are no visible controls on a projector). */
  private readonly onKey = (e: KeyboardEvent) => {
    if (e.key === 'f' || e.key === 'F') this.toggleFullscreen();
  };
  private readonly onDbl = () => this.toggleFullscreen();

  private toggleFullscreen(): void {
    if (document.fullscreenElement) void document.exitFullscreen();
    else void document.documentElement.requestFullscreen?.().catch(() => undefined);
  }

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('keydown', this.onKey);
    this.addEventListener('dblclick', this.onDbl);
    this.link = new LiveLink<ProjectorVm>({ projector: this.token, fullReload: true, loadSnapshot: () => this.load() });
    this.live.bind();
    this.link.start();
    document.title = 'Projector · labdeck';
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('keydown', this.onKey);
    this.removeEventListener('dblclick', this.onDbl);
    this.link?.stop();
  }

  private async load(): Promise<SinceResponse<ProjectorVm>> {
    const res = await apiGet<ProjectorViewAnswer>(`/api/projector/${encodeURIComponent(this.token)}`);
    this.classTitle = res.class.name;
    document.title = `${this.classTitle} · projector · labdeck`;
    this.tiles = tilesFrom(res);
    return { revision: res.revision, vms: res.vms };
  }

  override render() {
    const link = this.link;
    if (link?.refused && !link.store.loaded) {
      return html`<main class="gone" role="alert"><div><h1>This projector link does not work</h1><p>It may have expired or been revoked. Ask the teacher for a new one.</p></div></main>`;
    }
    if (link?.refused) {
      return html`<main class="gone" role="alert"><div><h1>This projector link has been revoked</h1><p>Ask the teacher for a new one.</p></div></main>`;
    }
    const vms = link?.store.vms ?? new Map<string, ProjectorVm>();
    // Pool VMs nobody is assigned get a tile too: the teacher sees every class VM on the wall.
    const assigned = new Set(this.tiles.map((t) => t.vmKey));
    const free: Tile[] = [...vms.values()].filter((vm) => !assigned.has(vm.id))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.vmid - b.vmid)
      .map((vm) => ({ student: null, vmKey: vm.id }));
    // Problems first, then VMs on their way, then the rest in roster order (sort is stable).
    const shown = [...this.tiles, ...free].map((t) => ({ ...t, vm: t.vmKey ? vms.get(t.vmKey) : undefined }))
      .map((t) => ({ ...t, kind: tileKind(t.vm, t.vmKey) }))
      .sort((a, b) => RANK[a.kind] - RANK[b.kind]);
    const count = { running: 0, busy: 0, stopped: 0, problem: 0 };
    for (const t of shown) if (t.vm) count[t.kind === 'none' ? 'problem' : t.kind]++;
    const state = link?.state ?? 'connecting';
    return html`<header>
        <h1>${this.classTitle || 'Class'}</h1>
        <div class="counts" role="status" aria-live="polite">
          <div class="count k-running"><span aria-hidden="true">${ICON.running}</span> <b data-count="running">${count.running}</b> running</div>
          <div class="count k-busy"><span aria-hidden="true">${ICON.busy}</span> <b data-count="busy">${count.busy}</b> starting or stopping</div>
          <div class="count k-stopped"><span aria-hidden="true">${ICON.stopped}</span> <b data-count="stopped">${count.stopped}</b> stopped</div>
          <div class="count k-problem"><span aria-hidden="true">${ICON.problem}</span> <b data-count="problems">${count.problem}</b> ${count.problem === 1 ? 'problem' : 'problems'}</div>
        </div>
        <div class="clock" aria-label="Time">${clock(this.tick.now)}</div>
      </header>
      ${state !== 'live' ? html`<div class="conn" role="status">${state === 'offline' ? 'Offline' : 'Reconnecting…'}: the tiles may be out of date</div>` : nothing}
      <main>
      ${shown.length === 0 && link?.store.loaded ? html`<p class="empty">This class has no students and no VMs yet.</p>` : nothing}
      <ul class=${shown.length > 12 ? 'tiles dense' : 'tiles'} aria-label="Students and their VMs">${shown.map((t) => {
        const s = t.vm ? statusInfo(t.vm.status) : { label: t.vmKey ? 'Not visible' : 'No VM yet', tone: 'off' };
        return html`<li class="tile k-${t.kind}" data-vm=${t.vm?.id ?? ''} data-status=${t.vm?.status ?? ''} data-kind=${t.kind} ?data-unassigned=${t.student === null}>
          <div class=${t.student === null ? 'student unassigned' : 'student'}>${t.student ?? 'Unassigned'}</div>
          <div class="vm">${t.vm ? `${t.vm.name} (#${t.vm.vmid})` : '—'}</div>
          <div class="state"><span class="icon" aria-hidden="true">${ICON[t.kind]}</span> ${s.label.replace('…', '')}</div>
          <div class=${t.vm?.ip ? 'ip' : 'noip'}>${t.vm ? ipText(t.vm) : ''}</div>
          ${t.vm?.stale ? html`<div class="stale">data ${ago(t.vm.lastSeen, this.tick.now)}</div>` : nothing}
          ${t.vm?.syncError === 'node offline' ? html`<div class="stale" data-node-offline>node offline</div>` : nothing}
        </li>`;
      })}</ul>
      </main>`;
  }
}
