// aws-local-stepfunctions calls Promise.withResolvers, which Node 20 lacks: vitest loads the same
// polyfill the local runner imports first (one copy, in packages/local).
import "../../packages/local/src/aws/polyfills";
