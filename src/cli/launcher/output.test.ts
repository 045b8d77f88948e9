import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createOutput } from './output.js';

function capture(pretty: boolean) {
  const chunks: string[] = [];
  const output = createOutput({ pretty, level: 'info', write: (chunk) => void chunks.push(chunk) });
  return { output, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

describe('npm start output', () => {
  it('without a terminal: JSON lines only, a process\'s own log lines untouched', () => {
    const { output, lines } = capture(false);
    const line = '{"level":30,"time":1,"name":"api","msg":"api listening"}';
    output.childLine('api', 'stdout', line);
    output.childLine('api', 'stderr', 'Error: boom');
    output.childLine('api', 'stdout', '   ');
    output.log.info('stopping');
    expect(lines()[0]).toBe(line);
    expect(JSON.parse(lines()[1] ?? '')).toMatchObject({ level: 40, name: 'api', msg: 'Error: boom' });
    expect(JSON.parse(lines()[2] ?? '')).toMatchObject({ level: 30, name: 'launcher', msg: 'stopping' });
    expect(lines()).toHaveLength(3);
  });

  it('on a terminal: one readable line per entry, the process named, no JSON', () => {
    const { output, lines } = capture(true);
    output.childLine('api', 'stdout', '{"level":40,"time":1,"name":"api","msg":"JWT_SECRET: not set"}');
    output.childLine('worker', 'stdout', 'plain text');
    const shown = lines().map((l) => stripVTControlCharacters(l));
    expect(shown[0]).toMatch(/WARN.*\(api\): JWT_SECRET: not set$/);
    expect(shown[1]).toMatch(/INFO.*\(worker\): plain text$/);
    for (const l of shown) expect(l.startsWith('{')).toBe(false);
  });

  it('prints the banner as it is', () => {
    const { output, lines } = capture(false);
    output.text('  API   http://127.0.0.1:3000');
    expect(lines()).toEqual(['  API   http://127.0.0.1:3000']);
  });
});
