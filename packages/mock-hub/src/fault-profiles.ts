import type { FaultPlan } from "./faults";

/** Named fault profiles for the CLI and the local mode. */
export const FAULT_PROFILES: Record<"none" | "light" | "heavy" | "lying", FaultPlan> = {
  none: {},
  light: {
    rates: { http5xx: 0.03, throttle429: 0.03, resetAfterBytes: 0.03, corruptOnce: 0.01, checksumLate: 0.02 },
  },
  heavy: {
    rates: {
      http5xx: 0.1,
      throttle429: 0.1,
      resetAfterBytes: 0.1,
      corruptOnce: 0.05,
      checksumLate: 0.05,
      gone: 0.01,
      corruptAlways: 0.01,
      malformedPage: 0.05,
    },
  },
  /** A hub that lies about framing, ranges and availability, and trickles; for the hostile-hub tests. */
  lying: {
    rates: {
      lengthLonger: 0.05,
      lengthShorter: 0.05,
      trailingGarbage: 0.05,
      rangeEarly: 0.05,
      resetAfterBytes: 0.1,
      trickle: 0.02,
      offline: 0.05,
    },
    defaults: { trickleBytesPerSecond: 1024 },
  },
};
