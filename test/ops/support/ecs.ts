import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FIXTURES } from './repo.js';

interface SpecField {
  type: 'datetime' | 'string' | 'integer' | 'object';
  required: boolean;
  top_level_field?: boolean;
  index?: number;
}

/** The ECS logging spec (elastic/ecs-logging spec.json, copied to fixtures). */
export const ECS_SPEC = JSON.parse(readFileSync(join(FIXTURES, 'ecs-logging-spec.json'), 'utf8')) as {
  fields: Record<string, SpecField>;
};

/** Reads a dotted field either as a top-level dotted key ("trace.id") or nested ({trace:{id}}). */
export function ecsField(line: Record<string, unknown>, name: string): unknown {
  if (name in line) return line[name];
  let cur: unknown = line;
  for (const part of name.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

const ISO_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Violations of the ECS logging spec by one log line (empty = valid). */
export function ecsViolations(raw: string, options: { fieldOrder?: boolean } = {}): string[] {
  let line: Record<string, unknown>;
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return ['not a JSON object'];
    line = parsed as Record<string, unknown>;
  } catch {
    return ['not JSON'];
  }
  const problems: string[] = [];
  for (const [name, spec] of Object.entries(ECS_SPEC.fields)) {
    const value = ecsField(line, name);
    if (value === undefined) {
      if (spec.required) problems.push(`missing required ${name}`);
      continue;
    }
    if (spec.top_level_field && !(name in line))
      problems.push(`${name} must be a top-level dotted key, not nested`);
    switch (spec.type) {
      case 'datetime':
        if (typeof value !== 'string' || !ISO_DATETIME.test(value) || Number.isNaN(Date.parse(value)))
          problems.push(`${name} is not an ISO 8601 datetime: ${JSON.stringify(value)}`);
        break;
      case 'string':
        if (typeof value !== 'string') problems.push(`${name} is not a string: ${JSON.stringify(value)}`);
        break;
      case 'integer':
        if (!Number.isInteger(value)) problems.push(`${name} is not an integer`);
        break;
      case 'object':
        if (value === null || typeof value !== 'object' || Array.isArray(value))
          problems.push(`${name} is not an object`);
        break;
    }
  }
  // The spec's "index" order (@timestamp, log.level, message first) is RECOMMENDED, not required:
  // ecs-winston-format sorts keys, so it is only checked on request.
  if (!options.fieldOrder) return problems;
  const keys = Object.keys(line);
  const ordered = Object.entries(ECS_SPEC.fields)
    .filter(([n, s]) => s.index !== undefined && n in line)
    .sort((a, b) => a[1].index! - b[1].index!)
    .map(([n]) => n);
  ordered.forEach((n, i) => {
    if (keys[i] !== n) problems.push(`field order: expected ${n} at position ${i}, found ${keys[i]}`);
  });
  return problems;
}
