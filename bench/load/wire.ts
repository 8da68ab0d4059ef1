// Shared constants of the small request/response used for connections/s.
export const REQUEST_BYTES = 16;
export const REQUEST = Buffer.alloc(REQUEST_BYTES, 0x71);
export const RESPONSE = Buffer.alloc(64, 0x72);
