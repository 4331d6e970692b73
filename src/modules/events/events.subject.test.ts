import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scrubProperties } from './events.subject.ts';

describe("an erased person's event properties", () => {
  it('keep amounts, flags and descriptive codes; lose every other string and personal numbers', () => {
    const needles = ['anna@example.com', 'shop-77', '150'];
    assert.deepEqual(
      scrubProperties(
        {
          revenue: 1500,
          currency: 'RUB',
          paid: true,
          sku: 'TEA-1',
          orderId: 'order-shop-77-1',
          coupon: 'ANNA2026',
          url: 'https://shop.test/?e=anna@example.com',
          phone: 79031112267,
          loyaltyNumber: 150,
          category: '+7 903 111 22 67',
          products: [{ sku: 'TEA-1', price: 750, name: 'Green tea', quantity: 2 }],
        },
        needles,
      ),
      {
        revenue: 1500,
        currency: 'RUB',
        paid: true,
        sku: 'TEA-1',
        products: [{ sku: 'TEA-1', price: 750, quantity: 2 }],
      },
    );
  });
});
