// c-icap 0.5.10 with the virus_scan service and its clamd_mod engine, pointed
// at the test clamd's unix socket (clamd_mod uses zFILDES over it): a real
// ICAP AV server for imgate's ICAP chaining scanner. Service alias "avscan"
// answers 204 for clean content and 200 + X-Infection-Found when infected.
import fs from 'node:fs';
import path from 'node:path';
import { CIcap, modulesDir } from './cicap';

export class CIcapAv extends CIcap {
  /** icap://127.0.0.1:PORT/avscan */
  get avscanUri(): string {
    return `icap://127.0.0.1:${this.port}/avscan`;
  }

  static available(): boolean {
    const mods = modulesDir();
    return fs.existsSync(path.join(mods, 'virus_scan.so')) && fs.existsSync(path.join(mods, 'clamd_mod.so'));
  }

  static startAv(clamdSocket: string): Promise<CIcapAv> {
    return CIcap.launch(
      'cicap-av',
      [
        'Module common clamd_mod.so',
        `clamd_mod.ClamdSocket ${clamdSocket}`,
        'Service antivirus_module virus_scan.so',
        'ServiceAlias avscan virus_scan?allow204=on&sizelimit=off&mode=simple',
        'virus_scan.ScanFileTypes TEXT DATA EXECUTABLE ARCHIVE GIF JPEG MSOFFICE',
        'virus_scan.DefaultEngine clamd',
        'virus_scan.MaxObjectSize 5M',
      ],
      3,
      (dir, port) => new CIcapAv(dir, port),
    );
  }
}
