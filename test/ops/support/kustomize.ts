import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { readYamlAll } from './repo.js';

/**
 * A small offline kustomize renderer for the subset infra/k8s uses (resources, namespace, labels,
 * commonLabels, images, replicas, JSON6902 patches). kustomize is not packaged for Debian/npm; when
 * `kubectl` (which embeds kustomize) is on PATH the tests also compare this output with
 * `kubectl kustomize`. Any other kustomization field is an error, so the renderer cannot silently
 * diverge from the real one.
 */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};

const SUPPORTED = new Set([
  'apiVersion',
  'kind',
  'resources',
  'namespace',
  'labels',
  'commonLabels',
  'images',
  'replicas',
  'patches',
]);

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PersistentVolume',
  'StorageClass',
]);

interface Kustomization {
  resources?: string[];
  namespace?: string;
  labels?: { pairs: Record<string, string>; includeSelectors?: boolean; includeTemplates?: boolean }[];
  commonLabels?: Record<string, string>;
  images?: { name: string; newName?: string; newTag?: string; digest?: string }[];
  replicas?: { name: string; count: number }[];
  patches?: { path?: string; patch?: string; target?: { kind?: string; name?: string } }[];
}

export function renderKustomization(dir: string): K8sObject[] {
  const file = ['kustomization.yaml', 'kustomization.yml', 'Kustomization']
    .map((f) => join(dir, f))
    .find((f) => existsSync(f));
  if (!file) throw new Error(`no kustomization in ${dir}`);
  const k = parseYaml(readFileSync(file, 'utf8')) as Kustomization;
  for (const key of Object.keys(k))
    if (!SUPPORTED.has(key)) throw new Error(`${file}: field "${key}" not supported by the offline renderer`);

  let objects: K8sObject[] = [];
  for (const r of k.resources ?? []) {
    const path = resolve(dir, r);
    if (!existsSync(path)) throw new Error(`${file}: resource ${r} does not exist`);
    if (statSync(path).isDirectory()) objects.push(...renderKustomization(path));
    else objects.push(...(readYamlAll(readFileSync(path, 'utf8')) as K8sObject[]));
  }
  const ids = new Set<string>();
  for (const o of objects) {
    const id = `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    if (ids.has(id)) throw new Error(`duplicate resource ${id}`);
    ids.add(id);
  }

  for (const p of k.patches ?? []) {
    const text = p.patch ?? readFileSync(join(dir, p.path!), 'utf8');
    const ops = parseYaml(text) as unknown;
    if (!Array.isArray(ops)) throw new Error(`${file}: only JSON6902 patches are supported`);
    const targets = objects.filter(
      (o) =>
        (!p.target?.kind || o.kind === p.target.kind) &&
        (!p.target?.name || o.metadata.name === p.target.name),
    );
    if (targets.length === 0)
      throw new Error(`${file}: patch target ${JSON.stringify(p.target)} matches nothing`);
    objects = objects.map((o) => (targets.includes(o) ? applyJson6902(o, ops as PatchOp[]) : o));
  }

  for (const r of k.replicas ?? []) {
    const hits = objects.filter(
      (o) =>
        o.metadata.name === r.name &&
        'spec' in o &&
        ['Deployment', 'StatefulSet', 'ReplicaSet'].includes(o.kind),
    );
    if (hits.length === 0) throw new Error(`${file}: replicas target ${r.name} matches nothing`);
    for (const o of hits) (o.spec as Record<string, unknown>).replicas = r.count;
  }

  for (const img of k.images ?? []) {
    for (const o of objects) {
      for (const c of podContainers(o)) {
        const { name } = splitImage(String(c.image));
        if (name !== img.name) continue;
        const base = img.newName ?? name;
        c.image = img.digest
          ? `${base}@${img.digest}`
          : `${base}:${img.newTag ?? splitImage(String(c.image)).tag ?? 'latest'}`;
      }
    }
  }

  const labelSets = [
    ...(k.labels ?? []),
    ...(k.commonLabels ? [{ pairs: k.commonLabels, includeSelectors: true, includeTemplates: true }] : []),
  ];
  for (const set of labelSets) {
    for (const o of objects) {
      o.metadata.labels = { ...(o.metadata.labels ?? {}), ...set.pairs };
      const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
      if (!spec) continue;
      const templates = set.includeSelectors || set.includeTemplates;
      if (templates && spec.template?.metadata)
        spec.template.metadata.labels = { ...(spec.template.metadata.labels ?? {}), ...set.pairs };
      if (set.includeSelectors) {
        if (o.kind === 'Service') spec.selector = { ...(spec.selector ?? {}), ...set.pairs };
        else if (spec.selector?.matchLabels)
          spec.selector.matchLabels = { ...spec.selector.matchLabels, ...set.pairs };
      }
    }
  }

  if (k.namespace) {
    for (const o of objects) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  }
  return objects;
}

/** Containers and init containers of a workload's pod template. */
export function podContainers(o: K8sObject): Record<string, unknown>[] {
  const spec = (
    o.spec as { template?: { spec?: { containers?: unknown[]; initContainers?: unknown[] } } } | undefined
  )?.template?.spec;
  return [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])] as Record<string, unknown>[];
}

export function splitImage(image: string): { name: string; tag?: string } {
  const at = image.split('@')[0]!;
  const slash = at.lastIndexOf('/');
  const colon = at.lastIndexOf(':');
  return colon > slash ? { name: at.slice(0, colon), tag: at.slice(colon + 1) } : { name: at };
}

interface PatchOp {
  op: 'add' | 'replace' | 'remove';
  path: string;
  value?: unknown;
}

function applyJson6902(obj: K8sObject, ops: PatchOp[]): K8sObject {
  const copy = structuredClone(obj);
  for (const op of ops) {
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    const last = parts.pop()!;
    let cur: any = copy; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const p of parts) {
      if (cur?.[p] === undefined)
        throw new Error(`patch path ${op.path} not found in ${obj.kind}/${obj.metadata.name}`);
      cur = cur[p];
    }
    if (op.op === 'remove') {
      if (Array.isArray(cur)) cur.splice(Number(last), 1);
      else delete cur[last];
    } else if (op.op === 'replace') {
      if (cur[last] === undefined)
        throw new Error(`replace of missing ${op.path} in ${obj.kind}/${obj.metadata.name}`);
      cur[last] = op.value;
    } else if (Array.isArray(cur) && last === '-') cur.push(op.value);
    else if (Array.isArray(cur)) cur.splice(Number(last), 0, op.value);
    else cur[last] = op.value;
  }
  return copy;
}
