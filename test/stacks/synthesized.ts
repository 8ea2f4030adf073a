import {
  type SynthesizedApp,
  type SynthesizeOptions,
  synthesizeApp as synthesizeAfresh,
} from "../../stacks/synth";

export * from "../../stacks/synth";

/**
 * The stack tests' synthesizeApp: stacks/synth's, once per set of options in a process (each
 * stack-test file has its own, vitest.config.ts), so a stage a file's tests share is synthesized
 * once for them, not once per test. Options with aspects synthesize afresh
 * (an aspect changes the app). The result is frozen: a test editing a template would otherwise change
 * it for the next file.
 */
export function synthesizeApp(options: SynthesizeOptions): Promise<SynthesizedApp> {
  if (options.aspects !== undefined) return synthesizeAfresh(options);
  const key = JSON.stringify(options);
  let app = synthesized.get(key);
  if (app === undefined) {
    app = synthesizeAfresh(options).then((fresh) => {
      deepFreeze(fresh.settings);
      deepFreeze(fresh.templates);
      return fresh;
    });
    synthesized.set(key, app);
    // A refused synthesis (invalid settings) is asked again, and refused again, by whoever asks.
    app.catch(() => synthesized.delete(key));
  }
  return app;
}

const synthesized = new Map<string, Promise<SynthesizedApp>>();

function deepFreeze(value: unknown): void {
  if (value === null || typeof value !== "object" || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const child of Object.values(value)) deepFreeze(child);
}
