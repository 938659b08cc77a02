// `npm run build`, second step: one ESM bundle of the compiled CLI (dist/src → dist/bundle),
// which bin/gostall.js runs. Loading ~300 small modules was half of `gostall run`'s fixed
// cost through an agent (issue 9: the run command's modules ~65 → ~35 ms before CMD starts,
// the pipeline's ~100 → ~45 ms after it); each command and each lazily loaded part stays
// its own chunk. gostall finds its files (probes/, shim/, package.json) from the package
// root (src/paths.ts walks up from any file), never relative to a module, so they work
// from the bundle too. dist/src stays: tests and the bench import single modules from it.
import { build } from 'rolldown';

await build({
  input: 'dist/src/cli/main.js',
  platform: 'node',
  // gRPC stays in node_modules, one copy: src/export/grpc-send.ts loads the OTLP gRPC
  // transport with require() (the package does not export it), and credentials or metadata
  // made by a bundled copy of grpc-js are not the ones that transport's grpc-js accepts.
  external: [/^@grpc\/grpc-js(\/|$)/, /^@opentelemetry\/otlp-grpc-exporter-base(\/|$)/],
  logLevel: 'warn',
  // OpenTelemetry's ES module builds: tree-shaken, semantic-conventions is a few kB instead
  // of the 400 kB its CommonJS build brings in whole
  resolve: { mainFields: ['module', 'main'] },
  output: { dir: 'dist/bundle', format: 'esm', cleanDir: true, keepNames: true },
});
