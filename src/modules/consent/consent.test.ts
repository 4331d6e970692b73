import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

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
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
    const r = await app.server.inject({ method, url, headers: ws.bearer, ...(payload ? { payload } : {}) });
    return { status: r.statusCode, body: r.body ? r.json() : null };
  };
  /** A person known by the given traits, created through the tracking API; returns their profile id. */
  const person = async (userId: string, traits: Record<string, string>, device = false) => {
    const r = await app.server.inject({
      method: 'POST',
      url: '/v1/identify',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: device ? { anonymousId: userId, traits } : { userId, traits },
    });
    assert.equal(r.statusCode, 200, r.body);
    const found = await call('GET', `/api/v1/profiles?identifier=${device ? 'anonymous_id' : 'user_id'}:${userId}`);
    return found.body.items[0].id as string;
  };
  const check = async (profileId: string, channel: string, purpose: string) =>
    (await call('GET', `/api/v1/consent/check?profileId=${profileId}&channel=${channel}&purpose=${purpose}`)).body as {
      allowed: boolean;
      reason: string;
    };
  const link = async (profileId: string, channel: string, purpose?: string) =>
    (await call('POST', '/api/v1/consent/links', { profileId, channel, ...(purpose ? { purpose } : {}) })).body as {
      unsubscribeUrl: string;
      preferencesUrl: string;
    };
  /** Sends messages through POST /v1/batch with the workspace's write key. */
  const track = async (batch: unknown[]) => {
    const r = await app.server.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: { ...auth, 'content-type': 'application/json' },
      payload: { batch },
    });
    return { status: r.statusCode, body: r.json() };
  };
  const entriesOf = async (profileId: string) =>
    (await call('GET', `/api/v1/profiles/${profileId}/consents`)).body.history as Record<string, unknown>[];
  return { ws, call, person, check, link, track, entriesOf };
}

/** Imports a CSV text into a workspace the way `rapport import profiles` does; returns the refused lines. */
async function importCsv(workspaceId: string, csv: string) {
  const rejects: { line: number; code: string }[] = [];
  await app.events.importStream(workspaceId, {
    kind: 'profiles',
    format: 'csv',
    input: Readable.from([csv]),
    totalBytes: csv.length,
    onReject: (line, code) => {
      rejects.push({ line, code });
    },
  });
  return rejects;
}

const pathOf = (url: string) => new URL(url).pathname;

