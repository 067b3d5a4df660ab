/** The emulated browser's pages (authorize, device login) and the form bodies they and the token endpoint receive. */
import type { EmuRequest, EmuResponse } from '../http.js';

export function formOf(req: EmuRequest): URLSearchParams {
  return new URLSearchParams(req.body.toString('utf8'));
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}

export function htmlPage(status: number, title: string, body: string): EmuResponse {
  return {
    status,
    headers: { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' },
    body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head><body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
  };
}
