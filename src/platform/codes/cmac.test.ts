import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodeCmac } from './cmac.ts';

// The message of RFC 4493 and NIST SP 800-38B's examples; the tags they publish for its first 0, 16, 40 and 64 bytes.
const M = Buffer.from(
  '6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710',
  'hex',
);
const PUBLISHED: [string, [number, string][]][] = [
  [
    '2b7e151628aed2a6abf7158809cf4f3c', // AES-128, RFC 4493 section 4
    [
      [0, 'bb1d6929e95937287fa37d129b756746'],
      [16, '070a16b46b4d4144f79bdd9dd04a287c'],
      [40, 'dfa66747de9ae63030ca32611497c827'],
      [64, '51f0bebf7e3b9d92fc49741779363cfe'],
    ],
  ],
  [
    '603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', // AES-256, SP 800-38B appendix D.3
    [
      [0, '028962f61b7bf89efc6b551f4667d983'],
      [16, '28a7023f452e8f82bd4bf28d8c37c35c'],
      [40, 'aaf3d8f1de5640c232f5b169b9c911e6'],
      [64, 'e1992190549f6ed5696a2c056c315410'],
    ],
  ],
];

describe('AES-CMAC of codes', () => {
  it('gives the published tags (RFC 4493, SP 800-38B) for empty, one-block, partial and whole multi-block messages', () => {
    for (const [key, cases] of PUBLISHED) {
      const cmac = new CodeCmac(Buffer.from(key, 'hex'));
      for (const [length, tag] of cases) {
        assert.equal(cmac.tags(M, length, 1).toString('hex'), tag, `key ${key.length * 4} bits, ${length} bytes`);
        assert.equal(
          cmac.hash(M.subarray(0, length).toString('latin1')),
          Buffer.from(tag, 'hex').readBigInt64BE(0).toString(),
        );
      }
    }
  });

  it('hashes a chunk of codes exactly as it hashes each code alone, for every length up to 40', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 50 }),
        fc.nat(7),
        (key, length, count, at) => {
          const cmac = new CodeCmac(key);
          const text = Buffer.alloc(at + length * count);
          for (let i = 0; i < text.length; i++) text[i] = 50 + ((i * 31 + (key[i % 32] ?? 0)) % 40);
          const words = new Int32Array(2 * count);
          cmac.hashFixed(text, length, count, words, at);
          const hashes = new BigInt64Array(words.buffer);
          for (let i = 0; i < count; i++) {
            const code = text.subarray(at + i * length, at + (i + 1) * length).toString('latin1');
            if (hashes[i]?.toString() !== cmac.hash(code)) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });

  it('depends on the key: the same code under two keys hashes differently', () => {
    const a = new CodeCmac(Buffer.alloc(32, 1));
    const b = new CodeCmac(Buffer.alloc(32, 2));
    assert.notEqual(a.hash('7KQ4M2XD9RPT'), b.hash('7KQ4M2XD9RPT'));
    assert.equal(a.hash('7KQ4M2XD9RPT'), new CodeCmac(Buffer.alloc(32, 1)).hash('7KQ4M2XD9RPT'));
  });
});
