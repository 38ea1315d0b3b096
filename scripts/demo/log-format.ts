// Turns the controller's JSON log lines into `HH:MM:SS level message key=value ...` for a person at a terminal.

/** Colours a piece of text; the demo passes node:util's styleText, which leaves text plain off a terminal. */
export type Paint = (style: 'red' | 'yellow' | 'green' | 'gray' | 'dim', text: string) => string;

const plain: Paint = (_style, text) => text;
const LEVEL_STYLE = { error: 'red', warn: 'yellow', info: 'green', debug: 'gray' } as const;
// Fields every line carries (the logger's defaultMeta) or that the layout already shows.
const HIDDEN = new Set(['timestamp', 'level', 'message', 'app']);

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** Local wall-clock time of an ISO timestamp; the raw text when it is not one. */
export function clockTime(timestamp: unknown): string {
  const date = typeof timestamp === 'string' ? new Date(timestamp) : undefined;
  if (date === undefined || Number.isNaN(date.getTime())) return typeof timestamp === 'string' ? timestamp : '--:--:--';
  return `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
}

function scalar(value: unknown): string {
  if (typeof value === 'string') return /^[^\s"=,[\]]+$/.test(value) ? value : JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return JSON.stringify(value);
}

/** `key=value`: strings bare unless they need quotes, lists as `[a,b]`, objects as JSON. */
export function formatField(key: string, value: unknown): string {
  const text = Array.isArray(value) ? `[${value.map(scalar).join(',')}]` : scalar(value);
  return `${key}=${text}`;
}

/** One controller log line, pretty-printed; a line that is not a JSON object (e.g. a crash on stderr) is kept as is. */
export function formatLogLine(line: string, paint: Paint = plain): string {
  let entry: unknown;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return line;
  const record = entry as Record<string, unknown>;
  const level = typeof record['level'] === 'string' ? record['level'] : '?';
  const style = LEVEL_STYLE[level as keyof typeof LEVEL_STYLE] ?? 'yellow';
  const fields = Object.entries(record)
    .filter(([key]) => !HIDDEN.has(key))
    .map(([key, value]) => paint('dim', formatField(key, value)));
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- the message is printed as it came, whatever its type
  return [paint('gray', clockTime(record['timestamp'])), paint(style, level.padEnd(5)), String(record['message'] ?? ''), ...fields].join(
    ' ',
  );
}
