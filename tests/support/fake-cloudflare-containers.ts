/**
 * The Containers area of the Cloudflare API stand-in (mounted by fake-cloudflare.ts): applications and
 * their rollouts, scheduling policy `default`. It enforces the rules the program depends on, each with its
 * source (platform facts; cloudflare/workers-sdk containers-shared; the SDK's own types):
 *
 *   GET    containers/applications                 page-token pagination (result_info.next_page_token)
 *   POST   containers/applications                 one application per namespace; the namespace's class
 *                                                   must be container-enabled; the image must be in the
 *                                                   account's registry
 *   GET    containers/applications/{id}            with the instances' health
 *   PATCH  containers/applications/{id}            only the fields PATCH takes (configuration without
 *                                                   observability, which goes top-level)
 *   DELETE containers/applications/{id}
 *   POST   containers/applications/{id}/rollouts   steps of 10 to 100 percent, ending at 100
 *   GET    containers/applications/{id}/rollouts[/{rollout}]
 *
 * Errors carry containers-shared's format: `errors[0].message` is itself a JSON string,
 * `{"error":"<CODE>","details":...}` (containers-shared `request.ts`). A rollout moves on with time, whether
 * or not anyone watches it (wrangler never does): pending, progressing, then completed, one status each
 * `rolloutPhaseMs`; one whose image cannot be pulled ends `reverted`, with its step's `reason`
 * (containers-shared `RolloutStep`). An application
 * has one rollout at a time (the application's single `active_rollout_id`, the SDK's applications.d.ts): a
 * second is refused while one is active, and replaceActiveRollout() ends one `replaced`, as a rollout
 * started elsewhere (the dashboard, wrangler) does.
 */
import { randomBytes } from "node:crypto";
import type { FakeNamespace, Reply, WorkersState } from "./fake-cloudflare-workers";

export interface FakeApplication {
  id: string;
  name: string;
  scheduling_policy: string;
  instances: number;
  max_instances: number;
  configuration: Record<string, unknown>;
  durable_objects: { namespace_id: string };
  rollout_active_grace_period?: number;
  observability?: Record<string, unknown>;
  constraints?: Record<string, unknown>;
  version: number;
  health: { instances: { active: number; healthy: number; failed: number; starting: number } };
}

export interface FakeRollout {
  id: string;
  applicationId: string;
  body: Record<string, unknown>;
  status: "pending" | "progressing" | "completed" | "reverted" | "replaced";
  /** Why a reverted rollout stopped. */
  reason?: string;
  /** When it was accepted (ms): its status follows from the time since. */
  startedAt: number;
}

export interface ContainersState extends WorkersState {
  applications: Map<string, FakeApplication>;
  rollouts: FakeRollout[];
  /** Image references the account's registry holds (by digest): an application may only run these. */
  registryImages: Set<string>;
  /** Images whose pull fails: a rollout to one ends `reverted`. */
  unpullableImages: Set<string>;
  /** Applications per page of the list (the SDK follows result_info.next_page_token). */
  applicationsPerPage: number;
  /** How long a rollout stays in each of pending and progressing. */
  rolloutPhaseMs: number;
  /** Told each image an application starts serving (its create, a completed rollout). */
  onImageLive?: (image: string) => void;
  /** Told each rollout accepted, by application: a test may replace it from elsewhere. */
  onRolloutStarted?: (applicationId: string) => void;
}

const INSTANCE_TYPES = ["lite", "basic", "standard-1", "standard-2", "standard-3", "standard-4"];
// containers-shared CreateApplicationRequest / ModifyApplicationRequestBody.
const CREATE_FIELDS = [
  "name",
  "scheduling_policy",
  "instances",
  "max_instances",
  "configuration",
  "durable_objects",
  "constraints",
  "affinities",
  "observability",
  "rollout_active_grace_period",
];
// ModifyApplicationRequestBody, plus the top-level `observability` that wrangler 4.164 sends (platform facts).
const PATCH_FIELDS = [
  "name",
  "max_instances",
  "instances",
  "constraints",
  "affinities",
  "priorities",
  "observability",
  "scheduling_policy",
  "configuration",
  "rollout_active_grace_period",
];

