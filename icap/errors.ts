// ICAP status codes and the one error type the parser and connection throw.
// Every protocol failure carries the ICAP status it must be answered with.

export const STATUS_TEXT: Readonly<Record<number, string>> = {
  100: 'Continue',
  200: 'OK',
  204: 'No Content',
  400: 'Bad Request',
  404: 'ICAP Service Not Found',
  405: 'Method Not Allowed For Service',
  408: 'Request Timeout',
  500: 'Server Error',
  501: 'Method Not Implemented',
  503: 'Service Overloaded',
  505: 'ICAP Version Not Supported',
};

export class IcapProtocolError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'IcapProtocolError';
  }
}

export function badRequest(message: string): IcapProtocolError {
  return new IcapProtocolError(400, message);
}
