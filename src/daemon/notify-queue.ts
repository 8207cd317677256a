/**
 * Runs the notify scripts of `notifyDir` for each event, one script at a time and one event at a
 * time, in the order the events were queued: never two at once, never out of order (keepalived
 * added notify FIFOs to get this). The queue is drained in the background, so an evaluation
 * only appends to it and is never delayed by a slow or hung script. Scripts are found, vetted
 * and run as hooks are (discover.ts, script-security.ts, hook-runner.ts): name order, script
 * security as root, argv only, their own timeout and process group. A failing script is logged,
 * and nothing else happens.
 */
import { stat } from "node:fs/promises";
import { kindOf, messageOf } from "../common/errors.ts";
import { escapeText } from "../common/escape.ts";
import type { Config } from "../config/config.ts";
import { discoverHooks, type Hook, recheckHook } from "../engine/discover.ts";
import { type HookRun, runHook } from "../engine/hook-runner.ts";
import { HOOK_ENV } from "../engine/run-hooks.ts";
import type { Logger } from "../system/log.ts";
import { type ChangeEvent, describeEvent, firstLine, isChangeEvent, type NotifyEvent, notifyArgs, notifyEnv } from "./notify-events.ts";

/**
 * Events kept waiting at most. Past that the oldest hook and hold-down events go first; changes of our bit are
 * never dropped: when they alone fill the queue, the oldest are folded into a later one (see
 * `bound`), so every change is still told, and the latest state always.
 */
export const MAX_QUEUED_EVENTS = 1000;

/** What a full queue cost: hook (and hold-down) events dropped, and changes of our bit folded into a later change event. */
export interface NotifyDrops {
  hook: number;
  change: number;
}

/**
 * Brings `queue` down to `max` events, in place: first the oldest hook and hold-down events are dropped; then,
 * with changes of our bit alone left, the oldest change is folded into the next one of the same
 * kind, or the oldest two (a change and its undoing) into the one after them, so the changes told
 * still follow each other as the bit did. Returns what went. Pure but for `queue`.
 */
export function bound(queue: NotifyEvent[], max: number): NotifyDrops {
  const drops: NotifyDrops = { hook: 0, change: 0 };
  for (let i = 0; queue.length > max && i < queue.length; ) {
    if (!isChangeEvent(queue[i]!)) {
      queue.splice(i, 1);
      drops.hook++;
    } else {
      i++;
    }
  }
  while (queue.length > max && queue.length >= 2) {
    const [first, second, third] = queue as ChangeEvent[];
    const pair = first!.kind !== second!.kind && third !== undefined;
    const into = pair ? third : second!;
    const folded = pair ? [first!, second!] : [first!];
    into.folded = folded.reduce((sum, event) => sum + 1 + (event.folded ?? 0), into.folded ?? 0);
    queue.splice(0, folded.length);
    drops.change += folded.length;
  }
  return drops;
}

export interface NotifyQueueDeps {
  log: Logger;
  /** The running configuration, read for each event: a reload applies from the next one. */
  config(): Config;
  /** Whether script security applies (it does when running as root). */
  isRoot?: boolean;
  /** Runs one script (default: the hook runner). */
  runScript?: typeof runHook;
}

/** Why a run counts as failed, or null when it exited 0. */
function failureOf(run: HookRun): string | null {
  if (run.execError !== null) return run.execError;
  if (run.timedOut) return `timed out after ${run.durationMs} ms; its process group was killed`;
  if (run.aborted) return "stopped: the daemon is shutting down";
  if (run.signal !== null) return `killed by ${run.signal}`;
  return run.exitCode === 0 ? null : `exit status ${run.exitCode}`;
}

export class NotifyQueue {
  readonly #deps: NotifyQueueDeps;
  readonly #stop = new AbortController();
  #queue: NotifyEvent[] = [];
  #running: Promise<void> | null = null;
  /** Said once per problem, not once per event: a missing directory. */
  #said = new Set<string>();
  /** Everything a full queue cost since the start, for the metrics. */
  readonly #dropped: NotifyDrops = { hook: 0, change: 0 };
  /** What it cost since it last filled, said when it empties again; null while it is not full. */
  #overflow: NotifyDrops | null = null;
  /** Script runs that failed, were refused or could not start, since the start, for the metrics. */
  #failures = 0;

  constructor(deps: NotifyQueueDeps) {
    this.#deps = deps;
  }

  /** Events waiting to be delivered (not counting the one being delivered). */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Hook events dropped and changes folded because the queue was full, since the start. */
  get dropped(): Readonly<NotifyDrops> {
    return this.#dropped;
  }

  /** Script runs that failed (non-zero exit, killed, timed out), were refused or could not start, since the start. */
  get failures(): number {
    return this.#failures;
  }

  /** Queues events for delivery after those already queued; returns at once. Nothing happens without `notifyDir`. */
  enqueue(events: readonly NotifyEvent[]): void {
    if (events.length === 0 || this.#stop.signal.aborted || this.#deps.config().notifyDir === undefined) return;
    // Copies: folding counts into a queued change event must not touch the caller's.
    this.#queue.push(...events.map((event) => ({ ...event })));
    const drops = bound(this.#queue, MAX_QUEUED_EVENTS);
    if (drops.hook + drops.change > 0) this.#count(drops);
    this.#running ??= this.#drain();
  }

  /** Counts what a full queue cost; one line when it fills, one when it has emptied. */
  #count(drops: NotifyDrops): void {
    this.#dropped.hook += drops.hook;
    this.#dropped.change += drops.change;
    if (this.#overflow === null) {
      this.#overflow = { hook: 0, change: 0 };
      this.#deps.log.warn(
        `notify queue full (${MAX_QUEUED_EVENTS} events): dropping the oldest hook events; changes of our bit are kept (the oldest folded into a later one when they alone fill it); notify scripts are slower than the changes, check notifyTimeoutMs`,
      );
    }
    this.#overflow.hook += drops.hook;
    this.#overflow.change += drops.change;
  }

