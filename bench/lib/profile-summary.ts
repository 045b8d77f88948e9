/**
 * Summarise a V8 .cpuprofile (from BENCH_PROFILE=1): where the API spends its CPU.
 *   tsx bench/lib/profile-summary.ts <file.cpuprofile> [topN]
 * Prints self time per package (node_modules/<pkg>, our src/<dir>, node internals, GC, idle),
 * inclusive time per package (a sample counts once for every package on its stack), and the
 * hottest functions by self time.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function bucket(node: ProfileNode): string {
  const { url, functionName } = node.callFrame;
  if (!url) {
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') return functionName;
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const own = /\/(src|bench|test)\/(.+?)(?:\/[^/]+)?\.ts$/.exec(url);
  if (own) return `${own[1]}/${own[2]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\/([^/]+).*/, 'node:$1');
  return url;
}

/**
 * Where a grab's CPU goes: each busy sample is charged to the first category (in this order)
 * that has a frame anywhere on its stack. Work resumed after an `await` has lost its caller's
 * frames, so e.g. BullMQ's continuation is still found by its own frames, but Redis replies of
 * all commands land in "Redis replies".
 */
const GRAB_CATEGORIES: [label: string, match: (frames: ProfileNode['callFrame'][]) => boolean][] = [
  ['BullMQ add (timeout job)', (f) => f.some((c) => c.url.includes('node_modules/bullmq/') || c.url.includes('/src/infra/queues/'))],
  ['JWT verify (@fastify/jwt, fast-jwt)', (f) => f.some((c) => /node_modules\/(@fastify\/jwt|fast-jwt)\//.test(c.url) || c.url.endsWith('/src/api/plugins/auth.ts'))],
  ['zod validation', (f) => f.some((c) => /node_modules\/(zod|fastify-type-provider-zod)\//.test(c.url))],
  ['logging (pino)', (f) => f.some((c) => c.url.includes('node_modules/pino/') || c.url.includes('fastify/lib/logger-factory'))],
  ['metrics (prom-client)', (f) => f.some((c) => c.url.includes('node_modules/prom-client/'))],
  ['reserveOrder script call', (f) => f.some((c) => c.url.endsWith('ioredis/built/Script.js')) && !f.some((c) => c.url.includes('node_modules/bullmq/'))],
  ['order index SET', (f) => f.some((c) => c.url.endsWith('/src/domain/orders/reserve.ts')) && f.some((c) => c.url.endsWith('ioredis/built/utils/Commander.js'))],
  ['Redis replies (all commands)', (f) => f.some((c) => /node_modules\/(ioredis|redis-parser|@ioredis)\//.test(c.url))],
  ['grab logic (reserve.ts, order-id)', (f) => f.some((c) => /\/src\/domain\//.test(c.url))],
  ['HTTP + Fastify (parse, route, reply)', (f) => f.some((c) => /node_modules\/(fastify|find-my-way|fastfall|secure-json-parse|light-my-request)\//.test(c.url) || c.url.startsWith('node:_http') || c.url.startsWith('node:internal/http'))],
  ['garbage collector', (f) => f.some((c) => c.functionName === '(garbage collector)')],
];

export function summarise(profile: Profile, top = 25): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const fn = new Map<string, number>();
  const grab = new Map<string, number>();
  let total = 0;
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    total += dt;
    const leaf = byId.get(id)!;
    const b = bucket(leaf);
    self.set(b, (self.get(b) ?? 0) + dt);
    if (b !== '(idle)') busy += dt;
    const key = `${leaf.callFrame.functionName || '(anonymous)'} ${leaf.callFrame.url.replace(/^.*node_modules\//, '')}:${leaf.callFrame.lineNumber + 1}`;
    fn.set(key, (fn.get(key) ?? 0) + dt);
    const frames: ProfileNode['callFrame'][] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) frames.push(byId.get(cur)!.callFrame);
    if (b !== '(idle)') {
      const category = GRAB_CATEGORIES.find(([, match]) => match(frames))?.[0] ?? 'other (node internals, socket I/O, event loop)';
      grab.set(category, (grab.get(category) ?? 0) + dt);
    }
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const bb = bucket(byId.get(cur)!);
      if (!seen.has(bb)) {
        seen.add(bb);
        inclusive.set(bb, (inclusive.get(bb) ?? 0) + dt);
      }
    }
  });
  const pct = (v: number, of: number) => `${((100 * v) / of).toFixed(1).padStart(5)}%`;
  const table = (title: string, m: Map<string, number>, of: number) =>
    [title, ...[...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `  ${pct(v, of)}  ${k}`)].join('\n');
  return [
    `samples: ${(total / 1e6).toFixed(2)} s, busy (not idle): ${(busy / 1e6).toFixed(2)} s`,
    table('by part of the grab (share of busy time)', grab, busy),
    table('self time by package (share of busy time)', new Map([...self].filter(([k]) => k !== '(idle)')), busy),
    table('inclusive time by package (share of busy time)', new Map([...inclusive].filter(([k]) => k !== '(idle)' && k !== '(root)')), busy),
    table('hottest functions (self, share of busy time)', fn, busy),
  ].join('\n\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].replace(/^.*\/bench\//, '/bench/'))) {
  const [file, top] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: tsx bench/lib/profile-summary.ts <file.cpuprofile> [topN]\n');
    process.exit(2);
  }
  console.log(summarise(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(top ?? 25)));
}
