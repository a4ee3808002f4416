import { describe, expect, it } from 'vitest';
import { ecsViolations } from './support/ecs.js';
import { readText, readYaml } from './support/repo.js';

interface Filebeat {
  'filebeat.inputs': { type: string; paths: string[]; parsers: Record<string, Record<string, unknown>>[] }[];
  processors: Record<string, unknown>[];
  'output.elasticsearch': { hosts: string[] };
  'setup.template.enabled': boolean;
}

describe('filebeat.yml', () => {
  const fb = readYaml<Filebeat>('filebeat.yml');

  it('when container logs are read, then the docker envelope is unwrapped and the ECS JSON decoded at the top level', () => {
    const input = fb['filebeat.inputs'][0]!;
    expect(input.type).toBe('filestream');
    expect(input.paths).toEqual(['/var/lib/docker/containers/*/*.log']);
    const names = input.parsers.map((p) => Object.keys(p)[0]);
    expect(names).toEqual(['container', 'ndjson']);
    expect(input.parsers[1]!.ndjson).toMatchObject({ target: '', overwrite_keys: true, expand_keys: true });
  });

  it('when events are shipped, then docker metadata is added and they go to Elasticsearch with the ECS template', () => {
    expect(fb.processors.some((p) => 'add_docker_metadata' in p)).toBe(true);
    expect(fb['output.elasticsearch'].hosts[0]).toContain('elasticsearch:9200');
    expect(fb['setup.template.enabled']).toBe(true);
    expect(readText('docker-compose.yml')).toContain('./filebeat.yml:/usr/share/filebeat/filebeat.yml:ro');
  });
});

describe('ECS log-line validator (used on every live service line)', () => {
  it('when a line is what ecs-winston-format prints, then it is valid', () => {
    const line = {
      '@timestamp': '2026-01-02T03:04:05.678Z',
      'log.level': 'info',
      message: 'hi',
      'ecs.version': '8.10.0',
      'trace.id': 'abc',
      service: { name: 'guesser' },
    };
    expect(ecsViolations(JSON.stringify(line))).toEqual([]);
  });

  it('when a line is plain winston JSON or nests log.level or is not JSON, then it is rejected', () => {
    expect(ecsViolations(JSON.stringify({ level: 'info', message: 'x' }))).toEqual(
      expect.arrayContaining([
        'missing required @timestamp',
        'missing required log.level',
        'missing required ecs.version',
      ]),
    );
    expect(
      ecsViolations(
        JSON.stringify({
          '@timestamp': '2026-01-02T03:04:05Z',
          log: { level: 'info' },
          'ecs.version': '8.10.0',
        }),
      ),
    ).toEqual(['log.level must be a top-level dotted key, not nested']);
    expect(
      ecsViolations(
        JSON.stringify({ '@timestamp': 'yesterday', 'log.level': 'info', 'ecs.version': '8' }),
      )[0],
    ).toMatch(/ISO 8601/);
    expect(ecsViolations('GET /health 200')).toEqual(['not JSON']);
  });
});
