import { createHmac, randomInt } from 'node:crypto';
import type { Clock } from '../../platform/clock.ts';
import type { Db } from '../../platform/db.ts';
import { DomainError } from '../../platform/errors.ts';
import { newId, randomToken, safeEqual, sha256Hex } from '../../platform/ids.ts';
import { normalizeIdentifier } from '../profiles/index.ts';
import * as repo from './consent.repo.ts';
import {
  type ConsentStatement,
  DEFAULT_PURPOSES,
  DEFAULT_STOP_KEYWORDS,
  type Purpose,
  type SendDecision,
} from './consent.schemas.ts';

/** How a confirmation request reaches the person. The messaging module will send; until then the outbox records. */
export interface ConfirmationSender {
  send(
    db: Db,
    workspaceId: string,
    message: { profileId: string; channel: string; address: string; subject: string; body: string },
  ): Promise<void>;
}

export const outboxSender: ConfirmationSender = {
  send: (db, workspaceId, m) => repo.insertOutbox(db, workspaceId, { id: newId(), ...m }),
};

/** What consent needs to know about people, provided by the profiles module through the composition root. */
export interface PeopleDirectory {
  /** The profile's person-level identifiers (its e-mail, phone, messenger ids …). */
  identifiersOf(db: Db, workspaceId: string, profileId: string): Promise<{ kind: string; value: string }[]>;
  /** The live profile an identifier belongs to. */
  ownerOf(db: Db, workspaceId: string, kind: string, value: string): Promise<string | undefined>;
  /** The live profile an id stands for (itself or the survivor of a merge). */
  liveProfileId(db: Db, workspaceId: string, profileId: string): Promise<string | undefined>;
}

export interface ConsentDeps {
  db: Db;
  clock: Clock;
  /** Base of links in messages, e.g. https://crm.example.com */
  publicUrl: string;
  people: PeopleDirectory;
  sender: ConfirmationSender;
}

export interface Proof {
  ip?: string | null;
  userAgent?: string | null;
  /** The staff member or key that recorded it, for call-centre, POS and console entries. */
  operator?: string | null;
}

/** Identifier kinds that are an address on each channel. */
export const ADDRESS_KINDS: Record<string, string[]> = {
  email: ['email'],
  sms: ['phone'],
  call: ['phone'],
  messenger: ['telegram', 'whatsapp', 'viber', 'vk'],
};

export async function settingsOf(db: Db, workspaceId: string) {
  return repo.ensureSettings(db, workspaceId, { signingKey: randomToken(48), purposes: DEFAULT_PURPOSES });
}

export async function purposesOf(db: Db, workspaceId: string): Promise<Map<string, Purpose>> {
  await settingsOf(db, workspaceId);
  return new Map((await repo.listPurposes(db, workspaceId)).map((p) => [p.key, p]));
}

export function normalizedAddress(channel: string, address: string): string {
  const kinds = ADDRESS_KINDS[channel];
  if (!kinds || kinds.length === 0) return address.trim();
  if (channel === 'messenger') return address.trim();
  const id = normalizeIdentifier(kinds[0] as 'email' | 'phone', address);
  if (!id) {
    throw new DomainError(
      'invalid',
      'INVALID_ADDRESS',
      `${address} is not a valid ${channel === 'email' ? 'e-mail address' : 'phone number'}.`,
    );
  }
  return id.value;
}

async function defaultAddress(deps: ConsentDeps, db: Db, workspaceId: string, profileId: string, channel: string) {
  const kinds = ADDRESS_KINDS[channel];
  if (!kinds) return null;
  const ids = await deps.people.identifiersOf(db, workspaceId, profileId);
  for (const kind of kinds) {
    const found = ids.find((i) => i.kind === kind);
    if (found) return channel === 'messenger' ? `${found.kind}:${found.value}` : found.value;
  }
  return null;
}

function confirmationCodeHash(workspaceId: string, channel: string, address: string, code: string) {
  return sha256Hex(`code\u0000${workspaceId}\u0000${channel}\u0000${address}\u0000${code}`);
}

/** At most this many confirmation requests per address and day, so a form cannot be used to flood someone. */
const CONFIRMATIONS_PER_DAY = 3;

