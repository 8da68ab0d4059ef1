#!/usr/bin/env node
'use strict';
// Thin launcher: the CLI is compiled TypeScript under dist/.
require('../dist/src/cli/main.js').main(process.argv).catch((err) => {
  process.stderr.write(`imgate: ${err && err.message ? err.message : String(err)}\n`);
  process.exit(1);
});
