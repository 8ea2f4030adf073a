/** An error a test caught, with the context fields the project's errors carry. */
export type Caught = Error & {
  cause?: Error;
  url?: string;
  granuleId?: string;
  status?: number;
};

/** The error a promise rejects with; fails the test when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<Caught> {
  return promise.then(
    () => {
      throw new Error("expected the promise to reject");
    },
    (error: Caught) => error,
  );
}
