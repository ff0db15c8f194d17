/**
 * A seeded generator of mutated Stripe webhook deliveries: header mutations, body mutations (many of
 * them validly signed), encodings, nesting, huge ids, duplicated `t=`, replays, oversize bodies, odd
 * paths and content types. Each case says what a correct endpoint must do with it:
 *   'valid'   a correctly signed, well-formed event: 2xx (or 503), and then it is durable;
 *   'invalid' must be refused with a 4xx, never a 2xx;
 *   'either'  acceptable both ways (a 2xx must then be durable).
 * Case i is built from its own generator seeded by (seed, i), so one case can be rebuilt on its own.
 */
import { gzipSync } from 'node:zlib';
import { seededRandom } from '../../bench/lib/fixtures.js';
import type { StripeDouble } from './stripe-double.js';
import type { RawDelivery } from './webhook-flood.js';

export type Expectation = 'valid' | 'invalid' | 'either';

export interface FuzzCase {
  index: number;
  /** The mutation class, e.g. 'header/duplicated-t (future last)'. */
  kind: string;
  expect: Expectation;
  delivery: RawDelivery;
  /** The event id a 2xx must have made durable (for 'valid' and 'either'). */
  eventId: string | null;
}

export interface FuzzContext {
  stripe: StripeDouble;
  secret: string;
  /** Another configured secret (rotation): signing with it is valid too. */
  oldSecret: string;
  customerIds: readonly string[];
}

const YEAR_S = 365 * 86_400;
const JSON_TYPE = 'application/json';

type Rng = () => number;
const int = (rng: Rng, min: number, max: number) => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;

