// The words on the customer's pages, in the three languages the merchant API offers.
import type { OrderStatus } from '../../store/types.ts';
import type { OrderLang } from '../../orders/order-form.ts';

export interface PageTexts {
  orderTitle: string;          // 'Order {uid}'
  paymentTitle: string;        // 'Payment for order {uid}'
  status: string;
  youSend: string;
  youReceive: string;
  recipient: string;
  recipientHidden: string;
  created: string;
  sendExactly: string;         // 'Send exactly {amount}'
  waiting: string;
  noLongerExpected: string;
  toOrderPage: string;
  toPaymentPage: string;
  returnToSite: string;
  notFoundTitle: string;
  notFoundText: string;
  errorTitle: string;
  errorText: string;
  language: string;
  statuses: Record<OrderStatus, string>;
}

const en: PageTexts = {
  orderTitle: 'Order {uid}',
  paymentTitle: 'Payment for order {uid}',
  status: 'Status',
  youSend: 'You send',
  youReceive: 'You receive',
  recipient: 'Recipient details',
  recipientHidden: 'The recipient details are hidden.',
  created: 'Created',
  sendExactly: 'Send exactly {amount}.',
  waiting: 'This order is waiting for your payment.',
  noLongerExpected: 'No payment is expected for this order any more.',
  toOrderPage: 'Order details',
  toPaymentPage: 'Payment details',
  returnToSite: 'Return to the site',
  notFoundTitle: 'Order not found',
  notFoundText: 'There is no order at this address. Check the link you were given.',
  errorTitle: 'Something went wrong',
  errorText: 'The page could not be shown. Please try again in a minute.',
  language: 'Language',
  statuses: {
    new: 'New', waitPayment: 'Waiting for payment', errorPayment: 'Payment failed', inProgress: 'Processing',
    inProgressPayout: 'Payout in progress', errorPayout: 'Payout failed', hold: 'On hold', done: 'Completed',
    returned: 'Refunded', deleted: 'Cancelled',
  },
};

const ru: PageTexts = {
  orderTitle: 'Заявка {uid}',
  paymentTitle: 'Оплата заявки {uid}',
  status: 'Статус',
  youSend: 'Вы отправляете',
  youReceive: 'Вы получаете',
  recipient: 'Реквизиты получателя',
  recipientHidden: 'Реквизиты получателя скрыты.',
  created: 'Создана',
  sendExactly: 'Отправьте ровно {amount}.',
  waiting: 'Заявка ожидает вашего платежа.',
  noLongerExpected: 'Платёж по этой заявке больше не ожидается.',
  toOrderPage: 'Подробности заявки',
  toPaymentPage: 'Данные для оплаты',
  returnToSite: 'Вернуться на сайт',
  notFoundTitle: 'Заявка не найдена',
  notFoundText: 'По этому адресу заявки нет. Проверьте полученную ссылку.',
  errorTitle: 'Что-то пошло не так',
  errorText: 'Страницу не удалось показать. Попробуйте ещё раз через минуту.',
  language: 'Язык',
  statuses: {
    new: 'Новая', waitPayment: 'Ожидает оплаты', errorPayment: 'Ошибка оплаты', inProgress: 'В обработке',
    inProgressPayout: 'Выплата в процессе', errorPayout: 'Ошибка выплаты', hold: 'Заморожена', done: 'Выполнена',
    returned: 'Возвращена', deleted: 'Отменена',
  },
};

const es: PageTexts = {
  orderTitle: 'Solicitud {uid}',
  paymentTitle: 'Pago de la solicitud {uid}',
  status: 'Estado',
  youSend: 'Usted envía',
  youReceive: 'Usted recibe',
  recipient: 'Datos del destinatario',
  recipientHidden: 'Los datos del destinatario están ocultos.',
  created: 'Creada',
  sendExactly: 'Envíe exactamente {amount}.',
  waiting: 'Esta solicitud está esperando su pago.',
  noLongerExpected: 'Ya no se espera ningún pago para esta solicitud.',
  toOrderPage: 'Detalles de la solicitud',
  toPaymentPage: 'Datos de pago',
  returnToSite: 'Volver al sitio',
  notFoundTitle: 'Solicitud no encontrada',
  notFoundText: 'No hay ninguna solicitud en esta dirección. Compruebe el enlace que recibió.',
  errorTitle: 'Algo salió mal',
  errorText: 'No se pudo mostrar la página. Inténtelo de nuevo en un minuto.',
  language: 'Idioma',
  statuses: {
    new: 'Nueva', waitPayment: 'Esperando el pago', errorPayment: 'Error en el pago', inProgress: 'En proceso',
    inProgressPayout: 'Pago al destinatario en curso', errorPayout: 'Error en el pago al destinatario', hold: 'Congelada',
    done: 'Completada', returned: 'Devuelta', deleted: 'Cancelada',
  },
};

export const TEXTS: Record<OrderLang, PageTexts> = { en, ru, es };

/** Fills `{name}` placeholders; the result is still plain text (escaped when rendered). */
export function fill(template: string, vars: Record<string, string | number>): string {
  return template.replace(/\{(\w+)\}/g, (m, k: string) => (Object.prototype.hasOwnProperty.call(vars, k) ? String(vars[k]) : m));
}
