import type { SSTConfig } from "sst";

export default {
  config(input) {
    return {
      name: "hls-s2-downloader",
      // HLS runs next to the LP DAAC's data in us-west-2; `sst deploy --region` overrides it.
      region: input.region ?? "us-west-2",
    };
  },
  async stacks(app) {
    // Imported here, not at the top: SST loads this file without `stacks` to read the config,
    // and the stacks pull in core and the CDK, which that first load does not need.
    const { addStacks } = await import("./stacks/app");
    const { resolveStageSettings } = await import("./stacks/settings");
    addStacks(app, resolveStageSettings(app.stage, process.env));
  },
} satisfies SSTConfig;
