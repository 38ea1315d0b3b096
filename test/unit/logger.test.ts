import { describeError } from '../../src/logger.ts';

describe('describeError', () => {
  it.each([
    { error: new Error('boom'), expected: 'boom' },
    { error: 'plain text', expected: 'plain text' },
    {
      error: new Error('write of ConfigMap a/b failed', {
        cause: new Error('HTTP-Code: 409\nMessage: Conflict\nHeaders: {"audit-id":"x"}'),
      }),
      expected: 'write of ConfigMap a/b failed: caused by: HTTP-Code: 409',
    },
    {
      error: new Error('a', { cause: new Error('b', { cause: new Error('c') }) }),
      expected: 'a: caused by: b: caused by: c',
    },
  ])('$expected', ({ error, expected }) => {
    expect(describeError(error)).toBe(expected);
  });
});
