import { describe, expect, it } from 'vitest';
import { renderKustomization, podContainers, splitImage, type K8sObject } from './support/kustomize.js';
import {
  configKeys,
  isKnownKey,
  readText,
  readYamlAll,
  repoPath,
  run,
  SERVICES,
  which,
} from './support/repo.js';

const BASE = repoPath('infra/k8s/base');
const OVERLAY = repoPath('infra/k8s/overlays/production');
type Any = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const find = (objs: K8sObject[], kind: string, name: string) =>
  objs.find((o) => o.kind === kind && o.metadata.name === name) as Any | undefined;
const sortKey = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;

describe('infra/k8s (kustomize base + production overlay)', () => {
  const rendered = { base: renderKustomization(BASE), overlay: renderKustomization(OVERLAY) };

  // kustomize is packaged neither for Debian nor npm: without kubectl the offline renderer is the check,
  // and this test shows as skipped.
  const kubectl = which('kubectl');
  it.skipIf(!kubectl)(
    'when kubectl (with its embedded kustomize) is available, then it renders exactly what the offline renderer does',
    () => {
      for (const [dir, ours] of [
        [BASE, rendered.base],
        [OVERLAY, rendered.overlay],
      ] as const) {
        const r = run(kubectl!, ['kustomize', dir]);
        expect(r.code, r.stderr).toBe(0);
        const theirs = (readYamlAll(r.stdout) as K8sObject[]).sort((a, b) =>
          sortKey(a).localeCompare(sortKey(b)),
        );
        expect([...ours].sort((a, b) => sortKey(a).localeCompare(sortKey(b)))).toEqual(theirs);
      }
    },
  );

  it('when the overlay is rendered, then every service has a Deployment, a Service on its port and a PodDisruptionBudget', () => {
    for (const s of SERVICES) {
      const dep = find(rendered.overlay, 'Deployment', s.name);
      const svc = find(rendered.overlay, 'Service', s.name);
      const pdb = find(rendered.overlay, 'PodDisruptionBudget', s.name);
      expect(dep, s.name).toBeDefined();
      expect(svc?.spec.ports[0].port, s.name).toBe(s.port);
      expect(svc?.spec.selector).toEqual(dep?.spec.selector.matchLabels);
      expect(pdb?.spec.selector.matchLabels).toEqual(dep?.spec.selector.matchLabels);
      const c = dep!.spec.template.spec.containers[0];
      expect(c.ports[0].containerPort, s.name).toBe(s.port);
      expect(c.livenessProbe.httpGet.path).toBe('/health/live');
      expect(c.readinessProbe.httpGet.path).toBe('/health/ready');
      expect(dep!.spec.template.spec.securityContext.runAsNonRoot).toBe(true);
      expect(dep!.metadata.namespace).toBe('workemon');
    }
  });

  it('when pods are rendered, then none mounts a service-account token and network policies admit only the mesh callers', () => {
    const policies = rendered.overlay.filter((o) => o.kind === 'NetworkPolicy') as Any[];
    // default deny: an empty pod selector with Ingress and no rules
    expect(
      policies.some(
        (p) =>
          Object.keys(p.spec.podSelector).length === 0 &&
          !p.spec.ingress &&
          p.spec.policyTypes.includes('Ingress'),
      ),
    ).toBe(true);
    const callers = (name: string) => {
      const policy = policies.find(
        (p) => p.spec.podSelector.matchLabels?.['app.kubernetes.io/name'] === name,
      );
      expect(policy, `NetworkPolicy for ${name}`).toBeDefined();
      const rules = policy!.spec.ingress as Any[];
      const s = SERVICES.find((x) => x.name === name)!;
      for (const r of rules) expect(r.ports.map((p: Any) => p.port)).toEqual([s.port]);
      return rules
        .flatMap((r) => r.from as Any[])
        .map((f) => f.podSelector?.matchLabels?.['app.kubernetes.io/name'])
        .filter(Boolean);
    };
    expect(callers('guesser')).toEqual(['secretary']);
    expect(callers('system-analyst')).toEqual(['secretary']);
    expect(callers('secretary')).toEqual(['communicator', 'console']);
    expect(callers('communicator')).toEqual(['secretary', 'console']);
    expect(callers('console')).toEqual([]);
    for (const s of SERVICES) {
      const dep = find(rendered.overlay, 'Deployment', s.name);
      expect(dep?.spec.template.spec.automountServiceAccountToken, s.name).toBe(false);
    }
  });

  it('when autoscaling is read, then secretary, guesser and analyst have an HPA and the communicator runs 2 leader-locked replicas', () => {
    for (const name of ['secretary', 'guesser', 'system-analyst']) {
      const hpa = find(rendered.overlay, 'HorizontalPodAutoscaler', name);
      expect(hpa?.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name });
      expect(hpa?.spec.minReplicas).toBeGreaterThanOrEqual(2);
      // the HPA owns replicas: a static count would fight it on every apply
      expect(find(rendered.overlay, 'Deployment', name)?.spec.replicas).toBeUndefined();
    }
    expect(find(rendered.overlay, 'HorizontalPodAutoscaler', 'communicator')).toBeUndefined();
    expect(find(rendered.overlay, 'Deployment', 'communicator')?.spec.replicas).toBe(2);
  });

  it('when images are referenced, then each container runs its own service image (overlay: pinned tag)', () => {
    for (const s of SERVICES) {
      for (const [objs, expected] of [
        [rendered.base, `workemon/${s.name}:latest`],
        [rendered.overlay, `registry.example.com/workemon/${s.name}:0.1.0`],
      ] as const) {
        const images = podContainers(find(objs, 'Deployment', s.name) as K8sObject).map((c) => c.image);
        expect(new Set(images), s.name).toEqual(new Set([expected]));
      }
      expect(readText('docker-compose.yml')).toContain(`image: ${splitImage(`workemon/${s.name}:x`).name}:`);
    }
  });

  it('when containers get env, then every key is one the service config schema knows and secrets come from a Secret', async () => {
    for (const s of SERVICES) {
      const known = await configKeys(s.name);
      if (!known) throw new Error(`services/${s.name}/src/config.ts does not exist yet`);
      const dep = find(rendered.overlay, 'Deployment', s.name)!;
      for (const c of podContainers(dep as K8sObject) as Any[]) {
        for (const e of c.env ?? []) {
          expect(isKnownKey(known.keys, e.name), `${s.name}: ${e.name}`).toBe(true);
          if (/TOKEN|PASSWORD|KEY|DATABASE_URL/.test(e.name))
            expect(e.valueFrom?.secretKeyRef?.name, e.name).toBe('workemon-secrets');
        }
        for (const from of c.envFrom ?? []) {
          const cm = find(rendered.overlay, 'ConfigMap', from.configMapRef.name);
          expect(cm, from.configMapRef.name).toBeDefined();
          for (const key of Object.keys(cm!.data)) {
            expect(isKnownKey(known.keys, key), `${s.name}: ConfigMap key ${key}`).toBe(true);
            expect(/TOKEN|PASSWORD|API_KEY/.test(key), `${s.name}: secret ${key} in a ConfigMap`).toBe(false);
          }
          expect(cm!.data.PORT).toBe(String(s.port));
        }
      }
      if (s.db) {
        const init = dep.spec.template.spec.initContainers?.[0];
        expect(init?.command, `${s.name} migrates before serving`).toEqual(['node', 'dist/migrate.js']);
      }
    }
    expect(rendered.overlay.some((o) => o.kind === 'Secret')).toBe(false);
  });

  it('when service URLs are configured, then they point at the in-cluster Service names and ports', () => {
    const cm = find(rendered.overlay, 'ConfigMap', 'secretary-config')!.data;
    expect(cm.GUESSER_URL).toBe('http://guesser:8001');
    expect(cm.SYSTEM_ANALYST_URL).toBe('http://system-analyst:8002');
    expect(cm.COMMUNICATOR_URL).toBe('http://communicator:8003');
    expect(find(rendered.overlay, 'ConfigMap', 'communicator-config')!.data.SECRETARY_URL).toBe(
      'http://secretary:8000',
    );
    expect(cm.LOG_LEVEL).toBe('warn'); // overlay patch applied
  });
});
