import { escapeHtml, hostedPage, type Lang } from '../../platform/http/hosted.ts';
import type { FieldError, FormDefinition, FormField, LocalText } from './forms.schemas.ts';

export { escapeHtml, type Lang, langOf } from '../../platform/http/hosted.ts';

/** The hosted form page: plain HTML that works without script, mobile-first, English and Russian, accessible. */

const TEXT = {
  en: {
    submit: 'Send',
    thankYou: 'Thank you! Your answers are saved.',
    confirm: 'We have sent you a message: follow its link to confirm your subscription.',
    notFound: 'There is no such form.',
    closed: 'This form no longer takes answers.',
    limited: 'Too many attempts. Please try again later.',
    fix: 'Please correct the highlighted fields.',
    required: 'required',
    choose: 'Choose…',
    language: 'Русский',
    honeypot: 'Leave this field empty',
    codes: {
      REQUIRED: 'This field is required.',
      INVALID_EMAIL: 'Enter a valid e-mail address, like name@example.com.',
      INVALID_PHONE: 'Enter a valid phone number with the country code, like +7 916 123-45-67.',
      INVALID_DATE: 'Enter a valid date.',
      INVALID_NUMBER: 'Enter a number.',
      NOT_AN_OPTION: 'Choose one of the options.',
      OUT_OF_RANGE: 'The value is out of the allowed range.',
      TOO_SHORT: 'The answer is too short.',
      TOO_LONG: 'The answer is too long.',
      INVALID_VALUE: 'The value is not valid.',
      UNKNOWN_FIELD: 'The form has no such field.',
      CONSENT_REQUIRED: 'Tick this box to continue.',
    } as Record<string, string>,
  },
  ru: {
    submit: 'Отправить',
    thankYou: 'Спасибо! Ваши ответы сохранены.',
    confirm: 'Мы отправили вам сообщение: перейдите по ссылке в нём, чтобы подтвердить подписку.',
    notFound: 'Такой формы нет.',
    closed: 'Эта форма больше не принимает ответы.',
    limited: 'Слишком много попыток. Попробуйте позже.',
    fix: 'Исправьте отмеченные поля.',
    required: 'обязательно',
    choose: 'Выберите…',
    language: 'English',
    honeypot: 'Оставьте это поле пустым',
    codes: {
      REQUIRED: 'Заполните это поле.',
      INVALID_EMAIL: 'Введите правильный адрес e-mail, например name@example.com.',
      INVALID_PHONE: 'Введите правильный номер телефона с кодом страны, например +7 916 123-45-67.',
      INVALID_DATE: 'Введите правильную дату.',
      INVALID_NUMBER: 'Введите число.',
      NOT_AN_OPTION: 'Выберите один из вариантов.',
      OUT_OF_RANGE: 'Значение вне допустимого диапазона.',
      TOO_SHORT: 'Слишком короткий ответ.',
      TOO_LONG: 'Слишком длинный ответ.',
      INVALID_VALUE: 'Недопустимое значение.',
      UNKNOWN_FIELD: 'В форме нет такого поля.',
      CONSENT_REQUIRED: 'Отметьте, чтобы продолжить.',
    } as Record<string, string>,
  },
} as const;

export function text(lang: Lang) {
  return TEXT[lang];
}

export const local = (t: LocalText | undefined, lang: Lang) => (t ? (lang === 'ru' && t.ru.trim() ? t.ru : t.en) : '');

