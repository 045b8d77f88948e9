import { z } from 'zod';
import type { RawEnv } from '../config/env.js';

/**
 * Sandbox-only settings not (yet) in the shared Config: `SANDBOX_TIME_SCALE` multiplies the
 * notification retry schedule, the 5-minute close rule and the 10 s refund delay (0.001 turns
 * 15 s into 15 ms).
 * Validated here, once, with the same "name the bad variable" failure as src/config/env.ts.
 */
const schema = z.object({
  SANDBOX_TIME_SCALE: z.coerce.number().positive().max(1000).default(1),
  /** WeChat's 5-minute close rule (× time scale): on, as at WeChat, unless turned off */
  SANDBOX_CLOSE_RULE: z.enum(['on', 'off']).default('on'),
});

export interface SandboxEnv {
  readonly timeScale: number;
  readonly closeRule: boolean;
}

export function loadSandboxEnv(raw: RawEnv = process.env): SandboxEnv {
  const pick = (name: keyof z.infer<typeof schema>) => (raw[name] === '' ? undefined : raw[name]);
  const parsed = schema.safeParse({ SANDBOX_TIME_SCALE: pick('SANDBOX_TIME_SCALE'), SANDBOX_CLOSE_RULE: pick('SANDBOX_CLOSE_RULE') });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]) as keyof z.infer<typeof schema>;
      return `  - ${name}: ${issue.message} (${JSON.stringify(pick(name))})`;
    });
    throw new Error(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return { timeScale: parsed.data.SANDBOX_TIME_SCALE, closeRule: parsed.data.SANDBOX_CLOSE_RULE === 'on' };
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
