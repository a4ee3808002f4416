import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type {
  KnowledgeDocument,
  KnowledgeDocumentInput,
  KnowledgeDocumentSummary,
  KnowledgeSearchResult,
} from '@workemon/contracts';
import { AppError } from '@workemon/errors';
import type { Logger } from '@workemon/logger';
import { contentHash, splitIntoPassages } from './knowledge-document.js';
import { KnowledgeFileError, parseKnowledgeFile } from './knowledge-file.js';
import type {
  KnowledgeDocumentDraft,
  KnowledgeMetricsPort,
  KnowledgeRetriever,
  KnowledgeStorePort,
  UpsertOutcome,
} from './knowledge-ports.js';

export interface KnowledgeSyncReport {
  directory: string;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: number;
  /** Documents with the same id written through the API: the sync leaves them alone. */
  skipped: string[];
  failed: { file: string; error: string }[];
}

export interface KnowledgeUseCasesDeps {
  store: KnowledgeStorePort;
  retriever: KnowledgeRetriever;
  metrics: KnowledgeMetricsPort;
  logger: Logger;
  maxDocumentChars: number;
}

/** The knowledge base: documents through the API, the file sync, and search. */
export class KnowledgeUseCases {
  constructor(private readonly deps: KnowledgeUseCasesDeps) {}

  async get(id: string): Promise<KnowledgeDocument> {
    const document = await this.deps.store.find(id);
    if (!document) throw AppError.notFound(`Knowledge document '${id}' does not exist`);
    return document;
  }

  list(
    limit: number,
    cursor: string | undefined,
  ): Promise<{ items: KnowledgeDocumentSummary[]; next_cursor: string | null }> {
    return this.deps.store.list(limit, cursor);
  }

  /** PUT: created, updated, or unchanged (same content: nothing is rewritten). The API owns what it writes. */
  async put(
    id: string,
    input: KnowledgeDocumentInput,
  ): Promise<{ outcome: UpsertOutcome; document: KnowledgeDocument }> {
    if (input.body.length > this.deps.maxDocumentChars)
      throw AppError.payloadTooLarge(
        `Parameter 'body' is ${input.body.length} characters long; the limit is ${this.deps.maxDocumentChars}`,
      );
    const outcome = await this.write(
      { id, title: input.title, body: input.body, tags: input.tags ?? [], url: input.url ?? null },
      'api',
    );
    return { outcome, document: await this.get(id) };
  }

  async delete(id: string): Promise<void> {
    if (!(await this.deps.store.delete(id)))
      throw AppError.notFound(`Knowledge document '${id}' does not exist`);
    await this.refreshGauge();
  }

  async search(query: string, limit: number): Promise<KnowledgeSearchResult> {
    const hits = await this.deps.retriever.search(query, limit);
    return {
      items: hits.map((h) => ({
        id: h.id,
        title: h.title,
        score: Math.round(h.score * 1000) / 1000,
        snippet: h.snippet,
        ...(h.url ? { url: h.url } : {}),
      })),
    };
  }

  /**
   * Makes the file-sourced documents match the directory: new files are added, changed ones rewritten,
   * documents whose file is gone removed. A broken file is reported by name and skipped (its previous
   * version stays); documents written through the API are never touched. An unreadable directory
   * changes nothing and throws.
   */
  async syncDirectory(directory: string): Promise<KnowledgeSyncReport> {
    const report: KnowledgeSyncReport = {
      directory,
      added: [],
      changed: [],
      removed: [],
      unchanged: 0,
      skipped: [],
      failed: [],
    };
    const files = (await readdir(directory, { recursive: true, withFileTypes: true }))
      .filter(
        (entry) =>
          entry.isFile() && /\.(md|markdown)$/i.test(entry.name) && !/^readme\.md$/i.test(entry.name),
      )
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    const drafts = new Map<string, { file: string; draft: KnowledgeDocumentDraft }>();
    /** Ids a broken file may stand for: their stored version is kept, not removed. */
    const protectedIds = new Set<string>();
    for (const path of files) {
      const file = relative(directory, path);
      try {
        const draft = parseKnowledgeFile(file, await readFile(path, 'utf8'), this.deps.maxDocumentChars);
        const earlier = drafts.get(draft.id);
        if (earlier)
          throw new KnowledgeFileError(`${file}: id '${draft.id}' is already used by ${earlier.file}`);
        drafts.set(draft.id, { file, draft });
      } catch (error) {
        protectedIds.add(file.replace(/^.*[\\/]/, '').replace(/\.[^.]+$/, ''));
        const message =
          error instanceof KnowledgeFileError ? error.message : `${file}: ${(error as Error).message}`;
        report.failed.push({ file, error: message });
      }
    }
    const stored = new Map((await this.deps.store.index()).map((d) => [d.id, d]));
    for (const { file, draft } of drafts.values()) {
      const existing = stored.get(draft.id);
      if (existing?.source === 'api') {
        report.skipped.push(draft.id);
        continue;
      }
      try {
        const outcome = await this.write(draft, 'file', false);
        if (outcome === 'created') report.added.push(draft.id);
        else if (outcome === 'updated') report.changed.push(draft.id);
        else report.unchanged++;
      } catch (error) {
        report.failed.push({ file, error: `${file}: ${(error as Error).message}` });
        protectedIds.add(draft.id);
      }
    }
    for (const existing of stored.values()) {
      if (existing.source !== 'file' || drafts.has(existing.id) || protectedIds.has(existing.id)) continue;
      if (await this.deps.store.delete(existing.id)) report.removed.push(existing.id);
    }
    await this.refreshGauge();
    const level = report.failed.length > 0 ? 'warn' : 'info';
    this.deps.logger[level](
      `knowledge sync of ${directory}: ${report.added.length} added, ${report.changed.length} changed, ` +
        `${report.removed.length} removed, ${report.unchanged} unchanged, ${report.failed.length} failed` +
        (report.failed.length > 0 ? ` (${report.failed.map((f) => f.error).join('; ')})` : ''),
      {
        event: { action: 'knowledge-sync', outcome: report.failed.length > 0 ? 'failure' : 'success' },
        workemon: {
          knowledge_sync: {
            directory,
            added: report.added,
            changed: report.changed,
            removed: report.removed,
            unchanged: report.unchanged,
            skipped: report.skipped,
            failed: report.failed,
          },
        },
      },
    );
    return report;
  }

  async refreshGauge(): Promise<void> {
    this.deps.metrics.documents(await this.deps.store.count());
  }

  private async write(
    draft: KnowledgeDocumentDraft,
    source: 'api' | 'file',
    gauge = true,
  ): Promise<UpsertOutcome> {
    const outcome = await this.deps.store.upsert(
      { ...draft, contentHash: contentHash(draft) },
      source,
      splitIntoPassages(draft.title, draft.body),
    );
    if (gauge && outcome === 'created') await this.refreshGauge();
    return outcome;
  }
}
