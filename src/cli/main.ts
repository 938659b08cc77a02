/** gostall's command line: run | agent | replay | report | doctor. */
import { SettingsError } from '../export/settings.js';
import { restoreMovedEnv } from './moved-env.js';
import { UsageError } from './options.js';

const USAGE = `usage: gostall <command> [options]

commands:
  run [options] -- CMD [ARGS…]   trace CMD and its descendants, write/send the trace, print why it was slow
  agent [--config FILE]          trace Go tools host-wide until SIGTERM; export with an on-disk spool
  replay FILE [--out FILE]       turn a recorded probe stream into the same spans
  report FILE… [--json F] [--html F]  summarise recorded OTLP JSON traces; --html: a waterfall page
  doctor                         check this machine: tracer, version, BTF, tracepoints, privileges
  help                           this text
  --version                      print gostall's version

gostall <command> --help shows a command's options. Exit status 2 means a usage error or an unusable
environment; run otherwise exits with CMD's own status.
`;

type Command = (argv: string[]) => Promise<{ exitCode: number }>;

// Each command loads only its own modules: `gostall run` starts its tracer sooner without
// the agent's (the traced command waits for the tracer).
const COMMANDS: Record<string, () => Promise<Command>> = {
  run: async () => (await import('./run.js')).runCommand,
  agent: async () => (await import('./agent.js')).agentCommand,
  replay: async () => (await import('./replay.js')).replayCommand,
  report: async () => (await import('./report.js')).reportCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
};

export async function main(argv: string[]): Promise<number> {
  restoreMovedEnv();
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    (name === undefined ? process.stderr : process.stdout).write(USAGE);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    process.stdout.write(`gostall ${(await import('./version.js')).VERSION}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    process.stderr.write(`gostall: unknown command ${JSON.stringify(name)}; run gostall help for the list\n`);
    return 2;
  }
  const cmd = await load();
  try {
    return (await cmd(rest)).exitCode;
  } catch (err) {
    if (err instanceof UsageError || err instanceof SettingsError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      // One line, whatever the parser wrote (node's parseArgs explains over several).
      process.stderr.write(`gostall ${name}: ${(err as Error).message.replace(/\s*\n\s*/g, ' ')}\n`);
      return 2;
    }
    throw err;
  }
}
