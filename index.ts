/**
 * Composition root of spectral-infra: read the stack config, create the components, export outputs.
 */
import { readStackConfig } from "./lib/config";

const config = readStackConfig();

export const workerName = config["cloudflare.workerName"];
