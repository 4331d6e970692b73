import assert from 'node:assert/strict';
import { randomToken } from '../../platform/ids.ts';
import { newWorkspace, type TestApp } from '../../testing.ts';

/** Helpers shared by the loyalty tests: a workspace with a programme, card ranges, customers with cards. */

export interface Call {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: response bodies of many shapes, read field by field in tests
  body: any;
  headers: Record<string, unknown>;
}

export async function loyaltyWorkspace(
  app: TestApp,
  options: { settings?: Record<string, unknown>; rules?: Record<string, unknown>[] } = {},
) {
  const ws = await newWorkspace(app);
  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH',
    url: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Call> => {
    const r = await app.server.inject({
      method,
      url,
      headers: { ...ws.bearer, ...headers },
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });
    return { status: r.statusCode, body: r.body ? JSON.parse(r.body) : null, headers: r.headers };
  };
  const write = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'write', name: 'site' },
    })
  ).json().secret as string;
  const writeAuth = { authorization: `Basic ${Buffer.from(`${write}:`).toString('base64')}` };

  const programme = await call('POST', '/api/v1/loyalty/programmes', {
    key: 'main',
    name: 'Samovar Club',
    currency: 'RUB',
    timeZone: 'Europe/Moscow',
    settings: options.settings ?? {
      wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 }],
      maxPaymentPercent: 100,
    },
  });
  assert.equal(programme.status, 201, JSON.stringify(programme.body));
  const range = await call('POST', '/api/v1/loyalty/programmes/main/card-ranges', {
    kind: 'virtual',
    prefix: '7001',
    length: 16,
    firstSerial: 1,
    lastSerial: 99_999_999,
  });
  assert.equal(range.status, 201, JSON.stringify(range.body));
  const physical = await call('POST', '/api/v1/loyalty/programmes/main/card-ranges', {
    kind: 'physical',
    prefix: '7002',
    length: 13,
    firstSerial: 0,
    lastSerial: 9_999_999,
  });
  assert.equal(physical.status, 201, JSON.stringify(physical.body));
  for (const rule of options.rules ?? [
    { name: 'base', trigger: 'purchase', formula: { kind: 'per_unit', points: 1, per: 10_000 } },
  ]) {
    const r = await call('POST', '/api/v1/loyalty/programmes/main/rules', rule);
    assert.equal(r.status, 201, JSON.stringify(r.body));
  }

  /** A person known by phone (and a user id), with a virtual card; returns the profile id and the card number. */
  const customer = async (phone = `+7916${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}`) => {
    const userId = `u-${randomToken(8)}`;
    const identified = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...writeAuth, 'content-type': 'application/json' },
      payload: { userId, traits: { phone } },
    });
    assert.equal(identified.statusCode, 200, identified.body);
    const found = await call('GET', `/api/v1/profiles?identifier=user_id:${userId}`);
    const profileId = found.body.items[0].id as string;
    const card = await call('POST', '/api/v1/loyalty/programmes/main/cards', { profileId });
    assert.equal(card.status, 201, JSON.stringify(card.body));
    return { profileId, card: card.body.number as string, phone, userId };
  };

  /** The newest outbox message to an address (one-time codes, QR tokens). */
  const lastMessage = async (address: string) => {
    const box = await call('GET', '/api/v1/loyalty/outbox?limit=200');
    return box.body.items.find((m: { address: string }) => m.address === address)?.body as string | undefined;
  };
  const qrOf = async (phone: string) => /QR code: (\S+)/.exec((await lastMessage(phone)) ?? '')?.[1] as string;

  const purchase = (body: Record<string, unknown>, key = `k-${randomToken(12)}`) =>
    call('POST', '/api/v1/loyalty/programmes/main/purchases', { currency: 'RUB', ...body }, { 'idempotency-key': key });

  const member = async (profileId: string) =>
    (await call('GET', `/api/v1/loyalty/programmes/main/members/${profileId}`)).body;
  const balance = async (profileId: string) =>
    (await member(profileId)).balances.find((b: { wallet: string }) => b.wallet === 'points');

  return { ws, call, writeAuth, customer, lastMessage, qrOf, purchase, member, balance };
}
