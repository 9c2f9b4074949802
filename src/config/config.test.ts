import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { loadConfig, parseYaml } from './index.js';

describe('config from the environment', () => {
  it('has the documented defaults', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, host: '127.0.0.1', dataDir: './.tarmac', bodyLimit: 1048576, seedDemo: true, logLevel: 'info' });
    expect(config.databaseUrl).toBeUndefined();
    expect(config.dataDirAbsolute).toBe(path.resolve('./.tarmac'));
  });

  it('reads and converts every variable', () => {
    const config = loadConfig({ TARMAC_PORT: '9000', TARMAC_SEED_DEMO: 'false', TARMAC_DATABASE_URL: 'postgres://u@h/db', TARMAC_BODY_LIMIT: '2048' });
    expect(config).toMatchObject({ port: 9000, seedDemo: false, databaseUrl: 'postgres://u@h/db', bodyLimit: 2048 });
  });

  it('names every bad variable', () => {
    expect(() => loadConfig({ TARMAC_PORT: 'eighty', TARMAC_DATABASE_URL: 'mysql://x', TARMAC_LOG_LEVEL: 'loud' })).toThrow(
      /TARMAC_DATABASE_URL: must be a postgres:\/\/ URL.*TARMAC_PORT:.*TARMAC_LOG_LEVEL:/s,
    );
  });
});

describe('YAML with line numbers', () => {
  const Schema = z.strictObject({ a: z.strictObject({ b: z.number() }), list: z.array(z.strictObject({ name: z.string() })).optional() });

  it('points at the line of a wrong type, an unknown key and a syntax error', () => {
    expect(() => parseYaml(Schema, 'a:\n  b: "seven"\n', 'f.yaml')).toThrow(/f\.yaml:2: a\.b: /);
    expect(() => parseYaml(Schema, 'a:\n  b: 1\nlist:\n  - name: x\n    nope: 1\n', 'f.yaml')).toThrow('f.yaml:5: list[0].nope: unknown key');
    expect(() => parseYaml(Schema, 'a: [1,\n', 'f.yaml')).toThrow(/f\.yaml:\d+: /);
    expect(() => parseYaml(Schema, 'a:\n  b: 1\na:\n  b: 2\n', 'f.yaml')).toThrow(/f\.yaml:3: .*[Uu]nique|duplicate/);
  });

  it('treats an empty file as an empty mapping', () => {
    expect(() => parseYaml(Schema, '', 'f.yaml')).toThrow(/f\.yaml:1: a: /);
  });
});
