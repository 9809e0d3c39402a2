// The class page's lifecycle panel for teachers: provision VMs from a template (picked by name)
// with live progress per VM, reset all of labdeck's class VMs to their baseline, remove them at
// the end of term (a confirmation lists them), and add an existing VM to the class by name.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state, query } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { plainError, errorField } from '../lib/errors.js';
import { announce } from '../lib/announce.js';
import { addToPool } from '../lib/classes.js';
import {
  VM_STEP, cancelJob, listJobs, listProvisioned, removeVms, resetClass, startProvision,
  type JobView, type PickedVm, type ProvisionedVm,
} from '../lib/provision.js';
import type { LiveLink } from '../lib/live.js';
import { confirmAction } from './confirm-dialog.js';
import './vm-picker.js';

const ENDED = new Set(['done', 'failed', 'cancelled']);
const TONE: Record<string, string> = { queued: 'tone-busy', running: 'tone-busy', done: 'tone-ok', failed: 'tone-bad', cancelled: 'tone-off' };

@customElement('ld-provision-panel')
export class ProvisionPanel extends LitElement {
  static override styles = [base, css`
    :host { margin: 1rem 0; }
    summary { cursor: pointer; font-weight: 600; }
    form { display: grid; gap: .6rem; margin: .6rem 0; max-width: 40rem; }
    label { display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
    .job { border-top: 1px solid var(--border); padding-top: .6rem; margin-top: .6rem; }
    .vms { max-height: 18rem; overflow: auto; }
    .small { font-size: .85rem; min-height: 1.8rem; padding: .15rem .5rem; }
    section { margin-top: 1rem; }
  `];

  @property({ type: Number }) classId = 0;
  @property({ type: Number }) students = 0;
  @property({ attribute: false }) link?: LiveLink;
  @state() private jobs: JobView[] = [];
  @state() private made: ProvisionedVm[] = [];
  @state() private template: PickedVm | null = null;
  @state() private adding: PickedVm | null = null;
  @state() private busy = false;
  @state() private error = '';
  @state() private field: string | null = null;
  @state() private note = '';
  /** Open while the teacher keeps it open (a job ending must not fold it away). */
  @state() private opened = false;
  @query('form') private form?: HTMLFormElement;
  private bound: unknown = null;

  private readonly onProgress = (m: { classId: number; job: JobView }) => {
    if (m.classId !== this.classId) return;
    const i = this.jobs.findIndex((j) => j.id === m.job.id);
    this.jobs = i < 0 ? [m.job, ...this.jobs] : this.jobs.map((j) => (j.id === m.job.id ? m.job : j));
    if (ENDED.has(m.job.state)) {
      announce(`Provisioning ${m.job.state}: ${m.job.done} of ${m.job.total} VMs ready${m.job.failed ? `, ${m.job.failed} failed` : ''}.`);
      void this.loadMade();
      this.dispatchEvent(new CustomEvent('class-changed', { bubbles: true, composed: true }));
    }
  };
  private readonly onConnect = () => void this.load();

  override connectedCallback(): void {
    super.connectedCallback();
    void this.load();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.unbind();
  }

  override updated(): void {
    // The live link's socket exists once it started; bind to it (once) for the pushes.
    const socket = this.link?.raw;
    if (socket && this.bound !== socket) {
      this.unbind();
      socket.on('provision:progress', this.onProgress);
      socket.on('connect', this.onConnect);
      this.bound = socket;
    }
  }

  private unbind(): void {
    const s = this.bound as { off(e: string, f: unknown): void } | null;
    s?.off('provision:progress', this.onProgress);
    s?.off('connect', this.onConnect);
    this.bound = null;
  }

  private async load(): Promise<void> {
    try {
      this.jobs = (await listJobs(this.classId)).jobs.slice(0, 3);
      await this.loadMade();
    } catch (err) {
      this.error = plainError(err, 'load provisioning');
    }
  }

  private async loadMade(): Promise<void> {
    this.made = (await listProvisioned(this.classId)).vms;
  }

