// An SVG line chart of recent pass durations (solid, a dot per pass) and Proxmox latency p95
// (dashed line, held to now) per cluster, with a guide line where latency counts as slow.
import { LitElement, html, svg, css } from 'lit';
import { customElement, property } from 'lit/decorators.js';
import { base } from '../lib/styles.js';
import { scaleSeries, type Series } from '../lib/chart.js';

const W = 640;
const H = 200;
const PAD = { l: 48, r: 10, t: 10, b: 24 };

@customElement('ld-sync-chart')
export class SyncChart extends LitElement {
  static override styles = [base, css`
    svg { width: 100%; height: auto; display: block; }
    .axis { stroke: var(--border); }
    .threshold { stroke: var(--bad); stroke-dasharray: 2 3; stroke-width: 1.5; }
    .threshold-label { fill: var(--bad); }
    .label { fill: var(--muted); font-size: 11px; }
    .legend { display: flex; flex-wrap: wrap; gap: .8rem; font-size: .85rem; margin-top: .3rem; }
    .key { display: inline-block; width: 1.4rem; height: 0; border-top: 3px solid; vertical-align: middle; margin-right: .3rem; }
    .key.dashed { border-top-style: dashed; }
  `];

  @property({ attribute: false }) series: Series[] = [];
  @property({ type: Number }) now = Date.now();
  @property({ type: Number }) spanMs = 10 * 60_000;
  /** A value drawn as a red guide line ("slow") when the chart reaches it. */
  @property({ type: Number }) threshold: number | null = null;

  override render() {
    const iw = W - PAD.l - PAD.r;
    const ih = H - PAD.t - PAD.b;
    const { scaled, max } = scaleSeries(this.series, iw, ih, this.now, this.spanMs);
    const ticks = [0, max / 2, max];
    const minutes = Math.round(this.spanMs / 60_000);
    const summary = scaled.map((s) => `${s.label}: ${s.dots.length ? `last ${Math.round(s.dots[s.dots.length - 1].v)} ms` : 'no data'}`).join('; ');
    return html`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label=${`Pass durations and Proxmox latency over the last ${minutes} minutes. ${summary}`}>
      <g transform="translate(${PAD.l} ${PAD.t})">
        ${ticks.map((v) => {
          const y = ih - (v / max) * ih;
          return svg`<line class="axis" x1="0" x2=${iw} y1=${y} y2=${y}></line>
            <text class="label" x="-6" y=${y + 4} text-anchor="end">${v >= 1000 ? `${(v / 1000).toFixed(v % 1000 ? 1 : 0)} s` : `${Math.round(v)} ms`}</text>`;
        })}
        <text class="label" x="0" y=${ih + 18}>${minutes} min ago</text>
        <text class="label" x=${iw} y=${ih + 18} text-anchor="end">now</text>
        ${this.threshold !== null && this.threshold <= max ? svg`<line class="threshold" x1="0" x2=${iw} y1=${ih - (this.threshold / max) * ih} y2=${ih - (this.threshold / max) * ih}></line>
          <text class="label threshold-label" x=${iw - 4} y=${ih - (this.threshold / max) * ih - 4} text-anchor="end">slow above ${this.threshold >= 1000 ? `${this.threshold / 1000} s` : `${this.threshold} ms`}</text>` : ''}
        ${scaled.map((s) => svg`
          <path d=${s.path} fill="none" stroke=${s.colour} stroke-width=${s.dashed ? 2 : 2.5} stroke-linejoin="round" stroke-dasharray=${s.dashed ? '6 4' : 'none'}></path>
          ${s.dashed ? '' : s.dots.map((d) => svg`<circle cx=${d.x} cy=${d.y} r="2" fill=${s.colour}><title>${s.label}: ${Math.round(d.v)} ms</title></circle>`)}`)}
      </g>
    </svg>
    <div class="legend">${scaled.map((s) => html`<span><span class="key ${s.dashed ? 'dashed' : ''}" style="border-color:${s.colour}"></span>${s.label}</span>`)}</div>`;
  }
}
