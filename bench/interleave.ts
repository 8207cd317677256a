/**
 * Times commands against each other, interleaved round by round so that a busy machine slows each
 * alike: one discarded warm-up round, then N rounds; prints each command's median wall time.
 *
 *   bun bench/interleave.ts N CMD [ARG...] -- CMD [ARG...] [-- ...]
 *
 * e.g. two builds of the executable on one config:
 *   bun bench/interleave.ts 40 ./before check --config c.toml -- ./after check --config c.toml
 */
const rounds = Number(process.argv[2]);
const commands = process.argv
  .slice(3)
  .join("\u0000")
  .split("\u0000--\u0000")
  .map((command) => command.split("\u0000"));
if (!Number.isInteger(rounds) || rounds < 1 || commands.some((command) => command.length === 0 || command[0] === "")) {
  console.error("usage: bun bench/interleave.ts N CMD [ARG...] -- CMD [ARG...] [-- ...]");
  process.exit(2);
}
const times: number[][] = commands.map(() => []);
for (let round = -1; round < rounds; round++) {
  for (const [i, command] of commands.entries()) {
    const started = performance.now();
    const run = Bun.spawnSync(command, { stdout: "ignore", stderr: "pipe" });
    const elapsed = performance.now() - started;
    if (round === -1 && run.exitCode !== 0) console.error(`${command.join(" ")}: exit ${run.exitCode}: ${run.stderr.toString().trim()}`);
    if (round >= 0) times[i]?.push(elapsed);
  }
}
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? Number.NaN;
for (const [i, command] of commands.entries()) {
  console.log(
    `${median(times[i] ?? [])
      .toFixed(1)
      .padStart(7)} ms  ${command.join(" ")}`,
  );
}
