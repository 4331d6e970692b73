import type { FormDefinition } from './forms.schemas.ts';

/**
 * The embeddable snippet: a small script, loaded from `/p/<workspace>/f/<form>/embed.js`, that builds the form
 * with DOM calls (no innerHTML, no inline style sheet, no eval — it works under a strict CSP of the host page that
 * allows this script's origin) and posts it as JSON to the submit endpoint with the write key given on the tag:
 *
 * ```html
 * <div id="rapport-form"></div>
 * <script src="https://crm.example.com/p/acme/f/newsletter/embed.js" data-write-key="wk_…"
 *   data-target="#rapport-form" data-lang="ru" async></script>
 * ```
 */

const MESSAGES = {
  en: {
    submit: 'Send',
    thankYou: 'Thank you! Your answers are saved.',
    confirm: 'We have sent you a message: follow its link to confirm your subscription.',
    fix: 'Please correct the highlighted fields.',
    failed: 'Sending failed. Please try again.',
    required: 'required',
    choose: 'Choose…',
    REQUIRED: 'This field is required.',
    INVALID_EMAIL: 'Enter a valid e-mail address.',
    INVALID_PHONE: 'Enter a valid phone number with the country code.',
    CONSENT_REQUIRED: 'Tick this box to continue.',
    other: 'The value is not valid.',
  },
  ru: {
    submit: 'Отправить',
    thankYou: 'Спасибо! Ваши ответы сохранены.',
    confirm: 'Мы отправили вам сообщение: перейдите по ссылке в нём, чтобы подтвердить подписку.',
    fix: 'Исправьте отмеченные поля.',
    failed: 'Не удалось отправить. Попробуйте ещё раз.',
    required: 'обязательно',
    choose: 'Выберите…',
    REQUIRED: 'Заполните это поле.',
    INVALID_EMAIL: 'Введите правильный адрес e-mail.',
    INVALID_PHONE: 'Введите правильный номер телефона с кодом страны.',
    CONSENT_REQUIRED: 'Отметьте, чтобы продолжить.',
    other: 'Недопустимое значение.',
  },
};