/** A generator for `seed`; cases may replay earlier ones, so build them in order. */
export function createWebhookFuzzer(ctx: FuzzContext, seed: number) {
  const validSoFar: Array<{ delivery: RawDelivery; eventId: string; signedAt: number }> = [];
  const now = () => Math.floor(Date.now() / 1000);

  // The SDK signs and verifies the body as a string: a Buffer counts as its UTF-8 decoding.
  const sign = (payload: string | Buffer, opts: { secret?: string; timestamp?: number } = {}) =>
    ctx.stripe.signPayload(payload.toString(), opts.secret ?? ctx.secret, { timestamp: opts.timestamp ?? now() });

  const eventObject = (rng: Rng): Record<string, unknown> => {
    const customer = ctx.customerIds.length > 0 && rng() < 0.8 ? pick(rng, ctx.customerIds) : `cus_fuzz${int(rng, 0, 1e9)}`;
    const type = pick(rng, ['customer.updated', 'customer.subscription.updated', 'payment_method.attached', 'invoice.paid', 'charge.failed', 'fuzz.unknown']);
    const object =
      type === 'customer.updated'
        ? { id: customer, object: 'customer', email: null, metadata: {} }
        : { id: `obj_fuzz${int(rng, 0, 1e9)}`, object: type.split('.')[0], customer };
    return ctx.stripe.makeEvent(type, object) as unknown as Record<string, unknown>;
  };
  const json = (value: unknown) => JSON.stringify(value, null, 2);
  const signedJson = (body: string | Buffer, extra: Record<string, string> = {}, opts: { secret?: string; timestamp?: number } = {}): RawDelivery => ({
    headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': sign(body, opts), ...extra },
    body,
  });
  const nested = (depth: number): unknown => {
    let value: unknown = 'bottom';
    for (let i = 0; i < depth; i++) value = { n: value };
    return value;
  };

  /** Each mutation builds one case from a fresh event; weights are rough shares of the run. */
  const mutations: Array<[number, (rng: Rng) => Omit<FuzzCase, 'index'>]> = [
    [18, (rng) => {
      const event = eventObject(rng);
      return { kind: 'valid', expect: 'valid', delivery: signedJson(json(event)), eventId: String(event.id) };
    }],
    [4, (rng) => {
      const event = eventObject(rng);
      return { kind: 'valid/old secret (rotation)', expect: 'valid', delivery: signedJson(json(event), {}, { secret: ctx.oldSecret }), eventId: String(event.id) };
    }],
    [3, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const header = `${sign(body)},v1=${'0'.repeat(64)},v0=${'f'.repeat(64)}`;
      return { kind: 'valid/extra signatures', expect: 'valid', delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': header }, body }, eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      return { kind: 'valid/header name case', expect: 'valid', delivery: { headers: { 'content-type': JSON_TYPE, 'STRIPE-SIGNATURE': sign(body) }, body }, eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const body = JSON.stringify(event);
      return { kind: 'valid/compact JSON', expect: 'valid', delivery: signedJson(body), eventId: String(event.id) };
    }],
    [3, (rng) => {
      const event = eventObject(rng);
      (event.data as Record<string, Record<string, unknown>>).object!.note = pick(rng, ['é中文🙂', '\u0000nul', '\u202eRTL', 'a'.repeat(5000), '"quoted" \\ back', 'lone \ud800 surrogate']);
      return { kind: 'valid/odd strings', expect: 'valid', delivery: signedJson(json(event)), eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const body = json(event).replace('{', '{\n  "__proto__": {"polluted": true},\n  "constructor": {"prototype": {"x": 1}},');
      return { kind: 'valid/prototype keys', expect: 'valid', delivery: signedJson(body), eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      (event.data as Record<string, Record<string, unknown>>).object!.deep = nested(int(rng, 20, 100));
      return { kind: 'valid/nested 20-100', expect: 'either', delivery: signedJson(json(event)), eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      (event.data as Record<string, Record<string, unknown>>).object!.deep = 'DEEP';
      // Written as text: JSON.stringify itself runs out of stack at this depth.
      const body = JSON.stringify(event).replace('"DEEP"', `${'{"n":'.repeat(10_000)}"bottom"${'}'.repeat(10_000)}`);
      return { kind: 'body/nested 10,000 deep (signed)', expect: 'either', delivery: signedJson(body), eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const variant = pick<[string, unknown]>(rng, [
        ['data.object an array', [{ id: 'cus_x' }]],
        ['data.object with 20,000 keys', Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, i]))],
        ['data.object empty', {}],
      ]);
      (event.data as Record<string, unknown>).object = variant[1];
      return { kind: `body/${variant[0]} (signed)`, expect: 'either', delivery: signedJson(json(event)), eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const object = (event.data as Record<string, Record<string, unknown>>).object!;
      const huge = `cus_${'x'.repeat(int(rng, 1000, 200_000))}`;
      if ('customer' in object) object.customer = huge;
      else object.id = huge;
      return { kind: 'body/huge customer id (signed)', expect: 'either', delivery: signedJson(json(event)), eventId: String(event.id) };
    }],
    [3, (rng) => {
      const event = eventObject(rng);
      const id = pick(rng, [`evt_${'a'.repeat(300)}`, 'evt_has:colon', '12345', 'evt_', `evt_${'é'.repeat(10)}`, 'evt_a b', '']);
      return { kind: 'body/bad event id (signed)', expect: 'invalid', delivery: signedJson(json({ ...event, id })), eventId: null };
    }],
    [4, (rng) => {
      const event = eventObject(rng);
      const mutated = pick<[string, unknown]>(rng, [
        ['no type', { ...event, type: undefined }],
        ['type number', { ...event, type: 7 }],
        ['type huge', { ...event, type: 't'.repeat(5000) }],
        ['no data', { ...event, data: undefined }],
        ['data.object null', { ...event, data: { object: null } }],
        ['data string', { ...event, data: 'x' }],
        ['object not event', { ...event, object: 'charge' }],
        ['created string', { ...event, created: 'yesterday' }],
        ['array', [event]],
        ['number', 42],
        ['null', null],
        ['string', 'evt'],
      ]);
      return { kind: `body/not an event: ${mutated[0]} (signed)`, expect: 'invalid', delivery: signedJson(JSON.stringify(mutated[1]) ?? ''), eventId: null };
    }],
    [4, (rng) => {
      const body = json(eventObject(rng));
      const broken = pick<[string, string | Buffer]>(rng, [
        ['truncated', body.slice(0, int(rng, 1, body.length - 1))],
        ['garbage', Buffer.from(Array.from({ length: int(rng, 1, 300) }, () => int(rng, 0, 255))).toString('binary')],
        ['invalid utf-8', Buffer.concat([Buffer.from('{"id":"evt_'), Buffer.from([0xc3, 0x28, 0xff, 0xfe]), Buffer.from('"}')])],
        ['BOM first', `\ufeff${body}`],
        ['trailing garbage', `${body}}}`],
        ['NaN', body.replace(/"created": \d+/, '"created": NaN')],
      ]);
      return { kind: `body/not JSON: ${broken[0]} (signed)`, expect: 'invalid', delivery: signedJson(broken[1]), eventId: null };
    }],
    [2, () => ({ kind: 'body/empty (signed)', expect: 'invalid', delivery: signedJson(''), eventId: null })],
    [5, (rng) => {
      const body = json(eventObject(rng));
      const header = sign(body);
      const tampered = pick<[string, string]>(rng, [
        ['byte flipped', body.replace('"', "'")],
        ['appended space', `${body} `],
        ['recompacted', JSON.stringify(JSON.parse(body))],
        ['other event', json(eventObject(rng))],
      ]);
      return { kind: `body/changed after signing: ${tampered[0]}`, expect: 'invalid', delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': header }, body: tampered[1] }, eventId: null };
    }],
    [10, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const t = now();
      const v1 = (ts: number, secret = ctx.secret) => /v1=([0-9a-f]+)/.exec(sign(body, { timestamp: ts, secret }))![1]!;
      const header = pick<[string, string | undefined]>(rng, [
        ['missing', undefined],
        ['empty', ''],
        ['spaces', '   '],
        ['garbage', 'not-a-signature'],
        ['wrong secret', sign(body, { secret: 'whsec_not_configured_000' })],
        ['v1 flipped', `t=${t},v1=${v1(t).replace(/^./, (c) => (c === '0' ? '1' : '0'))}`],
        ['v1 truncated', `t=${t},v1=${v1(t).slice(0, 40)}`],
        ['v1 uppercase', `t=${t},v1=${v1(t).toUpperCase()}`],
        ['no t', `v1=${v1(t)}`],
        ['t not a number', `t=abc,v1=${v1(t)}`],
        ['t with suffix', `t=${t}abc,v1=${v1(t)}`],
        ['t negative', `t=-${t},v1=${v1(t)}`],
        ['t too old', sign(body, { timestamp: t - int(rng, 301, 10 * YEAR_S) })],
        ['t future', sign(body, { timestamp: t + int(rng, 301, YEAR_S) })],
        ['v0 only', `t=${t},v0=${v1(t)}`],
        ['only t', `t=${t}`],
      ]);
      const headers: Record<string, string> = { 'Content-Type': JSON_TYPE };
      if (header[1] !== undefined) headers['Stripe-Signature'] = header[1];
      return { kind: `header/${header[0]}`, expect: 'invalid', delivery: { headers, body }, eventId: null };
    }],
    [6, (rng) => {
      // Two t= values, one a year ahead, and a valid v1 for one of them: out of tolerance whichever is read.
      const event = eventObject(rng);
      const body = json(event);
      const t = now();
      const future = t + int(rng, 3600, YEAR_S);
      const v1 = (ts: number) => /v1=([0-9a-f]+)/.exec(sign(body, { timestamp: ts }))![1]!;
      const variant = pick<[string, string]>(rng, [
        ['future last, signed future', `t=${t},t=${future},v1=${v1(future)}`],
        ['future first, signed future', `t=${future},t=${t},v1=${v1(future)}`],
        ['future last, signed now', `t=${t},t=${future},v1=${v1(t)}`],
        ['future first, signed now', `t=${future},t=${t},v1=${v1(t)}`],
      ]);
      return { kind: `header/duplicated t= (${variant[0]})`, expect: 'invalid', delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': variant[1] }, body }, eventId: null };
    }],
    [1, (rng) => {
      // Unknown parts are ignored by Stripe's scheme: still a valid signature.
      const event = eventObject(rng);
      const body = json(event);
      const header = `${Array.from({ length: int(rng, 10, 500) }, (_, i) => `x${i}=1`).join(',')},${sign(body)}`;
      return { kind: 'header/many unknown parts', expect: 'either', delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': header }, body }, eventId: String(event.id) };
    }],
    [1, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const t = now();
      const signature = sign(body, { timestamp: t });
      return { kind: 'header/duplicated t= (same value)', expect: 'either', delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': signature.replace(`t=${t}`, `t=${t},t=${t}`) }, body }, eventId: String(event.id) };
    }],
    [3, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const contentType = pick(rng, [undefined, 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=latin1', 'application/octet-stream', '*/*', 'application/json; charset=utf-16']);
      const headers: Record<string, string> = { 'Stripe-Signature': sign(body) };
      if (contentType) headers['Content-Type'] = contentType;
      return { kind: `content-type/${contentType ?? 'missing'}`, expect: 'either', delivery: { headers, body }, eventId: String(event.id) };
    }],
    [2, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const delivery = { headers: { 'Content-Type': JSON_TYPE, 'Content-Encoding': 'gzip', 'Stripe-Signature': sign(body) }, body: gzipSync(body) };
      return { kind: 'encoding/gzip (real, signature over the JSON)', expect: 'either', delivery, eventId: String(event.id) };
    }],
    [4, (rng) => {
      const body = json(eventObject(rng));
      const encoding = pick(rng, ['gzip', 'deflate', 'br', 'x-gzip', 'GZIP']);
      return { kind: `encoding/${encoding} body that is not ${encoding} (signed)`, expect: 'invalid', delivery: signedJson(body, { 'Content-Encoding': encoding }), eventId: null };
    }],
    [2, (rng) => {
      const body = json(eventObject(rng));
      const encoding = pick(rng, ['compress', 'zstd', 'gzip, gzip', 'identity, br', 'bogus']);
      return { kind: `encoding/${encoding} (signed)`, expect: 'invalid', delivery: signedJson(body, { 'Content-Encoding': encoding }), eventId: null };
    }],
    [1, () => {
      // 2 MB of zeros gzip to a few KB: more than the body limit once inflated.
      const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024, 0x20));
      return { kind: 'encoding/gzip bomb (2 MB inflated)', expect: 'invalid', delivery: signedJson(bomb, { 'Content-Encoding': 'gzip' }), eventId: null };
    }],
    [1, (rng) => {
      const event = eventObject(rng);
      (event.data as Record<string, Record<string, unknown>>).object!.padding = 'p'.repeat(1024 * 1024 + int(rng, 1, 50_000));
      return { kind: 'size/over 1 MB (signed)', expect: 'invalid', delivery: signedJson(json(event)), eventId: null };
    }],
    [5, (rng) => {
      // Only deliveries signed lately: an identical replay must still be inside the 300 s tolerance.
      const recent = validSoFar.filter((v) => v.signedAt > Date.now() - 120_000);
      const earlier = recent.length > 0 ? recent[int(rng, 0, recent.length - 1)]! : null;
      if (!earlier) {
        const event = eventObject(rng);
        return { kind: 'valid', expect: 'valid', delivery: signedJson(json(event)), eventId: String(event.id) };
      }
      // The same bytes and signature again (a redelivery within the tolerance), or re-signed now.
      return rng() < 0.5
        ? { kind: 'replay/identical', expect: 'valid', delivery: earlier.delivery, eventId: earlier.eventId }
        : { kind: 'replay/re-signed', expect: 'valid', delivery: signedJson(earlier.delivery.body), eventId: earlier.eventId };
    }],
    [3, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const variant = pick<[string, Partial<RawDelivery>, Expectation]>(rng, [
        ['GET', { method: 'GET' }, 'invalid'],
        ['PUT', { method: 'PUT' }, 'invalid'],
        ['trailing slash', { path: '/webhooks/stripe/' }, 'either'],
        ['query string', { path: '/webhooks/stripe?x=1&y=%ZZ' }, 'either'],
        ['upper case path', { path: '/WEBHOOKS/STRIPE' }, 'either'],
        ['bad percent-encoding', { path: '/webhooks/%ZZ' }, 'invalid'],
        ['encoded path', { path: '/webhooks/%73tripe' }, 'either'],
        ['double slash', { path: '//webhooks/stripe' }, 'either'],
      ]);
      return {
        kind: `request/${variant[0]}`,
        expect: variant[2],
        delivery: { headers: { 'Content-Type': JSON_TYPE, 'Stripe-Signature': sign(body) }, body, ...variant[1] },
        eventId: variant[2] === 'invalid' ? null : String(event.id),
      };
    }],
    [1, (rng) => {
      const event = eventObject(rng);
      const body = json(event);
      const headers: Record<string, string | string[]> = { 'Content-Type': JSON_TYPE, 'Stripe-Signature': sign(body) };
      const variant = pick(rng, ['huge header', 'two signature headers', 'expect 100-continue']);
      if (variant === 'huge header') headers['X-Padding'] = 'h'.repeat(int(rng, 20_000, 70_000));
      if (variant === 'two signature headers') headers['Stripe-Signature'] = [sign(body), 'garbage'];
      if (variant === 'expect 100-continue') headers.Expect = '100-continue';
      return { kind: `request/${variant}`, expect: 'either', delivery: { headers, body }, eventId: String(event.id) };
    }],
  ];
  const totalWeight = mutations.reduce((n, [w]) => n + w, 0);

  return function buildCase(index: number): FuzzCase {
    const rng = seededRandom((seed * 1_000_003 + index) >>> 0);
    let roll = rng() * totalWeight;
    const build = mutations.find(([weight]) => (roll -= weight) < 0)?.[1] ?? mutations[0]![1];
    const built = { index, ...build(rng) };
    if (built.expect === 'valid' && built.eventId && built.kind === 'valid') {
      validSoFar.push({ delivery: built.delivery, eventId: built.eventId, signedAt: Date.now() });
    }
    return built;
  };
}