/** A containers API error as containers-shared reads it: a JSON document inside errors[0].message. */
export function containersError(status: number, error: string, details: unknown = {}): Reply {
  return { status, errors: [{ code: 1000, message: JSON.stringify({ error, details }) }] };
}

const invalid = (details: string) => containersError(400, "VALIDATE_INPUT", details);
const unknownKeys = (body: Record<string, unknown>, allowed: string[]) =>
  Object.keys(body).filter((key) => !allowed.includes(key));

function configurationProblem(configuration: unknown, state: ContainersState): Reply | undefined {
  const { image, instance_type: instanceType } = (configuration ?? {}) as Record<string, unknown>;
  if (typeof image !== "string" || !image) return invalid("configuration.image is required");
  if (instanceType !== undefined && !INSTANCE_TYPES.includes(instanceType as string))
    return invalid(`configuration.instance_type must be one of ${INSTANCE_TYPES.join(", ")}`);
  // Deployments reference an image in the account's registry (platform facts, "Image registry").
  if (!state.registryImages.has(image))
    return containersError(400, "IMAGE_REGISTRY_DOESNT_CONTAIN_IMAGE", { image });
  return undefined;
}

/** Whether the namespace's Worker declares its class as a container (`containers: [{ class_name }]`). */
function containerEnabled(namespace: FakeNamespace, state: ContainersState): boolean {
  const script = state.scripts.get(namespace.script);
  return (script?.containers ?? []).some((container) => container.class_name === namespace.class);
}

function createApplication(body: Record<string, unknown>, state: ContainersState): Reply {
  const extra = unknownKeys(body, CREATE_FIELDS);
  if (extra.length) return invalid(`unknown fields: ${extra.join(", ")}`);
  if (typeof body.name !== "string" || !body.name) return invalid("name is required");
  if (body.scheduling_policy !== "default")
    return invalid('scheduling_policy must be "default" for this request');
  if (
    !Number.isInteger(body.instances) ||
    !Number.isInteger(body.max_instances) ||
    (body.max_instances as number) < 1
  )
    return invalid("instances and max_instances must be integers, max_instances at least 1");
  const problem = configurationProblem(body.configuration, state);
  if (problem) return problem;
  const namespaceId = (body.durable_objects as { namespace_id?: unknown } | undefined)?.namespace_id;
  const namespace = state.namespaces.find((each) => each.id === namespaceId);
  if (!namespace)
    return containersError(404, "DURABLE_OBJECT_NAMESPACE_NOT_FOUND", { namespace_id: namespaceId });
  if (!containerEnabled(namespace, state))
    return containersError(400, "DURABLE_OBJECT_NOT_CONTAINER_ENABLED", { namespace_id: namespace.id });
  const bound = [...state.applications.values()].find(
    (each) => each.durable_objects.namespace_id === namespace.id,
  );
  if (bound)
    return containersError(409, "DURABLE_OBJECT_ALREADY_HAS_APPLICATION", {
      application_id: bound.id,
      namespace_id: namespace.id,
    });
  const application: FakeApplication = {
    id: `app-${randomBytes(6).toString("hex")}`,
    name: body.name,
    scheduling_policy: "default",
    instances: body.instances as number,
    max_instances: body.max_instances as number,
    configuration: body.configuration as Record<string, unknown>,
    durable_objects: { namespace_id: namespace.id },
    ...(body.rollout_active_grace_period === undefined
      ? {}
      : { rollout_active_grace_period: body.rollout_active_grace_period as number }),
    ...(body.observability === undefined
      ? {}
      : { observability: body.observability as Record<string, unknown> }),
    ...(body.constraints === undefined ? {} : { constraints: body.constraints as Record<string, unknown> }),
    version: 1,
    health: { instances: { active: 0, healthy: 0, failed: 0, starting: 0 } },
  };
  state.applications.set(application.id, application);
  state.onImageLive?.(application.configuration.image as string);
  return { status: 200, result: application };
}

// containers-shared ModifyApplicationRequestBody: name a string, the counts whole numbers.
const PATCH_TYPES: Record<string, (value: unknown) => boolean> = {
  name: (value) => typeof value === "string" && value.length > 0,
  max_instances: (value) => Number.isInteger(value) && (value as number) >= 1,
  instances: (value) => Number.isInteger(value) && (value as number) >= 0,
  rollout_active_grace_period: (value) => Number.isInteger(value) && (value as number) >= 0,
};

