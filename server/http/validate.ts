// valibot at the edge: every path parameter, query and body goes through one of these, and a
// failure becomes a 400 naming the offending field.
import * as v from 'valibot';
import type { Context } from 'hono';
import { badRequest } from './errors.js';
import { roles } from '../../contract/users.js';

/** How much of a caller's own input an error message may repeat. */
const ECHO_MAX = 120;

/** Shortens text from a caller to at most `max` characters (whole code points, "…" when cut) (pure). */
export function shorten(text: string, max = ECHO_MAX): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

/**
 * Parses a value or throws a 400 naming the first bad field. valibot's messages quote what they
 * received, and a field name may be the caller's own key: both are shortened, so a 500 KB string
 * is not sent back to whoever sent it (nor into logs).
 */
export function parseInput<S extends v.GenericSchema>(schema: S, value: unknown, where: 'body' | 'query' | 'path'): v.InferOutput<S> {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const field = shorten(v.getDotPath(issue) ?? where, 60);
  throw badRequest(`${where === 'path' ? 'path parameter' : where} ${field}: ${shorten(issue.message, 200)}`, field);
}

/** The JSON body of a request, validated. An empty body counts as `{}`. */
export async function body<S extends v.GenericSchema>(c: Context, schema: S): Promise<v.InferOutput<S>> {
  const text = await c.req.text();
  let raw: unknown = {};
  if (text.trim() !== '') {
    const type = c.req.header('content-type') ?? '';
    if (!/^application\/json\b/i.test(type)) throw badRequest('the body must be JSON (Content-Type: application/json)', 'body');
    try {
      raw = JSON.parse(text);
    } catch {
      throw badRequest('the body is not valid JSON', 'body');
    }
  }
  return parseInput(schema, raw, 'body');
}

/** The query string, validated (single values only). */
export function query<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  return parseInput(schema, c.req.query(), 'query');
}

/** Path parameters, validated. */
export function params<S extends v.GenericSchema>(c: Context, schema: S): v.InferOutput<S> {
  return parseInput(schema, c.req.param(), 'path');
}

/** A decimal id in a path or query string, as a number. */
export const IdString = v.pipe(v.string(), v.regex(/^[1-9][0-9]{0,8}$/, 'must be a positive whole number'), v.transform(Number));
/** A Proxmox VM id in a path or query string (100..999999999). */
export const VmidString = v.pipe(v.string(), v.regex(/^[1-9][0-9]{2,8}$/, 'must be a VM id (100 to 999999999)'), v.transform(Number));
export const Vmid = v.pipe(v.number(), v.integer(), v.minValue(100, 'must be a VM id (100 to 999999999)'), v.maxValue(999_999_999));
export const ClusterId = v.pipe(v.string(), v.regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be a cluster id'));
export const Username = v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/, 'must be 1-128 letters, digits, . _ @ or -'));
/** A local username (no @: that is reserved for Proxmox users like alice@pve). */
export const LocalUsername = v.pipe(v.string(), v.trim(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'must be 1-64 letters, digits, . _ or -'));
export const NewPassword = v.pipe(v.string(), v.minLength(8, 'must be at least 8 characters'), v.maxLength(1024));
export const Role = v.picklist(roles);

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Whether a text has no control characters (NUL, CR, LF…) and no lone surrogates (pure). */
export const isPlainText = (s: string): boolean => !/\p{Cc}/u.test(s) && !LONE_SURROGATE.test(s);

/** A name people read (a class, a display name): trimmed, 1..max characters, plain text. */
export const PlainName = (max = 100) => v.pipe(
  v.string(), v.trim(), v.minLength(1, 'is required'), v.maxLength(max, `must be at most ${max} characters`),
  v.check(isPlainText, 'must be plain text: no control characters (such as NUL or line breaks) and no broken Unicode'),
);
