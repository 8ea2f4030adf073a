import { parseArgs } from "node:util";
import { parseSize } from "@hls-s2/core/domain";
import { measureLocalRun, stackFigures } from "./measure";
import { compareCosts, estimateMonthlyCost, formatComparison, formatCost } from "./model";
import { PRICES } from "./prices";
import { estimateReferenceCost } from "./reference";

const USAGE = `Usage: npm run cost -- --granules N --mean-size SIZE [--hub-mbps 20] [--stage prod] [--sample 20]
Prints the monthly cost of a stage at N granules a day of SIZE (e.g. 600MB), by service, from the
synthesized stack's settings and the AWS calls a local run of --sample granules makes, beside the
reference system's month at the same volume (from its own stack).`;

/** `npm run cost`: the monthly estimate of a stage and of the reference design, as Markdown. */
export async function main(argv: string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        granules: { type: "string" },
        "mean-size": { type: "string" },
        "hub-mbps": { type: "string" },
        stage: { type: "string" },
        sample: { type: "string" },
      },
      strict: true,
    }));
  } catch (error) {
    process.stderr.write(`error: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const granulesPerDay = Number(values["granules"]);
  const meanSize =
    values["mean-size"] === undefined ? undefined : parseSize(values["mean-size"], "--mean-size");
  const hubMbps = Number(values["hub-mbps"] ?? "20");
  const sample = Number(values["sample"] ?? "20");
  if (
    !Number.isInteger(granulesPerDay) ||
    granulesPerDay < 1 ||
    typeof meanSize !== "number" ||
    meanSize < 1
  ) {
    process.stderr.write(
      `error: --granules (an integer ≥ 1) and --mean-size (one size) are required\n${USAGE}\n`,
    );
    return 2;
  }
  if (!(hubMbps > 0) || !Number.isInteger(sample) || sample < 1) {
    process.stderr.write(`error: --hub-mbps must be > 0 and --sample an integer ≥ 1\n${USAGE}\n`);
    return 2;
  }
  const stage = values["stage"] ?? "prod";
  const stack = await stackFigures(stage);
  const run = await measureLocalRun({ granules: sample });
  const options = { granulesPerDay, meanSizeBytes: meanSize, hubBytesPerSecond: hubMbps * 1e6 };
  const ours = estimateMonthlyCost(stack, run, options);
  const reference = estimateReferenceCost(options);
  const volume = `${granulesPerDay.toLocaleString("en-US")} granules/day × ${(meanSize / 1e6).toFixed(0)} MB, hub ${hubMbps} MB/s per connection, 30 days, ${PRICES.region} prices of ${PRICES.readOn}`;
  const comparison = compareCosts(
    [
      { name: `this design (${stage})`, estimate: ours },
      { name: "reference system", estimate: reference },
    ],
    options,
  );
  process.stdout.write(
    [
      `**Monthly cost (${volume})**`,
      "",
      formatComparison(comparison),
      "",
      formatCost(ours, `This design, stage ${stage}`),
      "",
      `Measured per granule: ${ours.perGranule.stateTransitions.toFixed(2)} state transitions, ${ours.perGranule.uploadParts} parts, ${ours.perGranule.downloadSeconds.toFixed(0)} s of Download.`,
      "",
      formatCost(reference, "Reference system (its own stack, same volume)"),
      "",
    ].join("\n"),
  );
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
