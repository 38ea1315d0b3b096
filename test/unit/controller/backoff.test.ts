import { backoffMs } from '../../../src/controller/backoff.ts';

describe('backoffMs', () => {
  it.each([
    [1, 500],
    [2, 1_000],
    [3, 2_000],
    [7, 30_000],
    [8, 30_000],
    [60, 30_000],
  ])('after %i failures in a row: %i ms', (failures, expected) => {
    expect(backoffMs(failures, { baseMs: 500, maxMs: 30_000 })).toBe(expected);
  });
});
