import { z } from 'zod';
import type { RawEnv } from '../config/env.js';

/**
 * Sandbox-only settings not (yet) in the shared Config: `SANDBOX_TIME_SCALE` multiplies the
 * notification retry schedule and the 5-minute close rule (0.001 turns 15 s into 15 ms).
 * Validated here, once, with the same "name the bad variable" failure as src/config/env.ts.
 */
const schema = z.object({
  SANDBOX_TIME_SCALE: z.coerce.number().positive().max(1000).default(1),
});

export interface SandboxEnv {
  readonly timeScale: number;
}

export function loadSandboxEnv(raw: RawEnv = process.env): SandboxEnv {
  const value = raw.SANDBOX_TIME_SCALE === '' ? undefined : raw.SANDBOX_TIME_SCALE;
  const parsed = schema.safeParse({ SANDBOX_TIME_SCALE: value });
  if (!parsed.success) {
    throw new Error(`Invalid configuration:\n  - SANDBOX_TIME_SCALE: ${parsed.error.issues[0]?.message ?? 'invalid'} (${JSON.stringify(value)})`);
  }
  return { timeScale: parsed.data.SANDBOX_TIME_SCALE };
}

/** For the entry point: load or print the problem and exit(1), like loadConfigOrExit. */
export function loadSandboxEnvOrExit(raw: RawEnv = process.env): SandboxEnv {
  try {
    return loadSandboxEnv(raw);
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  }
}
