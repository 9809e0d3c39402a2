// Teacher — one class: one dense table of the class (each student with their VM, free VMs, students
// still without one) with status, address, CPU and memory, row actions and assignment; search and
// status filter; selected or whole-class start and shut down through the server's bulk route, with
// a confirmation listing the VMs and one progress summary; class links; the live audit trail.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { repeat } from 'lit/directives/repeat.js';
import { base } from '../lib/styles.js';
import { LiveController } from '../lib/controllers.js';
import { matchesText } from '../lib/vm-query.js';
import { statusInfo, ipText, percent, isProblem } from '../lib/format.js';
import { powerBulk, TARGET_STATUS, type PowerAction } from '../lib/actions.js';
import { itemState, summarise, summaryText, type BulkRun } from '../lib/bulk-progress.js';
import { plainError } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { getClass, assign, unassign, autoAssign, addToPool, removeFromPool, type ClassDetail, type Person } from '../lib/classes.js';
import { confirmAction } from './confirm-dialog.js';
import type { LiveLink } from '../lib/live.js';
import type { User } from '../lib/session.js';
import type { Vm } from '../../../contract/vm.js';
import './class-settings.js';
import './class-scope.js';
import './class-links.js';
import './class-audit.js';
import './vm-row-actions.js';
import './provision-panel.js';

/** One table row: a VM (with its student, if any), or a student who has no VM yet. */
interface Row { key: string; vm: Vm | null; student: Person | null }

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

