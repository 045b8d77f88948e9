import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SERVER_NODE_FLAGS } from '../../src/infra/node-flags.js';

const read = (file: string) => readFileSync(new URL(`../../${file}`, import.meta.url), 'utf8');

describe('the API and worker processes run with SERVER_NODE_FLAGS wherever they start', () => {
  it('node accepts them', () => {
    // a flag node does not know stops it with "bad option" before any code runs
    const out = execFileSync(process.execPath, [...SERVER_NODE_FLAGS, '-e', 'process.stdout.write(JSON.stringify(process.execArgv))']);
    expect((JSON.parse(out.toString()) as string[]).slice(0, SERVER_NODE_FLAGS.length)).toEqual(SERVER_NODE_FLAGS);
  });

  it('package.json start:api and start:worker', () => {
    const scripts = (JSON.parse(read('package.json')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['start:api', 'start:worker']) {
      for (const flag of SERVER_NODE_FLAGS) expect(scripts[name], name).toContain(flag);
    }
  });

  it('the Dockerfile (the API is its default command) and docker-compose.yml (api, worker)', () => {
    const cmd = /^CMD (\[.*\])$/m.exec(read('Dockerfile'))?.[1];
    expect(JSON.parse(cmd ?? '[]')).toEqual(['node', ...SERVER_NODE_FLAGS, 'dist/api/main.js']);
    const compose = read('docker-compose.yml');
    for (const entry of ['dist/api/main.js', 'dist/workers/main.js']) {
      expect(compose).toContain(`command: ${JSON.stringify(['node', ...SERVER_NODE_FLAGS, entry]).replaceAll(',', ', ')}`);
    }
  });

  it('npm start\'s launcher', () => {
    const start = read('src/cli/start.ts');
    for (const entry of ['src/api/main.ts', 'src/workers/main.ts']) expect(start).toContain(`[...SERVER_NODE_FLAGS, '${entry}']`);
  });
});
