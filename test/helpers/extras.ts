// Plugin options a test adds to a provider it sets itself.
import type { TokenAuthPluginOptions } from '../../src/index.js'

export type PluginExtras = Omit<Extract<TokenAuthPluginOptions, { provider: unknown }>, 'provider' | 'issuers'>
