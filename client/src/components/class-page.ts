// Teacher — one class: the roster beside the VM pool, filter and search, select VMs (or the whole
// class) and start or shut them down with progress per VM, invite and projector links,
// assign / unassign / auto-assign, and the class's audit trail.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { LiveController } from '../lib/controllers.js';
import { queryVms } from '../lib/vm-query.js';
import { statusInfo, ipText, ago } from '../lib/format.js';
import { powerMany, type PowerAction } from '../lib/actions.js';
import { announce } from '../lib/announce.js';
import {
  getClass, assign, unassign, autoAssign, addToPool, removeFromPool, createInvite, revokeInvite, createProjectorLink,
  revokeProjectorLink, classAudit, type ClassDetail, type LinkInfo, type AuditEntry, type Person,
} from '../lib/classes.js';
import type { LiveLink } from '../lib/live.js';
import type { User } from '../lib/session.js';
import type { Vm } from '../../../server/inventory/vm.js';
import './class-settings.js';
import './class-scope.js';

interface Progress { state: 'queued' | 'sent' | 'failed'; action: PowerAction; message: string }

@customElement('ld-class-page')
export class ClassPage extends LitElement {
  static override styles = [base, css`
    .layout { display: grid; grid-template-columns: minmax(16rem, 1fr) minmax(0, 2fr); gap: 1rem; align-items: start; }
    /* minmax(0, …): a wide pool table scrolls inside its card instead of widening the page on a phone. */
    @media (max-width: 860px) { .layout { grid-template-columns: minmax(0, 1fr); } }
    td.vmname { white-space: nowrap; }
    .links { display: grid; gap: .6rem; margin: .8rem 0 1rem; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); }
    .link-url { font-family: var(--mono); font-size: .8rem; overflow-wrap: anywhere; background: var(--surface-2); padding: .3rem .4rem; border-radius: 4px; }
    ul.roster { list-style: none; margin: 0; padding: 0; }
    ul.roster li { padding: .5rem 0; border-bottom: 1px solid var(--border); display: grid; gap: .25rem; }
    .who { font-weight: 600; }
    .assigned { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; font-size: .9rem; }
    .toolbar { display: flex; gap: .5rem; flex-wrap: wrap; align-items: center; margin-bottom: .6rem; }
    td, th { font-size: .92rem; }
    td.check, th.check { width: 2rem; }
    .progress { font-size: .85rem; }
    .audit { max-height: 22rem; overflow: auto; }
    .small { font-size: .85rem; }
    button.small { min-height: 1.9rem; padding: .2rem .5rem; }
    .entry button { min-height: 0; padding: 0 .3rem; border: 0; background: transparent; color: inherit; font-weight: 700; }
  `];