/** Why a statement cannot be recorded in this workspace, if it cannot (the purpose and its channel). */
export function statementProblem(purposes: Map<string, Purpose>, st: ConsentStatement): DomainError | null {
  const purpose = purposes.get(st.purpose);
  if (!purpose) {
    return new DomainError('invalid', 'UNKNOWN_PURPOSE', `No consent purpose "${st.purpose}" in this workspace.`);
  }
  if ((purpose.kind === 'processing') !== (st.channel === 'any')) {
    return new DomainError(
      'invalid',
      'INVALID_CHANNEL',
      purpose.kind === 'processing'
        ? 'Consent to processing of personal data is given for channel "any".'
        : `Consent for "${st.purpose}" is given per channel (email, sms, messenger, push, call, mail).`,
    );
  }
  return null;
}

/**
 * Records consent statements for a profile inside the caller's transaction. A grant with `doubleOptIn` becomes a
 * pending entry and a confirmation request (a link by e-mail, a code by SMS or messenger); everything else is
 * appended as stated. Returns the entries written.
 */
export async function recordStatements(
  deps: ConsentDeps,
  db: Db,
  workspaceId: string,
  profileId: string,
  statements: ConsentStatement[],
  proof: Proof,
  options: { overLimit?: 'refuse' | 'skip' } = {},
) {
  const purposes = await purposesOf(db, workspaceId);
  const settings = await settingsOf(db, workspaceId);
  const now = deps.clock.now();
  const entries: repo.EntryWrite[] = [];
  const confirmations: { entry: repo.EntryWrite; token: string }[] = [];
  for (const st of statements) {
    const problem = statementProblem(purposes, st);
    if (problem) throw problem;
    const address = st.address
      ? normalizedAddress(st.channel, st.address)
      : await defaultAddress(deps, db, workspaceId, profileId, st.channel);
    if (st.action === 'grant' && ADDRESS_KINDS[st.channel] && !address) {
      throw new DomainError(
        'invalid',
        'ADDRESS_REQUIRED',
        `The profile has no ${st.channel === 'email' ? 'e-mail address' : st.channel === 'messenger' ? 'messenger id' : 'phone number'} to consent for; send address.`,
      );
    }
    const at = st.at ? new Date(st.at) : now;
    const base: repo.EntryWrite = {
      id: newId(),
      profileId,
      channel: st.channel,
      purpose: st.purpose,
      address,
      action: st.action,
      source: st.source,
      wordingVersion: st.wordingVersion ?? null,
      occurredAt: new Date(Math.min(at.getTime(), now.getTime())),
      ip: proof.ip ?? null,
      userAgent: proof.userAgent ?? null,
      operator: proof.operator ?? null,
      tokenHash: null,
      expiresAt: null,
      details: {},
    };
    const confirmable = st.channel === 'email' || st.channel === 'sms' || st.channel === 'messenger';
    if (st.action === 'grant' && st.doubleOptIn && confirmable && address) {
      const since = new Date(now.getTime() - 24 * 3600_000);
      if ((await repo.countPendingSince(db, workspaceId, st.channel, address, since)) >= CONFIRMATIONS_PER_DAY) {
        // Tracking and imports cannot answer a person: the requests already sent today stand, nothing is added.
        if (options.overLimit === 'skip') continue;
        throw new DomainError(
          'rate_limited',
          'CONFIRMATION_LIMIT',
          'Confirmation was already requested for this address several times today; try again tomorrow.',
        );
      }
      const token = st.channel === 'email' ? randomToken(32) : String(randomInt(100_000, 1_000_000));
      const entry: repo.EntryWrite = {
        ...base,
        action: 'pending',
        tokenHash:
          st.channel === 'email' ? sha256Hex(token) : confirmationCodeHash(workspaceId, st.channel, address, token),
        expiresAt: new Date(now.getTime() + settings.pending_hours * 3600_000),
      };
      entries.push(entry);
      confirmations.push({ entry, token });
    } else entries.push(base);
  }
  await repo.appendEntries(db, workspaceId, entries);
  for (const { entry, token } of confirmations) {
    const purpose = purposes.get(entry.purpose) as Purpose;
    if (entry.channel === 'email') {
      const link = `${deps.publicUrl}/u/confirm/${token}`;
      await deps.sender.send(db, workspaceId, {
        profileId,
        channel: 'email',
        address: entry.address as string,
        subject: 'Please confirm your subscription / Подтвердите подписку',
        body: `Confirm "${purpose.nameEn}": ${link}\nПодтвердите «${purpose.nameRu}»: ${link}`,
      });
    } else {
      await deps.sender.send(db, workspaceId, {
        profileId,
        channel: entry.channel,
        address: entry.address as string,
        subject: 'confirmation code',
        body: `Reply ${token} to confirm "${purpose.nameEn}". Ответьте ${token}, чтобы подтвердить «${purpose.nameRu}».`,
      });
    }
  }
  return entries;
}

