#!/usr/bin/env node
/**
 * The `tok-dev-server` command. Everything but the process wiring lives in
 * `internal/cli.ts`; run `tok-dev-server --help` for the flags.
 * @module
 */
import { main } from "./internal/cli.ts"

process.exitCode = await main(process.argv.slice(2))
