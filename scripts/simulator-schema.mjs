// What of the simulator's PVE schema subset the production bundle carries (see build-server.mjs):
// each method's `parameters` with only the fields verifyParams (server/simulator/schema/validate.ts)
// reads, its `permissions` and `proxyto`. Descriptions, object formats and `returns` (checked by
// the tests only) stay in the committed JSON file.
const PARAM_KEYS = new Set(['type', 'optional', 'properties', 'additionalProperties', 'items', 'enum', 'pattern', 'format',
  'minimum', 'maximum', 'minLength', 'maxLength', 'requires', 'alias']);
function pruneParam(s) {
  if (!s || typeof s !== 'object') return s;
  const out = {};
  for (const [k, v] of Object.entries(s)) {
    if (!PARAM_KEYS.has(k) || (k === 'format' && typeof v !== 'string')) continue;
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v).map(([n, p]) => [n, pruneParam(p)]));
    else if (k === 'items' || k === 'additionalProperties') out[k] = pruneParam(v);
    else out[k] = v;
  }
  return out;
}

/** The run-time part of the whole subset: path template → method → { parameters, permissions, proxyto }. */
export function runtimeSchema(full) {
  return Object.fromEntries(Object.entries(full).map(([path, methods]) => [path, Object.fromEntries(
    Object.entries(methods).map(([m, info]) => [m, {
      ...(info.parameters ? { parameters: pruneParam(info.parameters) } : {}),
      ...(info.permissions ? { permissions: info.permissions } : {}),
      ...(info.proxyto !== undefined ? { proxyto: info.proxyto } : {}),
    }]))]));
}
