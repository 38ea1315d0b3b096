import {
  diffEndpoints,
  hashEndpoints,
  normaliseEndpoint,
  parseEndpointsFile,
  parseEndpointsYaml,
  scanEndpointsFile,
  renderEndpointsFile,
  toEndpoints,
} from '../../../src/format/endpoints-file.ts';

describe('toEndpoints', () => {
  it.each([
    { hosts: ['b-grpc.x', 'a-grpc.x'], port: 10901, expected: ['a-grpc.x:10901', 'b-grpc.x:10901'] },
    { hosts: ['A-GRPC.X.', 'a-grpc.x'], port: 10901, expected: ['a-grpc.x:10901'] },
    { hosts: ['a-grpc.x'], port: 19090, expected: ['a-grpc.x:19090'] },
    { hosts: [], port: 10901, expected: [] },
  ])('$hosts on port $port', ({ hosts, port, expected }) => {
    expect(toEndpoints(hosts, port)).toEqual(expected);
  });
});

describe('normaliseEndpoint', () => {
  it.each([
    ['cluster-a-grpc.internal.example.com.:10901', 'cluster-a-grpc.internal.example.com:10901'],
    ['  Cluster-A-GRPC.example.com:10901 ', 'cluster-a-grpc.example.com:10901'],
    ['10.0.0.1:10901', '10.0.0.1:10901'],
    ['no-port.example.com', undefined],
    ['a.example.com:0', undefined],
    ['a.example.com:70000', undefined],
    [':10901', undefined],
  ])('%s -> %s', (input, expected) => {
    expect(normaliseEndpoint(input)).toBe(expected);
  });
});

describe('renderEndpointsFile', () => {
  it('renders the file_sd text with absolute names, as the older tool did', () => {
    expect(renderEndpointsFile(['cluster-a-grpc.internal.example.com:10901', 'cluster-b-grpc.internal.example.com:10901'], 'file_sd')).toBe(
      '- targets:\n  - cluster-a-grpc.internal.example.com.:10901\n  - cluster-b-grpc.internal.example.com.:10901\n',
    );
  });

  it('renders the endpoint-config document of --endpoint.sd-config-file with absolute names', () => {
    expect(renderEndpointsFile(['a-grpc.x:10901', 'b-grpc.x:10901'], 'endpoint-config')).toBe(
      'endpoints:\n  - address: a-grpc.x.:10901\n  - address: b-grpc.x.:10901\n',
    );
  });

  it.each([
    ['10.0.0.1:10901', '10.0.0.1:10901'],
    ['localhost:10901', 'localhost.:10901'],
  ])('an IP address stays as it is, a name becomes absolute: %s', (endpoint, address) => {
    expect(renderEndpointsFile([endpoint], 'endpoint-config')).toBe(`endpoints:\n  - address: ${address}\n`);
  });

  it.each(['file_sd', 'endpoint-config'] as const)('%s with or without the dots is the same set (adoption writes nothing)', (format) => {
    const relative = `${format === 'file_sd' ? '- targets:\n  - a-grpc.x:10901\n' : 'endpoints:\n  - address: a-grpc.x:10901\n'}`;
    const rendered = parseEndpointsFile(renderEndpointsFile(['a-grpc.x:10901'], format));
    expect(rendered).toEqual(parseEndpointsFile(relative));
  });

  it.each(['file_sd', 'endpoint-config'] as const)('%s round-trips through the parser', (format) => {
    const endpoints = ['a-grpc.x:10901', 'b-grpc.y:10902'];
    expect(parseEndpointsFile(renderEndpointsFile(endpoints, format))).toEqual({ ok: true, format, endpoints });
  });
});

describe('parseEndpointsFile', () => {
  it.each([
    {
      name: 'the older tool output, unsorted with trailing dots',
      text: '- targets:\n  - b-grpc.x.:10901\n  - a-grpc.x.:10901\n',
      expected: { ok: true, format: 'file_sd', endpoints: ['a-grpc.x:10901', 'b-grpc.x:10901'] },
    },
    {
      name: 'duplicates from an A and an AAAA record',
      text: '- targets:\n  - a-grpc.x.:10901\n  - a-grpc.x.:10901\n',
      expected: { ok: true, format: 'file_sd', endpoints: ['a-grpc.x:10901'] },
    },
    {
      name: 'several target groups with labels',
      text: '- targets: [b:1]\n  labels: {env: prod}\n- targets: [a:2]\n',
      expected: { ok: true, format: 'file_sd', endpoints: ['a:2', 'b:1'] },
    },
    {
      name: 'an endpoint-config document',
      text: 'endpoints:\n  - address: a:10901\n    group: false\n',
      expected: { ok: true, format: 'endpoint-config', endpoints: ['a:10901'] },
    },
    { name: 'an empty file_sd list', text: '[]', expected: { ok: true, format: 'file_sd', endpoints: [] } },
  ])('reads $name', ({ text, expected }) => {
    expect(parseEndpointsFile(text)).toEqual(expected);
  });

  it.each([
    { name: 'malformed YAML', text: '- targets:\n  - a:1\n - b: [', reason: /not valid YAML/ },
    { name: 'an empty text', text: '', reason: /neither a file_sd list/ },
    { name: 'a scalar', text: 'hello', reason: /neither a file_sd list/ },
    { name: 'a group without targets', text: '- labels: {a: b}\n', reason: /no `targets` list/ },
    { name: 'targets that are not a list', text: '- targets: a:1\n', reason: /no `targets` list/ },
    { name: 'an address without a port', text: '- targets:\n  - a.example.com\n', reason: /not a host:port address: "a.example.com"/ },
    { name: 'a non-string target', text: '- targets:\n  - {a: 1}\n', reason: /not a host:port address/ },
  ])('rejects $name with its reason', ({ text, reason }) => {
    const parsed = parseEndpointsFile(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.reason).toMatch(reason);
  });
});