  /** The line that ends a full spell: what it cost. */
  #sayOverflowOver(how: string): void {
    if (this.#overflow === null) return;
    const { hook, change } = this.#overflow;
    this.#overflow = null;
    this.#deps.log.warn(
      { droppedHookEvents: hook, foldedChanges: change },
      `notify queue ${how}: ${hook} hook events dropped and ${change} changes of our bit folded while it was full`,
    );
  }

  /** Settles when every queued event has been delivered. */
  async idle(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  /** Kills a running script's group, drops what waits (saying how much), and settles when done. */
  async stop(): Promise<void> {
    this.#stop.abort();
    if (this.#queue.length > 0) {
      this.#deps.log.warn({ events: this.#queue.map(describeEvent) }, `${this.#queue.length} notify events not delivered: stopping`);
      this.#queue = [];
    }
    this.#sayOverflowOver("stopped");
    await this.idle();
  }

  async #drain(): Promise<void> {
    // Settle `#running` before the first delivery, however quickly that ends.
    await Promise.resolve();
    for (let event = this.#queue.shift(); event !== undefined; event = this.#queue.shift()) {
      await this.#deliver(event);
    }
    this.#sayOverflowOver("emptied");
    this.#running = null;
  }

  /** Runs every notify script for one event, in name order. Never throws. */
  async #deliver(event: NotifyEvent): Promise<void> {
    const { log } = this.#deps;
    const config = this.#deps.config();
    const dir = config.notifyDir;
    if (dir === undefined) return;
    const scripts = await this.#findScripts(dir, event, config.scriptSecurity && (this.#deps.isRoot ?? process.getuid?.() === 0));
    for (const script of scripts) {
      if (this.#stop.signal.aborted) return;
      const refusal = await recheckHook(script);
      if (refusal !== null) {
        const path = escapeText(script.path);
        this.#failures++;
        log.error({ script: path, event: describeEvent(event) }, `notify script "${path}" refused by script security: ${refusal}`);
        continue;
      }
      await this.#run(script, event, config);
    }
  }

  /** The scripts to run; logs what cannot run (refused, unreadable) and returns the rest. */
  async #findScripts(dir: string, event: NotifyEvent, enforceSecurity: boolean): Promise<Hook[]> {
    const { log } = this.#deps;
    try {
      if (!(await stat(dir)).isDirectory()) {
        this.#sayOnce(`Notify directory "${dir}" is not a directory; fix: point notifyDir at a directory of scripts`);
        return [];
      }
      // Notify scripts run with the hooks' own PATH (notify-events.ts), where env looks names up.
      const found = await discoverHooks(dir, { enforceSecurity, searchPath: HOOK_ENV.PATH });
      for (const entry of found.notRun) {
        if (entry.status === "skipped") continue;
        this.#failures++;
        log.error(
          { script: entry.name, event: describeEvent(event) },
          `notify script "${escapeText(entry.name)}" in "${dir}" not run: ${entry.reason}`,
        );
      }
      return found.hooks;
    } catch (error) {
      const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") {
        this.#sayOnce(`Notify directory "${dir}" does not exist: no notify script runs; create it or unset notifyDir`);
      } else {
        log.error({ event: describeEvent(event) }, `Cannot list notify scripts in "${dir}": ${messageOf(cause)}`);
      }
      return [];
    }
  }

  async #run(script: Hook, event: NotifyEvent, config: Config): Promise<void> {
    const { log } = this.#deps;
    const run = this.#deps.runScript ?? runHook;
    const path = escapeText(script.path);
    const fields = { script: path, event: describeEvent(event) };
    let result: HookRun;
    try {
      result = await run(script.path, {
        args: notifyArgs(event),
        env: notifyEnv(event),
        timeoutMs: config.notifyTimeoutMs,
        killGraceMs: config.killGraceMs,
        outputLimitBytes: config.outputLimitBytes,
        signal: this.#stop.signal,
      });
    } catch (error) {
      this.#failures++;
      log.error({ ...fields, kind: kindOf(error) }, `notify script "${path}" not started for ${describeEvent(event)}: ${messageOf(error)}`);
      return;
    }
    const failure = failureOf(result);
    const output = firstLine(result.output);
    if (result.leftProcesses) {
      log.warn(fields, `notify script "${path}" left processes running: ${result.leftBehind.join(", ")}; they were killed`);
    }
    if (failure === null) {
      log.debug({ ...fields, durationMs: result.durationMs }, `notify script "${path}" done for ${describeEvent(event)}`);
    } else {
      // A script the daemon stopped by shutting down did not fail.
      if (!result.aborted) this.#failures++;
      log.warn(
        { ...fields, exitCode: result.exitCode, output },
        `notify script "${path}" failed for ${describeEvent(event)}: ${failure}${output ? `: ${output}` : ""}`,
      );
    }
  }

  #sayOnce(message: string): void {
    if (this.#said.has(message)) return;
    this.#said.add(message);
    this.#deps.log.warn(message);
  }
}
