import { isAbsolute } from 'node:path';

/**
 * What the controller adds to Thanos' `--endpoint.sd-config-file` besides the addresses (the schema of
 * cmd/thanos/endpointset.go, v0.42). Every field is optional and only what is set is rendered, so Thanos' own
 * defaults (and its --grpc-client-tls-* flags) apply to the rest.
 */
export interface EndpointSettings {
  /** `default_client_config.tls_config`; file paths as mounted in the Thanos pod. */
  tls: {
    enabled?: boolean;
    caFile?: string;
    certFile?: string;
    keyFile?: string;
    insecureSkipVerify?: boolean;
    minVersion?: string;
  };
  /** Each endpoint's `client_config.server_name` is its host, for ingresses that route by SNI. */
  serverNameFromHost: boolean;
  /** Endpoints whose host matches are `strict`: always queried, listed in Thanos even while down. */
  strictHosts: RegExp | undefined;
  compression: 'none' | 'snappy' | undefined;
}

export const TLS_VERSIONS = ['1.0', '1.1', '1.2', '1.3'] as const;
export const COMPRESSIONS = ['none', 'snappy'] as const;

export function hasEndpointSettings(settings: EndpointSettings | undefined): settings is EndpointSettings {
  if (settings === undefined) return false;
  return (
    Object.values(settings.tls).some((value) => value !== undefined) ||
    settings.serverNameFromHost ||
    settings.strictHosts !== undefined ||
    settings.compression !== undefined
  );
}

/** The environment variable behind each setting, for error messages. */
export const SETTING_VARIABLES = {
  enabled: 'THANOS_TLS_ENABLED',
  caFile: 'THANOS_TLS_CA_FILE',
  certFile: 'THANOS_TLS_CERT_FILE',
  keyFile: 'THANOS_TLS_KEY_FILE',
  insecureSkipVerify: 'THANOS_TLS_INSECURE_SKIP_VERIFY',
  minVersion: 'THANOS_TLS_MIN_VERSION',
  serverNameFromHost: 'THANOS_TLS_SERVER_NAME_FROM_HOST',
  strictHosts: 'THANOS_STRICT_ENDPOINTS',
  compression: 'THANOS_GRPC_COMPRESSION',
} as const;

/** Problems that are in the combination of settings rather than in one value (each value is checked as read). */
export function endpointSettingsProblems(settings: EndpointSettings, format: string): string[] {
  const problems: string[] = [];
  const { tls } = settings;
  if (hasEndpointSettings(settings) && format !== 'endpoint-config') {
    problems.push(`${usedVariables(settings).join(', ')} need OUTPUT_FORMAT=endpoint-config: file_sd carries only addresses`);
  }
  for (const field of ['caFile', 'certFile', 'keyFile'] as const) {
    const path = tls[field];
    if (path !== undefined && !isAbsolute(path))
      problems.push(`${SETTING_VARIABLES[field]}="${path}" is not an absolute path (as mounted in the Thanos pod)`);
  }
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    problems.push(`${SETTING_VARIABLES.certFile} and ${SETTING_VARIABLES.keyFile} go together (a client certificate needs its key)`);
  }
  const tlsFiles = tls.caFile !== undefined || tls.certFile !== undefined || tls.insecureSkipVerify !== undefined;
  if (tls.enabled === false && tlsFiles) {
    problems.push(`${SETTING_VARIABLES.enabled}=false contradicts the TLS files or ${SETTING_VARIABLES.insecureSkipVerify} that are set`);
  }
  // Thanos v0.42 reads compression only from an endpoint's own client_config, and only when that has TLS settings
  // of its own (server_name here); for the others it uses its --grpc-compression flag.
  if (settings.compression !== undefined && !settings.serverNameFromHost) {
    problems.push(
      `${SETTING_VARIABLES.compression} takes effect only with ${SETTING_VARIABLES.serverNameFromHost}=true; otherwise set Thanos' --grpc-compression flag`,
    );
  }
  return problems;
}

function usedVariables(settings: EndpointSettings): string[] {
  const used: string[] = [];
  for (const [field, value] of Object.entries(settings.tls))
    if (value !== undefined) used.push(SETTING_VARIABLES[field as keyof EndpointSettings['tls']]);
  if (settings.serverNameFromHost) used.push(SETTING_VARIABLES.serverNameFromHost);
  if (settings.strictHosts !== undefined) used.push(SETTING_VARIABLES.strictHosts);
  if (settings.compression !== undefined) used.push(SETTING_VARIABLES.compression);
  return used;
}
