/** The emulator's control API (`/_emulator/<path>`) as the tests call it: a JSON body POSTed with a CA-trusting fetch. */
export function postControl(
  fetcher: typeof fetch,
  baseUrl: string,
  pathName: string,
  body: unknown,
): Promise<Response> {
  return fetcher(`${baseUrl}/_emulator/${pathName}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}
