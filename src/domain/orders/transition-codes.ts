/**
 * The integer codes returned by the Lua transitions in src/infra/redis/lua, in one place.
 * Positive/zero: the transition happened (or had already happened). Negative: nothing changed.
 */
export enum Transition {
  Done = 1,
  AlreadyClosing = 2,
  AlreadyDone = 0,
  GoodsNotLoaded = -1,
  NotOnSale = -2,
  RepeatOrder = -3,
  SoldOut = -4,
  OrderIdTaken = -5,
  StaleDurableStock = -6,
  OrderNotFound = -10,
  IsPaid = -11,
  IsClosed = -12,
  InReview = -13,
  NotClosing = -14,
  AmountMismatch = -15,
  IsClosing = -16,
  ReviewAlreadyResolved = -17,
  NoUnitHeld = -18,
  NoReview = -19,
  PaymentKnown = -20,
}

export type OrderStatus = 'UNPAID' | 'CLOSING' | 'PAID' | 'CLOSED' | 'NEEDS_REVIEW';
export type CloseReason = 'TIMEOUT' | 'USER_CANCEL';
