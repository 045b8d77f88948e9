// `npm run generate`: Prisma Client generation that works offline.
// The Prisma 7 CLI looks for its native schema engine before `generate` and tries to download it,
// which fails without internet access; `generate` never uses the engine, so pointing
// PRISMA_SCHEMA_ENGINE_BINARY at any existing file (here: node itself) lets it run.
// On a machine that has the real engine configured, that setting is kept.
import { spawnSync } from 'node:child_process';

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY || process.execPath };
const result = spawnSync(process.execPath, ['node_modules/prisma/build/index.js', 'generate', ...process.argv.slice(2)], { env, stdio: 'inherit' });
process.exit(result.status ?? 1);
