// A class's scope on its page: what the class may draw its VMs from, in words for its teachers,
// and for admins the rules to edit (whole cluster, Proxmox pool, tag, vmid range; each on one
// cluster). Narrowing asks first, since VMs outside the new scope leave the class at once.
import { LitElement, html, css, nothing } from 'lit';
import { customElement, property, state } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { announce } from '../lib/announce.js';
import type { User } from '../lib/session.js';
import { setClassScope, type ClassDetail, type ScopeRule } from '../lib/classes.js';

/** One rule in plain words (the server's wording). */
function words(r: ScopeRule): string {
  switch (r.kind) {
    case 'cluster': return `all of ${r.cluster}`;
    case 'pool': return `${r.cluster} pool ${r.pool}`;
    case 'tag': return `${r.cluster} tag ${r.tag}`;
    case 'range': return r.min === r.max ? `${r.cluster} vmid ${r.min}` : `${r.cluster} vmids ${r.min}-${r.max}`;
  }
}

@customElement('ld-class-scope')
export class ClassScope extends LitElement {
  static override styles = [base, css`
    :host { display: block; margin: 0 0 1rem; }
    ul { list-style: none; padding: 0; margin: .3rem 0 .6rem; }
    li { display: flex; gap: .5rem; align-items: center; padding: .15rem 0; }
    form { display: flex; gap: .4rem; flex-wrap: wrap; align-items: end; }
    form input, form select { flex: 1 1 7rem; min-width: 0; }
    h2 { margin: 0 0 .3rem; font-size: 1.05rem; }
  `];

  @property({ attribute: false }) detail?: ClassDetail;
  @property({ attribute: false }) user?: User;
  /** Clusters to offer in the form. */
  @property({ attribute: false }) clusters: string[] = [];
  @state() private busy = false;
  @state() private error = '';

  private async save(rules: ScopeRule[], said: string): Promise<void> {
    this.busy = true;
    try {
      await setClassScope(this.detail!.id, rules);
      this.error = '';
      announce(said);
      this.dispatchEvent(new CustomEvent('class-changed', { bubbles: true, composed: true }));
    } catch (err) {
      this.error = (err as Error).message;
      announce(this.error);
    } finally {
      this.busy = false;
    }
  }

  private onRemove(i: number): void {
    const rules = this.detail!.scope;
    const gone = rules[i];
    if (!confirm(`Remove "${words(gone)}" from this class's scope? Teacher-added VMs outside the new scope leave the class (and its students) at once.`)) return;
    void this.save(rules.filter((_, j) => j !== i), `Removed ${words(gone)} from the scope.`);
  }

  private onAdd(e: SubmitEvent): void {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const f = new FormData(form);
    const cluster = String(f.get('cluster') ?? '').trim();
    const kind = String(f.get('kind')) as ScopeRule['kind'];
    const value = String(f.get('value') ?? '').trim();
    let rule: ScopeRule;
    if (kind === 'cluster') rule = { cluster, kind };
    else if (kind === 'pool') rule = { cluster, kind, pool: value };
    else if (kind === 'tag') rule = { cluster, kind, tag: value };
    else {
      const m = /^(\d+)\s*(?:-\s*(\d+))?$/.exec(value);
      if (!m) {
        this.error = 'A vmid range is written like 200-299 (or one vmid).';
        return;
      }
      rule = { cluster, kind, min: Number(m[1]), max: Number(m[2] ?? m[1]) };
    }
    void this.save([...this.detail!.scope, rule], `Added ${words(rule)} to the scope.`).then(() => { if (!this.error) form.reset(); });
  }

  override render() {
    const d = this.detail;
    if (!d) return nothing;
    const admin = this.user?.role === 'admin';
    return html`<section class="card" aria-label="Class scope">
      <h2>What this class may use</h2>
      <p class="muted small">${d.scopeText || 'No scope yet.'} ${admin ? '' : 'Only an admin can change this.'}</p>
      ${this.error ? html`<p class="error" role="alert">${this.error}</p>` : nothing}
      ${admin ? html`
        <ul>${d.scope.map((r, i) => html`<li data-rule=${words(r)}>${words(r)}
          <button class="small" ?disabled=${this.busy} aria-label=${`Remove ${words(r)} from the scope`} @click=${() => this.onRemove(i)}>Remove</button></li>`)}</ul>
        <form @submit=${this.onAdd} aria-label="Add to the scope">
          <input name="cluster" aria-label="Cluster" placeholder="cluster id" list="scope-clusters" pattern="[a-z0-9][a-z0-9_\\-]{0,62}" required>
          <datalist id="scope-clusters">${this.clusters.map((c) => html`<option value=${c}></option>`)}</datalist>
          <select name="kind" aria-label="Scope rule">
            <option value="cluster">whole cluster</option><option value="pool">Proxmox pool</option>
            <option value="tag">tag</option><option value="range">vmid range</option>
          </select>
          <input name="value" aria-label="Pool, tag or vmid range" placeholder="net1, linux or 200-299" maxlength="64">
          <button type="submit" ?disabled=${this.busy}>Add to scope</button>
        </form>` : nothing}
      ${d.shared.length ? html`<p class="small">Shared with other classes by an admin:
        ${d.shared.map((s) => html`<span class="badge tone-off">${s.vm} · ${s.classes.map((c) => c.name).join(', ')}</span> `)}</p>` : nothing}
    </section>`;
  }
}