function patchApplication(
  application: FakeApplication,
  body: Record<string, unknown>,
  state: ContainersState,
): Reply {
  const refused = unknownKeys(body, PATCH_FIELDS);
  if (refused.length) return invalid(`PATCH cannot change ${refused.join(", ")}`);
  const mistyped = Object.keys(body).filter((key) => PATCH_TYPES[key] && !PATCH_TYPES[key](body[key]));
  if (mistyped.length) return invalid(`PATCH has values of the wrong type: ${mistyped.join(", ")}`);
  // The scheduling policy is fixed at create (platform facts: "The policy is immutable").
  if (body.scheduling_policy !== undefined && body.scheduling_policy !== application.scheduling_policy)
    return invalid("scheduling_policy cannot be changed");
  const configuration = body.configuration as Record<string, unknown> | undefined;
  // The API refuses configuration.observability in a PATCH; it is top-level (workers-sdk #13315).
  if (configuration && "observability" in configuration)
    return invalid("configuration.observability is not accepted: set observability at the top level");
  if (configuration) {
    const problem = configurationProblem({ ...application.configuration, ...configuration }, state);
    if (problem) return problem;
  }
  Object.assign(application, body, {
    configuration: { ...application.configuration, ...(configuration ?? {}) },
  });
  return { status: 200, result: application };
}

// Step percentages: min 10, max 100 (the SDK's rollouts.d.ts); the last step reaches 100.
function stepsProblem(body: Record<string, unknown>): string | undefined {
  const steps = body.steps as { description?: unknown; step_size?: { percentage?: unknown } }[] | undefined;
  const percentages = steps ? steps.map((step) => step.step_size?.percentage) : [body.step_percentage];
  if (steps && !steps.every((step) => typeof step.description === "string"))
    return "each step needs a description";
  if (!percentages.every((p) => Number.isInteger(p) && (p as number) >= 10 && (p as number) <= 100))
    return "step percentages must be whole numbers from 10 to 100";
  return steps && percentages.at(-1) !== 100 ? "the last step must reach 100 percent" : undefined;
}

function createRollout(
  application: FakeApplication,
  body: Record<string, unknown>,
  state: ContainersState,
): Reply {
  if (typeof body.description !== "string") return invalid("description is required");
  if (!["rolling", "new_instances"].includes(body.strategy as string))
    return invalid("strategy must be rolling or new_instances");
  if (body.kind !== undefined && !["full_auto", "full_manual"].includes(body.kind as string))
    return invalid("kind must be full_auto or full_manual");
  const steps = stepsProblem(body);
  if (steps) return invalid(steps);
  const problem = configurationProblem(body.target_configuration, state);
  if (problem) return problem;
  // The real error name is not published; ROLLOUT_IN_PROGRESS stands in for it.
  const active = activeRollout(application.id, state);
  if (active) return containersError(409, "ROLLOUT_IN_PROGRESS", { rollout_id: active.id });
  const rollout: FakeRollout = {
    id: `rollout-${state.rollouts.length + 1}`,
    applicationId: application.id,
    body,
    status: "pending",
    startedAt: Date.now(),
  };
  state.rollouts.push(rollout);
  state.onRolloutStarted?.(application.id);
  return { status: 200, result: rolloutView(rollout, application) };
}

function activeRollout(applicationId: string, state: ContainersState): FakeRollout | undefined {
  return state.rollouts.find(
    (each) => each.applicationId === applicationId && ["pending", "progressing"].includes(each.status),
  );
}

/** A rollout started elsewhere (the dashboard, wrangler) ends the active one `replaced` and takes over. */
export function replaceActiveRollout(applicationId: string, state: ContainersState): void {
  const active = activeRollout(applicationId, state);
  if (!active) throw new Error(`no active rollout on ${applicationId}`);
  active.status = "replaced";
  active.reason = "replaced by a newer rollout";
  state.rollouts.push({
    ...active,
    id: `rollout-${state.rollouts.length + 1}`,
    status: "pending",
    reason: undefined,
    startedAt: Date.now(),
  });
}

