/**
 * The only reader of process.env. loadConfig() validates the whole environment at start-up into a frozen,
 * typed Config; a bad value stops start-up with one message naming the variable. Secrets have no defaults.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import type { FeatureSettings } from './domain/projection.js';
import { AccessFeaturesError, FEATURE_KEY, parseAccessFeatures } from './domain/features.js';

const csv = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part.length > 0);

const intFrom = (min: number, max: number) =>
  z
    .string()
    .trim()
    .regex(/^\d+$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));

const httpUrl = z
  .string()
  .trim()
  .url('must be a URL')
  .refine((value) => /^https?:\/\//.test(value), 'must be an http(s) URL');

/** `host:port` (a name, IPv4 or [IPv6]) -> { host, port }. */
const hostPort = z
  .string()
  .trim()
  .regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'each entry must be host:port')
  .transform((value) => {
    const at = value.lastIndexOf(':');
    return { host: value.slice(0, at).replace(/^\[|\]$/g, ''), port: Number(value.slice(at + 1)) };
  })
  .refine((node) => node.port >= 1 && node.port <= 65535, 'each port must be 1-65535');

const bool = z
  .string()
  .trim()
  .toLowerCase()
  .refine((value) => ['true', 'false', '1', '0', 'on', 'off', 'yes', 'no'].includes(value), 'must be true or false')
  .transform((value) => ['true', '1', 'on', 'yes'].includes(value));