  private async onStart(e: Event): Promise<void> {
    e.preventDefault();
    if (!this.template) {
      this.error = 'Pick a template first.';
      this.field = 'templateVmid';
      return;
    }
    const f = new FormData(this.form!);
    const prefix = String(f.get('namePrefix') ?? '').trim();
    this.busy = true;
    this.error = '';
    this.field = null;
    try {
      const { job } = await startProvision(this.classId, {
        cluster: this.template.cluster, templateVmid: this.template.vmid, count: Number(f.get('count')),
        ...(prefix ? { namePrefix: prefix } : {}), full: f.get('full') === 'on', baseline: f.get('baseline') === 'on', assign: f.get('assign') === 'on',
      });
      if (!this.jobs.some((j) => j.id === job.id)) this.jobs = [job, ...this.jobs];
      announce(`Provisioning ${job.total} VMs from ${job.template.name} started.`);
    } catch (err) {
      this.error = plainError(err, 'start provisioning');
      this.field = errorField(err);
    } finally {
      this.busy = false;
    }
  }

  private async cancel(job: JobView): Promise<void> {
    if (!(await confirmAction({ title: 'Stop provisioning?', message: `VMs not started yet are not made; the ${job.vms.filter((v) => !ENDED.has(v.state) && v.state !== 'pending').length} under way are finished.`, confirm: 'Stop provisioning' }))) return;
    try {
      const { job: j } = await cancelJob(this.classId, job.id);
      this.jobs = this.jobs.map((x) => (x.id === j.id ? j : x));
    } catch (err) {
      this.error = plainError(err, 'stop provisioning');
    }
  }

  private async reset(): Promise<void> {
    const vms = this.made.filter((v) => v.hasBaseline && v.state === 'done');
    if (!vms.length) return;
    if (!(await confirmAction({
      title: `Reset ${vms.length} VMs?`, message: 'Each goes back to its baseline: the students lose everything done on them since. Running ones start again.',
      items: vms.map((v) => `${v.name} (${v.vmid})`), confirm: `Reset ${vms.length} VMs`, danger: true,
    }))) return;
    await this.act('reset the class', async () => {
      const r = await resetClass(this.classId);
      this.note = `${r.reverted} VMs reverted${r.failed ? `; ${r.failed} could not be: ${r.results.filter((x) => !x.ok).map((x) => `${x.vmid} (${x.error})`).join('; ')}` : ''}.`;
    });
  }

  private async removeMade(only?: ProvisionedVm[]): Promise<void> {
    const vms = only ?? this.made;
    if (!vms.length) return;
    if (!(await confirmAction({
      title: `Remove ${vms.length === 1 ? vms[0].name : `${vms.length} VMs`}?`,
      message: 'They are stopped and deleted in Proxmox, with their disks and snapshots. This cannot be undone. Only VMs labdeck made for this class are removed.',
      items: vms.map((v) => `${v.name} (${v.cluster} ${v.vmid})`), confirm: `Delete ${vms.length === 1 ? vms[0].name : `${vms.length} VMs`}`, danger: true,
    }))) return;
    await this.act('remove the VMs', async () => {
      this.note = `Removing ${vms.length} VMs…`;
      const r = await removeVms(this.classId, only?.map((v) => ({ cluster: v.cluster, vmid: v.vmid })));
      this.note = `${r.removed} VMs removed${r.failed ? `; ${r.failed} could not be: ${r.results.filter((x) => !x.ok).map((x) => `${x.vmid} (${x.error})`).join('; ')}` : ''}.`;
      this.dispatchEvent(new CustomEvent('class-changed', { bubbles: true, composed: true }));
    });
  }

  private async addExisting(): Promise<void> {
    const vm = this.adding;
    if (!vm) return;
    await this.act(`add ${vm.name}`, async () => {
      await addToPool(this.classId, { kind: 'vm', vmid: vm.vmid, cluster: vm.cluster });
      this.note = `${vm.name} is now in the class.`;
      this.dispatchEvent(new CustomEvent('class-changed', { bubbles: true, composed: true }));
    });
  }

  private async act(what: string, fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.error = '';
    try {
      await fn();
      announce(this.note);
      await this.loadMade();
    } catch (err) {
      this.error = plainError(err, what);
    } finally {
      this.busy = false;
    }
  }

