// A body imgate cannot read as what it claims to be (bad JSON, multipart,
// encoding, a length that lies, a limit hit). The inspector turns it into the
// configured on_error verdict; it never escapes to the ICAP server.
export type BodyFault = 'json' | 'form' | 'multipart' | 'xml' | 'encoding' | 'length' | 'limit';

export class WebBodyError extends Error {
  constructor(
    readonly fault: BodyFault,
    message: string,
  ) {
    super(message);
    this.name = 'WebBodyError';
  }
}
