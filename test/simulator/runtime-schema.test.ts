// The production bundle carries a cut-down copy of the simulator's schema subset
// (scripts/simulator-schema.mjs, applied by scripts/build-server.mjs). Demo mode must still answer
// every served endpoint's parameters exactly as PVE does: same errors for the same input.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript build helper without type declarations
import { runtimeSchema } from '../../scripts/simulator-schema.mjs';
import { SCHEMA } from '../../server/simulator/api.js';
import { SUBSET_FILE } from '../../server/simulator/schema/extract.js';
import { SERVED_ENDPOINTS } from '../../server/simulator/schema/endpoints.js';
import { verifyParams, type PveSchema, type RawParams } from '../../server/simulator/schema/validate.js';

type Info = { parameters?: PveSchema; permissions?: unknown; proxyto?: string | null };
const runtime = runtimeSchema(JSON.parse(readFileSync(SUBSET_FILE, 'utf8'))) as Record<string, Record<string, Info>>;

// Inputs that hit each check: missing, wrong type, bad format/pattern, too long, out of range, unknown.
function probes(schema: PveSchema): RawParams[] {
  const names = Object.keys(schema.properties ?? {});
  const all = (v: string | string[]): RawParams => Object.fromEntries(names.map((n) => [n, v]));
  return [{}, all('x!'), all('1'), all('-5'), all('999999999999'), all('a'.repeat(300)), all(['1', '2']), all('yes'), { ...all('100'), nosuchparam: '1' }];
}

describe('the simulator schema the production bundle carries', () => {
  it('is a small part of the committed subset', () => {
    expect(JSON.stringify(runtime).length).toBeLessThan(JSON.stringify(SCHEMA).length / 4);
  });

  it('verifies every served endpoint\'s parameters with the same errors as the whole subset', () => {
    let compared = 0;
    for (const e of SERVED_ENDPOINTS) {
      const whole = SCHEMA[e.path][e.method];
      const cut = runtime[e.path]?.[e.method];
      expect(cut, `${e.method} ${e.path}`).toBeDefined();
      expect(cut.permissions).toEqual(whole.permissions);
      expect(cut.proxyto).toEqual(whole.proxyto);
      for (const p of probes(whole.parameters ?? {})) {
        expect(verifyParams(cut.parameters ?? {}, p), `${e.method} ${e.path} ${JSON.stringify(p)}`).toEqual(verifyParams(whole.parameters ?? {}, p));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(SERVED_ENDPOINTS.length * 5);
  });
});
