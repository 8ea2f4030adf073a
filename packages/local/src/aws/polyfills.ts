// aws-local-stepfunctions calls Promise.withResolvers, which Node 20 lacks (added in Node 22). The
// emulation's index (aws/index.ts) imports this first, so the local mode works however it is started.
// Typed loosely: the repo's lib (ES2023) does not declare withResolvers.
if (typeof (Promise as unknown as Record<string, unknown>)["withResolvers"] !== "function") {
  Object.defineProperty(Promise, "withResolvers", {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
