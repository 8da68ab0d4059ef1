// The protocols imgate recognises, in probe order. Adding a protocol is one
// folder under src/protocols/ plus one line here. Order matters only where
// two probes could both match the same first bytes: the binary, magic-led
// protocols (TLS, OSCAR FLAP, YMSG) go before the text ones.
import { httpModule } from './http';
import { ircModule } from './irc';
import { msnpModule } from './msnp';
import { oscarModule } from './oscar';
import { tlsModule } from './tls';
import type { ProtocolModule } from './types';
import { xmppModule } from './xmpp';
import { ymsgModule } from './ymsg';

export const modules: ProtocolModule[] = [tlsModule, oscarModule, ymsgModule, httpModule, xmppModule, msnpModule, ircModule];