function rolloutView(rollout: FakeRollout, application: FakeApplication) {
  return {
    id: rollout.id,
    status: rollout.status,
    description: rollout.body.description,
    target_configuration: rollout.body.target_configuration,
    target_version: application.version + 1,
    steps: stepsOf(rollout),
    health: application.health,
  };
}

/** The rollout's steps as RolloutStep (containers-shared): each with its status, and a failed one's reason. */
function stepsOf(rollout: FakeRollout) {
  const requested = (rollout.body.steps as { description: string; step_size: { percentage: number } }[]) ?? [
    { description: "rollout", step_size: { percentage: 100 } },
  ];
  return requested.map((step, index) => ({
    id: index + 1,
    ...step,
    status: rollout.status === "replaced" ? "completed" : rollout.status,
    ...(rollout.reason && index === 0 ? { reason: rollout.reason } : {}),
  }));
}

/** Time moves rollouts on: pending, then progressing, then completed (or reverted for an image that cannot be pulled). */
function advance(rollout: FakeRollout, state: ContainersState): void {
  const application = state.applications.get(rollout.applicationId);
  if (!application) return;
  const elapsed = Date.now() - rollout.startedAt;
  if (rollout.status === "pending" && elapsed >= state.rolloutPhaseMs) rollout.status = "progressing";
  if (rollout.status === "progressing" && elapsed >= 2 * state.rolloutPhaseMs) {
    const image = (rollout.body.target_configuration as { image: string }).image;
    if (state.unpullableImages.has(image)) {
      rollout.status = "reverted";
      rollout.reason = `failed to pull image ${image}: manifest unknown`;
      application.health.instances = { active: 1, healthy: 0, failed: 1, starting: 0 };
    } else {
      rollout.status = "completed";
      application.configuration = {
        ...application.configuration,
        ...(rollout.body.target_configuration as object),
      };
      application.version += 1;
      application.health.instances = { active: 1, healthy: 1, failed: 0, starting: 0 };
      state.onImageLive?.(image);
    }
  }
}

/** Brings every rollout to where the time since it started puts it (each request does this first). */
export function settleRollouts(state: ContainersState): void {
  for (const rollout of state.rollouts) advance(rollout, state);
}

function listApplications(query: URLSearchParams, state: ContainersState): Reply {
  const all = [...state.applications.values()];
  const start = Number(query.get("page_token") ?? "0");
  const page = all.slice(start, start + state.applicationsPerPage);
  const next = start + state.applicationsPerPage;
  return {
    status: 200,
    result: page,
    resultInfo: {
      per_page: state.applicationsPerPage,
      ...(next < all.length ? { next_page_token: String(next) } : {}),
    },
  };
}

export function containersRoute(
  method: string,
  path: string,
  query: URLSearchParams,
  body: Record<string, unknown>,
  state: ContainersState,
): Reply | undefined {
  settleRollouts(state);
  if (path === "containers/applications") {
    if (method === "GET") return listApplications(query, state);
    if (method === "POST") return createApplication(body, state);
    return undefined;
  }
  const match = /^containers\/applications\/([^/]+)(?:\/rollouts(?:\/([^/]+))?)?$/.exec(path);
  if (!match) return undefined;
  const application = state.applications.get(match[1]);
  if (!application) return containersError(404, "APPLICATION_NOT_FOUND", { application_id: match[1] });
  if (path.includes("/rollouts")) {
    if (match[2] === undefined && method === "POST") return createRollout(application, body, state);
    if (match[2] === undefined && method === "GET")
      return {
        status: 200,
        result: state.rollouts
          .filter((each) => each.applicationId === application.id)
          .map((each) => rolloutView(each, application)),
      };
    const rollout = state.rollouts.find(
      (each) => each.id === match[2] && each.applicationId === application.id,
    );
    if (!rollout) return containersError(404, "ROLLOUT_NOT_FOUND", { rollout_id: match[2] });
    if (method !== "GET") return undefined;
    return { status: 200, result: rolloutView(rollout, application) };
  }
  if (method === "GET") return { status: 200, result: application };
  if (method === "PATCH") return patchApplication(application, body, state);
  if (method === "DELETE") {
    state.applications.delete(application.id);
    return { status: 200, result: {} };
  }
  return undefined;
}
