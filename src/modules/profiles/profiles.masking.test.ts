import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskCard, maskDeep, maskEmail, maskIdentity, maskIp, maskPhone } from './profiles.masking.ts';
import { erasedSubjectRejection } from './profiles.subject.ts';

describe('masking of contact data', () => {
  it('keeps what recognises a caller and hides what contacts them', () => {
    assert.equal(maskEmail('anna.petrova@example.com'), 'a***@example.com');
    assert.equal(maskEmail('broken'), '***');
    assert.equal(maskPhone('+79031112267'), '+7 *** *** ** 67');
    assert.equal(maskPhone('+442071838750'), '+44 ** **** **50');
    assert.equal(maskPhone('12345'), '***45');
    assert.equal(maskCard('4276 0000 1111 2222'), '**** 2222');
    assert.equal(maskCard('123'), '****');
    assert.equal(maskIp('203.0.113.75'), '203.0.*.*');
    assert.equal(maskIp('2001:db8:85a3::8a2e:370:7334'), '2001:db8:*');
    assert.equal(maskIdentity('user_id', 'shop-77'), 'shop-77');
    assert.equal(maskIdentity('telegram', 'anna_p'), '***_p');
  });

  it('masks by key and any e-mail address anywhere in a JSON value, leaving the rest', () => {
    assert.deepEqual(
      maskDeep({
        email: 'anna@example.com',
        Phone: 79031112267,
        card_number: '4276000011112222',
        name: 'Anna',
        nested: { contacts: ['boris@example.com', 'not an address'], ip: '10.1.2.3' },
        revenue: 1500,
      }),
      {
        email: 'a***@example.com',
        Phone: '*********67', // no country code: every digit but the last two
        card_number: '**** 2222',
        name: 'Anna',
        nested: { contacts: ['b***@example.com', 'not an address'], ip: '10.1.*.*' },
        revenue: 1500,
      },
    );
  });

  it("refuses an erased person's message naming kinds, never values", () => {
    const rejection = erasedSubjectRejection([
      { kind: 'email', value: 'anna@example.com' },
      { kind: 'phone', value: '+79031112267' },
    ]);
    assert.equal(rejection.code, 'ERASED_SUBJECT');
    assert.match(rejection.message, /e-mail, phone/);
    assert.doesNotMatch(rejection.message, /anna|7903/);
  });
});
