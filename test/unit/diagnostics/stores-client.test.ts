import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseStores, readStores } from '../../../src/diagnostics/stores-client.ts';

describe('parseStores', () => {
  it('takes every component group, null groups included, and reads an empty lastError as healthy', () => {
    const body = {
      status: 'success',
      data: {
        store: [
          { name: 'a.:10901', lastCheck: '2026-11-24T12:00:00Z', lastError: null },
          { name: 'b.:10901', lastError: 'rpc error: code = Unavailable' },
        ],
        sidecar: [{ name: 'c.:10901', lastError: '' }],
        rule: null,
      },
    };
    expect(parseStores(body)).toEqual([
      { name: 'a.:10901', lastError: null },
      { name: 'b.:10901', lastError: 'rpc error: code = Unavailable' },
      { name: 'c.:10901', lastError: null },
    ]);
  });

  it('an answer without data is an error, not an empty list', () => {
    expect(() => parseStores({ status: 'error' })).toThrow('/api/v1/stores answered without a `data` object');
  });
});

describe('readStores', () => {
  let server: Server;
  let url: string;
  let answer: { status: number; body: string };

  beforeAll(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === '/prefix/api/v1/stores' ? answer.status : 404, { 'content-type': 'application/json' }).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads the stores under the URL path', async () => {
    answer = { status: 200, body: JSON.stringify({ data: { store: [{ name: 'a.:10901', lastError: null }] } }) };
    expect(await readStores('pod/q-1', url)).toEqual({ source: 'pod/q-1', ok: true, stores: [{ name: 'a.:10901', lastError: null }] });
  });

  it.each([
    [{ status: 503, body: '{}' }, '/api/v1/stores answered HTTP 503'],
    [{ status: 200, body: 'not json' }, expect.stringMatching(/JSON/)],
    [{ status: 200, body: '{"status":"error"}' }, '/api/v1/stores answered without a `data` object'],
  ])('a failed read is an answer with its cause: %j', async (reply, error) => {
    answer = reply;
    expect(await readStores('pod/q-1', url)).toEqual({ source: 'pod/q-1', ok: false, error });
  });

  it('an unreachable pod is an answer too', async () => {
    const result = await readStores('pod/q-2', 'http://127.0.0.1:1');
    // The cause (ECONNREFUSED) is chained outside jest's sandbox, as the integration test's log shows.
    expect(result).toEqual({ source: 'pod/q-2', ok: false, error: expect.stringMatching(/fetch failed/) });
  });
});
