/**
 * The apiserver refuses a ConfigMap whose data and binaryData add up to more than 1 MiB (keys and values, in
 * bytes; binaryData counted decoded). About 20k endpoints fit in file_sd. Refusing before the write keeps the last
 * good list published instead of failing every pass on a 422.
 */
export const CONFIGMAP_MAX_BYTES = 1024 * 1024;

export interface ConfigMapData {
  data?: Record<string, string> | undefined;
  binaryData?: Record<string, string> | undefined;
}

/** The size the apiserver checks, after `key` is set to `text`. */
export function configMapSizeWith(existing: ConfigMapData | undefined, key: string, text: string): number {
  const data = { ...existing?.data, [key]: text };
  let size = 0;
  for (const [name, value] of Object.entries(data)) size += Buffer.byteLength(name) + Buffer.byteLength(value);
  for (const [name, value] of Object.entries(existing?.binaryData ?? {})) {
    if (name !== key) size += Buffer.byteLength(name) + Buffer.byteLength(value, 'base64');
  }
  return size;
}

/** The apiserver refuses an object whose annotation keys and values add up to more than 256 KiB. */
export const ANNOTATIONS_MAX_BYTES = 256 * 1024;

/** The annotations' size after a write that sets `ours` and drops those of `ourKeys` it leaves out (server-side apply). */
export function annotationsSizeWith(
  existing: Readonly<Record<string, string>> | undefined,
  ours: Readonly<Record<string, string>>,
  ourKeys: readonly string[],
): number {
  const others = Object.entries(existing ?? {}).filter(([name]) => !ourKeys.includes(name));
  let size = 0;
  for (const [name, value] of [...others, ...Object.entries(ours)]) size += Buffer.byteLength(name) + Buffer.byteLength(value);
  return size;
}
