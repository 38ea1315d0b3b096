// What the demo prints, in three voices: banners for each step, `>` lines for what the demo does, and the
// controller's own log, indented and pretty-printed.
import { styleText } from 'node:util';
import { formatLogLine, type Paint } from './log-format.ts';

const WIDTH = 100;

// styleText leaves the text plain when stdout is not a terminal or NO_COLOR is set.
const paint: Paint = (style, text) => styleText(style, text);

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function banner(title: string): void {
  print('');
  print(styleText('bold', `=== ${title} `.padEnd(WIDTH, '=')));
}

export function say(text: string): void {
  print(`${styleText(['bold', 'cyan'], '>')} ${text}`);
}

/** Text shown under a `say` line, indented; a trailing newline adds no empty line. */
export function block(text: string, indent = 4): void {
  for (const line of text.replace(/\n$/, '').split('\n')) print(`${' '.repeat(indent)}${line}`);
}

export function controllerLog(line: string): void {
  if (line.trim() !== '') print(`  ${formatLogLine(line, paint)}`);
}

export function failure(text: string): void {
  print(styleText(['bold', 'red'], `! ${text}`));
}
