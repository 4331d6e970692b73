import { type Identifier, identifierKey, isPersonLevel, strength } from './profiles.identifiers.ts';

/**
 * Identity resolution as a pure function over an in-memory view of the identity graph, so that one batch of events
 * can be resolved with two reads and written with a handful of bulk statements, and so that the rules can be
 * property-tested apart from SQL.
 *
 * Rules (docs/architecture.md, "Identity"):
 *  - The event's identifiers are taken strongest first (user id, e-mail, phone, card, messengers, external ids,
 *    device). The strongest one anchors the event: its profile, or a new one when nobody owns it yet.
 *  - Every other identifier's profile is merged into the anchor when the two hold no different values of the same
 *    person-level kind; otherwise they stay apart (a shared device or a mistyped e-mail fuses nobody).
 *  - An unowned identifier joins the anchor unless the anchor already holds another value of its kind; then it is
 *    rejected for this event (reported, not stored as an identity).
 *  - A new anchor adopts the first compatible existing profile instead of creating one, so history stays put.
 */
export interface IdentityView {
  /** Owner profile of an identifier key (only keys this batch touches need to be present). */
  owner: Map<string, string>;
  /** Person-level identifiers of each profile in view: kind → value. */
  kinds: Map<string, Map<string, string>>;
  /** Keys held per profile, for re-pointing after a merge (only keys this batch touches). */
  keys: Map<string, Set<string>>;
  /** Absorbed profile → survivor, for everything merged while this view was in use. */
  mergedInto: Map<string, string>;
}

export function emptyView(): IdentityView {
  return { owner: new Map(), kinds: new Map(), keys: new Map(), mergedInto: new Map() };
}

export interface Resolution {
  profileId: string;
  created: boolean;
  /** Profiles absorbed into profileId by this event. */
  absorbed: string[];
  /** Identifiers newly attached to profileId. */
  attached: Identifier[];
  /** Identifiers refused because the profile already holds another value of their kind. */
  rejected: Identifier[];
}

export function canonical(view: IdentityView, profileId: string): string {
  let id = profileId;
  for (let next = view.mergedInto.get(id); next; next = view.mergedInto.get(id)) id = next;
  return id;
}

function kindsOf(view: IdentityView, profileId: string): Map<string, string> {
  let kinds = view.kinds.get(profileId);
  if (!kinds) {
    kinds = new Map();
    view.kinds.set(profileId, kinds);
  }
  return kinds;
}

function compatible(a: Map<string, string>, b: Map<string, string>): boolean {
  for (const [kind, value] of b) {
    const mine = a.get(kind);
    if (mine !== undefined && mine !== value) return false;
  }
  return true;
}

function attach(view: IdentityView, profileId: string, id: Identifier) {
  const key = identifierKey(id);
  view.owner.set(key, profileId);
  let keys = view.keys.get(profileId);
  if (!keys) {
    keys = new Set();
    view.keys.set(profileId, keys);
  }
  keys.add(key);
  if (isPersonLevel(id.kind)) kindsOf(view, profileId).set(id.kind, id.value);
}

function merge(view: IdentityView, survivor: string, absorbed: string) {
  const into = kindsOf(view, survivor);
  for (const [kind, value] of kindsOf(view, absorbed)) into.set(kind, value);
  for (const key of view.keys.get(absorbed) ?? []) {
    view.owner.set(key, survivor);
    let keys = view.keys.get(survivor);
    if (!keys) {
      keys = new Set();
      view.keys.set(survivor, keys);
    }
    keys.add(key);
  }
  view.keys.delete(absorbed);
  view.kinds.delete(absorbed);
  view.mergedInto.set(absorbed, survivor);
}

export function byStrength(ids: Identifier[]): Identifier[] {
  const seen = new Set<string>();
  const unique = ids.filter((id) => {
    const key = identifierKey(id);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return unique.sort((a, b) => strength(a.kind) - strength(b.kind) || (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
}

/** Resolves one event's identifiers against the view, updating the view. `ids` must not be empty. */
export function resolve(view: IdentityView, ids: Identifier[], newProfileId: () => string): Resolution {
  const ordered = byStrength(ids);
  let profileId: string | null = null;
  let created = false;
  const pending: Identifier[] = []; // identifiers of a not-yet-created anchor
  const absorbed: string[] = [];
  const attached: Identifier[] = [];
  const rejected: Identifier[] = [];
  const pendingKinds = new Map<string, string>();

  for (const id of ordered) {
    const ownerRaw = view.owner.get(identifierKey(id));
    const owner = ownerRaw ? canonical(view, ownerRaw) : undefined;
    if (profileId === null) {
      if (owner && compatible(kindsOf(view, owner), pendingKinds)) {
        profileId = owner;
        for (const p of pending) {
          attach(view, owner, p);
          attached.push(p);
        }
        pending.length = 0;
      } else if (!owner) {
        if (isPersonLevel(id.kind) && pendingKinds.has(id.kind) && pendingKinds.get(id.kind) !== id.value) {
          rejected.push(id);
        } else {
          pending.push(id);
          if (isPersonLevel(id.kind)) pendingKinds.set(id.kind, id.value);
        }
      }
      // An owner incompatible with the pending anchor stays apart.
      continue;
    }
    if (owner === profileId) continue;
    if (owner) {
      if (compatible(kindsOf(view, profileId), kindsOf(view, owner))) {
        merge(view, profileId, owner);
        absorbed.push(owner);
      }
      continue;
    }
    const held = kindsOf(view, profileId).get(id.kind);
    if (isPersonLevel(id.kind) && held !== undefined && held !== id.value) {
      rejected.push(id);
      continue;
    }
    attach(view, profileId, id);
    attached.push(id);
  }

  if (profileId === null) {
    profileId = newProfileId();
    created = true;
    kindsOf(view, profileId);
    for (const p of pending) {
      attach(view, profileId, p);
      attached.push(p);
    }
  }
  return { profileId, created, absorbed, attached, rejected };
}
