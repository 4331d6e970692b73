/** Time comes from here so that tests of expiry and windows can move it without sleeping. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };
