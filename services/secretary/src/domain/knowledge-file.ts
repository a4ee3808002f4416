import { basename, extname } from 'node:path';
import { KnowledgeDocumentInputSchema, KnowledgeIdSchema, z } from '@workemon/contracts';
import { parse as parseYaml } from 'yaml';
import type { KnowledgeDocumentDraft } from './knowledge-ports.js';

export class KnowledgeFileError extends Error {
  override name = 'KnowledgeFileError';
}

const FRONT_MATTER = /^---[ \t]*\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/;

const FrontMatterSchema = z.object({
  id: z.string().optional(),
  title: z.string().optional(),
  tags: z.union([z.array(z.union([z.string(), z.number()])), z.string()]).optional(),
  url: z.string().optional(),
});

/**
 * One Markdown knowledge file: optional YAML front matter (`id`, `title`, `tags`, `url`), then the body.
 * The id defaults to the file name without `.md`; the title to the first `# heading`. Any problem is a
 * KnowledgeFileError naming the file and the field.
 */
export function parseKnowledgeFile(
  fileName: string,
  content: string,
  maxChars: number,
): KnowledgeDocumentDraft {
  const text = content.replace(/^\uFEFF/, '');
  const match = FRONT_MATTER.exec(text);
  let meta: z.infer<typeof FrontMatterSchema> = {};
  if (match) {
    let raw: unknown;
    try {
      raw = parseYaml(match[1] ?? '') ?? {};
    } catch (error) {
      throw new KnowledgeFileError(
        `${fileName}: front matter is not valid YAML: ${(error as Error).message}`,
      );
    }
    const parsed = FrontMatterSchema.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new KnowledgeFileError(
        `${fileName}: front matter ${issue?.path.join('.') || 'block'}: ${issue?.message ?? 'invalid'}`,
      );
    }
    meta = parsed.data;
  }
  const body = (match ? text.slice(match[0].length) : text).trim();
  const id = meta.id ?? basename(fileName, extname(fileName));
  const idCheck = KnowledgeIdSchema.safeParse(id);
  if (!idCheck.success)
    throw new KnowledgeFileError(
      `${fileName}: id '${id}' is not a kebab-case slug (set \`id:\` in the front matter or rename the file)`,
    );
  const title = meta.title ?? /^#[ \t]+(.+)$/m.exec(body)?.[1]?.trim();
  const tags = typeof meta.tags === 'string' ? meta.tags.split(',') : (meta.tags ?? []).map(String);
  const document = KnowledgeDocumentInputSchema.safeParse({
    title,
    body,
    tags: tags.map((t) => t.trim()).filter(Boolean),
    ...(meta.url ? { url: meta.url } : {}),
  });
  if (!document.success)
    throw new KnowledgeFileError(`${fileName}: ${document.error.issues[0]?.message ?? 'invalid document'}`);
  if (document.data.body.length > maxChars)
    throw new KnowledgeFileError(
      `${fileName}: body is ${document.data.body.length} characters long; the limit is ${maxChars}`,
    );
  return {
    id: idCheck.data,
    title: document.data.title,
    body: document.data.body,
    tags: document.data.tags ?? [],
    url: document.data.url ?? null,
  };
}
