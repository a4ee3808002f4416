import type { z } from 'zod';

/** The parts of zod's internal definition the renderer reads (zod 4 keeps them on `_zod.def`). */
interface FieldDef {
  type: string;
  innerType?: ZodLike;
  in?: ZodLike;
  defaultValue?: unknown;
  entries?: Record<string, string>;
  shape?: Record<string, ZodLike>;
}
interface ZodLike {
  _zod: { def: FieldDef };
  description?: string;
  /** an enum's values in declaration order */
  options?: unknown;
}

interface FieldInfo {
  defaultValue?: string;
  optional: boolean;
  choices?: string[];
  description?: string;
}

/** Walks default/optional/pipe wrappers down to the value the variable holds. */
function describeField(field: ZodLike): FieldInfo {
  const info: FieldInfo = { optional: false };
  let current: ZodLike | undefined = field;
  for (let depth = 0; current && depth < 10; depth++) {
    const def: FieldDef = current._zod.def;
    info.description ??= current.description;
    if (def.type === 'default' && info.defaultValue === undefined) {
      const value = def.defaultValue;
      info.defaultValue = Array.isArray(value) ? value.join(',') : String(value);
    }
    if (def.type === 'optional') info.optional = true;
    if (def.type === 'enum') {
      info.choices = Array.isArray(current.options)
        ? current.options.map(String)
        : Object.values(def.entries ?? {});
    }
    current = def.innerType ?? def.in;
  }
  return info;
}

/**
 * The fields of an object schema under `.transform()`/`.pipe()`/`.default()` wrappers; undefined when
 * there is none. The one walk over a config schema's shape (`objectKeys` and the renderer use it).
 */
export function objectShape(schema: unknown): Record<string, ZodLike> | undefined {
  let current = schema as ZodLike | undefined;
  for (let depth = 0; current?._zod && depth < 5; depth++) {
    const def: FieldDef = current._zod.def;
    if (def.type === 'object' && def.shape) return def.shape;
    current = def.in ?? def.innerType;
  }
  return undefined;
}

/**
 * A `.env.example` rendered from a service's config schema: every variable it reads, in schema order,
 * with its default (empty when it has none), the allowed values of an enum, and whether it is required.
 * The schema is the one source of truth; the header only says what the file is for.
 */
export function renderEnvExample(schema: z.ZodType, header: readonly string[]): string {
  const lines = header.map((line) => `# ${line}`.trimEnd());
  lines.push('# Generated from the service config schema by `pnpm env:example`; do not edit by hand.');
  const shape = objectShape(schema);
  if (!shape) throw new Error('not an object schema');
  const fields = Object.entries(shape);
  // Variables sharing a prefix (IMAP_*, SMTP_*) form a block; the rest share one.
  const prefixOf = (name: string) => name.split('_')[0] ?? name;
  const counts = new Map<string, number>();
  for (const [name] of fields) counts.set(prefixOf(name), (counts.get(prefixOf(name)) ?? 0) + 1);
  let group: string | undefined;
  for (const [name, field] of fields) {
    const info = describeField(field);
    const prefix = (counts.get(prefixOf(name)) ?? 0) > 1 ? prefixOf(name) : '';
    if (prefix !== group) {
      lines.push('');
      group = prefix;
    }
    const notes: string[] = [];
    if (info.description) notes.push(info.description);
    if (info.choices) notes.push(`one of: ${info.choices.join(', ')}`);
    if (!info.optional && info.defaultValue === undefined) notes.push('required');
    if (notes.length > 0) lines.push(`# ${name}: ${notes.join('; ')}`);
    lines.push(`${name}=${info.defaultValue ?? ''}`);
  }
  return `${lines.join('\n')}\n`;
}
