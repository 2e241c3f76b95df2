// One policy for every network call the program and its providers make to a service (the Cloudflare API,
// Cloudflare's image registry, the Worker's /health):
//   - every attempt is bounded in time, headers and body alike (boundedFetch);
//   - only what the service did not carry out is retried: reads on any transient fault, writes only on a
//     429, a 503 that says when to come back (Retry-After), or a refused connection (nothing was sent);
//     with a backoff from 250 ms doubling, Retry-After honoured, and no new attempt once the retry budget
//     (or the caller's deadline) is spent;
//   - every failure becomes one sentence: the resource, what it was doing, the service and host, what
//     happened in words, Cloudflare's code and message, and the next step.
// So one call ends within requestTimeoutSeconds + retryBudgetSeconds, or by its deadline.

const DEFAULT_LIMITS = Object.freeze({ requestTimeoutSeconds: 30, retryBudgetSeconds: 60 });
const MAX_ATTEMPTS = 6;
const FIRST_BACKOFF_MS = 250;
/** Statuses whose answer has no body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * What went wrong below HTTP, or with an answer's body, as boundedFetch saw it. Its message stays neutral:
 * the SDK re-labels any error whose text says "timed out" and drops its cause.
 */
class ServiceFault extends Error {
  constructor(kind, detail = {}) {
    super(`service fault: ${kind}`);
    this.name = "ServiceFault";
    this.kind = kind;
    this.detail = detail;
  }
}

/** An answered call that failed: `status` and `kind` let callers treat a 404 or a lost answer. */
class ServiceError extends Error {
  constructor(message, fault) {
    super(message);
    this.name = "ServiceError";
    this.kind = fault.kind;
    this.status = fault.status;
    /** "no" when the service did not carry the request out; "unknown" when it may have. */
    this.carriedOut = mayHaveBeenCarriedOut(fault) ? "unknown" : "no";
    /** Cloudflare's error codes in the answer (100146: a version still propagating), if any. */
    this.codes = fault.codes ?? [];
  }
}

/** A transient fault the service does not say it refused: the request may have been carried out. */
function mayHaveBeenCarriedOut(fault) {
  return fault.transient && !fault.notCarriedOut;
}

/** An answer that starts like an HTML page: a proxy's, a captive portal's or a login page. */
const looksLikeHtml = (text) => /^\s*</.test(text);

function codeOf(error) {
  for (let cause = error; cause; cause = cause.cause) if (typeof cause.code === "string") return cause.code;
  return undefined;
}

