// Writes the output of `make bench` into BENCHMARKS.md, between the markers
// <!-- bench:begin --> and <!-- bench:end -->, with the machine it ran on and its load.
//
//   node tests/bench/write-benchmarks.mjs target/bench-latest.txt
import fs from 'node:fs';
import os from 'node:os';

const [input] = process.argv.slice(2);
const printed = fs.readFileSync(input, 'utf8').trim();
const file = 'BENCHMARKS.md';
const text = fs.readFileSync(file, 'utf8');
const begin = '<!-- bench:begin -->';
const end = '<!-- bench:end -->';
const from = text.indexOf(begin);
const to = text.indexOf(end);
if (from < 0 || to < from) throw new Error(`${file} has no ${begin} ... ${end} block`);
const load = os.loadavg().map((n) => n.toFixed(2)).join(', ');
const block = [
  begin,
  `Last \`make bench\`: ${new Date().toISOString()} on ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'unknown CPU'}, ` +
    `${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}, Node ${process.version}; ` +
    `load average at the end ${load} (above ${os.cpus().length} the machine was shared and the milliseconds are noisy; the ratios less so).`,
  '',
  '```',
  printed,
  '```',
  end,
].join('\n');
fs.writeFileSync(file, text.slice(0, from) + block + text.slice(to + end.length));
console.log(`${file}: measured block rewritten`);
