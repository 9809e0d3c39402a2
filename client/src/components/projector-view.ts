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
import { statusInfo, ipText, isProblem, clock, ago } from '../lib/format.js';
import type { Vm } from '../../../server/inventory/vm.js';
import type { SinceResponse } from '../lib/vm-store.js';

/** `student` is null for a pool VM nobody is assigned. */
interface Tile { student: string | null; vmKey: string | null }

type Raw = Record<string, any>;

/** Student → VM keys from the projector answer (assignments, or VM lists on each student). */
function tilesFrom(res: Raw): Tile[] {
  const students = (res.students ?? []) as Raw[];
  const assignments = (res.assignments ?? []) as Raw[];
  const tiles: Tile[] = [];
  for (const s of students) {
    const name = String(s.displayName ?? s.display_name ?? s.name ?? s.username);
    const id = Number(s.id ?? s.userId);
    const keys: string[] = (s.vmKeys ?? s.vms ?? s.vmIds ?? []).map((v: Raw | string) => (typeof v === 'string' ? v : v.id ?? `${v.cluster}:${v.vmid}`));
    for (const a of assignments) if (Number(a.userId ?? a.user_id) === id) keys.push(`${a.cluster ?? a.clusterId}:${a.vmid}`);
    if (keys.length === 0) tiles.push({ student: name, vmKey: null });
    for (const k of new Set(keys)) tiles.push({ student: name, vmKey: k });
  }
  return tiles.sort((a, b) => (a.student ?? '').localeCompare(b.student ?? '', undefined, { numeric: true }));
}

@customElement('ld-projector')
export class ProjectorView extends LitElement {
  static override styles = [base, css`
    :host { min-height: 100vh; padding: 1.5vw 2vw; display: flex; flex-direction: column; gap: 1.2vw; font-size: clamp(14px, 1.35vw, 40px); }
    header { display: flex; align-items: baseline; gap: 2vw; flex-wrap: wrap; }
    h1 { font-size: 2.2em; margin: 0; }
    .clock { margin-left: auto; font-size: 2.2em; font-variant-numeric: tabular-nums; font-weight: 700; }
    .counts { display: flex; gap: 1.5vw; font-size: 1.4em; flex-wrap: wrap; }
    .counts span { font-weight: 700; }
    .tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(max(14em, 15vw), 1fr)); gap: 1vw; }
    /* A full class (more than 12 tiles) still fits one 1080p wall without scrolling. */
    .tiles.dense { font-size: .8em; grid-template-columns: repeat(auto-fill, minmax(max(11em, 11vw), 1fr)); gap: .8vw; }
    .tile { border-radius: 10px; padding: .8em 1em; border: 3px solid transparent; background: var(--surface); display: grid; gap: .25em; }
    .tile.edge-ok { border-color: var(--ok); }
    .tile.edge-off { border-color: var(--border); }
    .tile.edge-busy, .tile.edge-warn { border-color: var(--warn); }
    .tile.edge-bad { border-color: var(--bad); }
    .student { font-size: 1.35em; font-weight: 700; overflow-wrap: anywhere; }
    .student.unassigned { font-weight: 600; font-style: italic; color: var(--muted); }
    .empty { font-size: 1.4em; color: var(--muted); }
    .vm { color: var(--muted); overflow-wrap: anywhere; }
    .state { font-size: 1.25em; font-weight: 700; }
    .ip { font-family: var(--mono); font-size: 1.1em; }
    .noip { color: var(--muted); }
    .tile .badge { font-size: 1.1em; justify-self: start; padding: .15em .7em; }
    .gone { display: grid; place-items: center; min-height: 80vh; text-align: center; font-size: 1.6em; }
    .conn { font-size: .9em; }
    .stale { color: var(--warn); font-weight: 600; }
  `];

