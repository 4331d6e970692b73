import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { testDatabaseUrl } from '../../platform/config.ts';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';
import { FormDefinition, type FormDefinitionInput } from './forms.schemas.ts';

type Json = any;

let app: TestApp;
before(async () => {
  app = await createTestApp({ worker: true });
});
after(async () => app?.close());

let ipCounter = 1;
/** A fresh address per request group, so that the per-IP limit of one test does not reach the others. */
const freshIp = () => `10.${(ipCounter >> 8) & 255}.${ipCounter++ & 255}.7`;

const signup = (overrides: Partial<FormDefinitionInput> = {}): FormDefinitionInput => ({
  name: 'Newsletter sign-up',
  kind: 'form',
  texts: {
    title: { en: 'Join our club', ru: 'Вступайте в клуб' },
    thankYou: { en: 'Welcome aboard!', ru: 'Добро пожаловать!' },
  },
  fields: [
    {
      key: 'email',
      type: 'email',
      label: { en: 'E-mail', ru: 'E-mail' },
      required: true,
      maps: { to: 'identity', identity: 'email' },
    },
    {
      key: 'first_name',
      type: 'text',
      label: { en: 'First name', ru: 'Имя' },
      maps: { to: 'trait', trait: 'first_name' },
    },
    {
      key: 'pet',
      type: 'select',
      label: { en: 'Your pet', ru: 'Ваш питомец' },
      options: [
        { value: 'cat', label: { en: 'Cat', ru: 'Кошка' } },
        { value: 'dog', label: { en: 'Dog', ru: 'Собака' } },
      ],
      maps: { to: 'trait', trait: 'pet' },
    },
  ],
  consents: [
    {
      key: 'news',
      channel: 'email',
      purpose: 'marketing',
      wordingVersion: 'news-v2',
      label: { en: 'Send me news by e-mail', ru: 'Присылайте новости' },
    },
  ],
  ...overrides,
});

async function setup() {
  const ws = await newWorkspace(app);
  const writeKey = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'write', name: 'site' },
    })
  ).json().secret as string;
  const basic = { authorization: `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}` };
  const call = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) => {
    const r = await app.server.inject({ method, url, headers: ws.bearer, ...(payload ? { payload } : {}) });
    return {
      status: r.statusCode,
      body: r.body && r.headers['content-type']?.includes('json') ? r.json() : r.body,
    } as {
      status: number;
      body: Json;
    };
  };
  // The wording the sample form's consent box shows, in both languages.
  for (const [locale, text] of [
    ['en', 'Send me news by e-mail'],
    ['ru', 'Присылайте новости'],
  ] as const) {
    const added = await call('POST', '/api/v1/consent/wordings', {
      purpose: 'marketing',
      version: 'news-v2',
      locale,
      text,
    });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  }
  const create = async (key: string, definition: FormDefinitionInput, publish = true) => {
    const made = await call('POST', '/api/v1/forms', { key, definition });
    assert.equal(made.status, 201, JSON.stringify(made.body));
    if (!publish) return made.body;
    const live = await call('POST', `/api/v1/forms/${made.body.id}/publish`);
    assert.equal(live.status, 200, JSON.stringify(live.body));
    return live.body;
  };
  const submit = async (key: string, body: Record<string, unknown>, ip = freshIp(), headers = basic) => {
    const r = await app.server.inject({
      method: 'POST',
      url: `/v1/forms/${key}/submit`,
      headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'Test browser 1.0' },
      remoteAddress: ip,
      payload: JSON.stringify(body),
    });
    return { status: r.statusCode, body: r.json() as Json, headers: r.headers };
  };
  const profileBy = async (identifier: string) =>
    (await call('GET', `/api/v1/profiles?identifier=${encodeURIComponent(identifier)}`)).body.items[0] as Json;
  const timeline = async (profileId: string, name: string, count = 1) => {
    let items: Json[] = [];
    for (let i = 0; i < 150; i++) {
      items = (await call('GET', `/api/v1/profiles/${profileId}/events`)).body.items.filter(
        (e: Json) => e.name === name,
      );
      if (items.length >= count) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return items;
  };
  return { ws, writeKey, basic, call, create, submit, profileBy, timeline };
}

