/**
 * What the platform team loads into its own tools, checked against what subgate really exports: the
 * Grafana dashboard (deploy/grafana/subgate.json) against a JSON schema of the parts Grafana needs, every
 * expression naming only metrics subgate's registry has; the Prometheus rules (deploy/prometheus/
 * alerts.yml) with `promtool check rules` where promtool is installed, and always parsed and checked the
 * same way. And the worker process, on its own, serves its /metrics on METRICS_PORT.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import type { Queue } from 'bullmq';
import { createMetrics } from '../../src/metrics/metrics.js';
import { REPO_ROOT, startSubgate, type SubgateProcess } from '../support/processes.js';
import { startStripeDouble, type StripeDouble } from '../support/stripe-double.js';
import { cleanupPrefix, createTestRedis, testRedisUrl, uniquePrefix } from '../support/redis.js';

/** Every metric one process can export, by name and type (default process metrics included). */
async function exportedMetrics(): Promise<Map<string, string>> {
  const queue = { name: 'stripe-events', getJobCounts: async () => ({}) } as unknown as Queue;
  const metrics = createMetrics({ clock: { now: () => 0 }, queues: [queue], eventCounts: async () => ({}), noticeCounts: async () => ({}), defaultMetrics: true });
  const json = await metrics.registry.getMetricsAsJSON();
  return new Map(json.map((m) => [m.name, String(m.type)]));
}

/** The metric names an expression uses (`_bucket`/`_sum`/`_count` of a histogram named by its base). */
function metricsIn(expr: string, known: Map<string, string>): string[] {
  const names = [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\s*(?=\{|\[|\)|$|\s)/g)].map((m) => m[1]!);
  const functions = new Set(['sum', 'max', 'min', 'avg', 'rate', 'increase', 'delta', 'histogram_quantile', 'by', 'without', 'or', 'and', 'unless', 'count', 'abs']);
  return names
    .filter((name) => !functions.has(name) && !/^(le|stage|queue|state|status|outcome|problem|step|kind|action)$/.test(name))
    .map((name) => {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      return base !== name && known.get(base) === 'histogram' ? base : name;
    });
}

function balanced(expr: string): boolean {
  const pairs: Record<string, string> = { ')': '(', ']': '[', '}': '{' };
  const stack: string[] = [];
  let quoted = false;
  for (const c of expr) {
    if (c === '"') quoted = !quoted;
    if (quoted) continue;
    if ('([{'.includes(c)) stack.push(c);
    else if (c in pairs && stack.pop() !== pairs[c]) return false;
  }
  return stack.length === 0 && !quoted;
}

const DASHBOARD_SCHEMA = {
  type: 'object',
  required: ['uid', 'title', 'schemaVersion', 'panels', 'templating', 'time'],
  properties: {
    uid: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,40}$' },
    title: { type: 'string', minLength: 1 },
    schemaVersion: { type: 'integer', minimum: 30 },
    templating: {
      type: 'object',
      required: ['list'],
      properties: { list: { type: 'array', contains: { type: 'object', required: ['name', 'type'], properties: { name: { const: 'datasource' }, type: { const: 'datasource' } } } } },
    },
    panels: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: ['id', 'type', 'title', 'gridPos', 'targets', 'datasource'],
        properties: {
          id: { type: 'integer', minimum: 1 },
          type: { enum: ['timeseries', 'stat', 'gauge', 'table', 'bargauge', 'heatmap'] },
          title: { type: 'string', minLength: 1 },
          datasource: { type: 'object', required: ['type', 'uid'], properties: { type: { const: 'prometheus' }, uid: { const: '${datasource}' } } },
          gridPos: {
            type: 'object',
            required: ['x', 'y', 'w', 'h'],
            properties: { x: { type: 'integer', minimum: 0, maximum: 23 }, y: { type: 'integer', minimum: 0 }, w: { type: 'integer', minimum: 1, maximum: 24 }, h: { type: 'integer', minimum: 1 } },
          },
          targets: {
            type: 'array',
            minItems: 1,
            items: { type: 'object', required: ['refId', 'expr'], properties: { refId: { type: 'string' }, expr: { type: 'string', minLength: 1 } } },
          },
        },
      },
    },
  },
};