function connectionFault(error) {
  const code = codeOf(error);
  if (code === "ECONNREFUSED") return new ServiceFault("refused", { code });
  if (["ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "ENETUNREACH"].includes(code))
    return new ServiceFault("unreachable", { code });
  return new ServiceFault("reset", { code: code ?? String(error?.message ?? error) });
}

/** A 2xx answer's body must be JSON where JSON is expected: an HTML login page or a cut-off body is not. */
function checkJson(response, body) {
  const type = response.headers.get("content-type") ?? "";
  const text = body.toString("utf8");
  if (!/json/i.test(type)) {
    throw new ServiceFault(looksLikeHtml(text) ? "html" : "not-json", { contentType: type || "no type" });
  }
  try {
    JSON.parse(text);
  } catch {
    throw new ServiceFault("malformed", {});
  }
}

/**
 * fetch, with the whole exchange (connect, headers and body) bounded by `timeoutMs`, the body read in full,
 * and connection failures and non-JSON answers turned into ServiceFaults. With `expectJson`, a 2xx answer
 * must be JSON. Other statuses pass through for the caller (or the Cloudflare SDK) to judge.
 */
function boundedFetch({ timeoutMs, expectJson = false }) {
  return async (url, init = {}) => {
    const own = new AbortController();
    const timer = setTimeout(() => own.abort(), timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, own.signal]) : own.signal;
    try {
      const response = await fetch(url, { ...init, signal });
      const bodiless = NULL_BODY.has(response.status) || String(init.method).toUpperCase() === "HEAD";
      const body = bodiless ? null : Buffer.from(await response.arrayBuffer());
      if (expectJson && response.ok && body && body.length > 0) checkJson(response, body);
      return new Response(body, {
        status: response.status,
        statusText: response.statusText,
        headers: response.headers,
      });
    } catch (error) {
      if (error instanceof ServiceFault) throw error;
      // Tenths: a wait clipped to what is left of a deadline reads "0.7 s", not "0.744 s".
      if (own.signal.aborted) throw new ServiceFault("hung", { seconds: Math.round(timeoutMs / 100) / 10 });
      if (init.signal?.aborted) throw error;
      throw connectionFault(error);
    } finally {
      clearTimeout(timer);
    }
  };
}

/** Retry-After in milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3); undefined when absent. */
function retryAfterMs(headers) {
  const value = headers?.get?.("retry-after");
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** One error's words: the containers API nests `{"error","details"}` JSON in its messages. */
function errorWords({ code, message }) {
  try {
    const nested = JSON.parse(message);
    if (nested?.error) {
      return `${nested.error}${nested.details === undefined ? "" : ` ${JSON.stringify(nested.details)}`}`;
    }
  } catch {
    // A plain message.
  }
  return `code ${code}: ${message}`;
}

/** An HTTP status as a fault: transient or not, and whether the service says it did nothing. */
function statusFault(status, headers, details, bodyText = "") {
  const wait = retryAfterMs(headers);
  const html = !details && looksLikeHtml(bodyText);
  return {
    kind: "status",
    status,
    retryAfterMs: wait,
    transient: status === 429 || status >= 500,
    // A 429 refuses the request for its rate (RFC 6585 §4); a 503 means the server could not handle it, and
    // one with Retry-After says when to send it again (RFC 9110 §15.6.4): neither was carried out.
    notCarriedOut: status === 429 || (status === 503 && wait !== undefined),
    words: html
      ? `answered ${status} with an HTML page where JSON was expected (a proxy or login page?)`
      : `answered ${status}${details ? ` (${details})` : ""}`,
  };
}

const FAULT_WORDS = {
  hung: (detail) =>
    detail.seconds === undefined ? "gave no answer in time" : `gave no answer within ${detail.seconds} s`,
  refused: () => "refused the connection (nothing is listening there)",
  unreachable: (detail) => `could not be reached (${detail.code})`,
  reset: (detail) => `dropped the connection before answering (${detail.code})`,
  html: () => "answered HTML where JSON was expected (a proxy or login page?)",
  "not-json": (detail) => `answered ${detail.contentType} where JSON was expected`,
  malformed: () => "answered JSON that was cut off or malformed",
};

/** The fault behind an error from a call, or undefined for an error that is not the service's. */
function faultOf(error) {
  for (let cause = error; cause; cause = cause.cause) {
    if (cause.name === "ServiceFault") {
      const { kind, detail } = cause;
      return {
        kind,
        transient: !["html", "not-json"].includes(kind),
        notCarriedOut: kind === "refused" || kind === "unreachable",
        words: FAULT_WORDS[kind](detail),
      };
    }
  }
  // The SDK's own deadline (ours fires first; this is a fallback).
  if (error?.name === "APIConnectionTimeoutError") return faultOf(new ServiceFault("hung"));
  if (typeof error?.status === "number") {
    const details = (error.errors ?? []).map(errorWords).join("; ");
    const text = String(error.message ?? "").replace(/^\d{3} /, "");
    const codes = (error.errors ?? []).map((each) => each.code);
    return { ...statusFault(error.status, error.headers, details, text), codes };
  }
  return undefined;
}

/** The next step, by what happened and to which service. */
function nextStep(call, fault) {
  if (fault.status === 401 || fault.status === 403) {
    if (call.service === "the Cloudflare API" || call.service === "Cloudflare's image registry") {
      return `Check that CLOUDFLARE_API_TOKEN holds a valid, unexpired API token with the permission ${call.permission ?? "the call needs"}${call.account ? ` on account ${call.account}` : ""} (Cloudflare dashboard: My Profile > API Tokens), then run pulumi up again`;
    }
    return `Check what guards ${call.host} (Cloudflare Access, WAF rules), then run pulumi up again`;
  }
  if (fault.status === 429) return "Wait a few minutes for the rate limit to pass, then run pulumi up again";
  if (fault.kind === "html" || fault.kind === "not-json") {
    return `Something between this machine and ${call.host} (a proxy, captive portal or login page) answered instead: check the network's proxy settings, then run pulumi up again`;
  }
  if (fault.transient) {
    const status = call.service === "the Cloudflare API" ? " and https://www.cloudflarestatus.com" : "";
    return `Check this machine's network${status}, then run pulumi up again`;
  }
  return call.next ?? "Fix what the answer names, then run pulumi up again";
}

/** The operator's sentence for a failed call. */
function describeFailure(call, fault, { tries, startedAt, limits, waitTooLong }) {
  const spent = Math.round((Date.now() - startedAt) / 1000);
  const retried = tries > 1 ? ` (tried ${tries} times over ${spent} s)` : "";
  const beyond =
    fault.retryAfterMs > limits.retryBudgetSeconds * 1000 ? "longer than" : "beyond what was left of";
  const asked = waitTooLong
    ? `; it asked to be retried after ${Math.round(fault.retryAfterMs / 1000)} s (Retry-After), ${beyond} the retry budget of ${limits.retryBudgetSeconds} s (cloudflare.retryBudgetSeconds)`
    : "";
  const unknown =
    call.write && mayHaveBeenCarriedOut(fault) && call.outcomeUnknown ? `; ${call.outcomeUnknown}` : "";
  return `${call.resource}: ${call.doing} failed: ${call.service} at ${call.host} ${fault.words}${retried}${asked}${unknown}. ${nextStep(call, fault)}.`;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `attempt(timeoutMs)` under the policy above and returns its result, or throws a ServiceError whose
 * message is the operator's sentence. An error that is not the service's (a bug, a refusal of our own)
 * passes through unchanged.
 *
 * call: { resource, doing, service, host, write?, permission?, account?, limits?, deadline?,
 *         outcomeUnknown? (what a lost write means), next? (the step after another refusal) }
 */
async function callService(call, attempt) {
  const limits = { ...DEFAULT_LIMITS, ...call.limits };
  const startedAt = Date.now();
  const deadline = call.deadline ?? Number.POSITIVE_INFINITY;
  const stopRetryingAt = Math.min(startedAt + limits.retryBudgetSeconds * 1000, deadline);
  for (let tries = 1; ; tries++) {
    const timeoutMs = Math.max(1, Math.min(limits.requestTimeoutSeconds * 1000, deadline - Date.now()));
    try {
      return await attempt(timeoutMs);
    } catch (error) {
      const fault = faultOf(error);
      if (!fault) throw error;
      const retryable = fault.transient && (!call.write || fault.notCarriedOut);
      const wait = fault.retryAfterMs ?? FIRST_BACKOFF_MS * 2 ** (tries - 1);
      const inBudget = Date.now() + wait < stopRetryingAt;
      if (retryable && inBudget && tries < MAX_ATTEMPTS) {
        await sleep(wait);
        continue;
      }
      const waitTooLong = retryable && !inBudget && fault.retryAfterMs !== undefined;
      throw new ServiceError(describeFailure(call, fault, { tries, startedAt, limits, waitTooLong }), fault);
    }
  }
}

/**
 * One HTTP request under the policy: the Response when its status is 2xx or in `accept`, otherwise a
 * ServiceError. For services reached with plain fetch (the registry).
 */
function httpCall(call, url, init = {}, { expectJson = false, accept = [] } = {}) {
  return callService(call, async (timeoutMs) => {
    const response = await boundedFetch({ timeoutMs, expectJson })(url, init);
    if (response.ok || accept.includes(response.status)) return response;
    const body = await response.text();
    const failure = new Error(`HTTP ${response.status}`);
    failure.status = response.status;
    failure.headers = response.headers;
    failure.message = body.slice(0, 200);
    throw failure;
  });
}

/** Words for a fault on a single attempt (a poll that is judged, not retried, such as /health). */
function attemptWords(error) {
  return faultOf(error)?.words ?? String(error?.message ?? error);
}

module.exports = { DEFAULT_LIMITS, ServiceError, boundedFetch, callService, httpCall, attemptWords };
