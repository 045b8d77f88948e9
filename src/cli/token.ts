import { loadConfigOrExit } from '../config/env.js';
import { DEV_TOKEN_TTL_SECONDS, MAX_BUYER_LENGTH, signBuyerToken } from './dev-token.js';

/**
 * `npm run token -- <buyer>`: prints a development buyer token (HS256 with the configured
 * JWT_SECRET, `sub` = the buyer, valid 24 h) and nothing else on stdout, so that
 * `export TOKEN=$(npm run -s token -- alice)` works. Refuses in production.
 */

const USAGE = `usage: npm run token -- <buyer>   (a buyer id of 1 to ${MAX_BUYER_LENGTH} characters)
prints a development buyer token signed with JWT_SECRET; e.g. export TOKEN=$(npm run -s token -- alice)`;

const REFUSAL = `npm run token refuses in production: it signs tokens for any buyer with JWT_SECRET, which only
your login service may do. Buyer tokens in production are HS256 JWTs with the buyer in \`sub\`, issued
by the service that authenticates buyers (see docs/production.md).`;

function fail(message: string, code: number): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
if (args.length !== 1 || args[0] === '-h' || args[0] === '--help') fail(USAGE, 2);
const buyer = args[0] ?? '';
if (buyer.length === 0 || buyer.length > MAX_BUYER_LENGTH) fail(`not a buyer id: ${JSON.stringify(buyer)}\n${USAGE}`, 2);

// Checked before the configuration is loaded: an incomplete production configuration must get
// this refusal too, not a list of configuration problems that reads like "fix these and retry".
if (process.env.NODE_ENV === 'production') fail(REFUSAL, 1);
const config = loadConfigOrExit();
// The real WeChat host counts as production as well (src/config/env.ts).
if (config.production) fail(REFUSAL, 1);

process.stdout.write(`${signBuyerToken(config.jwtSecret, buyer, DEV_TOKEN_TTL_SECONDS)}\n`);
