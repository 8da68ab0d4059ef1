// Where the local user's screen name / UIN shows up on the wire.
//  - FLAP channel 1 from the client: version 00000001 then TLVs; TLV 0x01
//    is the screen name in the old (ICQ "roasted password") login
//    (iserverd OSCAR docs "Login", wiki.nina.chat Protocols/OSCAR/FLAP).
//  - BUCP (foodgroup 0x17) 17/06 challenge request and 17/02 login request:
//    TLV 0x01 screen name (libpurple oscar/family_auth.c aim_request_login,
//    aim_send_login).
//  - OSERVICE 01/0F self info from the host: a user-info block that starts
//    with snLen:u8 + screen name (libpurple family_oservice.c selfinfo) -
//    the only source on a BOS connection opened with a cookie, as in the
//    real ICQ capture.
import { FLAP_HEADER_LEN } from './flap';
import type { Snac } from './snac';
import { ascii, findTlv, readTlvs } from './tlv';

export const BUCP_FAMILY = 0x0017;
export const OSERVICE_FAMILY = 0x0001;
const TLV_SCREEN_NAME = 0x0001;

export function loginFromChannel1(frame: Buffer): string | undefined {
  const from = FLAP_HEADER_LEN + 4; // after the FLAP version
  if (frame.length <= from) return undefined;
  const t = findTlv(readTlvs(frame, from, frame.length).tlvs, TLV_SCREEN_NAME);
  return t && t.value.length > 0 ? ascii(t.value) : undefined;
}

export function loginFromBucp(frame: Buffer, snac: Snac): string | undefined {
  if (snac.family !== BUCP_FAMILY || (snac.subtype !== 0x02 && snac.subtype !== 0x06)) return undefined;
  const t = findTlv(readTlvs(frame, snac.dataStart, frame.length).tlvs, TLV_SCREEN_NAME);
  return t && t.value.length > 0 ? ascii(t.value) : undefined;
}

export function selfInfoName(frame: Buffer, snac: Snac): string | undefined {
  if (snac.family !== OSERVICE_FAMILY || snac.subtype !== 0x0f) return undefined;
  const p = snac.dataStart;
  if (p >= frame.length) return undefined;
  const len = frame[p] as number;
  if (len === 0 || p + 1 + len > frame.length) return undefined;
  return ascii(frame.subarray(p + 1, p + 1 + len));
}
