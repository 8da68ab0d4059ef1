// YMSG framing: a 20-byte header starting with the magic "YMSG" whose
// payload length is the uint16 at offset 8. The state machine is the shared
// HeaderFramer (src/protocols/framing); this is YMSG's header. YMSG has no
// resynchronisation point other than the magic and no sequence numbers, so
// bytes that are not YMSG end the connection.
import type { HeaderFormat } from '../framing/header-framer';
import { YMSG_HEADER_LEN, YMSG_MAGIC } from './packet';

export const YMSG_FORMAT: HeaderFormat = {
  unitName: 'YMSG packet',
  headerLen: YMSG_HEADER_LEN,
  lengthOffset: 8,
  prefixLen: YMSG_MAGIC.length,
  prefixOk: (b, p, len) => {
    for (let i = 0; i < len; i++) if (b[p + i] !== YMSG_MAGIC[i]) return false;
    return true;
  },
  onBadPrefix: 'not a YMSG packet (bad magic)',
};
