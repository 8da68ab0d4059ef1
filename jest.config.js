// Two projects: `unit` (parsers, config, policy; no external processes) and
// `interop` (real peers: Squid, c-icap-client, curl, Dante; run in band).
const tsJest = ['ts-jest', { tsconfig: 'tsconfig.test.json', isolatedModules: true }];
module.exports = {
  projects: [
    {
      displayName: 'unit',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/unit'],
      transform: { '^.+\\.ts$': tsJest },
      moduleFileExtensions: ['ts', 'js', 'json'],
    },
    {
      displayName: 'interop',
      testEnvironment: 'node',
      roots: ['<rootDir>/test/interop'],
      transform: { '^.+\\.ts$': tsJest },
      moduleFileExtensions: ['ts', 'js', 'json'],
      setupFilesAfterEnv: ['<rootDir>/test/setup/interop-timeout.ts'],
    },
  ],
};
