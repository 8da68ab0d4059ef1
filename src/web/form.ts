// application/x-www-form-urlencoded: each name=value pair with the byte range
// of its raw value, so a redaction re-encodes only that value.
import { WebBodyError } from './errors';

export interface FormField {
  name: string;
  value: string;
  /** Raw (still encoded) value bytes: [start, end). */
  start: number;
  end: number;
}

/** Percent-decoding that never throws: a bad escape stays as written. */
export function formDecode(raw: string): string {
  const plus = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus.replace(/(?:%[0-9A-Fa-f]{2})+/g, (m) => {
      try {
        return decodeURIComponent(m);
      } catch {
        return m;
      }
    });
  }
}

/** How browsers encode form values (spaces as '+'). */
export function formEncode(value: string): Buffer {
  return Buffer.from(encodeURIComponent(value).replace(/%20/g, '+'), 'latin1');
}

export function scanForm(buf: Buffer, maxFields: number): FormField[] {
  const out: FormField[] = [];
  const n = buf.length;
  let i = 0;
  while (i < n) {
    let amp = buf.indexOf(0x26, i);
    if (amp < 0) amp = n;
    if (amp > i) {
      if (out.length >= maxFields) throw new WebBodyError('form', `more than ${maxFields} form fields`);
      let eq = buf.indexOf(0x3d, i);
      if (eq < 0 || eq > amp) eq = amp;
      const name = formDecode(buf.toString('utf8', i, eq));
      const vs = eq < amp ? eq + 1 : amp;
      out.push({ name, value: formDecode(buf.toString('utf8', vs, amp)), start: vs, end: amp });
    }
    i = amp + 1;
  }
  return out;
}
