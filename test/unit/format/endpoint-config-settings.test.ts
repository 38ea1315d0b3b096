import { parse } from 'yaml';
import { renderEndpointConfig, renderEndpointsFile, renderPublished, settingsDiffer } from '../../../src/format/endpoints-file.ts';
import type { EndpointSettings } from '../../../src/format/endpoint-settings.ts';

const NONE: EndpointSettings = { tls: {}, serverNameFromHost: false, strictHosts: undefined, compression: undefined };
const ADDRESSES = ['cluster-a-grpc.example.com.:443', 'cluster-b-grpc.example.com.:443'];
const ENDPOINTS = ['cluster-a-grpc.example.com:443', 'cluster-b-grpc.example.com:443'];

describe('renderEndpointConfig', () => {
  it.each<[string, EndpointSettings, unknown]>([
    [
      'TLS defaults only: default_client_config with just the fields set',
      { ...NONE, tls: { caFile: '/tls/ca.crt', minVersion: '1.2' } },
      {
        default_client_config: { tls_config: { ca_file: '/tls/ca.crt', min_version: '1.2' } },
        endpoints: [{ address: ADDRESSES[0] }, { address: ADDRESSES[1] }],
      },
    ],
    [
      'mTLS, server name from each host and snappy per endpoint',
      {
        ...NONE,
        tls: { enabled: true, caFile: '/tls/ca.crt', certFile: '/tls/tls.crt', keyFile: '/tls/tls.key' },
        serverNameFromHost: true,
        compression: 'snappy',
      },
      {
        default_client_config: {
          tls_config: { enabled: true, ca_file: '/tls/ca.crt', cert_file: '/tls/tls.crt', key_file: '/tls/tls.key' },
        },
        endpoints: [
          { address: ADDRESSES[0], client_config: { server_name: 'cluster-a-grpc.example.com', compression: 'snappy' } },
          { address: ADDRESSES[1], client_config: { server_name: 'cluster-b-grpc.example.com', compression: 'snappy' } },
        ],
      },
    ],
    [
      'strict by host pattern, nothing else',
      { ...NONE, strictHosts: /^cluster-b-.*$/ },
      { endpoints: [{ address: ADDRESSES[0] }, { address: ADDRESSES[1], strict: true }] },
    ],
    [
      'insecure_skip_verify false is rendered, as set',
      { ...NONE, tls: { insecureSkipVerify: false } },
      {
        default_client_config: { tls_config: { insecure_skip_verify: false } },
        endpoints: [{ address: ADDRESSES[0] }, { address: ADDRESSES[1] }],
      },
    ],
  ])('%s', (_name, settings, expected) => {
    expect(parse(renderEndpointConfig(ADDRESSES, settings))).toEqual(expected);
  });
});

describe('renderPublished', () => {
  it('without settings: the text and hash as before settings existed', () => {
    for (const format of ['file_sd', 'endpoint-config'] as const) {
      expect(renderPublished(ENDPOINTS, format, NONE).text).toBe(renderEndpointsFile(ENDPOINTS, format));
      expect(renderPublished(ENDPOINTS, format, undefined)).toEqual(renderPublished(ENDPOINTS, format, NONE));
    }
  });

  it('the hash changes with the settings, and not with the order of equal ones', () => {
    const plain = renderPublished(ENDPOINTS, 'endpoint-config', NONE).hash;
    const withCa = renderPublished(ENDPOINTS, 'endpoint-config', { ...NONE, tls: { caFile: '/tls/ca.crt' } }).hash;
    const otherCa = renderPublished(ENDPOINTS, 'endpoint-config', { ...NONE, tls: { caFile: '/tls/other.crt' } }).hash;
    expect(new Set([plain, withCa, otherCa]).size).toBe(3);
    expect(renderPublished([...ENDPOINTS].reverse(), 'endpoint-config', { ...NONE, tls: { caFile: '/tls/ca.crt' } }).hash).toBe(withCa);
  });
});

describe('settingsDiffer', () => {
  const rendered = renderEndpointConfig(ADDRESSES, { ...NONE, tls: { caFile: '/tls/ca.crt' }, strictHosts: /^cluster-a-.*$/ });
  it.each<[string, string, boolean]>([
    ['the same document', rendered, false],
    [
      'the same settings written in another order and spelling',
      `endpoints:\n  - address: CLUSTER-B-grpc.example.com:443\n  - strict: true\n    address: cluster-a-grpc.example.com.:443\ndefault_client_config:\n  tls_config: {ca_file: /tls/ca.crt}\n`,
      false,
    ],
    ['another CA', rendered.replace('/tls/ca.crt', '/tls/new-ca.crt'), true],
    ['strict dropped', renderEndpointConfig(ADDRESSES, { ...NONE, tls: { caFile: '/tls/ca.crt' } }), true],
    ['no settings at all', `endpoints:\n  - address: ${ADDRESSES[0]}\n  - address: ${ADDRESSES[1]}\n`, true],
  ])('%s: %s', (_name, published, differs) => {
    expect(settingsDiffer(published, rendered)).toBe(differs);
  });
});
