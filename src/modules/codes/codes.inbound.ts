import { DomainError } from '../../platform/errors.ts';
import { normalizeIdentifier } from '../profiles/index.ts';
import type { RegistrationInput, RegistrationOutcome } from './codes.register.ts';
import { replyOf } from './codes.text.ts';

export interface InboundMessage {
  channel: 'sms' | 'messenger';
  /** A phone number for SMS; `kind:id` (e.g. `telegram:12345`) for messengers. */
  from: string;
  text: string;
}

export interface InboundOutcome {
  /** `contact`: the text was a placement's keyword alone (or with a code that was not accepted). */
  action: 'registered' | 'typo' | 'refused' | 'limited' | 'contact' | 'none';
  /** What to answer, in both languages; null when the text was not a code. */
  reply: string | null;
}

/** "CODE 7KQ4M2XD9RPT", "code: 7KQ4-M2XD-9RPT", "КОД 7KQ4 M2XD 9RPT" (the keyword in any case, then the code). */
// (\b would not do: it knows only ASCII word characters.)
const CODE_TEXT = /^\s*(?:CODE|КОД)(?=[\s:#-])[\s:#-]*(.+?)\s*$/iu;

export function codeIn(text: string): string | null {
  const m = CODE_TEXT.exec(text.normalize('NFKC'));
  return m?.[1] ?? null;
}

/** What inbound text needs of placements (codes.placements.ts): the keyword a text starts with, and its contact. */
export interface InboundPlacements {
  find(workspaceId: string, text: string): Promise<{ placement: { keyword: string }; rest: string } | null>;
  /** Records the sender's contact with the placement (the sender resolved to a profile). */
  contact(workspaceId: string, found: { placement: unknown }, message: InboundMessage): Promise<boolean>;
}

const THANKS = 'Thank you, we got your message. / Спасибо, ваше сообщение получено.';

/**
 * What channels call for every inbound SMS or messenger text (alongside consent's handleInbound): a text that
 * starts with CODE or КОД registers the code for the sender. A text that starts with a placement's keyword ("TV1",
 * "TV1 7KQ4M2XD9RPT") is that placement's contact: a code after the keyword is registered with the placement (the
 * registration is then the contact), otherwise the sender's contact is recorded. Anything else is left alone.
 */
export async function handleInbound(
  register: (workspaceId: string, input: RegistrationInput) => Promise<RegistrationOutcome>,
  workspaceId: string,
  message: InboundMessage,
  placements?: InboundPlacements,
): Promise<InboundOutcome> {
  let code = codeIn(message.text);
  let keyword: string | undefined;
  const found = code ? null : await placements?.find(workspaceId, message.text);
  if (found) {
    keyword = found.placement.keyword;
    code = codeIn(found.rest) ?? (/^[A-Za-z0-9 -]{4,60}$/.test(found.rest) ? found.rest : null);
    if (!code) {
      const recorded = await placements?.contact(workspaceId, found, message);
      return recorded ? { action: 'contact', reply: THANKS } : { action: 'none', reply: null };
    }
  }
  if (!code) return { action: 'none', reply: null };
  const sender: Pick<RegistrationInput, 'phone' | 'messenger'> = {};
  if (message.channel === 'sms') {
    // Gateways pass international numbers with or without the plus sign.
    const phone =
      normalizeIdentifier('phone', message.from) ?? normalizeIdentifier('phone', `+${message.from.replace(/\D/g, '')}`);
    if (!phone) return { action: 'none', reply: null };
    sender.phone = phone.value;
  } else {
    if (!/^[a-z]+:.+/.test(message.from.trim())) return { action: 'none', reply: null };
    sender.messenger = message.from.trim();
  }
  try {
    const outcome = await register(workspaceId, {
      code,
      ...sender,
      channel: message.channel,
      ...(keyword ? { placement: keyword } : {}),
    });
    // A code that was not accepted still leaves the sender's contact with the placement.
    if (found && outcome.status !== 'accepted') await placements?.contact(workspaceId, found, message);
    const action =
      outcome.status === 'accepted'
        ? 'registered'
        : outcome.status === 'typo'
          ? 'typo'
          : outcome.status === 'limited'
            ? 'limited'
            : 'refused';
    return { action, reply: replyOf(outcome) };
  } catch (error) {
    if (error instanceof DomainError && error.kind === 'invalid') {
      if (found && (await placements?.contact(workspaceId, found, message)))
        return { action: 'contact', reply: THANKS };
      return { action: 'none', reply: null };
    }
    throw error;
  }
}
