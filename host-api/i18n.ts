// i18n: the label tables a plugin's `i18n(lang, fallback)._t(key, vars)` reads. They are data, copied
// into the isolate when it is created, so `_t` is synchronous as plugins expect and costs no host
// call. Unknown keys give '' so that `_t(key) || 'Fallback'` shows the plugin's own fallback.
// Policy: read-only, no host round trip, nothing audited (there is nothing to decide).

export const LANGUAGES = ['en', 'ru', 'es'] as const;
export type Language = (typeof LANGUAGES)[number];

type Table = Record<string, string>;

const en: Table = {
  'payout/field/card_number': 'Card number',
  'payout/field/error/card_number': 'Card number is incorrect',
  'payout/field/crypto_address': '{currency} address',
  'payout/field/error/crypto_address': '{currency} address is incorrect',
  'payout/field/account': 'Account',
  'payout/field/error/account': 'Account is incorrect',
  'payout/field/phone': 'Phone number',
  'payout/field/error/phone': 'Phone number is incorrect',
  'payout/field/name': 'Recipient name',
  'payout/field/error/name': 'Recipient name is incorrect',
  'payout/field/email': 'E-mail',
  'payout/field/error/email': 'E-mail is incorrect',
  'payout/field/memo': 'Memo / tag',
  'payout/field/error/memo': 'Memo / tag is incorrect',
};

const ru: Table = {
  'payout/field/card_number': 'Номер карты',
  'payout/field/error/card_number': 'Неверный номер карты',
  'payout/field/crypto_address': 'Адрес {currency}',
  'payout/field/error/crypto_address': 'Неверный адрес {currency}',
  'payout/field/account': 'Счёт',
  'payout/field/error/account': 'Неверный счёт',
  'payout/field/phone': 'Номер телефона',
  'payout/field/error/phone': 'Неверный номер телефона',
  'payout/field/name': 'Имя получателя',
  'payout/field/error/name': 'Неверное имя получателя',
  'payout/field/email': 'E-mail',
  'payout/field/error/email': 'Неверный e-mail',
  'payout/field/memo': 'Memo / тег',
  'payout/field/error/memo': 'Неверный memo / тег',
};

const es: Table = {
  'payout/field/card_number': 'Número de tarjeta',
  'payout/field/error/card_number': 'El número de tarjeta no es correcto',
  'payout/field/crypto_address': 'Dirección {currency}',
  'payout/field/error/crypto_address': 'La dirección {currency} no es correcta',
  'payout/field/account': 'Cuenta',
  'payout/field/error/account': 'La cuenta no es correcta',
  'payout/field/phone': 'Número de teléfono',
  'payout/field/error/phone': 'El número de teléfono no es correcto',
  'payout/field/name': 'Nombre del destinatario',
  'payout/field/error/name': 'El nombre del destinatario no es correcto',
  'payout/field/email': 'Correo electrónico',
  'payout/field/error/email': 'El correo electrónico no es correcto',
  'payout/field/memo': 'Memo / etiqueta',
  'payout/field/error/memo': 'El memo / etiqueta no es correcto',
};

export const LABELS: Record<Language, Table> = { en, ru, es };

/** The tables handed to an isolate; `ing` and `rus` are aliases seen in the merchant API. */
export function labelTables(): Record<string, Table> {
  return { en, ru, es, ing: en, eng: en, rus: ru, esp: es };
}