/**
 * The send check every sender calls before a message goes out: may a message of `purpose` go to this profile on
 * `channel` (and to this address) now? One indexed read. Conservative: without a grant, no for every purpose but
 * service messages, which go unless refused.
 */
export async function mayContact(
  deps: ConsentDeps,
  workspaceId: string,
  profileId: string,
  channel: string,
  purpose: string,
  address?: string,
): Promise<SendDecision> {
  let row = await repo.checkRow(deps.db, workspaceId, profileId, channel, purpose);
  if (!row) {
    // A workspace that never used consent has not had its default purposes written yet.
    await settingsOf(deps.db, workspaceId);
    row = await repo.checkRow(deps.db, workspaceId, profileId, channel, purpose);
    if (!row) return { allowed: false, reason: 'unknown_purpose' };
  }
  if (row.kind === 'service')
    return row.status === 'revoked' ? { allowed: false, reason: 'revoked' } : { allowed: true, reason: 'service' };
  if (row.status === 'granted') {
    if (address && row.address) {
      let normalized: string;
      try {
        normalized = normalizedAddress(channel, address);
      } catch {
        return { allowed: false, reason: 'other_address' };
      }
      if (normalized !== row.address) return { allowed: false, reason: 'other_address' };
    }
    return { allowed: true, reason: 'granted' };
  }
  if (row.status === 'revoked') return { allowed: false, reason: 'revoked' };
  if (row.status === 'pending') return { allowed: false, reason: 'pending' };
  return { allowed: false, reason: 'no_consent' };
}

async function confirmPending(
  deps: ConsentDeps,
  db: Db,
  pending: repo.EntryRow & { workspace_id: string },
  proof: Proof,
) {
  const now = deps.clock.now();
  if (await repo.answeredSince(db, pending.workspace_id, pending)) return { status: 'already_confirmed' as const };
  if (pending.expires_at && pending.expires_at < now) {
    throw new DomainError('invalid', 'CONFIRMATION_EXPIRED', 'This confirmation has expired; please subscribe again.');
  }
  const profileId =
    (await deps.people.liveProfileId(db, pending.workspace_id, pending.profile_id)) ?? pending.profile_id;
  await repo.appendEntries(db, pending.workspace_id, [
    {
      id: newId(),
      profileId,
      channel: pending.channel,
      purpose: pending.purpose,
      address: pending.address,
      action: 'grant',
      source: 'double_opt_in',
      wordingVersion: pending.wording_version,
      occurredAt: now,
      ip: proof.ip ?? null,
      userAgent: proof.userAgent ?? null,
      operator: null,
      tokenHash: null,
      expiresAt: null,
      details: { confirms: pending.id, requestedVia: pending.source },
    },
  ]);
  return { status: 'confirmed' as const, workspaceId: pending.workspace_id, purpose: pending.purpose };
}

/** Confirms a double opt-in from its e-mail link. */
export async function confirmByLink(deps: ConsentDeps, token: string, proof: Proof) {
  return deps.db.transaction().execute(async (trx) => {
    const pending = await repo.pendingByToken(trx, sha256Hex(token));
    if (!pending) throw new DomainError('not_found', 'CONFIRMATION_UNKNOWN', 'This confirmation link is not valid.');
    return confirmPending(deps, trx, pending, proof);
  });
}

// ---- signed links

interface LinkPayload {
  /** workspace */
  w: string;
  /** profile */
  p: string;
  /** channel */
  c: string;
  /** purpose; absent = every purpose but service messages on the channel */
  u?: string;
}

function sign(key: string, payload: string) {
  return createHmac('sha256', key).update(payload).digest('base64url');
}

/** A link token for one-click unsubscribe and the preference centre: HMAC-signed, no state to store. */
export async function linkToken(db: Db, workspaceId: string, profileId: string, channel: string, purpose?: string) {
  const settings = await settingsOf(db, workspaceId);
  const payload = Buffer.from(
    JSON.stringify({ w: workspaceId, p: profileId, c: channel, ...(purpose ? { u: purpose } : {}) }),
  ).toString('base64url');
  return `${payload}.${sign(settings.signing_key, payload)}`;
}

export async function readLinkToken(deps: ConsentDeps, token: string): Promise<LinkPayload> {
  const invalid = () => new DomainError('not_found', 'LINK_INVALID', 'This link is not valid.');
  const [payload, signature] = token.split('.');
  if (!payload || !signature || token.length > 600) throw invalid();
  let data: LinkPayload;
  try {
    data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as LinkPayload;
  } catch {
    throw invalid();
  }
  if (typeof data?.w !== 'string' || typeof data.p !== 'string' || typeof data.c !== 'string') throw invalid();
  if (!/^[0-9a-f-]{36}$/i.test(data.w) || !/^[0-9a-f-]{36}$/i.test(data.p)) throw invalid();
  const settings = await repo
    .ensureSettings(deps.db, data.w, { signingKey: randomToken(48), purposes: [] })
    .catch(() => undefined);
  if (!settings || !safeEqual(sign(settings.signing_key, payload), signature)) throw invalid();
  return data;
}

