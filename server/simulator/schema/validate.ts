// PVE::JSONSchema semantics in TypeScript: parameter verification with the real per-field
// messages, and a checker for responses against an endpoint's `returns` schema.

/** A PVE JSON schema fragment (as found in pve-api-schema.json). */
export interface PveSchema {
  type?: string;
  optional?: number | boolean;
  properties?: Record<string, PveSchema>;
  additionalProperties?: number | boolean | PveSchema;
  items?: PveSchema;
  enum?: string[];
  pattern?: string;
  format?: string | Record<string, unknown>;
  minimum?: number | string;
  maximum?: number | string;
  minLength?: number;
  maxLength?: number;
  requires?: string;
  alias?: string;
}

/** Request parameters as parsed from query string and body: strings, or arrays of repeated keys. */
export type RawParams = Record<string, string | string[]>;

const isInteger = (v: string): boolean => /^[+-]?\d+$/.test(v);
const isNumber = (v: string): boolean => /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(v);
// Perl accepts the usual truthy/falsy spellings for booleans.
const BOOL = /^(1|true|yes|on|0|false|no|off)$/i;

// Perl regexes in the schema use `(?^:...)`; JavaScript only needs the plain group.
const patternCache = new Map<string, RegExp>();
function anchored(pattern: string): RegExp {
  let re = patternCache.get(pattern);
  if (!re) {
    re = new RegExp(`^(?:${pattern.replace(/\(\?\^:/g, '(?:')})$`);
    patternCache.set(pattern, re);
  }
  return re;
}

const NODE_RE = /^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$/;
const CONFIGID_RE = /^[a-z][a-z0-9_-]+$/i;
const POOLID_RE = /^[A-Za-z0-9_][A-Za-z0-9_\-+/]*$/;
const STORAGEID_RE = /^[a-z][a-z0-9\-_.]*[a-z0-9]$/i;
const DNS_LABEL = '([a-zA-Z0-9]([a-zA-Z0-9\\-]*[a-zA-Z0-9])?)';
const DNSNAME_RE = new RegExp(`^(${DNS_LABEL}\\.)*${DNS_LABEL}$`);
const REALM_RE = /^[A-Za-z][A-Za-z0-9.\-_]+$/;
const USERID_RE = /^[^\s:/]+@[A-Za-z][A-Za-z0-9.\-_]+$/;

// The string formats the served endpoints use, with PVE's own error texts; others pass.
const FORMATS: Record<string, (v: string) => string | null> = {
  'pve-node': (v) => (NODE_RE.test(v) ? null : 'value does not look like a valid node name'),
  'pve-vmid': (v) => (/^[1-9][0-9]{2,8}$/.test(v) ? null : 'value does not look like a valid VM ID'),
  'pve-configid': (v) => (CONFIGID_RE.test(v) ? null : `invalid configuration ID '${v}'`),
  'pve-poolid': (v) => (POOLID_RE.test(v) ? null : `invalid pool ID '${v}'`),
  'pve-storage-id': (v) => (STORAGEID_RE.test(v) ? null : `storage ID '${v}' contains illegal characters`),
  'dns-name': (v) => (DNSNAME_RE.test(v) ? null : `value does not look like a valid DNS name`),
  'pve-realm': (v) => (REALM_RE.test(v) ? null : `value does not look like a valid realm`),
  'pve-userid': (v) => (USERID_RE.test(v) && v.length <= 64 ? null : `value '${v}' does not look like a valid user name`),
};

function checkScalar(path: string, s: PveSchema, v: string, errors: Record<string, string>): void {
  const t = s.type;
  if (t === 'boolean' && !BOOL.test(v)) return void (errors[path] = `type check ('boolean') failed - got '${v}'`);
  if (t === 'integer' && !isInteger(v)) return void (errors[path] = `type check ('integer') failed - got '${v}'`);
  if (t === 'number' && !isNumber(v)) return void (errors[path] = `type check ('number') failed - got '${v}'`);
  if (t === 'array' || t === 'object') return void (errors[path] = `type check ('${t}') failed`);
  if (typeof s.format === 'string' && FORMATS[s.format]) {
    const msg = FORMATS[s.format](v);
    if (msg) return void (errors[path] = `invalid format - ${msg}\n`);
  }
  if (s.pattern && !anchored(s.pattern).test(v)) return void (errors[path] = 'value does not match the regex pattern');
  if (s.maxLength !== undefined && v.length > s.maxLength) return void (errors[path] = `value may only be ${s.maxLength} characters long`);
  if (s.minLength !== undefined && v.length < s.minLength) return void (errors[path] = `value must be at least ${s.minLength} characters long`);
  if (isNumber(v)) {
    if (s.maximum !== undefined && Number(v) > Number(s.maximum)) return void (errors[path] = `value must have a maximum value of ${s.maximum}`);
    if (s.minimum !== undefined && Number(v) < Number(s.minimum)) return void (errors[path] = `value must have a minimum value of ${s.minimum}`);
  }
  if (s.enum && !s.enum.includes(v)) errors[path] = `value '${v}' does not have a value in the enumeration '${s.enum.join(', ')}'`;
}

