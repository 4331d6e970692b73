import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { strFromU8, unzipSync } from 'fflate';
import { sql } from 'kysely';
import { randomToken } from '../../platform/ids.ts';
import { createTestApp, newWorkspace, type TestApp, type TestWorkspace } from '../../testing.ts';
import { normalizeIdentifier } from './profiles.identifiers.ts';
import { erasedIdentifiers } from './profiles.subject.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp();
});
after(async () => app?.close());

// The person to erase. Every value is unusual, and unique to one test (they share a database), so that finding it
// anywhere means it was left behind.
function newPerson() {
  const tag = randomToken(5).toLowerCase();
  const digits = String(1_000_000 + Math.floor(Math.random() * 8_999_999));
  const card = `4276${String(Math.floor(Math.random() * 1e12)).padStart(12, '0')}`;
  return {
    email: `zinaida.quixotova.${tag}@example.test`,
    phone: `+7903${digits}`,
    phoneAsSent: `+7 903 ${digits.slice(0, 3)}-${digits.slice(3, 5)}-${digits.slice(5)}`,
    name: `Zinaida Quixotova-${tag}`,
    userId: `zq-user-${tag}`,
    anonymousId: `anon-zq-${tag}`,
    posDevice: `pos-zq-${tag}`,
    card,
    cardAsSent: `${card.slice(0, 4)} ${card.slice(4, 8)} ${card.slice(8, 12)} ${card.slice(12)}`,
    ip: `198.51.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`,
    userAgent: `ZQBrowser-${tag}/7.1`,
    tag,
  };
}
type Person = ReturnType<typeof newPerson>;
const needlesOf = (p: Person) => [
  p.email,
  p.phone,
  p.phone.slice(2),
  p.phoneAsSent.slice(3),
  p.name,
  `Quixotova-${p.tag}`,
  p.userId,
  p.anonymousId,
  p.posDevice,
  p.card,
  p.cardAsSent,
  p.ip,
  p.userAgent,
];

