import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createTestApp, newWorkspace, type TestApp } from '../../testing.ts';
import { linesOf } from './codes.labels.ts';
import { CODES_MAINTENANCE_JOB } from './index.ts';

let app: TestApp;
before(async () => {
  app = await createTestApp({ worker: true });
});
after(async () => app?.close());

type Json = Record<string, any>;

let phoneSeq = 3_000_000;
const phone = () => `+7916${String(phoneSeq++).padStart(7, '0')}`;

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
  const basic = { authorization: `Basic ${Buffer.from(`${key}:`).toString('base64')}` };
  const call = async (method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown) => {
    const r = await app.server.inject({ method, url, headers: ws.bearer, ...(payload ? { payload } : {}) });
    const type = r.headers['content-type'] ?? '';
    return {
      status: r.statusCode,
      body: type.includes('json') ? r.json() : r.body,
      raw: r.rawPayload,
      headers: r.headers,
    };
  };
  const promotion = async () => {
    const r = await call('POST', '/api/v1/codes/promotions', {
      key: `p-${Math.random().toString(36).slice(2, 10)}`,
      name: 'Summer tea',
      startsAt: '2020-01-01T00:00',
      endsAt: '2099-01-01T00:00',
      reward: { kind: 'points', points: 50 },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as Json;
  };
  const placement = async (extra: Json) => {
    const r = await call('POST', '/api/v1/codes/placements', {
      name: 'Channel One, 20:00 news break',
      medium: 'tv',
      currency: 'RUB',
      ...extra,
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body as Json;
  };
  const sms = (from: string, text: string) => app.codes.handleInbound(ws.workspaceId, { channel: 'sms', from, text });
  const contacts = async () =>
    (
      await sql<{ keyword: string; kind: string; profile_id: string | null; new_profile: boolean }>`
        select p.keyword, c.kind, c.profile_id, c.new_profile from placement_contacts c
        join code_placements p on p.id = c.placement_id
        where c.workspace_id = ${ws.workspaceId} order by c.at, c.id`.execute(app.database.db)
    ).rows;
  const profileOf = async (value: string) =>
    (
      await sql<{ profile_id: string }>`select profile_id from identities
        where workspace_id = ${ws.workspaceId} and value = ${value}`.execute(app.database.db)
    ).rows[0]?.profile_id;
  const traits = async (profileId: string) => {
    const r = await call('GET', `/api/v1/profiles/${profileId}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return (r.body as Json).traits as Json;
  };
  return { ws, basic, call, promotion, placement, sms, contacts, profileOf, traits };
}

/** Waits for what a background job does (the queue runs in this process); fails after a generous while. */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function generated(s: Awaited<ReturnType<typeof setup>>, promotionId: string, count: number) {
  const created = await s.call('POST', `/api/v1/codes/promotions/${promotionId}/batches`, { count });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const download = await s.call('GET', (created.body as Json).downloadUrl);
  assert.equal(download.status, 200);
  return String(download.body).trim().split('\n').slice(1);
}

/** Pages of a PDF: its page objects (PDFKit writes no object streams). */
function pageCount(pdf: Buffer) {
  return (pdf.toString('latin1').match(/\/Type \/Page\b/g) ?? []).length;
}

describe('placements: management', () => {
  it('creates, lists with a cursor, changes and deletes placements; keywords are unique without regard to case', async () => {
    const s = await setup();
    const promo = await s.promotion();
    const tv = await s.placement({
      keyword: 'tv1',
      promotionId: promo.id,
      costMinor: 150_000_00,
      details: { channel: 'Channel One', slot: '20:00' },
    });
    assert.equal(tv.keyword, 'TV1');
    assert.match(tv.trackingUrl, /\/r\/[^/]+\/TV1$/);
    const dup = await s.call('POST', '/api/v1/codes/placements', {
      name: 'x',
      medium: 'radio',
      keyword: 'Tv1',
      currency: 'RUB',
    });
    assert.equal(dup.status, 409);
    assert.equal((dup.body as Json).code, 'KEYWORD_TAKEN');
    for (let i = 0; i < 4; i++) await s.placement({ keyword: `PR${i}`, medium: 'print' });
    const first = await s.call('GET', '/api/v1/codes/placements?limit=3');
    assert.equal(first.status, 200);
    const page1 = first.body as Json;
    assert.equal(page1.items.length, 3);
    const second = (await s.call('GET', `/api/v1/codes/placements?limit=3&cursor=${page1.nextCursor}`)).body as Json;
    const all = [...page1.items, ...second.items].map((p: Json) => p.keyword);
    assert.equal(new Set(all).size, 5);
    assert.ok(all.includes('TV1'));
    const print = (await s.call('GET', '/api/v1/codes/placements?medium=print')).body as Json;
    assert.equal(print.items.length, 4);

    const changed = await s.call('PATCH', `/api/v1/codes/placements/${tv.id}`, { costMinor: 99, keyword: 'tv2' });
    assert.equal(changed.status, 200);
    assert.equal((changed.body as Json).keyword, 'TV2');
    assert.equal((changed.body as Json).costMinor, 99);
    assert.equal((changed.body as Json).details.channel, 'Channel One');
    const clash = await s.call('PATCH', `/api/v1/codes/placements/${tv.id}`, { keyword: 'pr0' });
    assert.equal(clash.status, 409);

    const svg = await s.call('GET', `/api/v1/codes/placements/${tv.id}/qr`);
    assert.equal(svg.status, 200);
    assert.match(String(svg.headers['content-type']), /image\/svg\+xml/);
    assert.match(String(svg.body), /<svg/);
    const png = await s.call('GET', `/api/v1/codes/placements/${tv.id}/qr?format=png`);
    assert.equal(png.status, 200);
    assert.deepEqual([...png.raw.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47]);

    const gone = await s.call('DELETE', `/api/v1/codes/placements/${print.items[0].id}`);
    assert.equal(gone.status, 204);
    assert.equal((await s.call('GET', `/api/v1/codes/placements/${print.items[0].id}`)).status, 404);
  });

  it('answers bad input with 4xx problems and stable codes', async () => {
    const s = await setup();
    const base = { name: 'x', medium: 'tv', keyword: 'OK1', currency: 'RUB' };
    const cases: [Json, number, string][] = [
      [{ ...base, keyword: 'T V' }, 400, 'VALIDATION_FAILED'],
      [{ ...base, keyword: 'ТВ1' }, 400, 'VALIDATION_FAILED'],
      [{ ...base, keyword: 'code' }, 400, 'INVALID_KEYWORD'],
      [{ ...base, medium: 'cinema' }, 400, 'VALIDATION_FAILED'],
      [{ ...base, landingUrl: 'javascript:alert(1)' }, 400, 'VALIDATION_FAILED'],
      [{ ...base, costMinor: -1 }, 400, 'VALIDATION_FAILED'],
      [{ ...base, currency: 'rub' }, 400, 'VALIDATION_FAILED'],
      [{ ...base, promotionId: '0190a1b2-0000-7000-8000-000000000000' }, 400, 'PROMOTION_NOT_FOUND'],
      [{ ...base, startsAt: '2026-02-01T00:00:00Z', endsAt: '2026-01-01T00:00:00Z' }, 400, 'INVALID_WINDOW'],
    ];
    for (const [payload, status, code] of cases) {
      const r = await s.call('POST', '/api/v1/codes/placements', payload);
      assert.equal(r.status, status, `${JSON.stringify(payload)} → ${JSON.stringify(r.body)}`);
      const got = (r.body as Json).code;
      if (code !== 'VALIDATION_FAILED') assert.equal(got, code);
      else assert.ok(typeof got === 'string' && got.length > 0);
    }
    assert.equal((await s.call('GET', '/api/v1/codes/placements?cursor=nonsense')).status, 400);
    assert.equal(
      (await s.call('POST', '/api/v1/codes/inbound', { channel: 'fax', from: '123', text: 'TV1' })).status,
      400,
    );
    assert.equal((await s.call('GET', '/api/v1/codes/placements/report?from=yesterday')).status, 400);
    const backwards = await s.call(
      'GET',
      '/api/v1/codes/placements/report?from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z',
    );
    assert.equal(backwards.status, 400);
    assert.equal((backwards.body as Json).code, 'INVALID_PERIOD');
  });

  it('keeps placements to their workspace: another workspace can neither see, change nor reach them', async () => {
    const a = await setup();
    const b = await setup();
    const promo = await a.promotion();
    const tv = await a.placement({ keyword: 'ONLYA', promotionId: promo.id });
    assert.equal((await b.call('GET', `/api/v1/codes/placements/${tv.id}`)).status, 404);
    assert.equal((await b.call('PATCH', `/api/v1/codes/placements/${tv.id}`, { costMinor: 1 })).status, 404);
    assert.equal((await b.call('DELETE', `/api/v1/codes/placements/${tv.id}`)).status, 404);
    assert.equal((await b.call('GET', `/api/v1/codes/placements/${tv.id}/qr`)).status, 404);
    assert.equal(((await b.call('GET', '/api/v1/codes/placements')).body as Json).items.length, 0);
    // B may use the same keyword; B's SMS with it is B's contact, not A's.
    await b.placement({ keyword: 'onlya', medium: 'radio' });
    const outcome = await b.sms(phone(), 'ONLYA');
    assert.equal(outcome.action, 'contact');
    assert.equal((await a.contacts()).length, 0);
    assert.equal((await b.contacts()).length, 1);
    // A's tracking address under B's slug finds nothing of A's.
    const slugB = new URL(
      ((await b.call('GET', '/api/v1/codes/placements')).body as Json).items[0].trackingUrl,
    ).pathname.split('/')[2];
    const crossed = await app.server.inject({ method: 'GET', url: `/r/${slugB}/ONLYA` });
    assert.equal(crossed.statusCode, 404, 'B’s placement has no page to lead to');
    assert.equal((await a.contacts()).length, 0);
  });
});

describe('placements: attribution', () => {
  it('attributes SMS and messenger keywords, visits, registrations and events to their placement', async () => {
    const s = await setup();
    const promo = await s.promotion();
    await s.placement({ keyword: 'TV1', promotionId: promo.id });
    await s.placement({ keyword: 'RADIO5', medium: 'radio', promotionId: promo.id });
    await s.placement({ keyword: 'FORM7', medium: 'online', landingUrl: 'https://example.test/land?x=1' });
    await s.placement({ keyword: 'OLD', medium: 'print', endsAt: '2021-01-01T00:00:00Z', promotionId: promo.id });

    // SMS: keyword alone, any case.
    const anna = phone();
    const sms = await s.sms(anna, ' tv1 ');
    assert.equal(sms.action, 'contact');
    assert.ok(sms.reply);
    // Messenger, through the gateways' endpoint.
    const viaHttp = await s.call('POST', '/api/v1/codes/inbound', {
      channel: 'messenger',
      from: 'telegram:777001',
      text: 'Radio5',
    });
    assert.equal(viaHttp.status, 200, JSON.stringify(viaHttp.body));
    assert.equal((viaHttp.body as Json).action, 'contact');
    // A text that is not a keyword is left alone; an ended placement takes no contacts.
    assert.equal((await s.sms(phone(), 'hello')).action, 'none');
    assert.equal((await s.sms(phone(), 'OLD')).action, 'none');

    // A visit of the tracking address: redirected with ?m=, recorded without a person.
    const slug = new URL(
      ((await s.call('GET', '/api/v1/codes/placements')).body as Json).items[0].trackingUrl,
    ).pathname.split('/')[2];
    const visit = await app.server.inject({ method: 'GET', url: `/r/${slug}/tv1` });
    assert.equal(visit.statusCode, 302);
    assert.equal(visit.headers.location, `/p/${slug}/${promo.key}?m=TV1`);
    const landing = await app.server.inject({ method: 'GET', url: `/r/${slug}/FORM7` });
    assert.equal(landing.headers.location, 'https://example.test/land?x=1&m=FORM7');
    // The page keeps the keyword in its form, so the registration there is attributed.
    const page = await app.server.inject({ method: 'GET', url: `/p/${slug}/${promo.key}?m=TV1&code=ABCD-EFGH` });
    assert.match(page.body, /m=TV1/);
    assert.match(page.body, /value="ABCD-EFGH"/);
    const ended = await app.server.inject({ method: 'GET', url: `/r/${slug}/OLD` });
    assert.equal(ended.statusCode, 302, 'an ended placement still leads to the page');

    // Registrations: through the API with `placement`, through the page with m, through SMS "KEYWORD CODE".
    const codes = await generated(s, promo.id, 3);
    const boris = phone();
    const api = await app.server.inject({
      method: 'POST',
      url: '/v1/codes/register',
      headers: s.basic,
      payload: { code: codes[0], phone: boris, placement: 'radio5' },
    });
    assert.equal(api.statusCode, 200, api.body);
    const viaPage = await app.server.inject({
      method: 'POST',
      url: `/p/${slug}/${promo.key}?m=TV1`,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ code: codes[1] as string, phone: phone() }).toString(),
    });
    assert.equal(viaPage.statusCode, 200);
    const viaSms = await s.sms(phone(), `TV1 ${codes[2]}`);
    assert.equal(viaSms.action, 'registered');

    // Events of other modules (forms, call-back requests) naming a keyword.
    const track = await app.server.inject({
      method: 'POST',
      url: '/v1/batch',
      headers: s.basic,
      payload: {
        batch: [
          { type: 'track', event: 'Form Submitted', userId: 'u-form-1', properties: { placement: 'form7' } },
          {
            type: 'track',
            event: 'Callback Requested',
            userId: 'u-call-1',
            context: { campaign: { source: 'tv', content: 'TV1' } },
          },
          { type: 'track', event: 'Form Submitted', userId: 'u-form-2', properties: { placement: 'NOPE' } },
        ],
      },
    });
    assert.equal(track.statusCode, 200, track.body);

    const all = await eventually(
      s.contacts,
      (c) => c.filter((x) => x.kind === 'registration').length === 3,
      'registrations',
    );
    const count = (keyword: string, kind: string) => all.filter((c) => c.keyword === keyword && c.kind === kind).length;
    assert.equal(count('TV1', 'sms'), 1);
    assert.equal(count('RADIO5', 'messenger'), 1);
    assert.equal(count('TV1', 'visit'), 1);
    assert.equal(count('FORM7', 'visit'), 1);
    assert.equal(count('OLD', 'visit'), 0);
    assert.equal(count('RADIO5', 'registration'), 1);
    assert.equal(count('TV1', 'registration'), 2);
    assert.equal(count('FORM7', 'event'), 1);
    assert.equal(count('TV1', 'event'), 1);
    assert.equal(all.length, 9);
    assert.ok(all.filter((c) => c.kind === 'visit').every((c) => c.profile_id === null));

    // The person's medium and the timeline.
    const annaId = (await s.profileOf(anna)) as string;
    assert.equal((await s.traits(annaId)).acquisition_medium, 'tv');
    assert.equal((await s.traits(annaId)).acquisition_placement, 'TV1');
    const borisId = (await s.profileOf(boris)) as string;
    assert.equal((await s.traits(borisId)).acquisition_medium, 'radio');
    const timeline = await eventually(
      async () => ((await s.call('GET', `/api/v1/profiles/${annaId}/events`)).body as Json).items as Json[],
      (items) => items.some((e) => e.name === 'Placement Contact'),
      'the Placement Contact event',
    );
    const event = timeline.find((e) => e.name === 'Placement Contact') as Json;
    assert.equal(event.properties.keyword, 'TV1');
    assert.equal(event.properties.medium, 'tv');

    // The live dashboard splits attempts by medium.
    const summary = (await s.call('GET', '/api/v1/codes/attempts/summary?minutes=60')).body as Json;
    const byMedium = Object.fromEntries(summary.byMedium.map((m: Json) => [m.medium, m.accepted]));
    assert.equal(byMedium.tv, 2);
    assert.equal(byMedium.radio, 1);
  });

  it('keeps the first medium that reached a person: a later one never overwrites it', async () => {
    const s = await setup();
    await s.placement({ keyword: 'FIRST', medium: 'outdoor' });
    await s.placement({ keyword: 'SECOND', medium: 'tv' });
    await s.placement({ keyword: 'THIRD', medium: 'btl' });
    const who = phone();
    await s.sms(who, 'FIRST');
    await s.sms(who, 'SECOND');
    await Promise.all([s.sms(who, 'THIRD'), s.sms(who, 'SECOND')]);
    const id = (await s.profileOf(who)) as string;
    const t = await s.traits(id);
    assert.equal(t.acquisition_medium, 'outdoor');
    assert.equal(t.acquisition_placement, 'FIRST');
    // The person's export lists the placements that reached them, the first one marked.
    const exported = await s.call('GET', `/api/v1/profiles/${id}/export`);
    assert.equal(exported.status, 200);
    const section = ((exported.body as Json).sections.codes as Json[]).filter((r) => r.record === 'placement contact');
    assert.equal(section.length, 4);
    assert.deepEqual(
      section.filter((r) => r.first_touch).map((r) => r.placement),
      ['FIRST'],
    );
    const rows = await s.contacts();
    assert.equal(rows.length, 4);
    assert.deepEqual(
      rows.map((r) => [r.keyword, r.new_profile]),
      [['FIRST', true], ['SECOND', false], ...rows.slice(2).map((r) => [r.keyword, false])],
    );
    // A person already acquired by an event, later texting: still the event's placement.
    const other = await app.server.inject({
      method: 'POST',
      url: '/v1/track',
      headers: s.basic,
      payload: { event: 'Form Submitted', userId: 'u-first', properties: { placement: 'THIRD' } },
    });
    assert.equal(other.statusCode, 200);
    const byEvent = (
      await sql<{ profile_id: string }>`select profile_id from identities
        where workspace_id = ${s.ws.workspaceId} and kind = 'user_id' and value = 'u-first'`.execute(app.database.db)
    ).rows[0]?.profile_id as string;
    assert.equal((await s.traits(byEvent)).acquisition_medium, 'btl');
  });

  it('limits visits of tracking addresses per IP', async () => {
    const s = await setup();
    const promo = await s.promotion();
    const p = await s.placement({ keyword: 'BURST', promotionId: promo.id });
    const path = new URL(p.trackingUrl).pathname;
    // The limit counts in fixed one-minute windows: start clear of a window's end, so the burst falls in one window.
    const intoMinute = Date.now() % 60_000;
    if (intoMinute > 50_000) await new Promise((resolve) => setTimeout(resolve, 60_500 - intoMinute));
    let limited = 0;
    for (let i = 0; i < 125; i++) {
      const r = await app.server.inject({ method: 'GET', url: path, remoteAddress: '203.0.113.77' });
      if (r.statusCode === 429) limited++;
      else assert.equal(r.statusCode, 302);
    }
    assert.ok(limited >= 5, `${limited} refused`);
    const visits = (await s.contacts()).filter((c) => c.kind === 'visit').length;
    assert.ok(visits <= 120, `${visits} visits recorded`);
  });
});

describe('placements: report', () => {
  it('computes contacts, people, new profiles, registrations and cost per lead from a known set of contacts', async () => {
    const s = await setup();
    const promo = await s.promotion();
    await s.placement({ keyword: 'A1', medium: 'tv', costMinor: 100_000, promotionId: promo.id });
    await s.placement({ keyword: 'B1', medium: 'radio', costMinor: 50_000, promotionId: promo.id });
    await s.placement({ keyword: 'B2', medium: 'radio', costMinor: 25_000 });
    await s.placement({ keyword: 'C1', medium: 'print', costMinor: 0 });
    const [p1, p2, p3, p4] = [phone(), phone(), phone(), phone()];
    await s.sms(p1, 'A1');
    await s.sms(p2, 'A1');
    await s.sms(p3, 'A1');
    await s.sms(p1, 'A1'); // again: a contact, not another person
    await s.sms(p1, 'B1'); // known already: not new for B1
    await s.sms(p4, 'B1'); // new
    await s.sms(p4, 'B2'); // not new
    const slug = new URL(
      ((await s.call('GET', '/api/v1/codes/placements')).body as Json).items[0].trackingUrl,
    ).pathname.split('/')[2];
    await app.server.inject({ method: 'GET', url: `/r/${slug}/A1` });
    const [code] = await generated(s, promo.id, 1);
    const reg = await app.server.inject({
      method: 'POST',
      url: '/v1/codes/register',
      headers: s.basic,
      payload: { code, phone: p2, placement: 'A1' },
    });
    assert.equal(reg.statusCode, 200, reg.body);
    await eventually(s.contacts, (c) => c.some((x) => x.kind === 'registration'), 'the registration');

    const report = (await s.call('GET', '/api/v1/codes/placements/report')).body as Json;
    const row = (k: string) => report.placements.find((p: Json) => p.keyword === k);
    assert.deepEqual(
      {
        contacts: row('A1').contacts,
        people: row('A1').people,
        newProfiles: row('A1').newProfiles,
        registrations: row('A1').registrations,
        costMinor: row('A1').costMinor,
        costPerLeadMinor: row('A1').costPerLeadMinor,
      },
      { contacts: 6, people: 3, newProfiles: 3, registrations: 1, costMinor: 100_000, costPerLeadMinor: 33_333 },
    );
    assert.equal(row('B1').contacts, 2);
    assert.equal(row('B1').people, 2);
    assert.equal(row('B1').newProfiles, 1);
    assert.equal(row('B1').costPerLeadMinor, 50_000);
    assert.equal(row('B2').newProfiles, 0);
    assert.equal(row('B2').costPerLeadMinor, null);
    assert.equal(row('C1').contacts, 0);
    assert.equal(row('C1').costPerLeadMinor, null);

    const medium = (m: string) => report.media.find((x: Json) => x.medium === m);
    assert.deepEqual(
      {
        contacts: medium('radio').contacts,
        people: medium('radio').people,
        newProfiles: medium('radio').newProfiles,
        costMinor: medium('radio').costMinor,
        costPerLeadMinor: medium('radio').costPerLeadMinor,
      },
      // p1 and p4 across both radio placements; cost of both; one new person.
      { contacts: 3, people: 2, newProfiles: 1, costMinor: 75_000, costPerLeadMinor: 75_000 },
    );
    assert.equal(medium('tv').newProfiles, 3);
    assert.equal(medium('print').costPerLeadMinor, null);

    // A period before any of it: no contacts, costs stay.
    const empty = (
      await s.call('GET', '/api/v1/codes/placements/report?from=2020-01-01T00:00:00Z&to=2020-02-01T00:00:00Z')
    ).body as Json;
    assert.ok(empty.placements.every((p: Json) => p.contacts === 0 && p.costPerLeadMinor === null));
    assert.equal(empty.placements.find((p: Json) => p.keyword === 'A1').costMinor, 100_000);

    // A placement with contacts cannot be deleted.
    const del = await s.call('DELETE', `/api/v1/codes/placements/${row('A1').placementId}`);
    assert.equal(del.status, 409);
    assert.equal((del.body as Json).code, 'PLACEMENT_HAS_CONTACTS');
  });
});

describe('labels as PDF', () => {
  it('prints a code on one line when it fits, else whole groups per line', () => {
    assert.deepEqual(linesOf('7KQ4-M2XD-9RPT', 14), ['7KQ4-M2XD-9RPT']);
    assert.deepEqual(linesOf('7KQ4-M2XD-9RPT', 13), ['7KQ4-M2XD-', '9RPT']);
    assert.deepEqual(linesOf('7KQ4-M2XD-9RPT-7KQ4-M2XD-9RPT-7KQ4-M2', 18), [
      '7KQ4-M2XD-9RPT-',
      '7KQ4-M2XD-9RPT-',
      '7KQ4-M2',
    ]);
  });

  it('downloads a batch once as an A4 sheet of labels (24 a page), and the owner can export it again', async () => {
    const s = await setup();
    const promo = await s.promotion();
    const created = await s.call('POST', `/api/v1/codes/promotions/${promo.id}/batches`, {
      count: 50,
      label: 'labels',
    });
    const batchId = (created.body as Json).batch.id as string;
    const pdf = await s.call('GET', `/api/v1/codes/batches/${batchId}/download?format=pdf`);
    assert.equal(pdf.status, 200);
    assert.equal(pdf.headers['content-type'], 'application/pdf');
    assert.match(String(pdf.headers['content-disposition']), /\.pdf"/);
    assert.equal(pdf.raw.subarray(0, 5).toString('latin1'), '%PDF-');
    assert.match(pdf.raw.subarray(-8).toString('latin1'), /%%EOF/);
    assert.equal(pageCount(pdf.raw), 3, '50 labels: 24 + 24 + 2');
    const batch = (await s.call('GET', `/api/v1/codes/batches/${batchId}`)).body as Json;
    assert.equal(batch.status, 'active');
    assert.equal(batch.loaded, 50);

    // Still once: the second download is refused, whatever the format.
    const again = await s.call('GET', `/api/v1/codes/batches/${batchId}/download?format=pdf`);
    assert.equal(again.status, 409);
    const csv = await s.call('GET', `/api/v1/codes/batches/${batchId}/download?format=csv`);
    assert.equal(csv.status, 409);
    // The owner's re-export: the same 50 codes, as labels too.
    const exported = await s.call('GET', `/api/v1/codes/batches/${batchId}/export?format=pdf`);
    assert.equal(exported.status, 200);
    assert.equal(pageCount(exported.raw), 3);
    const list = await s.call('GET', `/api/v1/codes/batches/${batchId}/export?format=csv`);
    assert.equal(String(list.body).trim().split('\n').length, 51);
    assert.equal((await s.call('GET', `/api/v1/codes/batches/${batchId}/export?format=docx`)).status, 400);

    const audit = (
      await sql<{ action: string; details: Json }>`select action, details from audit_log
        where workspace_id = ${s.ws.workspaceId} and action in ('codes.batch_download', 'codes.batch_export')
        order by at`.execute(app.database.db)
    ).rows;
    assert.deepEqual(
      audit.map((a) => [a.action, a.details.format]),
      [
        ['codes.batch_download', 'pdf'],
        ['codes.batch_export', 'pdf'],
        ['codes.batch_export', 'csv'],
      ],
    );
  });
});

describe('attempt retention', () => {
  it('purges attempts older than the workspace’s retention daily (180 days by default, 0 keeps them)', async () => {
    const kept = await setup();
    const purged = await setup();
    const settings = (await kept.call('GET', '/api/v1/codes/settings')).body as Json;
    assert.equal(settings.attemptRetentionDays, 180);
    const put = await kept.call('PUT', '/api/v1/codes/settings', { ...settings, attemptRetentionDays: 0 });
    assert.equal(put.status, 200, JSON.stringify(put.body));
    assert.equal((put.body as Json).attemptRetentionDays, 0);
    assert.equal(
      (await kept.call('PUT', '/api/v1/codes/settings', { ...settings, attemptRetentionDays: -1 })).status,
      400,
    );
    await purged.call('GET', '/api/v1/codes/settings'); // creates its settings with the default
    const day = 86_400_000;
    for (const ws of [kept.ws.workspaceId, purged.ws.workspaceId])
      await sql`insert into code_attempts (id, workspace_id, at, outcome, channel) values
        (gen_random_uuid(), ${ws}, ${new Date(Date.now() - 200 * day)}, 'refused', 'api'),
        (gen_random_uuid(), ${ws}, ${new Date(Date.now() - 100 * day)}, 'refused', 'api')`.execute(app.database.db);
    const job = app.codes.jobs.find((j) => j.name === CODES_MAINTENANCE_JOB);
    assert.ok(job?.schedule, 'a scheduled job');
    await job.handler([] as never);
    const left = async (ws: string) =>
      (
        await sql<{ n: number }>`select count(*)::int as n from code_attempts where workspace_id = ${ws}`.execute(
          app.database.db,
        )
      ).rows[0]?.n;
    assert.equal(await left(kept.ws.workspaceId), 2, 'retention 0: kept forever');
    assert.equal(await left(purged.ws.workspaceId), 1, '180 days: the 200-day-old attempt is gone');
  });
});
