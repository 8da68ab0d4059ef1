// XMPP's name for the protocol-neutral file sink (src/protocols/files/sink.ts),
// kept so the IBB code reads `./transfer` like the rest of the folder.
export { completedDraft, DecideSink, isVerdictSink, openFileSink, transferState, type FileDataSink, type FileVerdict, type VerdictSink } from '../files/sink';
