/** The report page's stylesheet (inline; allowed by its hash in the page's CSP). */
export const PAGE_CSS = `
:root { --on: #2e7d32; --rq: #f9a825; --s: #90a4ae; --d: #c62828; --mark: #6a1b9a; --hl: #ffeb3b; font: 13px/1.4 system-ui, sans-serif; color: #1d1d1f; }
body { margin: 0; padding: 12px 16px; background: #fafafa; }
h1 { font-size: 18px; margin: 0 0 6px; }
.sub { color: #555; margin-bottom: 8px; word-break: break-all; }
.problems { background: #fff3e0; border: 1px solid #ffb74d; padding: 6px 8px; margin: 6px 0; white-space: pre-wrap; }
.causes { display: flex; flex-wrap: wrap; align-items: flex-start; gap: 8px; margin: 8px 0; }
.cause { text-align: left; border: 1px solid #c62828; background: #fff; border-radius: 6px; padding: 8px 10px; max-width: 560px; cursor: pointer; font: inherit; }
.cause[aria-pressed="true"] { background: #fff8c4; box-shadow: 0 0 0 2px #f9a825; }
.cause .id { font-weight: 600; color: #b71c1c; }
.cause .ev, .cause .fix { display: block; margin-top: 3px; word-break: break-word; }
.cause .fix::before { content: "fix: "; font-weight: 600; }
.nocause { color: #2e7d32; margin: 8px 0; }
details { margin: 6px 0; } pre { white-space: pre-wrap; word-break: break-word; background: #fff; border: 1px solid #ddd; padding: 8px; }
.controls { display: flex; gap: 12px; align-items: center; margin: 8px 0; flex-wrap: wrap; }
.controls input { width: 340px; padding: 4px 6px; font: inherit; }
.legend span { display: inline-flex; align-items: center; gap: 4px; margin-right: 10px; }
.legend i { display: inline-block; width: 12px; height: 10px; }
.axis { position: relative; height: 18px; margin-left: 340px; border-bottom: 1px solid #bbb; color: #666; font-size: 11px; }
.axis span { position: absolute; top: 0; transform: translateX(-50%); white-space: nowrap; }
.wf { position: relative; max-height: 62vh; overflow: auto; border: 1px solid #ddd; background: #fff; }
.spacer { position: relative; }
.row { position: absolute; left: 0; right: 0; height: 22px; display: flex; cursor: pointer; border-bottom: 1px solid #f0f0f0; }
.row:hover { background: #f5f9ff; }
.row.hl { background: #fffbd6; } .row.sel { outline: 2px solid #1e88e5; outline-offset: -2px; }
.label { width: 340px; flex: none; overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding: 2px 6px; box-sizing: border-box; }
.label .pid { color: #888; margin-left: 4px; } .row.err .label .name { color: #b71c1c; }
.track { position: relative; flex: 1; }
.bar { position: absolute; top: 5px; height: 12px; display: flex; min-width: 2px; background: #cfd8dc; border-radius: 2px; overflow: hidden; }
.bar i { display: block; height: 100%; }
.bar .on { background: var(--on); } .bar .rq { background: var(--rq); } .bar .s { background: var(--s); } .bar .d { background: var(--d); }
.mark { position: absolute; top: 2px; height: 18px; min-width: 2px; background: var(--mark); opacity: .75; border-radius: 1px; }
.mark.offcpu { background: #455a64; } .mark.connect { background: #00838f; } .mark.episode { background: #e65100; } .mark.window { background: #b0bec5; height: 4px; top: 17px; }
.mark.err { background: #d50000; } .mark.match { outline: 2px solid #1e88e5; } .row.hl .mark { box-shadow: 0 0 0 2px var(--hl); opacity: 1; }
.panel { margin-top: 8px; background: #fff; border: 1px solid #ddd; padding: 8px; }
.panel table { border-collapse: collapse; } .panel td { padding: 1px 8px 1px 0; vertical-align: top; word-break: break-all; }
.panel td:first-child { color: #555; white-space: nowrap; }
`;
