/**
 * Card numbers: prefix + zero-padded serial + one Luhn check digit (ISO/IEC 7812), so that a mistyped digit or
 * two swapped neighbours are caught at the till before any lookup.
 */

/** The Luhn check digit of a string of digits (the digit to append). */
export function luhnDigit(digits: string): number {
  let sum = 0;
  // Counting from the right of the payload, every first digit is doubled (it becomes the second once the check digit
  // is appended).
  for (let i = digits.length - 1, double = true; i >= 0; i--, double = !double) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return (10 - (sum % 10)) % 10;
}

export function luhnValid(number: string): boolean {
  if (!/^[0-9]{2,}$/.test(number)) return false;
  return luhnDigit(number.slice(0, -1)) === Number(number.at(-1));
}

export interface RangeShape {
  prefix: string;
  length: number;
}

/** The number of a serial in a range. */
export function cardNumber(range: RangeShape, serial: number): string {
  const width = range.length - range.prefix.length - 1;
  const body = `${range.prefix}${String(serial).padStart(width, '0')}`;
  if (body.length !== range.length - 1) throw new Error('serial does not fit the range');
  return `${body}${luhnDigit(body)}`;
}

/** The serial a number stands for in a range, or null when it is not one of the range's numbers. */
export function serialOf(
  range: RangeShape & { firstSerial: number; lastSerial: number },
  number: string,
): number | null {
  if (number.length !== range.length || !number.startsWith(range.prefix) || !luhnValid(number)) return null;
  const serial = Number(number.slice(range.prefix.length, -1));
  return serial >= range.firstSerial && serial <= range.lastSerial ? serial : null;
}
