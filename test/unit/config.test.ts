import { ConfigError, loadConfig } from '../../src/config.ts';

const REQUIRED = {
  PRIVATE_HOSTED_ZONE_ID: 'Z0123456789ABC',
  THANOS_NAMESPACE: 'monitoring',
  THANOS_DEPLOYMENT_NAME: 'thanos-query',
  THANOS_CONFIGMAP_NAME: 'thanos-store-sd',
};

function problemsOf(env: Record<string, string | undefined>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('accepts the older tool variables alone and fills sensible defaults', () => {
    expect(loadConfig(REQUIRED)).toEqual({
      zones: ['Z0123456789ABC'],
      namespace: 'monitoring',
      deploymentName: 'thanos-query',
      configMapName: 'thanos-store-sd',
      configMapKey: 'servicediscovery.yml',
      alertsHook: undefined,
      developerMode: false,
      pollIntervalMs: 60_000,
      route53MaxRps: 2,
      informerMaxStalenessMs: 300_000,
      recordSuffix: '-grpc',
      storePort: 10901,
      listen: { host: undefined, port: 8080 },
      logLevel: 'info',
      runOnce: false,
      dryRun: false,
      restartMode: 'annotation',
      outputFormat: 'file_sd',
      alertRepeatMs: 900_000,
      removal: { confirmPolls: 2, maxShare: 0.5, massConfirmPolls: 10 },
      restartMinIntervalMs: 300_000,
      restartRevertLimit: 3,
      endpointSettings: { tls: {}, serverNameFromHost: false, strictHosts: undefined, compression: undefined },
    });
  });

  it('reads the delivery check, off without THANOS_QUERY_URL', () => {
    expect(loadConfig(REQUIRED).delivery).toBeUndefined();
    expect(loadConfig({ ...REQUIRED, THANOS_QUERY_URL: 'http://thanos-query:9090' }).delivery).toEqual({
      queryUrl: 'http://thanos-query:9090',
      intervalMs: 30_000,
      alertAfterMs: 300_000,
    });
    const set = { ...REQUIRED, THANOS_QUERY_URL: 'http://q:9090', DELIVERY_CHECK_INTERVAL_SECONDS: '5', DELIVERY_ALERT_AFTER_SECONDS: '0' };
    expect(loadConfig(set).delivery).toEqual({ queryUrl: 'http://q:9090', intervalMs: 5_000, alertAfterMs: 0 });
  });

  it('reads the TLS and per-endpoint settings, leaving unset ones undefined', () => {
    const { endpointSettings } = loadConfig({
      ...REQUIRED,
      OUTPUT_FORMAT: 'endpoint-config',
      THANOS_TLS_CA_FILE: '/etc/thanos/tls/ca.crt',
      THANOS_TLS_CERT_FILE: '/etc/thanos/tls/tls.crt',
      THANOS_TLS_KEY_FILE: '/etc/thanos/tls/tls.key',
      THANOS_TLS_MIN_VERSION: '1.2',
      THANOS_TLS_SERVER_NAME_FROM_HOST: 'true',
      THANOS_STRICT_ENDPOINTS: 'cluster-(a|b)-grpc\\..*',
      THANOS_GRPC_COMPRESSION: 'snappy',
    });
    expect(endpointSettings.tls).toEqual({
      enabled: undefined,
      caFile: '/etc/thanos/tls/ca.crt',
      certFile: '/etc/thanos/tls/tls.crt',
      keyFile: '/etc/thanos/tls/tls.key',
      insecureSkipVerify: undefined,
      minVersion: '1.2',
    });
    expect(endpointSettings.serverNameFromHost).toBe(true);
    expect(endpointSettings.compression).toBe('snappy');
    expect(endpointSettings.strictHosts?.test('cluster-a-grpc.example.com')).toBe(true);
    // Anchored: a pattern names whole hosts.
    expect(endpointSettings.strictHosts?.test('old-cluster-a-grpc.example.com')).toBe(false);
  });

  it.each<[Record<string, string>, string[]]>([
    [{ THANOS_TLS_ENABLED: 'true' }, ['THANOS_TLS_ENABLED need OUTPUT_FORMAT=endpoint-config: file_sd carries only addresses']],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_TLS_CA_FILE: 'ca.crt' },
      ['THANOS_TLS_CA_FILE="ca.crt" is not an absolute path (as mounted in the Thanos pod)'],
    ],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_TLS_CERT_FILE: '/tls/c.crt' },
      ['THANOS_TLS_CERT_FILE and THANOS_TLS_KEY_FILE go together (a client certificate needs its key)'],
    ],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_TLS_ENABLED: 'false', THANOS_TLS_CA_FILE: '/tls/ca.crt' },
      ['THANOS_TLS_ENABLED=false contradicts the TLS files or THANOS_TLS_INSECURE_SKIP_VERIFY that are set'],
    ],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_TLS_MIN_VERSION: '1.4' },
      ['THANOS_TLS_MIN_VERSION="1.4" is not one of 1.0, 1.1, 1.2, 1.3'],
    ],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_GRPC_COMPRESSION: 'gzip' },
      [
        'THANOS_GRPC_COMPRESSION="gzip" is not one of none, snappy',
        "THANOS_GRPC_COMPRESSION takes effect only with THANOS_TLS_SERVER_NAME_FROM_HOST=true; otherwise set Thanos' --grpc-compression flag",
      ],
    ],
    [
      { OUTPUT_FORMAT: 'endpoint-config', THANOS_STRICT_ENDPOINTS: 'a(' },
      [expect.stringMatching(/^THANOS_STRICT_ENDPOINTS="a\(" is not a regular expression: /)],
    ],
    [{ THANOS_QUERY_URL: 'thanos-query:9090' }, ['THANOS_QUERY_URL is not an http(s) URL']],
    [
      { THANOS_QUERY_URL: 'http://q:9090', DELIVERY_ALERT_AFTER_SECONDS: 'soon' },
      ['DELIVERY_ALERT_AFTER_SECONDS="soon" is not a whole number'],
    ],
  ])('rejects the endpoint and delivery settings %j', (overrides, problems) => {
    expect(problemsOf({ ...REQUIRED, ...overrides })).toEqual(problems);
  });

  it('reads every optional setting', () => {
    const config = loadConfig({
      ...REQUIRED,
      PRIVATE_HOSTED_ZONE_ID: ' /hostedzone/ZA , ZB,ZA ',
      MATTERMOST_ALERTS_HOOK: 'https://chat.example.com/hooks/abc',
      DEVELOPER_MODE: 'true',
      POLL_INTERVAL_SECONDS: '5',
      ROUTE53_MAX_RPS: '4',
      INFORMER_MAX_STALENESS_SECONDS: '120',
      RECORD_SUFFIX: '-Store',
      STORE_PORT: '19090',
      CONFIGMAP_KEY: 'endpoints.yaml',
      LISTEN_ADDRESS: '127.0.0.1:9000',
      LOG_LEVEL: 'debug',
      RUN_ONCE: '1',
      DRY_RUN: 'TRUE',
      RESTART_MODE: 'none',
      OUTPUT_FORMAT: 'endpoint-config',
      ALERT_REPEAT_SECONDS: '60',
      REMOVAL_CONFIRM_POLLS: '3',
      MAX_REMOVAL_PERCENT: '25',
      MASS_REMOVAL_CONFIRM_POLLS: '30',
      RESTART_MIN_INTERVAL_SECONDS: '0',
      RESTART_REVERT_LIMIT: '5',
    });
    expect(config).toMatchObject({
      zones: ['ZA', 'ZB'],
      alertsHook: 'https://chat.example.com/hooks/abc',
      developerMode: true,
      pollIntervalMs: 5000,
      route53MaxRps: 4,
      informerMaxStalenessMs: 120_000,
      recordSuffix: '-store',
      storePort: 19090,
      configMapKey: 'endpoints.yaml',
      listen: { host: '127.0.0.1', port: 9000 },
      logLevel: 'debug',
      runOnce: true,
      dryRun: true,
      restartMode: 'none',
      outputFormat: 'endpoint-config',
      alertRepeatMs: 60_000,
      removal: { confirmPolls: 3, maxShare: 0.25, massConfirmPolls: 30 },
      restartMinIntervalMs: 0,
      restartRevertLimit: 5,
    });
  });

  it.each([
    ['[::1]:8080', { host: '::1', port: 8080 }],
    [':0', { host: undefined, port: 0 }],
    ['0.0.0.0:80', { host: '0.0.0.0', port: 80 }],
  ])('reads LISTEN_ADDRESS %s', (value, listen) => {
    expect(loadConfig({ ...REQUIRED, LISTEN_ADDRESS: value }).listen).toEqual(listen);
  });

  it('reads leader election, naming the holder after the pod plus a per-process suffix', () => {
    expect(loadConfig({ ...REQUIRED, LEADER_ELECTION: 'true', POD_NAME: 'tsd-7c9f-x2' }).leaderElection).toEqual({
      leaseName: 'thanos-store-discovery',
      identity: expect.stringMatching(/^tsd-7c9f-x2_[0-9a-f]{8}$/),
    });
    expect(
      loadConfig({ ...REQUIRED, LEADER_ELECTION: 'true', LEADER_ELECTION_LEASE_NAME: 'sd-leader', HOSTNAME: 'pod-a' }).leaderElection,
    ).toEqual({
      leaseName: 'sd-leader',
      identity: expect.stringMatching(/^pod-a_[0-9a-f]{8}$/),
    });
  });

  it('gives two processes with the same pod name and hostname different identities', () => {
    const env = { ...REQUIRED, LEADER_ELECTION: 'true', POD_NAME: 'copied-spec', HOSTNAME: 'copied-spec' };
    expect(loadConfig(env).leaderElection?.identity).not.toBe(loadConfig(env).leaderElection?.identity);
  });

  it('ignores the lease name without leader election and rejects a bad one', () => {
    expect(loadConfig({ ...REQUIRED, LEADER_ELECTION_LEASE_NAME: 'ignored' }).leaderElection).toBeUndefined();
    expect(problemsOf({ ...REQUIRED, LEADER_ELECTION: 'true', LEADER_ELECTION_LEASE_NAME: 'Bad_Name' })).toEqual([
      'LEADER_ELECTION_LEASE_NAME="Bad_Name" is not a valid Lease name (DNS-1123 subdomain)',
    ]);
  });

  it('lists every problem at once', () => {
    expect(
      problemsOf({ THANOS_NAMESPACE: '  ', THANOS_DEPLOYMENT_NAME: 'Thanos_Query', POLL_INTERVAL_SECONDS: 'soon', STORE_PORT: '99999' }),
    ).toEqual([
      'PRIVATE_HOSTED_ZONE_ID is required but missing or empty',
      'THANOS_NAMESPACE is required but missing or empty',
      'THANOS_DEPLOYMENT_NAME="Thanos_Query" is not a valid Deployment name (DNS-1123 subdomain)',
      'THANOS_CONFIGMAP_NAME is required but missing or empty',
      'POLL_INTERVAL_SECONDS="soon" is not a whole number',
      'STORE_PORT=99999 is out of range 1..65535',
    ]);
  });

  it.each([
    [{ PRIVATE_HOSTED_ZONE_ID: 'Z1,not a zone' }, 'PRIVATE_HOSTED_ZONE_ID entry "not a zone" is not a hosted zone id'],
    [{ PRIVATE_HOSTED_ZONE_ID: ' , ' }, 'PRIVATE_HOSTED_ZONE_ID is required but missing or empty'],
    [{ POLL_INTERVAL_SECONDS: '0' }, 'POLL_INTERVAL_SECONDS=0 is out of range 1..86400'],
    [{ POLL_INTERVAL_SECONDS: '-5' }, 'POLL_INTERVAL_SECONDS="-5" is not a whole number'],
    [{ DEVELOPER_MODE: 'yes please' }, 'DEVELOPER_MODE="yes please" is not true or false'],
    [{ RESTART_MODE: 'delete-pods' }, 'RESTART_MODE="delete-pods" is not one of annotation, none'],
    [{ OUTPUT_FORMAT: 'json' }, 'OUTPUT_FORMAT="json" is not one of file_sd, endpoint-config'],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL="verbose" is not one of error, warn, info, debug'],
    [{ LISTEN_ADDRESS: '8080' }, 'LISTEN_ADDRESS="8080" is not host:port or :port'],
    [{ LISTEN_ADDRESS: ':70000' }, 'LISTEN_ADDRESS port 70000 is out of range 0..65535'],
    [{ RECORD_SUFFIX: '.grpc' }, 'RECORD_SUFFIX=".grpc" is not a DNS label suffix (letters, digits, -)'],
    [{ REMOVAL_CONFIRM_POLLS: '0' }, 'REMOVAL_CONFIRM_POLLS=0 is out of range 1..1000'],
    [{ MAX_REMOVAL_PERCENT: '150' }, 'MAX_REMOVAL_PERCENT=150 is out of range 1..100'],
    [{ REMOVAL_CONFIRM_POLLS: '5', MASS_REMOVAL_CONFIRM_POLLS: '3' }, 'MASS_REMOVAL_CONFIRM_POLLS=3 is less than REMOVAL_CONFIRM_POLLS=5'],
    [{ RESTART_REVERT_LIMIT: '0' }, 'RESTART_REVERT_LIMIT=0 is out of range 1..1000'],
    [{ THANOS_NAMESPACE: 'Monitoring' }, 'THANOS_NAMESPACE="Monitoring" is not a valid namespace name (DNS-1123 label)'],
  ])('rejects %j', (overrides, problem) => {
    expect(problemsOf({ ...REQUIRED, ...overrides })).toEqual([problem]);
  });

  // Kubernetes' own rule (IsConfigMapKey): letters, digits, '-', '_', '.'; at most 253; not '.', '..' or '..'-prefixed.
  it.each([
    ['..', '..', 'it must not be "." or "..", nor start with ".."'],
    ['.', '.', 'it must not be "." or "..", nor start with ".."'],
    ['..data', '..data', 'it must not be "." or "..", nor start with ".."'],
    ['a/b', 'a/b', 'only letters, digits, "-", "_" and "." are allowed'],
    ['a space', 'store list', 'only letters, digits, "-", "_" and "." are allowed'],
    ['254 characters', 'k'.repeat(254), 'it is longer than 253 characters'],
  ])('rejects CONFIGMAP_KEY %s as Kubernetes would, saying why', (_case, key, why) => {
    expect(problemsOf({ ...REQUIRED, CONFIGMAP_KEY: key })).toEqual([`CONFIGMAP_KEY="${key}" is not a valid ConfigMap key: ${why}`]);
  });

  it.each([
    ['a leading dot', '.servicediscovery.yml'],
    ['two dots inside', 'a..b'],
    ['253 characters', 'k'.repeat(253)],
    ['every allowed character', 'endpoints_v2-final.YAML'],
  ])('accepts CONFIGMAP_KEY with %s', (_case, key) => {
    expect(loadConfig({ ...REQUIRED, CONFIGMAP_KEY: key }).configMapKey).toBe(key);
  });

  it.each([
    ['ftp://secret-token@host/x', 'MATTERMOST_ALERTS_HOOK is not an http(s) URL'],
    ['not a url secret-token', 'MATTERMOST_ALERTS_HOOK is not an http(s) URL'],
    [
      'https://user:secret-token@chat.example.com/hooks/abc',
      'MATTERMOST_ALERTS_HOOK must not carry credentials (user:password@): fetch refuses such a URL, so every alert would fail',
    ],
    [
      'https://secret-token@chat.example.com/hooks/abc',
      'MATTERMOST_ALERTS_HOOK must not carry credentials (user:password@): fetch refuses such a URL, so every alert would fail',
    ],
    [
      'http://:secret-token@127.0.0.1:8065/hooks/abc',
      'MATTERMOST_ALERTS_HOOK must not carry credentials (user:password@): fetch refuses such a URL, so every alert would fail',
    ],
  ])('refuses the hook %#, naming the rule but never echoing the URL', (url, problem) => {
    const problems = problemsOf({ ...REQUIRED, MATTERMOST_ALERTS_HOOK: url });
    expect(problems).toEqual([problem]);
    expect(problems.join()).not.toContain('secret-token');
  });

  it('accepts a hook whose secret is in its path, as Mattermost issues them', () => {
    const url = 'https://chat.example.com/hooks/xyz@abc';
    expect(loadConfig({ ...REQUIRED, MATTERMOST_ALERTS_HOOK: url }).alertsHook).toBe(url);
  });
});
