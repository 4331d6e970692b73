import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { randomToken } from '../../platform/ids.ts';
import { createTestApp, type TestApp } from '../../testing.ts';
import { REFERRAL_COMPLETED } from './loyalty.referrals.schemas.ts';
import { loyaltyWorkspace } from './loyalty.testing.ts';

/**
 * Referrals end to end (invite code → arrival → first qualifying purchase → both rewarded once through earn rules on
 * `Referral Completed`), the fraud screen, approvals of large manual adjustments and the member lookup. Runs on
 * PGlite, and on PostgreSQL with TEST_DATABASE_URL.
 */

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

const line = (sku: string, price: number) => ({ sku, price, quantity: 1, category: 'tea' });

async function referralWorkspace(referrals: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  const env = await loyaltyWorkspace(app, {
    settings: {
      wallets: [{ key: 'points', name: 'Points', pendingDays: 0, lifetimeDays: 365, valueMinor: 100 }],
      maxPaymentPercent: 100,
      referrals: { minPurchaseMinor: 50_000, referrerPoints: 500, inviteePoints: 200, maxPerDay: 10, ...referrals },
      ...extra,
    },
    rules: [
      { name: 'base', trigger: 'purchase', formula: { kind: 'per_unit', points: 1, per: 10_000 } },
      {
        name: 'Referral reward',
        trigger: 'event',
        eventName: REFERRAL_COMPLETED,
        formula: { kind: 'from_event', factor: 1 },
      },
    ],
  });
  await app.loyalty.refreshEventNames();
  const ingest = (messages: unknown[]) => app.events.ingest(env.ws.workspaceId, messages);
  const inviteCode = async (profileId: string) => {
    const r = await env.call('POST', `/api/v1/loyalty/programmes/main/members/${profileId}/referral`, {});
    assert.ok(r.status === 201 || r.status === 200, JSON.stringify(r.body));
    return r.body.code as string;
  };
  const referralOf = async (profileId: string) => {
    const r = await env.call('GET', `/api/v1/loyalty/programmes/main/referrals?profileId=${profileId}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.items.find((x: { inviteeProfileId: string }) => x.inviteeProfileId === profileId);
  };
  const arrive = async (userId: string, code: string, extra: Record<string, unknown> = {}) => {
    const result = await ingest([
      {
        type: 'track',
        event: 'Signed Up',
        userId,
        messageId: `m-${randomToken(10)}`,
        properties: {},
        ...extra,
        context: { referrer: { type: 'invite', code }, ...((extra.context as object) ?? {}) },
      },
    ]);
    assert.equal(result.accepted, 1, JSON.stringify(result));
  };
  /** Hands the purchase's timeline event over (completion), then the Referral Completed events (rewards). */
  const settle = async () => {
    await app.loyalty.drainTimeline();
    await app.loyalty.drainTimeline();
  };
  const points = async (profileId: string) => (await env.balance(profileId))?.total ?? 0;
  return { ...env, ingest, inviteCode, referralOf, arrive, settle, points };
}

describe('loyalty: referrals', () => {
  it('invite → first qualifying purchase rewards both exactly once, also when the purchase is replayed', async () => {
    const env = await referralWorkspace();
    const referrer = await env.customer();
    const code = await env.inviteCode(referrer.profileId);
    assert.match(code, /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{9}$/);
    // One code per member: asking again answers the same one; the GET reads it, with its link.
    const again = await env.call('POST', `/api/v1/loyalty/programmes/main/members/${referrer.profileId}/referral`, {});
    assert.equal(again.status, 200);
    assert.equal(again.body.code, code);
    const read = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${referrer.profileId}/referral`);
    assert.equal(read.body.link, `/i/${env.ws.workspaceId}/${code}`);
    // Codes are not sequential: another member's code shares no prefix pattern we could predict.
    const other = await env.customer();
    assert.notEqual(await env.inviteCode(other.profileId), code);

    const invitee = await env.customer();
    await env.arrive(invitee.userId, code.toLowerCase().replace(/(.{4})/, '$1-'));
    let referral = await env.referralOf(invitee.profileId);
    assert.equal(referral.status, 'pending', JSON.stringify(referral));
    assert.equal(referral.referrerProfileId, referrer.profileId);
    // A second code later does not refer the same person twice.
    await env.arrive(invitee.userId, await env.inviteCode(other.profileId));
    const list = await env.call('GET', `/api/v1/loyalty/programmes/main/referrals?profileId=${invitee.profileId}`);
    assert.equal(list.body.items.length, 1);

    // Below the minimum: no completion.
    assert.equal((await env.purchase({ customer: { card: invitee.card }, lines: [line('A', 20_000)] })).status, 201);
    await env.settle();
    assert.equal((await env.referralOf(invitee.profileId)).status, 'pending');
    const before = await env.points(invitee.profileId);

    const key = `k-${randomToken(12)}`;
    const body = { customer: { card: invitee.card }, lines: [line('B', 60_000)] };
    const bought = await env.purchase(body, key);
    assert.equal(bought.status, 201);
    await env.settle();
    referral = await env.referralOf(invitee.profileId);
    assert.equal(referral.status, 'completed');
    assert.equal(await env.points(referrer.profileId), 500);
    assert.equal(await env.points(invitee.profileId), before + 6 + 200);

    // The same purchase again (a till retry): replayed, nothing new.
    const replay = await env.purchase(body, key);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    await env.settle();
    // A second qualifying purchase grants nothing more to either.
    await env.purchase({ customer: { card: invitee.card }, lines: [line('C', 70_000)] });
    await env.settle();
    await app.loyalty.drainTimeline();
    assert.equal(await env.points(referrer.profileId), 500);
    assert.equal(await env.points(invitee.profileId), before + 6 + 200 + 7);

    // The list names the people as the customer list does (none for a person without a name), and that staff read
    // of personal data is on the audit log with the profiles it showed.
    const named = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...env.writeAuth, 'content-type': 'application/json' },
      payload: { userId: referrer.userId, traits: { name: 'Anna Petrova' } },
    });
    assert.equal(named.statusCode, 200);
    const listed = await env.call('GET', `/api/v1/loyalty/programmes/main/referrals?profileId=${invitee.profileId}`);
    assert.equal(listed.body.items[0].referrerName, 'Anna Petrova');
    assert.equal(listed.body.items[0].inviteeName, null);
    const audit = await env.call('GET', `/api/v1/audit?action=profile.listed&targetId=${referrer.profileId}`);
    const entry = audit.body.items.find((a: { details: { by?: string } }) => a.details.by === 'loyalty.referrals');
    assert.ok(entry, JSON.stringify(audit.body.items));
    assert.deepEqual([...entry.details.profileIds].sort(), [referrer.profileId, invitee.profileId].sort());

    // Both have a Referral Completed event on their timeline, with their role.
    for (const [who, role] of [
      [referrer.profileId, 'referrer'],
      [invitee.profileId, 'invitee'],
    ] as const) {
      const events = await env.call('GET', `/api/v1/profiles/${who}/events?limit=50`);
      const completed = events.body.items.filter((e: { name: string }) => e.name === REFERRAL_COMPLETED);
      assert.equal(completed.length, 1, JSON.stringify(events.body.items.map((e: { name: string }) => e.name)));
      assert.equal(completed[0].properties.role, role);
    }
  });

  it('a returned or reversed qualifying purchase hands completion to another one, or revokes the referral and claws both rewards back', async () => {
    const env = await referralWorkspace();
    const referrer = await env.customer();
    const code = await env.inviteCode(referrer.profileId);
    const settleAll = async () => {
      // Return → revocation → Referral Revoked (claw-back) → the claw-back's Loyalty Reversal events.
      for (let i = 0; i < 4; i++) await app.loyalty.drainTimeline();
    };
    const undo = (tx: string, what: 'returns' | 'reverse', body: Record<string, unknown>) =>
      env.call('POST', `/api/v1/loyalty/programmes/main/transactions/${tx}/${what}`, body, {
        'idempotency-key': `u-${randomToken(12)}`,
      });

    // Invitee A: the qualifying purchase is partly returned below the minimum and there is no other: revoked.
    const a = await env.customer();
    await env.arrive(a.userId, code);
    const bought = await env.purchase({ customer: { card: a.card }, lines: [line('A', 60_000)] });
    assert.equal(bought.status, 201, JSON.stringify(bought.body));
    await env.settle();
    assert.equal((await env.referralOf(a.profileId)).status, 'completed');
    assert.equal(await env.points(referrer.profileId), 500);
    assert.equal(await env.points(a.profileId), 6 + 200);
    // Returned down to 40,000 of the 50,000 minimum.
    const returned = await undo(bought.body.transactionId, 'returns', { amount: 20_000 });
    assert.equal(returned.status, 201, JSON.stringify(returned.body));
    await settleAll();
    const revoked = await env.referralOf(a.profileId);
    assert.equal(revoked.status, 'revoked', JSON.stringify(revoked));
    assert.ok(revoked.revokedAt);
    assert.equal(await env.points(referrer.profileId), 0, 'the referrer’s reward clawed back');
    assert.equal(await env.points(a.profileId), 4, 'the invitee keeps only what the purchase still earns (6 − 2)');
    // Done once: more drains and a second return change nothing more.
    await undo(bought.body.transactionId, 'returns', { amount: 10_000 });
    await settleAll();
    assert.equal(await env.points(referrer.profileId), 0);
    const ledger = await sql<{ n: number }>`select count(*)::int as n from loyalty_transactions t
      join loyalty_members m on m.id = t.member_id
      where m.profile_id = ${referrer.profileId} and t.kind = 'reversal'`.execute(app.database.db);
    assert.equal(ledger.rows[0]?.n, 1, 'one reversal of the referrer’s reward');
    const events = await env.call('GET', `/api/v1/profiles/${referrer.profileId}/events?name=Referral%20Revoked`);
    assert.equal(events.body.items.length, 1);

    // Invitee B: a second qualifying purchase stands in when the first is reversed: still completed, nothing taken.
    const b = await env.customer();
    await env.arrive(b.userId, code);
    const first = await env.purchase({ customer: { card: b.card }, lines: [line('A', 60_000)] });
    await env.settle();
    assert.equal((await env.referralOf(b.profileId)).status, 'completed');
    const second = await env.purchase({ customer: { card: b.card }, lines: [line('B', 70_000)] });
    await env.settle();
    assert.equal(await env.points(referrer.profileId), 500);
    assert.equal((await undo(first.body.transactionId, 'reverse', {})).status, 201);
    await settleAll();
    assert.equal((await env.referralOf(b.profileId)).status, 'completed');
    assert.equal(await env.points(referrer.profileId), 500, 'the reward stands on the second purchase');
    assert.equal(await env.points(b.profileId), 200 + 7);
    // The referral now rests on the second purchase: returning it below the minimum revokes it.
    assert.equal((await undo(second.body.transactionId, 'returns', { amount: 30_000 })).status, 201);
    await settleAll();
    assert.equal((await env.referralOf(b.profileId)).status, 'revoked');
    assert.equal(await env.points(referrer.profileId), 0);
    assert.equal(await env.points(b.profileId), 7 - 3);
  });

  it('refuses self-referral and identifiers or signals shared with the referrer', async () => {
    const env = await referralWorkspace();
    const referrer = await env.customer();
    const device = `dev-${randomToken(8)}`;
    const identified = await env.ingest([
      {
        type: 'identify',
        userId: referrer.userId,
        messageId: `m-${randomToken(10)}`,
        traits: { address: { street: '12 Lenina St.', city: 'Moscow' } },
        context: { device: { id: device } },
      },
    ]);
    assert.equal(identified.accepted, 1);
    const code = await env.inviteCode(referrer.profileId);

    // Self: the referrer's own profile.
    const self = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code,
      profileId: referrer.profileId,
    });
    assert.equal(self.status, 201, JSON.stringify(self.body));
    assert.deepEqual([self.body.status, self.body.reason], ['rejected', 'SELF_REFERRAL']);

    // Shared device: the arrival comes from the referrer's device.
    const a = await env.customer();
    await env.arrive(a.userId, code, { context: { device: { id: device } } });
    assert.deepEqual(
      [(await env.referralOf(a.profileId)).status, (await env.referralOf(a.profileId)).reason],
      ['rejected', 'SHARED_DEVICE'],
    );

    // Shared phone: the arrival carries the referrer's phone next to a user id of its own.
    const b = await env.customer();
    await env.arrive(b.userId, code, { traits: { phone: referrer.phone } });
    const rb = await env.referralOf(b.profileId);
    assert.equal(rb?.status, 'rejected', JSON.stringify(rb));
    assert.ok(['SHARED_PHONE', 'SELF_REFERRAL'].includes(rb.reason), rb.reason);

    // Shared card: the referrer's card number.
    const c = await env.customer();
    await env.arrive(c.userId, code, { traits: { card: referrer.card } });
    const rc = await env.referralOf(c.profileId);
    assert.equal(rc?.status, 'rejected', JSON.stringify(rc));
    assert.ok(['SHARED_CARD', 'SELF_REFERRAL'].includes(rc.reason), rc.reason);

    // Shared address, written differently (normalised).
    const d = await env.customer();
    const rd = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code,
      profileId: d.profileId,
      address: 'Moscow, 1 Tverskaya street',
    });
    assert.equal(rd.body.status, 'pending', 'another address');
    const e = await env.customer();
    const re = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code,
      profileId: e.profileId,
      address: 'MOSCOW —  12, lenina ul.',
    });
    assert.deepEqual([re.body.status, re.body.reason], ['rejected', 'SHARED_ADDRESS']);

    // A referred person cannot be referred again in the programme.
    const twice = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code,
      profileId: d.profileId,
    });
    assert.equal(twice.status, 409);
    assert.equal(twice.body.code, 'ALREADY_REFERRED');
  });

  it('refuses A↔B rings and holds a referrer over the daily limit for review', async () => {
    const env = await referralWorkspace({ maxPerDay: 2 });
    const a = await env.customer();
    const b = await env.customer();
    const codeA = await env.inviteCode(a.profileId);
    const codeB = await env.inviteCode(b.profileId);
    await env.arrive(b.userId, codeA);
    assert.equal((await env.referralOf(b.profileId)).status, 'pending');
    await env.arrive(a.userId, codeB);
    const back = await env.referralOf(a.profileId);
    assert.deepEqual([back.status, back.reason], ['rejected', 'MUTUAL_REFERRAL']);

    // A has referred B (1); C makes 2; D is over the limit of 2 a day: held.
    const c = await env.customer();
    const d = await env.customer();
    const e = await env.customer();
    await env.arrive(c.userId, codeA);
    await env.arrive(d.userId, codeA);
    await env.arrive(e.userId, codeA);
    assert.equal((await env.referralOf(c.profileId)).status, 'pending');
    const held = await env.referralOf(d.profileId);
    assert.deepEqual([held.status, held.reason], ['held', 'DAILY_LIMIT']);
    const held2 = await env.referralOf(e.profileId);
    assert.equal(held2.status, 'held');
    const heldList = await env.call('GET', '/api/v1/loyalty/programmes/main/referrals?status=held');
    assert.equal(heldList.body.items.length, 2);

    // D bought while held; approval completes it at once and the rewards follow.
    await env.purchase({ customer: { card: d.card }, lines: [line('A', 80_000)] });
    await env.settle();
    assert.equal((await env.referralOf(d.profileId)).status, 'held');
    const approved = await env.call('POST', `/api/v1/loyalty/programmes/main/referrals/${held.id}/review`, {
      decision: 'approve',
    });
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.equal(approved.body.status, 'completed');
    await app.loyalty.drainTimeline();
    assert.equal(await env.points(a.profileId), 500);
    const rejected = await env.call('POST', `/api/v1/loyalty/programmes/main/referrals/${held2.id}/review`, {
      decision: 'reject',
      reason: 'same household',
    });
    assert.equal(rejected.body.status, 'rejected');
    const again = await env.call('POST', `/api/v1/loyalty/programmes/main/referrals/${held2.id}/review`, {
      decision: 'approve',
    });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'REFERRAL_NOT_HELD');
  });

  it('a merge that makes referrer and invitee one person rejects the pending referral', async () => {
    const env = await referralWorkspace();
    const a = await env.customer();
    const code = await env.inviteCode(a.profileId);
    // Someone arrives on a new device with A's code: a profile of their own (a device only).
    const anonymousId = `anon-${randomToken(10)}`;
    const arrived = await env.ingest([
      {
        type: 'track',
        event: 'Landing Viewed',
        anonymousId,
        messageId: `m-${randomToken(10)}`,
        context: { referrer: { code } },
      },
    ]);
    assert.equal(arrived.accepted, 1, JSON.stringify(arrived));
    let list = await env.call('GET', `/api/v1/loyalty/programmes/main/referrals?profileId=${a.profileId}`);
    assert.equal(list.body.items.length, 1);
    assert.equal(list.body.items[0].status, 'pending');
    assert.notEqual(list.body.items[0].inviteeProfileId, a.profileId);
    // Then they sign in: it was A all along — the device's profile merges into A's.
    const signedIn = await env.ingest([
      { type: 'identify', userId: a.userId, anonymousId, messageId: `m-${randomToken(10)}`, traits: {} },
    ]);
    assert.equal(signedIn.accepted, 1);
    list = await env.call('GET', `/api/v1/loyalty/programmes/main/referrals?profileId=${a.profileId}`);
    const r = list.body.items[0];
    assert.equal(r.inviteeProfileId, a.profileId, 'the referral followed the survivor');
    assert.deepEqual([r.status, r.reason], ['rejected', 'MERGED_SELF_REFERRAL']);
  });

  it('the invite link sets a first-party cookie and leads to the landing page with ?ref=, rate-limited per IP', async () => {
    const env = await referralWorkspace({ landingUrl: 'https://shop.example.com/welcome?utm=invite' });
    const a = await env.customer();
    const code = await env.inviteCode(a.profileId);
    const ip = `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.7`;
    const open = (path: string) => app.server.inject({ method: 'GET', url: path, remoteAddress: ip });
    const link = (await env.call('GET', `/api/v1/loyalty/programmes/main/members/${a.profileId}/referral`)).body
      .link as string;
    const opened = await open(link);
    assert.equal(opened.statusCode, 302);
    assert.equal(opened.headers.location, `https://shop.example.com/welcome?utm=invite&ref=${code}`);
    assert.equal(opened.cookies.find((c) => c.name === 'rapport_ref')?.value, code);
    // Typed by hand: lower case and a hyphen still lead there; a wrong check character does not.
    assert.equal(
      (await open(`/i/${env.ws.workspaceId}/${code.slice(0, 4).toLowerCase()}-${code.slice(4)}`)).statusCode,
      302,
    );
    const wrong = `${code.slice(0, 8)}${code[8] === '2' ? '3' : '2'}`;
    assert.equal((await open(`/i/${env.ws.workspaceId}/${wrong}`)).statusCode, 404);
    assert.equal((await open(`/i/not-a-workspace/${code}`)).statusCode, 404);
    let limited = 0;
    for (let i = 0; i < 70; i++) if ((await open(link)).statusCode === 429) limited++;
    assert.ok(limited > 0, 'too many opens from one address are refused');
  });

  it('bad input is a 4xx problem', async () => {
    const env = await referralWorkspace();
    const a = await env.customer();
    const bad = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code: 'AAAA-BBBB-C',
      profileId: a.profileId,
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.code, 'INVALID_INVITE_CODE');
    const code = await env.inviteCode(a.profileId);
    const unknownProfile = await env.call('POST', '/api/v1/loyalty/programmes/main/referrals', {
      code,
      profileId: '018f0000-0000-7000-8000-000000000000',
    });
    assert.equal(unknownProfile.status, 404);
    const none = await env.call(
      'GET',
      `/api/v1/loyalty/programmes/main/members/018f0000-0000-7000-8000-000000000000/referral`,
    );
    assert.equal(none.status, 404, 'no such profile');
    const fresh = await env.customer();
    const noCode = await env.call('GET', `/api/v1/loyalty/programmes/main/members/${fresh.profileId}/referral`);
    assert.equal(noCode.status, 200);
    assert.equal(noCode.body, null, 'no code until one is made');
    const notUuid = await env.call('GET', '/api/v1/loyalty/programmes/main/members/nope/referral');
    assert.equal(notUuid.status, 400);
    const badStatus = await env.call('GET', '/api/v1/loyalty/programmes/main/referrals?status=maybe');
    assert.equal(badStatus.status, 400);
    const landing = await env.call('PATCH', '/api/v1/loyalty/programmes/main', {
      settings: {
        wallets: [{ key: 'points', name: 'Points' }],
        referrals: { landingUrl: 'javascript:alert(1)' },
      },
    });
    assert.equal(landing.status, 400);
  });
});

