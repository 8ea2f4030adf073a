// Imported first by the CLI. The AWS SDKs warn on every start that Node 20 and SDK v2 (pulled in by
// sst) near their end of support; that says nothing about the run and would bury the progress line,
// so exactly those two warnings are dropped and every other warning still prints.
process.env["AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE"] ??= "1";

const emitWarning = process.emitWarning.bind(process);
process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
  const text = typeof warning === "string" ? warning : warning.message;
  if (text.startsWith("NodeVersionSupportWarning: The AWS SDK for JavaScript")) return;
  (emitWarning as (...args: unknown[]) => void)(warning, ...rest);
}) as typeof process.emitWarning;

export {};
