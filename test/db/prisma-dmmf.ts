import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

/**
 * Prisma's own reading of schema.prisma (the DMMF data model), offline.
 *
 * `getDMMF` lives in Prisma's schema WebAssembly module. The CLI package ships that module
 * (`prisma/build/prisma_schema_build_bg.wasm`) but bundles its JavaScript glue inside cli.js,
 * and `@prisma/prisma-schema-wasm` is not installed (nor published for this engine hash). So we
 * instantiate the CLI's own wasm with a minimal wasm-bindgen glue: the module imports only four
 * functions, and `get_dmmf(json) -> json` needs nothing but string passing. Using the wasm of the
 * installed `prisma` keeps this test exactly as strict as `prisma generate`.
 *
 * If a Prisma upgrade changes the module's imports, `loadDmmf` fails loudly naming the import;
 * compare with the glue in node_modules/prisma/build/cli.js (search `get_dmmf`).
 */

export interface DmmfEnum {
  name: string;
  dbName: string | null;
  values: Array<{ name: string; dbName: string | null }>;
}

export interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'object' | 'enum' | 'unsupported';
  isList: boolean;
  isRequired: boolean;
  isUnique: boolean;
  isId: boolean;
  isUpdatedAt: boolean;
  hasDefaultValue: boolean;
  type: string;
  /** e.g. ['VarChar', ['200']] for @db.VarChar(200); null without @db. */
  nativeType: [string, string[]] | null;
  default?: unknown;
  relationName?: string;
  relationFromFields?: string[];
  relationToFields?: string[];
  relationOnDelete?: string;
  relationOnUpdate?: string;
}

export interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { name: string | null; fields: string[] } | null;
  uniqueIndexes: Array<{ name: string | null; fields: string[] }>;
}

export interface DmmfIndex {
  model: string;
  type: 'id' | 'unique' | 'normal' | 'fulltext';
  isDefinedOnField: boolean;
  dbName?: string;
  fields: Array<{ name: string }>;
}

export interface DmmfDatamodel {
  enums: DmmfEnum[];
  models: DmmfModel[];
  indexes: DmmfIndex[];
}

// The project compiles without the DOM lib, and @types/node does not declare the WebAssembly
// JS API, so the little of it used here is typed by hand.
interface WasmModule {
  readonly __brand: 'WebAssembly.Module';
}
interface WasmApi {
  Module: { new (bytes: Uint8Array): WasmModule; imports(module: WasmModule): Array<{ module: string; name: string }> };
  Instance: new (module: WasmModule, imports: Record<string, Record<string, (...args: number[]) => unknown>>) => { exports: unknown };
}
const WebAssemblyApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface SchemaWasm {
  memory: { buffer: ArrayBuffer };
  __wbindgen_externrefs: { grow(delta: number): number; get(index: number): unknown; set(index: number, value: unknown): void };
  __wbindgen_malloc(size: number, align: number): number;
  __wbindgen_free(ptr: number, size: number, align: number): void;
  __externref_table_dealloc(index: number): void;
  __wbindgen_start(): void;
  get_dmmf(ptr: number, len: number): [number, number, number, number];
}

function instantiate(): SchemaWasm {
  const require = createRequire(import.meta.url);
  const wasmPath = path.join(path.dirname(require.resolve('prisma/package.json')), 'build', 'prisma_schema_build_bg.wasm');
  const module = new WebAssemblyApi.Module(readFileSync(wasmPath));
  const decoder = new TextDecoder('utf-8', { fatal: true });
  // The imports below need the instance's memory and table, which exist only once it is built.
  const instance: { exports?: SchemaWasm } = {};
  const text = (ptr: number, len: number) => decoder.decode(new Uint8Array(instance.exports!.memory.buffer, ptr >>> 0, len));

  const imports: Record<string, Record<string, (...args: number[]) => unknown>> = {};
  for (const { module: moduleName, name } of WebAssemblyApi.Module.imports(module)) {
    let fn: (...args: number[]) => unknown;
    // wasm-bindgen suffixes import names with a hash that changes per build; match the stable prefix.
    if (name.startsWith('__wbg_set_message_')) {
      fn = () => undefined; // panic message for the CLI's panic reporter; the Error below carries it too
    } else if (name.startsWith('__wbg_Error_')) {
      fn = (ptr, len) => new Error(text(ptr, len));
    } else if (name.startsWith('__wbg___wbindgen_throw_')) {
      fn = (ptr, len) => {
        throw new Error(text(ptr, len));
      };
    } else if (name === '__wbindgen_init_externref_table') {
      fn = () => {
        const table = instance.exports!.__wbindgen_externrefs;
        const base = table.grow(4);
        table.set(0, undefined);
        table.set(base, undefined);
        table.set(base + 1, null);
        table.set(base + 2, true);
        table.set(base + 3, false);
      };
    } else {
      throw new Error(`${wasmPath} imports ${moduleName}.${name}, which test/db/prisma-dmmf.ts does not provide (Prisma upgraded?)`);
    }
    (imports[moduleName] ??= {})[name] = fn;
  }
  const wasm = new WebAssemblyApi.Instance(module, imports).exports as SchemaWasm;
  instance.exports = wasm;
  wasm.__wbindgen_start();
  return wasm;
}

/** The DMMF data model of the schema file at `schemaPath`, as `prisma generate` sees it. */
export function loadDmmf(schemaPath: string): DmmfDatamodel {
  const wasm = instantiate();
  // Same request the CLI builds (getDMMF in @prisma/internals): a list of [path, content] files.
  const request = JSON.stringify({ prismaSchema: [[schemaPath, readFileSync(schemaPath, 'utf8')]], noColor: true });
  const input = new TextEncoder().encode(request);
  const ptr = wasm.__wbindgen_malloc(input.length, 1) >>> 0;
  new Uint8Array(wasm.memory.buffer, ptr, input.length).set(input);
  const [outPtr, outLen, errIndex, isErr] = wasm.get_dmmf(ptr, input.length);
  if (isErr) {
    const error: unknown = wasm.__wbindgen_externrefs.get(errIndex);
    wasm.__externref_table_dealloc(errIndex);
    throw error instanceof Error ? error : new Error(String(error));
  }
  const json = new TextDecoder().decode(new Uint8Array(wasm.memory.buffer, outPtr >>> 0, outLen));
  wasm.__wbindgen_free(outPtr, outLen, 1);
  return (JSON.parse(json) as { datamodel: DmmfDatamodel }).datamodel;
}
