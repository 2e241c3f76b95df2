/**
 * Where the program's Cloudflare calls get their credentials: CLOUDFLARE_API_TOKEN (read when a call is
 * about to be made, never stored) and, for tests, CLOUDFLARE_API_BASE_URL. The calls themselves go through
 * @spectral/provider-support's call policy, as the providers' do.
 */
export { BASE_URL_VARIABLE, TOKEN_VARIABLE } from "@spectral/provider-support";
