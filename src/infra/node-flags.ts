/**
 * Node/V8 flags the API and worker processes run with, wherever they are started: `npm start`'s
 * launcher and the benchmarks take them from here; `package.json`'s `start:api`/`start:worker`,
 * the Dockerfile and docker-compose.yml spell them out (test/cli/node-flags.test.ts holds them
 * equal).
 *
 * `--max-semi-space-size=32` (MB; Node 20's default is 16): a payment event allocates a few
 * kilobytes of short-lived objects in every hop (HTTP parse, AMQP frames, ioredis commands,
 * BullMQ job objects), and a larger young generation lets most of them die there instead of
 * being copied and promoted. The garbage collector took ≈ 15 % of a worker's busy time under
 * `npm run bench:payments`; with this flag the worker's CPU per event went from 0.51–0.55 to
 * 0.48 ms (BENCHMARKS.md, Payments). It costs up to ≈ 64 MB more memory per process at peak.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32'];