describe('scanEndpointsFile', () => {
  const scanned = [
    ['our file_sd text', '- targets:\n  - a-grpc.x:10901\n  - b-grpc.x:10901\n', 'file_sd', ['a-grpc.x:10901', 'b-grpc.x:10901']],
    [
      'the older tool text: absolute names, no final newline',
      '- targets:\n  - b-grpc.x.:10901\n  - a-grpc.x.:10901',
      'file_sd',
      ['b-grpc.x.:10901', 'a-grpc.x.:10901'],
    ],
    ['our endpoint-config text, with a trailing dot', 'endpoints:\n  - address: a-grpc.x.:10901\n', 'endpoint-config', ['a-grpc.x.:10901']],
    ['an upper-case name', '- targets:\n  - A-GRPC.X:10901\n', 'file_sd', ['A-GRPC.X:10901']],
  ] as const;
  it.each(scanned)('scans %s', (_name, text, format, addresses) => {
    expect(scanEndpointsFile(text)).toEqual({ format, addresses });
  });

  // Each of these is left to the YAML parser, which may read it differently from a line split.
  const leftToYaml = [
    ['a group with labels', '- targets:\n  - a:1\n  labels: {env: prod}\n'],
    ['a quoted address', '- targets:\n  - "a:1"\n'],
    ['a comment', '- targets:\n  - a:1 # old\n'],
    ['an IPv6 address', '- targets:\n  - "[::1]:10901"\n'],
    ['a flow sequence', '- targets: [a:1]\n'],
    ['CRLF line ends', '- targets:\r\n  - a:1\r\n'],
    ['no entries', '- targets:\n'],
    ['an address without a port', '- targets:\n  - a.example.com\n'],
    ['a second document', '- targets:\n  - a:1\n---\n- targets:\n  - b:1\n'],
    ['an endpoint with a group key', 'endpoints:\n  - address: a:10901\n    group: false\n'],
    ['a blank line in the middle', '- targets:\n  - a:1\n\n  - b:1\n'],
    ['an empty text', ''],
  ] as const;
  it.each(leftToYaml)('leaves %s to the YAML parser', (_name, text) => {
    expect(scanEndpointsFile(text)).toBeUndefined();
  });

  it.each([...scanned.map(([name, text]) => [name, text] as const), ...leftToYaml])(
    'parseEndpointsFile reads %s exactly as the YAML parser does',
    (_name, text) => {
      expect(parseEndpointsFile(text)).toEqual(parseEndpointsYaml(text));
    },
  );

  it('reads 10,000 rendered endpoints as the YAML parser does', () => {
    const endpoints = Array.from({ length: 10_000 }, (_, i) => `store-${i}-grpc.internal.example.com:10901`).sort();
    for (const format of ['file_sd', 'endpoint-config'] as const) {
      const text = renderEndpointsFile(endpoints, format);
      expect(scanEndpointsFile(text)?.addresses).toHaveLength(10_000);
      expect(parseEndpointsFile(text)).toEqual(parseEndpointsYaml(text));
    }
  });
});

describe('hashEndpoints', () => {
  it('depends on the set only, not its order or duplicates', () => {
    expect(hashEndpoints(['b:1', 'a:1', 'a:1'])).toBe(hashEndpoints(['a:1', 'b:1']));
  });

  it('differs when the set differs and is a 16-hex digest', () => {
    const hash = hashEndpoints(['a:1']);
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
    expect(hashEndpoints(['a:1', 'b:1'])).not.toBe(hash);
    expect(hashEndpoints(['a:2'])).not.toBe(hash);
  });
});

describe('diffEndpoints', () => {
  it.each([
    { before: [], after: ['a:1'], added: ['a:1'], removed: [] },
    { before: ['a:1', 'b:1'], after: ['b:1', 'c:1'], added: ['c:1'], removed: ['a:1'] },
    { before: ['a:1'], after: ['a:1'], added: [], removed: [] },
  ])('$before -> $after', ({ before, after, added, removed }) => {
    expect(diffEndpoints(before, after)).toEqual({ added, removed });
  });
});