const STYLE = `body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;background:#f6f7f9;color:#1a1b1e;font-size:1rem;line-height:1.4}
main{max-width:32rem;margin:0 auto;padding:1.25rem 1rem 2rem}
h1{font-size:1.4rem;margin:.25rem 0 .5rem}
.lead{margin:0 0 1rem;color:#495057;white-space:pre-line}
.card{background:#fff;border-radius:.75rem;padding:1.1rem;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.field{margin:0 0 1rem;border:0;padding:0}
label,legend{display:block;font-weight:600;margin:0 0 .3rem;padding:0}
.req{color:#c92a2a;font-weight:400}
.hint{display:block;font-weight:400;font-size:.85rem;color:#5c636a;margin-top:.15rem}
input[type=text],input[type=email],input[type=tel],input[type=date],input[type=number],select,textarea{box-sizing:border-box;width:100%;font:inherit;font-size:1.1rem;padding:.65rem .75rem;border:1px solid #adb5bd;border-radius:.5rem;background:#fff;color:inherit}
textarea{min-height:6rem}
[aria-invalid=true]{border:2px solid #c92a2a!important}
.err{display:block;color:#a51111;font-size:.9rem;margin-top:.3rem}
.check,.opt{display:flex;gap:.6rem;align-items:flex-start;font-weight:400;margin:.35rem 0}
.check input,.opt input{width:1.3rem;height:1.3rem;margin:.1rem 0 0;flex:none}
.scale{display:flex;flex-wrap:wrap;gap:.35rem}
.scale label{display:flex;flex-direction:column;align-items:center;font-weight:400;min-width:2.6rem;border:1px solid #adb5bd;border-radius:.5rem;padding:.35rem .2rem;margin:0}
.hp{position:absolute;left:-10000px;width:1px;height:1px;overflow:hidden}
button{font:inherit;font-size:1.05rem;font-weight:600;padding:.85rem 1rem;margin-top:.5rem;border:0;border-radius:.5rem;background:#1864ab;color:#fff;width:100%;cursor:pointer}
input:focus-visible,select:focus-visible,textarea:focus-visible,button:focus-visible,a:focus-visible{outline:3px solid #74c0fc;outline-offset:2px}
.msg{padding:.8rem .9rem;border-radius:.5rem;margin:0 0 1rem;line-height:1.45;white-space:pre-line}
.ok{background:#ebfbee;color:#1b5e20;border:1px solid #8ce99a}
.bad{background:#fff5f5;color:#8a1c1c;border:1px solid #ffa8a8}
.small{font-size:.85rem;color:#5c636a;margin:.9rem 0 0}
a{color:#1864ab}`;

export function page(lang: Lang, title: string, body: string): string {
  return hostedPage(lang, title, body, STYLE);
}

export type PageValues = Record<string, string | string[]>;

const INPUT_TYPES: Partial<Record<FormField['type'], string>> = {
  text: 'text',
  email: 'email',
  phone: 'tel',
  date: 'date',
  number: 'number',
};
const AUTOCOMPLETE: Partial<Record<FormField['type'], string>> = { email: 'email', phone: 'tel' };

function fieldHtml(f: FormField, lang: Lang, values: PageValues, error: string | undefined) {
  const t = text(lang);
  const id = `f-${f.key}`;
  const name = escapeHtml(f.key);
  const help = local(f.help as LocalText | undefined, lang);
  const describedBy = [help ? `${id}-hint` : '', error ? `${id}-err` : ''].filter(Boolean).join(' ');
  const aria = `${describedBy ? ` aria-describedby="${describedBy}"` : ''}${error ? ' aria-invalid="true"' : ''}${f.required ? ' aria-required="true"' : ''}`;
  const req = f.required ? ` <span class="req">(${t.required})</span>` : '';
  const label = escapeHtml(local(f.label, lang));
  const hint = help ? `<span class="hint" id="${id}-hint">${escapeHtml(help)}</span>` : '';
  const err = error ? `<span class="err" id="${id}-err">${escapeHtml(error)}</span>` : '';
  const value = values[f.key];
  const one = Array.isArray(value) ? (value[0] ?? '') : (value ?? '');
  const many = Array.isArray(value) ? value : value ? [value] : [];
  switch (f.type) {
    case 'hidden':
      return `<input type="hidden" name="${name}" value="${escapeHtml(one)}">`;
    case 'textarea':
      return `<div class="field"><label for="${id}">${label}${req}${hint}</label><textarea id="${id}" name="${name}"${aria}>${escapeHtml(one)}</textarea>${err}</div>`;
    case 'select':
      return `<div class="field"><label for="${id}">${label}${req}${hint}</label><select id="${id}" name="${name}"${aria}><option value="">${t.choose}</option>${(
        f.options ?? []
      )
        .map(
          (o) =>
            `<option value="${escapeHtml(o.value)}"${one === o.value ? ' selected' : ''}>${escapeHtml(local(o.label, lang))}</option>`,
        )
        .join('')}</select>${err}</div>`;
    case 'multiselect':
    case 'rating': {
      const options =
        f.type === 'rating'
          ? Array.from({ length: f.scale ?? 5 }, (_, i) => ({ value: String(i + 1), text: String(i + 1) }))
          : (f.options ?? []).map((o) => ({ value: o.value, text: local(o.label, lang) }));
      const type = f.type === 'rating' ? 'radio' : 'checkbox';
      return `<fieldset class="field"${aria}><legend>${label}${req}${hint}</legend><div class="${f.type === 'rating' ? 'scale' : ''}">${options
        .map(
          (o, i) =>
            `<label class="opt" for="${id}-${i}"><input type="${type}" id="${id}-${i}" name="${name}" value="${escapeHtml(o.value)}"${many.includes(o.value) ? ' checked' : ''}> ${escapeHtml(o.text)}</label>`,
        )
        .join('')}</div>${err}</fieldset>`;
    }
    case 'checkbox':
      return `<div class="field"><label class="check" for="${id}"><input type="checkbox" id="${id}" name="${name}" value="1"${one === '1' ? ' checked' : ''}${aria}> <span>${label}${req}${hint}</span></label>${err}</div>`;
    default: {
      const inputmode = f.type === 'phone' ? ' inputmode="tel"' : '';
      const auto = AUTOCOMPLETE[f.type] ? ` autocomplete="${AUTOCOMPLETE[f.type]}"` : '';
      return `<div class="field"><label for="${id}">${label}${req}${hint}</label><input type="${INPUT_TYPES[f.type] ?? 'text'}" id="${id}" name="${name}" value="${escapeHtml(one)}"${inputmode}${auto}${aria}>${err}</div>`;
    }
  }
}

