import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto';

/**
 * Keys of a module's codes (promo codes, coupons), all derived from one CSPRNG secret per workspace that the module
 * keeps in its own table and never shows: HMAC-SHA-256(secret, purpose) gives a separate key per purpose.
 */
export function keyDeriver(secret: Buffer): (purpose: string) => Buffer {
  return (purpose) => createHmac('sha256', secret).update(purpose).digest();
}

/** A fresh secret for a workspace, as stored (base64url of 32 CSPRNG bytes). */
export function newSecret(): string {
  return randomBytes(32).toString('base64url');
}

export interface Sealer {
  /** AES-256-GCM with a fresh 96-bit IV: base64url(iv ‖ tag ‖ ciphertext). */
  seal(plain: Buffer): string;
  /** Throws when the text was not sealed with this key or was altered. */
  unseal(sealed: string): Buffer;
}

/** Seals the seeds of generated batches, so that only the owner's re-export can derive their codes again. */
export function sealer(key: Buffer): Sealer {
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([cipher.update(plain), cipher.final()]);
      return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    unseal(sealed) {
      const raw = Buffer.from(sealed, 'base64url');
      const decipher = createDecipheriv('aes-256-gcm', key, raw.subarray(0, 12));
      decipher.setAuthTag(raw.subarray(12, 28));
      return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]);
    },
  };
}
