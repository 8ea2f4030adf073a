// @hls-s2/core/transfer: The hub → S3 transfer of one granule and the zip check it runs.
// What other packages import; core's own modules and tests import the modules themselves.
export { objectWriteRequests } from "../adapters/transfer/options";
export { transferGranule } from "../adapters/transfer/transfer";
export { ZipCheck } from "../domain/zip/check";
