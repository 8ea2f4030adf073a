import type { Platform } from "@hls-s2/core/domain";
import { InvalidInputError } from "@hls-s2/core/errors";
import { planWindow } from "@hls-s2/core/usecases";
import type { ExecutionInput, Launched, Launcher } from "../executions";

export interface BackfillInput {
  from?: string;
  to?: string;
  platforms?: string[];
  downloadOnly?: boolean;
}

export interface BackfillResult {
  input: ExecutionInput;
  execution: Launched;
}

/**
 * The execution input of a backfill, validated by the same rules GenerateQueries applies (real
 * dates, from ≤ to, at most 31 days, not after today, known platforms), so a bad range fails here
 * rather than in a started execution.
 * @throws InvalidInputError naming the field.
 */
export function backfillInput(input: BackfillInput, options: { today?: Date } = {}): ExecutionInput {
  let { today } = options;
  today ??= new Date();
  if (input.from === undefined && input.to === undefined) {
    throw new InvalidInputError("a backfill needs --from (and --to for more than one day)", {
      field: "from",
    });
  }
  const plan = planWindow(
    { from: input.from, to: input.to, platforms: input.platforms, downloadOnly: input.downloadOnly },
    { today },
  );
  return {
    from: plan.from,
    to: plan.to,
    // Only what the operator chose: without platforms the stage's configured list applies.
    ...(input.platforms !== undefined && { platforms: [...new Set(input.platforms)] as Platform[] }),
    ...(input.downloadOnly === true && { downloadOnly: true }),
  };
}

/**
 * Starts one execution for a publication window.
 * @throws InvalidInputError on a bad window or platform, before anything starts.
 */
export async function backfill(
  input: BackfillInput,
  deps: { launch: Launcher; today?: Date },
): Promise<BackfillResult> {
  const executionInput = backfillInput(input, { today: deps.today });
  const execution = await deps.launch(executionInput, { reason: "backfill" });
  return { input: executionInput, execution };
}
