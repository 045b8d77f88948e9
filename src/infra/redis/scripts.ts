import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Cluster, Redis, Result } from 'ioredis';
import type { Transition } from '../../domain/orders/transition-codes.js';

/**
 * The Lua transitions in ./lua, registered once per connection with defineCommand.
 * File names follow BullMQ's `verbNoun-<numKeys>.lua`, so the key count comes from the name.
 */

type ReserveReply = [code: Transition, createTime: number, deadline: number, money: number, timersQueued: number];
type LoadReply = [code: Transition, available: number];
type BeginCloseReply = [code: Transition, waitMs: number, waitReason: 0 | 1 | 2, userId: string];
type CloseWithRestockReply = [code: Transition, lateMs: number, closeReason: string];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    reserveOrder(
      goods: string, stock: string, held: string, order: string, buyer: string, timers: string,
      orderId: string, userId: string, goodsId: string, windowMs: number,
    ): Result<ReserveReply, Context>;
    beginClose(order: string, held: string, reason: string, reopenReview: '0' | '1', minAgeMs: number): Result<BeginCloseReply, Context>;
    closeWithRestock(order: string, stock: string, held: string, buyer: string, outbox: string, restockChannel: string): Result<CloseWithRestockReply, Context>;
    markPaid(
      order: string, held: string, buyer: string, outbox: string, paidPending: string,
      transactionId: string, totalFee: number, payTimeMs: number, paymentJson: string, lateReason: string,
    ): Result<Transition, Context>;
    markNeedsReview(
      order: string, held: string, outbox: string,
      kind: string, reason: string, transactionId: string, paymentJson: string,
    ): Result<Transition, Context>;
    loadGoods(
      goods: string, stock: string, held: string, paidPending: string, soldAcks: string,
      title: string, price: number, startMs: number, endMs: number, stockCount: number, generation: string,
    ): Result<LoadReply, Context>;
    /** triples: orderId, outboxVersion, status written */
    ackOutbox(outbox: string, paidPending: string, soldAcks: string, orderPrefix: string, ttlSeconds: number, ...triples: string[]): Result<number, Context>;
    /** entry, hash (HGETALL's flat field/value list), entry, hash, … */
    readOutboxBatch(outbox: string, count: number, orderPrefix: string): Result<(string | string[])[], Context>;
    setAsideOutbox(outbox: string, rejected: string, entry: string, reason: string): Result<number, Context>;
    claimLease(lease: string, holder: string, leaseMs: number): Result<number, Context>;
    beginPay(order: string, leaseMs: number): Result<Transition, Context>;
    resolveReview(
      order: string, stock: string, held: string, buyer: string, outbox: string, paidPending: string, outcome: string, restockChannel: string,
    ): Result<Transition, Context>;
    endPay(order: string, reachedWeChat: '0' | '1'): Result<Transition, Context>;
    releaseLease(lease: string, holder: string): Result<number, Context>;
    retireGoods(
      goods: string, stock: string, held: string, timers: string, outbox: string, paidPending: string, soldAcks: string, sweepCursor: string,
      ttlSeconds: number,
    ): Result<number, Context>;
  }
}

const luaDir = join(dirname(fileURLToPath(import.meta.url)), 'lua');

interface ScriptFile {
  name: string;
  numberOfKeys: number;
  lua: string;
}

let cache: ScriptFile[] | undefined;

/**
 * `--- @include "name"` (BullMQ's convention) is replaced by lua/includes/name.lua, so helpers
 * shared by several transitions (the outbox append) are written once.
 */
function withIncludes(lua: string, file: string): string {
  return lua.replace(/^--- @include "([A-Za-z]+)"$/gm, (_line, name: string) => {
    const path = join(luaDir, 'includes', `${name}.lua`);
    try {
      return readFileSync(path, 'utf8');
    } catch {
      throw new Error(`${file} includes ${name}, but ${path} cannot be read`);
    }
  });
}

function scriptFiles(): ScriptFile[] {
  cache ??= readdirSync(luaDir)
    .filter((file) => file.endsWith('.lua'))
    .map((file) => {
      const match = /^([A-Za-z]+)-(\d+)\.lua$/.exec(file);
      if (!match) throw new Error(`Lua file ${file} does not follow verbNoun-<numKeys>.lua`);
      return { name: match[1]!, numberOfKeys: Number(match[2]), lua: withIncludes(readFileSync(join(luaDir, file), 'utf8'), file) };
    });
  return cache;
}

/**
 * Register every transition script on a connection (ioredis uses EVALSHA, falling back to EVAL).
 * A Cluster client sends each call to the master of its first key's slot; all keys of a
 * transition share the goods' hash tag, so one node runs it whole.
 */
export function defineScripts<T extends Redis | Cluster>(redis: T): T {
  for (const script of scriptFiles()) {
    redis.defineCommand(script.name, { numberOfKeys: script.numberOfKeys, lua: script.lua });
  }
  return redis;
}
