// Shared component styles: buttons, cards, status badges, bars; colours come from the page theme.
import { css } from 'lit';

export const base = css`
  :host { display: block; font-family: var(--font); color: var(--text); }
  * { box-sizing: border-box; }
  h1, h2, h3 { margin: 0 0 .5rem; line-height: 1.2; }
  h1 { font-size: 1.4rem; }
  h2 { font-size: 1.15rem; }
  h3 { font-size: 1rem; }
  a { color: var(--accent); }
  button, .button {
    font: inherit; border: 1px solid var(--border); background: var(--surface); color: var(--text);
    border-radius: 6px; padding: .4rem .8rem; cursor: pointer; min-height: 2.25rem; text-decoration: none;
    display: inline-flex; align-items: center; gap: .35rem;
  }
  button.primary { background: var(--accent); color: var(--accent-text); border-color: var(--accent); }
  button.danger { color: var(--bad); border-color: var(--bad); }
  button:disabled, button[aria-disabled='true'] { opacity: .5; cursor: not-allowed; }
  button:hover:not(:disabled):not([aria-disabled='true']) { filter: brightness(1.05); }
  :focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
  input, select {
    font: inherit; padding: .4rem .55rem; border: 1px solid var(--border); border-radius: 6px;
    background: var(--surface); color: var(--text); min-height: 2.25rem;
  }
  .card { background: var(--surface); border: 1px solid var(--border); border-radius: var(--radius); padding: 1rem; box-shadow: var(--shadow); }
  .muted { color: var(--muted); }
  .mono { font-family: var(--mono); }
  .row { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; }
  .spacer { flex: 1; }
  .badge { display: inline-flex; align-items: center; gap: .35rem; border-radius: 999px; padding: .1rem .6rem; font-size: .85rem; font-weight: 600; white-space: nowrap; }
  .badge::before { content: ''; width: .55rem; height: .55rem; border-radius: 50%; background: currentColor; }
  .tone-ok { color: var(--ok); background: var(--ok-bg); }
  .tone-off { color: var(--off); background: var(--off-bg); }
  .tone-busy { color: var(--busy); background: var(--busy-bg); }
  .tone-busy::before { animation: pulse 1s ease-in-out infinite; }
  .tone-warn { color: var(--warn); background: var(--warn-bg); }
  .tone-bad { color: var(--bad); background: var(--bad-bg); }
  @keyframes pulse { 50% { opacity: .25; } }
  @media (prefers-reduced-motion: reduce) { .tone-busy::before { animation: none; } }
  .bar { height: .45rem; border-radius: 999px; background: var(--surface-2); overflow: hidden; }
  .bar > span { display: block; height: 100%; background: var(--accent); }
  .error { color: var(--bad); }
  .sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid var(--border); }
  th { font-size: .85rem; color: var(--muted); font-weight: 600; }
`;