async function writeKeyAuth(ws: TestWorkspace) {
  const key = (
    await app.server.inject({
      method: 'POST',
      url: '/api/v1/keys',
      headers: ws.bearer,
      payload: { kind: 'write', name: 'site' },
    })
  ).json().secret as string;
  return { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
}

async function roleKey(ws: TestWorkspace, role: string) {
  const created = await app.server.inject({
    method: 'POST',
    url: '/api/v1/keys',
    headers: ws.bearer,
    payload: { kind: 'secret', name: `${role} key`, role },
  });
  assert.equal(created.statusCode, 201, created.body);
  return { authorization: `Bearer ${created.json().secret}` };
}

async function call(method: string, url: string, headers: Record<string, string>, payload?: unknown) {
  const r = await app.server.inject({ method: method as 'GET', url, headers, payload: payload as object });
  return { status: r.statusCode, body: r.headers['content-type']?.includes('json') ? r.json() : r.rawPayload, r };
}

async function idOf(ws: TestWorkspace, identifier: string) {
  return (await call('GET', `/api/v1/profiles?identifier=${encodeURIComponent(identifier)}`, ws.bearer)).body.items[0]
    ?.id as string | undefined;
}

/** The person's whole history through every door: tracking, a second profile merged by staff, an import. */
async function seedPerson(ws: TestWorkspace, PERSON: Person) {
  const auth = await writeKeyAuth(ws);
  const context = { ip: PERSON.ip, userAgent: PERSON.userAgent, library: { name: 'analytics.js', version: '2.1' } };
  const sent = await app.server.inject({
    method: 'POST',
    url: '/v1/batch',
    headers: auth,
    payload: {
      batch: [
        {
          type: 'page',
          anonymousId: PERSON.anonymousId,
          name: 'Home',
          properties: { url: `https://shop.test/?e=${PERSON.email}` },
          context,
        },
        {
          type: 'identify',
          userId: PERSON.userId,
          anonymousId: PERSON.anonymousId,
          traits: { email: PERSON.email, phone: PERSON.phoneAsSent, name: PERSON.name, city: 'Tver' },
          context,
        },
        {
          type: 'track',
          messageId: `order-${PERSON.email}-1`,
          userId: PERSON.userId,
          event: 'Order Completed',
          properties: {
            revenue: 1500,
            currency: 'RUB',
            sku: 'TEA-1',
            recipient: PERSON.name,
            products: [{ sku: 'TEA-1', price: 1500, note: `gift for ${PERSON.name}` }],
          },
          context,
        },
        // Someone else, whose data must stay whole.
        { type: 'identify', userId: 'other-1', traits: { email: 'other@example.test', name: 'Olga Other' } },
        { type: 'track', userId: 'other-1', event: 'Order Completed', properties: { revenue: 700, currency: 'RUB' } },
      ],
    },
  });
  assert.equal(sent.statusCode, 200, sent.body);
  // A till swipe with only a card and a name: another profile until staff merge it.
  const pos = await app.server.inject({
    method: 'POST',
    url: '/v1/track',
    headers: auth,
    payload: {
      anonymousId: PERSON.posDevice,
      event: 'Purchase',
      properties: { amount: 990, currency: 'RUB' },
      context: { channel: 'pos', traits: { card: PERSON.cardAsSent, name: PERSON.name } },
    },
  });
  assert.equal(pos.statusCode, 200, pos.body);
  const person = (await idOf(ws, `email:${PERSON.email}`)) as string;
  const till = (await idOf(ws, `card:${PERSON.card}`)) as string;
  assert.ok(person && till && person !== till);
  const merged = await call('POST', `/api/v1/profiles/${person}/merge`, ws.bearer, { absorbId: till });
  assert.equal(merged.status, 200, JSON.stringify(merged.body));
  const edited = await call('PATCH', `/api/v1/profiles/${person}/traits`, ws.bearer, { set: { vip: true } });
  assert.equal(edited.status, 200);
  // Consents with their proof: an e-mail double opt-in (a confirmation message to the address) and an SMS grant.
  const consented = await call('POST', `/api/v1/profiles/${person}/consents`, ws.bearer, {
    statements: [
      { channel: 'email', purpose: 'marketing', action: 'grant', source: 'form', doubleOptIn: true },
      { channel: 'sms', purpose: 'marketing', action: 'grant', source: 'pos' },
    ],
  });
  assert.equal(consented.status, 201, JSON.stringify(consented.body));

  // The same person again in a customers file uploaded from the console.
  const csv = `E-mail,Mobile,Full name\n${PERSON.email},${PERSON.phoneAsSent},${PERSON.name}\n`;
  const upload = await app.server.inject({
    method: 'POST',
    url: '/api/v1/imports?kind=profiles&fileName=customers.csv&map=E-mail=email,Mobile=phone,Full name=name',
    headers: { ...ws.bearer, 'content-type': 'text/csv' },
    payload: csv,
  });
  assert.equal(upload.statusCode, 202, upload.body);
  await app.events.uploads.run(ws.workspaceId, upload.json().id);
  return { person, till };
}

/** Every text, character, json(b) and array column of every table, in every schema (pg-boss's included). */
async function findAnywhere(needles: string[]) {
  const columns = await sql<{ table_schema: string; table_name: string; column_name: string }>`
    select c.table_schema, c.table_name, c.column_name from information_schema.columns c
    join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name
    where c.table_schema not in ('pg_catalog', 'information_schema') and t.table_type = 'BASE TABLE'
      and c.data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'USER-DEFINED')
  `.execute(app.database.db);
  assert.ok(columns.rows.length > 40, 'the search covers the schema');
  const found: string[] = [];
  const patterns = needles.map((n) => `%${n.toLowerCase()}%`);
  for (const c of columns.rows) {
    const ident = sql`${sql.id(c.table_schema, c.table_name)}`;
    const rows = await sql<{ v: string }>`select ${sql.ref(c.column_name)}::text as v from ${ident}
      where lower(${sql.ref(c.column_name)}::text) like any(${patterns}::text[])`.execute(app.database.db);
    for (const r of rows.rows) {
      const which = needles.filter((n) => r.v.toLowerCase().includes(n.toLowerCase()));
      found.push(`${c.table_schema}.${c.table_name}.${c.column_name}: ${which.join(', ')}`);
    }
  }
  return found;
}

async function aggregates(workspaceId: string) {
  const rows = await sql<{ type: string; name: string | null; n: number; amount: string | null }>`
    select type, name, count(*)::int as n,
      sum(coalesce((properties ->> 'revenue')::numeric, 0) + coalesce((properties ->> 'amount')::numeric, 0))::text as amount
    from events where workspace_id = ${workspaceId} group by type, name order by type, name`.execute(app.database.db);
  return rows.rows;
}

describe('data-subject export', () => {
  it('exports every section as JSON and as a zip of CSV files, owner only, audited', async () => {
    const ws = await newWorkspace(app);
    const PERSON = newPerson();
    const { person, till } = await seedPerson(ws, PERSON);

    // Asked by the absorbed id: the export is the whole person's.
    const json = await call('GET', `/api/v1/profiles/${till}/export`, { ...ws.bearer, 'user-agent': 'dpo-tool/1' });
    assert.equal(json.status, 200, JSON.stringify(json.body));
    assert.match(
      String(json.r.headers['content-disposition']),
      new RegExp(`attachment; filename="profile-${person}.json"`),
    );
    const data = json.body;
    assert.equal(data.profileId, person);
    assert.deepEqual(Object.keys(data.sections).sort(), [
      'audit',
      'codes',
      'consents',
      'events',
      'form_submissions',
      'identities',
      'loyalty',
      'merges',
      'profile',
    ]);
    assert.equal(data.sections.profile.length, 2, 'the profile and the one merged into it');
    assert.ok(data.sections.identities.some((i: { kind: string; value: string }) => i.value === PERSON.email));
    assert.ok(data.sections.identities.some((i: { kind: string; value: string }) => i.value === PERSON.card));
    assert.equal(data.sections.merges.length, 1);
    assert.ok(
      data.sections.consents.some(
        (c: { address?: string; action?: string }) => c.address === PERSON.email && c.action === 'pending',
      ),
      'the consent ledger with its addresses',
    );
    assert.equal(data.sections.events.length, 5, 'page, identify, order, till purchase, imported row');
    assert.ok(data.sections.events.some((e: { context: { ip?: string } }) => e.context.ip === PERSON.ip));
    assert.ok(data.sections.audit.some((a: { action: string }) => a.action === 'profile.merged'));

    const zip = await call('GET', `/api/v1/profiles/${person}/export?format=csv`, ws.bearer);
    assert.equal(zip.status, 200);
    assert.equal(zip.r.headers['content-type'], 'application/zip');
    const files = unzipSync(new Uint8Array(zip.r.rawPayload));
    assert.deepEqual(Object.keys(files).sort(), [
      'README.txt',
      'audit.csv',
      'codes.csv',
      'consents.csv',
      'events.csv',
      'form_submissions.csv',
      'identities.csv',
      'loyalty.csv',
      'merges.csv',
      'profile.csv',
    ]);
    const raw = files['identities.csv'] as Uint8Array;
    assert.deepEqual([...raw.slice(0, 3)], [0xef, 0xbb, 0xbf], 'a UTF-8 byte-order mark for spreadsheets');
    const identities = strFromU8(raw);
    assert.ok(identities.startsWith('profileId,kind,value,since\r\n'));
    assert.match(identities, new RegExp(`,email,${PERSON.email.replace(/\./g, '\\.')},`));
    // A phone would start with "+": spreadsheets must not read it as a formula.
    assert.ok(identities.includes(`,phone,'${PERSON.phone},`));
    const events = strFromU8(files['events.csv'] as Uint8Array);
    assert.equal(events.trim().split('\r\n').length, 6, 'header and five events');

    for (const role of ['marketer', 'analyst', 'operator']) {
      const denied = await call('GET', `/api/v1/profiles/${person}/export`, await roleKey(ws, role));
      assert.equal(denied.status, 403, role);
    }
    const audit = await call('GET', `/api/v1/audit?action=profile.exported&targetId=${person}`, ws.bearer);
    assert.equal(audit.body.items.length, 2);
    const [csvEntry, jsonEntry] = audit.body.items;
    assert.equal(csvEntry.details.format, 'csv');
    assert.equal(jsonEntry.details.format, 'json');
    assert.equal(jsonEntry.userAgent, 'dpo-tool/1');
    assert.equal(jsonEntry.ip, '127.0.0.1');
    assert.equal(jsonEntry.details.rows.events, 5);
    assert.ok(jsonEntry.at);
  });
});

describe('data-subject erasure', () => {
  it('leaves no personal value in any column of any table, keeps aggregates, recognises the person later', async () => {
    const ws = await newWorkspace(app);
    const PERSON = newPerson();
    const NEEDLES = needlesOf(PERSON);
    const { person, till } = await seedPerson(ws, PERSON);
    // Staff reads, audited: they must not keep what was searched for either.
    assert.equal((await call('GET', `/api/v1/profiles?q=${encodeURIComponent(PERSON.name)}`, ws.bearer)).status, 200);
    assert.equal((await call('GET', `/api/v1/profiles/${person}`, ws.bearer)).status, 200);
    assert.equal((await call('GET', `/api/v1/profiles/${person}/events`, ws.bearer)).status, 200);
    const before = await aggregates(ws.workspaceId);
    assert.ok((await findAnywhere(NEEDLES)).length > 0, 'the search finds the person before the erasure');

    const refused = await call('POST', `/api/v1/profiles/${person}/erase`, await roleKey(ws, 'marketer'), {
      reason: 'subject_request',
    });
    assert.equal(refused.status, 403);
    const freeText = await call('POST', `/api/v1/profiles/${person}/erase`, ws.bearer, { reason: PERSON.name });
    assert.equal(freeText.status, 400, 'the reason is a code, never free text');

    const erased = await call('POST', `/api/v1/profiles/${till}/erase`, ws.bearer, {
      reason: 'subject_request',
      ticket: 'DSR-2026-114',
    });
    assert.equal(erased.status, 200, JSON.stringify(erased.body));
    assert.equal(erased.body.profileId, person);
    assert.equal(erased.body.absorbedProfiles, 1);
    assert.deepEqual(erased.body.sections, [
      'audit',
      'profile',
      'identities',
      'merges',
      'events',
      'consents',
      'loyalty',
      'codes',
      'form_submissions',
    ]);

    assert.deepEqual(await findAnywhere(NEEDLES), []);
    assert.deepEqual(await aggregates(ws.workspaceId), before, 'event counts and amounts by type and name');

    const tombstone = await call('GET', `/api/v1/profiles/${person}`, ws.bearer);
    assert.equal(tombstone.status, 200);
    assert.deepEqual(tombstone.body.traits, {});
    assert.deepEqual(tombstone.body.identities, []);
    assert.ok(tombstone.body.erasedAt);
    const timeline = (await call('GET', `/api/v1/profiles/${person}/events`, ws.bearer)).body.items;
    const order = timeline.find((e: { name: string }) => e.name === 'Order Completed');
    assert.deepEqual(order.properties, {
      revenue: 1500,
      currency: 'RUB',
      sku: 'TEA-1',
      products: [{ sku: 'TEA-1', price: 1500 }],
    });
    assert.deepEqual(order.context, { library: { name: 'analytics.js', version: '2.1' } });
    assert.match(order.messageId, /^erased-/);
    const list = (await call('GET', '/api/v1/profiles', ws.bearer)).body.items;
    assert.ok(!list.some((p: { id: string }) => p.id === person), 'tombstones are not listed');
    const other = (await call('GET', `/api/v1/profiles/${await idOf(ws, 'user_id:other-1')}`, ws.bearer)).body;
    assert.equal(other.traits.name, 'Olga Other', 'nobody else is touched');

    const entry = (await call('GET', `/api/v1/audit?action=profile.erased`, ws.bearer)).body.items[0];
    assert.equal(entry.targetId, person);
    assert.deepEqual(entry.details, { reason: 'subject_request', ticket: 'DSR-2026-114', absorbedIds: [till] });
    const merged = (await call('GET', `/api/v1/audit?action=profile.merged&targetId=${person}`, ws.bearer)).body;
    assert.deepEqual(merged.items[0].details, { absorbedId: till }, 'audit entries keep their ids');

    // Irreversible and final.
    const again = await call('POST', `/api/v1/profiles/${person}/erase`, ws.bearer, { reason: 'other' });
    assert.equal(again.status, 409);
    assert.equal(again.body.code, 'PROFILE_ALREADY_ERASED');
    const edit = await call('PATCH', `/api/v1/profiles/${person}/traits`, ws.bearer, { set: { name: 'X' } });
    assert.equal(edit.status, 404);

    // The person's identifiers are recognised, in whatever form they come back; nobody else's are.
    const ids = (kind: string, value: string) => normalizeIdentifier(kind, value, 'RU') as never;
    const check = await erasedIdentifiers(app.org.subjectKey, app.database.db, ws.workspaceId, [
      [ids('email', PERSON.email.toUpperCase())],
      [ids('phone', `8 (903) ${PERSON.phone.slice(5)}`), ids('user_id', 'someone-new')],
      [ids('anonymous_id', PERSON.anonymousId)],
      [ids('email', 'other@example.test')],
      [],
    ]);
    assert.deepEqual(
      check.map((m) => m.map((i) => i.kind)),
      [['email'], ['phone'], ['anonymous_id'], [], []],
    );
    // Tracking and imports refuse them; the rest of the batch is kept.
    const back = await app.events.ingest(ws.workspaceId, [
      { type: 'identify', userId: 'someone-new-2', traits: { email: PERSON.email.toUpperCase() } },
      { type: 'track', userId: 'someone-else', event: 'Page Viewed' },
    ]);
    assert.equal(back.accepted, 1);
    assert.deepEqual(
      back.rejected.map((r) => [r.index, r.code]),
      [[0, 'ERASED_SUBJECT']],
    );
    assert.ok(!back.rejected[0]?.message.includes(PERSON.email), 'the refusal names kinds, never values');
    // …in this workspace only: the hashes are keyed per workspace.
    const elsewhere = await newWorkspace(app);
    const foreign = await erasedIdentifiers(app.org.subjectKey, app.database.db, elsewhere.workspaceId, [
      [ids('email', PERSON.email)],
    ]);
    assert.deepEqual(foreign, [[]]);
    // Their own sign-up lifts it, for the identifiers they gave, and they have a profile again.
    const { profileIds } = await app.database.db
      .transaction()
      .execute((trx) =>
        app.profiles.resolveObservations(
          trx,
          ws.workspaceId,
          [{ ids: [ids('email', PERSON.email)], traits: null, at: new Date(), channel: 'form' }],
          { readmit: true },
        ),
      );
    assert.equal(profileIds.length, 1);
    const after = await erasedIdentifiers(app.org.subjectKey, app.database.db, ws.workspaceId, [
      [ids('email', PERSON.email), ids('phone', PERSON.phone)],
    ]);
    assert.deepEqual(
      after[0]?.map((i) => i.kind),
      ['phone'],
    );
  });

  it('refuses to merge anyone into an erased person', async () => {
    const ws = await newWorkspace(app);
    const { person } = await seedPerson(ws, newPerson());
    await call('POST', `/api/v1/profiles/${person}/erase`, ws.bearer, { reason: 'consent_withdrawn' });
    const other = (await idOf(ws, 'user_id:other-1')) as string;
    const merge = await call('POST', `/api/v1/profiles/${other}/merge`, ws.bearer, { absorbId: person });
    assert.equal(merge.status, 409);
    assert.equal(merge.body.code, 'PROFILE_ERASED');
  });
});
