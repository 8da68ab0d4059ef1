// Real peers (Squid, c-icap, Dante) take seconds to start and stop. jest reads
// `testTimeout` only at the top level, not inside a `projects` entry, so the
// interop project sets its budget here; it covers beforeAll/afterAll too.
jest.setTimeout(120_000);
