/**
 * A card problem's notice, sent through the real sender to the SMTP sink, names the products that card
 * pays for: the names come from the product catalog the subscriptions' items point at.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHarness, type Harness } from '../support/harness.js';
import { startSmtpSink, type SmtpSink } from '../support/smtp-sink.js';
import { accessFeaturesFor, seedCatalog, seedMultiReader, type Catalog } from '../support/catalog.js';

const START = Date.UTC(2026, 10, 2, 12, 0, 0);
const IDS = {
  products: { news: { id: 'prod_npNews' }, puzzles: { id: 'prod_npPuzzles' }, cooking: { id: 'prod_npCooking' }, bundle: { id: 'prod_npBundle' } },
  prices: { news: { id: 'price_npNews' }, puzzles: { id: 'price_npPuzzles' }, cooking: { id: 'price_npCooking' }, bundle: { id: 'price_npBundle' } },
} as unknown as Catalog;

describe('notices name the products at risk', () => {
  let h: Harness;
  let sink: SmtpSink;
  let c: Catalog;

  before(async () => {
    sink = await startSmtpSink();
    h = await createHarness({
      label: 'notice-products',
      clockStart: START,
      workers: false,
      cardExpiry: { smtpUrl: sink.url, noticeDays: [30] },
      env: { ACCESS_FEATURES_SOURCE: 'config', ACCESS_FEATURES: accessFeaturesFor(IDS) },
    });
    c = seedCatalog(h.stripe, Math.floor(START / 1000), 'np');
  });
  after(async () => {
    await h.close();
    await sink.close();
  });

  test('"your News and Cooking access": the card paying both; Puzzles on another card is not named', async () => {
    const r = seedMultiReader(h.stripe, {
      userId: 'np-1',
      nowSeconds: Math.floor(START / 1000),
      subscriptions: [{ price: c.prices.cooking }, { price: c.prices.news, exp_month: 11, exp_year: 2026 }, { price: c.prices.puzzles }],
    });
    // News and Cooking are paid by the same (expiring) card; named newest subscription first.
    h.stripe.putSubscription({ ...h.stripe.getSubscription(r.held[0]!.subscription.id)!, default_payment_method: r.held[1]!.card.id });
    await h.syncCustomer(r.customer.id);
    const card = (await h.store.read(r.customer.id))!.subscriptions.find((s) => s.id === r.held[1]!.subscription.id)!.card!;
    const outcome = await h.expiry.noticeSender!.send({ kind: 'card_expiring', customerId: r.customer.id, card, window: '30d', requestedAt: h.clock.now() });
    assert.equal(outcome.outcome, 'sent');
    const mail = sink.messages.at(-1)!;
    assert.match(mail.text, /This card pays for your News and Cooking access\./);
    assert.doesNotMatch(mail.text, /Puzzles/);
  });
});
