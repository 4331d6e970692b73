import { escapeHtml, hostedPage, type Lang } from '../../platform/http/hosted.ts';

export { escapeHtml, type Lang, langOf } from '../../platform/http/hosted.ts';

/** The hosted consumer pages (unsubscribe, preference centre, confirmation): plain HTML, no script, EN and RU. */

const TEXT = {
  en: {
    unsubscribeTitle: 'Unsubscribe',
    unsubscribeAsk: (channel: string) => `Stop receiving offers by ${channel}?`,
    unsubscribeButton: 'Unsubscribe',
    unsubscribed: 'You are unsubscribed. It takes effect at once.',
    preferences: 'Choose what you receive',
    save: 'Save',
    saved: 'Your choices are saved.',
    confirmTitle: 'Confirm your subscription',
    confirmButton: 'Confirm',
    confirmed: 'Thank you, your subscription is confirmed.',
    invalid: 'This link is not valid or has expired.',
    manage: 'Choose what you receive instead',
    channels: {
      email: 'e-mail',
      sms: 'SMS',
      messenger: 'messenger',
      push: 'push',
      call: 'phone',
      mail: 'post',
      any: 'any',
    },
  },
  ru: {
    unsubscribeTitle: 'Отписка',
    unsubscribeAsk: (channel: string) => `Больше не получать предложения по каналу «${channel}»?`,
    unsubscribeButton: 'Отписаться',
    unsubscribed: 'Вы отписаны. Это действует сразу.',
    preferences: 'Выберите, что вы хотите получать',
    save: 'Сохранить',
    saved: 'Ваш выбор сохранён.',
    confirmTitle: 'Подтвердите подписку',
    confirmButton: 'Подтвердить',
    confirmed: 'Спасибо, подписка подтверждена.',
    invalid: 'Ссылка недействительна или устарела.',
    manage: 'Выбрать, что получать',
    channels: {
      email: 'e-mail',
      sms: 'SMS',
      messenger: 'мессенджер',
      push: 'push',
      call: 'телефон',
      mail: 'почта',
      any: 'любой',
    },
  },
} as const;

export function text(lang: Lang) {
  return TEXT[lang];
}

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1a1b1e}
main{max-width:32rem;margin:0 auto;padding:2rem 1.25rem}
h1{font-size:1.4rem;margin:0 0 1rem}
.card{background:#fff;border-radius:.75rem;padding:1.25rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
button{font:inherit;font-size:1rem;padding:.75rem 1.25rem;border:0;border-radius:.5rem;background:#1c7ed6;color:#fff;width:100%;cursor:pointer}
button:focus-visible,input:focus-visible{outline:3px solid #74c0fc;outline-offset:2px}
fieldset{border:0;padding:0;margin:0 0 1rem}
legend{font-weight:600;margin-bottom:.5rem}
label{display:flex;gap:.75rem;align-items:center;padding:.5rem 0;font-size:1rem}
input[type=checkbox]{width:1.25rem;height:1.25rem}
p{line-height:1.5}
a{color:#1c7ed6}`;

export function page(lang: Lang, title: string, body: string): string {
  return hostedPage(lang, title, `<h1>${escapeHtml(title)}</h1><div class="card">${body}</div>`, STYLE);
}
