import { clockTime, formatField, formatLogLine } from '../../../scripts/demo/log-format.ts';

describe('demo log formatting', () => {
  it.each([
    ['endpoints', 3, 'endpoints=3'],
    ['hash', '345ac95daa685ee6', 'hash=345ac95daa685ee6'],
    ['reason', 'endpoints differ', 'reason="endpoints differ"'],
    ['added', ['a:1', 'b:1'], 'added=[a:1,b:1]'],
    ['removed', [], 'removed=[]'],
    ['listen', { host: null, port: 8080 }, 'listen={"host":null,"port":8080}'],
  ])('%s=%j -> %s', (key, value, expected) => {
    expect(formatField(key, value)).toBe(expected);
  });

  it('shows time, level, message and the structured fields, hiding what every line carries', () => {
    const timestamp = '2026-11-24T05:12:51.000Z';
    const line = JSON.stringify({
      app: 'thanos-store-discovery',
      level: 'info',
      message: 'ConfigMap written',
      endpoints: 3,
      outcome: 'created',
      timestamp,
    });
    expect(formatLogLine(line)).toBe(`${clockTime(timestamp)} info  ConfigMap written endpoints=3 outcome=created`);
  });

  it.each(['fatal: not JSON at all', '[1,2]', '"a string"'])('keeps a line that is not a JSON object as it is: %s', (line) => {
    expect(formatLogLine(line)).toBe(line);
  });

  it('passes through a timestamp it cannot read', () => {
    expect(clockTime('yesterday')).toBe('yesterday');
    expect(clockTime(undefined)).toBe('--:--:--');
  });
});
