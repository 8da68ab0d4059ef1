// Public surface of the ICAP/1.0 server library.
export * from './types';
export { createIcapServer } from './server';
export { IcapProtocolError, STATUS_TEXT } from './errors';
export { decodeMaybeBase64 } from './client-info';