// Runs in the visitor's browser: plain ES2017, no dependencies.
const RUNTIME = `(function () {
  var script = document.currentScript;
  if (!script) return;
  var writeKey = script.getAttribute('data-write-key') || '';
  // Answers go back to where the script came from: the Rapport install, whatever the host page's origin.
  var submitUrl = new URL(CONFIG.submitPath, script.src).href;
  var lang = script.getAttribute('data-lang') || ((navigator.language || 'en').slice(0, 2) === 'ru' ? 'ru' : 'en');
  if (lang !== 'ru') lang = 'en';
  var M = CONFIG.messages[lang];
  var D = CONFIG.definition;
  var selector = script.getAttribute('data-target');
  var target = selector ? document.querySelector(selector) : null;
  if (!target) { target = document.createElement('div'); script.parentNode.insertBefore(target, script); }
  var uid = 'rf' + Math.random().toString(36).slice(2, 8);
  function tr(t) { return t ? (lang === 'ru' && t.ru && t.ru.trim() ? t.ru : t.en) : ''; }
  function el(tag, attrs, children) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) if (attrs[k] !== undefined && attrs[k] !== null) e.setAttribute(k, attrs[k]);
    (children || []).forEach(function (c) { e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return e;
  }
  function rid() {
    var a = new Uint8Array(16); (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  var submissionId = rid();
  var query = new URLSearchParams(location.search);
  var form = el('form', { novalidate: '', 'class': 'rapport-form' });
  var status = el('div', { role: 'status', 'aria-live': 'polite', 'class': 'rapport-status' });
  form.appendChild(el('h2', {}, [tr(D.texts.title)]));
  if (tr(D.texts.intro)) form.appendChild(el('p', {}, [tr(D.texts.intro)]));
  form.appendChild(status);
  var errorSpans = {};
  function req(on) { return on ? ' (' + M.required + ')' : ''; }
  D.fields.forEach(function (f) {
    var id = uid + '-' + f.key;
    if (f.type === 'hidden') { form.appendChild(el('input', { type: 'hidden', name: f.key, value: query.get(f.key) || '' })); return; }
    var wrap = el('div', { 'class': 'rapport-field' });
    var err = el('span', { id: id + '-err', 'class': 'rapport-error' });
    errorSpans[f.key] = err;
    if (f.type === 'select') {
      var sel = el('select', { id: id, name: f.key, 'aria-describedby': id + '-err' }, [el('option', { value: '' }, [M.choose])]);
      (f.options || []).forEach(function (o) { sel.appendChild(el('option', { value: o.value }, [tr(o.label)])); });
      wrap.appendChild(el('label', { 'for': id }, [tr(f.label) + req(f.required)])); wrap.appendChild(sel);
    } else if (f.type === 'multiselect' || f.type === 'rating') {
      var fs = el('fieldset', { 'aria-describedby': id + '-err' }, [el('legend', {}, [tr(f.label) + req(f.required)])]);
      var opts = f.type === 'rating'
        ? Array.apply(null, Array(f.scale || 5)).map(function (_, i) { return { value: String(i + 1), label: { en: String(i + 1) } }; })
        : f.options || [];
      opts.forEach(function (o, i) {
        fs.appendChild(el('label', { 'for': id + '-' + i }, [el('input', { type: f.type === 'rating' ? 'radio' : 'checkbox', id: id + '-' + i, name: f.key, value: o.value }), ' ' + tr(o.label)]));
      });
      wrap.appendChild(fs);
    } else if (f.type === 'checkbox') {
      wrap.appendChild(el('label', { 'for': id }, [el('input', { type: 'checkbox', id: id, name: f.key, value: '1', 'aria-describedby': id + '-err' }), ' ' + tr(f.label) + req(f.required)]));
    } else {
      var types = { email: 'email', phone: 'tel', date: 'date', number: 'number' };
      var input = f.type === 'textarea' ? el('textarea', { id: id, name: f.key, 'aria-describedby': id + '-err' })
        : el('input', { type: types[f.type] || 'text', id: id, name: f.key, 'aria-describedby': id + '-err', autocomplete: f.type === 'email' ? 'email' : f.type === 'phone' ? 'tel' : null });
      wrap.appendChild(el('label', { 'for': id }, [tr(f.label) + req(f.required)])); wrap.appendChild(input);
    }
    wrap.appendChild(err);
    form.appendChild(wrap);
  });
  D.consents.forEach(function (c) {
    var id = uid + '-' + c.key;
    var err = el('span', { id: id + '-err', 'class': 'rapport-error' });
    errorSpans[c.key] = err;
    form.appendChild(el('div', { 'class': 'rapport-field' }, [
      el('label', { 'for': id }, [el('input', { type: 'checkbox', id: id, name: 'consent_' + c.key, value: '1', 'aria-describedby': id + '-err' }), ' ' + tr(c.label) + req(c.required)]),
      err,
    ]));
  });
  var hp = el('input', { type: 'text', name: 'website', tabindex: '-1', autocomplete: 'off', 'aria-hidden': 'true' });
  hp.style.position = 'absolute'; hp.style.left = '-10000px';
  form.appendChild(hp);
  var button = el('button', { type: 'submit' }, [tr(D.texts.submitLabel) || M.submit]);
  form.appendChild(button);
  target.appendChild(form);

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var answers = {}, consents = {}, source = {};
    D.fields.forEach(function (f) {
      var inputs = form.querySelectorAll('[name="' + f.key + '"]');
      if (f.type === 'multiselect') { answers[f.key] = Array.prototype.filter.call(inputs, function (i) { return i.checked; }).map(function (i) { return i.value; }); return; }
      if (f.type === 'rating') { var on = Array.prototype.filter.call(inputs, function (i) { return i.checked; })[0]; if (on) answers[f.key] = Number(on.value); return; }
      if (f.type === 'checkbox') { answers[f.key] = inputs[0].checked; return; }
      if (inputs[0] && inputs[0].value !== '') answers[f.key] = inputs[0].value;
    });
    D.consents.forEach(function (c) { consents[c.key] = form.querySelector('[name="consent_' + c.key + '"]').checked; });
    (D.capture || []).forEach(function (p) { if (query.get(p)) source[p] = query.get(p); });
    Object.keys(errorSpans).forEach(function (k) { errorSpans[k].textContent = ''; });
    Array.prototype.forEach.call(form.querySelectorAll('[aria-invalid]'), function (e) { e.removeAttribute('aria-invalid'); });
    button.disabled = true;
    fetch(submitUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic ' + btoa(writeKey + ':') },
      body: JSON.stringify({ answers: answers, consents: consents, submissionId: submissionId, source: source, lang: lang, website: hp.value || undefined }),
    }).then(function (r) {
      return r.json().then(function (body) {
        button.disabled = false;
        if (r.ok) {
          form.replaceChildren(el('p', { role: 'status', 'class': 'rapport-thanks' }, [body.message + (body.pendingConsents > 0 ? ' ' + M.confirm : '')]));
          return;
        }
        var errors = body.errors || [];
        status.textContent = errors.length ? M.fix : body.detail || M.failed;
        errors.forEach(function (e) {
          var span = errorSpans[e.path];
          if (!span) return;
          span.textContent = M[e.code] || M.other;
          var input = document.getElementById(uid + '-' + e.path);
          if (input) input.setAttribute('aria-invalid', 'true');
        });
      });
    }).catch(function () { button.disabled = false; status.textContent = M.failed; });
  });
})();
`;

export function embedScript(config: { submitPath: string; definition: FormDefinition }): string {
  const data = JSON.stringify({ ...config, messages: MESSAGES })
    .replaceAll('<', '\\u003c')
    .replaceAll('\u2028', '\\u2028')
    .replaceAll('\u2029', '\\u2029');
  return `/* Rapport form */\n${RUNTIME.replace('(function () {', () => `(function () {\n  var CONFIG = ${data};`)}`;
}
