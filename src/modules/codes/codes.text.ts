import { hostedPage, type Lang } from '../../platform/http/hosted.ts';
import type { RegistrationOutcome } from './codes.register.ts';
import type { Reward } from './codes.schemas.ts';

export { escapeHtml, type Lang, langOf } from '../../platform/http/hosted.ts';

/** What people read: the hosted page, the API's messages, SMS replies. English and Russian. */

const TEXT = {
  en: {
    intro: 'Enter the code from your pack to take part.',
    code: 'Code',
    codeHint: 'Letters and digits, as printed, e.g. 7KQ4\u2011M2XD\u20119RPT',
    phone: 'Mobile phone',
    phoneHint: 'In international format, e.g. +7\u00a0916\u00a0123\u201145\u201167',
    consent: 'Send me news and offers by SMS',
    submit: 'Register the code',
    runs: (from: string, to: string) => `Runs from ${from} to ${to}.`.replace('..', '.'),
    notFound: 'There is no such promotion.',
    accepted: 'Your code is accepted. Thank you!',
    typo: 'The code seems to have a typo. Check each character and try again.',
    refused:
      'We cannot accept this code. Check it against the pack; if it is right, it may have been registered already or the promotion has ended.',
    limited: (minutes: number) => `Too many attempts. Please try again in ${minutes} min.`,
    personLimit: 'You have registered as many codes as this promotion allows for now.',
    budget: 'All the prizes of this promotion have been given out. Thank you for taking part!',
    closed: 'This promotion is not running now.',
    invalidPhone: 'Please enter a valid mobile phone number, with the country code.',
    reward: (r: Reward) =>
      r.kind === 'points'
        ? `You get ${r.points} points.`
        : r.kind === 'draw_entry'
          ? `You are entered into the prize draw "${r.draw}".`
          : r.kind === 'coupon'
            ? `Your coupon: ${r.offer}.`
            : '',
    language: 'Русский',
  },
  ru: {
    intro: 'Введите код с упаковки, чтобы участвовать.',
    code: 'Код',
    codeHint: 'Буквы и цифры, как напечатано, например 7KQ4\u2011M2XD\u20119RPT',
    phone: 'Мобильный телефон',
    phoneHint: 'В международном формате, например +7\u00a0916\u00a0123\u201145\u201167',
    consent: 'Присылать мне новости и предложения по SMS',
    submit: 'Зарегистрировать код',
    runs: (from: string, to: string) => `Акция проходит с ${from} по ${to}.`.replace('..', '.'),
    notFound: 'Такой акции нет.',
    accepted: 'Код принят. Спасибо!',
    typo: 'Похоже, в коде опечатка. Проверьте каждый символ и попробуйте ещё раз.',
    refused:
      'Мы не можем принять этот код. Сверьте его с упаковкой; если он верный, возможно, его уже зарегистрировали или акция закончилась.',
    limited: (minutes: number) => `Слишком много попыток. Попробуйте снова через ${minutes} мин.`,
    personLimit: 'Вы уже зарегистрировали столько кодов, сколько разрешает акция на этот срок.',
    budget: 'Все призы акции уже разыграны. Спасибо за участие!',
    closed: 'Акция сейчас не проходит.',
    invalidPhone: 'Введите правильный номер мобильного телефона с кодом страны.',
    reward: (r: Reward) =>
      r.kind === 'points'
        ? `Вам начислено баллов: ${r.points}.`
        : r.kind === 'draw_entry'
          ? `Вы участвуете в розыгрыше «${r.draw}».`
          : r.kind === 'coupon'
            ? `Ваш купон: ${r.offer}.`
            : '',
    language: 'English',
  },
} as const;

export function text(lang: Lang) {
  return TEXT[lang];
}

/** The message for an outcome, in one language. */
export function messageOf(lang: Lang, outcome: RegistrationOutcome): string {
  const t = TEXT[lang];
  switch (outcome.status) {
    case 'accepted':
      return `${t.accepted} ${t.reward(outcome.reward)}`.trim();
    case 'typo':
      return t.typo;
    case 'refused':
      return t.refused;
    case 'limited':
      return t.limited(Math.max(1, Math.ceil(outcome.retryAfterSeconds / 60)));
    case 'person_limit':
      return t.personLimit;
    case 'budget_exhausted':
      return t.budget;
    case 'closed':
      return t.closed;
  }
}

/** Both languages, for SMS and messenger replies (the sender's language is not known). */
export function replyOf(outcome: RegistrationOutcome): string {
  return `${messageOf('en', outcome)} / ${messageOf('ru', outcome)}`;
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1a1b1e;font-size:1rem}
main{max-width:30rem;margin:0 auto;padding:1.25rem 1rem 2rem}
h1{font-size:1.35rem;margin:.25rem 0 .5rem}
.lead{margin:0 0 1rem;color:#495057}
.card{background:#fff;border-radius:.75rem;padding:1.1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
label{display:block;font-weight:600;margin:.9rem 0 .3rem}
.hint{display:block;font-weight:400;font-size:.85rem;color:#5c636a;margin-top:.15rem}
input[type=text],input[type=tel]{box-sizing:border-box;width:100%;font:inherit;font-size:1.15rem;padding:.7rem .75rem;border:1px solid #adb5bd;border-radius:.5rem;background:#fff}
input[name=code]{font-family:ui-monospace,Menlo,Consolas,monospace;letter-spacing:.08em;text-transform:uppercase}
input[aria-invalid=true]{border:2px solid #c92a2a}
.check{display:flex;gap:.6rem;align-items:flex-start;font-weight:400}
.check input{width:1.3rem;height:1.3rem;margin:.1rem 0 0;flex:none}
button{font:inherit;font-size:1.05rem;font-weight:600;padding:.85rem 1rem;margin-top:1.1rem;border:0;border-radius:.5rem;background:#1864ab;color:#fff;width:100%;cursor:pointer}
input:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #74c0fc;outline-offset:2px}
.msg{padding:.8rem .9rem;border-radius:.5rem;margin:0 0 1rem;line-height:1.45}
.ok{background:#ebfbee;color:#1b5e20;border:1px solid #8ce99a}
.bad{background:#fff5f5;color:#8a1c1c;border:1px solid #ffa8a8}
.small{font-size:.85rem;color:#5c636a;margin:.9rem 0 0}
a{color:#1864ab}`;

export function page(lang: Lang, title: string, body: string): string {
  return hostedPage(lang, title, body, STYLE);
}