/** Revokes what a signed link stands for (one-click unsubscribe, RFC 8058). Idempotent. */
export async function unsubscribe(deps: ConsentDeps, token: string, proof: Proof) {
  const link = await readLinkToken(deps, token);
  return deps.db.transaction().execute(async (trx) => {
    const profileId = (await deps.people.liveProfileId(trx, link.w, link.p)) ?? link.p;
    const purposes = [...(await purposesOf(trx, link.w)).values()].filter((p) =>
      link.u ? p.key === link.u : p.kind !== 'service' && p.kind !== 'processing',
    );
    const states = new Map((await repo.statesOf(trx, link.w, profileId)).map((s) => [`${s.channel}/${s.purpose}`, s]));
    const toRevoke = purposes.filter((p) => states.get(`${link.c}/${p.key}`)?.status !== 'revoked');
    await recordStatements(
      deps,
      trx,
      link.w,
      profileId,
      toRevoke.map((p) => ({
        channel: link.c as 'email',
        purpose: p.key,
        action: 'revoke',
        source: 'unsubscribe_link',
      })),
      proof,
    );
    return { workspaceId: link.w, profileId, channel: link.c, revoked: toRevoke.map((p) => p.key) };
  });
}

/** What the preference centre shows: every advertising purpose on every channel the person can be reached on. */
export async function preferences(deps: ConsentDeps, token: string) {
  const link = await readLinkToken(deps, token);
  const profileId = (await deps.people.liveProfileId(deps.db, link.w, link.p)) ?? link.p;
  const purposes = [...(await purposesOf(deps.db, link.w)).values()].filter(
    (p) => p.kind !== 'service' && p.kind !== 'processing',
  );
  const ids = await deps.people.identifiersOf(deps.db, link.w, profileId);
  const channels = Object.entries(ADDRESS_KINDS)
    .filter(([channel, kinds]) => channel !== 'call' && ids.some((i) => kinds.includes(i.kind)))
    .map(([channel]) => channel);
  if (!channels.includes(link.c)) channels.unshift(link.c);
  const states = new Map(
    (await repo.statesOf(deps.db, link.w, profileId)).map((s) => [`${s.channel}/${s.purpose}`, s]),
  );
  return {
    workspaceId: link.w,
    profileId,
    purposes,
    channels,
    choices: channels.flatMap((channel) =>
      purposes.map((p) => ({
        channel,
        purpose: p.key,
        granted: states.get(`${channel}/${p.key}`)?.status === 'granted',
      })),
    ),
  };
}

/** Applies the preference centre's form: grants and revokes what changed. */
export async function savePreferences(
  deps: ConsentDeps,
  token: string,
  wanted: { channel: string; purpose: string; granted: boolean }[],
  proof: Proof,
) {
  const current = await preferences(deps, token);
  const want = new Map(wanted.map((w) => [`${w.channel}/${w.purpose}`, w.granted]));
  const changes = current.choices.filter((c) => {
    const w = want.get(`${c.channel}/${c.purpose}`) ?? false;
    return w !== c.granted;
  });
  await deps.db.transaction().execute((trx) =>
    recordStatements(
      deps,
      trx,
      current.workspaceId,
      current.profileId,
      changes.map((c) => ({
        channel: c.channel as 'email',
        purpose: c.purpose,
        action: c.granted ? 'revoke' : 'grant',
        source: 'preference_centre',
      })),
      proof,
    ),
  );
  return { changed: changes.length };
}

// ---- inbound messages

export interface InboundMessage {
  channel: 'sms' | 'messenger';
  /** A phone number for SMS; `kind:id` (e.g. `telegram:12345`) for messengers. */
  from: string;
  text: string;
}

export interface InboundOutcome {
  action: 'revoked' | 'confirmed' | 'none';
  /** What to answer the person, in both languages; null when nothing should be sent back. */
  reply: string | null;
}

function words(text: string) {
  return text
    .normalize('NFKC')
    .toUpperCase()
    .replace(/[^\p{L}\p{N}\s]/gu, ' ')
    .split(/\s+/)
    .filter(Boolean);
}