describe('deploy configuration', () => {
  test('the Grafana dashboard is well formed and graphs only metrics subgate exports', async () => {
    const dashboard = JSON.parse(readFileSync(join(REPO_ROOT, 'deploy', 'grafana', 'subgate.json'), 'utf8')) as {
      panels: Array<{ id: number; title: string; gridPos: { x: number; w: number }; targets: Array<{ expr: string }> }>;
    };
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validate = ajv.compile(DASHBOARD_SCHEMA);
    assert.ok(validate(dashboard), ajv.errorsText(validate.errors));
    assert.equal(new Set(dashboard.panels.map((p) => p.id)).size, dashboard.panels.length, 'panel ids are unique');
    for (const panel of dashboard.panels) assert.ok(panel.gridPos.x + panel.gridPos.w <= 24, `${panel.title} fits the 24-column grid`);

    const known = await exportedMetrics();
    const used = new Set<string>();
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        assert.ok(balanced(expr), `${panel.title}: brackets balance in ${expr}`);
        for (const name of metricsIn(expr, known)) {
          assert.ok(known.has(name), `${panel.title}: ${name} is exported by subgate`);
          used.add(name);
        }
      }
    }
    // What the platform team asked to see.
    for (const name of [
      'subgate_webhooks_total',
      'subgate_event_lag_seconds',
      'subgate_queue_jobs',
      'subgate_stripe_requests_total',
      'subgate_entitlement_answers_total',
      'subgate_notices_total',
      'subgate_recovery_funnel_steps_total',
      'subgate_recovery_restore_seconds',
    ]) {
      assert.ok(used.has(name), `the dashboard graphs ${name}`);
    }
  });

  test('the alert rules parse, name only exported metrics, and cover what must page', async () => {
    const file = join(REPO_ROOT, 'deploy', 'prometheus', 'alerts.yml');
    const promtool = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (promtool.status === 0) execFileSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });

    const rules = parseYaml(readFileSync(file, 'utf8')) as { groups: Array<{ name: string; rules: Array<Record<string, unknown>> }> };
    assert.ok(Array.isArray(rules.groups) && rules.groups.length > 0);
    const known = await exportedMetrics();
    // Prometheus's own series for a target it cannot scrape.
    known.set('up', 'gauge');
    const alerts: string[] = [];
    for (const group of rules.groups) {
      assert.equal(typeof group.name, 'string');
      for (const rule of group.rules) {
        const name = String(rule.alert);
        alerts.push(name);
        assert.match(name, /^[A-Z][A-Za-z0-9]+$/);
        assert.equal(typeof rule.expr, 'string', `${name} has an expression`);
        const expr = rule.expr as string;
        assert.ok(balanced(expr), `${name}: brackets balance`);
        assert.match(expr, /[<>=]=?\s*\d/, `${name} compares against a threshold`);
        for (const metric of metricsIn(expr, known)) assert.ok(known.has(metric), `${name}: ${metric} is exported`);
        assert.match(String(rule.for), /^\d+[smh]$/, `${name} waits before firing`);
        assert.ok(['warning', 'critical'].includes(String((rule.labels as Record<string, unknown>)?.severity)), `${name} has a severity`);
        assert.ok(String((rule.annotations as Record<string, unknown>)?.summary ?? '').length > 10, `${name} says what is wrong`);
      }
    }
    assert.equal(new Set(alerts).size, alerts.length, 'alert names are unique');
    for (const name of ['SubgateEventLagHigh', 'SubgateJobsFailing', 'SubgateNoticesFailing', 'SubgateRedisDown', 'SubgateStripeRateLimited']) {
      assert.ok(alerts.includes(name), `${name} is defined`);
    }
  });

  test('the checks above do catch a metric subgate does not export', async () => {
    const known = await exportedMetrics();
    assert.deepEqual(metricsIn('sum(rate(subgate_no_such_thing_total[5m]))', known).filter((m) => !known.has(m)), ['subgate_no_such_thing_total']);
    assert.equal(balanced('sum(rate(x[5m])'), false);
  });
});

describe('the worker process serves its own /metrics on METRICS_PORT', () => {
  let stripe: StripeDouble;
  let worker: SubgateProcess;
  const prefix = uniquePrefix('worker-metrics');
  const METRICS_TOKEN = 'worker-scrape-token-0123456789';
  before(async () => {
    stripe = await startStripeDouble();
    worker = await startSubgate('worker', {
      REDIS_URL: testRedisUrl(),
      REDIS_KEY_PREFIX: prefix,
      STRIPE_SECRET_KEY: 'sk_test_worker_metrics',
      STRIPE_API_BASE: stripe.url,
      STRIPE_WEBHOOK_SECRET: 'whsec_worker_metrics_0001',
      ENTITLEMENT_API_TOKENS: 'worker-metrics-entitlement-token',
      METRICS_PORT: '0',
      METRICS_TOKEN,
      LOG_LEVEL: 'info',
    });
  });
  after(async () => {
    await worker?.stop(10_000);
    await stripe?.close();
    const redis = createTestRedis();
    await cleanupPrefix(redis, prefix).catch(() => undefined);
    await redis.quit();
  });

  test('scraped with the token: the worker\'s figures; without it: 401; SIGTERM closes it cleanly', async () => {
    const port = Number(worker.logsWith('metrics listening')[0]?.json?.port);
    assert.ok(port > 0, worker.tail());
    const base = `http://127.0.0.1:${port}`;
    const anonymous = await fetch(`${base}/metrics`);
    assert.equal(anonymous.status, 401);
    const scraped = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
    assert.equal(scraped.status, 200);
    const text = await scraped.text();
    assert.match(text, /# TYPE subgate_job_duration_seconds histogram/);
    assert.match(text, /subgate_queue_jobs\{queue="customer-sync",state="waiting"\} 0/);
    assert.match(text, /# TYPE subgate_recovery_funnel_steps_total counter/);
    assert.match(text, /subgate_process_cpu_seconds_total/);
    assert.equal((await fetch(`${base}/healthz`)).status, 200);
    assert.equal((await fetch(`${base}/v1/entitlements`)).status, 404, 'nothing but metrics and health here');
    const exit = await worker.stop(15_000);
    assert.equal(exit.code, 0, worker.tail());
  });
});