/** Verifies request parameters like PVE does; returns the per-field errors, or null when valid. */
export function verifyParams(schema: PveSchema, params: RawParams): Record<string, string> | null {
  const errors: Record<string, string> = {};
  const props = schema.properties ?? {};
  for (const [k, s] of Object.entries(props)) {
    const v = params[k];
    if (v === undefined) {
      if (!s.optional && !s.alias) errors[k] = 'property is missing and it is not optional';
      continue;
    }
    if (Array.isArray(v)) {
      if (s.type !== 'array') errors[k] = `type check ('${s.type ?? 'string'}') failed - got ARRAY`;
      continue;
    }
    checkScalar(k, s, v, errors);
  }
  for (const k of Object.keys(params)) {
    const s = props[k];
    if (s) {
      if (s.requires && params[s.requires] === undefined) errors[s.requires] = `missing property - '${k}' requires this property`;
      continue;
    }
    if (schema.additionalProperties !== undefined && !schema.additionalProperties) {
      errors[k] = 'property is not defined in schema and the schema does not allow additional properties';
    }
  }
  return Object.keys(errors).length ? errors : null;
}

/**
 * Checks a response value against a `returns` schema as it appears on the wire from Perl:
 * booleans may be 0/1, integers and numbers may be numeric strings. Returns the problems found.
 */
export function checkReturns(schema: PveSchema, value: unknown, path = 'data'): string[] {
  const problems: string[] = [];
  const bad = (msg: string): void => void problems.push(`${path}: ${msg}`);
  if (value === null || value === undefined) {
    if (schema.type !== 'null' && !schema.optional) bad('is missing/null');
    return problems;
  }
  switch (schema.type) {
    case 'null':
      bad(`expected null, got ${JSON.stringify(value)}`);
      return problems;
    case 'boolean':
      if (value !== 0 && value !== 1 && typeof value !== 'boolean') bad(`expected boolean (0/1), got ${JSON.stringify(value)}`);
      return problems;
    case 'integer':
      if (!(typeof value === 'number' && Number.isInteger(value)) && !(typeof value === 'string' && isInteger(value))) bad(`expected integer, got ${JSON.stringify(value)}`);
      else if (schema.minimum !== undefined && Number(value) < Number(schema.minimum)) bad(`below minimum ${schema.minimum}`);
      return problems;
    case 'number':
      if (typeof value !== 'number' && !(typeof value === 'string' && isNumber(value))) bad(`expected number, got ${JSON.stringify(value)}`);
      else if (schema.minimum !== undefined && Number(value) < Number(schema.minimum)) bad(`below minimum ${schema.minimum}`);
      return problems;
    case 'string':
      if (typeof value !== 'string') bad(`expected string, got ${JSON.stringify(value)}`);
      else if (schema.enum && !schema.enum.includes(value)) bad(`'${value}' not in enum ${schema.enum.join(',')}`);
      else if (schema.pattern && !anchored(schema.pattern).test(value)) bad(`'${value}' does not match ${schema.pattern}`);
      return problems;
    case 'array':
      if (!Array.isArray(value)) {
        bad('expected array');
        return problems;
      }
      if (schema.items) value.forEach((el, i) => problems.push(...checkReturns(schema.items!, el, `${path}[${i}]`)));
      return problems;
    case 'object': {
      if (typeof value !== 'object' || Array.isArray(value)) {
        bad('expected object');
        return problems;
      }
      const obj = value as Record<string, unknown>;
      const props = schema.properties ?? {};
      for (const [k, s] of Object.entries(props)) {
        if (obj[k] === undefined) {
          if (!s.optional) bad(`property '${k}' is missing and it is not optional`);
        } else problems.push(...checkReturns(s, obj[k], `${path}.${k}`));
      }
      for (const k of Object.keys(obj)) {
        if (props[k]) continue;
        const ap = schema.additionalProperties;
        if (ap !== undefined && typeof ap !== 'object' && !ap) bad(`property '${k}' is not allowed`);
        else if (ap && typeof ap === 'object') problems.push(...checkReturns(ap, obj[k], `${path}.${k}`));
      }
      return problems;
    }
    default:
      return problems;
  }
}
