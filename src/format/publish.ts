import { createHash } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { OutputFormat } from '../config.ts';
import { absolute, hashEndpoints, renderEndpointsFile, type Endpoint } from './endpoints-file.ts';
import { renderEndpointConfig, settingsFingerprint } from './endpoint-config.ts';
import { hasEndpointSettings, type EndpointSettings } from './endpoint-settings.ts';

/**
 * The text to publish and the hash to roll on. Without settings both are exactly what they were before settings
 * existed, so an upgrade writes nothing and rolls nothing; with settings the hash covers them too, since a changed
 * CA or server name changes what Thanos connects to as much as a changed address does.
 */
export function renderPublished(
  endpoints: readonly Endpoint[],
  format: OutputFormat,
  settings: EndpointSettings | undefined,
): { text: string; hash: string } {
  if (format !== 'endpoint-config' || !hasEndpointSettings(settings)) {
    return { text: renderEndpointsFile(endpoints, format), hash: hashEndpoints(endpoints) };
  }
  const text = renderEndpointConfig(endpoints.map(absolute), settings);
  const fingerprint = settingsFingerprint(parseYaml(text));
  const hash = createHash('sha256')
    .update(`${hashEndpoints(endpoints)}\n${fingerprint}`)
    .digest('hex')
    .slice(0, 16);
  return { text, hash };
}

/** Whether two endpoint-config documents listing the same addresses differ in their settings. */
export function settingsDiffer(publishedText: string, renderedText: string): boolean {
  try {
    return settingsFingerprint(parseYaml(publishedText)) !== settingsFingerprint(parseYaml(renderedText));
  } catch {
    return true;
  }
}
