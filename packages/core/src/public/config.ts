// @hls-s2/core/config: The Lambda configuration (schema, FUNCTION_CONFIG, parseConfig), the field parsers the deploy settings share, and the stage's SSM parameter names.
// What other packages import; core's own modules and tests import the modules themselves.

export type { CamelFields } from "../config/fields";
export {
  awsRegionField,
  camelCase,
  camelFields,
  flagField,
  httpUrlField,
  integerField,
  parseEnvironment,
  withDefault,
} from "../config/fields";
export type { FunctionConfigKey, FunctionName } from "../config/functions";
export { FUNCTION_CONFIG, FUNCTION_NAMES } from "../config/functions";
export type { StageParameterKey } from "../config/parameters";
export {
  PUBLISHED_PARAMETERS,
  PUSH_ENDPOINT_DISABLED,
  STAGE_PARAMETERS,
  stageParameterPath,
  uploadBucketNameParameter,
} from "../config/parameters";
export type { Config, ConfigKey, RequiredBy } from "../config/runtime";
export {
  CONFIG_KEYS,
  CONFIG_SCHEMA,
  DEFAULT_LOOKBACK_DAYS,
  loadTileAllowList,
  parseConfig,
  requireConfig,
  searchPageSizeIssue,
} from "../config/runtime";
