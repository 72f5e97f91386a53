import { expect, test } from 'vitest';
import { median } from '../src/stats.ts';

test('the median of an even count is the mean of the two middle values, not the lower one', () => {
  expect(median([2.2, 1.0, 1.6, 1.4])).toBe(1.5);
  expect(median([3, 1, 2])).toBe(2);
  expect(median([])).toBe(0);
});
