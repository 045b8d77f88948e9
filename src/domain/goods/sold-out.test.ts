import { describe, expect, it } from 'vitest';
import { SoldOutMemory } from './sold-out.js';

describe('SoldOutMemory', () => {
  it('remembers a goods as sold out until its sale ends, a restock or forgetAll', () => {
    const m = new SoldOutMemory();
    const now = Date.now();
    m.remember('1', now + 60_000);
    m.remember('2', now + 60_000);
    expect(m.has('1')).toBe(true);
    expect(m.has('3')).toBe(false);
    // after the sale's end the memory stays out of the way (Redis says NOT_ON_SALE)
    expect(m.has('1', now + 60_000)).toBe(false);
    expect(m.has('1')).toBe(false);
    m.forget('2');
    expect(m.has('2')).toBe(false);
    m.remember('4', now + 60_000);
    m.forgetAll();
    expect(m.size).toBe(0);
  });

  it('does not remember a sale that has already ended', () => {
    const m = new SoldOutMemory();
    m.remember('1', Date.now() - 1);
    expect(m.goodsIds()).toEqual([]);
  });
});
