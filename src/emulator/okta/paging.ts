/** Okta's cursor paging: `limit`, an opaque `after` (here the last id of the page before), and the `Link` header. */
import { json, type EmuRequest, type EmuResponse } from '../http.js';
import { validationFailed } from './errors.js';

export function parseLimit(raw: string | null, fallback: number, max: number): number | string {
  if (raw === null) return fallback;
  const limit = Number(raw);
  if (!Number.isInteger(limit) || limit < 1) return `limit: '${raw}' is not a valid page size`;
  return Math.min(limit, max);
}

/** The page after `after` of `ids` in order, and the Link header (rel="self", and rel="next" when more remain). */
export function page(
  ids: string[],
  after: string | null,
  limit: number,
  selfUrl: string,
  /** Other query parameters the links keep (search), already encoded, each with a leading '&'. */
  keep = '',
): { ids: string[]; link: string } {
  const start = after === null ? 0 : ids.findIndex((id) => id > after);
  const from = start === -1 ? ids.length : start;
  const slice = ids.slice(from, from + limit);
  const selfLink = `<${selfUrl}?limit=${limit}${keep}${after ? `&after=${encodeURIComponent(after)}` : ''}>; rel="self"`;
  const more = from + limit < ids.length;
  const next = more
    ? `, <${selfUrl}?after=${encodeURIComponent(slice[slice.length - 1]!)}&limit=${limit}${keep}>; rel="next"`
    : '';
  return { ids: slice, link: `${selfLink}${next}` };
}

/**
 * A list call's answer: the page of `ids` that `limit` (the resource's default
 * when absent, at most its maximum) and `after` ask for, each shown by `show`,
 * with the Link header; a search the links keep. A bad limit is Okta's
 * validation error.
 */
export function pagedList(
  req: EmuRequest,
  ids: string[],
  selfUrl: string,
  limits: { fallback: number; max: number },
  show: (id: string) => unknown,
  search: string | null = null,
): EmuResponse {
  const limit = parseLimit(req.query.get('limit'), limits.fallback, limits.max);
  if (typeof limit === 'string') return validationFailed('limit', [limit]);
  const shown = page(
    ids,
    req.query.get('after'),
    limit,
    selfUrl,
    search === null ? '' : `&search=${encodeURIComponent(search)}`,
  );
  return json(200, shown.ids.map(show), { link: shown.link });
}