describe('loyalty: approval of large manual adjustments', () => {
  it('holds an adjustment above the threshold until another user approves it; applied once; rejection applies nothing', async () => {
    const env = await referralWorkspace({}, { adjustmentApprovalThreshold: 1000 });
    const person = await env.customer();
    const second = await env.call('POST', '/api/v1/keys', {
      kind: 'secret',
      name: 'second marketer',
      role: 'marketer',
    });
    assert.equal(second.status, 201, JSON.stringify(second.body));
    const asSecond = { authorization: `Bearer ${second.body.secret}` };
    const adjust = (points: number, key: string, reason = 'goodwill for a broken machine') =>
      env.call(
        'POST',
        '/api/v1/loyalty/programmes/main/adjustments',
        { customer: { profileId: person.profileId }, points, reason },
        { 'idempotency-key': key },
      );

    const small = await adjust(1000, `k-${randomToken(12)}`);
    assert.equal(small.status, 201, 'at the threshold: applied at once');
    assert.equal(await env.points(person.profileId), 1000);

    const key = `k-${randomToken(12)}`;
    const held = await adjust(5000, key);
    assert.equal(held.status, 202, JSON.stringify(held.body));
    assert.equal(held.body.status, 'pending');
    assert.equal(await env.points(person.profileId), 1000, 'nothing applied while pending');
    const retried = await adjust(5000, key);
    assert.equal(retried.status, 202);
    assert.equal(retried.body.id, held.body.id);
    const reused = await adjust(6000, key);
    assert.equal(reused.status, 409);
    assert.equal(reused.body.code, 'IDEMPOTENCY_KEY_REUSED');

    const pending = await env.call('GET', '/api/v1/loyalty/adjustment-requests');
    assert.deepEqual(
      pending.body.items.map((r: { id: string }) => r.id),
      [held.body.id],
    );
    const byRequester = await env.call('POST', `/api/v1/loyalty/adjustment-requests/${held.body.id}/decision`, {
      decision: 'approve',
    });
    assert.equal(byRequester.status, 403);
    assert.equal(byRequester.body.code, 'APPROVER_IS_REQUESTER');

    const approve = () =>
      app.server.inject({
        method: 'POST',
        url: `/api/v1/loyalty/adjustment-requests/${held.body.id}/decision`,
        headers: asSecond,
        payload: { decision: 'approve' },
      });
    const approved = await approve();
    assert.equal(approved.statusCode, 200, approved.body);
    assert.equal(approved.json().status, 'approved');
    assert.ok(approved.json().transactionId);
    assert.equal(await env.points(person.profileId), 6000);
    const twice = await approve();
    assert.equal(twice.statusCode, 409);
    // The requester retrying the original request now gets the ledger's stored answer: nothing new.
    const replay = await adjust(5000, key);
    assert.equal(replay.status, 201);
    assert.equal(replay.headers['idempotent-replayed'], 'true');
    assert.equal(await env.points(person.profileId), 6000);

    const other = await adjust(-3000, `k-${randomToken(12)}`);
    assert.equal(other.status, 202);
    const noReason = await app.server.inject({
      method: 'POST',
      url: `/api/v1/loyalty/adjustment-requests/${other.body.id}/decision`,
      headers: asSecond,
      payload: { decision: 'reject' },
    });
    assert.equal(noReason.statusCode, 400);
    const rejected = await app.server.inject({
      method: 'POST',
      url: `/api/v1/loyalty/adjustment-requests/${other.body.id}/decision`,
      headers: asSecond,
      payload: { decision: 'reject', reason: 'not supported by the receipt' },
    });
    assert.equal(rejected.statusCode, 200, rejected.body);
    assert.equal(rejected.json().status, 'rejected');
    assert.equal(await env.points(person.profileId), 6000);
    const left = await env.call('GET', '/api/v1/loyalty/adjustment-requests');
    assert.equal(left.body.items.length, 0);
  });
});

describe('loyalty: member lookup', () => {
  it('answers the programmes of a profile with balances and tier, only within the workspace', async () => {
    const env = await referralWorkspace();
    const person = await env.customer();
    await env.purchase({ customer: { card: person.card }, lines: [line('A', 100_000)] });
    const found = await env.call('GET', `/api/v1/loyalty/members?profileId=${person.profileId}`);
    assert.equal(found.status, 200, JSON.stringify(found.body));
    assert.equal(found.body.memberships.length, 1);
    assert.equal(found.body.memberships[0].programme, 'main');
    assert.equal(found.body.memberships[0].balances[0].total, 10);

    const elsewhere = await referralWorkspace();
    const foreign = await elsewhere.call('GET', `/api/v1/loyalty/members?profileId=${person.profileId}`);
    assert.equal(foreign.status, 404);
    const bad = await env.call('GET', '/api/v1/loyalty/members?profileId=42');
    assert.equal(bad.status, 400);
    const missing = await env.call('GET', '/api/v1/loyalty/members');
    assert.equal(missing.status, 400);
  });
});
