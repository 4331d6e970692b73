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
  action: 'registered' | 'typo' | 'refused' | 'limited' | 'none';
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

/**
 * What channels call for every inbound SMS or messenger text (alongside consent's handleInbound): a text that
 * starts with CODE or КОД registers the code for the sender. Anything else is left alone.
 */
export async function handleInbound(
  register: (workspaceId: string, input: RegistrationInput) => Promise<RegistrationOutcome>,
  workspaceId: string,
  message: InboundMessage,
): Promise<InboundOutcome> {
  const code = codeIn(message.text);
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
    const outcome = await register(workspaceId, { code, ...sender, channel: message.channel });
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
    if (error instanceof DomainError && error.kind === 'invalid') return { action: 'none', reply: null };
    throw error;
  }
}
