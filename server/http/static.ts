// Serves the built client (dist/client) for non-API GETs, with index.html for client-side routes.
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import type { Context } from 'hono';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
  '.ico': 'image/x-icon', '.webmanifest': 'application/manifest+json', '.woff2': 'font/woff2', '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

async function fileAt(root: string, urlPath: string): Promise<string | null> {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0')) return null;
  const full = normalize(join(root, decoded));
  if (full !== root && !full.startsWith(root.endsWith(sep) ? root : root + sep)) return null;
  try {
    return (await stat(full)).isFile() ? full : null;
  } catch {
    return null;
  }
}

/** Answers a GET for a static file or the app shell; null when there is no build to serve. */
export async function serveClient(c: Context, root: string): Promise<Response | null> {
  const path = new URL(c.req.url).pathname;
  const file = await fileAt(root, path);
  if (file) {
    // Vite puts a content hash in asset names, so those may be cached for good.
    const immutable = path.startsWith('/assets/');
    return c.body(await readFile(file), 200, {
      'Content-Type': types[extname(file)] ?? 'application/octet-stream',
      'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
  }
  if (extname(path) !== '') return null;
  const index = await fileAt(root, '/index.html');
  if (!index) return null;
  return c.body(await readFile(index), 200, { 'Content-Type': types['.html'], 'Cache-Control': 'no-cache' });
}