describe(`forms (${testDatabaseUrl() ? 'PostgreSQL' : 'PGlite'})`, () => {
  it('validates definitions: keys, choices, trait names, identity fields', async () => {
    assert.equal(FormDefinition.safeParse(signup()).success, true);
    const bad = (d: FormDefinitionInput) => FormDefinition.safeParse(d).success;
    const base = signup();
    const fields = base.fields as Json[];
    assert.equal(bad({ ...base, fields: [...fields, { ...fields[1] }] }), false, 'duplicate key');
    assert.equal(bad({ ...base, fields: [fields[0], { ...fields[2], options: [] }] }), false, 'choice without options');
    assert.equal(
      bad({ ...base, fields: [fields[0], { ...fields[1], maps: { to: 'trait', trait: 'email' } }] }),
      false,
      'reserved trait',
    );
    assert.equal(
      bad({ ...base, fields: [fields[0], { ...fields[1], maps: { to: 'trait', trait: 'Bad Name' } }] }),
      false,
      'trait name pattern',
    );
    assert.equal(bad({ ...base, fields: [fields[1]] }), false, 'a form without an identifying field');
    assert.equal(bad({ ...base, kind: 'survey', fields: [fields[1]] }), true, 'an anonymous survey is fine');
    assert.equal(
      bad({ ...base, fields: [{ ...fields[0], type: 'number' }] }),
      false,
      'a number cannot identify by e-mail',
    );
    assert.equal(
      bad({ ...base, fields: [fields[0], { key: 'r', type: 'rating', label: { en: 'R', ru: '' } }] }),
      false,
      'rating needs a scale',
    );

    const { call } = await setup();
    const refused = await call('POST', '/api/v1/forms', { key: 'x', definition: { ...base, fields: [fields[1]] } });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'VALIDATION_FAILED');
    const badKey = await call('POST', '/api/v1/forms', { key: 'Not A Slug', definition: base });
    assert.equal(badKey.status, 400);
    await call('POST', '/api/v1/forms', { key: 'same', definition: base });
    const taken = await call('POST', '/api/v1/forms', { key: 'same', definition: base });
    assert.equal(taken.status, 409);
    assert.equal(taken.body.code, 'FORM_KEY_TAKEN');
  });

  it('a submission creates the profile with its traits, a second one updates the same person', async () => {
    const { create, submit, profileBy, call } = await setup();
    const form = await create('club', signup());
    const first = await submit('club', {
      answers: { email: 'Anna@Example.test', first_name: 'Anna', pet: 'cat' },
      submissionId: 'first-try-0001',
    });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(first.body.status, 'accepted');
    assert.equal(first.body.message, 'Welcome aboard!');
    assert.equal(first.body.version, 1);
    const anna = await profileBy('email:anna@example.test');
    assert.ok(anna, 'profile created, e-mail lower-cased');
    const second = await submit('club', { answers: { email: 'anna@example.test', pet: 'dog' }, lang: 'ru' });
    assert.equal(second.status, 200);
    assert.equal(second.body.message, 'Добро пожаловать!');
    const profile = (await call('GET', `/api/v1/profiles/${anna.id}`)).body;
    assert.equal(profile.profile?.traits?.first_name ?? profile.traits?.first_name, 'Anna');
    assert.equal(profile.profile?.traits?.pet ?? profile.traits?.pet, 'dog', 'newest answer wins');
    const list = await call('GET', `/api/v1/forms/${form.id}/submissions?limit=1`);
    assert.equal(list.status, 200);
    assert.equal(list.body.items.length, 1);
    assert.ok(list.body.nextCursor);
    const rest = await call('GET', `/api/v1/forms/${form.id}/submissions?limit=1&cursor=${list.body.nextCursor}`);
    assert.equal(rest.body.items.length, 1);
    assert.equal(rest.body.items[0].answers.first_name, 'Anna');
    assert.equal(rest.body.items[0].profileId, anna.id);
    const csv = await call('GET', `/api/v1/forms/${form.id}/submissions.csv`);
    assert.equal(csv.status, 200);
    assert.match(
      String(csv.body),
      /submission_id,created_at,version,profile_id,channel,email,first_name,pet,consent_news/,
    );
    assert.match(String(csv.body), /anna@example\.test,Anna,cat/);
    const audit = await call('GET', '/api/v1/audit?limit=50');
    assert.ok(
      JSON.stringify(audit.body).includes('forms.submissions.export'),
      'the CSV export is in the audit log as an access to personal data',
    );
  });

  it('a submission naming two known people merges them; their submissions follow the survivor', async () => {
    const { create, submit, profileBy, call } = await setup();
    const definition = signup();
    definition.fields = [
      ...(definition.fields as Json[]).slice(0, 2),
      {
        key: 'phone',
        type: 'phone',
        label: { en: 'Phone', ru: 'Телефон' },
        maps: { to: 'identity', identity: 'phone' },
      },
    ];
    (definition.fields as Json[])[0].required = false;
    const form = await create('merge', definition);
    await submit('merge', { answers: { email: 'ira@example.test', first_name: 'Ira' } });
    await submit('merge', { answers: { phone: '+7 916 555-00-11' } });
    const byEmail = await profileBy('email:ira@example.test');
    const byPhone = await profileBy('phone:+79165550011');
    assert.notEqual(byEmail.id, byPhone.id);
    const both = await submit('merge', { answers: { email: 'ira@example.test', phone: '+79165550011' } });
    assert.equal(both.status, 200, JSON.stringify(both.body));
    const survivor = await profileBy('email:ira@example.test');
    assert.equal((await profileBy('phone:+79165550011')).id, survivor.id, 'one person now');
    const items = (await call('GET', `/api/v1/forms/${form.id}/submissions`)).body.items;
    assert.equal(items.length, 3);
    assert.deepEqual(new Set(items.map((s: Json) => s.profileId)), new Set([survivor.id]));
  });

  it('records consent with proof; under double opt-in it stays pending until confirmed', async () => {
    const { create, submit, profileBy, call } = await setup();
    await create('plain', signup());
    await create('doi', signup({ doubleOptIn: true }));
    const ip = freshIp();
    const plain = await submit('plain', { answers: { email: 'boris@example.test' }, consents: { news: true } }, ip);
    assert.equal(plain.body.pendingConsents, 0);
    const boris = await profileBy('email:boris@example.test');
    const history = (await call('GET', `/api/v1/profiles/${boris.id}/consents`)).body.history;
    assert.equal(history.length, 1);
    assert.equal(history[0].action, 'grant');
    assert.equal(history[0].source, 'form');
    assert.equal(history[0].wordingVersion, 'news-v2');
    assert.equal(history[0].ip, ip);
    assert.equal(history[0].userAgent, 'Test browser 1.0');
    assert.equal(history[0].address, 'boris@example.test');

    const unticked = await submit('plain', { answers: { email: 'vera@example.test' }, consents: { news: false } });
    assert.equal(unticked.status, 200);
    const vera = await profileBy('email:vera@example.test');
    assert.equal((await call('GET', `/api/v1/profiles/${vera.id}/consents`)).body.history.length, 0);

    const doi = await submit('doi', { answers: { email: 'gleb@example.test' }, consents: { news: true } });
    assert.equal(doi.body.pendingConsents, 1);
    const gleb = await profileBy('email:gleb@example.test');
    const check = async () =>
      (await call('GET', `/api/v1/consent/check?profileId=${gleb.id}&channel=email&purpose=marketing`)).body;
    assert.deepEqual(await check(), { allowed: false, reason: 'pending' });
    const outbox = await call('GET', '/api/v1/consent/outbox');
    const message = outbox.body.items.find((m: Json) => m.address === 'gleb@example.test');
    const url = /https?:\/\/\S+\/u\/confirm\/\S+/.exec(message.body)?.[0] as string;
    assert.ok(url);
    const confirmed = await app.server.inject({
      method: 'POST',
      url: new URL(url).pathname,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    assert.equal(confirmed.statusCode, 200);
    assert.deepEqual(await check(), { allowed: true, reason: 'granted' });
    const grant = (await call('GET', `/api/v1/profiles/${gleb.id}/consents`)).body.history.find(
      (e: Json) => e.action === 'grant',
    );
    assert.equal(grant.wordingVersion, 'news-v2');
  });

  it('a required consent box and field errors come back per field with stable codes', async () => {
    const { create, submit } = await setup();
    const definition = signup();
    (definition.consents as Json[])[0].required = true;
    await create('strict', definition);
    const r = await submit('strict', { answers: { email: 'not-an-email', pet: 'hamster', nope: 'x' } });
    assert.equal(r.status, 400);
    assert.equal(r.body.code, 'FORM_INVALID');
    const codes = Object.fromEntries(r.body.errors.map((e: Json) => [e.path, e.code]));
    assert.deepEqual(codes, {
      nope: 'UNKNOWN_FIELD',
      email: 'INVALID_EMAIL',
      pet: 'NOT_AN_OPTION',
      news: 'CONSENT_REQUIRED',
    });
    const missing = await submit('strict', { answers: {}, consents: { news: true } });
    assert.deepEqual(
      missing.body.errors.map((e: Json) => [e.path, e.code]),
      [['email', 'REQUIRED']],
    );
  });

  it('a survey writes answers as traits and a Survey Answered event with the campaign of its placement', async () => {
    const { create, submit, profileBy, call, timeline } = await setup();
    await create('nps', {
      name: 'Satisfaction',
      kind: 'survey',
      texts: { title: { en: 'How did we do?', ru: 'Как мы справились?' } },
      fields: [
        {
          key: 'phone',
          type: 'phone',
          label: { en: 'Phone', ru: 'Телефон' },
          maps: { to: 'identity', identity: 'phone' },
        },
        {
          key: 'score',
          type: 'rating',
          scale: 10,
          required: true,
          label: { en: 'Score', ru: 'Оценка' },
          maps: { to: 'trait', trait: 'nps_score' },
        },
        {
          key: 'liked',
          type: 'multiselect',
          label: { en: 'Liked', ru: 'Понравилось' },
          options: [
            { value: 'taste', label: { en: 'Taste', ru: 'Вкус' } },
            { value: 'price', label: { en: 'Price', ru: 'Цена' } },
            { value: 'pack', label: { en: 'Pack', ru: 'Упаковка' } },
          ],
        },
        { key: 'comment', type: 'textarea', label: { en: 'Comment', ru: 'Комментарий' } },
      ],
    });
    const r = await submit('nps', {
      answers: { phone: '+7 916 123-45-67', score: 9, liked: ['taste', 'pack'], comment: 'Great' },
      source: { utm_source: 'tv', utm_campaign: 'spring', m: 'TV-SPOT-7' },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await submit('nps', { answers: { phone: '+7 916 765-43-21', score: 6, liked: ['price'] } });
    const person = await profileBy('phone:+79161234567');
    const profile = (await call('GET', `/api/v1/profiles/${person.id}`)).body;
    assert.equal(profile.profile?.traits?.nps_score ?? profile.traits?.nps_score, 9);
    const [event] = await timeline(person.id, 'Survey Answered');
    assert.ok(event, 'Survey Answered on the timeline');
    assert.equal(event.properties.score, 9);
    assert.deepEqual(event.properties.liked, ['taste', 'pack']);
    assert.equal(event.properties.comment, 'Great');
    assert.equal(event.properties.submissionId, r.body.submissionId);
    assert.equal(event.properties.phone, undefined, 'identifiers are not repeated as properties');
    assert.deepEqual(event.context.campaign, { source: 'tv', name: 'spring', content: 'TV-SPOT-7' });
    const forms = (await call('GET', '/api/v1/forms')).body.items;
    const nps = forms.find((f: Json) => f.key === 'nps');
    assert.equal(nps.submissions, 2);
    const results = (await call('GET', `/api/v1/forms/${nps.id}/results`)).body;
    assert.equal(results.total, 2);
    const score = results.questions.find((q: Json) => q.key === 'score');
    assert.equal(score.average, 7.5);
    assert.equal(score.counts.length, 10);
    assert.equal(score.counts.find((c: Json) => c.value === '9').count, 1);
    const liked = results.questions.find((q: Json) => q.key === 'liked');
    assert.deepEqual(liked.counts, [
      { value: 'taste', count: 1 },
      { value: 'price', count: 1 },
      { value: 'pack', count: 1 },
    ]);
  });

  it('a retried submission id stores one submission and writes exactly one event', async () => {
    const { create, submit, profileBy, timeline, call } = await setup();
    const form = await create('once', signup());
    const body = { answers: { email: 'dina@example.test', first_name: 'Dina' }, submissionId: 'double-click-42' };
    const [a, b] = await Promise.all([submit('once', body), submit('once', body)]);
    const c = await submit('once', body);
    assert.equal(a.status, 200);
    assert.equal(b.status, 200);
    assert.equal(a.body.submissionId, b.body.submissionId);
    assert.equal(a.body.submissionId, c.body.submissionId);
    const dina = await profileBy('email:dina@example.test');
    await timeline(dina.id, 'Form Submitted');
    // Another submission after it, so that a second event of the first would have had time to arrive.
    await submit('once', { answers: { email: 'dina@example.test' } });
    const events = await timeline(dina.id, 'Form Submitted', 2);
    assert.equal(events.length, 2);
    assert.equal(events.filter((e: Json) => e.properties.submissionId === a.body.submissionId).length, 1);
    assert.equal((await call('GET', `/api/v1/forms/${form.id}`)).body.submissions, 2);
  });

  it('limits hold per identifier and per IP, kept in the database; the honeypot stores nothing', async () => {
    const { create, submit, call } = await setup();
    const form = await create('limited', signup());
    const statuses: number[] = [];
    for (let i = 0; i < 11; i++)
      statuses.push((await submit('limited', { answers: { email: 'eve@example.test' } })).status);
    assert.deepEqual(statuses.slice(0, 10), Array(10).fill(200));
    assert.equal(statuses[10], 429);
    const ip = freshIp();
    const fromOneIp: number[] = [];
    for (let i = 0; i < 31; i++)
      fromOneIp.push((await submit('limited', { answers: { email: `bot${i}@example.test` } }, ip)).status);
    assert.equal(fromOneIp.filter((s) => s === 200).length, 30);
    const last = await submit('limited', { answers: { email: 'late@example.test' } }, ip);
    assert.equal(last.status, 429);
    assert.equal(last.body.code, 'TOO_MANY_SUBMISSIONS');
    assert.ok(Number(last.headers['retry-after']) > 0);
    const counters = await sql<{
      n: number;
    }>`select count(*)::int as n from rate_limit_counters where bucket like 'forms:%'`.execute(app.database.db);
    assert.ok(Number(counters.rows[0]?.n) > 0);

    const before = (await call('GET', `/api/v1/forms/${form.id}`)).body.submissions;
    const bot = await submit('limited', { answers: { email: 'spam@example.test' }, website: 'http://spam.example' });
    assert.equal(bot.status, 200, 'the bot is answered as if accepted');
    assert.equal((await call('GET', `/api/v1/forms/${form.id}`)).body.submissions, before);
  });

  it("gives the embed snippet the workspace's newest write key, never a secret key", async () => {
    const { create, call, writeKey } = await setup();
    const form = await create('snippet-key', signup());
    assert.equal(form.writeKey, writeKey);
    const newer = (await call('POST', '/api/v1/keys', { kind: 'write', name: 'landing' })).body.secret as string;
    assert.equal((await call('GET', `/api/v1/forms/${form.id}`)).body.writeKey, newer);
    assert.match(newer, /^wk_/);
  });

  it('publishes a consent box only with an existing wording, showing exactly its text', async () => {
    const { create, call } = await setup();
    const box = (signup().consents ?? [])[0] as Json;
    const unknown = await create(
      'unknown-wording',
      signup({ consents: [{ ...box, wordingVersion: 'news-v9' }] }),
      false,
    );
    const refused = await call('POST', `/api/v1/forms/${unknown.id}/publish`);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.code, 'UNKNOWN_WORDING');
    const edited = { ...box, label: { en: 'Send me news (and more) by e-mail', ru: box.label.ru } };
    const mismatch = await create('edited-label', signup({ consents: [edited] }), false);
    const refusedToo = await call('POST', `/api/v1/forms/${mismatch.id}/publish`);
    assert.equal(refusedToo.status, 400);
    assert.equal(refusedToo.body.code, 'WORDING_MISMATCH');
    assert.equal((await call('GET', `/api/v1/forms/${mismatch.id}`)).body.status, 'draft', 'still a draft');
  });

  it('bad input gets a 4xx problem, never a 500', async () => {
    const { create, submit, basic, call } = await setup();
    const form = await create('robust', signup());
    const raw = async (payload: string, headers: Record<string, string> = {}) =>
      (
        await app.server.inject({
          method: 'POST',
          url: '/v1/forms/robust/submit',
          headers: { ...basic, 'content-type': 'application/json', ...headers },
          remoteAddress: freshIp(),
          payload,
        })
      ).statusCode;
    for (const payload of [
      '',
      '{',
      '[]',
      'null',
      '{"answers":5}',
      '{"answers":{"email":{"a":1}}}',
      '{"answers":{},"consents":"yes"}',
      '{"answers":{"email":"x@example.test"},"submissionId":"<script>"}',
    ])
      assert.ok([400, 415].includes(await raw(payload)), payload);
    assert.equal(await raw('<xml/>', { 'content-type': 'application/xml' }), 415);
    const cases: [string, Record<string, unknown>, number, string][] = [
      ['robust', { answers: { email: 'x@example.test', pet: ['cat'] } }, 400, 'FORM_INVALID'],
      ['robust', { answers: { email: 'x@example.test', first_name: 'a'.repeat(501) } }, 400, 'FORM_INVALID'],
      ['nosuch', { answers: { email: 'x@example.test' } }, 404, 'FORM_NOT_FOUND'],
      ['UPPER', { answers: {} }, 404, 'FORM_NOT_FOUND'],
    ];
    for (const [key, body, status, code] of cases) {
      const r = await submit(key, body);
      assert.equal(r.status, status, `${key} ${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body.code, code);
    }
    const noKey = await submit('robust', { answers: {} }, freshIp(), { authorization: '' } as never);
    assert.equal(noKey.status, 401);
    const wrongKey = await submit('robust', { answers: {} }, freshIp(), {
      authorization: `Basic ${Buffer.from('wk_nope:').toString('base64')}`,
    });
    assert.equal(wrongKey.status, 401);
    await create('draft-one', signup(), false);
    assert.equal((await submit('draft-one', { answers: { email: 'x@example.test' } })).status, 404);
    await call('POST', `/api/v1/forms/${form.id}/close`);
    const closed = await submit('robust', { answers: { email: 'x@example.test' } });
    assert.equal(closed.status, 409);
    assert.equal(closed.body.code, 'FORM_CLOSED');
    assert.equal((await call('GET', '/api/v1/forms/not-a-uuid')).status, 400);
    assert.equal((await call('POST', `/api/v1/forms/${form.id}/publish`)).status, 200);
    assert.equal((await call('PUT', `/api/v1/forms/${form.id}`, { name: '' })).status, 400);
    assert.equal((await call('GET', `/api/v1/forms/${form.id}/submissions?cursor=zzz`)).status, 400);
  });

  it('editing a live form makes a new version; submissions record theirs', async () => {
    const { create, submit, call } = await setup();
    const form = await create('versions', signup());
    await submit('versions', { answers: { email: 'v1@example.test' } });
    const edited = await call('PUT', `/api/v1/forms/${form.id}`, { ...signup(), name: 'Sign-up, second edition' });
    assert.equal(edited.status, 200, JSON.stringify(edited.body));
    assert.equal(edited.body.version, 2);
    assert.equal(edited.body.status, 'live');
    const second = await submit('versions', { answers: { email: 'v2@example.test' } });
    assert.equal(second.body.version, 2);
    const items = (await call('GET', `/api/v1/forms/${form.id}/submissions`)).body.items;
    assert.deepEqual(
      items.map((s: Json) => s.version),
      [2, 1],
    );
    const draft = await create('draft-edit', signup(), false);
    const again = await call('PUT', `/api/v1/forms/${draft.id}`, signup({ name: 'Renamed draft' }));
    assert.equal(again.body.version, 1, 'a draft that never went live is edited in place');
  });

  it('keeps workspaces apart', async () => {
    const a = await setup();
    const b = await setup();
    const form = await a.create('private', signup());
    const r = await b.submit('private', { answers: { email: 'x@example.test' } });
    assert.equal(r.status, 404);
    assert.equal((await b.call('GET', `/api/v1/forms/${form.id}`)).status, 404);
    assert.equal((await b.call('GET', `/api/v1/forms/${form.id}/submissions`)).status, 404);
    assert.equal((await b.call('POST', `/api/v1/forms/${form.id}/publish`)).status, 404);
    assert.equal((await b.call('GET', '/api/v1/forms')).body.items.length, 0);
  });

  it('the hosted page works without script: errors per field, then thanks; UTM and placement kept', async () => {
    const { create, profileBy, call } = await setup();
    const form = await create('page', signup());
    const path = new URL(form.hostedUrl).pathname;
    const shown = await app.server.inject({
      method: 'GET',
      url: `${path}?utm_source=poster&m=METRO-12`,
      headers: { 'accept-language': 'ru-RU,ru;q=0.9' },
    });
    assert.equal(shown.statusCode, 200);
    assert.match(shown.body, /<html lang="ru">/);
    assert.match(shown.body, /Вступайте в клуб/);
    assert.match(shown.body, /<label for="f-email">/);
    const sid = /name="_sid" value="([^"]+)"/.exec(shown.body)?.[1] as string;
    const cookie = shown.cookies.find((c) => c.name === 'rp_dev');
    assert.ok(cookie);
    const post = (payload: string) =>
      app.server.inject({
        method: 'POST',
        url: `${path}?utm_source=poster&m=METRO-12&lang=en`,
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `rp_dev=${cookie.value}` },
        remoteAddress: freshIp(),
        payload,
      });
    const wrong = await post(`_sid=${sid}&email=nobody&first_name=Lena`);
    assert.equal(wrong.statusCode, 200);
    assert.match(wrong.body, /role="alert"/);
    assert.match(wrong.body, /id="f-email"[^>]*aria-describedby="f-email-err" aria-invalid="true"/);
    assert.match(wrong.body, /value="Lena"/, 'what was typed is kept');
    const right = await post(`_sid=${sid}&email=lena%40example.test&first_name=Lena&pet=dog&consent_news=1`);
    assert.match(right.body, /Welcome aboard!/);
    const again = await post(`_sid=${sid}&email=lena%40example.test&first_name=Lena&pet=dog&consent_news=1`);
    assert.match(again.body, /Welcome aboard!/);
    const lena = await profileBy('email:lena@example.test');
    const items = (await call('GET', `/api/v1/forms/${form.id}/submissions`)).body.items;
    assert.equal(items.length, 1, 'a resubmitted page stores one submission');
    assert.equal(items[0].profileId, lena.id);
    assert.equal(items[0].channel, 'page');
    assert.deepEqual(items[0].source, { utm_source: 'poster', m: 'METRO-12' });
    assert.deepEqual(items[0].consents, { news: true });
    const bot = await post('email=bot%40example.test&website=http%3A%2F%2Fspam');
    assert.equal(bot.statusCode, 200);
    assert.equal((await call('GET', `/api/v1/forms/${form.id}`)).body.submissions, 1);
    const missing = await app.server.inject({ method: 'GET', url: '/p/no-such-workspace/f/page' });
    assert.equal(missing.statusCode, 404);
  });

  it('serves the embed script cross-origin and answers the submit preflight', async () => {
    const { create } = await setup();
    const form = await create('embedded', signup());
    const script = await app.server.inject({ method: 'GET', url: new URL(form.embedUrl).pathname });
    assert.equal(script.statusCode, 200);
    assert.match(script.headers['content-type'] as string, /javascript/);
    assert.equal(script.headers['cross-origin-resource-policy'], 'cross-origin');
    assert.match(script.body, /var CONFIG = /);
    assert.doesNotMatch(script.body, /innerHTML|eval\(/);
    const preflight = await app.server.inject({
      method: 'OPTIONS',
      url: '/v1/forms/embedded/submit',
      headers: { origin: 'https://brand.example', 'access-control-request-method': 'POST' },
    });
    assert.equal(preflight.statusCode, 204);
    assert.equal(preflight.headers['access-control-allow-origin'], '*');
    assert.match(String(preflight.headers['access-control-allow-headers']), /authorization/);
  });

  it("exports a person's submissions and blanks their answers on erasure", async () => {
    const { create, submit, profileBy, call } = await setup();
    const form = await create('gdpr', signup());
    await submit('gdpr', {
      answers: { email: 'zoe@example.test', first_name: 'Zoe', pet: 'cat' },
      consents: { news: true },
    });
    const zoe = await profileBy('email:zoe@example.test');
    const exported = await call('GET', `/api/v1/profiles/${zoe.id}/export`);
    assert.equal(exported.status, 200);
    const rows = exported.body.sections.form_submissions;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].form, 'gdpr');
    assert.equal(rows[0].answers.first_name, 'Zoe');
    const erased = await call('POST', `/api/v1/profiles/${zoe.id}/erase`, { reason: 'subject_request' });
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    const items = (await call('GET', `/api/v1/forms/${form.id}/submissions`)).body.items;
    assert.equal(items.length, 1, 'the submission is kept for the counts');
    assert.deepEqual(items[0].answers, {});
    assert.deepEqual(items[0].consents, {});
    assert.equal(items[0].erased, true);
    const csv = String((await call('GET', `/api/v1/forms/${form.id}/submissions.csv`)).body);
    assert.doesNotMatch(csv, /zoe|Zoe/);
  });
});
