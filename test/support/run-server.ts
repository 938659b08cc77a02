/**
 * The agent's run server on a socket of a test's, with no tracer behind it: no run gets as
 * far as a flush. With historyDir it also takes `run` requests (bin/gostall's fast path).
 */
import { createRunRouter } from '../../src/agent/run-router.js';
import { startRunServer, type RunServer } from '../../src/agent/run-server.js';
import { createFixedClock } from '../../src/model/clock.js';

export function startBareRunServer(path: string, opts: { historyDir?: string; tracerAttached?: () => boolean; log?: (line: string) => void } = {}): Promise<RunServer> {
  return startRunServer({
    path, group: undefined, router: createRunRouter(), log: opts.log ?? (() => {}),
    thresholds: { syscallThresholdNs: 1e6, offcpuThresholdNs: 1e6 },
    tracerDrained: async () => {},
    tracerAttached: opts.tracerAttached ?? (() => true),
    ...(opts.historyDir !== undefined ? { sessions: { clock: createFixedClock(0), historyDir: () => opts.historyDir!, defaultThresholdNs: 1e6 } } : {}),
  });
}
