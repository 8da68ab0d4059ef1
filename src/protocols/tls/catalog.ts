// The live app catalog the TLS sessions classify with. The protocol registry
// is a static list, so the catalog is process state: the gateway sets it at
// start and on reload (SIGHUP); a running session keeps the one it started with.
import { AppCatalog } from './apps';

let current = new AppCatalog({});

export function tlsApps(): AppCatalog {
  return current;
}

export function setTlsApps(catalog: AppCatalog): void {
  current = catalog;
}