  private renderJob(j: JobView) {
    const pct = j.total ? Math.round((100 * (j.done + j.failed + j.cancelled)) / j.total) : 0;
    return html`<div class="job" data-job=${j.id} aria-label=${`Provisioning job ${j.id}`}>
      <div class="row"><span class=${`badge ${TONE[j.state]}`} data-job-state>${j.state}</span>
        <strong data-job-progress>${j.done} of ${j.total} ready</strong>${j.failed ? html`<span class="error">· ${j.failed} failed</span>` : nothing}
        <span class="muted">from ${j.template.name} on ${j.cluster}${j.full ? ' · full clones' : ''}</span><span class="spacer"></span>
        ${ENDED.has(j.state) ? nothing : html`<button class="small" @click=${() => void this.cancel(j)}>Stop</button>`}</div>
      <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow=${pct} aria-label="Progress"><span style=${`width:${pct}%`}></span></div>
      <details class="vms" ?open=${!ENDED.has(j.state) || j.failed > 0}><summary>VMs</summary>
        <table><thead><tr><th>Name</th><th>VM id</th><th>Step</th><th></th></tr></thead><tbody>
        ${j.vms.map((v) => html`<tr data-job-vm=${v.name}><td>${v.name}</td><td>${v.vmid ?? '–'}</td>
          <td>${VM_STEP[v.state]}${v.attempts > 1 && !ENDED.has(v.state) ? html` <span class="muted">(try ${v.attempts})</span>` : nothing}</td>
          <td>${v.error && v.state === 'failed' ? html`<span class="error">${v.error}</span>` : nothing}</td></tr>`)}
        </tbody></table></details>
    </div>`;
  }

  override render() {
    const running = this.jobs.some((j) => !ENDED.has(j.state));
    const failed = this.made.filter((v) => v.state === 'failed');
    return html`<details class="card" ?open=${running || this.opened} @toggle=${(e: Event) => { this.opened = (e.target as HTMLDetailsElement).open; }}>
      <summary>Provision VMs from a template${this.made.length ? ` · ${this.made.length} made by labdeck` : ''}</summary>
      <form @submit=${(e: Event) => void this.onStart(e)} aria-label="Provision VMs" novalidate>
        <div><strong>Template</strong>${this.template ? html` <span data-chosen-template>${this.template.name} (${this.template.cluster} ${this.template.vmid})</span>` : nothing}
          <ld-vm-picker kind="template" .classId=${this.classId} label="Find a template by name, id, tag or node"
            @vm-picked=${(e: CustomEvent<PickedVm>) => { this.template = e.detail; }}></ld-vm-picker>
          ${this.field === 'templateVmid' ? html`<p class="error">${this.error}</p>` : nothing}</div>
        <label>How many <input name="count" type="number" min="1" max="500" required .value=${String(Math.max(1, this.students))} style="width:6rem" aria-invalid=${this.field === 'count'}></label>
        <label>Name prefix <input name="namePrefix" placeholder="the class name" pattern="[a-z0-9\\-]+" maxlength="42" aria-invalid=${this.field === 'namePrefix'}>
          <span class="muted">VMs are named prefix-01, prefix-02, …</span></label>
        <label><input type="checkbox" name="assign" checked> Give one to each student without a VM</label>
        <label><input type="checkbox" name="baseline" checked> Take a baseline snapshot (students can revert to it)</label>
        <label><input type="checkbox" name="full"> Full clones (slower, independent of the template)</label>
        <div class="row"><button class="primary" type="submit" ?disabled=${this.busy}>Provision</button></div>
        ${this.error && this.field !== 'templateVmid' ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      </form>
      ${this.jobs.map((j) => this.renderJob(j))}
      <section aria-label="VMs labdeck made">
        <h3>VMs labdeck made for this class</h3>
        ${this.made.length ? html`<div class="row">
            <button ?disabled=${this.busy} data-reset @click=${() => void this.reset()}>Reset all to baseline…</button>
            <button class="danger" ?disabled=${this.busy || running} data-remove-all @click=${() => void this.removeMade()}>Remove all ${this.made.length}…</button></div>
          ${failed.length ? html`<ul>${failed.map((v) => html`<li data-failed-vm=${v.vmid}>${v.name} (${v.vmid}) failed: ${v.error}
            <button class="small danger" ?disabled=${this.busy} @click=${() => void this.removeMade([v])}>Remove</button></li>`)}</ul>` : nothing}`
          : html`<p class="muted">None yet.</p>`}
        ${this.note ? html`<p role="status" data-note>${this.note}</p>` : nothing}
      </section>
      <section aria-label="Add an existing VM">
        <h3>Add an existing VM</h3>
        <ld-vm-picker kind="vm" .classId=${this.classId} label="Find a VM by name, id, tag or node" @vm-picked=${(e: CustomEvent<PickedVm>) => { this.adding = e.detail; }}></ld-vm-picker>
        <button ?disabled=${!this.adding || this.busy} @click=${() => void this.addExisting()}>${this.adding ? `Add ${this.adding.name} to the class` : 'Add to the class'}</button>
      </section>
    </details>`;
  }
}

declare global {
  interface HTMLElementTagNameMap { 'ld-provision-panel': ProvisionPanel }
}