// Five fields (minute hour day month weekday) or six (with seconds first), cron characters only.
const cron = z
  .string()
  .trim()
  .refine((value) => /^([0-9*,/?LW#A-Za-z-]+\s+){4,5}[0-9*,/?LW#A-Za-z-]+$/.test(value), 'must be a cron pattern of 5 or 6 fields');

const secret = (label: string, minLength = 16) =>
  z.string().trim().min(minLength, `${label} must be at least ${minLength} characters`);

/** What an entitlement token may do: answer checks, put update-card links in them, follow the change feed. */
export type TokenScope = 'check' | 'links' | 'feed';
export const ALL_TOKEN_SCOPES: readonly TokenScope[] = Object.freeze(['check', 'links', 'feed']);

export interface ApiToken {
  /** Carried by access logs and metrics in place of the token. */
  name: string;
  scopes: readonly TokenScope[];
  token: string;
}

const SCOPED_TOKEN = /^([A-Za-z0-9_.-]{1,40}):((?:check|links|feed)(?:\+(?:check|links|feed))*):(.*)$/;

/**
 * `name:scope+scope:token` entries, or bare tokens (every scope, named `token-<position>`), so a
 * configuration written before scopes existed keeps meaning what it meant.
 */
const apiTokens = z
  .string()
  .transform(csv)
  .pipe(z.array(z.string()).min(1, 'at least one token is required'))
  .transform((entries, ctx): ApiToken[] => {
    const tokens = entries.map((entry, index): ApiToken => {
      const scoped = SCOPED_TOKEN.exec(entry);
      if (!scoped) return { name: `token-${index + 1}`, scopes: ALL_TOKEN_SCOPES, token: entry };
      return { name: scoped[1]!, scopes: Object.freeze([...new Set(scoped[2]!.split('+') as TokenScope[])]), token: scoped[3]!.trim() };
    });
    tokens.forEach((token, index) => {
      if (token.token.length < 16) ctx.addIssue({ code: 'custom', message: `token ${index + 1} (${token.name}) must be at least 16 characters` });
    });
    if (new Set(tokens.map((t) => t.name)).size !== tokens.length) ctx.addIssue({ code: 'custom', message: 'token names must be unique' });
    if (new Set(tokens.map((t) => t.token)).size !== tokens.length) ctx.addIssue({ code: 'custom', message: 'each token must be different' });
    return tokens;
  });

const schema = z.object({
  PORT: intFrom(0, 65535).default(3000),
  HTTP_MAX_CONNECTIONS: intFrom(1, 1_000_000).default(2000),
  HTTP_HEADERS_TIMEOUT_MS: intFrom(1000, 600_000).default(10_000),
  HTTP_REQUEST_TIMEOUT_MS: intFrom(1000, 3_600_000).default(30_000),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: intFrom(1000, 3_600_000).default(65_000),
  REDIS_URL: z
    .string()
    .trim()
    .default('redis://127.0.0.1:6379')
    .refine((value) => /^rediss?:\/\//.test(value), 'must be a redis:// or rediss:// URL'),
  REDIS_CLUSTER_NODES: z.string().transform(csv).pipe(z.array(hostPort).min(1, 'at least one host:port seed node is required')).optional(),
  REDIS_SENTINELS: z.string().transform(csv).pipe(z.array(hostPort).min(1, 'at least one host:port sentinel is required')).optional(),
  REDIS_SENTINEL_NAME: z.string().trim().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be the name the sentinels monitor (letters, digits, _ . -)').optional(),
  REDIS_ACK_REPLICAS: intFrom(0, 16).default(0),
  // Below the API connection's 1.5 s command timeout, so the WAIT answers before the command is abandoned.
  REDIS_ACK_TIMEOUT_MS: intFrom(10, 1000).default(500),
  REDIS_KEY_PREFIX: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9_.-]+$/, 'letters, digits, _ . - only (no ":")')
    .default('subgate'),
  STRIPE_SECRET_KEY: z
    .string()
    .trim()
    .regex(/^(sk|rk)_(test|live)_[A-Za-z0-9_]+$/, 'must be a Stripe secret or restricted key (sk_… or rk_…)'),
  STRIPE_API_BASE: httpUrl.optional(),
  STRIPE_API_RATE_LIMIT: intFrom(1, 10_000).default(20),
  STRIPE_WEBHOOK_SECRET: z
    .string()
    .transform(csv)
    .pipe(
      z
        .array(z.string().regex(/^whsec_[A-Za-z0-9+/=_-]{8,}$/, 'each secret must look like whsec_…'))
        .min(1, 'at least one whsec_ secret is required'),
    ),
  ENTITLEMENT_API_TOKENS: apiTokens,
  ADMIN_TOKEN: secret('ADMIN_TOKEN').optional(),
  METRICS_TOKEN: secret('METRICS_TOKEN').optional(),
  METRICS_PORT: intFrom(0, 65535).optional(),
  ADMIN_SESSION_TTL_MINUTES: intFrom(5, 7 * 24 * 60).default(480),
  ADMIN_LOGIN_MAX_FAILURES: intFrom(1, 1000).default(10),
  ADMIN_LOGIN_WINDOW_MINUTES: intFrom(1, 1440).default(15),
  TIMELINE_MAX_ENTRIES: intFrom(10, 100_000).default(500),
  TIMELINE_MAX_AGE_DAYS: intFrom(1, 3660).default(180),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  OTEL_SERVICE_NAME: z.string().trim().min(1).max(100).default('subgate'),
  PUBLIC_BASE_URL: httpUrl.default('http://localhost:3000'),
  LINK_SIGNING_SECRET: secret('LINK_SIGNING_SECRET', 32).optional(),
  SMTP_URL: z
    .string()
    .trim()
    .refine((value) => /^smtps?:\/\//.test(value), 'must be an smtp:// or smtps:// URL')
    .optional(),
  NOTICE_FROM: z.string().trim().min(3).default('Subscriptions <subscriptions@localhost>'),
  CARD_EXPIRY_NOTICE_DAYS: z
    .string()
    .default('30,7')
    .transform(csv)
    .pipe(z.array(intFrom(1, 366)).min(1))
    .transform((days) => [...new Set(days)].sort((a, b) => b - a)),
  CARD_EXPIRED_GRACE_DAYS: intFrom(0, 366).default(0),
  CARD_EXPIRY_SWEEP_CRON: cron.default('17 3 * * *'),
  PUBLISHER_NAME: z.string().trim().min(1).max(100).default('Subscriptions'),
  SUPPORT_EMAIL: z.string().trim().regex(/^[^\s@<>]+@[^\s@<>]+$/, 'must be an e-mail address').optional(),
  PUBLISHER_RETURN_URL: httpUrl.optional(),
  UPDATE_CARD_LINK_TTL_DAYS: intFrom(1, 90).default(14),
  UPDATE_CARD_SESSION_LIMIT: intFrom(1, 100).default(3),
  UPDATE_CARD_SESSION_WINDOW_MINUTES: intFrom(1, 1440).default(10),
  // Stripe expires a portal session the reader has not opened after about five minutes.
  UPDATE_CARD_SESSION_REUSE_SECONDS: intFrom(0, 300).default(240),
  NOTICE_RATE_LIMIT: intFrom(1, 10_000).default(10),
  NEW_CARD_RECOVERY: bool.default(true),
  ENTITLEMENT_STREAM_MAXLEN: intFrom(100, 100_000_000).default(100_000),
  ENTITLEMENT_FEED_MAX_REPLAY: intFrom(0, 100_000_000).default(10_000),
  ENTITLEMENT_FEED_MAX_CONNECTIONS_PER_TOKEN: intFrom(1, 1_000_000).default(50),
  ENTITLEMENT_FEED_MAX_CONNECTIONS: intFrom(1, 1_000_000).default(1_000),
  PAST_DUE_GRACE_DAYS: intFrom(0, 366).default(7),
  USER_ID_METADATA_KEY: z.string().trim().min(1).max(40).default('user_id'),
  ACCESS_FEATURES_SOURCE: z.enum(['none', 'config', 'stripe'], 'must be none, config or stripe').default('none'),
  DEFAULT_FEATURE: z.string().trim().regex(FEATURE_KEY, 'must be a feature key (lowercase letters, digits, _ . -; at most 64)').default('content'),
  ACCESS_FEATURES: z.string().optional(),
  PRODUCT_FEATURES_TTL_S: intFrom(60, 7 * 86_400).default(3600),
  SYNC_DEBOUNCE_MS: intFrom(0, 60_000).default(500),
  WORKER_CONCURRENCY: intFrom(1, 1000).default(8),
  EVENT_RECOVERY_INTERVAL_MINUTES: intFrom(1, 1440).default(15),
  SHUTDOWN_TIMEOUT_MS: intFrom(1000, 600_000).default(25_000),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type Config = Readonly<{
  port: number;
  /** Limits of the API's node:http server (src/http/server-limits.ts). */
  http: Readonly<{ maxConnections: number; headersTimeoutMs: number; requestTimeoutMs: number; keepAliveTimeoutMs: number }>;
  redisUrl: string;
  /**
   * Where Redis is and how a write counts as durable. `url` alone: one server. With `clusterNodes` every
   * connection is a Redis Cluster client (the URL's user, password and TLS still apply, its host and db do
   * not); with `sentinels` the URL's host is replaced by the primary the sentinels name. `ackReplicas` > 0
   * makes a webhook's 2xx wait (WAIT) until that many replicas hold the event, up to `ackTimeoutMs`.
   */
  redis: RedisTopology;
  redisKeyPrefix: string;
  stripe: Readonly<{ secretKey: string; apiBase: string | undefined; rateLimitPerSecond: number }>;
  webhookSecrets: readonly string[];
  entitlementTokens: readonly ApiToken[];
  adminToken: string | undefined;
  metricsToken: string | undefined;
  /** Where a worker process serves its own /metrics (the API serves its own on PORT); unset: none. */
  metricsPort: number | undefined;
  /** Browser sessions of /admin: how long one lasts, and the failed logins one address may make per window. */
  adminSessions: Readonly<{ ttlMs: number; maxLoginFailures: number; loginWindowMs: number }>;
  /** Each reader's story (the admin customer page): at most this many entries, none older than this. */
  timeline: Readonly<{ maxEntries: number; maxAgeMs: number }>;
  /** OpenTelemetry: traces are exported only when an OTLP endpoint is set. */
  otel: Readonly<{ endpoint: string | undefined; serviceName: string }>;
  publicBaseUrl: string;
  linkSigningSecret: string | undefined;
  smtpUrl: string | undefined;
  noticeFrom: string;
  cardExpiryNoticeDays: readonly number[];
  cardExpirySweepCron: string;
  publisherName: string;
  supportEmail: string;
  publisherReturnUrl: string | undefined;
  updateCardLinkTtlDays: number;
  /** Billing Portal sessions an update-card link may open per customer: `limit` per `windowMs`, each reused for `reuseMs`. */
  updateCardSessions: Readonly<{ limit: number; windowMs: number; reuseMs: number }>;
  noticeRateLimitPerSecond: number;
  newCardRecovery: boolean;
  entitlementStreamMaxLength: number;
  /** The change feed: the longest replay a resume gets (entries) and the open streams per token and per process. */
  feed: Readonly<{ maxReplay: number; maxConnectionsPerToken: number; maxConnections: number }>;
  /** `features` is left out when it says what no configuration says (source none, feature `content`). */
  policy: Readonly<{ cardExpiredGraceDays: number; pastDueGraceDays: number; features?: FeatureSettings }>;
  /** How long a product's catalog entry (name, Stripe features) is used before it is read again, ms. */
  productFeaturesTtlMs: number;
  userIdMetadataKey: string;
  syncDebounceMs: number;
  workerConcurrency: number;
  eventRecoveryIntervalMinutes: number;
  shutdownTimeoutMs: number;
  logLevel: string;
}>;

export interface RedisNode {
  host: string;
  port: number;
}

export type RedisTopology = Readonly<{
  url: string;
  clusterNodes: readonly RedisNode[] | null;
  sentinels: readonly RedisNode[] | null;
  sentinelName: string | null;
  ackReplicas: number;
  ackTimeoutMs: number;
}>;

/** The values .env.example ships with. */
const PLACEHOLDER_STRIPE_KEYS = new Set(['sk_test_replace_me']);
const PLACEHOLDER_WEBHOOK_SECRETS = new Set(['whsec_replace_me']);

export type { FeatureSettings };

export class ConfigError extends Error {
  constructor(readonly variable: string, detail: string) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.name = 'ConfigError';
  }
}

/** The bare address of a "Name <address>" sender, for the support address when none is given. */
function addressOf(from: string): string {
  return /<([^<>]+)>/.exec(from)?.[1]?.trim() ?? from.trim();
}

/** Validates `env` (empty strings count as unset, so `FOO=` in an env file falls back to the default). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = env[key];
    if (value !== undefined && value.trim() !== '') input[key] = value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = String(issue?.path[0] ?? 'environment');
    const detail = input[variable] === undefined ? 'is required' : (issue?.message ?? 'is invalid');
    throw new ConfigError(variable, detail);
  }
  const e = parsed.data;
  // .env.example's placeholders can never work against Stripe: say so once, rather than start and have
  // every refresh and every event-recovery run fail against Stripe with an authentication error.
  if (PLACEHOLDER_STRIPE_KEYS.has(e.STRIPE_SECRET_KEY) && !e.STRIPE_API_BASE) {
    throw new ConfigError('STRIPE_SECRET_KEY', 'is the placeholder from .env.example: set your Stripe secret key (sk_test_… from the Stripe dashboard), or STRIPE_API_BASE for a local test double');
  }
  if (e.STRIPE_WEBHOOK_SECRET.some((value) => PLACEHOLDER_WEBHOOK_SECRETS.has(value))) {
    throw new ConfigError('STRIPE_WEBHOOK_SECRET', 'is the placeholder from .env.example: set the whsec_… of your webhook endpoint (or the one `stripe listen` prints)');
  }
  // Feed streams hold their sockets for hours: if they could take every connection the server allows,
  // checks and webhooks would find the door shut.
  if (e.ENTITLEMENT_FEED_MAX_CONNECTIONS >= e.HTTP_MAX_CONNECTIONS) {
    const variable = input.ENTITLEMENT_FEED_MAX_CONNECTIONS === undefined ? 'HTTP_MAX_CONNECTIONS' : 'ENTITLEMENT_FEED_MAX_CONNECTIONS';
    throw new ConfigError(variable, `must leave ENTITLEMENT_FEED_MAX_CONNECTIONS (${e.ENTITLEMENT_FEED_MAX_CONNECTIONS}) below HTTP_MAX_CONNECTIONS (${e.HTTP_MAX_CONNECTIONS})`);
  }
  if (e.HTTP_HEADERS_TIMEOUT_MS > e.HTTP_REQUEST_TIMEOUT_MS) {
    const variable = input.HTTP_REQUEST_TIMEOUT_MS === undefined ? 'HTTP_HEADERS_TIMEOUT_MS' : 'HTTP_REQUEST_TIMEOUT_MS';
    throw new ConfigError(variable, `must leave HTTP_HEADERS_TIMEOUT_MS (${e.HTTP_HEADERS_TIMEOUT_MS}) at most HTTP_REQUEST_TIMEOUT_MS (${e.HTTP_REQUEST_TIMEOUT_MS})`);
  }
  if (e.REDIS_CLUSTER_NODES && e.REDIS_SENTINELS) {
    throw new ConfigError('REDIS_SENTINELS', 'cannot be combined with REDIS_CLUSTER_NODES: a Redis Cluster fails over by itself, set one or the other');
  }
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_NAME) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS (the name of the primary the sentinels monitor)');
  }
  if (e.REDIS_SENTINEL_NAME && !e.REDIS_SENTINELS) {
    throw new ConfigError('REDIS_SENTINELS', 'is required with REDIS_SENTINEL_NAME (host:port of each sentinel)');
  }
  if (e.REDIS_CLUSTER_NODES && /^rediss?:\/\/[^/]*\/[1-9]/.test(e.REDIS_URL)) {
    throw new ConfigError('REDIS_URL', 'names a database other than 0, which a Redis Cluster does not have (REDIS_CLUSTER_NODES is set)');
  }
  const features = featureSettingsFrom(e.ACCESS_FEATURES_SOURCE, e.DEFAULT_FEATURE, e.ACCESS_FEATURES);
  return Object.freeze({
    port: e.PORT,
    http: Object.freeze({
      maxConnections: e.HTTP_MAX_CONNECTIONS,
      headersTimeoutMs: e.HTTP_HEADERS_TIMEOUT_MS,
      requestTimeoutMs: e.HTTP_REQUEST_TIMEOUT_MS,
      keepAliveTimeoutMs: e.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    }),
    redisUrl: e.REDIS_URL,
    redis: Object.freeze({
      url: e.REDIS_URL,
      clusterNodes: e.REDIS_CLUSTER_NODES ? Object.freeze(e.REDIS_CLUSTER_NODES.map((node) => Object.freeze(node))) : null,
      sentinels: e.REDIS_SENTINELS ? Object.freeze(e.REDIS_SENTINELS.map((node) => Object.freeze(node))) : null,
      sentinelName: e.REDIS_SENTINEL_NAME ?? null,
      ackReplicas: e.REDIS_ACK_REPLICAS,
      ackTimeoutMs: e.REDIS_ACK_TIMEOUT_MS,
    }),
    redisKeyPrefix: e.REDIS_KEY_PREFIX,
    stripe: Object.freeze({
      secretKey: e.STRIPE_SECRET_KEY,
      apiBase: e.STRIPE_API_BASE,
      rateLimitPerSecond: e.STRIPE_API_RATE_LIMIT,
    }),
    webhookSecrets: Object.freeze(e.STRIPE_WEBHOOK_SECRET),
    entitlementTokens: Object.freeze(e.ENTITLEMENT_API_TOKENS.map((token) => Object.freeze(token))),
    adminToken: e.ADMIN_TOKEN,
    metricsToken: e.METRICS_TOKEN,
    metricsPort: e.METRICS_PORT,
    adminSessions: Object.freeze({
      ttlMs: e.ADMIN_SESSION_TTL_MINUTES * 60_000,
      maxLoginFailures: e.ADMIN_LOGIN_MAX_FAILURES,
      loginWindowMs: e.ADMIN_LOGIN_WINDOW_MINUTES * 60_000,
    }),
    timeline: Object.freeze({ maxEntries: e.TIMELINE_MAX_ENTRIES, maxAgeMs: e.TIMELINE_MAX_AGE_DAYS * 86_400_000 }),
    otel: Object.freeze({ endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: e.OTEL_SERVICE_NAME }),
    publicBaseUrl: e.PUBLIC_BASE_URL.replace(/\/+$/, ''),
    linkSigningSecret: e.LINK_SIGNING_SECRET,
    smtpUrl: e.SMTP_URL,
    noticeFrom: e.NOTICE_FROM,
    cardExpiryNoticeDays: Object.freeze(e.CARD_EXPIRY_NOTICE_DAYS),
    cardExpirySweepCron: e.CARD_EXPIRY_SWEEP_CRON,
    publisherName: e.PUBLISHER_NAME,
    supportEmail: e.SUPPORT_EMAIL ?? addressOf(e.NOTICE_FROM),
    publisherReturnUrl: e.PUBLISHER_RETURN_URL,
    updateCardLinkTtlDays: e.UPDATE_CARD_LINK_TTL_DAYS,
    updateCardSessions: Object.freeze({
      limit: e.UPDATE_CARD_SESSION_LIMIT,
      windowMs: e.UPDATE_CARD_SESSION_WINDOW_MINUTES * 60_000,
      reuseMs: e.UPDATE_CARD_SESSION_REUSE_SECONDS * 1000,
    }),
    noticeRateLimitPerSecond: e.NOTICE_RATE_LIMIT,
    newCardRecovery: e.NEW_CARD_RECOVERY,
    entitlementStreamMaxLength: e.ENTITLEMENT_STREAM_MAXLEN,
    feed: Object.freeze({
      maxReplay: e.ENTITLEMENT_FEED_MAX_REPLAY,
      maxConnectionsPerToken: e.ENTITLEMENT_FEED_MAX_CONNECTIONS_PER_TOKEN,
      maxConnections: e.ENTITLEMENT_FEED_MAX_CONNECTIONS,
    }),
    policy: Object.freeze({
      cardExpiredGraceDays: e.CARD_EXPIRED_GRACE_DAYS,
      pastDueGraceDays: e.PAST_DUE_GRACE_DAYS,
      ...(features.source === 'none' && features.defaultFeature === 'content' ? {} : { features }),
    }),
    productFeaturesTtlMs: e.PRODUCT_FEATURES_TTL_S * 1000,
    userIdMetadataKey: e.USER_ID_METADATA_KEY,
    syncDebounceMs: e.SYNC_DEBOUNCE_MS,
    workerConcurrency: e.WORKER_CONCURRENCY,
    eventRecoveryIntervalMinutes: e.EVENT_RECOVERY_INTERVAL_MINUTES,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    logLevel: e.LOG_LEVEL,
  });
}

/** ACCESS_FEATURES is the map of the `config` source: required there, refused elsewhere (it would be ignored). */
function featureSettingsFrom(source: FeatureSettings['source'], defaultFeature: string, text: string | undefined): FeatureSettings {
  if (source !== 'config') {
    if (text !== undefined) throw new ConfigError('ACCESS_FEATURES', `is only read with ACCESS_FEATURES_SOURCE=config (it is ${source})`);
    return Object.freeze({ source, defaultFeature, map: Object.freeze({}) });
  }
  if (text === undefined) throw new ConfigError('ACCESS_FEATURES', 'is required with ACCESS_FEATURES_SOURCE=config');
  let map: Record<string, string[]>;
  try {
    map = parseAccessFeatures(text);
  } catch (err) {
    if (err instanceof AccessFeaturesError) throw new ConfigError('ACCESS_FEATURES', err.message);
    throw err;
  }
  if (Object.keys(map).length === 0) throw new ConfigError('ACCESS_FEATURES', 'names no entry');
  for (const features of Object.values(map)) Object.freeze(features);
  return Object.freeze({ source, defaultFeature, map: Object.freeze(map) });
}

/**
 * loadConfig(), or one line naming the bad variable on stderr and exit 1: what every entry point calls. A
 * `.env` in the working directory is read first, for `npm start` on a laptop; variables already set in
 * the environment win.
 */
export function loadConfigOrExit(): Config {
  try {
    if (existsSync('.env')) process.loadEnvFile('.env');
    return loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
}
