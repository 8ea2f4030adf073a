import { AsyncLocalStorage } from "node:async_hooks";

/** One AWS API call made on behalf of a principal of the deployed app (a Task's function, the state machine). */
export interface AwsCall {
  /** The Task state whose function made the call, or "StateMachine" for the state machine's own calls. */
  principal: string;
  /** IAM's service prefix: "s3", "dynamodb", "secretsmanager", "states", "ssm". */
  service: string;
  /** The API operation, e.g. "UploadPart", "UpdateItem" (document-client commands named as the API's). */
  command: string;
  input: Record<string, unknown>;
}

export type AwsCallListener = (call: AwsCall) => void;

/** The principal of the calls Step Functions makes with the state machine's role (Map Run, Lambda invokes). */
export const STATE_MACHINE_PRINCIPAL = "StateMachine";

type Handler = (args: { input?: unknown }) => Promise<unknown>;

/** What recordAwsCalls needs of an SDK v3 client: any client's middleware stack fits. */
interface RecordableClient {
  middlewareStack: { add(middleware: never, options: never): void };
}

const principalScope = new AsyncLocalStorage<{ principal: string; killed?: AbortSignal }>();

/**
 * Runs `work` with every AWS call it makes (through a recorded client) attributed to `principal`;
 * with `killed`, the invocation's sandbox: once aborted, its calls are refused (refuseCallsAfterKill).
 */
export function asPrincipal<T>(principal: string, work: () => T, killed?: AbortSignal): T {
  return principalScope.run({ principal, ...(killed !== undefined && { killed }) }, work);
}

/**
 * Refuses every call a killed invocation starts (Lambda killed its sandbox: no code of it runs any
 * more), with the kill's error. Calls outside an invocation (the runner's own) are not concerned.
 */
export function refuseCallsAfterKill(client: RecordableClient): void {
  const middleware =
    (next: Handler): Handler =>
    async (args) => {
      const killed = principalScope.getStore()?.killed;
      if (killed?.aborted) throw killed.reason;
      return next(args);
    };
  client.middlewareStack.add(
    middleware as never,
    { step: "initialize", name: "refuseCallsAfterKill", override: true } as never,
  );
}

/** lib-dynamodb's command names → the DynamoDB API operations (and IAM actions) they send. */
const DOCUMENT_COMMANDS: Record<string, string> = {
  Get: "GetItem",
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  BatchGet: "BatchGetItem",
  BatchWrite: "BatchWriteItem",
  TransactGet: "TransactGetItems",
  TransactWrite: "TransactWriteItems",
};

/**
 * Reports each call a client sends inside asPrincipal to `onCall` (calls outside any principal — the
 * local runner's own bookkeeping — are not the deployed app's and are skipped). Added at the
 * initialize step, so the input is the caller's, before serialization.
 */
export function recordAwsCalls(client: RecordableClient, service: string, onCall: AwsCallListener): void {
  const middleware =
    (next: Handler, context: { commandName?: string }): Handler =>
    async (args) => {
      const principal = principalScope.getStore()?.principal;
      if (principal !== undefined) {
        const name = (context.commandName ?? "").replace(/Command$/, "");
        onCall({
          principal,
          service,
          command: DOCUMENT_COMMANDS[name] ?? name,
          input: { ...(args.input as Record<string, unknown> | undefined) },
        });
      }
      return next(args);
    };
  client.middlewareStack.add(
    middleware as never,
    { step: "initialize", name: "recordAwsCalls", override: true } as never,
  );
}
