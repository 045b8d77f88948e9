import { describe, expect, it } from 'vitest';
import { loadSandboxEnv } from './env.js';
import { DEFAULT_FAULTS } from './faults.js';

describe('sandbox settings', () => {
  it("enforces WeChat's 5-minute close rule unless told not to", () => {
    expect(DEFAULT_FAULTS.closeRule).toBe(true);
    expect(loadSandboxEnv({})).toEqual({ timeScale: 1, closeRule: true });
    expect(loadSandboxEnv({ SANDBOX_CLOSE_RULE: 'off', SANDBOX_TIME_SCALE: '0.01' })).toEqual({ timeScale: 0.01, closeRule: false });
    expect(loadSandboxEnv({ SANDBOX_CLOSE_RULE: '' }).closeRule).toBe(true);
  });

  it('names every bad variable', () => {
    expect(() => loadSandboxEnv({ SANDBOX_CLOSE_RULE: 'maybe', SANDBOX_TIME_SCALE: '-1' })).toThrow(/SANDBOX_TIME_SCALE[\s\S]*SANDBOX_CLOSE_RULE|SANDBOX_CLOSE_RULE[\s\S]*SANDBOX_TIME_SCALE/);
  });
});
