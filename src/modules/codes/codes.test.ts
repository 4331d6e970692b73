import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { checkCharacter, isWellFormed, normalizeCode } from '../../platform/codes/alphabet.ts';
import { CodeCmac } from '../../platform/codes/cmac.ts';
import { CodeHasher, referenceHash } from '../../platform/codes/hash.ts';
import { keyDeriver, newSecret } from '../../platform/codes/keys.ts';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';
import { generateCodes, openBulkTargets, replayCodes } from './codes.bulk.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp({ worker: true });
});
after(async () => app?.close());

type Json = Record<string, any>;

async function setup() {
  const ws = await newWorkspace(app);
  const key = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'write', name: 'site' },
    })
  ).json().secret as string;
  const auth = { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH', url: string, payload?: unknown) => {
    const r = await app.server.inject({ method, url, headers: ws.bearer, ...(payload ? { payload } : {}) });
    return { status: r.statusCode, body: (r.headers['content-type'] ?? '').includes('json') ? r.json() : r.body };
  };
  const promotion = async (extra: Json = {}) => {
    const r = await call('POST', '/api/v1/codes/promotions', {
      key: `p-${Math.random().toString(36).slice(2, 10)}`,
      name: 'Summer tea',
      startsAt: '2020-01-01T00:00',
      endsAt: '2099-01-01T00:00',
      reward: { kind: 'points', points: 50 },
      ...extra,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as Json;
  };
  /** A batch generated and downloaded: its clear codes. */
  const batch = async (promotionId: string, count: number, extra: Json = {}) => {
    const created = await call('POST', `/api/v1/codes/promotions/${promotionId}/batches`, { count, ...extra });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const download = await call('GET', created.body.downloadUrl);
    assert.equal(download.status, 200, String(download.body));
    const codes = String(download.body).trim().split('\n').slice(1);
    return { batch: created.body.batch as Json, codes };
  };
  const register = async (payload: Json, headers: Json = {}) => {
    const r = await app.server.inject({
      method: 'POST',
      url: '/v1/codes/register',
      headers: { ...auth, ...headers },
      payload,
    });
    return { status: r.statusCode, body: r.json() as Json, raw: r.body };
  };
  /** Limits high enough for tests that send many failures from one address. */
  const relaxLimits = async () => {
    const r = await call('PUT', '/api/v1/codes/settings', {
      guessesPerMinute: 100_000,
      limits: { ipFailures: 1_000_000, networkFailures: 1_000_000, identifierPerMinute: 1000, devicePerMinute: 1000 },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  };
  return { ws, auth, call, promotion, batch, register, relaxLimits };
}

let phoneSeq = 1_000_000;
const phone = () => `+7916${String(phoneSeq++).padStart(7, '0')}`;

/** A well-formed code nobody generated. */
function randomCode(length = 12) {
  const alphabet = '23456789ABCDEFGHJKMNPQRSTUVWXYZ';
  let body = '';
  for (let i = 0; i < length - 1; i++) body += alphabet[Math.floor(Math.random() * 31)];
  return body + checkCharacter(body);
}

/** The same code with one character changed: the check character catches it. */
function typoOf(code: string) {
  const plain = normalizeCode(code);
  const i = 3;
  const c = plain[i] === 'A' ? 'B' : 'A';
  return plain.slice(0, i) + c + plain.slice(i + 1);
}

describe('codes: promotions and batches', () => {
  it('chooses the length from the batch size and the attack budget and shows the figure; codes are well formed, grouped, unique', async () => {
    const { promotion, batch, call } = await setup();
    const p = await promotion({ startsAt: '2026-03-01T00:00', endsAt: '2026-05-30T00:00' });
    assert.equal(p.timeZone, 'Europe/Moscow');
    assert.equal(p.startsAt, '2026-03-01T00:00');
    assert.equal(p.startsAtUtc, '2026-02-28T21:00:00.000Z', 'the window is in the workspace time zone');
    const { batch: b, codes } = await batch(p.id, 2_000);
    assert.equal(b.status, 'pending');
    assert.ok(b.expectedGuessable < 0.001, `expected guessable ${b.expectedGuessable}`);
    assert.ok(b.oneIn >= 1000);
    assert.equal(b.attackBudget, (300 + 300) * 90 * 24 * 60);
    assert.equal(codes.length, 2_000);
    assert.equal(new Set(codes).size, 2_000);
    for (const c of codes) {
      assert.match(c, /^[2-9A-HJKMNP-Z]{4}(-[2-9A-HJKMNP-Z]{1,4})+$/);
      assert.ok(isWellFormed(normalizeCode(c)));
      assert.equal(normalizeCode(c).length, b.length);
    }
    const after = await call('GET', `/api/v1/codes/batches/${b.id}`);
    assert.equal(after.body.status, 'active');
    assert.equal(after.body.loaded, 2_000);
    const again = await call('GET', `/api/v1/codes/batches/${b.id}/download`);
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'BATCH_ALREADY_GENERATED');
    // The owner re-exports the same codes; it is in the audit log.
    const exported = await call('GET', `/api/v1/codes/batches/${b.id}/export?format=txt`);
    assert.equal(exported.status, 200);
    assert.deepEqual(new Set(String(exported.body).trim().split('\n')), new Set(codes));
    const audit = await call('GET', '/api/v1/audit?limit=20');
    const actions = (audit.body.items as Json[]).map((e) => e.action);
    assert.ok(actions.includes('codes.batch_export'));
    assert.ok(actions.includes('codes.batch_download'));
  });

  it('never stores a clear code: no column of any codes table holds one', async () => {
    const { promotion, batch, register } = await setup();
    const p = await promotion();
    const { codes } = await batch(p.id, 20);
    const r = await register({ code: codes[0], phone: phone() });
    assert.equal(r.status, 200, r.raw);
    const dump = await sql<{ t: string }>`select concat_ws(' ',
        (select string_agg(t::text, ' ') from codes t), (select string_agg(t::text, ' ') from code_batches t),
        (select string_agg(t::text, ' ') from code_redemptions t), (select string_agg(t::text, ' ') from code_attempts t)) as t`.execute(
      app.database.db,
    );
    for (const c of codes) {
      assert.ok(!dump.rows[0]?.t.includes(normalizeCode(c)), 'clear code in the database');
      assert.ok(!dump.rows[0]?.t.includes(c), 'clear code in the database');
    }
  });
  it('stores codes as AES-CMAC in a new workspace; one created before it keeps HMAC-SHA-256, and both accept their codes', async () => {
    const stored = async (workspaceId: string, batchId: string) =>
      new Set(
        (
          await sql<{ h: string }>`select hash::text as h from codes where workspace_id = ${workspaceId}
            and batch_id = ${batchId}`.execute(app.database.db)
        ).rows.map((r) => r.h),
      );
    const secretOf = async (workspaceId: string) =>
      (
        await sql<{ secret: string; code_mac: string }>`select secret, code_mac from code_settings
          where workspace_id = ${workspaceId}`.execute(app.database.db)
      ).rows[0];

    const fresh = await setup();
    const p = await fresh.promotion();
    const made = await fresh.batch(p.id, 5);
    const settings = await secretOf(fresh.ws.workspaceId);
    assert.equal(settings?.code_mac, 'aes-cmac');
    const cmac = new CodeCmac(keyDeriver(Buffer.from(settings?.secret ?? '', 'base64url'))('rapport/codes/cmac'));
    assert.deepEqual(
      await stored(fresh.ws.workspaceId, made.batch.id),
      new Set(made.codes.map((c) => cmac.hash(normalizeCode(c)))),
    );
    assert.equal((await fresh.register({ code: made.codes[0], phone: phone() })).status, 200);

    // A workspace whose settings (and codes) predate the CMAC: the migration left it on HMAC.
    const older = await setup();
    const secret = newSecret();
    await sql`insert into code_settings (workspace_id, secret, code_mac)
      values (${older.ws.workspaceId}, ${secret}, 'hmac-sha256')`.execute(app.database.db);
    const q = await older.promotion();
    const kept = await older.batch(q.id, 5);
    const hmacKey = keyDeriver(Buffer.from(secret, 'base64url'))('rapport/codes/hash');
    assert.deepEqual(
      await stored(older.ws.workspaceId, kept.batch.id),
      new Set(kept.codes.map((c) => referenceHash(hmacKey, normalizeCode(c)))),
    );
    assert.equal((await older.register({ code: kept.codes[0], phone: phone() })).status, 200);
  });
});

describe('codes: registration', () => {
  it('accepts a code once, resolves the person, records consents and writes Code Registered to the timeline', async () => {
    const { promotion, batch, register, call } = await setup();
    const p = await promotion();
    const { codes } = await batch(p.id, 10);
    const who = phone();
    const r = await register({
      code: (codes[0] as string).toLowerCase().replaceAll('-', ' '),
      phone: who,
      consents: [{ channel: 'sms', purpose: 'marketing', action: 'grant', wordingVersion: 'v1' }],
    });
    assert.equal(r.status, 200, r.raw);
    assert.equal(r.body.status, 'accepted');
    assert.deepEqual(r.body.reward, { kind: 'points', points: 50 });
    assert.deepEqual(r.body.consents, { recorded: 1, rejected: null });
    const again = await register({ code: codes[0], phone: who });
    assert.equal(again.status, 422);
    assert.equal(again.body.code, 'CODE_NOT_ACCEPTED');

    const found = await call('GET', `/api/v1/profiles?identifier=phone:${encodeURIComponent(who)}`);
    const profileId = found.body.items[0].id as string;
    const consent = await call('GET', `/api/v1/consent/check?profileId=${profileId}&channel=sms&purpose=marketing`);
    assert.deepEqual(consent.body, { allowed: true, reason: 'granted' });
    // The event is written in the registration's transaction: on the timeline as soon as the answer is.
    const timeline: Json[] = (await call('GET', `/api/v1/profiles/${profileId}/events`)).body.items;
    const event = timeline.find((e) => e.name === 'Code Registered');
    assert.ok(event, 'Code Registered on the timeline');
    assert.equal(event.properties.registrationId, r.body.registrationId);
    assert.equal(event.properties.promotion, p.key);
    assert.equal(event.channel, 'code_entry');
    assert.equal(timeline.filter((e) => e.name === 'Code Registered').length, 1);
    const profile = await call('GET', `/api/v1/profiles/${profileId}`);
    assert.equal(profile.body.traits.phone, who, 'the phone registered with is a trait of the profile');
  });

  it('answers unknown, used, expired and foreign codes identically (status and body, byte for byte)', async () => {
    const { promotion, batch, register, call, relaxLimits } = await setup();
    await relaxLimits();
    const p = await promotion();
    const { codes } = await batch(p.id, 10);
    const expiring = await promotion();
    const { codes: expiredCodes } = await batch(expiring.id, 3);
    const moved = await call('PATCH', `/api/v1/codes/promotions/${expiring.id}`, {
      startsAt: '2020-01-01T00:00',
      endsAt: '2021-01-01T00:00',
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    // Another workspace's perfectly good code.
    const other = await setup();
    const otherPromotion = await other.promotion();
    const { codes: foreignCodes } = await other.batch(otherPromotion.id, 3);

    assert.equal((await register({ code: codes[1], phone: phone() })).status, 200);
    const answers = {
      unknown: await register({ code: randomCode(), phone: phone() }),
      used: await register({ code: codes[1], phone: phone() }),
      expired: await register({ code: expiredCodes[0], phone: phone() }),
      foreign: await register({ code: foreignCodes[0], phone: phone() }),
    };
    for (const [what, answer] of Object.entries(answers)) {
      assert.equal(answer.status, 422, `${what}: ${answer.raw}`);
      assert.equal(answer.raw, answers.unknown.raw, `${what} answers exactly as unknown`);
    }
    assert.equal(answers.unknown.body.code, 'CODE_NOT_ACCEPTED');
    assert.equal(answers.unknown.body.requestId, undefined);
    // The foreign code is still good in its own workspace.
    assert.equal((await other.register({ code: foreignCodes[0], phone: phone() })).status, 200);
    // A typo is told apart: the check character says so without looking anything up.
    const typo = await register({ code: typoOf(codes[2] as string), phone: phone() });
    assert.equal(typo.status, 422);
    assert.equal(typo.body.code, 'CODE_TYPO');
    assert.notEqual(typo.raw, answers.unknown.raw);
    // The fraud screen knows the reasons.
    const attempts = await call('GET', '/api/v1/codes/attempts?limit=50');
    const reasons = new Set((attempts.body.items as Json[]).map((a) => a.reason));
    for (const reason of ['unknown', 'used', 'expired', 'check_character']) assert.ok(reasons.has(reason), reason);
  });

  it('200 concurrent registrations of one code: exactly one success, 50 rounds', { timeout: 900_000 }, async () => {
    const { promotion, batch, register, relaxLimits } = await setup();
    await relaxLimits();
    const p = await promotion({ guessesPerMinute: 100_000 });
    const { codes } = await batch(p.id, 50);
    for (const code of codes) {
      const answers = await Promise.all(Array.from({ length: 200 }, () => register({ code, phone: phone() })));
      const accepted = answers.filter((a) => a.status === 200);
      assert.equal(accepted.length, 1, `${code}: ${accepted.length} accepted`);
      for (const a of answers) if (a.status !== 200) assert.equal(a.body.code, 'CODE_NOT_ACCEPTED', a.raw);
    }
    const redeemed = await sql<{ n: number }>`select count(*)::int as n from code_redemptions
      where promotion_id = ${p.id}`.execute(app.database.db);
    assert.equal(redeemed.rows[0]?.n, 50);
  });

  it('stops one phone sending wrong codes, and then refuses it even a good code until the window ends', async () => {
    const { promotion, batch, register } = await setup();
    const p = await promotion();
    const { codes } = await batch(p.id, 5);
    const who = phone();
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) statuses.push((await register({ code: randomCode(), phone: who })).status);
    assert.deepEqual(statuses, [422, 422, 422, 422, 422, 429, 429]);
    const good = await register({ code: codes[0], phone: who });
    assert.equal(good.status, 429);
    assert.equal(good.body.code, 'TOO_MANY_ATTEMPTS');
    assert.ok(good.body.retryAfterSeconds > 0);
    // Someone else is not affected.
    assert.equal((await register({ code: codes[0], phone: phone() })).status, 200);
  });

  it('keeps the guess budget exactly, however many wrong codes arrive at once', async () => {
    const { promotion, batch, register, relaxLimits } = await setup();
    await relaxLimits();
    const p = await promotion({ guessesPerMinute: 5 });
    const { codes } = await batch(p.id, 3);
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => register({ code: randomCode(), phone: phone(), promotion: p.key })),
    );
    const refused = answers.filter((a) => a.status === 422).length;
    const limited = answers.filter((a) => a.status === 429).length;
    assert.equal(refused, 5, 'exactly the budget of wrong codes is looked up');
    assert.equal(limited, 7);
    // For the rest of the minute nobody gets an answer that depends on the code, right or wrong.
    assert.equal((await register({ code: codes[0], phone: phone(), promotion: p.key })).status, 429);
  });

  it('keeps the person to the allowance per day and the promotion to its budget', async () => {
    const { promotion, batch, register } = await setup();
    const p = await promotion({ perPersonPerDay: 2, budget: 3 });
    const { codes } = await batch(p.id, 10);
    const who = phone();
    assert.equal((await register({ code: codes[0], phone: who })).status, 200);
    assert.equal((await register({ code: codes[1], phone: who })).status, 200);
    const third = await register({ code: codes[2], phone: who });
    assert.equal(third.status, 409);
    assert.equal(third.body.code, 'PERSON_LIMIT_REACHED');
    // Nothing about the code: an unknown one gets the same answer.
    assert.equal((await register({ code: randomCode(), phone: who })).raw, third.raw);
    assert.equal((await register({ code: codes[3], phone: phone() })).status, 200);
    const spent = await register({ code: codes[4], phone: phone() });
    assert.equal(spent.status, 409);
    assert.equal(spent.body.code, 'PROMOTION_BUDGET_SPENT');
  });

  it('imports codes printed elsewhere and accepts them without a check character of ours', async () => {
    const { promotion, register, ws } = await setup();
    const p = await promotion();
    const file = 'code\nSUMMER0001\nSUMMER0002\nsummer0002\nbad code!\nSUMMER0003\n';
    const r = await app.server.inject({
      method: 'POST',
      url: `/api/v1/codes/promotions/${p.id}/imports?label=printer`,
      headers: { ...ws.bearer, 'content-type': 'text/csv' },
      payload: file,
    });
    assert.equal(r.statusCode, 201, r.body);
    const { batch: imported, ...counts } = r.json() as Json;
    assert.equal(imported.source, 'imported');
    assert.deepEqual(counts, {
      lines: 5,
      imported: 3,
      rejected: 1,
      duplicates: 1,
    });
    assert.equal((await register({ code: 'summer-0002', phone: phone() })).status, 200);
    assert.equal((await register({ code: 'SUMMER0002', phone: phone() })).body.code, 'CODE_NOT_ACCEPTED');
    assert.equal((await register({ code: 'SUMMER0009', phone: phone() })).body.code, 'CODE_NOT_ACCEPTED');
  });

  it("a data subject's export lists their registrations; erasure strips their attempts' addresses and hashes", async () => {
    const { promotion, batch, register, call } = await setup();
    const p = await promotion({ perPersonPerDay: 5 });
    const { codes } = await batch(p.id, 3);
    const who = phone();
    assert.equal((await register({ code: codes[0], phone: who, anonymousId: 'device-77' })).status, 200);
    assert.equal((await register({ code: randomCode(), phone: who })).status, 422);
    const profileId = (await call('GET', `/api/v1/profiles?identifier=phone:${encodeURIComponent(who)}`)).body.items[0]
      .id as string;
    const exported = await call('GET', `/api/v1/profiles/${profileId}/export`);
    assert.equal(exported.status, 200);
    const section = exported.body.sections.codes as Json[];
    assert.ok(section.some((r) => r.record === 'code registration' && r.promotion === p.key));
    const erased = await call('POST', `/api/v1/profiles/${profileId}/erase`, { reason: 'subject_request' });
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    const left = await sql<{ n: number }>`select count(*)::int as n from code_attempts a
      join code_promotions p on p.id = a.promotion_id
      where p.id = ${p.id} and (a.ip is not null or a.identifier_hash is not null or a.device_hash is not null)`.execute(
      app.database.db,
    );
    assert.equal(left.rows[0]?.n, 0, "the person's attempts, accepted and refused, keep no address or hash");
    const kept = await sql<{
      n: number;
    }>`select count(*)::int as n from code_redemptions where promotion_id = ${p.id}`.execute(app.database.db);
    assert.equal(kept.rows[0]?.n, 1, 'the registration itself is kept (counts must add up)');
  });

  it('registers codes sent by SMS or messenger: CODE … and КОД …', async () => {
    const { promotion, batch, ws } = await setup();
    const p = await promotion();
    const { codes } = await batch(p.id, 3);
    const sms = await app.codes.handleInbound(ws.workspaceId, {
      channel: 'sms',
      from: '79161234500',
      text: `code ${(codes[0] as string).replaceAll('-', '')}`,
    });
    assert.equal(sms.action, 'registered');
    assert.match(sms.reply ?? '', /accepted/);
    const ru = await app.codes.handleInbound(ws.workspaceId, {
      channel: 'messenger',
      from: 'telegram:4242',
      text: `КОД ${codes[1]}`,
    });
    assert.equal(ru.action, 'registered');
    const typo = await app.codes.handleInbound(ws.workspaceId, {
      channel: 'sms',
      from: '+79161234501',
      text: `КОД ${typoOf(codes[2] as string)}`,
    });
    assert.equal(typo.action, 'typo');
    assert.match(typo.reply ?? '', /опечатка/);
    const other = await app.codes.handleInbound(ws.workspaceId, { channel: 'sms', from: '+79161234501', text: 'STOP' });
    assert.deepEqual(other, { action: 'none', reply: null });
  });

  it('serves the hosted page: typo, then accepted, in Russian and English', async () => {
    const { promotion, batch, ws } = await setup();
    const p = await promotion();
    const { codes } = await batch(p.id, 2);
    const slug = (await app.org.findWorkspace(ws.workspaceId))?.slug as string;
    const page = await app.server.inject({ method: 'GET', url: `/p/${slug}/${p.key}?lang=ru` });
    assert.equal(page.statusCode, 200);
    assert.match(page.headers['content-type'] as string, /text\/html/);
    assert.match(page.body, /<label for="code">Код/);
    const cookie = page.cookies.find((c) => c.name === 'rp_dev');
    assert.ok(cookie);
    const post = (code: string) =>
      app.server.inject({
        method: 'POST',
        url: `/p/${slug}/${p.key}?lang=en`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rp_dev=${cookie.value}` },
        payload: new URLSearchParams({ code, phone: phone(), consent: '1' }).toString(),
      });
    const typo = await post(typoOf(codes[0] as string));
    assert.equal(typo.statusCode, 200);
    assert.match(typo.body, /typo/);
    assert.match(typo.body, /aria-invalid="true"/);
    const ok = await post(codes[0] as string);
    assert.equal(ok.statusCode, 200);
    assert.match(ok.body, /accepted/);
    const missing = await app.server.inject({ method: 'GET', url: `/p/${slug}/no-such-promotion` });
    assert.equal(missing.statusCode, 404);
  });
});

/** Collects what a generation or export writes, as lines. */
function lines() {
  const seen: string[] = [];
  let pending = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      const parts = (pending + chunk.toString('latin1')).split('\n');
      pending = parts.pop() ?? '';
      for (const line of parts) if (line && line !== 'code') seen.push(line);
      done();
    },
  });
  return { sink, seen };
}

describe('codes: generation under collisions', () => {
  it('replaces repeats and taken hashes, on two connections at once, and the re-export replays exactly the stored codes', async () => {
    // Codes of 3 characters: 961 possible, so a batch of 600 in chunks of 100 repeats itself and collides with the
    // codes already stored by the first batch all the time.
    const { promotion, ws } = await setup();
    const p = await promotion();
    const hasher = new CodeHasher(Buffer.alloc(32, 7));
    const targets = await openBulkTargets(app.database, 2);
    try {
      const stored: string[] = [];
      for (const [i, count] of [300, 600].entries()) {
        const batchId = crypto.randomUUID();
        await sql`insert into code_batches (id, workspace_id, promotion_id, source, size, length, status)
          values (${batchId}, ${ws.workspaceId}, ${p.id}, 'generated', ${count}, 3, 'generating')`.execute(
          app.database.db,
        );
        const seed = Buffer.alloc(32, i + 1);
        const out = lines();
        const result = await generateCodes(
          { targets, database: app.database, workspaceId: ws.workspaceId, batchId },
          { seed, length: 3, count, hasher, sink: { out: out.sink, format: 'csv' }, chunkCodes: 100 },
        );
        assert.equal(result.loaded, count);
        assert.equal(out.seen.length, count);
        assert.equal(new Set(out.seen).size, count, 'no code twice in the list');
        assert.ok(result.skipped.length > 0, 'repeats were replaced');
        const again = lines();
        await replayCodes({
          seed,
          length: 3,
          count,
          skipped: new Set(result.skipped.map(Number)),
          sink: { out: again.sink, format: 'txt' },
        });
        assert.deepEqual(new Set(again.seen), new Set(out.seen), 'the re-export is the same codes');
        stored.push(...out.seen);
      }
      assert.equal(new Set(stored).size, 900, 'no code of the second batch is one of the first');
      const n = await sql<{
        n: number;
      }>`select count(*)::int as n from codes where workspace_id = ${ws.workspaceId}`.execute(app.database.db);
      assert.equal(n.rows[0]?.n, 900);
    } finally {
      await Promise.all(targets.map((t) => t.close()));
    }
  });
});

describe('codes: a million', () => {
  it('generates 1,000,000 codes without a duplicate', { timeout: 600_000 }, async () => {
    const { promotion, ws } = await setup();
    const p = await promotion();
    const created = await app.codes.admin.createBatch(ws.workspaceId, p.id, { count: 1_000_000 }, null);
    const out = lines();
    const result = await app.codes.admin.generateBatch(ws.workspaceId, created.id, out.sink, 'csv');
    assert.equal(result.loaded, 1_000_000);
    assert.equal(out.seen.length, 1_000_000);
    assert.equal(new Set(out.seen).size, 1_000_000, 'a million distinct clear codes');
    const stored = await app.codes.admin.countCodes(ws.workspaceId, created.id);
    assert.deepEqual(stored, { codes: 1_000_000, distinct: 1_000_000 });
  });
});