  @property({ attribute: false }) link?: LiveLink;
  @property({ attribute: false }) user?: User;
  @property() classId = '';
  @state() private detail: ClassDetail | null = null;
  @state() private error = '';
  @state() private filter = '';
  @state() private statusFilter = '';
  @state() private selected = new Set<string>();
  @state() private progress = new Map<string, Progress>();
  @state() private invite: LinkInfo | null = null;
  @state() private projector: LinkInfo | null = null;
  @state() private audit: AuditEntry[] = [];
  @state() private busy = false;
  private readonly live = new LiveController(this, () => this.link);
  private offAccess?: () => void;

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.offAccess?.();
  }

  override updated(changed: Map<string, unknown>): void {
    if (changed.has('link')) {
      this.live.bind();
      this.offAccess?.();
      this.offAccess = this.link?.onAccessChanged((ids) => {
        if (ids.length === 0 || ids.includes(Number(this.classId))) void this.load();
      });
    }
    if (changed.has('classId') && this.classId) void this.load();
  }

  private async load(): Promise<void> {
    try {
      this.detail = await getClass(this.classId);
      this.error = '';
    } catch (err) {
      this.error = (err as Error).message;
    }
    await this.loadAudit();
  }

  private async loadAudit(): Promise<void> {
    try {
      this.audit = await classAudit(Number(this.classId), this.detail?.vmKeys ?? []);
    } catch {
      this.audit = [];
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

  private ownerOf(vm: Vm): Person | undefined {
    const a = this.detail?.assignments.find((x) => x.key === vm.id);
    return a ? this.detail?.students.find((s) => s.id === a.userId) : undefined;
  }

  private toggle(id: string, on: boolean): void {
    const next = new Set(this.selected);
    if (on) next.add(id); else next.delete(id);
    this.selected = next;
  }

  private async bulk(action: PowerAction, vms: Vm[]): Promise<void> {
    if (vms.length === 0) return;
    const progress = new Map(this.progress);
    for (const vm of vms) progress.set(vm.id, { state: 'queued', action, message: 'queued' });
    this.progress = progress;
    announce(`${action === 'start' ? 'Starting' : 'Shutting down'} ${vms.length} VMs.`);
    let failed = 0;
    await powerMany(vms, action, (id, ok, message) => {
      if (!ok) failed++;
      const next = new Map(this.progress);
      next.set(id, { state: ok ? 'sent' : 'failed', action, message });
      this.progress = next;
    });
    announce(failed ? `${failed} of ${vms.length} VMs failed to ${action}.` : `${vms.length} VMs: ${action} sent.`);
    void this.loadAudit();
  }

  private async doAssign(vm: Vm, userId: number): Promise<void> {
    await this.guard(async () => {
      await assign(this.detail!.id, vm, userId);
      announce(`${vm.name} assigned.`);
    });
  }

  private async doUnassign(vm: Vm): Promise<void> {
    await this.guard(async () => {
      await unassign(this.detail!.id, vm);
      announce(`${vm.name} unassigned.`);
    });
  }

  private async doAutoAssign(): Promise<void> {
    await this.guard(async () => {
      const n = await autoAssign(this.detail!.id);
      announce(`${n} VMs assigned automatically.`);
    });
  }

  private async guard(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    try {
      await fn();
      this.error = '';
      await this.load();
    } catch (err) {
      this.error = (err as Error).message;
      announce(this.error);
    } finally {
      this.busy = false;
    }
  }

  private async copy(text: string, what: string): Promise<void> {
    try {
      await navigator.clipboard.writeText(text);
      announce(`${what} copied.`);
    } catch {
      this.error = 'Copy failed: select the link and copy it by hand.';
    }
  }

  private renderLinks() {
    const id = this.detail!.id;
    return html`<div class="links">
      <section class="card" aria-label="Invite link">
        <h3>Invite link</h3>
        <p class="muted small">Students who follow it (signed in) join this class.</p>
        ${this.invite ? html`<div class="link-url" data-invite-url>${this.invite.url}</div>
          <div class="row small muted">expires ${new Date(this.invite.expiresAt).toLocaleString()}</div>
          <div class="row"><button @click=${() => this.copy(this.invite!.url, 'Invite link')}>Copy</button>
          <button class="danger" @click=${() => this.guard(async () => { await revokeInvite(id, this.invite!); this.invite = null; announce('Invite link revoked.'); })}>Revoke</button></div>`
        : html`<button @click=${() => this.guard(async () => { this.invite = await createInvite(id); })}>Create invite link</button>`}
      </section>
      <section class="card" aria-label="Projector link">
        <h3>Projector link</h3>
        <p class="muted small">Read-only view of this class for a classroom PC, no sign-in needed.</p>
        ${this.projector ? html`<div class="link-url" data-projector-url>${this.projector.url}</div>
          <div class="row small muted">expires ${new Date(this.projector.expiresAt).toLocaleString()}</div>
          <div class="row"><button @click=${() => this.copy(this.projector!.url, 'Projector link')}>Copy</button>
          <a class="button" href=${this.projector.url} target="_blank" rel="noopener">Open</a>
          <button class="danger" @click=${() => this.guard(async () => { await revokeProjectorLink(id, this.projector!); this.projector = null; announce('Projector link revoked.'); })}>Revoke</button></div>`
        : html`<button @click=${() => this.guard(async () => { this.projector = await createProjectorLink(id); })}>Create projector link</button>`}
      </section>
    </div>`;
  }

  /** The search box filters the roster too: by student name, username or their VMs' names. */
  private studentMatches(s: Person, vms: Vm[]): boolean {
    const q = this.filter.trim().toLowerCase();
    if (!q) return true;
    return s.displayName.toLowerCase().includes(q) || s.username.toLowerCase().includes(q) || vms.some((v) => v.name.toLowerCase().includes(q));
  }

  private renderRoster(vms: Vm[]) {
    const d = this.detail!;
    const byUser = new Map<number, Vm[]>();
    const byKey = new Map(vms.map((v) => [v.id, v]));
    for (const a of d.assignments) {
      const vm = byKey.get(a.key);
      if (vm) byUser.set(a.userId, [...(byUser.get(a.userId) ?? []), vm]);
    }
    const assigned = new Set(d.assignments.map((a) => a.key));
    const free = vms.filter((v) => !assigned.has(v.id) && !v.template);
    return html`<section class="card" aria-label="Roster">
      <div class="row"><h2>Roster (${d.students.length})</h2><span class="spacer"></span>
        <button class="small" @click=${this.doAutoAssign} ?disabled=${this.busy || free.length === 0}>Auto-assign</button></div>
      ${d.students.length === 0 ? html`<p class="muted">No students yet: share the invite link.</p>` : nothing}
      <ul class="roster">${d.students.filter((s) => this.studentMatches(s, byUser.get(s.id) ?? [])).map((s) => {
        const mine = byUser.get(s.id) ?? [];
        return html`<li data-student=${s.username}>
          <span class="who">${s.displayName} <span class="muted small">${s.username}</span></span>
          ${mine.map((vm) => {
            const st = statusInfo(vm.status);
            return html`<span class="assigned">${vm.name} <span class="badge tone-${st.tone}">${st.label}</span>
              <button class="small" @click=${() => this.doUnassign(vm)} ?disabled=${this.busy} aria-label=${`Unassign ${vm.name} from ${s.displayName}`}>Unassign</button></span>`;
          })}
          ${mine.length === 0 ? html`<label class="assigned small">Assign
            <select ?disabled=${this.busy || free.length === 0} aria-label=${`Assign a VM to ${s.displayName}`}
              @change=${(e: Event) => { const key = (e.target as HTMLSelectElement).value; const vm = byKey.get(key); if (vm) void this.doAssign(vm, s.id); }}>
              <option value="">${free.length ? 'choose a free VM' : 'no free VM'}</option>
              ${free.map((v) => html`<option value=${v.id}>${v.name}</option>`)}
            </select></label>` : nothing}
        </li>`;
      })}</ul>
    </section>`;
  }

  private async addPoolEntry(e: SubmitEvent): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const data = new FormData(form);
    const kind = String(data.get('kind')) as 'vm' | 'tag' | 'pool';
    const value = String(data.get('value') ?? '').trim();
    if (!value) return;
    if (kind === 'vm' && !/^\d{1,9}$/.test(value)) {
      this.error = 'A VM id is a number, like 104.';
      return;
    }
    const cluster = String(data.get('cluster') ?? '') || undefined;
    if (kind !== 'vm' && !cluster) {
      this.error = 'Choose the cluster: a tag or a pool name alone could mean VMs on every cluster.';
      return;
    }
    await this.guard(async () => {
      await addToPool(this.detail!.id, kind === 'vm' ? { kind, vmid: Number(value), cluster } : { kind, value, cluster });
      form.reset();
      announce('Added to the pool.');
    });
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
          @click=${() => this.guard(async () => { await removeFromPool(d.id, p.id); announce(`${label(p)} removed from the pool.`); })}>×</button></span>`)}</div>
      <form class="row" @submit=${this.addPoolEntry}>
        <select name="kind" aria-label="Add by"><option value="vm">VM id</option><option value="tag">Proxmox tag</option><option value="pool">Proxmox pool</option></select>
        <input name="value" aria-label="VM id, tag or pool name" placeholder="104, class-1, lab-pool" maxlength="64" required>
        <select name="cluster" aria-label="Cluster"><option value="">cluster (needed for a tag or pool)</option>${this.clusters().map((c) => html`<option>${c}</option>`)}</select>
        <button type="submit" ?disabled=${this.busy}>Add to pool</button>
      </form>
    </details>`;
  }

  private renderPool(all: Vm[]) {
    const q = this.filter.trim().toLowerCase();
    const byStudent = q ? new Set(all.filter((v) => this.ownerOf(v)?.displayName.toLowerCase().includes(q) || this.ownerOf(v)?.username.toLowerCase().includes(q)).map((v) => v.id)) : null;
    const vms = queryVms(all, { status: this.statusFilter || undefined, sort: 'name' }).filter((v) => !q || byStudent!.has(v.id) || queryVms([v], { q }).length > 0);
    const selected = vms.filter((v) => this.selected.has(v.id));
    const allOn = vms.length > 0 && selected.length === vms.length;
    const running = all.filter((v) => v.status === 'running').length;
    return html`<section class="card" aria-label="VM pool">
      <div class="row"><h2>VM pool (${all.length})</h2><span class="muted">${running} running</span></div>
      ${this.renderPoolEntries()}
      <div class="toolbar" role="search">
        <input type="search" placeholder="Filter: VM, student, IP" aria-label="Filter students and VMs" @input=${(e: InputEvent) => { this.filter = (e.target as HTMLInputElement).value; }}>
        <select aria-label="Status filter" @change=${(e: Event) => { this.statusFilter = (e.target as HTMLSelectElement).value; }}>
          <option value="">any status</option><option value="running">Running</option><option value="stopped">Stopped</option>
        </select>
        <span class="spacer"></span>
        <button class="primary" ?disabled=${selected.length === 0} @click=${() => this.bulk('start', selected)}>Start selected (${selected.length})</button>
        <button ?disabled=${selected.length === 0} @click=${() => this.bulk('shutdown', selected)}>Shut down selected</button>
        <button @click=${() => this.bulk('start', all.filter((v) => v.status === 'stopped' && !v.template))}>Start whole class</button>
        <button @click=${() => this.bulk('shutdown', all.filter((v) => v.status === 'running'))}>Shut down whole class</button>
      </div>
      <div style="overflow-x:auto"><table>
        <thead><tr>
          <th class="check"><input type="checkbox" aria-label="Select all shown" .checked=${allOn}
            @change=${(e: Event) => { const on = (e.target as HTMLInputElement).checked; this.selected = on ? new Set(vms.map((v) => v.id)) : new Set(); }}></th>
          <th>VM</th><th>Status</th><th>IP</th><th>Student</th><th>Progress</th>
        </tr></thead>
        <tbody>${vms.map((vm) => {
          const s = statusInfo(vm.status);
          const p = this.progress.get(vm.id);
          const owner = this.ownerOf(vm);
          return html`<tr data-vm=${vm.id} data-status=${vm.status}>
            <td class="check"><input type="checkbox" aria-label=${`Select ${vm.name}`} .checked=${this.selected.has(vm.id)} @change=${(e: Event) => this.toggle(vm.id, (e.target as HTMLInputElement).checked)}></td>
            <td class="vmname">${vm.name} <span class="muted small">#${vm.vmid}</span></td>
            <td><span class="badge tone-${s.tone}">${s.label}</span>${vm.stale ? html` <span class="badge tone-warn" title=${`last seen ${ago(vm.lastSeen)}`}>stale</span>` : nothing}</td>
            <td class=${vm.ip ? 'mono' : 'muted'}>${ipText(vm)}</td>
            <td>${owner?.displayName ?? html`<span class="muted">free</span>`}</td>
            <td class="progress" data-progress=${p?.state ?? ''}>${p ? this.progressText(p, vm) : ''}</td>
          </tr>`;
        })}</tbody>
      </table></div>
    </section>`;
  }

  private progressText(p: Progress, vm: Vm) {
    if (p.state === 'failed') return html`<span class="error">failed: ${p.message}</span>`;
    if (p.state === 'queued') return html`<span class="muted">queued…</span>`;
    const done = p.action === 'start' ? vm.status === 'running' : vm.status === 'stopped';
    return done ? html`<span>✓ done</span>` : html`<span class="muted">working…</span>`;
  }

  private vmName(key: string): string {
    return this.link?.store.vms.get(key)?.name ?? key;
  }

  private renderAudit() {
    return html`<section class="card" aria-label="Audit trail" style="margin-top:1rem">
      <div class="row"><h2>Audit trail</h2><span class="spacer"></span><button class="small" @click=${this.loadAudit}>Refresh</button></div>
      <div class="audit">${this.audit.length === 0 ? html`<p class="muted">Nothing recorded yet.</p>` : html`<table>
        <thead><tr><th>When</th><th>Who</th><th>What</th><th>Target</th><th>Outcome</th></tr></thead>
        <tbody>${this.audit.map((e) => html`<tr><td class="small">${new Date(e.at).toLocaleString()}</td><td>${e.username ?? '—'}</td>
          <td>${e.action}</td><td>${e.vmKey ? this.vmName(e.vmKey) : e.target}</td><td class=${e.outcome === 'ok' ? '' : 'error'}>${e.outcome}${e.detail ? html` <span class="muted small">${e.detail}</span>` : nothing}</td></tr>`)}</tbody>
      </table>`}</div>
    </section>`;
  }

  override render() {
    if (!this.detail) return html`${this.error ? html`<p class="error" role="alert">${this.error}</p>` : html`<p class="muted">Loading…</p>`}`;
    const vms = this.vms();
    return html`<h1>${this.detail.name}</h1>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${this.renderLinks()}
      <ld-class-scope .detail=${this.detail} .user=${this.user} .clusters=${this.clusters()} @class-changed=${() => this.load()}></ld-class-scope>
      <ld-class-settings .detail=${this.detail} .user=${this.user} @class-changed=${() => this.load()}></ld-class-settings>
      <div class="layout">${this.renderRoster(vms)}${this.renderPool(vms)}</div>
      ${this.renderAudit()}`;
  }
}
