/**
 * gostall agent [--config FILE] [options]: trace Go tool processes host-wide until
 * SIGTERM/SIGINT, then flush and exit 0. Configuration errors exit 2 naming the key.
 */
import { parseArgs } from 'node:util';
import { EXPORT_FLAGS } from './options.js';
import { AgentStartError, startAgent } from '../agent/agent.js';
import { ConfigError, describeConfig, loadAgentConfig } from '../agent/config.js';

export const AGENT_USAGE = `usage: gostall agent [options]

Traces Go tool processes (go, gopls, dlv, compile, link, vet, …) and all their
descendants host-wide, exports one trace per root process, stall episodes and activity
windows of long-lived processes while they run, and spools to disk while the collector
is away. Stops on SIGTERM/SIGINT after flushing. Configuration: docs/agent.md.

options:
  --config FILE            JSON configuration file (keys in docs/agent.md)
  --endpoint URL           OTLP collector (default: export.endpoint, OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT)
  --protocol P             http/protobuf (default), http/json or grpc
  --out FILE               also append spans to this OTLP JSON lines file
  --metrics-listen H:P     /metrics and /healthz address (default 127.0.0.1:9464)
  --spool-dir DIR          where spans wait while the collector is down (default STATE_DIR/spool)
  --state-dir DIR          state directory (default /var/lib/gostall as root)
  --print-config           print the effective configuration (secrets masked) and exit
  -h, --help               this text
`;

export async function agentCommand(argv: string[]): Promise<{ exitCode: number }> {
  const { values } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      ...EXPORT_FLAGS,
      'metrics-listen': { type: 'string' },
      'spool-dir': { type: 'string' },
      'state-dir': { type: 'string' },
      'print-config': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    process.stdout.write(AGENT_USAGE);
    return { exitCode: 0 };
  }
  let config;
  try {
    config = loadAgentConfig({
      config: values.config, endpoint: values.endpoint, protocol: values.protocol, out: values.out,
      metricsListen: values['metrics-listen'], spoolDir: values['spool-dir'], stateDir: values['state-dir'],
    });
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gostall agent: invalid configuration: ${err.message}\n`);
      return { exitCode: 2 };
    }
    throw err;
  }
  if (values['print-config']) {
    process.stdout.write(`${describeConfig(config)}\n`);
    return { exitCode: 0 };
  }

  // Signals arriving while starting up are honoured once the agent runs.
  let stopRequested = false;
  let handle: Awaited<ReturnType<typeof startAgent>> | undefined;
  let forced = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopRequested) {
      if (!forced) {
        forced = true;
        process.stderr.write(`gostall agent: ${sig} again: the shutdown deadline still applies\n`);
      }
      return;
    }
    stopRequested = true;
    handle?.shutdown();
  };
  // SIGHUP (a closed terminal) would kill Node without a flush: it stops the agent like SIGTERM.
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  for (const sig of signals) process.on(sig, onSignal);
  try {
    handle = await startAgent(config);
  } catch (err) {
    for (const sig of signals) process.off(sig, onSignal);
    if (err instanceof AgentStartError) {
      process.stderr.write(`gostall agent: ${err.message}\n`);
      return { exitCode: 2 };
    }
    throw err;
  }
  if (stopRequested) handle.shutdown();
  const code = await handle.done;
  for (const sig of signals) process.off(sig, onSignal);
  // Everything is flushed; a handle some library left open must not keep the agent alive.
  setTimeout(() => process.exit(code), 1_000).unref();
  return { exitCode: code };
}
