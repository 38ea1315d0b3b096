import { open } from 'node:fs/promises';
import { StringDecoder } from 'node:string_decoder';

const POLL_MS = 150;
const CHUNK_BYTES = 64 * 1024;

export interface LogFollower {
  /** Hands over every complete line written so far. */
  flush(): Promise<void>;
  /** Reads what is left, hands over a last unterminated line, and closes the file. */
  stop(): Promise<void>;
}

/**
 * Calls `onLine` with every line appended to `path` (like `tail -f`), polling: the file is written by another process
 * through a shared descriptor, so change events are not to be relied on.
 */
export async function followLines(path: string, onLine: (line: string) => void): Promise<LogFollower> {
  const file = await open(path, 'r');
  const buffer = Buffer.alloc(CHUNK_BYTES);
  const decoder = new StringDecoder('utf8');
  let position = 0;
  let pending = '';
  let failed = false;

  const readNew = async (): Promise<void> => {
    while (true) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) return;
      position += bytesRead;
      const lines = (pending + decoder.write(buffer.subarray(0, bytesRead))).split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    }
  };
  const report = (error: unknown): void => {
    if (failed) return;
    failed = true;
    onLine(`(could not read ${path}: ${error instanceof Error ? error.message : String(error)})`);
  };
  // Reads are chained so two never overlap and lines keep their order.
  let reading = Promise.resolve();
  const flush = (): Promise<void> => (reading = reading.then(readNew).catch(report));
  const timer = setInterval(() => void flush(), POLL_MS);

  return {
    flush,
    async stop() {
      clearInterval(timer);
      await flush();
      const rest = pending + decoder.end();
      if (rest !== '') onLine(rest);
      await file.close();
    },
  };
}