export interface FormPageState {
  values: PageValues;
  errors: FieldError[];
  /** Set when the submission was accepted. */
  done?: { pendingConsents: number };
  /** A message for the whole form (limits, closed). */
  notice?: string;
  submissionId: string;
}

export function formPage(
  lang: Lang,
  action: string,
  otherLangHref: string,
  definition: FormDefinition,
  state: FormPageState,
): string {
  const t = text(lang);
  const title = local(definition.texts.title, lang);
  const intro = local(definition.texts.intro, lang);
  const head = `<h1>${escapeHtml(title)}</h1>${intro ? `<p class="lead">${escapeHtml(intro)}</p>` : ''}`;
  const other = lang === 'en' ? 'ru' : 'en';
  const foot = `<p class="small"><a href="${escapeHtml(otherLangHref)}" lang="${other}">${t.language}</a></p>`;
  if (state.done) {
    const thanks = local(definition.texts.thankYou, lang) || t.thankYou;
    const confirm = state.done.pendingConsents > 0 ? `\n${t.confirm}` : '';
    return page(
      lang,
      title,
      `${head}<div class="card"><p class="msg ok" role="status" data-testid="message">${escapeHtml(thanks + confirm)}</p></div>${foot}`,
    );
  }
  const errorOf = new Map(state.errors.map((e) => [e.path, t.codes[e.code] ?? e.message]));
  const summary = state.notice
    ? `<p id="msg" class="msg bad" role="alert" data-testid="message">${escapeHtml(state.notice)}</p>`
    : state.errors.length > 0
      ? `<div id="msg" class="msg bad" role="alert" data-testid="message">${escapeHtml(t.fix)}<ul>${state.errors
          .map((e) => `<li><a href="#f-${escapeHtml(e.path)}">${escapeHtml(errorOf.get(e.path) ?? '')}</a></li>`)
          .join('')}</ul></div>`
      : '';
  const fields = definition.fields.map((f) => fieldHtml(f, lang, state.values, errorOf.get(f.key))).join('\n');
  const consents = definition.consents
    .map((c) => {
      const id = `f-${c.key}`;
      const error = errorOf.get(c.key);
      const checked = state.values[`consent_${c.key}`] === '1';
      return `<div class="field"><label class="check" for="${id}"><input type="checkbox" id="${id}" name="consent_${escapeHtml(c.key)}" value="1"${checked ? ' checked' : ''}${error ? ` aria-invalid="true" aria-describedby="${id}-err"` : ''}> <span>${escapeHtml(local(c.label, lang))}${c.required ? ` <span class="req">(${t.required})</span>` : ''}</span></label>${error ? `<span class="err" id="${id}-err">${escapeHtml(error)}</span>` : ''}</div>`;
    })
    .join('\n');
  const submit = local(definition.texts.submitLabel, lang) || t.submit;
  return page(
    lang,
    title,
    `${head}<div class="card">${summary}<form method="post" action="${escapeHtml(action)}" novalidate>
<input type="hidden" name="_sid" value="${escapeHtml(state.submissionId)}">
${fields}
${consents}
<div class="hp" aria-hidden="true"><label for="f-website">${t.honeypot}</label><input type="text" id="f-website" name="website" tabindex="-1" autocomplete="off"></div>
<button type="submit">${escapeHtml(submit)}</button></form></div>${foot}`,
  );
}