/**
 * What channels call for every inbound SMS or messenger text: an opt-out keyword (STOP, СТОП, … and the
 * workspace's own) revokes every advertising purpose on that channel at once; a confirmation code confirms a
 * pending opt-in. Anything else is left to other modules (promo codes) and answered with nothing.
 */
export async function handleInbound(
  deps: ConsentDeps,
  workspaceId: string,
  message: InboundMessage,
  proof: Proof = {},
) {
  const settings = await settingsOf(deps.db, workspaceId);
  const said = words(message.text);
  const stop = new Set([...DEFAULT_STOP_KEYWORDS, ...settings.stop_keywords].map((k) => words(k).join(' ')));
  const address =
    message.channel === 'sms'
      ? // Gateways pass international numbers with or without the plus sign.
        (
          normalizeIdentifier('phone', message.from) ??
          normalizeIdentifier('phone', `+${message.from.replace(/\D/g, '')}`)
        )?.value
      : message.from.includes(':')
        ? message.from.trim()
        : undefined;
  if (!address) return { action: 'none', reply: null } satisfies InboundOutcome;
  const [kind, value] =
    message.channel === 'sms'
      ? ['phone', address]
      : [address.slice(0, address.indexOf(':')), address.slice(address.indexOf(':') + 1)];

  if (said.length > 0 && (stop.has(said.join(' ')) || stop.has(said[0] as string))) {
    const profileId = await deps.people.ownerOf(deps.db, workspaceId, kind as string, value as string);
    if (!profileId) return { action: 'none', reply: null } satisfies InboundOutcome;
    await deps.db.transaction().execute(async (trx) => {
      const purposes = [...(await purposesOf(trx, workspaceId)).values()].filter(
        (p) => p.kind !== 'service' && p.kind !== 'processing',
      );
      await recordStatements(
        deps,
        trx,
        workspaceId,
        profileId,
        purposes.map((p) => ({
          channel: message.channel,
          purpose: p.key,
          action: 'revoke',
          address,
          source: 'inbound_keyword',
        })),
        { ...proof, operator: null },
      );
    });
    return {
      action: 'revoked',
      reply: 'You are unsubscribed and will receive no more offers here. Вы отписаны и больше не получите предложений.',
    } satisfies InboundOutcome;
  }
  const code = said.find((w) => /^\d{6}$/.test(w));
  if (code) {
    const outcome = await deps.db.transaction().execute(async (trx) => {
      const pending = await repo.pendingByToken(trx, confirmationCodeHash(workspaceId, message.channel, address, code));
      return pending ? confirmPending(deps, trx, pending, proof) : null;
    });
    if (outcome)
      return {
        action: 'confirmed',
        reply: 'Thank you, your subscription is confirmed. Спасибо, подписка подтверждена.',
      } satisfies InboundOutcome;
  }
  return { action: 'none', reply: null } satisfies InboundOutcome;
}

// ---- merges

/**
 * A merge hands the absorbed profile's ledger to the survivor. Where either side had refused, the refusal stays:
 * a revoke entry (source `merge`) is appended for the survivor, so the status remains a projection of the ledger.
 */
export async function onMerge(
  deps: Pick<ConsentDeps, 'clock'>,
  trx: Db,
  workspaceId: string,
  merges: { survivorId: string; absorbedId: string }[],
) {
  for (const { survivorId, absorbedId } of merges) {
    const absorbed = await repo.repointEntries(trx, workspaceId, survivorId, absorbedId);
    const revokes: repo.EntryWrite[] = [];
    for (const s of absorbed) {
      const current = await repo.statusRow(trx, workspaceId, survivorId, s.channel, s.purpose);
      const eitherRevoked = s.status === 'revoked' || current?.status === 'revoked';
      if (current && eitherRevoked && !(s.status === 'revoked' && current.status === 'revoked')) {
        revokes.push({
          id: newId(),
          profileId: survivorId,
          channel: s.channel,
          purpose: s.purpose,
          address: current.status === 'revoked' ? current.address : s.address,
          action: 'revoke',
          source: 'merge',
          wordingVersion: null,
          occurredAt: new Date(Math.max(deps.clock.now().getTime(), s.since.getTime(), current.since.getTime())),
          ip: null,
          userAgent: null,
          operator: null,
          tokenHash: null,
          expiresAt: null,
          details: { absorbedId },
        });
      } else {
        // No conflict of refusal: the later of the two statuses stands (pending never downgrades a grant).
        await repo.appendStatus(trx, workspaceId, survivorId, s);
      }
    }
    await repo.appendEntries(trx, workspaceId, revokes);
  }
}
