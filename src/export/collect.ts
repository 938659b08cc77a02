/**
 * A span processor that keeps ended spans in order for gostall's own export step. The
 * stock BatchSpanProcessor drops spans once its queue is full; gostall builds spans in
 * bursts, so it collects them and exports in awaited batches instead.
 */
import type { Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace-base';

export class CollectingSpanProcessor implements SpanProcessor {
  private spans: ReadableSpan[] = [];
  onStart(_span: Span, _ctx: Context): void {}
  onEnd(span: ReadableSpan): void {
    this.spans.push(span);
  }
  /** Take every span ended since the last call. */
  drain(): ReadableSpan[] {
    const out = this.spans;
    this.spans = [];
    return out;
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
}