describe('consent', () => {
  it('is conservative: no consent is no for advertising, service messages go unless refused, unknown purposes never', async () => {
    const { person, check } = await setup();
    const id = await person('c-1', { email: 'anna@example.test' });
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'no_consent' });
    assert.deepEqual(await check(id, 'email', 'service'), { allowed: true, reason: 'service' });
    assert.deepEqual(await check(id, 'email', 'lottery'), { allowed: false, reason: 'unknown_purpose' });
  });

  it('form opt-in → pending → the link page does not confirm by itself → POST confirms, with proof', async () => {
    const { person, check, call } = await setup();
    const id = await person('c-2', { email: 'boris@example.test' });
    const asked = await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [
        {
          channel: 'email',
          purpose: 'marketing',
          action: 'grant',
          source: 'form',
          wordingVersion: 'v3',
          doubleOptIn: true,
        },
      ],
    });
    assert.equal(asked.status, 201, JSON.stringify(asked.body));
    assert.equal(asked.body.entries[0].action, 'pending');
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'pending' });

    const outbox = await call('GET', '/api/v1/consent/outbox');
    const message = outbox.body.items[0];
    assert.equal(message.address, 'boris@example.test');
    const url = /https?:\/\/\S+\/u\/confirm\/\S+/.exec(message.body)?.[0] as string;
    assert.ok(url, message.body);

    const shown = await app.server.inject({ method: 'GET', url: pathOf(url) });
    assert.equal(shown.statusCode, 200);
    assert.match(shown.headers['content-type'] as string, /text\/html/);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'pending' });

    const confirmed = await app.server.inject({
      method: 'POST',
      url: pathOf(url),
      headers: { 'user-agent': 'Mail client 1.0', 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    assert.equal(confirmed.statusCode, 200, confirmed.body);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: true, reason: 'granted' });
    const again = await app.server.inject({ method: 'POST', url: pathOf(url), payload: '' });
    assert.equal(again.statusCode, 200, 'a second click changes nothing and is not an error');

    const { history, current } = (await call('GET', `/api/v1/profiles/${id}/consents`)).body;
    const grant = history.find((e: { action: string }) => e.action === 'grant');
    assert.equal(grant.source, 'double_opt_in');
    assert.equal(grant.wordingVersion, 'v3');
    assert.equal(grant.address, 'boris@example.test');
    assert.equal(grant.userAgent, 'Mail client 1.0');
    assert.ok(grant.ip);
    assert.equal(history.filter((e: { action: string }) => e.action === 'grant').length, 1);
    assert.equal(current.find((s: { channel: string }) => s.channel === 'email').status, 'granted');
  });

  it('one-click unsubscribe: POST revokes at once without cookie or confirmation; GET alone never does', async () => {
    const { person, check, call, link } = await setup();
    const id = await person('c-3', { email: 'vera@example.test' });
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [{ channel: 'email', purpose: 'marketing', action: 'grant', source: 'pos' }],
    });
    const { unsubscribeUrl } = await link(id, 'email');
    const get = await app.server.inject({ method: 'GET', url: pathOf(unsubscribeUrl) });
    assert.equal(get.statusCode, 200);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: true, reason: 'granted' });

    const post = await app.server.inject({
      method: 'POST',
      url: pathOf(unsubscribeUrl),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'List-Unsubscribe=One-Click',
    });
    assert.equal(post.statusCode, 200, post.body);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'revoked' });
    assert.deepEqual(await check(id, 'email', 'service'), { allowed: true, reason: 'service' });

    const forged = `${pathOf(unsubscribeUrl).slice(0, -3)}abc`;
    assert.equal(
      (
        await app.server.inject({
          method: 'POST',
          url: forged,
          payload: 'List-Unsubscribe=One-Click',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
        })
      ).statusCode,
      404,
    );
  });

  it('inbound "СТОП" by SMS revokes SMS advertising for the sender; other words do nothing', async () => {
    const { person, check, call } = await setup();
    const id = await person('c-4', { phone: '+79161234567' });
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [
        { channel: 'sms', purpose: 'marketing', action: 'grant', source: 'code_entry' },
        { channel: 'sms', purpose: 'profiling', action: 'grant', source: 'code_entry' },
      ],
    });
    const hello = await call('POST', '/api/v1/consent/inbound', {
      channel: 'sms',
      from: '+79161234567',
      text: 'привет',
    });
    assert.equal(hello.body.action, 'none');
    assert.equal((await check(id, 'sms', 'marketing')).allowed, true);
    const stop = await call('POST', '/api/v1/consent/inbound', {
      channel: 'sms',
      from: '79161234567', // as gateways pass it: digits without the plus sign
      text: ' стоп! ',
    });
    assert.equal(stop.body.action, 'revoked');
    assert.ok(stop.body.reply);
    assert.deepEqual(await check(id, 'sms', 'marketing'), { allowed: false, reason: 'revoked' });
    assert.deepEqual(await check(id, 'sms', 'profiling'), { allowed: false, reason: 'revoked' });
    const { history } = (await call('GET', `/api/v1/profiles/${id}/consents`)).body;
    assert.ok(history.some((e: { source: string }) => e.source === 'inbound_keyword'));
  });

  it('SMS double opt-in is confirmed by replying the code', async () => {
    const { person, check, call } = await setup();
    const id = await person('c-5', { phone: '+79031112233' });
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [{ channel: 'sms', purpose: 'marketing', action: 'grant', source: 'form', doubleOptIn: true }],
    });
    const sms = (await call('GET', '/api/v1/consent/outbox')).body.items[0];
    const code = /\b(\d{6})\b/.exec(sms.body)?.[1] as string;
    const wrong = await call('POST', '/api/v1/consent/inbound', {
      channel: 'sms',
      from: '+79031112233',
      text: '000000',
    });
    assert.equal(wrong.body.action, 'none');
    const right = await call('POST', '/api/v1/consent/inbound', {
      channel: 'sms',
      from: '+79031112233',
      text: `Да ${code}`,
    });
    assert.equal(right.body.action, 'confirmed');
    assert.deepEqual(await check(id, 'sms', 'marketing'), { allowed: true, reason: 'granted' });
  });

  it('the preference centre shows choices per channel and applies changes both ways', async () => {
    const { person, check, call, link } = await setup();
    const id = await person('c-6', { email: 'gleb@example.test', phone: '+79995550011' });
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [{ channel: 'email', purpose: 'marketing', action: 'grant', source: 'form' }],
    });
    const { preferencesUrl } = await link(id, 'email');
    const page = await app.server.inject({ method: 'GET', url: `${pathOf(preferencesUrl)}?lang=ru` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Новости и предложения/);
    assert.match(page.body, /name="email\/marketing" value="on" checked/);
    const saved = await app.server.inject({
      method: 'POST',
      url: pathOf(preferencesUrl),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'submitted=1&sms%2Fmarketing=on',
    });
    assert.equal(saved.statusCode, 200, saved.body);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'revoked' });
    assert.deepEqual(await check(id, 'sms', 'marketing'), { allowed: true, reason: 'granted' });
  });

  it('a refusal survives a merge: one profile revoked, the other granted → revoked', async () => {
    const { person, check, call } = await setup();
    const a = await person('c-7a', { email: 'dina@example.test' });
    const b = await person('c-7b', { phone: '+79260001122' }, true);
    await call('POST', `/api/v1/profiles/${a}/consents`, {
      statements: [
        { channel: 'sms', purpose: 'marketing', action: 'revoke', source: 'call_centre', address: '+79260001122' },
      ],
    });
    await call('POST', `/api/v1/profiles/${b}/consents`, {
      statements: [{ channel: 'sms', purpose: 'marketing', action: 'grant', source: 'form' }],
    });
    assert.equal((await check(b, 'sms', 'marketing')).allowed, true);
    const merged = await call('POST', `/api/v1/profiles/${b}/merge`, { absorbId: a });
    assert.equal(merged.status, 200, JSON.stringify(merged.body));
    assert.deepEqual(await check(b, 'sms', 'marketing'), { allowed: false, reason: 'revoked' });
    const { history } = (await call('GET', `/api/v1/profiles/${b}/consents`)).body;
    assert.ok(history.some((e: { source: string }) => e.source === 'merge'));
    assert.ok(
      history.some((e: { source: string }) => e.source === 'call_centre'),
      'the absorbed ledger moved',
    );
  });

  it('operators and analysts see addresses and IPs masked; owners in clear', async () => {
    const { ws, person, call } = await setup();
    const id = await person('c-9', { email: 'zoya@example.test', phone: '+79167654321' });
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [
        { channel: 'email', purpose: 'marketing', action: 'grant', source: 'form' },
        { channel: 'sms', purpose: 'marketing', action: 'grant', source: 'pos' },
      ],
    });
    const owner = (await call('GET', `/api/v1/profiles/${id}/consents`)).body;
    assert.ok(owner.history.some((e: { address: string }) => e.address === 'zoya@example.test'));
    for (const role of ['operator', 'analyst']) {
      const key = await app.server.inject({
        method: 'POST',
        url: '/api/v1/keys',
        headers: ws.bearer,
        payload: { kind: 'secret', name: role, role },
      });
      const read = await app.server.inject({
        method: 'GET',
        url: `/api/v1/profiles/${id}/consents`,
        headers: { authorization: `Bearer ${key.json().secret}` },
      });
      assert.equal(read.statusCode, 200, read.body);
      assert.ok(!read.body.includes('zoya@example.test') && !read.body.includes('7654321'), read.body);
      const sms = read.json().current.find((c: { channel: string }) => c.channel === 'sms');
      assert.match(sms.address, /21$/, 'the last digits stay readable');
    }
  });

  it('the tracking API carries consent in context.consent, with proof, once per message id', async () => {
    const { track, call, check, entriesOf } = await setup();
    const identify = {
      type: 'identify',
      messageId: 'm-consent-1',
      userId: 'trk-1',
      traits: { email: 'Vera@Example.test' },
      context: {
        ip: '203.0.113.7',
        userAgent: 'Mozilla/5.0 (test)',
        consent: [
          { channel: 'email', purpose: 'marketing', action: 'grant', source: 'form', wordingVersion: 'web-2' },
          { channel: 'any', purpose: 'processing', action: 'grant', source: 'form' },
        ],
      },
    };
    const bad = [
      {
        type: 'track',
        event: 'x',
        userId: 'trk-2',
        context: { consent: { channel: 'email', purpose: 'lottery', action: 'grant' } },
      },
      {
        type: 'track',
        event: 'x',
        userId: 'trk-3',
        context: { consent: [{ channel: 'email', purpose: 'marketing', action: 'grant' }] },
      },
      {
        type: 'track',
        event: 'x',
        userId: 'trk-4',
        context: { consent: [{ channel: 'fax', purpose: 'marketing', action: 'grant' }] },
      },
    ];
    const first = await track([bad[0], identify, bad[1], bad[2]]);
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.deepEqual(
      first.body.rejected.map((r: { index: number; code: string }) => [r.index, r.code]),
      [
        [0, 'UNKNOWN_PURPOSE'],
        [2, 'ADDRESS_REQUIRED'],
        [3, 'INVALID_CONSENT'],
      ],
    );
    const id = (await call('GET', '/api/v1/profiles?identifier=user_id:trk-1')).body.items[0].id as string;
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: true, reason: 'granted' });
    const entries = await entriesOf(id);
    assert.equal(entries.length, 2);
    const email = entries.find((e) => e.channel === 'email') as Record<string, unknown>;
    assert.equal(email.address, 'vera@example.test');
    assert.equal(email.source, 'form');
    assert.equal(email.wordingVersion, 'web-2');
    assert.equal(email.ip, '203.0.113.7');
    assert.equal(email.userAgent, 'Mozilla/5.0 (test)');
    // The refused messages were not stored at all: their people do not exist.
    assert.equal((await call('GET', '/api/v1/profiles?identifier=user_id:trk-2')).body.items.length, 0);
    // A retried batch adds nothing, here as for the events.
    assert.equal((await track([identify])).status, 200);
    assert.equal((await entriesOf(id)).length, 2);
    // A later revoke through tracking, with a user id only: the address is the profile's own.
    const revoke = await track([
      {
        type: 'track',
        event: 'Unsubscribed',
        userId: 'trk-1',
        context: { consent: { channel: 'email', purpose: 'marketing', action: 'revoke' } },
      },
    ]);
    assert.equal(revoke.body.rejected.length, 0);
    assert.deepEqual(await check(id, 'email', 'marketing'), { allowed: false, reason: 'revoked' });
  });

  it('imports take consent columns; a bad cell refuses its line by number; a rerun adds nothing', async () => {
    const { ws, call, check, entriesOf } = await setup();
    const csv = [
      'email,name,consent.email.marketing,consent.sms.marketing,consent.at,consent.wording',
      'gleb@example.test,Gleb,yes,,2025-03-01T10:00:00Z,paper-2025',
      'dina@example.test,Dina,да,нет,,',
      'oleg@example.test,Oleg,maybe,,,',
    ].join('\n');
    const rejects = await importCsv(ws.workspaceId, csv);
    assert.deepEqual(rejects, [{ line: 4, code: 'INVALID_CONSENT' }]);
    const idOf = async (email: string) =>
      (await call('GET', `/api/v1/profiles?identifier=email:${email}`)).body.items[0]?.id as string | undefined;
    const gleb = (await idOf('gleb@example.test')) as string;
    assert.deepEqual(await check(gleb, 'email', 'marketing'), { allowed: true, reason: 'granted' });
    const [entry] = await entriesOf(gleb);
    assert.equal(entry?.source, 'import');
    assert.equal(entry?.wordingVersion, 'paper-2025');
    assert.equal(entry?.occurredAt, '2025-03-01T10:00:00.000Z');
    const dina = (await idOf('dina@example.test')) as string;
    assert.deepEqual(await check(dina, 'email', 'marketing'), { allowed: true, reason: 'granted' });
    assert.equal((await check(dina, 'sms', 'marketing')).allowed, false);
    assert.equal(await idOf('oleg@example.test'), undefined);
    // The same file again: the rows' message ids were seen, so no second ledger entry.
    await importCsv(ws.workspaceId, csv);
    assert.equal((await entriesOf(gleb)).length, 1);
  });

  it('the proof-of-consent report lists every statement with its wording and proof, per address, audited', async () => {
    const { ws, person, call, track } = await setup();
    const id = await person('c-proof', { email: 'proof@example.test', phone: '+79161112233' });
    const wording = await call('POST', '/api/v1/consent/wordings', {
      purpose: 'marketing',
      version: 'site-7',
      locale: 'ru',
      text: 'Я согласен получать новости и предложения по e-mail.',
    });
    assert.equal(wording.status, 201, JSON.stringify(wording.body));
    await track([
      {
        type: 'track',
        event: 'Form Submitted',
        userId: 'c-proof',
        context: {
          ip: '198.51.100.4',
          userAgent: 'UA/1',
          consent: {
            channel: 'email',
            purpose: 'marketing',
            action: 'grant',
            source: 'form',
            wordingVersion: 'site-7',
          },
        },
      },
    ]);
    await call('POST', `/api/v1/profiles/${id}/consents`, {
      statements: [{ channel: 'sms', purpose: 'marketing', action: 'grant', source: 'pos' }],
    });
    const report = await call('GET', `/api/v1/profiles/${id}/consents/proof?address=Proof@Example.test&lang=ru`);
    assert.equal(report.status, 200, JSON.stringify(report.body));
    assert.equal(report.body.address, 'proof@example.test');
    assert.equal(report.body.entries.length, 1, 'only the e-mail address');
    const [entry] = report.body.entries;
    assert.equal(entry.wordingText, 'Я согласен получать новости и предложения по e-mail.');
    assert.equal(entry.ip, '198.51.100.4');
    assert.equal(entry.source, 'form');
    assert.deepEqual(
      report.body.status.map((s: { channel: string; status: string }) => [s.channel, s.status]),
      [['email', 'granted']],
    );
    assert.match(report.body.digest, /^[0-9a-f]{64}$/);
    const whole = await call('GET', `/api/v1/profiles/${id}/consents/proof`);
    assert.equal(whole.body.entries.length, 2);
    assert.notEqual(whole.body.digest, report.body.digest);
    const html = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/consents/proof?format=html&lang=ru&address=proof@example.test`,
      headers: ws.bearer,
    });
    assert.equal(html.statusCode, 200);
    assert.match(html.headers['content-type'] as string, /^text\/html/);
    assert.ok(html.body.includes('Подтверждение согласия') && html.body.includes(report.body.digest), html.body);
    assert.ok(html.body.includes('Я согласен получать новости'));
    const moscow = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/consents/proof?format=html&lang=ru&timeZone=Europe/Moscow`,
      headers: ws.bearer,
    });
    const local = new Intl.DateTimeFormat('sv-SE', {
      timeZone: 'Europe/Moscow',
      dateStyle: 'short',
      timeStyle: 'medium',
    }).format(new Date(entry.occurredAt));
    assert.ok(moscow.body.includes(`title="${entry.occurredAt}">${local}</time>`), moscow.body);
    assert.ok(moscow.body.includes('Новости и предложения') && moscow.body.includes('веб-форма'));
    const badZone = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/consents/proof?format=html&timeZone=Mars/Olympus`,
      headers: ws.bearer,
    });
    assert.equal(badZone.statusCode, 400);
    const audit = await call('GET', `/api/v1/audit?action=consent.proof&targetId=${id}`);
    assert.equal(audit.body.items.length, 4);
    // Analysts and operators see masked data everywhere, so they cannot print the proof.
    const key = await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'secret', name: 'analyst', role: 'analyst' },
    });
    const refused = await app.server.inject({
      method: 'GET',
      url: `/api/v1/profiles/${id}/consents/proof`,
      headers: { authorization: `Bearer ${key.json().secret}` },
    });
    assert.equal(refused.statusCode, 403);
    // The workspace overview counts the statuses.
    const summary = await call('GET', '/api/v1/consent/summary');
    assert.equal(summary.status, 200);
    const granted = summary.body.rows.filter((r: { status: string }) => r.status === 'granted');
    assert.ok(granted.some((r: { channel: string; count: number }) => r.channel === 'sms' && r.count >= 1));
    assert.ok(summary.body.purposes.some((p: { key: string }) => p.key === 'processing'));
  });

  it('bad input gets a clear 400 with a code', async () => {
    const { person, call } = await setup();
    const id = await person('c-8', { email: 'eva@example.test' });
    const bad = [
      { statements: [{ channel: 'email', purpose: 'nope', action: 'grant' }], code: 'UNKNOWN_PURPOSE' },
      { statements: [{ channel: 'sms', purpose: 'marketing', action: 'grant' }], code: 'ADDRESS_REQUIRED' },
      { statements: [{ channel: 'email', purpose: 'processing', action: 'grant' }], code: 'INVALID_CHANNEL' },
      {
        statements: [{ channel: 'email', purpose: 'marketing', action: 'grant', address: 'not-an-email' }],
        code: 'INVALID_ADDRESS',
      },
    ];
    for (const b of bad) {
      const r = await call('POST', `/api/v1/profiles/${id}/consents`, { statements: b.statements });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.equal(r.body.code, b.code);
    }
  });
});

describe('consent property', () => {
  it('the send check never says yes unless the latest grant-or-revoke entry of the (merged) profile is a grant', async () => {
    const { ws, person } = await setup();
    const pool = await Promise.all(
      Array.from({ length: 4 }, (_, i) => person(`prop-${i}`, { email: `prop${i}@example.test` })),
    );
    const purposes = ['marketing', 'profiling'];
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('state' as const),
        who: fc.nat(3),
        purpose: fc.constantFrom(...purposes),
        action: fc.constantFrom('grant' as const, 'revoke' as const),
        source: fc.constantFrom('api', 'import', 'form'),
      }),
      fc.record({ kind: fc.constant('merge' as const), who: fc.nat(3), into: fc.nat(3) }),
      // A line of a profiles import, possibly of a consent given long ago (it must not override a later one).
      fc.record({
        kind: fc.constant('import' as const),
        who: fc.nat(3),
        purpose: fc.constantFrom(...purposes),
        action: fc.constantFrom('yes', 'no'),
        daysAgo: fc.integer({ min: 0, max: 400 }),
      }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
        // Each run works on fresh clones of the pool's people, so runs do not see each other.
        const userIds = pool.map((_, i) => `run-${Math.random()}-${i}`);
        const run = await Promise.all(userIds.map((u) => person(u, { email: `r${Math.random()}@example.test` })));
        const alive = new Map(run.map((id) => [id, id]));
        const liveOf = (id: string) => {
          let cur = id;
          while (alive.get(cur) !== cur) cur = alive.get(cur) as string;
          return cur;
        };
        for (const o of ops) {
          if (o.kind === 'state') {
            const id = liveOf(run[o.who] as string);
            const r = await app.server.inject({
              method: 'POST',
              url: `/api/v1/profiles/${id}/consents`,
              headers: ws.bearer,
              payload: { statements: [{ channel: 'email', purpose: o.purpose, action: o.action, source: o.source }] },
            });
            assert.equal(r.statusCode, 201, r.body);
          } else if (o.kind === 'import') {
            const live = liveOf(run[o.who] as string);
            const at = new Date(Date.now() - o.daysAgo * 86_400_000).toISOString();
            const rejects = await importCsv(
              ws.workspaceId,
              `userId,consent.email.${o.purpose},consent.at\n${userIds[run.indexOf(live)]},${o.action},${at}\n`,
            );
            assert.deepEqual(rejects, []);
          } else {
            const survivor = liveOf(run[o.into] as string);
            const absorbed = liveOf(run[o.who] as string);
            if (survivor === absorbed) continue;
            // Two e-mails cannot share a profile: merge only by staff override of identities is refused, so
            // merges here go through the consent merge listener directly, as every merge does.
            await app.database.db
              .transaction()
              .execute((trx) =>
                app.consent.onMerge(trx, ws.workspaceId, [{ survivorId: survivor, absorbedId: absorbed }]),
              );
            alive.set(absorbed, survivor);
          }
        }
        for (const id of new Set(run.map(liveOf))) {
          for (const purpose of purposes) {
            const latest = await sql<{ action: string }>`select action from consent_entries
              where workspace_id = ${ws.workspaceId} and profile_id = ${id} and channel = 'email' and purpose = ${purpose}
                and action <> 'pending' order by occurred_at desc, recorded_at desc, id desc limit 1`.execute(
              app.database.db,
            );
            const decision = await app.consent.mayContact(ws.workspaceId, id, 'email', purpose);
            if (decision.allowed) assert.equal(latest.rows[0]?.action, 'grant', JSON.stringify({ ops, id, purpose }));
            else assert.notEqual(latest.rows[0]?.action, 'grant', JSON.stringify({ ops, id, purpose, decision }));
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});