  @property() token = '';
  @state() private classTitle = '';
  @state() private tiles: Tile[] = [];
  private link?: LiveLink;
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
    this.link = new LiveLink({ projector: this.token, fullReload: true, loadSnapshot: () => this.load() });
    this.live.bind();
    this.link.start();
    document.title = 'labdeck projector';
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    window.removeEventListener('keydown', this.onKey);
    this.removeEventListener('dblclick', this.onDbl);
    this.link?.stop();
  }

  private async load(): Promise<SinceResponse> {
    const res = await apiGet<Raw>(`/api/projector/${encodeURIComponent(this.token)}`);
    this.classTitle = String(res.class?.name ?? '');
    this.tiles = tilesFrom(res);
    return { revision: Number(res.revision ?? 0), vms: (res.vms ?? []) as Vm[] };
  }

  override render() {
    const link = this.link;
    if (link?.refused && !link.store.loaded) {
      return html`<div class="gone" role="alert"><div><h1>This projector link does not work</h1><p>It may have expired or been revoked. Ask the teacher for a new one.</p></div></div>`;
    }
    if (link?.refused) {
      return html`<div class="gone" role="alert"><div><h1>This projector link has been revoked</h1><p>Ask the teacher for a new one.</p></div></div>`;
    }
    const vms = link?.store.vms ?? new Map<string, Vm>();
    let running = 0, stopped = 0, problems = 0;
    // Pool VMs nobody is assigned get a tile too: the teacher sees every class VM on the wall.
    const assigned = new Set(this.tiles.map((t) => t.vmKey));
    const free: Tile[] = [...vms.values()].filter((vm) => !assigned.has(vm.id))
      .sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }) || a.vmid - b.vmid)
      .map((vm) => ({ student: null, vmKey: vm.id }));
    const shown = [...this.tiles, ...free].map((t) => ({ ...t, vm: t.vmKey ? vms.get(t.vmKey) : undefined }));
    for (const t of shown) {
      if (!t.vm) continue;
      if (isProblem(t.vm)) problems++;
      else if (t.vm.status === 'running') running++;
      else if (t.vm.status === 'stopped') stopped++;
    }
    const state = link?.state ?? 'connecting';
    return html`<header>
        <h1>${this.classTitle || 'Class'}</h1>
        <div class="counts" role="status" aria-live="polite">
          <div><span data-count="running">${running}</span> running</div>
          <div><span data-count="stopped">${stopped}</span> stopped</div>
          <div><span data-count="problems">${problems}</span> problems</div>
        </div>
        <div class="clock" aria-label="Time">${clock(this.tick.now)}</div>
      </header>
      ${state !== 'live' ? html`<div class="conn badge tone-warn">${state === 'offline' ? 'Offline' : 'Reconnecting…'} — the tiles may be out of date</div>` : nothing}
      ${shown.length === 0 && link?.store.loaded ? html`<p class="empty">This class has no students and no VMs yet.</p>` : nothing}
      <div class=${shown.length > 12 ? 'tiles dense' : 'tiles'}>${shown.map((t) => {
        const s = t.vm ? statusInfo(t.vm.status) : { label: t.vmKey ? 'Not visible' : 'No VM', tone: 'off' };
        return html`<div class="tile edge-${s.tone}" data-vm=${t.vm?.id ?? ''} data-status=${t.vm?.status ?? ''} ?data-unassigned=${t.student === null}>
          <div class=${t.student === null ? 'student unassigned' : 'student'}>${t.student ?? 'Unassigned'}</div>
          <div class="vm">${t.vm ? `${t.vm.name} (#${t.vm.vmid})` : '—'}</div>
          <span class="badge tone-${s.tone} state">${s.label}</span>
          <div class=${t.vm?.ip ? 'ip' : 'noip'}>${t.vm ? ipText(t.vm) : ''}</div>
          ${t.vm?.stale ? html`<div class="stale">data ${ago(t.vm.lastSeen, this.tick.now)}</div>` : nothing}
        </div>`;
      })}</div>`;
  }
}