@customElement('ld-class-page')
export class ClassPage extends LitElement {
  static override styles = [base, css`
    .summary { margin: -.2rem 0 .8rem; }
    section.class-table { margin-top: 1rem; }
    .toolbar { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin: .6rem 0; }
    .toolbar input[type=search] { min-width: 14rem; flex: 1 1 14rem; max-width: 22rem; }
    .group { display: inline-flex; gap: .35rem; flex-wrap: wrap; }
    .bulk { padding: .45rem .7rem; border-radius: 6px; background: var(--surface-2); font-weight: 600; margin-bottom: .5rem; display: flex; gap: .6rem; align-items: center; flex-wrap: wrap; }
    .bulk.failed { background: var(--bad-bg); color: var(--bad); }
    .bulk button { min-height: 1.8rem; padding: .1rem .5rem; font-weight: 400; }
    .scroll { overflow-x: auto; }
    table { font-size: .9rem; }
    td, th { padding: .25rem .45rem; vertical-align: middle; }
    td.check, th.check { width: 2rem; }
    .vmname { white-space: nowrap; font-weight: 600; }
    .who { white-space: nowrap; }
    td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
    .mini { display: inline-block; width: 3rem; height: .35rem; border-radius: 999px; background: var(--surface-2); vertical-align: middle; margin-left: .3rem; overflow: hidden; }
    .mini > span { display: block; height: 100%; background: var(--accent); }
    .small { font-size: .85rem; }
    .prog { font-size: .8rem; display: block; }
    .prog.failed { color: var(--bad); }
    select.assign { min-height: 1.9rem; padding: .1rem .3rem; font-size: .88rem; max-width: 11rem; }
    button.small { min-height: 1.9rem; padding: .15rem .55rem; font-size: .88rem; }
    .undo { display: flex; gap: .5rem; align-items: center; margin: .4rem 0; }
    .entry button { min-height: 0; padding: 0 .3rem; border: 0; background: transparent; color: inherit; font-weight: 700; }
    .field-error { flex-basis: 100%; margin: .2rem 0 0; font-size: .88rem; }
    ld-class-links, ld-class-scope, ld-class-settings { display: block; margin-bottom: 1rem; }
    ld-class-audit { margin-top: 1rem; }
    /* A phone keeps who, which VM, its state and the actions; the rest is on wider screens. */
    @media (max-width: 700px) { .wide { display: none; } .toolbar input[type=search] { min-width: 0; max-width: none; } }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @property({ attribute: false }) user?: User;
  @property() classId = '';
  @state() private detail: ClassDetail | null = null;
  @state() private error = '';
  @state() private poolError = '';
  @state() private filter = '';
  @state() private statusFilter = '';
  @state() private selected = new Set<string>();
  @state() private run: BulkRun | null = null;
  @state() private busy = false;
  @state() private undo: { text: string; act: () => Promise<void> } | null = null;
  private readonly live = new LiveController(this, () => this.link);
  private offAccess?: () => void;
  private offStore?: () => void;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offAccess?.();
    this.offStore?.();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) {
      this.live.bind();
      this.offAccess?.();
      this.offAccess = this.link?.onAccessChanged((ids) => {
        if (ids.length === 0 || ids.includes(Number(this.classId))) void this.load();
      });
      this.offStore?.();
      this.offStore = this.link?.store.subscribe((changes) => this.trackRun(changes));
    }
    if (changed.has('classId') && this.classId) void this.load();
  }

  /** Notes VMs of the running bulk action passing through a pending state (see itemState). */
  private trackRun(changes: Array<{ after: Vm | undefined }>): void {
    const run = this.run;
    if (!run) return;
    for (const c of changes) {
      if (c.after && run.results.has(c.after.id) && /ing$/.test(c.after.status)) run.seenPending.add(c.after.id);
    }
  }

  private async load(): Promise<void> {
    try {
      this.detail = await getClass(this.classId);
      this.error = '';
      document.title = `${this.detail.name} · labdeck`;
    } catch (err) {
      this.error = plainError(err, 'load this class');
    }
  }

  private vms(): Vm[] {
    const store = this.link?.store;
    if (!store || !this.detail) return [];
    const out: Vm[] = [];
    for (const key of this.detail.vmKeys) {
      const vm = store.vms.get(key);
      if (vm) out.push(vm);
    }
    return out;
  }

  /** The table: students with their VMs (by name), then free VMs, then students without a VM. */
  private rows(vms: Vm[]): Row[] {
    const d = this.detail!;
    const byId = new Map(d.students.map((s) => [s.id, s]));
    const ownerOf = new Map(d.assignments.map((a) => [a.key, byId.get(a.userId) ?? null]));
    const withVm = new Set<number>();
    const rows: Row[] = vms.map((vm) => {
      const student = ownerOf.get(vm.id) ?? null;
      if (student) withVm.add(student.id);
      return { key: vm.id, vm, student };
    });
    for (const s of d.students) if (!withVm.has(s.id)) rows.push({ key: `student:${s.id}`, vm: null, student: s });
    const rank = (r: Row) => (r.student && r.vm ? 0 : r.vm ? 1 : 2);
    return rows.sort((a, b) => rank(a) - rank(b)
      || collator.compare(a.student?.displayName ?? '', b.student?.displayName ?? '')
      || collator.compare(a.vm?.name ?? '', b.vm?.name ?? ''));
  }

  private rowMatches(r: Row): boolean {
    if (this.statusFilter) {
      if (!r.vm) return false;
      if (this.statusFilter === 'problem' ? !isProblem(r.vm) : this.statusFilter === 'busy' ? !/ing$/.test(r.vm.status) : r.vm.status !== this.statusFilter) return false;
    }
    const q = this.filter.trim().toLowerCase();
    if (!q) return true;
    const s = r.student;
    return (s !== null && (s.displayName.toLowerCase().includes(q) || s.username.toLowerCase().includes(q))) || (r.vm !== null && matchesText(r.vm, q));
  }

  private toggle(id: string, on: boolean): void {
    const next = new Set(this.selected);
    if (on) next.add(id); else next.delete(id);
    this.selected = next;
  }

  /**
   * Starts or shuts down VMs after a confirmation that lists them. VMs already in the target state
   * are left alone and counted as skipped; `whole` sends the class id so the server takes every VM.
   */
  private async bulk(action: PowerAction, vms: Vm[], whole: boolean): Promise<void> {
    const target = TARGET_STATUS[action];
    const acting = vms.filter((v) => v.status !== target && !v.template);
    const already = vms.filter((v) => v.status === target);
    const verb = action === 'start' ? 'Start' : 'Shut down';
    if (acting.length === 0) {
      announce(`Nothing to do: ${already.length === 1 ? 'the VM is' : `all ${already.length} VMs are`} already ${target}.`);
      this.run = { action, results: new Map(), seenPending: new Set(), asked: [], skippedHere: new Map(already.map((v) => [v.id, `already ${target}`])) };
      return;
    }
    if (action !== 'start') {
      const ok = await confirmAction({
        title: `${verb} ${acting.length} ${acting.length === 1 ? 'VM' : 'VMs'}${whole ? ' of the whole class' : ''}?`,
        message: `Each is asked to close its system cleanly; unsaved work in it may be lost.${already.length ? ` ${already.length} already ${target} ${already.length === 1 ? 'is' : 'are'} left as ${already.length === 1 ? 'it is' : 'they are'}.` : ''}`,
        items: acting.map((v) => `${v.name} (#${v.vmid})${this.ownerName(v) ? ` · ${this.ownerName(v)}` : ''}`),
        confirm: `${verb} ${acting.length} ${acting.length === 1 ? 'VM' : 'VMs'}`,
        danger: true,
      });
      if (!ok) return;
    }
    const run: BulkRun = {
      action, results: new Map(), seenPending: new Set(), asked: acting.map((v) => v.id),
      skippedHere: whole ? new Map() : new Map(already.map((v) => [v.id, `already ${target}`])),
    };
    this.run = run;
    announce(`${action === 'start' ? 'Starting' : 'Shutting down'} ${acting.length} VMs.`);
    try {
      const results = await powerBulk(action, whole ? { classId: this.detail!.id } : { vms: acting });
      for (const r of results) run.results.set(r.id, r);
      // The class id makes the server report every class VM; only those we asked about count.
      if (whole) for (const v of vms.filter((x) => x.template)) run.results.delete(v.id);
      this.run = { ...run };
      const s = summarise(run, (id) => this.link?.store.vms.get(id));
      if (s.failed) announce(`${s.failed} of ${s.total - s.skipped} VMs failed to ${action === 'start' ? 'start' : 'shut down'}.`);
    } catch (err) {
      this.error = plainError(err, `${verb.toLowerCase()} the VMs`);
      this.run = null;
    }
  }

  private ownerName(vm: Vm): string {
    const a = this.detail?.assignments.find((x) => x.key === vm.id);
    return a ? this.detail?.students.find((s) => s.id === a.userId)?.displayName ?? '' : '';
  }

  private async guard(what: string, fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await fn();
      this.error = '';
      await this.load();
    } catch (err) {
      this.error = plainError(err, what);
      announce(this.error);
    } finally {
      this.busy = false;
    }
  }

  private doAssign(vm: Vm, student: Person): Promise<void> {
    return this.guard(`assign ${vm.name}`, async () => {
      await assign(this.detail!.id, vm, student.id);
      this.undo = null;
      announce(`${vm.name} assigned to ${student.displayName}.`);
    });
  }

  private doUnassign(vm: Vm, student: Person): Promise<void> {
    return this.guard(`unassign ${vm.name}`, async () => {
      await unassign(this.detail!.id, vm);
      const text = `${vm.name} is no longer ${student.displayName}'s.`;
      announce(text);
      this.undo = { text, act: () => this.doAssign(vm, student) };
    });
  }

  private doAutoAssign(): Promise<void> {
    return this.guard('assign VMs automatically', async () => {
      const n = await autoAssign(this.detail!.id);
      announce(n ? `${n} VMs assigned automatically.` : 'Every student already has a VM, or no VM is free.');
    });
  }

  private async addPoolEntry(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const kind = String(data.get('kind')) as 'vm' | 'tag' | 'pool';
    const value = String(data.get('value') ?? '').trim();
    if (!value) { this.poolError = 'Enter a VM id, a Proxmox tag or a Proxmox pool name.'; return; }
    if (kind === 'vm' && !/^\d{1,9}$/.test(value)) { this.poolError = 'A VM id is a number, like 104.'; return; }
    const cluster = String(data.get('cluster') ?? '') || undefined;
    if (kind !== 'vm' && !cluster) { this.poolError = 'Choose the cluster: a tag or a pool name alone could mean VMs on every cluster.'; return; }
    this.busy = true;
    try {
      await addToPool(this.detail!.id, kind === 'vm' ? { kind, vmid: Number(value), cluster } : { kind, value, cluster });
      form.reset();
      this.poolError = '';
      announce('Added to the pool.');
      await this.load();
    } catch (err) {
      this.poolError = plainError(err, 'add it to the pool');
    } finally {
      this.busy = false;
    }
  }

  /** Clusters of the class's scope and those this user can see VMs on (for the pool form). */
  private clusters(): string[] {
    const set = new Set<string>(this.detail?.scope.map((r) => r.cluster) ?? []);
    for (const vm of this.link?.store.vms.values() ?? []) set.add(vm.cluster);
    return [...set].sort();
  }

  private renderPoolEntries() {
    const d = this.detail!;
    const label = (p: ClassDetail['pool'][number]) => p.kind === 'vm' ? `VM ${p.vmid}${p.cluster ? ` (${p.cluster})` : ''}` : `${p.kind === 'tag' ? 'tag' : 'Proxmox pool'} ${p.value}`;
    return html`<details class="small">
      <summary>Pool entries (${d.pool.length}) and adding VMs</summary>
      <div class="row" style="margin:.4rem 0">${d.pool.map((p) => html`<span class="badge tone-off entry">${label(p)}
        <button aria-label=${`Remove ${label(p)} from the pool`} ?disabled=${this.busy}
          @click=${() => this.guard('remove it from the pool', async () => { await removeFromPool(d.id, p.id); announce(`${label(p)} removed from the pool.`); })}>×</button></span>`)}</div>
      <form class="row" @submit=${this.addPoolEntry}>
        <select name="kind" aria-label="Add by"><option value="vm">VM id</option><option value="tag">Proxmox tag</option><option value="pool">Proxmox pool</option></select>
        <input name="value" aria-label="VM id, tag or pool name" placeholder="104, class-1, lab-pool" maxlength="64" aria-invalid=${this.poolError ? 'true' : 'false'} aria-describedby="pool-error">
        <select name="cluster" aria-label="Cluster"><option value="">cluster (needed for a tag or pool)</option>${this.clusters().map((c) => html`<option>${c}</option>`)}</select>
        <button type="submit" ?disabled=${this.busy}>Add to pool</button>
        <p id="pool-error" class="error field-error" role=${this.poolError ? 'alert' : nothing}>${this.poolError}</p>
      </form>
    </details>`;
  }

  private renderBulk() {
    const run = this.run;
    if (!run) return nothing;
    const s = summarise(run, (id) => this.link?.store.vms.get(id));
    return html`<div class=${s.failed ? 'bulk failed' : 'bulk'} role="status" data-bulk-summary data-working=${s.working}>
      <span>${s.total - s.skipped === 0 ? `Nothing to do: ${s.skippedWhy.join(', ')}` : summaryText(run, s)}</span>
      ${s.working === 0 ? html`<button @click=${() => { this.run = null; }} aria-label="Dismiss the progress summary">Dismiss</button>` : nothing}
    </div>`;
  }

  private renderProgress(vm: Vm) {
    const run = this.run;
    if (!run || !(run.results.has(vm.id) || run.asked.includes(vm.id) || run.skippedHere.has(vm.id))) return nothing;
    const s = itemState(run, vm.id, vm);
    const text = s.state === 'done' ? '✓ done' : s.state === 'failed' ? `failed: ${s.message}` : s.state === 'skipped' ? `skipped: ${s.message}` : 'working…';
    return html`<span class=${s.state === 'failed' ? 'prog failed' : 'prog muted'} data-progress=${s.state}>${text}</span>`;
  }

  private renderAssign(r: Row, free: Vm[], studentsWithout: Person[]) {
    if (r.vm && r.student) {
      return html`<button class="small" ?disabled=${this.busy} aria-label=${`Unassign ${r.vm.name} from ${r.student.displayName}`}
        @click=${() => this.doUnassign(r.vm!, r.student!)}>Unassign</button>`;
    }
    if (r.vm) {
      if (r.vm.template) return html`<span class="muted small">template</span>`;
      return html`<select class="assign" ?disabled=${this.busy || studentsWithout.length === 0} aria-label=${`Assign ${r.vm.name} to a student`}
        @change=${(e: Event) => { const id = Number((e.target as HTMLSelectElement).value); const s = studentsWithout.find((x) => x.id === id); if (s) void this.doAssign(r.vm!, s); }}>
        <option value="">${studentsWithout.length ? 'assign to…' : 'everyone has a VM'}</option>
        ${studentsWithout.map((s) => html`<option value=${s.id}>${s.displayName}</option>`)}</select>`;
    }
    return html`<select class="assign" ?disabled=${this.busy || free.length === 0} aria-label=${`Assign a VM to ${r.student!.displayName}`}
      @change=${(e: Event) => { const vm = free.find((v) => v.id === (e.target as HTMLSelectElement).value); if (vm) void this.doAssign(vm, r.student!); }}>
      <option value="">${free.length ? 'choose a free VM' : 'no free VM'}</option>
      ${free.map((v) => html`<option value=${v.id}>${v.name}</option>`)}</select>`;
  }

  private renderRow(r: Row, free: Vm[], without: Person[], offline: boolean) {
    const vm = r.vm;
    const st = vm ? statusInfo(vm.status) : null;
    const running = vm?.status === 'running';
    const meter = (f: number | null) => html`${percent(f)}<span class="mini" aria-hidden="true"><span style="width:${Math.round((f ?? 0) * 100)}%"></span></span>`;
    return html`<tr data-vm=${vm?.id ?? nothing} data-status=${vm?.status ?? nothing} data-student=${r.student?.username ?? nothing}>
      <td class="check">${vm ? html`<input type="checkbox" aria-label=${`Select ${vm.name}`} .checked=${this.selected.has(vm.id)}
        @change=${(e: Event) => this.toggle(vm.id, (e.target as HTMLInputElement).checked)}>` : nothing}</td>
      <td class="who">${r.student ? html`${r.student.displayName} <span class="muted small">${r.student.username}</span>` : html`<span class="muted">free</span>`}</td>
      <td>${vm ? html`<span class="vmname">${vm.name}</span> <span class="muted small">#${vm.vmid}</span>${vm.template ? html` <span class="badge tone-off">template</span>` : nothing}${vm.status === 'running' ? html` <a class="small" href=${`/console/${vm.cluster}/${vm.vmid}`} aria-label=${`Console of ${vm.name}`}>Console</a>` : nothing}` : html`<span class="muted">no VM yet</span>`}</td>
      <td>${st ? html`<span class="badge tone-${st.tone}">${st.label}</span>${vm!.stale ? html` <span class="badge tone-warn" title="Proxmox has not answered recently">stale</span>` : nothing}${this.renderProgress(vm!)}` : nothing}</td>
      <td class=${`wide ${vm?.ip ? 'mono' : 'muted small'}`}>${vm ? ipText(vm) : ''}</td>
      <td class="num wide">${running ? meter(vm!.cpu) : html`<span class="muted">—</span>`}</td>
      <td class="num wide">${running ? meter(vm!.memory) : html`<span class="muted">—</span>`}</td>
      <td>${vm ? html`<ld-vm-row-actions .vm=${vm} .classId=${this.detail!.id} ?offline=${offline}></ld-vm-row-actions>` : nothing}</td>
      <td>${this.renderAssign(r, free, without)}</td>
    </tr>`;
  }

  private renderTable(all: Vm[]) {
    const d = this.detail!;
    const rows = this.rows(all);
    const shown = rows.filter((r) => this.rowMatches(r));
    const shownVms = shown.map((r) => r.vm).filter((v): v is Vm => v !== null);
    const selected = all.filter((v) => this.selected.has(v.id));
    const allOn = shownVms.length > 0 && shownVms.every((v) => this.selected.has(v.id));
    const assigned = new Set(d.assignments.map((a) => a.key));
    const free = all.filter((v) => !assigned.has(v.id) && !v.template);
    const withVm = new Set(d.assignments.filter((a) => all.some((v) => v.id === a.key)).map((a) => a.userId));
    const without = d.students.filter((s) => !withVm.has(s.id));
    const offline = this.link?.state !== 'live';
    const running = all.filter((v) => v.status === 'running');
    const stopped = all.filter((v) => v.status === 'stopped' && !v.template);
    return html`<section class="card class-table" aria-labelledby="table-h">
      <div class="row"><h2 id="table-h">Students and VMs</h2><span class="spacer"></span>
        <button class="small" @click=${this.doAutoAssign} ?disabled=${this.busy || free.length === 0 || without.length === 0}
          title="Gives every student without a VM a free one">Auto-assign</button></div>
      ${this.renderPoolEntries()}
      <div class="toolbar" role="search" aria-label="Filter the class">
        <input type="search" placeholder="Search: student, VM, IP, tag" aria-label="Search students and VMs" .value=${this.filter}
          @input=${(e: InputEvent) => { this.filter = (e.target as HTMLInputElement).value; }}>
        <select aria-label="Status filter" @change=${(e: Event) => { this.statusFilter = (e.target as HTMLSelectElement).value; }}>
          <option value="">any status</option><option value="running">Running</option><option value="stopped">Stopped</option>
          <option value="busy">Starting or stopping</option><option value="problem">Problems</option>
        </select>
      </div>
      <div class="toolbar">
        <span class="group" role="group" aria-label="Selected VMs">
          <button class="primary" aria-disabled=${selected.length === 0 || offline ? 'true' : 'false'} @click=${() => { if (selected.length && !offline) void this.bulk('start', selected, false); }}>Start selected (${selected.length})</button>
          <button aria-disabled=${selected.length === 0 || offline ? 'true' : 'false'} @click=${() => { if (selected.length && !offline) void this.bulk('shutdown', selected, false); }}>Shut down selected (${selected.length})</button>
        </span>
        <span class="spacer"></span>
        <span class="group" role="group" aria-label="Whole class">
          <button aria-disabled=${offline ? 'true' : 'false'} @click=${() => { if (!offline) void this.bulk('start', all, true); }}>Start whole class (${stopped.length} stopped)</button>
          <button class="danger" aria-disabled=${offline ? 'true' : 'false'} @click=${() => { if (!offline) void this.bulk('shutdown', all, true); }}>Shut down whole class (${running.length} running)</button>
        </span>
      </div>
      ${offline ? html`<p class="muted small">Offline: power buttons wait until labdeck is connected again.</p>` : nothing}
      ${this.renderBulk()}
      ${this.undo ? html`<div class="undo" role="status"><span>${this.undo.text}</span><button class="small" @click=${() => { const u = this.undo!; this.undo = null; void u.act(); }}>Undo</button></div>` : nothing}
      <div class="scroll" tabindex="-1"><table aria-label=${`${d.name}: students and VMs`}>
        <thead><tr>
          <th class="check"><input type="checkbox" aria-label="Select all shown VMs" .checked=${allOn}
            @change=${(e: Event) => { const on = (e.target as HTMLInputElement).checked; this.selected = on ? new Set(shownVms.map((v) => v.id)) : new Set(); }}></th>
          <th>Student</th><th>VM</th><th>Status</th><th class="wide">Address</th><th class="num wide">CPU</th><th class="num wide">Memory</th><th>Actions</th><th>Assignment</th>
        </tr></thead>
        <tbody>${repeat(shown, (r) => r.key, (r) => this.renderRow(r, free, without, offline))}</tbody>
      </table></div>
      ${shown.length === 0 ? html`<p class="muted" data-empty>${rows.length === 0 ? 'No students and no VMs yet: share an invite link and add VMs to the pool.' : 'Nothing matches the search.'}
        ${rows.length ? html`<button class="small" @click=${() => { this.filter = ''; this.statusFilter = ''; this.shadowRoot!.querySelector<HTMLSelectElement>('select[aria-label="Status filter"]')!.value = ''; }}>Clear filters</button>` : nothing}</p>` : nothing}
    </section>`;
  }

  override render() {
    if (!this.detail) return html`${this.error ? html`<p class="error" role="alert">${this.error}</p>` : html`<p class="muted">Loading…</p>`}`;
    const d = this.detail;
    const vms = this.vms();
    const running = vms.filter((v) => v.status === 'running').length;
    const problems = vms.filter(isProblem).length;
    return html`<h1>${d.name}</h1>
      <p class="muted summary">${d.students.length} students · ${vms.length} VMs · ${running} running${problems ? ` · ${problems} with problems` : ''}</p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      <ld-class-links .classId=${d.id}></ld-class-links>
      <ld-class-scope .detail=${d} .user=${this.user} .clusters=${this.clusters()} @class-changed=${() => this.load()}></ld-class-scope>
      <ld-class-settings .detail=${d} .user=${this.user} @class-changed=${() => this.load()}></ld-class-settings>
      <ld-provision-panel .classId=${d.id} .students=${d.students.filter((s) => !d.assignments.some((a) => a.userId === s.id)).length} .link=${this.link} @class-changed=${() => this.load()}></ld-provision-panel>
      ${this.renderTable(vms)}
      <ld-class-audit .classId=${d.id} .link=${this.link} .vmKeys=${d.vmKeys}
        .names=${new Map([...d.students, ...d.teachers].map((p) => [p.username, p.displayName]))}></ld-class-audit>`;
  }
}
